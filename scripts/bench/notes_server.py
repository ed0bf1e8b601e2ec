#!/usr/bin/env python3
"""The hello server of the Python notes: one thread per client, for chapter 23's benchmark.

usage: scripts/bench/notes_server.py [PORT]

Listens on 127.0.0.1:PORT (default 9999; 0 picks a free port) and prints
`Listening on 127.0.0.1:PORT` first, like the workbook's servers. Each client gets a thread
that sends b'Welcome!', then answers each recv(1024) X with 'Hello, X!' until the client
sends 'exit' or closes. Ctrl-C (SIGINT) stops it.

It is built the way the notes build it (socket, bind, listen, accept, threading.Thread per
client) with three changes, so that it measures the design and not a detail:
- no time.sleep(1) before each reply (02 leaves it out too, unless given --slow);
- a backlog of 128, as 02 has, instead of the notes' 5 (chapter 02 shows fifty clients
  arriving at once stalling for seconds behind a backlog of 5);
- a client that sends bad UTF-8, or resets, ends its own thread quietly, not with a
  traceback, and a failed accept (out of descriptors) pauses instead of ending the server.
"""
import signal
import socket
import sys
import threading
import time


def tcplink(sock, addr):
    print('Accept new connection from %s:%s...' % addr, flush=True)
    try:
        sock.send(b'Welcome!')
        while True:
            data = sock.recv(1024)
            if not data or data == b'exit':
                break
            text = data.decode('utf-8', errors='replace')
            # sendall, where the notes use send: send may take only part of the reply.
            sock.sendall(('Hello, %s!' % text).encode('utf-8'))
    except OSError as e:  # reset, broken pipe: this client only
        print('Connection from %s:%s failed: %s' % (addr[0], addr[1], e), flush=True)
    sock.close()
    print('Connection from %s:%s closed.' % addr, flush=True)


def main():
    args = sys.argv[1:]
    if args and args[0] in ('-h', '--help'):
        print(__doc__.strip())
        return
    if len(args) > 1 or (args and not args[0].isdigit()):
        sys.exit('usage: scripts/bench/notes_server.py [PORT]')  # exit status 1
    port = int(args[0]) if args else 9999
    # A background job of a shell starts with SIGINT ignored; Python then keeps ignoring it.
    # Ask for the usual KeyboardInterrupt so that Ctrl-C and `kill -INT` stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once (chapter 14)
    try:
        s.bind(('127.0.0.1', port))
    except OSError as e:
        sys.exit('error: could not bind 127.0.0.1:%s: %s' % (port, e))
    s.listen(128)
    print('Listening on %s:%s' % s.getsockname(), flush=True)
    try:
        while True:
            try:
                sock, addr = s.accept()
            except OSError as e:  # out of descriptors: pause, do not spin
                print('accept failed: %s; pausing' % e, flush=True)
                time.sleep(0.1)
                continue
            # daemon: a thread still serving a client does not keep the server alive after
            # Ctrl-C (the notes' threads would).
            t = threading.Thread(target=tcplink, args=(sock, addr), daemon=True)
            t.start()
    except KeyboardInterrupt:
        print('Ctrl-C received: stopped accepting connections. Bye.', flush=True)
    s.close()


if __name__ == '__main__':
    main()

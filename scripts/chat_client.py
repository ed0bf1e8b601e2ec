#!/usr/bin/env python3
"""A chat client for 21_chat_server, written in the style of the Python notes.

usage: scripts/chat_client.py [HOST:PORT] [NAME]

The notes' client calls s.recv(1024) and s.send(...) in turn. A chat client must wait for the
keyboard and the socket at once, so, like 22_chat_client, it gives the keyboard a thread of its
own: what you type is sent, and what arrives is printed. /quit or Ctrl-D (end of input) leaves.
21_chat_server escapes control characters in what it relays, so printing it is safe.
"""
import socket
import sys
import threading

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9999"
host, port = addr.rsplit(":", 1)
name = sys.argv[2] if len(sys.argv) > 2 else None

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(5)  # for the connect only
s.connect((host, int(port)))
s.settimeout(None)


def keyboard():
    # sendall, not send: send may take only part of the bytes (chapter 16).
    if name:
        s.sendall((name + "\n").encode("utf-8"))
    for line in sys.stdin:
        s.sendall(line.encode("utf-8"))
        if line.strip() == "/quit":
            return
    s.sendall(b"/quit\n")


# daemon: the program may end while this thread still waits for a line that never comes.
threading.Thread(target=keyboard, daemon=True).start()

while True:
    data = s.recv(1024)
    if not data:
        break
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()
print("The server closed the connection.")

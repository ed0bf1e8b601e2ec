#!/usr/bin/env python3
"""Measures 21_chat_server: many clients talking at once, and one client that never reads.

usage: scripts/bench/chat.py SERVER_BINARY [CLIENTS LINES] [-- SERVER_OPTIONS...]

  cargo build --release --bin 21_chat_server
  scripts/bench/chat.py target/release/21_chat_server

Starts the server on a free port of 127.0.0.1 and runs five rounds, each on a fresh server:

  1. CLIENTS clients (default 50) each send LINES lines (default 20) at the same moment; every
     client must receive every other client's lines, each sender's in order. Prints the time
     until the last line arrived everywhere, and the delay of a line (sent to received), p50,
     p99 and the worst.
  2. The same with one more client that joined and never reads.
  3. A flood: one client says 1000-byte lines, 100 at a time, 8 MB in all; another reads each
     batch before the next is said and notes each line's delay. Prints the delays.
  4. The same flood with a client that never reads: prints when it was sent away (how many
     lines it had been sent), and the reader's delays.
  5. Round 4 with --queue 1000000, a queue as good as unbounded: the client that never reads
     stays, and the server's memory holds every line it did not read.

Chapter 21b quotes the figures. Loopback only; every loop is bounded in count and time.
"""
import socket
import subprocess
import sys
import threading
import time

args, server_options = sys.argv[1:], []
if "--" in args:
    args, server_options = args[: args.index("--")], args[args.index("--") + 1 :]
binary = args[0]
clients = int(args[1]) if len(args) > 1 else 50
lines = int(args[2]) if len(args) > 2 else 20
DEADLINE = 30  # seconds any round may take before it is called a failure


def start_server(*args):
    command = [binary, "127.0.0.1:0", *server_options, *args]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    first = server.stdout.readline()
    port = int(first.rsplit(":", 1)[1])
    # Drain the log, so that the server never blocks on a full pipe.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    return server, port


def stop_server(server):
    server.send_signal(2)  # SIGINT, as Ctrl-C
    server.wait(timeout=5)


def resident(server):
    status = dict(l.split(":", 1) for l in open(f"/proc/{server.pid}/status"))
    return f"{status['VmHWM'].strip()} at most resident"


def join(port, name):
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    assert f.readline() == b"Welcome! Your name?\n"
    s.sendall(name.encode() + b"\n")
    you = f.readline()
    assert you.startswith(b"* You are " + name.encode()), you
    return s, f


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def talk_round(with_mute):
    server, port = start_server()
    mute = join(port, "mute") if with_mute else None
    members = [join(port, f"c{i}") for i in range(clients)]
    delays, problems = [], []
    done = threading.Barrier(clients + 1)
    go = threading.Event()

    def reader(i, f):
        wanted = (clients - 1) * lines
        next_n = [0] * clients
        got = 0
        while got < wanted:
            try:
                line = f.readline()
            except OSError as e:
                line = f"{e}".encode()
            if not line or line.startswith(b"* Disconnected") or not line.endswith(b"\n"):
                problems.append(f"c{i}: the server closed the connection: {line!r}")
                break
            if line.startswith(b"* "):
                continue  # joined and left notices
            who, said = line.decode().rstrip("\n").split(": ", 1)
            sender = int(who[1:])
            n, sent_at = said.split(" ")
            if int(n) != next_n[sender]:
                problems.append(f"c{i}: from {who} got line {n}, wanted {next_n[sender]}")
            next_n[sender] = int(n) + 1
            delays.append(time.perf_counter() - float(sent_at))
            got += 1
        try:
            done.wait(timeout=DEADLINE)
        except threading.BrokenBarrierError:
            pass  # the main thread says so

    def sender(i, s):
        go.wait()
        try:
            for n in range(lines):
                s.sendall(f"{n} {time.perf_counter():.6f}\n".encode())
        except OSError as e:
            problems.append(f"c{i}: could not send: {e}")

    threads = [threading.Thread(target=reader, args=(i, f)) for i, (_, f) in enumerate(members)]
    threads += [threading.Thread(target=sender, args=(i, s)) for i, (s, _) in enumerate(members)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    go.set()
    try:
        done.wait(timeout=DEADLINE)
    except threading.BrokenBarrierError:
        problems.append(f"not every client had every line within {DEADLINE} s")
    took = time.perf_counter() - started
    memory = resident(server)
    stop_server(server)
    for s, _ in members:
        s.close()  # ends any reader still waiting
    for t in threads:
        t.join(timeout=DEADLINE)
    label = f"{clients} clients x {lines} lines" + (" + 1 that never reads" if with_mute else "")
    label += "".join(f" {option}" for option in server_options)
    if problems:
        print(f"{label}: FAILED ({len(problems)} problems), first: {problems[:3]}")
        return
    print(
        f"{label}: all {clients * (clients - 1) * lines} deliveries in {took:.3f} s; "
        f"delay p50 {percentile(delays, 0.5) * 1000:.1f} ms, p99 {percentile(delays, 0.99) * 1000:.1f} ms, "
        f"worst {max(delays) * 1000:.1f} ms; server {memory}"
    )
    del mute


def flood_round(with_mute, *server_args):
    server, port = start_server(*server_args)
    mute = join(port, "mute") if with_mute else None
    reader_socket, reader_file = join(port, "reader")
    talker, _ = join(port, "talker")
    assert reader_file.readline() == b"* talker joined\n"
    filler = "x" * 970
    total = 8000
    delays, sent_away = [], None
    started = time.perf_counter()
    for batch in range(0, total, 100):
        chunk = "".join(f"{n:06} {time.perf_counter():.6f} {filler}\n" for n in range(batch, batch + 100))
        talker.sendall(chunk.encode())
        # The reader takes the whole batch before the next is sent, as a reader that keeps up.
        n = batch
        while n < batch + 100:
            line = reader_file.readline()
            if line.startswith(b"* mute left"):
                sent_away = (n, time.perf_counter() - started, line.decode().strip())
                continue
            _, number, sent_at, _ = line.decode().split(" ", 3)  # talker: N TIME xxx
            assert int(number) == n, (number, n)
            delays.append(time.perf_counter() - float(sent_at))
            n += 1
    took = time.perf_counter() - started
    memory = resident(server)
    stop_server(server)
    if not with_mute:
        print(
            f"flood of {total} lines of 1000 bytes in {took:.2f} s, nobody muted: the reader's delay "
            f"p50 {percentile(delays, 0.5) * 1000:.1f} ms, p99 {percentile(delays, 0.99) * 1000:.1f} ms, "
            f"worst {max(delays) * 1000:.1f} ms; server {memory}"
        )
    elif sent_away is None:
        print(
            f"flood of {total} lines of 1000 bytes in {took:.2f} s, {' '.join(server_args)}: the "
            f"client that never reads stayed; the reader's delay p50 "
            f"{percentile(delays, 0.5) * 1000:.1f} ms, worst {max(delays) * 1000:.1f} ms; server {memory}"
        )
    else:
        n, at, line = sent_away
        print(
            f"flood of {total} lines of 1000 bytes in {took:.2f} s: {line!r} after {n} lines "
            f"({at:.2f} s); the reader's delay p50 {percentile(delays, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(delays, 0.99) * 1000:.1f} ms, worst {max(delays) * 1000:.1f} ms; "
            f"server {memory}"
        )
    del mute, reader_socket


talk_round(with_mute=False)
talk_round(with_mute=True)
flood_round(with_mute=False)
flood_round(with_mute=True)
flood_round(True, "--queue", "1000000")

#!/usr/bin/env python3
"""A burst of clients against a small listen backlog: how long each waits for its welcome.

usage: scripts/bench/burst.py PORT [CLIENTS] [BURSTS]   (default 50 clients, 10 bursts)

Start the server first: `cargo run -q --bin 02_tcp_server -- 127.0.0.1:0 --backlog 5`, and
give its port. Each burst starts CLIENTS threads that connect at the same moment and time how
long each waits for `Welcome!` (at most 40 s), then say `exit`. Prints one line per burst:
how many clients waited under 0.5 s, 0.5-1.5 s, 1.5-10 s and over 10 s, and the longest wait;
then how many failed, and how, and how much three of Linux's counters grew: ListenOverflows
(a finished handshake dropped because the accept queue was full), SyncookiesSent and
SyncookiesRecv (handshakes answered without keeping state, because the queue was full).
Chapter 02 quotes it. Loopback only.
"""
import socket
import sys
import threading
import time

port = int(sys.argv[1])
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 50
bursts = int(sys.argv[3]) if len(sys.argv) > 3 else 10


def counters():
    """Linux's TcpExt counters (what `nstat` shows) for this network namespace, or {}."""
    try:
        lines = open("/proc/net/netstat").read().splitlines()
    except OSError:
        return {}
    names, values = lines[0].split()[1:], lines[1].split()[1:]
    return dict(zip(names, map(int, values)))


def one(start, waits, errors, i):
    start.wait()
    began = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=40) as c:
            c.recv(100)
            waits[i] = time.perf_counter() - began
            c.sendall(b"exit")
    except OSError as e:
        waits[i] = None
        errors[i] = f"{type(e).__name__} after {time.perf_counter() - began:.1f} s"


for burst in range(1, bursts + 1):
    before = counters()
    start = threading.Barrier(clients)
    waits = [None] * clients
    errors = [None] * clients
    threads = [threading.Thread(target=one, args=(start, waits, errors, i)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [w for w in waits if w is not None]
    bands = [
        sum(w < 0.5 for w in done),
        sum(0.5 <= w < 1.5 for w in done),
        sum(1.5 <= w < 10 for w in done),
        sum(w >= 10 for w in done),
    ]
    print(
        f"burst {burst:2}: {bands[0]:2} under 0.5 s, {bands[1]:2} at about 1 s, "
        f"{bands[2]:2} at 2-10 s, {bands[3]:2} over 10 s, {clients - len(done)} failed; "
        f"longest {max(done, default=0):.1f} s",
        flush=True,
    )
    for kind in sorted({e for e in errors if e}):
        print(f"          {errors.count(kind)} failed: {kind}", flush=True)
    after = counters()
    if after:
        # The whole machine's counts: other programs' connections are in them too.
        print(
            "          kernel: "
            + ", ".join(
                f"{name} +{after[name] - before[name]}"
                for name in ("ListenOverflows", "SyncookiesSent", "SyncookiesRecv")
            ),
            flush=True,
        )
    time.sleep(1)  # let the last connections close before the next burst

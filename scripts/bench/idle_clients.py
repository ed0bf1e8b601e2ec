#!/usr/bin/env python3
"""Holds N idle clients on a hello server, then times new clients' round trips.

usage: scripts/bench/idle_clients.py PORT N ROUNDS [PID]

Opens N connections to 127.0.0.1:PORT and reads each welcome (the clients then stay silent),
then ROUNDS times: connect, read the welcome, send `Ada`, read `Hello, Ada!`, close. Prints the
round trip's p50 and p99, and with the server's PID its resident memory and thread count (from
/proc, Linux). Chapter 19b quotes its figures. Loopback only; every loop is bounded.
"""
import resource
import socket
import sys
import time

port, n, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pid = sys.argv[4] if len(sys.argv) > 4 else None
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if n + 16 > hard:
    sys.exit(f"need {n + 16} descriptors, the hard limit is {hard}")
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

addr = ("127.0.0.1", port)
idle = [socket.create_connection(addr, timeout=10) for _ in range(n)]
for s in idle:
    if s.recv(100) != b"Welcome!":
        sys.exit("an idle client got no welcome (is --max-clients below N?)")

times = []
for _ in range(rounds):
    start = time.perf_counter()
    with socket.create_connection(addr, timeout=10) as c:
        c.recv(100)
        c.sendall(b"Ada")
        reply = c.recv(100)
    times.append((time.perf_counter() - start) * 1000)
    if reply != b"Hello, Ada!":
        sys.exit(f"unexpected reply {reply!r}")
times.sort()
line = f"{n} idle clients: new client round trip p50 {times[len(times) // 2]:.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms"
if pid:
    status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    line += f"; server {status['VmRSS'].strip()} resident, {status['Threads'].strip()} threads"
print(line)

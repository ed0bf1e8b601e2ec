#!/usr/bin/env python3
"""What 28_proxy costs: the same exchanges direct and through the proxy.

usage: scripts/bench/proxy.py [BIN_DIR]   (default target/release; `cargo build --release` first)

Prints, direct and through the proxy, twice each: the round trip of one hello message to
02_tcp_server (p50, p99 of 2000); a request written in two pieces, 0.2 ms apart, to a target
that answers only once it has both (p50, p90 of 500: where Nagle's algorithm would wait for a
delayed acknowledgement); and the rate of sending 1 GiB to a sink that only reads. Then the
proxy's threads and resident memory before and after 1000 idle clients connect through it.
Chapter 28 quotes it. Loopback only; every socket has a 10 s timeout.
"""
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release")
socket.setdefaulttimeout(10)

def start(*args):
    """Starts a server binary and returns it with the address of its first line."""
    p = subprocess.Popen([os.path.join(BIN, args[0]), *args[1:]], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    STARTED.append(p)
    line = p.stdout.readline().split()[-1]
    threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
    host, port = line.rsplit(":", 1)
    return p, (host, int(port))

def round_trips(addr, n=2000):
    s = socket.create_connection(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert s.recv(100) == b"Welcome!"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b"Ada")
        s.recv(100)
        times.append((time.perf_counter() - t) * 1e3)
    s.sendall(b"exit")
    s.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]

def two_byte_target():
    """A target that answers each request of two bytes with those bytes, once both came."""
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
    l.settimeout(None)  # waits for clients as long as the script runs
    def serve(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            request = b""
            while len(request) < 2:
                more = c.recv(100)
                if not more:
                    return c.close()
                request += more
            c.sendall(request)
    def run():
        while True:
            c, _ = l.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=run, daemon=True).start()
    return l.getsockname()

def write_write_read(addr, n=500):
    s = socket.create_connection(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b"a")
        time.sleep(0.0002)
        s.sendall(b"b")
        answer = b""
        while len(answer) < 2:
            answer += s.recv(10)
        times.append((time.perf_counter() - t) * 1e3)
    s.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.9)]

def sink():
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
    l.settimeout(None)  # waits for clients as long as the script runs
    def run():
        while True:
            c, _ = l.accept()
            def drain(c=c):
                while c.recv(1 << 20): pass
                c.close()
            threading.Thread(target=drain, daemon=True).start()
    threading.Thread(target=run, daemon=True).start()
    return l.getsockname()

def throughput(addr, total=1 << 30):
    s = socket.create_connection(addr)
    chunk = b"\0" * (1 << 20)
    t = time.perf_counter()
    for _ in range(total // len(chunk)):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # waits for the close: everything has passed
    took = time.perf_counter() - t
    s.close()
    return total / took / 1e6

def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return line.split()[1]

STARTED = []  # every server started, killed at the end even when a measurement fails

def main():
    hello, hello_addr = start("02_tcp_server", "127.0.0.1:0")
    proxy, proxy_addr = start("28_proxy", "127.0.0.1:0", f"{hello_addr[0]}:{hello_addr[1]}")
    for name, addr in [("direct", hello_addr), ("proxy", proxy_addr)]:
        for run in range(2):
            p50, p99 = round_trips(addr)
            print(f"round trip {name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    pair = two_byte_target()
    split, split_addr = start("28_proxy", "127.0.0.1:0", f"{pair[0]}:{pair[1]}")
    for name, addr in [("direct", pair), ("proxy", split_addr)]:
        for run in range(2):
            p50, p90 = write_write_read(addr)
            print(f"write, write, read {name}: p50 {p50:.2f} ms, p90 {p90:.2f} ms")
    snk = sink()
    bulk, bulk_addr = start("28_proxy", "127.0.0.1:0", f"{snk[0]}:{snk[1]}")
    for name, addr in [("direct", snk), ("proxy", bulk_addr)]:
        for run in range(2):
            print(f"1 GiB {name}: {throughput(addr):.0f} MB/s")
    before = (status(proxy.pid, "Threads:"), status(proxy.pid, "VmRSS:"))
    held = []
    for _ in range(1000):
        c = socket.create_connection(proxy_addr)
        assert c.recv(100) == b"Welcome!"
        held.append(c)
    after = (status(proxy.pid, "Threads:"), status(proxy.pid, "VmRSS:"))
    print(f"proxy idle: threads {before[0]} -> {after[0]} with 1000 clients, RSS {before[1]} kB -> {after[1]} kB")
    for c in held: c.close()

try:
    main()
finally:
    for p in STARTED:
        p.kill()
        p.wait()

#!/usr/bin/env python3
"""Opens N idle connections to a server, then times one real request while they are held.

usage: scripts/bench/idle_then_ask.py hello|http PORT N

hello: the new client reads `Welcome!`, sends `Ada`, reads `Hello, Ada!` (chapters 02, 19, 20).
http:  the new client sends `GET / HTTP/1.1` and reads the status line (chapter 17).
The idle clients connect and send nothing. Prints how long the new client waited for its
answer (at most 60 s). Chapters 17, 19 and 20 quote it. Loopback only.
"""
import socket
import sys
import time

kind, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
addr = ("127.0.0.1", port)
idle = [socket.create_connection(addr, timeout=60) for _ in range(n)]
start = time.perf_counter()
try:
    with socket.create_connection(addr, timeout=60) as c:
        if kind == "hello":
            c.recv(100)
            c.sendall(b"Ada")
            answer = c.recv(100).decode()
        else:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = c.recv(4096).decode().split("\r\n")[0]
    took = time.perf_counter() - start
    print(f"{n} idle clients: the new client's answer ({answer!r}) came after {took:.2f} s")
except socket.timeout:
    print(f"{n} idle clients: no answer within 60 s")

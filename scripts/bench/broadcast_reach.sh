#!/usr/bin/env bash
# Which receivers hear which datagrams: chapter 08's table, measured.
#
# usage: scripts/bench/broadcast_reach.sh   (as root: it creates two network namespaces)
#
# In namespace wb-here, three UDP receivers share one port (SO_REUSEADDR), bound to 0.0.0.0,
# 127.255.255.255 and 127.0.0.1. A veth pair joins wb-here (10.9.0.1/24) to a neighbour,
# wb-there (10.9.0.2/24), standing in for another machine on the network. Datagrams are sent
# from this machine (broadcast to 127.255.255.255, unicast to 127.0.0.1) and from the
# neighbour (broadcast to 10.9.0.255, unicast to 10.9.0.1); each receiver prints what it got.
# Both namespaces are deleted at the end. Nothing leaves them; every wait is bounded.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "run as root: it creates network namespaces" >&2; exit 1; }
here=wb-here-$$ there=wb-there-$$
work=$(mktemp -d)
cleanup() { ip netns del "$here" 2>/dev/null || true; ip netns del "$there" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$here"
ip netns add "$there"
ip link add veth-here netns "$here" type veth peer name veth-there netns "$there"
ip -n "$here" addr add 10.9.0.1/24 dev veth-here
ip -n "$there" addr add 10.9.0.2/24 dev veth-there
for ns in "$here" "$there"; do ip -n "$ns" link set lo up; done
ip -n "$here" link set veth-here up
ip -n "$there" link set veth-there up

cat >"$work/probe.py" <<'PY'
import select, socket, sys, time
PORT = 47123
if sys.argv[1] == "receive":
    sockets = {}
    for addr in ["0.0.0.0", "127.255.255.255", "127.0.0.1"]:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, PORT))
        sockets[addr] = s
    print("ready", flush=True)
    got = {addr: [] for addr in sockets}
    end = time.monotonic() + 3
    while time.monotonic() < end:
        ready, _, _ = select.select(list(sockets.values()), [], [], 0.2)
        for addr, s in sockets.items():
            if s in ready:
                data, sender = s.recvfrom(100)
                got[addr].append(data.decode())
    for addr, what in got.items():
        print(f"receiver on {addr:15}: {', '.join(what) or 'nothing'}")
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for dest in sys.argv[3:]:
        s.sendto(f"{sys.argv[2]} to {dest}".encode(), (dest, PORT))
PY
ip netns exec "$here" python3 "$work/probe.py" receive >"$work/out" &
receiver=$!
for _ in $(seq 50); do grep -q ready "$work/out" 2>/dev/null && break; sleep 0.05; done
ip netns exec "$here" python3 "$work/probe.py" send "this machine" 127.255.255.255 127.0.0.1
ip netns exec "$there" python3 "$work/probe.py" send "the neighbour" 10.9.0.255 10.9.0.1
wait "$receiver"
grep -v ready "$work/out"

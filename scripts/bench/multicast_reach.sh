#!/usr/bin/env bash
# What IP_MULTICAST_TTL and IP_MULTICAST_LOOP change, on loopback and on a link: chapter 25's
# table, measured.
#
# usage: scripts/bench/multicast_reach.sh   (as root: it creates two network namespaces)
#
# A veth pair joins namespace wb-mc-here (10.9.0.1/24) to a neighbour, wb-mc-there
# (10.9.0.2/24), standing in for another machine on the network. In each namespace a member
# joins group 239.1.2.3 on its veth address, and in wb-mc-here a third member joins on
# loopback (127.0.0.1). A sender in wb-mc-here sends three datagrams on loopback and three on
# the link, one for each of TTL 1 with loop on, TTL 0, and loop off; each member prints what
# it got. Both namespaces are deleted at the end. Nothing leaves them; every wait is bounded.
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "run as root: it creates network namespaces" >&2; exit 1; }
here=wb-mc-here-$$ there=wb-mc-there-$$
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
import select, socket, struct, sys, time
GROUP, PORT = "239.1.2.3", 47125
if sys.argv[1] == "receive":
    members = {}
    for label, interface in zip(sys.argv[2::2], sys.argv[3::2]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IP, 49, 0)  # IP_MULTICAST_ALL off: own joins only
        s.bind((GROUP, PORT))
        mreq = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton(interface))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        members[label] = s
    print("ready", flush=True)
    got = {label: [] for label in members}
    end = time.monotonic() + 3
    while time.monotonic() < end:
        ready, _, _ = select.select(list(members.values()), [], [], 0.2)
        for label, s in members.items():
            if s in ready:
                got[label].append(s.recv(100).decode())
    for label, what in got.items():
        print(f"{label:38}: {', '.join(what) or 'nothing'}")
else:
    for interface, name in [("127.0.0.1", "lo"), ("10.9.0.1", "link")]:
        for ttl, loop, what in [(1, 1, "ttl 1"), (0, 1, "ttl 0"), (1, 0, "no loop")]:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, loop)
            s.sendto(f"{name} {what}".encode(), (GROUP, PORT))
PY
ip netns exec "$here" python3 "$work/probe.py" receive \
    "this machine, member on 127.0.0.1" 127.0.0.1 "this machine, member on 10.9.0.1" 10.9.0.1 \
    >"$work/here" &
ip netns exec "$there" python3 "$work/probe.py" receive "the neighbour, member on 10.9.0.2" 10.9.0.2 \
    >"$work/there" &
for f in here there; do
    for _ in $(seq 50); do grep -q ready "$work/$f" 2>/dev/null && break; sleep 0.05; done
done
ip netns exec "$here" python3 "$work/probe.py" send
wait
grep -hv ready "$work/here" "$work/there"

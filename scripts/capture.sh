#!/usr/bin/env bash
# Runs a demo, or a chapter's program, under tcpdump and prints the packets it sent:
#
#   scripts/capture.sh 01                            the demo of chapter 01 (scripts/demos/01.sh)
#   scripts/capture.sh 11                            11_sticky_packets, which needs no peer
#   scripts/capture.sh 27 --experiment linger        a program with its arguments
#
# tcpdump needs root (it opens the interface in a mode that sees every packet), so this does
# too: without root it says so and exits 2. It installs tcpdump (Debian's apt-get) if missing.
#
# The run happens in a network namespace of its own (unshare -n) whose loopback interface
# carries nothing but the demo's packets, so the capture is only the demo, whatever ports it
# picks at run time. Where namespaces are not allowed, it captures the machine's own lo, and
# other programs' loopback traffic may show up among the lines.
#
# It waits for tcpdump to say it is listening before starting the demo, and at the end sends
# one marker datagram and waits until tcpdump has printed it, so no packet of the demo is lost
# when tcpdump is stopped; the marker itself is not shown.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

usage() {
    echo "usage: scripts/capture.sh NN [ARGS...]"
    echo
    echo "Runs scripts/demo.sh NN, or the program src/bin/NN_*.rs with ARGS, under"
    echo "tcpdump -i lo and prints the packets (needs root)."
}

if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
    usage
    exit 0
fi
number=$1
shift

if [[ $(id -u) -ne 0 ]]; then
    echo "capture.sh needs root: tcpdump must open the lo interface to see its packets." >&2
    echo "Run it as root, for example: sudo scripts/capture.sh $number${*:+ $*}" >&2
    exit 2
fi

if ! command -v tcpdump >/dev/null 2>&1; then
    echo "== installing tcpdump (apt-get install tcpdump)"
    if ! { apt-get update -qq && apt-get install -y -qq tcpdump; } >/dev/null; then
        echo "capture.sh needs tcpdump and could not install it; install it and try again" >&2
        exit 2
    fi
fi

# What to run: the demo, when there is one and no arguments were given; else the program.
if [[ -f scripts/demos/$number.sh && $# -eq 0 ]]; then
    command=(scripts/demo.sh "$number")
else
    programs=(src/bin/"$number"_*.rs)
    if [[ ${#programs[@]} -ne 1 || ! -f ${programs[0]} ]]; then
        echo "no demo and no single program for '$number' (looked for scripts/demos/$number.sh" \
            "and src/bin/${number}_*.rs)" >&2
        exit 2
    fi
    name=$(basename "${programs[0]}" .rs)
    command=("$name" "$@") # completed with the binaries' directory below
fi

# Build outside the namespace (cargo may want the network), once; tests pass the directory.
if [[ -z ${WORKBOOK_BIN_DIR:-} ]]; then
    cargo build --quiet --bins
    export WORKBOOK_BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
fi
[[ ${command[0]} == scripts/demo.sh ]] || command[0]="$WORKBOOK_BIN_DIR/${command[0]}"

# Move into a network namespace of our own, with its loopback interface up, if we can.
if [[ -z ${CAPTURE_IN_NAMESPACE:-} ]] &&
    unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1; then
    export CAPTURE_IN_NAMESPACE=1
    exec unshare -n -- bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$number" "$@"
fi
where="a network namespace of its own"
[[ -n ${CAPTURE_IN_NAMESPACE:-} ]] ||
    where="this machine's lo (no namespace allowed): other traffic may show up"

work=$(mktemp -d)
tcpdump_pid=
cleanup() {
    [[ -z $tcpdump_pid ]] || kill -KILL "$tcpdump_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The marker that ends the capture: one UDP datagram to the discard port, 9.
marker_port=9
# -nn: numbers, not names; -l: a line at a time; --immediate-mode: each packet at once;
# -ttt: the time since the previous packet, so a wait shows up as a big number.
mkfifo "$work/stderr"
# -s 128: keep only the first 128 bytes of each packet (the headers), so a burst of big
# segments fits in the capture buffer.
tcpdump -i lo -nn -l --immediate-mode -ttt -s 128 'tcp or udp' >"$work/packets" 2>"$work/stderr" &
tcpdump_pid=$!
exec {errors}<"$work/stderr"
# tcpdump says "listening on lo, ..." on stderr once it captures; read up to that line.
said=
while IFS= read -r -t 10 line <&"$errors"; do
    said+="$line "
    [[ $line != *"listening on lo"* ]] || break
done
if [[ $said != *"listening on lo"* ]]; then
    echo "tcpdump did not start listening within 10 s: $said" >&2
    exit 1
fi
cat <&"$errors" >"$work/tcpdump.log" &
exec {errors}<&-

echo "== tcpdump -i lo -nn -ttt 'tcp or udp', in $where"
echo "\$ ${command[*]#"$WORKBOOK_BIN_DIR/"}"
# A server started without a demo would wait for clients forever: 30 s is the limit.
status=0
timeout 30 "${command[@]}" || status=$?

# The marker; then wait (at most 5 s) until tcpdump has printed it.
echo end >"/dev/udp/127.0.0.1/$marker_port"
for _ in $(seq 100); do
    grep -q "\.$marker_port: UDP" "$work/packets" && break
    sleep 0.05
done
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
tcpdump_pid=

echo "== packets: time since the previous one, from > to, flags, numbers (TCP options left out)"
grep -v -e "\.$marker_port: UDP" -e '^$' "$work/packets" | sed 's/ options \[[^]]*\],//' || true
# tcpdump's last words: "N packets captured ... M packets dropped by kernel".
dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$work/tcpdump.log")
if [[ -n $dropped && $dropped != 0 ]]; then
    echo "== note: tcpdump could not keep up and missed $dropped packets; run it again"
fi
exit "$status"

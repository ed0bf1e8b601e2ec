#!/usr/bin/env bash
# Compares the hello servers on this machine: 02_tcp_server (a thread per client),
# 19_poll_server (one thread, mio), 20_async_server (tokio tasks) and the Python notes' server
# (scripts/bench/notes_server.py, a thread per client), driven by 23_load_test. Chapter 23b
# explains what the figures mean and what they depend on.
#
# usage: scripts/bench.sh [--quick]
#
# 1. Busy clients: for 1, 10, 50 and 100 connections, each making 200 exchanges, every server
#    in turn, REPEAT times (default 5), a fresh server each run. Records exchanges per second,
#    p50/p90/p99 latency, errors, and the server's CPU time per exchange (from /proc).
# 2. Idle clients: each server holds IDLE silent connections (default 10000) while 1000 new
#    clients, one after another, connect, read the welcome, make one exchange and leave.
#    Records their round trip's p50/p99 and the server's peak resident memory.
#
# Writes target/bench/bench.md (tables) and target/bench/bench.svg (chart), from the raw
# figures in target/bench/*.tsv, and prints where. Release builds; Linux (/proc). --quick runs
# one repeat with 1000 idle connections, to try the script out. Environment: CONNECTIONS,
# EXCHANGES, REPEAT, IDLE, ROUNDS override the defaults; PIN=1 runs every server on core 0
# and 23_load_test on core 1 (taskset), so that they never compete for one core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNECTIONS=${CONNECTIONS:-"1 10 50 100"}
EXCHANGES=${EXCHANGES:-200}
REPEAT=${REPEAT:-5}
IDLE=${IDLE:-10000}
ROUNDS=${ROUNDS:-1000}
usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"; }
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    usage
    exit 0
elif [[ ${1:-} == --quick ]]; then
    REPEAT=1 IDLE=1000
elif [[ $# -gt 0 ]]; then
    echo "bench: unknown argument '$1'" >&2
    usage >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "bench: python3 is needed for the notes' server" >&2; exit 1; }
[[ -r /proc/self/stat ]] || { echo "bench: needs Linux's /proc" >&2; exit 1; }

echo "== building release binaries"
cargo build --quiet --release --bins
BIN=${CARGO_TARGET_DIR:-target}/release
OUT=${CARGO_TARGET_DIR:-target}/bench
mkdir -p "$OUT"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill -KILL "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# Each idle connection is a descriptor in 23 and another in the server.
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] || ulimit -n "$hard"
if [[ $hard != unlimited && $((IDLE + 200)) -gt $hard ]]; then
    echo "== the descriptor limit is $hard: holding $((hard - 200)) idle connections, not $IDLE"
    IDLE=$((hard - 200))
fi

SERVERS=(02_tcp_server 19_poll_server 20_async_server notes_server.py)
ON_SERVER_CORE=() ON_LOAD_CORE=()
if [[ ${PIN:-0} == 1 ]]; then
    ON_SERVER_CORE=(taskset -c 0) ON_LOAD_CORE=(taskset -c 1)
fi
# Other jobs on this machine change every figure: say how busy it was before we started
# (the share of CPU time not idle, all cores, over one second; from /proc/stat).
busy_before() {
    local t0 i0 t1 i1
    read -r _ a b c d e f g h _ </proc/stat && t0=$((a + b + c + d + e + f + g + h)) i0=$((d + e))
    sleep 1
    read -r _ a b c d e f g h _ </proc/stat && t1=$((a + b + c + d + e + f + g + h)) i1=$((d + e))
    echo $((100 - 100 * (i1 - i0) / (t1 - t0)))
}
busy=$(busy_before)

# start NAME: starts a server on a free port of 127.0.0.1; sets SERVER_PID and ADDR.
start() {
    local fifo=$WORK/fifo first
    rm -f "$fifo" && mkfifo "$fifo"
    if [[ $1 == notes_server.py ]]; then
        "${ON_SERVER_CORE[@]}" python3 scripts/bench/notes_server.py 0 >"$fifo" &
    else
        # A client bound above the idle count: 02 turns away all but 1000 clients by default.
        "${ON_SERVER_CORE[@]}" "$BIN/$1" 127.0.0.1:0 --max-clients $((IDLE + 100)) >"$fifo" &
    fi
    SERVER_PID=$!
    exec {fd}<"$fifo"
    IFS= read -r -t 10 first <&"$fd" || { echo "bench: $1 printed no first line" >&2; exit 1; }
    cat <&"$fd" >/dev/null & # drain the per-connection log lines
    exec {fd}<&-
    ADDR=${first##* }
}

# stop: Ctrl-C for the server, and wait for it.
stop() {
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID" || true
    wait # the log drain
    SERVER_PID=
}

# cpu_ticks: the server's CPU time so far (user + system), in clock ticks, from /proc.
cpu_ticks() {
    sed 's/.*) //' "/proc/$SERVER_PID/stat" | awk '{ print $12 + $13 }'
}

# load ARGS...: runs 23_load_test against ADDR; prints "RATE P50 P90 P99 ERRORS".
load() {
    local out
    out=$("${ON_LOAD_CORE[@]}" "$BIN/23_load_test" "$ADDR" --deadline 120 "$@" 2>/dev/null) || true
    awk '
        /^exchanges:/ { rate = $(NF - 2) }
        /^latency:/   { gsub(",", ""); p50 = $3; p90 = $6; p99 = $9 }
        /^errors:/    { errors = ($2 == "none") ? 0 : $2 }
        END { if (rate == "") exit 1; printf "%s %s %s %s %s\n", rate, p50 + 0, p90 + 0, p99 + 0, errors }
    ' <<<"$out" || { echo "bench: 23_load_test printed no figures:" >&2; echo "$out" >&2; exit 1; }
}

tick=$(getconf CLK_TCK)
table=$OUT/busy.tsv
printf 'server\tconnections\trun\trate\tp50\tp90\tp99\terrors\tcpu_s\texchanges\n' >"$table"
echo "== busy clients: connections ($CONNECTIONS) x $EXCHANGES exchanges, $REPEAT runs each"
for run in $(seq "$REPEAT"); do
    for connections in $CONNECTIONS; do
        for server in "${SERVERS[@]}"; do
            start "$server"
            before=$(cpu_ticks)
            read -r rate p50 p90 p99 errors < <(load -c "$connections" --exchanges "$EXCHANGES")
            after=$(cpu_ticks)
            stop
            # The server's CPU seconds in this run; in ticks of 10 ms, so short runs read 0.
            cpu_s=$(awk -v t=$((after - before)) -v hz="$tick" 'BEGIN { print t / hz }')
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$connections" "$run" \
                "$rate" "$p50" "$p90" "$p99" "$errors" "$cpu_s" $((connections * EXCHANGES)) >>"$table"
            printf '   run %s, %-16s %3s connections: %6s exchanges/s, p99 %s ms, errors %s\n' \
                "$run" "$server" "$connections" "$rate" "$p99" "$errors"
        done
    done
done

idle=$OUT/idle.tsv
printf 'server\tidle\tp50\tp90\tp99\terrors\tpeak_rss_kb\n' >"$idle"
echo "== idle clients: $IDLE held, then $ROUNDS new clients one after another"
for server in "${SERVERS[@]}"; do
    start "$server"
    read -r _ p50 p90 p99 errors < <(load --idle "$IDLE" -c 1 --exchanges "$ROUNDS" --reconnect)
    # VmHWM: the most memory the server has held resident, so far (its high-water mark).
    peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
    stop
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$IDLE" "$p50" "$p90" "$p99" "$errors" \
        "$peak" >>"$idle"
    printf '   %-16s new client round trip p50 %s ms, p99 %s ms; peak memory %s MB; errors %s\n' \
        "$server" "$p50" "$p99" "$((peak / 1024))" "$errors"
done

about="$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)),"
about+=" ${busy}% busy with other work in the second before the first run, $(rustc --version)"
[[ ${PIN:-0} == 1 ]] && about+=", servers pinned to core 0 and 23_load_test to core 1"
python3 scripts/bench/report.py "$OUT" "$EXCHANGES" "$about"
echo "== wrote $OUT/bench.md and $OUT/bench.svg (raw figures: $OUT/busy.tsv, $OUT/idle.tsv)"

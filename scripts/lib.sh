# Shared functions for the demos in scripts/demos/. Sourced by scripts/demo.sh, not run alone.
#
# A demo starts servers with `start_server`, runs clients with `run_client`, and ends with
# `stop_servers`, which stops every server with SIGINT (what Ctrl-C sends) and prints its log.
# Each side's lines are labelled, so you can tell who printed what.

BIN_DIR=${WORKBOOK_BIN_DIR:-}
WORK_DIR=$(mktemp -d)
SERVER_PIDS=()
SERVER_NAMES=()

cleanup() {
    # Kill only our own background jobs that are still running: a pid we already reaped may
    # belong to some other process by now.
    local pid
    for pid in $(jobs -pr); do
        kill -KILL "$pid" 2>/dev/null || true
        # Reap it here, quietly: otherwise bash may print "Killed" for it into the demo's
        # output (the log copier of start_https_files, killed at the end of demo 04).
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK_DIR"
}
trap cleanup EXIT

say() { printf '== %s\n' "$*"; }
fail() { printf 'demo failed: %s\n' "$*" >&2; exit 1; }

# Build the binaries once, unless the caller (a test) already points at them.
ensure_built() {
    if [[ -z "$BIN_DIR" ]]; then
        cargo build --quiet --bins || fail "cargo build failed"
        BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
    fi
}

# start_server LABEL BINARY ARGS...: starts a server, waits (at most 10 s) for its first line
# and sets SERVER_ADDR to the address at the end of it (`Listening on 127.0.0.1:41234`).
start_server() {
    local label=$1 binary=$2
    shift 2
    ensure_built
    local log="$WORK_DIR/$label.log" fifo="$WORK_DIR/$label.fifo"
    mkfifo "$fifo"
    "$BIN_DIR/$binary" "$@" >"$fifo" 2>&1 &
    SERVER_PIDS+=("$!")
    SERVER_NAMES+=("$label")
    # Read the first line straight from the pipe (no polling), then copy the rest to the log.
    local first
    exec {fd}<"$fifo"
    IFS= read -r -t 10 first <&"$fd" || fail "$binary printed no first line within 10 s"
    printf '%s\n' "$first" >"$log"
    cat <&"$fd" >>"$log" &
    exec {fd}<&-
    SERVER_ADDR=${first##* }
    say "started $binary as '$label': $first"
}

# run_client LABEL BINARY ARGS...: runs a client to the end (at most 10 s), labelling its output.
run_client() {
    local label=$1 binary=$2
    shift 2
    ensure_built
    say "running $binary $*"
    local status=0
    timeout 10 "$BIN_DIR/$binary" "$@" >"$WORK_DIR/client.out" 2>&1 || status=$?
    sed "s/^/$label | /" "$WORK_DIR/client.out"
    [[ $status -eq 0 ]] || fail "$binary exited with status $status"
}

# wait_for_log LABEL TEXT [COUNT]: waits (at most 5 s) until the server's log has COUNT lines
# (default 1) containing TEXT, so that its log is complete before we stop it.
wait_for_log() {
    local label=$1 text=$2 count=${3:-1} tries=0
    until [[ $(grep -cF -- "$text" "$WORK_DIR/$label.log") -ge $count ]]; do
        tries=$((tries + 1))
        [[ $tries -le 100 ]] || fail "'$label' never printed \"$text\""
        sleep 0.05
    done
}

# stop_servers: sends SIGINT to every server, waits for each to exit, prints each log labelled.
stop_servers() {
    local i pid status
    for i in "${!SERVER_PIDS[@]}"; do
        pid=${SERVER_PIDS[$i]}
        say "stopping '${SERVER_NAMES[$i]}' with SIGINT (Ctrl-C)"
        kill -INT "$pid"
        status=0
        wait "$pid" || status=$?
        [[ $status -eq 0 ]] || fail "'${SERVER_NAMES[$i]}' exited with status $status"
    done
    wait # the log copiers end when the servers do
    for i in "${!SERVER_NAMES[@]}"; do
        sed "s/^/${SERVER_NAMES[$i]} | /" "$WORK_DIR/${SERVER_NAMES[$i]}.log"
    done
    SERVER_PIDS=()
    SERVER_NAMES=()
}

# run_client_failing LABEL BINARY ARGS...: like run_client, for a run that is meant to fail (to
# show an error on both sides): prints its output labelled, then its exit status; the demo
# fails if it succeeds instead.
run_client_failing() {
    local label=$1 binary=$2
    shift 2
    ensure_built
    say "running $binary $* (this one should fail)"
    local status=0
    timeout 10 "$BIN_DIR/$binary" "$@" >"$WORK_DIR/client.out" 2>&1 || status=$?
    sed "s/^/$label | /" "$WORK_DIR/client.out"
    [[ $status -ne 0 ]] || fail "$binary succeeded, but should have failed"
    say "$binary exited with status $status"
}

# wait_servers: waits (at most 5 s) for every server to exit by itself, as receivers started
# with `--count N` do, then prints each log labelled, server by server.
wait_servers() {
    local i pid status tries
    for i in "${!SERVER_PIDS[@]}"; do
        pid=${SERVER_PIDS[$i]}
        tries=0
        while kill -0 "$pid" 2>/dev/null; do
            tries=$((tries + 1))
            [[ $tries -le 100 ]] || fail "'${SERVER_NAMES[$i]}' did not finish within 5 s"
            sleep 0.05
        done
        status=0
        wait "$pid" || status=$?
        [[ $status -eq 0 ]] || fail "'${SERVER_NAMES[$i]}' exited with status $status"
    done
    wait # the log copiers end when the servers do
    for i in "${!SERVER_NAMES[@]}"; do
        sed "s/^/${SERVER_NAMES[$i]} | /" "$WORK_DIR/${SERVER_NAMES[$i]}.log"
    done
    SERVER_PIDS=()
    SERVER_NAMES=()
}

# start_https_files LABEL DIR CERT KEY: serves the files in DIR over HTTPS with OpenSSL's own
# test server (`openssl s_server -WWW`) on a free port of 127.0.0.1, and sets SERVER_ADDR. It
# answers `GET /NAME` with the file DIR/NAME, one connection at a time. Stop it with
# stop_https_files (it ignores SIGINT when started in the background, so stop_servers cannot).
start_https_files() {
    local label=$1 dir=$2 cert=$3 key=$4
    local log="$WORK_DIR/$label.log" fifo="$WORK_DIR/$label.fifo" line
    command -v openssl >/dev/null || fail "the openssl command is not installed"
    ensure_built # the clients run later, maybe from another directory
    mkfifo "$fifo"
    (cd "$dir" && exec openssl s_server -WWW -accept 127.0.0.1:0 \
        -cert "$cert" -key "$key") >"$fifo" 2>&1 &
    HTTPS_FILES_PID=$! # a background job: the demo's cleanup kills it, whatever happens
    exec {fd}<"$fifo"
    # It prints `ACCEPT 127.0.0.1:PORT` once it listens, maybe after a line about DH parameters.
    while IFS= read -r -t 10 line <&"$fd"; do
        [[ $line == ACCEPT* ]] && break
    done
    [[ ${line:-} == ACCEPT* ]] || fail "openssl s_server printed no ACCEPT line within 10 s"
    cat <&"$fd" >"$log" &
    exec {fd}<&-
    SERVER_ADDR=${line##* }
    say "started openssl s_server -WWW as '$label', serving $(basename "$dir")/ on $SERVER_ADDR"
}

# stop_https_files: stops the server of start_https_files with SIGTERM.
stop_https_files() {
    say "stopping openssl s_server with SIGTERM"
    kill -TERM "$HTTPS_FILES_PID"
    wait "$HTTPS_FILES_PID" 2>/dev/null || true
}

# Interactive clients (chapter 21's chat): a client runs in the background with a pipe for its
# keyboard, which the demo types into; its output goes to a file, printed when it ends.
declare -A CLIENT_PIDS CLIENT_KEYS

# start_interactive LABEL BINARY ARGS...: starts a client whose keyboard is a pipe.
start_interactive() {
    local label=$1 binary=$2 keys
    shift 2
    ensure_built
    mkfifo "$WORK_DIR/$label.keys"
    # The output file exists from now on, so wait_for_output can look at it at once: the
    # client's own redirection happens only once it has opened its keyboard.
    : >"$WORK_DIR/$label.out"
    "$BIN_DIR/$binary" "$@" <"$WORK_DIR/$label.keys" >>"$WORK_DIR/$label.out" 2>&1 &
    CLIENT_PIDS[$label]=$!
    # Held open by the demo: the client sees no end of input until end_input.
    exec {keys}>"$WORK_DIR/$label.keys"
    CLIENT_KEYS[$label]=$keys
    say "started $binary $* as '$label'"
}

# type_into LABEL TEXT: types one line into the client's keyboard (shown with cat -v, so a
# control character in TEXT is not sent to your terminal).
type_into() {
    say "$1 types: $(printf '%s' "$2" | cat -v)"
    printf '%s\n' "$2" >&"${CLIENT_KEYS[$1]}"
}

# end_input LABEL: closes the client's keyboard, as Ctrl-D does.
end_input() {
    local keys=${CLIENT_KEYS[$1]}
    say "$1 presses Ctrl-D (end of input)"
    exec {keys}>&-
}

# wait_for_output LABEL TEXT [COUNT]: waits (at most 5 s) until the client's output has COUNT
# lines (default 1) containing TEXT.
wait_for_output() {
    local label=$1 text=$2 count=${3:-1} tries=0
    until [[ $(grep -cF -- "$text" "$WORK_DIR/$label.out") -ge $count ]]; do
        tries=$((tries + 1))
        [[ $tries -le 100 ]] || fail "'$label' never printed \"$text\""
        sleep 0.05
    done
}

# wait_client LABEL: waits (at most 5 s) for the client to end, then prints its output
# labelled; the demo fails unless it exits with status 0.
wait_client() {
    local label=$1 pid=${CLIENT_PIDS[$1]} tries=0 status=0
    while kill -0 "$pid" 2>/dev/null; do
        tries=$((tries + 1))
        [[ $tries -le 100 ]] || fail "'$label' did not end within 5 s"
        sleep 0.05
    done
    wait "$pid" || status=$?
    say "'$label' ended with status $status"
    sed "s/^/$label | /" "$WORK_DIR/$label.out"
    [[ $status -eq 0 ]] || fail "'$label' exited with status $status"
}

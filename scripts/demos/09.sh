# title: 10_unix_client talks to 09_unix_server over a socket file (chapters 09 and 10)
# also: 10
ensure_built
# Work in the demo's temporary directory, so the socket file has a short, fixed name.
cd "$WORK_DIR"
start_server server 09_unix_server hello.sock
if [[ -S hello.sock ]]; then say "hello.sock is a socket file"; fi
run_client alice 10_unix_client hello.sock Alice
wait_for_log server "closed."
run_client bob 10_unix_client hello.sock Bob Carol
wait_for_log server "closed." 2
stop_servers
if [[ -e hello.sock ]]; then say "hello.sock is still there"; else say "hello.sock is gone"; fi

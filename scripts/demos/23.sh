# title: 23_load_test drives 02_tcp_server with 4 connections, then finds nobody there (chapter 23)
start_server server 02_tcp_server 127.0.0.1:0
# A debug build and tiny numbers: this shows what 23 prints, not how fast 02 is (scripts/bench.sh).
run_client load 23_load_test "$SERVER_ADDR" -c 4 --exchanges 50
wait_for_log server "closed." 4
# Four threads logged their arrivals and departures in whatever order they ran: count the lines
# instead of printing them, so that the demo's output is the same every time.
log="$WORK_DIR/server.log"
say "the server logged $(grep -c '^Accept new connection' "$log") connections accepted and $(grep -c ' closed\.$' "$log") closed"
: >"$log"
stop_servers
# Nobody listens there any more: every connection fails, and 23 counts how.
run_client_failing load 23_load_test "$SERVER_ADDR" -c 4 --exchanges 50

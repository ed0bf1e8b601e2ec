# title: 19_poll_server serves two clients on one thread (chapter 19)
start_server server 19_poll_server 127.0.0.1:0
run_client alice 01_tcp_client "$SERVER_ADDR" Alice
wait_for_log server "closed."
# Linux counts a process's threads in /proc: the main thread and the Ctrl-C handler's.
say "threads in the server: $(awk '/^Threads:/ { print $2 }' "/proc/${SERVER_PIDS[0]}/status")"
run_client bob 01_tcp_client "$SERVER_ADDR" Bob Carol
wait_for_log server "closed." 2
stop_servers

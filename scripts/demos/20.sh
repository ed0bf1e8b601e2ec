# title: 20_async_server serves two clients as tasks on tokio (chapter 20)
start_server server 20_async_server 127.0.0.1:0
run_client alice 01_tcp_client "$SERVER_ADDR" Alice
wait_for_log server "closed."
# Linux counts a process's threads in /proc: main, plus one runtime thread per core.
say "threads in the server: $(awk '/^Threads:/ { print $2 }' "/proc/${SERVER_PIDS[0]}/status")"
run_client bob 01_tcp_client "$SERVER_ADDR" Bob Carol
wait_for_log server "closed." 2
stop_servers

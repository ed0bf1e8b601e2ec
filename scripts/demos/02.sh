# title: 02_tcp_server serves two clients, one after the other (chapter 02)
start_server server 02_tcp_server 127.0.0.1:0
run_client alice 01_tcp_client "$SERVER_ADDR" Alice
wait_for_log server "closed."
run_client bob 01_tcp_client "$SERVER_ADDR" Bob Carol
wait_for_log server "closed." 2
stop_servers

# title: 01_tcp_client talks to 02_tcp_server (chapter 01)
start_server server 02_tcp_server 127.0.0.1:0
run_client client 01_tcp_client "$SERVER_ADDR"
wait_for_log server "closed."
stop_servers

# title: 06_udp_client talks to 05_udp_server (chapter 05)
start_server server 05_udp_server 127.0.0.1:0
run_client client 06_udp_client "$SERVER_ADDR"
wait_for_log server "Received from" 3
stop_servers

# title: two 06_udp_clients, one after the other, and one 05_udp_server (chapter 06)
start_server server 05_udp_server 127.0.0.1:0
run_client alice 06_udp_client "$SERVER_ADDR" Alice
run_client bob 06_udp_client "$SERVER_ADDR" Bob Carol
wait_for_log server "Received from" 3
stop_servers

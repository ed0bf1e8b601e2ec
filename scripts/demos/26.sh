# title: two 26_multicast_recv share a port and a group, then leave it on Ctrl-C (chapter 26)
# The first receiver binds port 0; the system picks a free port, and the second shares it.
start_server one 26_multicast_recv 239.1.2.3:0
port=${SERVER_ADDR##*:}
start_server two 26_multicast_recv "239.1.2.3:$port"
run_client sender 25_multicast_send "239.1.2.3:$port" "Hi group" --count 2 --interval 100
wait_for_log one "Hi group (2/2)"
wait_for_log two "Hi group (2/2)"
stop_servers

# title: 07_broadcast_send reaches three 08_broadcast_recv on one port (chapters 07 and 08)
# The first receiver binds port 0; the system picks a free port, and the others share it.
start_server one 08_broadcast_recv 0.0.0.0:0 --count 3
port=${SERVER_ADDR##*:}
start_server two 08_broadcast_recv "0.0.0.0:$port" --count 3
start_server three 08_broadcast_recv "0.0.0.0:$port" --count 3
run_client sender 07_broadcast_send "127.255.255.255:$port" "Hi all" --count 3 --interval 200
wait_servers

# title: 25_multicast_send reaches the members of a group on loopback; a receiver bound to 0.0.0.0 also hears unicast (chapters 25 and 26)
# The first receiver binds port 0; the system picks a free port, and the others share it.
start_server one 26_multicast_recv 239.1.2.3:0 --count 2
port=${SERVER_ADDR##*:}
start_server two 26_multicast_recv "239.1.2.3:$port" --count 2
start_server any 26_multicast_recv "239.1.2.3:$port" --bind-any --count 3
run_client sender 25_multicast_send "239.1.2.3:$port" "Hi group" --count 2 --interval 200
run_client unicast 07_broadcast_send "127.0.0.1:$port" "unicast to 127.0.0.1"
wait_servers

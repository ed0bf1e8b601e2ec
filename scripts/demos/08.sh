# title: who gets a broadcast: 08_broadcast_recv on 0.0.0.0 and 127.255.255.255 does, on 127.0.0.1 does not (chapter 08)
start_server everyone 08_broadcast_recv 0.0.0.0:0 --count 1
port=${SERVER_ADDR##*:}
start_server broadcast-only 08_broadcast_recv "127.255.255.255:$port" --count 1
start_server loopback-only 08_broadcast_recv "127.0.0.1:$port" --count 1
run_client sender 07_broadcast_send "127.255.255.255:$port" "to everyone"
run_client sender 07_broadcast_send "127.0.0.1:$port" "to 127.0.0.1 only"
wait_servers

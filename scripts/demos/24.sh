# title: 24_dual_stack: one [::] socket for IPv4 and IPv6 clients; a client that tries each address (chapter 24)
start_server dual 24_dual_stack '[::]:0'
PORT=${SERVER_ADDR##*:}
run_client v4 24_dual_stack --connect "127.0.0.1:$PORT"
wait_for_log dual "closed."
run_client v6 24_dual_stack --connect "[::1]:$PORT"
wait_for_log dual "closed." 2
stop_servers
say "the same port, IPV6_V6ONLY on: IPv6 clients only"
start_server only6 24_dual_stack "[::]:$PORT" --v6only
run_client_failing v4 24_dual_stack --connect "127.0.0.1:$PORT"
stop_servers
say "a server on 127.0.0.1 only; the client tries [::1] first, as it would for localhost"
start_server only4 24_dual_stack "127.0.0.1:$PORT"
run_client both 24_dual_stack --connect "[::1]:$PORT" "127.0.0.1:$PORT"
wait_for_log only4 "closed."
stop_servers

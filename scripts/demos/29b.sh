# title: 29_chaos_proxy resets 03's request to 17, and drops datagrams between 06 and 05 (chapter 29b)
site="$WORK_DIR/site"
saved="$WORK_DIR/saved"
mkdir -p "$site" "$saved"
printf '<!doctype html>\n<h1>Hello from 17_http_server</h1>\n' >"$site/hello.html"
start_server web 17_http_server 127.0.0.1:0 "$site" --threads 2
web=$SERVER_ADDR
# A reset after 50 bytes in all: half of the request reaches the server, then both get RST.
start_server reset 29_chaos_proxy 127.0.0.1:0 "$web" --reset-after 50
(cd "$saved" && run_client_failing client 03_http_get "http://$SERVER_ADDR/hello.html")
[[ ! -e "$saved/hello.html" ]] || fail "a reset response was saved"
# UDP: seed 2 drops 2 of 4 names on their way; 06 waits 200 ms for each reply, then goes on.
start_server udp 05_udp_server 127.0.0.1:0
start_server lossy 29_chaos_proxy 127.0.0.1:0 "$SERVER_ADDR" --udp --drop 0.3 --seed 2
run_client_failing client 06_udp_client "$SERVER_ADDR" Ada Bob Cy Dee --timeout 200
wait_for_log reset " closed"
wait_for_log web '"-" - 0'
wait_for_log udp "Received from" 2
stop_servers

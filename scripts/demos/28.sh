# title: 28_proxy between 01 and 02, and between 03 and 17 (chapter 28)
start_server target 02_tcp_server 127.0.0.1:0
start_server proxy 28_proxy 127.0.0.1:0 "$SERVER_ADDR"
PROXY_ADDR=$SERVER_ADDR
# The client talks to the proxy, and cannot tell: the conversation is the one of chapter 02.
run_client alice 01_tcp_client "$PROXY_ADDR" Alice
wait_for_log proxy "closed: " 1
wait_for_log target "closed."
# A file from chapter 17's server, through a second proxy, saved by chapter 03's client.
site="$WORK_DIR/site"
saved="$WORK_DIR/saved"
mkdir -p "$site" "$saved"
printf '<!doctype html>\n<h1>Hello through 28_proxy</h1>\n' >"$site/hello.html"
start_server web 17_http_server 127.0.0.1:0 "$site" --threads 2
start_server web-proxy 28_proxy 127.0.0.1:0 "$SERVER_ADDR"
(cd "$saved" && run_client client 03_http_get "http://$SERVER_ADDR/hello.html")
cmp -s "$site/hello.html" "$saved/hello.html" || fail "the saved file differs from the served one"
say "the saved hello.html is byte for byte the served file"
wait_for_log web-proxy "closed: " 1
stop_servers

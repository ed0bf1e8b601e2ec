# title: 29_chaos_proxy chops the bytes between 03 and 17 (chapter 29; resets and drops: 29b)
site="$WORK_DIR/site"
saved="$WORK_DIR/saved"
mkdir -p "$site" "$saved"
printf '<!doctype html>\n<h1>Hello from 17_http_server</h1>\n' >"$site/hello.html"
start_server web 17_http_server 127.0.0.1:0 "$site" --threads 2
web=$SERVER_ADDR
# Every byte alone, both ways: 03 reads until the server closes, so it does not notice.
start_server chop 29_chaos_proxy 127.0.0.1:0 "$web" --chunk 1
(cd "$saved" && run_client client 03_http_get "http://$SERVER_ADDR/hello.html")
cmp -s "$site/hello.html" "$saved/hello.html" || fail "the saved file differs from the served one"
say "the saved hello.html is byte for byte the served file"
wait_for_log chop " closed"
wait_for_log web '" 200 '
stop_servers

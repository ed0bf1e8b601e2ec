# title: 03_http_get fetches a file from 17_http_server (chapters 03 and 17)
# also: 17
# A small site in a temporary directory, so the output is the same on every run.
site="$WORK_DIR/site"
saved="$WORK_DIR/saved"
mkdir -p "$site" "$saved"
printf '<!doctype html>\n<h1>Hello from 17_http_server</h1>\n' >"$site/hello.html"
start_server server 17_http_server 127.0.0.1:0 "$site" --threads 2
# The client saves into its current directory, so run it from an empty one.
(cd "$saved" && run_client client 03_http_get "http://$SERVER_ADDR/hello.html")
cmp -s "$site/hello.html" "$saved/hello.html" || fail "the saved file differs from the served one"
say "the saved hello.html is byte for byte the served file"
wait_for_log server '" 200 '
# A path that tries to climb out of the site: the server answers 404, the client saves nothing.
(cd "$saved" && run_client_failing client 03_http_get "http://$SERVER_ADDR/../../etc/passwd")
wait_for_log server '" 404 '
stop_servers

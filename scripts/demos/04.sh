# title: 04_https_get fetches a page over TLS from openssl s_server -WWW (chapter 04)
say "making a self-signed certificate for localhost and 127.0.0.1 (scripts/make_cert.sh)"
scripts/make_cert.sh "$WORK_DIR/cert" >/dev/null || fail "scripts/make_cert.sh failed"
site="$WORK_DIR/site"
saved="$WORK_DIR/saved"
mkdir -p "$site" "$saved"
printf '<!doctype html>\n<h1>Hello over TLS</h1>\n' >"$site/hello.html"
start_https_files server "$site" "$WORK_DIR/cert/cert.pem" "$WORK_DIR/cert/key.pem"
url="https://localhost:${SERVER_ADDR##*:}/hello.html"
# Without --ca the client trusts only the system's roots, and nobody there signed our cert.
(cd "$saved" && run_client_failing client 04_https_get "$url")
# With the certificate as a trusted root, the same fetch goes through.
(cd "$saved" && run_client client 04_https_get "$url" --ca "$WORK_DIR/cert/cert.pem")
cmp -s "$site/hello.html" "$saved/hello.html" || fail "the saved file differs from the served one"
say "the saved hello.html is byte for byte the served file"
stop_https_files

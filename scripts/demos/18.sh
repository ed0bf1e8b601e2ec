# title: 18_tls_client talks to 18_tls_server over TLS, with a fresh certificate (chapter 18)
say "making a self-signed certificate for localhost and 127.0.0.1 (scripts/make_cert.sh)"
scripts/make_cert.sh "$WORK_DIR/cert" >/dev/null || fail "scripts/make_cert.sh failed"
start_server server 18_tls_server 127.0.0.1:0 \
    --cert "$WORK_DIR/cert/cert.pem" --key "$WORK_DIR/cert/key.pem"
run_client client 18_tls_client "$SERVER_ADDR" --ca "$WORK_DIR/cert/cert.pem"
wait_for_log server "closed."
# The same client, told to expect another name: it refuses the server's certificate.
run_client_failing client 18_tls_client "$SERVER_ADDR" Eve --ca "$WORK_DIR/cert/cert.pem" \
    --host example.com
wait_for_log server "TLS handshake failed"
stop_servers

#!/usr/bin/env bash
# Makes a self-signed TLS certificate for this machine, for 18_tls_server and 04_https_get.
#
#   scripts/make_cert.sh [DIR]
#
# Writes into DIR (default: a new temporary directory; never inside the workbook, so no private
# key is ever committed):
#   DIR/cert.pem      the certificate, valid 30 days for the names localhost and 127.0.0.1
#   DIR/key.pem       its private key, unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY)
#   DIR/identity.p12  both in one PKCS#12 file, with an empty password
# and prints the directory's path as its last line.
#
# Self-signed means the certificate vouches for itself: no authority signed it, so a client
# trusts it only if you hand it over (`--ca DIR/cert.pem`). Needs the `openssl` command.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,/^set /s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
fi
if [[ $# -gt 1 ]]; then
    echo "usage: scripts/make_cert.sh [DIR]" >&2
    exit 2
fi
command -v openssl >/dev/null || { echo "error: the openssl command is not installed" >&2; exit 1; }

dir=$(realpath -m "${1:-$(mktemp -d)}")
case "$dir/" in
"$ROOT"/*)
    echo "error: $dir is inside the workbook; keep private keys out of the repository" >&2
    exit 1
    ;;
esac
mkdir -p "$dir"

# One command makes the key and the certificate:
#   -x509                 a certificate (not a signing request), signed by its own key
#   -newkey rsa:2048      a new 2048-bit RSA key
#   -noenc                do not encrypt the key (a server must read it without a passphrase)
#   -subj /CN=localhost   the subject's common name (only for people: clients check the SAN)
#   subjectAltName        the names a client checks: DNS localhost and IP 127.0.0.1
openssl req -x509 -newkey rsa:2048 -noenc -days 30 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" \
    -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
# The same pair as one PKCS#12 file (what Windows and Java tools like), empty password.
openssl pkcs12 -export -in "$dir/cert.pem" -inkey "$dir/key.pem" \
    -out "$dir/identity.p12" -passout pass:
chmod 600 "$dir/key.pem" "$dir/identity.p12"
echo "$dir"

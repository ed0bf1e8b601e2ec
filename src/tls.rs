//! The client side of TLS, taught in chapter 04 and shared by 04_https_get and 18_tls_client.
//!
//! Two steps turn a connected `TcpStream` (or any byte stream) into an encrypted, authenticated `TlsStream`:
//! `connector` decides whom to trust (the system's root certificates, plus any you name with
//! `--ca`), and `handshake` runs the TLS handshake, in which the server must show a certificate
//! that a trusted authority signed, that is valid today, and that names the host we asked for.
//! When a check fails, `handshake` says in one line which check it was and what to do.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail};
use native_tls::{Certificate, HandshakeError, TlsConnector, TlsStream};

// ANCHOR: connector
/// A TLS client configuration that trusts the system's root certificates and, if `ca` is
/// given, the certificate in that PEM file too (for a server whose certificate you made).
pub fn connector(ca: Option<&Path>) -> anyhow::Result<TlsConnector> {
    // Python: ctx = ssl.create_default_context(); ctx.load_verify_locations(ca)
    // (not create_default_context(cafile=ca): that trusts the file INSTEAD of the system roots)
    let mut builder = TlsConnector::builder();
    if let Some(path) = ca {
        let pem = fs::read(path)
            .map_err(|e| anyhow!("could not read the CA certificate {}: {e}", path.display()))?;
        let certificate = Certificate::from_pem(&pem).map_err(|e| {
            anyhow!(
                "{} is not a PEM certificate (BEGIN CERTIFICATE): {e}",
                path.display()
            )
        })?;
        // Added to the system's roots, not instead of them.
        builder.add_root_certificate(certificate);
    }
    // Certificate and host name checks stay on: native-tls verifies both unless told not to.
    builder
        .build()
        .map_err(|e| anyhow!("could not set up TLS: {e}"))
}
// ANCHOR_END: connector

// ANCHOR: handshake
/// Runs the TLS handshake over `tcp` as a client, checking that the server's certificate is
/// trusted, valid today and made out to `host`. `host` is also sent to the server (SNI), so a
/// server with several names knows which certificate to show. `tcp` is any byte stream: a
/// `TcpStream`, or chapter 03's `http::Deadline`, which puts the handshake under the deadline.
pub fn handshake<S: Read + Write>(
    connector: &TlsConnector,
    host: &str,
    tcp: S,
) -> anyhow::Result<TlsStream<S>> {
    // Python: s = ctx.wrap_socket(sock, server_hostname=host)
    match connector.connect(host, tcp) {
        Ok(stream) => Ok(stream),
        Err(HandshakeError::Failure(e)) => bail!("{}", explain(host, &e.to_string())),
        // A read timeout on the socket shows up as a handshake that "would block".
        Err(HandshakeError::WouldBlock(_)) => bail!(
            "TLS handshake with {host} failed: the server did not answer in time; is it a TLS \
             server?"
        ),
    }
}
// ANCHOR_END: handshake

// ANCHOR: explain
/// OpenSSL's reasons for a failed handshake, as it words them, with what each means and what
/// to do about it.
const REASONS: [(&str, &str, &str); 9] = [
    (
        "self-signed certificate",
        "the certificate is not trusted: it is self-signed and not one of your roots",
        "if you trust this server, pass its certificate with --ca CERT.pem",
    ),
    (
        "unable to get local issuer certificate",
        "the certificate is not trusted: it was signed by an authority (CA) you do not trust",
        "if you trust that authority, pass its certificate with --ca CA.pem",
    ),
    (
        "hostname mismatch",
        "the certificate is not made out to this host name",
        "connect with a name it lists (openssl x509 -noout -ext subjectAltName -in CERT.pem)",
    ),
    (
        "IP address mismatch",
        "the certificate is not made out to this IP address",
        "connect with a name it lists (openssl x509 -noout -ext subjectAltName -in CERT.pem)",
    ),
    (
        "certificate has expired",
        "the certificate has expired",
        "the server needs a new certificate; also check this machine's clock",
    ),
    (
        "certificate is not yet valid",
        "the certificate is not valid yet",
        "check this machine's clock, or wait until the certificate starts",
    ),
    (
        "wrong version number",
        "the server did not answer in TLS",
        "is it a plain TCP or HTTP server? check the port",
    ),
    (
        "unexpected EOF",
        "the server hung up during the handshake",
        "check the server's log for why",
    ),
    (
        "alert handshake failure",
        "the server refused the handshake",
        "check the server's log for why",
    ),
];

/// Turns OpenSSL's error text into one line: which check failed, OpenSSL's own words, the fix.
fn explain(host: &str, openssl: &str) -> String {
    for (words, problem, fix) in REASONS {
        if openssl.contains(words) {
            return format!(
                "TLS handshake with {host} failed: {problem} (OpenSSL: {words}); {fix}"
            );
        }
    }
    format!("TLS handshake with {host} failed: {openssl}")
}
// ANCHOR_END: explain

//! Checks 18_tls_client against a TLS server written here (native-tls, with certificates made
//! by rcgen), including every certificate check the client must make. Run with
//! `cargo test --test 18_tls_client`. (The pair with the real server is in 18_tls_server.)

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use common::tls::{
    CertFiles, Recorder, ends_with_an_alert, expired, expired_for, localhost, record_types,
    self_signed, signed_by_a_ca,
};
use common::{Output, TIMEOUT, bin, expect_text, run, run_command};
use native_tls::{Identity, Protocol, TlsAcceptor};

/// What the test server saw: the messages it received, or why its handshake failed.
type Seen = Result<Vec<String>, String>;

/// A one-connection hello server over TLS, showing `cert`. Returns its address and a handle
/// that yields what it received (one message per read), until `exit` or end of stream.
fn tls_server(cert: &CertFiles) -> (String, JoinHandle<Seen>) {
    let (addr, handle, _) = tls_server_with(cert.acceptor());
    (addr, handle)
}

/// Like `tls_server`, with the acceptor given; also returns every raw byte it will receive.
fn tls_server_with(acceptor: TlsAcceptor) -> (String, JoinHandle<Seen>, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let received = Arc::default();
    let recorder_bytes = Arc::clone(&received);
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let recorder = Recorder {
            tcp,
            received: recorder_bytes,
        };
        let mut stream = acceptor.accept(recorder).map_err(|e| e.to_string())?;
        stream.write_all(b"Welcome!").unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            // The client's goodbye after `exit` reads as end of stream (0).
            let n = stream.read(&mut buffer).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            received.push(message.clone());
            if message != "exit" {
                stream
                    .write_all(format!("Hello, {message}!").as_bytes())
                    .unwrap();
            }
        }
        Ok(received)
    });
    (addr, handle, received)
}

/// Runs the client against a server showing `cert`, trusting `ca`, and expects it to refuse
/// with exactly `error`. Returns what the server saw.
fn expect_refusal(cert: &CertFiles, ca: &CertFiles, extra: &[&str], error: &str) -> String {
    let (addr, server) = tls_server(cert);
    let mut args = vec![addr.as_str(), "--ca", ca.cert_arg()];
    args.extend(extra);
    let output = run("18_tls_client", &args);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    assert_eq!(output.stderr, format!("error: {error}\n"));
    server
        .join()
        .unwrap()
        .expect_err("the handshake must fail on the server too")
}

#[test]
fn sends_the_names_then_exit() {
    let cert = localhost();
    let (addr, server) = tls_server(&cert);
    let output = run("18_tls_client", &[&addr, "--ca", cert.cert_arg()]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    assert_eq!(output.stderr, "");
    assert_eq!(
        server.join().unwrap().unwrap(),
        ["Michael", "Tracy", "Sarah", "exit"]
    );
}

#[test]
fn its_last_record_is_the_close_notify_alert() {
    // A clean 0-byte read proves nothing: native-tls reads a bare TCP close the same way. So
    // this server speaks TLS 1.2, whose record headers show which records are alerts, and
    // checks that the client's last record is one: its close_notify.
    let cert = localhost();
    let identity = Identity::from_pkcs8(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes());
    let acceptor = TlsAcceptor::builder(identity.unwrap())
        .max_protocol_version(Some(Protocol::Tlsv12))
        .build()
        .unwrap();
    let (addr, server, received) = tls_server_with(acceptor);
    let output = run("18_tls_client", &[&addr, "Ada", "--ca", cert.cert_arg()]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(server.join().unwrap().unwrap(), ["Ada", "exit"]);
    let received = received.lock().unwrap();
    assert!(
        ends_with_an_alert(&received),
        "record types: {:?}",
        record_types(&received)
    );
}

#[test]
fn sends_exactly_the_names_given_with_the_ip_as_host() {
    let cert = localhost();
    let (addr, server) = tls_server(&cert);
    let output = run(
        "18_tls_client",
        &[
            &addr,
            "Ada",
            "Grace Hopper",
            "--ca",
            cert.cert_arg(),
            "--host",
            "127.0.0.1",
        ],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Ada!\nHello, Grace Hopper!\n"
    );
    assert_eq!(
        server.join().unwrap().unwrap(),
        ["Ada", "Grace Hopper", "exit"]
    );
}

#[test]
fn a_certificate_it_was_not_told_to_trust_is_refused() {
    let cert = localhost();
    let other = localhost();
    let seen = expect_refusal(
        &cert,
        &other,
        &[],
        "TLS handshake with localhost failed: the certificate is not trusted: it is \
         self-signed and not one of your roots (OpenSSL: self-signed certificate); if you \
         trust this server, pass its certificate with --ca CERT.pem",
    );
    // The client tells the server why, with a TLS alert.
    assert!(seen.contains("alert unknown ca"), "{seen}");
}

#[test]
fn a_certificate_from_an_untrusted_authority_is_refused() {
    let (cert, _ca) = signed_by_a_ca();
    let other = localhost();
    expect_refusal(
        &cert,
        &other,
        &[],
        "TLS handshake with localhost failed: the certificate is not trusted: it was signed by \
         an authority (CA) you do not trust (OpenSSL: unable to get local issuer certificate); \
         if you trust that authority, pass its certificate with --ca CA.pem",
    );
}

#[test]
fn trusting_the_authority_is_enough() {
    let (cert, ca) = signed_by_a_ca();
    let (addr, server) = tls_server(&cert);
    let output = run("18_tls_client", &[&addr, "Ada", "--ca", ca.cert_arg()]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\nHello, Ada!\n");
    server.join().unwrap().unwrap();
}

#[test]
fn a_name_the_certificate_does_not_carry_is_refused() {
    let cert = localhost();
    let seen = expect_refusal(
        &cert,
        &cert,
        &["--host", "example.com"],
        "TLS handshake with example.com failed: the certificate is not made out to this host \
         name (OpenSSL: hostname mismatch); connect with a name it lists (openssl x509 -noout \
         -ext subjectAltName -in CERT.pem)",
    );
    assert!(seen.contains("alert bad certificate"), "{seen}");
}

#[test]
fn an_ip_address_the_certificate_does_not_carry_is_refused() {
    let cert = self_signed(&["localhost"]);
    expect_refusal(
        &cert,
        &cert,
        &["--host", "127.0.0.1"],
        "TLS handshake with 127.0.0.1 failed: the certificate is not made out to this IP \
         address (OpenSSL: IP address mismatch); connect with a name it lists (openssl x509 \
         -noout -ext subjectAltName -in CERT.pem)",
    );
}

#[test]
fn an_expired_certificate_is_refused_even_when_trusted() {
    let cert = expired();
    expect_refusal(
        &cert,
        &cert,
        &[],
        "TLS handshake with localhost failed: the certificate has expired (OpenSSL: \
         certificate has expired); the server needs a new certificate; also check this \
         machine's clock",
    );
}

#[test]
fn a_plain_tcp_server_is_recognised() {
    // A server that does not speak TLS: it sends the plain welcome of chapter 02 at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(b"Welcome!").unwrap();
        let _ = stream.read(&mut [0u8; 1024]); // the client's hello, then its goodbye
    });
    let cert = localhost();
    let output = run("18_tls_client", &[&addr, "--ca", cert.cert_arg()]);
    // The client's output first: if it never connected, the server would wait in accept.
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        "error: TLS handshake with localhost failed: the server did not answer in TLS \
         (OpenSSL: wrong version number); is it a plain TCP or HTTP server? check the port\n"
    );
    server.join().unwrap();
}

#[test]
fn a_server_that_hangs_up_during_the_handshake_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let _ = stream.read(&mut [0u8; 4096]); // the client's hello, then hang up
    });
    let cert = localhost();
    let output = run("18_tls_client", &[&addr, "--ca", cert.cert_arg()]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        "error: TLS handshake with localhost failed: the server hung up during the handshake \
         (OpenSSL: unexpected EOF); check the server's log for why\n"
    );
    server.join().unwrap();
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_refused_before_connecting() {
    let cert = localhost();
    // Nothing listens on port 1; the client must stop before it tries to connect.
    let output = run("18_tls_client", &["127.0.0.1:1", "--ca", cert.key_arg()]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert!(
        output.stderr.starts_with(&format!(
            "error: {} is not a PEM certificate (BEGIN CERTIFICATE): ",
            cert.key.display()
        )),
        "{}",
        output.stderr
    );
}

#[test]
fn no_ca_prints_usage_and_status_2() {
    let output = run("18_tls_client", &["127.0.0.1:9999"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(
        output.stderr.starts_with("error: --ca CERT.pem is needed"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("usage: 18_tls_client [ADDR] [NAME...]")
    );
}

// Exercises of chapter 18 (the client). Each fails on the listing as shipped; solve the
// exercise, then run `cargo test --test 18_tls_client -- --ignored`.

/// Runs 18_tls_client with stderr sent into the same pipe as stdout, so the output shows in
/// which order the two were written.
fn run_merged(args: &[&str]) -> Output {
    run_command(
        Command::new("sh")
            .arg("-c")
            .arg("exec \"$0\" \"$@\" 2>&1")
            .arg(bin("18_tls_client"))
            .args(args),
    )
}

#[test]
#[ignore = "exercise: --insecure skips verification, with a loud warning"]
fn exercise_insecure_warns_loudly() {
    // Nothing about this certificate is right: self-signed, made out to another name, expired.
    let cert = expired_for(&["example.com"]);
    let stranger = localhost();

    // 1. --insecure alone (no --ca): the warning comes first, then the conversation.
    let (addr, server) = tls_server(&cert);
    let output = run_merged(&[&addr, "Ada", "--insecure"]);
    let (first, rest) = output
        .stdout
        .split_once('\n')
        .unwrap_or((&output.stdout, ""));
    assert!(
        output.code() == Some(0)
            && first.starts_with("WARNING: ")
            && first.contains("not verified"),
        "18_tls_client ADDR Ada --insecure: expected status 0 and a first line that starts with \
         \"WARNING: \" and says \"not verified\", got status {:?} and output {:?}",
        output.code(),
        output.stdout
    );
    expect_text(
        "18_tls_client ADDR Ada --insecure: the output after the warning",
        rest.as_bytes(),
        "Welcome!\nHello, Ada!\n",
    );
    expect_names(server, &["Ada", "exit"]);

    // 2. With a --ca that does not match either: the warning goes to stderr, alone.
    let (addr, server) = tls_server(&cert);
    let output = run(
        "18_tls_client",
        &[&addr, "Ada", "--ca", stranger.cert_arg(), "--insecure"],
    );
    assert!(
        output.code() == Some(0),
        "18_tls_client ADDR Ada --ca OTHER.pem --insecure: expected status 0, got {:?}; stderr: \
         {:?}",
        output.code(),
        output.stderr
    );
    expect_text(
        "18_tls_client ADDR Ada --ca OTHER.pem --insecure: stdout",
        output.stdout.as_bytes(),
        "Welcome!\nHello, Ada!\n",
    );
    assert!(
        output.stderr.starts_with("WARNING: ") && output.stderr.lines().count() == 1,
        "18_tls_client ADDR Ada --ca OTHER.pem --insecure: expected stderr to be one line that \
         starts with \"WARNING: \", got {:?}",
        output.stderr
    );
    expect_names(server, &["Ada", "exit"]);

    // 3. Without --insecure, the same server is refused as before.
    let (addr, server) = tls_server(&cert);
    let output = run(
        "18_tls_client",
        &[&addr, "Ada", "--ca", stranger.cert_arg()],
    );
    assert!(
        output.code() == Some(1) && output.stdout.is_empty(),
        "18_tls_client ADDR Ada --ca OTHER.pem, without --insecure: expected the server to be \
         refused (status 1, nothing on stdout), got status {:?}, stdout {:?}, stderr {:?}",
        output.code(),
        output.stdout,
        output.stderr
    );
    let _ = server.join();
}

/// Joins a test server and fails unless it received exactly `names`.
#[track_caller]
fn expect_names(server: JoinHandle<Seen>, names: &[&str]) {
    match server.join().unwrap() {
        Ok(seen) => assert!(
            seen == names,
            "the server should have received {names:?}, got {seen:?}"
        ),
        Err(e) => panic!("the server's side failed: {e}"),
    }
}

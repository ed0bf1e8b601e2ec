//! 18_tls_server: the hello server of chapter 02, spoken over TLS.
//!
//! It listens on ADDR like 02_tcp_server, but every connection first goes through a TLS
//! handshake, in which the server proves who it is with a certificate and both sides agree on
//! keys. After that the conversation is the same: `Welcome!`, `Hello, X!` for each message X,
//! and `exit` ends it, only now every byte on the wire is encrypted.
//!
//! Make a certificate, then run the server in one terminal and the TLS client in another:
//!
//! ```text
//! terminal 1$ scripts/make_cert.sh /tmp/wb-cert
//! terminal 1$ cargo run --bin 18_tls_server -- --cert /tmp/wb-cert/cert.pem --key /tmp/wb-cert/key.pem
//! terminal 2$ cargo run --bin 18_tls_client -- --ca /tmp/wb-cert/cert.pem
//! ```
//!
//! or both at once, labelled, with a fresh certificate: `scripts/demo.sh 18`. The server
//! prints `Listening on 127.0.0.1:9999` first, then one line when a client arrives, one when
//! its handshake is done, and one when it leaves. A client that fails the handshake (plain
//! TCP, garbage, a client that does not trust us) is logged and the server carries on.
//! Ctrl-C stops it.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use native_tls::{HandshakeError, Identity, TlsAcceptor};
use socket_workbook::hello::serve_hello;
use socket_workbook::logln;
use socket_workbook::server::{
    ClientLimit, Deadline, bind_error, connections, farewell, spawn_client,
};
use socket_workbook::{Args, report, stop_on_ctrl_c};

const USAGE: &str = "\
usage: 18_tls_server [ADDR] --cert CERT.pem --key KEY.pem
       18_tls_server [ADDR] --pkcs12 FILE.p12 [--password PW]

  ADDR                   IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --cert CERT.pem        the server's certificate (PEM)
  --key KEY.pem          its private key, unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY)
  --pkcs12 FILE.p12      certificate and key in one PKCS#12 file, instead of --cert and --key
  --password PW          the PKCS#12 file's password (default: empty)
  --handshake-timeout S  seconds a client may take for the whole TLS handshake (default 10)
  --idle-timeout S       after the handshake, a client that sends nothing for this long is
                         disconnected (default 300)
  --max-clients N        how many clients are served at once (default 1000); one more is
                         disconnected before the handshake

scripts/make_cert.sh makes all three files for localhost and 127.0.0.1.
The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let cert: Option<PathBuf> = args.option("--cert");
    let key: Option<PathBuf> = args.option("--key");
    let pkcs12: Option<PathBuf> = args.option("--pkcs12");
    let password: String = args.option("--password").unwrap_or_default();
    let handshake: f64 = args.option("--handshake-timeout").unwrap_or(10.0);
    let idle: f64 = args.option("--idle-timeout").unwrap_or(300.0);
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    let identity = match (cert, key, pkcs12) {
        (Some(cert), Some(key), None) => load_pem(&cert, &key)?,
        (None, None, Some(file)) => load_pkcs12(&file, &password)?,
        (None, None, None) => args.usage_error(
            "no certificate: give --cert FILE --key FILE, or --pkcs12 FILE \
             (scripts/make_cert.sh makes them)",
        ),
        _ => args.usage_error(
            "give --cert and --key together, or --pkcs12 alone (scripts/make_cert.sh makes them)",
        ),
    };
    for (name, seconds) in [("--handshake-timeout", handshake), ("--idle-timeout", idle)] {
        if !(0.001..=86400.0).contains(&seconds) {
            args.usage_error(format!("{name} must be from 0.001 to 86400 seconds"));
        }
    }
    if max_clients < 1 {
        args.usage_error("--max-clients must be at least 1");
    }
    args.finish();
    let limits = Limits {
        handshake: Duration::from_secs_f64(handshake),
        idle: Duration::from_secs_f64(idle),
    };

    // ANCHOR: acceptor
    // Python: ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
    // The acceptor holds our identity and TLS settings; it is cheap to clone (one shared
    // context inside), so every connection's thread gets its own handle.
    let acceptor = TlsAcceptor::new(identity)
        .map_err(|e| anyhow!("could not set up TLS with this certificate and key: {e}"))?;
    // ANCHOR_END: acceptor

    // ANCHOR: listen
    // The listening socket is plain TCP, exactly as in chapter 02: TLS starts per connection.
    let listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // ANCHOR_END: listen
    // Ctrl-C sets `stop`, then connects to us once so the blocked `accept` returns. Installed
    // before the first line, so that whoever reads that line may press Ctrl-C at once.
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");

    // ANCHOR: accept_loop
    // The accept loop of chapter 02, from the helper (src/server.rs).
    let clients = ClientLimit::new(max_clients);
    for (stream, peer) in connections(&listener, &stop) {
        // Beyond --max-clients, hang up before the handshake: a TLS client could not read a
        // plain-text "busy" anyway, and a handshake costs CPU.
        let Some(place) = clients.try_enter() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            continue;
        };
        // The handshake runs in the connection's own thread, never here: a client that is slow
        // or never finishes its handshake must not stop us from accepting the next one.
        let acceptor = acceptor.clone();
        spawn_client(peer, move || {
            logln!("Accept new connection from {peer}...");
            let result = serve(&acceptor, stream, limits, peer);
            drop(place); // given back before the goodbye line, as in chapter 02
            logln!("Connection from {peer} {}", farewell(&result, limits.idle));
        });
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

/// How long a client may take for the handshake, and then between two messages.
#[derive(Clone, Copy)]
struct Limits {
    handshake: Duration,
    idle: Duration,
}

// ANCHOR: identity
/// Reads a certificate and its private key from two PEM files.
fn load_pem(cert: &Path, key: &Path) -> anyhow::Result<Identity> {
    let cert_pem = fs::read(cert)
        .map_err(|e| anyhow!("could not read the certificate {}: {e}", cert.display()))?;
    let key_pem =
        fs::read(key).map_err(|e| anyhow!("could not read the key {}: {e}", key.display()))?;
    // native-tls wants the key as PKCS#8 (`BEGIN PRIVATE KEY`); older tools write PKCS#1
    // (`BEGIN RSA PRIVATE KEY`), which `openssl pkcs8 -topk8 -nocrypt` converts.
    Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|e| {
        anyhow!(
            "could not load {} with {}: {e}; the certificate must be a PEM (BEGIN CERTIFICATE) \
             and the key an unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY: `openssl pkcs8 -topk8 \
             -nocrypt` converts one)",
            cert.display(),
            key.display()
        )
    })
}

/// Reads a certificate and its private key from one PKCS#12 file.
fn load_pkcs12(file: &Path, password: &str) -> anyhow::Result<Identity> {
    let der = fs::read(file).map_err(|e| anyhow!("could not read {}: {e}", file.display()))?;
    Identity::from_pkcs12(&der, password).map_err(|e| {
        anyhow!(
            "could not load the PKCS#12 file {}: {e}; is the --password right?",
            file.display()
        )
    })
}
// ANCHOR_END: identity

// ANCHOR: serve
/// One client: the TLS handshake, then the hello conversation, then TLS's own goodbye.
fn serve(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    limits: Limits,
    peer: SocketAddr,
) -> anyhow::Result<()> {
    // The whole handshake must be done by one deadline. A plain read timeout would start again
    // with every byte, so a client that sent one byte every 2 s could keep this thread for
    // ever; `Deadline` (src/server.rs) sets each read's timeout to the time that is left.
    let stream = Deadline {
        stream,
        until: Some(Instant::now() + limits.handshake),
    };
    // Python: sock = ctx.wrap_socket(sock, server_side=True)
    let mut tls = match acceptor.accept(stream) {
        Ok(tls) => tls,
        // OpenSSL drops a key that does not belong to the certificate without a word; every
        // handshake then fails like this.
        Err(HandshakeError::Failure(e)) if e.to_string().contains("no shared cipher") => {
            bail!("TLS handshake failed: {e}; does --key belong to --cert?")
        }
        Err(HandshakeError::Failure(e)) => bail!("TLS handshake failed: {e}"),
        // When the deadline passes, a read "would block".
        Err(HandshakeError::WouldBlock(_)) => bail!(
            "TLS handshake failed: no handshake within {} s",
            limits.handshake.as_secs_f64()
        ),
    };
    logln!("TLS handshake with {peer} done.");
    // From now on, the idle timeout of chapter 02: the deadline goes, per-read timeouts come.
    tls.get_mut().until = None;
    let tcp = &tls.get_ref().stream;
    tcp.set_read_timeout(Some(limits.idle))
        .and(tcp.set_write_timeout(Some(limits.idle)))
        .context("could not set the idle timeout")?;
    // The conversation of chapter 02, from src/hello.rs, unchanged: it takes any stream that
    // can be read and written, and reads and writes on a `TlsStream` decrypt and encrypt.
    serve_hello(&mut tls, None)?;
    // TLS has its own goodbye, close_notify: it tells the client that the end is real and
    // not an attacker cutting the connection short. The client may be gone already, so an
    // error here changes nothing.
    let _ = tls.shutdown();
    Ok(())
}
// ANCHOR_END: serve

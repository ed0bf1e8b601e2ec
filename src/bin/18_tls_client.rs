//! 18_tls_client: the hello client of chapter 01, spoken over TLS.
//!
//! It connects to 18_tls_server, checks the server's certificate against the CA file you give
//! (and the system's roots), then has the same conversation as 01_tcp_client: prints the
//! welcome, sends each name and prints each reply, sends `exit`, and says goodbye the TLS way.
//!
//! Make a certificate, start the server, then the client, in two terminals:
//!
//! ```text
//! terminal 1$ scripts/make_cert.sh /tmp/wb-cert
//! terminal 1$ cargo run --bin 18_tls_server -- --cert /tmp/wb-cert/cert.pem --key /tmp/wb-cert/key.pem
//! terminal 2$ cargo run --bin 18_tls_client -- --ca /tmp/wb-cert/cert.pem
//! Welcome!
//! Hello, Michael!
//! Hello, Tracy!
//! Hello, Sarah!
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 18`. `--host` sets the name the certificate
//! must carry; try `--host example.com` to see the client refuse the server. As in chapter
//! 01, it gives up connecting after 5 seconds (`--connect-timeout`).

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use socket_workbook::hello::receive_hello;
use socket_workbook::output::printable;
use socket_workbook::{Args, report, tls};

const USAGE: &str = "\
usage: 18_tls_client [ADDR] [NAME...] --ca CERT.pem [--host NAME]
                     [--connect-timeout SECONDS]

  ADDR         IP:PORT of the server (default 127.0.0.1:9999)
  NAME         names to send (default: Michael Tracy Sarah)
  --ca FILE    a certificate to trust besides the system's roots: the server's own
               certificate if it is self-signed (scripts/make_cert.sh makes one)
  --host NAME  the name the server's certificate must carry (default localhost)
  --connect-timeout SECONDS
               give up when the server has not taken the connection within this time
               (default 5)

Start 18_tls_server first.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let ca: Option<PathBuf> = args.option("--ca");
    let host: String = args.option("--host").unwrap_or_else(|| "localhost".into());
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    let mut names = args.rest();
    let Some(ca) = ca else {
        args.usage_error("--ca CERT.pem is needed: the certificate that 18_tls_server uses")
    };
    args.finish();
    if names.is_empty() {
        names = vec!["Michael".into(), "Tracy".into(), "Sarah".into()];
    }

    // ANCHOR: connect
    // Whom we trust: the system's root certificates, plus the one in the --ca file.
    let connector = tls::connector(Some(&ca))?;
    // A plain TCP connection first, exactly as in chapter 01.
    let tcp = TcpStream::connect_timeout(&addr, connect_timeout).map_err(|e| {
        if e.kind() == ErrorKind::TimedOut {
            let seconds = connect_timeout.as_secs_f64();
            anyhow!(
                "could not connect to {addr} within {seconds} s (--connect-timeout); nobody \
                 answered: is the server too busy to accept, or a firewall in the way?"
            )
        } else {
            anyhow!("could not connect to {addr}: {e}; is 18_tls_server running there?")
        }
    })?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| anyhow!("could not set a read timeout: {e}"))?;
    // Then the handshake, which checks the server and turns the connection into TLS.
    let mut stream = tls::handshake(&connector, &host, tcp)?;
    // ANCHOR_END: connect

    // ANCHOR: exchange
    // From here on, the conversation of chapter 01, word for word; `receive_hello`
    // (src/hello.rs) is one read of up to 1024 bytes, now decrypted on the way. Encrypted
    // is not harmless: the server may still send control characters, so they are escaped.
    println!("{}", printable(&receive_hello(&mut stream)?));
    for name in &names {
        stream
            .write_all(name.as_bytes())
            .map_err(|e| anyhow!("could not send {name:?} to {addr}: {e}"))?;
        println!("{}", printable(&receive_hello(&mut stream)?));
    }
    stream
        .write_all(b"exit")
        .map_err(|e| anyhow!("could not send \"exit\" to {addr}: {e}"))?;
    // TLS's own goodbye (close_notify): an authenticated end, which a cut line cannot fake.
    stream
        .shutdown()
        .map_err(|e| anyhow!("could not close the TLS session with {addr}: {e}"))?;
    // ANCHOR_END: exchange
    Ok(())
}

//! 01_tcp_client: the TCP client of the notes.
//!
//! It connects to the hello server of chapter 02, prints the server's welcome, sends each name
//! and prints each reply, then sends `exit` and closes the connection.
//!
//! Start the server first, then the client, in two terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 02_tcp_server
//! terminal 2$ cargo run --bin 01_tcp_client
//! Welcome!
//! Hello, Michael!
//! Hello, Tracy!
//! Hello, Sarah!
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 01`. Other names go after the address:
//! `cargo run --bin 01_tcp_client -- 127.0.0.1:9999 Ada Linus`. It gives up connecting after
//! 5 seconds (`--connect-timeout`), and waiting for a reply after 5 seconds.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use socket_workbook::hello::receive_hello;
use socket_workbook::output::printable;
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 01_tcp_client [ADDR] [NAME...] [--connect-timeout SECONDS]

  ADDR    IP:PORT of the server (default 127.0.0.1:9999)
  NAME    names to send (default: Michael Tracy Sarah)
  --connect-timeout SECONDS
          give up when the server has not taken the connection within this time
          (default 5)

Start 02_tcp_server first.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    let mut names = args.rest();
    args.finish();
    if names.is_empty() {
        names = vec!["Michael".into(), "Tracy".into(), "Sarah".into()];
    }

    // ANCHOR: connect
    // Python: s = socket.socket(AF_INET, SOCK_STREAM); s.settimeout(5)
    //         s.connect(('127.0.0.1', 9999))
    // Rust creates the socket and connects it in one call. `connect_timeout` gives up after
    // the time given; plain `connect` would leave it to the system, about two minutes.
    let mut stream = TcpStream::connect_timeout(&addr, connect_timeout).map_err(|e| {
        if e.kind() == ErrorKind::TimedOut {
            let seconds = connect_timeout.as_secs_f64();
            anyhow!(
                "could not connect to {addr} within {seconds} s (--connect-timeout); nobody \
                 answered: is the server too busy to accept, or a firewall in the way?"
            )
        } else {
            anyhow!("could not connect to {addr}: {e}; is 02_tcp_server running there?")
        }
    })?;
    // Without a timeout, a server that never answers would make us wait forever.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| anyhow!("could not set a read timeout: {e}"))?;
    // ANCHOR_END: connect

    // ANCHOR: exchange
    // Python: print(s.recv(1024).decode('utf-8')). `receive_hello` (src/hello.rs) is one
    // read of up to 1024 bytes, as in the notes. `printable` (src/output.rs) turns the bytes
    // into text with control characters escaped: the server must not steer our terminal.
    println!("{}", printable(&receive_hello(&mut stream)?));
    for name in &names {
        // Python: s.send(data). `write_all` keeps writing until every byte is sent.
        stream
            .write_all(name.as_bytes())
            .map_err(|e| anyhow!("could not send {name:?} to {addr}: {e}"))?;
        // Wait for the reply before sending the next name: see chapter 02 for why.
        println!("{}", printable(&receive_hello(&mut stream)?));
    }
    // Python: s.send(b'exit'); s.close()
    stream
        .write_all(b"exit")
        .map_err(|e| anyhow!("could not send \"exit\" to {addr}: {e}"))?;
    drop(stream); // closing is dropping: the socket is closed when `stream` goes away
    // ANCHOR_END: exchange
    Ok(())
}

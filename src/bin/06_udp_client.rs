//! 06_udp_client: the UDP client of the notes.
//!
//! It sends each name as one datagram to the server of chapter 05 and prints the reply. UDP
//! promises nothing: a datagram or its reply may be lost, so the client waits for each reply
//! only a short time (`--timeout`, one second by default), reports a reply that did not come,
//! and goes on. Its exit status is the number of replies lost (0 when all came, at most 255).
//!
//! Start the server first, then the client, in two terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 05_udp_server
//! terminal 2$ cargo run --bin 06_udp_client
//! Hello, Michael!
//! Hello, Tracy!
//! Hello, Sarah!
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 06`. Without a server, each name ends in
//! `no reply for "Michael" within 1s: UDP does not promise delivery`.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use socket_workbook::output::printable;
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 06_udp_client [ADDR] [NAME...] [--timeout MS]

  ADDR          IP:PORT of the server (default 127.0.0.1:9999)
  NAME          names to send (default: Michael Tracy Sarah)
  --timeout MS  how long to wait for each reply, in milliseconds (default 1000)

The exit status is the number of replies that did not come (0: all came; at most 255).
An error or a bad argument exits 1 or 2 too, and prints a line that starts with `error:`.
Start 05_udp_server first.
";

// ANCHOR: main
fn main() -> ExitCode {
    match run() {
        Ok(0) => ExitCode::SUCCESS,
        // An exit status is one byte. 256 losses must not wrap round to 0, "all came".
        Ok(lost) => ExitCode::from(u8::try_from(lost).unwrap_or(u8::MAX)),
        Err(e) => report(Err(e)),
    }
}
// ANCHOR_END: main

/// Sends every name and returns how many replies were lost.
fn run() -> anyhow::Result<usize> {
    let mut args = Args::from_env(USAGE);
    let timeout_ms: u64 = args.option("--timeout").unwrap_or(1000);
    if timeout_ms == 0 {
        args.usage_error("--timeout must be at least 1: 0 would mean wait forever");
    }
    let timeout = Duration::from_millis(timeout_ms);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    let mut names = args.rest();
    args.finish();
    if names.is_empty() {
        names = vec!["Michael".into(), "Tracy".into(), "Sarah".into()];
    }

    // ANCHOR: socket
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM). Python binds the socket to a free port
    // on the first sendto; Rust asks us to bind it ourselves. Port 0 means "any free port".
    let any: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any).with_context(|| format!("could not bind {any}"))?;
    // ANCHOR_END: socket

    // ANCHOR: exchange
    let mut lost = 0;
    for name in &names {
        // Python: s.sendto(data, ('127.0.0.1', 9999)). No connection: every datagram carries
        // its destination. Success only means it left us, not that anyone received it.
        socket
            .send_to(name.as_bytes(), addr)
            .map_err(|e| anyhow!("could not send {name:?} to {addr}: {e}"))?;
        match receive_reply(&socket, addr, timeout)? {
            // Anything may come back: control characters are shown escaped (chapter 01).
            Some(reply) => println!("{}", printable(reply.as_bytes())),
            None => {
                println!("no reply for {name:?} within {timeout:?}: UDP does not promise delivery");
                lost += 1;
            }
        }
    }
    if lost > 0 {
        eprintln!("{lost} of {} replies lost", names.len());
    }
    Ok(lost)
    // ANCHOR_END: exchange
}

// ANCHOR: receive
/// Waits up to `timeout` for a datagram from `server`. Datagrams from anyone else are
/// reported and ignored. `None` means no reply came in time.
fn receive_reply(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
) -> anyhow::Result<Option<String>> {
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // Python: s.settimeout(1.0); data, addr = s.recvfrom(65536)
        socket
            .set_read_timeout(Some(left))
            .context("could not set a read timeout")?;
        match socket.recv_from(&mut buffer) {
            Ok((n, from)) if from == server => {
                return Ok(Some(String::from_utf8_lossy(&buffer[..n]).into_owned()));
            }
            // Anyone can send a datagram to our port; only the server's counts as a reply.
            Ok((_, from)) => println!("ignored a datagram from {from}: not the server"),
            // On Linux an expired read timeout shows up as WouldBlock, elsewhere as TimedOut.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(None);
            }
            // Ctrl-Z then `fg` (a stop and a continue) cuts a wait with a timeout short: wait
            // again, for the time that is left.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow!("could not receive from {server}: {e}")),
        }
    }
}
// ANCHOR_END: receive

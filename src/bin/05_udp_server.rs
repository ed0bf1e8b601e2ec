//! 05_udp_server: the UDP "hello" server of the notes.
//!
//! It binds ADDR and answers every datagram X that arrives from address A with the datagram
//! `Hello, X!`, sent back to A. There is no connection and no thread per client: one socket,
//! one loop, one `recv_from` and one `send_to` per message.
//!
//! Run it in one terminal, and the client of chapter 06 in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 05_udp_server
//! terminal 2$ cargo run --bin 06_udp_client
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 05`. The server prints
//! `Bound UDP on 127.0.0.1:9999` first, then `Received from 127.0.0.1:PORT` for every
//! datagram. Ctrl-C stops it.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;
use socket_workbook::server::bind_error;
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};

const USAGE: &str = "\
usage: 05_udp_server [ADDR]

  ADDR    IP:PORT to bind (default 127.0.0.1:9999; port 0 picks a free port)

The first line printed is the address really bound: `Bound UDP on IP:PORT`.
Stop the server with Ctrl-C.
";

/// The largest datagram UDP can carry is a little under 64 KiB, so a 64 KiB buffer never cuts
/// one short. The notes use 1024: a longer datagram would lose its end without any error.
const BUFFER_SIZE: usize = 64 * 1024;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();

    // ANCHOR: bind
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM); s.bind(addr)
    // No listen, no accept: a bound UDP socket can receive from anyone at once.
    let socket = UdpSocket::bind(addr).map_err(|e| bind_error(addr, e))?;
    let local = socket
        .local_addr()
        .context("could not read the bound address")?;
    // ANCHOR_END: bind

    // ANCHOR: ctrl_c
    // Ctrl-C sets `stop`, then sends us one empty datagram, so the blocked `recv_from` returns.
    // A server bound to 0.0.0.0 (every address) is reached through the loopback address.
    let wake_to = match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, a.port()).into(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => (Ipv6Addr::LOCALHOST, a.port()).into(),
        other => other,
    };
    let stop = stop_on_ctrl_c(move || {
        let any_port = SocketAddr::new(wake_to.ip(), 0);
        if let Ok(waker) = UdpSocket::bind(any_port) {
            let _ = waker.send_to(b"", wake_to);
        }
    })?;
    // Only now say where we are: whoever reads this line may press Ctrl-C at once.
    logln!("Bound UDP on {local}");
    // ANCHOR_END: ctrl_c

    // ANCHOR: serve
    let mut buffer = vec![0u8; BUFFER_SIZE];
    loop {
        // Python: data, addr = s.recvfrom(1024). One call returns one whole datagram and the
        // address of whoever sent it.
        let (n, peer) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            // A signal (Ctrl-C) may interrupt the wait; the wake-up datagram follows.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                logln!("receive failed: {e}");
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        logln!("Received from {peer}");
        // Bytes that are not UTF-8 become U+FFFD instead of stopping the server.
        let message = String::from_utf8_lossy(&buffer[..n]);
        let reply = format!("Hello, {message}!");
        // Python: s.sendto(b'Hello, %s!' % data, addr). The reply goes to the address the
        // datagram came from; nothing else tells us who the client is.
        if let Err(e) = socket.send_to(reply.as_bytes(), peer) {
            logln!("could not answer {peer}: {e}");
        }
    }
    // ANCHOR_END: serve

    logln!("Ctrl-C received: stopped receiving. Bye.");
    Ok(())
}

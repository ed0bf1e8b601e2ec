//! 08_broadcast_recv: receives broadcast datagrams, side by side with other receivers.
//!
//! It binds `127.255.255.255:PORT`, the broadcast address of the loopback network, so it gets
//! the broadcasts sent on this machine and nothing from any other (bind `0.0.0.0:PORT` to hear
//! a whole network). The socket option SO_REUSEADDR, set before `bind`, lets several receivers
//! share one port on one machine. It prints every datagram it receives with its sender,
//! control characters escaped.
//!
//! Start two receivers, then the sender of chapter 07, in three terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 08_broadcast_recv
//! terminal 2$ cargo run --bin 08_broadcast_recv
//! terminal 3$ cargo run --bin 07_broadcast_send
//! ```
//!
//! or all at once, labelled: `scripts/demo.sh 07`. Each receiver prints
//! `Bound UDP on 127.255.255.255:9999` first, then
//! `Received from 127.0.0.1:PORT: Hello, everyone!`.
//! Ctrl-C stops it; `--count N` makes it stop by itself after N datagrams.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::output::printable;
use socket_workbook::server::bind_error;
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 08_broadcast_recv [ADDR] [--count N]

  ADDR       IP:PORT to bind (default 127.255.255.255:9999: broadcasts sent on this machine
             only; 0.0.0.0:9999 hears every network; port 0 picks a free port)
  --count N  stop after receiving N datagrams, N >= 1 (default: run until Ctrl-C)

The first line printed is the address really bound: `Bound UDP on IP:PORT`.
Several receivers may bind the same port. Stop a receiver with Ctrl-C.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let count: Option<u64> = args.option("--count");
    if count == Some(0) {
        args.usage_error("--count 0: a receiver stops after at least one datagram");
    }
    let addr: SocketAddr = args.next_or("ADDR", "127.255.255.255:9999");
    args.finish();

    // ANCHOR: bind
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM)
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)
        .context("could not create a UDP socket")?;
    // Python: s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1). It must come before bind: bind is
    // where the system checks whether the port is free. With it set on every receiver, they
    // can all bind the same port, and each one gets its own copy of every broadcast.
    socket
        .set_reuse_address(true)
        .context("could not set SO_REUSEADDR")?;
    // Python: s.bind(('127.255.255.255', 9999)). Bound to a broadcast address, a socket gets
    // the broadcasts sent to it and nothing else. `0.0.0.0` would add every datagram to that
    // port from any network; `127.0.0.1` would get no broadcast at all.
    socket.bind(&addr.into()).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => anyhow!(
            "could not bind {addr}: {e}; does a program without SO_REUSEADDR hold this port?"
        ),
        _ => bind_error(addr, e),
    })?;
    let socket: UdpSocket = socket.into();
    let local = socket
        .local_addr()
        .context("could not read the bound address")?;
    // ANCHOR_END: bind

    // ANCHOR: ctrl_c
    // Ctrl-C only sets `stop`. Chapter 05 wakes its blocked `recv_from` with a datagram to
    // itself; here that fails: when several receivers share the port, an ordinary datagram
    // goes to one of them only (on Linux, the one bound last), maybe not us. So `recv_from`
    // gives up every 100 ms, and the loop looks at the flag.
    let stop = stop_on_ctrl_c(|| {})?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .context("could not set a read timeout")?;
    // Only now say where we are: whoever reads this line may press Ctrl-C at once.
    logln!("Bound UDP on {local}");
    // ANCHOR_END: ctrl_c

    // ANCHOR: receive
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received = 0;
    while !stop.load(Ordering::SeqCst) {
        // Python: data, addr = s.recvfrom(65536)
        let (n, sender) = match socket.recv_from(&mut buffer) {
            Ok(datagram) => datagram,
            // The 100 ms are up and nothing came, or Ctrl-C interrupted the wait: look at the
            // flag again.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                logln!("receive failed: {e}");
                continue;
            }
        };
        // Anyone may send us anything: control characters are shown escaped (chapter 01).
        let message = printable(&buffer[..n]);
        logln!("Received from {sender}: {message}");
        received += 1;
        if count == Some(received) {
            logln!("--count {received} reached: stopped receiving. Bye.");
            return Ok(());
        }
    }
    // ANCHOR_END: receive

    logln!("Ctrl-C received: stopped receiving. Bye.");
    Ok(())
}

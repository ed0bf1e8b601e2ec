//! 07_broadcast_send: one sender, many receivers.
//!
//! It sends MESSAGE as a UDP datagram to a broadcast address, so that every socket bound to
//! that port on the network (here: on this machine) receives a copy. Before it may do that, it
//! must switch on the socket option SO_BROADCAST, as the notes do with
//! `s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1)`.
//!
//! Start one or more receivers (chapter 08), then the sender, in separate terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 08_broadcast_recv
//! terminal 2$ cargo run --bin 08_broadcast_recv
//! terminal 3$ cargo run --bin 07_broadcast_send -- 127.255.255.255:9999 "Hi all" --count 3
//! Sent "Hi all (1/3)" to 127.255.255.255:9999
//! Sent "Hi all (2/3)" to 127.255.255.255:9999
//! Sent "Hi all (3/3)" to 127.255.255.255:9999
//! ```
//!
//! Both receivers print all three messages. All at once, labelled: `scripts/demo.sh 07`.
//! To keep the workbook's traffic on this machine, the sender only sends to 127.x.x.x
//! addresses; the chapter explains how broadcast works on a real network.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 07_broadcast_send [ADDR] [MESSAGE] [--count N] [--interval MS] [--no-so-broadcast]

  ADDR               broadcast IP:PORT (default 127.255.255.255:9999); only 127.x.x.x is
                     accepted, so that nothing leaves this machine
  MESSAGE            the text to send (default: Hello, everyone!)
  --count N          send N datagrams, numbered (1/N), (2/N), ... (default 1, at most 100)
  --interval MS      pause between two datagrams, in milliseconds (default 1000, at most 10000)
  --no-so-broadcast  do not set SO_BROADCAST, to see the error the system gives without it

Start one or more 08_broadcast_recv first.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let no_so_broadcast = args.flag("--no-so-broadcast");
    let count: u32 = args.option("--count").unwrap_or(1);
    let interval_ms: u64 = args.option("--interval").unwrap_or(1000);
    let addr: SocketAddr = args.next_or("ADDR", "127.255.255.255:9999");
    let message: String = args.next_or("MESSAGE", "Hello, everyone!");
    if !(1..=100).contains(&count) {
        args.usage_error(format!("--count {count}: send between 1 and 100 datagrams"));
    }
    if interval_ms > 10_000 {
        args.usage_error(format!("--interval {interval_ms}: at most 10000 ms"));
    }
    args.finish();

    // ANCHOR: loopback_only
    // The workbook's rule: traffic stays on this machine. 127.255.255.255 is the broadcast
    // address of the loopback network 127.0.0.0/8. On a real network you would send to the
    // network's own broadcast address (see the chapter), and would remove this check.
    if !matches!(addr, SocketAddr::V4(a) if a.ip().is_loopback()) {
        bail!("refusing to send to {addr}: this workbook only broadcasts on loopback (127.x.x.x)");
    }
    // ANCHOR_END: loopback_only

    // ANCHOR: socket
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM)
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .context("could not bind a UDP socket to 0.0.0.0:0")?;
    // Python: s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1). Without it the system refuses to
    // send to a broadcast address: one datagram to everyone must be asked for on purpose.
    if !no_so_broadcast {
        socket
            .set_broadcast(true)
            .context("could not set SO_BROADCAST")?;
    }
    // ANCHOR_END: socket

    // ANCHOR: send
    for i in 1..=count {
        let text = if count == 1 {
            message.clone()
        } else {
            format!("{message} ({i}/{count})")
        };
        // Python: s.sendto(data, ('127.255.255.255', 9999)). The same call as for one
        // receiver: the address alone makes it a broadcast.
        socket
            .send_to(text.as_bytes(), addr)
            .map_err(|e| match e.kind() {
                ErrorKind::PermissionDenied => {
                    anyhow!("could not send to {addr}: {e}; a broadcast needs SO_BROADCAST set")
                }
                _ => anyhow!("could not send to {addr}: {e}"),
            })?;
        println!("Sent {text:?} to {addr}");
        if i < count {
            thread::sleep(Duration::from_millis(interval_ms));
        }
    }
    // ANCHOR_END: send
    Ok(())
}

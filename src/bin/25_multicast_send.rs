//! 25_multicast_send: sends datagrams to a multicast group.
//!
//! A multicast group is an address in 224.0.0.0/4 that receivers join; one datagram sent to
//! it reaches every member, and nobody else. This sender picks the interface it sends on
//! (`IP_MULTICAST_IF`, here loopback, 127.0.0.1), how far the datagrams may travel
//! (`IP_MULTICAST_TTL`) and whether this machine's own members get a copy
//! (`IP_MULTICAST_LOOP`), then sends MESSAGE to GROUP:PORT.
//!
//! Start one or more receivers (chapter 26), then the sender, in separate terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 26_multicast_recv
//! terminal 2$ cargo run --bin 26_multicast_recv
//! terminal 3$ cargo run --bin 25_multicast_send -- 239.1.2.3:9999 "Hi group" --count 3
//! Sending on interface 127.0.0.1, IP_MULTICAST_TTL 1, IP_MULTICAST_LOOP on
//! Sent "Hi group (1/3)" to 239.1.2.3:9999
//! Sent "Hi group (2/3)" to 239.1.2.3:9999
//! Sent "Hi group (3/3)" to 239.1.2.3:9999
//! ```
//!
//! Both receivers print all three messages. All at once, labelled: `scripts/demo.sh 25`.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::{Args, report};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 25_multicast_send [GROUP:PORT] [MESSAGE] [--count N] [--interval MS] [--ttl N] [--no-loop]

  GROUP:PORT     the group to send to (default 239.1.2.3:9999); only 239.0.0.0/8, the
                 groups kept for use inside one organisation, is accepted
  MESSAGE        the text to send (default: Hello, group!)
  --count N      send N datagrams, numbered (1/N), (2/N), ... (default 1, at most 100)
  --interval MS  pause between two datagrams, in milliseconds (default 1000, at most 10000)
  --ttl N        IP_MULTICAST_TTL, 0 to 255: how many routers the datagram may cross
                 (default 1: this network only; 0: this machine only)
  --no-loop      IP_MULTICAST_LOOP off: members on this machine get no copy

The datagrams go out on the loopback interface (127.0.0.1): start 26_multicast_recv first.
";

/// The interface the datagrams leave by: loopback, so that nothing leaves this machine.
const INTERFACE: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let count: u32 = args.option("--count").unwrap_or(1);
    let interval_ms: u64 = args.option("--interval").unwrap_or(1000);
    let ttl: u32 = args.option("--ttl").unwrap_or(1);
    let no_loop = args.flag("--no-loop");
    let addr: SocketAddrV4 = args.next_or("GROUP:PORT", "239.1.2.3:9999");
    let message: String = args.next_or("MESSAGE", "Hello, group!");
    if !(1..=100).contains(&count) {
        args.usage_error(format!("--count {count}: send between 1 and 100 datagrams"));
    }
    if interval_ms > 10_000 {
        args.usage_error(format!("--interval {interval_ms}: at most 10000 ms"));
    }
    if ttl > 255 {
        args.usage_error(format!("--ttl {ttl}: a TTL is 0 to 255"));
    }
    // ANCHOR: group_check
    // 224.0.0.0/4 is multicast; within it, 239.0.0.0/8 is for groups inside one organisation
    // (RFC 2365), which routers at its edge do not pass on: the place for experiments.
    if addr.ip().octets()[0] != 239 {
        args.usage_error(format!("{addr}: the group must be in 239.0.0.0/8"));
    }
    // ANCHOR_END: group_check
    args.finish();

    // ANCHOR: socket
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM). socket2, because the standard library
    // has no call for IP_MULTICAST_IF.
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, None).context("could not create a UDP socket")?;
    // Python: s.setsockopt(IPPROTO_IP, IP_MULTICAST_IF, inet_aton('127.0.0.1')). A group
    // address says nothing about where its members are, so the system needs to be told
    // which interface to send on. Without it, it uses the default route's, a real network.
    socket
        .set_multicast_if_v4(&INTERFACE)
        .with_context(|| format!("could not set IP_MULTICAST_IF to {INTERFACE}"))?;
    // Python: s.setsockopt(IPPROTO_IP, IP_MULTICAST_TTL, 1). Each router on the way takes
    // one off; at 0 the datagram is dropped. 1 (the default) keeps it on this network.
    socket
        .set_multicast_ttl_v4(ttl)
        .with_context(|| format!("could not set IP_MULTICAST_TTL to {ttl}"))?;
    // Python: s.setsockopt(IPPROTO_IP, IP_MULTICAST_LOOP, 0). On (the default), members of
    // the group on this machine get a copy too.
    socket
        .set_multicast_loop_v4(!no_loop)
        .context("could not set IP_MULTICAST_LOOP")?;
    // Read back what the system now holds, rather than printing what we asked for.
    let loop_on = socket
        .multicast_loop_v4()
        .context("could not read IP_MULTICAST_LOOP")?;
    let ttl_now = socket
        .multicast_ttl_v4()
        .context("could not read IP_MULTICAST_TTL")?;
    let loop_word = if loop_on { "on" } else { "off" };
    println!(
        "Sending on interface {INTERFACE}, IP_MULTICAST_TTL {ttl_now}, IP_MULTICAST_LOOP {loop_word}"
    );
    let socket: UdpSocket = socket.into();
    // ANCHOR_END: socket

    // ANCHOR: send
    for i in 1..=count {
        let text = if count == 1 {
            message.clone()
        } else {
            format!("{message} ({i}/{count})")
        };
        // Python: s.sendto(data, ('239.1.2.3', 9999)). Unlike a broadcast (chapter 07), no
        // SO_BROADCAST: sending to a group needs no permission, joining it is the choice.
        socket
            .send_to(text.as_bytes(), addr)
            .map_err(|e| anyhow!("could not send to {addr}: {e}"))?;
        println!("Sent {text:?} to {addr}");
        if i < count {
            thread::sleep(Duration::from_millis(interval_ms));
        }
    }
    // ANCHOR_END: send
    Ok(())
}

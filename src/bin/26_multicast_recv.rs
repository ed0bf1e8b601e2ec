//! 26_multicast_recv: joins a multicast group and prints what is sent to it.
//!
//! It binds `GROUP:PORT` with SO_REUSEADDR (so several receivers can share the port), joins
//! the group on the loopback interface (the notes' `IP_ADD_MEMBERSHIP`), and prints every
//! datagram sent to the group, with its sender, control characters escaped. On Ctrl-C, or
//! after `--count N` datagrams, it leaves the group (`IP_DROP_MEMBERSHIP`) and exits.
//!
//! Start two receivers, then the sender of chapter 25, in three terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 26_multicast_recv
//! terminal 2$ cargo run --bin 26_multicast_recv
//! terminal 3$ cargo run --bin 25_multicast_send -- 239.1.2.3:9999 "Hi group" --count 3
//! ```
//!
//! or all at once, labelled: `scripts/demo.sh 25`. Each receiver prints
//! `Bound UDP on 239.1.2.3:9999` and `Joined group 239.1.2.3 on interface 127.0.0.1`, then
//! `Received from 127.0.0.1:PORT: Hi group (1/3)` and the rest.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::output::printable;
use socket_workbook::server::bind_error;
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 26_multicast_recv [GROUP:PORT] [--count N] [--bind-any]

  GROUP:PORT  the group to join and the port to bind (default 239.1.2.3:9999); only groups
              in 239.0.0.0/8 are accepted; port 0 picks a free port
  --count N   stop after receiving N datagrams, N >= 1 (default: run until Ctrl-C)
  --bind-any  bind 0.0.0.0:PORT instead of GROUP:PORT: then ordinary datagrams sent to
              any address of this machine on PORT arrive too

The first line printed is the address really bound: `Bound UDP on IP:PORT`.
Several receivers may share the port. Stop a receiver with Ctrl-C.
";

/// The interface the group is joined on: loopback, so that nothing leaves this machine.
const INTERFACE: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let count: Option<u64> = args.option("--count");
    if count == Some(0) {
        args.usage_error("--count 0: a receiver stops after at least one datagram");
    }
    let bind_any = args.flag("--bind-any");
    let addr: SocketAddrV4 = args.next_or("GROUP:PORT", "239.1.2.3:9999");
    // 239.0.0.0/8 is kept for groups inside one organisation (RFC 2365), the right place
    // for experiments; is_multicast() alone would also take 224.0.0.1, "every host here".
    if addr.ip().octets()[0] != 239 {
        args.usage_error(format!("{addr}: the group must be in 239.0.0.0/8"));
    }
    args.finish();
    let group = *addr.ip();

    // ANCHOR: bind
    // Python: s = socket.socket(AF_INET, SOCK_DGRAM)
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, None).context("could not create a UDP socket")?;
    // Python: s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1), before bind, as in chapter 08:
    // every receiver of the group on this machine binds the same port.
    socket
        .set_reuse_address(true)
        .context("could not set SO_REUSEADDR")?;
    // Linux only (Python: s.setsockopt(IPPROTO_IP, IP_MULTICAST_ALL, 0)). By default a
    // socket gets the datagrams of every group that ANY socket on this machine has joined,
    // if its address and port fit. Off, it gets only the groups it joined itself, so that
    // leaving the group below really silences it.
    socket
        .set_multicast_all_v4(false)
        .context("could not switch off IP_MULTICAST_ALL")?;
    // Python: s.bind(('239.1.2.3', 9999)). Bound to the group's address, the socket takes
    // only datagrams sent to the group; 0.0.0.0 would also take any unicast to the port.
    let bind_to = if bind_any {
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, addr.port())
    } else {
        addr
    };
    socket.bind(&bind_to.into()).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => anyhow!(
            "could not bind {bind_to}: {e}; does a program without SO_REUSEADDR hold this port?"
        ),
        _ => bind_error(bind_to, e),
    })?;
    let socket: UdpSocket = socket.into();
    let local = socket
        .local_addr()
        .context("could not read the bound address")?;
    // ANCHOR_END: bind

    // ANCHOR: join
    // Python: mreq = struct.pack('4s4s', inet_aton('239.1.2.3'), inet_aton('127.0.0.1'))
    //         s.setsockopt(IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq)
    // Binding chose the port; joining tells the system to take in the group's datagrams on
    // that interface. Without it, nothing sent to the group reaches this socket.
    socket
        .join_multicast_v4(&group, &INTERFACE)
        .with_context(|| format!("could not join group {group} on interface {INTERFACE}"))?;
    // ANCHOR_END: join

    // As in chapter 08, Ctrl-C only sets `stop`, and `recv_from` gives up every 100 ms so
    // that the loop looks at it: a wake-up datagram to the group would reach every receiver.
    let stop = stop_on_ctrl_c(|| {})?;
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .context("could not set a read timeout")?;
    // Only now say where we are: bound and joined, so whoever reads these lines may send.
    logln!("Bound UDP on {local}");
    logln!("Joined group {group} on interface {INTERFACE}");

    // ANCHOR: receive
    let mut buffer = vec![0u8; 64 * 1024];
    let mut received = 0;
    let mut reason = "Ctrl-C received".to_string();
    while !stop.load(Ordering::SeqCst) {
        // Python: data, addr = s.recvfrom(65536)
        let (n, sender) = match socket.recv_from(&mut buffer) {
            Ok(datagram) => datagram,
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
        // Anyone who can reach the group may send anything: show it escaped (chapter 01).
        logln!("Received from {sender}: {}", printable(&buffer[..n]));
        received += 1;
        if count == Some(received) {
            reason = format!("--count {received} reached");
            break;
        }
    }
    // ANCHOR_END: receive

    // ANCHOR: leave
    // Python: s.setsockopt(IPPROTO_IP, IP_DROP_MEMBERSHIP, mreq). Closing the socket would
    // leave too; saying it shows the step. When the last member on an interface leaves, the
    // system stops taking in the group there (on a LAN it tells the router, by IGMP).
    socket
        .leave_multicast_v4(&group, &INTERFACE)
        .with_context(|| format!("could not leave group {group} on interface {INTERFACE}"))?;
    logln!("Left group {group} on interface {INTERFACE}");
    // ANCHOR_END: leave
    logln!("{reason}: stopped receiving. Bye.");
    Ok(())
}

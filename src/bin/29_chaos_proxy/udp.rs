//! 29_chaos_proxy, part 4 of 4: the UDP relay (`--udp`). Datagrams from the client go on to
//! the target through a socket of the proxy's own, and the target's replies come back to the
//! client that sent last; on the way, some are dropped (`--drop`) or sent twice
//! (`--duplicate`), as the seed says.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::Context;
use socket_workbook::server::bind_error;
use socket_workbook::{logln, stop_on_ctrl_c};

use crate::Chaos;
use crate::random::Xorshift;

// ANCHOR: udp
/// Relays datagrams through one socket of its own towards the target. Replies go back to the
/// client that sent last: right for one client at a time (see the chapter).
pub fn relay_udp(listen: SocketAddr, target: SocketAddr, chaos: Chaos) -> anyhow::Result<()> {
    let socket = UdpSocket::bind(listen).map_err(|e| bind_error(listen, e))?;
    let local = socket
        .local_addr()
        .context("could not read the bound address")?;
    // Connected to the target: it takes datagrams from the target only (chapter 06).
    let any = match target {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let toward = UdpSocket::bind(any).with_context(|| format!("could not bind {any}"))?;
    toward
        .connect(target)
        .with_context(|| format!("could not connect to {target}"))?;
    let stop = stop_on_ctrl_c(move || {
        if let Ok(waker) = UdpSocket::bind(SocketAddr::new(local.ip(), 0)) {
            let _ = waker.send_to(b"", local); // wakes the blocked recv_from
        }
    })?;
    logln!("Bound UDP on {local}");
    let last_client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let mut up_random = Xorshift(chaos.seed);
    let mut down_random = Xorshift(up_random.next());
    let (replies, back) = (toward.try_clone()?, socket.try_clone()?);
    let last = Arc::clone(&last_client);
    thread::Builder::new()
        .spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match replies.recv(&mut buffer) {
                    Ok(n) => match last.lock().map(|client| *client) {
                        Ok(Some(client)) => {
                            let what = format!("a reply to {client}");
                            let send = |bytes: &[u8]| back.send_to(bytes, client);
                            pass(send, &buffer[..n], chaos, &mut down_random, &what);
                        }
                        _ => logln!("a reply from {target}, but no client to give it to"),
                    },
                    // No server at the target: the system's "port unreachable" lands here.
                    Err(e) => logln!("no reply from {target}: {e}"),
                }
            }
        })
        .context("could not start the thread for the replies")?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let (n, client) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(e) => {
                logln!("receive failed: {e}");
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Ok(mut last) = last_client.lock() {
            *last = Some(client);
        }
        let what = format!("a datagram from {client}");
        pass(
            |bytes| toward.send(bytes),
            &buffer[..n],
            chaos,
            &mut up_random,
            &what,
        );
    }
    logln!("Ctrl-C received: stopped relaying. Bye.");
    Ok(())
}

/// Passes one datagram on through `send`, or drops it, or sends it twice, as the dice say.
fn pass(
    send: impl Fn(&[u8]) -> io::Result<usize>,
    datagram: &[u8],
    chaos: Chaos,
    random: &mut Xorshift,
    what: &str,
) {
    // Both dice are thrown for every datagram, so one rate never shifts the other's choices.
    let (dropped, doubled) = (random.chance(chaos.drop), random.chance(chaos.duplicate));
    if dropped {
        return logln!("dropped {what}");
    }
    thread::sleep(chaos.delay);
    if doubled {
        logln!("duplicated {what}");
    }
    for _ in 0..1 + usize::from(doubled) {
        if let Err(e) = send(datagram) {
            logln!("could not pass on {what}: {e}");
        }
    }
}
// ANCHOR_END: udp

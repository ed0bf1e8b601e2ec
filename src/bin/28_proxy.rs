//! 28_proxy: a TCP proxy that copies bytes both ways between a client and a target server.
//!
//! It listens on LISTEN. For every client that connects, it connects to TARGET and copies
//! what each side sends to the other, unchanged, with one thread per direction. When one side
//! is done sending (end of stream), the proxy passes that on with `shutdown(Write)`, as chapter
//! 16 teaches, and the other direction goes on. When a connection ends, one line says how
//! many bytes went each way and how each direction ended.
//!
//! Run the hello server of chapter 02, the proxy in front of it, and the client of chapter 01
//! through the proxy, in three terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 02_tcp_server
//! terminal 2$ cargo run --bin 28_proxy -- 127.0.0.1:8888 127.0.0.1:9999
//! terminal 3$ cargo run --bin 01_tcp_client -- 127.0.0.1:8888
//! ```
//!
//! or all at once, labelled: `scripts/demo.sh 28`. The proxy prints `Listening on
//! 127.0.0.1:8888` first, then for each client a line such as `Connection from
//! 127.0.0.1:50312 closed: client -> target 23 bytes (end of stream), target -> client 50
//! bytes (end of stream)`. Ctrl-C stops it.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use socket_workbook::logln;
use socket_workbook::server::{ClientLimit, PAUSE, bind_error, connections, spawn_client};
use socket_workbook::{Args, report, stop_on_ctrl_c};

const USAGE: &str = "\
usage: 28_proxy [LISTEN] [TARGET] [--max-clients N] [--idle-timeout SECS]
                [--connect-timeout SECS]

  LISTEN                  IP:PORT to listen on (default 127.0.0.1:8888; port 0 picks a free port)
  TARGET                  IP:PORT of the server to forward to (default 127.0.0.1:9999, where
                          02_tcp_server listens)
  --max-clients N         how many clients are served at once (default 1000); one more is
                          disconnected at once
  --idle-timeout SECS     a direction that carries nothing for this long ends the connection
                          (default 300; fractions such as 0.5 are fine)
  --connect-timeout SECS  give up on a target that has not taken the connection within this
                          time (default 5); the client is then disconnected

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the proxy with Ctrl-C.
";

/// How much one read may bring. Any size works; 16 KiB is what a socket usually holds.
const CHUNK: usize = 16 * 1024;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    if max_clients < 1 {
        args.usage_error("--max-clients must be at least 1");
    }
    let idle = args.seconds("--idle-timeout", 300.0);
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let listen: SocketAddr = args.next_or("LISTEN", "127.0.0.1:8888");
    let target: SocketAddr = args.next_or("TARGET", "127.0.0.1:9999");
    args.finish();

    // Python: s = socket.socket(); s.bind(addr); s.listen() (chapter 02 shows each step)
    let listener = TcpListener::bind(listen).map_err(|e| bind_error(listen, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Ctrl-C sets `stop`, then connects to us once so the blocked `accept` returns.
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");
    logln!("Forwarding to {target}");

    // ANCHOR: accept_loop
    // The accept loop of chapter 02, from the helper (src/server.rs).
    let clients = ClientLimit::new(max_clients);
    for (client, peer) in connections(&listener, &stop) {
        // Each client costs two threads and two sockets. A proxy cannot say "busy" in the
        // client's protocol, which it does not know: it just hangs up.
        let Some(place) = clients.try_enter() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            continue; // dropping `client` closes the connection
        };
        spawn_client(peer, move || {
            logln!("Accept new connection from {peer}...");
            let summary = relay(client, target, connect_timeout, idle);
            drop(place); // both sockets are closed by now
            logln!("Connection from {peer} closed: {summary}");
        });
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

// ANCHOR: relay
/// Serves one client: connects to the target, copies both ways until both directions have
/// ended, and returns what to log. Both sockets are closed when it returns.
fn relay(
    client: TcpStream,
    target: SocketAddr,
    connect_timeout: Duration,
    idle: Duration,
) -> String {
    // Python: upstream = socket.create_connection(target, timeout=connect_timeout)
    let give_up = Instant::now() + connect_timeout;
    let upstream = loop {
        match TcpStream::connect_timeout(&target, connect_timeout) {
            Ok(stream) => break stream,
            // Out of descriptors is the proxy's own trouble, which passes as other connections
            // end: pause and try again, as the accept loop does (chapter 02), until the
            // connect timeout is spent.
            Err(e) if out_of_descriptors(&e) && Instant::now() < give_up => thread::sleep(PAUSE),
            // Returning drops `client`, which closes it: the client reads a clean end of stream.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                return format!("could not connect to {target}: {e}; is the target running?");
            }
            Err(e) => return format!("could not connect to {target}: {e}"),
        }
    };
    for stream in [&client, &upstream] {
        // No direction may hold its thread for ever: a read or write that waits longer fails.
        let set = stream.set_read_timeout(Some(idle));
        if let Err(e) = set.and(stream.set_write_timeout(Some(idle))) {
            return format!("could not set the idle timeout: {e}");
        }
        // Bytes are sent on as they come, in the pieces the sender chose: Nagle's algorithm
        // (chapter 14) would hold a small piece back until the last one is acknowledged.
        if let Err(e) = stream.set_nodelay(true) {
            return format!("could not set TCP_NODELAY: {e}");
        }
    }
    // Scoped threads may borrow `client` and `upstream`: the scope waits for them to end.
    // `&TcpStream` reads and writes, so each thread needs no socket of its own.
    thread::scope(|scope| {
        let up = thread::Builder::new()
            .spawn_scoped(scope, || copy(&client, "client", &upstream, "target", idle));
        let up = match up {
            Ok(thread) => thread,
            Err(e) => return format!("could not start a thread for the second direction: {e}"),
        };
        // This thread copies the other direction itself.
        let (down_bytes, down_end) = copy(&upstream, "target", &client, "client", idle);
        let (up_bytes, up_end) = up
            .join()
            .unwrap_or_else(|_| (0, "the copying thread panicked".to_string()));
        format!(
            "client -> target {up_bytes} bytes ({up_end}), \
             target -> client {down_bytes} bytes ({down_end})"
        )
    })
}
// ANCHOR_END: relay

// ANCHOR: copy
/// Copies from `from` to `to` until `from` ends. Returns the bytes copied and how it ended.
/// (`Read` and `Write` are implemented for `&TcpStream`, and take it by `&mut`: hence the
/// `mut` on two shared references.)
fn copy(
    mut from: &TcpStream,
    from_name: &str,
    mut to: &TcpStream,
    to_name: &str,
    idle: Duration,
) -> (u64, String) {
    let mut buffer = vec![0u8; CHUNK];
    let mut copied = 0u64;
    let failure = loop {
        // Python: data = src.recv(16384)
        let n = match from.read(&mut buffer) {
            // End of stream: `from` is done sending, but may still read. Pass exactly that on
            // (chapter 16): `to` reads end of stream, and the other direction goes on.
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return (copied, "end of stream".to_string());
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break ended(&e, from_name, idle),
        };
        // Python: dst.sendall(data)
        if let Err(e) = to.write_all(&buffer[..n]) {
            break ended(&e, to_name, idle);
        }
        copied += n as u64;
    };
    // This direction failed, so the connection is over. Shutting both sockets down wakes the
    // other thread, whose read now returns end of stream, so it ends too.
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    (copied, failure)
}

/// Is this the error of a process (EMFILE) or a system (ENFILE) with no file descriptor left?
fn out_of_descriptors(e: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(e.raw_os_error(), Some(ENFILE | EMFILE))
}

/// How a direction ended, in words: an expired timeout shows up on Linux as `WouldBlock`.
fn ended(e: &io::Error, side: &str, idle: Duration) -> String {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
            "idle: timed out after {} s (--idle-timeout)",
            idle.as_secs_f64()
        ),
        ErrorKind::ConnectionReset => format!("reset by the {side}"),
        ErrorKind::BrokenPipe => format!("the {side} had closed"),
        _ => format!("the {side}: {e}"),
    }
}
// ANCHOR_END: copy

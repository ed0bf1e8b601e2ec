//! 19_poll_server: the hello server of chapter 02 on ONE thread, with mio.
//!
//! Chapter 02 gives every client a thread that waits in `read`. Here one thread asks the kernel
//! (epoll, kqueue, through mio) "which of my sockets are ready?" and serves exactly those.
//! Nothing blocks: every socket is non-blocking, and `WouldBlock` means "not now".
//!
//! Run it in one terminal, and the client of chapter 01 in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 19_poll_server
//! terminal 2$ cargo run --bin 01_tcp_client
//! ```
//!
//! or both at once: `scripts/demo.sh 19`. It prints what 02 prints. Ctrl-C stops it.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use socket_workbook::server::bind_error;
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};

const USAGE: &str = "\
usage: 19_poll_server [ADDR] [--idle-timeout SECONDS] [--max-clients N]

  ADDR                    IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --idle-timeout SECONDS  close a client that sends nothing for this long (default 300)
  --max-clients N         clients served at once; one more gets `Busy, try later.` (default 15000)

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

/// The listener's token; the waker's (Ctrl-C); clients get the numbers after these.
const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

/// How long `accept` rests after running out of descriptors (as in src/server.rs).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

// ANCHOR: client
/// Everything the server remembers about one client between events. A thread in chapter 02
/// kept this on its stack; one thread for all clients must keep it in a table.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes the kernel would not take yet: the rest of a partial write (see `flush`).
    outgoing: Vec<u8>,
    /// When this client last sent something; an idle client is closed after a while.
    last_heard: Instant,
    /// What the poll watches this socket for now (see `interest`).
    watching: Interest,
}
// ANCHOR_END: client

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let idle: f64 = args.option("--idle-timeout").unwrap_or(300.0);
    let max_clients: usize = args.option("--max-clients").unwrap_or(15_000);
    if !(idle > 0.0 && idle.is_finite()) {
        args.usage_error("--idle-timeout must be a positive number of seconds");
    }
    let idle = Duration::from_secs_f64(idle);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();

    // ANCHOR: setup
    // Python: selector = selectors.DefaultSelector()
    let mut poll = Poll::new().context("could not create the poll instance")?;
    // mio's listener is non-blocking from the start (and sets SO_REUSEADDR, like 02).
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    // Python: selector.register(listener, selectors.EVENT_READ)
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .context("could not register the listener")?;
    // Ctrl-C cannot touch our sockets from its thread, but it can wake `poll` through a Waker.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).context("could not create a waker")?);
    let stop = stop_on_ctrl_c(move || {
        let _ = waker.wake();
    })?;
    // ANCHOR_END: setup
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    logln!("Listening on {local}");

    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = 2;
    let mut events = Events::with_capacity(1024);
    let mut accept_paused_until: Option<Instant> = None;
    let mut last_said: Option<Instant> = None;
    let mut last_sweep = Instant::now();
    let timed_out = format!("timed out after {} s (--idle-timeout)", idle.as_secs_f64());

    // ANCHOR: event_loop
    while !stop.load(Ordering::SeqCst) {
        // Wake at least once a second to close idle clients (and sooner to end an accept pause).
        // Python: events = selector.select(timeout=1)
        let wait = accept_paused_until.map_or(Duration::from_secs(1), |_| ACCEPT_PAUSE);
        match poll.poll(&mut events, Some(wait)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue, // a signal: poll again
            Err(e) => return Err(e).context("poll failed"),
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => {
                    let accepted = accept_all(
                        &mut listener,
                        &poll,
                        &mut clients,
                        &mut next_token,
                        max_clients,
                    );
                    if let Err(e) = accepted {
                        // Out of descriptors (EMFILE) or memory: retrying now would spin a
                        // core. Stop watching the listener for 100 ms (clients wait in the
                        // backlog meanwhile), and say so at most once a second.
                        if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            logln!("accept failed: {e}; pausing, trying again every 100 ms");
                            last_said = Some(Instant::now());
                        }
                        let _ = poll.registry().deregister(&mut listener);
                        accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    }
                }
                WAKER => {} // Ctrl-C: the `while` condition sees the flag
                token => {
                    // A client's socket is ready: read what it sent, or write what was left.
                    let Some(client) = clients.get_mut(&token) else {
                        continue;
                    };
                    if let Err(reason) = serve_ready(client, &poll, token) {
                        logln!("Connection from {} closed{reason}", client.peer);
                        clients.remove(&token); // dropping the stream closes the socket
                    }
                }
            }
        }
        if let Some(until) = accept_paused_until
            && Instant::now() >= until
        {
            // Registering again makes epoll report the connections still waiting.
            accept_paused_until = None;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)
                .context("could not register the listener again")?;
        }
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            last_sweep = Instant::now();
            clients.retain(|_, client| {
                let keep = client.last_heard.elapsed() < idle;
                if !keep {
                    logln!("Connection from {} closed: {timed_out}", client.peer);
                }
                keep
            });
        }
    }
    // ANCHOR_END: event_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

// ANCHOR: accept
/// Accepts every connection that is waiting (readiness says "at least one"; we must take them
/// all, because epoll reports the listener again only when something new arrives). An error
/// that is the server's own (out of descriptors) is returned, for the loop to pause.
fn accept_all(
    listener: &mut TcpListener,
    poll: &Poll,
    clients: &mut HashMap<Token, Client>,
    next_token: &mut usize,
    max_clients: usize,
) -> io::Result<()> {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(connection) => connection,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()), // none left waiting
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        if clients.len() >= max_clients {
            // Best effort: the socket is new, so its send buffer has room for 16 bytes.
            let _ = stream.write(b"Busy, try later.");
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            continue; // dropping the stream closes it
        }
        let token = Token(*next_token);
        *next_token += 1;
        logln!("Accept new connection from {peer}...");
        let mut client = Client {
            stream,
            peer,
            outgoing: b"Welcome!".to_vec(),
            last_heard: Instant::now(),
            watching: Interest::READABLE,
        };
        // Send the welcome now if the kernel takes it; then wait for what comes next.
        let registered = flush(&mut client).and_then(|()| {
            client.watching = interest(&client.outgoing);
            poll.registry()
                .register(&mut client.stream, token, client.watching)
        });
        match registered {
            Ok(()) => {
                clients.insert(token, client);
            }
            Err(e) => logln!("Connection from {peer} closed: {e}"),
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: serve_ready
/// Serves a client whose socket is ready. `Err(reason)` means: close this connection (the
/// reason is empty for a normal goodbye).
fn serve_ready(client: &mut Client, poll: &Poll, token: Token) -> Result<(), String> {
    // First finish any partial write; while output is waiting we read nothing more, so a
    // client that never reads cannot make us pile up replies (this is backpressure).
    flush(client).map_err(|e| format!(": {e}"))?;
    let mut buffer = [0u8; 1024];
    while client.outgoing.is_empty() {
        // Python: data = sock.recv(1024), on a socket that is known to be ready.
        let n = match client.stream.read(&mut buffer) {
            Ok(0) => return Err(".".into()), // end of stream: the client closed its side
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break, // read everything there was
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!(": reading a message: {e}")),
        };
        client.last_heard = Instant::now();
        // As in 02, one read is one message (chapter 11 says why that is fragile).
        let message = String::from_utf8_lossy(&buffer[..n]);
        if message == "exit" {
            return Err(".".into());
        }
        client
            .outgoing
            .extend_from_slice(format!("Hello, {message}!").as_bytes());
        flush(client).map_err(|e| format!(": sending a reply: {e}"))?;
    }
    // Watch for WRITABLE only while output waits: a socket is almost always writable, so
    // asking for it otherwise would wake us for nothing, over and over. Changing what we
    // watch is a system call, so make it only when it changes.
    let wanted = interest(&client.outgoing);
    if wanted == client.watching {
        return Ok(());
    }
    client.watching = wanted;
    poll.registry()
        .reregister(&mut client.stream, token, wanted)
        .map_err(|e| format!(": {e}"))
}

/// Writes as much of `outgoing` as the kernel takes now and keeps the rest for later: a
/// non-blocking `write` may take only part, and what it did not take must not be lost.
fn flush(client: &mut Client) -> io::Result<()> {
    while !client.outgoing.is_empty() {
        match client.stream.write(&client.outgoing) {
            Ok(n) => {
                client.outgoing.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()), // the rest later
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What to wait for: room to write while output is waiting, otherwise a message to read.
fn interest(outgoing: &[u8]) -> Interest {
    if outgoing.is_empty() {
        Interest::READABLE
    } else {
        Interest::WRITABLE
    }
}
// ANCHOR_END: serve_ready

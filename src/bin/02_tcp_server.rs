//! 02_tcp_server: the threaded TCP "hello" server of the notes.
//!
//! It listens on ADDR, and for every client that connects it starts a thread that sends
//! `Welcome!`, answers each message X with `Hello, X!`, and hangs up when the client sends
//! `exit` or closes its side.
//!
//! Run it in one terminal, and the client of chapter 01 in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 02_tcp_server
//! terminal 2$ cargo run --bin 01_tcp_client
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 02`. The server prints
//! `Listening on 127.0.0.1:9999` first, then one line when a client arrives and one when it
//! leaves. Ctrl-C stops it.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use socket_workbook::hello::serve_hello;
use socket_workbook::logln;
use socket_workbook::server::{ClientLimit, PAUSE, bind_error, concerns_one_connection, farewell};
use socket_workbook::{Args, report, stop_on_ctrl_c};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 02_tcp_server [ADDR] [--slow] [--backlog N] [--max-clients N] [--idle-timeout SECS]

  ADDR                 IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --slow               wait one second before each reply, as the notes' server does
  --backlog N          how many connections may wait to be accepted (default 128; the notes use 5)
  --max-clients N      how many clients are served at once (default 1000); one more gets
                       `Busy, try later.` and is disconnected
  --idle-timeout SECS  a client that sends nothing for this long is disconnected (default 300;
                       fractions such as 0.5 are fine)

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let pause = args.flag("--slow").then_some(Duration::from_secs(1));
    let backlog: i32 = args.option("--backlog").unwrap_or(128);
    if backlog < 1 {
        args.usage_error("--backlog must be at least 1");
    }
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    if max_clients < 1 {
        args.usage_error("--max-clients must be at least 1");
    }
    let idle: f64 = args.option("--idle-timeout").unwrap_or(300.0);
    if !(0.001..=86400.0).contains(&idle) {
        args.usage_error("--idle-timeout must be from 0.001 to 86400 seconds");
    }
    let idle = Duration::from_secs_f64(idle);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();

    // ANCHOR: listen
    // Python: s = socket.socket(AF_INET, SOCK_STREAM); s.bind(addr); s.listen(backlog)
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
        .context("could not create a TCP socket")?;
    // Lets a restarted server bind again at once, while the last run's connections are still
    // in TIME_WAIT (chapter 14). It does not let two live servers share the port.
    socket
        .set_reuse_address(true)
        .context("could not set SO_REUSEADDR")?;
    socket.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    // How many connections may wait, completed but not yet accepted. The notes use 5; with 5,
    // fifty clients arriving at once stall for seconds (see the chapter), so we use 128.
    socket
        .listen(backlog)
        .map_err(|e| anyhow!("could not listen on {addr}: {e}"))?;
    let listener: TcpListener = socket.into();
    // ANCHOR_END: listen

    // Port 0 means "any free port": ask which port we really got.
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Ctrl-C sets `stop`, then connects to us once so the blocked `accept` returns. Installed
    // before the first line, so that whoever reads that line may press Ctrl-C at once.
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");

    // ANCHOR: accept_loop
    let clients = ClientLimit::new(max_clients);
    let mut last_said: Option<Instant> = None;
    loop {
        // Python: sock, addr = s.accept()
        let accepted = listener.accept();
        // Ctrl-C set `stop`, then connected to us: that connection woke this `accept`.
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let (mut stream, peer) = match accepted {
            Ok(connection) => connection,
            // A client that gave up while waiting in the queue, or a signal: try again now.
            Err(e) if concerns_one_connection(&e) => continue,
            // Anything else is the server's own trouble, most often "Too many open files"
            // (EMFILE): no descriptor is left for the new connection, which stays queued.
            // Trying again at once fails at once, a million times a second; so pause, say so
            // at most once a second, and try again. Ctrl-C is seen after each try.
            Err(e) => {
                if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    logln!("accept failed: {e}; pausing, trying again every 100 ms");
                    last_said = Some(Instant::now());
                }
                thread::sleep(PAUSE);
                continue;
            }
        };
        // Each client costs a thread: beyond --max-clients, say so and hang up.
        let Some(place) = clients.try_enter() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            let _ = stream.write_all(b"Busy, try later.");
            continue; // dropping `stream` closes the connection
        };
        // No client may keep its thread for ever: a read or a write that waits longer than
        // the idle timeout fails, and that ends the conversation.
        let read_timeout = stream.set_read_timeout(Some(idle));
        if let Err(e) = read_timeout.and(stream.set_write_timeout(Some(idle))) {
            logln!("could not set the idle timeout for {peer}: {e}; connection closed");
            continue;
        }
        // Python: threading.Thread(target=tcplink, args=(sock, addr)).start()
        // `thread::spawn` panics when the system has no thread to give; `Builder::spawn`
        // returns the error, and drops the closure with the stream in it, which closes that
        // client's connection. The server goes on.
        let spawned = thread::Builder::new().spawn(move || {
            logln!("Accept new connection from {peer}...");
            // The conversation itself is in src/hello.rs, shared with chapters 09 and 18.
            let result = serve_hello(&stream, pause);
            // The place is given back before the connection closes, so that a client who
            // sees the close and comes straight back finds it free.
            drop(place);
            drop(stream);
            logln!("Connection from {peer} {}", farewell(&result, idle));
        });
        if let Err(e) = spawned {
            logln!("could not start a thread for {peer}: {e}; connection closed");
        }
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

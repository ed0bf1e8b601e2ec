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

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::hello::serve_hello;
use socket_workbook::{Args, report, stop_on_ctrl_c};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 02_tcp_server [ADDR] [--slow] [--backlog N]

  ADDR         IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --slow       wait one second before each reply, as the notes' server does
  --backlog N  how many connections may wait to be accepted (default 128; the notes use 5)

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
    socket.bind(&addr.into()).map_err(|e| {
        anyhow!("could not bind {addr}: {e}; is another server already using this port?")
    })?;
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
    println!("Listening on {local}");

    // ANCHOR: accept_loop
    loop {
        // Python: sock, addr = s.accept()
        let (stream, peer) = match listener.accept() {
            Ok(connection) => connection,
            // A client that gave up while waiting in the queue: not our problem, carry on.
            Err(e) => {
                println!("accept failed: {e}");
                continue;
            }
        };
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // Python: threading.Thread(target=tcplink, args=(sock, addr)).start()
        thread::spawn(move || {
            println!("Accept new connection from {peer}...");
            // The conversation itself is in src/hello.rs, shared with chapters 09 and 18.
            match serve_hello(stream, pause) {
                Ok(()) => println!("Connection from {peer} closed."),
                Err(e) => println!("Connection from {peer} closed: {e:#}"),
            }
        });
    }
    // ANCHOR_END: accept_loop

    println!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

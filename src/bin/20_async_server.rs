//! 20_async_server: the hello server of chapter 02 as async Rust, with tokio.
//!
//! Every client gets a task instead of a thread. A task is a small state machine that tokio's
//! runtime polls when its socket is ready, with an event loop like chapter 19's underneath,
//! yet the code reads like 02: send, read, answer, in order.
//!
//! Run it in one terminal, and the client of chapter 01 in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 20_async_server
//! terminal 2$ cargo run --bin 01_tcp_client
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 20`. It prints `Listening on 127.0.0.1:9999`,
//! then one line per client arriving and leaving, exactly like 02. Ctrl-C stops it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use socket_workbook::server::bind_error;
use socket_workbook::{Args, logln, report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio::time::{sleep, timeout};

const USAGE: &str = "\
usage: 20_async_server [ADDR] [--idle-timeout SECONDS] [--max-clients N]

  ADDR                    IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --idle-timeout SECONDS  close a client that sends nothing for this long (default 300)
  --max-clients N         clients served at once; one more gets `Busy, try later.` (default 15000)

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

// `#[tokio::main]` starts the runtime (a thread per core, each running an event loop) and
// runs `main`'s future on it.
#[tokio::main]
async fn main() -> ExitCode {
    report(run().await)
}

async fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let idle: f64 = args.option("--idle-timeout").unwrap_or(300.0);
    let max_clients: usize = args.option("--max-clients").unwrap_or(15_000);
    if !(idle > 0.0 && idle.is_finite()) {
        args.usage_error("--idle-timeout must be a positive number of seconds");
    }
    let idle = Duration::from_secs_f64(idle);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();

    // ANCHOR: accept_loop
    // Python (asyncio): server = await asyncio.start_server(serve, host, port)
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Registered now, before the first line, so a Ctrl-C right after it is caught.
    // (`tokio::signal::ctrl_c()` is the portable form; it registers on its first poll.)
    let mut interrupt = signal(SignalKind::interrupt()).context("could not watch for Ctrl-C")?;
    logln!("Listening on {local}");

    // One permit per client: a client beyond the limit finds none left.
    let places = Arc::new(Semaphore::new(max_clients));
    let mut last_said: Option<Instant> = None;
    loop {
        // Wait for whichever comes first: a client, or Ctrl-C.
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = interrupt.recv() => break,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
            Err(e) => {
                // Out of descriptors: pause instead of spinning (see src/server.rs), and
                // still listen for Ctrl-C meanwhile.
                if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    logln!("accept failed: {e}; pausing, trying again every 100 ms");
                    last_said = Some(Instant::now());
                }
                tokio::select! {
                    _ = sleep(Duration::from_millis(100)) => continue,
                    _ = interrupt.recv() => break,
                }
            }
        };
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            // The new socket's send buffer is empty: these 16 bytes fit without waiting.
            let _ = stream.try_write(b"Busy, try later.");
            continue;
        };
        // Python: threading.Thread(target=tcplink, ...).start(), but a task, not a thread.
        tokio::spawn(async move {
            logln!("Accept new connection from {peer}...");
            let result = serve(stream, idle).await;
            // The place is given back before we say the client left (chapter 02 does the
            // same), so a client who reads that line and comes straight back finds it free.
            drop(place);
            match result {
                Ok(()) => logln!("Connection from {peer} closed."),
                Err(e) => logln!("Connection from {peer} closed: {e:#}"),
            }
        });
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

// ANCHOR: serve
/// The conversation of src/hello.rs, with `.await` where 02 would block, and a deadline on
/// each wait: a client that neither speaks nor reads is closed after `idle`.
async fn serve(mut stream: TcpStream, idle: Duration) -> anyhow::Result<()> {
    timeout(idle, stream.write_all(b"Welcome!"))
        .await
        .map_err(|_| {
            anyhow!(
                "the welcome was not read: timed out after {} s (--idle-timeout)",
                idle.as_secs_f64()
            )
        })?
        .context("sending the welcome")?;
    let mut buffer = [0u8; 1024];
    loop {
        // Python: data = sock.recv(1024), or in asyncio: data = await reader.read(1024)
        let n = match timeout(idle, stream.read(&mut buffer)).await {
            Ok(result) => result.context("reading a message")?,
            Err(_) => bail!("timed out after {} s (--idle-timeout)", idle.as_secs_f64()),
        };
        if n == 0 {
            return Ok(()); // end of stream: the client closed its side
        }
        let message = String::from_utf8_lossy(&buffer[..n]);
        if message == "exit" {
            return Ok(());
        }
        let reply = format!("Hello, {message}!");
        timeout(idle, stream.write_all(reply.as_bytes()))
            .await
            .map_err(|_| {
                anyhow!(
                    "a reply was not read: timed out after {} s (--idle-timeout)",
                    idle.as_secs_f64()
                )
            })?
            .context("sending a reply")?;
    }
}
// ANCHOR_END: serve

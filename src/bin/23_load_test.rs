//! 23_load_test: drives a hello-protocol server with many connections at once and measures it.
//!
//! Each connection reads the welcome, then sends a name and waits for `Hello, NAME!`, again
//! and again (an exchange). It prints how many exchanges per second the server answered, how
//! long an exchange took (p50, p90, p99), and every error, counted by kind. With `--idle N` it
//! first opens N connections that stay silent, to show what they cost the server.
//!
//! Start any hello server (02, 19, 20, or `scripts/bench/notes_server.py`), then the load:
//!
//! ```text
//! terminal 1$ cargo run --release --bin 19_poll_server
//! terminal 2$ cargo run --release --bin 23_load_test -- 127.0.0.1:9999 -c 100 --exchanges 200
//! ```
//!
//! or `scripts/demo.sh 23` for a short run against 02, and `scripts/bench.sh` to compare all
//! four servers. Figures from a debug build (`cargo run` without `--release`) measure the
//! debug build.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use socket_workbook::stats::percentile;
use socket_workbook::{Args, report};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

const USAGE: &str = "\
usage: 23_load_test [ADDR] [-c N] [--exchanges N] [--reconnect] [--idle N]
                    [--connect-timeout SECONDS] [--timeout SECONDS] [--deadline SECONDS]

  ADDR                       IP:PORT of a hello server (default 127.0.0.1:9999)
  -c, --connections N        connections that talk at once (default 10)
  --exchanges N              exchanges on each: send a name, read `Hello, NAME!` (default 100)
  --reconnect                a new connection for every exchange, timed from connect to reply
  --idle N                   silent connections to open first and hold to the end (default 0)
  --connect-timeout SECONDS  give up on one connect after this long (default 5)
  --timeout SECONDS          give up on one reply after this long (default 5)
  --deadline SECONDS         stop the whole run after this long (default 60)

Prints exchanges per second, latency percentiles and errors by kind. Exits 1 if any
connection failed.
";

/// Why a connection stopped early, in words (`read timeout`); the report counts each kind.
type Failure = String;

/// What every talking connection does, and the limits that every wait obeys.
#[derive(Clone, Copy)]
struct Plan {
    exchanges: usize,
    reconnect: bool,
    connect_timeout: Duration,
    read_timeout: Duration,
    /// When the whole run must be over, whatever is still waiting.
    deadline: Instant,
}

// Every connection is a tokio task; chapter 23 says why tasks and not threads.
#[tokio::main]
async fn main() -> ExitCode {
    report(run().await)
}

async fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let short: Option<usize> = args.option("-c");
    let connections = short.or(args.option("--connections")).unwrap_or(10);
    let exchanges: usize = args.option("--exchanges").unwrap_or(100);
    let idle: usize = args.option("--idle").unwrap_or(0);
    let reconnect = args.flag("--reconnect");
    let mut seconds = |name: &str, default: f64| {
        let value: f64 = args.option(name).unwrap_or(default);
        if !(value > 0.0 && value.is_finite()) {
            args.usage_error(format!("{name} must be a positive number of seconds"));
        }
        Duration::from_secs_f64(value)
    };
    let connect_timeout = seconds("--connect-timeout", 5.0);
    let read_timeout = seconds("--timeout", 5.0);
    let deadline = Instant::now() + seconds("--deadline", 60.0);
    if connections == 0 || exchanges == 0 {
        args.usage_error("--connections and --exchanges must be at least 1");
    }
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();
    let plan = Plan {
        exchanges,
        reconnect,
        connect_timeout,
        read_timeout,
        deadline,
    };

    println!("load test of {addr}: {connections} connections x {exchanges} exchanges");
    // ANCHOR: run
    let mut errors: BTreeMap<Failure, usize> = BTreeMap::new();
    // The idle connections stay open, in this Vec, until the talking is over.
    let mut held = Vec::new();
    for _ in 0..idle {
        match open(addr, &plan).await {
            Ok(stream) => held.push(stream),
            Err(failure) => *errors.entry(format!("idle: {failure}")).or_default() += 1,
        }
    }
    if idle > 0 {
        println!("idle: {} of {idle} connections held", held.len());
    }

    // Python: threads = [threading.Thread(target=talk, args=(n,)) for n in range(c)], start
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|number| tokio::spawn(talk(addr, number, plan)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        // Python: t.join(). Only a task that panicked gives an error here.
        let (times, failure) = task.await.context("a connection's task failed")?;
        latencies.extend(times);
        if let Some(failure) = failure {
            *errors.entry(failure).or_default() += 1;
        }
    }
    let elapsed = started.elapsed();
    drop(held); // closes the idle connections
    // ANCHOR_END: run

    // ANCHOR: report
    let seconds = elapsed.as_secs_f64();
    println!(
        "exchanges: {} of {} in {seconds:.3} s: {:.0} per second",
        latencies.len(),
        connections.saturating_mul(exchanges),
        latencies.len() as f64 / seconds
    );
    latencies.sort();
    let ms = |p| percentile(&latencies, p).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    if !latencies.is_empty() {
        println!(
            "latency: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(50.0),
            ms(90.0),
            ms(99.0),
            ms(100.0)
        );
    }
    let failed: usize = errors.values().sum();
    if failed == 0 {
        println!("errors: none");
        return Ok(());
    }
    let kinds: Vec<String> = errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!("errors: {failed} ({})", kinds.join(", "));
    bail!("{failed} connections failed; the figures above count only the exchanges that succeeded")
    // ANCHOR_END: report
}

// ANCHOR: talk
/// One talking connection: returns how long each exchange took, and why it stopped early,
/// if it did. A failure ends this connection only.
async fn talk(addr: SocketAddr, number: usize, plan: Plan) -> (Vec<Duration>, Option<Failure>) {
    let mut latencies = Vec::new();
    let result = converse(addr, number, &plan, &mut latencies).await;
    (latencies, result.err())
}

/// Connects, reads the welcome, then sends a name and waits for its reply, timing each
/// exchange. With `--reconnect` every exchange is a new client instead, timed from connect
/// to reply: the notes' client, run again and again.
async fn converse(
    addr: SocketAddr,
    number: usize,
    plan: &Plan,
    latencies: &mut Vec<Duration>,
) -> Result<(), Failure> {
    // A different name each time, so that a reply to the wrong message is caught.
    let name = |i| format!("user{number}.{i}");
    if plan.reconnect {
        for i in 0..plan.exchanges {
            let started = Instant::now();
            let mut stream = open(addr, plan).await?;
            exchange(&mut stream, &name(i), plan).await?;
            latencies.push(started.elapsed());
        } // each `stream` is dropped at the end of its turn: the connection is closed
        return Ok(());
    }
    let mut stream = open(addr, plan).await?;
    for i in 0..plan.exchanges {
        let started = Instant::now();
        exchange(&mut stream, &name(i), plan).await?;
        latencies.push(started.elapsed());
    }
    Ok(()) // dropping `stream` closes the connection: the server reads end of stream
}

/// One exchange: send `name`, then read until the whole of `Hello, NAME!` has come.
async fn exchange(stream: &mut TcpStream, name: &str, plan: &Plan) -> Result<(), Failure> {
    // Python: s.sendall(name.encode()). A few bytes fit in the send buffer at once, unless the
    // server has stopped reading for long; the timeout covers that case.
    let until = wait_until(plan, plan.read_timeout);
    match timeout_at(until, stream.write_all(name.as_bytes())).await {
        Err(_) => return Err(timed_out(plan, "send timeout")),
        Ok(Err(e)) => return Err(format!("send failed: {e}")),
        Ok(Ok(())) => {}
    }
    let reply = format!("Hello, {name}!");
    expect(stream, reply.as_bytes(), "wrong reply", plan).await
}
// ANCHOR_END: talk

// ANCHOR: open
/// Connects within the connect timeout and reads the welcome.
async fn open(addr: SocketAddr, plan: &Plan) -> Result<TcpStream, Failure> {
    // Python: s = socket.create_connection(addr, timeout=5)
    let until = wait_until(plan, plan.connect_timeout);
    let mut stream = match timeout_at(until, TcpStream::connect(addr)).await {
        Err(_) => return Err(timed_out(plan, "connect timeout")),
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            return Err("connect refused".into());
        }
        Ok(Err(e)) => return Err(format!("connect failed: {e}")),
        Ok(Ok(stream)) => stream,
    };
    expect(&mut stream, b"Welcome!", "wrong welcome", plan).await?;
    Ok(stream)
}
// ANCHOR_END: open

// ANCHOR: expect
/// Reads until exactly `expected` has come. TCP may deliver a message in pieces (chapter 11),
/// so one read is not one message: keep reading while what came is the start of what we
/// expect, and fail with `wrong` as soon as it is not.
async fn expect(
    stream: &mut TcpStream,
    expected: &[u8],
    wrong: &str,
    plan: &Plan,
) -> Result<(), Failure> {
    let mut got = Vec::with_capacity(expected.len());
    let mut buffer = [0u8; 1024];
    while got.len() < expected.len() {
        // Python: s.settimeout(5); data = s.recv(1024)
        let until = wait_until(plan, plan.read_timeout);
        let n = match timeout_at(until, stream.read(&mut buffer)).await {
            Err(_) => return Err(timed_out(plan, "read timeout")),
            Ok(Ok(0)) => return Err("closed by the server".into()),
            Ok(Ok(n)) => n,
            // A reset is the server closing too, only more abruptly.
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => {
                return Err("closed by the server".into());
            }
            Ok(Err(e)) => return Err(format!("read failed: {e}")),
        };
        got.extend_from_slice(&buffer[..n]);
        if !expected.starts_with(&got) {
            return Err(wrong.into());
        }
    }
    Ok(())
}

/// When a wait that may take `limit` must end: after `limit`, or at the deadline if sooner.
fn wait_until(plan: &Plan, limit: Duration) -> Instant {
    (Instant::now() + limit).min(plan.deadline)
}

/// A wait ran out: was it its own limit (`what`), or the whole run's deadline?
fn timed_out(plan: &Plan, what: &str) -> Failure {
    if Instant::now() >= plan.deadline {
        "deadline".into()
    } else {
        what.into()
    }
}
// ANCHOR_END: expect

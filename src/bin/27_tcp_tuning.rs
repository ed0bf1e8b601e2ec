//! 27_tcp_tuning: three TCP options, measured on a real connection instead of asserted.
//!
//! Each experiment runs over 127.0.0.1 with its own listener (port 0) and a peer thread:
//!
//! - `nagle`: two small writes and then a read of the reply, round after round, with Nagle's
//!   algorithm on (the default) and with `TCP_NODELAY`; prints the p50 and the max of each.
//! - `linger`: a normal close, then a close with `SO_LINGER` set to zero, and what the peer's
//!   read returns for each (end of stream, then `ConnectionReset`).
//! - `keepalive`: `SO_KEEPALIVE` with `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and `TCP_KEEPCNT`, on a
//!   peer that is alive but silent: the probes are answered, so nothing is detected.
//!
//! Run it with no arguments for all three (about two seconds), or pick one:
//!
//! ```text
//! $ cargo run --bin 27_tcp_tuning
//! $ cargo run --bin 27_tcp_tuning -- --experiment nagle --rounds 50
//! ```
//!
//! You will see, for example, `Nagle on (the default): p50 43.95 ms` against
//! `TCP_NODELAY set: p50 0.05 ms`, and `SO_LINGER 0 close: the peer reads ConnectionReset`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use socket_workbook::stats::percentile;
use socket_workbook::{Args, report};
use socket2::{SockRef, TcpKeepalive};

const USAGE: &str = "\
usage: 27_tcp_tuning [--experiment nagle|linger|keepalive|all] [--rounds N]

Measures Nagle's algorithm against TCP_NODELAY (N rounds each, default 10), shows a close
with SO_LINGER 0 arriving as a reset, and keepalive probing a silent peer, on 127.0.0.1.
";

/// How long any read in an experiment may wait before we call it a failure.
const READ_LIMIT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let experiment: String = args
        .option("--experiment")
        .unwrap_or_else(|| "all".to_string());
    let rounds: usize = args.option("--rounds").unwrap_or(10);
    if rounds == 0 {
        args.usage_error("--rounds 0: give at least one round");
    }
    if !["nagle", "linger", "keepalive", "all"].contains(&experiment.as_str()) {
        args.usage_error(format!("unknown experiment {experiment:?}"));
    }
    args.finish();
    let all = experiment == "all";
    if all || experiment == "nagle" {
        nagle(rounds)?;
    }
    if all || experiment == "linger" {
        linger()?;
    }
    if all || experiment == "keepalive" {
        keepalive()?;
    }
    Ok(())
}

/// A connected pair on 127.0.0.1: (the client's end, the server's end), each with a read
/// timeout so that a mistake shows up as an error instead of a hang.
fn pair() -> anyhow::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let client =
        TcpStream::connect(addr).map_err(|e| anyhow!("could not connect to {addr}: {e}"))?;
    let (server, _) = listener
        .accept()
        .with_context(|| format!("could not accept on {addr}"))?;
    for stream in [&client, &server] {
        stream.set_read_timeout(Some(READ_LIMIT))?;
    }
    Ok((client, server))
}

fn nagle(rounds: usize) -> anyhow::Result<()> {
    println!("== Nagle and delayed ACK: {rounds} rounds of two small writes, then a read");
    let on = round_trips(false, rounds)?;
    let off = round_trips(true, rounds)?;
    let (on_p50, off_p50) = (p50(&on), p50(&off));
    println!("Nagle on (the default): {}", summary(&on));
    println!("TCP_NODELAY set:        {}", summary(&off));
    let ratio = on_p50.as_secs_f64() / off_p50.as_secs_f64().max(1e-9);
    println!("the stall: Nagle's p50 is {ratio:.0} times TCP_NODELAY's");
    Ok(())
}

// ANCHOR: round_trips
/// Runs `rounds` request/reply exchanges on a fresh connection and returns how long each
/// took. A request is written in two small pieces, as a program that writes a header and
/// then a body does; the server answers only once it has both.
fn round_trips(nodelay: bool, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let (mut client, mut server) = pair()?;
    // Python: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.set_nodelay(nodelay)?;
    let peer = thread::spawn(move || -> std::io::Result<()> {
        let mut request = [0u8; 8];
        for _ in 0..rounds {
            server.read_exact(&mut request)?; // both pieces, however they arrive
            server.write_all(b"OK")?;
        }
        Ok(())
    });
    let mut times = Vec::with_capacity(rounds);
    let mut reply = [0u8; 2];
    for _ in 0..rounds {
        let start = Instant::now();
        client.write_all(b"HEAD")?; // sent at once: nothing is waiting for an ACK
        client.write_all(b"BODY")?; // with Nagle: held until "HEAD" is acknowledged
        client
            .read_exact(&mut reply)
            .context("the reply did not come")?;
        times.push(start.elapsed());
    }
    match peer.join() {
        Ok(result) => result.context("the server thread failed")?,
        Err(_) => bail!("the server thread panicked"),
    }
    Ok(times)
}
// ANCHOR_END: round_trips

/// The median of `times`.
fn p50(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    percentile(&sorted, 50.0).unwrap_or_default()
}

/// `p50 43.95 ms, max 44.12 ms`
fn summary(times: &[Duration]) -> String {
    let max = times.iter().max().copied().unwrap_or_default();
    format!(
        "p50 {:.2} ms, max {:.2} ms",
        p50(times).as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    )
}

fn linger() -> anyhow::Result<()> {
    println!("== SO_LINGER: how a close reaches the peer");
    println!("a normal close: the peer reads {}", close_and_read(false)?);
    println!(
        "SO_LINGER 0 close: the peer reads {}",
        close_and_read(true)?
    );
    Ok(())
}

// ANCHOR: close_and_read
/// Closes the server's end of a fresh connection, with or without `SO_LINGER` set to zero,
/// and says what the client's next read returns.
fn close_and_read(linger_zero: bool) -> anyhow::Result<String> {
    let (mut client, server) = pair()?;
    if linger_zero {
        // Python: s.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
        // "Linger for zero seconds": close throws away anything unsent and sends RST.
        SockRef::from(&server).set_linger(Some(Duration::ZERO))?;
    }
    drop(server); // close(): a FIN normally, an RST with SO_LINGER 0
    peer_reads(&mut client)
}

/// What the next read on `stream` returns, in words.
fn peer_reads(stream: &mut TcpStream) -> anyhow::Result<String> {
    let outcome = match stream.read(&mut [0u8; 16]) {
        Ok(0) => "end of stream (0 bytes)".to_string(),
        Ok(n) => format!("{n} bytes"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => bail!("no answer in {READ_LIMIT:?}"),
        Err(e) => format!("{:?}: {e}", e.kind()),
    };
    Ok(outcome)
}
// ANCHOR_END: close_and_read

fn keepalive() -> anyhow::Result<()> {
    println!("== keepalive on a peer that is alive but silent");
    // ANCHOR: keepalive
    let (mut client, server) = pair()?;
    // Probe after 1 s of silence, then every 1 s; give up after 2 unanswered probes.
    // std has no keepalive methods; socket2 sets all four options through a borrowed socket.
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(1)) // TCP_KEEPIDLE
        .with_interval(Duration::from_secs(1)) // TCP_KEEPINTVL
        .with_retries(2); // TCP_KEEPCNT
    let socket = SockRef::from(&client);
    socket.set_tcp_keepalive(&keepalive)?; // also sets SO_KEEPALIVE
    println!(
        "SO_KEEPALIVE = {}, TCP_KEEPIDLE = {} s, TCP_KEEPINTVL = {} s, TCP_KEEPCNT = {}",
        socket.keepalive()?,
        socket.keepalive_time()?.as_secs(),
        socket.keepalive_interval()?.as_secs(),
        socket.keepalive_retries()?
    );
    // The server never reads or writes: a program that hangs. Its kernel still answers
    // every probe, so after the first probe (at 1 s) the connection is as good as ever.
    let wait = Duration::from_millis(1500);
    client.set_read_timeout(Some(wait))?;
    let outcome = match client.read(&mut [0u8; 16]) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            "still open: the read timed out (WouldBlock), no error".to_string()
        }
        Ok(0) => "closed: end of stream".to_string(),
        Ok(n) => format!("open, {n} bytes arrived"),
        Err(e) => format!("broken: {:?}: {e}", e.kind()),
    };
    println!(
        "after {:.1} s of silence the connection is {outcome}",
        wait.as_secs_f64()
    );
    drop(server);
    // ANCHOR_END: keepalive
    Ok(())
}

//! 29_chaos_proxy: a proxy that does to your bytes what real networks do.
//!
//! It listens on LISTEN, and for every client connects to TARGET and copies the bytes both
//! ways, but not faithfully: it cuts what it reads into small pieces (`--chunk N`, or random
//! sizes with `--random-chunk MAX`), waits before each piece (`--delay MS`), and can reset
//! both connections after N bytes (`--reset-after N`). With `--udp` it relays datagrams and
//! drops (`--drop RATE`) or duplicates (`--duplicate RATE`) some of them. Every choice comes
//! from `--seed`, so the same seed gives the same chaos on every run.
//!
//! Put it between the pair of chapters 01 and 02, in three terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 02_tcp_server
//! terminal 2$ cargo run --bin 29_chaos_proxy -- 127.0.0.1:9998 127.0.0.1:9999 --chunk 1 --delay 20
//! terminal 3$ cargo run --bin 01_tcp_client -- 127.0.0.1:9998 Ada
//! W
//! e
//! ```
//!
//! or all at once, labelled: `scripts/demo.sh 29`. The client of chapter 01 takes one read
//! for one message, so one byte at a time breaks it. Programs that frame their messages
//! (chapter 12) or read to the end (chapter 03) do not notice. Ctrl-C stops the proxy.
//!
//! The program is four modules, read in this order (chapters/29_chaos_proxy.md quotes the
//! first three, and 29b_resets_and_losses.md the reset and udp.rs):
//!
//! 1. main.rs, this file: the usage, the arguments and their checks, and the choice of TCP
//!    or UDP;
//! 2. random.rs: the small seeded generator behind every random choice;
//! 3. tcp.rs: the TCP relay, which cuts the bytes into pieces, delays them, and resets both
//!    connections after N bytes;
//! 4. udp.rs: the UDP relay, which drops and duplicates datagrams.

mod random;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use socket_workbook::{Args, report};

use tcp::relay_tcp;
use udp::relay_udp;

const USAGE: &str = "\
usage: 29_chaos_proxy [LISTEN] [TARGET] [OPTIONS]

  LISTEN  IP:PORT to listen on (default 127.0.0.1:9998; port 0 picks a free port)
  TARGET  IP:PORT of the real server (default 127.0.0.1:9999)

TCP (the default):
  --chunk N           write what arrives in pieces of N bytes (1: every byte alone)
  --random-chunk MAX  write it in pieces of 1 to MAX bytes, sizes drawn from the seed
  --reset-after N     after N bytes (both directions together), reset both connections
  --max-clients N     clients relayed at once (default 100); one more is disconnected
  --idle-timeout SECS a client is let go after this long with nothing moving (default 300)
  --connect-timeout SECS  give up on the target after this long (default 5)
UDP (--udp relays datagrams instead, for one client at a time):
  --drop RATE         drop each datagram with probability RATE, from 0 to 1
  --duplicate RATE    send each datagram twice with probability RATE, from 0 to 1
Both:
  --delay MS          wait MS milliseconds before each piece or datagram (default 0)
  --seed S            the seed of every random choice (default 1; not 0): same seed, same chaos

The first line printed is the address really bound: `Listening on IP:PORT` (TCP) or
`Bound UDP on IP:PORT` (UDP). Stop the proxy with Ctrl-C.
";

/// How the proxy cuts the bytes of one read into writes.
#[derive(Clone, Copy)]
enum Chunk {
    AsRead,
    Fixed(usize),
    Random(usize),
}

/// What the proxy does to the traffic, from the command line.
#[derive(Clone, Copy)]
struct Chaos {
    chunk: Chunk,
    delay: Duration,
    reset_after: Option<u64>,
    drop: f64,
    duplicate: f64,
    seed: u64,
    idle: Duration,
    connect_timeout: Duration,
    max_clients: usize,
}

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let udp = args.flag("--udp");
    let chunk = match (args.option("--chunk"), args.option("--random-chunk")) {
        (Some(0), _) | (_, Some(0)) => args.usage_error("a piece must be at least 1 byte"),
        (Some(_), Some(_)) => args.usage_error("give --chunk or --random-chunk, not both"),
        (Some(n), None) => Chunk::Fixed(n),
        (None, Some(max)) => Chunk::Random(max),
        (None, None) => Chunk::AsRead,
    };
    let chaos = Chaos {
        chunk,
        reset_after: args.option("--reset-after"),
        drop: args.option("--drop").unwrap_or(0.0),
        duplicate: args.option("--duplicate").unwrap_or(0.0),
        delay: Duration::from_millis(args.option("--delay").unwrap_or(0)),
        seed: args.option("--seed").unwrap_or(1),
        max_clients: args.option("--max-clients").unwrap_or(100),
        idle: args.seconds("--idle-timeout", 300.0),
        connect_timeout: args.seconds("--connect-timeout", 5.0),
    };
    let tcp_only = !matches!(chaos.chunk, Chunk::AsRead) || chaos.reset_after.is_some();
    if udp && tcp_only {
        args.usage_error("--chunk, --random-chunk and --reset-after are for TCP, not --udp");
    }
    if !udp && (chaos.drop > 0.0 || chaos.duplicate > 0.0) {
        args.usage_error("--drop and --duplicate need --udp: TCP never loses or repeats bytes");
    }
    if !(0.0..=1.0).contains(&chaos.drop) || !(0.0..=1.0).contains(&chaos.duplicate) {
        args.usage_error("a rate is a probability, from 0 to 1");
    }
    if chaos.delay > Duration::from_secs(60) || chaos.seed == 0 || chaos.max_clients == 0 {
        args.usage_error("--delay is at most 60000, --seed is not 0, --max-clients at least 1");
    }
    let listen: SocketAddr = args.next_or("LISTEN", "127.0.0.1:9998");
    let target: SocketAddr = args.next_or("TARGET", "127.0.0.1:9999");
    args.finish();
    // The choice of mode: a byte stream (tcp.rs) or datagrams (udp.rs), each using its part of
    // `chaos`; the checks above refused the options that belong to the other mode only.
    if udp {
        relay_udp(listen, target, chaos)
    } else {
        relay_tcp(listen, target, chaos)
    }
}

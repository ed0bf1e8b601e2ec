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

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use socket_workbook::server::{
    ClientLimit, PAUSE, bind_error, connections, farewell, spawn_client,
};
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};
use socket2::SockRef;

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
    if udp {
        relay_udp(listen, target, chaos)
    } else {
        relay_tcp(listen, target, chaos)
    }
}

// ANCHOR: xorshift
/// A tiny pseudo-random number generator (xorshift64*, chapter 12's xorshift plus one
/// multiplication). The same seed gives the same numbers, so a run that broke something can
/// be run again, exactly.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Mixes the bits: without it a small seed (1, 2, 3) gives tiny first numbers, and
        // `chance` would say yes at first, whatever the rate.
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in 1..=max.
    fn size(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }
    /// True with probability `rate`: the top 53 bits as a fraction in [0, 1).
    fn chance(&mut self, rate: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}
// ANCHOR_END: xorshift

// ANCHOR: accept_loop
fn relay_tcp(listen: SocketAddr, target: SocketAddr, chaos: Chaos) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).map_err(|e| bind_error(listen, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");
    let clients = ClientLimit::new(chaos.max_clients);
    for (client, peer) in connections(&listener, &stop) {
        let Some(place) = clients.try_enter() else {
            logln!(
                "Turned away {peer}: {} clients already connected.",
                chaos.max_clients
            );
            continue; // a proxy adds no bytes of its own: it just hangs up
        };
        spawn_client(peer, move || {
            logln!("Accept new connection from {peer}, relaying to {target}");
            let result = relay(client, target, chaos);
            drop(place);
            logln!("Connection from {peer} {}", farewell(&result, chaos.idle));
        });
    }
    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}
// ANCHOR_END: accept_loop

// ANCHOR: relay
/// Both ends of one relayed connection, shared by the two threads that copy.
struct Both {
    client: TcpStream,
    server: TcpStream,
    /// Bytes passed on so far, both directions together.
    moved: AtomicU64,
    reset: AtomicBool,
}

/// Connects to the target, then copies server-to-client here and client-to-server on a
/// second thread, each direction with its own random numbers.
fn relay(client: TcpStream, target: SocketAddr, chaos: Chaos) -> anyhow::Result<()> {
    let server = connect_onwards(target)?;
    for stream in [&client, &server] {
        // Every piece leaves at once as its own packet, instead of waiting to be glued to the
        // next (Nagle's algorithm, chapter 14): the pieces must reach the reader as pieces.
        let nodelay = stream.set_nodelay(true);
        let read = stream.set_read_timeout(Some(chaos.idle));
        nodelay
            .and(read)
            .and(stream.set_write_timeout(Some(chaos.idle)))?;
    }
    let both = Arc::new(Both {
        client,
        server,
        moved: 0.into(),
        reset: false.into(),
    });
    let mut up_random = Xorshift(chaos.seed);
    // The other direction's seed: never 0, as a state that is not 0 never becomes 0.
    let down_random = Xorshift(up_random.next());
    let shared = Arc::clone(&both);
    let up = thread::Builder::new()
        .spawn(move || copy(&shared.client, &shared.server, &shared, chaos, up_random))
        .map_err(|e| anyhow!("could not start a thread for the second direction: {e}"))?;
    let down = copy(&both.server, &both.client, &both, chaos, down_random);
    let up = up
        .join()
        .map_err(|_| anyhow!("the copying thread panicked"))?;
    // Dropping the last `Arc` closes both sockets: with SO_LINGER 0 set, that is the reset.
    down.context("server to client")
        .and(up.context("client to server"))
}

/// Connects to the target. A proxy needs two descriptors per client: when the accept took the
/// last one, the connect fails with "Too many open files" (EMFILE). That is the proxy's own
/// trouble, as in chapter 02's accept loop: wait 100 ms and try again, for up to 5 s, while
/// the connections that are ending give theirs back.
fn connect_onwards(target: SocketAddr) -> anyhow::Result<TcpStream> {
    const EMFILE: i32 = 24; // Linux's number for "Too many open files"
    for _ in 0..50 {
        match TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
            Err(e) if e.raw_os_error() == Some(EMFILE) => thread::sleep(PAUSE),
            Err(e) => bail!("could not connect to {target}: {e}; is the server running?"),
            Ok(server) => return Ok(server),
        }
    }
    bail!("could not connect to {target}: out of file descriptors for 5 s")
}
// ANCHOR_END: relay

// ANCHOR: copy
/// Copies `from` to `to` until end of stream, writing each read in pieces, as `chaos` says.
fn copy(
    from: &TcpStream,
    to: &TcpStream,
    both: &Both,
    chaos: Chaos,
    mut random: Xorshift,
) -> anyhow::Result<()> {
    let mut buffer = [0u8; 16 * 1024];
    let mut seen = 0; // what `moved` was when the last wait began
    loop {
        let n = match (&*from).read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // This side was quiet for --idle-timeout, but the other direction moved: not idle.
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && both.moved.load(Ordering::SeqCst) != seen =>
            {
                seen = both.moved.load(Ordering::SeqCst);
                continue;
            }
            Err(e) => {
                both.shut_down();
                return Err(e).context("reading");
            }
        };
        if both.reset.load(Ordering::SeqCst) {
            return Ok(()); // the other direction reset the connection; this read woke us
        }
        if n == 0 {
            // End of stream: pass the half-close on (chapter 16), keep the other direction.
            let _ = to.shutdown(Shutdown::Write);
            return Ok(());
        }
        let mut rest = &buffer[..n];
        while !rest.is_empty() {
            // The next piece: all that is left, N bytes, or a size from the seed.
            let size = match chaos.chunk {
                Chunk::AsRead => rest.len(),
                Chunk::Fixed(n) => n,
                Chunk::Random(max) => random.size(max),
            };
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            thread::sleep(chaos.delay);
            let before = both.moved.fetch_add(piece.len() as u64, Ordering::SeqCst);
            let limit = chaos.reset_after.unwrap_or(u64::MAX);
            let allowed = limit.saturating_sub(before).min(piece.len() as u64) as usize;
            if let Err(e) = (&*to).write_all(&piece[..allowed]) {
                both.shut_down();
                return Err(e).context("writing");
            }
            if before + piece.len() as u64 >= limit {
                both.reset_now();
                bail!("reset after {limit} bytes (--reset-after)");
            }
        }
    }
}
// ANCHOR_END: copy

// ANCHOR: reset
impl Both {
    /// Sets SO_LINGER to zero on both sockets, so that closing them sends RST (a reset)
    /// instead of FIN, and wakes the other direction's read without sending anything.
    fn reset_now(&self) {
        self.reset.store(true, Ordering::SeqCst);
        for stream in [&self.client, &self.server] {
            let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
            let _ = stream.shutdown(Shutdown::Read);
        }
    }

    /// After an error in one direction, ends both (FIN), which wakes the other direction too.
    fn shut_down(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}
// ANCHOR_END: reset

// ANCHOR: udp
/// Relays datagrams through one socket of its own towards the target. Replies go back to the
/// client that sent last: right for one client at a time (see the chapter).
fn relay_udp(listen: SocketAddr, target: SocketAddr, chaos: Chaos) -> anyhow::Result<()> {
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

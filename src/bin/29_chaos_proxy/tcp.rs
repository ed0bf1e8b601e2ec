//! 29_chaos_proxy, part 3 of 4: the TCP relay. For every client it connects to the target
//! and copies the bytes both ways, one thread per direction, cutting what it reads into
//! pieces (`--chunk`, `--random-chunk`), waiting before each piece (`--delay`), and resetting
//! both connections once N bytes have passed (`--reset-after`). End of stream passes
//! through.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use socket_workbook::server::{
    ClientLimit, PAUSE, bind_error, connections, farewell, spawn_client,
};
use socket_workbook::{logln, stop_on_ctrl_c};
use socket2::SockRef;

use crate::random::Xorshift;
use crate::{Chaos, Chunk};

// ANCHOR: accept_loop
/// Listens on `listen` and relays every client to `target`, each on a thread of its own.
pub fn relay_tcp(listen: SocketAddr, target: SocketAddr, chaos: Chaos) -> anyhow::Result<()> {
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
    let server = connect_onwards(target, chaos.connect_timeout)?;
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
/// trouble, as in chapter 02's accept loop: wait 100 ms and try again, until
/// `--connect-timeout`, while the connections that are ending give theirs back.
fn connect_onwards(target: SocketAddr, limit: Duration) -> anyhow::Result<TcpStream> {
    const EMFILE: i32 = 24; // Linux's number for "Too many open files"
    let give_up = Instant::now() + limit;
    loop {
        match TcpStream::connect_timeout(&target, limit) {
            Err(e) if e.raw_os_error() == Some(EMFILE) && Instant::now() < give_up => {
                thread::sleep(PAUSE)
            }
            Err(e) => bail!("could not connect to {target}: {e}; is the server running?"),
            Ok(server) => return Ok(server),
        }
    }
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

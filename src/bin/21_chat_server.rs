//! 21_chat_server: a chat room. Each client says its name, then every line it sends goes to
//! every other client as `NAME: LINE`. Lines of text in, lines out: `nc` and `telnet` are
//! clients too.
//!
//! ```text
//! terminal 1$ cargo run --bin 21_chat_server
//! terminal 2$ cargo run --bin 22_chat_client -- 127.0.0.1:9999 Ada
//! terminal 3$ nc 127.0.0.1 9999
//! ```
//!
//! or all at once: `scripts/demo.sh 21`. It logs each client arriving, joining and leaving;
//! Ctrl-C stops it. A client that stops reading is sent away; nobody else waits for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, anyhow, ensure};
use socket_workbook::output::printable;
use socket_workbook::server::{AsyncConnections, bind_error};
use socket_workbook::{Args, logln, report};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::timeout;

/// The longest line a client may send, in bytes, not counting `\n` or `\r\n`.
const MAX_LINE: usize = 1024;
/// The longest name, in characters.
const MAX_NAME: usize = 20;

const USAGE: &str = "\
usage: 21_chat_server [ADDR] [--max-clients N] [--queue LINES] [--idle-timeout SECONDS]

  ADDR                    IP:PORT to listen on (default 127.0.0.1:9999; port 0 picks a free port)
  --max-clients N         clients at once; one more reads `Busy, try later.` (default 1000)
  --queue LINES           lines that may wait for one client before it is sent away (default 1000)
  --idle-timeout SECONDS  send away a client that sends nothing for this long (default 3600)

Stop the server with Ctrl-C.
";

#[tokio::main]
async fn main() -> ExitCode {
    report(run().await)
}

async fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    let queue: usize = args.option("--queue").unwrap_or(1000);
    let idle: f64 = args.option("--idle-timeout").unwrap_or(3600.0);
    if max_clients == 0 || queue == 0 {
        args.usage_error("--max-clients and --queue must be at least 1");
    }
    if !(idle > 0.0 && idle.is_finite()) {
        args.usage_error("--idle-timeout must be a positive number of seconds");
    }
    let idle = Duration::from_secs_f64(idle);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    args.finish();

    // ANCHOR: accept
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    let interrupt = signal(SignalKind::interrupt()).context("could not watch for Ctrl-C")?;
    logln!("Listening on {local}");

    let room = Arc::new(Mutex::new(Room {
        members: HashMap::new(),
        queue,
    }));
    let places = Arc::new(Semaphore::new(max_clients));
    // Chapter 20's loop (src/server.rs): `None` once Ctrl-C is pressed.
    let mut incoming = AsyncConnections::new(listener, interrupt);
    while let Some((stream, peer)) = incoming.next().await {
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            let _ = stream.try_write(b"Busy, try later.\n");
            continue;
        };
        // Lines are written as soon as queued, a few bytes at a time: without TCP_NODELAY,
        // Nagle's algorithm could hold each until the previous one is acknowledged (40 ms).
        let _ = stream.set_nodelay(true);
        let room = Arc::clone(&room);
        tokio::spawn(async move {
            logln!("Accept new connection from {peer}...");
            let (reader, mut writer) = stream.into_split();
            let result = visit(BufReader::new(reader), &mut writer, peer, &room, idle).await;
            if let Err(e) = &result {
                // Best effort: a client that has stopped reading never sees this.
                let _ = writer.try_write(format!("* Disconnected: {e}\n").as_bytes());
            }
            drop(place); // given back before the connection closes (chapter 02)
            drop(writer);
            match result {
                Ok(()) => logln!("Connection from {peer} closed."),
                Err(e) => logln!("Connection from {peer} closed: {e:#}"),
            }
        });
    }
    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
    // ANCHOR_END: accept
}

// ANCHOR: room
/// Everyone in the room. It is shared as `Mutex<Room>`, locked only to read or change the
/// table, never across an `.await`, so a std `Mutex` is right (chapter 20, "what goes wrong").
struct Room {
    /// Keyed by the client's address, which no other connection can have while it is open.
    members: HashMap<SocketAddr, Member>,
    /// How many lines may wait for one client (`--queue`).
    queue: usize,
}

struct Member {
    name: String,
    /// The sending end of this client's queue: lines its task will write to it.
    lines: mpsc::Sender<Arc<str>>,
    /// Tells this client's task that the room has sent it away, and why.
    kick: oneshot::Sender<String>,
}

impl Room {
    /// Puts `line` in every queue but `from`'s, without waiting for anyone. A full queue means
    /// that client has fallen too far behind: it is sent away, and the others are told.
    fn send_to_others(&mut self, from: SocketAddr, line: String) {
        let line: Arc<str> = Arc::from(line); // one copy, shared by every queue
        let mut behind = Vec::new();
        for (&peer, member) in &self.members {
            if peer != from
                && let Err(TrySendError::Full(_)) = member.lines.try_send(Arc::clone(&line))
            {
                behind.push(peer);
            }
        }
        for peer in behind {
            // (The telling below may already have sent it away: then it is gone.)
            let Some(member) = self.members.remove(&peer) else {
                continue;
            };
            let why = format!("too far behind: {} lines waiting (--queue)", self.queue);
            self.send_to_others(peer, format!("* {} left: {why}\n", member.name));
            let _ = member.kick.send(why);
        }
    }
}
// ANCHOR_END: room

/// Locks the room. A lock that a panicking task "poisoned" still holds a whole table: use it.
fn lock(room: &Mutex<Room>) -> MutexGuard<'_, Room> {
    room.lock().unwrap_or_else(PoisonError::into_inner)
}

// ANCHOR: join
impl Room {
    /// Adds a client under `name`, which must not be taken; returns how many others are here.
    fn join(
        &mut self,
        peer: SocketAddr,
        name: &str,
        lines: mpsc::Sender<Arc<str>>,
        kick: oneshot::Sender<String>,
    ) -> anyhow::Result<usize> {
        let taken = self.members.values().any(|m| m.name == name);
        ensure!(!taken, "the name {name} is taken; try another");
        let others = self.members.len();
        let joined = format!("* {name} joined\n");
        let name = name.to_string();
        self.members.insert(peer, Member { name, lines, kick });
        self.send_to_others(peer, joined);
        Ok(others)
    }

    /// Takes a client out (unless the room has sent it away already) and tells the others.
    fn leave(&mut self, peer: SocketAddr, why: Option<String>) {
        if let Some(member) = self.members.remove(&peer) {
            let why = why.map(|why| format!(": {why}")).unwrap_or_default();
            self.send_to_others(peer, format!("* {} left{why}\n", member.name));
        }
    }
}
// ANCHOR_END: join

// ANCHOR: visit
/// One client's visit: the welcome, its name, then the room, until it leaves (`Ok`) or is
/// sent away (`Err`, with the reason).
async fn visit(
    mut reader: BufReader<OwnedReadHalf>,
    writer: &mut OwnedWriteHalf,
    peer: SocketAddr,
    room: &Mutex<Room>,
    idle: Duration,
) -> anyhow::Result<()> {
    writer.write_all(b"Welcome! Your name?\n").await?;
    let Some(name) = read_line(&mut reader, idle).await?.filter(|n| n != "/quit") else {
        return Ok(()); // gone, or `/quit`, before saying a name
    };
    check_name(&name)?;
    let (lines, mut queued) = mpsc::channel(lock(room).queue);
    let (kick, mut kicked) = oneshot::channel();
    let others = lock(room).join(peer, &name, lines, kick)?;
    logln!("{peer} joined as {name}");
    // Written before the loop below starts writing what the others say, so it comes first.
    let you = format!("* You are {name}; others here: {others}\n");
    writer.write_all(you.as_bytes()).await?;

    // Two loops at once, in this one task: what the client types goes to the room, and what
    // the room queues for the client is written to it. The first to finish ends both.
    let reading = async {
        while let Some(line) = read_line(&mut reader, idle).await? {
            if line == "/quit" {
                break;
            }
            if !line.is_empty() {
                lock(room).send_to_others(peer, format!("{name}: {line}\n"));
            }
            // Give the tasks that write to the others a turn before the next line.
            tokio::task::yield_now().await;
        }
        anyhow::Ok(())
    };
    let writing = async {
        let mut waiting = Vec::new();
        // All the lines waiting (up to 100) in one write: a write per line would cost a
        // packet per line, each taking far more buffer space than its few bytes.
        while queued.recv_many(&mut waiting, 100).await > 0 {
            writer.write_all(waiting.concat().as_bytes()).await?;
            waiting.clear();
        }
        anyhow::Ok(())
    };
    let result = tokio::select! {
        result = reading => result,
        result = writing => result,
        // Sent away by the room: a write stuck in `writing` is dropped with it.
        why = &mut kicked => Err(anyhow!(why.unwrap_or_default())),
    };
    // If the room sent this client away, that is why the visit ended, even when `writing`
    // noticed first (by emptying the queue into a roomy socket buffer).
    let result = match kicked.try_recv() {
        Ok(why) => Err(anyhow!(why)),
        Err(_) => result,
    };
    lock(room).leave(peer, result.as_ref().err().map(|e| e.to_string()));
    result
}
// ANCHOR_END: visit

// ANCHOR: read_line
/// The next line, without its `\n` or `\r\n`, shown safe (`printable`); `None` at the end of
/// the stream. Waits at most `idle`, and reads at most MAX_LINE + 2 bytes, whatever comes.
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    idle: Duration,
) -> anyhow::Result<Option<String>> {
    let mut line = Vec::new();
    // `take` ends the read after MAX_LINE + 2 bytes even without a newline: a client that
    // sends a megabyte in one line costs this server 1 KB, not a megabyte.
    let mut limited = reader.take(MAX_LINE as u64 + 2);
    let read = timeout(idle, limited.read_until(b'\n', &mut line)).await;
    let secs = idle.as_secs_f64();
    let n = read.map_err(|_| anyhow!("timed out after {secs} s (--idle-timeout)"))??;
    if n == 0 {
        return Ok(None);
    }
    if line.ends_with(b"\n") {
        line.pop();
        if line.ends_with(b"\r") {
            line.pop(); // telnet ends lines with \r\n
        }
    }
    ensure!(line.len() <= MAX_LINE, "line longer than {MAX_LINE} bytes");
    // Control characters become visible escapes here, so no client can steer another's
    // terminal (`nc` prints what it gets as it is).
    Ok(Some(printable(&line)))
}
// ANCHOR_END: read_line

/// A name is 1 to MAX_NAME letters or digits (of any script), `-`, `_` or `.`: no spaces,
/// and no `:` or `*`, which could make a line look like someone else's or the server's.
fn check_name(name: &str) -> anyhow::Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || "-_.".contains(c);
    let length = name.chars().count();
    ensure!(
        (1..=MAX_NAME).contains(&length) && name.chars().all(allowed),
        "bad name \"{name}\": use 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
    );
    Ok(())
}

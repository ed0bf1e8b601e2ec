//! 17_http_server: a small static-file web server with a fixed pool of worker threads.
//!
//! It serves the files of one directory over HTTP/1.1: `GET` sends a file, `HEAD` only its
//! headers. Connections are handed to a fixed number of worker threads through a bounded
//! queue, instead of one new thread per client as in chapter 02. Each request is logged in one
//! line. No request can reach a file outside the directory.
//!
//! Run it in one terminal, and fetch a file with chapter 03's client (or curl, or a browser)
//! in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 17_http_server
//! Listening on 127.0.0.1:8000
//! Serving /path/to/socket-workbook/chapters with 4 worker threads
//! terminal 2$ cargo run --bin 03_http_get -- http://127.0.0.1:8000/17_http_server.md
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 03`. The server prints one line per request,
//! such as `127.0.0.1:50312 "GET /17_http_server.md HTTP/1.1" 200 9123`. Ctrl-C stops it.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use socket_workbook::logln;
use socket_workbook::server::{bind_error, connections};
use socket_workbook::{Args, report, stop_on_ctrl_c};

const USAGE: &str = "\
usage: 17_http_server [ADDR] [DIR] [--threads N] [--queue N] [--timeout SECS] [--dotfiles]

  ADDR            IP:PORT to listen on (default 127.0.0.1:8000; port 0 picks a free port)
  DIR             the directory to serve (default: the workbook's chapters/ directory,
                  found through CARGO_MANIFEST_DIR as it was when the program was built,
                  so the default works from any current directory; a DIR you give is
                  relative to the current directory)
  --threads N     worker threads in the pool (default 4; at most 1000)
  --queue N       accepted connections that may wait for a free worker (default 64;
                  at most 100000)
  --timeout SECS  how long a client may take to send its whole request, and then to
                  take the whole answer (default 10; fractions such as 0.5 are fine)
  --dotfiles      also serve files and directories whose names start with a dot
                  (.git, .env); without it they are 404 Not Found

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

/// The most a request's head (request line and headers) may take. Browsers send well under
/// 2 KiB; a client that sends more is broken or hostile and gets 431.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let threads: usize = args.option("--threads").unwrap_or(4);
    let queue: usize = args.option("--queue").unwrap_or(64);
    let timeout: f64 = args.option("--timeout").unwrap_or(10.0);
    let dotfiles = args.flag("--dotfiles");
    // Checked before anything is bound or allocated: a queue of 10^11 places would abort.
    if !(1..=1000).contains(&threads) {
        args.usage_error("--threads must be from 1 to 1000");
    }
    if !(1..=100_000).contains(&queue) {
        args.usage_error("--queue must be from 1 to 100000");
    }
    if !(0.001..=86400.0).contains(&timeout) {
        args.usage_error("--timeout must be from 0.001 to 86400 seconds");
    }
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:8000");
    let default_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/chapters");
    let dir: PathBuf = args.next_or("DIR", default_dir);
    args.finish();
    let timeout = Duration::from_secs_f64(timeout);
    // The real, absolute path, with every symbolic link resolved: requests are checked
    // against it, so it must be in the same form as the paths they resolve to.
    let root = dir
        .canonicalize()
        .map_err(|e| anyhow!("cannot serve {}: {e}", dir.display()))?;
    if !root.is_dir() {
        return Err(anyhow!("cannot serve {}: not a directory", dir.display()));
    }

    // Python: s = socket.socket(); s.bind(addr); s.listen() (chapter 02 shows each step;
    // std's `bind` does all three, and sets SO_REUSEADDR as chapter 02 did)
    let listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Ctrl-C sets `stop`, then connects to us once so the blocked `accept` returns. It is
    // installed before the first line, so a Ctrl-C sent as soon as that line appears is seen.
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");
    logln!("Serving {} with {threads} worker threads", root.display());

    // ANCHOR: pool
    // The queue holds at most `queue` connections. The workers share its receiving end; the
    // mutex lets exactly one idle worker wait on it at a time.
    let (sender, receiver) = mpsc::sync_channel::<(TcpStream, SocketAddr)>(queue);
    let receiver = Arc::new(Mutex::new(receiver));
    let root = Arc::new(root);
    for n in 0..threads {
        let receiver = Arc::clone(&receiver);
        let root = Arc::clone(&root);
        // Builder returns an error where thread::spawn would panic (chapter 02).
        thread::Builder::new()
            .spawn(move || worker(&receiver, &root, timeout, dotfiles))
            .with_context(|| format!("could not start worker thread {n} of {threads}"))?;
    }
    // ANCHOR_END: pool

    // ANCHOR: accept_loop
    // The accept loop of chapter 02, from the helper (src/server.rs).
    for (stream, peer) in connections(&listener, &stop) {
        // When the queue is full, `send` waits for a worker to take one. Meanwhile we do not
        // accept, and new clients wait in the listen backlog (chapter 02): the server slows
        // down instead of starting ever more threads.
        if sender.send((stream, peer)).is_err() {
            break; // no worker is left to receive (they only stop if they panic)
        }
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

// ANCHOR: worker
/// One worker thread: takes connections off the queue and serves each, one at a time.
fn worker(
    receiver: &Mutex<Receiver<(TcpStream, SocketAddr)>>,
    root: &Path,
    timeout: Duration,
    dotfiles: bool,
) {
    loop {
        // Hold the lock only while taking one connection: the guard is dropped at the end of
        // this statement, so another worker can wait for the next one while we serve.
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok((mut stream, peer)) = next else {
            return; // the sending end is gone: the server is stopping
        };
        let mut log = Log {
            request: "-".to_string(),
            status: "-".to_string(),
            sent: 0,
        };
        let problem = match serve(&mut stream, root, timeout, dotfiles, &mut log) {
            Ok(()) => String::new(),
            Err(e) => format!(" ({})", cause(&e, timeout)),
        };
        // One access-log line per request: who, what they asked (quoted, so that odd bytes
        // cannot fake a log line), the status, and how many body bytes were really sent
        // (all of them, unless the line ends with the cause of a failure).
        logln!(
            "{peer} {:?} {} {}{problem}",
            log.request,
            log.status,
            log.sent
        );
        finish(stream, timeout);
    }
}

/// What the access log records about one request.
struct Log {
    request: String,
    status: String,
    sent: u64,
}

/// Why a connection failed, in plain words. A write timeout shows up on Linux as
/// `WouldBlock`, "Resource temporarily unavailable", which says nothing to a reader.
fn cause(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => format!(
            "timed out: the client did not take the whole answer within {} s",
            timeout.as_secs_f64()
        ),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => {
            "the client closed the connection".to_string()
        }
        _ => e.to_string(),
    }
}
// ANCHOR_END: worker

// ANCHOR: serve
/// Serves one request, noting in `log` what happened. An error means the connection failed.
fn serve(
    stream: &mut TcpStream,
    root: &Path,
    timeout: Duration,
    dotfiles: bool,
    log: &mut Log,
) -> io::Result<()> {
    stream.set_write_timeout(Some(timeout))?;
    let head = match read_head(stream, timeout) {
        Head::Complete(head) => head,
        Head::TooLarge => return send_error(stream, log, "GET", 431),
        Head::TimedOut => return send_error(stream, log, "GET", 408),
        Head::Closed(e) => return Err(e),
    };
    // The request line: `GET /index.html HTTP/1.1`. The header lines after it are not needed
    // to serve a file, so we do not look at them.
    let text = String::from_utf8_lossy(&head);
    let request_line = text.split("\r\n").next().unwrap_or_default();
    log.request = request_line.to_string();
    let words: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = words[..] else {
        return send_error(stream, log, "GET", 400);
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") || !target.starts_with('/') {
        return send_error(stream, log, method, 400);
    }
    if method != "GET" && method != "HEAD" {
        return send_error(stream, log, method, 405);
    }
    let path = match resolve(root, target, dotfiles) {
        Ok(path) => path,
        Err(status) => return send_error(stream, log, method, status),
    };
    let Ok(mut file) = File::open(&path) else {
        return send_error(stream, log, method, 404);
    };
    let length = file.metadata()?.len();
    log.status = "200".to_string();
    send_head(stream, 200, content_type(&path), length, "")?;
    if method == "GET" {
        // HEAD gets the same headers as GET, and no body. GET gets the file, copied from
        // the disk to the socket in pieces, so even a huge file needs little memory.
        let deadline = Instant::now() + timeout;
        send_file(&mut file, stream, deadline, &mut log.sent)?;
    }
    Ok(())
}

/// Copies `file` (or any reader) to the client by `deadline`, adding to `sent` what the socket took. A
/// timeout per write would not do: a client that reads a little now and then makes every
/// write succeed, and could keep this worker for hours (4 such clients took the whole pool).
fn send_file(
    file: &mut impl Read,
    stream: &mut TcpStream,
    deadline: Instant,
    sent: &mut u64,
) -> io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        let mut piece = &buffer[..n];
        while !piece.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            stream.set_write_timeout(Some(left))?;
            match stream.write(piece) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(written) => {
                    *sent += written as u64;
                    piece = &piece[written..];
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: read_head
/// What came in before the blank line that ends a request's head.
enum Head {
    Complete(Vec<u8>),
    TooLarge,
    TimedOut,
    Closed(io::Error),
}

/// Reads until the blank line that ends the request's head. The whole head must arrive within
/// `timeout`: a client that sends nothing, or one byte now and then, cannot keep a worker.
fn read_head(stream: &mut TcpStream, timeout: Duration) -> Head {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        // The limit counts the head only: one read may bring the head and more after it.
        match head.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) if end <= MAX_HEAD => {
                head.truncate(end);
                return Head::Complete(head);
            }
            Some(_) => return Head::TooLarge,
            None if head.len() > MAX_HEAD => return Head::TooLarge,
            None => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Head::TimedOut;
        }
        if let Err(e) = stream.set_read_timeout(Some(left)) {
            return Head::Closed(e);
        }
        // Python: data = sock.recv(1024)
        match stream.read(&mut buffer) {
            Ok(0) => {
                return Head::Closed(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "closed before the end of the request",
                ));
            }
            Ok(n) => head.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Head::TimedOut;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Head::Closed(e),
        }
    }
}
// ANCHOR_END: read_head

// ANCHOR: resolve
/// Finds the file that `target` (such as `/notes/a%20b.md?x=1`) names inside `root`, or the
/// status to answer. `root` is canonical: absolute, with every symbolic link resolved.
fn resolve(root: &Path, target: &str, dotfiles: bool) -> Result<PathBuf, u16> {
    // The query (`?x=1`) does not name a file.
    let path = target.split('?').next().unwrap_or_default();
    // Decode `%20` and friends first: `%2e%2e` is `..` in disguise.
    let path = percent_decode(path).ok_or(400_u16)?;
    // Rebuild the path one part at a time, keeping only plain names: `..` could climb out of
    // root, and a leading `/` must not make the path absolute (Path::join would then drop
    // root entirely).
    let mut file = root.to_path_buf();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(404),
            // `.git`, `.env`: names that start with a dot are hidden, and often secret.
            name if name.starts_with('.') && !dotfiles => return Err(404),
            name => file.push(name),
        }
    }
    // A symbolic link inside root may point anywhere. `canonicalize` follows every link and
    // gives the real path, which must still lie inside root.
    let mut real = file.canonicalize().map_err(|_| 404_u16)?;
    if real.is_dir() {
        real = real
            .join("index.html")
            .canonicalize()
            .map_err(|_| 404_u16)?;
    }
    if !real.starts_with(root) || !real.is_file() {
        return Err(404); // outside root, or not a plain file (a device or a pipe, say)
    }
    // A link with a plain name may point at a hidden file: look at the real path too.
    let hidden = |part: std::path::Component| part.as_os_str().to_string_lossy().starts_with('.');
    if !dotfiles
        && real
            .strip_prefix(root)
            .is_ok_and(|inside| inside.components().any(hidden))
    {
        return Err(404);
    }
    Ok(real)
}
// ANCHOR_END: resolve

/// Decodes `%XX` escapes. `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

// ANCHOR: respond
/// Writes a status line and the headers, ended by the blank line.
fn send_head(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    length: u64,
    extra: &str,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Server: socket-workbook\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {length}\r\n\
         Connection: close\r\n\
         {extra}\r\n",
        reason = reason(status),
    );
    stream.write_all(head.as_bytes())
}

/// Answers with an error status and a one-line text body (no body for HEAD).
fn send_error(stream: &mut TcpStream, log: &mut Log, method: &str, status: u16) -> io::Result<()> {
    log.status = status.to_string();
    let body = format!("{status} {}\n", reason(status));
    // 405 must say which methods would work.
    let extra = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let text = "text/plain; charset=utf-8";
    send_head(stream, status, text, body.len() as u64, extra)?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
        log.sent = body.len() as u64;
    }
    Ok(())
}
// ANCHOR_END: respond

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Unknown",
    }
}

/// The `Content-Type` for a file, from its extension. Browsers use it to decide how to show it.
fn content_type(path: &Path) -> &'static str {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "txt" | "rs" | "toml" | "sh" => "text/plain; charset=utf-8",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

// ANCHOR: finish
/// Closes a connection gently. Closing a socket while unread request bytes wait in it makes
/// the system send a reset (RST), which can destroy our answer before the client reads it
/// (a 431 sent halfway through a huge head, say). So we say "no more from us" first
/// (chapter 16's half-close), then read and discard what the client still sends, until it
/// closes or one deadline passes: at most a second, however slowly it keeps sending.
fn finish(mut stream: TcpStream, timeout: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + timeout.min(Duration::from_secs(1));
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {} // thrown away
        }
    }
}
// ANCHOR_END: finish

//! Step 1 of chapter 17: one connection, served by a worker of the pool.
//!
//! `handle` is the job main.rs gives the pool for each connection: read the request, find the
//! file, send it, write one access-log line, close. How the path is made safe is step 2
//! (paths.rs, chapter 17b); how slow and silent clients are kept from holding a worker is
//! step 3 (deadlines.rs, chapter 17c).

use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use socket_workbook::logln;

use crate::deadlines::{Head, finish, read_head, send_file};
use crate::paths::resolve;

/// What every request needs to know: set once at startup, shared by all the workers.
pub struct Site {
    /// The served directory, canonical: absolute, with every symbolic link resolved.
    pub root: PathBuf,
    /// How long a client may take to send its request, and then to take the answer.
    pub timeout: Duration,
    /// Serve names that start with a dot (`--dotfiles`).
    pub dotfiles: bool,
}

// ANCHOR: handle
/// The job for one connection: serve it, log one line about it, close it.
pub fn handle(mut stream: TcpStream, peer: SocketAddr, site: &Site) {
    let mut log = Log {
        request: "-".to_string(),
        status: "-".to_string(),
        sent: 0,
    };
    let problem = match serve(&mut stream, site, &mut log) {
        Ok(()) => String::new(),
        Err(e) => format!(" ({})", cause(&e, site.timeout)),
    };
    // One access-log line per request: who, what they asked (quoted, so that odd bytes cannot
    // fake a log line), the status, and how many body bytes were really sent (all of them,
    // unless the line ends with the cause of a failure).
    logln!(
        "{peer} {:?} {} {}{problem}",
        log.request,
        log.status,
        log.sent
    );
    finish(stream, site.timeout);
}

/// What the access log records about one request.
struct Log {
    request: String,
    status: String,
    sent: u64,
}
// ANCHOR_END: handle

// ANCHOR: cause
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
// ANCHOR_END: cause

// ANCHOR: serve
/// Serves one request, noting in `log` what happened. An error means the connection failed.
fn serve(stream: &mut TcpStream, site: &Site, log: &mut Log) -> io::Result<()> {
    stream.set_write_timeout(Some(site.timeout))?;
    let head = match read_head(stream, site.timeout) {
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
    let path = match resolve(&site.root, target, site.dotfiles) {
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
        let deadline = Instant::now() + site.timeout;
        send_file(&mut file, stream, deadline, &mut log.sent)?;
    }
    Ok(())
}
// ANCHOR_END: serve

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

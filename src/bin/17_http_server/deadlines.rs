//! Step 3 of chapter 17 (chapters/17c_slow_clients.md): clients that are slow, silent, or send
//! far too much cannot hold a worker of the pool for long.
//!
//! A worker serves one connection at a time, so 4 silent clients would stop a pool of 4. Here
//! every phase of a connection has one deadline: the whole request head must arrive within
//! `--timeout` and be at most 8 KiB (`read_head`), the whole answer must be taken within
//! `--timeout` (`send_file`), and closing waits at most a second (`finish`).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// The most a request's head (request line and headers) may take. Browsers send well under
/// 2 KiB; a client that sends more is broken or hostile and gets 431.
const MAX_HEAD: usize = 8 * 1024;

// ANCHOR: read_head
/// What came in before the blank line that ends a request's head.
pub enum Head {
    Complete(Vec<u8>),
    TooLarge,
    TimedOut,
    Closed(io::Error),
}

/// Reads until the blank line that ends the request's head. The whole head must arrive within
/// `timeout`: a client that sends nothing, or one byte now and then, cannot keep a worker.
pub fn read_head(stream: &mut TcpStream, timeout: Duration) -> Head {
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

// ANCHOR: send_file
/// Copies `file` (or any reader) to the client by `deadline`, adding to `sent` what the socket took. A
/// timeout per write would not do: a client that reads a little now and then makes every
/// write succeed, and could keep this worker for hours (4 such clients took the whole pool).
pub fn send_file(
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
// ANCHOR_END: send_file

// ANCHOR: finish
/// Closes a connection gently. Closing a socket while unread request bytes wait in it makes
/// the system send a reset (RST), which can destroy our answer before the client reads it
/// (a 431 sent halfway through a huge head, say). So we say "no more from us" first
/// (chapter 16's half-close), then read and discard what the client still sends, until it
/// closes or one deadline passes: at most a second, however slowly it keeps sending.
pub fn finish(mut stream: TcpStream, timeout: Duration) {
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

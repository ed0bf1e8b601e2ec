//! Message framing: putting message boundaries back on top of a byte stream.
//!
//! TCP (and a Unix stream socket) delivers bytes, not messages: several writes may arrive in
//! one read, and one write in several reads (chapter 11). Framing 分帧 is how the receiver finds
//! where each message ends. Chapter 12 teaches the two common ways, and later chapters reuse
//! them from here:
//!
//! - a length prefix 长度前缀: 4 bytes, big-endian, saying how many bytes follow
//!   (`write_frame` / `read_frame`);
//! - an end marker 结束标记: each message ends with a newline (`write_line` / `read_line`).
//!
//! Both readers take a size limit, so a peer that announces a huge message (or never sends
//! the newline) cannot make the receiver allocate gigabytes. Both report a peer that closes in
//! the middle of a message as an error of kind `UnexpectedEof`, and a peer that closes between
//! messages as `Ok(None)`, the normal end. After any error (a read timeout included) part of a
//! message may already have been consumed, so the stream is out of step: close it.

use std::io::{self, BufRead, ErrorKind, Read, Write};

/// A size limit that suits the workbook's programs: 1 MiB per message.
pub const DEFAULT_LIMIT: usize = 1024 * 1024;

// ANCHOR: write_frame
/// Sends one message with a length prefix: 4 bytes of length, big-endian, then the bytes.
pub fn write_frame(writer: &mut impl Write, message: &[u8]) -> io::Result<()> {
    // The length must fit in 4 bytes: refuse (rather than cut) a message of 4 GiB or more.
    let len = u32::try_from(message.len()).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            "a message must be under 4 GiB to fit a 4-byte length",
        )
    })?;
    // Python: sock.sendall(struct.pack('>I', len(data)) + data)
    writer.write_all(&len.to_be_bytes())?;
    writer.write_all(message)
}
// ANCHOR_END: write_frame

// ANCHOR: read_frame
/// Receives one message sent by `write_frame`. Returns `Ok(None)` when the peer closed the
/// connection cleanly between messages; refuses a length over `limit` bytes.
pub fn read_frame(reader: &mut impl Read, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    // The first byte decides between "the peer is done" (end of stream now is fine) and "a
    // message is coming" (end of stream from here on is an error).
    loop {
        match reader.read(&mut header[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // read_exact keeps reading until the buffer is full, however the bytes were split.
    reader
        .read_exact(&mut header[1..])
        .map_err(|e| mid_message(e, "in the middle of a length prefix"))?;
    let len = u32::from_be_bytes(header) as usize;
    // Check the length BEFORE allocating: it comes from the peer, who may lie.
    if len > limit {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a message of {len} bytes is over the limit of {limit} bytes"),
        ));
    }
    let mut message = vec![0u8; len];
    reader
        .read_exact(&mut message)
        .map_err(|e| mid_message(e, &format!("in the middle of a {len}-byte message")))?;
    Ok(Some(message))
}
// ANCHOR_END: read_frame

// ANCHOR: write_line
/// Sends one message followed by the end marker `\n`. The message itself may not contain a
/// newline, or the receiver would see two messages.
pub fn write_line(writer: &mut impl Write, message: &[u8]) -> io::Result<()> {
    if message.contains(&b'\n') {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "a message sent with an end marker cannot contain the marker (a newline)",
        ));
    }
    // Python: sock.sendall(data + b'\n')
    writer.write_all(message)?;
    writer.write_all(b"\n")
}
// ANCHOR_END: write_line

// ANCHOR: read_line
/// Receives one message sent by `write_line`, without its `\n`. Returns `Ok(None)` when the
/// peer closed cleanly between messages; refuses a message of more than `limit` bytes.
///
/// `reader` must be a buffered reader (`BufReader::new(stream)`), made once per connection
/// and kept: it reads big chunks from the socket and keeps whatever follows the newline for
/// the next call.
pub fn read_line(reader: &mut impl BufRead, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    // `take` stops reading after limit + 1 bytes (room for the message and its newline), so a
    // peer that never sends a newline cannot make `line` grow without end.
    reader
        .by_ref()
        .take((limit as u64).saturating_add(1))
        .read_until(b'\n', &mut line)?;
    match line.pop() {
        None => Ok(None), // nothing at all: the peer closed between messages
        Some(b'\n') => Ok(Some(line)),
        Some(_) if line.len() >= limit => Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a message with no newline in its first {limit} bytes is over the limit"),
        )),
        Some(_) => Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            format!(
                "the peer closed the connection in the middle of a message ({} bytes and no newline)",
                line.len() + 1
            ),
        )),
    }
}
// ANCHOR_END: read_line

/// The error for a peer that closes while a message is only partly received.
fn mid_message(e: io::Error, where_: &str) -> io::Error {
    if e.kind() == ErrorKind::UnexpectedEof {
        io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("the peer closed the connection {where_}"),
        )
    } else {
        e
    }
}

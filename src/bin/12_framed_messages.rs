//! 12_framed_messages: two ways to get whole messages back from a byte stream.
//!
//! Chapter 11 showed that TCP keeps the bytes but loses the boundaries between writes. This
//! program sends the same five messages (one of them empty, one of 10000 bytes) over a loopback
//! TCP connection, framed two ways, and shows that the receiver gets exactly those messages
//! back however the bytes are split on the way:
//!
//! - a length prefix: 4 bytes, big-endian, then the message; read with `read_exact`;
//! - an end marker: a newline after each message; read with a buffered reader.
//!
//! Each framing is sent all at once, one byte per write, and in pseudo-random chunks (a fixed
//! seed, so every run is the same). Then it shows what a careful receiver refuses: a length
//! over its limit, a line that never ends, and a peer that closes in the middle of a message.
//! The framing functions live in `src/framing.rs`, where later chapters reuse them.
//!
//! ```text
//! $ cargo run --bin 12_framed_messages
//! ```

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread::{self, JoinHandle};

use anyhow::{Context, anyhow, bail};
use socket_workbook::framing::{DEFAULT_LIMIT, read_frame, read_line, write_frame, write_line};
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 12_framed_messages

Sends the same messages over a loopback TCP connection (127.0.0.1, a free port) with a length
prefix and with an end marker, split in several ways, and shows what the receiver gets.
";

fn main() -> ExitCode {
    report(run())
}

/// How the sender cuts the framed bytes into writes.
#[derive(Clone, Copy)]
enum Split {
    AllAtOnce,
    ByteByByte,
    RandomChunks { seed: u64, max: usize },
}

fn run() -> anyhow::Result<()> {
    let args = Args::from_env(USAGE);
    args.finish();

    // ANCHOR: messages
    let big: Vec<u8> = b"0123456789".repeat(1000); // 10000 bytes: more than one read
    let messages: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        b"how are you?".to_vec(),
        Vec::new(), // an empty message is a message too
        big,
        b"bye".to_vec(),
    ];
    // ANCHOR_END: messages
    println!("The messages:");
    for (i, message) in messages.iter().enumerate() {
        println!("  {}: {}", i + 1, show(message));
    }

    let splits = [
        Split::AllAtOnce,
        Split::ByteByByte,
        Split::RandomChunks { seed: 12, max: 700 },
    ];

    // ANCHOR: length_prefix
    println!();
    println!("Length prefix: 4 bytes of length (big-endian), then the message");
    let mut traffic = Vec::new();
    for message in &messages {
        write_frame(&mut traffic, message)?; // a Vec<u8> is a Write: frame into memory first
    }
    for split in splits {
        let (mut receiver, sender) = send(traffic.clone(), split)?;
        let mut received = Vec::new();
        // Read frames until the sender closes between two of them.
        while let Some(message) = read_frame(&mut receiver, DEFAULT_LIMIT)? {
            received.push(message);
        }
        report_split(split, &traffic, sender, &received, &messages)?;
    }
    // ANCHOR_END: length_prefix

    // ANCHOR: end_marker
    println!();
    println!("End marker: each message followed by a newline");
    let mut traffic = Vec::new();
    for message in &messages {
        write_line(&mut traffic, message)?;
    }
    for split in splits {
        let (receiver, sender) = send(traffic.clone(), split)?;
        // One BufReader for the whole connection: bytes read past one newline stay in it for
        // the next message. A new BufReader per message would lose them.
        let mut reader = BufReader::new(receiver);
        let mut received = Vec::new();
        while let Some(message) = read_line(&mut reader, DEFAULT_LIMIT)? {
            received.push(message);
        }
        report_split(split, &traffic, sender, &received, &messages)?;
    }
    // ANCHOR_END: end_marker

    // ANCHOR: refused
    println!();
    println!("What a careful receiver refuses (the limit here is 100 bytes)");
    let limit = 100;
    // (what it is, sent with a length prefix?, the bytes the peer sends before closing)
    let hostile: [(&str, bool, &[u8]); 4] = [
        ("a length of 4294967295", true, &[0xff, 0xff, 0xff, 0xff]),
        ("a peer that closes mid-frame", true, b"\x00\x00\x00\x0aabc"),
        ("a line with no end", false, &[b'x'; 200]),
        ("a peer that closes mid-line", false, b"hel"),
    ];
    for (what, prefixed, bytes) in hostile {
        let (mut receiver, sender) = send(bytes.to_vec(), Split::AllAtOnce)?;
        let result = if prefixed {
            read_frame(&mut receiver, limit)
        } else {
            read_line(&mut BufReader::new(&mut receiver), limit)
        };
        finish(sender)?;
        match result {
            Err(e) => println!("  {what}: refused: {e}"),
            Ok(Some(got)) => bail!("{what}: expected an error, got the message {}", show(&got)),
            Ok(None) => bail!("{what}: expected an error, got a clean end of stream"),
        }
    }
    // ANCHOR_END: refused
    Ok(())
}

// ANCHOR: send
/// Opens a loopback TCP connection and starts a thread that writes `bytes` into it, cut as
/// `split` says, then closes. Returns the receiving end and the thread.
fn send(
    bytes: Vec<u8>,
    split: Split,
) -> anyhow::Result<(TcpStream, JoinHandle<anyhow::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let addr = listener
        .local_addr()
        .context("reading the listener's address")?;
    let mut sender =
        TcpStream::connect(addr).map_err(|e| anyhow!("could not connect to {addr}: {e}"))?;
    let (receiver, _) = listener.accept().context("accepting the connection")?;
    // Send each write at once, so small writes really travel separately (chapter 14).
    sender.set_nodelay(true).context("setting TCP_NODELAY")?;
    let thread = thread::spawn(move || {
        for chunk in chunks(&bytes, split) {
            sender.write_all(chunk).context("sending")?;
        }
        Ok(()) // dropping `sender` closes the connection: the receiver sees end of stream
    });
    Ok((receiver, thread))
}
// ANCHOR_END: send

/// Cuts `bytes` into the pieces that `split` describes.
fn chunks(bytes: &[u8], split: Split) -> Vec<&[u8]> {
    match split {
        Split::AllAtOnce => vec![bytes],
        Split::ByteByByte => bytes.chunks(1).collect(),
        Split::RandomChunks { seed, max } => {
            let mut random = Xorshift(seed);
            let mut pieces = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let size = (1 + random.below(max)).min(rest.len());
                let (piece, tail) = rest.split_at(size);
                pieces.push(piece);
                rest = tail;
            }
            pieces
        }
    }
}

/// A tiny pseudo-random number generator (xorshift64). From the same seed it gives the same
/// numbers every run, so the "random" chunk sizes, and the output, are the same every time.
struct Xorshift(u64);

impl Xorshift {
    /// A number in 0..n.
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Waits for the sending thread and passes on its error, if any.
fn finish(sender: JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    sender
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?
}

/// Prints one line for one way of splitting, after checking the messages came back exactly.
fn report_split(
    split: Split,
    traffic: &[u8],
    sender: JoinHandle<anyhow::Result<()>>,
    received: &[Vec<u8>],
    sent: &[Vec<u8>],
) -> anyhow::Result<()> {
    finish(sender)?;
    let writes = chunks(traffic, split).len();
    let how = match split {
        Split::AllAtOnce => format!("{writes} write"),
        Split::ByteByByte => format!("{writes} writes of 1 byte"),
        Split::RandomChunks { seed, max } => {
            format!("{writes} writes of 1 to {max} bytes (seed {seed})")
        }
    };
    if received != sent {
        bail!("{how}: the messages received differ from the ones sent");
    }
    println!(
        "  {} bytes in {how}: received {} messages, exactly as sent",
        traffic.len(),
        received.len()
    );
    Ok(())
}

/// A message for printing: short ones in full, long ones by their size and start.
fn show(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    if message.len() <= 20 {
        format!("{text:?}")
    } else {
        let start: String = text.chars().take(20).collect();
        format!("{} bytes: {start:?}...", message.len())
    }
}

//! 11_sticky_packets: TCP carries a stream of bytes, not messages.
//!
//! A self-contained demonstration on loopback: the program connects to itself and shows what
//! the receiving side's reads return.
//!
//! 1. Four small writes (`hello`, `how`, `are`, `you`) arrive glued together in ONE read:
//!    "sticky packets" 粘包.
//! 2. One write of 3000 bytes, read with a 1024-byte buffer like Python's `recv(1024)`, arrives
//!    in three reads.
//! 3. One write of 1 MiB, read into a buffer big enough for all of it, still arrives in many
//!    reads, because the receiving socket's buffer (SO_RCVBUF) holds far less than 1 MiB.
//!
//! ```text
//! $ cargo run --bin 11_sticky_packets
//! ```
//!
//! Parts 1 and 2 print the same every run: every write finishes before the first read, so the
//! receiver always finds all the bytes waiting. Part 3 prints counts that vary a little.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

use anyhow::{Context, anyhow};
use socket_workbook::{Args, report};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 11_sticky_packets

Connects to itself on 127.0.0.1 (a free port) and shows how writes and reads line up.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let args = Args::from_env(USAGE);
    args.finish();
    glued_writes()?;
    println!();
    split_by_small_buffer()?;
    println!();
    split_by_receive_buffer()?;
    Ok(())
}

// ANCHOR: pair
/// A connected pair of TCP sockets on loopback: (sender, receiver).
fn connected_pair(listener: &TcpListener) -> anyhow::Result<(TcpStream, TcpStream)> {
    let addr = listener
        .local_addr()
        .context("reading the listener's address")?;
    let sender =
        TcpStream::connect(addr).map_err(|e| anyhow!("could not connect to {addr}: {e}"))?;
    let (receiver, _) = listener.accept().context("accepting the connection")?;
    Ok((sender, receiver))
}
// ANCHOR_END: pair

// ANCHOR: glued
/// Part 1: several small writes, all finished before the first read, come out as one read.
fn glued_writes() -> anyhow::Result<()> {
    println!("Part 1: four small writes, then the reads");
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let (mut sender, mut receiver) = connected_pair(&listener)?;
    // TCP_NODELAY: send each write at once as its own packet, without waiting to gather small
    // writes together (Nagle's algorithm, chapter 14). Even so, the boundaries are lost.
    sender.set_nodelay(true).context("setting TCP_NODELAY")?;
    let words = ["hello", "how", "are", "you"];
    for (i, word) in words.iter().enumerate() {
        // Python: s.send(word.encode())
        sender.write_all(word.as_bytes()).context("writing")?;
        println!("sender:   write {}: {word:?}", i + 1);
    }
    // Closing the sender ends the stream: the receiver's last read will return 0.
    drop(sender);
    println!("sender:   closed the connection");

    let reads = read_all(&mut receiver, 1024)?;
    for (i, piece) in reads.iter().enumerate() {
        println!(
            "receiver: read {}: {:?}",
            i + 1,
            String::from_utf8_lossy(piece)
        );
    }
    println!("receiver: read {}: end of stream", reads.len() + 1);
    println!(
        "{} writes, {} read: TCP kept the bytes but not the boundaries between them.",
        words.len(),
        reads.len()
    );
    Ok(())
}
// ANCHOR_END: glued

// ANCHOR: read_all
/// Reads until end of stream into a buffer of `size` bytes, and returns what each read gave.
fn read_all(stream: &mut TcpStream, size: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut buffer = vec![0u8; size];
    let mut reads = Vec::new();
    loop {
        // Python: data = conn.recv(size). A read returns what has arrived, up to `size` bytes:
        // one byte, one write, or several writes run together.
        let n = stream.read(&mut buffer).context("reading")?;
        if n == 0 {
            return Ok(reads);
        }
        reads.push(buffer[..n].to_vec());
    }
}
// ANCHOR_END: read_all

// ANCHOR: small_buffer
/// Part 2: one write, read with a buffer smaller than it, comes out in several reads.
fn split_by_small_buffer() -> anyhow::Result<()> {
    println!("Part 2: one write of 3000 bytes, read with a 1024-byte buffer like recv(1024)");
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let (mut sender, mut receiver) = connected_pair(&listener)?;
    sender.write_all(&[b'x'; 3000]).context("writing")?;
    println!("sender:   write 1: 3000 bytes");
    drop(sender);
    let reads = read_all(&mut receiver, 1024)?;
    for (i, piece) in reads.iter().enumerate() {
        println!("receiver: read {}: {} bytes", i + 1, piece.len());
    }
    println!("receiver: read {}: end of stream", reads.len() + 1);
    println!(
        "1 write, {} reads: a read never returns more than its buffer holds.",
        reads.len()
    );
    Ok(())
}
// ANCHOR_END: small_buffer

// ANCHOR: receive_buffer
/// Part 3: one big write, read into a buffer big enough for all of it, still comes out in
/// many reads: the receiving socket holds only SO_RCVBUF bytes at a time.
fn split_by_receive_buffer() -> anyhow::Result<()> {
    const SIZE: usize = 1024 * 1024;
    println!("Part 3: one write of {SIZE} bytes, read into a buffer of {SIZE} bytes");
    // A listener with a small receive buffer (16 KiB asked; Linux doubles it for bookkeeping).
    // Accepted sockets inherit it. It must be set before `listen` (see tcp(7)).
    let addr: SocketAddr = "127.0.0.1:0".parse()?;
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).context("creating a socket")?;
    socket
        .set_recv_buffer_size(16 * 1024)
        .context("setting SO_RCVBUF")?;
    socket
        .bind(&addr.into())
        .context("could not bind 127.0.0.1:0")?;
    socket.listen(1).context("listening")?;
    let listener: TcpListener = socket.into();
    let (mut sender, mut receiver) = connected_pair(&listener)?;

    // 1 MiB need not fit in the buffers between us, so this write may block until we read.
    // It runs on its own thread, so that we can read meanwhile.
    let writer = thread::spawn(move || sender.write_all(&vec![b'x'; SIZE]));
    let reads = read_all(&mut receiver, SIZE)?;
    writer
        .join()
        .map_err(|_| anyhow!("the sending thread panicked"))?
        .context("writing")?;
    println!("sender:   write 1: {SIZE} bytes");
    let total: usize = reads.iter().map(Vec::len).sum();
    let largest = reads.iter().map(Vec::len).max().unwrap_or(0);
    println!(
        "receiver: {total} bytes in {} reads; the largest read was {largest} bytes",
        reads.len()
    );
    println!(
        "1 write, {} reads: its receive buffer is far smaller than the write.",
        reads.len()
    );
    Ok(())
}
// ANCHOR_END: receive_buffer

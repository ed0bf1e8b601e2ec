//! 16_half_close: how a TCP conversation ends.
//!
//! All on 127.0.0.1, with a peer thread in the same program, it shows: `shutdown(Write)`, so
//! the peer reads end of stream while its reply still flows back; a read returning 0 bytes
//! when the peer goes away; writing to a peer that has closed (BrokenPipe or ConnectionReset,
//! and the program lives on); and `write` against `write_all` (Python's `send` against
//! `sendall`), with a `write` that sends only part of the data.
//!
//! Run it with no arguments:
//!
//! ```text
//! $ cargo run --bin 16_half_close
//! ```
//!
//! You will see, for example, `peer: read 23 bytes, then end of stream` followed by the
//! client still receiving the answer, then `a later write: BrokenPipe (Broken pipe (os error
//! 32))`, and `write(1 MiB) to a peer that is not reading: sent 32741 of 1048576 bytes`.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail};
use socket_workbook::{Args, loopback_pair, report};
use socket2::SockRef;

const USAGE: &str = "\
usage: 16_half_close

Shows shutdown(Write) and end of stream, a read of 0 bytes, writing to a closed peer, and
write against write_all with a partial write, all on 127.0.0.1.
";

/// How much the partial-write demonstration tries to send at once: 1 MiB.
const BIG: usize = 1 << 20;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let args = Args::from_env(USAGE);
    args.finish();
    half_close()?;
    read_zero()?;
    write_to_closed_peer()?;
    partial_write()?;
    Ok(())
}

/// A connected pair of TCP streams on loopback: (our end, the peer's end). Both have a
/// 5-second read timeout, so a mistake shows up as an error instead of a hang.
fn pair() -> anyhow::Result<(TcpStream, TcpStream)> {
    let (ours, theirs) = loopback_pair()?; // from src/lib.rs
    for stream in [&ours, &theirs] {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    }
    Ok((ours, theirs))
}

fn half_close() -> anyhow::Result<()> {
    println!("== shutdown(Write): \"I am done sending\" (Python: s.shutdown(socket.SHUT_WR))");
    let (mut client, server) = pair()?;
    // ANCHOR: peer
    // The peer reads until end of stream, THEN answers: it cannot know the request is complete
    // before the client says so.
    let peer = thread::spawn(move || -> std::io::Result<()> {
        let mut server = server;
        let mut request = Vec::new();
        server.read_to_end(&mut request)?; // returns when the client shuts down its sending side
        println!("peer: read {} bytes, then end of stream", request.len());
        let lines = request
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        server.write_all(format!("{lines} lines, {} bytes\nbye\n", request.len()).as_bytes())?;
        Ok(()) // dropping `server` closes the connection
    });
    // ANCHOR_END: peer
    // ANCHOR: shutdown
    client.write_all(b"first line\nsecond line\n")?;
    // Close only our sending direction: the peer's read sees end of stream, but the connection
    // stays open for the answer. close() would end both directions at once.
    client.shutdown(Shutdown::Write)?;
    // Python: f = s.makefile('r'). Rust wraps the stream in a BufReader to read lines.
    for line in BufReader::new(&client).lines() {
        println!("client: got {:?}", line?);
    }
    println!("client: end of stream, the peer has closed too");
    // ANCHOR_END: shutdown
    peer.join()
        .map_err(|_| anyhow!("the peer thread panicked"))??;
    Ok(())
}

fn read_zero() -> anyhow::Result<()> {
    println!("== a read of 0 bytes means the peer closed (Python: s.recv(1024) == b'')");
    let (mut ours, theirs) = pair()?;
    // ANCHOR: read_zero
    drop(theirs); // the peer closes (a process that exits closes its sockets the same way)
    let mut buffer = [0u8; 1024];
    let n = ours.read(&mut buffer)?; // Python's recv_into: read fills a buffer we own
    println!("read returned {n}: end of stream");
    let again = ours.read(&mut buffer)?;
    println!("and again: {again} (it stays at end of stream; stop reading)");
    // ANCHOR_END: read_zero
    Ok(())
}

fn write_to_closed_peer() -> anyhow::Result<()> {
    println!("== writing to a peer that has closed");
    let (mut ours, theirs) = pair()?;
    drop(theirs);
    // ANCHOR: broken_pipe
    // The first write succeeds: the bytes only reach our kernel, which sends them on. The
    // peer's kernel has no socket for them any more, so it answers with a reset (RST), and a
    // later write fails. How soon depends on timing, so we try a bounded number of times.
    let mut failure = None;
    for attempt in 1..=200 {
        match ours.write_all(b"are you there?") {
            Ok(()) => thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                failure = Some((attempt, e));
                break;
            }
        }
    }
    match failure {
        Some((attempt, e)) if attempt > 1 => {
            println!("first write: Ok (the kernel took the bytes)");
            let kind = e.kind();
            let expected = matches!(kind, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset);
            let note = if expected { "" } else { " (unexpected)" };
            println!("a later write: {kind:?} ({e}){note}");
            // In C the process would be killed by SIGPIPE here. Rust ignores SIGPIPE before
            // main starts, so the failure arrives as an error value and we carry on.
            println!("still running: Rust ignores SIGPIPE, so the error came back as a value");
        }
        Some((_, e)) => println!("the very first write failed: {e}"),
        None => bail!("200 writes to a closed peer all succeeded"),
    }
    // ANCHOR_END: broken_pipe
    Ok(())
}

fn partial_write() -> anyhow::Result<()> {
    println!("== write sends what fits, write_all sends everything (Python: send, sendall)");
    let (mut ours, theirs) = pair()?;
    // ANCHOR: partial
    // Small buffers on both sides and a peer that does not read yet: little fits in flight.
    SockRef::from(&ours).set_send_buffer_size(4096)?;
    SockRef::from(&theirs).set_recv_buffer_size(4096)?;
    let data = vec![b'x'; BIG];
    // A non-blocking `write` takes what fits in the buffers and returns that count at once.
    // (A blocking `write` may also return early; `send` in Python behaves the same.)
    ours.set_nonblocking(true)?;
    let sent = ours.write(&data)?;
    println!("write(1 MiB) to a peer that is not reading: sent {sent} of {BIG} bytes");
    // `write_all` loops until everything is written. On a non-blocking socket it gives up with
    // WouldBlock, and you cannot tell how much went out: never mix the two.
    match ours.write_all(&data[sent..]) {
        Ok(()) => println!("write_all on the non-blocking socket: Ok (unexpected)"),
        Err(e) => println!("write_all on the non-blocking socket: {:?}", e.kind()),
    }
    // ANCHOR_END: partial

    let (mut ours, theirs) = pair()?;
    // ANCHOR: write_all
    // A blocking socket and a peer that reads: write_all keeps calling write until all of the
    // data is out, however many calls that takes.
    let reader = thread::spawn(move || -> std::io::Result<usize> {
        let mut received = Vec::new();
        (&theirs).read_to_end(&mut received)?;
        Ok(received.len())
    });
    ours.write_all(&data)?;
    ours.shutdown(Shutdown::Write)?; // end of stream, so the reader's read_to_end returns
    let received = reader
        .join()
        .map_err(|_| anyhow!("the reader thread panicked"))??;
    println!("write_all(1 MiB): the peer received {received} bytes");
    // ANCHOR_END: write_all
    Ok(())
}

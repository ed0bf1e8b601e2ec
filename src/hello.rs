//! The hello protocol of chapters 01 and 02, written once for any byte stream.
//!
//! Chapters 01 and 02 teach it over TCP. Nothing in it depends on TCP: it only reads and
//! writes bytes, so it works unchanged on anything that is `Read + Write`. Chapters 09 and 10
//! reuse it over a Unix domain socket, which is the point they make: the socket family changes
//! how you find the other program, not how you talk to it.

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};

// ANCHOR: serve
/// The server's side: sends `Welcome!`, answers each message X with `Hello, X!`, and returns
/// when the client sends `exit` or closes its side. With a `pause`, waits that long before
/// each reply, as the notes' server does. Errors end this client only.
pub fn serve_hello(mut stream: impl Read + Write, pause: Option<Duration>) -> anyhow::Result<()> {
    // Python: sock.send(b'Welcome!')
    stream
        .write_all(b"Welcome!")
        .context("sending the welcome")?;
    let mut buffer = [0u8; 1024];
    loop {
        // Python: data = sock.recv(1024). One read is taken as one message: that works only
        // because the client waits for each reply (see chapter 02, and 11 for the fix).
        let n = stream.read(&mut buffer).context("reading a message")?;
        if n == 0 {
            return Ok(()); // end of stream: the client closed its side
        }
        // Bytes that are not UTF-8 become U+FFFD instead of crashing the thread.
        let message = String::from_utf8_lossy(&buffer[..n]);
        if let Some(pause) = pause {
            thread::sleep(pause); // Python: time.sleep(1)
        }
        if message == "exit" {
            return Ok(());
        }
        // Python: sock.send(('Hello, %s!' % data.decode('utf-8')).encode('utf-8'))
        let reply = format!("Hello, {message}!");
        stream
            .write_all(reply.as_bytes())
            .context("sending a reply")?;
    }
}
// ANCHOR_END: serve

// ANCHOR: receive
/// The client's side of one step: reads one message, whatever one `read` of up to 1024 bytes
/// returns, and gives back its bytes as they came. A read timeout set on the stream shows up
/// as an error that says so.
pub fn receive_hello(stream: &mut impl Read) -> anyhow::Result<Vec<u8>> {
    let mut buffer = [0u8; 1024];
    let n = loop {
        match stream.read(&mut buffer) {
            Ok(n) => break n,
            // A signal arrived while we waited (Ctrl-Z then `fg` does this when a read timeout
            // is set): nothing went wrong, so wait again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // On Linux an expired read timeout shows up as WouldBlock, elsewhere as TimedOut.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("no answer from the server in time")
            }
            // A server that closes while our last message sits unread in its buffer makes the
            // kernel reset the connection: for us that is the same as a plain close.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break 0,
            Err(e) => bail!("could not read from the server: {e}"),
        }
    };
    if n == 0 {
        bail!("the server closed the connection before answering");
    }
    Ok(buffer[..n].to_vec())
}
// ANCHOR_END: receive

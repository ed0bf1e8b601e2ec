//! 22_chat_client: a client for the chat room of chapter 21. It waits for two things at once,
//! the keyboard and the server, with a thread for each: what you type is sent, and what the
//! room says is printed the moment it arrives, even while you are typing.
//!
//! Start the server, then a client in each of two terminals, and type:
//!
//! ```text
//! terminal 1$ cargo run --bin 21_chat_server
//! terminal 2$ cargo run --bin 22_chat_client -- 127.0.0.1:9999 Ada
//! terminal 3$ cargo run --bin 22_chat_client -- 127.0.0.1:9999 Grace
//! ```
//!
//! or see a whole conversation: `scripts/demo.sh 21`. `/quit` or Ctrl-D (the end of input)
//! leaves the room; the client ends when the server has closed the connection.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::output::printable;
use socket_workbook::{Args, report};

/// The longest line printed as one; a longer one is printed in pieces of this size.
const MAX_LINE: u64 = 64 * 1024;

const USAGE: &str = "\
usage: 22_chat_client [ADDR] [NAME] [--connect-timeout SECONDS]

  ADDR                       IP:PORT of 21_chat_server (default 127.0.0.1:9999)
  NAME                       your name in the room; without it, type it as your first line
  --connect-timeout SECONDS  how long to wait for the server to answer (default 5)

Type a line and press Enter to say it. /quit or Ctrl-D (end of input) leaves the room.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let wait: Duration = args.seconds("--connect-timeout", 5.0);
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:9999");
    let name: Option<String> = args.next_optional("NAME");
    args.finish();

    // ANCHOR: connect
    // Python: s = socket.create_connection(addr, timeout=5)
    let stream = TcpStream::connect_timeout(&addr, wait).map_err(|e| {
        if e.kind() == ErrorKind::TimedOut {
            // Nobody answered at all: say which limit gave up, as the other clients do.
            let seconds = wait.as_secs_f64();
            anyhow!(
                "could not connect to {addr} within {seconds} s (--connect-timeout); nobody \
                 answered: is the server too busy to accept, or a firewall in the way?"
            )
        } else {
            anyhow!("could not connect to {addr}: {e}; is 21_chat_server running there?")
        }
    })?;
    // A second handle on the same socket, for the keyboard's thread to write with.
    let mut to_server = stream.try_clone().context("could not clone the socket")?;
    if let Some(name) = name {
        // The server asks for a name first; given on the command line, it goes right away.
        to_server
            .write_all(format!("{name}\n").as_bytes())
            .with_context(|| format!("could not send the name to {addr}"))?;
    }
    // The keyboard: its own thread, which waits for each line you type and sends it.
    thread::Builder::new()
        .spawn(move || send_typed_lines(to_server))
        .context("could not start the keyboard's thread")?;
    // ANCHOR_END: connect

    // ANCHOR: print
    // The room: this thread waits on the socket and prints each line as soon as it comes.
    let mut from_server = BufReader::new(stream);
    let mut out = std::io::stdout().lock();
    loop {
        let mut line = Vec::new();
        // Python: data = s.recv(1024), split into lines. At most MAX_LINE bytes at a time, so
        // a server that never sends a newline cannot fill our memory.
        let n = (&mut from_server)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("lost the connection to {addr}"))?;
        if n == 0 {
            break; // the end of the stream: the server closed the connection
        }
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        // Text from the network, shown safe: no control character reaches the terminal.
        writeln!(out, "{}", printable(line)).context("could not write to stdout")?;
    }
    writeln!(out, "The server closed the connection.").context("could not write to stdout")?;
    // Returning from main ends the process, and with it the keyboard's thread, which may
    // still be waiting for a line you will never type.
    Ok(())
    // ANCHOR_END: print
}

// ANCHOR: keyboard
/// Sends every line typed (or piped) on stdin. At the end of input, says `/quit`, so the
/// server closes the connection and the printing thread sees the end of the stream.
fn send_typed_lines(mut to_server: TcpStream) {
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(mut line) = line else {
            break; // stdin failed: leave as at the end of input
        };
        line.push(b'\n');
        if to_server.write_all(&line).is_err() {
            return; // the connection is gone; the printing thread reports it
        }
        if line == b"/quit\n" {
            // The server closes on /quit; bytes that reach it after would make the close
            // a reset (chapter 16).
            return;
        }
    }
    let _ = to_server.write_all(b"/quit\n");
}
// ANCHOR_END: keyboard

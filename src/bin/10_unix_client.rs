//! 10_unix_client: the client of chapter 01, on a Unix domain socket instead of TCP.
//!
//! It connects to the socket file of 09_unix_server, prints the welcome, sends each name and
//! prints each reply, then sends `exit` and closes the connection.
//!
//! Start the server first, then the client, in two terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 09_unix_server
//! terminal 2$ cargo run --bin 10_unix_client
//! Welcome!
//! Hello, Michael!
//! Hello, Tracy!
//! Hello, Sarah!
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 09`. Other names go after the path:
//! `cargo run --bin 10_unix_client -- /tmp/socket-workbook.sock Ada Linus`. It gives up
//! connecting after 5 seconds (`--connect-timeout`), and waiting for a reply after 5 seconds.

use std::process::ExitCode;

#[cfg(unix)]
use {
    anyhow::anyhow,
    socket_workbook::hello::receive_hello,
    socket_workbook::output::printable,
    socket_workbook::{Args, report},
    socket2::{Domain, SockAddr, Socket, Type},
    std::io::{ErrorKind, Write},
    std::os::unix::net::UnixStream,
    std::path::{Path, PathBuf},
    std::time::Duration,
};

#[cfg(unix)]
const USAGE: &str = "\
usage: 10_unix_client [PATH] [NAME...] [--connect-timeout SECONDS]

  PATH    the server's socket file (default /tmp/socket-workbook.sock)
  NAME    names to send (default: Michael Tracy Sarah)
  --connect-timeout SECONDS
          give up when the server has not taken the connection within this time
          (default 5)

Start 09_unix_server first.
";

#[cfg(unix)]
fn main() -> ExitCode {
    report(run())
}

// Unix sockets are a Unix feature: on other systems this chapter has nothing to run.
#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("error: 10_unix_client needs a Unix system (Linux, macOS, BSD): it uses AF_UNIX");
    ExitCode::FAILURE
}

#[cfg(unix)]
fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let path: PathBuf = args.next_or("PATH", "/tmp/socket-workbook.sock");
    let mut names = args.rest();
    args.finish();
    if names.is_empty() {
        names = vec!["Michael".into(), "Tracy".into(), "Sarah".into()];
    }

    // ANCHOR: connect
    // Python: s = socket.socket(AF_UNIX, SOCK_STREAM); s.connect(path)
    let mut stream = connect_within(&path, connect_timeout)
        .map_err(|e| connect_error(&path, e, connect_timeout))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| anyhow!("could not set a read timeout: {e}"))?;
    // ANCHOR_END: connect

    // ANCHOR: exchange
    // From here on, the code is chapter 01's: a stream is a stream. `receive_hello` and
    // `printable` are the functions chapter 01 uses, shared in src/hello.rs and src/output.rs.
    println!("{}", printable(&receive_hello(&mut stream)?));
    for name in &names {
        stream
            .write_all(name.as_bytes())
            .map_err(|e| anyhow!("could not send {name:?} to {}: {e}", path.display()))?;
        println!("{}", printable(&receive_hello(&mut stream)?));
    }
    stream
        .write_all(b"exit")
        .map_err(|e| anyhow!("could not send \"exit\" to {}: {e}", path.display()))?;
    // ANCHOR_END: exchange
    Ok(())
}

// ANCHOR: connect_within
/// Connects to the socket file at `path`, waiting at most `timeout`.
///
/// A server whose queue of new connections is full (it does not `accept` fast enough) makes a
/// Unix `connect` wait for room, with no end, and `UnixStream::connect` has no time limit. So
/// the socket is made with socket2, step by step: on Linux a send timeout (SO_SNDTIMEO) set
/// before `connect` bounds that wait too, which then fails with `WouldBlock`. The timeout
/// stays on the socket and bounds every later write as well.
#[cfg(unix)]
fn connect_within(path: &Path, timeout: Duration) -> std::io::Result<UnixStream> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_write_timeout(Some(timeout))?;
    socket.connect(&SockAddr::unix(path)?)?;
    Ok(socket.into())
}
// ANCHOR_END: connect_within

// ANCHOR: connect_error
/// Turns a failed `connect` into one line that names the path and the likely cause.
#[cfg(unix)]
fn connect_error(path: &Path, e: std::io::Error, timeout: Duration) -> anyhow::Error {
    let shown = path.display();
    let hint = match e.kind() {
        // The server's queue stayed full for the whole time: it is too busy to accept.
        ErrorKind::WouldBlock => {
            let seconds = timeout.as_secs_f64();
            return anyhow!(
                "could not connect to {shown} within {seconds} s (--connect-timeout); the \
                 server is too busy to accept"
            );
        }
        // No file at that path: the server is not running, or uses another path.
        ErrorKind::NotFound => "is 09_unix_server running with this path?",
        // A socket file, but nobody accepts on it: a server crashed and left it behind.
        ErrorKind::ConnectionRefused => "the file is there but no server listens on it",
        // The socket file's permissions do not let us write to it.
        ErrorKind::PermissionDenied => "the socket file's permissions do not allow you in",
        ErrorKind::InvalidInput => "a Unix socket path must be shorter than 108 bytes",
        _ => "is the path right?",
    };
    anyhow!("could not connect to {shown}: {e}; {hint}")
}
// ANCHOR_END: connect_error

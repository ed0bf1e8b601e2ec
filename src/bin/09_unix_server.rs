//! 09_unix_server: the hello server of chapter 02, on a Unix domain socket instead of TCP.
//!
//! A Unix socket (`AF_UNIX`) is named by a path in the file system instead of an IP address
//! and a port, and only programs on the same machine can reach it. The conversation is the one
//! of chapter 02: `Welcome!`, then `Hello, X!` for each message X, until `exit`.
//!
//! Run it in one terminal, and the client of chapter 10 in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 09_unix_server
//! terminal 2$ cargo run --bin 10_unix_client
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 09`. The server prints
//! `Listening on /tmp/socket-workbook.sock` first, then one line when a client arrives and one
//! when it leaves. Ctrl-C stops it and removes the socket file. A socket file left behind by a
//! server that crashed is removed at start; one that a running server owns is left alone.

use std::process::ExitCode;

#[cfg(unix)]
use {
    anyhow::{Context, anyhow, bail},
    socket_workbook::hello::serve_hello,
    socket_workbook::logln,
    socket_workbook::server::{ClientLimit, connections, farewell, spawn_client},
    socket_workbook::{Args, report, stop_on_ctrl_c},
    std::io::{ErrorKind, Write},
    std::os::unix::fs::FileTypeExt,
    std::os::unix::net::{UnixListener, UnixStream},
    std::path::{Path, PathBuf},
    std::time::Duration,
};

#[cfg(unix)]
const USAGE: &str = "\
usage: 09_unix_server [PATH] [--max-clients N] [--idle-timeout SECS]

  PATH                 where to create the socket file (default /tmp/socket-workbook.sock);
                       at most 107 bytes on Linux
  --max-clients N      how many clients are served at once (default 1000); one more gets
                       `Busy, try later.` and is disconnected
  --idle-timeout SECS  a client that sends nothing for this long is disconnected (default 300)

The first line printed is `Listening on PATH`.
Stop the server with Ctrl-C; it removes the socket file.
";

#[cfg(unix)]
fn main() -> ExitCode {
    report(run())
}

// Unix sockets are a Unix feature: on other systems this chapter has nothing to run.
#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("error: 09_unix_server needs a Unix system (Linux, macOS, BSD): it uses AF_UNIX");
    ExitCode::FAILURE
}

#[cfg(unix)]
fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    if max_clients < 1 {
        args.usage_error("--max-clients must be at least 1");
    }
    let idle: f64 = args.option("--idle-timeout").unwrap_or(300.0);
    if !(0.001..=86400.0).contains(&idle) {
        args.usage_error("--idle-timeout must be from 0.001 to 86400 seconds");
    }
    let idle = Duration::from_secs_f64(idle);
    let path: PathBuf = args.next_or("PATH", "/tmp/socket-workbook.sock");
    if path.as_os_str().is_empty() {
        // An empty path would give an unnamed socket that no client can ever reach.
        args.usage_error("PATH must not be empty");
    }
    args.finish();

    // ANCHOR: bind
    // A socket file left by an earlier run would make bind fail with "Address already in use".
    let stale = remove_stale_socket(&path)?;
    // Python: s = socket.socket(AF_UNIX, SOCK_STREAM); s.bind(path); s.listen(5)
    // `bind` creates the socket file; Rust's UnixListener binds and listens in one call.
    let listener = UnixListener::bind(&path).map_err(|e| bind_error(&path, e))?;
    // ANCHOR_END: bind

    // ANCHOR: ctrl_c
    // Ctrl-C sets `stop`, then connects to our own socket file once, so the blocked `accept`
    // returns and the loop sees the flag. Installed before the first line is printed, so that
    // whoever reads that line may press Ctrl-C at once.
    let wake_path = path.clone();
    let stop = stop_on_ctrl_c(move || {
        // If no descriptor is left for this connection, the accept loop is pausing (chapter
        // 02) and sees the flag within 100 ms anyway.
        if let Err(e) = UnixStream::connect(&wake_path)
            && e.kind() == ErrorKind::NotFound
        {
            // Someone deleted our socket file: nothing can reach `accept` any more, so stop
            // right here. (There is no file left to remove.)
            logln!("Ctrl-C received, but {} is gone. Bye.", wake_path.display());
            std::process::exit(0);
        }
    })?;
    logln!("Listening on {}", path.display());
    if stale {
        logln!("(removed a stale socket file left by an earlier run)");
    }
    // ANCHOR_END: ctrl_c

    // ANCHOR: accept_loop
    // The accept loop of chapter 02, from the helper (src/server.rs): it ends on Ctrl-C, and
    // pauses instead of spinning when file descriptors run out.
    let clients = ClientLimit::new(max_clients);
    let mut count = 0u64;
    // Python: conn, addr = s.accept(). A client's address is usually empty ("unnamed"):
    // clients rarely bind a path of their own, so we number the connections instead.
    for (mut stream, _addr) in connections(&listener, &stop) {
        count += 1;
        let Some(place) = clients.try_enter() else {
            logln!("Turned away connection #{count}: {max_clients} clients already connected.");
            let _ = stream.write_all(b"Busy, try later.");
            continue;
        };
        // If no thread can be had, the connection is closed and the loop goes on.
        spawn_client(format!("connection #{count}"), move || {
            logln!("Accept new connection #{count}...");
            // The protocol is chapter 02's, shared in src/hello.rs: only the socket changed.
            // A client that sends nothing for `idle` is disconnected, as in chapter 02.
            let result = stream
                .set_read_timeout(Some(idle))
                .and(stream.set_write_timeout(Some(idle)))
                .context("could not set the idle timeout")
                .and_then(|()| serve_hello(&stream, None));
            drop(place); // given back before the close, as in chapter 02
            drop(stream);
            logln!("Connection #{count} {}", farewell(&result, idle));
        });
    }
    // The file is not removed when the listener closes: we must delete it ourselves, or the
    // next run would find it in the way.
    drop(listener);
    std::fs::remove_file(&path)
        .with_context(|| format!("could not remove the socket file {}", path.display()))?;
    logln!(
        "Ctrl-C received: stopped accepting connections and removed {}. Bye.",
        path.display()
    );
    // ANCHOR_END: accept_loop
    Ok(())
}

// ANCHOR: stale
/// If a socket file is already at `path`, finds out whether a server still owns it. A file
/// left by a server that crashed is "stale": nobody accepts on it, so connecting is refused.
/// Removes a stale file and returns true; refuses to touch a live server's file, or anything
/// that is not a socket.
#[cfg(unix)]
fn remove_stale_socket(path: &Path) -> anyhow::Result<bool> {
    let shown = path.display();
    // symlink_metadata: look at the path itself, without following a symbolic link.
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return Ok(false); // nothing there (or nothing we can see): bind will tell
    };
    if !metadata.file_type().is_socket() {
        bail!("{shown} exists and is not a socket file; refusing to replace it");
    }
    match UnixStream::connect(path) {
        Ok(_) => bail!("{shown} is in use by a running server; stop it first or pick another path"),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path)
                .with_context(|| format!("could not remove the stale socket file {shown}"))?;
            Ok(true)
        }
        Err(e) => bail!("could not check whether {shown} is in use: {e}"),
    }
}
// ANCHOR_END: stale

// ANCHOR: bind_error
/// Turns a failed `bind` into one line that names the path and the likely fix.
#[cfg(unix)]
fn bind_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    let shown = path.display();
    let len = path.as_os_str().len();
    let hint = match e.kind() {
        // The address is a fixed-size field (sun_path: 108 bytes on Linux, 104 on macOS) that
        // ends with a zero byte.
        ErrorKind::InvalidInput => {
            format!("the path is {len} bytes; a Unix socket path must be shorter than 108")
        }
        ErrorKind::NotFound => "does its directory exist?".to_string(),
        ErrorKind::PermissionDenied => "may you create files in its directory?".to_string(),
        // After remove_stale_socket, only a server starting at the same moment can cause this.
        ErrorKind::AddrInUse => {
            "a socket file is already there; is another server starting?".to_string()
        }
        _ => "is the path right?".to_string(),
    };
    anyhow!("could not bind {shown}: {e}; {hint}")
}
// ANCHOR_END: bind_error

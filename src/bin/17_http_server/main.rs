//! 17_http_server: a small static-file web server with a fixed pool of worker threads.
//!
//! It serves the files of one directory over HTTP/1.1: `GET` sends a file, `HEAD` only its
//! headers. Connections are handed to a fixed number of worker threads through a bounded
//! queue, instead of one new thread per client as in chapter 02. Each request is logged in one
//! line. No request can reach a file outside the directory.
//!
//! Run it in one terminal, and fetch a file with chapter 03's client (or curl, or a browser)
//! in another:
//!
//! ```text
//! terminal 1$ cargo run --bin 17_http_server
//! Listening on 127.0.0.1:8000
//! Serving /path/to/socket-workbook/chapters with 4 worker threads
//! terminal 2$ cargo run --bin 03_http_get -- http://127.0.0.1:8000/17_http_server.md target/17.md
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 03`. The server prints one line per request,
//! such as `127.0.0.1:50312 "GET /17_http_server.md HTTP/1.1" 200 9123`. Ctrl-C stops it.
//!
//! The program is taught in three steps, one module each, read in this order:
//!
//! 1. pool.rs, this file and serve.rs: the thread pool, the accept loop that feeds it, and a
//!    worker serving one request (chapters/17_http_server.md);
//! 2. paths.rs: no URL path leads out of the served directory (chapters/17b_safe_paths.md);
//! 3. deadlines.rs: slow, silent and flooding clients cannot keep a worker
//!    (chapters/17c_slow_clients.md).

mod deadlines;
mod paths;
mod pool;
mod serve;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use socket_workbook::logln;
use socket_workbook::server::{bind_error, connections};
use socket_workbook::{Args, report, stop_on_ctrl_c};

use pool::ThreadPool;
use serve::Site;

const USAGE: &str = "\
usage: 17_http_server [ADDR] [DIR] [--threads N] [--queue N] [--timeout SECS] [--dotfiles]

  ADDR            IP:PORT to listen on (default 127.0.0.1:8000; port 0 picks a free port)
  DIR             the directory to serve (default: the workbook's chapters/ directory,
                  found through CARGO_MANIFEST_DIR as it was when the program was built,
                  so the default works from any current directory; a DIR you give is
                  relative to the current directory)
  --threads N     worker threads in the pool (default 4; at most 1000)
  --queue N       accepted connections that may wait for a free worker (default 64;
                  at most 100000)
  --timeout SECS  how long a client may take to send its whole request, and then to
                  take the whole answer (default 10; fractions such as 0.5 are fine)
  --dotfiles      also serve files and directories whose names start with a dot
                  (.git, .env); without it they are 404 Not Found

The first line printed is the address really bound: `Listening on IP:PORT`.
Stop the server with Ctrl-C.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let threads: usize = args.option("--threads").unwrap_or(4);
    let queue: usize = args.option("--queue").unwrap_or(64);
    let timeout: f64 = args.option("--timeout").unwrap_or(10.0);
    let dotfiles = args.flag("--dotfiles");
    // Checked before anything is bound or allocated: a queue of 10^11 places would abort.
    if !(1..=1000).contains(&threads) {
        args.usage_error("--threads must be from 1 to 1000");
    }
    if !(1..=100_000).contains(&queue) {
        args.usage_error("--queue must be from 1 to 100000");
    }
    if !(0.001..=86400.0).contains(&timeout) {
        args.usage_error("--timeout must be from 0.001 to 86400 seconds");
    }
    let addr: SocketAddr = args.next_or("ADDR", "127.0.0.1:8000");
    let default_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/chapters");
    let dir: PathBuf = args.next_or("DIR", default_dir);
    args.finish();
    let timeout = Duration::from_secs_f64(timeout);
    // The real, absolute path, with every symbolic link resolved: requests are checked
    // against it, so it must be in the same form as the paths they resolve to.
    let root = dir
        .canonicalize()
        .map_err(|e| anyhow!("cannot serve {}: {e}", dir.display()))?;
    if !root.is_dir() {
        return Err(anyhow!("cannot serve {}: not a directory", dir.display()));
    }

    // Python: s = socket.socket(); s.bind(addr); s.listen() (chapter 02 shows each step;
    // std's `bind` does all three, and sets SO_REUSEADDR as chapter 02 did)
    let listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Ctrl-C sets `stop`, then connects to us once so the blocked `accept` returns. It is
    // installed before the first line, so a Ctrl-C sent as soon as that line appears is seen.
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(local);
    })?;
    logln!("Listening on {local}");
    logln!("Serving {} with {threads} worker threads", root.display());

    // ANCHOR: accept_loop
    // What every request needs to know, shared by the workers (read only, so no mutex).
    let site = Arc::new(Site {
        root,
        timeout,
        dotfiles,
    });
    let pool = ThreadPool::new(threads, queue)?;
    // The accept loop of chapter 02, from the helper (src/server.rs).
    for (stream, peer) in connections(&listener, &stop) {
        let site = Arc::clone(&site);
        // When the queue is full, `execute` waits for a worker to take a job. Meanwhile we do
        // not accept, and new clients wait in the listen backlog (chapter 02): the server
        // slows down instead of starting ever more threads.
        if !pool.execute(move || serve::handle(stream, peer, &site)) {
            break; // no worker is left to run it
        }
    }
    // ANCHOR_END: accept_loop

    // Returning drops the pool and so the queue's sending end: idle workers see it closed and
    // end. A worker still serving a request is cut off when the process exits (chapter 17c).
    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

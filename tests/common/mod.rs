//! The test harness shared by every test file.
//!
//! - `Server::start` runs a server binary, reads its first line (`Listening on ADDR` or the
//!   like) to learn the address it really bound, and drains the rest of its output on threads,
//!   so the server never blocks on a full pipe. Dropping a `Server` kills and reaps it, even
//!   when the test panics.
//! - `run` runs a program (usually a client) to the end, with a time limit.
//! - `connect` opens a raw TCP connection with read and write timeouts.
//!
//! Every wait here is bounded by a timeout, and none of them sleeps: waits are on pipes and
//! channels, which wake up the moment the awaited line or exit arrives.
#![allow(dead_code)] // each test file uses only part of the harness

pub mod chat;
pub mod hello;
pub mod http;
pub mod tls;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous, because a loaded CI
/// machine can be slow; a passing test never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The directory that holds the built binaries (`target/debug`).
pub fn bin_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_01_tcp_client"))
        .parent()
        .expect("binaries live in a directory")
}

/// The path of the built binary `name`, such as `02_tcp_server`.
pub fn bin(name: &str) -> std::path::PathBuf {
    bin_dir().join(name)
}

/// The root of the workbook (where Cargo.toml is).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One line of a child's output, or the end of it.
#[derive(Debug)]
enum Line {
    Out(String),
    Err(String),
}

/// A running server process. Killed and reaped when dropped.
pub struct Server {
    child: Child,
    /// The server's first stdout line, such as `Listening on 127.0.0.1:41234`.
    pub first_line: String,
    /// The address taken from the end of the first line.
    pub addr: String,
    lines: Receiver<Line>,
    /// Every line seen so far after the first, stdout and stderr, in arrival order.
    pub seen: Vec<String>,
}

impl Server {
    /// Starts `name` with `args` and waits for its first stdout line.
    pub fn start(name: &str, args: &[&str]) -> Server {
        Server::start_command(Command::new(bin(name)).args(args))
    }

    /// Starts a prepared command and waits for its first stdout line.
    pub fn start_command(command: &mut Command) -> Server {
        Server::start_with(command, true)
    }

    /// Starts a prepared command, reads its first stdout line, then closes our end of its
    /// stdout, as `server | head -n 1` does once `head` has quit: from then on every write
    /// the server makes to stdout fails (EPIPE). Stderr is still read.
    pub fn start_closing_stdout(command: &mut Command) -> Server {
        Server::start_with(command, false)
    }

    fn start_with(command: &mut Command, keep_stdout: bool) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("could not start the server binary");
        let (sender, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        let to_out = sender.clone();
        if keep_stdout {
            thread::spawn(move || forward(out, move |l| to_out.send(Line::Out(l)).is_ok()));
        } else {
            thread::spawn(move || {
                let mut reader = BufReader::new(out);
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                // Closed before the line is handed on, so the server's next write fails.
                drop(reader);
                let _ = to_out.send(Line::Out(first.trim_end().to_string()));
            });
        }
        thread::spawn(move || forward(err, move |l| sender.send(Line::Err(l)).is_ok()));
        let mut server = Server {
            child,
            first_line: String::new(),
            addr: String::new(),
            lines,
            seen: Vec::new(),
        };
        // The first stdout line names the address; anything on stderr first is a failure.
        match server.lines.recv_timeout(TIMEOUT) {
            Ok(Line::Out(line)) => {
                server.addr = line.rsplit(' ').next().unwrap_or_default().to_string();
                server.first_line = line;
            }
            Ok(Line::Err(line)) => panic!("server wrote to stderr before starting: {line}"),
            Err(e) => panic!("server printed no first line within {TIMEOUT:?}: {e}"),
        }
        server
    }

    /// The address as a `SocketAddr` (for TCP and UDP servers).
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
            .parse()
            .unwrap_or_else(|e| panic!("first line {:?} has no address: {e}", self.first_line))
    }

    /// The process id, for sending signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until a line that contains `text` arrives, and returns it. Lines before it are
    /// kept in `seen`. Panics after `TIMEOUT`.
    pub fn expect_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Out(line) | Line::Err(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line containing {text:?} within {TIMEOUT:?}; seen: {:#?}",
                        self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "server exited before printing {text:?}; seen: {:#?}",
                        self.seen
                    )
                }
            }
        }
    }

    /// Like `expect_line`, but waits at most `wait` and returns `None` instead of panicking,
    /// so that the caller can say in its own words what did not happen.
    pub fn line_within(&mut self, text: &str, wait: Duration) -> Option<String> {
        let deadline = Instant::now() + wait;
        if let Some(line) = self.seen.iter().find(|l| l.contains(text)) {
            return Some(line.clone());
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Out(line) | Line::Err(line)) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        signal(self.pid(), "-INT");
    }

    /// Waits for the server to exit on its own (its output ends), and returns its exit status
    /// and every line it printed after the first. Panics after `TIMEOUT`.
    pub fn wait_exit(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Out(line) | Line::Err(line)) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "server did not exit within {TIMEOUT:?}; seen: {:#?}",
                        self.seen
                    )
                }
            }
        }
        let status = self.child.wait().expect("could not reap the server");
        (status, self.seen.clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal (`-INT`, `-TERM`, ...) to a process with the system's `kill` command.
pub fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("could not run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

/// Reads lines (lossily: a child may print bytes that are not UTF-8) and hands each to `give`
/// until the pipe closes or `give` returns false.
fn forward(pipe: impl Read, mut give: impl FnMut(String) -> bool) {
    let mut reader = BufReader::new(pipe);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&raw);
                if !give(line.trim_end_matches(['\n', '\r']).to_string()) {
                    return;
                }
            }
        }
    }
}

/// What a finished program printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs binary `name` with `args` to the end, within `TIMEOUT`.
pub fn run(name: &str, args: &[&str]) -> Output {
    run_command(Command::new(bin(name)).args(args))
}

/// Runs a prepared command to the end, within `TIMEOUT`; kills it and panics if it overruns.
pub fn run_command(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start the program");
    let guard = KillOnDrop(child.id());
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let (sender, done) = mpsc::channel();
    let stderr_sender = sender.clone();
    thread::spawn(move || {
        let mut text = Vec::new();
        let _ = out.read_to_end(&mut text);
        let _ = sender.send((true, text));
    });
    thread::spawn(move || {
        let mut text = Vec::new();
        let _ = err.read_to_end(&mut text);
        let _ = stderr_sender.send((false, text));
    });
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + TIMEOUT;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match done.recv_timeout(left) {
            Ok((true, text)) => stdout = text,
            Ok((false, text)) => stderr = text,
            Err(_) => panic!(
                "program did not finish within {TIMEOUT:?}; stdout so far unknown, command: {command:?}"
            ),
        }
    }
    let status = child.wait().expect("could not reap the program");
    std::mem::forget(guard); // reaped: nothing left to kill
    Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Kills a process by id when dropped (used while a `Child` is borrowed elsewhere).
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Opens a TCP connection to `addr` with read and write timeouts of `TIMEOUT`.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .unwrap_or_else(|e| panic!("could not connect to {addr}: {e}"));
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    stream
        .set_write_timeout(Some(TIMEOUT))
        .expect("write timeout");
    stream
}

/// Reads once (up to 64 KiB) and returns the bytes; panics on timeout or error.
pub fn read_once(stream: &mut TcpStream) -> Vec<u8> {
    let mut buffer = vec![0u8; 65536];
    let n = loop {
        match stream.read(&mut buffer) {
            Ok(n) => break n,
            // A signal, not a failure: when another test thread spawns a program while a child
            // exits, SIGCHLD can interrupt a read that has a timeout (signal(7)). Read again.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read failed: {e}"),
        }
    };
    buffer.truncate(n);
    buffer
}

/// Reads exactly `len` bytes; panics on timeout, error or early end of stream.
pub fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; len];
    stream
        .read_exact(&mut buffer)
        .unwrap_or_else(|e| panic!("reading {len} bytes failed: {e}"));
    buffer
}

/// Reads until the peer closes; panics on timeout or error.
pub fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut buffer = Vec::new();
    stream
        .read_to_end(&mut buffer)
        .unwrap_or_else(|e| panic!("read to end failed: {e}"));
    buffer
}

/// Starts program `name` with `args`, which it must refuse before it starts serving: returns
/// its exit status and what it printed on stderr. Fails at once, saying `why`, if it prints a
/// first line on stdout (it started) or neither prints nor exits within `TIMEOUT`.
pub fn expect_refused(name: &str, args: &[&str], why: &str) -> (Option<i32>, String) {
    let mut child = Command::new(bin(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {name}: {e}"));
    let mut out = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let (send, first) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let _ = send.send(line);
    });
    // An empty line means stdout closed: the program exited without printing anything.
    let line = first.recv_timeout(TIMEOUT);
    if line.as_ref().is_ok_and(|l| l.is_empty()) {
        let mut stderr = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr is piped")
            .read_to_string(&mut stderr);
        let status = child.wait().expect("could not reap the program");
        return (status.code(), stderr);
    }
    let _ = child.kill();
    let _ = child.wait();
    match line {
        Ok(line) => panic!(
            "{why}, but {name} started: it printed {:?}",
            line.trim_end()
        ),
        Err(_) => panic!("{why}, but {name} neither printed nor exited in time"),
    }
}

/// Bytes as text for a failure message: lossy UTF-8, quoted, with control characters escaped,
/// so a message reads `"Hello, Ada!"` instead of `[72, 101, 108, ...]`.
pub fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// Fails the test with `WHAT: expected "WANT", got "GOT"` unless `got` is exactly `want`.
#[track_caller]
pub fn expect_text(what: &str, got: &[u8], want: &str) {
    if got != want.as_bytes() {
        panic!(
            "{what}: expected {}, got {}",
            text(want.as_bytes()),
            text(got)
        );
    }
}

/// Raw UDP sockets for the UDP and broadcast tests (chapters 05 to 08).
pub mod udp;
#[cfg(unix)]
pub mod unix;

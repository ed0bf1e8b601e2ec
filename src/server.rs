//! The accept loop of chapter 02, made to survive a busy machine, for the servers of later
//! chapters: `for (stream, peer) in connections(&listener, &stop) { ... }`.
//!
//! Chapter 02 shows the loop whole. What this adds, and why:
//!
//! - **Which errors to retry at once.** An error that concerns one connection (the client gave
//!   up while it waited in the queue: `ConnectionAborted`; a signal: `Interrupted`) is retried
//!   at once. Any other error is the server's own trouble (out of file descriptors, `EMFILE`;
//!   out of memory or buffers), and retrying at once would spin a core: measured, 1.6 million
//!   `accept failed` lines in 3 s under `ulimit -n 64`. So the loop pauses 100 ms between
//!   tries, says so at most once a second, and tries again, until a connection is accepted.
//! - **Ctrl-C while paused.** Ctrl-C wakes a blocked `accept` by connecting to the server
//!   (chapter 02), but with no descriptor left that connection cannot be made. So while it
//!   pauses the loop does not block: the listener is non-blocking until the next success, and
//!   the stop flag is looked at every 100 ms.
//! - **Threads that cannot be had.** `thread::spawn` panics when the system has no thread to
//!   give; `spawn_client` uses `thread::Builder`, which returns the error: that client's
//!   connection is closed and the server goes on.
//! - **A bound on clients.** A thread per client costs memory (10,000 idle clients held 10,002
//!   threads and 96 MB in 02), so `ClientLimit` counts them and turns away one too many.
//! - **Timeouts that are deadlines.** A read timeout starts again with every read, so a client
//!   that sends one byte now and then is never timed out. `Deadline` makes every read and
//!   write of a stream end by one fixed instant (chapter 18's handshake).

use std::fmt::Display;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::logln;

/// How long the loop waits before trying again after an error that is the server's own.
pub const PAUSE: Duration = Duration::from_millis(100);

/// A listening socket: TCP (chapters 02, 17, 18) or Unix (chapter 09).
pub trait Listener {
    type Stream;
    type Addr;
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Addr)>;
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    type Addr = SocketAddr;
    fn accept_one(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.accept()
    }
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        TcpListener::set_nonblocking(self, nonblocking)
    }
}

#[cfg(unix)]
impl Listener for UnixListener {
    type Stream = UnixStream;
    type Addr = UnixAddr;
    fn accept_one(&self) -> io::Result<(UnixStream, UnixAddr)> {
        self.accept()
    }
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        UnixListener::set_nonblocking(self, nonblocking)
    }
}

// ANCHOR: bind_error
/// The error for a failed `bind`, with the likely cause in words: the system's own message
/// (`Address already in use`, `Permission denied`) names the symptom, not what to do.
pub fn bind_error(addr: impl Display, e: io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => "is another server already using this port?",
        // Ports 1-1023 are reserved for the system's services (Linux's limit is the sysctl
        // net.ipv4.ip_unprivileged_port_start).
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need root (or CAP_NET_BIND_SERVICE); pick a port from 1024 up"
        }
        io::ErrorKind::AddrNotAvailable => "is that address one of this machine's? (ip addr)",
        _ => "is the address right?",
    };
    anyhow::anyhow!("could not bind {addr}: {e}; {hint}")
}
// ANCHOR_END: bind_error

/// Does this `accept` error concern one connection only, so that trying again at once is
/// right? (Stevens' `Accept` wrapper makes the same split.)
pub fn concerns_one_connection(e: &io::Error) -> bool {
    /// EPROTO on Linux: a protocol error on one incoming connection.
    const EPROTO: i32 = 71;
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || (cfg!(target_os = "linux") && e.raw_os_error() == Some(EPROTO))
}

/// The connections a listener accepts, until Ctrl-C sets `stop`. See the module's notes.
pub struct Connections<'a, L: Listener> {
    listener: &'a L,
    stop: &'a AtomicBool,
    paused: bool,
    last_said: Option<Instant>,
}

/// Accepts connections until `stop` is set (by `stop_on_ctrl_c`): the loop of chapter 02,
/// which survives running out of descriptors.
pub fn connections<'a, L: Listener>(listener: &'a L, stop: &'a AtomicBool) -> Connections<'a, L> {
    Connections {
        listener,
        stop,
        paused: false,
        last_said: None,
    }
}

impl<L: Listener> Iterator for Connections<'_, L> {
    type Item = (L::Stream, L::Addr);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.paused {
                thread::sleep(PAUSE);
            }
            let result = self.listener.accept_one();
            // The wake-up connection of Ctrl-C, or any connection after it, ends the loop.
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            match result {
                Ok(connection) => {
                    if self.paused {
                        self.paused = false;
                        if let Err(e) = self.listener.set_nonblocking(false) {
                            logln!("could not make the listener blocking again: {e}");
                        }
                        logln!("accepting again");
                    }
                    return Some(connection);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // paused, nobody waiting
                Err(e) if concerns_one_connection(&e) => {}
                Err(e) => {
                    if self
                        .last_said
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
                    {
                        logln!("accept failed: {e}; pausing, trying again every 100 ms");
                        self.last_said = Some(Instant::now());
                    }
                    if !self.paused {
                        self.paused = true;
                        if let Err(e) = self.listener.set_nonblocking(true) {
                            logln!("could not make the listener non-blocking: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// Runs `serve` on a thread of its own. When the system cannot give one more thread, `serve`
/// (and with it the client's connection) is dropped, which closes the connection; the failure
/// is logged and the server goes on.
pub fn spawn_client(who: impl Display, serve: impl FnOnce() + Send + 'static) {
    if let Err(e) = thread::Builder::new().spawn(serve) {
        logln!("could not start a thread for {who}: {e}; connection closed");
    }
}

// ANCHOR: farewell
/// The end of the log line about a finished conversation: `closed.`, or `closed: WHY`. An
/// expired read or write timeout shows up on Linux as `WouldBlock`, "Resource temporarily
/// unavailable", which would tell the reader nothing; it is named as the idle timeout instead.
pub fn farewell(result: &anyhow::Result<()>, idle: Duration) -> String {
    match result {
        Ok(()) => "closed.".to_string(),
        Err(e) if timed_out(e) => format!(
            "closed: {e}: timed out after {} s (--idle-timeout)",
            idle.as_secs_f64()
        ),
        Err(e) => format!("closed: {e:#}"),
    }
}
// ANCHOR_END: farewell

/// Is the cause of `e` an expired timeout (`WouldBlock` on Linux, `TimedOut` elsewhere)?
pub fn timed_out(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            )
        })
    })
}

// ANCHOR: deadline
/// A TCP stream whose reads and writes must all be done by `until`. Before each one, the
/// socket's timeout is set to the time that is left, so a peer that sends one byte every
/// second cannot stretch the wait: when the time is up, reads and writes fail with
/// `WouldBlock`, as an expired timeout does. With `until` set to `None`, the socket's own
/// timeouts apply again.
pub struct Deadline {
    pub stream: TcpStream,
    pub until: Option<Instant>,
}

impl Deadline {
    /// Sets the socket's timeouts to the time left, or fails when none is left.
    fn arm(&self) -> io::Result<()> {
        let Some(until) = self.until else {
            return Ok(());
        };
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.set_write_timeout(Some(left))
    }
}

impl Read for Deadline {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.read(buffer)
    }
}

impl Write for Deadline {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.write(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
// ANCHOR_END: deadline

/// Counts the clients being served, so that a server can turn away one too many.
#[derive(Clone)]
pub struct ClientLimit {
    live: Arc<AtomicUsize>,
    max: usize,
}

/// A place taken by one client; dropping it (when the client's thread ends) frees it.
pub struct ClientSlot(Arc<AtomicUsize>);

impl ClientLimit {
    pub fn new(max: usize) -> ClientLimit {
        ClientLimit {
            live: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// Takes a place if fewer than `max` clients are being served.
    pub fn try_enter(&self) -> Option<ClientSlot> {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live < self.max).then_some(live + 1)
            })
            .ok()
            .map(|_| ClientSlot(Arc::clone(&self.live)))
    }

    /// How many clients are being served now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The accept loop of chapter 20, for the tokio servers after it (chapter 21):
/// `while let Some((stream, peer)) = incoming.next().await { ... }`, which ends on Ctrl-C.
///
/// The policy is `connections`' own: an error of one connection is skipped; any other (out of
/// descriptors) pauses the loop for 100 ms, said at most once a second. Ctrl-C is watched with
/// `select!` while waiting for a client and while paused, so it is never missed.
pub struct AsyncConnections {
    listener: tokio::net::TcpListener,
    interrupt: tokio::signal::unix::Signal,
    last_said: Option<Instant>,
}

impl AsyncConnections {
    /// Takes the listener, and the Ctrl-C watcher (made before the first line is printed, so
    /// that a Ctrl-C right after it is caught).
    pub fn new(
        listener: tokio::net::TcpListener,
        interrupt: tokio::signal::unix::Signal,
    ) -> AsyncConnections {
        AsyncConnections {
            listener,
            interrupt,
            last_said: None,
        }
    }

    /// The next connection, or `None` once Ctrl-C has been pressed.
    pub async fn next(&mut self) -> Option<(tokio::net::TcpStream, SocketAddr)> {
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = self.interrupt.recv() => return None,
            };
            match accepted {
                Ok(connection) => return Some(connection),
                Err(e) if concerns_one_connection(&e) => {}
                Err(e) => {
                    if self
                        .last_said
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
                    {
                        logln!("accept failed: {e}; pausing, trying again every 100 ms");
                        self.last_said = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(PAUSE) => {}
                        _ = self.interrupt.recv() => return None,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_places_and_frees_them() {
        let limit = ClientLimit::new(2);
        let a = limit.try_enter().expect("first place");
        let b = limit.try_enter().expect("second place");
        assert!(
            limit.try_enter().is_none(),
            "a third client must be turned away"
        );
        drop(a);
        assert_eq!(limit.live(), 1);
        let _c = limit.try_enter().expect("a freed place can be taken again");
        drop(b);
        assert_eq!(limit.live(), 1);
    }

    #[test]
    fn only_per_connection_errors_are_retried_at_once() {
        use io::ErrorKind::*;
        for kind in [ConnectionAborted, ConnectionReset, Interrupted] {
            assert!(concerns_one_connection(&io::Error::from(kind)), "{kind:?}");
        }
        let emfile = io::Error::from_raw_os_error(24);
        assert!(!concerns_one_connection(&emfile));
        assert!(!concerns_one_connection(&io::Error::from(OutOfMemory)));
    }

    #[test]
    fn a_deadline_is_not_stretched_by_a_peer_that_drips() {
        let (ours, mut theirs) = crate::loopback_pair().unwrap();
        // The peer drips a byte every 50 ms for up to 2 s: a per-read timeout of 300 ms
        // would never expire.
        let dripper = thread::spawn(move || {
            for _ in 0..40 {
                if theirs.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let started = Instant::now();
        let mut stream = Deadline {
            stream: ours,
            until: Some(started + Duration::from_millis(300)),
        };
        let mut buffer = [0u8; 1];
        let mut got = 0;
        let error = loop {
            match stream.read(&mut buffer) {
                Ok(0) => panic!("the peer closed before the deadline"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        assert!(got >= 2, "the peer was dripping: {got} bytes");
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1000), "took {took:?}");
        // Cleared, the deadline no longer applies: the next byte is read.
        stream.until = None;
        stream
            .stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(stream.read(&mut buffer).unwrap(), 1);
        drop(stream);
        dripper.join().unwrap();
    }

    #[test]
    fn farewell_names_the_idle_timeout() {
        use anyhow::Context;
        let idle = Duration::from_millis(500);
        assert_eq!(farewell(&Ok(()), idle), "closed.");
        let expired: anyhow::Result<()> =
            Err(io::Error::from(io::ErrorKind::WouldBlock)).context("reading a message");
        assert_eq!(
            farewell(&expired, idle),
            "closed: reading a message: timed out after 0.5 s (--idle-timeout)"
        );
        let reset: anyhow::Result<()> =
            Err(io::Error::from(io::ErrorKind::ConnectionReset)).context("reading a message");
        assert!(farewell(&reset, idle).starts_with("closed: reading a message: "));
        assert!(!farewell(&reset, idle).contains("idle"));
    }

    #[test]
    fn the_loop_stops_on_the_flag_and_yields_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        let _client = TcpStream::connect(addr).unwrap();
        let mut incoming = connections(&listener, &stop);
        let (_stream, peer) = incoming.next().expect("the waiting client");
        assert_eq!(peer.ip(), addr.ip());
        stop.store(true, Ordering::SeqCst);
        let _wake = TcpStream::connect(addr).unwrap();
        assert!(incoming.next().is_none(), "the loop ends once stop is set");
    }
}

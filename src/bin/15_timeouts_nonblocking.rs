//! 15_timeouts_nonblocking: waiting less than forever.
//!
//! A blocking socket call waits as long as it takes. This listing shows the three ways to
//! wait less, all on 127.0.0.1: a read timeout (Python's `settimeout`) and the error it gives,
//! non-blocking mode (Python's `setblocking(False)`) and its WouldBlock error, a connect with a
//! time limit, and Python's `connect_ex`, which returns an error number instead of raising.
//!
//! Run it with no arguments:
//!
//! ```text
//! $ cargo run --bin 15_timeouts_nonblocking
//! ```
//!
//! You will see, for example,
//! `read gave up after 200 ms: WouldBlock (Resource temporarily unavailable (os error 11))`
//! and `connect_ex(127.0.0.1:34269) = 111 (ECONNREFUSED)`. The times it prints are measured,
//! so they differ a little from run to run.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use socket_workbook::{Args, loopback_pair, report};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 15_timeouts_nonblocking

Shows a 200 ms read timeout, non-blocking reads and accepts, a connect with a time limit,
and connect_ex's error number for a refused port, all on 127.0.0.1.
";

/// How long the read timeout and the connect time limit are.
const WAIT: Duration = Duration::from_millis(200);

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let args = Args::from_env(USAGE);
    args.finish();
    read_timeout()?;
    non_blocking()?;
    connect_timeout()?;
    connect_ex_demo()?;
    Ok(())
}

fn read_timeout() -> anyhow::Result<()> {
    println!("== a read timeout (Python: s.settimeout(0.2); s.recv(1024))");
    let (mut stream, _peer) = loopback_pair()?; // the peer stays connected but never writes
    // ANCHOR: read_timeout
    stream.set_read_timeout(Some(WAIT))?;
    let started = Instant::now();
    match stream.read(&mut [0u8; 1024]) {
        Ok(n) => println!("read returned {n} bytes (unexpected: the peer sent nothing)"),
        // On Linux the expired timeout is EAGAIN, which Rust calls WouldBlock; on Windows it
        // is TimedOut. Python turns both into socket.timeout. Check for both.
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => println!(
            "read gave up after {} ms: {:?} ({e})",
            started.elapsed().as_millis(),
            e.kind()
        ),
        Err(e) => bail!("read failed: {e}"),
    }
    // Python's settimeout(0) means "non-blocking"; Rust refuses a zero timeout instead.
    match stream.set_read_timeout(Some(Duration::ZERO)) {
        Ok(()) => println!("a zero timeout was accepted"),
        Err(e) => println!(
            "set_read_timeout(Some(0 s)) is refused: {:?} ({e})",
            e.kind()
        ),
    }
    // ANCHOR_END: read_timeout
    Ok(())
}

fn non_blocking() -> anyhow::Result<()> {
    println!("== non-blocking mode (Python: s.setblocking(False))");
    let (mut stream, mut peer) = loopback_pair()?;
    // ANCHOR: non_blocking
    // A non-blocking read never waits: with nothing to read it fails at once with WouldBlock.
    stream.set_nonblocking(true)?;
    let started = Instant::now();
    match stream.read(&mut [0u8; 1024]) {
        Ok(n) => println!("read returned {n} bytes (unexpected)"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            println!(
                "read with nothing to read: WouldBlock after {} ms",
                started.elapsed().as_millis()
            )
        }
        Err(e) => bail!("read failed: {e}"),
    }
    // Once data has arrived, the same call returns it. A real program would ask the OS when
    // the socket is ready (poll, epoll: chapter 19); here we retry a bounded number of
    // times, briefly, because the bytes are already on their way through loopback.
    peer.write_all(b"hello")
        .context("the peer could not write")?;
    let mut buffer = [0u8; 1024];
    let mut tries = 0;
    let n = loop {
        match stream.read(&mut buffer) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock && tries < 1000 => {
                tries += 1;
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) => bail!("read failed: {e}"),
        }
    };
    println!(
        "after the peer wrote: read returned {n} bytes: {:?}",
        String::from_utf8_lossy(&buffer[..n])
    );
    // ANCHOR_END: non_blocking

    // ANCHOR: accept_recv_from
    // accept and recv_from behave the same way: no client waiting, no datagram queued.
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    match listener.accept() {
        Ok((_, from)) => println!("accepted {from} (unexpected: nobody connected)"),
        Err(e) => println!("accept with nobody connecting: {:?}", e.kind()),
    }
    let udp = UdpSocket::bind("127.0.0.1:0").context("could not bind a UDP socket")?;
    udp.set_nonblocking(true)?;
    // Python: s.recvfrom_into(buffer). Rust's recv_from always fills a buffer you give it.
    match udp.recv_from(&mut buffer) {
        Ok((n, from)) => println!("received {n} bytes from {from} (unexpected)"),
        Err(e) => println!("recv_from with no datagram: {:?}", e.kind()),
    }
    // ANCHOR_END: accept_recv_from
    Ok(())
}

fn connect_timeout() -> anyhow::Result<()> {
    println!("== a connect with a time limit (Python: s.settimeout(0.2); s.connect(addr))");
    // ANCHOR: connect_timeout
    // A server that listens with a backlog of 0 and never accepts: its queue of finished
    // connections holds one, and after that Linux silently drops new connection requests.
    let busy = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    busy.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    busy.listen(0)?;
    let addr = busy.local_addr()?.as_socket().context("not an IP socket")?;
    let first = TcpStream::connect_timeout(&addr, WAIT);
    println!(
        "first connect to the busy server: {}",
        if first.is_ok() { "connected" } else { "failed" }
    );
    let started = Instant::now();
    match TcpStream::connect_timeout(&addr, WAIT) {
        Ok(_) => println!("second connect: connected (the queue had room after all)"),
        Err(e) => println!(
            "second connect gave up after {} ms: {:?} ({e})",
            started.elapsed().as_millis(),
            e.kind()
        ),
    }
    // ANCHOR_END: connect_timeout
    Ok(())
}

fn connect_ex_demo() -> anyhow::Result<()> {
    println!("== connect_ex: an error number instead of an exception");
    // A port nobody listens on: bind one, note it, and close it again. The open listener is
    // made first, so the kernel cannot hand it the port we just closed.
    let open = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let closed = TcpListener::bind("127.0.0.1:0")
        .context("could not bind 127.0.0.1:0")?
        .local_addr()?;
    for addr in [open.local_addr()?, closed] {
        let code = connect_ex(addr);
        println!("connect_ex({addr}) = {code} ({})", errno_name(code));
    }
    Ok(())
}

// ANCHOR: connect_ex
/// Python's `s.connect_ex(addr)`: 0 on success, else the OS error number. Rust has no such
/// call because a `Result` already carries the error; `raw_os_error` gives the number.
fn connect_ex(addr: SocketAddr) -> i32 {
    match TcpStream::connect(addr) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// The symbolic name of a Linux error number (Python: errno.errorcode[code]).
fn errno_name(code: i32) -> &'static str {
    match code {
        0 => "success",
        11 => "EAGAIN",
        13 => "EACCES",
        98 => "EADDRINUSE",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        _ => "see `errno -l` or errno(3)",
    }
}
// ANCHOR_END: connect_ex

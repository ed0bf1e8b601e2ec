//! 14_socket_options: reading and setting socket options (getsockopt, setsockopt).
//!
//! It shows, each on a fresh loopback socket: SO_REUSEADDR, and why a server that restarts
//! needs it (its old connection sits in TIME_WAIT); the receive and send buffer sizes the
//! kernel really gives you; TCP_NODELAY; SO_KEEPALIVE; SO_BROADCAST; and what happens when you
//! bind a port below 1024.
//!
//! Run it with no arguments:
//!
//! ```text
//! $ cargo run --bin 14_socket_options
//! ```
//!
//! Each option is printed as its value before and after being set, read back from the kernel:
//! `TCP_NODELAY: false -> true`. The restart shows
//! `restart without SO_REUSEADDR: AddrInUse: Address already in use (os error 98)` and then
//! `restart with SO_REUSEADDR: bound 127.0.0.1:41097 again`.

use std::fs;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use socket_workbook::{Args, report};
use socket2::{Domain, Socket, TcpKeepalive, Type};

const USAGE: &str = "\
usage: 14_socket_options

Shows SO_REUSEADDR (and the restart it allows), SO_RCVBUF/SO_SNDBUF, TCP_NODELAY,
SO_KEEPALIVE, SO_BROADCAST and binding a port below 1024, all on 127.0.0.1.
";

/// The port below 1024 that we try to bind. 1023 is reserved and normally unused.
const LOW_PORT: u16 = 1023;

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let args = Args::from_env(USAGE);
    args.finish();
    reuse_address()?;
    restart_after_close()?;
    buffers()?;
    nodelay_and_keepalive()?;
    broadcast()?;
    low_port();
    Ok(())
}

fn reuse_address() -> anyhow::Result<()> {
    println!("== SO_REUSEADDR (Python: s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1))");
    // ANCHOR: reuse
    // Python: s = socket.socket(); s.getsockopt(SOL_SOCKET, SO_REUSEADDR)
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).context("could not create a socket")?;
    println!("a new socket: SO_REUSEADDR = {}", socket.reuse_address()?);
    // Set it before bind: it changes what bind allows.
    socket.set_reuse_address(true)?;
    println!(
        "after set_reuse_address(true): SO_REUSEADDR = {}",
        socket.reuse_address()?
    );
    // std's TcpListener::bind sets it for you on Unix (not on Windows, where it means
    // something else and would let two servers steal each other's port).
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let reuse = socket2::SockRef::from(&listener).reuse_address()?;
    println!("a std TcpListener: SO_REUSEADDR = {reuse}");
    // ANCHOR_END: reuse
    Ok(())
}

// ANCHOR: listen_on
/// A listening socket on `addr`, with or without SO_REUSEADDR (std always sets it, so we use
/// socket2 to be able to leave it off).
fn listen_on(addr: SocketAddr, reuse: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(reuse)?;
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    Ok(socket.into())
}
// ANCHOR_END: listen_on

fn restart_after_close() -> anyhow::Result<()> {
    println!("== restarting a server while its old connection is in TIME_WAIT");
    // ANCHOR: restart
    // The first run of a "server": it accepts one client and closes the connection FIRST.
    let server = listen_on("127.0.0.1:0".parse()?, true).context("could not listen")?;
    let addr = server.local_addr()?;
    let mut client =
        TcpStream::connect(addr).map_err(|e| anyhow!("could not connect to {addr}: {e}"))?;
    let (accepted, _) = server.accept().context("could not accept")?;
    drop(accepted); // the server hangs up first: its end will wait in TIME_WAIT
    drop(server); // and the server program "exits"
    // The client sees end of stream and closes its end too.
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    let n = client
        .read(&mut [0u8; 16])
        .context("could not read from the server")?;
    drop(client);
    println!("the server on {addr} closed its connection first (the client then read {n} bytes)");
    println!(
        "its end of that connection is now {}",
        tcp_state(addr.port())
    );

    // The second run binds the same port, first without SO_REUSEADDR, then with it.
    match listen_on(addr, false) {
        Ok(_) => println!("restart without SO_REUSEADDR: bound {addr}"),
        Err(e) => println!("restart without SO_REUSEADDR: {:?}: {e}", e.kind()),
    }
    match listen_on(addr, true) {
        Ok(_) => println!("restart with SO_REUSEADDR: bound {addr} again"),
        Err(e) => println!("restart with SO_REUSEADDR: {:?}: {e}", e.kind()),
    }
    // ANCHOR_END: restart
    Ok(())
}

/// The kernel's name for the state of the TCP connection whose local port is `port`, read
/// from /proc/net/tcp (Linux). Waits up to two seconds for it to reach TIME_WAIT, because the
/// last packet of the close may still be on its way.
fn tcp_state(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = fs::read_to_string("/proc/net/tcp").ok().and_then(|table| {
            table
                .lines()
                .skip(1)
                .find_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit(':').next()?;
                    (u16::from_str_radix(local_port, 16).ok()? == port)
                        .then(|| fields.get(3).copied())?
                })
                .map(str::to_string)
        });
        let name = match state.as_deref() {
            Some("06") => return "in TIME_WAIT".to_string(),
            Some("05") => "in FIN_WAIT2",
            Some(other) => return format!("in TCP state {other} (see /proc/net/tcp)"),
            None => return "gone (no entry in /proc/net/tcp)".to_string(),
        };
        if Instant::now() >= deadline {
            return name.to_string();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn buffers() -> anyhow::Result<()> {
    println!("== receive and send buffers (SO_RCVBUF, SO_SNDBUF)");
    // ANCHOR: buffers
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).context("could not create a socket")?;
    println!(
        "a new TCP socket: SO_RCVBUF = {} bytes, SO_SNDBUF = {} bytes",
        socket.recv_buffer_size()?,
        socket.send_buffer_size()?
    );
    // Ask for 4096 bytes each and read back what the kernel really set. Linux doubles the
    // request to leave room for its own bookkeeping, and clamps it between a minimum and
    // net.core.rmem_max / wmem_max.
    socket.set_recv_buffer_size(4096)?;
    socket.set_send_buffer_size(4096)?;
    println!(
        "asked for 4096 each: SO_RCVBUF = {}, SO_SNDBUF = {}",
        socket.recv_buffer_size()?,
        socket.send_buffer_size()?
    );
    // ANCHOR_END: buffers
    Ok(())
}

fn nodelay_and_keepalive() -> anyhow::Result<()> {
    // These two are options of a TCP connection, so make one.
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stream =
        TcpStream::connect(addr).map_err(|e| anyhow!("could not connect to {addr}: {e}"))?;

    println!("== TCP_NODELAY (Python: s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1))");
    // ANCHOR: nodelay
    // Nagle's algorithm holds back small writes while earlier data is unacknowledged, to send
    // fewer, fuller packets. Request/response protocols turn it off to avoid the wait.
    let before = stream.nodelay()?;
    stream.set_nodelay(true)?;
    println!("TCP_NODELAY: {before} -> {}", stream.nodelay()?);
    // ANCHOR_END: nodelay

    println!("== SO_KEEPALIVE (Python: s.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1))");
    // ANCHOR: keepalive
    // Keepalive probes an idle connection so a peer that vanished is noticed. std has no
    // method for it; socket2 borrows the std socket (`SockRef`) and sets it.
    let socket = socket2::SockRef::from(&stream);
    let before = socket.keepalive()?;
    let idle_before = socket.keepalive_time()?.as_secs();
    socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(Duration::from_secs(60)))?;
    println!("SO_KEEPALIVE: {before} -> {}", socket.keepalive()?);
    println!(
        "idle seconds before the first probe (TCP_KEEPIDLE): {idle_before} -> {}",
        socket.keepalive_time()?.as_secs()
    );
    // ANCHOR_END: keepalive
    Ok(())
}

fn broadcast() -> anyhow::Result<()> {
    println!("== SO_BROADCAST (Python: s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1))");
    // ANCHOR: broadcast
    // Only UDP sockets broadcast; without this option a send to a broadcast address fails
    // with PermissionDenied (chapter 07).
    let udp = UdpSocket::bind("127.0.0.1:0").context("could not bind a UDP socket")?;
    let before = udp.broadcast()?;
    udp.set_broadcast(true)?;
    println!("SO_BROADCAST: {before} -> {}", udp.broadcast()?);
    // ANCHOR_END: broadcast
    Ok(())
}

fn low_port() {
    println!("== a port below 1024");
    // ANCHOR: low_port
    // Linux reserves ports below net.ipv4.ip_unprivileged_port_start (1024 by default) for
    // root, or for programs given the CAP_NET_BIND_SERVICE capability.
    let start = fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    println!(
        "unprivileged ports start at {start}; this program runs as uid {}",
        user_id()
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], LOW_PORT));
    match TcpListener::bind(addr) {
        Ok(_) => println!("bind {addr}: allowed"),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => println!(
            "bind {addr}: PermissionDenied: {e}; use a port of {start} or more, or run as root"
        ),
        Err(e) => println!("bind {addr}: {:?}: {e}", e.kind()),
    }
    // ANCHOR_END: low_port
}

/// Our effective user id, from /proc/self/status (`Uid: real effective saved fs`).
fn user_id() -> String {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

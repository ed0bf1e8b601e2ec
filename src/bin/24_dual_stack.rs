//! 24_dual_stack: one listening socket for IPv4 and IPv6 clients, and a client that tries
//! every address of a name in turn.
//!
//! As a server (the default), it listens on `[::]:9999` with `IPV6_V6ONLY` off, so IPv6
//! clients and IPv4 clients both arrive on the one socket; an IPv4 client's address shows up
//! in its IPv4-mapped form, `[::ffff:127.0.0.1]:PORT`. It speaks the hello protocol of
//! chapter 02. As a client (`--connect`), it resolves each HOST:PORT with getaddrinfo, then
//! tries each address in turn, one connect timeout per attempt, printing every attempt.
//!
//! ```text
//! terminal 1$ cargo run --bin 24_dual_stack
//! terminal 2$ cargo run --bin 24_dual_stack -- --connect 127.0.0.1:9999
//! terminal 2$ cargo run --bin 24_dual_stack -- --connect [::1]:9999
//! terminal 2$ cargo run --bin 24_dual_stack -- --connect localhost:9999
//! ```
//!
//! or all at once, labelled: `scripts/demo.sh 24`. The server prints `Listening on [::]:9999`,
//! then which clients it takes, then one line per client that arrives and leaves. Ctrl-C stops
//! it. `01_tcp_client` talks to it too.

use std::io::{ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use socket_workbook::hello::{receive_hello, serve_hello};
use socket_workbook::output::printable;
use socket_workbook::server::{ClientLimit, bind_error, connections, farewell, spawn_client};
use socket_workbook::{Args, logln, report, stop_on_ctrl_c};
use socket2::{Domain, Socket, Type};

const USAGE: &str = "\
usage: 24_dual_stack [ADDR] [--v6only] [--max-clients N] [--idle-timeout SECS]
       24_dual_stack --connect HOST:PORT... [--connect-timeout SECONDS]

Server (the default):
  ADDR                 IP:PORT to listen on (default [::]:9999, every IPv6 and IPv4 address;
                       port 0 picks a free port; an IPv4 ADDR gives an IPv4-only socket)
  --v6only             turn IPV6_V6ONLY on: an IPv6 ADDR then takes IPv6 clients only
  --max-clients N      how many clients are served at once (default 1000); one more gets
                       `Busy, try later.` and is disconnected
  --idle-timeout SECS  a client that sends nothing for this long is disconnected (default 300)

Client (--connect):
  HOST:PORT            a name (localhost:9999) or an address (127.0.0.1:9999, [::1]:9999);
                       give several to try all their addresses, in the order given
  --connect-timeout SECONDS
                       give up on one address after this long and try the next (default 5)

The server's first line is the address really bound: `Listening on [::]:PORT`.
Stop the server with Ctrl-C.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    if args.flag("--connect") {
        let timeout = args.seconds("--connect-timeout", 5.0);
        let targets = args.rest();
        if targets.is_empty() {
            args.usage_error("--connect needs at least one HOST:PORT");
        }
        args.finish();
        return connect_each(&targets, timeout);
    }
    let v6only = args.flag("--v6only");
    let max_clients: usize = args.option("--max-clients").unwrap_or(1000);
    if max_clients < 1 {
        args.usage_error("--max-clients must be at least 1");
    }
    let idle = args.seconds("--idle-timeout", 300.0);
    let addr: SocketAddr = args.next_or("ADDR", "[::]:9999");
    if v6only && addr.is_ipv4() {
        args.usage_error("--v6only needs an IPv6 ADDR, such as [::]:9999");
    }
    args.finish();
    serve(addr, v6only, max_clients, idle)
}

fn serve(addr: SocketAddr, v6only: bool, max_clients: usize, idle: Duration) -> anyhow::Result<()> {
    // ANCHOR: listen
    // Python: socket.create_server(('::', 9999), family=AF_INET6, dualstack_ipv6=True)
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
        .context("could not create a TCP socket")?;
    socket
        .set_reuse_address(true)
        .context("could not set SO_REUSEADDR")?;
    // IPV6_V6ONLY decides whether an IPv6 socket also takes IPv4 clients, and it must be set
    // before `bind`: `TcpListener::bind` binds at once, so this is socket2's job. The default
    // differs (off on Linux, on on Windows and the BSDs), so set it either way.
    if addr.is_ipv6() {
        socket
            .set_only_v6(v6only)
            .context("could not set IPV6_V6ONLY")?;
    }
    socket.bind(&addr.into()).map_err(|e| bind_error(addr, e))?;
    socket
        .listen(128)
        .map_err(|e| anyhow!("could not listen on {addr}: {e}"))?;
    // Read the option back (getsockopt): what the system did, not what we asked for.
    let takes = if addr.is_ipv4() {
        "IPv4 clients only (an IPv4 socket)"
    } else if socket.only_v6().context("could not read IPV6_V6ONLY")? {
        "IPv6 clients only (IPV6_V6ONLY on)"
    } else {
        "IPv6 and IPv4 clients (IPV6_V6ONLY off)"
    };
    let listener: TcpListener = socket.into();
    // ANCHOR_END: listen
    let local = listener
        .local_addr()
        .context("could not read the bound address")?;
    // Ctrl-C connects to us to wake `accept`; nobody can connect to `::` or `0.0.0.0`
    // portably, so it connects to the loopback address of the same family.
    let wake = SocketAddr::new(loopback_for(local.ip()), local.port());
    let stop = stop_on_ctrl_c(move || {
        let _ = TcpStream::connect(wake);
    })?;
    logln!("Listening on {local}");
    logln!("Taking {takes}");

    // ANCHOR: accept_loop
    let clients = ClientLimit::new(max_clients);
    for (mut stream, peer) in connections(&listener, &stop) {
        let Some(place) = clients.try_enter() else {
            logln!("Turned away {peer}: {max_clients} clients already connected.");
            let _ = stream.write_all(b"Busy, try later.");
            continue;
        };
        let read_timeout = stream.set_read_timeout(Some(idle));
        if let Err(e) = read_timeout.and(stream.set_write_timeout(Some(idle))) {
            logln!("could not set the idle timeout for {peer}: {e}; connection closed");
            continue;
        }
        spawn_client(peer, move || {
            // `peer` is the address as this socket sees it: on an IPv6 socket, an IPv4
            // client is `[::ffff:127.0.0.1]:PORT`.
            logln!(
                "Accept new connection from {peer} ({})...",
                family(peer.ip())
            );
            let result = serve_hello(&stream, None);
            drop(place);
            drop(stream);
            logln!("Connection from {peer} {}", farewell(&result, idle));
        });
    }
    // ANCHOR_END: accept_loop

    logln!("Ctrl-C received: stopped accepting connections. Bye.");
    Ok(())
}

// ANCHOR: family
/// Which protocol the client really used. An IPv4 client on a dual-stack socket arrives as an
/// IPv4-mapped IPv6 address, `::ffff:a.b.c.d`: 80 zero bits, 16 one bits, then the IPv4
/// address. `to_ipv4_mapped` recognises exactly that form (`to_ipv4` would also turn `::1`
/// into `0.0.0.1`).
fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}
// ANCHOR_END: family

/// The loopback address of `ip`'s family when `ip` is unspecified (`::`, `0.0.0.0`).
fn loopback_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other,
    }
}

// ANCHOR: resolve
/// Every address of every target, in the order the resolver gives them.
fn resolve(targets: &[String]) -> anyhow::Result<Vec<SocketAddr>> {
    let mut all = Vec::new();
    for target in targets {
        // Python: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        // `to_socket_addrs` calls getaddrinfo for a name; an address is taken as it is.
        let found: Vec<SocketAddr> = target
            .to_socket_addrs()
            .with_context(|| format!("could not resolve {target:?} (give HOST:PORT)"))?
            .collect();
        let shown: Vec<String> = found.iter().map(SocketAddr::to_string).collect();
        logln!("{target} resolves to {}", shown.join(", "));
        all.extend(found);
    }
    Ok(all)
}
// ANCHOR_END: resolve

// ANCHOR: connect_each
/// Tries each address in turn, each with its own timeout: the sequential core of RFC 8305
/// ("Happy Eyeballs"), and what Python's `socket.create_connection` does.
fn connect_each(targets: &[String], timeout: Duration) -> anyhow::Result<()> {
    let addrs = resolve(targets)?;
    let mut last_error = None;
    for (number, addr) in addrs.iter().enumerate() {
        let attempt = format!("attempt {} of {}: {addr}", number + 1, addrs.len());
        let started = Instant::now();
        let result = TcpStream::connect_timeout(addr, timeout);
        let took = started.elapsed().as_millis();
        match result {
            Ok(stream) => {
                let local = stream.local_addr().context("could not read our address")?;
                logln!("{attempt}: connected after {took} ms, from {local}");
                return greet(stream);
            }
            // Nobody answered: a lost SYN, a full queue, a black hole. Try the next one.
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                let seconds = timeout.as_secs_f64();
                logln!("{attempt}: no answer within {seconds} s (--connect-timeout)");
                last_error = Some(e);
            }
            // Refused (nobody listens there), unreachable, ...: the next one may do better.
            Err(e) => {
                logln!("{attempt}: failed after {took} ms: {e}");
                last_error = Some(e);
            }
        }
    }
    match last_error {
        Some(e) => bail!(
            "could not connect to {}: every address failed ({} tried); the last error: {e}",
            targets.join(" "),
            addrs.len()
        ),
        None => bail!("{} resolves to no address", targets.join(" ")),
    }
}
// ANCHOR_END: connect_each

/// The hello protocol's first step and last: prints the welcome, then says `exit`.
fn greet(mut stream: TcpStream) -> anyhow::Result<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .context("could not set a read timeout")?;
    println!("{}", printable(&receive_hello(&mut stream)?));
    stream
        .write_all(b"exit")
        .context("could not send \"exit\"")?;
    Ok(())
}

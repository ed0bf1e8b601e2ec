//! 13_socket_info: names, addresses and services, the lookups around a socket.
//!
//! It prints this machine's host name, resolves each HOST to all its addresses (IPv4 and
//! IPv6; by default only `localhost`), looks up service names in the services table (`/etc/services`), opens one loopback
//! connection and shows both ends' addresses and the socket's family, type, protocol and file
//! descriptor, and finally shows addresses as the plain integers they are.
//!
//! Run it with no arguments (it resolves only `localhost`), with names or addresses of your
//! own, or with another services table:
//!
//! ```text
//! $ cargo run --bin 13_socket_info
//! $ cargo run --bin 13_socket_info -- localhost 127.0.0.1 ::1
//! $ cargo run --bin 13_socket_info -- --services tests/data/services
//! ```
//!
//! It prints the host name but does not resolve it unless you pass it as a HOST
//! (`-- "$(hostname)"`): a name that is not in `/etc/hosts` is sent to a DNS server, off this
//! machine.
//!
//! You will see five sections, each headed `== ...` with the Python call it replaces, with
//! lines such as `localhost -> 127.0.0.1`, `http/tcp -> port 80` and
//! `client: local 127.0.0.1:47874 peer 127.0.0.1:40259`. With the default arguments everything
//! stays on this machine: `localhost` resolves offline, from `/etc/hosts`.

use std::fs;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use socket_workbook::{Args, report};
use socket2::SockRef;

const USAGE: &str = "\
usage: 13_socket_info [--services FILE] [HOST...]

  HOST             names or addresses to resolve (default: localhost). A name that is not in
                   /etc/hosts, such as this machine's own name on many systems, goes to DNS.
  --services FILE  the services table to read (default /etc/services)
";

/// The services looked up in the table, as (name, protocol).
const SERVICES: [(&str, &str); 3] = [("http", "tcp"), ("https", "tcp"), ("ssh", "tcp")];

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let services_file: String = args
        .option("--services")
        .unwrap_or_else(|| "/etc/services".to_string());
    let mut hosts = args.rest();
    args.finish();

    println!("== host name (Python: socket.gethostname())");
    let name = host_name()?;
    println!("host name: {name}");
    // Only `localhost` by default: it is in /etc/hosts everywhere, so the lookup never leaves
    // this machine. Resolving `name` too (Python's gethostbyname(gethostname())) would ask DNS
    // wherever /etc/hosts does not list it; pass it as a HOST to see what it gives.
    if hosts.is_empty() {
        hosts = vec!["localhost".to_string()];
    }

    println!("== resolving names (Python: socket.getaddrinfo, socket.gethostbyname)");
    for host in &hosts {
        match resolve(host) {
            Ok(addresses) => println!("{host} -> {}", addresses.join(", ")),
            Err(e) => println!("{host} -> could not resolve: {e}"),
        }
    }

    println!("== services (Python: socket.getservbyname('http', 'tcp'))");
    match fs::read_to_string(&services_file) {
        Ok(table) => {
            println!("reading {services_file}");
            for (service, protocol) in SERVICES {
                match service_port(&table, service, protocol) {
                    Some(port) => println!("{service}/{protocol} -> port {port}"),
                    None => println!("{service}/{protocol} -> not in {services_file}"),
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => println!(
            "no services table: {services_file} does not exist (on Debian and Ubuntu it comes \
             with the `netbase` package)"
        ),
        Err(e) => return Err(anyhow!("could not read {services_file}: {e}")),
    }

    println!("== both ends of a connection (Python: s.getsockname(), s.getpeername())");
    connection_info()?;

    println!("== addresses are numbers (Python: int(ipaddress.ip_address('127.0.0.1')))");
    // ANCHOR: integers
    // An IPv4 address is a 32-bit number and an IPv6 address a 128-bit one; the dotted and
    // colon forms are only how we write them. `From` converts both ways.
    let v4 = Ipv4Addr::LOCALHOST;
    let n = u32::from(v4);
    println!(
        "{v4} = {n} = {n:#010x} (in network byte order: {:?})",
        v4.octets()
    );
    println!("{n} -> {}", Ipv4Addr::from(n));
    let v6 = Ipv6Addr::LOCALHOST;
    println!("{v6} = {}", u128::from(v6));
    let mapped = v4.to_ipv6_mapped(); // how an IPv6 socket sees an IPv4 peer
    println!("{v4} as IPv6 is {mapped} = {:#x}", u128::from(mapped));
    // ANCHOR_END: integers
    Ok(())
}

// ANCHOR: host_name
/// This machine's name. The standard library has no `gethostname`; on Linux the kernel
/// publishes the name as a file, so we read it (what `hostname` prints).
fn host_name() -> anyhow::Result<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .context("could not read the host name from /proc/sys/kernel/hostname or /etc/hostname")?;
    Ok(name.trim().to_string())
}
// ANCHOR_END: host_name

// ANCHOR: resolve
/// All the addresses `host` resolves to, in the order the resolver gives them.
fn resolve(host: &str) -> std::io::Result<Vec<String>> {
    // `to_socket_addrs` calls the system resolver (getaddrinfo), which reads /etc/hosts and,
    // for other names, asks DNS. It needs a port; 0 is fine since we only want the addresses.
    let mut addresses: Vec<String> = Vec::new();
    for addr in (host, 0).to_socket_addrs()? {
        let ip: IpAddr = addr.ip();
        if !addresses.contains(&ip.to_string()) {
            addresses.push(ip.to_string());
        }
    }
    Ok(addresses)
}
// ANCHOR_END: resolve

// ANCHOR: services
/// Looks `name` up in a services table: lines like `http  80/tcp  www  # comment`.
/// The name may be the service's own name or one of its aliases.
fn service_port(table: &str, name: &str, protocol: &str) -> Option<u16> {
    for line in table.lines() {
        let line = line.split('#').next().unwrap_or(""); // drop comments
        let mut words = line.split_whitespace();
        let (Some(service), Some(port_proto)) = (words.next(), words.next()) else {
            continue; // blank or malformed line
        };
        let Some((port, proto)) = port_proto.split_once('/') else {
            continue;
        };
        let aliases: Vec<&str> = words.collect();
        if proto == protocol && (service == name || aliases.contains(&name)) {
            return port.parse().ok();
        }
    }
    None
}
// ANCHOR_END: services

fn connection_info() -> anyhow::Result<()> {
    // ANCHOR: ends
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let server_addr = listener.local_addr()?;
    let client = TcpStream::connect(server_addr)
        .map_err(|e| anyhow!("could not connect to {server_addr}: {e}"))?;
    let (server_side, _) = listener.accept().context("could not accept")?;
    // getsockname is `local_addr`, getpeername is `peer_addr`. One end's local address is
    // the other end's peer address.
    println!(
        "client: local {} peer {}",
        client.local_addr()?,
        client.peer_addr()?
    );
    println!(
        "server: local {} peer {}",
        server_side.local_addr()?,
        server_side.peer_addr()?
    );
    // ANCHOR_END: ends

    // ANCHOR: attributes
    // Python's s.family, s.type and s.proto: std does not keep them, socket2 asks the kernel.
    let socket = SockRef::from(&client);
    println!(
        "family {:?}, type {:?}, protocol {:?}",
        socket.domain()?,
        socket.r#type()?,
        socket.protocol()?.context("the kernel did not say")?
    );
    // s.fileno(): the number the kernel uses for this socket in our process.
    println!("file descriptor: {}", client.as_raw_fd());
    // s.detach(): give up the socket object but keep the descriptor open. In Rust the
    // descriptor becomes an `OwnedFd`, which closes it when dropped; it can become a
    // TcpStream again, and the connection is still there.
    let fd: OwnedFd = client.into();
    let client = TcpStream::from(fd);
    println!(
        "after detach and back: still connected to {}",
        client.peer_addr()?
    );
    // ANCHOR_END: attributes
    Ok(())
}

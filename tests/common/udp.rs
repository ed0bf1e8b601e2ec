//! Helpers for the UDP and broadcast tests (chapters 05 to 08): raw sockets with timeouts.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::TIMEOUT;

/// The loopback broadcast address on `port`: the only broadcast destination the tests use.
pub fn broadcast_to(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 255, 255, 255], port))
}

/// A UDP socket on `127.0.0.1:0` whose reads time out after `TIMEOUT`.
pub fn socket() -> UdpSocket {
    bound("127.0.0.1:0".parse().unwrap())
}

/// A UDP socket bound to `addr` whose reads time out after `TIMEOUT`.
pub fn bound(addr: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket
}

/// A receiver like 08_broadcast_recv's: SO_REUSEADDR set before binding `addr`.
pub fn shared(addr: SocketAddr) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket
        .bind(&addr.into())
        .unwrap_or_else(|e| panic!("bind {addr} with SO_REUSEADDR: {e}"));
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    socket
}

/// A socket that may send broadcasts (SO_BROADCAST set).
pub fn broadcaster() -> UdpSocket {
    let socket = socket();
    socket.set_broadcast(true).unwrap();
    socket
}

/// Receives one datagram; panics after `TIMEOUT`.
pub fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buffer = vec![0u8; 65536];
    let (n, from) = socket
        .recv_from(&mut buffer)
        .unwrap_or_else(|e| panic!("no datagram within {TIMEOUT:?}: {e}"));
    buffer.truncate(n);
    (buffer, from)
}

/// Receives one datagram as text; panics after `TIMEOUT`.
pub fn recv_text(socket: &UdpSocket) -> String {
    String::from_utf8(recv(socket).0).expect("a UTF-8 datagram")
}

/// Waits `wait` for a datagram and returns it, or `None` if none came.
pub fn try_recv(socket: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = vec![0u8; 65536];
    let result = socket.recv_from(&mut buffer);
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    match result {
        Ok((n, _)) => Some(buffer[..n].to_vec()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("receive failed: {e}"),
    }
}

//! Checks that any hello-protocol server passes (chapters 02, 19, 20): each function takes a
//! running server and asserts on the bytes exchanged and the lines logged.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;

use super::{Server, connect, expect_text, read_once, read_to_end, run, text};

/// Starts hello server `name` on port 0 with `extra` options.
pub fn start(name: &str, extra: &[&str]) -> Server {
    let mut args = vec!["127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(name, &args)
}

/// The number of threads a process runs, from /proc (Linux).
pub fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

/// Sends one message and returns the one reply, as the protocol's lock-step demands.
pub fn ask(stream: &mut TcpStream, message: &str) -> Vec<u8> {
    stream.write_all(message.as_bytes()).expect("send");
    read_once(stream)
}

/// Connects and reads the welcome.
pub fn welcomed(server: &Server) -> TcpStream {
    let mut client = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut client), "Welcome!");
    client
}

/// Chapter 01's client has the notes' conversation with the server.
pub fn real_pair(server: &mut Server) {
    let output = run("01_tcp_client", &[&server.addr]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    let accepted = server.expect_line("Accept new connection from 127.0.0.1:");
    let peer = accepted
        .strip_prefix("Accept new connection from ")
        .and_then(|l| l.strip_suffix("..."))
        .unwrap();
    server.expect_line(&format!("Connection from {peer} closed."));
}

/// `exit` closes the connection (nothing after it, or the `Bye!` an exercise adds), and so
/// does the client's end of stream; each is logged.
pub fn exit_and_end_of_stream_close(server: &mut Server) {
    let mut client = welcomed(server);
    let me = client.local_addr().unwrap();
    expect_text("reply", &ask(&mut client, "Zoë 🦀"), "Hello, Zoë 🦀!");
    client.write_all(b"exit").unwrap();
    let rest = read_to_end(&mut client);
    assert!(
        rest.is_empty() || rest == b"Bye!",
        "after exit: expected the connection to close, got {}",
        text(&rest)
    );
    server.expect_line(&format!("Connection from {me} closed."));

    let mut client = welcomed(server);
    let me = client.local_addr().unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    expect_text("after our end of stream", &read_to_end(&mut client), "");
    server.expect_line(&format!("Connection from {me} closed."));
}

/// Bytes that are not UTF-8 are answered with U+FFFD in their place.
pub fn answers_bad_bytes_lossily(server: &Server) {
    let mut client = welcomed(server);
    client.write_all(b"A\xffB").unwrap();
    expect_text("reply", &read_once(&mut client), "Hello, A\u{fffd}B!");
}

/// Silent clients do not delay a talking one, and get their replies when they speak.
pub fn silent_clients_block_nobody(server: &Server, silent: usize) -> Vec<TcpStream> {
    let mut quiet: Vec<TcpStream> = (0..silent).map(|_| welcomed(server)).collect();
    let mut talker = welcomed(server);
    expect_text("reply", &ask(&mut talker, "Ada"), "Hello, Ada!");
    for client in &mut quiet {
        expect_text(
            "a silent client's late reply",
            &ask(client, "Bob"),
            "Hello, Bob!",
        );
    }
    quiet
}

/// A client sends 2 MB without reading, so the server's writes become partial. Every byte
/// must still come back, in order, wrapped in `Hello, ...!` replies.
pub fn partial_writes_lose_nothing(server: &Server) {
    let mut client = welcomed(server);
    const TOTAL: usize = 2 << 20;
    let mut sender = client.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let chunk = [b'x'; 8192];
        for _ in 0..TOTAL / chunk.len() {
            sender.write_all(&chunk).expect("send");
        }
        sender.shutdown(Shutdown::Write).expect("shutdown");
    });
    let replies = read_to_end(&mut client);
    writer.join().unwrap();
    let replies = String::from_utf8(replies).expect("replies are text");
    let mut echoed = 0;
    for piece in replies.split_terminator('!') {
        let x = piece.strip_prefix("Hello, ").unwrap_or_else(|| {
            panic!(
                "a reply that is not `Hello, X!`: {}",
                text(piece.as_bytes())
            )
        });
        assert!(
            x.bytes().all(|b| b == b'x'),
            "a reply with bytes that were not sent"
        );
        echoed += x.len();
    }
    assert_eq!(echoed, TOTAL, "every byte sent must come back in a reply");
}

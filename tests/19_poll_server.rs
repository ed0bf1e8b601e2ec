//! Checks 19_poll_server against raw clients written here, and against the real client (01).
//! Run with `cargo test --test 19_poll_server`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use common::hello::{self, ask};
use common::{Server, connect, expect_text, read_once, read_to_end, text};

fn start(extra: &[&str]) -> Server {
    hello::start("19_poll_server", extra)
}

#[test]
fn the_real_pair_exchanges_the_notes_conversation() {
    hello::real_pair(&mut start(&[]));
}

#[test]
fn one_thread_serves_a_talking_client_while_others_stay_silent() {
    let server = start(&[]);
    // With one thread per client (chapter 02) three silent clients cost three threads; here
    // they cost three table entries.
    let _silent = hello::silent_clients_block_nobody(&server, 3);
    // The main thread and the Ctrl-C handler's thread: nothing per client.
    assert_eq!(
        hello::threads_of(server.pid()),
        2,
        "the server should run on one thread (plus Ctrl-C's)"
    );
}

#[test]
fn exit_and_end_of_stream_close_the_connection() {
    hello::exit_and_end_of_stream_close(&mut start(&[]));
}

/// A client that sends 2 MB without reading makes the server's writes partial; the rest of each
/// partial write is kept and sent later.
#[test]
fn partial_writes_lose_nothing() {
    hello::partial_writes_lose_nothing(&start(&[]));
}

/// While one client floods the server and never reads, the others are served at once, and the
/// flood stops being read: the flooder's own send buffer fills up.
#[test]
fn a_client_that_never_reads_is_not_read_from_and_blocks_nobody() {
    let server = start(&[]);
    let mut flooder = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut flooder), "Welcome!");
    flooder.set_nonblocking(true).unwrap();
    let chunk = [b'y'; 65536];
    let mut sent = 0usize;
    // Bounded: 64 MB at most. The server stops reading after its replies back up, so the
    // kernel's buffers (a few MB on loopback) fill long before that.
    let mut full = false;
    for _ in 0..1024 {
        match flooder.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Wait until the server has surely seen what is queued: another client's
                // round trip goes through the same event loop.
                let mut other = connect(server.socket_addr());
                expect_text("welcome", &read_once(&mut other), "Welcome!");
                expect_text("reply during a flood", &ask(&mut other, "Cy"), "Hello, Cy!");
                if flooder
                    .write(&chunk)
                    .is_err_and(|e| e.kind() == ErrorKind::WouldBlock)
                {
                    full = true;
                    break;
                }
            }
            Err(e) => panic!("flooding failed: {e}"),
        }
    }
    assert!(
        full,
        "sent {sent} bytes and the server kept reading them all"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_answered_lossily() {
    hello::answers_bad_bytes_lossily(&start(&[]));
}

// Exercises of chapter 19. Each fails on the listing as shipped.

/// Reads until end of stream, but gives up after 3 s (a close on loopback takes well under a
/// millisecond), saying what came.
fn read_until_closed(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => Ok(got),
        Err(e) => Err(format!("{e} after receiving {}", text(&got))),
    }
}

#[test]
#[ignore = "exercise: `exit` is answered with `Bye!` before the server closes"]
fn exercise_goodbye() {
    let server = start(&[]);
    let mut client = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut client), "Welcome!");
    expect_text("reply", &ask(&mut client, "Ada"), "Hello, Ada!");
    client.write_all(b"exit").unwrap();
    let rest = read_until_closed(&mut client)
        .unwrap_or_else(|e| panic!("the server must close the connection after `Bye!`: {e}"));
    expect_text("everything after `exit`", &rest, "Bye!");
    // The server still serves others.
    let mut other = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut other), "Welcome!");
}

#[test]
#[ignore = "exercise: `count` is answered with the number of clients connected"]
fn exercise_count() {
    let mut server = start(&[]);
    let mut a = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut a), "Welcome!");
    let mut b = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut b), "Welcome!");
    expect_text(
        "count with A and B connected",
        &ask(&mut b, "count"),
        "2 clients",
    );
    let mut c = connect(server.socket_addr());
    expect_text("welcome", &read_once(&mut c), "Welcome!");
    a.write_all(b"exit").unwrap();
    expect_text("after exit", &read_to_end(&mut a), "");
    // A has left: B and C remain, whoever asks.
    expect_text(
        "count after A left, asked by C",
        &ask(&mut c, "count"),
        "2 clients",
    );
    expect_text(
        "count after A left, asked by B",
        &ask(&mut b, "count"),
        "2 clients",
    );
    // C leaves without `exit`: it just closes. Once the server logs that, C no longer counts.
    let c_addr = c.local_addr().unwrap();
    drop(c);
    server.expect_line(&format!("Connection from {c_addr} closed"));
    expect_text("count when alone", &ask(&mut b, "count"), "1 client");
    expect_text("other messages", &ask(&mut b, "Ada"), "Hello, Ada!");
}

#[test]
#[ignore = "exercise: the Ctrl-C line says how many clients `--max-clients` turned away"]
fn exercise_turned_away() {
    let mut server = start(&["--max-clients", "1"]);
    let mut a = connect(server.socket_addr());
    expect_text("A's welcome", &read_once(&mut a), "Welcome!");
    // With A connected, B and C are one client too many: each is turned away.
    for name in ["B", "C"] {
        let mut extra = connect(server.socket_addr());
        expect_text(
            &format!("{name}, one client too many"),
            &read_to_end(&mut extra),
            "Busy, try later.",
        );
    }
    // A leaves, so D takes its place and is served, not turned away.
    a.write_all(b"exit").unwrap();
    expect_text("after A's exit", &read_to_end(&mut a), "");
    let mut d = connect(server.socket_addr());
    expect_text("D's welcome (A has left)", &read_once(&mut d), "Welcome!");
    server.interrupt();
    let (_, lines) = server.wait_exit();
    let want = "Ctrl-C received: stopped accepting connections. Turned away: 2. Bye.";
    let last = lines.last().map(String::as_str).unwrap_or_default();
    assert!(
        last == want,
        "the last line must be {want:?} (B and C were turned away; A and D were served), \
         got {last:?}"
    );
}

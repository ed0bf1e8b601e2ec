//! Checks 29_chaos_proxy by running the workbook's own programs through it: the framed reader
//! of chapter 12, the HTTP client of 03 with the server of 17, the hello pair of 01 and 02,
//! the UDP pair of 05 and 06, and the naive "one read is one message" reader of chapter 11.
//! Run with `cargo test --test 29_chaos_proxy`. The server contract (first line, Ctrl-C,
//! --max-clients, --idle-timeout, ...) is checked in tests/contract.rs.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread::{self, JoinHandle};

use common::http::TempDir;
use common::{Output, Server, TIMEOUT, bin, run, run_command};
use socket_workbook::framing::{DEFAULT_LIMIT, read_frame, read_line, write_frame, write_line};

/// Starts the chaos proxy on a free port in front of `target`, with `extra` options.
fn proxy(target: &str, extra: &[&str]) -> Server {
    let mut args = vec!["127.0.0.1:0", target];
    args.extend_from_slice(extra);
    Server::start("29_chaos_proxy", &args)
}

/// A server for one connection, written here: it accepts, hands the stream to `serve`, and
/// returns what `serve` returns.
fn one_shot<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        serve(stream)
    });
    (addr, handle)
}

/// The messages of chapter 12: one empty, one of 10000 bytes.
fn messages() -> Vec<Vec<u8>> {
    vec![
        b"hello".to_vec(),
        b"how are you?".to_vec(),
        Vec::new(),
        b"0123456789".repeat(1000),
        b"bye".to_vec(),
    ]
}

#[test]
fn the_framed_readers_of_12_get_every_message_through_any_chunking() {
    for chaos in [
        &["--chunk", "1"][..],
        &["--random-chunk", "700", "--seed", "12"],
    ] {
        for prefixed in [true, false] {
            let (target, sender) = one_shot(move |mut stream| {
                for message in messages() {
                    if prefixed {
                        write_frame(&mut stream, &message).unwrap();
                    } else {
                        write_line(&mut stream, &message).unwrap();
                    }
                }
            });
            let proxy = proxy(&target, chaos);
            let mut reader = BufReader::new(common::connect(proxy.socket_addr()));
            let mut received = Vec::new();
            loop {
                let message = if prefixed {
                    read_frame(&mut reader, DEFAULT_LIMIT)
                } else {
                    read_line(&mut reader, DEFAULT_LIMIT)
                };
                match message.unwrap_or_else(|e| panic!("{chaos:?}: the reader failed: {e}")) {
                    Some(message) => received.push(message),
                    None => break,
                }
            }
            sender.join().unwrap();
            let how = if prefixed {
                "length prefix"
            } else {
                "end marker"
            };
            assert!(
                received == messages(),
                "{how}, {chaos:?}: the messages received differ from the ones sent"
            );
        }
    }
}

/// A file whose bytes are all different from their neighbours, every byte value included.
fn site_with_big_file() -> (TempDir, Vec<u8>) {
    let dir = TempDir::new("chaos-site");
    let body: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    dir.write("big.bin", &body);
    (dir, body)
}

fn http_get(dir: &TempDir, url: &str) -> Output {
    run_command(
        Command::new(bin("03_http_get"))
            .args([url, "saved.bin"])
            .current_dir(dir.path()),
    )
}

#[test]
fn the_http_client_of_03_saves_the_whole_body_through_any_chunking() {
    let (site, body) = site_with_big_file();
    let server = Server::start(
        "17_http_server",
        &["127.0.0.1:0", &site.path().to_string_lossy()],
    );
    for chaos in [
        &["--chunk", "1"][..],
        &["--random-chunk", "100", "--seed", "3"],
    ] {
        let proxy = proxy(&server.addr, chaos);
        let out = TempDir::new("chaos-get");
        let output = http_get(&out, &format!("http://{}/big.bin", proxy.addr));
        assert_eq!(output.code(), Some(0), "{chaos:?}: {output:?}");
        assert!(
            output.stdout.contains("Saved 20000 bytes to saved.bin"),
            "{output:?}"
        );
        let saved = std::fs::read(out.path().join("saved.bin")).unwrap();
        assert!(
            saved == body,
            "{chaos:?}: the saved body differs from the served file"
        );
    }
}

#[test]
fn a_reset_after_n_bytes_is_reported_by_the_http_client_and_nothing_is_saved() {
    let (site, _) = site_with_big_file();
    let server = Server::start(
        "17_http_server",
        &["127.0.0.1:0", &site.path().to_string_lossy()],
    );
    let mut proxy = proxy(&server.addr, &["--reset-after", "300"]);
    let out = TempDir::new("chaos-reset");
    let output = http_get(&out, &format!("http://{}/big.bin", proxy.addr));
    assert_eq!(output.code(), Some(1), "{output:?}");
    // 300 bytes in all: the request went one way, the rest of the 300 came back.
    let request = format!(
        "GET /big.bin HTTP/1.1\r\nHost: {}\r\nUser-Agent: socket-workbook\r\n\
         Connection: close\r\n\r\n",
        proxy.addr
    );
    let want = format!(
        "could not read the response after {} bytes: Connection reset by peer",
        300 - request.len()
    );
    assert!(
        output.stderr.contains(&want),
        "wanted {want:?} in {output:?}"
    );
    assert!(
        out.names().is_empty(),
        "a file was saved: {:?}",
        out.names()
    );
    proxy.expect_line("server to client: reset after 300 bytes (--reset-after)");
}

#[test]
fn a_reset_reaches_both_ends_after_exactly_n_bytes() {
    let (target, server) = one_shot(|mut stream| {
        stream.write_all(&[b'x'; 1000]).unwrap();
        // The server's next read sees the reset too, not a polite end of stream.
        stream.read(&mut [0u8; 16]).map_err(|e| e.kind())
    });
    let proxy = proxy(&target, &["--reset-after", "100", "--random-chunk", "30"]);
    let mut client = common::connect(proxy.socket_addr());
    let mut got = 0;
    let mut buffer = [0u8; 4096];
    let error = loop {
        match client.read(&mut buffer) {
            Ok(0) => panic!("a clean end of stream after {got} bytes, wanted a reset"),
            Ok(n) => got += n,
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    assert_eq!(got, 100, "bytes before the reset");
    assert_eq!(server.join().unwrap(), Err(ErrorKind::ConnectionReset));
}

#[test]
fn the_hello_client_of_01_survives_a_delay_but_not_one_byte_pieces() {
    let hello = Server::start("02_tcp_server", &["127.0.0.1:0"]);
    // A delay alone changes nothing: each read is still one whole message.
    let slow = proxy(&hello.addr, &["--delay", "10"]);
    let output = run("01_tcp_client", &[&slow.addr, "Ada", "Bob"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\nHello, Ada!\nHello, Bob!\n");
    // One byte at a time, 20 ms apart: 01 takes each read for a whole message (chapter 02,
    // "one read is one message"), so it prints fragments, and 02 greets fragments of names.
    let chopped = proxy(&hello.addr, &["--chunk", "1", "--delay", "20"]);
    let output = run("01_tcp_client", &[&chopped.addr, "Ada"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    let lines = output.stdout_lines();
    assert!(
        lines.len() == 2 && !lines[0].is_empty() && "Welcome!".starts_with(lines[0]),
        "wanted a piece of the welcome, then one more piece: {lines:?}"
    );
    assert!(
        !lines.contains(&"Welcome!") && !lines.contains(&"Hello, Ada!"),
        "a whole message came through one-byte pieces: {lines:?}"
    );
}

#[test]
fn the_naive_reader_of_11_gets_wrong_message_boundaries() {
    let words: [&[u8]; 4] = [b"hello", b"how", b"are", b"you"];
    let (target, sender) = one_shot(move |mut stream| {
        for word in words {
            stream.write_all(word).unwrap();
        }
    });
    let proxy = proxy(&target, &["--chunk", "1", "--delay", "10"]);
    let mut stream = common::connect(proxy.socket_addr());
    // Chapter 11's reader: every read is taken as one message.
    let mut reads: Vec<Vec<u8>> = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let n = stream.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        reads.push(buffer[..n].to_vec());
    }
    sender.join().unwrap();
    let shown: Vec<String> = reads.iter().map(|r| common::text(r)).collect();
    assert_eq!(
        reads.concat(),
        b"hellohowareyou",
        "the bytes themselves arrive intact"
    );
    assert!(
        reads != words,
        "four reads that are exactly the four writes: {shown:?}"
    );
    assert!(
        reads.len() > words.len() && reads[0].len() < 5,
        "wanted the words cut apart, one byte at a time: {shown:?}"
    );
}

#[test]
fn a_long_answer_to_a_silent_client_is_not_idleness() {
    // The client sends nothing; the answer trickles in for about 0.6 s, in 100-byte pieces
    // 60 ms apart; the idle timeout is 0.2 s. Nothing moved from the client for 0.6 s, but
    // bytes moved the other way: the proxy must not hang up.
    let (target, sender) = one_shot(|mut stream| {
        stream.write_all(&[b'y'; 1000]).unwrap();
        stream.read(&mut [0u8; 16]).map_err(|e| e.kind())
    });
    let mut proxy = proxy(
        &target,
        &["--chunk", "100", "--delay", "60", "--idle-timeout", "0.2"],
    );
    let mut stream = common::connect(proxy.socket_addr());
    let mut all = vec![0u8; 1000];
    stream.read_exact(&mut all).expect("the whole answer");
    drop(stream);
    assert_eq!(
        sender.join().unwrap(),
        Ok(0),
        "the client's close reaches the server"
    );
    proxy.expect_line(" closed.");
}

#[test]
fn the_udp_client_of_06_reports_the_dropped_replies_the_same_way_every_run() {
    let server = Server::start("05_udp_server", &["127.0.0.1:0"]);
    let mut proxy = proxy(&server.addr, &["--udp", "--drop", "0.3", "--seed", "2"]);
    assert!(proxy.first_line.starts_with("Bound UDP on 127.0.0.1:"));
    let output = run(
        "06_udp_client",
        &[&proxy.addr, "Ada", "Bob", "Cy", "Dee", "--timeout", "200"],
    );
    // Seed 2 drops the names Ada and Dee on their way to 05: 06 reports both as lost.
    assert_eq!(
        output.stdout,
        "no reply for \"Ada\" within 200ms: UDP does not promise delivery\n\
         Hello, Bob!\nHello, Cy!\n\
         no reply for \"Dee\" within 200ms: UDP does not promise delivery\n"
    );
    assert_eq!(output.code(), Some(2), "{output:?}");
    proxy.interrupt();
    let (status, lines) = proxy.wait_exit();
    assert!(status.success(), "{lines:?}");
    let dropped: Vec<&String> = lines.iter().filter(|l| l.starts_with("dropped ")).collect();
    assert_eq!(dropped.len(), 2, "{lines:?}");
    assert!(
        dropped
            .iter()
            .all(|l| l.starts_with("dropped a datagram from 127.0.0.1:"))
    );
    assert_eq!(
        lines.last().unwrap(),
        "Ctrl-C received: stopped relaying. Bye."
    );
}

#[test]
fn duplicated_replies_are_taken_for_the_next_names_as_chapter_06_says() {
    let server = Server::start("05_udp_server", &["127.0.0.1:0"]);
    let proxy = proxy(&server.addr, &["--udp", "--duplicate", "1"]);
    let output = run("06_udp_client", &[&proxy.addr, "Ada", "Bob", "Cy"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    // Ada's name reaches 05 twice, each reply comes back twice: four `Hello, Ada!` queue up,
    // and 06, which has no request numbers, takes them as the answers to Bob and Cy.
    assert_eq!(output.stdout, "Hello, Ada!\nHello, Ada!\nHello, Ada!\n");
}

#[test]
fn contradictory_or_out_of_range_options_are_usage_errors() {
    let cases: [(&[&str], &str); 5] = [
        (&["--drop", "0.5"], "--drop and --duplicate need --udp"),
        (&["--udp", "--chunk", "1"], "are for TCP, not --udp"),
        (&["--udp", "--duplicate", "1.5"], "a rate is a probability"),
        (&["--chunk", "1", "--random-chunk", "9"], "not both"),
        (&["--seed", "0"], "--seed is not 0"),
    ];
    for (args, want) in cases {
        let output = run("29_chaos_proxy", args);
        assert_eq!(output.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stderr.contains(want), "{args:?}: {}", output.stderr);
    }
}

/// Reads from `stream` until `want` bytes came, or the stream ends, fails or stays silent.
fn read_up_to(stream: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    while got.len() < want {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buffer[..n]),
        }
    }
    got
}

/// What one read that waits `wait_ms` finds: more bytes, the end, a reset, or silence.
fn what_comes_next(stream: &mut TcpStream, wait_ms: u64) -> String {
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(wait_ms)))
        .unwrap();
    match stream.read(&mut [0u8; 4096]) {
        Ok(0) => "the end of the stream (the connection was closed)".to_string(),
        Ok(n) => format!("{n} more bytes"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => "silence".to_string(),
        Err(e) => format!("an error: {e}"),
    }
}

#[test]
#[ignore = "exercise: --stall-after N stops passing bytes but keeps the connections open"]
fn exercise_stall() {
    // A server that first reads the client's 30 bytes, then sends 1000 bytes, then reports
    // what it hears from the client; it closes its end when it returns.
    let (target, server) = one_shot(|mut stream| {
        let mut hello = [0u8; 30];
        stream.read_exact(&mut hello).map_err(|e| e.to_string())?;
        stream.write_all(&[b'z'; 1000]).unwrap();
        Ok::<String, String>(what_comes_next(&mut stream, 600))
    });
    let mut proxy = proxy(&target, &["--stall-after", "100"]);
    let mut client = common::connect(proxy.socket_addr());
    client.write_all(&[b'a'; 30]).unwrap();
    // 100 bytes in all, both directions together: the client's 30, then 70 of the answer.
    let got = read_up_to(&mut client, 70);
    assert!(
        got.len() == 70,
        "the client sent 30 bytes, so with --stall-after 100 (both directions together) it \
         wanted exactly 70 bytes before the stall, got {} bytes",
        got.len()
    );
    client.write_all(b"more").unwrap();
    let next = what_comes_next(&mut client, 400);
    assert!(
        next == "silence",
        "after 100 bytes the client wanted silence with the connection open, but got {next}"
    );
    let heard = server.join().unwrap();
    assert!(
        heard == Ok("silence".to_string()),
        "after the stall the client's bytes must not reach the server, but the server got {}",
        heard.unwrap_or_else(|e| format!("no 30 bytes from the client: {e}"))
    );
    // The server has closed its end: a black hole passes no FIN either.
    let after_close = what_comes_next(&mut client, 400);
    assert!(
        after_close == "silence",
        "the server closed its end after the stall; the client must still hear silence (a \
         stall passes no end of stream), but got {after_close}"
    );
    proxy.expect_line("stalled after 100 bytes (--stall-after)");
    // Both ends have closed: the proxy, which kept reading both, sees it and lets go.
    drop(client);
    assert!(
        proxy
            .line_within(" closed.", std::time::Duration::from_secs(3))
            .is_some(),
        "after the stall both ends closed, but the proxy did not say `Connection from ... \
         closed.` within 3 s: it must keep reading each side until that side closes"
    );

    // Only the client's own deadline ends a stalled transfer: 03 gives up after 0.5 s.
    let (site, _) = site_with_big_file();
    let web = Server::start(
        "17_http_server",
        &["127.0.0.1:0", &site.path().to_string_lossy()],
    );
    let stalled = self::proxy(&web.addr, &["--stall-after", "150"]);
    let out = TempDir::new("chaos-stall");
    let output = run_command(
        Command::new(bin("03_http_get"))
            .args([
                &format!("http://{}/big.bin", stalled.addr),
                "--deadline",
                "0.5",
            ])
            .current_dir(out.path()),
    );
    assert!(
        output.code() == Some(1)
            && output
                .stderr
                .contains("the whole transfer took longer than 0.5 s (--deadline)"),
        "03_http_get through a stall wanted its --deadline error, got: {output:?}"
    );
}

/// Sends `datagrams` through `proxy_args` to a target written here that echoes each one back.
/// Returns (what the target received, what came back to the client), in arrival order.
fn through_udp(proxy_args: &[&str], datagrams: &[&str]) -> (Vec<String>, Vec<String>) {
    let target = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    target
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut args = vec!["--udp"];
    args.extend_from_slice(proxy_args);
    let proxy = proxy(&target.local_addr().unwrap().to_string(), &args);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    for datagram in datagrams {
        client
            .send_to(datagram.as_bytes(), proxy.socket_addr())
            .unwrap();
    }
    let mut buffer = [0u8; 64];
    let mut received = Vec::new();
    while let Ok((n, from)) = target.recv_from(&mut buffer) {
        received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        target.send_to(&buffer[..n], from).unwrap();
    }
    let mut echoed = Vec::new();
    while let Ok(n) = client.recv(&mut buffer) {
        echoed.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    (received, echoed)
}

#[test]
#[ignore = "exercise: --reorder RATE holds a datagram back until the next one has gone"]
fn exercise_reorder() {
    let (received, echoed) = through_udp(&["--reorder", "1"], &["1", "2", "3", "4"]);
    assert!(
        received == ["2", "1", "4", "3"],
        "with --reorder 1, the client sent 1 2 3 4 and the target should have got 2 1 4 3, \
         but got {}",
        received.join(" ")
    );
    assert!(
        echoed == ["1", "2", "3", "4"],
        "the target echoed 2 1 4 3; reordered again on the way back, the client should have got \
         1 2 3 4, but got {}",
        echoed.join(" ")
    );
    // A rate between 0 and 1 picks some datagrams, not all: seed 4 holds 1, 3 and 7, not 5 or 6
    // (2, 4 and 8 come while one is held, so their die does not count).
    let (received, _) = through_udp(
        &["--reorder", "0.5", "--seed", "4"],
        &["1", "2", "3", "4", "5", "6", "7", "8"],
    );
    assert!(
        received == ["2", "1", "4", "3", "5", "6", "8", "7"],
        "with --reorder 0.5 --seed 4, the client sent 1 to 8 and the target should have got \
         2 1 4 3 5 6 8 7 (the seed holds 1, 3 and 7, with the reorder die thrown after the \
         other two, for every datagram), but got {}",
        received.join(" ")
    );
    // With --drop too: the reorder die is thrown after the other two for every datagram, and a
    // held datagram waits for the next one passed on, past any that is dropped.
    let (received, _) = through_udp(
        &["--drop", "0.3", "--seed", "2", "--reorder", "1"],
        &["1", "2", "3", "4", "5", "6", "7", "8"],
    );
    assert!(
        received == ["4", "2", "6", "5", "8", "7"],
        "with --drop 0.3 --seed 2 --reorder 1, the client sent 1 to 8 and the target should have \
         got 4 2 6 5 8 7 (1 and 3 dropped, 2 held past the dropped 3), but got {}",
        received.join(" ")
    );
    // Without --reorder, no die is thrown for it: seed 2 drops what it always dropped.
    let (received, _) = through_udp(&["--drop", "0.3", "--seed", "2"], &["1", "2", "3", "4"]);
    assert!(
        received == ["2", "3"],
        "with --drop 0.3 --seed 2 and no --reorder, the target should get 2 3 as before, but \
         got {}",
        received.join(" ")
    );
}

//! Checks 02_tcp_server against a raw client written here, and against the real client (01).
//! Run with `cargo test --test 02_tcp_server`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Server, connect, expect_text, read_once, read_to_end, run, text};

fn start() -> Server {
    Server::start("02_tcp_server", &["127.0.0.1:0"])
}

/// Sends one message and returns the one reply, as the protocol's lock-step demands.
fn ask(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("send");
    read_once(stream)
}

#[test]
fn welcome_then_replies_in_order_then_exit_closes() {
    let mut server = start();
    let mut client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    assert_eq!(read_once(&mut client), b"Welcome!");
    assert_eq!(ask(&mut client, b"Michael"), b"Hello, Michael!");
    assert_eq!(ask(&mut client, b"Tracy"), b"Hello, Tracy!");
    assert_eq!(
        ask(&mut client, "Zoë 🦀".as_bytes()),
        "Hello, Zoë 🦀!".as_bytes()
    );
    client.write_all(b"exit").unwrap();
    // After `exit` the server hangs up: we read end of stream, with no further bytes.
    assert_eq!(read_to_end(&mut client), b"");
    server.expect_line(&format!("Accept new connection from {me}..."));
    server.expect_line(&format!("Connection from {me} closed."));
}

#[test]
fn end_of_stream_closes_the_connection() {
    let mut server = start();
    let mut client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    assert_eq!(read_once(&mut client), b"Welcome!");
    assert_eq!(ask(&mut client, b"Ada"), b"Hello, Ada!");
    // Close our sending side without saying `exit`: the server's read returns 0.
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client), b"");
    server.expect_line(&format!("Connection from {me} closed."));
}

#[test]
fn the_real_pair_exchanges_the_notes_conversation() {
    let mut server = start();
    let output = run("01_tcp_client", &[&server.addr]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    assert_eq!(output.stderr, "");
    let accepted = server.expect_line("Accept new connection from 127.0.0.1:");
    let peer = accepted
        .trim_start_matches("Accept new connection from ")
        .trim_end_matches("...");
    server.expect_line(&format!("Connection from {peer} closed."));
}

#[test]
fn fifty_clients_at_once_each_get_their_own_replies() {
    let server = start();
    let addr = server.socket_addr();
    let clients: Vec<_> = (0..50)
        .map(|i| {
            thread::spawn(move || {
                let mut client = connect(addr);
                assert_eq!(read_once(&mut client), b"Welcome!");
                for round in 0..5 {
                    let name = format!("client{i}-round{round}");
                    let reply = ask(&mut client, name.as_bytes());
                    assert_eq!(reply, format!("Hello, {name}!").as_bytes());
                }
                client.write_all(b"exit").unwrap();
                assert_eq!(read_to_end(&mut client), b"");
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client thread failed");
    }
}

/// After each kind of bad client, a well-behaved client must still be served.
fn assert_still_serves(addr: SocketAddr) {
    let mut client = connect(addr);
    assert_eq!(read_once(&mut client), b"Welcome!");
    assert_eq!(ask(&mut client, b"Grace"), b"Hello, Grace!");
}

#[test]
fn bytes_that_are_not_utf8_are_answered_lossily() {
    let mut server = start();
    let mut client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    assert_eq!(read_once(&mut client), b"Welcome!");
    let reply = ask(&mut client, &[0xff, 0xfe, b'A']);
    assert_eq!(reply, "Hello, \u{FFFD}\u{FFFD}A!".as_bytes());
    drop(client);
    server.expect_line(&format!("Connection from {me} closed."));
    assert_still_serves(server.socket_addr());
}

#[test]
fn a_64_kib_message_is_answered_piece_by_piece() {
    let server = start();
    let mut client = connect(server.socket_addr());
    assert_eq!(read_once(&mut client), b"Welcome!");
    let big = vec![b'a'; 64 * 1024];
    client.write_all(&big).unwrap();
    // The server reads at most 1024 bytes at a time and answers each read, so the 64 KiB come
    // back as many `Hello, aaa...!` replies. Every `a` must come back exactly once.
    let mut replies = Vec::new();
    while replies.iter().filter(|&&b| b == b'a').count() < big.len() {
        // Many reads, so a signal (EINTR) may well interrupt one: read_retrying waits again.
        let mut chunk = vec![0u8; 65536];
        let n = read_retrying(&mut client, &mut chunk).expect("read failed");
        chunk.truncate(n);
        assert!(!chunk.is_empty(), "server hung up early");
        replies.extend(chunk);
    }
    let text = String::from_utf8(replies).unwrap();
    let rebuilt: String = text
        .split("Hello, ")
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.strip_suffix('!').expect("each reply ends with !"))
        .collect();
    assert_eq!(rebuilt.len(), big.len());
    assert!(rebuilt.bytes().all(|b| b == b'a'));
    assert!(
        text.matches("Hello, ").count() >= 64,
        "one reply per read of at most 1024 bytes"
    );
    assert_still_serves(server.socket_addr());
}

#[test]
fn a_client_that_connects_and_vanishes_is_logged_and_forgotten() {
    let mut server = start();
    let client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    drop(client);
    server.expect_line(&format!("Connection from {me} closed"));
    assert_still_serves(server.socket_addr());
}

#[test]
fn a_client_that_resets_mid_message_does_not_take_the_server_down() {
    let mut server = start();
    let client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    let mut client = socket2::Socket::from(client);
    let mut welcome = [std::mem::MaybeUninit::new(0u8); 8];
    // A signal may interrupt the wait (EINTR); then simply wait again.
    let received = loop {
        match client.recv(&mut welcome) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other.unwrap(),
        }
    };
    assert_eq!(received, 8);
    client.write_all(b"half a mess").unwrap();
    // SO_LINGER with a zero timeout makes close send a TCP reset (RST) instead of a goodbye.
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    server.expect_line(&format!("Connection from {me} closed"));
    assert_still_serves(server.socket_addr());
}

#[test]
fn a_bad_address_prints_usage_and_status_2() {
    let output = run("02_tcp_server", &["localhost"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(
        output.stderr.starts_with("error: bad ADDR \"localhost\""),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("usage: 02_tcp_server [ADDR]"));
    let extra = run("02_tcp_server", &["127.0.0.1:0", "--fast"]);
    assert_eq!(extra.code(), Some(2), "{extra:?}");
    let backlog = run("02_tcp_server", &["127.0.0.1:0", "--backlog", "-1"]);
    assert_eq!(backlog.code(), Some(2), "{backlog:?}");
    assert!(
        backlog
            .stderr
            .starts_with("error: --backlog must be at least 1")
    );
}

#[test]
fn slow_mode_still_answers_correctly() {
    let server = Server::start("02_tcp_server", &["127.0.0.1:0", "--slow"]);
    let mut client = connect(server.socket_addr());
    assert_eq!(read_once(&mut client), b"Welcome!");
    assert_eq!(ask(&mut client, b"Ada"), b"Hello, Ada!");
}

#[test]
fn messages_sent_without_waiting_arrive_glued() {
    // The weakness chapter 02 points out: one read is taken as one message. With --slow the
    // server sleeps a second after each read, so names we send during that second pile up in
    // its receive buffer and come out of the next read together. Sent before the welcome is
    // read, they are usually all in the buffer by the server's first read (one second, not
    // two).
    let server = Server::start("02_tcp_server", &["127.0.0.1:0", "--slow"]);
    let mut client = connect(server.socket_addr());
    for name in ["Ada", "Bob", "Cy"] {
        client.write_all(name.as_bytes()).unwrap();
    }
    client.shutdown(Shutdown::Write).unwrap();
    let all = String::from_utf8(read_to_end(&mut client)).unwrap();
    let replies = all
        .strip_prefix("Welcome!")
        .unwrap_or_else(|| panic!("expected Welcome! first, got {all:?}"));
    // Three names, but fewer than three greetings: at least two names were glued into one.
    assert!(replies.matches("Hello, ").count() < 3, "{replies}");
    assert!(
        [
            "Hello, Ada!Hello, BobCy!",
            "Hello, AdaBob!Hello, Cy!",
            "Hello, AdaBobCy!"
        ]
        .contains(&replies),
        "{replies}"
    );
}

// Exercises of chapter 02. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 02_tcp_server -- --ignored`.

/// One `read`, tried again when a signal interrupts it (EINTR): nothing went wrong then.
fn read_retrying(stream: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buffer) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Reads once; panics with `what` and the error in words (a reset, a timeout) on failure.
#[track_caller]
fn read_reply(stream: &mut impl Read, what: &str) -> Vec<u8> {
    let mut buffer = vec![0u8; 65536];
    match read_retrying(stream, &mut buffer) {
        Ok(n) => {
            buffer.truncate(n);
            buffer
        }
        Err(e) => panic!("{what}: the read failed: {e}"),
    }
}

/// Sends `message`, reads one reply, and fails unless it is `want`.
#[track_caller]
fn expect_reply(stream: &mut (impl Read + Write), what: &str, message: &str, want: &str) {
    let what = format!("{what}, the reply to {message:?}");
    if let Err(e) = stream.write_all(message.as_bytes()) {
        panic!("{what}: could not send {message:?}: {e}");
    }
    expect_text(&what, &read_reply(stream, &what), want);
}

/// One step of the --once client: sends `message` (if any) and fails unless the reply is
/// `want`, saying so in words when the server is gone.
#[track_caller]
fn once_step(stream: &mut TcpStream, message: Option<&str>, want: &str) {
    let what = match message {
        Some(m) => format!("with --once, the first client's reply to {m:?}"),
        None => "with --once, the first client's welcome".to_string(),
    };
    let gone = "the server must serve its one client to the end before it exits";
    if let Some(m) = message
        && let Err(e) = stream.write_all(m.as_bytes())
    {
        panic!("{what}: could not send it ({e}); {gone}");
    }
    let mut buffer = [0u8; 1024];
    match read_retrying(stream, &mut buffer) {
        Ok(0) if !want.is_empty() => {
            panic!("{what}: expected {want:?}, got the end of the connection; {gone}")
        }
        Ok(n) => expect_text(&what, &buffer[..n], want),
        Err(e) => panic!("{what}: expected {want:?}, got an error ({e}); {gone}"),
    }
}

#[test]
#[ignore = "exercise: --once serves one client, then exits"]
fn exercise_once() {
    let mut server = Server::start("02_tcp_server", &["127.0.0.1:0", "--once"]);
    let addr = server.socket_addr();
    let mut first = connect(addr);
    let me = first.local_addr().unwrap();
    once_step(&mut first, None, "Welcome!");
    // A second client arrives while the first is still connected. It may wait in the queue,
    // but it must never be greeted: --once serves one client.
    let mut second = TcpStream::connect(addr).unwrap_or_else(|e| {
        panic!(
            "with --once, a second client could not connect while the first was connected \
             ({e}); the server must serve its one client to the end before it exits"
        )
    });
    // A thread-per-client server greets it within milliseconds; give it a generous second.
    // (A correct server sends nothing, so this always waits the full second.)
    second
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut greeting = [0u8; 64];
    if let Ok(n @ 1..) = read_retrying(&mut second, &mut greeting) {
        expect_text(
            "with --once, a second client that arrived while the first was connected received",
            &greeting[..n],
            "",
        );
    }
    second.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    once_step(&mut first, Some("Ada"), "Hello, Ada!");
    once_step(&mut first, Some("exit"), "");
    let (status, lines) = server.wait_exit();
    let closed = format!("Connection from {me} closed.");
    if !lines.contains(&closed) {
        panic!(
            "with --once, expected the line {closed:?} once the client left, then the last \
             line \"Served one client. Bye.\"; the server printed {lines:#?}"
        );
    }
    expect_text(
        "with --once, the server's last line",
        lines.last().unwrap().as_bytes(),
        "Served one client. Bye.",
    );
    assert!(
        status.success(),
        "with --once, expected exit status 0 after the client left, got {status}"
    );
    // The server is gone: the waiting second client is cut off without a word (an end of
    // stream or a reset, whichever the system sends).
    let mut rest = Vec::new();
    let mut buffer = [0u8; 1024];
    while let Ok(n @ 1..) = read_retrying(&mut second, &mut buffer) {
        rest.extend_from_slice(&buffer[..n]);
    }
    expect_text(
        "with --once, a second client that arrived while the first was connected received",
        &rest,
        "",
    );
}

/// Whole seconds since the Unix epoch, by this machine's clock.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Fails unless `reply` is the time in whole seconds, in digits only, read between `before`
/// and `after` (both in whole seconds).
#[track_caller]
fn expect_time(what: &str, reply: &[u8], before: u64, after: u64) {
    let digits = !reply.is_empty() && reply.iter().all(u8::is_ascii_digit);
    let seconds = std::str::from_utf8(reply)
        .ok()
        .filter(|_| digits)
        .and_then(|r| r.parse::<u64>().ok());
    match seconds {
        None => panic!(
            "{what}: expected only the whole seconds since the Unix epoch in digits, such as \
             \"{before}\", got {}",
            text(reply)
        ),
        Some(s) if s < before || s > after => panic!(
            "{what}: expected the seconds since the Unix epoch when \"time\" arrived, \
             between {before} and {after}, got {s}"
        ),
        Some(_) => {}
    }
}

#[test]
#[ignore = "exercise: the time command"]
fn exercise_time_command() {
    let server = start();
    let addr = server.socket_addr();

    // 1. Everything the server says to "time", up to the end of the connection, is the
    //    number alone: no newline, no greeting after it.
    let mut client = connect(addr);
    expect_text(
        "the welcome",
        &read_reply(&mut client, "the welcome"),
        "Welcome!",
    );
    let before = now_secs();
    client.write_all(b"time").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    if let Err(e) = client.read_to_end(&mut reply) {
        panic!("the reply to \"time\": the read failed: {e}");
    }
    expect_time(
        "the reply to \"time\" (all the server sent before it hung up)",
        &reply,
        before,
        now_secs(),
    );

    // 2. Only "time" exactly is the command, and the conversation goes on after it.
    let mut client = connect(addr);
    let what = "after the welcome";
    expect_text(what, &read_reply(&mut client, what), "Welcome!");
    expect_reply(
        &mut client,
        "only \"time\" exactly is the command",
        "timer",
        "Hello, timer!",
    );
    expect_reply(
        &mut client,
        "only \"time\" exactly is the command",
        "Time",
        "Hello, Time!",
    );
    let before = now_secs();
    client.write_all(b"time").unwrap();
    let reply = read_reply(&mut client, "the reply to \"time\"");
    expect_time("the reply to \"time\"", &reply, before, now_secs());
    expect_reply(&mut client, "after \"time\"", "Ada", "Hello, Ada!");

    // 3. The clock is read when "time" arrives, not when the client connected. With --slow,
    //    the server pauses a second before each reply, so "Ada" makes the clock move on.
    let slow = Server::start("02_tcp_server", &["127.0.0.1:0", "--slow"]);
    let mut client = connect(slow.socket_addr());
    let what = "with --slow, after the welcome";
    expect_text(what, &read_reply(&mut client, what), "Welcome!");
    expect_reply(&mut client, "with --slow", "Ada", "Hello, Ada!");
    let before = now_secs();
    client.write_all(b"time").unwrap();
    let reply = read_reply(&mut client, "with --slow, the reply to \"time\"");
    expect_time(
        "with --slow, a second after connecting, the reply to \"time\" (is the clock read \
         once, before the loop?)",
        &reply,
        before,
        now_secs(),
    );

    // 4. The command lives in serve_hello, so the Unix socket server of chapter 09 has it too.
    let dir = common::unix::TempDir::new("02-time");
    let path = dir.join("hello.sock");
    let _unix = Server::start("09_unix_server", &[&path]);
    let mut client = common::unix::connect_unix(&path);
    let what = "09_unix_server, the welcome";
    expect_text(what, &read_reply(&mut client, what), "Welcome!");
    let before = now_secs();
    client.write_all(b"time").unwrap();
    let reply = read_reply(&mut client, "09_unix_server, the reply to \"time\"");
    expect_time(
        "09_unix_server (it shares serve_hello in src/hello.rs), the reply to \"time\"",
        &reply,
        before,
        now_secs(),
    );
}

/// Connects while the server is full, and fails unless the server says exactly `Busy, try
/// later.` and closes the connection. A correct server closes at once; 3 s is a wide margin.
#[track_caller]
fn expect_busy(addr: SocketAddr, what: &str) {
    const BUSY: &[u8] = b"Busy, try later.";
    let what = format!("{what}: expected \"Busy, try later.\" and then the end of the connection");
    let mut client = connect(addr);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "{what}, got {} and the connection stayed open for 3 s",
                text(&got)
            );
        }
        client.set_read_timeout(Some(left)).unwrap();
        match read_retrying(&mut client, &mut buffer) {
            // Hung up after the message (a reset counts too): right.
            Ok(0) if got == BUSY => return,
            Err(e) if e.kind() == ErrorKind::ConnectionReset && got == BUSY => return,
            Ok(0) => panic!("{what}, got {} and the end of the connection", text(&got)),
            Ok(n) => got.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{what}, got {} and then an error: {e}", text(&got)),
        }
        // Wrong bytes: no need to wait for the end.
        if !BUSY.starts_with(&got) {
            panic!("{what}, got {}", text(&got));
        }
    }
}

/// Connects and fails unless the server greets: a free place.
#[track_caller]
fn expect_welcome(addr: SocketAddr, what: &str) -> TcpStream {
    let mut client = connect(addr);
    let reply = read_reply(&mut client, what);
    expect_text(what, &reply, "Welcome!");
    client
}

/// Says `exit`, reads the end of the connection, and waits for the server's `closed` line for
/// this client: by then the server has given its place back.
#[track_caller]
fn leave(server: &mut Server, mut client: TcpStream, name: &str) {
    let me = client.local_addr().unwrap();
    if let Err(e) = client.write_all(b"exit") {
        panic!("client {name} could not send \"exit\": {e}");
    }
    let mut rest = Vec::new();
    if let Err(e) = client.read_to_end(&mut rest) {
        panic!("client {name}: after \"exit\", reading the end of the connection failed: {e}");
    }
    expect_text(
        &format!("client {name}: after \"exit\", the server sent"),
        &rest,
        "",
    );
    server.expect_line(&format!("Connection from {me} closed"));
}

#[test]
#[ignore = "exercise: Clients served: N; at most at once: M."]
fn exercise_stats() {
    const STATS: &str = "Clients served: 4; at most at once: 3.";
    const BYE: &str = "Ctrl-C received: stopped accepting connections. Bye.";
    let mut server = Server::start("02_tcp_server", &["127.0.0.1:0", "--max-clients", "3"]);
    let addr = server.socket_addr();
    let a = expect_welcome(addr, "--max-clients 3: client a");
    let b = expect_welcome(addr, "--max-clients 3: client b");
    let c = expect_welcome(addr, "--max-clients 3: client c");
    expect_busy(
        addr,
        "--max-clients 3: client d, while a, b and c are connected",
    );
    leave(&mut server, a, "a");
    let e = expect_welcome(addr, "--max-clients 3: client e, after a left");
    leave(&mut server, b, "b");
    leave(&mut server, c, "c");
    // Ctrl-C while e is still connected.
    server.interrupt();
    let (status, lines) = server.wait_exit();
    drop(e);
    let story = "with --max-clients 3: a, b and c were welcomed, d was turned away as busy, a \
                 left, e was welcomed, b and c left, then Ctrl-C came while e was connected; \
                 so 4 clients were served (a, b, c and e, not d), and at most 3 (a, b and c) \
                 were connected at once";
    if !lines.iter().any(|line| line.starts_with("Clients served:")) {
        panic!(
            "after Ctrl-C, expected the line {STATS:?} just before the last line {BYE:?} \
             ({story}); the server printed {lines:#?}"
        );
    }
    let last = lines.last().map_or("", String::as_str);
    expect_text("after Ctrl-C, the server's last line", last.as_bytes(), BYE);
    let before_last = lines.len().checked_sub(2).map_or("", |i| lines[i].as_str());
    expect_text(
        &format!("after Ctrl-C, the line before the last ({story})"),
        before_last.as_bytes(),
        STATS,
    );
    assert!(
        status.success(),
        "after Ctrl-C, expected exit status 0, got {status}"
    );
}

/// Where Linux keeps its cap on any listen backlog (`net.core.somaxconn`).
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";

/// Starts 02_tcp_server with `--backlog N` and returns its first stdout line, or, if it
/// exits without one, its exit status and stderr. Kills it after the first line.
fn start_with_backlog(n: &str) -> Result<String, (Option<i32>, String)> {
    let mut command = std::process::Command::new(common::bin("02_tcp_server"));
    command.args(["127.0.0.1:0", "--backlog", n]);
    first_line_or_exit(command)
}

/// Runs `command` and returns its first stdout line (then kills it), or, if it exits without
/// one, its exit status and stderr.
fn first_line_or_exit(mut command: std::process::Command) -> Result<String, (Option<i32>, String)> {
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("could not start 02_tcp_server");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout is piped"));
    let (send, first) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut out, &mut line);
        let _ = send.send(line);
    });
    let line = first.recv_timeout(common::TIMEOUT);
    if line.as_ref().is_ok_and(|l| l.is_empty()) {
        let mut stderr = String::new();
        let _ = child
            .stderr
            .take()
            .expect("stderr is piped")
            .read_to_string(&mut stderr);
        let status = child.wait().expect("could not reap 02_tcp_server");
        return Err((status.code(), stderr));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(line.unwrap_or_default().trim_end().to_string())
}

#[test]
#[ignore = "exercise: refuse a backlog above the system's cap"]
fn exercise_backlog_cap() {
    let cap: i64 = std::fs::read_to_string(SOMAXCONN)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("this machine has no readable number in {SOMAXCONN}"));
    let above = (cap + 1).to_string();
    let want = format!(
        "error: --backlog must be at most {cap}, the system's cap in \
         /proc/sys/net/core/somaxconn"
    );

    // 1. One above the cap: refused before listening, as a usage error.
    let why = format!(
        "--backlog {above} is above this machine's cap of {cap} (read from {SOMAXCONN}), \
         which Linux would silently use instead, so the server must refuse it before listening"
    );
    let (code, stderr) =
        common::expect_refused("02_tcp_server", &["127.0.0.1:0", "--backlog", &above], &why);
    assert!(
        code == Some(2),
        "{why}: expected exit status 2, a usage error like the one for --backlog 0, got \
         {code:?} with stderr {stderr:?}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    expect_text(
        &format!("--backlog {above}, the first line on stderr"),
        first.as_bytes(),
        &want,
    );
    assert!(
        stderr.contains("usage: 02_tcp_server [ADDR]"),
        "--backlog {above}: expected the usage text after the error line, as for --backlog \
         0; stderr was {stderr:?}"
    );

    // 2. In a network namespace of its own the cap is another number (each namespace has its
    // own somaxconn): a server that wrote this machine's number into its code is caught.
    if std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        let mut command = std::process::Command::new("unshare");
        command
            .args(["-n", "sh", "-c"])
            .arg(format!(
                "echo 300 > {SOMAXCONN} && exec \"$0\" 127.0.0.1:0 --backlog 301"
            ))
            .arg(common::bin("02_tcp_server"));
        let got = first_line_or_exit(command);
        let want = "error: --backlog must be at most 300, the system's cap in \
                    /proc/sys/net/core/somaxconn";
        match got {
            Err((Some(2), stderr)) if stderr.lines().next() == Some(want) => {}
            Ok(line) => panic!(
                "where {SOMAXCONN} says 300 (a network namespace of the test's own), \
                 --backlog 301 must be refused, but the server started: {line:?}; read the \
                 cap from the file instead of writing this machine's number in the code"
            ),
            Err((code, stderr)) => panic!(
                "where {SOMAXCONN} says 300, --backlog 301 must give exit status 2 and \
                 {want:?}; got status {code:?} and stderr {stderr:?}"
            ),
        }
    } else {
        eprintln!("(skipped the part with a cap of 300: no network namespaces here)");
    }

    // 3. The cap itself is allowed: the server starts as usual.
    match start_with_backlog(&cap.to_string()) {
        Ok(line) if line.starts_with("Listening on ") => {}
        Ok(line) => panic!(
            "--backlog {cap}: expected the first line \"Listening on 127.0.0.1:PORT\", got \
             {line:?}"
        ),
        Err((code, stderr)) => panic!(
            "--backlog {cap} is the cap itself, which Linux allows, so the server must start \
             with it; it exited with status {code:?} and stderr {stderr:?}"
        ),
    }
}

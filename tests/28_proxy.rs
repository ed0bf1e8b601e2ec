//! Checks 28_proxy between the workbook's own pairs (01 and 02, 03 and 17, curl and 17) and
//! between a client and a target written here, so that every byte and every end is known.
//! Run with `cargo test --test 28_proxy`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::http::TempDir;
use common::{Server, connect, expect_text, read_exactly, read_to_end, run, run_command, text};
use socket2::{Domain, SockRef, Socket, Type};

/// Starts the proxy on a free port, forwarding to `target`.
fn start_proxy(target: impl ToString, extra: &[&str]) -> Server {
    let target = target.to_string();
    let mut args = vec!["127.0.0.1:0", &target];
    args.extend_from_slice(extra);
    Server::start("28_proxy", &args)
}

/// A target written here: it accepts one connection and hands it to `serve` on a thread.
fn start_target<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(common::TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(common::TIMEOUT)).unwrap();
        serve(stream)
    });
    (addr, thread)
}

/// A port where nobody listens, held for as long as the socket lives: bound, but not
/// listening, so a connection to it is refused, and no other program can take the port
/// meanwhile (as it could if we bound a port and let it go).
fn refusing_port() -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any.into()).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// `count` bytes that are not text: every byte value, over and over.
fn pattern(count: usize) -> Vec<u8> {
    (0..count).map(|i| (i % 251) as u8).collect()
}

/// Closes `stream` with a reset (RST) instead of a FIN: SO_LINGER with a time of zero.
fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

#[test]
fn the_01_client_gets_through_the_proxy_what_it_gets_from_02() {
    let server = Server::start("02_tcp_server", &["127.0.0.1:0"]);
    let direct = run("01_tcp_client", &[&server.addr, "Ada", "Bob"]);
    let mut proxy = start_proxy(&server.addr, &[]);
    proxy.expect_line(&format!("Forwarding to {}", server.addr));
    let through = run("01_tcp_client", &[&proxy.addr, "Ada", "Bob"]);
    assert_eq!(through.code(), Some(0), "{through:?}");
    assert_eq!(through.stdout, direct.stdout);
    assert_eq!(through.stdout, "Welcome!\nHello, Ada!\nHello, Bob!\n");
    // Up: `Ada`, `Bob`, `exit`. Down: `Welcome!`, `Hello, Ada!`, `Hello, Bob!`.
    let line = proxy.expect_line(" closed: ");
    assert!(
        line.ends_with(
            "closed: client -> target 10 bytes (end of stream), \
             target -> client 30 bytes (end of stream)"
        ),
        "{line}"
    );
}

#[test]
fn a_file_from_17_arrives_whole_through_the_proxy() {
    let site = TempDir::new("proxy-site");
    let body = pattern(300_000);
    site.write("data.bin", &body);
    let site_arg = site.path().to_string_lossy().into_owned();
    let server = Server::start("17_http_server", &["127.0.0.1:0", &site_arg]);
    let mut proxy = start_proxy(&server.addr, &[]);
    let url = format!("http://{}/data.bin", proxy.addr);

    // Chapter 03's client saves the body into its current directory.
    let saved = TempDir::new("proxy-saved");
    let output = run_command(
        Command::new(common::bin("03_http_get"))
            .arg(&url)
            .current_dir(saved.path()),
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    let got = std::fs::read(saved.path().join("data.bin")).unwrap();
    assert!(
        got == body,
        "03_http_get saved {} bytes, not the file",
        got.len()
    );
    let line = proxy.expect_line(" closed: ");
    assert!(
        line.contains(" bytes (end of stream), target -> client "),
        "{line}"
    );

    // curl, if it is installed.
    let curled = saved.path().join("curled.bin");
    match Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--output"])
        .arg(&curled)
        .arg(&url)
        .status()
    {
        Err(_) => eprintln!("skipped: curl is not installed"),
        Ok(status) => {
            assert!(status.success(), "curl: {status:?}");
            assert!(
                std::fs::read(&curled).unwrap() == body,
                "curl got another file"
            );
        }
    }
}

#[test]
fn a_half_close_passes_through_and_the_byte_counts_are_exact() {
    // The target reads until end of stream (which it sees only if the proxy passes the
    // client's half-close on), THEN answers, with more than one read's worth.
    let (addr, target) = start_target(|mut stream| {
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        let mut answer = format!("{} bytes, then end of stream\n", request.len()).into_bytes();
        answer.extend(pattern(1_000_000));
        stream.write_all(&answer).unwrap();
        (request, answer)
    });
    let mut proxy = start_proxy(addr, &[]);
    let mut client = connect(proxy.socket_addr());
    let request = pattern(100_000);
    client.write_all(&request).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let answer = read_to_end(&mut client);
    let (received, sent) = target.join().unwrap();
    assert!(received == request, "the target received other bytes");
    assert!(
        answer == sent,
        "the client received {} bytes, not the answer",
        answer.len()
    );
    let line = proxy.expect_line(" closed: ");
    let want = format!(
        "closed: client -> target 100000 bytes (end of stream), \
         target -> client {} bytes (end of stream)",
        sent.len()
    );
    assert!(line.ends_with(&want), "{line}");
}

#[test]
fn a_refused_target_closes_the_client_cleanly_and_the_log_says_why() {
    let (_held, nobody) = refusing_port();
    let mut proxy = start_proxy(nobody, &[]);
    let mut client = connect(proxy.socket_addr());
    // A clean end of stream, not a reset: `read_to_end` fails the test on an error.
    expect_text(
        "through a proxy whose target refuses",
        &read_to_end(&mut client),
        "",
    );
    proxy.expect_line(&format!(
        "closed: could not connect to {nobody}: Connection refused"
    ));
    // The proxy goes on: a target that starts later is reached.
    let (addr, target) = start_target(|mut stream| stream.write_all(b"here now"));
    let later = start_proxy(addr, &[]);
    let mut client = connect(later.socket_addr());
    expect_text(
        "from a running target",
        &read_to_end(&mut client),
        "here now",
    );
    target.join().unwrap().unwrap();
}

#[test]
fn a_reset_is_logged_as_a_reset() {
    let (addr, target) = start_target(|mut stream| {
        read_exactly(&mut stream, 5);
        reset(stream);
    });
    let mut proxy = start_proxy(addr, &[]);
    let mut client = connect(proxy.socket_addr());
    client.write_all(b"hello").unwrap();
    target.join().unwrap();
    // The client's connection ends (as a clean close, or as a reset once the exercise
    // exercise_reset_passes_through is solved); the log says what the target did.
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    let line = proxy.expect_line(" closed: ");
    assert!(
        line.ends_with("target -> client 0 bytes (reset by the target)"),
        "{line}"
    );
}

#[test]
fn an_idle_connection_is_closed_and_the_log_says_so() {
    let (addr, target) = start_target(|mut stream| {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    });
    let mut proxy = start_proxy(addr, &["--idle-timeout", "0.3"]);
    let mut client = connect(proxy.socket_addr());
    let started = Instant::now();
    expect_text("after the idle timeout", &read_to_end(&mut client), "");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "closed after {took:?}, wanted about 0.3 s"
    );
    target.join().unwrap();
    proxy.expect_line("timed out after 0.3 s (--idle-timeout)");
}

/// Sends `count` single bytes, one every 50 ms, then ends with `shutdown(Write)`.
fn drip(stream: &mut TcpStream, count: usize) -> std::io::Result<()> {
    for i in 0..count {
        stream.write_all(&[b'a' + (i % 26) as u8])?;
        thread::sleep(Duration::from_millis(50));
    }
    stream.shutdown(Shutdown::Write)
}

/// Reads until the end of stream; an error (a reset, or nothing for the read timeout) is
/// returned with what came before it.
fn read_all(stream: &mut TcpStream) -> Result<Vec<u8>, (std::io::Error, Vec<u8>)> {
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => Ok(got),
        Err(e) => Err((e, got)),
    }
}

#[test]
#[ignore = "exercise: the idle timeout counts the connection's silence, not one direction's"]
fn exercise_idle_counts_both_directions() {
    // One byte every 50 ms: 2.4 s, longer than the 2 s a silent connection may last below,
    // so that no longer timeout (--idle-timeout times some factor) passes both.
    const BYTES: usize = 48;
    // A download: the target drips, the client sends nothing and only reads.
    let (addr, target) = start_target(|mut stream| drip(&mut stream, BYTES));
    let down = start_proxy(addr, &["--idle-timeout", "0.5"]);
    let mut client = connect(down.socket_addr());
    let got = read_all(&mut client).unwrap_or_else(|(_, got)| got);
    assert!(
        got.len() == BYTES,
        "a download that kept flowing was cut after {} of {BYTES} bytes: the client sent \
         nothing, but the target sent a byte every 50 ms, and --idle-timeout was 0.5 s",
        got.len()
    );
    let _ = target.join();

    // An upload: the client drips, the target only reads, then answers `ok`.
    let (addr, target) = start_target(|mut stream| {
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got);
        let _ = stream.write_all(b"ok");
        got.len()
    });
    let up = start_proxy(addr, &["--idle-timeout", "0.5"]);
    let mut client = connect(up.socket_addr());
    let _ = drip(&mut client, BYTES);
    let received = target.join().unwrap();
    assert!(
        received == BYTES,
        "an upload that kept flowing was cut after {received} of {BYTES} bytes: the target \
         sent nothing, but the client sent a byte every 50 ms, and --idle-timeout was 0.5 s"
    );
    let answer = read_all(&mut client).unwrap_or_else(|(_, got)| got);
    expect_text("the answer to the upload", &answer, "ok");

    // Silence both ways still ends the connection, within 2 s (the timeout is 0.5 s): one
    // silent from the start, and one that carried bytes first.
    for first in ["", "hi"] {
        let (addr, _silent) = start_target(move |mut stream| {
            stream.write_all(first.as_bytes()).unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        });
        let quiet = start_proxy(addr, &["--idle-timeout", "0.5"]);
        let mut client = connect(quiet.socket_addr());
        let started = Instant::now();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let what = if first.is_empty() {
            "a silent connection"
        } else {
            "a connection silent both ways after the target's first 2 bytes"
        };
        match read_all(&mut client) {
            Ok(got) => expect_text(what, &got, first),
            Err((e, _)) => panic!(
                "{what} was not closed within 2 s with --idle-timeout 0.5 ({e} after {:?})",
                started.elapsed()
            ),
        }
    }
}

#[test]
#[ignore = "exercise: a reset on one side is passed on as a reset to the other"]
fn exercise_reset_passes_through() {
    // The target resets: the client must read a reset, not a clean end of stream.
    let (addr, target) = start_target(|mut stream| {
        read_exactly(&mut stream, 5);
        reset(stream);
    });
    let a = start_proxy(addr, &[]);
    let mut client = connect(a.socket_addr());
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client.write_all(b"hello").unwrap();
    target.join().unwrap();
    match read_all(&mut client) {
        Err((e, _)) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(got) => panic!(
            "the target reset the connection, but the client read a clean end of stream \
             (after {}): a reset must reach the client as a reset",
            text(&got)
        ),
        Err((e, _)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("the target reset the connection, but the client saw nothing for 3 s")
        }
        Err((e, _)) => panic!("the client read an error, but not a reset: {e}"),
    }

    // The client resets: the target must read a reset. It answers `ok` first, so that the
    // client resets only after its bytes have arrived.
    let (addr, target) = start_target(|mut stream| {
        read_exactly(&mut stream, 5);
        stream.write_all(b"ok").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        read_all(&mut stream)
    });
    let b = start_proxy(addr, &[]);
    let mut client = connect(b.socket_addr());
    client.write_all(b"hello").unwrap();
    expect_text("the target's answer", &read_exactly(&mut client, 2), "ok");
    reset(client);
    match target.join().unwrap() {
        Err((e, _)) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(_) => panic!(
            "the client reset the connection, but the target read a clean end of stream: a \
             reset must reach the target as a reset"
        ),
        Err((e, _)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("the client reset the connection, but the target saw nothing for 3 s")
        }
        Err((e, _)) => panic!("the target read an error, but not a reset: {e}"),
    }

    // A clean close stays a clean close, and a half-close still passes through. The answer
    // is large, so that some of it is still on its way when the target has closed: a proxy
    // that closes with SO_LINGER 0 here throws that part away and sends a reset.
    let answer = pattern(1_000_000);
    let sent = answer.clone();
    let (addr, target) = start_target(move |mut stream| {
        let mut request = Vec::new();
        stream.read_to_end(&mut request).unwrap();
        stream.write_all(&sent).unwrap();
    });
    let c = start_proxy(addr, &[]);
    let mut client = connect(c.socket_addr());
    client.write_all(b"hello").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    match read_all(&mut client) {
        Ok(got) => assert!(
            got == answer,
            "after a half-close, the client read {} bytes, not the target's whole answer of {}",
            got.len(),
            answer.len()
        ),
        Err((e, got)) => panic!(
            "the target closed cleanly, but the client read an error ({e}) after {} of its {} \
             bytes: only a reset may be passed on as a reset, and a clean close must deliver \
             every byte",
            got.len(),
            answer.len()
        ),
    }
    target.join().unwrap();
}

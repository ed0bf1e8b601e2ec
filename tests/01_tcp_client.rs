//! Checks 01_tcp_client against a raw server written here. Run with
//! `cargo test --test 01_tcp_client`. (The pair with the real server is in 02_tcp_server.)

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::{self, JoinHandle};

use common::{TIMEOUT, run};

/// A one-connection hello server: sends the welcome, records each message (one per read) and
/// answers it, until `exit` or end of stream. Returns the address and what it received.
fn test_server(welcome: &'static [u8], answer: bool) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(welcome).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            let n = stream.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            received.push(message.clone());
            // A server that does not answer hangs up after reading the first message. (Closing
            // with unread bytes would send a reset instead of an end of stream.)
            if message == "exit" || !answer {
                break;
            }
            stream
                .write_all(format!("Hello, {message}!").as_bytes())
                .unwrap();
        }
        received
    });
    (addr, handle)
}

#[test]
fn sends_the_default_names_then_exit() {
    let (addr, server) = test_server(b"Welcome!", true);
    let output = run("01_tcp_client", &[&addr]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    assert_eq!(
        server.join().unwrap(),
        ["Michael", "Tracy", "Sarah", "exit"]
    );
}

#[test]
fn sends_exactly_the_names_given() {
    let (addr, server) = test_server(b"Hi there", true);
    let output = run("01_tcp_client", &[&addr, "Ada", "Grace Hopper", "Linus"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Hi there\nHello, Ada!\nHello, Grace Hopper!\nHello, Linus!\n"
    );
    assert_eq!(
        server.join().unwrap(),
        ["Ada", "Grace Hopper", "Linus", "exit"]
    );
}

#[test]
fn a_server_that_hangs_up_early_is_reported() {
    let (addr, server) = test_server(b"Welcome!", false);
    let output = run("01_tcp_client", &[&addr]);
    assert_eq!(server.join().unwrap(), ["Michael"]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\n");
    assert_eq!(
        output.stderr,
        "error: the server closed the connection before answering\n"
    );
}

#[test]
fn a_bad_address_prints_usage_and_status_2() {
    let output = run("01_tcp_client", &["9999"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(
        output.stderr.starts_with("error: bad ADDR \"9999\""),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("usage: 01_tcp_client [ADDR] [NAME...]")
    );
}

// Exercises of chapter 01. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 01_tcp_client -- --ignored`.

#[test]
#[ignore = "exercise: accept host names such as localhost:PORT"]
fn exercise_host_names() {
    let (addr, server) = test_server(b"Welcome!", true);
    let port = addr.rsplit(':').next().unwrap();
    let output = run("01_tcp_client", &[&format!("localhost:{port}"), "Ada"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\nHello, Ada!\n");
    assert_eq!(server.join().unwrap(), ["Ada", "exit"]);
}

#[test]
#[ignore = "exercise: --repeat N sends each name N times"]
fn exercise_repeat() {
    let (addr, server) = test_server(b"Welcome!", true);
    let output = run("01_tcp_client", &[&addr, "--repeat", "2", "Ada", "Bob"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Ada!\nHello, Ada!\nHello, Bob!\nHello, Bob!\n"
    );
    assert_eq!(server.join().unwrap(), ["Ada", "Ada", "Bob", "Bob", "exit"]);
}

#[test]
#[ignore = "exercise: names from standard input when the only name is -"]
fn exercise_stdin_names_dash() {
    let (addr, server) = test_server(b"Welcome!", true);
    let mut child = std::process::Command::new(common::bin("01_tcp_client"))
        .args([addr.as_str(), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Ada\nBob\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Welcome!\nHello, Ada!\nHello, Bob!\n"
    );
    assert_eq!(server.join().unwrap(), ["Ada", "Bob", "exit"]);
}

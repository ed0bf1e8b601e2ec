//! Checks 01_tcp_client against a raw server written here. Run with
//! `cargo test --test 01_tcp_client`. (The pair with the real server is in 02_tcp_server.)

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use common::{Output, TIMEOUT, expect_text, run};

/// A one-connection hello server: sends the welcome, records each message (one per read) and
/// answers it, until `exit` or end of stream. Returns the address and what it received.
fn test_server(welcome: &'static [u8], answer: bool) -> (String, JoinHandle<Vec<String>>) {
    test_server_on(IpAddr::V4(Ipv4Addr::LOCALHOST), welcome, answer)
}

/// `test_server` listening on `ip`.
fn test_server_on(
    ip: IpAddr,
    welcome: &'static [u8],
    answer: bool,
) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(welcome).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            let n = match stream.read(&mut buffer) {
                // A signal interrupted the wait (EINTR): wait again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other.unwrap(),
            };
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

/// Fails unless the client ran as `command` and exited with status `want`.
#[track_caller]
fn expect_status(command: &str, output: &Output, want: i32) {
    if output.code() != Some(want) {
        panic!(
            "`{command}`: expected exit status {want}, got {:?}\nstdout: {}\nstderr: {}",
            output.code(),
            output.stdout,
            output.stderr
        );
    }
}

/// Runs the client with `args`, and checks that it exits with status 0, prints `stdout` and
/// sends exactly `sent` (then `exit`) to the test server at `addr`.
#[track_caller]
fn expect_conversation(
    command: &str,
    output: Output,
    server: JoinHandle<Vec<String>>,
    stdout: &str,
    sent: &[&str],
) {
    expect_status(command, &output, 0);
    expect_text(
        &format!("`{command}` printed"),
        output.stdout.as_bytes(),
        stdout,
    );
    let received = server.join().expect("the test server failed");
    let mut want: Vec<&str> = sent.to_vec();
    want.push("exit");
    assert!(
        received == want,
        "`{command}`: expected the server to receive {want:?} (one message per read), got {received:?}"
    );
}

#[test]
#[ignore = "exercise: accept host names such as localhost:PORT"]
fn exercise_host_names() {
    // Listen on the last address `localhost` resolves to: where it gives both ::1 and
    // 127.0.0.1, a client that tries only the first address cannot connect.
    let ip = ("localhost", 0)
        .to_socket_addrs()
        .expect("localhost must resolve")
        .last()
        .expect("localhost resolves to at least one address")
        .ip();
    // Host names are case-insensitive: `LocalHost` is the same host.
    for host in ["localhost", "LocalHost"] {
        let (addr, server) = test_server_on(ip, b"Welcome!", true);
        let port = addr.rsplit(':').next().unwrap();
        let target = format!("{host}:{port}");
        let output = run("01_tcp_client", &[&target, "Ada"]);
        expect_conversation(
            &format!("01_tcp_client {target} Ada"),
            output,
            server,
            "Welcome!\nHello, Ada!\n",
            &["Ada"],
        );
    }
    // A bad address is still a usage error, not a failed connection.
    let output = run("01_tcp_client", &["9999"]);
    expect_status("01_tcp_client 9999", &output, 2);
    assert!(
        output.stderr.starts_with("error: bad ADDR \"9999\""),
        "`01_tcp_client 9999`: expected stderr to start with `error: bad ADDR \"9999\"`, got {:?}",
        output.stderr
    );
    assert!(
        output.stderr.contains("usage: 01_tcp_client"),
        "`01_tcp_client 9999`: expected the usage on stderr, got {:?}",
        output.stderr
    );
}

#[test]
#[ignore = "exercise: --repeat N sends each name N times"]
fn exercise_repeat() {
    let cases: [(&[&str], &str, &[&str]); 4] = [
        (
            &["--repeat", "3", "ADDR", "Ada", "Bob"],
            "Welcome!\nHello, Ada!\nHello, Ada!\nHello, Ada!\nHello, Bob!\nHello, Bob!\nHello, Bob!\n",
            &["Ada", "Ada", "Ada", "Bob", "Bob", "Bob"],
        ),
        // The option applies to the default names too, and may come anywhere.
        (
            &["ADDR", "--repeat=2"],
            "Welcome!\nHello, Michael!\nHello, Michael!\nHello, Tracy!\nHello, Tracy!\n\
             Hello, Sarah!\nHello, Sarah!\n",
            &["Michael", "Michael", "Tracy", "Tracy", "Sarah", "Sarah"],
        ),
        (
            &["ADDR", "Ada", "--repeat", "1"],
            "Welcome!\nHello, Ada!\n",
            &["Ada"],
        ),
        // Without the option, each name goes once.
        (
            &["ADDR", "Ada", "Bob"],
            "Welcome!\nHello, Ada!\nHello, Bob!\n",
            &["Ada", "Bob"],
        ),
    ];
    for (args, stdout, sent) in cases {
        let (addr, server) = test_server(b"Welcome!", true);
        let words: Vec<&str> = args
            .iter()
            .map(|&w| if w == "ADDR" { addr.as_str() } else { w })
            .collect();
        let output = run("01_tcp_client", &words);
        let command = format!("01_tcp_client {}", words.join(" "));
        expect_conversation(&command, output, server, stdout, sent);
    }
    // Out of range: a usage error, before connecting anywhere.
    for bad in ["0", "-1", "two"] {
        let command = format!("01_tcp_client 127.0.0.1:9 --repeat {bad} Ada");
        let output = run("01_tcp_client", &["127.0.0.1:9", "--repeat", bad, "Ada"]);
        expect_status(&command, &output, 2);
        assert!(
            output.stderr.contains("usage: 01_tcp_client"),
            "`{command}`: expected the usage on stderr, got {:?}",
            output.stderr
        );
    }
    let output = run("01_tcp_client", &["127.0.0.1:9", "--repeat", "0", "Ada"]);
    assert!(
        output
            .stderr
            .starts_with("error: --repeat must be at least 1\n"),
        "`01_tcp_client 127.0.0.1:9 --repeat 0 Ada`: expected stderr to start with \
         `error: --repeat must be at least 1`, got {:?}",
        output.stderr
    );
}

/// Runs the client with `args` and `input` on its standard input, within `TIMEOUT`.
fn run_with_stdin(args: &[&str], input: &'static [u8]) -> Output {
    let mut child = Command::new(common::bin("01_tcp_client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start 01_tcp_client");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A client that never reads its input must not block the test: write on a thread, and
    // ignore a closed pipe.
    thread::spawn(move || {
        let _ = stdin.write_all(input);
    });
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(TIMEOUT) {
        Ok(output) => {
            let output = output.expect("could not wait for 01_tcp_client");
            Output {
                status: output.status,
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            common::signal(pid, "-KILL");
            panic!(
                "`01_tcp_client {}` did not finish within {TIMEOUT:?} (is it waiting for more input?)",
                args.join(" ")
            );
        }
    }
}

#[test]
#[ignore = "exercise: names from standard input when the only name is -"]
fn exercise_stdin_names_dash() {
    // One name per line: spaces belong to the name, empty lines are skipped, and the last
    // line counts even without a newline at its end.
    let cases: [(&[u8], &str, &[&str]); 3] = [
        (
            b"Ada\nGrace Hopper\n",
            "Welcome!\nHello, Ada!\nHello, Grace Hopper!\n",
            &["Ada", "Grace Hopper"],
        ),
        (
            b"Ada\n\nBob",
            "Welcome!\nHello, Ada!\nHello, Bob!\n",
            &["Ada", "Bob"],
        ),
        (b"", "Welcome!\n", &[]),
    ];
    for (input, stdout, sent) in cases {
        let (addr, server) = test_server(b"Welcome!", true);
        let output = run_with_stdin(&[&addr, "-"], input);
        let command = format!(
            "printf {:?} | 01_tcp_client ADDR -",
            String::from_utf8_lossy(input)
        );
        expect_conversation(&command, output, server, stdout, sent);
    }
}

//! Checks 10_unix_client against a raw Unix socket server written here. Each test works in its
//! own fresh temporary directory. Run with `cargo test --test 10_unix_client`. (The pair with
//! the real server is in 09_unix_server.)
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;

use common::unix::{TempDir, run_unprivileged};
use common::{TIMEOUT, run};

/// Answers one client the hello way on `listener`, on a thread. The channel delivers the
/// messages it received once that client has gone.
fn serve_one(listener: UnixListener, answer: bool) -> Receiver<Vec<String>> {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(b"Welcome!").unwrap();
        let mut received = Vec::new();
        if answer {
            let mut buffer = [0u8; 1024];
            loop {
                let n = stream.read(&mut buffer).unwrap();
                if n == 0 {
                    break;
                }
                let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
                received.push(message.clone());
                if message == "exit" {
                    break;
                }
                stream
                    .write_all(format!("Hello, {message}!").as_bytes())
                    .unwrap();
            }
        } // else: hang up right after the welcome
        let _ = done.send(received);
    });
    finished
}

/// What the test server received. Fails (instead of waiting for ever) if no client came and
/// left within `TIMEOUT`, or if the server thread panicked.
fn received(server: Receiver<Vec<String>>) -> Vec<String> {
    server
        .recv_timeout(TIMEOUT)
        .expect("the test server did not finish with a client in time")
}

/// A hello server on a socket file in `dir`. Returns the path and what the server received.
fn test_server(dir: &TempDir, answer: bool) -> (String, Receiver<Vec<String>>) {
    let path = dir.join("hello.sock");
    let listener = UnixListener::bind(&path).unwrap();
    (path, serve_one(listener, answer))
}

#[test]
fn sends_the_default_names_then_exit() {
    let dir = TempDir::new("10-default");
    let (path, server) = test_server(&dir, true);
    let output = run("10_unix_client", &[&path]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Michael!\nHello, Tracy!\nHello, Sarah!\n"
    );
    assert_eq!(received(server), ["Michael", "Tracy", "Sarah", "exit"]);
}

#[test]
fn sends_exactly_the_names_given() {
    let dir = TempDir::new("10-names");
    let (path, server) = test_server(&dir, true);
    let output = run("10_unix_client", &[&path, "Ada", "Grace Hopper"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "Welcome!\nHello, Ada!\nHello, Grace Hopper!\n"
    );
    assert_eq!(received(server), ["Ada", "Grace Hopper", "exit"]);
}

#[test]
fn no_socket_file_gives_one_line() {
    let dir = TempDir::new("10-missing");
    let path = dir.join("hello.sock");
    let output = run("10_unix_client", &[&path]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    assert_eq!(
        output.stderr,
        format!(
            "error: could not connect to {path}: No such file or directory (os error 2); \
             is 09_unix_server running with this path?\n"
        )
    );
}

#[test]
fn a_stale_socket_file_gives_connection_refused() {
    let dir = TempDir::new("10-stale");
    let path = dir.join("hello.sock");
    drop(UnixListener::bind(&path).unwrap()); // the file stays, nobody listens
    let output = run("10_unix_client", &[&path]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        format!(
            "error: could not connect to {path}: Connection refused (os error 111); \
             the file is there but no server listens on it\n"
        )
    );
}

#[test]
fn a_socket_file_without_write_permission_gives_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("10-perm");
    let path = dir.join("hello.sock");
    let _listener = UnixListener::bind(&path).unwrap(); // a live server, but...
    // ...its file may be read, not written: connecting needs write permission.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let output = run_unprivileged(&dir, &common::bin("10_unix_client"), &[&path]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        format!(
            "error: could not connect to {path}: Permission denied (os error 13); \
             the socket file's permissions do not allow you in\n"
        )
    );
}

#[test]
fn a_path_too_long_gives_one_line() {
    let path = format!("/tmp/{}", "x".repeat(103)); // 108 bytes: one too many
    let output = run("10_unix_client", &[&path]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        format!(
            "error: could not connect to {path}: path must be shorter than SUN_LEN; \
             a Unix socket path must be shorter than 108 bytes\n"
        )
    );
}

#[test]
fn a_server_that_hangs_up_early_is_reported() {
    let dir = TempDir::new("10-hangup");
    let (path, server) = test_server(&dir, false);
    let output = run("10_unix_client", &[&path]);
    assert_eq!(received(server), Vec::<String>::new());
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\n");
    // Depending on timing, the client's next write or its read notices the hang-up first.
    assert!(
        output.stderr == "error: the server closed the connection before answering\n"
            || output
                .stderr
                .starts_with(&format!("error: could not send \"Michael\" to {path}: ")),
        "{}",
        output.stderr
    );
}

// Exercises of chapter 10. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 10_unix_client -- --ignored`.

#[test]
#[ignore = "exercise: --wait SECONDS retries until the server's socket appears"]
fn exercise_wait_for_the_server() {
    let dir = TempDir::new("10-ex-wait");
    let path = dir.join("hello.sock");
    // Start the client first: the socket file does not exist yet.
    let client = Command::new(common::bin("10_unix_client"))
        .args([path.as_str(), "--wait", "5", "Ada"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(client.wait_with_output());
    });
    let server = serve_one(UnixListener::bind(&path).unwrap(), true);
    let output = finished.recv_timeout(TIMEOUT).unwrap().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Welcome!\nHello, Ada!\n"
    );
    assert_eq!(received(server), ["Ada", "exit"]);
}

#[test]
#[cfg(target_os = "linux")]
#[ignore = "exercise: --abstract: PATH is a Linux abstract name"]
fn exercise_abstract_name() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    let name = format!("socket-workbook-10-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let server = serve_one(UnixListener::bind_addr(&addr).unwrap(), true);
    let output = run("10_unix_client", &["--abstract", &name, "Ada"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(output.stdout, "Welcome!\nHello, Ada!\n");
    assert_eq!(received(server), ["Ada", "exit"]);
}

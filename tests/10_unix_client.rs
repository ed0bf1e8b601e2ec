//! Checks 10_unix_client against a raw Unix socket server written here. Each test works in its
//! own fresh temporary directory. Run with `cargo test --test 10_unix_client`. (The pair with
//! the real server is in 09_unix_server.)
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

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

/// A client running in the background: its stderr arrives line by line as it is printed.
struct Background {
    child: Child,
    started: Instant,
    stderr: Receiver<String>,
    stdout: Receiver<String>,
}

/// What a background client did: exit status, output, run time and CPU time.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// User plus system CPU time, in clock ticks (hundredths of a second on Linux).
    cpu_ticks: Option<u64>,
}

impl Background {
    fn start(args: &[&str]) -> Background {
        let started = Instant::now();
        let mut child = Command::new(common::bin("10_unix_client"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("could not start 10_unix_client");
        let mut out = child.stdout.take().expect("stdout is piped");
        let err = child.stderr.take().expect("stderr is piped");
        let (send_out, stdout) = mpsc::channel();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = send_out.send(text);
        });
        let (send_err, stderr) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if send_err.send(line).is_err() {
                    return;
                }
            }
        });
        Background {
            child,
            started,
            stderr,
            stdout,
        }
    }

    /// The next line on stderr, or None if the client closed stderr (exited) without one.
    fn stderr_line(&self) -> Option<String> {
        match self.stderr.recv_timeout(TIMEOUT) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the client printed nothing within {TIMEOUT:?}")
            }
        }
    }

    /// Waits until the client exits, at most `within` from now; `late` says what it means if
    /// the client is still running then.
    fn finish(mut self, within: Duration, late: &str) -> Finished {
        let stdout = self
            .stdout
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("{late}: the client was still running after {within:?}"));
        let elapsed = self.started.elapsed();
        let mut stderr = String::new();
        while let Ok(line) = self.stderr.recv_timeout(TIMEOUT) {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        // Its output is closed, so it has exited; until reaped, /proc still has its CPU time.
        let cpu_ticks = cpu_ticks(self.child.id());
        let status = self.child.wait().expect("could not reap the client");
        Finished {
            code: status.code(),
            stdout,
            stderr,
            elapsed,
            cpu_ticks,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU time of process `pid` so far, from /proc/PID/stat (Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The client must say it waits, on stderr, before the test lets the server appear.
fn expect_waiting(client: &Background, path: &str, situation: &str) {
    let want = format!("Waiting for {path}...");
    match client.stderr_line() {
        Some(line) if line == want => {}
        Some(line) => panic!(
            "with --wait and {situation}, the client must print {want:?} on stderr and try \
             again; its first line on stderr was {line:?}"
        ),
        None => panic!(
            "with --wait and {situation}, the client must print {want:?} on stderr and try \
             again; it exited without a word"
        ),
    }
}

/// Lets a hello server appear at `path` and checks that the waiting client gets through.
fn serve_the_waiting_client(client: Background, path: &str, situation: &str) {
    let server = serve_one(UnixListener::bind(path).unwrap(), true);
    let done = client.finish(
        Duration::from_secs(3),
        &format!("with --wait 10 and {situation}, the server appeared and the client must connect within 50 ms or so"),
    );
    assert!(
        done.code == Some(0) && done.stdout == "Welcome!\nHello, Ada!\n",
        "with --wait and {situation}, once the server appeared the client must talk to it and \
         exit with status 0; got exit status {:?}, stdout {:?}, stderr {:?}",
        done.code,
        done.stdout,
        done.stderr
    );
    assert_eq!(received(server), ["Ada", "exit"]);
}

#[test]
#[ignore = "exercise: --wait SECONDS retries until the server's socket appears"]
fn exercise_wait_for_the_server() {
    let dir = TempDir::new("10-ex-wait");
    let path = dir.join("hello.sock");

    // 1. No socket file yet: the client waits, and connects once the server is there.
    let client = Background::start(&["--wait", "10", &path, "Ada"]);
    expect_waiting(&client, &path, "no socket file yet");
    serve_the_waiting_client(client, &path, "no socket file yet");
    std::fs::remove_file(&path).unwrap();

    // 2. A stale socket file, which refuses: the same, once a server takes its place.
    drop(UnixListener::bind(&path).unwrap());
    let client = Background::start(&["--wait", "10", &path, "Ada"]);
    expect_waiting(&client, &path, "a stale socket file that refuses");
    std::fs::remove_file(&path).unwrap();
    serve_the_waiting_client(client, &path, "a stale socket file that refuses");

    // 3. An error that waiting cannot cure fails at once, with the usual message.
    let long = format!("/tmp/{}", "x".repeat(103)); // 108 bytes: one too many
    let client = Background::start(&["--wait", "10", &long, "Ada"]);
    let done = client.finish(
        Duration::from_secs(3),
        "with --wait 10, a path too long (an error that waiting cannot cure) must fail at once",
    );
    let usual = format!(
        "error: could not connect to {long}: path must be shorter than SUN_LEN; \
         a Unix socket path must be shorter than 108 bytes\n"
    );
    assert!(
        done.code == Some(1) && done.stderr.ends_with(&usual),
        "with --wait, a path too long must fail at once with exit status 1 and the usual \
         error {usual:?}; got exit status {:?} and stderr {:?}",
        done.code,
        done.stderr
    );

    // 4. No server ever: give up after SECONDS, with the usual error, without using the CPU.
    let never = dir.join("never.sock");
    let client = Background::start(&["--wait", "1", &never, "Ada"]);
    let done = client.finish(
        Duration::from_secs(4),
        "with --wait 1 and no server, the client must give up after 1 s",
    );
    assert!(
        done.elapsed >= Duration::from_millis(900),
        "with --wait 1 and no server, the client must keep trying for 1 s, but it gave up \
         after {:?}",
        done.elapsed
    );
    let want = format!(
        "Waiting for {never}...\nerror: could not connect to {never}: No such file or \
         directory (os error 2); is 09_unix_server running with this path?\n"
    );
    assert!(
        done.code == Some(1) && done.stderr == want,
        "with --wait 1 and no server, the client must print {want:?} on stderr and exit with \
         status 1; got exit status {:?} and stderr {:?}",
        done.code,
        done.stderr
    );
    // Trying every 50 ms costs next to nothing (0 ticks measured); trying without a pause keeps
    // a core busy (30 to 100 ticks measured, less on a loaded machine, where it shares a core).
    if let Some(ticks) = done.cpu_ticks {
        assert!(
            ticks < 10,
            "with --wait 1 and no server, the client used {} s of CPU time in {:?} of \
             waiting: it must pause (50 ms) between attempts",
            ticks as f64 / 100.0,
            done.elapsed
        );
    }
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
    assert!(
        output.code() == Some(0) && output.stdout == "Welcome!\nHello, Ada!\n",
        "with --abstract {name}, the client must talk to the server on the abstract name \
         {name:?} (from_abstract_name adds the zero byte itself) and exit with status 0; got \
         exit status {:?}, stdout {:?}, stderr {:?}",
        output.code(),
        output.stdout,
        output.stderr
    );
    assert_eq!(received(server), ["Ada", "exit"]);

    // Nobody listens on that name: there is no file to blame, so the hint says what to start.
    let nobody = format!("socket-workbook-10-nobody-{}", std::process::id());
    let output = run("10_unix_client", &["--abstract", &nobody]);
    let want = format!(
        "error: could not connect to @{nobody}: Connection refused (os error 111); \
         is 09_unix_server running with --abstract {nobody}?\n"
    );
    assert!(
        output.code() == Some(1) && output.stderr == want,
        "with --abstract and no server on that name, the client must exit with status 1 and \
         print {want:?}; got exit status {:?} and stderr {:?}",
        output.code(),
        output.stderr
    );

    // At most 107 bytes fit after the zero byte: a longer name is an error, not a panic.
    let long = "n".repeat(108);
    let output = run("10_unix_client", &["--abstract", &long]);
    assert!(
        output.code() == Some(1)
            && output.stderr.starts_with("error: ")
            && output.stderr.lines().count() == 1,
        "--abstract with a name of 108 bytes must fail with exit status 1 and one line on \
         stderr starting with \"error: \"; got exit status {:?} and stderr {:?}",
        output.code(),
        output.stderr
    );
}

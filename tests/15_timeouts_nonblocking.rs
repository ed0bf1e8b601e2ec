//! Checks 15_timeouts_nonblocking: the kind of error each way of waiting less gives, and that
//! the waits are bounded. Times are only checked against generous bounds, so a slow machine
//! does not fail the test. Run with `cargo test --test 15_timeouts_nonblocking`.

mod common;
#[path = "common/toolbox.rs"]
mod toolbox;

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::run;
use toolbox::{line, run_ok};

/// The number of milliseconds in `... after N ms ...`.
fn millis(text: &str) -> u128 {
    let after = text
        .split(" after ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    after
        .split(" ms")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("no time in {text:?}: {e}"))
}

#[test]
fn read_timeout_gives_would_block_on_linux() {
    let output = run_ok("15_timeouts_nonblocking");
    let gave_up = line(&output, "read gave up after ");
    let kind = if cfg!(windows) {
        "TimedOut"
    } else {
        "WouldBlock"
    };
    assert!(gave_up.contains(&format!("ms: {kind} (")), "{gave_up}");
    // 200 ms were asked for; allow for a slow machine.
    let ms = millis(gave_up);
    assert!((150..5000).contains(&ms), "{gave_up}");
    assert_eq!(
        line(&output, "set_read_timeout(Some(0 s))"),
        "set_read_timeout(Some(0 s)) is refused: InvalidInput (cannot set a 0 duration timeout)"
    );
}

#[test]
fn the_same_fact_checked_directly() {
    // What the listing prints, checked without it: an expired read timeout is WouldBlock.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let started = Instant::now();
    let error = stream.read(&mut [0u8; 8]).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(10));
    if cfg!(target_os = "linux") {
        assert_eq!(error.kind(), ErrorKind::WouldBlock);
    }
}

#[test]
fn non_blocking_calls_return_would_block_at_once() {
    let output = run_ok("15_timeouts_nonblocking");
    let empty = line(&output, "read with nothing to read: ");
    assert!(empty.contains("WouldBlock after "), "{empty}");
    assert!(
        millis(empty) < 1000,
        "a non-blocking read must not wait: {empty}"
    );
    assert_eq!(
        line(&output, "after the peer wrote"),
        "after the peer wrote: read returned 5 bytes: \"hello\""
    );
    assert_eq!(
        line(&output, "accept with nobody"),
        "accept with nobody connecting: WouldBlock"
    );
    assert_eq!(
        line(&output, "recv_from with no"),
        "recv_from with no datagram: WouldBlock"
    );
}

#[test]
fn connect_to_a_busy_server_times_out() {
    let output = run_ok("15_timeouts_nonblocking");
    assert_eq!(
        line(&output, "first connect"),
        "first connect to the busy server: connected"
    );
    let second = line(&output, "second connect");
    assert!(
        second.ends_with("ms: TimedOut (connection timed out)"),
        "{second}"
    );
    let ms = millis(second);
    assert!((150..5000).contains(&ms), "{second}");
}

#[test]
fn connect_ex_returns_0_or_the_error_number() {
    let output = run_ok("15_timeouts_nonblocking");
    let results: Vec<&str> = output
        .stdout
        .lines()
        .filter(|l| l.starts_with("connect_ex(127.0.0.1:"))
        .collect();
    assert_eq!(results.len(), 2, "{output:#?}");
    assert!(results[0].ends_with(") = 0 (success)"), "{}", results[0]);
    assert!(
        results[1].ends_with(") = 111 (ECONNREFUSED)"),
        "{}",
        results[1]
    );
}

#[test]
fn the_whole_run_is_quick() {
    let started = Instant::now();
    run_ok("15_timeouts_nonblocking");
    // Two 200 ms waits; anything near the harness's limit would mean a wait was not bounded.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
#[ignore = "exercise: add --timeout-ms N to choose the read timeout"]
fn exercise_timeout_option() {
    let output = run("15_timeouts_nonblocking", &["--timeout-ms", "50"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(line(&output, "read timeout: "), "read timeout: 50 ms");
    let ms = millis(line(&output, "read gave up after "));
    assert!((25..5000).contains(&ms), "{output:#?}");
}

#[test]
#[ignore = "exercise: add --port P to try connect_ex on 127.0.0.1:P"]
fn exercise_check_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let output = run("15_timeouts_nonblocking", &["--port", &port]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        line(&output, &format!("connect_ex(127.0.0.1:{port})")),
        format!("connect_ex(127.0.0.1:{port}) = 0 (success)")
    );
    drop(listener);
    let output = run("15_timeouts_nonblocking", &["--port", &port]);
    assert_eq!(
        line(&output, &format!("connect_ex(127.0.0.1:{port})")),
        format!("connect_ex(127.0.0.1:{port}) = 111 (ECONNREFUSED)")
    );
}

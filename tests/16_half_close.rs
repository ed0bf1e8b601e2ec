//! Checks 16_half_close: end of stream after shutdown while the reply still arrives, reads of
//! 0 bytes, the error kind of a write to a closed peer, and a partial `write` against a
//! complete `write_all`. Run with `cargo test --test 16_half_close`.

mod common;
#[path = "common/toolbox.rs"]
mod toolbox;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};

use common::{Output, TIMEOUT, connect, run};
use toolbox::{line, run_ok};

#[test]
fn shutdown_write_gives_end_of_stream_and_the_reply_still_arrives() {
    let output = run_ok("16_half_close");
    let lines: Vec<&str> = output.stdout.lines().skip(1).take(4).collect();
    assert_eq!(
        lines,
        [
            "peer: read 23 bytes, then end of stream",
            "client: got \"2 lines, 23 bytes\"",
            "client: got \"bye\"",
            "client: end of stream, the peer has closed too",
        ]
    );
}

#[test]
fn half_close_checked_directly() {
    // The same fact without the listing: after shutdown(Write) the peer reads 0 bytes, and
    // can still send us its answer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = connect(listener.local_addr().unwrap());
    let (mut server, _) = listener.accept().unwrap();
    server.set_read_timeout(Some(TIMEOUT)).unwrap();
    client.write_all(b"ping").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut request = Vec::new();
    server.read_to_end(&mut request).unwrap();
    assert_eq!(request, b"ping");
    server.write_all(b"pong").unwrap();
    drop(server);
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"pong");
}

#[test]
fn reads_return_0_after_the_peer_closes() {
    let output = run_ok("16_half_close");
    assert_eq!(
        line(&output, "read returned "),
        "read returned 0: end of stream"
    );
    assert_eq!(
        line(&output, "and again: "),
        "and again: 0 (it stays at end of stream; stop reading)"
    );
}

#[test]
fn writing_to_a_closed_peer_fails_and_the_program_lives() {
    let output = run_ok("16_half_close");
    assert_eq!(
        line(&output, "first write: "),
        "first write: Ok (the kernel took the bytes)"
    );
    let later = line(&output, "a later write: ");
    assert!(
        later == "a later write: BrokenPipe (Broken pipe (os error 32))"
            || later == "a later write: ConnectionReset (Connection reset by peer (os error 104))",
        "{later}"
    );
    line(&output, "still running: Rust ignores SIGPIPE");
    // and it went on to the next section
    line(&output, "write_all(1 MiB)");
}

#[test]
fn write_sends_part_and_write_all_sends_everything() {
    let output = run_ok("16_half_close");
    let partial = line(&output, "write(1 MiB) to a peer that is not reading: sent ");
    let sent: usize = partial
        .split_whitespace()
        .nth(10)
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{partial}: {e}"));
    assert!(sent > 0 && sent < 1 << 20, "{partial}");
    assert!(
        partial.ends_with(&format!("sent {sent} of 1048576 bytes")),
        "{partial}"
    );
    assert_eq!(
        line(&output, "write_all on the non-blocking"),
        "write_all on the non-blocking socket: WouldBlock"
    );
    assert_eq!(
        line(&output, "write_all(1 MiB)"),
        "write_all(1 MiB): the peer received 1048576 bytes"
    );
}

/// Runs the listing with `args` and fails, in words, unless it exits with status 0.
fn run_with(args: &[&str], how: &str) -> Output {
    let output = run("16_half_close", args);
    assert!(
        output.status.success(),
        "{how} the program failed ({}); stderr: {:?}",
        output.status,
        output.stderr
    );
    output
}

/// Fails unless the first stdout line that starts with `prefix` is exactly `want`.
#[track_caller]
fn expect_line(output: &Output, how: &str, prefix: &str, want: &str) {
    let got = output.stdout.lines().find(|l| l.starts_with(prefix));
    assert!(
        got == Some(want),
        "{how}: expected the line {want:?}, got {got:?}"
    );
}

#[test]
#[ignore = "exercise: add --message TEXT, sent instead of the two built-in lines"]
fn exercise_message_option() {
    let cases: [(&[&str], &str, usize, usize); 3] = [
        (&["--message", "abc"], "with --message abc", 1, 3),
        // Two lines, and letters of two bytes each in UTF-8: the peer counts bytes.
        (
            &["--message", "héllo\nwörld"],
            "with --message \"héllo\\nwörld\" (two lines, 13 bytes)",
            2,
            13,
        ),
        // Without the option, the two built-in lines as before.
        (&[], "without --message", 2, 23),
    ];
    for (args, how, lines, bytes) in cases {
        let output = run_with(args, how);
        expect_line(
            &output,
            how,
            "peer: read ",
            &format!("peer: read {bytes} bytes, then end of stream"),
        );
        let replies: Vec<&str> = output
            .stdout
            .lines()
            .filter(|l| l.starts_with("client: got "))
            .collect();
        let want = [
            format!("client: got \"{lines} lines, {bytes} bytes\""),
            "client: got \"bye\"".to_string(),
        ];
        assert!(
            replies == want,
            "{how}: expected the client to get {want:#?}, got {replies:#?}"
        );
    }
}

#[test]
#[ignore = "exercise: add --manual, a write_all of your own made of write calls"]
fn exercise_my_write_all() {
    let output = run_with(&["--manual"], "with --manual");
    let want = "my_write_all(1 MiB): the peer received 1048576 bytes after N calls to write";
    let Some(mine) = output
        .stdout
        .lines()
        .find(|l| l.starts_with("my_write_all(1 MiB): "))
    else {
        panic!(
            "with --manual: expected a line like {want:?}, got none in {:#?}",
            output.stdout_lines()
        );
    };
    // my_write_all(1 MiB): the peer received R bytes after N calls to write
    let numbers = mine
        .strip_prefix("my_write_all(1 MiB): the peer received ")
        .and_then(|rest| rest.strip_suffix(" calls to write"))
        .and_then(|rest| rest.split_once(" bytes after "))
        .and_then(|(r, n)| Some((r.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    let Some((received, calls)) = numbers else {
        panic!("with --manual: expected a line like {want:?}, got {mine:?}");
    };
    assert!(
        received == 1 << 20,
        "with --manual: the peer received {received} bytes, expected exactly 1048576 (1 MiB): \
         my_write_all must go on from where each write stopped until every byte is taken, \
         each byte once ({mine:?})"
    );
    assert!(
        calls >= 2,
        "with --manual: my_write_all sent 1 MiB in {calls} call to write, so its loop never \
         ran: on a non-blocking socket with a 4096-byte send buffer one write takes at most \
         about 64 KB ({mine:?})"
    );
    // Each write that takes bytes takes kilobytes (18 calls for 1 MiB here): more than 1000
    // means the count includes the WouldBlock failures, of a loop that tries again at once.
    assert!(
        calls <= 1000,
        "with --manual: my_write_all reported {calls} calls to write for 1 MiB, expected at \
         most 1000 (a write that takes bytes takes kilobytes): N counts only the calls that \
         took bytes, not the ones that failed with WouldBlock, and after a WouldBlock the loop \
         pauses about 1 ms instead of trying again at once ({mine:?})"
    );
}

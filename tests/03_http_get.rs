//! Checks 03_http_get against one-connection web servers written here, each sending a
//! response of one kind: Content-Length, chunked, ended by the close, 1 MB, broken.
//! Run with `cargo test --test 03_http_get`. (The pair with the real server, 17_http_server,
//! is in tests/17_http_server.rs.)

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use common::http::TempDir;
use common::{Output, TIMEOUT, bin, run, run_command, text};

/// A web server for exactly one request: it reads the request head, sends `response` in
/// pieces of `piece` bytes, and closes. Returns its address and, at the end, the request.
fn one_shot(response: Vec<u8>, piece: usize) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request(&mut stream);
        for chunk in response.chunks(piece) {
            stream.write_all(chunk).unwrap();
            stream.flush().unwrap();
        }
        request
    });
    (addr, handle)
}

/// Reads a request head, up to and including its blank line. Like lenient real servers, it
/// also takes a bare LF as a line end, so that a request with LF-only lines is answered and
/// a check can say what is wrong with it instead of waiting for a blank line that never comes.
fn read_request(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\n\r\n") && !request.ends_with(b"\n\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "client closed early");
        request.push(byte[0]);
    }
    String::from_utf8(request).unwrap()
}

/// Runs 03_http_get in `dir` with `args`.
fn fetch(dir: &Path, args: &[&str]) -> Output {
    run_command(Command::new(bin("03_http_get")).args(args).current_dir(dir))
}

fn ok_response(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut response = format!("HTTP/1.1 200 OK\r\n{headers}\r\n").into_bytes();
    response.extend_from_slice(body);
    response
}

#[test]
fn sends_the_request_by_hand_prints_the_head_and_saves_the_body() {
    let dir = TempDir::new("get");
    let response = ok_response(
        "Content-Type: text/html\r\nContent-Length: 13\r\nConnection: close\r\n",
        b"<p>Hello</p>\n",
    );
    let (addr, server) = one_shot(response, 7);
    let output = fetch(
        dir.path(),
        &[&format!("http://{addr}/docs/page.html?x=1"), "out.html"],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        server.join().unwrap(),
        format!(
            "GET /docs/page.html?x=1 HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: socket-workbook\r\n\
             Connection: close\r\n\r\n"
        )
    );
    assert_eq!(
        output.stdout,
        "HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: 13\nConnection: close\n\n\
         Saved 13 bytes to out.html\n"
    );
    assert_eq!(output.stderr, "");
    assert_eq!(
        fs::read(dir.path().join("out.html")).unwrap(),
        b"<p>Hello</p>\n"
    );
    assert_eq!(
        dir.names(),
        ["out.html"],
        "no temporary file is left behind"
    );
}

#[test]
fn bytes_after_content_length_are_not_part_of_the_body() {
    let dir = TempDir::new("get");
    let response = ok_response("Content-Length: 5\r\n", b"HelloEXTRA");
    let (addr, _server) = one_shot(response, 1024);
    let output = fetch(dir.path(), &[&format!("http://{addr}/"), "a.txt"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(fs::read(dir.path().join("a.txt")).unwrap(), b"Hello");
}

#[test]
fn a_chunked_body_is_decoded_before_saving() {
    let dir = TempDir::new("get");
    let chunked = b"6\r\n<html>\r\n10\r\n0123456789abcdef\r\n7;note=x\r\n</html>\r\n0\r\n\r\n";
    let (addr, _server) = one_shot(ok_response("Transfer-Encoding: chunked\r\n", chunked), 5);
    let output = fetch(dir.path(), &[&format!("http://{addr}/"), "page.html"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert!(output.stdout.contains("Transfer-Encoding: chunked\n"));
    assert!(output.stdout.ends_with("Saved 29 bytes to page.html\n"));
    assert_eq!(
        fs::read(dir.path().join("page.html")).unwrap(),
        b"<html>0123456789abcdef</html>"
    );
}

#[test]
fn a_body_without_a_length_ends_when_the_server_closes() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(ok_response("", b"all of it, until the close"), 3);
    let output = fetch(dir.path(), &[&format!("http://{addr}/x"), "x"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        fs::read(dir.path().join("x")).unwrap(),
        b"all of it, until the close"
    );
}

#[test]
fn a_1_mb_body_arrives_whole() {
    let dir = TempDir::new("get");
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let headers = format!("Content-Length: {}\r\n", body.len());
    let (addr, _server) = one_shot(ok_response(&headers, &body), 64 * 1024);
    let output = fetch(dir.path(), &[&format!("http://{addr}/big.bin")]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert!(output.stdout.ends_with("Saved 1048576 bytes to big.bin\n"));
    assert!(fs::read(dir.path().join("big.bin")).unwrap() == body);
}

#[test]
fn the_default_file_name_comes_from_the_path() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(ok_response("", b"root"), 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert!(
        output.stdout.ends_with("Saved 4 bytes to index.html\n"),
        "{output:?}"
    );
    let (addr, _server) = one_shot(ok_response("", b"notes"), 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/a/b/notes.md?raw=1")]);
    assert!(
        output.stdout.ends_with("Saved 5 bytes to notes.md\n"),
        "{output:?}"
    );
    assert_eq!(dir.names(), ["index.html", "notes.md"]);
}

#[test]
fn a_redirect_is_shown_not_followed() {
    let dir = TempDir::new("get");
    let response = b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/new\r\n\
                     Content-Length: 0\r\n\r\n"
        .to_vec();
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/old")]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        "HTTP/1.1 301 Moved Permanently\nLocation: http://127.0.0.1:1/new\nContent-Length: 0\n\n\
         Redirected to http://127.0.0.1:1/new: not followed; run 03_http_get with that URL.\n"
    );
    assert!(dir.names().is_empty(), "nothing is saved for a redirect");
}

/// A failed fetch: status 1, one line on stderr starting with `expected`, and the directory
/// holds exactly `files` afterwards (no half-written or temporary file).
fn assert_fails(output: &Output, expected: &str, dir: &TempDir, files: &[&str]) {
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.starts_with(expected),
        "stderr {:?} does not start with {expected:?}",
        output.stderr
    );
    assert_eq!(dir.names(), files);
}

#[test]
fn an_error_status_saves_nothing() {
    let dir = TempDir::new("get");
    let response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nNot found\n".to_vec();
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/gone.html")]);
    assert!(output.stdout.starts_with("HTTP/1.1 404 Not Found\n"));
    assert_fails(
        &output,
        "error: the server answered HTTP/1.1 404 Not Found; nothing saved",
        &dir,
        &[],
    );
}

#[test]
fn a_reply_that_is_not_http_is_an_error() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(b"Welcome!".to_vec(), 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_fails(
        &output,
        &format!(
            "error: GET http://{addr}/ failed: the reply is not HTTP: it starts with \"Welcome!\""
        ),
        &dir,
        &[],
    );
    assert_eq!(output.stdout, "");
}

#[test]
fn a_head_with_no_blank_line_is_an_error() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n".to_vec(), 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_fails(
        &output,
        &format!(
            "error: GET http://{addr}/ failed: the response ended after 36 bytes, before the \
             blank line that ends the header"
        ),
        &dir,
        &[],
    );
}

#[test]
fn a_body_cut_short_leaves_the_old_file_untouched() {
    let dir = TempDir::new("get");
    dir.write("page.html", b"the old page");
    let response = ok_response(
        "Content-Length: 100\r\n",
        b"only forty bytes of the hundred promised",
    );
    let (addr, _server) = one_shot(response, 10);
    let output = fetch(dir.path(), &[&format!("http://{addr}/page.html")]);
    assert_fails(
        &output,
        &format!(
            "error: GET http://{addr}/page.html failed: the body ended after 40 of the 100 bytes \
             that Content-Length announced"
        ),
        &dir,
        &["page.html"],
    );
    assert_eq!(
        fs::read(dir.path().join("page.html")).unwrap(),
        b"the old page"
    );
}

#[test]
fn a_broken_chunked_body_is_an_error() {
    let dir = TempDir::new("get");
    let response = ok_response("Transfer-Encoding: chunked\r\n", b"10\r\nonly a few\r\n");
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_fails(
        &output,
        &format!(
            "error: GET http://{addr}/ failed: the chunked body ended in the middle of a chunk \
             of 16 bytes"
        ),
        &dir,
        &[],
    );
    // A size too big for any memory is refused the same way, without a crash.
    let response = ok_response(
        "Transfer-Encoding: chunked\r\n",
        b"FFFFFFFFFFFFFFFF\r\nx\r\n",
    );
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_fails(
        &output,
        &format!("error: GET http://{addr}/ failed: the chunked body ended in the middle"),
        &dir,
        &[],
    );
}

#[test]
fn a_file_that_cannot_be_written_is_an_error() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(ok_response("", b"body"), 100);
    let output = fetch(
        dir.path(),
        &[&format!("http://{addr}/"), "no/such/dir/x.html"],
    );
    assert_fails(
        &output,
        "error: could not save the body to no/such/dir/x.html: could not create \
         no/such/dir/.x.html.",
        &dir,
        &[],
    );
    assert!(
        output
            .stderr
            .ends_with(".part: No such file or directory (os error 2)\n"),
        "{}",
        output.stderr
    );
}

/// Starts 03_http_get in `dir` for `url`, saving to `page.html`; the server must not answer
/// before the test says so. Returns the running client.
fn start_fetch(dir: &Path, url: &str) -> std::process::Child {
    Command::new(bin("03_http_get"))
        .args([url, "page.html"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start 03_http_get")
}

/// Waits (at most `TIMEOUT`) for a client started by `start_fetch`: its exit code and stderr.
fn finish_fetch(mut child: std::process::Child) -> (Option<i32>, String) {
    let mut err = child.stderr.take().unwrap();
    let (sender, done) = mpsc::channel();
    thread::spawn(move || {
        let mut stderr = String::new();
        let _ = err.read_to_string(&mut stderr);
        let _ = sender.send(stderr);
    });
    let Ok(stderr) = done.recv_timeout(TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("03_http_get did not finish within {TIMEOUT:?}");
    };
    (child.wait().unwrap().code(), stderr)
}

/// A one-request web server that answers only once `go` says so.
fn answer_when(response: Vec<u8>, go: mpsc::Receiver<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_request(&mut stream);
        if go.recv_timeout(TIMEOUT).is_ok() {
            let _ = stream.write_all(&response);
        }
    });
    addr
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_temporary_name_is_never_followed() {
    // Someone who can write to the directory guesses the temporary name (the process id is
    // no secret) and plants a symbolic link there: to a file of yours, or to a name that does
    // not exist yet. Opening that name to write would overwrite, or create, the file it
    // points to.
    let dir = TempDir::new("get");
    let elsewhere = TempDir::new("victim");
    let victim = elsewhere.write("precious.txt", b"precious");
    let not_yet = elsewhere.path().join("created-by-the-attack");
    for target in [&victim, &not_yet] {
        let (go, wait) = mpsc::channel();
        let addr = answer_when(ok_response("Content-Length: 4\r\n", b"evil"), wait);
        let child = start_fetch(dir.path(), &format!("http://{addr}/page.html"));
        let planted = format!(".page.html.{}.part", child.id());
        std::os::unix::fs::symlink(target, dir.path().join(&planted)).unwrap();
        go.send(()).unwrap();
        let (code, stderr) = finish_fetch(child);
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: could not save the body to page.html: could not create {planted}: \
                 File exists (os error 17)\n"
            )
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            !not_yet.exists(),
            "the link was followed to create its target"
        );
        assert_eq!(
            dir.names(),
            std::slice::from_ref(&planted),
            "nothing saved, the link left alone"
        );
        fs::remove_file(dir.path().join(&planted)).unwrap();
    }
}

#[test]
fn a_length_or_coding_that_cannot_be_trusted_is_refused() {
    for (headers, error) in [
        (
            "Content-Length: 4\r\nContent-Length: 2\r\n",
            "the response has two different Content-Length values; refusing to guess",
        ),
        (
            "Content-Length: +3\r\n",
            "bad Content-Length \"+3\": not a number of bytes",
        ),
        (
            "Content-Length: four\r\n",
            "bad Content-Length \"four\": not a number of bytes",
        ),
        (
            "Content-Length: 18446744073709551616\r\n",
            "bad Content-Length \"18446744073709551616\": not a number of bytes",
        ),
        (
            "Transfer-Encoding: notchunked\r\n",
            "the body is sent with Transfer-Encoding \"notchunked\"; this client only decodes \
             chunked",
        ),
        (
            "Transfer-Encoding: gzip, chunked\r\n",
            "the body is sent with Transfer-Encoding \"gzip, chunked\"; this client only \
             decodes chunked",
        ),
    ] {
        let dir = TempDir::new("get");
        let (addr, _server) = one_shot(ok_response(headers, b"4\r\nbody\r\n0\r\n\r\n"), 100);
        let output = fetch(dir.path(), &[&format!("http://{addr}/"), "x"]);
        assert_fails(
            &output,
            &format!("error: GET http://{addr}/ failed: {error}\n"),
            &dir,
            &[],
        );
        assert_eq!(output.stdout, "", "{headers:?}: no header printed");
    }
}

#[test]
fn a_status_line_and_location_from_the_server_are_shown_escaped() {
    let dir = TempDir::new("get");
    let response = b"HTTP/1.1 302 Found\r\nLocation: /\x1b[2J\rnew\r\n\r\n".to_vec();
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert!(
        output.stdout.ends_with(
            "Redirected to /\\u{1b}[2J\\rnew: not followed; run 03_http_get with that URL.\n"
        ),
        "{}",
        output.stdout
    );
    let response = b"HTTP/1.1 500 \x1b[2J\x07Oops\r\nContent-Length: 0\r\n\r\n".to_vec();
    let (addr, _server) = one_shot(response, 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/")]);
    assert_fails(
        &output,
        "error: the server answered HTTP/1.1 500 \\u{1b}[2J\\u{7}Oops; nothing saved\n",
        &dir,
        &[],
    );
}

#[test]
fn a_name_that_does_not_resolve_gives_one_line_and_status_1() {
    // An empty label (`..`) is refused by the system's resolver itself, before any query is
    // sent, so this test sends nothing over the network.
    let dir = TempDir::new("get");
    let output = fetch(dir.path(), &["http://no..such.host/"]);
    assert_fails(
        &output,
        "error: could not find the address of no..such.host: ",
        &dir,
        &[],
    );
}

#[test]
fn https_points_to_chapter_04() {
    let output = run("03_http_get", &["https://127.0.0.1:1/"]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(
        output.stderr,
        "error: https://127.0.0.1:1/ needs TLS, which this plain-TCP client does not speak; \
         use 04_https_get\n"
    );
}

#[test]
fn bad_arguments_print_usage_and_status_2() {
    for args in [
        &[][..],
        &["ftp://x/"],
        &["http://x:99999/"],
        &["http://x/", "a", "b"],
    ] {
        let output = run("03_http_get", args);
        assert_eq!(output.code(), Some(2), "{args:?}: {output:?}");
        assert!(usage_line(&output.stderr), "{}", output.stderr);
    }
    let help = run("03_http_get", &["--help"]);
    assert_eq!(help.code(), Some(0));
    assert!(help.stdout.starts_with("usage: 03_http_get "));
    assert!(usage_line(&help.stdout), "{}", help.stdout);
}

/// Whether `text` holds the usage line (options an exercise adds may stand before URL).
fn usage_line(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("usage: 03_http_get ") && l.ends_with(" URL [OUTFILE]"))
}

// Exercises of chapter 03. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 03_http_get -- --ignored`.

/// A web server for several requests, one per connection, named `name` in the log: it answers
/// each request with `answer(path)` and sends `(name, request head)` to `log`. It stops after
/// `max` connections, so a client that never stops following redirects is refused soon.
fn routes(
    name: &'static str,
    listener: TcpListener,
    max: usize,
    log: mpsc::Sender<(&'static str, String)>,
    answer: impl Fn(&str) -> Vec<u8> + Send + 'static,
) {
    thread::spawn(move || {
        for _ in 0..max {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let request = read_request(&mut stream);
            let path = request.split(' ').nth(1).unwrap_or_default().to_string();
            let _ = log.send((name, request));
            let _ = stream.write_all(&answer(&path));
        }
    });
}

fn redirect(status: &str, location: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// The request line and Host header of each request received, as `A GET /x (Host: h)`.
fn received(log: &mpsc::Receiver<(&'static str, String)>) -> Vec<String> {
    log.try_iter()
        .map(|(name, request)| {
            let line = request.lines().next().unwrap_or_default();
            let target = line.strip_suffix(" HTTP/1.1").unwrap_or(line);
            let host = request
                .lines()
                .find_map(|l| l.strip_prefix("Host: "))
                .unwrap_or("none");
            format!("{name} {target} (Host: {host})")
        })
        .collect()
}

#[test]
#[ignore = "exercise: --follow follows redirects"]
fn exercise_follow_redirects() {
    let dir = TempDir::new("get");
    // Two servers, A and B, and a chain of exactly five redirects, one of each 3xx code that
    // redirects: to an absolute URL on B, to a path on B (the server that sent it, not the
    // first one), back to A with a query, then two paths on A, then the page.
    let (a, b) = (
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let (log, requests) = mpsc::channel();
    routes("A", a, 10, log.clone(), move |path| match path {
        "/start" => redirect("301 Moved Permanently", &format!("http://{b_addr}/b1")),
        "/a3?x=1" => redirect("307 Temporary Redirect", "/a4"),
        "/a4" => redirect("308 Permanent Redirect", "/final"),
        "/final" => ok_response("Content-Length: 8\r\n", b"the end\n"),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    });
    routes("B", b, 10, log, move |path| match path {
        "/b1" => redirect("302 Found", "/b2"),
        "/b2" => redirect("303 See Other", &format!("http://{a_addr}/a3?x=1")),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    });
    let output = fetch(
        dir.path(),
        &["--follow", &format!("http://{a_addr}/start"), "page.txt"],
    );
    let want = [
        format!("A GET /start (Host: {a_addr})"),
        format!("B GET /b1 (Host: {b_addr})"),
        format!("B GET /b2 (Host: {b_addr})"),
        format!("A GET /a3?x=1 (Host: {a_addr})"),
        format!("A GET /a4 (Host: {a_addr})"),
        format!("A GET /final (Host: {a_addr})"),
    ];
    let got = received(&requests);
    assert!(
        got == want,
        "five redirects (301 to http://B/b1, 302 to /b2, 303 to http://A/a3?x=1, 307 to /a4, \
         308 to /final) must all be followed, each to the right server with its own Host \
         header;\nexpected requests {want:#?}\ngot {got:#?}\nstdout: {}\nstderr: {}",
        output.stdout,
        output.stderr
    );
    assert!(
        output.code() == Some(0),
        "exit status: expected 0, got {:?}; stderr: {}",
        output.code(),
        output.stderr
    );
    let statuses: Vec<&str> = output
        .stdout
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .collect();
    let want_statuses = [
        "HTTP/1.1 301 Moved Permanently",
        "HTTP/1.1 302 Found",
        "HTTP/1.1 303 See Other",
        "HTTP/1.1 307 Temporary Redirect",
        "HTTP/1.1 308 Permanent Redirect",
        "HTTP/1.1 200 OK",
    ];
    assert!(
        statuses == want_statuses,
        "the head of every response is printed: expected status lines {want_statuses:?}, got \
         {statuses:?}"
    );
    assert!(
        !output.stdout.contains("not followed"),
        "with --follow, no \"not followed\" line: {}",
        output.stdout
    );
    assert!(
        output.stdout.ends_with("\nSaved 8 bytes to page.txt\n"),
        "the last line: expected \"Saved 8 bytes to page.txt\", stdout was: {}",
        output.stdout
    );
    let saved = fs::read(dir.path().join("page.txt")).unwrap_or_default();
    common::expect_text("page.txt", &saved, "the end\n");

    // A redirect to itself: the first request and five redirects followed, then give up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, requests) = mpsc::channel();
    routes("A", listener, 20, log, |_| redirect("302 Found", "/loop"));
    let output = fetch(
        dir.path(),
        &["--follow", &format!("http://{addr}/loop"), "loop.txt"],
    );
    let count = received(&requests).len();
    assert!(
        count == 6,
        "a redirect loop: expected 6 requests (the first, then 5 redirects followed), got \
         {count}; stderr: {}",
        output.stderr
    );
    assert!(
        output.code() == Some(1) && output.stderr.starts_with("error: too many redirects"),
        "after 5 redirects, a sixth: expected status 1 and stderr starting \
         \"error: too many redirects\", got status {:?} and stderr {:?}",
        output.code(),
        output.stderr
    );

    // A redirect to https:// cannot be followed by this client: the same error as for an
    // https:// URL on the command line.
    let (addr, _server) = one_shot(
        redirect("301 Moved Permanently", "https://127.0.0.1:1/x"),
        100,
    );
    let output = fetch(
        dir.path(),
        &["--follow", &format!("http://{addr}/"), "tls.txt"],
    );
    let want = "error: https://127.0.0.1:1/x needs TLS, which this plain-TCP client does not \
                speak; use 04_https_get\n";
    assert!(
        output.code() == Some(1),
        "a redirect to https://: expected status 1, got {:?}; stderr: {}",
        output.code(),
        output.stderr
    );
    common::expect_text(
        "a redirect to https://, stderr",
        output.stderr.as_bytes(),
        want,
    );
    assert!(
        dir.names() == ["page.txt"],
        "files saved: {:?}",
        dir.names()
    );
}

/// Runs 03_http_get in `dir` and returns its exit code and stdout as raw bytes (the harness's
/// `run` reads output as text, which would hide bytes that are not UTF-8).
fn fetch_bytes(dir: &Path, args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(bin("03_http_get"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start 03_http_get");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (sender, done) = mpsc::channel();
    thread::spawn(move || {
        let (mut stdout, mut stderr) = (Vec::new(), String::new());
        let _ = out.read_to_end(&mut stdout);
        let _ = err.read_to_string(&mut stderr);
        let _ = sender.send((stdout, stderr));
    });
    let Ok((stdout, stderr)) = done.recv_timeout(TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("03_http_get did not finish within {TIMEOUT:?}");
    };
    let status = child.wait().expect("could not reap 03_http_get");
    (status.code(), stdout, stderr)
}

/// Says where two byte strings first differ, in words.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got.iter().zip(want).take_while(|(g, w)| g == w).count();
    let byte = |b: Option<&u8>| b.map_or("nothing".to_string(), |b| format!("byte 0x{b:02x}"));
    format!(
        "{} bytes, expected {}; first difference at byte {at}: expected {}, got {}",
        got.len(),
        want.len(),
        byte(want.get(at)),
        byte(got.get(at))
    )
}

#[test]
#[ignore = "exercise: OUTFILE - prints the body"]
fn exercise_body_to_stdout() {
    let dir = TempDir::new("get");
    // Not text: bytes that are not UTF-8, a NUL, a CR LF and a blank line inside, no final
    // newline. It must reach stdout byte for byte.
    let body: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe caf\xc3\xa9 \xe9t\xe9\r\n\r\nend";
    let headers = format!("Content-Length: {}\r\n", body.len());
    let (addr, _server) = one_shot(ok_response(&headers, body), 7);
    let (code, stdout, stderr) = fetch_bytes(dir.path(), &[&format!("http://{addr}/x.png"), "-"]);
    assert!(
        code == Some(0),
        "exit status: expected 0, got {code:?}; stderr: {stderr}"
    );
    let head = format!("HTTP/1.1 200 OK\nContent-Length: {}\n\n", body.len());
    assert!(
        stdout.starts_with(head.as_bytes()),
        "stdout must start with the head and the blank line, {}, got {}",
        text(head.as_bytes()),
        text(&stdout[..stdout.len().min(head.len() + 10)])
    );
    let printed = &stdout[head.len()..];
    assert!(
        !printed.starts_with(body) || printed.len() == body.len(),
        "after the body, stdout must end; it went on with {}",
        text(&printed[body.len()..])
    );
    assert!(
        printed == body,
        "the body on stdout differs from the body sent (it must be written as raw bytes, not \
         as text): {}",
        first_difference(printed, body)
    );
    assert!(
        dir.names().is_empty(),
        "no file is written for -, found {:?}",
        dir.names()
    );
}

#[test]
#[ignore = "exercise: --header adds a request header"]
fn exercise_extra_header() {
    let dir = TempDir::new("get");
    let (addr, server) = one_shot(ok_response("", b"ok"), 100);
    let output = fetch(
        dir.path(),
        &[
            "--header",
            "Accept-Language: zh-CN",
            "--header",
            "X-Trace: 1, 2",
            &format!("http://{addr}/"),
            "page.txt",
        ],
    );
    assert!(
        output.code() != Some(2),
        "two --header options: expected status 0, got 2 (a usage error); stderr: {}",
        output.stderr
    );
    // `read_request` stops at the first blank line: anything sent after it is not a header.
    let request = server.join().unwrap();
    let lines: Vec<&str> = request.split("\r\n").collect();
    let at = |line: &str| lines.iter().position(|l| *l == line);
    assert!(
        lines[0] == "GET / HTTP/1.1",
        "the request line comes first: {request:?}"
    );
    for usual in [
        format!("Host: {addr}"),
        "User-Agent: socket-workbook".to_string(),
        "Connection: close".to_string(),
    ] {
        assert!(
            at(&usual).is_some(),
            "the usual header {usual:?} is missing from the request head {request:?}"
        );
    }
    let (first, second) = (at("Accept-Language: zh-CN"), at("X-Trace: 1, 2"));
    assert!(
        first.is_some() && second.is_some(),
        "the request head, up to the blank line, must hold both extra header lines, each \
         ended by CR LF; it was {request:?}"
    );
    assert!(
        first < second,
        "the extra headers go in the order given: {request:?}"
    );
    let last_usual = ["Host: ", "User-Agent: ", "Connection: "]
        .iter()
        .filter_map(|name| lines.iter().position(|l| l.starts_with(name)))
        .max();
    assert!(
        first > last_usual,
        "the extra headers go after the usual ones (Host, User-Agent, Connection), just before \
         the blank line: {request:?}"
    );
    assert!(
        output.code() == Some(0),
        "two --header options: expected status 0, got {:?}; stderr: {}",
        output.code(),
        output.stderr
    );

    // A header without a colon, or with a line break in it, is a usage error: status 2.
    for bad in [
        "Accept-Language zh-CN",
        "X-A: 1\r\nX-Evil: 2",
        "X-A: 1\nX-Evil: 2",
        "X-A: 1\rX-Evil: 2",
    ] {
        let output = fetch(dir.path(), &["--header", bad, "http://127.0.0.1:1/"]);
        assert!(
            output.code() == Some(2) && output.stderr.contains("usage: 03_http_get"),
            "--header {bad:?} must be a usage error (status 2, the usage on stderr); got status \
             {:?}, stderr {:?}",
            output.code(),
            output.stderr
        );
    }
}

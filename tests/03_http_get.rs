//! Checks 03_http_get against one-connection web servers written here, each sending a
//! response of one kind: Content-Length, chunked, ended by the close, 1 MB, broken.
//! Run with `cargo test --test 03_http_get`. (The pair with the real server, 17_http_server,
//! is in tests/17_http_server.rs.)

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread::{self, JoinHandle};

use common::http::TempDir;
use common::{Output, TIMEOUT, bin, run, run_command};

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

/// Reads a request head, up to and including its blank line.
fn read_request(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
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
        "error: could not save the body to no/such/dir/x.html: No such file or directory",
        &dir,
        &[],
    );
}

#[test]
fn nobody_listening_gives_one_line_and_status_1() {
    let dir = TempDir::new("get");
    // Bind a port, then free it: nobody listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = fetch(dir.path(), &[&format!("http://127.0.0.1:{port}/")]);
    assert_fails(
        &output,
        &format!(
            "error: could not connect to 127.0.0.1 port {port}: Connection refused (os error \
             111); is a web server running there?"
        ),
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
        assert!(output.stderr.contains("usage: 03_http_get URL [OUTFILE]"));
    }
    let help = run("03_http_get", &["--help"]);
    assert_eq!(help.code(), Some(0));
    assert!(help.stdout.starts_with("usage: 03_http_get URL [OUTFILE]"));
}

// Exercises of chapter 03. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 03_http_get -- --ignored`.

#[test]
#[ignore = "exercise: --follow follows redirects"]
fn exercise_follow_redirects() {
    let dir = TempDir::new("get");
    // One server, two connections: /old redirects to /new, which answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let mut requests = Vec::new();
        for response in [
            &b"HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"[..],
            &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"[..],
        ] {
            let (mut stream, _) = listener.accept().unwrap();
            requests.push(read_request(&mut stream));
            stream.write_all(response).unwrap();
        }
        requests
    });
    let output = fetch(
        dir.path(),
        &["--follow", &format!("http://{addr}/old"), "page.txt"],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    let requests = server.join().unwrap();
    assert!(
        requests[1].starts_with("GET /new HTTP/1.1\r\n"),
        "{requests:?}"
    );
    assert_eq!(fs::read(dir.path().join("page.txt")).unwrap(), b"new");
}

#[test]
#[ignore = "exercise: OUTFILE - prints the body"]
fn exercise_body_to_stdout() {
    let dir = TempDir::new("get");
    let (addr, _server) = one_shot(ok_response("Content-Length: 6\r\n", b"hello\n"), 100);
    let output = fetch(dir.path(), &[&format!("http://{addr}/"), "-"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout, "HTTP/1.1 200 OK\nContent-Length: 6\n\nhello\n",
        "the head, the blank line, then the body itself"
    );
    assert!(dir.names().is_empty(), "no file is written for -");
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
            &format!("http://{addr}/"),
        ],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    let request = server.join().unwrap();
    assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request:?}");
    assert!(
        request.contains("\r\nAccept-Language: zh-CN\r\n"),
        "{request:?}"
    );
    assert!(request.ends_with("\r\n\r\n"), "{request:?}");
}

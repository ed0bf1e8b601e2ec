//! Checks 17_http_server against a raw HTTP client written here (every status, HEAD, paths
//! that try to leave the served directory, slow clients, 100 requests at once), and against
//! the real client of chapter 03. Run with `cargo test --test 17_http_server`.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::http::{Reply, TempDir, get, parse_reply, send_raw};
use common::{Server, bin, connect, read_to_end, root, run, run_command};

/// A served directory with a few files, and a secret file beside it (outside it).
struct Site {
    outer: TempDir,
}

impl Site {
    fn new() -> Site {
        let outer = TempDir::new("site");
        outer.write("secret.txt", b"you must not see this\n");
        outer.write("www/hello.html", b"<h1>Hello</h1>\n");
        outer.write("www/notes.md", "# Notes 笔记\n".as_bytes());
        outer.write("www/data.bin", &[0, 1, 2, 255]);
        outer.write("www/docs/index.html", b"<p>docs</p>\n");
        outer.write("www/docs/a b.txt", b"spaces\n");
        fs::create_dir(outer.path().join("www/empty")).unwrap();
        Site { outer }
    }

    fn dir(&self) -> String {
        self.outer.path().join("www").to_string_lossy().into_owned()
    }

    fn start(&self, options: &[&str]) -> Server {
        let dir = self.dir();
        let mut args = vec!["127.0.0.1:0", dir.as_str()];
        args.extend_from_slice(options);
        Server::start("17_http_server", &args)
    }
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status(), status, "{reply:?}");
    assert_eq!(reply.header("Connection").as_deref(), Some("close"));
    let length: usize = reply
        .header("Content-Length")
        .expect("Content-Length")
        .parse()
        .unwrap();
    assert_eq!(length, reply.body.len(), "Content-Length matches the body");
}

#[test]
fn first_lines_name_the_address_and_the_directory() {
    let site = Site::new();
    let mut server = site.start(&["--threads", "3"]);
    assert!(server.first_line.starts_with("Listening on 127.0.0.1:"));
    assert_ne!(server.socket_addr().port(), 0);
    server.expect_line(&format!("Serving {} with 3 worker threads", site.dir()));
}

#[test]
fn get_sends_the_file_with_its_type_and_length_and_logs_it() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    let mut client = connect(addr);
    let me = client.local_addr().unwrap();
    client
        .write_all(b"GET /hello.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = parse_reply(&read_to_end(&mut client));
    assert_status(&reply, 200);
    assert_eq!(
        reply.head,
        "HTTP/1.1 200 OK\r\nServer: socket-workbook\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: 15\r\nConnection: close"
    );
    assert_eq!(reply.body, b"<h1>Hello</h1>\n");
    server.expect_line(&format!("{me} \"GET /hello.html HTTP/1.1\" 200 15"));

    let reply = get(addr, "/notes.md");
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some("text/markdown; charset=utf-8")
    );
    assert_eq!(reply.body, "# Notes 笔记\n".as_bytes());
    let reply = get(addr, "/data.bin");
    assert_eq!(
        reply.header("Content-Type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(reply.body, [0, 1, 2, 255]);
}

#[test]
fn paths_are_decoded_queries_ignored_and_directories_get_their_index() {
    let site = Site::new();
    let server = site.start(&[]);
    let addr = server.socket_addr();
    assert_eq!(get(addr, "/docs/a%20b.txt").body, b"spaces\n");
    assert_eq!(get(addr, "/hello.html?v=2").body, b"<h1>Hello</h1>\n");
    assert_eq!(get(addr, "/./docs//a%20b.txt").body, b"spaces\n");
    let index = get(addr, "/docs/");
    assert_status(&index, 200);
    assert_eq!(index.body, b"<p>docs</p>\n");
    assert_eq!(get(addr, "/docs").body, b"<p>docs</p>\n");
    // A directory with no index.html is not listed.
    assert_status(&get(addr, "/empty/"), 404);
    assert_status(&get(addr, "/"), 404);
}

#[test]
fn head_sends_the_same_headers_and_no_body() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    let full = get(addr, "/hello.html");
    let head = send_raw(addr, b"HEAD /hello.html HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(head.head, full.head);
    assert_eq!(head.header("Content-Length").as_deref(), Some("15"));
    assert_eq!(head.body, b"");
    server.expect_line("\"HEAD /hello.html HTTP/1.1\" 200 0");
    let missing = send_raw(addr, b"HEAD /nope HTTP/1.1\r\n\r\n");
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.body, b"");
}

#[test]
fn a_missing_file_is_404() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let reply = get(server.socket_addr(), "/nope.html");
    assert_status(&reply, 404);
    assert_eq!(reply.status_line, "HTTP/1.1 404 Not Found");
    assert_eq!(reply.body, b"404 Not Found\n");
    server.expect_line("\"GET /nope.html HTTP/1.1\" 404 14");
}

#[test]
fn other_methods_are_405_with_allow() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let request = format!("{method} /hello.html HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        let reply = send_raw(addr, request.as_bytes());
        assert_status(&reply, 405);
        assert_eq!(reply.header("Allow").as_deref(), Some("GET, HEAD"));
    }
    server.expect_line("\"DELETE /hello.html HTTP/1.1\" 405 23");
}

#[test]
fn requests_it_cannot_parse_are_400() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    for request in [
        &b"hello\r\n\r\n"[..],
        b"GET /hello.html\r\n\r\n",
        b"GET /hello.html HTTP/2.0\r\n\r\n",
        b"GET  /hello.html HTTP/1.1\r\n\r\n",
        b"GET hello.html HTTP/1.1\r\n\r\n",
        b"GET http://example.com/hello.html HTTP/1.1\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\n\r\n",
        b"GET /%ff%fe HTTP/1.1\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
    ] {
        let reply = send_raw(addr, request);
        assert_status(&reply, 400);
        assert_eq!(reply.body, b"400 Bad Request\n");
    }
    // The request line is logged quoted, with odd bytes escaped.
    server.expect_line("\"\u{fffd}\u{fffd}\" 400 16");
    assert_eq!(get(addr, "/hello.html").status(), 200, "still serving");
}

#[test]
fn a_head_over_the_size_limit_is_431() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    let mut request = b"GET /hello.html HTTP/1.1\r\n".to_vec();
    for i in 0..400 {
        request.extend_from_slice(format!("X-Padding-{i}: {}\r\n", "x".repeat(40)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    assert!(request.len() > 16 * 1024);
    let reply = send_raw(addr, &request);
    assert_status(&reply, 431);
    assert_eq!(
        reply.status_line,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    server.expect_line("\"-\" 431 36");
    assert_eq!(get(addr, "/hello.html").status(), 200, "still serving");
    // The limit is on the head itself, however it arrives: a head a little under 8 KiB is
    // served, one a little over is refused, even when each comes in a single write.
    for (padding, status) in [(7_900, 200), (8_300, 431)] {
        let request = format!(
            "GET /hello.html HTTP/1.1\r\nX-Padding: {}\r\n\r\n",
            "x".repeat(padding)
        );
        assert_status(&send_raw(addr, request.as_bytes()), status);
    }
}

/// Every way out of the served directory that a request might try.
#[test]
fn no_path_leaves_the_served_directory() {
    let site = Site::new();
    let www = site.outer.path().join("www");
    // A symbolic link inside that points out, and one that stays inside.
    symlink(site.outer.path().join("secret.txt"), www.join("leak.txt")).unwrap();
    symlink(site.outer.path(), www.join("up")).unwrap();
    symlink(www.join("hello.html"), www.join("alias.html")).unwrap();
    // A directory whose index.html is a link pointing out.
    fs::create_dir(www.join("trap")).unwrap();
    symlink(
        site.outer.path().join("secret.txt"),
        www.join("trap/index.html"),
    )
    .unwrap();
    let server = site.start(&[]);
    let addr = server.socket_addr();
    let secret = fs::read_to_string(site.outer.path().join("secret.txt")).unwrap();
    let outside = site.outer.path().join("secret.txt");
    let absolute = format!("/{}", outside.display()); // `//tmp/.../secret.txt`
    for path in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "/../../../../../../etc/passwd",
        "/etc/passwd",
        "//etc/passwd",
        absolute.as_str(),
        outside.to_str().unwrap(),
        "/leak.txt",
        "/up/secret.txt",
        "/trap/",
    ] {
        let reply = get(addr, path);
        assert_status(&reply, 404);
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains(&secret) && !body.contains("root:"), "{path}");
    }
    // A link whose real path stays inside is fine, even if it goes out and back in.
    assert_eq!(get(addr, "/alias.html").body, b"<h1>Hello</h1>\n");
    assert_eq!(get(addr, "/up/www/hello.html").body, b"<h1>Hello</h1>\n");
}

#[test]
fn an_idle_client_gets_408_and_frees_its_worker() {
    let site = Site::new();
    // One worker and a short timeout: the idle client holds the only worker until then.
    let mut server = site.start(&["--threads", "1", "--timeout", "0.3"]);
    let addr = server.socket_addr();
    let started = Instant::now();
    let mut idle = connect(addr);
    let me = idle.local_addr().unwrap();
    let waiting = thread::spawn(move || get(addr, "/hello.html"));
    let reply = parse_reply(&read_to_end(&mut idle));
    let waited = started.elapsed();
    assert_status(&reply, 408);
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    server.expect_line(&format!("{me} \"-\" 408 20"));
    // The client queued behind it is served as soon as the worker is free.
    assert_eq!(waiting.join().unwrap().status(), 200);
}

/// `--threads N` starts exactly N workers: with N - 1 of them held by silent clients a request
/// is served at once; with all N held, it waits until a held client times out.
#[test]
fn the_pool_has_exactly_the_threads_asked_for() {
    let site = Site::new();
    let served = "\"GET /hello.html HTTP/1.1\" 200 15";
    // Three workers, two held by clients that say nothing: the third serves at once, long
    // before the 30-second timeout, so the 200 is the first access-log line.
    let mut server = site.start(&["--threads", "3", "--timeout", "30"]);
    let addr = server.socket_addr();
    let _held = [connect(addr), connect(addr)];
    assert_eq!(get(addr, "/hello.html").status(), 200);
    server.expect_line(served);
    assert_eq!(server.seen.len(), 2, "{:#?}", server.seen); // `Serving ...`, then the 200

    // Two workers, both held: the request waits in the queue until a worker gives up on its
    // silent client (408), so a 408 line comes before the 200.
    let mut server = site.start(&["--threads", "2", "--timeout", "0.3"]);
    let addr = server.socket_addr();
    let _held = [connect(addr), connect(addr)];
    assert_eq!(get(addr, "/hello.html").status(), 200);
    server.expect_line(served);
    let lines = &server.seen;
    let answered = lines.iter().position(|l| l.contains(served)).unwrap();
    let timed_out = lines.iter().position(|l| l.contains("\"-\" 408 "));
    let timed_out = timed_out.expect("no 408 before the 200: the request did not wait");
    assert!(timed_out < answered, "{lines:#?}");
}

/// How many connections wait in the listen backlog of the TCP listener on 127.0.0.1:`port`,
/// completed by the kernel but not yet accepted. Linux shows it in /proc/net/tcp, in the
/// `rx_queue` column of the listening socket (`ss -ltn` calls it Recv-Q).
fn waiting_to_be_accepted(port: u16) -> usize {
    let table = fs::read_to_string("/proc/net/tcp").expect("could not read /proc/net/tcp");
    // Columns: `sl local_address rem_address st tx_queue:rx_queue ...`, numbers in hex;
    // 127.0.0.1 reads 0100007F, and state 0A is LISTEN.
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 4 && f[1] == local && f[3] == "0A")
        .and_then(|f| usize::from_str_radix(f[4].split(':').nth(1)?, 16).ok())
        .expect("the listener is in /proc/net/tcp")
}

/// `--queue N` bounds the queue: with the worker busy and the queue full, the main thread
/// stops accepting, and further clients wait in the kernel's listen backlog.
#[test]
fn a_full_queue_stops_the_server_accepting() {
    let site = Site::new();
    let server = site.start(&["--threads", "1", "--queue", "1", "--timeout", "30"]);
    let addr = server.socket_addr();
    // Five silent clients: one with the worker, one in the queue, one in the main thread's
    // hands (waiting in `send` for room), and two that nobody accepts.
    let _held: Vec<_> = (0..5).map(|_| connect(addr)).collect();
    // Nothing announces that the server has accepted all it will, so look at the count every
    // 10 ms until it is 2. (A server with an unbounded queue accepts all five: the count
    // stays 0.)
    let deadline = Instant::now() + common::TIMEOUT;
    loop {
        let waiting = waiting_to_be_accepted(addr.port());
        if waiting == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{waiting} clients wait, not 2");
        thread::sleep(Duration::from_millis(10));
    }
}

/// After its answer a worker reads and throws away what the client still sends (see `finish`),
/// but for one second at most, however slowly the client keeps sending.
#[test]
fn a_client_that_keeps_sending_after_its_answer_cannot_hold_a_worker() {
    let site = Site::new();
    let server = site.start(&["--threads", "1"]);
    let addr = server.socket_addr();
    let mut pest = connect(addr);
    pest.write_all(b"GET /hello.html HTTP/1.1\r\n\r\n").unwrap();
    let (sender, answered) = mpsc::channel();
    thread::spawn(move || sender.send(get(addr, "/hello.html")));
    // One more byte every 50 ms, until the request queued behind us is answered.
    let started = Instant::now();
    let reply = loop {
        match answered.recv_timeout(Duration::from_millis(50)) {
            Ok(reply) => break reply,
            Err(RecvTimeoutError::Timeout) => {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "the worker is held"
                );
                let _ = pest.write_all(b"x"); // fails once the server has closed: fine
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the queued request failed"),
        }
    };
    assert_eq!(reply.status(), 200);
}

#[test]
fn a_client_that_dribbles_bytes_cannot_hold_a_worker() {
    let site = Site::new();
    let server = site.start(&["--timeout", "0.3"]);
    let mut slow = connect(server.socket_addr());
    let started = Instant::now();
    // One byte every 50 ms: each read gets data, but the whole head never comes in time.
    let mut dribbled = 0;
    while slow.write_all(b"G").is_ok() && started.elapsed() < Duration::from_secs(2) {
        dribbled += 1;
        let mut peek = [0u8; 1];
        slow.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        if slow.peek(&mut peek).is_ok_and(|n| n > 0) {
            break; // the server answered
        }
    }
    slow.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    let mut raw = Vec::new();
    let _ = slow.read_to_end(&mut raw);
    let reply = parse_reply(&raw);
    assert_eq!(reply.status(), 408);
    assert!(dribbled >= 3, "{dribbled}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_connects_and_leaves_is_logged_and_forgotten() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let client = connect(server.socket_addr());
    let me = client.local_addr().unwrap();
    drop(client);
    server.expect_line(&format!(
        "{me} \"-\" - 0 (closed before the end of the request)"
    ));
    assert_eq!(get(server.socket_addr(), "/hello.html").status(), 200);
}

#[test]
fn a_hundred_requests_at_once_are_all_answered_correctly() {
    let site = Site::new();
    let files: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| {
            let body: Vec<u8> = (0..(1000 + i * 3000)).map(|b| (b * 7 + i) as u8).collect();
            (format!("/file{i}.bin"), body)
        })
        .collect();
    for (name, body) in &files {
        site.outer.write(&format!("www{name}"), body);
    }
    let mut server = site.start(&["--threads", "4", "--queue", "8"]);
    let addr: SocketAddr = server.socket_addr();
    let started = Instant::now();
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let (name, body) = files[i % files.len()].clone();
            thread::spawn(move || {
                let mut stream = connect(addr);
                let me = stream.local_addr().unwrap();
                let request = format!("GET {name} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                stream.write_all(request.as_bytes()).unwrap();
                let reply = parse_reply(&read_to_end(&mut stream));
                assert_eq!(reply.status(), 200, "{name}");
                assert!(reply.body == body, "{name}: wrong body");
                format!("{me} \"GET {name} HTTP/1.1\" 200 {}", body.len())
            })
        })
        .collect();
    let log_lines: Vec<String> = clients
        .into_iter()
        .map(|client| client.join().expect("a client failed"))
        .collect();
    // Exactly one access-log line per request.
    for line in log_lines {
        server.expect_line(&line);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_default_directory_is_the_workbooks_chapters() {
    // Started from another directory: the default does not depend on the current directory.
    let elsewhere = TempDir::new("cwd");
    let server = Server::start_command(
        Command::new(bin("17_http_server"))
            .arg("127.0.0.1:0")
            .current_dir(elsewhere.path()),
    );
    let reply = get(server.socket_addr(), "/README.md");
    assert_eq!(reply.status(), 200);
    assert!(reply.body == fs::read(root().join("chapters/README.md")).unwrap());
}

#[test]
fn a_directory_that_does_not_exist_gives_one_line_and_status_1() {
    let output = run("17_http_server", &["127.0.0.1:0", "/no/such/dir"]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    assert_eq!(
        output.stderr,
        "error: cannot serve /no/such/dir: No such file or directory (os error 2)\n"
    );
}

#[test]
fn bad_options_print_usage_and_status_2() {
    for args in [
        &["--threads", "0"][..],
        &["--queue", "0"],
        // Checked before binding: a queue of 10^11 places used to abort (exit 134) after
        // `Listening on` had been printed.
        &["--queue", "100000000000"],
        &["--queue", "100001"],
        &["--threads", "1001"],
        &["--timeout", "-1"],
        &["--threads", "many"],
        &["127.0.0.1:0", ".", "extra"],
    ] {
        let output = run("17_http_server", args);
        assert_eq!(output.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(
            output.stdout, "",
            "{args:?}: nothing bound, nothing printed"
        );
        assert!(output.stderr.contains("usage: 17_http_server [ADDR] [DIR]"));
    }
}

#[test]
fn dotfiles_are_404_unless_allowed() {
    let site = Site::new();
    site.outer.write("www/.env", b"PASSWORD=hunter2\n");
    site.outer.write("www/.git/config", b"[core]\n");
    site.outer
        .write("www/.hidden/index.html", b"<p>hidden</p>\n");
    // A link with a plain name that points at a hidden file is refused too.
    symlink(
        site.outer.path().join("www/.env"),
        site.outer.path().join("www/env.txt"),
    )
    .unwrap();
    let server = site.start(&[]);
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/docs/../.env",
        "/.hidden/",
        "/env.txt",
    ] {
        let reply = get(server.socket_addr(), path);
        assert_status(&reply, 404);
        assert!(!reply.body.starts_with(b"PASSWORD"), "{path}");
    }
    assert_status(&get(server.socket_addr(), "/hello.html"), 200);
    let open = site.start(&["--dotfiles"]);
    let reply = get(open.socket_addr(), "/.env");
    assert_status(&reply, 200);
    assert_eq!(reply.body, b"PASSWORD=hunter2\n");
    assert_status(&get(open.socket_addr(), "/.git/config"), 200);
}

#[test]
fn a_slow_reader_gets_one_deadline_for_the_whole_answer_and_the_log_says_what_was_sent() {
    let site = Site::new();
    let size = 8 * 1024 * 1024;
    site.outer.write("www/big.bin", &vec![7u8; size]);
    // One worker: while the slow reader holds it, nobody else is served.
    let mut server = site.start(&["--threads", "1", "--timeout", "1"]);
    let addr = server.socket_addr();
    let mut slow = connect(addr);
    slow.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let told = std::sync::Arc::clone(&done);
    let reader = thread::spawn(move || {
        // A reader that takes 4 KiB every 10 ms (the sleep plays a slow network, it waits for
        // nothing): every write of the server makes progress, so a timeout per write never
        // fires. Once the server has given up, it reads the rest at full speed.
        let mut got = Vec::new();
        let mut buffer = [0u8; 4096];
        for _ in 0..1000 {
            let n = slow.read(&mut buffer).expect("read");
            got.extend_from_slice(&buffer[..n]);
            if n == 0 {
                return got;
            }
            if !told.load(std::sync::atomic::Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(10));
            }
        }
        got.extend(read_to_end(&mut slow));
        got
    });
    let started = Instant::now();
    let line = server.expect_line("\"GET /big.bin HTTP/1.1\" 200 ");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let took = started.elapsed();
    assert!(
        line.ends_with(" (timed out: the client did not take the whole answer within 1 s)"),
        "{line}"
    );
    assert!(took < Duration::from_secs(3), "gave up after {took:?}");
    // The log counts the bytes the client's connection really took, not 0 and not the size.
    let logged: usize = line.split(' ').nth(5).unwrap().parse().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(parse_reply(&got).body.len(), logged, "{line}");
    assert!(logged > 0 && logged < size, "{line}");
    // The worker is free again.
    assert_status(&get(addr, "/hello.html"), 200);
}

/// The real pair: 03_http_get fetches files from 17_http_server, and the saved bytes are
/// exactly the bytes on disk.
#[test]
fn the_real_pair_saves_exactly_the_file_on_disk() {
    let site = Site::new();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    site.outer.write("www/big.bin", &big);
    let mut server = site.start(&[]);
    let saved = TempDir::new("saved");
    for name in ["hello.html", "notes.md", "big.bin"] {
        let output = run_command(
            Command::new(bin("03_http_get"))
                .arg(format!("http://{}/{name}", server.addr))
                .current_dir(saved.path()),
        );
        assert_eq!(output.code(), Some(0), "{output:?}");
        let on_disk = fs::read(site.outer.path().join("www").join(name)).unwrap();
        assert!(output.stdout.starts_with("HTTP/1.1 200 OK\n"));
        assert!(
            output
                .stdout
                .ends_with(&format!("Saved {} bytes to {name}\n", on_disk.len()))
        );
        assert!(
            fs::read(saved.path().join(name)).unwrap() == on_disk,
            "{name}"
        );
        server.expect_line(&format!("\"GET /{name} HTTP/1.1\" 200 {}", on_disk.len()));
    }
    let missing = run_command(
        Command::new(bin("03_http_get"))
            .arg(format!("http://{}/nope.html", server.addr))
            .current_dir(saved.path()),
    );
    assert_eq!(missing.code(), Some(1));
    assert_eq!(
        missing.stderr,
        "error: the server answered HTTP/1.1 404 Not Found; nothing saved\n"
    );
}

#[test]
fn the_pair_works_over_ipv6_loopback() {
    let site = Site::new();
    let dir = site.dir();
    let mut server = Server::start("17_http_server", &["[::1]:0", &dir]);
    assert!(server.first_line.starts_with("Listening on [::1]:"));
    let saved = TempDir::new("saved6");
    let output = run_command(
        Command::new(bin("03_http_get"))
            .arg(format!("http://{}/hello.html", server.addr))
            .current_dir(saved.path()),
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        fs::read(saved.path().join("hello.html")).unwrap(),
        b"<h1>Hello</h1>\n"
    );
    let logged = server.expect_line("\"GET /hello.html HTTP/1.1\" 200 15");
    assert!(logged.starts_with("[::1]:"), "{logged}");
}

// Exercises of chapter 17. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 17_http_server -- --ignored`.

/// Decodes `%XX` escapes (byte by byte, as UTF-8); `None` for a bad escape.
fn decode_link(link: &str) -> Option<String> {
    let bytes = link.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// The links of a listing page: each `href="..."` value, with `../` left out.
fn links(page: &str) -> Vec<String> {
    page.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default().to_string())
        .filter(|link| link != "../")
        .collect()
}

/// GETs the listing of `path` and checks it links exactly `entries` (names, with a `/` after
/// a directory's), each link percent-encoded. Returns the page.
fn expect_listing(addr: SocketAddr, path: &str, entries: &[&str]) -> String {
    let reply = get(addr, path);
    assert!(
        reply.status_line == "HTTP/1.1 200 OK",
        "GET {path} with --list-dirs: expected \"HTTP/1.1 200 OK\", got {:?}",
        reply.status_line
    );
    let kind = reply.header("Content-Type").unwrap_or_default();
    assert!(
        kind == "text/html; charset=utf-8",
        "GET {path}: expected Content-Type \"text/html; charset=utf-8\", got {kind:?}"
    );
    let length = reply.header("Content-Length").unwrap_or_default();
    assert!(
        length == reply.body.len().to_string(),
        "GET {path}: Content-Length says {length:?}, but {} bytes came",
        reply.body.len()
    );
    let page = String::from_utf8_lossy(&reply.body).into_owned();
    let found = links(&page);
    for link in &found {
        let plain = link
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b));
        assert!(
            plain,
            "GET {path}: the link href=\"{link}\" must be percent-encoded (%XX for every byte \
             that is not a letter, a digit, or one of - . _ ~); page: {page}"
        );
    }
    let mut got: Vec<String> = found
        .iter()
        .map(|l| decode_link(l).unwrap_or_else(|| format!("(bad escape) {l}")))
        .collect();
    got.sort();
    let mut want: Vec<&str> = entries.to_vec();
    want.sort();
    assert!(
        got == want,
        "GET {path}: expected one link per entry, a directory's with a / after it, \
         {want:?}; the links, decoded, were {got:?}; page: {page}"
    );
    page
}

#[test]
#[ignore = "exercise: --list-dirs lists a directory that has no index.html"]
fn exercise_directory_listing() {
    let site = Site::new();
    let www = site.outer.path().join("www");
    // Names that need escaping in HTML and encoding in a link, one that is not ASCII, a
    // directory to list below the root, a link to a directory outside the served one, and a
    // hidden file (404 without --dotfiles, so it must not be listed either).
    site.outer.write("www/a&b <\"x>.txt", b"odd\n");
    site.outer.write("www/.env", b"SECRET=1\n");
    site.outer.write("www/笔记.md", b"notes\n");
    site.outer.write("www/sub/inner.txt", b"inner\n");
    fs::create_dir(www.join("links")).unwrap();
    symlink(site.outer.path(), www.join("links/out")).unwrap();
    let mut server = site.start(&["--list-dirs"]);
    let addr = server.socket_addr();

    let root_entries = [
        "a&b <\"x>.txt",
        "data.bin",
        "docs/",
        "empty/",
        "hello.html",
        "links/",
        "notes.md",
        "sub/",
        "笔记.md",
    ];
    let top = get(addr, "/");
    let top = String::from_utf8_lossy(&top.body);
    assert!(
        !top.contains(".env"),
        "without --dotfiles, the page must leave out hidden names such as .env (they are 404 \
         anyway); page: {top}"
    );
    let page = expect_listing(addr, "/", &root_entries);
    assert!(
        page.contains("a&amp;b &lt;&quot;x&gt;.txt") && page.contains("笔记.md"),
        "the names shown must be HTML-escaped (& < > \" as &amp; &lt; &gt; &quot;): expected \
         \"a&amp;b &lt;&quot;x&gt;.txt\" in the page: {page}"
    );
    assert!(
        !page.contains("<\"x>"),
        "a name in the page is not escaped: found <\"x> in {page}"
    );
    // The links work: they lead to the files.
    for (link, body) in [
        ("a%26b%20%3C%22x%3E.txt", "odd\n"),
        ("%E7%AC%94%E8%AE%B0.md", "notes\n"),
    ] {
        let reply = get(addr, &format!("/{link}"));
        common::expect_text(&format!("GET /{link}"), &reply.body, body);
    }
    expect_listing(addr, "/sub/", &["inner.txt"]);
    expect_listing(addr, "/empty/", &[]);
    // A directory with an index.html still gets the index.
    let docs = get(addr, "/docs/");
    common::expect_text(
        "GET /docs/ (it has an index.html)",
        &docs.body,
        "<p>docs</p>\n",
    );
    // A directory outside the served one is not listed, even through a link inside.
    let out = get(addr, "/links/out/");
    assert!(
        out.status() == 404,
        "GET /links/out/ (a link to a directory outside the served one) must be 404, got {:?}: \
         {}",
        out.status_line,
        String::from_utf8_lossy(&out.body)
    );
    // HEAD: the same headers, no body.
    let full = get(addr, "/sub/");
    let head = send_raw(addr, b"HEAD /sub/ HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        head.head == full.head && head.body.is_empty(),
        "HEAD /sub/ must get the same head as GET and no body; GET head {:?}, HEAD head {:?}, \
         HEAD body {}",
        full.head,
        head.head,
        common::text(&head.body)
    );
    // The log line gives the status and the bytes sent.
    let length = full.body.len();
    get(addr, "/?last");
    server.expect_line("\"GET /?last HTTP/1.1\"");
    let want = format!("\"GET /sub/ HTTP/1.1\" 200 {length}");
    assert!(
        server.seen.iter().any(|l| l.contains(&want)),
        "the access log must show {want:?}; it shows {:#?}",
        server.seen
    );

    // With --dotfiles, hidden names are served, so they are listed too.
    let dotfiles = site.start(&["--list-dirs", "--dotfiles"]);
    let with_dot: Vec<&str> = root_entries.iter().copied().chain([".env"]).collect();
    let reply = get(dotfiles.socket_addr(), "/");
    let page = String::from_utf8_lossy(&reply.body);
    assert!(
        page.contains(".env"),
        "with --list-dirs --dotfiles, hidden names are served, so the page must list them \
         too: .env is missing from {page}"
    );
    expect_listing(dotfiles.socket_addr(), "/", &with_dot);
    drop(dotfiles);

    // Without the option, directories are not listed.
    let plain = site.start(&[]);
    let reply = get(plain.socket_addr(), "/");
    assert!(
        reply.status() == 404,
        "without --list-dirs, GET / must stay 404, got {:?}",
        reply.status_line
    );
}

/// What a Range request must get.
enum Want<'a> {
    /// 206 with this Content-Range and these bytes.
    Part(&'a str, &'a [u8]),
    /// 416 with `Content-Range: bytes */TOTAL`.
    Unsatisfiable,
    /// The Range header is ignored: 200 and the whole file.
    Whole,
    /// Not a valid range: ignored (200, the whole file) or refused (416); RFC 9110 allows both.
    Invalid,
}

/// Sends `GET path` with the header line `range`, and checks the answer against `want`.
/// `tag` goes into the query (which does not change the file) to tell the log lines apart.
fn expect_range(addr: SocketAddr, path: &str, file: &[u8], range: &str, want: Want, tag: usize) {
    let what = format!("GET {path} with {range:?}");
    let mut stream = connect(addr);
    let request = format!("GET {path}?case={tag} HTTP/1.1\r\nHost: x\r\n{range}\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let raw = read_to_end(&mut stream);
    assert!(
        raw.windows(4).any(|w| w == b"\r\n\r\n"),
        "{what}: no complete answer; the server closed the connection after sending {} \
         bytes: {}",
        raw.len(),
        common::text(&raw)
    );
    let reply = parse_reply(&raw);
    // 416 for a range past the end; for an invalid one, 416 if the server chose to refuse it.
    let refuse = match want {
        Want::Unsatisfiable => true,
        Want::Invalid => reply.status() == 416,
        Want::Part(..) | Want::Whole => false,
    };
    let (status_line, content_range, body) = match want {
        Want::Part(content_range, body) => (
            "HTTP/1.1 206 Partial Content",
            Some(content_range.to_string()),
            body,
        ),
        _ if refuse => (
            "HTTP/1.1 416 Range Not Satisfiable",
            Some(format!("bytes */{}", file.len())),
            &b"416 Range Not Satisfiable\n"[..],
        ),
        _ => ("HTTP/1.1 200 OK", None, file),
    };
    assert!(
        reply.status_line == status_line,
        "{what}: expected {status_line:?}, got {:?}",
        reply.status_line
    );
    let show = |r: Option<String>| {
        r.map_or("no Content-Range".into(), |r| {
            format!("Content-Range {r:?}")
        })
    };
    let got_range = reply.header("Content-Range");
    assert!(
        got_range == content_range,
        "{what}: expected {}, got {}",
        show(content_range),
        show(got_range)
    );
    let length = reply.header("Content-Length").unwrap_or_default();
    assert!(
        length == body.len().to_string(),
        "{what}: expected Content-Length {}, got {length:?} (and {} body bytes came)",
        body.len(),
        reply.body.len()
    );
    assert!(
        reply.body == body,
        "{what}: expected the body {}, got {}",
        common::text(body),
        common::text(&reply.body)
    );
}

#[test]
#[ignore = "exercise: Range requests answered with 206"]
fn exercise_range_requests() {
    let site = Site::new();
    let mut server = site.start(&[]);
    let addr = server.socket_addr();
    let hello: &[u8] = b"<h1>Hello</h1>\n"; // 15 bytes
    let cases = [
        ("Range: bytes=4-8", Want::Part("bytes 4-8/15", b"Hello")),
        ("Range: bytes=0-0", Want::Part("bytes 0-0/15", b"<")),
        ("Range: bytes=14-14", Want::Part("bytes 14-14/15", b"\n")),
        // The last byte asked for is past the end: send up to the end.
        (
            "Range: bytes=8-63",
            Want::Part("bytes 8-14/15", b"o</h1>\n"),
        ),
        (
            "Range: bytes=5-",
            Want::Part("bytes 5-14/15", b"ello</h1>\n"),
        ),
        ("Range: bytes=-5", Want::Part("bytes 10-14/15", b"/h1>\n")),
        ("Range: bytes=-100", Want::Part("bytes 0-14/15", hello)),
        ("range: bytes=0-3", Want::Part("bytes 0-3/15", b"<h1>")),
        ("Range: bytes=15-", Want::Unsatisfiable),
        ("Range: bytes=20-30", Want::Unsatisfiable),
        ("Range: bytes=-0", Want::Unsatisfiable),
        ("Range: bytes=0-1,4-5", Want::Whole),
        ("Range: items=0-3", Want::Whole),
        ("Range: bytes=5-3", Want::Invalid),
        ("Range: bytes=abc", Want::Invalid),
        ("Range: bytes=", Want::Invalid),
    ];
    let count = cases.len();
    for (tag, (range, want)) in cases.into_iter().enumerate() {
        expect_range(addr, "/hello.html", hello, range, want, tag);
    }
    // Binary data, byte for byte.
    let part = Want::Part("bytes 2-3/4", &[2, 255]);
    expect_range(
        addr,
        "/data.bin",
        &[0, 1, 2, 255],
        "Range: bytes=2-3",
        part,
        count,
    );
    // The access log shows what was sent.
    server.expect_line(&format!("?case={count} HTTP/1.1\""));
    for want in [
        "\"GET /hello.html?case=0 HTTP/1.1\" 206 5",
        "\"GET /hello.html?case=8 HTTP/1.1\" 416 26",
    ] {
        assert!(
            server.seen.iter().any(|l| l.contains(want)),
            "the access log must show {want:?}; it shows {:#?}",
            server.seen
        );
    }
    // Without a Range header, the whole file as before.
    let reply = get(addr, "/hello.html");
    assert!(
        reply.status_line == "HTTP/1.1 200 OK" && reply.body == hello,
        "without a Range header: expected 200 and the whole file, got {:?} and {}",
        reply.status_line,
        common::text(&reply.body)
    );
}

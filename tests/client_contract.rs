//! The client contract of CONVENTIONS.md, checked once for every client that connects: one row
//! per client (at the end of this file), one test per client and check, so that they all run
//! in parallel. Run with `cargo test --test client_contract`; one client's checks with
//! `cargo test --test client_contract tcp_client_01`.
//!
//! Every client: `--help` states `--connect-timeout` and its default, and a time of 0 is a
//! usage error; nobody listening gives one line that names the address, and exit 1; a server
//! whose queue of new connections is full makes it give up at `--connect-timeout`, with one
//! line that names the limit (not after the system's two minutes); control characters from the
//! peer (ESC, BEL, CR, LF) reach the terminal escaped, never raw. Clients that fetch a whole
//! transfer (03, 04) also end at `--deadline` however slowly the bytes drip, and keep the file
//! they save byte for byte, control characters and all: a file is not the terminal.
//!
//! Adding a client is one row; a new kind of conversation is one arm in `converse`.

mod common;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::tls::{CertFiles, localhost};
use common::unix::TempDir;
use common::{Output, TIMEOUT, bin, run_command};
use native_tls::TlsAcceptor;
use socket2::{Domain, SockAddr, Socket, Type};

/// How a client reaches its server: what its address argument is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tcp,
    Unix,
}

/// What a normal conversation with the client's server is.
#[derive(Clone, Copy, PartialEq)]
enum Talk {
    /// `Welcome!`, then `Hello, Ada!` for the name `Ada` (chapters 01 and 10).
    Hello,
    /// The same inside TLS (chapter 18).
    HelloTls,
    /// `GET /page.html`, the body saved to `page.html` (chapter 03).
    Http,
    /// The same inside TLS (chapter 04).
    Https,
    /// `Welcome! Your name?`, the name `Ada`, chat lines, `/quit` at the end of input (22).
    Chat,
}

impl Talk {
    fn tls(self) -> bool {
        matches!(self, Talk::HelloTls | Talk::Https)
    }
    fn http(self) -> bool {
        matches!(self, Talk::Http | Talk::Https)
    }
}

#[derive(Clone, Copy)]
struct Row {
    name: &'static str,
    kind: Kind,
    talk: Talk,
    /// Whether the whole transfer has a deadline (`--deadline`, default 30 s).
    deadline: bool,
}

const TCP_CLIENT_01: Row = Row {
    name: "01_tcp_client",
    kind: Kind::Tcp,
    talk: Talk::Hello,
    deadline: false,
};
const HTTP_GET_03: Row = Row {
    name: "03_http_get",
    talk: Talk::Http,
    deadline: true,
    ..TCP_CLIENT_01
};
const HTTPS_GET_04: Row = Row {
    name: "04_https_get",
    talk: Talk::Https,
    ..HTTP_GET_03
};
const UNIX_CLIENT_10: Row = Row {
    name: "10_unix_client",
    kind: Kind::Unix,
    ..TCP_CLIENT_01
};
const TLS_CLIENT_18: Row = Row {
    name: "18_tls_client",
    talk: Talk::HelloTls,
    ..TCP_CLIENT_01
};
const CHAT_CLIENT_22: Row = Row {
    name: "22_chat_client",
    talk: Talk::Chat,
    ..TCP_CLIENT_01
};

/// What one run of a client needs: a directory (for a socket file, and the file a fetch
/// saves, as the client's working directory) and, for TLS, a certificate to trust.
struct Fixture {
    row: Row,
    dir: TempDir,
    cert: Option<CertFiles>,
}

impl Fixture {
    fn new(row: Row) -> Fixture {
        let dir = TempDir::new(&format!("client-{}", &row.name[..2]));
        let cert = row.talk.tls().then(localhost);
        Fixture { row, dir, cert }
    }

    /// The client's command line for a server at `target` (`IP:PORT` or a socket path).
    fn command(&self, target: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(bin(self.row.name));
        command.current_dir(self.dir.path());
        match self.row.talk {
            Talk::Hello | Talk::HelloTls | Talk::Chat => command.args([target, "Ada"]),
            Talk::Http => command.args([&format!("http://{target}/page.html"), "page.html"]),
            Talk::Https => command.args([&format!("https://{target}/page.html"), "page.html"]),
        };
        if let Some(cert) = &self.cert {
            command.args(["--ca", cert.cert_arg()]);
        }
        command.args(extra);
        command
    }

    /// Runs the client against `target` and says how long it took.
    fn run(&self, target: &str, extra: &[&str]) -> (Output, Duration) {
        let started = Instant::now();
        let output = run_command(&mut self.command(target, extra));
        (output, started.elapsed())
    }

    /// A listener the client can reach, and its address as the client takes it.
    fn listen(&self) -> (Listener, String) {
        match self.row.kind {
            Kind::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap().to_string();
                (Listener::Tcp(listener), addr)
            }
            Kind::Unix => {
                let path = self.dir.join("server.sock");
                (Listener::Unix(UnixListener::bind(&path).unwrap()), path)
            }
        }
    }

    /// The files the client left in its directory (a socket file is not one of them).
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".sock"))
            .collect();
        names.sort();
        names
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A connected stream of any kind, plain or TLS.
trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// Accepts one client (with timeouts on the connection) and, for TLS, runs the handshake.
fn accept(listener: &Listener, tls: Option<&TlsAcceptor>) -> Box<dyn Duplex> {
    match listener {
        Listener::Tcp(listener) => {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            match tls {
                Some(tls) => Box::new(tls.accept(stream).unwrap()),
                None => Box::new(stream),
            }
        }
        Listener::Unix(listener) => {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            Box::new(stream)
        }
    }
}

/// What a server sends when it tries to take over the terminal: set the window title, clear
/// the screen, go back to the start of the line to overwrite it, start a line of its own.
const HOSTILE: &[u8] = b"\x1b]0;PWNED\x07\x1b[2J\rforged\nline";
/// The same, as `printable` shows it.
const HOSTILE_SHOWN: &str = "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\rforged\\nline";

/// Reads until the request head's blank line.
fn read_head(stream: &mut dyn Duplex) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("the client stopped before its request's blank line: {other:?}"),
        }
    }
}

/// Reads one line the client sent, without its `\n`.
fn read_line(stream: &mut dyn Duplex) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => return line,
            Ok(1) => line.push(byte[0]),
            other => panic!("the client stopped in the middle of a line: {other:?}"),
        }
    }
}

/// Has one conversation in which everything the server says carries `HOSTILE`.
fn converse(talk: Talk, stream: &mut dyn Duplex) {
    if talk == Talk::Chat {
        stream.write_all(b"Welcome! Your name?\n").unwrap();
        assert_eq!(read_line(stream), b"Ada", "the client's name line");
        // A chat line is a line: its LF ends it, and the rest is a line of its own.
        let mut said = b"Eve: ".to_vec();
        said.extend_from_slice(HOSTILE);
        said.push(b'\n');
        stream.write_all(&said).unwrap();
        // Stdin is at its end: the client says /quit, and the server closes.
        assert_eq!(
            read_line(stream),
            b"/quit",
            "the client's line at the end of input"
        );
        return;
    }
    if talk.http() {
        read_head(stream);
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Evil: ",
            HOSTILE.len()
        )
        .into_bytes();
        response.extend_from_slice(HOSTILE);
        response.extend_from_slice(b"\r\n\r\n");
        response.extend_from_slice(HOSTILE); // the body
        stream.write_all(&response).unwrap();
        stream.flush().unwrap();
        return;
    }
    let mut welcome = HOSTILE.to_vec();
    welcome.extend_from_slice(b"Welcome!");
    stream.write_all(&welcome).unwrap();
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).unwrap();
    assert_eq!(&buffer[..n], b"Ada", "the client's first message");
    let mut reply = b"Hello, Ada!".to_vec();
    reply.extend_from_slice(HOSTILE);
    stream.write_all(&reply).unwrap();
    // Then `exit`, or the end of the stream; either way the conversation is over.
    let _ = stream.read(&mut buffer);
}

/// Fails unless `text` has no control character but line ends.
#[track_caller]
fn no_raw_control(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("{what} holds the raw control character {c:?}: {text:?}");
    }
}

fn one_line(output: &Output) -> &str {
    assert_eq!(
        output.stderr.lines().count(),
        1,
        "expected one line on stderr; got {:?}",
        output.stderr
    );
    output.stderr.trim_end()
}

fn help(row: Row) {
    let output = common::run(row.name, &["--help"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    let flags: &[&str] = if row.deadline {
        &["--connect-timeout SECONDS", "--deadline SECONDS"]
    } else {
        &["--connect-timeout SECONDS"]
    };
    for (flag, default) in flags.iter().zip(["(default 5)", "(default 30)"]) {
        let at = output
            .stdout
            .find(&format!("  {flag}"))
            .unwrap_or_else(|| panic!("--help does not explain {flag}: {}", output.stdout));
        let rest = &output.stdout[at..];
        let next = rest[2..].find("\n  --").map_or(rest.len(), |i| i + 2);
        assert!(
            rest[..next].contains(default),
            "--help must state {flag}'s default, {default}: {}",
            output.stdout
        );
        // A time of 0 is a usage error, not "no limit" or "fail at once".
        let option = flag.split(' ').next().unwrap();
        let fixture = Fixture::new(row);
        let output = run_command(&mut fixture.command("127.0.0.1:1", &[option, "0"]));
        assert_eq!(output.code(), Some(2), "{option} 0: {output:?}");
        assert!(
            output.stderr.starts_with(&format!(
                "error: {option} 0: give a number of seconds above 0"
            )),
            "{}",
            output.stderr
        );
    }
}

fn refused(row: Row) {
    let fixture = Fixture::new(row);
    // An address where nobody listens: a port bound, then freed; a socket file whose server
    // has gone (the file stays).
    let target = match row.kind {
        Kind::Tcp => TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string(),
        Kind::Unix => {
            let path = fixture.dir.join("stale.sock");
            drop(UnixListener::bind(&path).unwrap());
            path
        }
    };
    let (output, _) = fixture.run(&target, &[]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    let line = one_line(&output);
    assert!(
        line.starts_with(&format!("error: could not connect to {target}: "))
            && line.contains("Connection refused"),
        "{line}"
    );
}

/// Something listening whose queue of new connections is full: it never accepts, so a new
/// connection is neither taken nor refused. A TCP client stays in SYN-SENT (its SYN is
/// dropped), a Unix one waits in `connect`. Returns what must live while the client runs.
fn full_queue(fixture: &Fixture) -> (Vec<Socket>, String) {
    let (listener, address) = match fixture.row.kind {
        Kind::Tcp => {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
            socket.bind(&addr.into()).unwrap();
            (socket, None)
        }
        Kind::Unix => {
            let path = fixture.dir.join("full.sock");
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
            socket.bind(&SockAddr::unix(&path).unwrap()).unwrap();
            (socket, Some(path))
        }
    };
    listener.listen(0).unwrap();
    let mut held = vec![];
    // Fill the queue: connect until a connection is no longer taken at once. Linux takes one
    // more than the backlog of 0; the loop does not depend on that.
    for _ in 0..8 {
        match &address {
            None => {
                let addr = listener.local_addr().unwrap().as_socket().unwrap();
                match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    Ok(stream) => held.push(Socket::from(stream)),
                    Err(e) if e.kind() == ErrorKind::TimedOut => break,
                    Err(e) => panic!("filling the queue: {e}"),
                }
            }
            Some(path) => {
                let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
                socket.set_nonblocking(true).unwrap();
                match socket.connect(&SockAddr::unix(path).unwrap()) {
                    Ok(()) => held.push(socket),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("filling the queue: {e}"),
                }
            }
        }
        assert!(held.len() < 8, "the listener's queue never filled up");
    }
    let target = match address {
        None => listener
            .local_addr()
            .unwrap()
            .as_socket()
            .unwrap()
            .to_string(),
        Some(path) => path,
    };
    held.push(listener);
    (held, target)
}

fn connect_timeout(row: Row) {
    let fixture = Fixture::new(row);
    let (_held, target) = full_queue(&fixture);
    let (output, took) = fixture.run(&target, &["--connect-timeout", "0.5"]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    let line = one_line(&output);
    let want = format!("error: could not connect to {target} within 0.5 s (--connect-timeout); ");
    assert!(
        line.starts_with(&want),
        "expected {want:?}...; got {line:?}"
    );
    assert!(took >= Duration::from_millis(450), "gave up after {took:?}");
    assert!(
        took < TIMEOUT / 2,
        "took {took:?} to give up at a connect timeout of 0.5 s"
    );
}

fn deadline(row: Row) {
    if !row.deadline {
        return eprintln!("not applicable: {} has no --deadline", row.name);
    }
    let fixture = Fixture::new(row);
    let (listener, target) = fixture.listen();
    let tls = fixture.cert.as_ref().map(CertFiles::acceptor);
    // The server answers at once, then drips the body one byte every 200 ms: a read timeout
    // that starts again with every read would never expire. It stops when the client hangs up.
    let dripper: JoinHandle<usize> = thread::spawn(move || {
        let mut stream = accept(&listener, tls.as_ref());
        read_head(stream.as_mut());
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            .unwrap();
        let mut dripped = 0;
        for _ in 0..50 {
            if stream
                .write_all(b"x")
                .and_then(|()| stream.flush())
                .is_err()
            {
                break;
            }
            dripped += 1;
            thread::sleep(Duration::from_millis(200));
        }
        dripped
    });
    let (output, took) = fixture.run(&target, &["--deadline", "0.5"]);
    assert_eq!(output.code(), Some(1), "{output:?}");
    let line = one_line(&output);
    assert!(
        line.contains("the whole transfer took longer than 0.5 s (--deadline)"),
        "{line}"
    );
    assert!(took < TIMEOUT / 2, "took {took:?} with a deadline of 0.5 s");
    assert!(
        fixture.files().is_empty(),
        "nothing is saved: {:?}",
        fixture.files()
    );
    let dripped = dripper.join().unwrap();
    assert!(
        (2..50).contains(&dripped),
        "the server dripped {dripped} bytes before the client hung up"
    );
}

fn escaped_output(row: Row) {
    let fixture = Fixture::new(row);
    let (listener, target) = fixture.listen();
    let tls = fixture.cert.as_ref().map(CertFiles::acceptor);
    let talk = row.talk;
    let server = thread::spawn(move || {
        converse(talk, accept(&listener, tls.as_ref()).as_mut());
    });
    let (output, _) = fixture.run(&target, &[]);
    server.join().unwrap();
    assert_eq!(output.code(), Some(0), "{output:?}");
    no_raw_control("stdout", &output.stdout);
    no_raw_control("stderr", &output.stderr);
    let want = if talk == Talk::Chat {
        let shown = HOSTILE_SHOWN.replace("\\n", "\n");
        format!("Welcome! Your name?\nEve: {shown}\nThe server closed the connection.\n")
    } else if talk.http() {
        format!(
            "HTTP/1.1 200 OK\nContent-Length: {}\nX-Evil: {HOSTILE_SHOWN}\n\nSaved {} bytes to \
             page.html\n",
            HOSTILE.len(),
            HOSTILE.len()
        )
    } else {
        format!("{HOSTILE_SHOWN}Welcome!\nHello, Ada!{HOSTILE_SHOWN}\n")
    };
    assert_eq!(output.stdout, want);
    if talk.http() {
        // The saved file is not the terminal: it holds the body byte for byte.
        let saved = fs::read(fixture.dir.path().join("page.html")).unwrap();
        assert!(
            saved == HOSTILE,
            "page.html must hold the body as sent, control characters and all; it holds {}",
            common::text(&saved)
        );
    }
}

macro_rules! contract {
    ($($module:ident => $row:expr),* $(,)?) => {
        $(
            mod $module {
                #[test]
                fn help() { super::help($row) }
                #[test]
                fn refused() { super::refused($row) }
                #[test]
                fn connect_timeout() { super::connect_timeout($row) }
                #[test]
                fn deadline() { super::deadline($row) }
                #[test]
                fn escaped_output() { super::escaped_output($row) }
            }
        )*
    };
}

contract! {
    tcp_client_01 => super::TCP_CLIENT_01,
    http_get_03 => super::HTTP_GET_03,
    https_get_04 => super::HTTPS_GET_04,
    unix_client_10 => super::UNIX_CLIENT_10,
    tls_client_18 => super::TLS_CLIENT_18,
    chat_client_22 => super::CHAT_CLIENT_22,
}

//! The server contract of CONVENTIONS.md, checked once for every server binary: one row per
//! server (at the end of this file), one test per server and check, so that they all run in
//! parallel. Run with `cargo test --test contract`; one server's checks with
//! `cargo test --test contract tcp_server_02`.
//!
//! Every server: its first line names the address; `--help` prints the usage and exits 0; a
//! bad argument prints the usage on stderr and exits 2; an address in use gives one line and
//! exit 1; Ctrl-C exits 0 within a second (and removes the socket file).
//!
//! Servers that hold connections (TCP, Unix, TLS) also survive: a closed stdout (logging
//! never panics); running out of file descriptors (a pause, a few `accept failed` lines,
//! never a hot loop; Ctrl-C still works; normal service once descriptors are free again);
//! idle clients (disconnected after the idle timeout). Servers with a thread per client also
//! bound their clients (`--max-clients`) and survive a failed thread spawn.
//!
//! Adding a server is one row; a new kind of conversation is one arm in `converse`.

mod common;

use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tls::{CertFiles, localhost};
use common::unix::TempDir;
use common::{Server, bin, run_command};

/// How a server is reached: what its ADDR argument is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Tcp,
    Unix,
    Udp,
    /// TCP on `[::]` for IPv6 and IPv4 clients (chapter 24): the checks connect over IPv4.
    DualStack,
    /// A multicast group's address and port (chapter 26): 239.1.2.3:PORT.
    Multicast,
}

/// What a normal conversation with the server is.
#[derive(Clone, Copy, PartialEq)]
enum Talk {
    /// `Welcome!`, `Hello, Ada!`, `exit` (chapters 02 and 09).
    Hello,
    /// The same inside TLS (chapter 18).
    HelloTls,
    /// `GET /hello.txt` (chapter 17).
    Http,
    /// A datagram server: no connection to hold, so only the first five checks apply.
    Datagram,
    /// The chat room of chapter 21: `Welcome! Your name?\n`, a name, `/quit`.
    Chat,
    /// The hello conversation through a proxy (chapter 28), to a 02_tcp_server started for it.
    Proxied,
}

/// What a server is asked to bear beyond the basics.
#[derive(Clone, Copy)]
struct Row {
    name: &'static str,
    kind: Kind,
    talk: Talk,
    /// The first line, up to the address.
    first: &'static str,
    /// The option that sets how long an idle client is kept, if any.
    idle_option: Option<&'static str>,
    /// With `--max-clients`: what a client beyond `--max-clients 2` reads before the server
    /// hangs up.
    busy: Option<&'static [u8]>,
    /// Does every client get a thread of its own (so that a failed spawn must be survived)?
    thread_per_client: bool,
}

const TCP_SERVER_02: Row = Row {
    name: "02_tcp_server",
    kind: Kind::Tcp,
    talk: Talk::Hello,
    first: "Listening on ",
    idle_option: Some("--idle-timeout"),
    busy: Some(b"Busy, try later."),
    thread_per_client: true,
};
const UDP_SERVER_05: Row = Row {
    name: "05_udp_server",
    kind: Kind::Udp,
    talk: Talk::Datagram,
    first: "Bound UDP on ",
    idle_option: None,
    busy: None,
    thread_per_client: false,
};
const BROADCAST_RECV_08: Row = Row {
    name: "08_broadcast_recv",
    ..UDP_SERVER_05
};
const MULTICAST_RECV_26: Row = Row {
    name: "26_multicast_recv",
    kind: Kind::Multicast,
    ..UDP_SERVER_05
};
const UNIX_SERVER_09: Row = Row {
    name: "09_unix_server",
    kind: Kind::Unix,
    ..TCP_SERVER_02
};
const HTTP_SERVER_17: Row = Row {
    name: "17_http_server",
    talk: Talk::Http,
    // A pool of workers, not a thread per client: an idle client gets 408 after --timeout.
    idle_option: Some("--timeout"),
    busy: None,
    thread_per_client: false,
    ..TCP_SERVER_02
};
const POLL_SERVER_19: Row = Row {
    name: "19_poll_server",
    // One thread for all clients: no spawn to fail.
    thread_per_client: false,
    ..TCP_SERVER_02
};
const ASYNC_SERVER_20: Row = Row {
    name: "20_async_server",
    // Tasks on the runtime's threads: no spawn to fail.
    thread_per_client: false,
    ..TCP_SERVER_02
};
const CHAT_SERVER_21: Row = Row {
    name: "21_chat_server",
    talk: Talk::Chat,
    busy: Some(b"Busy, try later.\n"),
    thread_per_client: false,
    ..TCP_SERVER_02
};
const DUAL_STACK_24: Row = Row {
    name: "24_dual_stack",
    kind: Kind::DualStack,
    ..TCP_SERVER_02
};
const PROXY_28: Row = Row {
    name: "28_proxy",
    talk: Talk::Proxied,
    // A proxy does not know its clients' protocol: one too many is closed without a word.
    busy: Some(b""),
    ..TCP_SERVER_02
};
const TLS_SERVER_18: Row = Row {
    name: "18_tls_server",
    talk: Talk::HelloTls,
    // Closed before the handshake: a TLS client could not read a plain-text answer.
    busy: Some(b""),
    ..TCP_SERVER_02
};

const CHAOS_PROXY_29: Row = Row {
    name: "29_chaos_proxy",
    // A proxy adds no bytes of its own: one client too many is just disconnected. The hello
    // conversation runs through it to a 02_tcp_server (`Fixture::target`).
    busy: Some(b""),
    ..TCP_SERVER_02
};

/// What one run of a server needs: a directory (for 09's socket file and 17's files) and,
/// for 18, a certificate; for a proxy, the server behind it.
struct Fixture {
    row: Row,
    dir: TempDir,
    cert: Option<CertFiles>,
    /// The server behind a proxy.
    target: Option<Server>,
}

impl Fixture {
    fn new(row: Row) -> Fixture {
        let dir = TempDir::new(&format!("contract-{}", &row.name[..2]));
        std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
        let cert = (row.talk == Talk::HelloTls).then(localhost);
        let target = row
            .name
            .ends_with("_proxy")
            .then(|| Server::start("02_tcp_server", &["127.0.0.1:0"]));
        Fixture {
            row,
            dir,
            cert,
            target,
        }
    }

    /// The ADDR argument that lets the system pick: port 0, or a fresh socket path.
    fn free_addr(&self) -> String {
        match self.row.kind {
            Kind::Unix => self.dir.join("s.sock"),
            Kind::Tcp | Kind::Udp => "127.0.0.1:0".to_string(),
            Kind::DualStack => "[::]:0".to_string(),
            Kind::Multicast => "239.1.2.3:0".to_string(),
        }
    }

    /// The server's whole command line for ADDR, with `extra` options.
    fn args(&self, addr: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![addr.to_string()];
        if self.row.talk == Talk::Http {
            args.push(self.dir.path().to_string_lossy().into_owned());
        }
        if let Some(target) = &self.target {
            args.push(target.addr.clone());
        }
        if self.target.is_some() {
            // Out of descriptors, a proxy retries its connect to the target until this runs
            // out, holding the client's socket meanwhile: keep it short, not the default 5 s.
            args.extend(["--connect-timeout", "0.5"].map(String::from));
        }
        if let Some(cert) = &self.cert {
            args.extend(["--cert", cert.cert_arg(), "--key", cert.key_arg()].map(String::from));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(bin(self.row.name));
        command.args(self.args(&self.free_addr(), extra));
        command
    }

    /// Arguments for bash that run the server after `ulimit` lowered one of its limits.
    fn limited(&self, ulimit: &str, extra: &[&str]) -> Vec<OsString> {
        let script = format!("ulimit {ulimit} || exit 99; exec \"$0\" \"$@\"");
        let mut words: Vec<OsString> = vec!["-c".into(), script.into(), bin(self.row.name).into()];
        words.extend(
            self.args(&self.free_addr(), extra)
                .into_iter()
                .map(OsString::from),
        );
        words
    }

    fn start(&self, extra: &[&str]) -> Server {
        Server::start_command(&mut self.command(extra))
    }
}

/// A connection of either family, with read and write timeouts.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn open(row: Row, server: &Server) -> Conn {
        match row.kind {
            Kind::Tcp => Conn::Tcp(common::connect(server.socket_addr())),
            Kind::Unix => Conn::Unix(common::unix::connect_unix(&server.addr)),
            Kind::DualStack => {
                let port = server.socket_addr().port();
                Conn::Tcp(common::connect(SocketAddr::from(([127, 0, 0, 1], port))))
            }
            Kind::Udp | Kind::Multicast => unreachable!("no connections to a datagram server"),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buffer),
            Conn::Unix(s) => s.read(buffer),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(bytes),
            Conn::Unix(s) => s.write(bytes),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One read, however many bytes it brings: `Ok(bytes)`, empty at end of stream. A signal
/// (EINTR) is not an answer, so it reads again; a reset counts as the end.
fn read_some(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; 65536];
    loop {
        match stream.read(&mut buffer) {
            Ok(n) => return Ok(buffer[..n].to_vec()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    }
}

/// Reads until the end of stream (a reset counts as the end).
fn read_to_end(stream: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let bytes = read_some(stream).unwrap_or_else(|e| panic!("read failed: {e}"));
        if bytes.is_empty() {
            return all;
        }
        all.extend(bytes);
    }
}

/// A client that the server has greeted and that now holds its place: the TLS stream for 18,
/// the connection itself otherwise.
enum Held {
    Plain(Conn),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    Http(Conn),
    Chat(Conn),
}

/// Opens a connection and gets as far as the server's first word: `Welcome!` (through TLS
/// for 18); for 17, which waits for a request, the open connection. `Err` when the server
/// closed the connection instead.
fn greet(fixture: &Fixture, server: &Server) -> Result<Held, Vec<u8>> {
    match fixture.row.talk {
        Talk::Hello | Talk::Proxied => {
            let mut conn = Conn::open(fixture.row, server);
            match read_some(&mut conn).unwrap_or_else(|e| panic!("no welcome: {e}")) {
                welcome if welcome == b"Welcome!" => Ok(Held::Plain(conn)),
                other => Err(other),
            }
        }
        Talk::HelloTls => {
            let cert = fixture.cert.as_ref().unwrap();
            let tcp = common::connect(server.socket_addr());
            let mut tls = match cert.connector().connect("localhost", tcp) {
                Ok(tls) => tls,
                Err(_) => return Err(Vec::new()),
            };
            match read_some(&mut tls) {
                Ok(welcome) if welcome == b"Welcome!" => Ok(Held::Tls(Box::new(tls))),
                Ok(other) => Err(other),
                Err(_) => Err(Vec::new()),
            }
        }
        Talk::Http => Ok(Held::Http(Conn::open(fixture.row, server))),
        Talk::Chat => {
            let mut conn = Conn::open(fixture.row, server);
            match read_some(&mut conn).unwrap_or_else(|e| panic!("no welcome: {e}")) {
                welcome if welcome == b"Welcome! Your name?\n" => Ok(Held::Chat(conn)),
                other => Err(other),
            }
        }
        Talk::Datagram => unreachable!(),
    }
}

/// One whole normal conversation, asserting every byte of it.
fn converse(fixture: &Fixture, server: &Server) {
    let held = greet(fixture, server)
        .unwrap_or_else(|got| panic!("closed instead of greeting: {}", common::text(&got)));
    match held {
        Held::Plain(mut conn) => hello(&mut conn),
        Held::Chat(mut conn) => {
            conn.write_all(b"Ada\n").unwrap();
            let you = read_some(&mut conn).unwrap();
            common::expect_text("joined", &you, "* You are Ada; others here: 0\n");
            conn.write_all(b"/quit\n").unwrap();
            common::expect_text("after /quit", &read_to_end(&mut conn), "");
        }
        Held::Tls(mut tls) => hello(&mut *tls),
        Held::Http(mut conn) => {
            conn.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let reply = read_to_end(&mut conn);
            let text = String::from_utf8_lossy(&reply);
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
            assert!(text.ends_with("\r\n\r\nhello\n"), "{text:?}");
        }
    }
}

/// The hello conversation after `Welcome!`.
fn hello(stream: &mut (impl Read + Write)) {
    stream.write_all(b"Ada").unwrap();
    let reply = read_some(stream).unwrap_or_else(|e| panic!("no reply: {e}"));
    common::expect_text("reply", &reply, "Hello, Ada!");
    stream.write_all(b"exit").unwrap();
    common::expect_text("after exit", &read_to_end(stream), "");
}

/// Sends Ctrl-C and checks the exit: status 0 within a second, a last line that says so,
/// the socket file gone. Returns every line printed after the first.
fn stop(fixture: &Fixture, server: &mut Server) -> Vec<String> {
    let started = Instant::now();
    server.interrupt();
    let (status, lines) = server.wait_exit();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}; {lines:#?}");
    assert!(took < Duration::from_secs(1), "Ctrl-C took {took:?}");
    if fixture.row.kind == Kind::Unix {
        assert!(!Path::new(&server.addr).exists(), "socket file left behind");
    }
    lines
}

fn first_line(row: Row) {
    let fixture = Fixture::new(row);
    let server = fixture.start(&[]);
    let addr = match row.kind {
        Kind::Unix => fixture.free_addr(),
        Kind::Tcp | Kind::Udp | Kind::DualStack | Kind::Multicast => {
            assert_ne!(
                server.socket_addr().port(),
                0,
                "port 0 must become the real port"
            );
            server.addr.clone()
        }
    };
    assert_eq!(server.first_line, format!("{}{addr}", row.first));
}

fn help(row: Row) {
    let output = common::run(row.name, &["--help"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert!(
        output.stdout.starts_with(&format!("usage: {} ", row.name)),
        "{}",
        output.stdout
    );
    assert_eq!(output.stderr, "");
}

fn bad_argument(row: Row) {
    let fixture = Fixture::new(row);
    let output = run_command(&mut fixture.command(&["--no-such-option"]));
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert_eq!(output.stdout, "");
    let first = output.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{}", output.stderr);
    assert!(
        output.stderr.contains(&format!("usage: {} ", row.name)),
        "{}",
        output.stderr
    );
}

fn address_in_use(row: Row) {
    let fixture = Fixture::new(row);
    // Something else holds the address: a TCP or Unix listener, or a UDP socket bound
    // without SO_REUSEADDR.
    let (_tcp, _udp, _unix);
    let addr = match row.kind {
        Kind::Tcp => {
            _tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            _tcp.local_addr().unwrap().to_string()
        }
        Kind::Udp => {
            _udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            _udp.local_addr().unwrap().to_string()
        }
        Kind::Multicast => {
            _udp = UdpSocket::bind("239.1.2.3:0").unwrap();
            _udp.local_addr().unwrap().to_string()
        }
        Kind::Unix => {
            _unix = UnixListener::bind(fixture.free_addr()).unwrap();
            fixture.free_addr()
        }
        // `[::]:PORT` with IPV6_V6ONLY off covers 127.0.0.1:PORT too.
        Kind::DualStack => {
            _tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("[::]:{}", _tcp.local_addr().unwrap().port())
        }
    };
    let output = run_command(Command::new(bin(row.name)).args(fixture.args(&addr, &[])));
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stdout, "");
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.starts_with("error: ") && output.stderr.contains(&addr),
        "{}",
        output.stderr
    );
    if row.kind != Kind::Unix {
        // The cause in words, not only the system's "Address already in use".
        assert!(
            output.stderr.contains("already") && output.stderr.contains("port"),
            "no hint at the cause: {}",
            output.stderr
        );
    }
}

fn low_port(row: Row) {
    if row.kind == Kind::Unix {
        return eprintln!(
            "not applicable: {} binds a socket file, not a port",
            row.name
        );
    }
    let fixture = Fixture::new(row);
    if !common::unix::running_as_root(&fixture.dir) {
        return eprintln!("skipped: needs root, to run the server as another user (setpriv)");
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return eprintln!("skipped: setpriv (util-linux) is not installed");
    }
    // A plain user may not bind a port below 1024: the server must say so and what to do,
    // not blame "another server".
    set_mode(fixture.dir.path(), 0o777);
    let low = match row.kind {
        Kind::Multicast => "239.1.2.3:80",
        _ => "127.0.0.1:80",
    };
    let uid = 40_000 + (std::process::id() % 2000) * 20 + row.name[..2].parse::<u32>().unwrap();
    let output = run_command(
        Command::new("setpriv")
            .args([format!("--reuid={uid}"), format!("--regid={uid}")])
            .arg("--clear-groups")
            .arg(bin(row.name))
            .args(fixture.args(low, &[])),
    );
    assert_eq!(output.code(), Some(1), "{output:?}");
    assert_eq!(output.stderr.lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.contains("Permission denied")
            && output.stderr.contains("ports below 1024 need root"),
        "expected the cause (ports below 1024 need root), got: {}",
        output.stderr
    );
}

fn ctrl_c(row: Row) {
    let fixture = Fixture::new(row);
    let mut server = fixture.start(&[]);
    let lines = stop(&fixture, &mut server);
    let last = lines.last().map(String::as_str).unwrap_or_default();
    assert!(
        last.starts_with("Ctrl-C received") && last.ends_with("Bye."),
        "{lines:#?}"
    );
}

fn closed_stdout(row: Row) {
    if row.talk == Talk::Datagram {
        return closed_stdout_datagrams(row);
    }
    let fixture = Fixture::new(row);
    let mut server = Server::start_closing_stdout(&mut fixture.command(&[]));
    // Every conversation logs lines that now fail to be written; none may cost a thread, a
    // worker or the server. (17 has 4 workers: a fifth request needs one that survived.)
    let rounds = if row.talk == Talk::Http { 6 } else { 2 };
    for _ in 0..rounds {
        converse(&fixture, &server);
    }
    stop(&fixture, &mut server);
}

/// A datagram server logs each datagram it receives; with stdout closed, every such line
/// fails to be written, and the server must go on. 05 answers (each answer proves a datagram
/// was logged and survived); 08 and 26 are given `--count 2`, so they stop by themselves after two
/// datagrams, and must exit 0 where a panicking `println!` would exit 101.
fn closed_stdout_datagrams(row: Row) {
    let fixture = Fixture::new(row);
    let answers = row.name == "05_udp_server";
    let extra: &[&str] = if answers { &[] } else { &["--count", "2"] };
    let mut server = Server::start_closing_stdout(&mut fixture.command(extra));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    if row.kind == Kind::Multicast {
        // To a group: sent on the loopback interface, where the receiver joined it.
        socket2::SockRef::from(&client)
            .set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
            .unwrap();
    }
    for _ in 0..2 {
        client.send_to(b"Ada", server.socket_addr()).unwrap();
        if answers {
            let mut buffer = [0u8; 64];
            let n = client
                .recv(&mut buffer)
                .unwrap_or_else(|e| panic!("no answer with stdout closed: {e}"));
            common::expect_text("the answer", &buffer[..n], "Hello, Ada!");
        }
    }
    if answers {
        stop(&fixture, &mut server);
    } else {
        let (status, lines) = server.wait_exit();
        assert!(status.success(), "{status:?}; {lines:#?}");
    }
}

/// Starts the server with at most 32 file descriptors, and connects idle clients until the
/// server says that `accept` failed. Returns the server and the clients.
fn exhaust_descriptors(fixture: &Fixture) -> (Server, Vec<Conn>) {
    let mut server =
        Server::start_command(Command::new("bash").args(fixture.limited("-n 32", &[])));
    // 32 descriptors, a few of them the server's own: 40 clients are more than it can take,
    // and fewer than the listen backlog (128), so every connect completes at once.
    let clients: Vec<Conn> = (0..40).map(|_| Conn::open(fixture.row, &server)).collect();
    server.expect_line("accept failed: Too many open files");
    (server, clients)
}

fn out_of_descriptors(row: Row) {
    if row.talk == Talk::Datagram {
        return eprintln!("not applicable: {} accepts no connections", row.name);
    }
    let fixture = Fixture::new(row);
    let started = Instant::now();
    let (mut server, clients) = exhaust_descriptors(&fixture);
    // The clients leave; the server gets its descriptors back and serves as before.
    drop(clients);
    converse(&fixture, &server);
    let lines = stop(&fixture, &mut server);
    // A loop that retried at once would have printed thousands of lines by now; this one
    // says so at most once a second.
    let failed = lines.iter().filter(|l| l.contains("accept failed")).count();
    let most = 2 + started.elapsed().as_secs() as usize;
    assert!(
        (1..=most).contains(&failed),
        "{failed} accept failed lines in {:?}",
        started.elapsed()
    );
}

fn ctrl_c_while_out_of_descriptors(row: Row) {
    if row.talk == Talk::Datagram {
        return eprintln!("not applicable: {} accepts no connections", row.name);
    }
    let fixture = Fixture::new(row);
    let (mut server, clients) = exhaust_descriptors(&fixture);
    // Ctrl-C's wake-up connection cannot be made now: no descriptor for it. The paused loop
    // must see the flag by itself.
    stop(&fixture, &mut server);
    drop(clients);
}

fn idle_client(row: Row) {
    let Some(option) = row.idle_option else {
        return eprintln!("not applicable: {} holds no idle clients", row.name);
    };
    let fixture = Fixture::new(row);
    let mut server = fixture.start(&[option, "0.3"]);
    let held = greet(&fixture, &server).unwrap_or_else(|got| panic!("no greeting: {got:?}"));
    let started = Instant::now();
    let rest = match held {
        Held::Plain(mut conn) | Held::Http(mut conn) | Held::Chat(mut conn) => {
            read_to_end(&mut conn)
        }
        // The server hangs up without TLS's goodbye, which reads as an error or as the end.
        Held::Tls(mut tls) => read_some(&mut *tls).unwrap_or_default(),
    };
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "disconnected after {took:?}, wanted about 0.3 s"
    );
    if row.talk == Talk::Http {
        let text = String::from_utf8_lossy(&rest);
        assert!(
            text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{text:?}"
        );
    } else if row.talk == Talk::Chat {
        common::expect_text(
            "after the idle timeout",
            &rest,
            "* Disconnected: timed out after 0.3 s (--idle-timeout)\n",
        );
        server.expect_line("timed out after 0.3 s (--idle-timeout)");
    } else {
        common::expect_text("after the idle timeout", &rest, "");
        server.expect_line("timed out after 0.3 s (--idle-timeout)");
    }
    converse(&fixture, &server);
}

fn max_clients(row: Row) {
    let Some(busy) = row.busy else {
        return eprintln!("not applicable: {} has no --max-clients", row.name);
    };
    let fixture = Fixture::new(row);
    let mut server = fixture.start(&["--max-clients", "2"]);
    let first = greet(&fixture, &server).expect("the first client is served");
    let _second = greet(&fixture, &server).expect("the second client is served");
    // The third is answered (or not) and disconnected, before any thread is spent on it.
    let mut third = match row.kind {
        Kind::Unix | Kind::DualStack => Conn::open(row, &server),
        _ => Conn::Tcp(common::connect(server.socket_addr())),
    };
    common::expect_text(
        "the third client",
        &read_to_end(&mut third),
        busy_text(busy),
    );
    server.expect_line("Turned away");
    server.expect_line("2 clients already connected.");
    // Once a client leaves, its place is free again.
    drop(first);
    server.expect_line(" closed");
    converse(&fixture, &server);
}

fn busy_text(busy: &[u8]) -> &str {
    std::str::from_utf8(busy).unwrap()
}

fn thread_spawn_failure(row: Row) {
    if !row.thread_per_client {
        return eprintln!("not applicable: {} starts no thread per client", row.name);
    }
    let fixture = Fixture::new(row);
    if !common::unix::running_as_root(&fixture.dir) {
        return eprintln!("skipped: needs root, to run the server as another user (setpriv)");
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        return eprintln!("skipped: setpriv (util-linux) is not installed");
    }
    // RLIMIT_NPROC counts every thread of a user and does not bind root, so the server runs as
    // a user id of its own (no other process has it), allowed 4 threads: its main thread,
    // ctrlc's thread, and about two clients.
    let uid = 40_000 + (std::process::id() % 2000) * 20 + row.name[..2].parse::<u32>().unwrap();
    set_mode(fixture.dir.path(), 0o777);
    let mut server = Server::start_command(
        Command::new("setpriv")
            .args([format!("--reuid={uid}"), format!("--regid={uid}")])
            .args(["--clear-groups", "bash"])
            .args(fixture.limited("-u 4", &[])),
    );
    let mut held = Vec::new();
    let turned_away = loop {
        assert!(
            held.len() < 10,
            "10 clients were served with 4 threads allowed"
        );
        match greet(&fixture, &server) {
            Ok(client) => held.push(client),
            Err(got) => break got,
        }
    };
    common::expect_text("a client with no thread", &turned_away, "");
    server.expect_line("could not start a thread for ");
    // The others leave; a new client is served. Wait until every one of them is logged as
    // closed; a thread that logged its goodbye may still not have quite ended (on a busy
    // machine, for milliseconds), so a new client may still find no thread: try again, for
    // at most a few seconds.
    let leaving = held.len();
    drop(held);
    for _ in 0..leaving {
        server.expect_line(" closed");
    }
    let give_up = Instant::now() + Duration::from_secs(5);
    let mut attempts = std::iter::from_fn(|| (Instant::now() < give_up).then_some(()));
    let served = attempts.any(|()| match greet(&fixture, &server) {
        Ok(Held::Plain(mut conn)) => {
            hello(&mut conn);
            true
        }
        Ok(Held::Tls(mut tls)) => {
            hello(&mut *tls);
            true
        }
        Ok(Held::Http(_) | Held::Chat(_)) => unreachable!(),
        Err(_) => false,
    });
    assert!(served, "no client was served after the others left");
    stop(&fixture, &mut server);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// One module per server, one test per check.
macro_rules! contract {
    ($($module:ident => $row:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[test]
            fn first_line() { super::first_line($row) }
            #[test]
            fn help() { super::help($row) }
            #[test]
            fn bad_argument() { super::bad_argument($row) }
            #[test]
            fn address_in_use() { super::address_in_use($row) }
            #[test]
            fn low_port() { super::low_port($row) }
            #[test]
            fn ctrl_c() { super::ctrl_c($row) }
            #[test]
            fn closed_stdout() { super::closed_stdout($row) }
            #[test]
            fn out_of_descriptors() { super::out_of_descriptors($row) }
            #[test]
            fn ctrl_c_while_out_of_descriptors() { super::ctrl_c_while_out_of_descriptors($row) }
            #[test]
            fn idle_client() { super::idle_client($row) }
            #[test]
            fn max_clients() { super::max_clients($row) }
            #[test]
            fn thread_spawn_failure() { super::thread_spawn_failure($row) }
        }
    )*};
}

contract! {
    tcp_server_02 => TCP_SERVER_02,
    udp_server_05 => UDP_SERVER_05,
    broadcast_recv_08 => BROADCAST_RECV_08,
    multicast_recv_26 => MULTICAST_RECV_26,
    unix_server_09 => UNIX_SERVER_09,
    http_server_17 => HTTP_SERVER_17,
    tls_server_18 => TLS_SERVER_18,
    poll_server_19 => POLL_SERVER_19,
    async_server_20 => ASYNC_SERVER_20,
    chat_server_21 => CHAT_SERVER_21,
    dual_stack_24 => DUAL_STACK_24,
    proxy_28 => PROXY_28,
    chaos_proxy_29 => CHAOS_PROXY_29,
}

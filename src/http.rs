//! The HTTP/1.1 exchange that chapter 03 teaches, kept here so chapter 04 can run the very same
//! exchange over TLS.
//!
//! A client connects ([`connect`], with a time limit), puts the whole transfer under one
//! deadline ([`Deadline`]), wraps the connection in TLS or not (chapter 04 or 03), then:
//!
//! 1. builds the request text by hand: [`request`];
//! 2. sends it and reads the whole response until the server closes the connection:
//!    [`exchange`] (the notes' `recv(1024)` loop);
//! 3. splits the header from the body at the first blank line: [`split_head`], works out where
//!    the body ends ([`Response::parse`]), and decodes a chunked body: [`decode_chunked`];
//! 4. saves the body so that a failure never leaves half a file: [`save_body`].
//!
//! The exchange works on any stream that can be read and written (`impl Read + Write`), so
//! it does not care whether the bytes travel in the clear or encrypted.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// The most a response may hold. The whole response is kept in memory, so a limit keeps a
/// runaway server from eating it all.
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A parsed `http://` or `https://` URL: where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`, in lower case.
    pub scheme: String,
    /// The host name or IP address, without the brackets of an IPv6 address (`::1`).
    pub host: String,
    /// The port: the one given, or 80 for `http` and 443 for `https`.
    pub port: u16,
    /// The path with its query (`/search?q=rust`), never empty: `/` when the URL has none.
    pub path: String,
}

impl Url {
    /// The file name to save this URL's body under when none is given: the last part of the
    /// path (`page.html` for `/docs/page.html`), or `index.html` when the path ends in `/`.
    pub fn file_name(&self) -> PathBuf {
        let path = self.path.split('?').next().unwrap_or_default();
        match path.rsplit('/').next() {
            Some(last) if !last.is_empty() && last != "." && last != ".." => PathBuf::from(last),
            _ => PathBuf::from("index.html"),
        }
    }

    /// Parses `scheme://host[:port][/path]`. A `#fragment` is dropped: it is never sent.
    pub fn parse(text: &str) -> anyhow::Result<Url> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| anyhow!("a URL starts with http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => bail!("the scheme {scheme:?} is not http or https"),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        // `[::1]:8080` for an IPv6 address, `example.com:8080` otherwise; the port is optional.
        let (host, port) = if let Some(inside) = authority.strip_prefix('[') {
            let (host, after) = inside
                .split_once(']')
                .ok_or_else(|| anyhow!("the IPv6 address in {authority:?} has no closing ]"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => bail!("unexpected {after:?} after the IPv6 address"),
            }
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("the URL has no host name");
        }
        let port = match port {
            Some(port) => port
                .parse()
                .map_err(|_| anyhow!("the port {port:?} is not a number from 0 to 65535"))?,
            None => default_port,
        };
        Ok(Url {
            scheme,
            host: host.to_string(),
            port,
            path,
        })
    }

    /// What the `Host` header says: the host, plus `:port` unless it is the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host) // an IPv6 address
        } else {
            self.host.clone()
        };
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl FromStr for Url {
    type Err = anyhow::Error;
    fn from_str(text: &str) -> anyhow::Result<Url> {
        Url::parse(text)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{}://{host}:{}{}", self.scheme, self.port, self.path)
    }
}

// ANCHOR: connect
/// Looks the URL's host up and connects to it over TCP, waiting at most `timeout` for each of
/// its addresses (`--connect-timeout`). Chapter 04 connects the same way before its handshake.
pub fn connect(url: &Url, timeout: Duration) -> anyhow::Result<TcpStream> {
    // Python: s.connect(('www.sina.com.cn', 80)) looks the name up and connects in one call.
    // We do the two steps apart so that each can fail with its own message.
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| anyhow!("could not find the address of {}: {e}", url.host))?
        .collect();
    // A name may have several addresses (IPv4 and IPv6): try each in turn, as
    // `TcpStream::connect(&addrs[..])` would, but give each one at most `timeout`.
    let mut failure = anyhow!("{} has no address", url.host);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            // No answer at all: a server too busy to take new connections, or a firewall
            // that drops them. Without the limit, the system would wait about two minutes.
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                let seconds = timeout.as_secs_f64();
                failure = anyhow!(
                    "could not connect to {addr} within {seconds} s (--connect-timeout); nobody \
                     answered: is the server too busy to accept, or a firewall in the way?"
                );
            }
            Err(e) => {
                failure =
                    anyhow!("could not connect to {addr}: {e}; is a web server running there?")
            }
        }
    }
    Err(failure)
}
// ANCHOR_END: connect

// ANCHOR: deadline
/// A TCP stream whose whole transfer must be over by one instant (`--deadline`).
///
/// A read timeout starts again with every read, so a server that sends one byte every 2
/// seconds never trips a 10-second one, and could keep us for ever. Here each read and write
/// may wait only for the time that is left: the socket's timeouts are set to it first. When
/// the time is up, the error names the limit.
pub struct Deadline {
    stream: TcpStream,
    limit: Duration,
    until: Instant,
}

impl Deadline {
    /// Starts the clock: everything must be done within `limit` from now.
    pub fn new(stream: TcpStream, limit: Duration) -> Deadline {
        let until = Instant::now() + limit;
        Deadline {
            stream,
            limit,
            until,
        }
    }

    /// Sets the socket's read and write timeouts to the time that is left, or fails if none is.
    fn arm(&self) -> io::Result<()> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.expired());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.set_write_timeout(Some(left))
    }

    /// The error for a transfer that ran out of time, in words that name the limit.
    fn expired(&self) -> io::Error {
        let seconds = self.limit.as_secs_f64();
        let message = format!("the whole transfer took longer than {seconds} s (--deadline)");
        io::Error::new(ErrorKind::TimedOut, message)
    }

    /// An expired timeout of the socket (`WouldBlock` on Linux) is the deadline: say so.
    fn explain(&self, e: io::Error) -> io::Error {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => self.expired(),
            _ => e,
        }
    }
}

impl Read for Deadline {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.read(buffer).map_err(|e| self.explain(e))
    }
}

impl Write for Deadline {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.stream.write(bytes).map_err(|e| self.explain(e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
// ANCHOR_END: deadline

// ANCHOR: request
/// The request text for `GET url`. HTTP/1.1 is plain text: a request line, header lines, and
/// a blank line that says "the header ends here". Every line ends with CR LF (`\r\n`).
pub fn request(url: &Url) -> String {
    format!(
        "GET {path} HTTP/1.1\r\n\
         Host: {host}\r\n\
         User-Agent: socket-workbook\r\n\
         Connection: close\r\n\
         \r\n",
        path = url.path,
        host = url.host_header(),
    )
}
// ANCHOR_END: request

// ANCHOR: exchange
/// Sends `request`, reads the whole response until the server closes the connection, and
/// parses it. Works on any stream: a `TcpStream` (chapter 03) or a TLS stream (chapter 04).
pub fn exchange(stream: &mut (impl Read + Write), request: &str) -> anyhow::Result<Response> {
    // Python: s.send(request). `write_all` loops until every byte is handed to the system.
    stream
        .write_all(request.as_bytes())
        .context("could not send the request")?;
    // Python: while True: d = s.recv(1024); if d: buffer.append(d) else: break
    let mut data = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            // 0 bytes means end of stream: the server closed the connection, as
            // `Connection: close` asked it to. The response is complete.
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue, // a signal: just retry
            // Time is up: `Deadline` says which limit it was.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("{e}, after {} bytes", data.len())
            }
            Err(e) => {
                // Some servers reset the connection right after a response whose length they
                // announced. If we already hold all of it, that is fine; anything else is a
                // real error. (A TLS server that skips its goodbye, close_notify, reads as a
                // plain end of stream with native-tls: only Content-Length or chunking can
                // reveal a body cut short.)
                return parse(&data, false).map_err(|_| {
                    anyhow!(
                        "could not read the response after {} bytes: {e}",
                        data.len()
                    )
                });
            }
        }
        if data.len() > MAX_RESPONSE {
            bail!("the response is larger than {MAX_RESPONSE} bytes; giving up");
        }
    }
    Response::parse(&data)
}
// ANCHOR_END: exchange

/// A response: the status line, the header lines and the body (already de-chunked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The header exactly as received, without the blank line: status line, then header lines.
    pub head: String,
    /// The first line, such as `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code from the status line, such as 200.
    pub status: u16,
    /// Each header line as (name, value), in the order received.
    pub headers: Vec<(String, String)>,
    /// The body: the bytes after the blank line, with chunked encoding removed.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a complete response, read until the server closed the connection.
    pub fn parse(data: &[u8]) -> anyhow::Result<Response> {
        parse(data, true)
    }

    /// The value of the first header called `name` (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header called `name`, in the order received.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// ANCHOR: split_head
/// Splits a response at the first blank line (`\r\n\r\n`): the header before it, the body
/// after it. `None` if there is no blank line.
/// Python: `header, html = data.split(b'\r\n\r\n', 1)`
pub fn split_head(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let blank = data.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&data[..blank], &data[blank + 4..]))
}
// ANCHOR_END: split_head

// ANCHOR: parse
/// Parses `data`. `closed_cleanly` says the stream ended normally; if not, a body whose end is
/// only marked by the close cannot be known to be complete.
fn parse(data: &[u8], closed_cleanly: bool) -> anyhow::Result<Response> {
    if data.is_empty() {
        bail!("the server closed the connection without answering");
    }
    let Some((head, rest)) = split_head(data) else {
        if !data.starts_with(b"HTTP/") {
            bail!("the reply is not HTTP: it starts with {:?}", preview(data));
        }
        bail!(
            "the response ended after {} bytes, before the blank line that ends the header",
            data.len()
        );
    };
    let head = String::from_utf8_lossy(head).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    // `HTTP/1.1 200 OK`: the version, the code, and a reason phrase for humans.
    let mut words = status_line.split(' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    let status: u16 = match code.parse() {
        Ok(status) if version.starts_with("HTTP/") && code.len() == 3 => status,
        _ => bail!("the reply is not HTTP: it starts with {:?}", preview(data)),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| anyhow!("bad header line {line:?} (no colon)"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut response = Response {
        head: head.clone(),
        status_line,
        status,
        headers,
        body: Vec::new(),
    };
    // How long is the body? Chunked encoding marks its own end; else `Content-Length` says;
    // else the body is everything until the server closed the connection.
    let chunked = is_chunked(&response)?;
    let length = content_length(&response)?;
    response.body = if status / 100 == 1 || status == 204 || status == 304 {
        Vec::new() // these answers never have a body
    } else if chunked {
        decode_chunked(rest)?
    } else if let Some(length) = length {
        if rest.len() < length {
            bail!(
                "the body ended after {} of the {length} bytes that Content-Length announced",
                rest.len()
            );
        }
        rest[..length].to_vec()
    } else if closed_cleanly {
        rest.to_vec()
    } else {
        bail!("the connection broke before the end of the body");
    };
    Ok(response)
}
// ANCHOR_END: parse

// ANCHOR: framing
/// Whether the body is chunked. `Transfer-Encoding` lists the codings applied to the body, in
/// order; chunked is the only one this client can undo, so it must be the whole list. Anything
/// else (`gzip, chunked`, or a name we do not know) is refused: guessing would save garbage.
fn is_chunked(response: &Response) -> anyhow::Result<bool> {
    let codings: Vec<&str> = response
        .headers_named("Transfer-Encoding")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    match codings[..] {
        [] => Ok(false),
        [only] if only.eq_ignore_ascii_case("chunked") => Ok(true),
        _ => bail!(
            "the body is sent with Transfer-Encoding {:?}; this client only decodes chunked",
            codings.join(", ")
        ),
    }
}

/// The body's length from `Content-Length`, if there is one. The value must be digits only
/// (`+3` and `-1` are not lengths, although Rust's `parse` would take `+3`), and two values that
/// disagree are refused: which one to trust is exactly what an attacker wants us to guess.
fn content_length(response: &Response) -> anyhow::Result<Option<usize>> {
    let mut length = None;
    for value in response.headers_named("Content-Length") {
        // `Content-Length: 5, 5` (one header sent twice, joined by a proxy) is allowed.
        for part in value.split(',').map(str::trim) {
            let parsed: usize = match part.parse() {
                Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => bail!("bad Content-Length {value:?}: not a number of bytes"),
            };
            if length.is_some_and(|earlier| earlier != parsed) {
                bail!("the response has two different Content-Length values; refusing to guess");
            }
            length = Some(parsed);
        }
    }
    Ok(length)
}
// ANCHOR_END: framing

// ANCHOR: chunked
/// Decodes a `Transfer-Encoding: chunked` body: pieces, each preceded by its size in
/// hexadecimal on a line of its own, ended by a piece of size 0 (and optional trailer lines).
///
/// ```text
/// 5\r\nHello\r\n7\r\n, world\r\n0\r\n\r\n   ->   Hello, world
/// ```
pub fn decode_chunked(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| anyhow!("the chunked body ended before its last chunk"))?;
        let line = String::from_utf8_lossy(&data[..line_end]);
        // The size may be followed by `;name=value` extensions, which we ignore.
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| anyhow!("bad chunk size line {line:?} in the chunked body"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body); // the last chunk; trailer lines may follow, and we ignore them
        }
        // `saturating_add`: a hostile size such as FFFFFFFFFFFFFFFF must not overflow.
        let end = size.saturating_add(2);
        if data.len() < end || &data[size..end] != b"\r\n" {
            bail!("the chunked body ended in the middle of a chunk of {size} bytes");
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
// ANCHOR_END: chunked

/// The first bytes of `data` as text, for error messages.
fn preview(data: &[u8]) -> String {
    let start = &data[..data.len().min(40)];
    String::from_utf8_lossy(start).into_owned()
}

// ANCHOR: save
/// Writes `body` to `path` so that `path` never holds half a page: the bytes go to a temporary
/// file beside it first, and a rename puts that file in place in one step, only once it is
/// complete. If anything fails, the temporary file is removed and `path` is left untouched.
pub fn save_body(path: &Path, body: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let temp = path.with_file_name(format!(
        ".{}.{}.part",
        name.to_string_lossy(),
        std::process::id()
    ));
    // `create_new`: make a new file, or fail if the name is taken. `File::create` would open
    // whatever is there, and follow a symbolic link that someone planted under that name to
    // overwrite the file it points to (yours). Nothing of ours is there yet: nothing to remove.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| {
            let (path, temp) = (path.display(), temp.display());
            anyhow!("could not save the body to {path}: could not create {temp}: {e}")
        })?;
    let written = file
        .write_all(body)
        .and_then(|()| file.sync_all()) // on the disk, not only in the system's memory
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        bail!("could not save the body to {}: {e}", path.display());
    }
    Ok(())
}
// ANCHOR_END: save

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn urls_parse_with_defaults() {
        let url = Url::parse("http://example.com").unwrap();
        assert_eq!(
            url,
            Url {
                scheme: "http".into(),
                host: "example.com".into(),
                port: 80,
                path: "/".into()
            }
        );
        let url = Url::parse("HTTPS://example.com/a/b?q=1#top").unwrap();
        assert_eq!((url.scheme.as_str(), url.port), ("https", 443));
        assert_eq!(url.path, "/a/b?q=1");
        let url = Url::parse("http://127.0.0.1:8000/03_http_get.md").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 8000));
        assert_eq!(url.host_header(), "127.0.0.1:8000");
        let url = Url::parse("http://[::1]:8080?x").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 8080));
        assert_eq!(url.path, "/?x");
        assert_eq!(url.host_header(), "[::1]:8080");
        assert_eq!(url.to_string(), "http://[::1]:8080/?x");
        assert_eq!(Url::parse("https://h:443/").unwrap().host_header(), "h");
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "example.com",
            "ftp://example.com/",
            "http://",
            "http://:80/",
            "http://h:99999/",
            "http://h:x/",
            "http://[::1/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_request_is_three_headers_and_a_blank_line() {
        let url = Url::parse("http://127.0.0.1:8000/a.txt").unwrap();
        assert_eq!(
            request(&url),
            "GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: socket-workbook\r\n\
             Connection: close\r\n\r\n"
        );
    }

    /// A fake stream: reads come from `input`, writes go to `output`.
    struct Fake {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
        /// Fail with this error instead of reporting end of stream.
        end_error: Option<ErrorKind>,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.input.read(buf)? {
                0 if self.end_error.is_some() => Err(self.end_error.unwrap().into()),
                n => Ok(n),
            }
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn fake(input: &[u8], end_error: Option<ErrorKind>) -> Fake {
        Fake {
            input: Cursor::new(input.to_vec()),
            output: Vec::new(),
            end_error,
        }
    }

    #[test]
    fn exchange_sends_the_request_and_reads_to_the_end() {
        let body = vec![b'x'; 5000]; // several 1024-byte reads
        let mut input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
        input.extend_from_slice(&body);
        let mut stream = fake(&input, None);
        let response = exchange(&mut stream, "GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(stream.output, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(response.status, 200);
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        assert_eq!(response.head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain");
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.body, body);
    }

    #[test]
    fn a_reset_after_a_complete_response_is_forgiven_but_not_before() {
        let complete = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let mut stream = fake(complete, Some(ErrorKind::ConnectionReset));
        assert_eq!(exchange(&mut stream, "").unwrap().body, b"hi");
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi";
        let mut stream = fake(short, Some(ErrorKind::ConnectionReset));
        let error = exchange(&mut stream, "").unwrap_err().to_string();
        assert!(
            error.starts_with("could not read the response after 40 bytes"),
            "{error}"
        );
        let until_close = b"HTTP/1.1 200 OK\r\n\r\nhi";
        let mut stream = fake(until_close, Some(ErrorKind::ConnectionReset));
        assert!(exchange(&mut stream, "").is_err());
        let mut stream = fake(until_close, Some(ErrorKind::WouldBlock));
        let error = exchange(&mut stream, "").unwrap_err().to_string();
        assert!(error.ends_with(", after 21 bytes"), "{error}");
    }

    #[test]
    fn a_deadline_is_not_stretched_by_a_server_that_drips() {
        let (ours, mut theirs) = crate::loopback_pair().unwrap();
        // The peer sends a byte every 50 ms for up to 2 s: a read timeout of 300 ms would
        // never expire.
        let dripper = std::thread::spawn(move || {
            for _ in 0..40 {
                if theirs.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let started = Instant::now();
        let mut stream = Deadline::new(ours, Duration::from_millis(300));
        let error = exchange(&mut stream, "GET / HTTP/1.1\r\n\r\n")
            .unwrap_err()
            .to_string();
        let took = started.elapsed();
        assert!(
            error.starts_with("the whole transfer took longer than 0.3 s (--deadline), after "),
            "{error}"
        );
        assert!(took < Duration::from_millis(1000), "took {took:?}");
        drop(stream);
        dripper.join().unwrap();
    }

    #[test]
    fn content_length_must_be_one_number_of_digits() {
        let with = |headers: &str| {
            let data = format!("HTTP/1.1 200 OK\r\n{headers}\r\n\r\nHello, world");
            Response::parse(data.as_bytes()).map(|r| String::from_utf8(r.body).unwrap())
        };
        assert_eq!(with("Content-Length: 5").unwrap(), "Hello");
        assert_eq!(
            with("Content-Length: 5\r\ncontent-length: 5").unwrap(),
            "Hello"
        );
        assert_eq!(with("Content-Length: 5, 5").unwrap(), "Hello");
        for (headers, error) in [
            (
                "Content-Length: 5\r\nContent-Length: 7",
                "the response has two different Content-Length values; refusing to guess",
            ),
            (
                "Content-Length: 5, 7",
                "the response has two different Content-Length values; refusing to guess",
            ),
            (
                "Content-Length: +3",
                "bad Content-Length \"+3\": not a number of bytes",
            ),
            (
                "Content-Length: -1",
                "bad Content-Length \"-1\": not a number of bytes",
            ),
            (
                "Content-Length: 0x10",
                "bad Content-Length \"0x10\": not a number of bytes",
            ),
            (
                "Content-Length: ",
                "bad Content-Length \"\": not a number of bytes",
            ),
            (
                "Content-Length: 99999999999999999999999",
                "bad Content-Length \"99999999999999999999999\": not a number of bytes",
            ),
        ] {
            assert_eq!(with(headers).unwrap_err().to_string(), error, "{headers}");
        }
    }

    #[test]
    fn only_chunked_is_decoded_and_other_codings_are_refused() {
        let with = |headers: &str| {
            let data = format!("HTTP/1.1 200 OK\r\n{headers}\r\n\r\n5\r\nHello\r\n0\r\n\r\n");
            Response::parse(data.as_bytes()).map(|r| String::from_utf8(r.body).unwrap())
        };
        assert_eq!(with("Transfer-Encoding: chunked").unwrap(), "Hello");
        assert_eq!(with("transfer-encoding: Chunked").unwrap(), "Hello");
        // Chunked wins over Content-Length, as RFC 9112 says.
        assert_eq!(
            with("Transfer-Encoding: chunked\r\nContent-Length: 3").unwrap(),
            "Hello"
        );
        for (headers, coding) in [
            ("Transfer-Encoding: notchunked", "notchunked"),
            ("Transfer-Encoding: gzip, chunked", "gzip, chunked"),
            (
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
                "gzip, chunked",
            ),
            ("Transfer-Encoding: chunked, chunked", "chunked, chunked"),
            ("Transfer-Encoding: identity", "identity"),
        ] {
            assert_eq!(
                with(headers).unwrap_err().to_string(),
                format!(
                    "the body is sent with Transfer-Encoding {coding:?}; this client only \
                     decodes chunked"
                ),
                "{headers}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn save_body_never_follows_a_planted_link() {
        let dir = std::env::temp_dir().join(format!("wb-save-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim.txt");
        fs::write(&victim, "precious").unwrap();
        let planted = dir.join(format!(".page.html.{}.part", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let error = save_body(&dir.join("page.html"), b"evil").unwrap_err();
        assert!(error.to_string().contains("File exists"), "{error}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        assert!(fs::symlink_metadata(&planted).is_ok(), "not ours to remove");
        assert!(!dir.join("page.html").exists());
        fs::remove_file(&planted).unwrap();
        save_body(&dir.join("page.html"), b"fine").unwrap();
        assert_eq!(fs::read_to_string(dir.join("page.html")).unwrap(), "fine");
        assert!(
            !planted.exists(),
            "the temporary file was renamed into place"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn split_head_splits_at_the_first_blank_line() {
        let (head, body) = split_head(b"A\r\nB: c\r\n\r\nbody\r\n\r\nmore").unwrap();
        assert_eq!(head, b"A\r\nB: c");
        assert_eq!(body, b"body\r\n\r\nmore");
        assert_eq!(split_head(b"A\r\nB: c\r\n"), None);
    }

    #[test]
    fn content_length_cuts_the_body() {
        let r = Response::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!(r.body, b"abc");
        let e = Response::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body ended after 3 of the 9 bytes that Content-Length announced"
        );
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5\r\nHello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
        let r = Response::parse(data).unwrap();
        assert_eq!(r.body, b"Hello, world");
        assert_eq!(
            decode_chunked(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap(),
            b"0123456789"
        );
        assert!(decode_chunked(b"5\r\nHel").is_err());
        assert!(decode_chunked(b"zz\r\nHello\r\n").is_err());
        assert!(decode_chunked(b"5\r\nHello").is_err());
        assert!(decode_chunked(b"FFFFFFFFFFFFFFFF\r\nHello\r\n").is_err()); // no overflow
    }

    #[test]
    fn redirects_and_bodiless_answers() {
        let r =
            Response::parse(b"HTTP/1.1 301 Moved Permanently\r\nLocation: /new\r\n\r\n").unwrap();
        assert_eq!((r.status, r.header("location")), (301, Some("/new")));
        let r = Response::parse(b"HTTP/1.1 304 Not Modified\r\n\r\nignored").unwrap();
        assert!(r.body.is_empty());
    }

    #[test]
    fn broken_responses_are_explained() {
        let message = |data: &[u8]| Response::parse(data).unwrap_err().to_string();
        assert_eq!(
            message(b""),
            "the server closed the connection without answering"
        );
        assert_eq!(
            message(b"Welcome!"),
            "the reply is not HTTP: it starts with \"Welcome!\""
        );
        assert_eq!(
            message(b"SSH-2.0-OpenSSH\r\n\r\n"),
            "the reply is not HTTP: it starts with \"SSH-2.0-OpenSSH\\r\\n\\r\\n\""
        );
        assert_eq!(
            message(b"HTTP/1.1 200 OK\r\nServer: x\r\n"),
            "the response ended after 28 bytes, before the blank line that ends the header"
        );
        assert_eq!(
            message(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"),
            "bad header line \"no colon here\" (no colon)"
        );
    }
}

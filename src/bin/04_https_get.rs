//! 04_https_get: the page fetch of chapter 03, over TLS (HTTPS).
//!
//! It does what 03_http_get does (look the host up, connect over TCP, send a `GET` by hand,
//! read the response until the server hangs up, print the header, save the body) with one
//! step added: after connecting, a TLS handshake checks that the server's certificate is
//! trusted, valid today and made out to the URL's host, and from then on every byte is
//! encrypted. The request and the response are the same bytes as in chapter 03.
//!
//! Everything runs on this machine: `scripts/demo.sh 04` makes a certificate, starts a small
//! HTTPS file server (`openssl s_server -WWW`) and fetches a page from it. By hand:
//!
//! ```text
//! terminal 1$ scripts/make_cert.sh /tmp/wb-cert
//! terminal 1$ cd /tmp/wb-cert && echo '<h1>Hi</h1>' > hello.html
//! terminal 1$ openssl s_server -WWW -accept 127.0.0.1:8443 -cert cert.pem -key key.pem
//! terminal 2$ cargo run --bin 04_https_get -- https://localhost:8443/hello.html --ca /tmp/wb-cert/cert.pem
//! HTTP/1.0 200 ok
//! Content-type: text/html
//!
//! Saved 12 bytes to hello.html
//! ```
//!
//! Leave out `--ca` and the client refuses the server, saying why. It works with real web
//! sites too (`cargo run --bin 04_https_get -- https://example.com/`), if your machine can
//! reach them: their certificates are checked against the system's root certificates. As in
//! chapter 03, it gives up connecting after 5 seconds (`--connect-timeout`), and on the whole
//! transfer, handshake included, after 30 seconds (`--deadline`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use socket_workbook::http::{self, Url};
use socket_workbook::output::printable;
use socket_workbook::{Args, report, tls};

const USAGE: &str = "\
usage: 04_https_get [OPTIONS] URL [OUTFILE]

  URL            https://HOST[:PORT][/PATH] (port 443 and path / unless given)
  OUTFILE        where to save the body (default: the last part of the URL's path, or
                 index.html when the path ends in /)

Options:
  --ca CERT.pem  a certificate to trust besides the system's roots: a self-signed server's
                 own certificate, or the authority (CA) that signed the server's
  --connect-timeout SECONDS
                 give up when the server has not taken the connection within this time
                 (default 5)
  --deadline SECONDS
                 give up when the handshake and the whole answer have not come within this
                 time after connecting (default 30)

The server's certificate must be trusted, valid today and made out to HOST; there is no
switch to skip these checks. For http:// URLs, use 03_http_get.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let ca: Option<PathBuf> = args.option("--ca");
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let deadline = args.seconds("--deadline", 30.0);
    let url: Url = args.next_required("URL");
    let outfile: Option<PathBuf> = args.next_optional("OUTFILE");
    args.finish();
    if url.scheme == "http" {
        bail!("{url} is plain HTTP, without TLS; use 03_http_get");
    }
    let outfile = outfile.unwrap_or_else(|| url.file_name());

    // ANCHOR: connect
    // New: whom we trust. The system's root certificates, plus --ca if given (src/tls.rs).
    let connector = tls::connector(ca.as_deref())?;
    // As in chapter 03: look the name up, connect over TCP, and start the deadline.
    let tcp = http::connect(&url, connect_timeout)?;
    let tcp = http::Deadline::new(tcp, deadline);
    // New: the TLS handshake, over the deadline's stream, so it counts against the deadline
    // too. It checks the certificate against the URL's host name, and sends that name to
    // the server (SNI). Python: s = ctx.wrap_socket(s, server_hostname=host)
    let mut stream = tls::handshake(&connector, &url.host, tcp)?;
    // ANCHOR_END: connect

    // ANCHOR: fetch
    // From here on, chapter 03 word for word: `exchange` takes any stream that can be read
    // and written, and a TLS stream is one. It encrypts what we write, decrypts what we read.
    let request = http::request(&url);
    let response =
        http::exchange(&mut stream, &request).with_context(|| format!("GET {url} failed"))?;
    drop(stream);

    // As in chapter 03: the header came from the network, so it is printed escaped.
    for line in response.head.split("\r\n") {
        println!("{}", printable(line.as_bytes()));
    }
    println!();
    // ANCHOR_END: fetch

    if !(200..=299).contains(&response.status) {
        bail!(
            "the server answered {}; nothing saved",
            printable(response.status_line.as_bytes())
        );
    }
    // As in chapter 03: through a temporary file, so a failure never leaves half a page.
    http::save_body(&outfile, &response.body)?;
    println!(
        "Saved {} bytes to {}",
        response.body.len(),
        outfile.display()
    );
    Ok(())
}

//! 03_http_get: fetch a web page by hand over a raw TCP socket, as the notes do.
//!
//! It connects to the web server named in the URL, writes an HTTP/1.1 `GET` request by hand,
//! reads the whole response until the server closes the connection, prints the status line and
//! the headers, and saves the body to a file.
//!
//! Everything runs on this machine with the static-file server of chapter 17, in two terminals:
//!
//! ```text
//! terminal 1$ cargo run --bin 17_http_server
//! terminal 2$ cargo run --bin 03_http_get -- http://127.0.0.1:8000/03_http_get.md
//! HTTP/1.1 200 OK
//! Server: socket-workbook
//! Content-Type: text/markdown; charset=utf-8
//! Content-Length: ...
//! Connection: close
//!
//! Saved ... bytes to 03_http_get.md
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 03`. It works with real web servers too
//! (`cargo run --bin 03_http_get -- http://example.com/`), if your machine can reach them.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use socket_workbook::http::{self, Url};
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 03_http_get URL [OUTFILE]

  URL      http://HOST[:PORT][/PATH] (port 80 and path / unless given)
  OUTFILE  where to save the body (default: the last part of the URL's path, such as
           page.html for http://host/docs/page.html, or index.html when the path ends in /)

Prints the status line and the headers, saves the body, and says how many bytes it saved.
Redirects are shown, not followed. For https:// URLs, use 04_https_get.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let url: Url = args.next_required("URL");
    let outfile: Option<PathBuf> = args.next_optional("OUTFILE");
    args.finish();
    if url.scheme == "https" {
        bail!("{url} needs TLS, which this plain-TCP client does not speak; use 04_https_get");
    }
    let outfile = outfile.unwrap_or_else(|| url.file_name());

    // ANCHOR: connect
    // Python: s.connect(('www.sina.com.cn', 80)) looks the name up and connects in one call.
    // We do the two steps apart so that each can fail with its own message.
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| anyhow!("could not find the address of {}: {e}", url.host))?
        .collect();
    // A name may have several addresses (IPv4 and IPv6): `connect` tries each in turn.
    let mut stream = TcpStream::connect(&addrs[..]).map_err(|e| {
        let (host, port) = (&url.host, url.port);
        anyhow!("could not connect to {host} port {port}: {e}; is a web server running there?")
    })?;
    // A server that never finishes its answer must not make us wait forever.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .context("could not set a read timeout")?;
    // ANCHOR_END: connect

    // ANCHOR: fetch
    // HTTP says the client speaks first: send the request, then read the response until the
    // server hangs up (src/http.rs, quoted in the chapter).
    let request = http::request(&url);
    let response =
        http::exchange(&mut stream, &request).with_context(|| format!("GET {url} failed"))?;
    drop(stream); // Python: s.close()

    // Python: print(header.decode('utf-8'))
    for line in response.head.lines() {
        println!("{line}");
    }
    println!();
    // ANCHOR_END: fetch

    // ANCHOR: status
    match response.status {
        200..=299 => {}
        300..=399 => {
            let location = response
                .header("Location")
                .unwrap_or("(no Location header)");
            println!("Redirected to {location}: not followed; run 03_http_get with that URL.");
            return Ok(());
        }
        _ => bail!(
            "the server answered {}; nothing saved",
            response.status_line
        ),
    }
    // Python: with open('sina.html', 'wb') as f: f.write(html)
    http::save_body(&outfile, &response.body)?;
    println!(
        "Saved {} bytes to {}",
        response.body.len(),
        outfile.display()
    );
    // ANCHOR_END: status
    Ok(())
}

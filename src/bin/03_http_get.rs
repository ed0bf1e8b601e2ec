//! 03_http_get: fetch a web page by hand over a raw TCP socket, as the notes do.
//!
//! It connects to the web server named in the URL, writes an HTTP/1.1 `GET` request by hand,
//! reads the whole response until the server closes the connection, prints the status line and
//! the headers, and saves the body to a file.
//!
//! Everything runs on this machine, against the workbook's own web server (chapter 17, which
//! serves chapters/), in two terminals; the second argument saves into target/, not the repo:
//!
//! ```text
//! terminal 1$ cargo run --bin 17_http_server
//! terminal 2$ cargo run --bin 03_http_get -- http://127.0.0.1:8000/03_http_get.md target/03.md
//! HTTP/1.1 200 OK
//! Server: socket-workbook
//! Content-Type: text/markdown; charset=utf-8
//! Content-Length: ...
//! Connection: close
//!
//! Saved ... bytes to target/03.md
//! ```
//!
//! or both at once, labelled: `scripts/demo.sh 03`. It works with real web servers too
//! (`cargo run --bin 03_http_get -- http://example.com/`), if your machine can reach them.
//! It gives up connecting after 5 seconds (`--connect-timeout`), and on the whole transfer
//! after 30 seconds (`--deadline`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use socket_workbook::http::{self, Url};
use socket_workbook::output::printable;
use socket_workbook::{Args, report};

const USAGE: &str = "\
usage: 03_http_get [OPTIONS] URL [OUTFILE]

  URL      http://HOST[:PORT][/PATH] (port 80 and path / unless given)
  OUTFILE  where to save the body (default: the last part of the URL's path, such as
           page.html for http://host/docs/page.html, or index.html when the path ends in /)

Options:
  --connect-timeout SECONDS
           give up when the server has not taken the connection within this time
           (default 5)
  --deadline SECONDS
           give up when the whole answer has not come within this time after connecting
           (default 30)

Prints the status line and the headers, saves the body, and says how many bytes it saved.
Redirects are shown, not followed. For https:// URLs, use 04_https_get.
";

fn main() -> ExitCode {
    report(run())
}

fn run() -> anyhow::Result<()> {
    let mut args = Args::from_env(USAGE);
    let connect_timeout = args.seconds("--connect-timeout", 5.0);
    let deadline = args.seconds("--deadline", 30.0);
    let url: Url = args.next_required("URL");
    let outfile: Option<PathBuf> = args.next_optional("OUTFILE");
    args.finish();
    if url.scheme == "https" {
        bail!("{url} needs TLS, which this plain-TCP client does not speak; use 04_https_get");
    }
    let outfile = outfile.unwrap_or_else(|| url.file_name());

    // ANCHOR: first
    // ANCHOR: connect
    // Look the host up and connect, waiting at most --connect-timeout (src/http.rs).
    let tcp = http::connect(&url, connect_timeout)?;
    // From here on, the whole transfer must be over within --deadline: a server that never
    // finishes its answer, or drips it a byte at a time, must not make us wait forever.
    let mut stream = http::Deadline::new(tcp, deadline);
    // ANCHOR_END: connect

    // HTTP says the client speaks first: send the request, then read the response until the
    // server hangs up (src/http.rs, quoted in the chapter).
    let request = http::request(&url);
    let response =
        http::exchange(&mut stream, &request).with_context(|| format!("GET {url} failed"))?;
    drop(stream); // Python: s.close()

    // Python: print(header.decode('utf-8')). The header comes from the network: `printable`
    // (chapter 01) shows its control characters escaped, so that a line break or an escape
    // sequence hidden in a header cannot forge a line or steer the terminal.
    for line in response.head.split("\r\n") {
        println!("{}", printable(line.as_bytes()));
    }
    println!();
    // ANCHOR_END: first

    // ANCHOR: status
    match response.status {
        200..=299 => {}
        300..=399 => {
            let location = response
                .header("Location")
                .unwrap_or("(no Location header)");
            let location = printable(location.as_bytes());
            println!("Redirected to {location}: not followed; run 03_http_get with that URL.");
            return Ok(());
        }
        _ => bail!(
            "the server answered {}; nothing saved",
            printable(response.status_line.as_bytes())
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

//! The workbook's tiny shared helper.
//!
//! Only plumbing that no chapter is about lives here: reading the command line in the spirit of
//! Python's `sys.argv`, and wiring Ctrl-C so that a server blocked in `accept` wakes up and
//! stops cleanly. Code that a chapter teaches stays in that chapter's binary; once a chapter has
//! taught something that later chapters reuse, it may move here and be quoted from here.

pub mod framing;
pub mod hello;
pub mod http;
pub mod output;
pub mod server;
pub mod stats;
pub mod tls;

use std::fmt::Display;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Ends a listing: `Ok` exits 0; an error is printed as one line on stderr and exits 1.
///
/// Every binary's `main` is `fn main() -> ExitCode { report(run()) }`. Returning
/// `anyhow::Result` from `main` directly would also work, but it prints the error over several
/// lines, with a backtrace when `RUST_BACKTRACE` is set; `{:#}` prints the error and its
/// causes on one line: `error: could not connect to 127.0.0.1:9999: Connection refused ...`.
pub fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The command line of one binary: positional arguments like `sys.argv[1:]`, plus a few
/// `--options`.
///
/// Every binary reads its arguments in the same order: options first (`flag`, `option`), then
/// positional arguments in order (`next_or`, `rest`), then `finish`, which rejects anything left
/// over. `-h`/`--help` prints the usage and exits 0; a bad argument prints the problem and the
/// usage to stderr and exits 2.
pub struct Args {
    usage: &'static str,
    words: Vec<String>,
}

impl Args {
    /// Reads the process's arguments. `usage` is the whole help text, starting with `usage:`.
    pub fn from_env(usage: &'static str) -> Args {
        Args::from_words(usage, std::env::args().skip(1).collect())
    }

    /// Like `from_env`, with the arguments given (for tests).
    pub fn from_words(usage: &'static str, words: Vec<String>) -> Args {
        if words.iter().any(|w| w == "-h" || w == "--help") {
            print!("{usage}");
            std::process::exit(0);
        }
        Args { usage, words }
    }

    /// Prints `message` and the usage to stderr, then exits with status 2 (a usage error).
    pub fn usage_error(&self, message: impl Display) -> ! {
        eprintln!("error: {message}");
        eprint!("{}", self.usage);
        std::process::exit(2);
    }

    /// Removes the flag `name` from the arguments and says whether it was there. `name` is
    /// written as the user types it, dashes included: `args.flag("--verbose")`.
    pub fn flag(&mut self, name: &str) -> bool {
        Args::check_name(name);
        let before = self.words.len();
        self.words.retain(|w| w != name);
        self.words.len() != before
    }

    /// Removes the option `name` and its value, given as `--name VALUE` or `--name=VALUE`,
    /// and returns VALUE parsed as `T`. `name` is written as the user types it, dashes
    /// included: `args.option::<usize>("--threads")`.
    pub fn option<T: FromStr>(&mut self, name: &str) -> Option<T>
    where
        T::Err: Display,
    {
        Args::check_name(name);
        let prefix = format!("{name}=");
        let position = self
            .words
            .iter()
            .position(|w| w == name || w.starts_with(&prefix))?;
        let word = self.words.remove(position);
        let value = match word.strip_prefix(&prefix) {
            Some(value) => value.to_string(),
            None if position < self.words.len() => self.words.remove(position),
            None => self.usage_error(format!("{name} needs a value")),
        };
        match value.parse() {
            Ok(parsed) => Some(parsed),
            Err(e) => self.usage_error(format!("bad value {value:?} for {name}: {e}")),
        }
    }

    /// Removes `--name SECONDS` (or `--name=SECONDS`) and returns it as a `Duration`, or
    /// `default` seconds when it is absent. Fractions are allowed (`0.5`); zero, a negative
    /// number, or more than a million seconds is a usage error: a time limit of zero would mean
    /// "no limit at all" to some socket calls and "fail at once" to others.
    pub fn seconds(&mut self, name: &str, default: f64) -> Duration {
        let seconds = self.option::<f64>(name).unwrap_or(default);
        if !(seconds > 0.0 && seconds <= 1e6) {
            self.usage_error(format!(
                "{name} {seconds}: give a number of seconds above 0 and at most 1000000"
            ));
        }
        Duration::from_secs_f64(seconds)
    }

    /// Takes the next positional argument parsed as `T`, or `default` when there is none.
    pub fn next_or<T: FromStr>(&mut self, what: &str, default: &str) -> T
    where
        T::Err: Display,
    {
        let word = self
            .take_positional()
            .unwrap_or_else(|| default.to_string());
        match word.parse() {
            Ok(parsed) => parsed,
            Err(e) => self.usage_error(format!("bad {what} {word:?}: {e}")),
        }
    }

    /// Takes the next positional argument parsed as `T`; a usage error when there is none.
    pub fn next_required<T: FromStr>(&mut self, what: &str) -> T
    where
        T::Err: Display,
    {
        match self.next_optional(what) {
            Some(parsed) => parsed,
            None => self.usage_error(format!("missing {what}")),
        }
    }

    /// Takes the next positional argument parsed as `T`, if there is one.
    pub fn next_optional<T: FromStr>(&mut self, what: &str) -> Option<T>
    where
        T::Err: Display,
    {
        let word = self.take_positional()?;
        match word.parse() {
            Ok(parsed) => Some(parsed),
            Err(e) => self.usage_error(format!("bad {what} {word:?}: {e}")),
        }
    }

    /// Takes all remaining positional arguments.
    pub fn rest(&mut self) -> Vec<String> {
        let mut taken = Vec::new();
        while let Some(word) = self.take_positional() {
            taken.push(word);
        }
        taken
    }

    /// Rejects anything that is left: an unknown option or one argument too many.
    pub fn finish(self) {
        if let Some(word) = self.words.first() {
            if word.starts_with("--") {
                self.usage_error(format!("unknown option {word:?}"));
            }
            self.usage_error(format!(
                "unexpected argument {word:?}: this program takes fewer positional arguments"
            ));
        }
    }

    /// A listing that asks for `option("port")` would never match what the user typed, and
    /// the user would be told their `--port` is unknown: catch that mistake in the listing.
    fn check_name(name: &str) {
        assert!(
            name.starts_with('-'),
            "Args: write the option as the user types it, with its dashes (\"--{name}\"), \
             not \"{name}\""
        );
    }

    fn take_positional(&mut self) -> Option<String> {
        let first = self.words.first()?;
        if first.starts_with("--") {
            self.usage_error(format!("unknown option {first:?}"));
        }
        Some(self.words.remove(0))
    }
}

/// Installs a Ctrl-C (SIGINT) handler and returns the flag it sets.
///
/// A server spends its life blocked in `accept` or `recv_from`, so setting a flag alone would
/// not be noticed until the next client came. `wake` is called right after the flag is set: it
/// should poke the server's own socket (connect to the listener, send itself a datagram) so the
/// blocked call returns and the loop can look at the flag.
pub fn stop_on_ctrl_c(wake: impl Fn() + Send + 'static) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        wake();
    })
    .map_err(|e| anyhow::anyhow!("could not install the Ctrl-C handler: {e}"))?;
    Ok(stop)
}

/// A connected pair of TCP streams on loopback: (our end, the peer's end). The demonstrations
/// of chapters 15 and 16 use it to have both ends of one connection in one program.
pub fn loopback_pair() -> anyhow::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| anyhow::anyhow!("could not bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr()?;
    let ours = TcpStream::connect(addr)
        .map_err(|e| anyhow::anyhow!("could not connect to {addr}: {e}"))?;
    let (theirs, _) = listener
        .accept()
        .map_err(|e| anyhow::anyhow!("could not accept on {addr}: {e}"))?;
    Ok((ours, theirs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Args {
        Args::from_words(
            "usage: test\n",
            words.iter().map(|w| w.to_string()).collect(),
        )
    }

    #[test]
    fn options_then_positionals() {
        let mut a = args(&["127.0.0.1:1", "--threads", "4", "--slow", "x", "--n=3"]);
        assert!(a.flag("--slow"));
        assert!(!a.flag("--quiet"));
        assert_eq!(a.option::<usize>("--threads"), Some(4));
        assert_eq!(a.option::<u32>("--n"), Some(3));
        assert_eq!(a.option::<u32>("--absent"), None);
        let addr: std::net::SocketAddr = a.next_or("address", "127.0.0.1:9999");
        assert_eq!(addr.port(), 1);
        assert_eq!(a.rest(), vec!["x".to_string()]);
        a.finish();
    }

    #[test]
    #[should_panic(expected = "with its dashes")]
    fn an_option_name_without_dashes_is_a_mistake_in_the_listing() {
        args(&["--threads", "4"]).option::<usize>("threads");
    }

    #[test]
    fn required_and_optional_positionals() {
        let mut a = args(&["http://x/", "out.html"]);
        let url: String = a.next_required("URL");
        assert_eq!(url, "http://x/");
        assert_eq!(
            a.next_optional::<String>("OUTFILE").as_deref(),
            Some("out.html")
        );
        assert_eq!(a.next_optional::<String>("OUTFILE"), None);
        a.finish();
    }

    #[test]
    fn seconds_take_fractions_and_a_default() {
        let mut a = args(&["--connect-timeout", "0.25", "--deadline=3"]);
        assert_eq!(
            a.seconds("--connect-timeout", 5.0),
            Duration::from_millis(250)
        );
        assert_eq!(a.seconds("--deadline", 30.0), Duration::from_secs(3));
        assert_eq!(a.seconds("--absent", 5.0), Duration::from_secs(5));
        a.finish();
    }

    #[test]
    fn defaults_apply_when_absent() {
        let mut a = args(&[]);
        let addr: std::net::SocketAddr = a.next_or("address", "127.0.0.1:9999");
        assert_eq!(addr.port(), 9999);
        assert!(a.rest().is_empty());
    }
}

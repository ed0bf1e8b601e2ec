//! Printing that neither a closed stdout nor a hostile peer can turn against the program.
//!
//! - `logln!` is `println!` that never panics: when stdout is closed (`server | head -n 2`,
//!   and `head` has quit), `println!` panics in whichever thread logs (chapter 16), so one
//!   log line could kill a connection's thread or a pool's worker. A server logs with
//!   `logln!` and goes on serving; the lost line is the only cost.
//! - `printable` shows bytes from the network as text that cannot steer the terminal: a peer
//!   that sends `\x1b[2J` would clear your screen if it were printed raw, and one that sends
//!   `\r` could overwrite a line you already trust (chapter 01 explains this once).

use std::fmt;
use std::io::Write;

/// Like `println!`, but a failed write (closed or broken stdout) is ignored instead of
/// panicking.
#[macro_export]
macro_rules! logln {
    ($($arg:tt)*) => {
        $crate::output::log_line(format_args!($($arg)*))
    };
}

/// Writes one line to stdout and ignores failure. Use it through `logln!`.
pub fn log_line(line: fmt::Arguments) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|()| out.write_all(b"\n"));
}

/// Bytes from the network as text that is safe to print: bytes that are not UTF-8 become
/// `\u{FFFD}` (the replacement character), and control characters (ESC, BEL, CR, LF, ...)
/// are shown escaped, as `\x1b`, `\r`, `\n`, instead of being obeyed by the terminal.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if c.is_control() => shown.extend(c.escape_default()),
            c => shown.push(c),
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable(b"Hello, Ada!"), "Hello, Ada!");
        assert_eq!(
            printable(b"\x1b]0;PWNED\x07\x1b[2J"),
            "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J"
        );
        assert_eq!(printable(b"a\r\nb\tc"), "a\\r\\nb\\tc");
        assert_eq!(printable("Grüße, 世界".as_bytes()), "Grüße, 世界");
        assert_eq!(printable(b"bad \xff byte"), "bad \u{fffd} byte");
        // C1 controls (U+0080..U+009F) steer some terminals too.
        assert_eq!(printable("x\u{9b}2J".as_bytes()), "x\\u{9b}2J");
    }
}

//! Helpers for the chat room of chapters 21 and 22: `Chatter`, a raw line client that does
//! what `nc` does, and `ChatClient`, the 22_chat_client binary run with a pipe for its
//! keyboard. Every read has a timeout (`TIMEOUT`), and nothing here sleeps.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;

use super::{Server, TIMEOUT, bin, connect, text};

/// The server's first line to every client.
pub const WELCOME: &str = "Welcome! Your name?";

/// One raw client: lines out, lines in, as `nc` or a Python script would.
pub struct Chatter {
    pub name: String,
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Chatter {
    /// Connects and reads the welcome line.
    pub fn connect(server: &Server) -> Chatter {
        Chatter::over(connect(server.socket_addr()))
    }

    /// Reads the welcome line on a connection made by the caller (with options of its own).
    pub fn over(stream: TcpStream) -> Chatter {
        // Lines go out one write each; Nagle's algorithm would hold them back (chapter 14).
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut chatter = Chatter {
            name: String::new(),
            stream,
            reader,
        };
        chatter.expect("the welcome", WELCOME);
        chatter
    }

    /// Connects, sends `name`, and reads `* You are NAME; others here: N`. From then on the
    /// client is in the room: a line said by anyone after this reaches it.
    pub fn join(server: &Server, name: &str) -> Chatter {
        Chatter::connect(server).named(name)
    }

    /// Sends `name` and reads `* You are NAME; others here: N` (NAME may have a number added).
    pub fn named(mut self, name: &str) -> Chatter {
        self.say(name);
        let you = self.line();
        let given = you
            .strip_prefix("* You are ")
            .and_then(|rest| rest.split_once(';'))
            .map(|(name, _)| name.to_string())
            .unwrap_or_else(|| {
                panic!("after the name {name:?}: expected \"* You are {name}; others here: N\", got {you:?}")
            });
        self.name = given;
        self
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: could not send: {e}", self.name));
    }

    /// Sends one line, adding `\n`.
    pub fn say(&mut self, line: &str) {
        self.send(format!("{line}\n").as_bytes());
    }

    /// The next line, without its `\n`. Panics (in words) at the end of the stream or after
    /// `TIMEOUT`.
    pub fn line(&mut self) -> String {
        match self.next_line() {
            Some(line) => line,
            None => panic!(
                "{}: the server closed the connection instead of sending a line",
                self.who()
            ),
        }
    }

    /// The next line, or `None` at the end of the stream (a reset counts as the end).
    pub fn next_line(&mut self) -> Option<String> {
        let mut raw = Vec::new();
        match self.reader.read_until(b'\n', &mut raw) {
            Ok(0) => None,
            Ok(_) => {
                assert!(
                    raw.ends_with(b"\n"),
                    "{}: a line without a newline before the end: {}",
                    self.who(),
                    text(&raw)
                );
                raw.pop();
                Some(String::from_utf8_lossy(&raw).into_owned())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
            Err(e) => panic!("{}: no line within {TIMEOUT:?}: {e}", self.who()),
        }
    }

    /// Reads the next line and fails unless it is exactly `want`.
    #[track_caller]
    pub fn expect(&mut self, what: &str, want: &str) {
        let got = self.line();
        assert!(
            got == want,
            "{} ({what}): expected {want:?}, got {got:?}",
            self.who()
        );
    }

    /// Everything until the end of the stream (a reset counts as the end).
    pub fn rest(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buffer = [0u8; 65536];
        loop {
            match self.reader.read(&mut buffer) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
                Err(e) => panic!(
                    "{}: the connection did not end within {TIMEOUT:?}: {e}",
                    self.who()
                ),
            }
        }
    }

    /// Closes the sending side (end of stream for the server), as Ctrl-D in `nc` does.
    pub fn shut_down(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    /// The socket, for options.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    fn who(&self) -> String {
        if self.name.is_empty() {
            "a client".to_string()
        } else {
            format!("client {}", self.name)
        }
    }
}

/// 22_chat_client, running, with a pipe for its keyboard and its output read line by line.
/// Killed when dropped.
pub struct ChatClient {
    child: Child,
    keyboard: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line seen so far.
    pub seen: Vec<String>,
    stderr: Receiver<String>,
}

impl ChatClient {
    /// Starts 22_chat_client with `args`.
    pub fn start(args: &[&str]) -> ChatClient {
        ChatClient::start_command(Command::new(bin("22_chat_client")).args(args))
    }

    /// Starts another chat client program (such as scripts/chat_client.py) the same way.
    pub fn start_command(command: &mut Command) -> ChatClient {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("could not start the chat client");
        let keyboard = child.stdin.take();
        let out = child.stdout.take().expect("stdout is piped");
        let mut err = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let (err_sender, stderr) = mpsc::channel();
        thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            let _ = err_sender.send(all);
        });
        ChatClient {
            child,
            keyboard,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Types a line (adds `\n`).
    pub fn type_line(&mut self, line: &str) {
        let keyboard = self.keyboard.as_mut().expect("the keyboard is still open");
        keyboard
            .write_all(format!("{line}\n").as_bytes())
            .expect("could not type into 22_chat_client");
    }

    /// Ends the input, as Ctrl-D does.
    pub fn end_input(&mut self) {
        self.keyboard = None;
    }

    /// Waits for the next stdout line; fails unless it is exactly `want`.
    #[track_caller]
    pub fn expect(&mut self, want: &str) {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => {
                self.seen.push(line.clone());
                assert!(
                    line == want,
                    "22_chat_client printed {line:?}, expected {want:?}; before it: {:#?}",
                    self.seen
                );
            }
            Err(e) => panic!(
                "22_chat_client printed no line {want:?} within {TIMEOUT:?} ({e:?}); it printed: {:#?}",
                self.seen
            ),
        }
    }

    /// Waits for the process to end; returns its status, its remaining stdout lines and its
    /// stderr.
    pub fn wait_exit(&mut self) -> (ExitStatus, Vec<String>, String) {
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(TIMEOUT) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "22_chat_client did not end within {TIMEOUT:?}; it printed {:#?} then {rest:#?}",
                    self.seen
                ),
            }
        }
        let stderr = self.stderr.recv_timeout(TIMEOUT).unwrap_or_default();
        let status = self.child.wait().expect("could not reap 22_chat_client");
        (status, rest, stderr)
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

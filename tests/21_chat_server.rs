//! Checks 21_chat_server against raw line clients written here (what `nc` and `telnet` do),
//! and against the real client (22). Run with `cargo test --test 21_chat_server`.
//!
//! Every check waits on lines, never on time: a client is in the room once it has read
//! `* You are NAME; ...`, and anything said after that reaches it.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::thread;

use common::chat::{ChatClient, Chatter};
use common::{Server, TIMEOUT, text};

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start("21_chat_server", &args)
}

#[test]
fn the_real_pair_chats() {
    let mut server = start(&[]);
    let mut bob = ChatClient::start(&[&server.addr, "Bob"]);
    bob.expect("Welcome! Your name?");
    bob.expect("* You are Bob; others here: 0");
    let mut ann = ChatClient::start(&[&server.addr, "Ann"]);
    ann.expect("Welcome! Your name?");
    ann.expect("* You are Ann; others here: 1");
    bob.expect("* Ann joined");
    ann.type_line("Hi Bob");
    bob.expect("Ann: Hi Bob");
    bob.type_line("Hi Ann, bye Ann");
    ann.expect("Bob: Hi Ann, bye Ann");
    // Ann's end of input says /quit for her; the server closes, and she exits.
    ann.end_input();
    let (status, rest, stderr) = ann.wait_exit();
    assert_eq!(rest, ["The server closed the connection."], "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
    bob.expect("* Ann left");
    bob.type_line("/quit");
    let (status, rest, stderr) = bob.wait_exit();
    assert_eq!(rest, ["The server closed the connection."], "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
    server.expect_line("joined as Bob");
    server.expect_line("joined as Ann");
}

#[test]
fn every_line_reaches_every_other_client_in_order() {
    let server = start(&[]);
    const CLIENTS: usize = 6;
    const LINES: usize = 20;
    let mut clients: Vec<Chatter> = Vec::new();
    for i in 0..CLIENTS {
        let mut newcomer = Chatter::join(&server, &format!("c{i}"));
        for earlier in &mut clients {
            earlier.expect("a newcomer", &format!("* {} joined", newcomer.name));
        }
        newcomer.name = format!("c{i}");
        clients.push(newcomer);
    }
    // All talk at once, each from a thread of its own, then each reads what the others said.
    let talkers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            thread::spawn(move || {
                for n in 0..LINES {
                    client.say(&format!("line {n} from {}", client.name));
                }
                let mut next = [0usize; CLIENTS]; // the next line number wanted from each
                for _ in 0..LINES * (CLIENTS - 1) {
                    let line = client.line();
                    let (who, said) = line
                        .split_once(": ")
                        .unwrap_or_else(|| panic!("{}: not a chat line: {line:?}", client.name));
                    let sender: usize = who[1..].parse().expect("a sender c0..c5");
                    assert_ne!(who, client.name, "a client got its own line back: {line:?}");
                    let want = format!("line {} from {who}", next[sender]);
                    assert_eq!(said, want, "{}: {who}'s lines out of order", client.name);
                    next[sender] += 1;
                }
                client
            })
        })
        .collect();
    let mut clients: Vec<Chatter> = talkers
        .into_iter()
        .map(|t| t.join().expect("a client's checks failed (see above)"))
        .collect();
    // Nothing more is waiting for anyone: the next line each hears is c0's last word.
    clients[0].say("the end");
    for client in &mut clients[1..] {
        client.expect("after every line was read", "c0: the end");
    }
}

#[test]
fn joined_and_left_are_told_for_quit_and_for_end_of_stream() {
    let mut server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut bob = Chatter::join(&server, "Bob");
    ada.expect("Bob joins", "* Bob joined");
    let carl = Chatter::join(&server, "Carl");
    ada.expect("Carl joins", "* Carl joined");
    bob.expect("Carl joins", "* Carl joined");
    // Carl closes his side (Ctrl-D in nc): he has left.
    carl.shut_down();
    ada.expect("Carl's end of stream", "* Carl left");
    bob.expect("Carl's end of stream", "* Carl left");
    // Bob says /quit, as telnet sends it, with \r\n: the \r is not part of the line.
    bob.send(b"/quit\r\n");
    assert_eq!(
        bob.rest(),
        b"",
        "after /quit the server closes, saying nothing more"
    );
    ada.expect("Bob's /quit", "* Bob left");
    server.expect_line("joined as Carl");
    // A first line of /quit leaves before joining: nobody hears of it.
    let mut shy = Chatter::connect(&server);
    shy.say("/quit");
    assert_eq!(shy.rest(), b"");
    ada.say("anyone?");
    let mut dan = Chatter::join(&server, "Dan");
    ada.expect("the next newcomer, not the shy one", "* Dan joined");
    dan.say("me");
    ada.expect("Dan", "Dan: me");
}

#[test]
fn telnet_lines_lose_their_carriage_return_and_empty_lines_are_not_sent() {
    let server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut tel = Chatter::connect(&server);
    tel.send(b"Tel\r\n");
    assert_eq!(tel.line(), "* You are Tel; others here: 1");
    ada.expect("Tel joins", "* Tel joined");
    tel.send(b"hello\r\n\r\n\nthere\r\n");
    ada.expect("a telnet line", "Tel: hello");
    ada.expect("empty lines are skipped", "Tel: there");
}

#[test]
fn a_taken_name_and_bad_names_are_refused() {
    let mut server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut second = Chatter::connect(&server);
    second.say("Ada");
    let told = second.line();
    if told.starts_with("* You are Ada2;") {
        // Exercise 2 (unique names) is solved: the second Ada became Ada2.
        ada.expect("Ada2 joins", "* Ada2 joined");
        second.say("/quit");
        ada.expect("Ada2 leaves", "* Ada2 left");
    } else {
        assert_eq!(told, "* Disconnected: the name Ada is taken; try another");
        assert_eq!(text(&second.rest()), text(b""));
        server.expect_line("closed: the name Ada is taken; try another");
    }
    // Once Ada has left, the name is free again.
    let bob = Chatter::join(&server, "Bob");
    ada.expect("Bob joins", "* Bob joined");
    ada.say("/quit");
    assert_eq!(text(&ada.rest()), text(b""));
    let mut ada = Chatter::join(&server, "Ada");
    assert_eq!(ada.name, "Ada");
    // Letters of any script, digits, '-', '_' and '.', at most 20 characters.
    let long = "n".repeat(20);
    let mut good_ones = Vec::new();
    for good in ["李雷", "x-1_y.z", &long] {
        let client = Chatter::join(&server, good);
        assert_eq!(client.name, good);
        ada.expect("a good name", &format!("* {good} joined"));
        good_ones.push(client);
    }
    let too_long = "n".repeat(21);
    for bad in ["", "two words", "Bob: hi", "* Eve", "\x1b[2J", &too_long] {
        let mut client = Chatter::connect(&server);
        client.say(bad);
        let told = String::from_utf8_lossy(&client.rest()).into_owned();
        assert!(
            told.starts_with("* Disconnected: bad name \"")
                && told.ends_with("\": use 1 to 20 letters, digits, '-', '_' or '.'\n"),
            "the name {bad:?}: expected the bad-name notice, got {told:?}"
        );
        server.expect_line("closed: bad name");
    }
    // Nobody heard of the bad names: the next line Ada hears is the next one said.
    good_ones[0].say("hello");
    ada.expect("after the bad names", "李雷: hello");
    drop(bob);
}

#[test]
fn control_characters_reach_the_others_escaped() {
    let server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut eve = Chatter::join(&server, "Eve");
    ada.expect("Eve joins", "* Eve joined");
    eve.send(b"\x1b]0;owned\x07\x1b[2J tab\there \xff\n");
    ada.expect(
        "escaped",
        "Eve: \\u{1b}]0;owned\\u{7}\\u{1b}[2J tab\\there \u{fffd}",
    );
}

#[test]
fn a_line_too_long_is_refused_and_its_sender_disconnected() {
    let mut server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut max = Chatter::join(&server, "Max");
    ada.expect("Max joins", "* Max joined");
    // Exactly 1024 bytes is a line; 1025 is one byte too many.
    let longest = "y".repeat(1024);
    max.say(&longest);
    ada.expect("1024 bytes", &format!("Max: {longest}"));
    max.say(&"y".repeat(1025));
    assert_eq!(
        text(&max.rest()),
        text(b"* Disconnected: line longer than 1024 bytes\n")
    );
    ada.expect("1025 bytes", "* Max left: line longer than 1024 bytes");
    server.expect_line("closed: line longer than 1024 bytes");

    // A megabyte with no newline at all: the server stops reading after 1026 bytes.
    let mut huge = Chatter::join(&server, "Huge");
    ada.expect("Huge joins", "* Huge joined");
    let stream: TcpStream = huge.stream().try_clone().unwrap();
    let sender = thread::spawn(move || {
        use std::io::Write;
        let mut stream = stream;
        // The server closes the connection long before a megabyte is taken: this fails.
        let _ = stream.write_all(&vec![b'z'; 1 << 20]);
    });
    let rest = huge.rest();
    sender.join().unwrap();
    // The notice is best effort here: the server closes with bytes unread, which may reset
    // the connection before we read it. The connection ends, and the others hear why.
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest == "* Disconnected: line longer than 1024 bytes\n",
        "{rest:?}"
    );
    ada.expect("a megabyte", "* Huge left: line longer than 1024 bytes");
}

/// Connects with a 4 KB receive buffer, so that the kernel holds little for this client.
fn small_buffer_client(addr: SocketAddr) -> Chatter {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), TIMEOUT).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    Chatter::over(stream)
}

#[test]
fn a_client_that_never_reads_is_sent_away_and_the_others_keep_receiving() {
    let mut server = start(&["--queue", "50"]);
    let mut slow = small_buffer_client(server.socket_addr()).named("slow");
    let mut fast = Chatter::join(&server, "fast");
    let mut talk = Chatter::join(&server, "talk");
    fast.expect("talk joins", "* talk joined");
    // slow reads nothing more. talk says lines of 1000 bytes, 25 at a time, and fast reads
    // each batch before the next, so fast never has more than 26 lines waiting.
    let filler = "x".repeat(990);
    let said = |n: usize| format!("{n:06} {filler}");
    let mut gone = "* slow left: too far behind: 50 lines waiting (--queue)";
    // Chapter 21b's exercise (too slow) is solved: the others hear this instead.
    let solved = "* slow was too slow and left";
    let (mut sent, mut heard_gone) = (0, false);
    while !heard_gone {
        assert!(sent < 20_000, "slow was never sent away; 20 MB were said");
        for n in sent..sent + 25 {
            talk.say(&said(n));
        }
        for n in sent..sent + 25 {
            let mut line = fast.line();
            if line == solved {
                gone = solved;
            }
            if line == gone {
                heard_gone = true;
                line = fast.line();
            }
            assert!(
                line == format!("talk: {}", said(n)),
                "fast missed line {n}: got {line:?}"
            );
        }
        sent += 25;
    }
    server.expect_line("closed: too far behind: 50 lines waiting (--queue)");
    // The others go on as before.
    talk.expect("slow leaves", gone);
    talk.say("still here?");
    fast.expect("after slow left", "talk: still here?");
    // slow, reading at last, finds what was written to it before it was sent away: the
    // first of talk's lines, in order, then the end of the stream.
    let rest = String::from_utf8_lossy(&slow.rest()).into_owned();
    let mut lines = rest.lines();
    assert_eq!(lines.next(), Some("* fast joined"));
    assert_eq!(lines.next(), Some("* talk joined"));
    let mut n = 0;
    for line in lines {
        let whole = format!("talk: {}", said(n));
        if line != whole {
            // The last line may be cut short, and the notice after it is best effort.
            assert!(
                whole.starts_with(line) || line.contains("* Disconnected: too far behind"),
                "slow's line {n} is {line:?}"
            );
            break;
        }
        n += 1;
    }
    assert!(n < sent, "slow cannot have had every line");
    eprintln!("slow took {n} of {sent} lines of 1000 bytes before it was sent away");
}

#[test]
fn an_idle_client_is_sent_away() {
    let mut server = start(&["--idle-timeout", "0.3"]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut bob = Chatter::join(&server, "Bob");
    ada.expect("Bob joins", "* Bob joined");
    // Ada and Bob both fall silent; each is sent away, and whoever is left is told.
    let told = "* Disconnected: timed out after 0.3 s (--idle-timeout)\n";
    let (first, second) = {
        let a = String::from_utf8_lossy(&ada.rest()).into_owned();
        let b = String::from_utf8_lossy(&bob.rest()).into_owned();
        (a, b)
    };
    for got in [&first, &second] {
        assert!(got.ends_with(told), "an idle client got {got:?}");
    }
    server.expect_line("closed: timed out after 0.3 s (--idle-timeout)");
}

#[test]
fn one_client_too_many_is_told_busy() {
    let mut server = start(&["--max-clients", "1"]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut third = common::connect(server.socket_addr());
    assert_eq!(
        text(&common::read_to_end(&mut third)),
        text(b"Busy, try later.\n")
    );
    server.expect_line("Turned away");
    ada.say("/quit");
    assert_eq!(ada.rest(), b"");
    server.expect_line("closed.");
    let again = Chatter::join(&server, "Bob");
    assert_eq!(again.name, "Bob");
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["--queue", "0"][..],
        &["--max-clients", "0"],
        &["--idle-timeout", "0"],
        &["nowhere"],
    ] {
        let output = common::run("21_chat_server", args);
        assert_eq!(output.code(), Some(2), "{args:?}: {output:?}");
        assert!(
            output.stderr.contains("usage: 21_chat_server"),
            "{output:?}"
        );
    }
}

#[test]
fn a_python_client_in_the_notes_style_chats() {
    use std::process::Command;
    if Command::new("python3").arg("--version").output().is_err() {
        return eprintln!("skipped: python3 is not installed");
    }
    let server = start(&[]);
    let mut ada = Chatter::join(&server, "Ada");
    let mut python = ChatClient::start_command(
        Command::new("python3")
            .arg(common::root().join("scripts/chat_client.py"))
            .args([&server.addr, "Py"]),
    );
    python.expect("Welcome! Your name?");
    python.expect("* You are Py; others here: 1");
    ada.expect("Py joins", "* Py joined");
    ada.say("hello, Py");
    python.expect("Ada: hello, Py");
    python.type_line("hello from Python, 你好");
    ada.expect("Py's line", "Py: hello from Python, 你好");
    python.end_input(); // the script says /quit
    ada.expect("Py leaves", "* Py left");
    let (status, rest, stderr) = python.wait_exit();
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(rest, ["The server closed the connection."], "{stderr}");
}

// Exercises of chapter 21. Each fails on the listing as shipped.

#[test]
#[ignore = "exercise: /who answers the asker alone with everyone's names, sorted"]
fn exercise_who() {
    let server = start(&[]);
    let mut room: Vec<Chatter> = Vec::new();
    for name in ["Zed", "Ada", "Mia", "Carl", "Bob", "Eve"] {
        let newcomer = Chatter::join(&server, name);
        for earlier in &mut room {
            earlier.expect("a newcomer", &format!("* {name} joined"));
        }
        room.push(newcomer);
    }
    let [zed, ada, mia, carl, bob, eve] = &mut room[..] else {
        unreachable!()
    };
    let everyone = "the reply to /who: one line, `* Here: ` and everyone in the room, the asker \
                    included, sorted, separated by `, `";
    // Mia asks, and says `done` right after. Once Ada has heard `done`, Mia's /who has been
    // handled: a line Ada says now reaches Mia after the reply.
    mia.send(b"/who\ndone\n");
    ada.expect(
        "after Mia's /who, nothing for Ada until Mia's next line",
        "Mia: done",
    );
    ada.say("first");
    mia.expect(everyone, "* Here: Ada, Bob, Carl, Eve, Mia, Zed");
    mia.expect("the line said after the reply", "Ada: first");
    for client in [&mut *zed, &mut *carl, &mut *bob, &mut *eve] {
        for said in ["Mia: done", "Ada: first"] {
            client.expect("after Mia's /who, only the lines said", said);
        }
    }
    // Carl leaves; Bob asks (as telnet would, with \r\n).
    carl.say("/quit");
    for client in [&mut *zed, &mut *ada, &mut *mia, &mut *bob, &mut *eve] {
        client.expect("Carl leaves", "* Carl left");
    }
    bob.send(b"/who\r\ndone\n");
    ada.expect(
        "after Bob's /who, nothing for Ada until Bob's next line",
        "Bob: done",
    );
    // A line said after Bob's /who was handled: Bob hears the reply first, then it.
    ada.say("second");
    bob.expect(
        &format!("{everyone} (Carl has left)"),
        "* Here: Ada, Bob, Eve, Mia, Zed",
    );
    bob.expect("the line said after the reply", "Ada: second");
    // Nobody else heard anything of Bob's /who.
    for client in [&mut *zed, &mut *mia, &mut *eve] {
        for said in ["Bob: done", "Ada: second"] {
            client.expect("after Bob's /who, only the lines said", said);
        }
    }
}

#[test]
#[ignore = "exercise: a taken name gets the smallest free number from 2 up"]
fn exercise_unique_names() {
    let server = start(&[]);
    let mut first = Chatter::join(&server, "Ada");
    let named = |wanted: &str, want: &str, what: &str, first: &mut Chatter| {
        let client = Chatter::connect(&server).named(wanted);
        assert!(
            client.name == want,
            "{what}: a client asking for {wanted:?} should be {want:?}, but was told \"* You \
             are {}\"",
            client.name
        );
        first.expect(what, &format!("* {want} joined"));
        client
    };
    let mut second = named("Ada", "Ada2", "the second Ada", &mut first);
    let third = named("Ada", "Ada3", "the third Ada", &mut first);
    // The name given is the name used: in lines said, and when leaving.
    second.say("hi");
    first.expect("a line from Ada2", "Ada2: hi");
    second.say("/quit");
    first.expect("Ada2 leaves", "* Ada2 left");
    let fourth = named(
        "Ada",
        "Ada2",
        "a new Ada once Ada2 has left (the smallest free number)",
        &mut first,
    );
    let asked_ada2 = named("Ada2", "Ada22", "asking for a taken Ada2", &mut first);
    let r2 = named("R2", "R2", "a free R2", &mut first);
    let r22 = named("R2", "R22", "asking for a taken R2", &mut first);
    let long = "n".repeat(20);
    let long1 = named(&long, &long, "a free name of 20 characters", &mut first);
    let long2 = named(
        &long,
        &format!("{long}2"),
        "a taken name of 20 characters",
        &mut first,
    );
    drop((third, fourth, asked_ada2, r2, r22, long1, long2));
}

#[test]
#[ignore = "exercise: a reader sent away is announced as `* NAME was too slow and left`"]
fn exercise_too_slow() {
    let server = start(&["--queue", "50"]);
    let _slow = small_buffer_client(server.socket_addr()).named("slow");
    let mut fast = Chatter::join(&server, "fast");
    let mut talk = Chatter::join(&server, "talk");
    fast.expect("talk joins", "* talk joined");
    let mut max = Chatter::join(&server, "Max");
    fast.expect("Max joins", "* Max joined");
    talk.expect("Max joins", "* Max joined");
    // As in the chapter's test: slow reads nothing, talk says lines of 1000 bytes, 25 at a
    // time, and fast reads each batch before the next.
    let filler = "x".repeat(990);
    let said = |n: usize| format!("{n:06} {filler}");
    let want = "* slow was too slow and left";
    let (mut sent, mut told) = (0, false);
    while !told {
        assert!(
            sent < 10_000,
            "slow never read and should have been sent away long ago, but after 10 MB the \
             others were still not told `{want}`"
        );
        for n in sent..sent + 25 {
            talk.say(&said(n));
        }
        for n in sent..sent + 25 {
            let mut line = fast.line();
            if line.starts_with("* slow") {
                assert!(
                    line == want,
                    "when slow was sent away, the others were told {line:?}; a reader sent away \
                     for being slow is announced, with no reason after it, as `{want}`"
                );
                assert!(!told, "the others were told twice that slow was sent away");
                told = true;
                line = fast.line();
                assert!(
                    !line.starts_with("* slow"),
                    "after `{want}`, the others were told again: {line:?}"
                );
            }
            assert!(
                line == format!("talk: {}", said(n)),
                "fast missed talk's line {n}: got {line:?}"
            );
        }
        sent += 25;
    }
    talk.expect("slow is sent away: the others are told once", want);
    // Other ways of leaving are announced as before.
    max.say(&"y".repeat(1025));
    for client in [&mut fast, &mut talk] {
        client.expect(
            "a line too long is not slowness: that leave keeps its reason",
            "* Max left: line longer than 1024 bytes",
        );
    }
    talk.say("/quit");
    fast.expect("a /quit is a normal leave", "* talk left");
}

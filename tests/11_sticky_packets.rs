//! Checks 11_sticky_packets: the glued writes and the split write must show every run. Run with
//! `cargo test --test 11_sticky_packets`.

mod common;

use common::run;

/// Parts 1 and 2: the same every run, because every write finishes before the first read.
const FIXED: &str = "\
Part 1: four small writes, then the reads
sender:   write 1: \"hello\"
sender:   write 2: \"how\"
sender:   write 3: \"are\"
sender:   write 4: \"you\"
sender:   closed the connection
receiver: read 1: \"hellohowareyou\"
receiver: read 2: end of stream
4 writes, 1 read: TCP kept the bytes but not the boundaries between them.

Part 2: one write of 3000 bytes, read with a 1024-byte buffer like recv(1024)
sender:   write 1: 3000 bytes
receiver: read 1: 1024 bytes
receiver: read 2: 1024 bytes
receiver: read 3: 952 bytes
receiver: read 4: end of stream
1 write, 3 reads: a read never returns more than its buffer holds.

Part 3: one write of 1048576 bytes, read into a buffer of 1048576 bytes
sender:   write 1: 1048576 bytes
";

/// Checks one run's output and returns (number of reads, largest read) of part 3.
fn check_run(stdout: &str) -> (usize, usize) {
    let part3 = stdout
        .strip_prefix(FIXED)
        .unwrap_or_else(|| panic!("parts 1 and 2 differ:\n{stdout}"));
    // receiver: 1048576 bytes in N reads; the largest read was M bytes
    let line = part3.lines().next().expect("a summary line");
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let [total, reads, largest] = numbers[..] else {
        panic!("unexpected line {line:?}");
    };
    assert_eq!(total, 1024 * 1024, "{line}");
    assert_eq!(
        part3.lines().nth(1),
        Some(
            format!("1 write, {reads} reads: its receive buffer is far smaller than the write.")
                .as_str()
        )
    );
    (reads, largest)
}

#[test]
fn the_glue_and_the_splits_show_every_run() {
    for round in 1..=20 {
        let output = run("11_sticky_packets", &[]);
        assert_eq!(output.code(), Some(0), "round {round}: {output:?}");
        assert_eq!(output.stderr, "", "round {round}");
        let (reads, largest) = check_run(&output.stdout);
        // A 16 KiB receive buffer (doubled by Linux) can never hold the whole megabyte.
        assert!(reads > 1, "round {round}: 1 MiB arrived in {reads} read");
        assert!(
            largest < 128 * 1024,
            "round {round}: a read of {largest} bytes"
        );
    }
}

#[test]
fn arguments_are_refused_and_help_works() {
    let output = run("11_sticky_packets", &["--fast"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(output.stderr.contains("usage: 11_sticky_packets"));
    let help = run("11_sticky_packets", &["-h"]);
    assert_eq!(help.code(), Some(0));
    assert!(help.stdout.starts_with("usage: 11_sticky_packets"));
}

// Exercises of chapter 11. Each fails on the listing as shipped; solve the exercise, then run
// `cargo test --test 11_sticky_packets -- --ignored`.

#[test]
#[ignore = "exercise: the words of part 1 come from the command line"]
fn exercise_words_from_the_command_line() {
    let output = run("11_sticky_packets", &["one", "two", "three"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert!(
        lines.contains(&"sender:   write 3: \"three\""),
        "{}",
        output.stdout
    );
    assert!(
        lines.contains(&"receiver: read 1: \"onetwothree\""),
        "{}",
        output.stdout
    );
    assert!(
        lines
            .contains(&"3 writes, 1 read: TCP kept the bytes but not the boundaries between them.")
    );
    // Without words, the default four stay.
    let plain = run("11_sticky_packets", &[]);
    check_run(&plain.stdout);
}

#[test]
#[ignore = "exercise: --udp repeats part 1 with UDP datagrams, which keep their boundaries"]
fn exercise_udp_keeps_the_boundaries() {
    let output = run("11_sticky_packets", &["--udp"]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    let udp = output
        .stdout
        .split("Part 1 over UDP")
        .nth(1)
        .unwrap_or_else(|| panic!("no \"Part 1 over UDP\" section:\n{}", output.stdout));
    for (i, word) in ["hello", "how", "are", "you"].iter().enumerate() {
        let line = format!("receiver: read {}: {word:?}", i + 1);
        assert!(udp.contains(&line), "missing {line:?} in:\n{udp}");
    }
    assert!(udp.contains("4 writes, 4 reads"), "{udp}");
}

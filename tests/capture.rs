//! Checks scripts/capture.sh: it runs a demo under tcpdump and prints the packets, with the
//! TCP flags the chapters explain: SYN, SYN-ACK and FIN for demo 01 (chapters 01 and 02), RST
//! for a close with SO_LINGER 0 (chapters 16 and 27). Without root it says so and exits 2.
//!
//! tcpdump needs root, so the captures are skipped, with a line saying why, when the tests
//! do not run as root or tcpdump is missing (they never install it); `.ci/run` runs as root.
//! Run with `cargo test --test capture`.

mod common;

use std::fs;
use std::process::Command;

use common::{Output, bin_dir, root, run_command};

/// Whether this process runs as root (effective uid 0).
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    })
}

/// Whether the tcpdump program can be found.
fn has_tcpdump() -> bool {
    Command::new("sh")
        .args(["-c", "command -v tcpdump"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why the captures cannot run here, if they cannot.
fn cannot_capture() -> Option<&'static str> {
    if !is_root() {
        Some("skipped: tcpdump needs root, and this test does not run as root")
    } else if !has_tcpdump() {
        Some("skipped: tcpdump is not installed (apt-get install tcpdump)")
    } else {
        None
    }
}

/// Runs `scripts/capture.sh args...` with the binaries this test run built.
fn capture(args: &[&str]) -> Output {
    let output = run_command(
        Command::new("bash")
            .arg(root().join("scripts/capture.sh"))
            .args(args)
            .env("WORKBOOK_BIN_DIR", bin_dir())
            .current_dir(root()),
    );
    assert_eq!(output.code(), Some(0), "{output:#?}");
    output
}

/// The packet lines of a capture, each `... IP 127.0.0.1.A > 127.0.0.1.B: Flags [S], ...`.
fn packets(output: &Output) -> Vec<&str> {
    let start = output
        .stdout
        .find("== packets")
        .unwrap_or_else(|| panic!("no \"== packets\" header in {output:#?}"));
    output.stdout[start..]
        .lines()
        .skip(1)
        .filter(|l| l.contains(" IP "))
        .collect()
}

/// How many packets carry exactly the flags `flags` (as tcpdump writes them: `[S.]`).
fn count(packets: &[&str], flags: &str) -> usize {
    let want = format!("Flags {flags},");
    packets.iter().filter(|p| p.contains(&want)).count()
}

#[test]
fn demo_01_shows_the_handshake_data_and_the_close() {
    if let Some(why) = cannot_capture() {
        eprintln!("{why}");
        return;
    }
    let output = capture(&["01"]);
    assert!(output.stdout.contains("client | Welcome!"), "{output:#?}");
    let packets = packets(&output);
    // The client's connection and the server's own wake-up connection at Ctrl-C: each opens
    // with SYN, SYN-ACK, and closes with a FIN from each side.
    assert!(count(&packets, "[S]") >= 1, "no SYN among {packets:#?}");
    assert_eq!(
        count(&packets, "[S]"),
        count(&packets, "[S.]"),
        "each SYN is answered by one SYN-ACK: {packets:#?}"
    );
    assert!(count(&packets, "[P.]") >= 2, "no data among {packets:#?}");
    assert!(
        count(&packets, "[F.]") >= 2,
        "no FIN from both sides: {packets:#?}"
    );
    assert_eq!(
        count(&packets, "[R]") + count(&packets, "[R.]"),
        0,
        "{packets:#?}"
    );
    // Only the demo's own packets: the marker that ends the capture is not shown.
    assert!(!output.stdout.contains("UDP"), "{output:#?}");
}

#[test]
fn linger_zero_shows_a_reset_on_the_wire() {
    if let Some(why) = cannot_capture() {
        eprintln!("{why}");
        return;
    }
    let output = capture(&["27", "--experiment", "linger"]);
    let packets = packets(&output);
    // Two connections: the normal close is FIN both ways, the SO_LINGER 0 close one RST.
    let counts = [
        count(&packets, "[S]"),
        count(&packets, "[F.]"),
        count(&packets, "[R.]"),
    ];
    if output.stdout.contains("in a network namespace of its own") {
        assert_eq!(counts, [2, 2, 1], "SYN, FIN and RST counts in {packets:#?}");
    } else {
        // On the machine's own lo, other programs' packets may be there too.
        assert!(
            counts[0] >= 2 && counts[1] >= 2 && counts[2] >= 1,
            "{packets:#?}"
        );
    }
}

#[test]
fn without_root_it_says_so_and_exits_2() {
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !is_root() || !has_setpriv {
        eprintln!("skipped: needs root and setpriv to run the script as the user nobody");
        return;
    }
    // The user `nobody` may not be able to reach the workbook, so run a copy from /tmp.
    let dir = std::env::temp_dir().join(format!("workbook-capture-{}", std::process::id()));
    fs::create_dir_all(dir.join("scripts")).unwrap();
    fs::copy(
        root().join("scripts/capture.sh"),
        dir.join("scripts/capture.sh"),
    )
    .unwrap();
    make_readable(&dir);
    let output = run_command(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["bash", "scripts/capture.sh", "01"])
            .current_dir(&dir),
    );
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(output.code(), Some(2), "{output:#?}");
    assert!(
        output.stderr.starts_with("capture.sh needs root"),
        "{output:#?}"
    );
}

/// Lets every user read and enter `dir` and read its `scripts/capture.sh`.
fn make_readable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    for path in [dir.to_path_buf(), dir.join("scripts")] {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(
        dir.join("scripts/capture.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

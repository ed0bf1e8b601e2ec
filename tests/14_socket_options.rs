//! Checks 14_socket_options: every option it prints is read back with the value it should
//! have, the restart after close fails without SO_REUSEADDR and works with it, and binding a
//! port below 1024 gives the outcome the kernel's rules predict for the user running the test.
//! Run with `cargo test --test 14_socket_options`.

mod common;
#[path = "common/toolbox.rs"]
mod toolbox;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{bin, run, run_command, text};
use toolbox::{line, run_ok};

/// The number after `key` in `text`, up to the next non-digit.
fn number_after(text: &str, key: &str) -> u64 {
    let start = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {text:?}"))
        + key.len();
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .parse()
        .unwrap_or_else(|e| panic!("no number after {key:?} in {text:?}: {e}"))
}

#[test]
fn reuse_address_is_read_back() {
    let output = run_ok("14_socket_options");
    assert_eq!(
        line(&output, "a new socket"),
        "a new socket: SO_REUSEADDR = false"
    );
    assert_eq!(
        line(&output, "after set_reuse"),
        "after set_reuse_address(true): SO_REUSEADDR = true"
    );
    assert_eq!(
        line(&output, "a std TcpListener"),
        "a std TcpListener: SO_REUSEADDR = true"
    );
}

#[test]
fn restart_fails_without_reuse_and_works_with_it() {
    let output = run_ok("14_socket_options");
    let first = line(&output, "the server on ");
    let addr = first.split_whitespace().nth(3).unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{first}");
    assert!(first.ends_with("(the client then read 0 bytes)"), "{first}");
    assert_eq!(
        line(&output, "its end of that connection"),
        "its end of that connection is now in TIME_WAIT"
    );
    assert_eq!(
        line(&output, "restart without"),
        "restart without SO_REUSEADDR: AddrInUse: Address already in use (os error 98)"
    );
    assert_eq!(
        line(&output, "restart with "),
        format!("restart with SO_REUSEADDR: bound {addr} again")
    );
}

#[test]
fn buffer_sizes_are_what_the_kernel_gives() {
    let output = run_ok("14_socket_options");
    let defaults = line(&output, "a new TCP socket");
    assert!(number_after(defaults, "SO_RCVBUF = ") > 0, "{defaults}");
    assert!(number_after(defaults, "SO_SNDBUF = ") > 0, "{defaults}");
    let asked = line(&output, "asked for 4096 each");
    let (rcv, snd) = (
        number_after(asked, "SO_RCVBUF = "),
        number_after(asked, "SO_SNDBUF = "),
    );
    // Linux doubles the request; other systems may give exactly what was asked.
    if cfg!(target_os = "linux") {
        assert_eq!((rcv, snd), (8192, 8192), "{asked}");
    } else {
        assert!(rcv >= 4096 && snd >= 4096, "{asked}");
    }
}

#[test]
fn nodelay_keepalive_and_broadcast_are_read_back() {
    let output = run_ok("14_socket_options");
    assert_eq!(line(&output, "TCP_NODELAY: "), "TCP_NODELAY: false -> true");
    assert_eq!(
        line(&output, "SO_KEEPALIVE: "),
        "SO_KEEPALIVE: false -> true"
    );
    assert_eq!(
        line(&output, "SO_BROADCAST: "),
        "SO_BROADCAST: false -> true"
    );
    let idle = line(&output, "idle seconds");
    assert!(idle.ends_with(" -> 60"), "{idle}");
    // The default idle time is the system's, from net.ipv4.tcp_keepalive_time.
    if let Ok(system) = fs::read_to_string("/proc/sys/net/ipv4/tcp_keepalive_time") {
        assert_eq!(
            number_after(idle, "(TCP_KEEPIDLE): "),
            system.trim().parse::<u64>().unwrap(),
            "{idle}"
        );
    }
}

/// Whether the kernel lets the user running this test bind port 1023: it does if 1023 is at
/// or above net.ipv4.ip_unprivileged_port_start, or if we hold CAP_NET_BIND_SERVICE (bit 10
/// of the effective capabilities; root normally holds it).
fn may_bind_low_ports() -> bool {
    let start: u16 = fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(1024);
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap_or(0);
    start <= 1023 || caps & (1 << 10) != 0
}

#[test]
fn low_port_outcome_is_the_honest_one() {
    let output = run_ok("14_socket_options");
    let result = line(&output, "bind 127.0.0.1:1023: ");
    if may_bind_low_ports() {
        // Allowed, unless some other program happens to use port 1023 right now.
        assert!(
            result == "bind 127.0.0.1:1023: allowed" || result.contains("AddrInUse"),
            "{result}"
        );
    } else {
        assert!(
            result.starts_with("bind 127.0.0.1:1023: PermissionDenied: Permission denied"),
            "{result}"
        );
    }
}

#[test]
fn low_port_is_refused_to_an_ordinary_user() {
    // Only root can switch to another user; `setpriv` (util-linux) does the switch.
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let start =
        fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap_or_default();
    let has_setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !root || !has_setpriv || start.trim().parse::<u16>().unwrap_or(0) <= 1023 {
        eprintln!("skipped: needs root, setpriv, and ports below 1024 being privileged");
        return;
    }
    // The user `nobody` may not be able to reach target/, so run a copy from /tmp.
    let dir = std::env::temp_dir().join(format!("workbook-14-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("14_socket_options");
    fs::copy(bin("14_socket_options"), &copy).unwrap();
    make_readable(&dir);
    let output = run_command(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&copy)
            .current_dir(&dir),
    );
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert!(
        line(&output, "unprivileged ports start at").ends_with("runs as uid 65534"),
        "{output:?}"
    );
    assert_eq!(
        line(&output, "bind 127.0.0.1:1023"),
        "bind 127.0.0.1:1023: PermissionDenied: Permission denied (os error 13); \
         use a port of 1024 or more, or run as root"
    );
}

fn make_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(
        dir.join("14_socket_options"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn arguments_are_refused() {
    let output = run("14_socket_options", &["127.0.0.1:80"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
    assert!(
        output
            .stderr
            .starts_with("error: unexpected argument \"127.0.0.1:80\"")
    );
}

// Exercises of chapter 14. Each fails on the listing as shipped; check one with
// `scripts/exercises.sh check 14/exercise_rcvbuf_option`.

/// What this kernel reports for SO_RCVBUF after a new TCP socket asks for `size` bytes: the
/// answer the program must print (Linux doubles the request and keeps it between a minimum
/// and net.core.rmem_max doubled, so it is never simply `size`).
fn kernel_rcvbuf(size: usize) -> usize {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(size).unwrap();
    socket.recv_buffer_size().unwrap()
}

#[test]
#[ignore = "exercise: add --rcvbuf N, ask for N bytes of receive buffer and show what you got"]
fn exercise_rcvbuf_option() {
    // A small, a middle and a huge request: the kernel's answer differs from each of them.
    for asked in ["1", "10000", "100000000"] {
        let output = run("14_socket_options", &["--rcvbuf", asked]);
        assert!(
            output.code() == Some(0),
            "with --rcvbuf {asked}: expected exit status 0, got {:?}; stderr: {}",
            output.code(),
            text(output.stderr.as_bytes())
        );
        let want = format!(
            "asked for {asked}: SO_RCVBUF = {}",
            kernel_rcvbuf(asked.parse().unwrap())
        );
        let prefix = format!("asked for {asked}: ");
        let got = output
            .stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| {
                panic!(
                    "with --rcvbuf {asked}: expected a line {want:?}, but no line starts with \
                     {prefix:?}; stdout: {}",
                    text(output.stdout.as_bytes())
                )
            });
        assert!(
            got == want,
            "with --rcvbuf {asked}: expected {want:?} (what the kernel reports when the option \
             is read back), got {got:?}"
        );
        // The rest of the lesson is still there.
        line(&output, "asked for 4096 each");
    }
}

/// The kernel's default IP_TTL for new sockets (64 on Linux unless changed).
fn default_ttl() -> u32 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(64)
}

/// Runs 14_socket_options with `args` in a new network namespace (its loopback up) whose
/// default TTL is 100, or returns `None` if this system does not let the test make one.
fn with_default_ttl_100(args: &[&str]) -> Option<common::Output> {
    const SETUP: &str = "ip link set lo up && echo 100 >/proc/sys/net/ipv4/ip_default_ttl";
    // As root, a network namespace; otherwise also a user namespace in which the test is root.
    let flags = ["-n", "-rn"].into_iter().find(|flags| {
        Command::new("unshare")
            .args([flags, "sh", "-c", SETUP])
            .output()
            .is_ok_and(|probe| probe.status.success())
    })?;
    Some(run_command(
        Command::new("unshare")
            .args([flags, "sh", "-c", &format!("{SETUP} && exec \"$0\" \"$@\"")])
            .arg(bin("14_socket_options"))
            .args(args),
    ))
}

#[test]
#[ignore = "exercise: add --ttl N, set IP_TTL on the TCP connection and read it back"]
fn exercise_ttl_option() {
    let old = default_ttl();
    // The smallest and the largest TTL the kernel takes, and one between.
    for ttl in [1, 5, 255] {
        let output = run("14_socket_options", &["--ttl", &ttl.to_string()]);
        assert!(
            output.code() == Some(0),
            "with --ttl {ttl}: expected exit status 0, got {:?}; stderr: {}",
            output.code(),
            text(output.stderr.as_bytes())
        );
        let want = format!("IP_TTL: {old} -> {ttl}");
        let got = output
            .stdout
            .lines()
            .find(|l| l.starts_with("IP_TTL: "))
            .unwrap_or_else(|| {
                panic!(
                    "with --ttl {ttl}: expected a line {want:?}, but no line starts with \
                     \"IP_TTL: \"; stdout: {}",
                    text(output.stdout.as_bytes())
                )
            });
        assert!(
            got == want,
            "with --ttl {ttl}: expected {want:?} (the value before setting, then the value read \
             back after), got {got:?}"
        );
    }
    // OLD is the value read from the socket, not the usual default written down: where the
    // default TTL is 100 (in a network namespace of the test's own), --ttl 5 prints
    // `IP_TTL: 100 -> 5`.
    match with_default_ttl_100(&["--ttl", "5"]) {
        Some(output) => {
            let want = "IP_TTL: 100 -> 5";
            let got = output.stdout.lines().find(|l| l.starts_with("IP_TTL: "));
            assert!(
                got == Some(want),
                "with --ttl 5 on a system whose default TTL is 100 (a network namespace made \
                 by the test), expected {want:?}: OLD is the TTL read from the socket before \
                 setting it, not a number written in the program; got {}, exit status {:?}, \
                 stderr {}",
                got.map_or("no IP_TTL: line".to_string(), |l| format!("{l:?}")),
                output.code(),
                text(output.stderr.as_bytes())
            );
        }
        None => eprintln!(
            "note: skipped the run with a default TTL of 100: this system does not let the test \
             make a network namespace (`unshare -n` as root, or `unshare -rn`)"
        ),
    }
    // Out of range: the kernel refuses 0 (and 256); the program must hand it over and stop
    // with the kernel's answer, not print a TTL it never got.
    let output = run("14_socket_options", &["--ttl", "0"]);
    let printed = output.stdout.lines().find(|l| l.starts_with("IP_TTL: "));
    assert!(
        output.code() == Some(1) && output.stderr.contains("Invalid argument (os error 22)"),
        "with --ttl 0: expected the kernel to refuse it, so exit status 1 and an error with \
         \"Invalid argument (os error 22)\"; got exit status {:?}, stderr {}, IP_TTL line {:?}",
        output.code(),
        text(output.stderr.as_bytes()),
        printed.unwrap_or("(none)")
    );
    assert!(
        printed.is_none(),
        "with --ttl 0: the kernel refused the TTL, yet the program printed {printed:?}"
    );
    // 256 is refused by the kernel, or already by the argument parser if N is read as a u8.
    let output = run("14_socket_options", &["--ttl", "256"]);
    let printed = output.stdout.lines().find(|l| l.starts_with("IP_TTL: "));
    let kernel =
        output.code() == Some(1) && output.stderr.contains("Invalid argument (os error 22)");
    let usage = output.code() == Some(2) && output.stderr.contains("256");
    assert!(
        (kernel || usage) && printed.is_none(),
        "with --ttl 256: expected a refusal (exit status 1 with \"Invalid argument (os error \
         22)\" from the kernel, or a usage error with exit status 2); got exit status {:?}, \
         stderr {}, IP_TTL line {:?}",
        output.code(),
        text(output.stderr.as_bytes()),
        printed.unwrap_or("(none)")
    );
}

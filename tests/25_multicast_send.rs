//! Checks 25_multicast_send against raw members written here, and the facts about TTL and
//! loop on the loopback interface that chapter 25 states. Run with
//! `cargo test --test 25_multicast_send`. (The pair with the real receivers is in
//! 26_multicast_recv.)
//!
//! Every test gets its own port: its first member binds port 0 and the system picks a port
//! no other socket uses. Everything stays on the loopback interface, in groups of 239.0.0.0/8.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use common::run;
use common::udp::recv;
use socket2::{Domain, Socket, Type};

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A member of GROUP on 127.0.0.1, bound to GROUP:port, like 26_multicast_recv.
fn member(port: u16) -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_multicast_all_v4(false).unwrap();
    socket
        .bind(&std::net::SocketAddr::from((GROUP, port)).into())
        .unwrap();
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(common::TIMEOUT)).unwrap();
    socket.join_multicast_v4(&GROUP, &LO).unwrap();
    socket
}

/// Two members sharing one fresh port, as two 26_multicast_recv would.
fn two_members() -> (UdpSocket, UdpSocket, u16) {
    let first = member(0);
    let port = first.local_addr().unwrap().port();
    (first, member(port), port)
}

fn text(socket: &UdpSocket) -> String {
    String::from_utf8_lossy(&recv(socket).0).into_owned()
}

#[test]
fn every_member_gets_every_message_once() {
    let (first, second, port) = two_members();
    let to = format!("{GROUP}:{port}");
    let output = run(
        "25_multicast_send",
        &[&to, "Hi group", "--count", "3", "--interval", "20"],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    assert_eq!(
        output.stdout,
        format!(
            "Sending on interface 127.0.0.1, IP_MULTICAST_TTL 1, IP_MULTICAST_LOOP on\n\
             Sent \"Hi group (1/3)\" to {to}\nSent \"Hi group (2/3)\" to {to}\n\
             Sent \"Hi group (3/3)\" to {to}\n"
        )
    );
    // A second copy of a message would come before the next one.
    for member in [&first, &second] {
        for i in 1..=3 {
            assert_eq!(text(member), format!("Hi group ({i}/3)"));
        }
    }
}

#[test]
fn one_message_by_default_from_127_0_0_1() {
    let (first, _second, port) = two_members();
    let output = run("25_multicast_send", &[&format!("{GROUP}:{port}")]);
    assert_eq!(output.code(), Some(0), "{output:?}");
    let (got, from) = recv(&first);
    assert_eq!(got, b"Hello, group!");
    assert_eq!(from.ip().to_string(), "127.0.0.1");
}

#[test]
fn ttl_and_loop_are_set_and_read_back() {
    for (args, want) in [
        (
            &["--ttl", "0", "--no-loop"][..],
            "IP_MULTICAST_TTL 0, IP_MULTICAST_LOOP off",
        ),
        (
            &["--ttl", "255"][..],
            "IP_MULTICAST_TTL 255, IP_MULTICAST_LOOP on",
        ),
    ] {
        let (member, _, port) = two_members();
        let to = format!("{GROUP}:{port}");
        let mut all = vec![to.as_str()];
        all.extend(args);
        let output = run("25_multicast_send", &all);
        assert_eq!(output.code(), Some(0), "{output:?}");
        assert_eq!(
            output.stdout_lines()[0],
            format!("Sending on interface 127.0.0.1, {want}")
        );
        // On the loopback interface neither option keeps the datagram from this machine's
        // members: the interface itself brings every datagram back (see the chapter).
        assert_eq!(text(&member), "Hello, group!");
    }
}

#[test]
fn on_loopback_ttl_0_and_loop_off_change_nothing() {
    // The same fact on a bare socket, with the options set as Python would.
    let (member, _, port) = two_members();
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    socket.set_multicast_if_v4(&LO).unwrap();
    socket.set_multicast_ttl_v4(0).unwrap();
    socket.set_multicast_loop_v4(false).unwrap();
    let to = std::net::SocketAddr::from((GROUP, port));
    socket.send_to(b"ttl 0, no loop", &to.into()).unwrap();
    assert_eq!(text(&member), "ttl 0, no loop");
}

#[test]
fn the_interval_spaces_the_datagrams_out() {
    let (first, _second, port) = two_members();
    let started = Instant::now();
    let to = format!("{GROUP}:{port}");
    let output = run(
        "25_multicast_send",
        &[&to, "--count", "3", "--interval", "100"],
    );
    assert_eq!(output.code(), Some(0), "{output:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "took {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(text(&first), "Hello, group! (1/3)");
}

#[test]
fn only_groups_in_239_are_accepted() {
    for to in ["224.0.0.1:9999", "127.0.0.1:9999", "255.255.255.255:9999"] {
        let output = run("25_multicast_send", &[to]);
        assert_eq!(output.code(), Some(2), "{output:?}");
        assert!(
            output
                .stderr
                .starts_with(&format!("error: {to}: the group must be in 239.0.0.0/8\n")),
            "{}",
            output.stderr
        );
        assert_eq!(output.stdout, "");
    }
    let output = run("25_multicast_send", &["[ff02::1]:9999"]);
    assert_eq!(output.code(), Some(2), "{output:?}");
}

#[test]
fn count_interval_and_ttl_are_bounded() {
    for args in [
        ["--count", "0"],
        ["--count", "101"],
        ["--interval", "10001"],
        ["--ttl", "256"],
    ] {
        let output = run("25_multicast_send", &args);
        assert_eq!(output.code(), Some(2), "{args:?}: {output:?}");
        assert!(
            output.stderr.contains("usage: 25_multicast_send"),
            "{output:?}"
        );
    }
}

// Exercises of chapter 25. Each fails on the listing as shipped; solve one, then check it with
// `scripts/exercises.sh check 25/exercise_interface_option`.

/// Runs `script` with bash in a new network namespace that has its loopback up and a veth
/// pair, wb0 (10.9.0.1/24) and wb1 (10.9.0.2/24): a second interface, as a LAN card would
/// be. `$0` in the script is the directory of the binaries. `None` if this system does not
/// let the test make a network namespace.
fn in_namespace_with_a_link(script: &str) -> Option<common::Output> {
    const SETUP: &str = "ip link set lo up && ip link add wb0 type veth peer name wb1 && \
        ip addr add 10.9.0.1/24 dev wb0 && ip addr add 10.9.0.2/24 dev wb1 && \
        ip link set wb0 up && ip link set wb1 up";
    // As root, a network namespace; otherwise also a user namespace in which the test is root.
    let flags = ["-n", "-rn"].into_iter().find(|flags| {
        std::process::Command::new("unshare")
            .args([flags, "sh", "-c", SETUP])
            .output()
            .is_ok_and(|probe| probe.status.success())
    })?;
    Some(common::run_command(
        std::process::Command::new("unshare")
            .args([flags, "bash", "-c", &format!("{SETUP} && {script}")])
            .arg(common::bin_dir()),
    ))
}

#[test]
#[ignore = "exercise: --interface IP chooses the interface the datagrams leave by"]
fn exercise_interface_option() {
    // The default stays 127.0.0.1, and --interface 127.0.0.1 says so too.
    for args in [&[][..], &["--interface", "127.0.0.1"][..]] {
        let (member, _, port) = two_members();
        let to = format!("{GROUP}:{port}");
        let mut all = vec![to.as_str()];
        all.extend(args);
        let output = run("25_multicast_send", &all);
        let first = output
            .stdout_lines()
            .first()
            .copied()
            .unwrap_or_default()
            .to_string();
        assert!(
            output.code() == Some(0)
                && first
                    == "Sending on interface 127.0.0.1, IP_MULTICAST_TTL 1, IP_MULTICAST_LOOP on",
            "25_multicast_send {}: expected exit status 0 and the first line \"Sending on \
             interface 127.0.0.1, IP_MULTICAST_TTL 1, IP_MULTICAST_LOOP on\"; got status {:?}, \
             first line {first:?}, stderr {}",
            all.join(" "),
            output.code(),
            common::text(output.stderr.as_bytes())
        );
        assert_eq!(text(&member), "Hello, group!");
    }
    // The interface really is the one the datagrams leave by. In a namespace of its own with
    // a second interface (10.9.0.1), a receiver joins on loopback; the sender sends once on
    // 10.9.0.1, then once on 127.0.0.1. Only the second reaches loopback's member.
    let script = r#"
        exec 3< <("$0/26_multicast_recv" 239.1.2.3:47000 --count 1 2>&1)
        read -r -t 5 line <&3 && read -r -t 5 line <&3 || { echo "receiver did not start"; exit 1; }
        "$0/25_multicast_send" 239.1.2.3:47000 "via the link" --interface 10.9.0.1 2>&1 | sed 's/^/link| /'
        "$0/25_multicast_send" 239.1.2.3:47000 "via loopback" 2>&1 | sed 's/^/lo| /'
        timeout 5 cat <&3 | sed 's/^/recv| /'
    "#;
    match in_namespace_with_a_link(script) {
        Some(output) => on_a_second_interface(&output),
        None => eprintln!(
            "note: skipped the run on a second interface: this system does not let the test \
             make a network namespace (`unshare -n` as root, or `unshare -rn`)"
        ),
    }
    // An address this machine does not have: the system refuses it.
    let output = run("25_multicast_send", &["--interface", "10.99.99.99"]);
    let want = "error: could not set IP_MULTICAST_IF to 10.99.99.99: Cannot assign requested \
                address (os error 99)\n";
    assert!(
        output.code() == Some(1) && output.stderr == want && output.stdout.is_empty(),
        "--interface 10.99.99.99 is not an address of this machine: expected exit status 1, no \
         output, and on stderr {want:?}; got status {:?}, stdout {}, stderr {}",
        output.code(),
        common::text(output.stdout.as_bytes()),
        common::text(output.stderr.as_bytes())
    );
    let output = run("25_multicast_send", &["--interface", "eth0"]);
    assert!(
        output.code() == Some(2) && output.stderr.starts_with("error:"),
        "--interface eth0 is not an IPv4 address: it should be a usage error (a line starting \
         `error:`, exit status 2); got status {:?}, stderr {}",
        output.code(),
        common::text(output.stderr.as_bytes())
    );
}

/// Checks what the namespace run of `exercise_interface_option` printed.
fn on_a_second_interface(output: &common::Output) {
    let lines = output.stdout_lines();
    assert!(
        lines.first()
            == Some(
                &"link| Sending on interface 10.9.0.1, IP_MULTICAST_TTL 1, IP_MULTICAST_LOOP on"
            ),
        "with --interface 10.9.0.1 (in a network namespace that has that address), the first \
         line should be \"Sending on interface 10.9.0.1, IP_MULTICAST_TTL 1, \
         IP_MULTICAST_LOOP on\"; the run printed {lines:#?}, stderr {}",
        common::text(output.stderr.as_bytes())
    );
    // Hearing nothing proves little if nothing was sent: the send itself must succeed.
    let sent = "link| Sent \"via the link\" to 239.1.2.3:47000";
    assert!(
        lines.contains(&sent),
        "with --interface 10.9.0.1, the datagram should be sent (the line {:?}); the run \
         printed {lines:#?} (is the socket bound to 127.0.0.1? a loopback source address \
         cannot leave by another interface)",
        &sent[6..]
    );
    let received: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("Received from"))
        .collect();
    assert!(
        received.len() == 1 && received[0].ends_with(": via loopback"),
        "a receiver that joined the group on loopback should not hear the datagram sent with \
         --interface 10.9.0.1 (it leaves by the other interface), only the one sent after it \
         on 127.0.0.1; it printed {received:#?} (is IP_MULTICAST_IF still 127.0.0.1? binding \
         the source address does not choose the interface once IP_MULTICAST_IF is set)"
    );
}

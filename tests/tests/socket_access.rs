//! The keeper's local socket refuses other users, twice over: its folder is private (0700), so
//! the kernel refuses them; and when the folders and the socket are opened up anyway, the daemon
//! checks every peer's uid and closes the connection without an answer.
//!
//! The other user is `nobody` (uid 65534): the test runs as root and starts this same test binary
//! as `nobody` to run [`client_as_another_user`], an ignored test that connects, asks for the list
//! and prints what happened.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokenkeeper_tests::{require_test_session, Sandbox};

const NOBODY: u32 = 65534;

/// What the client as `nobody` reported: `refused: <error kind>`, `closed` or `answered: <line>`.
fn connect_as_nobody(socket: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "client_as_another_user", "--nocapture", "--test-threads=1"])
        .env("TK_PROBE_SOCKET", socket)
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("running the test binary as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("outcome: ").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "the client as nobody reported nothing (is the test binary readable by nobody?)\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string()
}

/// Run by [`connect_as_nobody`] under another uid; ignored in the suite itself.
#[test]
#[ignore = "run as another user by the tests of this file"]
fn client_as_another_user() {
    let socket = std::env::var("TK_PROBE_SOCKET").expect("TK_PROBE_SOCKET");
    let outcome = match std::os::unix::net::UnixStream::connect(&socket) {
        Err(e) => format!("refused: {:?}", e.kind()),
        Ok(mut s) => {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let _ = s.write_all(b"{\"op\":\"list\"}\n");
            let mut answer = String::new();
            match s.read_to_string(&mut answer) {
                Ok(_) if answer.is_empty() => "closed".to_string(),
                Ok(_) => format!("answered: {}", answer.trim()),
                // Closed with the request unread: the kernel resets the connection.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => "closed".to_string(),
                Err(e) => format!("read error: {:?}", e.kind()),
            }
        }
    };
    println!("outcome: {outcome}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn another_user_is_refused_by_the_folder_and_by_the_peer_check() {
    require_test_session();
    assert!(nix::unistd::getuid().is_root(), "this test runs as root, to be another user too");
    let sb = Sandbox::new();
    sb.run_ok(&["add", "mine", "--yes", "--provider", "api-token", "--probe-url", "https://api.example/me"], None);
    let daemon = sb.spawn_daemon();
    let socket = sb.socket_path();
    let folder = socket.parent().unwrap();
    assert_eq!(std::fs::metadata(folder).unwrap().permissions().mode() & 0o777, 0o700, "the socket's folder");

    // 1. As it is: the kernel refuses before the daemon sees anything.
    assert_eq!(connect_as_nobody(&socket), "refused: PermissionDenied");

    // 2. Every folder on the way and the socket opened to everyone: the daemon's uid check.
    for dir in [sb.root(), &sb.runtime_dir(), folder] {
        chmod(dir, 0o755);
    }
    chmod(&socket, 0o777);
    assert_eq!(connect_as_nobody(&socket), "closed", "the daemon answered another user");
    assert!(
        daemon.wait_for_log("refused a connection from another user", Duration::from_secs(10)),
        "no refusal in the daemon's log:\n{}",
        daemon.log()
    );
    // The same socket answers its own user.
    let list = sb.run_ok(&["list", "--json"], None);
    assert!(list.contains("\"mine\""), "{list}");
}

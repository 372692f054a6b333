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
    // Its own user's command sends nothing through a socket others could use (issue 10 item 9)...
    let out = sb.run(&["list", "--json"], None);
    assert_eq!(out.status.code(), Some(1), "a command used a socket open to everyone");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not private to you"));
    // ... and the same socket, private again, answers its own user.
    chmod(folder, 0o700);
    chmod(&socket, 0o600);
    let list = sb.run_ok(&["list", "--json"], None);
    assert!(list.contains("\"mine\""), "{list}");
}

/// Something listening at the keeper's socket path that is not a working keeper: it accepts,
/// counts the bytes it is sent, and never answers. Made with `socket_mode` and a private folder.
struct SilentListener {
    received: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SilentListener {
    fn start(sb: &Sandbox, socket_mode: u32) -> Self {
        let socket = sb.socket_path();
        let folder = socket.parent().unwrap();
        std::fs::create_dir_all(folder).unwrap();
        chmod(folder, 0o700);
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        chmod(&socket, socket_mode);
        let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = received.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    // read what comes, answer nothing, hold the connection until the client goes
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        counted.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        Self { received }
    }

    fn received(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Issue 10 item 9: a keeper that accepts and never answers must not hang scripts — `token` (the
/// fast path) and every other command (the async client) give up with exit 4 and a sentence.
#[test]
fn a_keeper_that_never_answers_makes_the_command_give_up_with_exit_4() {
    let sb = Sandbox::new();
    let listener = SilentListener::start(&sb, 0o600);
    let started = std::time::Instant::now();
    // both at once: each waits out the same bound
    let spawn = |args: [&'static str; 2]| {
        let child = sb
            .cmd(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        (args, child)
    };
    let children = [spawn(["token", "x"]), spawn(["status", "x"])];
    let outputs: Vec<_> = children
        .into_iter()
        .map(|(args, mut child)| {
            while child.try_wait().unwrap().is_none() {
                if started.elapsed() > Duration::from_secs(60) {
                    let _ = child.kill();
                    panic!("`tokenkeeper {}` still waits for a keeper that never answers after 60 s", args.join(" "));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (args, child.wait_with_output().unwrap())
        })
        .collect();
    for (args, out) in outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "`tokenkeeper {}`: {stderr}", args.join(" "));
        assert!(stderr.contains("did not answer within 35 seconds"), "`tokenkeeper {}`: {stderr}", args.join(" "));
    }
    assert!(listener.received() > 0, "the requests were sent (the socket is private)");
}

/// Issue 10 item 9: whatever listens at the socket path, when the socket is not private to this
/// user, is sent nothing — not even a request naming an integration — and the command says why.
#[test]
fn a_socket_others_could_use_is_sent_nothing() {
    let sb = Sandbox::new();
    let listener = SilentListener::start(&sb, 0o666);
    for args in [["token", "x"], ["status", "x"]] {
        let out = sb.run_with_timeout(&args, None, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "`tokenkeeper {}`: {stderr}", args.join(" "));
        assert!(stderr.contains("is not private to you"), "`tokenkeeper {}`: {stderr}", args.join(" "));
    }
    assert_eq!(listener.received(), 0, "bytes were sent to a socket others could use");
}

//! The keeper's processes hold every integration's tokens and client secret in memory; they keep
//! them from other programs of the same user and out of crash dumps (security audit, item 5):
//! the daemon is not dumpable, so another process of its user cannot attach to it with ptrace,
//! open its `/proc/PID/mem` or read its `/proc/PID/environ`, and a crash writes no core file.
//!
//! "Another process of the same user" is played by processes without capabilities: when the
//! suite runs as root, the daemon and the reader both run with every capability dropped
//! (`setpriv`), as two programs of an ordinary user would; otherwise they already are.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokenkeeper_tests::{require_test_session, tokenkeeper_bin, wait_until, Sandbox};

/// `ARGS` as a process of the same user with no capabilities.
fn without_capabilities(program: &str, args: &[&str]) -> Command {
    if nix::unistd::geteuid().is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--bounding-set=-all", "--inh-caps=-all", "--", program]).args(args);
        cmd
    } else {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }
}

/// A `tokenkeeper` that runs without capabilities and with core files allowed, as a developer's
/// shell with `ulimit -c unlimited` would start it.
fn plain_user_tokenkeeper(dir: &Path) -> PathBuf {
    let drop = if nix::unistd::geteuid().is_root() { "setpriv --bounding-set=-all --inh-caps=-all -- " } else { "" };
    let script = dir.join("tokenkeeper");
    let body = format!(
        "#!/bin/sh\nulimit -c unlimited 2>/dev/null || ulimit -c \"$(ulimit -H -c)\"\nexec {drop}'{}' \"$@\"\n",
        tokenkeeper_bin().display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

#[test]
fn another_process_of_the_user_cannot_read_the_daemon_and_a_crash_leaves_no_core() {
    require_test_session();
    let bin_dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::with_bin(plain_user_tokenkeeper(bin_dir.path()));
    let mut daemon = sb.spawn_daemon();
    let pid = daemon.pid().expect("a running daemon");

    // The kernel's view of the daemon: no core file, whatever limit it was started with.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).expect("a core limit");
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "{core}");

    // Another process of the same user is refused the daemon's memory and environment.
    for (what, open) in [
        ("its memory", format!("exec 3< /proc/{pid}/mem")),
        ("its environment", format!("exec 3< /proc/{pid}/environ")),
    ] {
        let out = without_capabilities("sh", &["-c", &open]).output().unwrap();
        assert!(!out.status.success(), "another process of the user opened {what} (/proc/{pid})");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("ermission denied"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // ... and cannot attach to it as a debugger does (gdb, gcore).
    let mut attach = without_capabilities(
        "python3",
        &["-c", "import ctypes,sys; sys.exit(0 if ctypes.CDLL(None, use_errno=True).ptrace(16, int(sys.argv[1]), 0, 0) == 0 else 1)", &pid.to_string()],
    );
    assert!(!attach.status().unwrap().success(), "another process of the user attached to the daemon with ptrace");

    // A crash (an abort) writes no core file; the daemon works
    // in the sandbox's root. (Rust handles a SIGSEGV sent by kill itself, so it would not crash.)
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGABRT).unwrap();
    assert!(wait_until(Duration::from_secs(20), Duration::from_millis(20), || !daemon.is_running()), "still running");
    let status = daemon.stop().expect("an exit status");
    assert_eq!(status.signal(), Some(nix::sys::signal::Signal::SIGABRT as i32), "{status:?}");
    assert!(!status.core_dumped(), "the crash dumped core");
    let cores: Vec<_> = tokenkeeper_tests::files_under(sb.root())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("core")))
        .collect();
    assert!(cores.is_empty(), "core files: {cores:?}");
}

//! Hardening of the process itself, done once at start by every shell (tray app, daemon, CLI):
//! they hold every integration's tokens and client secret in memory, so that memory must not be
//! readable by other programs of the same user nor written to disk by a crash.
//!
//! - `PR_SET_DUMPABLE 0` (Linux): the kernel refuses `ptrace` attach, `/proc/PID/mem`,
//!   `/proc/PID/environ` and `gcore` to any process of the same user that lacks `CAP_SYS_PTRACE`,
//!   and writes no core dump (systemd-coredump and apport included) when the process crashes.
//! - `RLIMIT_CORE 0` (every Unix): no core file either where the dumpable flag does not exist
//!   (macOS, the BSDs), and a second lock on Linux should something make the process dumpable
//!   again. It is inherited by children, which `tokenkeeper exec` hands a token to anyway.
//!
//! An `execve` makes the new program dumpable again, so a command started by `exec` is not
//! covered; it holds only its own token. Failures are logged, not fatal: a keeper that cannot
//! harden itself (a seccomp filter refusing `prctl`) still keeps tokens alive.

/// Makes this process non-dumpable and gives it no core file. Call first thing in `main`.
pub fn harden() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!("could not make the process non-dumpable: {e}");
    }
    #[cfg(unix)]
    if let Err(e) = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0) {
        tracing::warn!("could not turn off core dumps: {e}");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// In a child process (the test harness's own must stay as it is): after `harden`, the
    /// process is not dumpable and its core limit is zero.
    #[test]
    fn a_hardened_process_is_not_dumpable_and_has_no_core_limit() {
        use nix::sys::resource::{getrlimit, Resource};
        use nix::sys::wait::{waitpid, WaitStatus};
        use nix::unistd::{fork, ForkResult};
        // SAFETY: the child only calls async-signal-safe syscalls (prctl, getrlimit) and _exit.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => {
                let before = nix::sys::prctl::get_dumpable().unwrap_or(false);
                super::harden();
                let after = nix::sys::prctl::get_dumpable().unwrap_or(true);
                let core = getrlimit(Resource::RLIMIT_CORE).map(|l| l.0).unwrap_or(1);
                let code = if before && !after && core == 0 { 0 } else { 1 };
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { nix::libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            }
        }
    }
}

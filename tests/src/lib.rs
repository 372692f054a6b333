//! End-to-end test harness of Token Keeper: real services, headless.
//!
//! The suite runs inside `tests/env/session.sh` (`make test` does it): a private D-Bus session
//! with a real, unlocked Secret Service (gnome-keyring) and a real notification daemon (dunst on
//! Xvfb) that logs every notification to `$NOTIFY_LOG`. On top of that, this crate gives tests:
//!
//! * [`OidcServer`]: the OAuth 2.0 / OpenID Connect fixture (`tests/fixtures/oidc-server`, the
//!   certified `oidc-provider` for Node.js): authorization code + PKCE with a headless user
//!   (`AUTO_LOGIN`), rotating refresh tokens with reuse detection, client credentials, device
//!   flow, revocation and introspection, and a log of the provider's events.
//! * [`FaultProxy`]: an HTTP/1.1 reverse proxy between Token Keeper and the fixture that can answer
//!   503/429 itself, drop connections before or after forwarding (the "lost response"), delay, or
//!   refuse connections altogether; it counts refresh requests with their times.
//! * [`Sandbox`]: private config/state/cache/runtime directories and keychain service for one
//!   test, and the `tokenkeeper` binary run in them ([`Sandbox::run`], [`Sandbox::spawn_daemon`]).
//! * [`follow_authorization`] / [`follow_device_verification`]: the user's browser.
//! * [`Notifications`]: what the notification daemon showed.
//! * [`keychain_items`], [`keychain_secret`]: what is in the Secret Service.
//! * [`wait_until`]: polling with a deadline; [`CpuLoad`]: `stress --cpu N` inside the test.
//! * [`fleet`], [`soak`], [`crash`]: many integrations under faults and `kill -9` (`make soak`,
//!   `make crash`; short versions in the suite), with [`reuse_window`] giving the provider
//!   Atlassian's refresh-token reuse window.
//! * [`openbao`]: a real OpenBao (`bao server -dev`, a three-node Raft cluster) on loopback,
//!   with its faults (kill, SIGSTOP, seal) and an administrator's set-up.
//! * [`secrets`]: where token values turn up outside the keychain (files, a process's command
//!   line, environment and memory).
//!
//! Every helper is synchronous and may be called from plain `#[test]`s as well as from async
//! tests: network work runs on a private runtime on its own thread. Each part lives in its own
//! module (`oidc_server`, `fault_proxy`, `sandbox`, `browser`, `notifications`, `keychain`) and is
//! re-exported here; this file keeps the small helpers they share.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

mod browser;
mod cpu_load;
pub mod crash;
mod fault_proxy;
pub mod fleet;
mod keychain;
mod notifications;
mod oidc_server;
pub mod openbao;
pub mod reuse_window;
mod sandbox;
pub mod secrets;
pub mod soak;
pub mod token_farm;

pub use browser::*;
pub use cpu_load::CpuLoad;
pub use fault_proxy::*;
pub use keychain::*;
pub use notifications::*;
pub use oidc_server::*;
pub use sandbox::*;

// =============================================================================================
// Small helpers
// =============================================================================================

/// Calls `check` every `poll` until it returns true (→ `true`) or `timeout` has passed
/// (→ `false`, after one last call). `check` runs at least once.
pub fn wait_until(timeout: Duration, poll: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(poll);
    }
}

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `tests/fixtures/oidc-server`, where the OAuth fixture and its `node_modules` live.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("oidc-server")
}

/// True when running inside `tests/env/session.sh` (keychain and notification daemon available).
pub fn in_test_session() -> bool {
    std::env::var_os("NOTIFY_LOG").is_some() && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

/// Panics with a clear message unless running inside `tests/env/session.sh`.
pub fn require_test_session() {
    assert!(
        in_test_session(),
        "this test needs the real keychain and notification daemon: run it inside \
         tests/env/session.sh, e.g. `dbus-run-session -- tests/env/session.sh cargo test ...` \
         (`make test` does that)"
    );
}

/// Runs `fut` to completion on a fresh current-thread runtime on its own thread, so that it can
/// be called from synchronous tests and from inside another runtime alike. Panics propagate.
pub(crate) fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(fut)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// An HTTP client for the harness itself: no system proxy, no automatic redirects.
pub(crate) fn http_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(cookies)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops a child process: SIGTERM, up to `grace` to exit, then SIGKILL. Always reaps it.
pub(crate) fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    #[cfg(unix)]
    {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    #[cfg(not(unix))]
    let _ = grace;
    let _ = child.kill();
    child.wait().ok()
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

pub(crate) fn snippet(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_owned()
    }
}

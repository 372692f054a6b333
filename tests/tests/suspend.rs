//! A suspended laptop, as the daemon sees it: the process is stopped (SIGSTOP) past its access
//! token's expiry and continued (SIGCONT). Its boot-time timer has expired meanwhile, so it must
//! renew within 2 s of resuming — against the real OAuth server — with no false alarm: no
//! notification, and never "Offline" or "Needs sign-in" in `tokenkeeper status --json`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokenkeeper_tests::{require_test_session, Notifications, OidcOptions, OidcServer, Sandbox};

const NAME: &str = "suspended";
/// The fixture's access-token lifetime here.
const LIFETIME_S: u64 = 8;

fn status(sb: &Sandbox) -> Value {
    let out = sb.run_ok(&["status", NAME, "--json"], None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}: {out}"))
}

#[test]
fn a_daemon_stopped_past_expiry_renews_within_two_seconds_of_resuming_without_alarm() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: LIFETIME_S, ..OidcOptions::default() });
    let sb = Sandbox::new();
    add_oauth(&sb, &server, NAME);
    login(&sb, NAME);
    let notes = Notifications::new();
    let mut daemon = sb.spawn_daemon();
    let pid = Pid::from_raw(daemon.pid().expect("daemon pid") as i32);

    // steady state first: the daemon has renewed once by itself
    assert!(server.wait_for_events("refresh_token.consumed", 1, Duration::from_secs(15)), "no first renewal");
    let expires = status(&sb)["access_expires_at"].clone();
    assert!(expires.is_string(), "an expiry: {expires}");

    kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
    // "asleep" for 10 s: past the expiry of a token that lives 8 s, whenever it was issued
    std::thread::sleep(Duration::from_secs(LIFETIME_S + 2));
    let renewals_before = server.count_events("refresh_token.consumed");
    kill(pid, Signal::SIGCONT).expect("SIGCONT");
    let resumed = Instant::now();

    let mut states = Vec::new();
    let mut renewed_after = None;
    while resumed.elapsed() < Duration::from_secs(5) {
        if renewed_after.is_none() && server.count_events("refresh_token.consumed") > renewals_before {
            renewed_after = Some(resumed.elapsed());
        }
        let now = status(&sb);
        states.push(now["state"].as_str().unwrap_or_default().to_string());
        if renewed_after.is_some() && now["access_expires_at"] != expires && states.len() >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let renewed_after = renewed_after.unwrap_or_else(|| panic!("no renewal within 5 s of resuming: {states:?}"));
    eprintln!("renewed {renewed_after:?} after resuming; states seen: {states:?}");
    assert!(renewed_after <= Duration::from_secs(2), "renewed {renewed_after:?} after resuming");
    assert!(
        !states.iter().any(|s| s == "offline" || s == "needs-sign-in"),
        "a false alarm in status after resuming: {states:?}"
    );
    assert!(daemon.is_running(), "daemon died: {}", daemon.log());
    let t = token(&sb, NAME);
    assert!(server.is_active(&t), "the token after resuming works");
    assert!(
        notes.wait_for(|n| n.mentions(NAME), Duration::from_secs(2)).is_none(),
        "a notification after resuming: {:?}",
        notes.all()
    );
}

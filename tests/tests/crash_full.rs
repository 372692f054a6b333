//! `make crash`: 500 `kill -9`s of the daemon during refresh traffic, once against a provider with
//! a 10-minute refresh-token reuse window and once without (see tokenkeeper_tests::crash).
//! CRASH_KILLS changes the number of kills. Exits non-zero when a goal is missed.

use std::time::Duration;

use tokenkeeper_tests::crash::{self, CrashConfig};

fn main() {
    tokenkeeper_tests::require_test_session();
    let kills = std::env::var("CRASH_KILLS").ok().and_then(|v| v.parse().ok());
    let mut met = true;
    for window in [Some(Duration::from_secs(600)), None] {
        let mut cfg = CrashConfig::full(window);
        cfg.kills = kills.unwrap_or(cfg.kills);
        let report = crash::run_and_print(&cfg).unwrap_or_else(|e| panic!("{e:#}"));
        met &= report.torn.is_empty() && report.silent.is_empty();
        met &= if window.is_some() { report.lost.is_empty() } else { report.lost.len() == report.lost_and_notified };
    }
    println!("crash goals: {}", if met { "met" } else { "NOT met" });
    std::process::exit(if met { 0 } else { 1 });
}

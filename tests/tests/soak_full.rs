//! `make soak`: the full fault soak (200 integrations, 10 minutes; see tokenkeeper_tests::soak).
//! Prints the figures; exits non-zero when a goal is missed. Sizes can be changed with
//! SOAK_INTEGRATIONS and SOAK_SECONDS.

use std::time::Duration;

use tokenkeeper_tests::soak::{self, SoakConfig};

fn main() {
    tokenkeeper_tests::require_test_session();
    let mut cfg = SoakConfig::full();
    if let Some(n) = std::env::var("SOAK_INTEGRATIONS").ok().and_then(|v| v.parse().ok()) {
        cfg.integrations = n;
    }
    if let Some(secs) = std::env::var("SOAK_SECONDS").ok().and_then(|v| v.parse::<u64>().ok()) {
        cfg.duration = Duration::from_secs(secs);
        cfg.outage_at = Duration::from_secs(secs * 2 / 5);
        cfg.outage = Duration::from_secs(60.min(secs / 5));
    }
    let report = soak::run_and_print(&cfg).unwrap_or_else(|e| panic!("{e:#}"));
    let met = report.answers > 0
        && report.answers_active == report.answers
        && report.ever_needed_sign_in.is_empty()
        && report.grants_lost.is_empty()
        && report.retry_after_violations == 0;
    println!("soak goals: {}", if met { "met" } else { "NOT met" });
    std::process::exit(if met { 0 } else { 1 });
}

//! Crash safety, short enough for every CI run (`make crash` runs 500 kills): the daemon is
//! killed with SIGKILL while it renews 3–6 s tokens, half the time right after a refresh answer
//! reached it, and restarted. Nothing is ever torn; with a provider reuse window no grant is lost;
//! without one every loss is found and notified by the keeper itself.

use std::time::Duration;

use tokenkeeper_tests::crash::{self, CrashConfig};
use tokenkeeper_tests::require_test_session;

#[test]
fn kill_9_during_refreshes_loses_no_grant_with_a_reuse_window() {
    require_test_session();
    let report = crash::run_and_print(&CrashConfig::short(Some(Duration::from_secs(600)))).unwrap();
    assert!(report.torn.is_empty(), "{report}");
    assert!(report.lost.is_empty(), "{report}");
    assert_eq!(report.alive, report.integrations, "{report}");
}

#[test]
fn kill_9_without_a_reuse_window_never_loses_a_grant_silently() {
    require_test_session();
    let report = crash::run_and_print(&CrashConfig::short(None)).unwrap();
    assert!(report.torn.is_empty(), "{report}");
    assert!(report.silent.is_empty(), "{report}");
    assert_eq!(report.lost.len(), report.lost_and_notified, "{report}");
    assert_eq!(report.alive + report.lost.len(), report.integrations, "{report}");
}

//! The short scale check of the CI suite: 300 integrations kept alive by one daemon for a few
//! renewal rounds of a 10 s token. No token may expire before its refresh, none may be refreshed
//! twice, renewals must be roughly on time, and the daemon's thread count must not grow with
//! the number of integrations (30 vs 300, within the blocking pool's idle thread or two). The long runs are `make bench-scale`.

mod scale_support;

use std::time::Duration;

use scale_support::{run, Figures, RunSpec};
use tokenkeeper_tests::require_test_session;

fn check(f: &Figures) {
    eprintln!("{}\n{}", Figures::header(), f.row());
    assert!(f.refreshes >= f.n, "at least one scored round: {f:?}");
    assert_eq!(f.expired, 0, "tokens expired before their refresh: {f:?}");
    assert_eq!(f.reused, 0, "a rotated refresh token was used again: {f:?}");
    assert_eq!(f.not_working, 0, "integrations not working at the end: {f:?}");
    // A 10 s token renews 5 s before expiry; 3 s late still leaves 2 s (a generous bound for a
    // debug build on a shared 2-core machine).
    assert!(f.lateness_max_ms < 3_000, "a renewal {} ms late: {f:?}", f.lateness_max_ms);
}

#[test]
fn three_hundred_integrations_are_renewed_on_time_with_the_threads_of_thirty() {
    require_test_session();
    let spec = |n| RunSpec { integrations: n, lifetime_s: 10, window: Duration::from_secs(11) };
    let small = run(spec(30));
    check(&small);
    let large = run(spec(300));
    check(&large);
    // tokio's blocking pool keeps an idle thread for 10 s, so the count may differ by one or two
    // between runs; a thread per integration or per concurrent refresh would add dozens.
    assert!(
        large.threads_max <= small.threads_max + 2,
        "threads grow with integrations: 30 → {small:?}, 300 → {large:?}"
    );
}

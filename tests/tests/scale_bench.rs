//! `make bench-scale`: n = 100 and 1,000 integrations (or `SCALE_N=…`, comma-separated) kept
//! alive by one daemon; prints a Markdown table of punctuality, memory, CPU and threads.
//! `SCALE_STORE=memory` runs the keeper in-process with the in-memory secret store instead, for
//! 100, 1,000 and 10,000 (the session's gnome-keyring rewrites its whole file on every write:
//! 3,000 items took 207 s to write, and it renews only ~20 tokens a second at that size).
//! A benchmark, not a test: `test = false` in Cargo.toml, run by scripts/bench-scale.sh.

mod scale_support;

use std::time::Duration;

use scale_support::{run, run_in_process, Figures, RunSpec};
use tokenkeeper_tests::require_test_session;

#[test]
fn bench_scale() {
    require_test_session();
    let in_memory = std::env::var("SCALE_STORE").is_ok_and(|s| s == "memory");
    // with the session keychain, 10,000 items alone take hours to write (see the module doc)
    let default_sizes = if in_memory { "100,1000,10000" } else { "100,1000" };
    let sizes: Vec<usize> = std::env::var("SCALE_N")
        .unwrap_or_else(|_| default_sizes.into())
        .split(',')
        .map(|s| s.trim().parse().expect("SCALE_N: numbers separated by commas"))
        .collect();
    let lifetime_s: u64 = std::env::var("SCALE_LIFETIME_S").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let window = Duration::from_secs(std::env::var("SCALE_WINDOW_S").ok().and_then(|s| s.parse().ok()).unwrap_or(130));
    let how = if in_memory { "in-process keeper, in-memory store" } else { "daemon, session keychain" };
    println!("{how}; token lifetime {lifetime_s} s, measured for {} s after the catch-up\n", window.as_secs());
    println!("{}", Figures::header());
    for n in sizes {
        let spec = RunSpec { integrations: n, lifetime_s, window };
        let f = if in_memory { run_in_process(spec) } else { run(spec) };
        println!("{}", f.row());
        if f.reused > 0 || f.not_working > 0 {
            println!("   ^ {} refresh tokens reused, {} integrations not working at the end", f.reused, f.not_working);
        }
    }
}

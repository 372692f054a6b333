//! `make bench-keychain`: what one keychain write costs as the session's gnome-keyring fills up.
//! Writes `KEYCHAIN_N` items (default 10,000) shaped like an integration's secrets through the
//! engine's own store, timing each; every `KEYCHAIN_STEP` items (default 1,000) it also times 20
//! rewrites of existing items (what a renewal does) and 20 reads. Prints a Markdown table and the
//! renewal rate the keychain allows at each size. Removes its items at the end when the keyring
//! outlives the session (`KEYRING_HOME`).
//! A benchmark, not a test: `test = false` in Cargo.toml; runs inside tests/env/session.sh.

use std::time::{Duration, Instant};

use tokenkeeper_engine::model::Secrets;
use tokenkeeper_engine::secret::{AccessToken, RefreshToken};
use tokenkeeper_engine::store::{keychain::KeychainStore, SecretStore};
use tokenkeeper_tests::require_test_session;

fn secrets(i: usize, generation: usize) -> Secrets {
    Secrets {
        // lengths of real tokens: a JWT-sized access token, a 64-character refresh token
        access_token: Some(AccessToken::new(format!("at-{i}-{generation}-{}", "a".repeat(900)))),
        refresh_token: Some(RefreshToken::new(format!("rt-{i}-{generation}-{}", "r".repeat(56)))),
        issued_at: Some(1_800_000_000),
        access_expires_at: Some(1_800_003_600),
        ..Secrets::default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn bench_keychain() {
    require_test_session();
    let n = env_usize("KEYCHAIN_N", 10_000);
    let step = env_usize("KEYCHAIN_STEP", 1_000).max(20);
    let service = format!("tokenkeeper-keychain-bench-{}", std::process::id());
    let store = KeychainStore::new(&service).expect("the session keychain");
    let name = |i: usize| format!("bench-{i:05}");

    println!("gnome-keyring in tests/env/session.sh; about 1 KB of secrets per item\n");
    println!("| items | add p50 / p99 | rewrite p50 / p99 | read p50 | renewals/s the keychain allows | elapsed |");
    println!("|---|---|---|---|---|---|");
    let started = Instant::now();
    let mut adds = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        store.save(&name(i), &secrets(i, 0)).expect("item written");
        adds.push(ms(t.elapsed()));
        let items = i + 1;
        if items % step != 0 && items != n {
            continue;
        }
        let (mut rewrites, mut reads) = (Vec::new(), Vec::new());
        for k in 0..20 {
            let j = (k * 7919) % items;
            let t = Instant::now();
            store.save(&name(j), &secrets(j, items)).expect("item rewritten");
            rewrites.push(ms(t.elapsed()));
            let t = Instant::now();
            let back = store.load(&name(j)).expect("item read").expect("item present");
            reads.push(ms(t.elapsed()));
            assert_eq!(back.refresh_token, secrets(j, items).refresh_token, "read back what was written");
        }
        adds.sort_by(f64::total_cmp);
        rewrites.sort_by(f64::total_cmp);
        reads.sort_by(f64::total_cmp);
        // a renewal is one read and one rewrite of the keychain
        let per_renewal = percentile(&rewrites, 0.5) + percentile(&reads, 0.5);
        println!(
            "| {items} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} ms | {:.0} | {:.0} s |",
            percentile(&adds, 0.5),
            percentile(&adds, 0.99),
            percentile(&rewrites, 0.5),
            percentile(&rewrites, 0.99),
            percentile(&reads, 0.5),
            1000.0 / per_renewal,
            started.elapsed().as_secs_f64()
        );
        adds.clear();
    }
    // The session's keyring is thrown away with the session (a fresh HOME), unless KEYRING_HOME
    // keeps it: only then are the items removed (each removal rewrites the file too).
    if std::env::var_os("KEYRING_HOME").is_some() {
        let t = Instant::now();
        for i in 0..n {
            store.delete(&name(i)).expect("item removed");
        }
        println!("\nremoved {n} items in {:.0} s", t.elapsed().as_secs_f64());
    }
}

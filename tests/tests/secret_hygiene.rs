//! Secret hygiene of a running daemon: after several refresh-token rotations against the real
//! OAuth server, the tokens it no longer holds (rotated-away refresh tokens, old access tokens)
//! are gone from its memory, a removed integration's client secret too, and no token is in its
//! command line, its environment, or any file of the sandbox (config, state, logs, temporary
//! files). What it still holds (the current tokens) is expected in its memory and is reported.

mod common;

use std::time::Duration;

use common::*;
use tokenkeeper_tests::secrets::scan_process;
use tokenkeeper_tests::{require_test_session, wait_until, OidcOptions, OidcServer, Sandbox};

/// How many refresh tokens to see (the first one plus rotations).
const REFRESH_TOKENS: usize = 6;

/// A sandbox whose processes put their temporary files inside it, so they are scanned too.
fn sandbox() -> Sandbox {
    let mut sb = Sandbox::new();
    let tmp = sb.root().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    sb.set_env("TMPDIR", tmp.to_str().unwrap());
    sb
}

#[test]
fn tokens_the_daemon_no_longer_holds_are_gone_from_its_memory() {
    require_test_session();
    // 4 s access tokens renew 2 s early: a rotation about every 2 s.
    let server = OidcServer::start(OidcOptions { at_ttl: 4, ..OidcOptions::default() });
    let sb = sandbox();
    add_oauth(&sb, &server, "reports");
    login(&sb, "reports");
    let daemon = sb.spawn_daemon();
    let pid = daemon.pid().unwrap();

    // Follow the rotations in the keychain; ask the daemon for tokens meanwhile, as scripts do.
    let mut refresh_tokens = vec![stored_refresh_token(&sb, "reports")];
    let mut access_tokens = vec![stored_access_token(&sb, "reports")];
    let rotated = wait_until(Duration::from_secs(60), Duration::from_millis(100), || {
        let (rt, at) = (stored_refresh_token(&sb, "reports"), stored_access_token(&sb, "reports"));
        if refresh_tokens.last() != Some(&rt) {
            refresh_tokens.push(rt);
        }
        if access_tokens.last() != Some(&at) {
            access_tokens.push(at);
        }
        refresh_tokens.len() >= REFRESH_TOKENS
    });
    assert!(rotated, "only {} refresh tokens in 60 s; daemon log:\n{}", refresh_tokens.len(), daemon.log());
    let served = token(&sb, "reports");
    if access_tokens.last() != Some(&served) {
        access_tokens.push(served);
    }
    // The keeper of the tokens may rotate once more while this reads: the last two are "held".
    let (old_refresh, held_refresh) = refresh_tokens.split_at(refresh_tokens.len() - 2);
    let (old_access, held_access) = access_tokens.split_at(access_tokens.len().saturating_sub(2));
    let mut all: Vec<&str> = refresh_tokens.iter().chain(&access_tokens).map(String::as_str).collect();
    all.push("test-secret");

    let scan = scan_process(pid, &all).expect("reading the daemon's memory");
    eprintln!(
        "scanned {} bytes in {} mappings of the daemon; {} refresh and {} access tokens issued; hits:\n{}",
        scan.memory_bytes,
        scan.regions,
        refresh_tokens.len(),
        access_tokens.len(),
        scan.hits
    );
    assert!(scan.memory_bytes > 1 << 20, "read only {} bytes of memory", scan.memory_bytes);
    for place in ["cmdline", "environ"] {
        for secret in &all {
            assert_eq!(scan.hits.at(place, secret), 0, "a secret in the daemon's {place}:\n{}", scan.hits);
        }
    }
    let lingering: Vec<String> = old_refresh
        .iter()
        .chain(old_access)
        .filter(|t| scan.hits.at("memory", t) > 0)
        .map(|t| format!("{}… ×{}", &t[..6], scan.hits.at("memory", t)))
        .collect();
    assert!(lingering.is_empty(), "tokens the daemon no longer holds are still in its memory: {lingering:?}");
    // The check can fail: what the daemon holds right now is found.
    assert!(
        held_refresh.iter().chain(held_access).any(|t| scan.hits.at("memory", t) > 0),
        "the scanner did not find even the tokens the daemon holds:\n{}",
        scan.hits
    );
    sb.assert_no_secret_on_disk(&all);
}

#[test]
fn a_removed_integrations_client_secret_is_gone_from_the_daemons_memory() {
    require_test_session();
    let sb = sandbox();
    let daemon = sb.spawn_daemon();
    let pid = daemon.pid().unwrap();
    let secret = format!("client-secret-{}", std::process::id() as u64 * 7919 + 17);
    let args = [
        "--provider",
        "oauth2",
        "--authorize-url",
        "http://127.0.0.1:9/authorize",
        "--token-url",
        "http://127.0.0.1:9/token",
    ];
    sb.add_confidential_ok("leaving", &args, "c", &secret);
    assert!(sb.keychain_secret("leaving").is_some_and(|doc| doc.contains(&secret)), "the secret was not stored");
    // Make the daemon read it back from the keychain too (a refresh loads the secrets).
    let _ = sb.run(&["refresh", "leaving"], None);
    sb.run_ok(&["remove", "leaving"], None);
    assert!(sb.keychain_secret("leaving").is_none(), "remove left the keychain item");

    let scan = scan_process(pid, &[&secret]).expect("reading the daemon's memory");
    eprintln!("scanned {} bytes of the daemon after remove; hits:\n{}", scan.memory_bytes, scan.hits);
    assert_eq!(scan.hits.of(&secret), 0, "the removed client secret is still in the daemon:\n{}", scan.hits);
    sb.assert_no_secret_on_disk(&[&secret]);
}

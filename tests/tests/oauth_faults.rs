//! Transient trouble between the keeper and the real OAuth server, injected by the harness's
//! fault proxy in front of the token endpoint: 5xx, 429 with Retry-After, dropped connections,
//! delays, and a full outage. No false `Needs sign-in`, backoff honoured, the token stays valid
//! while the outage is shorter than its remaining life, and an outage longer than that is
//! `Offline` with one notice and one "working again".

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokenkeeper_tests::{
    require_test_session, Fault, FaultProxy, Notifications, OidcOptions, OidcServer, Sandbox, Scope,
};

/// An integration whose token endpoint goes through the proxy.
fn add_through_proxy(sb: &Sandbox, server: &OidcServer, proxy: &FaultProxy, name: &str) {
    tokenkeeper_tests::fleet::add_through_proxy(sb, server, proxy, name).unwrap();
}

#[test]
fn transient_faults_are_retried_with_backoff_and_never_need_sign_in() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: 60, ..OidcOptions::default() });
    let proxy = FaultProxy::start(server.addr());
    let sb = Sandbox::new();
    let name = "flaky";
    add_through_proxy(&sb, &server, &proxy, name);
    login(&sb, name);
    let notes = Notifications::new();
    proxy.push_many(
        Scope::Refresh,
        [
            Fault::Status(503, None),
            Fault::Status(500, None),
            Fault::Status(429, Some(3)),
            Fault::DropBeforeForward,
            Fault::Delay(1_500),
        ],
    );
    let _daemon = sb.spawn_daemon();

    let start = Instant::now();
    let mut renewed = false;
    while start.elapsed() < Duration::from_secs(70) {
        let t = token(&sb, name);
        assert!(server.is_active(&t), "an inactive token was handed out during the faults");
        let s = state(&sb, name);
        assert!(s != "needs-sign-in" && s != "offline", "false alarm: {s} after {:?}", start.elapsed());
        if server.count_events("refresh_token.consumed") >= 1 && s == "working" {
            renewed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(renewed, "no refresh got through; attempts: {}", proxy.refresh_attempts().len());
    let attempts = proxy.refresh_attempts();
    assert!(attempts.len() >= 5, "{} attempts", attempts.len());
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[2] >= Duration::from_millis(2_900), "Retry-After: 3 not honoured: {gaps:?}");
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(400)), "retries too fast: {gaps:?}");
    // The same refresh token was offered each time until one answer arrived.
    let sent = proxy.refresh_tokens_sent();
    assert!(sent.iter().take(5).all(|t| *t == sent[0]), "the refresh token changed before a success");
    let history = sb.run_ok(&["status", name, "--json"], None);
    // A warning that the token may stop working is allowed once it is within a quarter of its
    // life of expiring; saying it stopped working, or asking for a sign-in, is not.
    let alarms = notes.count(|n| n.mentions(name) && (n.summary.contains("stopped working") || n.is_critical()));
    assert_eq!(alarms, 0, "false alarm while the token still works: {:?}\n{history}", notes.all());
    assert!(history.contains("refresh-failed"), "failures are in the history: {history}");
}

#[test]
fn an_outage_longer_than_the_token_is_offline_then_recovers_with_one_notice_each() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: 8, ..OidcOptions::default() });
    let proxy = FaultProxy::start(server.addr());
    let sb = Sandbox::new();
    let name = "outage";
    add_through_proxy(&sb, &server, &proxy, name);
    login(&sb, name);
    let notes = Notifications::new();
    proxy.set_offline(true);
    let _daemon = sb.spawn_daemon();

    assert!(wait_for_state(&sb, name, "offline", Duration::from_secs(20)), "state: {}", state(&sb, name));
    let out = sb.run(&["token", name], None);
    assert_eq!(exit_code(&out), 4, "token while offline with an expired token: {}", stderr(&out));
    assert!(out.stdout.is_empty());
    let warned = notes.wait_for(|n| n.mentions(name), Duration::from_secs(5)).expect("one notice about the outage");
    assert!(!warned.is_critical(), "an outage is not a sign-in problem: {warned:?}");

    proxy.set_offline(false);
    assert!(wait_for_state(&sb, name, "working", Duration::from_secs(30)), "no recovery: {}", state(&sb, name));
    assert!(server.is_active(&token(&sb, name)));
    let back = notes.wait_for(|n| n.summary == format!("{name} is working again"), Duration::from_secs(5));
    assert!(back.is_some(), "{:?}", notes.all());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(notes.count(|n| n.mentions(name)), 2, "exactly one problem notice and one recovery: {:?}", notes.all());
}

/// An integration `name` signed in at a provider whose token responses claim `expires_in`
/// (JSON text) while its tokens live 60 s.
fn signed_in_claiming(expires_in: &str, name: &str) -> (OidcServer, Sandbox) {
    require_test_session();
    let claimed = OidcOptions { at_ttl: 60, claimed_expires_in: Some(expires_in.into()), ..OidcOptions::default() };
    let server = OidcServer::start(claimed);
    let sb = Sandbox::new();
    add_oauth(&sb, &server, name);
    login(&sb, name);
    (server, sb)
}

/// A provider that says every token lives 0 seconds: under the daemon this used to be a refresh
/// loop (92 renewals, each with a keychain write, in about 6 s). The lifetime is taken as unknown
/// and the token renewed on a fixed re-check (an hour), so in the seconds watched there is no
/// renewal at all, and the token is handed out and works.
#[test]
fn a_provider_claiming_tokens_live_zero_seconds_sends_the_daemon_into_no_refresh_loop() {
    let (server, sb) = signed_in_claiming("0", "zero");
    let before = server.count_events("refresh_token.consumed");
    let mut daemon = sb.spawn_daemon();
    // An observation window, as long as the audit's: a loop shows within it, its absence cannot
    // be waited for any other way.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(6) {
        assert!(daemon.is_running(), "the daemon stopped: {}", daemon.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    let renewals = server.count_events("refresh_token.consumed") - before;
    assert!(renewals <= 1, "{renewals} renewals in 6 s: a refresh loop\n{}", daemon.log());
    let doc = keychain_doc(&sb, "zero");
    let (issued, expires) = (doc["issued_at"].as_i64().unwrap(), doc["access_expires_at"].as_i64().unwrap());
    assert_eq!(expires - issued, 3600, "an unknown lifetime is re-checked after an hour: {doc}");
    assert!(server.is_active(&token(&sb, "zero")));
    assert_eq!(settled_state(&sb, "zero"), "working");
}

/// A token response whose `expires_in` cannot be read ("soon") still carries a rotated refresh
/// token, the only one the provider will accept next: it is kept (the lifetime is taken as
/// unknown), so the next renewal works and the grant is never replayed into revocation.
#[test]
fn an_unreadable_lifetime_keeps_the_rotated_refresh_token_it_came_with() {
    let (server, sb) = signed_in_claiming("\"soon\"", "vague");
    for round in 1..=2 {
        let before = stored_refresh_token(&sb, "vague");
        let out = sb.run(&["refresh", "vague"], None);
        assert!(out.status.success(), "renewal {round} failed: {}", stderr(&out));
        let after = stored_refresh_token(&sb, "vague");
        assert_ne!(after, before, "renewal {round}: the rotated refresh token was not stored");
        assert!(server.is_active(&after), "renewal {round}: the stored refresh token is not the live one");
    }
    assert_eq!(server.count_events("grant.revoked"), 0, "a consumed refresh token was replayed");
    assert!(server.is_active(&token(&sb, "vague")));
}

//! The HighQ Collaborate preset end to end, against a local HighQ that speaks its documented
//! wire format (XML token responses with `<useremail>`, rotating refresh tokens, `403 Access
//! denied` for a dead access token): `login --from-response` with the XML, the daemon keeping
//! the token valid, the probe addressed by the account e-mail, a 403 that survives a renewal and
//! a revoked access noticed with the right plain-language notification.

mod common;
mod providers_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use providers_support::*;
use tokenkeeper_tests::{require_test_session, Notifications, Sandbox};

fn add_highq(sb: &Sandbox, server: &HighQ, name: &str) {
    let instance = server.instance_url();
    let args = ["--provider", "highq", "--instance-url", &instance, "--probe-interval", "5"];
    sb.add_confidential_ok(name, &args, HIGHQ_CLIENT_ID, HIGHQ_CLIENT_SECRET);
}

fn sign_in_with_xml(sb: &Sandbox, server: &HighQ, name: &str) -> String {
    let xml = server.sign_in_response();
    let file = sb.root().join("highq-token.xml");
    std::fs::write(&file, &xml).unwrap();
    sb.run_ok(&["login", name, "--from-response", file.to_str().unwrap()], None);
    std::fs::remove_file(&file).unwrap();
    xml
}

#[test]
fn the_daemon_keeps_a_highq_token_valid_and_notices_a_revocation() {
    require_test_session();
    let server = HighQ::start(Duration::from_secs(5));
    let sb = Sandbox::new();
    let name = "HighQ reporting";
    add_highq(&sb, &server, name);
    sign_in_with_xml(&sb, &server, name);
    let doc = keychain_doc(&sb, name).to_string();
    assert!(doc.contains(HIGHQ_EMAIL), "useremail kept with the tokens: {doc}");
    let first_refresh_token = stored_refresh_token(&sb, name);
    let listed_first = listed(&sb, name);
    assert_eq!(listed_first["provider"], "highq");
    let year_ahead = listed_first["refresh_expires_at"].as_str().expect("refresh token end known").to_string();
    let next_year = (time_now_year() + 1).to_string();
    assert!(year_ahead.starts_with(&next_year), "one year from the last generation: {year_ahead}");

    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    let start = Instant::now();
    let mut seen = HashSet::new();
    while start.elapsed() < Duration::from_secs(16) {
        let t = token(&sb, name);
        assert!(server.is_active(&t), "`token` handed out a dead token after {:?}", start.elapsed());
        seen.insert(t);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!((3..=12).contains(&server.refreshes()), "{} renewals in 16 s", server.refreshes());
    assert!(seen.len() >= 3, "only {} distinct tokens", seen.len());
    assert_ne!(stored_refresh_token(&sb, name), first_refresh_token, "the rotated refresh token was stored");
    let probes = server.probes();
    assert!(!probes.is_empty(), "the daemon checks the token");
    assert!(
        probes.iter().all(|p| p == &format!("/acme/api/3/users/{HIGHQ_EMAIL}?type=email")),
        "the probe names the account e-mail: {probes:?}"
    );
    assert_eq!(settled_state(&sb, name), "working");

    server.revoke_all();
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    let out = sb.run(&["token", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let n = notes
        .wait_for(|n| n.summary == "HighQ reporting stopped working", Duration::from_secs(10))
        .expect("a notification");
    assert!(n.body.contains("no longer accepts the sign-in"), "{n:?}");
    assert_eq!(notes.count(|n| n.mentions(name)), 1, "one notice");
    let mut secrets: Vec<&str> = seen.iter().map(String::as_str).collect();
    secrets.push(&first_refresh_token);
    secrets.push(HIGHQ_CLIENT_SECRET);
    sb.assert_no_secret_on_disk(&secrets);
}

#[test]
fn a_403_that_survives_a_renewal_needs_sign_in() {
    require_test_session();
    let server = HighQ::start(Duration::from_secs(300));
    let sb = Sandbox::new();
    let name = "hq-403";
    add_highq(&sb, &server, name);
    sign_in_with_xml(&sb, &server, name);
    // A script got a 403 and asks for a check: fine, one renewal, one probe.
    sb.run_ok(&["refresh", name], None);
    assert_eq!(server.refreshes(), 1);
    assert_eq!(server.probes().len(), 1);
    // HighQ refuses the account even with a fresh token: renewed once more, then Needs sign-in.
    server.deny_all(true);
    let before = server.refreshes();
    let out = sb.run(&["refresh", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(!stderr(&out).contains("HTTP 403"), "the code is technical detail: {}", stderr(&out));
    assert!(server.refreshes() > before, "a 403 triggers a renewal before giving up");
    assert_eq!(state(&sb, name), "needs-sign-in");
    assert!(listed(&sb, name)["detail"].as_str().unwrap().contains("even after renewing"));
    assert!(listed(&sb, name)["detail_technical"].as_str().unwrap().contains("HTTP 403"));
    assert_eq!(exit_code(&sb.run(&["token", name], None)), 3);
}

#[test]
fn an_expired_highq_access_token_is_renewed_after_a_403() {
    require_test_session();
    let server = HighQ::start(Duration::from_secs(2));
    let sb = Sandbox::new();
    let name = "hq-expired";
    add_highq(&sb, &server, name);
    sign_in_with_xml(&sb, &server, name);
    std::thread::sleep(Duration::from_secs(3));
    // The access token is dead (HighQ: 403); `refresh` renews it and the check passes.
    sb.run_ok(&["refresh", name], None);
    let t = token(&sb, name);
    assert!(server.is_active(&t));
    assert_eq!(settled_state(&sb, name), "working");
}

fn time_now_year() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // Good enough for "next year": days since 1970 / 365.2425.
    1970 + (secs as f64 / 86_400.0 / 365.2425) as i64
}

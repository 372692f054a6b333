//! The Atlassian presets end to end: OAuth 2.0 (3LO) against a local auth.atlassian.com that
//! takes JSON token requests only, rotates refresh tokens and answers `403 invalid_grant
//! "Unknown or invalid refresh token."` once access is revoked; and an Atlassian API token
//! checked with `GET {site}/rest/api/3/myself`.

mod common;
mod providers_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use providers_support::*;
use tokenkeeper_tests::{require_test_session, Notifications, Sandbox};

#[test]
fn atlassian_sign_in_renewal_and_revocation() {
    require_test_session();
    let server = Atlassian::start(Duration::from_secs(5));
    let sb = Sandbox::new();
    let name = "Jira sync";
    sb.run_ok(
        &[
            "add",
            name,
            "--provider",
            "atlassian",
            "--base-url",
            &server.base_url(),
            "--client-id",
            ATLASSIAN_CLIENT_ID,
            "--client-secret-stdin",
            "--scope",
            "read:jira-work",
        ],
        Some(&format!("{ATLASSIAN_CLIENT_SECRET}\n")),
    );
    login(&sb, name);
    let queries = server.authorize_queries();
    assert_eq!(queries.len(), 1);
    let count = |k: &str| queries[0].iter().filter(|(key, _)| key == k).count();
    assert_eq!((count("audience"), count("prompt")), (1, 1), "{queries:?}");
    let scope = &queries[0].iter().find(|(k, _)| k == "scope").unwrap().1;
    assert!(scope.contains("offline_access") && scope.contains("read:jira-work"), "{scope}");
    let first_refresh_token = stored_refresh_token(&sb, name);

    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    let start = Instant::now();
    let mut seen = HashSet::new();
    while start.elapsed() < Duration::from_secs(15) {
        let t = token(&sb, name);
        assert!(server.is_active(&t), "`token` handed out a dead token after {:?}", start.elapsed());
        seen.insert(t);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!((3..=12).contains(&server.refreshes()), "{} renewals in 15 s", server.refreshes());
    assert_eq!(server.form_bodies(), 0, "every token request had a JSON body");
    assert_ne!(stored_refresh_token(&sb, name), first_refresh_token, "rotation stored");

    server.revoke_all();
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    let out = sb.run(&["token", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let detail = listed(&sb, name)["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("Atlassian no longer accepts the sign-in"), "plain words first: {detail}");
    assert!(detail.contains("Unknown or invalid refresh token."), "then the service's own: {detail}");
    let n = notes.wait_for(|n| n.summary == "Jira sync stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("Atlassian no longer accepts its sign-in"), "{n:?}");
    assert_eq!(notes.count(|n| n.mentions(name)), 1);
    let mut secrets: Vec<&str> = seen.iter().map(String::as_str).collect();
    secrets.push(&first_refresh_token);
    secrets.push(ATLASSIAN_CLIENT_SECRET);
    sb.assert_no_secret_on_disk(&secrets);
}

#[test]
fn an_atlassian_api_token_on_its_site_is_checked_and_its_revocation_noticed() {
    require_test_session();
    let api = ApiServer::start(ApiMode::Accept(basic("me@example.com", "atl-api-token-1")));
    let site = api.url.trim_end_matches("/rest/api/3/myself").to_string();
    let sb = Sandbox::new();
    let name = "jira-token";
    sb.run_ok(
        &[
            "add",
            name,
            "--provider",
            "atlassian-api-token",
            "--site",
            &site,
            "--username",
            "me@example.com",
            "--expires",
            "2099-06-30",
            "--probe-interval",
            "5",
        ],
        None,
    );
    assert_eq!(exit_code(&sb.run(&["login", name], Some("wrong\n"))), 2);
    sb.run_ok(&["login", name], Some("atl-api-token-1\n"));
    assert_eq!(token(&sb, name), "atl-api-token-1");
    let entry = listed(&sb, name);
    assert_eq!((entry["provider"].as_str(), entry["kind"].as_str()), (Some("atlassian-api-token"), Some("api-token")));
    assert!(entry["refresh_expires_at"].as_str().unwrap().starts_with("2099-06-30"));

    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    api.set(ApiMode::LoginPage);
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    assert_eq!(exit_code(&sb.run(&["token", name], None)), 3);
    let n = notes.wait_for(|n| n.summary == "jira-token stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("Atlassian no longer accepts its API token"), "{n:?}");
}

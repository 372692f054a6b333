//! API-token integrations (static tokens): checked before they are saved, probed on a schedule,
//! and a revoked token — a 401, or a sign-in page where JSON was expected — is `Needs sign-in`
//! with one notification, while `token` refuses to hand it out.

mod common;

use std::time::Duration;

use common::*;
use tokenkeeper_tests::{require_test_session, Notifications, Sandbox};

#[test]
fn an_api_token_is_checked_before_it_is_saved() {
    require_test_session();
    let api = ApiServer::start(ApiMode::Accept(basic("me@example.com", "good-token-123")));
    let sb = Sandbox::new();
    sb.run_ok(
        &["add", "jira", "--yes", "--provider", "api-token", "--probe-url", &api.url, "--username", "me@example.com"],
        None,
    );
    let bad = sb.run(&["login", "jira"], Some("wrong-token\n"));
    assert_eq!(exit_code(&bad), 2, "a refused token is bad input: {}", stderr(&bad));
    assert!(stderr(&bad).contains("not saved"), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains("wrong-token"), "the token must not be echoed");
    assert_eq!(exit_code(&sb.run(&["token", "jira"], None)), 3, "nothing saved yet");

    sb.run_ok(&["login", "jira"], Some("good-token-123\n"));
    assert_eq!(token(&sb, "jira"), "good-token-123");
    assert_eq!(settled_state(&sb, "jira"), "working");
    // A later bad token does not replace the good one.
    assert_eq!(exit_code(&sb.run(&["login", "jira"], Some("another-wrong\n"))), 2);
    assert_eq!(token(&sb, "jira"), "good-token-123");
    sb.assert_no_secret_on_disk(&["good-token-123"]);
}

fn revoked_case(name: &str, dead: ApiMode) {
    require_test_session();
    let api = ApiServer::start(ApiMode::Accept("Bearer tok-4711-xyz".into()));
    let sb = Sandbox::new();
    sb.run_ok(
        &["add", name, "--yes", "--provider", "api-token", "--probe-url", &api.url, "--probe-interval", "5"],
        None,
    );
    sb.run_ok(&["login", name], Some("tok-4711-xyz\n"));
    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(settled_state(&sb, name), "working");
    api.set(dead);
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    let out = sb.run(&["token", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let n =
        notes.wait_for(|n| n.summary == format!("{name} stopped working"), Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("no longer accepts this token"), "{n:?}");
    let hits = api.hits();
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(api.hits(), hits, "a dead token is not probed again until the keeper acts");
    assert_eq!(notes.count(|n| n.mentions(name)), 1);
    assert!(sb.keychain_secret(name).is_some_and(|s| s.contains("tok-4711-xyz")), "nothing deleted");
}

#[test]
fn a_revoked_api_token_needs_sign_in() {
    revoked_case("revoked-api", ApiMode::Revoked);
}

#[test]
fn a_sign_in_page_instead_of_json_means_the_token_is_dead() {
    revoked_case("html-api", ApiMode::LoginPage);
}

#[test]
fn refresh_checks_an_api_token_at_once() {
    require_test_session();
    let api = ApiServer::start(ApiMode::Accept("Bearer fine-token".into()));
    let sb = Sandbox::new();
    sb.run_ok(&["add", "checked", "--yes", "--provider", "api-token", "--probe-url", &api.url], None);
    sb.run_ok(&["login", "checked"], Some("fine-token\n"));
    let before = api.hits();
    sb.run_ok(&["refresh", "checked"], None);
    assert_eq!(api.hits(), before + 1);
    api.set(ApiMode::Revoked);
    let out = sb.run(&["refresh", "checked"], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert_eq!(state(&sb, "checked"), "needs-sign-in");
}

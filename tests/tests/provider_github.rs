//! The GitHub preset end to end, against a local github.com that speaks GitHub App user tokens'
//! wire format: JSON only when asked for, errors with HTTP 200, rotating refresh tokens with
//! `refresh_token_expires_in` (six months), `401 Bad credentials` from `GET /user`. Sign-in with
//! `login --from-response`, the daemon keeping a short-lived token valid, and a
//! `bad_refresh_token` (HTTP 200) turned into Needs sign-in with a plain-language notification.

mod common;
mod providers_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use providers_support::*;
use tokenkeeper_tests::{require_test_session, Notifications, Sandbox};

/// The UTC dates (YYYY-MM-DD) `days` from now, give or take one (a run across midnight).
fn dates_around(days: i64) -> Vec<String> {
    (days - 1..=days + 1)
        .map(|d| {
            let out = std::process::Command::new("date")
                .args(["-u", "-d", &format!("+{d} days"), "+%Y-%m-%d"])
                .output()
                .expect("date");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .collect()
}

/// `tokenkeeper add NAME --provider github` against the stand-in, with `secret` on stdin.
fn add_github(sb: &Sandbox, server: &GitHub, name: &str, more: &[&str], secret: &str) {
    // --base-url moves every GitHub address, its check address too (a preset's addresses are
    // never given in full).
    let base = server.base_url();
    let mut args = vec!["--provider", "github", "--base-url", &base];
    args.extend_from_slice(more);
    sb.add_confidential_ok(name, &args, GITHUB_CLIENT_ID, secret);
}

#[test]
fn github_sign_in_renewal_and_a_bad_refresh_token_with_http_200() {
    require_test_session();
    let server = GitHub::start(Duration::from_secs(5));
    let sb = Sandbox::new();
    let name = "GitHub sync";
    add_github(&sb, &server, name, &["--probe-interval", "5"], GITHUB_CLIENT_SECRET);
    let file = sb.root().join("github-token.json");
    std::fs::write(&file, server.sign_in_response()).unwrap();
    sb.run_ok(&["login", name, "--from-response", file.to_str().unwrap()], None);
    std::fs::remove_file(&file).unwrap();
    let first_refresh_token = stored_refresh_token(&sb, name);
    let entry = listed(&sb, name);
    assert_eq!((entry["provider"].as_str(), entry["state"].as_str()), (Some("github"), Some("working")));
    let refresh_end = entry["refresh_expires_at"].as_str().expect("refresh token end known").to_string();
    let days = (GITHUB_REFRESH_TTL_SECS / 86_400) as i64;
    assert!(
        dates_around(days).iter().any(|d| refresh_end.starts_with(d.as_str())),
        "refresh_token_expires_in (six months) counted: {refresh_end}"
    );

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
    assert!(seen.len() >= 3, "only {} distinct tokens", seen.len());
    assert_eq!(server.form_answers(), 0, "every token request asked for JSON");
    assert!(server.errors().is_empty(), "no errors while working: {:?}", server.errors());
    assert_ne!(stored_refresh_token(&sb, name), first_refresh_token, "rotation stored");
    assert_eq!(settled_state(&sb, name), "working");

    // The user revokes the app: GitHub answers bad_refresh_token with HTTP 200.
    server.revoke_all();
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    assert!(server.errors().iter().any(|e| e == "bad_refresh_token"), "{:?}", server.errors());
    let out = sb.run(&["token", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let view = listed(&sb, name);
    let detail = view["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("GitHub no longer accepts the sign-in"), "plain words: {detail}");
    assert!(!detail.contains("bad_refresh_token"), "no protocol words: {detail}");
    let technical = view["detail_technical"].as_str().unwrap_or_default().to_string();
    assert!(technical.contains("bad_refresh_token: The refresh token passed is incorrect or expired."), "{technical}");
    let n = notes.wait_for(|n| n.summary == "GitHub sync stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("GitHub no longer accepts the sign-in"), "{n:?}");
    assert_eq!(notes.count(|n| n.mentions(name)), 1, "one notice");
    let mut secrets: Vec<&str> = seen.iter().map(String::as_str).collect();
    secrets.push(&first_refresh_token);
    secrets.push(GITHUB_CLIENT_SECRET);
    sb.assert_no_secret_on_disk(&secrets);
}

#[test]
fn wrong_client_credentials_with_http_200_are_not_retried_forever() {
    require_test_session();
    let server = GitHub::start(Duration::from_secs(300));
    let sb = Sandbox::new();
    let name = "gh-wrong-secret";
    add_github(&sb, &server, name, &[], "not-the-secret");
    let file = sb.root().join("github-token.json");
    std::fs::write(&file, server.sign_in_response()).unwrap();
    sb.run_ok(&["login", name, "--from-response", file.to_str().unwrap()], None);
    server.revoke_all();
    let out = sb.run(&["refresh", name], None);
    assert_eq!(exit_code(&out), 3, "{}", stderr(&out));
    assert_eq!(server.errors(), ["incorrect_client_credentials"]);
    assert!(stderr(&out).contains("GitHub no longer accepts the GitHub App this sign-in uses"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tokenkeeper login gh-wrong-secret"),
        "the command line names its fix: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("not-the-secret"));
    assert_eq!(state(&sb, name), "needs-sign-in");
}

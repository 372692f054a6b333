//! The Atlassian presets end to end: OAuth 2.0 (3LO) against a local auth.atlassian.com that
//! takes JSON token requests only, rotates refresh tokens and answers `403 invalid_grant
//! "Unknown or invalid refresh token."` once access is revoked; the sites a sign-in reaches;
//! the 365-day limit of a sign-in; a lost renewal answer inside and outside the 10-minute reuse
//! interval; and an Atlassian API token checked with `GET {site}/rest/api/3/myself`, or through
//! the API gateway for a scoped token.

mod common;
mod providers_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use providers_support::*;
use serde_json::Value;
use tokenkeeper_tests::{require_test_session, wait_until, Fault, FaultProxy, Notifications, Sandbox, Scope};

/// `tokenkeeper add NAME --provider atlassian --base-url BASE …` with the client secret. Each
/// test has its own name: the notification log is shared by the tests running at once.
fn add_atlassian(sb: &Sandbox, name: &str, base_url: &str) {
    let args = ["--provider", "atlassian", "--base-url", base_url, "--scope", "read:jira-work"];
    sb.add_confidential_ok(name, &args, ATLASSIAN_CLIENT_ID, ATLASSIAN_CLIENT_SECRET);
}

/// `tokenkeeper status NAME --json`.
fn status_json(sb: &Sandbox, name: &str) -> Value {
    let out = sb.run_ok(&["status", name, "--json"], None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status --json: {e}: {out}"))
}

fn rfc3339(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
}

#[test]
fn atlassian_sign_in_renewal_and_revocation() {
    require_test_session();
    let server = Atlassian::start(Duration::from_secs(5));
    let sb = Sandbox::new();
    let name = "Jira sync";
    add_atlassian(&sb, name, &server.base_url());
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
    let view = listed(&sb, name);
    let detail = view["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("Atlassian no longer accepts the sign-in"), "plain words: {detail}");
    assert!(!detail.contains("invalid_grant") && !detail.contains("refresh token"), "no protocol words: {detail}");
    let technical = view["detail_technical"].as_str().unwrap_or_default().to_string();
    assert!(technical.contains("Unknown or invalid refresh token."), "the service's own, apart: {technical}");
    let n = notes.wait_for(|n| n.summary == "Jira sync stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("Atlassian no longer accepts the sign-in"), "{n:?}");
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
    assert!(n.body.contains("Atlassian no longer accepts this token"), "{n:?}");
}

#[test]
fn the_sites_of_a_sign_in_are_listed_and_a_failed_listing_never_fails_the_sign_in() {
    require_test_session();
    const NAME: &str = "Jira sites";
    let server = Atlassian::start(Duration::from_secs(3600));
    let sb = Sandbox::new();
    add_atlassian(&sb, NAME, &server.base_url());
    let said = login_messages(&sb, NAME);
    assert!(said.contains("acme https://acme.atlassian.net (cloud id 1324a887-45db-1bf4-1e99-ef0ff456d421)"), "{said}");
    assert!(said.contains("acme-sandbox https://acme-sandbox.atlassian.net"), "{said}");
    assert_eq!(server.sites_requests(), 1);

    let s = status_json(&sb, NAME);
    assert_eq!(
        s["sites"],
        serde_json::json!([
            {"id": ATLASSIAN_CLOUD_ID, "name": "acme", "url": "https://acme.atlassian.net"},
            {"id": "9a8b7c6d-0000-4e5f-8a9b-112233445566", "name": "acme-sandbox", "url": "https://acme-sandbox.atlassian.net"}
        ])
    );
    let signed_in = rfc3339(&s["signed_in_at"]);
    assert!((signed_in - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 60, "{s}");
    assert_eq!(rfc3339(&s["sign_in_ends_at"]), signed_in + 365 * 86_400, "a year from the sign-in");
    assert_eq!(rfc3339(&s["refresh_expires_at"]), signed_in + 90 * 86_400, "90 days unused come first");
    let text = sb.run_ok(&["status", NAME], None);
    assert!(text.contains("Sites:           acme https://acme.atlassian.net (cloud id 1324a887"), "{text}");

    // The listing fails at the next sign-in: signed in all the same, the failure is in the history
    // and the sites of the previous sign-in stay.
    server.set_sites_status(500);
    let said = login_messages(&sb, NAME);
    assert!(said.contains("Signed in."), "{said}");
    assert_eq!(server.sites_requests(), 2);
    let s = status_json(&sb, NAME);
    assert_eq!(s["state"], "working");
    assert_eq!(s["sites"].as_array().map(Vec::len), Some(2), "{s}");
    let noted = s["history"].as_array().unwrap().iter().find(|e| e["event"] == "sites-not-listed").cloned();
    let noted = noted.unwrap_or_else(|| panic!("no sites-not-listed entry: {s}"));
    assert!(noted["text"].as_str().unwrap().contains("did not list the sites"), "in words: {noted}");
    assert!(noted["detail_technical"].as_str().unwrap().contains("HTTP 500"), "the code apart: {noted}");
    assert!(!token(&sb, NAME).is_empty());
}

#[test]
fn a_sign_in_near_its_365_day_limit_warns_and_a_renewal_does_not_extend_it() {
    require_test_session();
    const NAME: &str = "Jira year";
    let server = Atlassian::start(Duration::from_secs(3600));
    let sb = Sandbox::new();
    add_atlassian(&sb, NAME, &server.base_url());
    login(&sb, NAME);
    assert_eq!(settled_state(&sb, NAME), "working");

    // The sign-in was made 360 days ago: only its time in the state file changes.
    let record = sb
        .files()
        .into_iter()
        .find(|p| p.starts_with(sb.state_dir()) && p.ends_with(format!("integrations/{NAME}.json")))
        .expect("the state record");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let signed_in = now - 360 * 86_400;
    assert!(saved["signed_in_at"].is_i64(), "the record keeps the sign-in time: {saved}");
    saved["signed_in_at"] = signed_in.into();
    std::fs::write(&record, serde_json::to_vec_pretty(&saved).unwrap()).unwrap();

    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    assert!(wait_for_state(&sb, NAME, "expiring-soon", Duration::from_secs(15)), "state: {}", state(&sb, NAME));
    let ends = signed_in + 365 * 86_400;
    assert_eq!(rfc3339(&listed(&sb, NAME)["refresh_expires_at"]), ends, "list shows when to sign in again");
    assert_eq!(rfc3339(&status_json(&sb, NAME)["sign_in_ends_at"]), ends);
    let n = notes
        .wait_for(|n| n.summary.starts_with("The sign-in of Jira year ends in "), Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no expiry notice: {:?}", notes.all()));
    assert!(n.summary.ends_with("4 days") || n.summary.ends_with("5 days"), "{n:?}");
    assert!(
        n.body.contains("(Atlassian ends every sign-in 365 days after it was made, however often it is renewed)"),
        "{n:?}"
    );
    assert!(!n.is_critical(), "14 days ahead is no emergency: {n:?}");

    // A renewal gives a new refresh token (90 more days) but the year still ends on the same day.
    let renewed_before = server.refreshes();
    sb.run_ok(&["refresh", NAME], None);
    assert_eq!(server.refreshes(), renewed_before + 1);
    let s = status_json(&sb, NAME);
    assert_eq!((s["state"].as_str(), rfc3339(&s["sign_in_ends_at"])), (Some("expiring-soon"), ends), "{s}");
    assert_eq!(rfc3339(&s["refresh_expires_at"]), ends);
    assert_eq!(notes.count(|n| n.mentions(NAME)), 1, "one warning per lead time: {:?}", notes.all());
}

/// Signs in through a proxy in front of the stand-in, loses the answer of the first renewal
/// (Atlassian rotated the refresh token; the keeper never heard), and runs the daemon until the
/// keeper has tried again. Returns the proxy, the sandbox, and the refresh token before the loss.
fn lose_the_first_renewal(name: &str, reuse_window: Duration) -> (Atlassian, FaultProxy, Sandbox, String) {
    // 12 s tokens: renewed 6 s after issue, so the retry comes seconds before the token ends.
    let server = Atlassian::start(Duration::from_secs(12));
    server.set_reuse_window(reuse_window);
    let proxy = FaultProxy::start(server.addr);
    let sb = Sandbox::new();
    add_atlassian(&sb, name, &proxy.url());
    login(&sb, name);
    let before = stored_refresh_token(&sb, name);
    proxy.push_for(Scope::Refresh, Fault::DropAfterForward);
    (server, proxy, sb, before)
}

/// The refresh requests the proxy saw: (refresh token sent, provider's status, client's status).
fn refreshes_seen(proxy: &FaultProxy) -> Vec<(String, Option<u16>, Option<u16>)> {
    proxy
        .records()
        .iter()
        .filter(|r| r.request.is_refresh())
        .map(|r| (r.request.param("refresh_token").unwrap_or_default().to_string(), r.upstream_status, r.client_status))
        .collect()
}

#[test]
fn a_lost_renewal_answer_is_recovered_inside_the_reuse_interval_without_a_notice() {
    require_test_session();
    const NAME: &str = "Jira reused";
    let (server, proxy, sb, before) = lose_the_first_renewal(NAME, ATLASSIAN_REUSE_WINDOW);
    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    assert!(proxy.wait_for_refresh_attempts(2, Duration::from_secs(20)), "renewals: {:?}", refreshes_seen(&proxy));
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(200), || stored_refresh_token(&sb, NAME) != before),
        "the retry's new refresh token was stored"
    );
    let seen = refreshes_seen(&proxy);
    assert_eq!(seen[0], (before.clone(), Some(200), None), "Atlassian rotated, the answer was lost: {seen:?}");
    assert_eq!(seen[1], (before.clone(), Some(200), Some(200)), "the same refresh token again, accepted: {seen:?}");
    assert_eq!(settled_state(&sb, NAME), "working");
    let t = token(&sb, NAME);
    assert!(server.is_active(&t), "the token works");
    let history = status_json(&sb, NAME)["history"].clone();
    let events: Vec<&str> = history.as_array().unwrap().iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(events.contains(&"refresh-failed"), "the lost answer is in the history: {events:?}");
    // The next renewal uses the new chain: the old token is never needed again.
    // (waits for the provider's answer too: the proxy records a request as soon as it arrives)
    let third_answered = || refreshes_seen(&proxy).get(2).is_some_and(|r| r.1.is_some());
    assert!(
        wait_until(Duration::from_secs(15), Duration::from_millis(20), third_answered),
        "renewals: {:?}",
        refreshes_seen(&proxy)
    );
    let seen = refreshes_seen(&proxy);
    assert_ne!(seen[2].0, before);
    assert_eq!(seen[2].1, Some(200));
    assert_eq!(notes.count(|n| n.mentions(NAME)), 0, "recovered silently: {:?}", notes.all());
}

#[test]
fn a_lost_renewal_answer_after_the_reuse_interval_is_a_needs_sign_in_with_one_notice() {
    require_test_session();
    const NAME: &str = "Jira lost";
    let (_server, proxy, sb, before) = lose_the_first_renewal(NAME, Duration::ZERO);
    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    assert!(wait_for_state(&sb, NAME, "needs-sign-in", Duration::from_secs(25)), "state: {}", state(&sb, NAME));
    let seen = refreshes_seen(&proxy);
    assert_eq!(seen[0], (before.clone(), Some(200), None), "{seen:?}");
    assert_eq!(seen[1], (before.clone(), Some(403), Some(403)), "the old token is refused: {seen:?}");
    let technical = listed(&sb, NAME)["detail_technical"].as_str().unwrap_or_default().to_string();
    assert!(technical.contains("Unknown or invalid refresh token."), "{technical}");
    let n = notes.wait_for(|n| n.summary == "Jira lost stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.is_critical(), "{n:?}");
    assert_eq!(exit_code(&sb.run(&["token", NAME], None)), 3);
    assert_eq!(notes.count(|n| n.mentions(NAME)), 1, "never silent, never twice: {:?}", notes.all());
    assert_eq!(stored_refresh_token(&sb, NAME), before, "nothing was thrown away");
}

#[test]
fn a_scoped_atlassian_api_token_is_checked_through_the_api_gateway() {
    require_test_session();
    let server = Atlassian::start(Duration::from_secs(3600));
    server.accept_scoped_token(Some(basic("me@example.com", "atl-scoped-token-1")));
    let sb = Sandbox::new();
    let name = "jira-scoped";
    sb.run_ok(
        &[
            "add",
            name,
            "--provider",
            "atlassian-api-token",
            "--cloud-id",
            ATLASSIAN_CLOUD_ID,
            "--base-url",
            &server.base_url(),
            "--username",
            "me@example.com",
            "--probe-interval",
            "5",
        ],
        None,
    );
    assert_eq!(exit_code(&sb.run(&["login", name], Some("wrong\n"))), 2, "a wrong token is refused");
    sb.run_ok(&["login", name], Some("atl-scoped-token-1\n"));
    assert_eq!(token(&sb, name), "atl-scoped-token-1");
    let config = sb.files().into_iter().find(|p| p.ends_with(format!("integrations/{name}.toml"))).unwrap();
    let config = std::fs::read_to_string(config).unwrap();
    let probe = format!("{}/ex/jira/{ATLASSIAN_CLOUD_ID}/rest/api/3/myself", server.base_url());
    assert!(config.contains(&probe), "{config}");

    let notes = Notifications::new();
    let _daemon = sb.spawn_daemon();
    server.accept_scoped_token(None); // the token's scopes were changed or it was revoked
    assert!(wait_for_state(&sb, name, "needs-sign-in", Duration::from_secs(15)), "state: {}", state(&sb, name));
    let n = notes.wait_for(|n| n.summary == "jira-scoped stopped working", Duration::from_secs(10)).expect("notice");
    assert!(n.body.contains("Atlassian no longer accepts this token"), "{n:?}");
}

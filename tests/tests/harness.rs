//! The harness itself, against the real fixture and the real session services. If these fail,
//! every end-to-end test's verdict is suspect.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tokenkeeper_tests::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn refresh_form(rt: &str) -> Vec<(&'static str, String)> {
    vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", rt.to_owned())]
}

fn refresh_at(url: &str, rt: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let form = refresh_form(rt);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token_request(url, &form)
}

#[test]
fn fixture_starts_and_discovery_has_the_endpoints() {
    let t0 = Instant::now();
    let server = OidcServer::start_default();
    eprintln!("fixture started in {:?}", t0.elapsed());
    let doc = server.discovery();
    assert_eq!(doc["issuer"], json!(server.issuer()));
    assert_eq!(doc["token_endpoint"], json!(server.token_url()));
    assert_eq!(doc["authorization_endpoint"], json!(server.authorize_url()));
    assert_eq!(doc["device_authorization_endpoint"], json!(format!("{}/device/auth", server.issuer())));
    assert_eq!(doc["revocation_endpoint"], json!(format!("{}/token/revocation", server.issuer())));
    let grants = doc["grant_types_supported"].as_array().expect("grant types");
    for g in ["authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT] {
        assert!(grants.contains(&json!(g)), "{g} missing from {grants:?}");
    }
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
}

#[test]
fn client_credentials_through_the_proxy_is_active() {
    let server = OidcServer::start(OidcOptions { at_ttl: 30, ..Default::default() });
    let proxy = FaultProxy::start(server.addr());
    let tokens = server.client_credentials(&format!("{}/token", proxy.url())).expect("token via proxy");
    let at = tokens["access_token"].as_str().expect("access_token");
    assert_eq!(tokens["expires_in"], json!(30));
    assert!(server.is_active(at), "fresh token should be active");
    assert_eq!(server.introspect(at)["client_id"], json!(CLIENT_ID));
    assert_eq!(proxy.requests(), 1);
    let rec = &proxy.records()[0];
    assert!(rec.forwarded && rec.request.is_token_request() && !rec.request.is_refresh());
    assert_eq!((rec.upstream_status, rec.client_status), (Some(200), Some(200)));
    assert_eq!(server.count_events("client_credentials.saved"), 1);
    server.revoke(at);
    assert!(!server.is_active(at), "revoked token should be inactive");
}

#[test]
fn proxy_answers_503_and_429_itself_and_counts_refreshes() {
    let server = OidcServer::start_default();
    let proxy = FaultProxy::start(server.addr());
    let url = format!("{}/token", proxy.url());
    proxy.push_for(Scope::Refresh, Fault::Status(503, None));
    proxy.push_for(Scope::Refresh, Fault::Status(429, Some(7)));

    // a client-credentials request is not a refresh: it passes and leaves the queue alone
    server.client_credentials(&url).expect("client credentials pass");
    assert_eq!(proxy.queued(), 2);

    let (s1, b1) = refresh_at(&url, "garbage-1").unwrap();
    assert_eq!(s1, 503);
    assert!(b1["raw"].as_str().unwrap_or("").contains("Service Unavailable"), "{b1}");
    let (s2, b2) = refresh_at(&url, "garbage-2").unwrap();
    assert_eq!(s2, 429);
    assert_eq!(b2["error"], json!("too_many_requests"));
    let (s3, b3) = refresh_at(&url, "garbage-3").unwrap();
    assert_eq!(s3, 400, "third refresh reaches the provider");
    assert_eq!(b3["error"], json!("invalid_grant"));

    assert_eq!(proxy.requests(), 4);
    assert_eq!(proxy.refresh_attempts().len(), 3);
    assert_eq!(proxy.refresh_requests(), 1, "only the third refresh was forwarded");
    assert_eq!(proxy.refresh_tokens_sent(), vec!["garbage-1", "garbage-2", "garbage-3"]);
    let times = proxy.refresh_attempts();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(server.count_events_with("grant.error", &["grant_type=refresh_token"]), 1);

    // Retry-After is on the wire
    proxy.push(Fault::Status(429, Some(7)));
    let resp = std::thread::spawn(move || {
        reqwest_blocking_get_headers(&format!("{url}?x=1")) // any path: Scope::Any
    })
    .join()
    .unwrap();
    assert!(resp.contains("Retry-After: 7"), "{resp}");
}

/// Raw HTTP GET, returning the response head (no client library in between).
fn reqwest_blocking_get_headers(url: &str) -> String {
    use std::io::{Read, Write};
    let u = url::Url::parse(url).unwrap();
    let mut s = TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    write!(s, "GET {}?{} HTTP/1.1\r\nHost: x\r\n\r\n", u.path(), u.query().unwrap_or("")).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

#[test]
fn drop_after_forward_reaches_the_provider_but_the_client_gets_an_error() {
    let server = OidcServer::start_default();
    let proxy = FaultProxy::start(server.addr());
    proxy.push_for(Scope::Token, Fault::DropAfterForward);
    let err = server.client_credentials(&format!("{}/token", proxy.url())).expect_err("lost response");
    eprintln!("client saw: {err:#}");
    assert!(server.wait_for_events("client_credentials.saved", 1, SECS(5)), "provider issued a token");
    let rec = &proxy.records()[0];
    assert!(rec.forwarded);
    assert_eq!(rec.upstream_status, Some(200));
    assert_eq!(rec.client_status, None);

    // the same for DropBeforeForward and Down: nothing reaches the provider
    proxy.push(Fault::DropBeforeForward);
    proxy.push(Fault::Down);
    assert!(server.client_credentials(&format!("{}/token", proxy.url())).is_err());
    assert!(server.client_credentials(&format!("{}/token", proxy.url())).is_err());
    assert_eq!(server.count_events("client_credentials.saved"), 1);
    assert_eq!(proxy.requests(), 3);
    assert_eq!(proxy.records().iter().filter(|r| r.forwarded).count(), 1);
}

#[test]
fn proxy_delay_offline_canned_and_rules() {
    let server = OidcServer::start_default();
    let proxy = FaultProxy::start(server.addr());
    let url = format!("{}/token", proxy.url());

    proxy.push(Fault::Delay(300));
    let t0 = Instant::now();
    server.client_credentials(&url).expect("delayed but fine");
    assert!(t0.elapsed() >= Duration::from_millis(300));

    proxy.set_offline(true);
    assert!(TcpStream::connect(proxy.addr()).is_err(), "connections refused while offline");
    assert!(server.client_credentials(&url).is_err());
    proxy.set_offline(false);
    server.client_credentials(&url).expect("back online on the same port");

    proxy.push(Fault::Respond(Canned::html(200, "<html><body>Please sign in</body></html>")));
    let (status, body) = token_request(&url, &[("grant_type", "client_credentials")]).unwrap();
    assert_eq!(status, 200);
    assert!(body["raw"].as_str().unwrap().contains("Please sign in"));

    proxy.set_rule(|req| req.is_token_request().then_some(Fault::Status(502, None)));
    assert_eq!(token_request(&url, &[("grant_type", "client_credentials")]).unwrap().0, 502);
    proxy.clear_plan();
    server.client_credentials(&url).expect("plan cleared");
}

#[test]
fn sign_in_refresh_rotation_and_reuse_detection() {
    let server = OidcServer::start(OidcOptions { rt_expires_in: true, ..Default::default() });
    let proxy = FaultProxy::start(server.addr());
    let tokens = server.sign_in(CLIENT_ID, "openid offline_access email").expect("headless sign-in");
    let rt0 = tokens["refresh_token"].as_str().expect("refresh token (offline_access + prompt=consent)").to_owned();
    assert_eq!(tokens["refresh_token_expires_in"], json!(3600));
    assert!(server.is_active(tokens["access_token"].as_str().unwrap()));

    let url = format!("{}/token", proxy.url());
    let (s, t1) = refresh_at(&url, &rt0).unwrap();
    assert_eq!(s, 200, "{t1}");
    let rt1 = t1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt0, rt1, "rotation is on");
    assert_eq!(server.count_events("refresh_token.consumed"), 1);
    assert_eq!(proxy.refresh_requests(), 1);

    // reusing the rotated token revokes the whole grant
    let (s, e) = refresh_at(&url, &rt0).unwrap();
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(server.wait_for_events("grant.revoked", 1, SECS(5)));
    assert!(!server.is_active(&rt1), "the newest refresh token died with the grant");

    // the public client signs in with PKCE only
    let public = server.sign_in(PUBLIC_CLIENT_ID, "openid offline_access").expect("public client");
    assert!(public["refresh_token"].is_string());
}

#[test]
fn restart_on_the_same_port_forgets_every_grant() {
    let mut server = OidcServer::start_default();
    let port = server.port();
    let tokens = server.sign_in(CLIENT_ID, "openid offline_access").unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let t0 = Instant::now();
    server.restart();
    eprintln!("fixture restarted in {:?}", t0.elapsed());
    assert_eq!(server.port(), port);
    assert!(!server.is_active(&rt));
    let (s, e) = refresh_at(&server.token_url(), &rt).unwrap();
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));

    server.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped: refused");
    server.restart();
    assert!(server.discovery()["issuer"].is_string());
}

#[test]
fn device_flow_completes_headlessly() {
    let server = OidcServer::start_default();
    let form = [("scope", "openid offline_access email")];
    let (status, dev) = token_request(&format!("{}/device/auth", server.issuer()), &form).unwrap();
    assert_eq!(status, 200, "{dev}");
    let device_code = dev["device_code"].as_str().unwrap();
    let poll =
        || token_request(&server.token_url(), &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).unwrap();
    assert_eq!(poll().1["error"], json!("authorization_pending"));
    follow_device_verification(dev["verification_uri_complete"].as_str().unwrap()).expect("user approves");
    let (status, tokens) = poll();
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(server.count_events("device_code.consumed"), 1);
}

#[test]
fn follow_authorization_reports_where_it_stops() {
    // without AUTO_LOGIN the provider shows its login form: a clear error, not a hang
    let server = OidcServer::start(OidcOptions { auto_login: None, ..Default::default() });
    let url = format!(
        "{}?client_id={CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback\
         &scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        server.authorize_url()
    );
    let err = follow_authorization(&url).expect_err("no auto login");
    assert!(format!("{err:#}").contains("AUTO_LOGIN"), "{err:#}");

    // with AUTO_DENY the loopback receives error=access_denied
    let server = OidcServer::start(OidcOptions { auto_deny: true, ..Default::default() });
    let err = server.sign_in(CLIENT_ID, "openid").expect_err("consent refused");
    assert!(format!("{err:#}").contains("access_denied"), "{err:#}");
}

#[test]
fn wait_until_polls_until_true_or_timeout() {
    let t0 = Instant::now();
    assert!(wait_until(SECS(2), Duration::from_millis(10), || t0.elapsed() > Duration::from_millis(50)));
    assert!(!wait_until(Duration::from_millis(60), Duration::from_millis(10), || false));
}

#[test]
fn sandbox_dirs_services_and_secret_scan() {
    let a = Sandbox::with_bin("/bin/true".into());
    let b = Sandbox::with_bin("/bin/true".into());
    assert_ne!(a.keychain_service(), b.keychain_service());
    assert!(a.keychain_service().starts_with("tokenkeeper-test-"));
    for d in [a.config_dir(), a.state_dir(), a.cache_dir(), a.runtime_dir(), a.home_dir()] {
        assert!(d.is_dir(), "{}", d.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(a.runtime_dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    let out = Sandbox::with_bin("/usr/bin/env".into()).run_ok(&[], None);
    assert!(out.contains("TOKENKEEPER_KEYCHAIN_SERVICE=tokenkeeper-test-"), "{out}");
    assert!(out.contains("XDG_RUNTIME_DIR="), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("BROWSER=")), "{out}");

    std::fs::create_dir_all(a.state_dir().join("tokenkeeper")).unwrap();
    std::fs::write(a.state_dir().join("tokenkeeper/state.json"), "{\"x\":\"not-a-secret\"}").unwrap();
    a.assert_no_secret_on_disk(&["s3cr3t-value", ""]);
    std::fs::write(a.config_dir().join("leak.toml"), "token = \"s3cr3t-value\"").unwrap();
    let caught = std::panic::catch_unwind(|| a.assert_no_secret_on_disk(&["s3cr3t-value"]));
    assert!(caught.is_err(), "a leaked secret must be found");
    assert_eq!(a.files().len(), 2);
}

// ---- these need tests/env/session.sh (that is how the suite always runs) ----

#[test]
fn notifications_are_seen() {
    require_test_session();
    let notes = Notifications::new();
    let body = format!("hello {}", std::process::id());
    let st = Command::new("notify-send").args(["tk-harness", &body]).status().expect("notify-send");
    assert!(st.success());
    let seen = notes
        .wait_for(|n| n.summary == "tk-harness" && n.body == body, SECS(5))
        .expect("dunst logged the notification");
    assert_eq!(seen.urgency, "NORMAL");
    let st = Command::new("notify-send")
        .args(["-u", "critical", "-a", "tk-app", "tk-harness \"quoted\"", "line1\nline2 & <b>x</b>"])
        .status()
        .unwrap();
    assert!(st.success());
    let crit = notes.wait_for(|n| n.app == "tk-app", SECS(5)).expect("critical one");
    assert!(crit.is_critical());
    assert_eq!(crit.summary, "tk-harness \"quoted\"");
    assert_eq!(crit.body, "line1\nline2 & <b>x</b>");
    assert_eq!(notes.count(|n| n.summary.starts_with("tk-harness")), 2);
}

#[test]
fn notification_actions_can_be_clicked() {
    require_test_session();
    let notes = Notifications::new();
    let tag = format!("tk-action-{}", std::process::id());
    let child = Command::new("notify-send")
        .args(["-A", "signin=Sign in again", "-A", "later=Later", "--wait", &tag, "Click to sign in again"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    notes.wait_for(|n| n.summary == tag, SECS(5)).expect("shown");
    notes.invoke_action(&format!("Sign in again ({tag}")).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "signin");
}

#[test]
fn keychain_helpers_see_what_keyring_stores() {
    require_test_session();
    let service = format!("tokenkeeper-test-harness-{}", std::process::id());
    assert!(keychain_items(&service).is_empty());
    keychain_store(&service, "demo", "{\"v\":1,\"refresh_token\":\"rt\"}");
    keychain_store(&service, "demo#g1.0", "two\nlines");
    assert_eq!(keychain_secret(&service, "demo").as_deref(), Some("{\"v\":1,\"refresh_token\":\"rt\"}"));
    assert_eq!(keychain_secret(&service, "missing"), None);
    let items = keychain_items(&service);
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].user(), "demo");
    assert_eq!(items[0].label, format!("keyring:demo@{service}"));
    assert_eq!(items[1].secret, "two\nlines");
    assert_eq!(items[1].attributes.get("service"), Some(&service));
    keychain_clear(&service);
    assert!(keychain_items(&service).is_empty());
}

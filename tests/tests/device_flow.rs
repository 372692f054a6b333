//! Device sign-in (RFC 8628) through the real `tokenkeeper` command against the real OAuth server
//! (npm `oidc-provider`, device flow on): `login --device` prints the verification address as its
//! only stdout line, the harness confirms the code as the user would, and the stored token is
//! active per introspection — directly and through a running keeper's socket. A refused device
//! sign-in changes nothing.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;
use tokenkeeper_tests::{follow_device_verification, require_test_session, OidcOptions, OidcServer, Sandbox};

/// Starts `login NAME --device` and returns the child and the address it printed.
fn start_device_login(sb: &Sandbox, name: &str) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = sb
        .cmd(["login", name, "--device"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tokenkeeper login --device");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).expect("the verification address");
    (child, url.trim().to_string(), stdout)
}

fn finish(mut child: Child, mut stdout: BufReader<std::process::ChildStdout>) -> (std::process::ExitStatus, String) {
    let status = wait_child(&mut child, Duration::from_secs(60));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.trim().is_empty(), "login --device printed more than the address on stdout: {rest:?}");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status, err)
}

fn device_sign_in(sb: &Sandbox, server: &OidcServer, name: &str) {
    let (child, url, stdout) = start_device_login(sb, name);
    assert!(url.starts_with(&server.issuer()) && url.contains("user_code="), "not the verification address: {url:?}");
    follow_device_verification(&url).expect("the user's part of the device sign-in");
    let (status, err) = finish(child, stdout);
    assert!(status.success(), "login --device failed ({status}): {err}");
    assert!(err.contains("enter the code"), "the code is not shown in plain words: {err}");
    assert!(err.contains("Signed in"), "{err}");
    let t = token(sb, name);
    assert!(server.is_active(&t), "the device sign-in's token is not active");
    assert!(!stored_refresh_token(sb, name).is_empty(), "offline_access gives a refresh token");
    let device_grants =
        server.count_events_with("grant.success", &["grant_type=urn:ietf:params:oauth:grant-type:device_code"]);
    assert_eq!(device_grants, 1, "the tokens came from the device grant");
}

#[test]
fn login_device_signs_in_directly() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "box");
    device_sign_in(&sb, &server, "box");
    assert_eq!(listed(&sb, "box")["state"], "working");
}

#[test]
fn login_device_signs_in_through_a_running_keeper() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "box");
    let _daemon = sb.spawn_daemon();
    device_sign_in(&sb, &server, "box");
}

#[test]
fn a_denied_device_sign_in_changes_nothing() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { auto_deny: true, ..OidcOptions::default() });
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "box");
    let before = keychain_doc(&sb, "box");
    let (child, url, stdout) = start_device_login(&sb, "box");
    assert!(url.contains("user_code="), "{url}");
    // The user refuses consent: the provider's page says so rather than "Sign-in Success".
    assert!(follow_device_verification(&url).is_err(), "the fixture should refuse the consent");
    let (status, err) = finish(child, stdout);
    assert_eq!(status.code(), Some(3), "a refused device sign-in means sign-in is still needed: {err}");
    assert!(err.contains("did not accept the sign-in") && err.contains("Nothing changed"), "{err}");
    assert!(err.contains("access_denied"), "the service's code stays in the log: {err}");
    assert_eq!(keychain_doc(&sb, "box"), before, "the keychain item changed");
    assert!(before.get("access_token").is_none_or(|v| v.is_null()));
    assert_eq!(listed(&sb, "box")["state"], "needs-sign-in");
}

#[test]
fn an_integration_without_an_issuer_is_told_to_use_the_browser() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    sb.run_ok(
        &[
            "add",
            "plain",
            "--yes",
            "--provider",
            "oauth2",
            "--authorize-url",
            &server.authorize_url(),
            "--token-url",
            &server.token_url(),
            "--client-id",
            "test-native",
        ],
        None,
    );
    let out = sb.run(&["login", "plain", "--device"], None);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot sign in with a code") && stderr(&out).contains("browser"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

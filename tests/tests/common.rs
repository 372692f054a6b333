//! Shared steps of the end-to-end tests: set an OAuth integration up against the real OAuth
//! fixture through the `tokenkeeper` command, sign in through its loopback redirect, and read
//! the keeper's JSON and keychain item back.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokenkeeper_tests::{follow_authorization, wait_until, OidcServer, Sandbox};

pub const SCOPE: &str = "openid offline_access email";

/// `tokenkeeper add NAME --provider oauth2 --issuer … --client-id test-native` with the client
/// secret on stdin.
pub fn add_oauth(sb: &Sandbox, server: &OidcServer, name: &str) {
    sb.run_ok(
        &[
            "add", name, "--provider", "oauth2", "--issuer", &server.issuer(), "--client-id", "test-native",
            "--client-secret-stdin", "--scope", SCOPE,
        ],
        Some("test-secret\n"),
    );
}

/// `tokenkeeper login NAME --no-browser`: reads the URL (its only stdout line), completes the
/// browser part with the fixture's auto-login, and requires exit 0.
pub fn login(sb: &Sandbox, name: &str) {
    let mut child = sb
        .cmd(["login", name, "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tokenkeeper login");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    stdout.read_line(&mut url).expect("the authorization URL");
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "not a URL on stdout: {url:?}");
    assert!(url.contains("code_challenge_method=S256") && url.contains("state="), "{url}");
    follow_authorization(&url).expect("the browser part of the sign-in");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.trim().is_empty(), "login printed more than the URL on stdout: {rest:?}");
    let status = wait_child(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "login failed ({status}): {err}");
}

pub fn wait_child(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `tokenkeeper token NAME`, requiring success; the token.
pub fn token(sb: &Sandbox, name: &str) -> String {
    let out = sb.run_ok(&["token", name], None);
    assert!(out.ends_with('\n') && out.lines().count() == 1, "token must print one line: {out:?}");
    out.trim().to_string()
}

/// The integration's entry of `tokenkeeper list --json`.
pub fn listed(sb: &Sandbox, name: &str) -> Value {
    let out = sb.run_ok(&["list", "--json"], None);
    let all: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("list --json: {e}: {out}"));
    all.as_array().unwrap().iter().find(|v| v["name"] == name).cloned().unwrap_or_else(|| panic!("{name} not listed: {out}"))
}

pub fn state(sb: &Sandbox, name: &str) -> String {
    listed(sb, name)["state"].as_str().unwrap().to_string()
}

pub fn wait_for_state(sb: &Sandbox, name: &str, want: &str, timeout: Duration) -> bool {
    wait_until(timeout, Duration::from_millis(200), || state(sb, name) == want)
}

/// The keeper's keychain document for `name`.
pub fn keychain_doc(sb: &Sandbox, name: &str) -> Value {
    let text = sb.keychain_secret(name).unwrap_or_else(|| panic!("no keychain item for {name}"));
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("keychain item of {name} is not JSON: {e}"))
}

pub fn stored_refresh_token(sb: &Sandbox, name: &str) -> String {
    keychain_doc(sb, name)["refresh_token"].as_str().expect("a refresh token in the keychain").to_string()
}

pub fn stored_access_token(sb: &Sandbox, name: &str) -> String {
    keychain_doc(sb, name)["access_token"].as_str().expect("an access token in the keychain").to_string()
}

pub fn exit_code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

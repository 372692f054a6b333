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
    let issuer = server.issuer();
    let args = ["--provider", "oauth2", "--issuer", &issuer, "--scope", SCOPE];
    sb.add_confidential_ok(name, &args, "test-native", "test-secret");
}

/// `tokenkeeper login NAME --no-browser`: reads the URL (its only stdout line), completes the
/// browser part with the fixture's auto-login, and requires exit 0.
pub fn login(sb: &Sandbox, name: &str) {
    login_messages(sb, name);
}

/// Starts `tokenkeeper login NAME --no-browser`: the child, its standard output after the
/// first line, and that line (the authorization URL).
pub fn start_login(sb: &Sandbox, name: &str) -> (std::process::Child, BufReader<std::process::ChildStdout>, String) {
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
    (child, stdout, url.trim().to_string())
}

/// [`login`], returning what the command said on standard error.
pub fn login_messages(sb: &Sandbox, name: &str) -> String {
    let (mut child, mut stdout, url) = start_login(sb, name);
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
    err
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
    all.as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not listed: {out}"))
}

pub fn state(sb: &Sandbox, name: &str) -> String {
    listed(sb, name)["state"].as_str().unwrap().to_string()
}

/// The state once a renewal in flight has ended: a daemon renewing short tokens is briefly
/// `refreshing` every few seconds, which is not what a test asserting `working` means to catch.
pub fn settled_state(sb: &Sandbox, name: &str) -> String {
    let mut now = state(sb, name);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while now == "refreshing" && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = state(sb, name);
    }
    now
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

/// A small API with a token-checking endpoint (`GET /rest/api/3/myself`-like), for API-token
/// integrations: it accepts one token (as Bearer, or Basic `user:token`), and can be switched to
/// refuse it (401) or to answer with an HTML sign-in page, as Atlassian does for a dead token.
pub struct ApiServer {
    pub url: String,
    mode: std::sync::Arc<std::sync::Mutex<ApiMode>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(Clone, Debug)]
pub enum ApiMode {
    /// 200 JSON for this exact Authorization header value, 401 otherwise.
    Accept(String),
    /// 200 JSON for any of these Authorization header values, 401 otherwise.
    AcceptAny(Vec<String>),
    /// 401 for everything (revoked).
    Revoked,
    /// 200 with an HTML sign-in page.
    LoginPage,
}

impl ApiServer {
    pub fn start(mode: ApiMode) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/rest/api/3/myself", listener.local_addr().unwrap());
        let mode = std::sync::Arc::new(std::sync::Mutex::new(mode));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = vec![0u8; 8192];
                let mut len = 0;
                while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                    match stream.read(&mut buf[len..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => len += n,
                    }
                }
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf[..len]).to_string();
                let auth = head
                    .lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_default();
                let (status, ctype, body) = match &*m.lock().unwrap() {
                    ApiMode::Accept(good) if *good == auth => {
                        ("200 OK", "application/json", r#"{"accountId":"42"}"#.to_string())
                    }
                    ApiMode::AcceptAny(good) if good.contains(&auth) => {
                        ("200 OK", "application/json", r#"{"accountId":"42"}"#.to_string())
                    }
                    ApiMode::Accept(_) | ApiMode::AcceptAny(_) | ApiMode::Revoked => {
                        ("401 Unauthorized", "application/json", r#"{"message":"Unauthorized"}"#.to_string())
                    }
                    ApiMode::LoginPage => (
                        "200 OK",
                        "text/html",
                        "<!DOCTYPE html><html><body>Log in to continue</body></html>".to_string(),
                    ),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, mode, hits }
    }

    pub fn set(&self, mode: ApiMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The Basic authorization header value for `user:token`.
pub fn basic(user: &str, token: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}")))
}

//! End-to-end test harness of Token Keeper: real services, headless.
//!
//! The suite runs inside `tests/env/session.sh` (`make test` does it): a private D-Bus session
//! with a real, unlocked Secret Service (gnome-keyring) and a real notification daemon (dunst on
//! Xvfb) that logs every notification to `$NOTIFY_LOG`. On top of that, this crate gives tests:
//!
//! * [`OidcServer`]: the OAuth 2.0 / OpenID Connect fixture (`tests/fixtures/oidc-server`, the
//!   certified `oidc-provider` for Node.js): authorization code + PKCE with a headless user
//!   (`AUTO_LOGIN`), rotating refresh tokens with reuse detection, client credentials, device
//!   flow, revocation and introspection, and a log of the provider's events.
//! * [`FaultProxy`]: an HTTP/1.1 reverse proxy between Token Keeper and the fixture that can answer
//!   503/429 itself, drop connections before or after forwarding (the "lost response"), delay, or
//!   refuse connections altogether; it counts refresh requests with their times.
//! * [`Sandbox`]: private config/state/cache/runtime directories and keychain service for one
//!   test, and the `tokenkeeper` binary run in them ([`Sandbox::run`], [`Sandbox::spawn_daemon`]).
//! * [`follow_authorization`] / [`follow_device_verification`]: the user's browser.
//! * [`Notifications`]: what the notification daemon showed.
//! * [`keychain_items`], [`keychain_secret`]: what is in the Secret Service.
//! * [`wait_until`]: polling with a deadline.
//! * [`fleet`], [`soak`], [`crash`]: many integrations under faults and `kill -9` (`make soak`,
//!   `make crash`; short versions in the suite), with [`reuse_window`] giving the provider
//!   Atlassian's refresh-token reuse window.
//! * [`secrets`]: where token values turn up outside the keychain (files, a process's command
//!   line, environment and memory).
//!
//! Every helper is synchronous and may be called from plain `#[test]`s as well as from async
//! tests: network work runs on a private runtime on its own thread.

pub mod secrets;

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

pub mod crash;
pub mod fleet;
pub mod reuse_window;
pub mod soak;
pub mod token_farm;
use reuse_window::ReuseWindow;

// =============================================================================================
// Small helpers
// =============================================================================================

/// Calls `check` every `poll` until it returns true (→ `true`) or `timeout` has passed
/// (→ `false`, after one last call). `check` runs at least once.
pub fn wait_until(timeout: Duration, poll: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(poll);
    }
}

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `tests/fixtures/oidc-server`, where the OAuth fixture and its `node_modules` live.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("oidc-server")
}

/// True when running inside `tests/env/session.sh` (keychain and notification daemon available).
pub fn in_test_session() -> bool {
    std::env::var_os("NOTIFY_LOG").is_some() && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
}

/// Panics with a clear message unless running inside `tests/env/session.sh`.
pub fn require_test_session() {
    assert!(
        in_test_session(),
        "this test needs the real keychain and notification daemon: run it inside \
         tests/env/session.sh, e.g. `dbus-run-session -- tests/env/session.sh cargo test ...` \
         (`make test` does that)"
    );
}

/// Runs `fut` to completion on a fresh current-thread runtime on its own thread, so that it can
/// be called from synchronous tests and from inside another runtime alike. Panics propagate.
fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(fut)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// An HTTP client for the harness itself: no system proxy, no automatic redirects.
fn http_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(cookies)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stops a child process: SIGTERM, up to `grace` to exit, then SIGKILL. Always reaps it.
fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    #[cfg(unix)]
    {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    #[cfg(not(unix))]
    let _ = grace;
    let _ = child.kill();
    child.wait().ok()
}

fn random_hex(bytes: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..bytes).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn snippet(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s.to_owned()
    }
}

// =============================================================================================
// OidcServer: the OAuth 2.0 / OpenID Connect fixture
// =============================================================================================

/// Client id of the fixture's confidential native client (any loopback port for redirects).
pub const CLIENT_ID: &str = "test-native";
/// Client secret of `test-native` and `test-web`.
pub const CLIENT_SECRET: &str = "test-secret";
/// Client id of the fixture's confidential web client (exact redirect_uri match only).
pub const WEB_CLIENT_ID: &str = "test-web";
/// Client id of the fixture's public native client (no secret; PKCE only).
pub const PUBLIC_CLIENT_ID: &str = "test-public";
/// The redirect path every fixture client accepts (`http://127.0.0.1:<any port>/callback` for
/// the native ones).
pub const REDIRECT_PATH: &str = "/callback";
/// The grant type of the device flow (RFC 8628).
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How to start the OAuth fixture. `Default`: access tokens live 60 s, refresh tokens 3600 s,
/// the user "alice" signs in by herself, any free port.
#[derive(Clone, Debug)]
pub struct OidcOptions {
    /// Access-token (and client-credentials token) lifetime in seconds (`AT_TTL`).
    pub at_ttl: u64,
    /// When set: each access token lives a random whole number of seconds in
    /// [`at_ttl`, `at_ttl_max`] (`AT_TTL_MAX`).
    pub at_ttl_max: Option<u64>,
    /// Refresh-token lifetime in seconds (`RT_TTL`); each rotation issues a fresh one.
    pub rt_ttl: u64,
    /// The account that signs in and consents without a human (`AUTO_LOGIN`); `None` shows the
    /// provider's HTML login forms instead.
    pub auto_login: Option<String>,
    /// With `auto_login`: the user signs in but refuses consent (`access_denied`).
    pub auto_deny: bool,
    /// Add `refresh_token_expires_in` (= `rt_ttl`) to token responses, like GitHub and HighQ.
    pub rt_expires_in: bool,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
}

impl Default for OidcOptions {
    fn default() -> Self {
        Self {
            at_ttl: 60,
            at_ttl_max: None,
            rt_ttl: 3600,
            auto_login: Some("alice".to_owned()),
            auto_deny: false,
            rt_expires_in: false,
            port: 0,
        }
    }
}

/// The OAuth fixture as a child process (`node tests/fixtures/oidc-server/server.mjs`), on
/// 127.0.0.1. Its stdout lines (`[event] <name> key=value…`, one per provider event such as
/// `refresh_token.consumed` or `grant.revoked`) are collected for [`OidcServer::events`].
///
/// Everything lives in memory: [`OidcServer::restart`] (same port) makes the provider forget
/// every grant and token. Killed on drop; also exits by itself when the test process dies (its
/// stdin closes).
pub struct OidcServer {
    opts: OidcOptions,
    port: u16,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

impl OidcServer {
    /// Starts the fixture and waits until it listens (normally ~0.3 s). Panics with the fixture's
    /// stderr when it cannot start (missing `node_modules`: run `scripts/ensure-deps.sh`).
    pub fn start(opts: OidcOptions) -> Self {
        Self::try_start(opts).unwrap_or_else(|e| panic!("OAuth fixture: {e:#}"))
    }

    /// [`OidcServer::start`] with the default options.
    pub fn start_default() -> Self {
        Self::start(OidcOptions::default())
    }

    /// Like [`OidcServer::start`], returning the error instead of panicking.
    pub fn try_start(opts: OidcOptions) -> Result<Self> {
        let mut server = Self {
            port: opts.port,
            opts,
            child: None,
            stdin: None,
            lines: Arc::default(),
            stderr: Arc::default(),
            readers: Vec::new(),
        };
        server.spawn(server.port)?;
        Ok(server)
    }

    fn spawn(&mut self, port: u16) -> Result<()> {
        let dir = fixture_dir();
        if !dir.join("node_modules").join("oidc-provider").is_dir() {
            bail!("{} has no node_modules/oidc-provider: run scripts/ensure-deps.sh (npm ci there)", dir.display());
        }
        let node = std::env::var_os("NODE").unwrap_or_else(|| OsString::from("node"));
        let mut cmd = Command::new(&node);
        cmd.arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("AT_TTL", self.opts.at_ttl.to_string())
            .env("AT_TTL_MAX", self.opts.at_ttl_max.unwrap_or(self.opts.at_ttl).to_string())
            .env("RT_TTL", self.opts.rt_ttl.to_string())
            .env("EXIT_ON_STDIN_EOF", "1")
            .env_remove("AUTO_LOGIN")
            .env_remove("AUTO_DENY")
            .env_remove("RT_EXPIRES_IN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(user) = &self.opts.auto_login {
            cmd.env("AUTO_LOGIN", user);
        }
        if self.opts.auto_deny {
            cmd.env("AUTO_DENY", "1");
        }
        if self.opts.rt_expires_in {
            cmd.env("RT_EXPIRES_IN", "1");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {node:?} (is Node.js installed? scripts/ensure-deps.sh)"))?;

        let (tx, rx) = mpsc::channel::<u16>();
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = self.lines.clone();
        self.readers.push(thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(p) = line.strip_prefix("LISTENING ") {
                    let _ = tx.send(p.trim().parse().unwrap_or(0));
                }
                lock(&lines).push(line);
            }
        }));
        let stderr = child.stderr.take().expect("piped stderr");
        let errs = self.stderr.clone();
        let err_reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lock(&errs).push(line);
            }
        });

        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(p) if p != 0 => {
                self.port = p;
                self.stdin = child.stdin.take();
                self.child = Some(child);
                self.readers.push(err_reader);
                Ok(())
            }
            outcome => {
                let status = terminate(&mut child, Duration::from_secs(1));
                let _ = err_reader.join();
                let why = match outcome {
                    Err(mpsc::RecvTimeoutError::Timeout) => "did not print LISTENING within 20 s".to_owned(),
                    _ => format!("exited ({status:?}) before listening"),
                };
                bail!("the OAuth fixture {why}; its stderr:\n{}", lock(&self.stderr).join("\n"))
            }
        }
    }

    /// The issuer, e.g. `http://127.0.0.1:41234` (discovery at `/.well-known/openid-configuration`).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (kept across [`OidcServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its socket address, e.g. for [`FaultProxy::start`].
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The token endpoint (`{issuer}/token`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The authorization endpoint (`{issuer}/auth`).
    pub fn authorize_url(&self) -> String {
        format!("{}/auth", self.issuer())
    }

    /// The options it was started with.
    pub fn options(&self) -> &OidcOptions {
        &self.opts
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Stops it (SIGTERM, then SIGKILL) on the same port and starts it again: every grant, token
    /// and session is forgotten ("the provider forgot the grant"). Also starts a stopped server.
    pub fn restart(&mut self) {
        self.stop();
        lock(&self.lines).push("[harness] restart".to_owned());
        let port = self.port;
        self.spawn(port).unwrap_or_else(|e| panic!("OAuth fixture restart on port {port}: {e:#}"));
    }

    /// Stops it: connections to its port are refused until [`OidcServer::restart`].
    pub fn stop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(3));
            lock(&self.lines).push("[harness] stopped".to_owned());
        }
    }

    /// Every stdout line so far (all runs), including `LISTENING` and notices.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    /// The fixture's stderr so far (oidc-provider warnings, crashes).
    pub fn stderr(&self) -> Vec<String> {
        lock(&self.stderr).clone()
    }

    /// Every event line so far, e.g.
    /// `[event] refresh_token.consumed client=test-native grant=… account=alice rotations=0`.
    /// Events of interest: `grant.success` / `grant.error` (token endpoint, with `grant_type=`),
    /// `refresh_token.saved` / `.consumed` / `.destroyed`, `grant.revoked`, `access_token.saved`,
    /// `client_credentials.saved`, `authorization.success`, `device_code.consumed`,
    /// `revocation.error`, `introspection.error`, `server_error`.
    pub fn events(&self) -> Vec<String> {
        lock(&self.lines).iter().filter(|l| l.starts_with("[event] ")).cloned().collect()
    }

    /// The event lines with this name (e.g. `"refresh_token.consumed"`).
    pub fn events_named(&self, name: &str) -> Vec<String> {
        self.events().into_iter().filter(|l| l.split_whitespace().nth(1) == Some(name)).collect()
    }

    /// How many events with this name happened, e.g. `count_events("refresh_token.consumed")`
    /// = how many refresh tokens were used (rotated).
    pub fn count_events(&self, name: &str) -> usize {
        self.events_named(name).len()
    }

    /// How many events with this name carry every one of `fragments`, e.g.
    /// `count_events_with("grant.success", &["grant_type=refresh_token"])`.
    pub fn count_events_with(&self, name: &str, fragments: &[&str]) -> usize {
        self.events_named(name).iter().filter(|l| fragments.iter().all(|f| l.contains(f))).count()
    }

    /// Waits until at least `n` events with this name happened; false on timeout.
    pub fn wait_for_events(&self, name: &str, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(20), || self.count_events(name) >= n)
    }

    /// The discovery document (`/.well-known/openid-configuration`).
    pub fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        block_on(async move {
            let resp = http_client(false).get(&url).send().await.expect("discovery request");
            assert!(resp.status().is_success(), "discovery: HTTP {}", resp.status());
            resp.json::<Value>().await.expect("discovery JSON")
        })
    }

    /// RFC 7662 introspection of any token (access or refresh), authenticated as
    /// `test-native:test-secret`: `{"active": true, "client_id": …, "exp": …, …}` or
    /// `{"active": false}`.
    pub fn introspect(&self, token: &str) -> Value {
        let url = format!("{}/token/introspection", self.issuer());
        let token = token.to_owned();
        block_on(async move {
            let resp = http_client(false)
                .post(&url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .expect("introspection request");
            let status = resp.status();
            let text = resp.text().await.expect("introspection body");
            assert!(status.is_success(), "introspection: HTTP {status}: {}", snippet(&text));
            serde_json::from_str(&text).expect("introspection JSON")
        })
    }

    /// Whether the provider still accepts this token ([`OidcServer::introspect`]`["active"]`).
    pub fn is_active(&self, token: &str) -> bool {
        self.introspect(token)["active"] == Value::Bool(true)
    }

    /// RFC 7009 revocation of a token (as `test-native`). Revoking a refresh token revokes its
    /// whole grant (the access tokens too). The provider answers 200 even for unknown tokens.
    pub fn revoke(&self, token: &str) {
        let url = format!("{}/token/revocation", self.issuer());
        let token = token.to_owned();
        block_on(async move {
            let resp = http_client(false)
                .post(&url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .expect("revocation request");
            assert!(resp.status().is_success(), "revocation: HTTP {}", resp.status());
        })
    }

    /// A client-credentials token from `token_url` (the fixture's own, or a proxy's `/token`),
    /// as `test-native`: the whole token response. Errors on any non-2xx answer.
    pub fn client_credentials(&self, token_url: &str) -> Result<Value> {
        let (status, body) = token_request(token_url, &[("grant_type", "client_credentials"), ("scope", "api:read")])?;
        if !(200..300).contains(&status) {
            bail!("client_credentials: HTTP {status}: {body}");
        }
        Ok(body)
    }

    /// Signs `client_id` in the way the keeper does (authorization code + PKCE S256, a
    /// one-shot loopback redirect listener, `prompt=consent` so `offline_access` yields a
    /// refresh token) with the fixture's headless user, and returns the token response (for
    /// `tokenkeeper login NAME --from-response`, or to play with refresh tokens directly).
    /// Needs `auto_login`. `scope` e.g. `"openid offline_access email"`. `test-native` and
    /// `test-web` authenticate with `test-secret`; `test-public` sends only its client_id.
    pub fn sign_in(&self, client_id: &str, scope: &str) -> Result<Value> {
        let listener = StdTcpListener::bind("127.0.0.1:0").context("loopback listener")?;
        let redirect_uri = format!("http://127.0.0.1:{}{REDIRECT_PATH}", listener.local_addr()?.port());
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let state = random_hex(8);
        let mut auth = Url::parse(&self.authorize_url())?;
        auth.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state)
            .append_pair("prompt", "consent");
        let catcher = thread::spawn(move || catch_one_redirect(listener));
        follow_authorization(auth.as_str())?;
        let target = catcher.join().map_err(|_| anyhow!("loopback listener panicked"))??;
        let got = Url::parse(&format!("http://127.0.0.1{target}"))?;
        let param = |k: &str| got.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        if let Some(err) = param("error") {
            bail!("the provider refused the sign-in: {err} {}", param("error_description").unwrap_or_default());
        }
        if param("state").as_deref() != Some(state.as_str()) {
            bail!("state mismatch in {target}");
        }
        let code = param("code").ok_or_else(|| anyhow!("no code in {target}"))?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.secret().to_owned()),
        ];
        if client_id == PUBLIC_CLIENT_ID {
            form.push(("client_id", client_id.to_owned()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = token_request_as(&self.token_url(), client_id, &form)?;
        if status != 200 {
            bail!("code exchange: HTTP {status}: {body}");
        }
        Ok(body)
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for OidcServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcServer").field("issuer", &self.issuer()).field("opts", &self.opts).finish()
    }
}

/// Accepts one connection on `listener`, answers 200 and returns the request target
/// (`/callback?code=…&state=…`).
fn catch_one_redirect(listener: StdTcpListener) -> Result<String> {
    listener.set_nonblocking(false)?;
    let (mut sock, _) = listener.accept()?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(sock.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let body = "Signed in. You can close this tab.";
    write!(
        sock,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    first.split_whitespace().nth(1).map(str::to_owned).ok_or_else(|| anyhow!("bad request line {first:?}"))
}

/// POSTs a token request (form) authenticated as `test-native:test-secret`: (HTTP status, JSON
/// body, or `{"raw": text}` when the body is not JSON).
pub fn token_request(token_url: &str, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    token_request_as(token_url, CLIENT_ID, form)
}

/// [`token_request`] as any fixture client: basic auth with `test-secret`, except
/// `test-public`, which authenticates with nothing (put `client_id` in `form`).
pub fn token_request_as(token_url: &str, client_id: &str, form: &[(&str, &str)]) -> Result<(u16, Value)> {
    let url = token_url.to_owned();
    let client_id = client_id.to_owned();
    let form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    block_on(async move {
        let mut req = http_client(false).post(&url).form(&form);
        if client_id != PUBLIC_CLIENT_ID {
            req = req.basic_auth(&client_id, Some(CLIENT_SECRET));
        }
        let resp = req.send().await.with_context(|| format!("POST {url}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({ "raw": text }));
        Ok((status, body))
    })
}

// =============================================================================================
// The user's browser
// =============================================================================================

/// What the browser got from the loopback redirect_uri at the end of a sign-in.
#[derive(Clone, Debug)]
pub struct LoopbackHit {
    /// The full URL requested (`http://127.0.0.1:<port>/…?code=…&state=…`, or `?error=…`).
    pub url: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its body (the keeper's "you can close this tab" page).
    pub body: String,
    /// Every URL requested before it.
    pub hops: Vec<String>,
}

/// Acts as the user's browser for an authorization URL printed by `tokenkeeper login --no-browser`
/// (or opened by the keeper): with the fixture's `AUTO_LOGIN` user, GETs it with a cookie-keeping
/// client and follows the redirects (at most 12) until the loopback `redirect_uri` (taken from the
/// URL's `redirect_uri` parameter, else any `127.0.0.1` URL on another port) was requested, and
/// requires that it answered 200. Errors say where the journey stopped.
pub fn follow_authorization(url: &str) -> Result<()> {
    let hit = follow_authorization_to_loopback(url)?;
    if hit.status != 200 {
        bail!("the loopback redirect {} answered HTTP {}: {}", hit.url, hit.status, snippet(&hit.body));
    }
    Ok(())
}

/// Like [`follow_authorization`], but returns what the loopback redirect_uri answered whatever
/// its status (e.g. to check the keeper's page after a refused consent).
pub fn follow_authorization_to_loopback(url: &str) -> Result<LoopbackHit> {
    let start = Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
    let redirect_uri = start.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned());
    let start_port = start.port_or_known_default();
    let is_loopback_target = move |u: &Url| match &redirect_uri {
        Some(r) => u.as_str().starts_with(r.as_str()),
        None => {
            matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) && u.port_or_known_default() != start_port
        }
    };
    block_on(async move {
        let client = http_client(true);
        let mut current = start;
        let mut hops = Vec::new();
        for _ in 0..12 {
            if is_loopback_target(&current) {
                let resp = client
                    .get(current.clone())
                    .send()
                    .await
                    .with_context(|| format!("the loopback redirect {current} did not answer (after {hops:?})"))?;
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                return Ok(LoopbackHit { url: current.to_string(), status, body, hops });
            }
            let resp = client
                .get(current.clone())
                .send()
                .await
                .with_context(|| format!("GET {current} failed (after {hops:?})"))?;
            hops.push(current.to_string());
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| anyhow!("HTTP {status} without Location at {current}"))?
                    .to_owned();
                current = current.join(&location).with_context(|| format!("bad Location {location:?}"))?;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            bail!(
                "the sign-in stopped at {current} with HTTP {status} instead of redirecting to the \
                 loopback address (is the fixture's AUTO_LOGIN set?): {}",
                snippet(&body)
            );
        }
        bail!("more than 12 redirects: {hops:?}")
    })
}

/// Acts as the user for the device flow (RFC 8628): opens `verification_uri_complete`
/// (`…/device?user_code=XXXX-XXXX`), submits the provider's forms (code, then "Continue"),
/// signs in and consents as the fixture's `AUTO_LOGIN` user, and requires the provider's
/// "Sign-in Success" page. The device's next poll then gets its tokens.
pub fn follow_device_verification(verification_uri_complete: &str) -> Result<()> {
    let start =
        Url::parse(verification_uri_complete).with_context(|| format!("not a URL: {verification_uri_complete:?}"))?;
    block_on(async move {
        let client = http_client(true);
        let mut current = start.clone();
        let mut resp = client.get(current.clone()).send().await.with_context(|| format!("GET {current}"))?;
        for _ in 0..16 {
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| anyhow!("HTTP {status} without Location at {current}"))?
                    .to_owned();
                current = current.join(&location)?;
                resp = client.get(current.clone()).send().await.with_context(|| format!("GET {current}"))?;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() && body.contains("Sign-in Success") {
                return Ok(());
            }
            let Some(form) = parse_post_form(&body) else {
                bail!("device verification stopped at {current} (HTTP {status}): {}", snippet(&body));
            };
            if form.visible_inputs > 0 {
                bail!("the provider asks for input at {current} (wrong or expired code?): {}", snippet(&body));
            }
            let action = if form.action.is_empty() { current.clone() } else { current.join(&form.action)? };
            current = action;
            resp = client
                .post(current.clone())
                .form(&form.fields)
                .send()
                .await
                .with_context(|| format!("POST {current}"))?;
        }
        bail!("device verification did not finish after 16 steps (at {current})")
    })
}

struct HtmlForm {
    action: String,
    fields: Vec<(String, String)>,
    visible_inputs: usize,
}

/// The first `<form method="post">` of a page: its action and hidden inputs.
fn parse_post_form(html: &str) -> Option<HtmlForm> {
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let form_and_after = &rest[i..];
        let tag_end = form_and_after.find('>')?;
        let tag = &form_and_after[..tag_end];
        let end = form_and_after.find("</form>").unwrap_or(form_and_after.len());
        if html_attr(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            let body = &form_and_after[tag_end..end];
            let mut fields = Vec::new();
            let mut visible_inputs = 0;
            let mut scan = body;
            while let Some(j) = scan.find("<input") {
                let input = &scan[j..];
                let close = input.find('>').unwrap_or(input.len());
                let itag = &input[..close];
                if html_attr(itag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
                    if let Some(name) = html_attr(itag, "name") {
                        fields.push((name, html_attr(itag, "value").unwrap_or_default()));
                    }
                } else {
                    visible_inputs += 1;
                }
                scan = &input[close..];
            }
            return Some(HtmlForm { action: html_attr(tag, "action").unwrap_or_default(), fields, visible_inputs });
        }
        rest = &form_and_after[tag_end..];
    }
    None
}

/// The value of a double-quoted attribute in a start tag, unescaped.
fn html_attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    while let Some(pos) = tag[from..].find(&needle) {
        let at = from + pos;
        let preceded_by_space = at == 0 || tag[..at].ends_with(|c: char| c.is_whitespace());
        let start = at + needle.len();
        if preceded_by_space {
            let len = tag[start..].find('"')?;
            return Some(html_unescape(&tag[start..start + len]));
        }
        from = start;
    }
    None
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

// =============================================================================================
// FaultProxy
// =============================================================================================

/// What the [`FaultProxy`] does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward it and pass the answer back.
    Pass,
    /// Answer it with this status, without forwarding, and `Retry-After: <secs>` when given.
    /// 5xx bodies are a small HTML page (like a gateway's); 4xx bodies are JSON
    /// `{"error":"…","error_description":"…"}` with a non-OAuth error code (use
    /// [`Fault::Respond`] for a specific OAuth error such as `invalid_grant`).
    Status(u16, Option<u64>),
    /// Answer it with exactly this response, without forwarding (an HTML sign-in page with 200,
    /// a JSON `invalid_grant` with 400 or 403, …).
    Respond(Canned),
    /// Read the request, then close the connection without forwarding or answering.
    DropBeforeForward,
    /// Forward it, wait for the provider's complete answer, then close the client's connection
    /// without answering: the provider acted (e.g. rotated the refresh token), the client never
    /// heard of it. The "lost response".
    DropAfterForward,
    /// Wait this many milliseconds, then forward it (a slow provider; a long delay is a hang).
    Delay(u64),
    /// Reset the connection (RST) right after reading the request: an outage as the client sees
    /// it when a load balancer has no backend. For refused connections see
    /// [`FaultProxy::set_offline`].
    Down,
}

/// A complete response the proxy gives itself ([`Fault::Respond`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canned {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Canned {
    /// A JSON response, e.g. `Canned::json(400, &json!({"error": "invalid_grant"}))`.
    pub fn json(status: u16, body: &Value) -> Self {
        Self { status, content_type: "application/json".into(), headers: vec![], body: body.to_string() }
    }

    /// An HTML response, e.g. a sign-in page answered with 200 where JSON was expected.
    pub fn html(status: u16, body: &str) -> Self {
        Self { status, content_type: "text/html; charset=utf-8".into(), headers: vec![], body: body.to_owned() }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Which requests a queued [`Fault`] applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Any request.
    Any,
    /// POST to the token endpoint (a path ending in `/token`), any grant.
    Token,
    /// POST to the token endpoint with `grant_type=refresh_token` (form or JSON body).
    Refresh,
}

/// One request as the proxy read it.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    /// When it was read completely.
    pub at: Instant,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/token` or `/me?x=1`.
    pub target: String,
    /// Headers as sent (names as sent).
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// Body parameters: from a form (`application/x-www-form-urlencoded`) or a flat JSON object.
    pub params: Vec<(String, String)>,
}

impl ProxyRequest {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A body parameter, e.g. `param("refresh_token")`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `grant_type` from the body.
    pub fn grant_type(&self) -> Option<&str> {
        self.param("grant_type")
    }

    /// A POST to a path ending in `/token`.
    pub fn is_token_request(&self) -> bool {
        self.method == "POST" && self.path().ends_with("/token")
    }

    /// A token request with `grant_type=refresh_token`.
    pub fn is_refresh(&self) -> bool {
        self.is_token_request() && self.grant_type() == Some("refresh_token")
    }

    fn in_scope(&self, scope: Scope) -> bool {
        match scope {
            Scope::Any => true,
            Scope::Token => self.is_token_request(),
            Scope::Refresh => self.is_refresh(),
        }
    }
}

/// What happened to one request.
#[derive(Clone, Debug)]
pub struct Record {
    /// The request.
    pub request: ProxyRequest,
    /// What the plan decided.
    pub fault: Fault,
    /// Whether it was sent to the upstream (completely written).
    pub forwarded: bool,
    /// The upstream's status, when it answered.
    pub upstream_status: Option<u16>,
    /// The status the client got, when it got an answer.
    pub client_status: Option<u16>,
}

type Rule = Box<dyn FnMut(&ProxyRequest) -> Option<Fault> + Send>;

struct ProxyState {
    upstream: SocketAddr,
    rule: Option<Rule>,
    queue: VecDeque<(Scope, Fault)>,
    default: Fault,
    records: Vec<Record>,
    reuse: Option<ReuseWindow>,
}

impl ProxyState {
    /// The rule first (when it returns Some), then the first queued fault in scope (consumed),
    /// then the default.
    fn decide(&mut self, req: &ProxyRequest) -> Fault {
        if let Some(rule) = self.rule.as_mut() {
            if let Some(fault) = rule(req) {
                return fault;
            }
        }
        if let Some(i) = self.queue.iter().position(|(scope, _)| req.in_scope(*scope)) {
            return self.queue.remove(i).expect("index in range").1;
        }
        self.default.clone()
    }
}

/// An HTTP/1.1 reverse proxy on 127.0.0.1 (random port) in front of an upstream (the fixture),
/// with a programmable plan of faults:
///
/// * a **rule** closure ([`FaultProxy::set_rule`]) consulted first for every request;
/// * a **queue** of faults ([`FaultProxy::push`], [`FaultProxy::push_for`]), each used once by
///   the next request in its [`Scope`] (e.g. "the next two refreshes get 503");
/// * a **default** ([`FaultProxy::set_default`], initially [`Fault::Pass`]), e.g. `Down` for a
///   lasting outage;
/// * [`FaultProxy::set_offline`]: close the listening socket, so connections are refused.
///
/// Every connection carries one request: the proxy forwards with `Connection: close` and answers
/// with `Connection: close`, so a client never reuses a connection (and a dropped connection is
/// always a fresh one, which HTTP clients do not retry by themselves).
///
/// Only the request is rewritten (`Host`, hop-by-hop headers); response bodies pass unchanged. In
/// particular the provider's discovery document still advertises the provider's own URLs: point
/// the keeper at the proxy with explicit endpoints (`--authorize-url`, `--token-url`
/// `{proxy}/token`) rather than `--issuer`.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    offline: tokio::sync::watch::Sender<bool>,
    rt: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. [`OidcServer::addr`]).
    pub fn start(upstream: SocketAddr) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let std_listener = StdTcpListener::bind("127.0.0.1:0").expect("proxy listener");
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = std_listener.local_addr().expect("proxy address");
        let state = Arc::new(Mutex::new(ProxyState {
            upstream,
            rule: None,
            queue: VecDeque::new(),
            default: Fault::Pass,
            records: Vec::new(),
            reuse: None,
        }));
        let (offline, offline_rx) = tokio::sync::watch::channel(false);
        {
            let _guard = rt.enter();
            let listener = TcpListener::from_std(std_listener).expect("tokio listener");
            rt.spawn(accept_loop(listener, addr, state.clone(), offline_rx));
        }
        Self { addr, state, offline, rt: Some(rt) }
    }

    /// The proxy's base URL, `http://127.0.0.1:<port>` (append `/token`, `/auth`, …).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points the proxy at another upstream.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        lock(&self.state).upstream = upstream;
    }

    /// Queues a fault for the next request (any request).
    pub fn push(&self, fault: Fault) {
        self.push_for(Scope::Any, fault);
    }

    /// Queues a fault for the next request in `scope`, e.g.
    /// `push_for(Scope::Refresh, Fault::Status(503, None))`.
    pub fn push_for(&self, scope: Scope, fault: Fault) {
        lock(&self.state).queue.push_back((scope, fault));
    }

    /// Queues several faults for the next requests in `scope`, in order.
    pub fn push_many(&self, scope: Scope, faults: impl IntoIterator<Item = Fault>) {
        let mut st = lock(&self.state);
        st.queue.extend(faults.into_iter().map(|f| (scope, f)));
    }

    /// The fault for requests that neither the rule nor the queue decide (initially `Pass`).
    pub fn set_default(&self, fault: Fault) {
        lock(&self.state).default = fault;
    }

    /// A closure consulted first for every request; `None` lets the queue and default decide.
    pub fn set_rule(&self, rule: impl FnMut(&ProxyRequest) -> Option<Fault> + Send + 'static) {
        lock(&self.state).rule = Some(Box::new(rule));
    }

    /// Back to passing everything: no rule, empty queue, default `Pass`, online.
    pub fn clear_plan(&self) {
        let mut st = lock(&self.state);
        st.rule = None;
        st.queue.clear();
        st.default = Fault::Pass;
        drop(st);
        self.set_offline(false);
    }

    /// Gives the provider behind the proxy a refresh-token reuse window (see [`reuse_window`]):
    /// for `window` after a rotation the old refresh token still works. `None` turns it off.
    pub fn set_reuse_window(&self, window: Option<Duration>) {
        lock(&self.state).reuse = window.map(ReuseWindow::new);
    }

    /// How many refresh requests the reuse window rewrote to the newest token of their chain.
    pub fn reuse_rewrites(&self) -> usize {
        lock(&self.state).reuse.as_ref().map_or(0, |w| w.rewrites)
    }

    /// How many queued faults are still unused.
    pub fn queued(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// `true`: close the listening socket, so new connections are refused (ECONNREFUSED), like a
    /// provider that is down. `false`: listen again on the same port. Takes effect within
    /// milliseconds (connections already accepted are still served).
    pub fn set_offline(&self, offline: bool) {
        let _ = self.offline.send(offline);
        // wait until the listener really closed / reopened
        wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
            let refused = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err();
            refused == offline
        });
    }

    /// Every request so far, with what happened to it.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.state).records.clone()
    }

    /// Forgets the records (counters back to zero); the plan stays.
    pub fn reset_counters(&self) {
        lock(&self.state).records.clear();
    }

    /// Total requests received (whatever happened to them).
    pub fn requests(&self) -> usize {
        lock(&self.state).records.len()
    }

    /// Refresh requests (POST …/token with `grant_type=refresh_token`) forwarded to the upstream.
    pub fn refresh_requests(&self) -> usize {
        self.refresh_forwarded_times().len()
    }

    /// When each forwarded refresh request arrived.
    pub fn refresh_forwarded_times(&self) -> Vec<Instant> {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| r.request.is_refresh() && r.forwarded)
            .map(|r| r.request.at)
            .collect()
    }

    /// When each refresh request arrived, forwarded or not (answered with 503 by the proxy, …):
    /// the client's attempts, e.g. to check its backoff and `Retry-After`.
    pub fn refresh_attempts(&self) -> Vec<Instant> {
        lock(&self.state).records.iter().filter(|r| r.request.is_refresh()).map(|r| r.request.at).collect()
    }

    /// The `refresh_token` sent by each refresh attempt, in order (e.g. to check that a client
    /// retries a lost response with the same refresh token).
    pub fn refresh_tokens_sent(&self) -> Vec<String> {
        lock(&self.state)
            .records
            .iter()
            .filter(|r| r.request.is_refresh())
            .filter_map(|r| r.request.param("refresh_token").map(str::to_owned))
            .collect()
    }

    /// Waits until at least `n` refresh attempts arrived; false on timeout.
    pub fn wait_for_refresh_attempts(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(10), || self.refresh_attempts().len() >= n)
    }

    /// Waits until at least `n` requests arrived; false on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(10), || self.requests() >= n)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background(); // allowed inside an async context too
        }
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy").field("url", &self.url()).finish()
    }
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    mut offline: tokio::sync::watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    loop {
        if *offline.borrow_and_update() {
            listener = None; // closes the socket: connections are refused
            if offline.changed().await.is_err() {
                return;
            }
            continue;
        }
        if listener.is_none() {
            let mut bound = None;
            for _ in 0..100 {
                if let Ok(l) = TcpListener::bind(addr).await {
                    bound = Some(l);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            match bound {
                Some(l) => listener = Some(l),
                None => {
                    eprintln!("fault proxy: cannot listen on {addr} again");
                    return;
                }
            }
        }
        let l = listener.as_ref().expect("listening");
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((sock, _)) = accepted {
                    tokio::spawn(handle_connection(sock, state.clone()));
                }
            }
            changed = offline.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Reads one request; `Ok(None)` when the client closed before sending anything.
async fn read_request(sock: &mut TcpStream) -> io::Result<Option<ProxyRequest>> {
    let (read_half, mut write_half) = sock.split();
    let mut reader = AsyncBufReader::new(read_half);
    let mut line = String::new();
    let mut head_len = 0;
    // request line (skip stray empty lines)
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 {
            return Ok(None);
        }
        head_len += n;
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let mut target = parts.next().unwrap_or("/").to_owned();
    if let Some(rest) = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")) {
        target = rest.find('/').map_or_else(|| "/".to_owned(), |i| rest[i..].to_owned());
        // absolute-form
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        head_len += n;
        if n == 0 || head_len > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "incomplete or oversized request head"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        write_half.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size_hex = line.trim().split(';').next().unwrap_or("").trim().to_owned();
            let size = usize::from_str_radix(&size_hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            if body.len() + size > MAX_BODY {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await?;
            line.clear();
            reader.read_line(&mut line).await?; // CRLF after the chunk
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if len > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        body.resize(len, 0);
        reader.read_exact(&mut body).await?;
    }
    let content_type = header("content-type").unwrap_or_default().to_ascii_lowercase();
    let params = if content_type.contains("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else if content_type.contains("json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => {
                map.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    Ok(Some(ProxyRequest { at: Instant::now(), method, target, headers, body, params }))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn canned_for_status(code: u16, retry_after: Option<u64>) -> Canned {
    let mut c = if code >= 500 {
        Canned::html(
            code,
            &format!(
                "<!DOCTYPE html>\n<html><head><title>{code} {r}</title></head>\
                 <body><h1>{r}</h1><p>The server is temporarily unable to service your request.</p></body></html>\n",
                r = reason(code)
            ),
        )
    } else {
        let error = reason(code).to_ascii_lowercase().replace(' ', "_");
        Canned::json(
            code,
            &serde_json::json!({ "error": error, "error_description": format!("{} (fault proxy)", reason(code)) }),
        )
    };
    if let Some(secs) = retry_after {
        c = c.with_header("Retry-After", &secs.to_string());
    }
    c
}

fn render(c: &Canned) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        c.status,
        reason(c.status),
        c.content_type,
        c.body.len()
    );
    for (k, v) in &c.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(c.body.as_bytes());
    out
}

/// The upstream's raw response with `Connection: close` (keep-alive headers dropped); its status.
fn rewrite_response(raw: &[u8]) -> (Vec<u8>, Option<u16>) {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (raw.to_vec(), None);
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let mut out = format!("{status_line}\r\n");
    for l in lines {
        let name = l.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if name == "connection" || name == "keep-alive" {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&raw[split + 4..]);
    (bytes, status)
}

async fn handle_connection(mut client: TcpStream, state: Arc<Mutex<ProxyState>>) {
    let req = match tokio::time::timeout(Duration::from_secs(30), read_request(&mut client)).await {
        Ok(Ok(Some(req))) => req,
        _ => return,
    };
    let (fault, upstream, index, upstream_req) = {
        let mut st = lock(&state);
        let fault = st.decide(&req);
        let substitute = match (&mut st.reuse, req.is_refresh()) {
            (Some(w), true) => w.substitute(&req).inspect(|_| w.rewrites += 1),
            _ => None,
        };
        let upstream_req = substitute.map(|token| reuse_window::with_refresh_token(&req, &token));
        st.records.push(Record {
            request: req.clone(),
            fault: fault.clone(),
            forwarded: false,
            upstream_status: None,
            client_status: None,
        });
        (fault, st.upstream, st.records.len() - 1, upstream_req.unwrap_or_else(|| req.clone()))
    };
    let update = |f: &dyn Fn(&mut Record)| {
        let mut st = lock(&state);
        if let Some(r) = st.records.get_mut(index) {
            f(r);
        }
    };
    match fault {
        Fault::Down => {
            let _ = client.set_zero_linger();
            drop(client);
        }
        Fault::DropBeforeForward => {
            let _ = client.shutdown().await;
        }
        Fault::Status(code, retry_after) => {
            let _ = client.write_all(&render(&canned_for_status(code, retry_after))).await;
            let _ = client.shutdown().await;
            update(&|r| r.client_status = Some(code));
        }
        Fault::Respond(canned) => {
            let _ = client.write_all(&render(&canned)).await;
            let _ = client.shutdown().await;
            update(&|r| r.client_status = Some(canned.status));
        }
        Fault::Pass | Fault::Delay(_) | Fault::DropAfterForward => {
            if let Fault::Delay(ms) = fault {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let answer = match forward(upstream, &upstream_req, &|| update(&|r| r.forwarded = true)).await {
                Ok((bytes, status)) => {
                    update(&|r| r.upstream_status = status);
                    if let (Some(w), Some(sent)) =
                        (lock(&state).reuse.as_mut(), upstream_req.param("refresh_token").filter(|_| req.is_refresh()))
                    {
                        w.observe(sent, &bytes);
                    }
                    Some((bytes, status))
                }
                Err(_) => None,
            };
            if fault == Fault::DropAfterForward {
                drop(client); // the lost response
                return;
            }
            let (bytes, status) = answer.unwrap_or_else(|| {
                let c = Canned::html(502, "<!DOCTYPE html>\n<html><body><h1>Bad Gateway</h1></body></html>\n");
                (render(&c), Some(502))
            });
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            update(&|r| r.client_status = status);
        }
    }
}

/// Sends `req` to `upstream` with `Connection: close` and reads the whole answer.
async fn forward(
    upstream: SocketAddr,
    req: &ProxyRequest,
    on_sent: &(dyn Fn() + Send + Sync),
) -> io::Result<(Vec<u8>, Option<u16>)> {
    let mut up = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))??;
    const SKIP: [&str; 9] = [
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "content-length",
        "te",
        "upgrade",
        "expect",
    ];
    let mut head = format!("{} {} HTTP/1.1\r\nHost: {upstream}\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        if !SKIP.contains(&k.to_ascii_lowercase().as_str()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if !req.body.is_empty() || matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(&req.body).await?;
    up.flush().await?;
    on_sent();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), up.read_to_end(&mut raw))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "upstream answer timeout"))??;
    Ok(rewrite_response(&raw))
}

// =============================================================================================
// Sandbox: one test's directories, keychain service, and the tokenkeeper binary
// =============================================================================================

/// The `tokenkeeper` binary: `$TOKENKEEPER_BIN`, else `<target>/<profile>/tokenkeeper` next to
/// the running test executable (which is `<target>/<profile>/deps/<test>-<hash>`). Panics when it
/// is missing: run `cargo build -p tokenkeeper` first (`cargo test --workspace` builds it).
pub fn tokenkeeper_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKENKEEPER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps has a parent");
    }
    let bin = dir.join(format!("tokenkeeper{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p tokenkeeper` first (or set TOKENKEEPER_BIN)",
        bin.display()
    );
    bin
}

/// Every regular file under `dir`, recursively (symlinks are not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// A private world for one test: a temp dir holding `home/`, `config/`, `state/`, `cache/`,
/// `data/` and `run/` (0700), used as `HOME` and `XDG_*_HOME` / `XDG_RUNTIME_DIR` for the
/// `tokenkeeper` processes it starts, and a unique keychain service
/// (`TOKENKEEPER_KEYCHAIN_SERVICE=tokenkeeper-test-<random>`), so tests running in parallel never
/// share files, sockets or keychain items. Removed on drop (kept when `TK_KEEP_SANDBOX=1`; its
/// path is printed).
pub struct Sandbox {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    service: String,
    bin: PathBuf,
    extra_env: Vec<(String, String)>,
    daemons: std::sync::atomic::AtomicUsize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// Creates the directories and picks the keychain service. Panics when the `tokenkeeper`
    /// binary is missing (see [`tokenkeeper_bin`]).
    pub fn new() -> Self {
        let bin = tokenkeeper_bin();
        Self::with_bin(bin)
    }

    /// A sandbox that runs another binary (a build of another profile, a wrapper script).
    pub fn with_bin(bin: PathBuf) -> Self {
        let dir = tempfile::Builder::new().prefix("tk-sandbox-").tempdir().expect("sandbox temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["home", "config", "state", "cache", "data", "run", "logs"] {
            std::fs::create_dir_all(root.join(sub)).expect("sandbox dir");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod run");
        }
        Self {
            dir: Some(dir),
            root,
            service: format!("tokenkeeper-test-{}", random_hex(6)),
            bin,
            extra_env: Vec::new(),
            daemons: Default::default(),
        }
    }

    /// Adds an environment variable for every process this sandbox starts.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    /// The sandbox's top directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `HOME` of the processes.
    pub fn home_dir(&self) -> PathBuf {
        self.root.join("home")
    }
    /// `XDG_CONFIG_HOME`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }
    /// `XDG_STATE_HOME`.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }
    /// `XDG_CACHE_HOME`.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }
    /// `XDG_DATA_HOME`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `XDG_RUNTIME_DIR` (mode 0700).
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    /// Where daemon logs go (`logs/daemon-<n>.log`).
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The keeper's socket: `$XDG_RUNTIME_DIR/tokenkeeper/tokenkeeper.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir().join("tokenkeeper").join("tokenkeeper.sock")
    }
    /// The keychain service name of this sandbox.
    pub fn keychain_service(&self) -> &str {
        &self.service
    }
    /// The binary it runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The environment variables this sandbox sets (on top of the inherited ones).
    pub fn envs(&self) -> Vec<(String, OsString)> {
        let mut v: Vec<(String, OsString)> = vec![
            ("HOME".into(), self.home_dir().into()),
            ("XDG_CONFIG_HOME".into(), self.config_dir().into()),
            ("XDG_STATE_HOME".into(), self.state_dir().into()),
            ("XDG_CACHE_HOME".into(), self.cache_dir().into()),
            ("XDG_DATA_HOME".into(), self.data_dir().into()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir().into()),
            ("TOKENKEEPER_KEYCHAIN_SERVICE".into(), self.service.clone().into()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
            ("no_proxy".into(), "127.0.0.1,localhost".into()),
        ];
        v.extend(self.extra_env.iter().map(|(k, val)| (k.clone(), OsString::from(val))));
        v
    }

    /// A `Command` for `tokenkeeper ARGS` in this sandbox: inherited environment (session bus,
    /// `PATH`, `RUST_LOG`, …) plus [`Sandbox::envs`], without `BROWSER` and without any other
    /// `TOKENKEEPER_*` variable of the caller. Stdio is left to the caller.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(self.root());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("TOKENKEEPER_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("BROWSER");
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `tokenkeeper ARGS` to completion with `stdin` (or an empty stdin), and returns its
    /// output. Panics when it runs longer than 60 s (it is killed).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_with_timeout(args, stdin, Duration::from_secs(60))
    }

    /// [`Sandbox::run`] with another time limit.
    pub fn run_with_timeout(&self, args: &[&str], stdin: Option<&str>, timeout: Duration) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let input = stdin.unwrap_or("").to_owned();
        let mut child_stdin = child.stdin.take().expect("piped stdin");
        let writer = thread::spawn(move || {
            let _ = child_stdin.write_all(input.as_bytes());
        });
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let out_reader = thread::spawn(move || read_all(out));
        let err_reader = thread::spawn(move || read_all(err));
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err_reader.join().unwrap_or_default();
                panic!(
                    "`tokenkeeper {}` did not finish within {timeout:?}; stderr:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&stderr)
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        Output { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
    }

    /// Runs `tokenkeeper ARGS`, requires exit status 0 and returns stdout (panics with stderr
    /// otherwise).
    pub fn run_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "`tokenkeeper {}` failed with {}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tokenkeeper add NAME ARGS… --client-id ID --client-secret-stdin` with `secret` on stdin,
    /// as a keeper adds a confidential client; its output, whatever the exit code.
    pub fn add_confidential(&self, name: &str, args: &[&str], client_id: &str, secret: &str) -> Output {
        let mut all = vec!["add", name];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--client-id", client_id, "--client-secret-stdin"]);
        self.run(&all, Some(&format!("{secret}\n")))
    }

    /// [`Sandbox::add_confidential`], failing on a non-zero exit.
    pub fn add_confidential_ok(&self, name: &str, args: &[&str], client_id: &str, secret: &str) {
        let out = self.add_confidential(name, args, client_id, secret);
        assert!(
            out.status.success(),
            "`tokenkeeper add {name} {}` failed with {}:\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `tokenkeeper daemon` with its stdout and stderr in `logs/daemon-<n>.log` and waits
    /// (up to 20 s) until its socket exists. Panics with its log when it exits or does not come up.
    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with(&[])
    }

    /// [`Sandbox::spawn_daemon`] with extra arguments after `daemon`.
    pub fn spawn_daemon_with(&self, extra_args: &[&str]) -> Daemon {
        let n = self.daemons.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = self.logs_dir().join(format!("daemon-{n}.log"));
        let file = std::fs::File::create(&log).expect("daemon log");
        let mut args = vec!["daemon"];
        args.extend_from_slice(extra_args);
        let child = self
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} daemon: {e}", self.bin.display()));
        let mut daemon = Daemon { child: Some(child), log, socket: self.socket_path() };
        let up = wait_until(Duration::from_secs(20), Duration::from_millis(10), || {
            daemon.socket.exists() || !daemon.is_running()
        });
        if !daemon.is_running() || !up || !daemon.socket.exists() {
            let status = daemon.stop();
            panic!(
                "`tokenkeeper daemon` did not create {} ({}); its log:\n{}",
                daemon.socket.display(),
                match status {
                    Some(s) if !up => format!("timed out, then {s}"),
                    Some(s) => format!("exited: {s}"),
                    None => "no exit status".to_owned(),
                },
                daemon.log()
            );
        }
        daemon
    }

    /// Every regular file in the sandbox (config, state, cache, data, runtime, home, daemon logs).
    pub fn files(&self) -> Vec<PathBuf> {
        files_under(&self.root)
    }

    /// Asserts that none of `secrets` occurs in any file of the sandbox, daemon logs included
    /// (secrets live only in the keychain). Empty strings are ignored. The panic names the file
    /// and the secret's first characters.
    pub fn assert_no_secret_on_disk(&self, secrets: &[&str]) {
        let found = secrets::scan_files(&self.root, secrets);
        assert!(found.is_empty(), "secrets on disk:\n{found}");
    }

    /// The items of this sandbox's keychain service ([`keychain_items`]).
    pub fn keychain_items(&self) -> Vec<KeychainItem> {
        keychain_items(&self.service)
    }

    /// The secret of the item `user` (an integration's name) in this sandbox's service.
    pub fn keychain_secret(&self, user: &str) -> Option<String> {
        keychain_secret(&self.service, user)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::env::var_os("TK_KEEP_SANDBOX").is_some_and(|v| v == "1") {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("sandbox kept: {} (keychain service {})", kept.display(), self.service);
            }
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").field("root", &self.root).field("service", &self.service).finish()
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// A running `tokenkeeper daemon` ([`Sandbox::spawn_daemon`]). Stopped on drop (SIGTERM, then
/// SIGKILL after 10 s).
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Its log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until its log contains `needle`; false on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(20), || self.log().contains(needle))
    }

    /// Stops it gracefully (SIGTERM; SIGKILL after 10 s) and returns its exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, Duration::from_secs(10))
    }

    /// Kills it at once (SIGKILL), like a crash or a power cut.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

// =============================================================================================
// Notifications
// =============================================================================================

/// One notification the notification daemon showed (a line of `$NOTIFY_LOG`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Notice {
    /// The daemon's notification id.
    pub id: String,
    /// The sender's application name.
    pub app: String,
    /// The title.
    pub summary: String,
    /// The text.
    pub body: String,
    /// `LOW`, `NORMAL` or `CRITICAL`.
    pub urgency: String,
    /// The `category` hint, if any.
    pub category: String,
    /// The `x-dunst-stack-tag` hint, if any.
    pub stack_tag: String,
    /// The icon's path or name, if any.
    pub icon: String,
    /// When it was shown (Unix milliseconds).
    pub time_ms: u64,
}

impl Notice {
    /// Summary and body, for matching words anywhere in the notification.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.summary, self.body)
    }

    /// Whether summary or body contains `s`.
    pub fn mentions(&self, s: &str) -> bool {
        self.summary.contains(s) || self.body.contains(s)
    }

    /// Whether it was sent with critical urgency.
    pub fn is_critical(&self) -> bool {
        self.urgency.eq_ignore_ascii_case("CRITICAL")
    }
}

/// The notifications shown during this test, read from `$NOTIFY_LOG` (written by
/// `tests/env/session.sh`'s dunst). Tests running in parallel share the daemon, so a reader only
/// sees notifications logged after it was created ([`Notifications::new`]), and tests should
/// match on something unique to them (their integration's name).
#[derive(Clone, Debug)]
pub struct Notifications {
    path: PathBuf,
    skip: usize,
}

static ACTION_LOCK: Mutex<()> = Mutex::new(());

impl Default for Notifications {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifications {
    /// A reader of the notifications shown from now on. Panics outside `tests/env/session.sh`.
    pub fn new() -> Self {
        let mut n = Self::from_start();
        n.skip = n.read_all().len();
        n
    }

    /// A reader of every notification in the log, also older ones.
    pub fn from_start() -> Self {
        let path = std::env::var_os("NOTIFY_LOG").map(PathBuf::from).unwrap_or_else(|| {
            panic!("NOTIFY_LOG is not set: run the tests inside tests/env/session.sh (`make test`)")
        });
        Self { path, skip: 0 }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&self) -> Vec<Notice> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        // only complete lines: the last one may still be being written
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        complete.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Every notification shown since this reader was created, oldest first.
    pub fn all(&self) -> Vec<Notice> {
        self.read_all().into_iter().skip(self.skip).collect()
    }

    /// How many of them match `pred`.
    pub fn count(&self, pred: impl Fn(&Notice) -> bool) -> usize {
        self.all().iter().filter(|n| pred(n)).count()
    }

    /// Waits (polling every 25 ms) for a notification matching `pred`; the first one, or `None`
    /// after `timeout`.
    pub fn wait_for(&self, pred: impl Fn(&Notice) -> bool, timeout: Duration) -> Option<Notice> {
        let mut found = None;
        wait_until(timeout, Duration::from_millis(25), || {
            found = self.all().into_iter().find(|n| pred(n));
            found.is_some()
        });
        found
    }

    /// Clicks an action button of a shown notification, like a user: writes `label` to
    /// `$PICK_ACTION_FILE` and runs `dunstctl context`, whose menu lines look like
    /// `#Sign in again (<summary>) [<id>,<action key>]`; the first line containing `label` is
    /// chosen and the sender receives a real `ActionInvoked`. Make `label` unique enough, e.g.
    /// `"Sign in again (Demo stopped working"`. Serialized within this process.
    pub fn invoke_action(&self, label: &str) -> Result<()> {
        let _guard = lock(&ACTION_LOCK);
        let file = std::env::var_os("PICK_ACTION_FILE")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("PICK_ACTION_FILE is not set: run inside tests/env/session.sh"))?;
        std::fs::write(&file, label)?;
        let out = Command::new("dunstctl").arg("context").output().context("dunstctl context")?;
        let _ = std::fs::write(&file, "");
        if !out.status.success() {
            bail!("dunstctl context failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

// =============================================================================================
// Keychain (Secret Service) through secret-tool
// =============================================================================================

/// One Secret Service item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainItem {
    /// Its label (keyring-core's default: `keyring:<user>@<service>`).
    pub label: String,
    /// Its attributes; Token Keeper's items have `service` and `username` (= the integration
    /// name, or a chunk name `<name>#g<gen>.<i>`), as keyring-core's Secret Service store sets them.
    pub attributes: BTreeMap<String, String>,
    /// The secret, exactly as stored.
    pub secret: String,
}

impl KeychainItem {
    /// The `username` attribute.
    pub fn user(&self) -> &str {
        self.attributes.get("username").map_or("", String::as_str)
    }
}

fn secret_tool(args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run secret-tool (apt install libsecret-tools)")?;
    if let Some(input) = stdin {
        child.stdin.take().expect("piped").write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

/// Every item whose `service` attribute is `service` (`secret-tool search --all service …`), with
/// its exact secret (read back with `secret-tool lookup`). Empty when there is none.
pub fn keychain_items(service: &str) -> Vec<KeychainItem> {
    // secret-tool prints labels and secrets on stdout but attributes on stderr: both into one pipe
    // keep their order (glib flushes after every line)
    let (mut reader, writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("secret-tool");
    cmd.args(["search", "--all", "service", service])
        .stdin(Stdio::null())
        .stdout(writer.try_clone().expect("pipe clone"))
        .stderr(writer);
    let mut child = cmd.spawn().expect("cannot run secret-tool (apt install libsecret-tools)");
    drop(cmd); // closes our copies of the pipe's write end
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw);
    let _ = child.wait();
    let text = String::from_utf8_lossy(&raw);
    let mut items: Vec<KeychainItem> = Vec::new();
    let mut in_secret = false;
    for line in text.lines() {
        if line.starts_with("[/") && line.ends_with(']') {
            items.push(KeychainItem { label: String::new(), attributes: BTreeMap::new(), secret: String::new() });
            in_secret = false;
            continue;
        }
        let Some(item) = items.last_mut() else { continue };
        if let Some(v) = line.strip_prefix("label = ") {
            item.label = v.to_owned();
            in_secret = false;
        } else if line.starts_with("secret = ") {
            in_secret = true; // possibly several lines: read back exactly below
        } else if let Some(rest) = line.strip_prefix("attribute.") {
            if let Some((k, v)) = rest.split_once(" = ") {
                item.attributes.insert(k.to_owned(), v.to_owned());
            }
            in_secret = false;
        } else if line.starts_with("created = ") || line.starts_with("modified = ") || line.starts_with("schema = ") {
            in_secret = false;
        } else if in_secret {
            // continuation of a multi-line secret
        }
    }
    for item in &mut items {
        let mut args = vec!["lookup"];
        for (k, v) in &item.attributes {
            args.push(k);
            args.push(v);
        }
        if let Ok(out) = secret_tool(&args, None) {
            item.secret = String::from_utf8_lossy(&out.stdout).into_owned();
        }
    }
    items.sort_by(|a, b| a.user().cmp(b.user()));
    items
}

/// The secret stored for (`service`, `username` = `user`), as keyring-core's
/// `Entry::new(service, user)` writes it (`secret-tool lookup service S username U`).
pub fn keychain_secret(service: &str, user: &str) -> Option<String> {
    let out = secret_tool(&["lookup", "service", service, "username", user], None).ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Stores an item the way keyring-core would (attributes `service`, `username`), e.g. to plant a
/// damaged document. Panics when the Secret Service refuses.
pub fn keychain_store(service: &str, user: &str, secret: &str) {
    let label = format!("keyring:{user}@{service}");
    let out = secret_tool(&["store", "--label", &label, "service", service, "username", user], Some(secret))
        .expect("secret-tool store");
    assert!(out.status.success(), "secret-tool store: {}", String::from_utf8_lossy(&out.stderr));
}

/// Deletes every item of `service`.
pub fn keychain_clear(service: &str) {
    let _ = secret_tool(&["clear", "service", service], None);
}

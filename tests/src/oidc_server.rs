//! The OAuth 2.0 / OpenID Connect fixture as a child process: `oidc-provider` for Node.js
//! (`tests/fixtures/oidc-server`), its options, its event log, and direct token requests to it.

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use url::Url;

use crate::browser::follow_authorization;
use crate::{block_on, fixture_dir, http_client, lock, random_hex, snippet, terminate, wait_until};

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
    /// JSON text sent as `expires_in` in every token response instead of the true lifetime
    /// (`EXPIRES_IN`): `"0"`, `"18446744073709551615"`, `"\"soon\""`.
    pub claimed_expires_in: Option<String>,
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
            claimed_expires_in: None,
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
            .env_remove("EXPIRES_IN")
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
        if let Some(claimed) = &self.opts.claimed_expires_in {
            cmd.env("EXPIRES_IN", claimed);
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

    /// Its socket address, e.g. for [`FaultProxy::start`](crate::FaultProxy::start).
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
        let (status, text) = self.post_token(&format!("{}/token/introspection", self.issuer()), token);
        assert!(status.is_success(), "introspection: HTTP {status}: {}", snippet(&text));
        serde_json::from_str(&text).expect("introspection JSON")
    }

    /// POSTs `token=TOKEN` to `url` as `test-native`: the status and the body.
    fn post_token(&self, url: &str, token: &str) -> (reqwest::StatusCode, String) {
        let (url, token) = (url.to_owned(), token.to_owned());
        block_on(async move {
            let resp = http_client(false)
                .post(&url)
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            let status = resp.status();
            (status, resp.text().await.unwrap_or_default())
        })
    }

    /// Whether the provider still accepts this token ([`OidcServer::introspect`]`["active"]`).
    pub fn is_active(&self, token: &str) -> bool {
        self.introspect(token)["active"] == Value::Bool(true)
    }

    /// RFC 7009 revocation of a token (as `test-native`). Revoking a refresh token revokes its
    /// whole grant (the access tokens too). The provider answers 200 even for unknown tokens.
    pub fn revoke(&self, token: &str) {
        let (status, _) = self.post_token(&format!("{}/token/revocation", self.issuer()), token);
        assert!(status.is_success(), "revocation: HTTP {status}");
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

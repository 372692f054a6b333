//! Local stand-ins for the preset services, reproducing their documented wire formats and
//! failure modes (PRODUCT.md, "Provider facts"):
//!
//! * [`HighQ`]: token endpoint `POST {instance}/api/oauth2/token` with `client_id` and
//!   `client_secret` in the form body, answering in XML `<TokenResponse>` (with `<useremail>`) as
//!   the seed documents; rotating refresh tokens (only the newest works); an unknown refresh token
//!   is an `invalid_grant` error; `GET {instance}/api/3/users/{email}?type=email` answers
//!   `403 Access denied` for an expired or unknown access token.
//! * [`Atlassian`]: auth.atlassian.com and api.atlassian.com on one address. `GET /authorize`
//!   (requires `audience=api.atlassian.com`, `prompt=consent` and `offline_access`, then
//!   redirects to the loopback address), `POST /oauth/token` with a JSON body only (a form body
//!   gets 400), rotating refresh tokens whose previous one stays usable for a reuse interval
//!   (10 minutes unless [`Atlassian::set_reuse_window`] says otherwise), then
//!   `403 {"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`;
//!   `GET /oauth/token/accessible-resources` (Bearer) listing the sites as
//!   `[{id, name, url, scopes, avatarUrl}]`; and `GET /ex/jira/{cloudId}/rest/api/3/myself`, the
//!   API gateway where a scoped API token (Basic e-mail:token) works.
//! * [`GitHub`]: `POST /login/oauth/access_token` with `client_id` and `client_secret` in the
//!   form body, answering JSON only to `Accept: application/json` (a form otherwise, as GitHub
//!   does); every error (`bad_refresh_token`, `incorrect_client_credentials`,
//!   `unsupported_grant_type`) arrives with HTTP 200; rotating refresh tokens with
//!   `refresh_token_expires_in` (six months); `GET /user` answers `401 Bad credentials` for a dead
//!   access token.
//!
//! Each is a small std HTTP/1.1 server on 127.0.0.1 (one thread per connection,
//! `connection: close`), enough for reqwest and for the harness's browser.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the servers see it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// An answer.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub location: Option<String>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self { status, content_type, body: body.into(), location: None }
    }
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self::new(status, "application/json", body.to_string())
    }
    pub fn redirect(location: String) -> Self {
        Self { status: 302, content_type: "text/plain", body: String::new(), location: Some(location) }
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Serves `handler` on 127.0.0.1 (a random port) until the test ends.
pub fn serve(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let Some(request) = read_request(&mut stream) else { return };
                let r = handler(&request);
                let reason = match r.status {
                    200 => "OK",
                    302 => "Found",
                    400 => "Bad Request",
                    401 => "Unauthorized",
                    403 => "Forbidden",
                    _ => "Status",
                };
                let location = r.location.map(|l| format!("location: {l}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{location}connection: close\r\n\r\n{}",
                    r.status,
                    r.content_type,
                    r.body.len(),
                    r.body
                );
            });
        }
    });
    addr
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let url = url::Url::parse(&format!("http://x{target}")).ok()?;
    Some(Request {
        method,
        path: url.path().to_string(),
        query: url.query_pairs().into_owned().collect(),
        headers,
        body,
    })
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}-{:032x}", rand::random::<u128>())
}

/// Tokens of one fake service: access tokens with their end, and the refresh tokens that work.
#[derive(Default)]
struct Tokens {
    access: HashMap<String, Instant>,
    /// The refresh token that works now, and older ones still accepted until the given time.
    refresh: HashMap<String, Option<Instant>>,
    refreshes: usize,
    codes: HashMap<String, String>,
}

impl Tokens {
    fn issue(&mut self, ttl: Duration) -> (String, String) {
        let at = random_token("at");
        let rt = random_token("rt");
        self.access.insert(at.clone(), Instant::now() + ttl);
        self.refresh.insert(rt.clone(), None);
        (at, rt)
    }
    fn active(&self, at: &str) -> bool {
        self.access.get(at).is_some_and(|end| Instant::now() < *end)
    }
    /// Consumes `rt` (rotation): the old one works for `reuse` after its first use (using it
    /// again does not extend that), then dies.
    fn use_refresh(&mut self, rt: &str, reuse: Duration) -> bool {
        let now = Instant::now();
        let ok = match self.refresh.get(rt) {
            Some(None) => {
                self.refresh.insert(rt.to_string(), Some(now + reuse));
                true
            }
            Some(Some(until)) => now < *until,
            None => false,
        };
        if ok {
            self.refreshes += 1;
        }
        ok
    }
}

// ---------------------------------------------------------------------------------------------
// HighQ Collaborate
// ---------------------------------------------------------------------------------------------

pub const HIGHQ_CLIENT_ID: &str = "hq-reporting-client";
pub const HIGHQ_CLIENT_SECRET: &str = "hq-client-secret-81723";
pub const HIGHQ_EMAIL: &str = "reporter@client.example";

/// A HighQ Collaborate instance at `http://127.0.0.1:PORT/acme`.
pub struct HighQ {
    pub addr: SocketAddr,
    state: Arc<Mutex<HighQState>>,
}

struct HighQState {
    ttl: Duration,
    tokens: Tokens,
    /// Every users-endpoint request target (path and query).
    probes: Vec<String>,
    /// Answer 403 to every users-endpoint request (the account lost its access).
    deny_all: bool,
}

impl HighQ {
    pub fn start(access_ttl: Duration) -> Self {
        let state = Arc::new(Mutex::new(HighQState {
            ttl: access_ttl,
            tokens: Tokens::default(),
            probes: Vec::new(),
            deny_all: false,
        }));
        let s = state.clone();
        let addr = serve(Arc::new(move |r: &Request| highq_answer(&mut s.lock().unwrap(), r)));
        Self { addr, state }
    }

    pub fn instance_url(&self) -> String {
        format!("http://{}/acme", self.addr)
    }

    /// The XML token response a first sign-in gives (as in the seed).
    pub fn sign_in_response(&self) -> String {
        let mut s = self.state.lock().unwrap();
        let ttl = s.ttl;
        let (at, rt) = s.tokens.issue(ttl);
        token_xml(&at, &rt, ttl)
    }

    pub fn is_active(&self, access_token: &str) -> bool {
        self.state.lock().unwrap().tokens.active(access_token)
    }

    pub fn refreshes(&self) -> usize {
        self.state.lock().unwrap().tokens.refreshes
    }

    pub fn probes(&self) -> Vec<String> {
        self.state.lock().unwrap().probes.clone()
    }

    /// An administrator revokes the app's access: every token dies.
    pub fn revoke_all(&self) {
        let mut s = self.state.lock().unwrap();
        s.tokens.access.clear();
        s.tokens.refresh.clear();
    }

    pub fn deny_all(&self, deny: bool) {
        self.state.lock().unwrap().deny_all = deny;
    }
}

fn token_xml(at: &str, rt: &str, ttl: Duration) -> String {
    format!(
        "<TokenResponse>\n<access_token>{at}</access_token>\n<expires_in>{}</expires_in>\n\
         <refresh_token>{rt}</refresh_token>\n<token_type>bearer</token_type>\n\
         <useremail>{HIGHQ_EMAIL}</useremail>\n</TokenResponse>",
        ttl.as_secs()
    )
}

fn highq_error(status: u16, error: &str, description: &str) -> Response {
    Response::new(
        status,
        "application/xml",
        format!(
            "<ErrorResponse><error>{error}</error><error_description>{description}</error_description></ErrorResponse>"
        ),
    )
}

fn highq_answer(s: &mut HighQState, r: &Request) -> Response {
    if r.method == "POST" && r.path == "/acme/api/oauth2/token" {
        if !r.header("content-type").unwrap_or("").starts_with("application/x-www-form-urlencoded") {
            return highq_error(400, "invalid_request", "form body expected");
        }
        let form = r.form();
        let field = |k: &str| form.get(k).map(String::as_str);
        if field("client_id") != Some(HIGHQ_CLIENT_ID) || field("client_secret") != Some(HIGHQ_CLIENT_SECRET) {
            return highq_error(401, "invalid_client", "Client authentication failed");
        }
        if field("grant_type") != Some("refresh_token") {
            return highq_error(400, "unsupported_grant_type", "Unsupported grant type");
        }
        // Only the newest refresh token works (the reset at each generation).
        if !s.tokens.use_refresh(field("refresh_token").unwrap_or(""), Duration::ZERO) {
            return highq_error(400, "invalid_grant", "Invalid refresh token");
        }
        let ttl = s.ttl;
        let (at, rt) = s.tokens.issue(ttl);
        return Response::new(200, "application/xml", token_xml(&at, &rt, ttl));
    }
    if r.method == "GET" && r.path.starts_with("/acme/api/3/users/") {
        let query: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.probes.push(format!("{}?{}", r.path, query.join("&")));
        let ok = !s.deny_all
            && r.bearer().is_some_and(|t| s.tokens.active(t))
            && r.path == format!("/acme/api/3/users/{HIGHQ_EMAIL}")
            && r.param("type") == Some("email");
        return if ok {
            Response::json(200, serde_json::json!({"email": HIGHQ_EMAIL, "firstname": "Report", "lastname": "Bot"}))
        } else {
            Response::new(403, "text/plain", "Access denied")
        };
    }
    Response::new(404, "text/plain", "Not found")
}

// ---------------------------------------------------------------------------------------------
// Atlassian OAuth 2.0 (3LO)
// ---------------------------------------------------------------------------------------------

pub const ATLASSIAN_CLIENT_ID: &str = "atl-client-4d2";
pub const ATLASSIAN_CLIENT_SECRET: &str = "atl-secret-90210";
/// The cloud id of the stand-in's first site.
pub const ATLASSIAN_CLOUD_ID: &str = "1324a887-45db-1bf4-1e99-ef0ff456d421";
/// Atlassian's default reuse interval of a rotated refresh token.
pub const ATLASSIAN_REUSE_WINDOW: Duration = Duration::from_secs(600);

/// auth.atlassian.com at `http://127.0.0.1:PORT`.
pub struct Atlassian {
    pub addr: SocketAddr,
    state: Arc<Mutex<AtlassianState>>,
}

struct AtlassianState {
    ttl: Duration,
    reuse_window: Duration,
    tokens: Tokens,
    /// The query of every authorization request.
    authorize_queries: Vec<Vec<(String, String)>>,
    /// Token requests refused because their body was not JSON.
    form_bodies: usize,
    /// What `accessible-resources` answers with a valid token: 200 with the sites, or this status.
    sites_status: u16,
    /// `accessible-resources` requests (any answer).
    sites_requests: usize,
    /// The Basic authorization header value the gateway accepts for a scoped API token.
    scoped_token: Option<String>,
}

impl Atlassian {
    pub fn start(access_ttl: Duration) -> Self {
        let state = Arc::new(Mutex::new(AtlassianState {
            ttl: access_ttl,
            reuse_window: ATLASSIAN_REUSE_WINDOW,
            tokens: Tokens::default(),
            authorize_queries: Vec::new(),
            form_bodies: 0,
            sites_status: 200,
            sites_requests: 0,
            scoped_token: None,
        }));
        let s = state.clone();
        let addr = serve(Arc::new(move |r: &Request| atlassian_answer(&mut s.lock().unwrap(), r)));
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn is_active(&self, access_token: &str) -> bool {
        self.state.lock().unwrap().tokens.active(access_token)
    }

    pub fn refreshes(&self) -> usize {
        self.state.lock().unwrap().tokens.refreshes
    }

    pub fn form_bodies(&self) -> usize {
        self.state.lock().unwrap().form_bodies
    }

    pub fn authorize_queries(&self) -> Vec<Vec<(String, String)>> {
        self.state.lock().unwrap().authorize_queries.clone()
    }

    /// The user revokes the app's access: every refresh token becomes unknown.
    pub fn revoke_all(&self) {
        let mut s = self.state.lock().unwrap();
        s.tokens.access.clear();
        s.tokens.refresh.clear();
    }

    /// How long a rotated refresh token stays usable (Atlassian's reuse interval).
    pub fn set_reuse_window(&self, window: Duration) {
        self.state.lock().unwrap().reuse_window = window;
    }

    /// Makes `accessible-resources` answer this status instead of the sites (200 restores them).
    pub fn set_sites_status(&self, status: u16) {
        self.state.lock().unwrap().sites_status = status;
    }

    pub fn sites_requests(&self) -> usize {
        self.state.lock().unwrap().sites_requests
    }

    /// The gateway accepts this Basic authorization header value for `ATLASSIAN_CLOUD_ID`.
    pub fn accept_scoped_token(&self, authorization: Option<String>) {
        self.state.lock().unwrap().scoped_token = authorization;
    }
}

/// The sites the stand-in's sign-ins reach, as `accessible-resources` lists them.
pub fn atlassian_sites() -> serde_json::Value {
    serde_json::json!([
        {"id": ATLASSIAN_CLOUD_ID, "name": "acme", "url": "https://acme.atlassian.net",
         "scopes": ["read:jira-work", "offline_access"], "avatarUrl": "https://site-admin-avatar-cdn.example/flag.png"},
        {"id": "9a8b7c6d-0000-4e5f-8a9b-112233445566", "name": "acme-sandbox", "url": "https://acme-sandbox.atlassian.net",
         "scopes": ["read:jira-work"], "avatarUrl": "https://site-admin-avatar-cdn.example/flag.png"}
    ])
}

fn atlassian_answer(s: &mut AtlassianState, r: &Request) -> Response {
    if r.method == "GET" && r.path == "/authorize" {
        s.authorize_queries.push(r.query.clone());
        let scope_ok = r.param("scope").is_some_and(|sc| sc.split(' ').any(|x| x == "offline_access"));
        let ok = r.param("audience") == Some("api.atlassian.com")
            && r.param("prompt") == Some("consent")
            && r.param("response_type") == Some("code")
            && r.param("client_id") == Some(ATLASSIAN_CLIENT_ID)
            && scope_ok;
        let (Some(redirect), Some(state), true) = (r.param("redirect_uri"), r.param("state"), ok) else {
            return Response::new(400, "text/html", "<html><body>Something went wrong</body></html>");
        };
        let code = random_token("code");
        s.tokens.codes.insert(code.clone(), redirect.to_string());
        return Response::redirect(format!("{redirect}?code={code}&state={state}"));
    }
    if r.method == "POST" && r.path == "/oauth/token" {
        if !r.header("content-type").unwrap_or("").starts_with("application/json") {
            s.form_bodies += 1;
            return Response::json(
                400,
                serde_json::json!({"error": "invalid_request", "error_description": "Request body must be JSON."}),
            );
        }
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return Response::json(400, serde_json::json!({"error": "invalid_request"}));
        };
        let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
        if field("client_id") != ATLASSIAN_CLIENT_ID || field("client_secret") != ATLASSIAN_CLIENT_SECRET {
            return Response::json(
                401,
                serde_json::json!({"error": "access_denied", "error_description": "Unauthorized"}),
            );
        }
        let granted = match field("grant_type") {
            "authorization_code" => s.tokens.codes.remove(field("code")).is_some_and(|r| r == field("redirect_uri")),
            "refresh_token" => {
                let window = s.reuse_window;
                s.tokens.use_refresh(field("refresh_token"), window)
            }
            _ => false,
        };
        if !granted {
            return Response::json(
                403,
                serde_json::json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}),
            );
        }
        let ttl = s.ttl;
        let (at, rt) = s.tokens.issue(ttl);
        return Response::json(
            200,
            serde_json::json!({"access_token": at, "refresh_token": rt, "expires_in": ttl.as_secs(),
                               "scope": "read:jira-work offline_access", "token_type": "Bearer"}),
        );
    }
    if r.method == "GET" && r.path == "/oauth/token/accessible-resources" {
        s.sites_requests += 1;
        if !r.bearer().is_some_and(|t| s.tokens.active(t)) {
            return Response::json(401, serde_json::json!({"code": 401, "message": "Unauthorized"}));
        }
        if s.sites_status != 200 {
            return Response::json(s.sites_status, serde_json::json!({"code": s.sites_status, "message": "Failed"}));
        }
        return Response::json(200, atlassian_sites());
    }
    if r.method == "GET" && r.path == format!("/ex/jira/{ATLASSIAN_CLOUD_ID}/rest/api/3/myself") {
        let ok = s.scoped_token.is_some() && r.header("authorization") == s.scoped_token.as_deref();
        return if ok {
            Response::json(
                200,
                serde_json::json!({"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": "me@example.com"}),
            )
        } else {
            Response::json(401, serde_json::json!({"code": 401, "message": "Unauthorized; scope does not match"}))
        };
    }
    Response::new(404, "text/plain", "Not found")
}

// ---------------------------------------------------------------------------------------------
// GitHub App user tokens
// ---------------------------------------------------------------------------------------------

pub const GITHUB_CLIENT_ID: &str = "Iv1.8a61f9b3a7aba766";
pub const GITHUB_CLIENT_SECRET: &str = "gh-app-secret-5150";
/// What GitHub sends as `refresh_token_expires_in`: six months.
pub const GITHUB_REFRESH_TTL_SECS: u64 = 15_897_600;

/// github.com (and api.github.com's `/user`) at `http://127.0.0.1:PORT`.
pub struct GitHub {
    pub addr: SocketAddr,
    state: Arc<Mutex<GitHubState>>,
}

struct GitHubState {
    ttl: Duration,
    tokens: Tokens,
    /// Error answers sent (each with HTTP 200).
    errors: Vec<String>,
    /// Token requests without `Accept: application/json` (answered as a form).
    form_answers: usize,
}

impl GitHub {
    pub fn start(access_ttl: Duration) -> Self {
        let state = Arc::new(Mutex::new(GitHubState {
            ttl: access_ttl,
            tokens: Tokens::default(),
            errors: Vec::new(),
            form_answers: 0,
        }));
        let s = state.clone();
        let addr = serve(Arc::new(move |r: &Request| github_answer(&mut s.lock().unwrap(), r)));
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JSON token response of a first sign-in.
    pub fn sign_in_response(&self) -> String {
        let mut s = self.state.lock().unwrap();
        let ttl = s.ttl;
        let (at, rt) = s.tokens.issue(ttl);
        github_token(&at, &rt, ttl).to_string()
    }

    pub fn is_active(&self, access_token: &str) -> bool {
        self.state.lock().unwrap().tokens.active(access_token)
    }

    pub fn refreshes(&self) -> usize {
        self.state.lock().unwrap().tokens.refreshes
    }

    pub fn errors(&self) -> Vec<String> {
        self.state.lock().unwrap().errors.clone()
    }

    pub fn form_answers(&self) -> usize {
        self.state.lock().unwrap().form_answers
    }

    /// The user revokes the app's authorization: every token dies.
    pub fn revoke_all(&self) {
        let mut s = self.state.lock().unwrap();
        s.tokens.access.clear();
        s.tokens.refresh.clear();
    }
}

fn github_token(at: &str, rt: &str, ttl: Duration) -> serde_json::Value {
    serde_json::json!({"access_token": at, "expires_in": ttl.as_secs(), "refresh_token": rt,
                       "refresh_token_expires_in": GITHUB_REFRESH_TTL_SECS, "scope": "", "token_type": "bearer"})
}

/// GitHub's errors: HTTP 200 with an `error` field.
fn github_error(s: &mut GitHubState, error: &str, description: &str) -> Response {
    s.errors.push(error.to_string());
    Response::json(
        200,
        serde_json::json!({"error": error, "error_description": description,
                           "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"}),
    )
}

fn github_answer(s: &mut GitHubState, r: &Request) -> Response {
    if r.method == "POST" && r.path == "/login/oauth/access_token" {
        let form = r.form();
        let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        if field("client_id") != GITHUB_CLIENT_ID || field("client_secret") != GITHUB_CLIENT_SECRET {
            return github_error(
                s,
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            );
        }
        if field("grant_type") != "refresh_token" {
            return github_error(s, "unsupported_grant_type", "The grant type is not supported.");
        }
        if !s.tokens.use_refresh(field("refresh_token"), Duration::ZERO) {
            return github_error(s, "bad_refresh_token", "The refresh token passed is incorrect or expired.");
        }
        let ttl = s.ttl;
        let (at, rt) = s.tokens.issue(ttl);
        if !r.header("accept").unwrap_or("").contains("application/json") {
            s.form_answers += 1;
            let body = format!("access_token={at}&expires_in={}&refresh_token={rt}&token_type=bearer", ttl.as_secs());
            return Response::new(200, "application/x-www-form-urlencoded", body);
        }
        return Response::json(200, github_token(&at, &rt, ttl));
    }
    if r.method == "GET" && r.path == "/user" {
        let token = r.bearer().or_else(|| r.header("authorization")?.strip_prefix("token "));
        return if token.is_some_and(|t| s.tokens.active(t)) {
            Response::json(200, serde_json::json!({"login": "octocat", "id": 1, "type": "User"}))
        } else {
            Response::json(
                401,
                serde_json::json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                   "status": "401"}),
            )
        };
    }
    Response::new(404, "application/json", r#"{"message":"Not Found"}"#)
}

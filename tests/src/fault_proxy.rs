//! [`FaultProxy`]: an HTTP/1.1 reverse proxy between Token Keeper and a provider that injects the
//! faults real networks and services show — 5xx and 429 answers, connections dropped before or
//! after forwarding (the lost response), delays, outages — and records every request it saw.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self};
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::reuse_window::ReuseWindow;
use crate::{lock, wait_until};

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
    /// Starts a proxy to `upstream` (e.g. [`OidcServer::addr`](crate::OidcServer::addr)).
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

    /// Gives the provider behind the proxy a refresh-token reuse window (see [`reuse_window`](crate::reuse_window)):
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
        let upstream_req = substitute.map(|token| crate::reuse_window::with_refresh_token(&req, &token));
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

//! HTTP to the team vault: the addresses of its nodes, the credential header, bounded answers,
//! and the choice of the node that serves.
//!
//! Written on reqwest rather than with a Vault client crate (`vaultrs` was considered): the
//! keeper needs several addresses with failover, every answer bounded in size, OpenBao's error
//! strings kept for classification (a sealed node and an overloaded one are told apart), no
//! redirects, and the engine's rule for addresses; `vaultrs` serves one address per client and
//! reads whole bodies, and would add `rustify`, `derive_builder` and `async-trait` for the eight
//! JSON calls used here.
//!
//! **Which node serves.** The addresses are tried in turn, starting with the one that served
//! last. A node that cannot be reached, is sealed, is a standby that cannot forward (no leader,
//! a redirect), answers 5xx/429, or is not a vault at all (a web page where OpenBao answers
//! JSON) is skipped; the first other answer is the vault's answer (a standby that forwards to
//! the leader counts as serving). When no node serves, the error is
//! the most telling of what was met: sealed, then unavailable, then not a vault, then
//! unreachable. A write whose answer was lost is sent again to the next node; it then meets
//! its own check-and-set and comes back as a conflict, and a re-read shows the keeper's own
//! record — never a second write.
//!
//! **Standbys read for themselves.** OpenBao's standbys serve reads from their own copy
//! ("read-enabled standby") and forward writes to the leader. Their copy may lag: a standby whose
//! leader died right after a write can answer "not found" for that record until a new leader is
//! elected (it holds the entry but never learned it was committed). Writes are safe: a standby
//! checks the check-and-set condition on its copy and, when it passes, hands the whole request
//! to the leader, which checks again on committed data — so a stale copy can refuse a write
//! (which [`super::openbao`] tells from a real conflict) but never let two writers both win
//! (`tests/tests/openbao_harness.rs` races keepers on a standby and on the leader).
//! [`VaultClient::prefer_active`] points the client at the active node when it connects, so
//! reads are fresh in the normal case.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use url::Url;
use zeroize::Zeroizing;

use super::error::{VaultError, VaultErrorKind};
use crate::secret::VaultToken;

/// The largest answer read from the vault: a list of 10,000 integration names fits.
pub const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// One node's (or a load balancer's) address, e.g. `https://bao.example:8200`, held to the
/// engine's rule for every address ([`crate::address`]: https://, or plain http:// only to a
/// loopback IP). It is checked once, here; the URL inside cannot change afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(Url);

impl Address {
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let bad = |why: &str| {
            VaultError::new(VaultErrorKind::BadAddress { address: text.trim().to_string() }, why.to_string())
        };
        let url = Url::parse(text.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
        crate::address::check(&url).map_err(|e| bad(&e.to_string()))?;
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(bad("an address has no query, fragment or user name"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `<address>/v1/<segments…>`, each segment percent-encoded.
    fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.0.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        url
    }
}

/// How to reach the vault.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub addresses: Vec<Address>,
    /// PEM certificates to trust besides the system's (a private CA).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Per node: a stopped node accepts connections and never answers, so this bounds failover.
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl ClientSettings {
    pub fn new(addresses: Vec<Address>) -> Self {
        Self {
            addresses,
            ca_cert_pem: None,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The HTTP verbs OpenBao uses (`LIST` is its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
    List,
}

/// An answer from the node that served: status and a bounded body, wiped on drop.
pub struct Answer {
    pub status: u16,
    body: Zeroizing<Vec<u8>>,
}

/// OpenBao's error shape: `{"errors": ["…"]}`.
#[derive(serde::Deserialize, Default)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn is_empty(&self) -> bool {
        self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// The body as `T`; a body that does not parse is a [`VaultErrorKind::BadAnswer`].
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, VaultError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            VaultError::new(
                VaultErrorKind::BadAnswer,
                format!("HTTP {}: unreadable answer: {}", self.status, no_values(&e)),
            )
        })
    }

    /// Whether this can be OpenBao's answer: a JSON object, or no content for a success (a web
    /// page, or an empty refusal, means something else answered).
    fn is_api_answer(&self) -> bool {
        (self.is_success() && self.is_empty())
            || serde_json::from_slice::<serde_json::Value>(&self.body).is_ok_and(|v| v.is_object())
    }

    /// OpenBao's error strings (empty when there are none).
    pub fn errors(&self) -> Vec<String> {
        serde_json::from_slice::<Errors>(&self.body).unwrap_or_default().errors
    }

    /// "HTTP 403: permission denied" — for the technical detail.
    pub fn detail(&self) -> String {
        let errors = self.errors();
        if errors.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, errors.join("; "))
        }
    }

    /// The usual meaning of a refusal about `path` in `mount`: 403 denied, 404 for a mount that
    /// does not exist, 400 for a lost check-and-set; anything else an unexpected answer.
    pub fn refusal(&self, mount: &str, path: &str) -> VaultError {
        let errors = self.errors().join("; ");
        let kind = match self.status {
            403 => VaultErrorKind::Denied { path: path.to_string() },
            404 if errors.contains("no handler for route") => VaultErrorKind::MountMissing { mount: mount.to_string() },
            400 if errors.contains("check-and-set") => VaultErrorKind::Conflict { path: path.to_string() },
            _ => VaultErrorKind::BadAnswer,
        };
        VaultError::new(kind, self.detail())
    }
}

/// serde's message without the values it quotes ("invalid type: string \"…\"" would copy a
/// record's content, possibly a secret, into a log): missing and unknown fields keep their name.
fn no_values(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if message.starts_with("missing field") || message.starts_with("unknown field") {
        message
    } else {
        format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column())
    }
}

/// Why one node did not serve.
enum Skip {
    Sealed(String),
    Unavailable(String),
    NotAVault { address: String, detail: String },
    Unreachable(String),
    TooLarge(String),
}

/// The vault's nodes and the credential in use (cheap to share behind an `Arc`).
pub struct VaultClient {
    http: reqwest::Client,
    addresses: Vec<Address>,
    preferred: AtomicUsize,
    token: RwLock<Option<VaultToken>>,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient").field("addresses", &self.addresses).finish_non_exhaustive()
    }
}

impl VaultClient {
    pub fn new(settings: ClientSettings) -> Result<Self, VaultError> {
        if settings.addresses.is_empty() {
            return Err(VaultError::new(
                VaultErrorKind::BadAddress { address: String::new() },
                "no address given (--address, BAO_ADDR or VAULT_ADDR)",
            ));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("TokenKeeper/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.ca_cert_pem {
            let not_pem =
                |why: String| VaultError::new(VaultErrorKind::BadCertificate, format!("the CA file is not PEM: {why}"));
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| not_pem(e.to_string()))?;
            if certs.is_empty() {
                return Err(not_pem("no certificate in it".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| VaultError::new(VaultErrorKind::BadAnswer, e.to_string()))?;
        Ok(Self { http, addresses: settings.addresses, preferred: AtomicUsize::new(0), token: RwLock::new(None) })
    }

    /// The address that served last (where the next call starts).
    pub fn address_in_use(&self) -> &Address {
        &self.addresses[self.preferred.load(Ordering::Relaxed) % self.addresses.len()]
    }

    pub fn set_token(&self, token: Option<VaultToken>) {
        *self.token.write().unwrap_or_else(|p| p.into_inner()) = token;
    }

    pub fn token(&self) -> Option<VaultToken> {
        self.token.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes the active node (the leader) the first one tried, when one of the addresses says
    /// it is (`sys/health` 200); otherwise changes nothing.
    pub async fn prefer_active(&self) {
        for (index, address) in self.addresses.iter().enumerate() {
            let health = self.http.get(address.api_url(&["sys", "health"])).send().await;
            if health.is_ok_and(|r| r.status().as_u16() == 200) {
                self.preferred.store(index, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Checks that the node in use is still the active one (one `sys/health` request) and looks for
    /// the active node when it is not: after a leader change, a keeper that stayed on a standby
    /// reads a copy that may lag, and its check-and-set writes can be refused by that copy.
    pub async fn keep_active(&self) {
        let address = self.address_in_use();
        let health = self.http.get(address.api_url(&["sys", "health"])).send().await;
        if !health.is_ok_and(|r| r.status().as_u16() == 200) {
            self.prefer_active().await;
        }
    }

    /// Sends `method` to `/v1/<segments>` (with the credential when one is set) on the first node
    /// that serves; see the module doc for which nodes are skipped.
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, VaultError> {
        let token = self.token();
        let n = self.addresses.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut skipped = Vec::with_capacity(n);
        for i in 0..n {
            let index = (first + i) % n;
            let address = &self.addresses[index];
            match self.try_node(address, method, segments, body, token.as_ref()).await {
                Ok(answer) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(answer);
                }
                Err(skip) => skipped.push(skip),
            }
        }
        Err(no_node_served(skipped))
    }

    async fn try_node(
        &self,
        address: &Address,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
        token: Option<&VaultToken>,
    ) -> Result<Answer, Skip> {
        let url = address.api_url(segments);
        let here = address.as_str().trim_end_matches('/').to_string();
        let verb = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            Method::List => reqwest::Method::from_bytes(b"LIST").expect("LIST is a valid method"),
        };
        let mut request = self
            .http
            .request(verb, url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header("X-Vault-Request", "true");
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(token.expose())
                .map_err(|_| Skip::Unreachable(format!("{here}: the credential cannot be sent in a header")))?;
            value.set_sensitive(true);
            request = request.header("X-Vault-Token", value);
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let mut response = request.send().await.map_err(|e| Skip::Unreachable(format!("{here}: {}", transport(&e))))?;
        let status = response.status().as_u16();
        let expected = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_ANSWER_BYTES);
        let mut body = Zeroizing::new(Vec::with_capacity(expected));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_ANSWER_BYTES => {
                    return Err(Skip::TooLarge(format!("{here}: answer larger than {MAX_ANSWER_BYTES} bytes")));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(Skip::Unreachable(format!("{here}: answer cut off: {}", transport(&e)))),
            }
        }
        let answer = Answer { status, body };
        let said = format!("{here}: {}", answer.detail());
        match status {
            503 if answer.errors().iter().any(|e| e.contains("sealed")) => Err(Skip::Sealed(said)),
            300..=399 | 429 | 500..=599 => Err(Skip::Unavailable(said)),
            _ if !answer.is_api_answer() => Err(Skip::NotAVault { address: here, detail: said }),
            _ => Ok(answer),
        }
    }
}

/// The most telling failure when every node was skipped.
fn no_node_served(skipped: Vec<Skip>) -> VaultError {
    let mut kind = VaultErrorKind::Unreachable;
    let mut details = Vec::with_capacity(skipped.len());
    for skip in skipped {
        let (rank_kind, detail) = match skip {
            Skip::Sealed(d) => (VaultErrorKind::Sealed, d),
            Skip::Unavailable(d) => (VaultErrorKind::Unavailable, d),
            Skip::NotAVault { address, detail } => (VaultErrorKind::NotAVault { address }, detail),
            Skip::TooLarge(d) => (VaultErrorKind::BadAnswer, d),
            Skip::Unreachable(d) => (VaultErrorKind::Unreachable, d),
        };
        let rank = |k: &VaultErrorKind| match k {
            VaultErrorKind::Sealed => 4,
            VaultErrorKind::Unavailable => 3,
            VaultErrorKind::NotAVault { .. } => 2,
            VaultErrorKind::BadAnswer => 1,
            _ => 0,
        };
        if rank(&rank_kind) > rank(&kind) {
            kind = rank_kind;
        }
        details.push(detail);
    }
    VaultError::new(kind, details.join("; "))
}

/// A transport failure in words for the detail (reqwest's message names the URL; the host is
/// already given).
fn transport(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_https_or_loopback_http() {
        assert!(Address::parse("https://bao.example:8200").is_ok());
        assert!(Address::parse("http://127.0.0.1:8200").is_ok());
        // a name can resolve elsewhere: only a literal loopback IP may use plain http
        assert!(Address::parse("http://localhost:8200/").is_err());
        assert!(Address::parse("http://[::1]:8200/").is_ok());
        let e = Address::parse("http://bao.example:8200").unwrap_err();
        assert_eq!(e.kind(), &VaultErrorKind::BadAddress { address: "http://bao.example:8200".into() });
        assert!(Address::parse("https://user:pw@bao.example").is_err());
        assert!(Address::parse("bao.example").is_err());
    }

    #[test]
    fn api_urls_encode_each_segment() {
        let a = Address::parse("https://lb.example/bao/").unwrap();
        assert_eq!(
            a.api_url(&["secret", "data", "team a", "x?y"]).as_str(),
            "https://lb.example/bao/v1/secret/data/team%20a/x%3Fy"
        );
        let b = Address::parse("http://127.0.0.1:8200").unwrap();
        assert_eq!(b.api_url(&["sys", "health"]).as_str(), "http://127.0.0.1:8200/v1/sys/health");
    }

    #[test]
    fn the_most_telling_skip_names_the_failure() {
        let e = no_node_served(vec![
            Skip::Unreachable("a: cannot connect".into()),
            Skip::Sealed("b: HTTP 503: Vault is sealed".into()),
            Skip::Unavailable("c: HTTP 500".into()),
        ]);
        assert_eq!(e.kind(), &VaultErrorKind::Sealed);
        assert_eq!(e.detail(), "a: cannot connect; b: HTTP 503: Vault is sealed; c: HTTP 500");
        let e = no_node_served(vec![Skip::Unreachable("a".into())]);
        assert_eq!(e.kind(), &VaultErrorKind::Unreachable);
        let web = Skip::NotAVault { address: "http://127.0.0.1:8080".into(), detail: "HTTP 404".into() };
        let e = no_node_served(vec![Skip::Unreachable("a".into()), web]);
        assert_eq!(e.kind(), &VaultErrorKind::NotAVault { address: "http://127.0.0.1:8080".into() });
    }

    #[test]
    fn refusals_are_classified() {
        let answer = |status, body: &str| Answer { status, body: Zeroizing::new(body.as_bytes().to_vec()) };
        let r = answer(403, r#"{"errors":["permission denied"]}"#).refusal("secret", "team-b/x");
        assert_eq!(r.kind(), &VaultErrorKind::Denied { path: "team-b/x".into() });
        assert_eq!(r.detail(), "HTTP 403: permission denied");
        let r = answer(404, r#"{"errors":["no handler for route \"nope/data/x\". route entry not found."]}"#)
            .refusal("nope", "x");
        assert_eq!(r.kind(), &VaultErrorKind::MountMissing { mount: "nope".into() });
        let r = answer(400, r#"{"errors":["check-and-set parameter did not match the current version"]}"#)
            .refusal("secret", "x");
        assert_eq!(r.kind(), &VaultErrorKind::Conflict { path: "x".into() });
        assert_eq!(answer(418, "<html>").refusal("s", "x").kind(), &VaultErrorKind::BadAnswer);
        assert!(!answer(404, "<html>not found</html>").is_api_answer());
        assert!(!answer(404, "").is_api_answer());
        assert!(answer(204, "").is_api_answer());
        assert!(answer(404, r#"{"errors":[]}"#).is_api_answer());
    }

    #[test]
    fn unreadable_answers_never_quote_their_content() {
        #[derive(Debug, serde::Deserialize)]
        struct Lease {
            #[allow(dead_code)]
            until: u64,
        }
        let answer = Answer { status: 200, body: Zeroizing::new(br#"{"until":"hunter2-secret"}"#.to_vec()) };
        let e = answer.json::<Lease>().unwrap_err();
        assert!(!e.detail().contains("hunter2"), "{}", e.detail());
        let answer = Answer { status: 200, body: Zeroizing::new(br#"{"other":1}"#.to_vec()) };
        assert!(answer.json::<Lease>().unwrap_err().detail().contains("missing field `until`"));
    }
}

//! HTTP to services: one shared client, bounded reads, and plain-language transport failures.
//!
//! oauth2-rs builds and parses the protocol messages; this module is the HTTP client it calls
//! (its `AsyncHttpClient` is a function of ours rather than its built-in reqwest glue, because
//! every response must be size-bounded, classified — 5xx/429 with `Retry-After` are transient —
//! and normalized by [`super::token_response`] before oauth2-rs parses it). Error messages name
//! the host only: never a query string, a header or a body.
//!
//! [`send`] is the one place a request leaves the engine (a unit test below holds every other
//! module to it), and it checks the address against [`crate::address::check`] first: https, or
//! plain http to a loopback IP only. A token, a client secret or a sign-in code therefore never
//! goes out over plain http to another computer, whatever the configuration says.

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};

use super::token_response::{normalize, NormalizeError, MAX_RESPONSE_BYTES};
use super::{BodyEncoding, Wire};
use crate::address::{self, AddressError};
use crate::phrases::{Failure, Reason};

/// Connect timeout and whole-request timeout for every call to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call to a service did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// No connection (DNS, refused, reset, TLS) or the answer was cut off.
    #[error("could not reach {host}")]
    Unreachable { host: String },
    /// The service took too long.
    #[error("{host} did not answer in time")]
    Timeout { host: String },
    /// The service said it is unavailable or overloaded (5xx, 429, 408).
    #[error("{host} is unavailable right now (HTTP {status})")]
    Unavailable { host: String, status: u16, retry_after: Option<Duration> },
    /// The answer could not be used (web page, too large, unreadable).
    #[error("{host}: {problem}")]
    BadAnswer { host: String, status: u16, problem: NormalizeError },
    /// The address breaks the rule of [`crate::address`]: nothing was sent.
    #[error("nothing was sent: {0}")]
    NotSecure(#[from] AddressError),
}

impl WireError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        match self {
            WireError::Unreachable { .. } | WireError::Timeout { .. } | WireError::Unavailable { .. } => true,
            WireError::BadAnswer { problem, .. } => !matches!(problem, NormalizeError::WebPage),
            WireError::NotSecure(_) => false,
        }
    }
    /// What went wrong, as a class, with this error's words as technical detail.
    pub fn reason(&self) -> Reason {
        let failure = match self {
            WireError::Unreachable { .. } => Failure::Unreachable,
            WireError::Timeout { .. } | WireError::Unavailable { .. } => Failure::NotAnswering,
            WireError::BadAnswer { problem: NormalizeError::WebPage, .. } => Failure::SignInPage,
            WireError::BadAnswer { .. } => Failure::BadAnswer,
            WireError::NotSecure(_) => Failure::NotSecure,
        };
        Reason::new(failure, self.to_string())
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WireError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The HTTP client every service call goes through (cheap to clone: one connection pool).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("TokenKeeper/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend initializes")
}

pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "the service".into())
}

/// The HTTP client handed to oauth2-rs: a named type with a boxed `Send` future, so the futures
/// of every caller stay `Send` (a closure here trips rustc's higher-ranked `Send` inference).
pub struct TokenHttp<'a> {
    pub client: &'a reqwest::Client,
    pub wire: &'a Wire,
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = WireError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, WireError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(token_call(self.client, self.wire, request))
    }
}

/// Sends a token-endpoint request built by oauth2-rs and returns the normalized answer.
pub async fn token_call(
    client: &reqwest::Client,
    wire: &Wire,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, WireError> {
    let (mut parts, body) = request.into_parts();
    if wire.request_body == BodyEncoding::Json {
        // oauth2-rs set a form content type; reqwest's `header` appends, so two would go out.
        parts.headers.remove(CONTENT_TYPE);
    }
    let url = parts.uri.to_string();
    let host = host_of(&url);
    let mut builder = client.request(parts.method, &url).headers(parts.headers);
    builder = builder.header(ACCEPT, HeaderValue::from_static("application/json"));
    builder = match wire.request_body {
        BodyEncoding::Form => builder.body(body),
        // Atlassian's token endpoint takes JSON: the same fields oauth2-rs put in the form.
        BodyEncoding::Json => {
            let fields: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
            builder.header(CONTENT_TYPE, "application/json").body(serde_json::to_vec(&fields).unwrap_or_default())
        }
    };
    let (status, content_type, bytes) = send(builder, &host).await?;
    let (status, json) = normalize(status, content_type.as_deref(), &bytes, wire)
        .map_err(|problem| WireError::BadAnswer { host: host.clone(), status, problem })?;
    let mut response = http::Response::new(json);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Sends a request whose address passes [`address::check`] (else nothing is sent); 5xx, 429
/// and 408 become [`WireError::Unavailable`]. Returns status, content type and a body of at
/// most [`MAX_RESPONSE_BYTES`].
pub async fn send(builder: reqwest::RequestBuilder, host: &str) -> Result<(u16, Option<String>, Vec<u8>), WireError> {
    let transport = |e: reqwest::Error| {
        if e.is_timeout() {
            WireError::Timeout { host: host.to_string() }
        } else {
            WireError::Unreachable { host: host.to_string() }
        }
    };
    let (client, request) = builder.build_split();
    let request = request.map_err(transport)?;
    address::check(request.url())?;
    let mut response = client.execute(request).await.map_err(transport)?;
    let status = response.status().as_u16();
    if status >= 500 || status == 429 || status == 408 {
        let retry_after = response.headers().get(RETRY_AFTER).and_then(parse_retry_after);
        return Err(WireError::Unavailable { host: host.to_string(), status, retry_after });
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(WireError::BadAnswer { host: host.to_string(), status, problem: NormalizeError::TooLarge });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, content_type, body))
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), capped at an hour.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let secs = match text.parse::<u64>() {
        Ok(s) => s,
        Err(_) => {
            let when = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc2822).ok()?;
            (when - time::OffsetDateTime::now_utc()).whole_seconds().max(0) as u64
        }
    };
    Some(Duration::from_secs(secs.min(3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("7")), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("99999")), Some(Duration::from_secs(3600)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }

    /// A loopback listener that counts the connections it gets.
    async fn counting_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        (port, count)
    }

    #[tokio::test]
    async fn plain_http_to_a_name_is_never_sent_even_when_it_is_this_computer() {
        let (port, count) = counting_listener().await;
        let http = client();
        let url = format!("http://localhost:{port}/token");
        let e = send(http.post(&url).body("refresh_token=r&client_secret=s"), "localhost").await.unwrap_err();
        assert!(matches!(e, WireError::NotSecure(_)) && !e.is_transient(), "{e:?}");
        assert!(e.to_string().starts_with("nothing was sent: localhost:"), "{e}");
        // The same listener by its literal address is reached: the refusal was the rule's.
        let _ = send(http.get(format!("http://127.0.0.1:{port}/")), "127.0.0.1").await;
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "only the literal loopback call connects");
    }

    /// Every request to a service goes through [`send`]: no other engine module sends one
    /// itself. The team vault's client (`shared/client.rs`) is the one other funnel: it sends
    /// only to its `Address` type, which holds a URL checked by [`address::check`] when it is
    /// made and never changed.
    #[test]
    fn send_is_the_only_way_out() {
        const FUNNELS: [&str; 2] = ["providers/wire.rs", "shared/client.rs"];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !FUNNELS.iter().any(|f| path.ends_with(f)) {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains(".send().await") || text.contains(".execute(") {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "requests sent outside wire::send: {offenders:?}");
    }

    #[test]
    fn host_names_never_carry_the_query() {
        assert_eq!(host_of("https://example.com/token?code=secret"), "example.com");
        assert_eq!(host_of("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
    }
}

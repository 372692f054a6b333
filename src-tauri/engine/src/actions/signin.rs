//! Interactive sign-in: authorization code + PKCE (S256) with a one-shot loopback redirect on
//! 127.0.0.1 (RFC 8252), in the system browser, never an embedded web view.
//!
//! oauth2-rs makes the authorization URL, the PKCE pair and the `state`; the listener is written
//! here because it answers exactly one request: a web framework for one GET would be most of
//! the binary. The listener binds 127.0.0.1 only, on a random port, and serves each connection
//! on its own task (a local program that connects and says nothing cannot hold up the browser).
//! It refuses a `Host` other than the address it listens on (a web page elsewhere cannot reach
//! it through a name that resolves to 127.0.0.1) and a wrong `state` (and keeps waiting for the
//! right one). It takes one callback, then closes, so a second callback finds nothing
//! listening; the browser's page is answered only after the code exchange, and says how it went.
//! After [`SIGNIN_TIMEOUT`] it gives up.

use std::time::Duration;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::oauth::{client, Grant};
use super::refresh::{classify, RefreshOutcome};
use crate::model::OauthConfig;
use crate::phrases::{Failure, Reason};
use crate::providers::wire::TokenHttp;
use crate::providers::Wire;
use crate::secret::ClientSecret;
use crate::text;

/// How long a sign-in waits for the browser.
pub const SIGNIN_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// What a sign-in came to.
#[derive(Debug, Clone)]
pub enum SignInOutcome {
    /// The keeper signed in; new tokens (not yet stored).
    SignedIn(Grant),
    /// Nobody finished the sign-in in time.
    TimedOut,
    /// The service or the keeper refused (access denied, code rejected).
    Refused { reason: Reason },
    /// The service could not be reached to finish the sign-in.
    Failed { reason: Reason },
}

/// A sign-in waiting for the browser to come back.
pub struct PendingSignIn {
    /// Open this in the system browser.
    pub url: Url,
    listener: TcpListener,
    verifier: PkceCodeVerifier,
    state: CsrfToken,
    redirect: RedirectUrl,
}

/// Binds the loopback listener and makes the authorization URL.
pub async fn start(
    config: &OauthConfig,
    wire: &Wire,
    extra_params: &[(String, String)],
) -> std::io::Result<PendingSignIn> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let redirect = RedirectUrl::new(format!("http://127.0.0.1:{port}/callback")).expect("valid URL");
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client(config, None, wire).set_redirect_uri(redirect.clone());
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_scopes(config.scopes.iter().cloned().map(Scope::new));
    let prompt_given = extra_params.iter().any(|(k, _)| k == "prompt");
    if config.scopes.iter().any(|s| s == "offline_access") && !prompt_given {
        // Without prompt=consent, OpenID providers issue no refresh token for offline_access.
        request = request.add_extra_param("prompt", "consent");
    }
    for (k, v) in extra_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let (url, state) = request.url();
    Ok(PendingSignIn { url, listener, verifier, state, redirect })
}

impl PendingSignIn {
    /// The port the loopback listener is on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Waits for the browser's redirect, exchanges the code for tokens, and only then tells the
    /// browser how it went ("Signed in", or why not).
    pub async fn finish(
        self,
        http: &reqwest::Client,
        config: &OauthConfig,
        wire: &Wire,
        secret: Option<&ClientSecret>,
        timeout: Duration,
    ) -> SignInOutcome {
        let PendingSignIn { listener, verifier, state, redirect, .. } = self;
        let callback = match tokio::time::timeout(timeout, wait_for_callback(listener, state.secret())).await {
            Err(_) => return SignInOutcome::TimedOut,
            Ok(callback) => callback,
        };
        let (code, mut browser) = match callback {
            Callback::Denied { reason, mut stream } => {
                respond(&mut stream, 200, "Sign-in not completed", DENIED_PAGE).await;
                let technical = text::without_secrets(&reason, &[]);
                return SignInOutcome::Refused {
                    reason: Reason::new(Failure::SignInRefused { explained: None }, technical),
                };
            }
            Callback::Code { code, stream } => (code, stream),
        };
        let client = client(config, secret, wire).set_redirect_uri(redirect);
        let send = TokenHttp { client: http, wire };
        let outcome = match client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&send)
            .await
        {
            Ok(answer) => SignInOutcome::SignedIn(Grant::from_answer(&answer)),
            Err(e) => {
                match classify(e, wire).without_secrets(&[secret.map(ClientSecret::expose).unwrap_or_default()]) {
                    RefreshOutcome::PermanentError { reason } => SignInOutcome::Refused { reason },
                    RefreshOutcome::TransientError { reason, .. } => SignInOutcome::Failed { reason },
                    RefreshOutcome::Refreshed(g) => SignInOutcome::SignedIn(g),
                }
            }
        };
        let (title, message) = page_for(&outcome);
        respond(&mut browser, 200, title, &message).await;
        outcome
    }
}

/// The page the browser shows after the exchange: the truth, in plain words.
fn page_for(outcome: &SignInOutcome) -> (&'static str, String) {
    match outcome {
        SignInOutcome::SignedIn(_) => {
            ("Signed in", "Signed in — you can close this tab and go back to what you were doing.".into())
        }
        SignInOutcome::Refused { reason } => (
            "Sign-in not completed",
            format!(
                "{} You can close this tab.",
                html_escape(&crate::phrases::sign_in_failed("The service", &reason.failure))
            ),
        ),
        SignInOutcome::Failed { .. } | SignInOutcome::TimedOut => (
            "Sign-in not completed",
            "Token Keeper could not reach the service to finish the sign-in. Check your internet connection \
             (or VPN), then try again from Token Keeper."
                .into(),
        ),
    }
}

const DENIED_PAGE: &str =
    "The service did not complete the sign-in. You can close this tab and try again from Token Keeper.";

/// `& < > "` as HTML entities: a service's words go into the page as text.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The browser's redirect with the right `state`, and its connection, kept open to answer once
/// the code exchange is over.
enum Callback {
    Code {
        code: String,
        stream: TcpStream,
    },
    /// The service reported an error (e.g. the keeper clicked "Deny"); the reason in words.
    Denied {
        reason: String,
        stream: TcpStream,
    },
}

/// How many connections are read at once; more wait in the kernel's queue.
const MAX_CONNECTIONS: usize = 64;
/// How long one connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the loopback redirect until the right `state` arrives, each connection on its own task
/// (a silent one does not hold up the browser's), then closes the listener.
async fn wait_for_callback(listener: TcpListener, expected_state: &str) -> Callback {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let expected_host = format!("127.0.0.1:{port}");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Callback>(1);
    let mut connections = tokio::task::JoinSet::new();
    let callback = loop {
        tokio::select! {
            Some(callback) = rx.recv() => break callback,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                while connections.try_join_next().is_some() {}
                if connections.len() >= MAX_CONNECTIONS {
                    continue;
                }
                let (tx, state, host) = (tx.clone(), expected_state.to_string(), expected_host.clone());
                connections.spawn(async move {
                    if let Some(callback) = serve(stream, &state, &host).await {
                        let _ = tx.send(callback).await;
                    }
                });
            }
        }
    };
    // Closes the listener (a second callback finds nothing) and drops the other connections.
    drop(listener);
    connections.abort_all();
    callback
}

/// Answers one connection; the right callback is handed back unanswered.
async fn serve(mut stream: TcpStream, expected_state: &str, expected_host: &str) -> Option<Callback> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_request_head(&mut stream)).await.ok()??;
    if !head.host.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(expected_host)) {
        respond(&mut stream, 400, "Not this sign-in", "This address is only used to finish a Token Keeper sign-in.")
            .await;
        return None;
    }
    let Ok(url) = Url::parse(&format!("http://{expected_host}{}", head.target)) else { return None };
    if url.path() != "/callback" {
        respond(&mut stream, 404, "Not found", "This address is only used to finish a Token Keeper sign-in.").await;
        return None;
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("state").as_deref() != Some(expected_state) {
        respond(
            &mut stream,
            400,
            "Not this sign-in",
            "This link is not the sign-in Token Keeper is waiting for. Start the sign-in again from Token Keeper.",
        )
        .await;
        return None;
    }
    if let Some(error) = param("error") {
        let detail = param("error_description")
            .map(|d| format!(": {}", text::one_line(&d, text::MAX_CHARS)))
            .unwrap_or_default();
        let reason = format!("the service answered {}{detail}", text::one_line(&error, 80));
        return Some(Callback::Denied { reason, stream });
    }
    if let Some(code) = param("code") {
        return Some(Callback::Code { code, stream });
    }
    respond(&mut stream, 400, "Not this sign-in", "This link has no sign-in code.").await;
    None
}

/// The parts of a request head the listener looks at.
struct RequestHead {
    /// E.g. `/callback?code=…`.
    target: String,
    /// The `Host` header, if there is one.
    host: Option<String>,
}

/// Reads an HTTP/1.1 GET request head (at most [`MAX_REQUEST_HEAD`] bytes).
async fn read_request_head(stream: &mut TcpStream) -> Option<RequestHead> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let target = match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => target.to_string(),
        _ => return None,
    };
    let host = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_string());
    Some(RequestHead { target, host })
}

async fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — Token Keeper</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
         @media (prefers-color-scheme:dark){{body{{background:#1e1e1e;color:#eee}}}}</style></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>"
    );
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get_as(port: u16, host: &str, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    async fn get(port: u16, target: &str) -> String {
        get_as(port, &format!("127.0.0.1:{port}"), target).await
    }

    /// The listener's callback, answered by the test instead of the exchange.
    async fn answered(callback: Callback) -> Result<String, String> {
        match callback {
            Callback::Code { code, mut stream } => {
                respond(&mut stream, 200, "Signed in", "test").await;
                Ok(code)
            }
            Callback::Denied { reason, mut stream } => {
                respond(&mut stream, 200, "Sign-in not completed", DENIED_PAGE).await;
                Err(reason)
            }
        }
    }

    async fn waiting(state: &'static str) -> (u16, tokio::task::JoinHandle<Result<String, String>>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (port, tokio::spawn(async move { answered(wait_for_callback(listener, state).await).await }))
    }

    #[tokio::test]
    async fn wrong_state_is_refused_and_the_right_one_accepted_once() {
        let (port, waiter) = waiting("good").await;
        assert!(get(port, "/callback?code=c1&state=evil").await.starts_with("HTTP/1.1 400"));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let ok = get(port, "/callback?code=c2&state=good").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert_eq!(waiter.await.unwrap(), Ok("c2".to_string()));
    }

    #[tokio::test]
    async fn a_denied_sign_in_reports_the_error() {
        let (port, waiter) = waiting("s").await;
        get(port, "/callback?error=access_denied&state=s").await;
        assert!(waiter.await.unwrap().unwrap_err().contains("access_denied"));
    }

    #[tokio::test]
    async fn a_wrong_host_is_refused() {
        let (port, waiter) = waiting("s").await;
        for host in ["evil.example", "localhost", &format!("127.0.0.1:{}", port.wrapping_add(1))] {
            let refused = get_as(port, host, "/callback?code=c1&state=s").await;
            assert!(refused.starts_with("HTTP/1.1 400"), "Host {host}: {refused}");
        }
        assert!(!waiter.is_finished(), "a callback through another Host was taken");
        assert!(get(port, "/callback?code=c2&state=s").await.starts_with("HTTP/1.1 200"));
        assert_eq!(waiter.await.unwrap(), Ok("c2".to_string()));
    }

    #[tokio::test]
    async fn a_silent_connection_does_not_delay_the_callback() {
        let (port, waiter) = waiting("s").await;
        // Local programs that connect and say nothing (the old listener read each for 10 s, in turn).
        let mut silent = Vec::new();
        for _ in 0..3 {
            silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        let started = std::time::Instant::now();
        let ok = tokio::time::timeout(Duration::from_secs(5), get(port, "/callback?code=c&state=s")).await;
        assert!(ok.is_ok_and(|page| page.starts_with("HTTP/1.1 200")), "the callback waited behind silent connections");
        assert_eq!(waiter.await.unwrap(), Ok("c".to_string()));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    fn config() -> OauthConfig {
        // Nothing listens on port 9: the code exchange fails, after the listener has closed.
        OauthConfig { scopes: vec!["openid".into()], ..OauthConfig::example("http://127.0.0.1:9/token") }
    }

    /// A token endpoint on loopback that answers each request with `body` (one request at a time).
    async fn token_endpoint(body: &'static str) -> Url {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            }
        });
        format!("http://127.0.0.1:{port}/token").parse().unwrap()
    }

    async fn browser_page_for(config: OauthConfig) -> (String, SignInOutcome) {
        let pending = start(&config, &Wire::default(), &[]).await.unwrap();
        let port = pending.port();
        let state = pending.url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        let finishing = tokio::spawn(async move {
            let http = crate::providers::wire::client();
            pending.finish(&http, &config, &Wire::default(), None, Duration::from_secs(30)).await
        });
        let page = get(port, &format!("/callback?code=c&state={state}")).await;
        (page, finishing.await.unwrap())
    }

    #[tokio::test]
    async fn the_browser_hears_the_truth_after_the_exchange() {
        let token = token_endpoint(r#"{"access_token":"a","token_type":"Bearer","expires_in":3600}"#).await;
        let (page, outcome) = browser_page_for(OauthConfig { token_url: token, ..config() }).await;
        assert!(matches!(outcome, SignInOutcome::SignedIn(_)), "{outcome:?}");
        assert!(page.contains("Signed in — you can close this tab"), "{page}");

        let (page, outcome) = browser_page_for(config()).await;
        assert!(matches!(outcome, SignInOutcome::Failed { .. }), "{outcome:?}");
        assert!(!page.contains("Signed in") && !page.contains("signed in"), "the page claims success: {page}");
        assert!(page.contains("could not reach the service"), "{page}");

        let refused = token_endpoint(r#"{"error":"invalid_grant"}"#).await;
        let (page, outcome) = browser_page_for(OauthConfig { token_url: refused, ..config() }).await;
        assert!(matches!(outcome, SignInOutcome::Refused { .. }), "{outcome:?}");
        assert!(page.contains("The service did not accept the sign-in. Nothing changed"), "{page}");
        assert!(!page.contains("invalid_grant"), "no protocol words: {page}");
    }

    /// This machine's address toward the outside world, if it has a route there (a UDP
    /// "connect" only picks the source address; nothing is sent).
    fn outside_address() -> Option<std::net::IpAddr> {
        let socket = std::net::UdpSocket::bind(("0.0.0.0", 0)).ok()?;
        socket.connect(("192.0.2.1", 9)).or_else(|_| socket.connect(("198.51.100.1", 9))).ok()?;
        Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    }

    #[tokio::test]
    async fn the_listener_is_on_loopback_only_and_answers_one_right_callback() {
        let pending = start(&config(), &Wire::default(), &[]).await.unwrap();
        let port = pending.port();
        let bound = pending.listener.local_addr().unwrap();
        assert!(bound.ip().is_loopback(), "bound to {bound}");
        let param = |name: &str| pending.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        assert_eq!(param("redirect_uri"), Some(format!("http://127.0.0.1:{port}/callback")));
        let state = param("state").expect("a state");
        if let Some(ip) = outside_address() {
            assert!(TcpStream::connect((ip, port)).await.is_err(), "the sign-in listener answers on {ip}");
        }

        let finishing = tokio::spawn(async move {
            let http = reqwest::Client::new();
            pending.finish(&http, &config(), &Wire::default(), None, Duration::from_secs(30)).await
        });
        assert!(get(port, "/callback?code=c1&state=not-it").await.starts_with("HTTP/1.1 400"));
        assert!(get(port, "/callback?code=c1").await.starts_with("HTTP/1.1 400"), "a callback without state");
        assert!(get(port, &format!("/callback?code=c2&state={state}")).await.starts_with("HTTP/1.1 200"));
        let outcome = finishing.await.unwrap();
        assert!(matches!(outcome, SignInOutcome::Failed { .. }), "{outcome:?}");
        // A second callback, even with the right state, finds nothing listening.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "the listener still answers");
    }
}

//! Interactive sign-in: authorization code + PKCE (S256) with a one-shot loopback redirect on
//! 127.0.0.1 (RFC 8252), in the system browser, never an embedded web view.
//!
//! oauth2-rs makes the authorization URL, the PKCE pair and the `state`; the listener is written
//! here because it answers exactly one request: a web framework for one GET would be most of
//! the binary. The listener binds 127.0.0.1 only, on a random port; it refuses a wrong `state`
//! (and keeps waiting for the right one), answers one callback, then closes, so a second
//! callback finds nothing listening. After [`SIGNIN_TIMEOUT`] it gives up.

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

    /// Waits for the browser's redirect, then exchanges the code for tokens.
    pub async fn finish(
        self,
        http: &reqwest::Client,
        config: &OauthConfig,
        wire: &Wire,
        secret: Option<&ClientSecret>,
        timeout: Duration,
    ) -> SignInOutcome {
        let PendingSignIn { listener, verifier, state, redirect, .. } = self;
        let code = match tokio::time::timeout(timeout, wait_for_code(&listener, state.secret())).await {
            Err(_) => return SignInOutcome::TimedOut,
            Ok(Err(reason)) => {
                return SignInOutcome::Refused {
                    reason: Reason::new(
                        Failure::SignInRefused { explained: None },
                        text::without_secrets(&reason, &[]),
                    ),
                }
            }
            Ok(Ok(code)) => code,
        };
        drop(listener);
        let client = client(config, secret, wire).set_redirect_uri(redirect);
        let send = TokenHttp { client: http, wire };
        match client.exchange_code(AuthorizationCode::new(code)).set_pkce_verifier(verifier).request_async(&send).await
        {
            Ok(answer) => SignInOutcome::SignedIn(Grant::from_answer(&answer)),
            Err(e) => {
                match classify(e, wire).without_secrets(&[secret.map(ClientSecret::expose).unwrap_or_default()]) {
                    RefreshOutcome::PermanentError { reason } => SignInOutcome::Refused { reason },
                    RefreshOutcome::TransientError { reason, .. } => SignInOutcome::Failed { reason },
                    RefreshOutcome::Refreshed(g) => SignInOutcome::SignedIn(g),
                }
            }
        }
    }
}

/// Serves the loopback redirect until the right `state` arrives; `Err` when the service
/// reported an error (e.g. the keeper clicked "Deny").
async fn wait_for_code(listener: &TcpListener, expected_state: &str) -> Result<String, String> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let Some(target) = read_request_target(&mut stream).await else { continue };
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else { continue };
        if url.path() != "/callback" {
            respond(&mut stream, 404, "Not found", "This address is only used to finish a Token Keeper sign-in.").await;
            continue;
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
            continue;
        }
        if let Some(error) = param("error") {
            respond(
                &mut stream,
                200,
                "Sign-in not completed",
                "The service did not complete the sign-in. You can close this tab and try again from Token Keeper.",
            )
            .await;
            let detail = param("error_description")
                .map(|d| format!(": {}", text::one_line(&d, text::MAX_CHARS)))
                .unwrap_or_default();
            return Err(format!("the service answered {}{detail}", text::one_line(&error, 80)));
        }
        if let Some(code) = param("code") {
            respond(
                &mut stream,
                200,
                "Signed in",
                "You are signed in. You can close this tab and go back to what you were doing.",
            )
            .await;
            return Ok(code);
        }
        respond(&mut stream, 400, "Not this sign-in", "This link has no sign-in code.").await;
    }
}

/// Reads an HTTP/1.1 request head (bounded) and returns its target, e.g. `/callback?code=…`.
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok()??;
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_string()),
        _ => None,
    }
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

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn wrong_state_is_refused_and_the_right_one_accepted_once() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter = tokio::spawn(async move { wait_for_code(&listener, "good").await });
        assert!(get(port, "/callback?code=c1&state=evil").await.starts_with("HTTP/1.1 400"));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let ok = get(port, "/callback?code=c2&state=good").await;
        assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("close this tab"));
        assert_eq!(waiter.await.unwrap(), Ok("c2".to_string()));
    }

    #[tokio::test]
    async fn a_denied_sign_in_reports_the_error() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiter = tokio::spawn(async move { wait_for_code(&listener, "s").await });
        get(port, "/callback?error=access_denied&state=s").await;
        assert!(waiter.await.unwrap().unwrap_err().contains("access_denied"));
    }

    fn config() -> OauthConfig {
        // Nothing listens on port 9: the code exchange fails, after the listener has closed.
        OauthConfig { scopes: vec!["openid".into()], ..OauthConfig::example("http://127.0.0.1:9/token") }
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

//! A refresh-token reuse window in front of a provider that has none.
//!
//! Atlassian documents a "reuse interval": after a rotating refresh token was used, the old one
//! keeps working for 10 minutes, so a client whose answer was lost (or that crashed before saving
//! it) can try again with the token it still has. oidc-provider has no such window — a consumed
//! refresh token used again revokes the whole grant — so the [`crate::FaultProxy`] provides it
//! when asked ([`crate::FaultProxy::set_reuse_window`]):
//!
//! * every rotation it forwards is remembered as a link `old → new` with its time;
//! * a refresh request carrying a token whose link is younger than the window is rewritten to
//!   carry the newest token of the chain instead, which the provider has not consumed yet.
//!
//! The client gets a valid new pair either way, as it would from Atlassian. Tokens older than the
//! window pass unchanged and the provider treats them as replays (grant revoked).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ProxyRequest;

/// The chains of rotations seen, and how long an old token stays usable.
#[derive(Debug)]
pub struct ReuseWindow {
    window: Duration,
    /// `old refresh token → (its successor, when the old one was rotated away)`.
    successors: HashMap<String, (String, Instant)>,
    /// How many requests were rewritten to the newest token of their chain.
    pub rewrites: usize,
}

impl ReuseWindow {
    /// A window of `window` (Atlassian: 10 minutes).
    pub fn new(window: Duration) -> Self {
        Self { window, successors: HashMap::new(), rewrites: 0 }
    }

    /// The token `req` should carry upstream: the newest of its chain when its own rotation (and
    /// each later one) happened inside the window; `None` to send it unchanged.
    pub fn substitute(&self, req: &ProxyRequest) -> Option<String> {
        let mut token = req.param("refresh_token")?;
        let mut hops = 0;
        while let Some((next, rotated_at)) = self.successors.get(token) {
            if rotated_at.elapsed() > self.window || hops > self.successors.len() {
                break;
            }
            token = next;
            hops += 1;
        }
        (hops > 0).then(|| token.to_owned())
    }

    /// Remembers a rotation: `sent` (the token the provider received) was answered with `response`
    /// (the raw HTTP response); a 200 carrying another refresh token links the two.
    pub fn observe(&mut self, sent: &str, response: &[u8]) {
        let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else { return };
        if !response.starts_with(b"HTTP/1.1 200") && !response.starts_with(b"HTTP/1.0 200") {
            return;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&response[split + 4..]) else { return };
        if let Some(new) = body.get("refresh_token").and_then(Value::as_str).filter(|new| *new != sent) {
            self.successors.insert(sent.to_owned(), (new.to_owned(), Instant::now()));
        }
    }
}

/// `req` with its body's `refresh_token` replaced by `token` (form or JSON body, as sent).
pub fn with_refresh_token(req: &ProxyRequest, token: &str) -> ProxyRequest {
    let mut out = req.clone();
    for (k, v) in &mut out.params {
        if k == "refresh_token" {
            *v = token.to_owned();
        }
    }
    let is_json = req.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    out.body = if is_json {
        let mut doc: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        if let Some(map) = doc.as_object_mut() {
            map.insert("refresh_token".into(), Value::String(token.to_owned()));
        }
        serde_json::to_vec(&doc).unwrap_or_default()
    } else {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&out.params).finish().into_bytes()
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refresh(token: &str) -> ProxyRequest {
        let body = format!("grant_type=refresh_token&refresh_token={token}");
        ProxyRequest {
            at: Instant::now(),
            method: "POST".into(),
            target: "/token".into(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            params: url::form_urlencoded::parse(body.as_bytes()).into_owned().collect(),
            body: body.into_bytes(),
        }
    }

    fn ok(rt: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{{\"refresh_token\":\"{rt}\"}}").into_bytes()
    }

    #[test]
    fn an_old_token_inside_the_window_becomes_the_newest_of_its_chain() {
        let mut w = ReuseWindow::new(Duration::from_secs(60));
        assert_eq!(w.substitute(&refresh("a")), None);
        w.observe("a", &ok("b"));
        w.observe("b", &ok("c"));
        assert_eq!(w.substitute(&refresh("a")).as_deref(), Some("c"));
        assert_eq!(w.substitute(&refresh("b")).as_deref(), Some("c"));
        assert_eq!(w.substitute(&refresh("c")), None);
        let rewritten = with_refresh_token(&refresh("a"), "c");
        assert_eq!(rewritten.param("refresh_token"), Some("c"));
        assert_eq!(rewritten.body, b"grant_type=refresh_token&refresh_token=c");
    }

    #[test]
    fn outside_the_window_or_after_an_error_nothing_is_rewritten() {
        let mut w = ReuseWindow::new(Duration::ZERO);
        w.observe("a", &ok("b"));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(w.substitute(&refresh("a")), None);
        let mut w = ReuseWindow::new(Duration::from_secs(60));
        w.observe("a", b"HTTP/1.1 400 Bad Request\r\n\r\n{\"error\":\"invalid_grant\"}");
        assert_eq!(w.substitute(&refresh("a")), None);
    }
}

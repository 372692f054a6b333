//! One check that a token still works: a cheap authenticated GET.
//!
//! API tokens can be revoked without warning (Atlassian: "API token expires without any
//! notification"), and an OAuth grant can be revoked between two refreshes; a probe finds out
//! before a script does. 401, the profile's "expired" statuses (HighQ: 403) and an HTML page where
//! JSON was expected all mean the token is dead; the probe never mistakes a sign-in page for data.

use std::time::Duration;

use url::Url;

use crate::phrases::{Failure, Reason};
use crate::providers::token_response::MAX_RESPONSE_BYTES;
use crate::providers::wire::{host_of, send, WireError};
use crate::providers::Wire;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The service accepted the token.
    Accepted,
    /// The service refused the token: it is revoked or expired.
    Refused { reason: Reason },
    /// Could not tell (network, 5xx, 429, an odd status): try again later.
    Inconclusive { reason: Reason, retry_after: Option<Duration> },
}

/// How the token is presented.
pub enum Credential<'a> {
    Bearer(&'a str),
    Basic { username: &'a str, token: &'a str },
}

/// GETs `url` with the credential.
pub async fn probe(http: &reqwest::Client, url: &Url, credential: Credential<'_>, wire: &Wire) -> ProbeOutcome {
    let host = host_of(url.as_str());
    let request = http.get(url.clone()).header("accept", "application/json");
    let request = match credential {
        Credential::Bearer(token) => request.bearer_auth(token),
        Credential::Basic { username, token } => request.basic_auth(username, Some(token)),
    };
    match send(request, &host).await {
        Ok((status, content_type, body)) => judge(status, content_type.as_deref(), &body, wire),
        Err(e @ WireError::BadAnswer { .. }) => {
            ProbeOutcome::Inconclusive { reason: Reason::new(Failure::BadAnswer, e.to_string()), retry_after: None }
        }
        Err(e) => ProbeOutcome::Inconclusive { retry_after: e.retry_after(), reason: e.reason() },
    }
}

/// The verdict on a probe's answer (pure, for tests).
pub fn judge(status: u16, content_type: Option<&str>, body: &[u8], wire: &Wire) -> ProbeOutcome {
    debug_assert!(body.len() <= MAX_RESPONSE_BYTES);
    if status == 401 || wire.auth_failure_statuses.contains(&status) {
        return ProbeOutcome::Refused { reason: Reason::new(Failure::TokenRefused, format!("HTTP {status}")) };
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    let head = String::from_utf8_lossy(&body[..body.len().min(64)]).trim_start().to_ascii_lowercase();
    let html = ct.contains("text/html") || head.starts_with("<!doctype html") || head.starts_with("<html");
    if (200..300).contains(&status) && html {
        return ProbeOutcome::Refused {
            reason: Reason::new(Failure::SignInPage, format!("HTTP {status} with a web page instead of data")),
        };
    }
    if (200..300).contains(&status) {
        return ProbeOutcome::Accepted;
    }
    ProbeOutcome::Inconclusive { reason: Reason::new(Failure::BadAnswer, format!("HTTP {status}")), retry_after: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let w = Wire::default();
        assert_eq!(judge(200, Some("application/json"), b"{}", &w), ProbeOutcome::Accepted);
        assert_eq!(
            judge(401, None, b"", &w),
            ProbeOutcome::Refused { reason: Reason::new(Failure::TokenRefused, "HTTP 401") }
        );
        assert!(matches!(judge(403, None, b"", &w), ProbeOutcome::Refused { .. }));
        assert!(matches!(judge(200, Some("text/html"), b"<html>", &w), ProbeOutcome::Refused { .. }));
        assert!(matches!(judge(200, None, b"<!DOCTYPE html><html>", &w), ProbeOutcome::Refused { .. }));
        assert!(matches!(judge(404, None, b"", &w), ProbeOutcome::Inconclusive { .. }));
        let only_401 = Wire { auth_failure_statuses: vec![], ..Wire::default() };
        assert!(matches!(judge(403, None, b"", &only_401), ProbeOutcome::Inconclusive { .. }));
    }
}

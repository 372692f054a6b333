//! One refresh of an OAuth access token, and what came of it.
//!
//! Every failure is classified here, once, as PRODUCT.md says: transient (network, timeout, 5xx,
//! 429 with `Retry-After`, an unreadable answer) means try again and keep serving the current
//! token; rejected (`invalid_grant`, `invalid_client`, `unauthorized_client`, …) means only a new
//! sign-in helps. Nothing is stored or deleted here.

use std::time::Duration;

use oauth2::basic::BasicErrorResponseType;
use oauth2::{RefreshToken as OauthRefreshToken, RequestTokenError};

use super::oauth::{client, Grant};
use crate::model::OauthConfig;
use crate::phrases::{Failure, Reason};
use crate::providers::wire::{TokenHttp, WireError};
use crate::providers::Wire;
use crate::secret::{ClientSecret, RefreshToken};

/// What one refresh attempt came to.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The service issued new tokens (not yet stored).
    Refreshed(Grant),
    /// The service could not be reached or is overloaded; the refresh token is still good.
    TransientError { reason: Reason, retry_after: Option<Duration> },
    /// The service refused the refresh token or the client: a new sign-in is needed.
    PermanentError { reason: Reason },
}

/// OAuth error codes after which retrying cannot help (RFC 6749 §5.2, plus GitHub's).
const PERMANENT_CODES: &[&str] = &[
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "bad_refresh_token",
    "incorrect_client_credentials",
];

/// Refreshes with `refresh_token`.
pub async fn refresh(
    http: &reqwest::Client,
    config: &OauthConfig,
    wire: &Wire,
    client_secret: Option<&ClientSecret>,
    refresh_token: &RefreshToken,
) -> RefreshOutcome {
    let client = client(config, client_secret, wire);
    let token = OauthRefreshToken::new(refresh_token.expose().to_string());
    let send = TokenHttp { client: http, wire };
    let result = client.exchange_refresh_token(&token).request_async(&send).await;
    let sent: Vec<&str> =
        [Some(refresh_token.expose()), client_secret.map(ClientSecret::expose)].into_iter().flatten().collect();
    match result {
        Ok(answer) => RefreshOutcome::Refreshed(Grant::from_answer(&answer)),
        Err(error) => classify(error, wire).without_secrets(&sent),
    }
}

impl RefreshOutcome {
    /// The same outcome with anything in its technical words that looks like one of `sent`
    /// dropped.
    pub fn without_secrets(self, sent: &[&str]) -> Self {
        match self {
            RefreshOutcome::TransientError { reason, retry_after } => {
                RefreshOutcome::TransientError { reason: reason.without_secrets(sent), retry_after }
            }
            RefreshOutcome::PermanentError { reason } => {
                RefreshOutcome::PermanentError { reason: reason.without_secrets(sent) }
            }
            refreshed => refreshed,
        }
    }
}

/// Sorts a token-endpoint error into transient or permanent, as a [`Reason`]: the class and the
/// profile's plain words for the code, with the service's own code and words as technical detail.
pub fn classify(error: RequestTokenError<WireError, oauth2::basic::BasicErrorResponse>, wire: &Wire) -> RefreshOutcome {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_string();
            let description = response.error_description().map(String::as_str);
            let permanent = matches!(
                response.error(),
                BasicErrorResponseType::InvalidGrant
                    | BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient
                    | BasicErrorResponseType::UnsupportedGrantType
                    | BasicErrorResponseType::InvalidScope
            ) || PERMANENT_CODES.contains(&code.as_str());
            if permanent {
                RefreshOutcome::PermanentError { reason: wire.refusal(&code, description) }
            } else {
                let technical = crate::providers::technical(&code, description);
                RefreshOutcome::TransientError {
                    reason: Reason::new(Failure::NotAnswering, technical),
                    retry_after: None,
                }
            }
        }
        RequestTokenError::Request(wire) if wire.is_transient() => {
            RefreshOutcome::TransientError { retry_after: wire.retry_after(), reason: wire.reason() }
        }
        // A web page from the token endpoint: the service (or a proxy in front of it) wants a
        // person to sign in.
        RequestTokenError::Request(wire) => RefreshOutcome::PermanentError { reason: wire.reason() },
        // oauth2-rs's parse error would show the body; only the JSON path is kept.
        RequestTokenError::Parse(e, _) => RefreshOutcome::TransientError {
            reason: Reason::new(Failure::BadAnswer, format!("not a valid token response (at {})", e.path())),
            retry_after: None,
        },
        RequestTokenError::Other(_) => RefreshOutcome::TransientError {
            reason: Reason::new(Failure::BadAnswer, "an unexpected answer"),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth2::StandardErrorResponse;

    fn invalid_grant() -> RequestTokenError<WireError, oauth2::basic::BasicErrorResponse> {
        RequestTokenError::ServerResponse(StandardErrorResponse::new(
            BasicErrorResponseType::InvalidGrant,
            Some("Unknown or invalid refresh token.".into()),
            None,
        ))
    }

    /// The plain explanation of a permanent refusal, or a panic.
    fn explained(outcome: RefreshOutcome) -> (String, String) {
        let RefreshOutcome::PermanentError { reason } = outcome else { panic!("{outcome:?}") };
        let technical = reason.technical.clone().unwrap_or_default();
        match reason.failure {
            Failure::SignInRefused { explained: Some(e) } | Failure::AppRefused { explained: Some(e) } => {
                (e, technical)
            }
            other => panic!("no explanation: {other:?}"),
        }
    }

    #[test]
    fn the_profile_explains_error_codes_in_plain_words() {
        let atlassian = crate::providers::find("atlassian").unwrap().wire;
        let (plain, technical) = explained(classify(invalid_grant(), &atlassian));
        assert!(plain.starts_with("Atlassian no longer accepts the sign-in"), "{plain}");
        assert_eq!(technical, "invalid_grant: Unknown or invalid refresh token.");
        let RefreshOutcome::PermanentError { reason } = classify(invalid_grant(), &Wire::default()) else { panic!() };
        assert_eq!(
            reason,
            Reason::new(Failure::SignInRefused { explained: None }, "invalid_grant: Unknown or invalid refresh token.")
        );
    }

    #[test]
    fn a_token_echoed_in_the_service_s_words_is_not_kept() {
        let echo = RequestTokenError::ServerResponse(StandardErrorResponse::new(
            BasicErrorResponseType::InvalidGrant,
            Some("refresh token rt-secret-1 is not valid".into()),
            None,
        ));
        let outcome = classify(echo, &Wire::default()).without_secrets(&["rt-secret-1"]);
        let RefreshOutcome::PermanentError { reason } = outcome else { panic!() };
        assert_eq!(reason.technical.as_deref(), Some("invalid_grant: refresh token [hidden] is not valid"));
    }

    fn microsoft_error(description: &str) -> RequestTokenError<WireError, oauth2::basic::BasicErrorResponse> {
        RequestTokenError::ServerResponse(StandardErrorResponse::new(
            BasicErrorResponseType::InvalidGrant,
            Some(description.into()),
            None,
        ))
    }

    #[test]
    fn a_microsoft_aadsts_code_becomes_plain_words() {
        let microsoft = crate::providers::find("microsoft").unwrap().wire;
        let description = "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on \
                           2024-01-01T00:00:00Z and was inactive for 90.00:00:00.\r\nTrace ID: 1\r\nCorrelation ID: 2";
        let (reason, technical) = explained(classify(microsoft_error(description), &microsoft));
        assert!(
            reason.starts_with("Microsoft no longer accepts the sign-in because it was not used for 90 days"),
            "{reason}"
        );
        assert!(technical.starts_with("invalid_grant: AADSTS700082: The refresh token"), "{technical}");
        for (code, words) in [
            ("AADSTS50173", "password was changed"),
            ("AADSTS65001", "consent"),
            ("AADSTS70008", "sign-in took too long"),
            ("AADSTS50076", "multi-factor"),
            ("AADSTS50079", "multi-factor"),
        ] {
            let (reason, _) =
                explained(classify(microsoft_error(&format!("{code}: something technical.")), &microsoft));
            assert!(reason.contains(words), "{code}: {reason}");
        }
        // An unknown code falls back to the explanation of invalid_grant itself.
        let (reason, _) = explained(classify(microsoft_error("AADSTS9999999: something new."), &microsoft));
        assert!(reason.starts_with("Microsoft no longer accepts the sign-in"), "{reason}");
        // A code is matched whole: AADSTS5007 would not explain AADSTS50076.
        let wire = Wire {
            description_explanations: [("AADSTS5007".to_string(), "short".to_string())].into(),
            ..Wire::default()
        };
        assert_eq!(wire.explain_error("invalid_grant", Some("AADSTS50076: MFA")), None);
        assert_eq!(wire.explain_error("invalid_grant", Some("x AADSTS5007: y")), Some("short"));
    }

    #[test]
    fn a_github_bad_refresh_token_with_http_200_needs_sign_in() {
        let github = crate::providers::find("github").unwrap().wire;
        let body = br#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com"}"#;
        let (status, json) =
            crate::providers::token_response::normalize(200, Some("application/json"), body, &github).unwrap();
        assert_eq!(status, 400);
        let response: oauth2::basic::BasicErrorResponse = serde_json::from_slice(&json).unwrap();
        let (reason, _) = explained(classify(RequestTokenError::ServerResponse(response), &github));
        assert!(reason.starts_with("GitHub no longer accepts the sign-in"), "{reason}");
    }
}

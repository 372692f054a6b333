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
use crate::providers::wire::{TokenHttp, WireError};
use crate::providers::Wire;
use crate::secret::{ClientSecret, RefreshToken};

/// What one refresh attempt came to.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The service issued new tokens (not yet stored).
    Refreshed(Grant),
    /// The service could not be reached or is overloaded; the refresh token is still good.
    TransientError { reason: String, retry_after: Option<Duration> },
    /// The service refused the refresh token or the client: a new sign-in is needed.
    PermanentError { reason: String },
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
    match result {
        Ok(answer) => RefreshOutcome::Refreshed(Grant::from_answer(&answer)),
        Err(error) => classify(error, wire),
    }
}

/// Sorts a token-endpoint error into transient or permanent; the profile's plain-language
/// explanation of the error code leads the reason, the service's own words follow.
pub fn classify(error: RequestTokenError<WireError, oauth2::basic::BasicErrorResponse>, wire: &Wire) -> RefreshOutcome {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref().to_string();
            let description = response
                .error_description()
                .map(|d| format!(": {}", d.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            let reason = match wire.explain(&code) {
                Some(plain) => format!("{plain} (the service answered {code}{description})"),
                None => format!("the service answered {code}{description}"),
            };
            let permanent = matches!(
                response.error(),
                BasicErrorResponseType::InvalidGrant
                    | BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient
                    | BasicErrorResponseType::UnsupportedGrantType
                    | BasicErrorResponseType::InvalidScope
            ) || PERMANENT_CODES.contains(&code.as_str());
            if permanent {
                RefreshOutcome::PermanentError { reason }
            } else {
                RefreshOutcome::TransientError { reason, retry_after: None }
            }
        }
        RequestTokenError::Request(wire) if wire.is_transient() => {
            RefreshOutcome::TransientError { retry_after: wire.retry_after(), reason: wire.to_string() }
        }
        // A web page from the token endpoint: the service (or a proxy in front of it) wants a
        // person to sign in.
        RequestTokenError::Request(wire) => RefreshOutcome::PermanentError { reason: wire.to_string() },
        // oauth2-rs's parse error would show the body; only the JSON path is kept.
        RequestTokenError::Parse(e, _) => RefreshOutcome::TransientError {
            reason: format!("the service's answer is not a valid token response (at {})", e.path()),
            retry_after: None,
        },
        RequestTokenError::Other(_) => {
            RefreshOutcome::TransientError { reason: "the service sent an unexpected answer".into(), retry_after: None }
        }
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

    #[test]
    fn the_profile_explains_error_codes_in_plain_words() {
        let atlassian = crate::providers::find("atlassian").unwrap().wire;
        let RefreshOutcome::PermanentError { reason } = classify(invalid_grant(), &atlassian) else { panic!() };
        assert!(reason.starts_with("Atlassian no longer accepts the sign-in"), "{reason}");
        assert!(
            reason.ends_with("(the service answered invalid_grant: Unknown or invalid refresh token.)"),
            "{reason}"
        );
        let RefreshOutcome::PermanentError { reason } = classify(invalid_grant(), &Wire::default()) else { panic!() };
        assert_eq!(reason, "the service answered invalid_grant: Unknown or invalid refresh token.");
    }
}

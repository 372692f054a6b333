//! Token revocation at the service (RFC 7009), for `remove --revoke`.
//!
//! Written here rather than with oauth2-rs's `revoke_token`, because that refuses every http://
//! endpoint, and loopback services (local servers, the test suite's real OAuth server) speak
//! http on 127.0.0.1. Plain http to any other host is refused by the HTTP client itself
//! ([`crate::address`]).

use url::Url;

use crate::model::OauthConfig;
use crate::providers::wire::{host_of, send};
use crate::providers::{ClientAuth, Wire};
use crate::secret::ClientSecret;

/// Which kind of token is revoked (the `token_type_hint`).
#[derive(Debug, Clone, Copy)]
pub enum TokenKind {
    Refresh,
    Access,
}

/// Revokes `token`; `Err` holds plain words.
pub async fn revoke(
    http: &reqwest::Client,
    config: &OauthConfig,
    url: &Url,
    wire: &Wire,
    secret: Option<&ClientSecret>,
    token: &str,
    kind: TokenKind,
) -> Result<(), String> {
    let hint = match kind {
        TokenKind::Refresh => "refresh_token",
        TokenKind::Access => "access_token",
    };
    let mut form = vec![("token", token.to_string()), ("token_type_hint", hint.to_string())];
    let mut request = http.post(url.clone());
    match (secret, wire.client_auth) {
        (Some(secret), ClientAuth::Basic) => request = request.basic_auth(&config.client_id, Some(secret.expose())),
        (Some(secret), ClientAuth::Body) => {
            form.push(("client_id", config.client_id.clone()));
            form.push(("client_secret", secret.expose().to_string()));
        }
        (None, _) => form.push(("client_id", config.client_id.clone())),
    }
    let host = host_of(url.as_str());
    let (status, _, _) = send(request.form(&form), &host).await.map_err(|e| e.to_string())?;
    match status {
        200..=299 => Ok(()),
        status => Err(format!("{host} refused the revocation (HTTP {status})")),
    }
}

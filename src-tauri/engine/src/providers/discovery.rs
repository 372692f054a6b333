//! OpenID Connect discovery: endpoints from an issuer URL.
//!
//! Written here rather than pulling in the `openidconnect` crate: Token Keeper needs five URLs
//! from one JSON document, not ID-token validation, and the crate would double the protocol
//! dependency tree.

use serde::Deserialize;
use url::Url;

use super::wire::{host_of, send, WireError};

/// The endpoints an issuer advertises.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Discovered {
    pub issuer: Url,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    #[serde(default)]
    pub device_authorization_endpoint: Option<Url>,
}

/// Why discovery failed, in words for the person who typed the issuer URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("{0} does not look like an OpenID Connect issuer ({1})")]
    NotAnIssuer(String, String),
}

/// Fetches `{issuer}/.well-known/openid-configuration`.
pub async fn discover(client: &reqwest::Client, issuer: &Url) -> Result<Discovered, DiscoveryError> {
    let base = issuer.as_str().trim_end_matches('/');
    let url = format!("{base}/.well-known/openid-configuration");
    let host = host_of(&url);
    let (status, _, body) = send(client.get(&url).header("accept", "application/json"), &host).await?;
    if status != 200 {
        return Err(DiscoveryError::NotAnIssuer(issuer.to_string(), format!("HTTP {status}")));
    }
    let found: Discovered = serde_json::from_slice(&body)
        .map_err(|e| DiscoveryError::NotAnIssuer(issuer.to_string(), format!("unreadable discovery document: {e}")))?;
    if found.issuer.as_str().trim_end_matches('/') != base {
        return Err(DiscoveryError::NotAnIssuer(issuer.to_string(), format!("it calls itself {}", found.issuer)));
    }
    Ok(found)
}

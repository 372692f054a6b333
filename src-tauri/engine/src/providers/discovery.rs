//! OpenID Connect discovery: endpoints from an issuer URL.
//!
//! Written here rather than pulling in the `openidconnect` crate: Token Keeper needs five URLs
//! from one JSON document, not ID-token validation, and the crate would double the protocol
//! dependency tree.
//!
//! What the document names passes the same rule as a typed address ([`crate::address`]): a
//! document cannot hand the browser a `file:` address or send a token over plain http.

use serde::Deserialize;
use url::Url;

use super::wire::{host_of, send, WireError};
use crate::address::{self, AddressError};

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
    /// The document names an address that breaks the rule of [`crate::address`].
    #[error("{issuer} names an address that cannot be used for {what}: {problem}")]
    Unsafe { issuer: String, what: &'static str, problem: AddressError },
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
    let named = [
        ("the sign-in page", Some(&found.authorization_endpoint)),
        ("renewals", Some(&found.token_endpoint)),
        ("revocation", found.revocation_endpoint.as_ref()),
        ("checks", found.userinfo_endpoint.as_ref()),
        ("sign-in with a code", found.device_authorization_endpoint.as_ref()),
    ];
    for (what, url) in named.into_iter().filter_map(|(w, u)| u.map(|u| (w, u))) {
        address::check(url).map_err(|problem| DiscoveryError::Unsafe { issuer: issuer.to_string(), what, problem })?;
    }
    Ok(found)
}

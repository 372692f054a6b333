//! The keeper's own credential for the team vault: a token a person gives, or an AppRole login
//! a server makes by itself; how long it has left (`lookup-self`) and its renewal
//! (`renew-self`).
//!
//! A refusal of a vault path (403) means one of two things, which need different people: the
//! credential no longer works at all (expired, revoked: connect again), or the vault's rules do
//! not cover that path (ask the administrator). OpenBao answers both with "permission denied",
//! so [`explain_refusal`] asks `lookup-self` to tell them apart.

use std::time::Duration;

use serde::Deserialize;

use super::client::{Method, VaultClient};
use super::error::{VaultError, VaultErrorKind};
use crate::secret::{AppRoleSecretId, VaultToken};

/// How the keeper gets its vault token.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A token given by a person (`--token-stdin`).
    Token(VaultToken),
    /// An AppRole login (`--role-id ID --secret-id-stdin`): the keeper logs in again by itself
    /// when its token ends.
    AppRole { role_id: String, secret_id: AppRoleSecretId },
}

/// What is left of the token in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLife {
    /// Time left; `None` for a token that does not expire (e.g. a root token).
    pub remaining: Option<Duration>,
    /// Whether `renew-self` can extend it.
    pub renewable: bool,
}

#[derive(Deserialize)]
struct LookupAnswer {
    data: LookupData,
}
#[derive(Deserialize)]
struct LookupData {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct AuthAnswer {
    auth: AuthData,
}
#[derive(Deserialize)]
struct AuthData {
    client_token: Option<String>,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

fn life(ttl_secs: u64, renewable: bool) -> TokenLife {
    TokenLife { remaining: (ttl_secs > 0).then(|| Duration::from_secs(ttl_secs)), renewable }
}

fn access_ended(detail: String) -> VaultError {
    VaultError::new(VaultErrorKind::AccessEnded, detail)
}

/// Starts using `credential`: a token is checked with `lookup-self`, an AppRole logs in.
pub async fn log_in(client: &VaultClient, credential: &Credential) -> Result<TokenLife, VaultError> {
    match credential {
        Credential::Token(token) => {
            client.set_token(Some(token.clone()));
            lookup_self(client).await
        }
        Credential::AppRole { role_id, secret_id } => {
            // A login sends no token: an old, dead one would make OpenBao refuse the request.
            client.set_token(None);
            let body = serde_json::json!({ "role_id": role_id, "secret_id": secret_id.expose() });
            let answer = client.call(Method::Post, &["auth", "approle", "login"], Some(&body)).await?;
            if !answer.is_success() {
                // 400 "invalid role or secret ID", 403, or 404 when AppRole is not enabled there
                return Err(access_ended(format!("AppRole login: {}", answer.detail())));
            }
            let auth = answer.json::<AuthAnswer>()?.auth;
            let token = auth
                .client_token
                .ok_or_else(|| VaultError::new(VaultErrorKind::BadAnswer, "AppRole login answered without a token"))?;
            client.set_token(Some(VaultToken::new(token)));
            Ok(life(auth.lease_duration, auth.renewable))
        }
    }
}

/// How long the token in use has left.
pub async fn lookup_self(client: &VaultClient) -> Result<TokenLife, VaultError> {
    if client.token().is_none() {
        return Err(access_ended("no token: not logged in".into()));
    }
    let answer = client.call(Method::Get, &["auth", "token", "lookup-self"], None).await?;
    if !answer.is_success() {
        return Err(access_ended(format!("lookup-self: {}", answer.detail())));
    }
    let data = answer.json::<LookupAnswer>()?.data;
    Ok(life(data.ttl, data.renewable))
}

/// Extends the token in use (by `increment`, or by its role's default); a token that cannot be
/// renewed keeps the life it has, which is returned.
pub async fn renew_self(client: &VaultClient, increment: Option<Duration>) -> Result<TokenLife, VaultError> {
    if client.token().is_none() {
        return Err(access_ended("no token: not logged in".into()));
    }
    let body = match increment {
        Some(d) => serde_json::json!({ "increment": format!("{}s", d.as_secs()) }),
        None => serde_json::json!({}),
    };
    let answer = client.call(Method::Post, &["auth", "token", "renew-self"], Some(&body)).await?;
    match answer.status {
        200..=299 => {
            let auth = answer.json::<AuthAnswer>()?.auth;
            Ok(life(auth.lease_duration, auth.renewable))
        }
        // "lease is not renewable": still valid for what it has left
        400 => lookup_self(client).await,
        _ => Err(access_ended(format!("renew-self: {}", answer.detail()))),
    }
}

/// Turns a refusal of a path into [`VaultErrorKind::AccessEnded`] when the credential itself no
/// longer works; other errors pass through.
pub async fn explain_refusal(client: &VaultClient, refusal: VaultError) -> VaultError {
    if !matches!(refusal.kind(), VaultErrorKind::Denied { .. }) {
        return refusal;
    }
    match lookup_self(client).await {
        Err(e) if e.kind() == &VaultErrorKind::AccessEnded => {
            VaultError::new(VaultErrorKind::AccessEnded, format!("{}; {}", refusal.detail(), e.detail()))
        }
        _ => refusal,
    }
}

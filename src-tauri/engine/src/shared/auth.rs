//! The keeper's own credential for the team vault: a token a person gives, or an AppRole login
//! a server makes by itself; how long it has left (`lookup-self`) and its renewal
//! (`renew-self`).
//!
//! **Upkeep** ([`upkeep`], pure): when a third of the life last seen is left (Vault's own agent
//! renews at about two thirds of a lease) the token is renewed; once renewing no longer gives
//! it [`MIN_USEFUL_LIFE`] (its maximum life is near) or it cannot be renewed, an AppRole logs in
//! again and a person's token is reported as ending, so they can connect again before access is
//! lost. A token without an end is checked once a day.
//!
//! A refusal of a vault path (403) means one of two things, which need different people: the
//! credential no longer works at all (expired, revoked: connect again), or the vault's rules do
//! not cover that path (ask the administrator). OpenBao answers both with "permission denied",
//! so [`explain_refusal`] asks `lookup-self` to tell them apart.

use std::time::Duration;

use serde::Deserialize;

use super::client::{Method, VaultClient};
use super::error::{VaultError, VaultErrorKind};
use crate::clock::{Moment, Span};
use crate::secret::{AppRoleSecretId, VaultToken};

/// How the keeper gets its vault token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
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

/// Below this much life, renewing is not worth it: the token is near its maximum life.
pub const MIN_USEFUL_LIFE: Span = Span::from_secs(60);

/// What to do about the token next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    /// Nothing before this moment.
    WaitUntil(Moment),
    /// Extend it now ([`renew_self`]).
    Renew,
    /// Log in again now (AppRole): it cannot be extended usefully any more.
    LogInAgain,
    /// It ends at this moment and nothing here can extend it: a person must connect again.
    Ends(Moment),
}

/// The upkeep rule (see the module doc): `life` as last seen at `seen`; `can_log_in` for an
/// AppRole credential.
pub fn upkeep(life: TokenLife, seen: Moment, now: Moment, can_log_in: bool) -> Upkeep {
    let Some(remaining) = life.remaining.map(Span::from_std) else {
        return Upkeep::WaitUntil(now.plus(Span::DAY));
    };
    let end = seen.plus(remaining);
    let due = seen.plus(remaining.scale(2.0 / 3.0));
    let useful = life.renewable && remaining >= MIN_USEFUL_LIFE;
    // always wait for the due moment: a role whose tokens are short or not renewable would
    // otherwise log in again in a loop
    if now < due {
        Upkeep::WaitUntil(due)
    } else if useful {
        Upkeep::Renew
    } else if can_log_in {
        Upkeep::LogInAgain
    } else {
        Upkeep::Ends(end)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn life(secs: u64, renewable: bool) -> TokenLife {
        TokenLife { remaining: Some(Duration::from_secs(secs)), renewable }
    }
    const T0: Moment = Moment::from_secs(1_000_000);

    #[test]
    fn the_token_is_renewed_with_a_third_of_its_life_left() {
        let one_hour = life(3600, true);
        assert_eq!(upkeep(one_hour, T0, T0, false), Upkeep::WaitUntil(T0.plus(Span::from_secs(2400))));
        assert_eq!(upkeep(one_hour, T0, T0.plus(Span::from_secs(2400)), false), Upkeep::Renew);
        assert_eq!(upkeep(one_hour, T0, T0.plus(Span::from_secs(2400)), true), Upkeep::Renew);
    }

    #[test]
    fn near_its_maximum_life_an_approle_logs_in_again_and_a_token_is_reported() {
        let capped = life(30, true);
        let due = T0.plus(Span::from_secs(20));
        assert_eq!(upkeep(capped, T0, T0, true), Upkeep::WaitUntil(due), "no log-in loop");
        assert_eq!(upkeep(capped, T0, due, true), Upkeep::LogInAgain);
        assert_eq!(upkeep(capped, T0, due, false), Upkeep::Ends(T0.plus(Span::from_secs(30))));
        let fixed = life(3600, false);
        assert_eq!(upkeep(fixed, T0, T0, true), Upkeep::WaitUntil(T0.plus(Span::from_secs(2400))));
        assert_eq!(upkeep(fixed, T0, T0.plus(Span::from_secs(2400)), true), Upkeep::LogInAgain);
        assert_eq!(
            upkeep(fixed, T0, T0.plus(Span::from_secs(2400)), false),
            Upkeep::Ends(T0.plus(Span::from_secs(3600)))
        );
    }

    #[test]
    fn a_token_without_an_end_is_checked_daily() {
        let root = TokenLife { remaining: None, renewable: false };
        assert_eq!(upkeep(root, T0, T0, false), Upkeep::WaitUntil(T0.plus(Span::DAY)));
    }
}

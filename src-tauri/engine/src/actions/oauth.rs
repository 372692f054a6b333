//! The oauth2-rs client for one integration, and the grant it returns.
//!
//! oauth2-rs builds every protocol message (PKCE, client authentication, form fields) and parses
//! token and error responses; its HTTP client is [`crate::providers::wire::token_call`], which
//! bounds and normalizes what services send.

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, Client, ClientId, EndpointMaybeSet, EndpointNotSet, EndpointSet, RevocationUrl,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};

use crate::clock::{Moment, Span};
use crate::model::{OauthConfig, Secrets};
use crate::providers::token_response::TokenExtras;
use crate::providers::{ClientAuth, RefreshTokenRule, Wire};
use crate::scheduler::{believed_lifetime, UNKNOWN_LIFETIME};
use crate::secret::{AccessToken, ClientSecret, RefreshToken};

/// A token response as Token Keeper reads it.
pub type TokenAnswer = StandardTokenResponse<TokenExtras, BasicTokenType>;

/// The oauth2-rs client type for an integration: authorization and token endpoints set,
/// revocation optional.
pub type OauthClient = Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// Builds the client for an integration.
pub fn client(config: &OauthConfig, secret: Option<&ClientSecret>, wire: &Wire) -> OauthClient {
    let mut client = Client::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(config.authorize_url.clone()))
        .set_token_uri(TokenUrl::from_url(config.token_url.clone()))
        .set_revocation_url_option(config.revocation_url.clone().map(RevocationUrl::from_url))
        .set_auth_type(match wire.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Body => AuthType::RequestBody,
        });
    if let Some(secret) = secret {
        client = client.set_client_secret(oauth2::ClientSecret::new(secret.expose().to_string()));
    }
    client
}

/// New tokens from a service, not yet stored.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: AccessToken,
    /// A new refresh token (rotation) or `None` when the service keeps the old one.
    pub refresh_token: Option<RefreshToken>,
    /// The access token's lifetime as believed ([`believed_lifetime`]): `None` when unknown.
    pub expires_in: Option<Span>,
    /// The refresh token's lifetime, when the service states it, as believed.
    pub refresh_token_expires_in: Option<Span>,
    pub account: Option<String>,
}

impl Grant {
    pub fn from_answer(answer: &TokenAnswer) -> Self {
        Self {
            access_token: AccessToken::new(answer.access_token().secret().clone()),
            refresh_token: answer.refresh_token().map(|r| RefreshToken::new(r.secret().clone())),
            expires_in: answer.expires_in().and_then(|d| believed_lifetime(d.as_secs())),
            refresh_token_expires_in: answer.extra_fields().refresh_token_expires_in.and_then(believed_lifetime),
            // shown in `status` and the window, and used in the probe's address (percent-encoded)
            account: answer.extra_fields().useremail.as_deref().map(|e| crate::text::one_line(e, 254)),
        }
    }

    /// The secrets after this grant: new tokens and times; the old refresh token is kept only
    /// when the service did not send a new one; the client secret is never touched. An access
    /// token of unknown lifetime that can be renewed is taken to live [`UNKNOWN_LIFETIME`] (so
    /// it is re-checked by a renewal at a fixed time); one that cannot be renewed has no expiry.
    pub fn apply_to(&self, previous: &Secrets, now: Moment, rule: &RefreshTokenRule) -> Secrets {
        let now = now.whole_secs();
        let rotated = self.refresh_token.is_some();
        let refresh_expires_at = match (self.refresh_token_expires_in, rule.lifetime_days) {
            (Some(life), _) => Some(now.plus(life)),
            (None, Some(days)) => Some(now.plus(Span::from_days(i64::from(days)))),
            (None, None) if rotated => None,
            (None, None) => previous.refresh_expires_at,
        };
        let refresh_token = self.refresh_token.clone().or_else(|| previous.refresh_token.clone());
        let lifetime = match self.expires_in {
            Some(life) => Some(life),
            None => refresh_token.is_some().then_some(UNKNOWN_LIFETIME),
        };
        Secrets {
            access_token: Some(self.access_token.clone()),
            refresh_token,
            client_secret: previous.client_secret.clone(),
            api_token: None,
            issued_at: Some(now),
            access_expires_at: lifetime.map(|life| now.plus(life)),
            refresh_expires_at,
            account: self.account.clone().or_else(|| previous.account.clone()),
            // the caller stamps it with the frame `now` was read in
            clock: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::MAX_LIFETIME;

    fn secs(s: i64) -> Moment {
        Moment::from_secs(s)
    }

    fn grant(rt: Option<&str>) -> Grant {
        Grant {
            access_token: AccessToken::new("at2".into()),
            refresh_token: rt.map(|r| RefreshToken::new(r.into())),
            expires_in: Some(Span::from_secs(3600)),
            refresh_token_expires_in: None,
            account: None,
        }
    }

    #[test]
    fn rotation_replaces_the_refresh_token_and_keeps_the_client_secret() {
        let old = Secrets {
            refresh_token: Some(RefreshToken::new("rt1".into())),
            client_secret: Some(ClientSecret::new("cs".into())),
            account: Some("a@b".into()),
            ..Secrets::default()
        };
        let new = grant(Some("rt2")).apply_to(&old, secs(1000), &RefreshTokenRule::default());
        assert_eq!(new.refresh_token.unwrap().expose(), "rt2");
        assert_eq!(new.client_secret.unwrap().expose(), "cs");
        assert_eq!(new.access_expires_at, Some(secs(4600)));
        assert_eq!(new.account.as_deref(), Some("a@b"));
        let kept = grant(None).apply_to(&old, secs(1000), &RefreshTokenRule::default());
        assert_eq!(kept.refresh_token.unwrap().expose(), "rt1", "non-rotating services keep the old one");
    }

    #[test]
    fn refresh_token_life_follows_the_service_or_the_profile_rule() {
        let rule = RefreshTokenRule { rotates: true, lifetime_days: Some(365), absolute_days: Some(1) };
        let s = grant(Some("r")).apply_to(&Secrets::default(), Moment::EPOCH, &rule);
        assert_eq!(s.refresh_expires_at, Some(secs(365 * 86_400)));
        let mut g = grant(Some("r"));
        g.refresh_token_expires_in = Some(Span::from_secs(100));
        assert_eq!(g.apply_to(&Secrets::default(), Moment::EPOCH, &rule).refresh_expires_at, Some(secs(100)));
    }

    #[test]
    fn an_unknown_lifetime_is_re_checked_when_it_can_be_renewed_and_left_open_otherwise() {
        let mut g = grant(Some("r"));
        g.expires_in = None;
        let s = g.apply_to(&Secrets::default(), secs(1000), &RefreshTokenRule::default());
        assert_eq!(s.access_expires_at, Some(secs(1000).plus(UNKNOWN_LIFETIME)));
        let s = grant(None).apply_to(&Secrets::default(), secs(1000), &RefreshTokenRule::default());
        assert_eq!(s.access_expires_at, Some(secs(4600)), "the stated lifetime, no refresh token needed");
        let mut g = grant(None);
        g.expires_in = None;
        let s = g.apply_to(&Secrets::default(), secs(1000), &RefreshTokenRule::default());
        assert_eq!(s.access_expires_at, None, "nothing to renew it with: no expiry is invented");
    }

    #[test]
    fn a_lifetime_of_zero_is_unknown_and_an_endless_one_ten_years() {
        let answer = |json: &str| Grant::from_answer(&serde_json::from_str::<TokenAnswer>(json).unwrap());
        let g = answer(r#"{"access_token":"a","token_type":"bearer","expires_in":0,"refresh_token":"r"}"#);
        assert_eq!(g.expires_in, None);
        let g = answer(
            r#"{"access_token":"a","token_type":"bearer","expires_in":18446744073709551615,"refresh_token_expires_in":18446744073709551615}"#,
        );
        assert_eq!((g.expires_in, g.refresh_token_expires_in), (Some(MAX_LIFETIME), Some(MAX_LIFETIME)));
        // and stored, no time overflows, even issued at the end of time
        let s = g.apply_to(&Secrets::default(), Moment::from_millis(i64::MAX - 5), &RefreshTokenRule::default());
        assert_eq!(s.access_expires_at, Some(Moment::from_millis(i64::MAX)));
    }
}

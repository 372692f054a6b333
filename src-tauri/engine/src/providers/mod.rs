//! Provider profiles: what differs between services, as data.
//!
//! A profile says how a service speaks (request body encoding, response format, how clients
//! authenticate, which probe statuses mean "this token is dead") and what it promises (refresh
//! token rotation and lifetime). Profiles are TOML files under `profiles/`, embedded in the
//! binary; adding a service that speaks standard OAuth needs a file, not code.

pub mod discovery;
pub mod token_response;
pub mod wire;

use serde::Deserialize;

/// One provider's profile.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: String,
    /// The service's name as keepers know it.
    pub name: String,
    pub kind: ProfileKind,
    #[serde(default)]
    pub wire: Wire,
    #[serde(default)]
    pub refresh_token: RefreshTokenRule,
}

/// Whether the profile describes refreshable OAuth tokens or a static API token.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    Oauth,
    ApiToken,
}

/// How a service speaks on the wire.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Wire {
    /// Encoding of token-endpoint request bodies.
    pub request_body: BodyEncoding,
    /// What token responses may look like.
    pub response: ResponseFormat,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Some services (GitHub) answer errors with HTTP 200 and an `error` field.
    pub errors_with_status_200: bool,
    /// Probe answers that mean the token no longer works (HighQ uses 403 for "expired").
    pub auth_failure_statuses: Vec<u16>,
}

impl Default for Wire {
    fn default() -> Self {
        Self {
            request_body: BodyEncoding::Form,
            response: ResponseFormat::Json,
            client_auth: ClientAuth::Basic,
            errors_with_status_200: false,
            auth_failure_statuses: vec![401, 403],
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEncoding {
    Form,
    Json,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseFormat {
    Json,
    /// JSON or HighQ's `<TokenResponse>` XML.
    JsonOrXml,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (RFC 6749 §2.3.1, preferred).
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Body,
}

/// What is known about a service's refresh tokens.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshTokenRule {
    /// Every refresh returns a new refresh token and the old one dies.
    pub rotates: bool,
    /// Lifetime counted from the last refresh, when the service does not say
    /// (HighQ: one year from the last generation).
    pub lifetime_days: Option<u32>,
}

const BUILT_IN: &[&str] = &[include_str!("profiles/oauth2.toml"), include_str!("profiles/api-token.toml")];

/// Every built-in profile.
pub fn built_in() -> Vec<Profile> {
    BUILT_IN
        .iter()
        .map(|text| toml::from_str(text).expect("built-in profiles are valid (checked by a unit test)"))
        .collect()
}

/// The built-in profile with this id.
pub fn find(id: &str) -> Option<Profile> {
    built_in().into_iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_profiles_parse_and_have_unique_ids() {
        let all = built_in();
        let mut ids: Vec<_> = all.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert_eq!(find("oauth2").unwrap().kind, ProfileKind::Oauth);
        assert_eq!(find("api-token").unwrap().kind, ProfileKind::ApiToken);
        assert!(find("nope").is_none());
    }
}

//! Plain data types shared by every layer: what an integration is, the secrets kept for it,
//! the states a keeper sees, and the read-only view handed to shells.
//!
//! Nothing here does I/O. Configuration (`IntegrationConfig`) is non-secret and lives in a file;
//! `Secrets` lives only in the keychain; `IntegrationView` is what the CLI, the tray and the
//! notifications are allowed to see (names, states, times — never a token).

use serde::{Deserialize, Serialize};
use url::Url;

pub use crate::clock::UnixTime;
use crate::clock::{ClockStamp, Moment};
use crate::secret::{AccessToken, ApiToken, ClientSecret, RefreshToken};

/// The longest integration name; names become file names, so they are also restricted in form.
pub const MAX_NAME_LEN: usize = 64;

/// Checks that a name can safely become a file name and a keychain entry.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("an integration name must be 1 to {MAX_NAME_LEN} characters long"));
    }
    if name.starts_with('.') || name.starts_with(' ') || name.ends_with(' ') {
        return Err("an integration name cannot start with a dot or start or end with a space".into());
    }
    if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))) {
        return Err(format!("an integration name may hold letters, digits, spaces, '-', '_' and '.', not {c:?}"));
    }
    Ok(())
}

/// One named credential kept alive: the non-secret part, stored as a config file.
// No `deny_unknown_fields` here or on the kinds: serde does not support it with a flattened,
// internally tagged enum.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntegrationConfig {
    /// The name keepers and scripts use ("HighQ reporting").
    pub name: String,
    /// Provider profile id ("oauth2", "api-token", later presets such as "highq").
    pub provider: String,
    /// How often to check that the token still works, in seconds (with jitter).
    #[serde(default = "default_probe_interval")]
    pub probe_interval_secs: u64,
    /// The kind-specific part.
    #[serde(flatten)]
    pub kind: IntegrationKind,
}

fn default_probe_interval() -> u64 {
    30 * 60
}

/// The two kinds of integration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[allow(clippy::large_enum_variant)] // a handful per keeper; boxing would only add noise
pub enum IntegrationKind {
    /// Refreshable OAuth 2.0 tokens.
    Oauth(OauthConfig),
    /// A static API token, checked with a probe.
    ApiToken(ApiTokenConfig),
}

/// Endpoints and client of an OAuth integration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OauthConfig {
    /// OpenID Connect issuer, when the endpoints came from discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Url>,
    pub authorize_url: Url,
    pub token_url: Url,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<Url>,
    /// A cheap authenticated GET that tells whether the access token still works
    /// (by default the OpenID Connect userinfo endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_url: Option<Url>,
    /// Where to list the sites a sign-in reaches (Atlassian's `accessible-resources`), fetched
    /// once after each sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites_url: Option<Url>,
    pub client_id: String,
    /// Whether a client secret is kept in the keychain for this integration.
    #[serde(default)]
    pub has_client_secret: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A static API token and how to check it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiTokenConfig {
    /// GET this URL with the token; 2xx JSON means alive, 401/403/login page means dead.
    pub probe_url: Url,
    /// With a username the token is sent as Basic `username:token`, else as a Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// When the token ends: the end of the day the keeper chose when creating it (no API tells
    /// it), where the keeper is ([`crate::calendar::Calendar::end_of_day`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
    /// The date alone, as earlier versions stored it (then read as midnight UTC, a day early in
    /// America): now read as the end of that day here, until a new token replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<time::Date>,
}

impl ApiTokenConfig {
    /// When the token ends, if the keeper said.
    pub fn ends_at(&self, calendar: &crate::calendar::Calendar) -> Option<UnixTime> {
        self.expires_at.or_else(|| self.expires.map(|d| calendar.end_of_day(d)))
    }

    /// A new token's end (`None`: unknown): replaces the old token's, whichever form it had.
    pub fn replace_end(&mut self, ends_at: Option<UnixTime>) {
        self.expires_at = ends_at;
        self.expires = None;
    }
}

/// Everything secret about one integration, stored as one keychain item so that a rotated
/// access + refresh token pair is replaced in a single write (never half-written).
/// Expiry times travel with the tokens they describe, so they can never disagree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Secrets {
    pub access_token: Option<AccessToken>,
    pub refresh_token: Option<RefreshToken>,
    pub client_secret: Option<ClientSecret>,
    pub api_token: Option<ApiToken>,
    /// When the access token was issued (wall clock).
    pub issued_at: Option<Moment>,
    /// When the access token stops working, if the provider said.
    pub access_expires_at: Option<Moment>,
    /// When the refresh token stops working, if known (provider field or profile rule).
    pub refresh_expires_at: Option<Moment>,
    /// Provider extras worth keeping that are not secret but belong to this grant
    /// (HighQ's `useremail`, an id token's subject).
    pub account: Option<String>,
    /// The clock frame the times above were written in (see [`crate::clock`]).
    pub clock: Option<ClockStamp>,
}

impl Secrets {
    /// Moves the token times into the frame `now` after a wall-clock step. All three are
    /// relative facts (an `expires_in`, a lifetime rule counted from receipt).
    pub fn follow_clock(&mut self, now: &ClockStamp) {
        let mut stamp = self.clock.take();
        crate::clock::follow(&mut stamp, now, |step| {
            crate::clock::shift_all(
                [&mut self.issued_at, &mut self.access_expires_at, &mut self.refresh_expires_at],
                step,
            );
        });
        self.clock = stamp;
    }
}

/// A site a sign-in reaches (Atlassian: a cloud id with its site's name and address), as the
/// service listed it after the sign-in. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// The service's id of the site (Atlassian's cloud id, for `api.atlassian.com/ex/jira/{id}`).
    pub id: String,
    pub name: String,
    pub url: String,
}

/// The state of an integration, shown everywhere in the same plain words (see
/// [`crate::phrases`] for the words).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The token works and will be renewed in time.
    #[default]
    Working,
    /// A refresh or check is under way.
    Refreshing,
    /// The provider cannot be reached right now, but the current token still works.
    Retrying,
    /// The refresh token or API token ends soon; the keeper must act before then.
    ExpiringSoon,
    /// The provider does not accept the sign-in (revoked, expired, rejected), or there has been
    /// none yet (the view's failure says which).
    NeedsSignIn,
    /// The token has expired and the provider cannot be reached.
    Offline,
    /// The keeper paused it: nothing is refreshed or checked.
    Paused,
    /// Its settings file cannot be read: shown so that it does not vanish, nothing else.
    Unreadable,
}

impl State {
    /// Every state, in the order above.
    pub const ALL: [State; 8] = [
        State::Working,
        State::Refreshing,
        State::Retrying,
        State::ExpiringSoon,
        State::NeedsSignIn,
        State::Offline,
        State::Paused,
        State::Unreadable,
    ];

    /// The words keepers see for the state alone ([`crate::phrases::label`] also knows a
    /// never-signed-in integration).
    pub fn label(self) -> &'static str {
        match self {
            State::Working => "Working",
            State::Refreshing => "Refreshing",
            State::Retrying => "Retrying",
            State::ExpiringSoon => "Expiring soon",
            State::NeedsSignIn => "Needs sign-in",
            State::Offline => "Offline",
            State::Paused => "Paused",
            State::Unreadable => "Can't be read",
        }
    }

    /// How bad it is, for the tray icon and the order of lists.
    pub fn severity(self) -> Severity {
        match self {
            State::Working | State::Refreshing | State::Paused => Severity::Fine,
            State::Retrying | State::ExpiringSoon => Severity::Attention,
            State::NeedsSignIn | State::Offline | State::Unreadable => Severity::Broken,
        }
    }
}

/// How bad a state is, worst last (so `max` is the worst).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Works, or paused on purpose.
    #[default]
    Fine,
    /// Needs watching or a calm action: retrying, ends soon, not signed in yet.
    Attention,
    /// Stopped working: needs sign-in, offline, unreadable.
    Broken,
}

/// The two kinds of integration, as the view names them (`"oauth"`, `"api-token"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Refreshable tokens from a sign-in.
    #[default]
    Oauth,
    /// A static API token, checked from time to time.
    ApiToken,
}

impl IntegrationKind {
    pub fn kind(&self) -> Kind {
        match self {
            IntegrationKind::Oauth(_) => Kind::Oauth,
            IntegrationKind::ApiToken(_) => Kind::ApiToken,
        }
    }
}

/// What the keeper will do next for an integration, for "Renews in 3 h".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "at", rename_all = "kebab-case")]
pub enum NextAction {
    /// Refresh the access token at this time.
    Renew(UnixTime),
    /// Check (probe) the token at this time.
    Check(UnixTime),
    /// Retry a failed refresh at this time.
    Retry(UnixTime),
    /// Nothing until the keeper acts (needs sign-in, paused).
    #[default]
    WaitForKeeper,
}

/// The read-only picture of one integration that shells and scripts may see. Its words come
/// from [`crate::phrases`]; shells show them as they are (the command line replaces the "what to
/// do" part with its own commands, from `todo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub name: String,
    pub provider: String,
    pub kind: Kind,
    /// The service as keepers know it ("HighQ Collaborate", or the host of a generic one).
    #[serde(default)]
    pub service: String,
    pub state: State,
    /// The state in words ("Working", "Not signed in yet").
    #[serde(default)]
    pub state_label: String,
    /// How bad it is (a never-signed-in integration is only `attention`).
    #[serde(default)]
    pub severity: Severity,
    /// Why it is in this state and what to do, in plain words, when it is not `Working`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The service's codes and words behind `detail` (`invalid_grant: …`, `HTTP 401`), for
    /// "Technical details" only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_technical: Option<String>,
    /// What went wrong, as a class (for shells that word it themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<crate::failure::Failure>,
    /// What the keeper should do, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub todo: Option<crate::failure::Todo>,
    pub access_expires_at: Option<UnixTime>,
    pub refresh_expires_at: Option<UnixTime>,
    pub next: NextAction,
    /// "renews", "checks again", "retries" (before a time), or `None` when it waits for the keeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_verb: Option<String>,
    /// A sign-in for it is waiting for the browser.
    pub signin_pending: bool,
    /// It lives in the team vault, kept alive with the other keepers connected there.
    #[serde(default)]
    pub shared: bool,
}

#[cfg(test)]
impl OauthConfig {
    /// A generic OAuth client of `token_url` with made-up other endpoints, for tests.
    pub(crate) fn example(token_url: &str) -> Self {
        OauthConfig {
            issuer: None,
            authorize_url: Url::parse("https://id.example/authorize").unwrap(),
            token_url: Url::parse(token_url).unwrap(),
            revocation_url: None,
            probe_url: None,
            sites_url: None,
            client_id: "cid".into(),
            has_client_secret: false,
            scopes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_a_directory_are_refused() {
        assert!(validate_name("HighQ reporting").is_ok());
        assert!(validate_name("jira-sync_2.prod").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", " pad", "x\ny", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn config_round_trips_through_toml() {
        let cfg = IntegrationConfig {
            name: "demo".into(),
            provider: "oauth2".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::Oauth(OauthConfig {
                issuer: Some("http://127.0.0.1:1/".parse().unwrap()),
                authorize_url: "http://127.0.0.1:1/auth".parse().unwrap(),
                token_url: "http://127.0.0.1:1/token".parse().unwrap(),
                revocation_url: None,
                probe_url: None,
                sites_url: None,
                client_id: "c".into(),
                has_client_secret: true,
                scopes: vec!["openid".into()],
            }),
        };
        let text = toml::to_string(&cfg).unwrap();
        assert!(text.contains("kind = \"oauth\""), "{text}");
        assert_eq!(toml::from_str::<IntegrationConfig>(&text).unwrap(), cfg);
    }
}

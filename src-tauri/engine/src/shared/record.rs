//! What the team vault holds for one shared integration: its settings, its secrets and, once a
//! keeper found the sign-in dead, that finding — one record at `integrations/<name>`, so a
//! renewal's new token pair, the settings it was made with and the "needs sign-in" mark are
//! replaced together by one check-and-set write, never half.
//!
//! Every keeper's own observations (history, notices shown, retry times) stay in its local
//! record file: they are not secrets and not settings, and another keeper has its own.
//!
//! The secrets travel as the secret newtypes (their `Debug` redacted), serialised as plain
//! strings only into the request body sent to the vault. Times are wall-clock milliseconds:
//! another machine's boot-time stamp means nothing here, so no clock stamp is stored.

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use super::store::RecordPath;
use crate::clock::{as_millis, Moment};
use crate::model::{IntegrationConfig, Secrets};
use crate::phrases::Reason;
use crate::secret::{AccessToken, ApiToken, ClientSecret, RefreshToken};

/// The record's format; a keeper refuses (and leaves alone) a record of a format it does not know.
pub const FORMAT: u32 = 1;

/// One shared integration as stored in the vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedRecord {
    pub v: u32,
    pub config: IntegrationConfig,
    #[serde(default)]
    pub secrets: SharedSecrets,
    /// Set by the keeper whose renewal the service refused for good, with the secrets of this
    /// same version: every keeper that reads it knows the sign-in is dead without asking the
    /// service again. The next sign-in, anywhere, clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_sign_in: Option<Reason>,
}

impl SharedRecord {
    pub fn new(config: IntegrationConfig, secrets: &Secrets) -> Self {
        Self { v: FORMAT, config, secrets: SharedSecrets::from(secrets), needs_sign_in: None }
    }

    /// The record as a keeper can use it: of a known format, for the name it is stored under.
    pub fn check(self, path: &RecordPath, name: &str) -> Result<Self, VaultError> {
        let damaged = |why: String| VaultError::new(super::VaultErrorKind::Damaged { path: path.to_string() }, why);
        if self.v != FORMAT {
            return Err(damaged(format!("format {} (this keeper reads format {FORMAT})", self.v)));
        }
        if self.config.name != name {
            return Err(damaged(format!("it names itself {:?}", self.config.name)));
        }
        Ok(self)
    }
}

/// The secrets of a shared integration (see [`Secrets`]), without a clock stamp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<AccessToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token: Option<ApiToken>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "as_millis")]
    pub issued_at_ms: Option<Moment>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "as_millis")]
    pub access_expires_at_ms: Option<Moment>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "as_millis")]
    pub refresh_expires_at_ms: Option<Moment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl From<&Secrets> for SharedSecrets {
    fn from(s: &Secrets) -> Self {
        Self {
            access_token: s.access_token.clone(),
            refresh_token: s.refresh_token.clone(),
            client_secret: s.client_secret.clone(),
            api_token: s.api_token.clone(),
            issued_at_ms: s.issued_at,
            access_expires_at_ms: s.access_expires_at,
            refresh_expires_at_ms: s.refresh_expires_at,
            account: s.account.clone(),
        }
    }
}

impl From<SharedSecrets> for Secrets {
    fn from(s: SharedSecrets) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            client_secret: s.client_secret,
            api_token: s.api_token,
            issued_at: s.issued_at_ms,
            access_expires_at: s.access_expires_at_ms,
            refresh_expires_at: s.refresh_expires_at_ms,
            account: s.account,
            clock: None,
        }
    }
}

/// Where the record of `integration` lives: `integrations/<integration>`.
pub fn record_path(integration: &str) -> Result<RecordPath, VaultError> {
    RecordPath::parse("integrations")?.child(integration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiTokenConfig, IntegrationKind};

    fn config(name: &str) -> IntegrationConfig {
        IntegrationConfig {
            name: name.into(),
            provider: "api-token".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url: url::Url::parse("https://example.com/me").unwrap(),
                username: Some("ann".into()),
                expires_at: None,
                expires: None,
            }),
        }
    }

    #[test]
    fn secrets_go_there_and_back_and_never_show_in_debug() {
        let secrets = Secrets {
            access_token: Some(AccessToken::new("at-123".into())),
            refresh_token: Some(RefreshToken::new("rt-456".into())),
            access_expires_at: Some(Moment::from_millis(1_700_000_000_123)),
            account: Some("ann@example.com".into()),
            ..Secrets::default()
        };
        let record = SharedRecord::new(config("jira"), &secrets);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["secrets"]["refresh_token"], "rt-456");
        assert_eq!(json["secrets"]["access_expires_at_ms"], 1_700_000_000_123_i64);
        let back: SharedRecord = serde_json::from_value(json).unwrap();
        assert_eq!(Secrets::from(back.secrets.clone()), secrets);
        let debug = format!("{back:?}");
        assert!(!debug.contains("at-123") && !debug.contains("rt-456"), "{debug}");
    }

    #[test]
    fn a_record_of_another_format_or_name_is_damaged() {
        let path = record_path("jira").unwrap();
        let mut record = SharedRecord::new(config("jira"), &Secrets::default());
        assert!(record.clone().check(&path, "jira").is_ok());
        assert!(record.clone().check(&path, "wiki").is_err());
        record.v = 2;
        let e = record.check(&path, "jira").unwrap_err();
        assert!(matches!(e.kind(), super::super::VaultErrorKind::Damaged { .. }), "{e:?}");
        let unknown = serde_json::json!({"v": 1, "config": serde_json::to_value(config("x")).unwrap(), "extra": 1});
        assert!(serde_json::from_value::<SharedRecord>(unknown).is_err(), "unknown fields are refused");
    }
}

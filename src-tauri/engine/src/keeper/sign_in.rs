//! Signing in, every way there is: the browser with a loopback redirect, a device code, a token
//! response handed over by the keeper, an API token checked before it is kept. Each one stores
//! the integration's new secrets as one commit.

use oauth2::TokenResponse as _;
use url::Url;

use super::renewal::Issued;
use super::{Keeper, KeeperError};
use crate::actions::device::{self, DeviceCode, DeviceOutcome, DEVICE_TIMEOUT};
use crate::actions::oauth::{Grant, TokenAnswer};
use crate::actions::probe::{probe, Credential, ProbeOutcome};
use crate::actions::signin::{self, SignInOutcome, SIGNIN_TIMEOUT};
use crate::actions::sites::{list_sites, SitesOutcome};
use crate::history::HistoryEvent;
use crate::model::{IntegrationKind, IntegrationView, OauthConfig, Secrets, UnixTime};
use crate::phrases::{self, Reason};
use crate::providers::token_response::normalize;
use crate::providers::{self, Profile};
use crate::secret::{AccessToken, ApiToken};

impl Keeper {
    /// Interactive sign-in: `show_url` gets the authorization URL (open it in the browser or
    /// print it), then this waits up to five minutes for the loopback redirect. A cancelled or
    /// timed-out sign-in changes nothing.
    pub async fn sign_in(
        &self,
        name: &str,
        show_url: impl FnOnce(&Url) -> Result<(), KeeperError>,
    ) -> Result<IntegrationView, KeeperError> {
        let (oauth, profile) = self.oauth_of(name)?;
        let extra: Vec<(String, String)> =
            profile.authorize_params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let pending = signin::start(&oauth, &profile.wire, &extra)
            .await
            .map_err(|e| KeeperError::Failed(format!("could not listen on 127.0.0.1 for the sign-in: {e}")))?;
        show_url(&pending.url)?;
        self.commit(name, |slot, _| slot.sign_in_pending(true));
        let client_secret = self.secrets(name).await.ok().and_then(|s| s.client_secret);
        let outcome =
            pending.finish(&self.inner.http, &oauth, &profile.wire, client_secret.as_ref(), SIGNIN_TIMEOUT).await;
        self.commit(name, |slot, _| slot.sign_in_pending(false));
        match outcome {
            SignInOutcome::SignedIn(grant) => self.store_signed_in(name, grant).await,
            SignInOutcome::TimedOut => {
                Err(KeeperError::BadInput("the sign-in was not completed within 5 minutes; nothing changed".into()))
            }
            SignInOutcome::Refused { reason } | SignInOutcome::Failed { reason } => {
                Err(self.sign_in_failed(name, &profile, reason))
            }
        }
    }

    /// Device sign-in (RFC 8628), for machines where a loopback redirect cannot work: `show`
    /// gets the code and the address to confirm it at (on any device), then this polls the
    /// service until the keeper confirms or refuses, or the code expires (at most 15 minutes).
    /// The device authorization endpoint comes from the issuer's discovery document. A refused,
    /// expired or cancelled device sign-in changes nothing.
    pub async fn sign_in_with_device_code(
        &self,
        name: &str,
        show: impl FnOnce(&DeviceCode) -> Result<(), KeeperError>,
    ) -> Result<IntegrationView, KeeperError> {
        let (oauth, profile) = self.oauth_of(name)?;
        let device_url = self.device_url(name, &oauth, &profile).await?;
        let client_secret = self.secrets(name).await.ok().and_then(|s| s.client_secret);
        let http = &self.inner.http;
        let pending = match device::start(http, &oauth, &device_url, &profile.wire, client_secret.as_ref()).await {
            Ok(pending) => pending,
            Err(outcome) => return self.device_failed(name, outcome),
        };
        show(&pending.code)?;
        self.commit(name, |slot, _| slot.sign_in_pending(true));
        let outcome = pending.finish(http, &oauth, &profile.wire, client_secret.as_ref(), DEVICE_TIMEOUT).await;
        self.commit(name, |slot, _| slot.sign_in_pending(false));
        match outcome {
            DeviceOutcome::SignedIn(grant) => self.store_signed_in(name, grant).await,
            other => self.device_failed(name, other),
        }
    }

    /// Whether the integration's service takes sign-ins with a code (its issuer's discovery
    /// document names a device sign-in address), so that a shell offers it only where it works.
    /// A service that cannot be asked right now counts as not offering it.
    pub async fn can_sign_in_with_code(&self, name: &str) -> bool {
        let Ok((oauth, profile)) = self.oauth_of(name) else { return false };
        self.device_url(name, &oauth, &profile).await.is_ok()
    }

    /// Where the integration's service takes device sign-ins: `device_authorization_endpoint`
    /// from its issuer's discovery document.
    async fn device_url(&self, name: &str, oauth: &OauthConfig, profile: &Profile) -> Result<Url, KeeperError> {
        let Some(issuer) = &oauth.issuer else {
            return Err(KeeperError::BadInput(format!(
                "\"{name}\" cannot sign in with a code: its service does not offer it; sign in in the browser instead"
            )));
        };
        let found = providers::discovery::discover(&self.inner.http, issuer).await.map_err(|e| match e {
            providers::discovery::DiscoveryError::Wire(w) if w.is_transient() => {
                KeeperError::Unavailable(format!("could not look up the device sign-in address: {w}"))
            }
            other => KeeperError::BadInput(format!("could not look up the device sign-in address: {other}")),
        })?;
        found.device_authorization_endpoint.ok_or_else(|| {
            KeeperError::BadInput(format!(
                "{} does not offer sign-in with a code; sign in in the browser instead",
                profile.name
            ))
        })
    }

    fn device_failed(&self, name: &str, outcome: DeviceOutcome) -> Result<IntegrationView, KeeperError> {
        match outcome {
            DeviceOutcome::SignedIn(_) => Err(KeeperError::Failed("unexpected device sign-in outcome".into())),
            DeviceOutcome::Expired => {
                Err(KeeperError::BadInput("the code was not confirmed before it expired; nothing changed".into()))
            }
            DeviceOutcome::Denied { reason } | DeviceOutcome::Refused { reason } | DeviceOutcome::Failed { reason } => {
                let profile = self.config_of(name).map(|(_, p)| p).ok();
                Err(match profile {
                    Some(profile) => self.sign_in_failed(name, &profile, reason),
                    None => KeeperError::unknown(name),
                })
            }
        }
    }

    /// A sign-in that did not complete: noted in the history, and said as an error in words
    /// (the service's codes go to the history and the log).
    fn sign_in_failed(&self, name: &str, profile: &Profile, reason: Reason) -> KeeperError {
        tracing::warn!("{name}: the sign-in did not complete: {}", reason.for_log());
        self.note(name, HistoryEvent::sign_in_failed(&reason));
        let service = self.lock().slots.get(name).map(|s| s.service_name()).unwrap_or_else(|| profile.name.clone());
        let why = phrases::sign_in_failed(&service, &reason.failure);
        if reason.is_transient() {
            KeeperError::Unavailable(why)
        } else {
            KeeperError::NeedsSignIn(why)
        }
    }

    fn note(&self, name: &str, event: HistoryEvent) {
        self.commit(name, |slot, now| slot.noted(event, now));
    }

    /// Stores a token response a service already gave (JSON, or XML where the profile allows),
    /// as if the keeper had just signed in.
    pub async fn store_response(&self, name: &str, body: &[u8]) -> Result<IntegrationView, KeeperError> {
        let (_, profile) = self.oauth_of(name)?;
        let (status, json) = normalize(200, None, body, &profile.wire)
            .map_err(|e| KeeperError::BadInput(format!("this is not a token response: {e}")))?;
        if status != 200 {
            return Err(KeeperError::BadInput(
                "this is an error response from the service, not a token response".into(),
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&json).map_err(|e| {
            KeeperError::BadInput(format!("this is not a token response (problem with {})", field_of(&e)))
        })?;
        if answer.access_token().secret().is_empty() {
            return Err(KeeperError::BadInput("this token response has an empty access_token".into()));
        }
        self.store_signed_in(name, Grant::from_answer(&answer)).await
    }

    async fn store_signed_in(&self, name: &str, grant: Grant) -> Result<IntegrationView, KeeperError> {
        let exclusive = self.exclusive(name).await?;
        let previous = self.keychain_load(name).await?.unwrap_or_default();
        let access_token = grant.access_token.clone();
        self.store_grant_locked(name, &previous, grant, Issued::SignedIn).await;
        drop(exclusive);
        self.list_sites(name, &access_token).await;
        let view = self.status(name)?.view;
        if self.lock().slots.get(name).is_some_and(|s| s.unsaved()) {
            return Err(KeeperError::Failed(
                "Signed in, but the keychain did not accept the sign-in; Token Keeper keeps it while it runs and \
                 tries again."
                    .into(),
            ));
        }
        Ok(view)
    }

    /// After a sign-in: lists the sites it reaches, where the profile says how (Atlassian). A
    /// failure is noted in the history and the sites of the previous sign-in are kept; the
    /// sign-in stands either way.
    async fn list_sites(&self, name: &str, access_token: &AccessToken) {
        let url = self.lock().slots.get(name).and_then(|s| match &s.config.kind {
            IntegrationKind::Oauth(o) => o.sites_url.clone(),
            IntegrationKind::ApiToken(_) => None,
        });
        let Some(url) = url else { return };
        match list_sites(&self.inner.http, &url, access_token).await {
            SitesOutcome::Listed(sites) => {
                tracing::info!("{name}: the sign-in reaches {} site(s)", sites.len());
                self.commit(name, move |slot, _| slot.sites_listed(sites));
            }
            SitesOutcome::NotListed { reason } => {
                tracing::warn!("{name}: could not list the sites of the sign-in: {reason}");
                self.note(name, HistoryEvent::SitesNotListed { reason });
            }
        }
    }

    /// Checks an API token with the probe, then stores it with its end (`ends_at`, when the
    /// keeper gave one: see [`crate::calendar::Calendar::end_of_day`]). A token that replaces
    /// an earlier one replaces its end too, given or not (the old date belonged to the old
    /// token); the first token keeps the end given when the integration was added, unless
    /// another is given. A refused or uncheckable token is not stored, and whatever was stored
    /// before stays.
    pub async fn store_api_token(
        &self,
        name: &str,
        token: ApiToken,
        ends_at: Option<UnixTime>,
    ) -> Result<IntegrationView, KeeperError> {
        let (mut config, profile) = self.config_of(name)?;
        let service = self.lock().slots.get(name).map(|s| s.service_name()).unwrap_or_default();
        let IntegrationKind::ApiToken(api) = &config.kind else {
            return Err(KeeperError::BadInput(format!("\"{name}\" uses a sign-in, not an API token")));
        };
        let credential = match &api.username {
            Some(u) => Credential::Basic { username: u, token: token.expose() },
            None => Credential::Bearer(token.expose()),
        };
        match probe(&self.inner.http, &api.probe_url, credential, &profile.wire).await {
            ProbeOutcome::Accepted => {}
            ProbeOutcome::Refused { reason } => {
                tracing::warn!("{name}: a new token was refused: {}", reason.for_log());
                return Err(KeeperError::BadInput(phrases::token_not_saved(&service, &reason.failure)));
            }
            ProbeOutcome::Inconclusive { reason, .. } => {
                tracing::warn!("{name}: a new token could not be checked: {}", reason.for_log());
                return Err(KeeperError::Unavailable(phrases::token_not_saved(&service, &reason.failure)));
            }
        }
        let flight = self.lock().slots.get(name).map(|s| s.flight.clone()).ok_or_else(|| KeeperError::unknown(name))?;
        let _flight = flight.lock_owned().await;
        let secrets = Secrets {
            api_token: Some(token),
            issued_at: Some(self.inner.clock.now().whole_secs()),
            clock: Some(self.inner.clock.stamp()),
            ..Secrets::default()
        };
        let replacing = self.lock().slots.get(name).is_some_and(|s| {
            s.record().signed_in_at.is_some()
                || s.record()
                    .history
                    .entries()
                    .any(|e| matches!(e.event, HistoryEvent::SignedIn | HistoryEvent::SignedInElsewhere))
        });
        if let IntegrationKind::ApiToken(api) = &mut config.kind {
            if replacing || ends_at.is_some() {
                api.replace_end(ends_at);
            }
        }
        if self.is_shared(name) {
            // the token and its end date in one write
            self.shared_overwrite(name, &secrets, Some(config.clone())).await?;
            self.announce(name).await;
        } else {
            self.keychain_save(name, &secrets).await?;
            crate::store::integrations::save(&self.inner.paths, &config)
                .map_err(|e| KeeperError::Failed(format!("the new token was saved, but not its end date: {e}")))?;
        }
        self.commit(name, move |slot, now| {
            slot.config = config;
            slot.signed_in(secrets, Ok(()), now);
        })
        .ok_or_else(|| KeeperError::unknown(name))
    }
}

/// The JSON path of a parse problem, never the value.
pub(super) fn field_of(e: &serde_json::Error) -> String {
    format!("line {}, column {}", e.line(), e.column())
}

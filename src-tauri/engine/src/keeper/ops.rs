//! The keeper's commands (token, refresh, pause, add, remove, sign in, store a token) and the
//! refresh and probe procedures behind them. Each ends in exactly one [`Keeper::commit`].

use std::sync::Arc;
use std::time::Duration;

use oauth2::TokenResponse as _;
use url::Url;

use super::{Keeper, KeeperError, Slot};
use crate::actions::device::{self, DeviceCode, DeviceOutcome, DEVICE_TIMEOUT};
use crate::actions::oauth::{Grant, TokenAnswer};
use crate::actions::probe::{probe, Credential, ProbeOutcome};
use crate::actions::refresh::{refresh, RefreshOutcome};
use crate::actions::revoke::{revoke, TokenKind};
use crate::actions::signin::{self, SignInOutcome, SIGNIN_TIMEOUT};
use crate::actions::sites::{list_sites, SitesOutcome};
use crate::history::HistoryEvent;
use crate::model::{
    validate_name, IntegrationConfig, IntegrationKind, IntegrationView, OauthConfig, Secrets, State, UnixTime,
};
use crate::providers::token_response::normalize;
use crate::providers::{self, Profile, ProfileKind};
use crate::record::Record;
use crate::scheduler::{inside_margin, retry_delay};
use crate::secret::{AccessToken, ApiToken, ClientSecret};
use crate::store::{integrations, StoreError};

/// Why a refresh was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The scheduler's deadline: skipped when another process already renewed.
    Scheduled,
    /// A `token` request inside the margin: skipped when another process already renewed.
    TokenRequest,
    /// The keeper or a script asked for it (`refresh`, a refused probe): always runs.
    Forced,
}

/// How the tokens being stored came.
enum Issued {
    /// An interactive sign-in or a handed-over response: counted from now.
    SignedIn,
    /// A renewal: counted from when the keeper asked (UNIX seconds), not from the answer.
    Renewed { asked_at: UnixTime },
}

/// A token the keeper may hand out: valid for at least this long (ms), so a script has time to
/// use it. Compared in milliseconds: whole seconds on both sides made "2 s" mean "more than 1 s".
const MIN_REMAINING_MS: i64 = 3_000;
/// When the provider is seen back, the integrations waiting for it retry within this many ms.
const PROVIDER_BACK_SPREAD_MS: i64 = 2_000;
/// ...but not sooner after their own last failure than this.
const PULL_AFTER_FAILURE_MS: i64 = 5_000;

impl Keeper {
    // ---- secrets -------------------------------------------------------------------------

    /// The keychain's secrets of `name`, their times in the current clock frame.
    async fn keychain_load(&self, name: &str) -> Result<Option<Secrets>, StoreError> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        let mut loaded = keychain_call(move || store.load(&name)).await?;
        if let Some(secrets) = &mut loaded {
            secrets.follow_clock(&self.inner.clock.stamp());
        }
        Ok(loaded)
    }

    async fn keychain_save(&self, name: &str, secrets: &Secrets) -> Result<(), StoreError> {
        let (store, name, secrets) = (self.inner.store.clone(), name.to_string(), secrets.clone());
        keychain_call(move || store.save(&name, &secrets)).await
    }

    /// Takes, in this order, the two locks that make this the only refresh, sign-in store or
    /// removal of `name` anywhere on the machine: the in-process flight mutex and the
    /// cross-process file lock. Both are released when the returned guard drops.
    async fn exclusive(&self, name: &str) -> Result<Exclusive, KeeperError> {
        let flight = self.lock().slots.get(name).map(|s| s.flight.clone()).ok_or_else(|| KeeperError::unknown(name))?;
        let flight = flight.lock_owned().await;
        let file = crate::lock::acquire(self.inner.paths.lock_file(name))
            .await
            .map_err(|e| KeeperError::Failed(format!("could not take the refresh lock of \"{name}\": {e}")))?;
        Ok(Exclusive { _flight: flight, _file: file })
    }

    /// The secrets of `name`: the in-memory copy, or the keychain's on first use.
    async fn secrets(&self, name: &str) -> Result<Secrets, KeeperError> {
        let stamp = self.inner.clock.stamp();
        let cached = {
            let mut shared = self.lock();
            let slot = shared.slots.get_mut(name).ok_or_else(|| KeeperError::unknown(name))?;
            slot.follow_clock(&stamp);
            slot.secrets.clone()
        };
        if let Some(s) = cached {
            return Ok(s);
        }
        let loaded = self.keychain_load(name).await?.unwrap_or_default();
        let mut shared = self.lock();
        let slot = shared.slots.get_mut(name).ok_or_else(|| KeeperError::unknown(name))?;
        Ok(slot.secrets.get_or_insert(loaded).clone())
    }

    /// Inside the refresh locks: makes memory and keychain agree. Unsaved tokens in memory are
    /// newer than the keychain and are written first; otherwise the keychain wins (another
    /// process may have refreshed).
    async fn reconcile(&self, name: &str) -> Result<Secrets, KeeperError> {
        let (unsaved, memory) = {
            let shared = self.lock();
            let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
            (slot.unsaved, slot.secrets.clone())
        };
        if let (true, Some(memory)) = (unsaved, memory.clone()) {
            let saved = self.keychain_save(name, &memory).await;
            self.commit(name, |slot, _| slot.unsaved = saved.is_err());
            return Ok(memory);
        }
        let stored = self.keychain_load(name).await?;
        let secrets = match (stored, memory) {
            (Some(stored), _) => stored,
            (None, Some(memory)) => memory,
            (None, None) => Secrets::default(),
        };
        let adopted = secrets.clone();
        self.commit(name, move |slot, _| {
            copy_times(&mut slot.record, &adopted);
            slot.secrets = Some(adopted);
        });
        Ok(secrets)
    }

    // ---- token -----------------------------------------------------------------------------

    /// A currently valid access token (or the API token), refreshing first when inside the
    /// margin. Never a token the keeper knows is dead.
    pub async fn token(&self, name: &str) -> Result<AccessToken, KeeperError> {
        self.refuse_if_signed_out(name)?;
        let secrets = self.secrets(name).await?;
        if let Some(api) = &secrets.api_token {
            return Ok(AccessToken::new(api.expose().to_string()));
        }
        if self.is_api_token(name)? {
            return Err(KeeperError::NeedsSignIn(format!(
                "\"{name}\" has no API token yet: add one with `tokenkeeper login {}`",
                shell_word(name)
            )));
        }
        let now_ms = self.inner.clock.now_millis();
        if let Some(token) = fresh(&secrets, now_ms) {
            return Ok(token);
        }
        self.refresh_integration(name, Why::TokenRequest).await;
        self.refuse_if_signed_out(name)?;
        let secrets = self.secrets(name).await?;
        // After a failed refresh the current token is still handed out while it works.
        match &secrets.access_token {
            Some(t)
                if secrets
                    .access_expires_at
                    .is_none_or(|e| e * 1000 - self.inner.clock.now_millis() >= MIN_REMAINING_MS) =>
            {
                Ok(t.clone())
            }
            _ => {
                let detail = self.lock().slots.get(name).and_then(|s| s.record.detail.clone()).unwrap_or_default();
                Err(KeeperError::Unavailable(format!(
                    "\"{name}\" has no valid token right now and cannot be renewed: {detail}"
                )))
            }
        }
    }

    fn refuse_if_signed_out(&self, name: &str) -> Result<(), KeeperError> {
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        if slot.record.state == State::NeedsSignIn {
            let why = slot.record.detail.clone().unwrap_or_else(|| "the service no longer accepts its sign-in".into());
            return Err(KeeperError::NeedsSignIn(format!(
                "\"{name}\" needs you to sign in again ({why}): run `tokenkeeper login {}`",
                shell_word(name)
            )));
        }
        Ok(())
    }

    fn is_api_token(&self, name: &str) -> Result<bool, KeeperError> {
        Ok(self.lock().slots.get(name).ok_or_else(|| KeeperError::unknown(name))?.is_api_token())
    }

    // ---- refresh and probe ------------------------------------------------------------------

    /// Refreshes now (OAuth) and checks the token where a probe is configured; an API token is
    /// checked. Err when the result is not a working token.
    pub async fn refresh(&self, name: &str) -> Result<IntegrationView, KeeperError> {
        if self.is_api_token(name)? {
            self.probe_integration(name).await;
        } else {
            self.refresh_integration(name, Why::Forced).await;
            if self.state_of(name)? != State::NeedsSignIn && self.has_probe(name) {
                self.probe_integration(name).await;
            }
        }
        let view = self.status(name)?.view;
        match view.state {
            State::NeedsSignIn => Err(KeeperError::NeedsSignIn(format!(
                "\"{name}\" needs you to sign in again ({}): run `tokenkeeper login {}`",
                view.detail.clone().unwrap_or_default(),
                shell_word(name)
            ))),
            State::Retrying | State::Offline => Err(KeeperError::Unavailable(format!(
                "\"{name}\" could not be renewed right now ({}); Token Keeper keeps trying",
                view.detail.clone().unwrap_or_default()
            ))),
            _ => Ok(view),
        }
    }

    fn has_probe(&self, name: &str) -> bool {
        self.lock().slots.get(name).is_some_and(|s| probe_url(s).is_some())
    }

    /// One refresh of an OAuth integration under both locks; every outcome is committed.
    pub(super) async fn refresh_integration(&self, name: &str, why: Why) {
        let Some((oauth, profile)) = ({
            let shared = self.lock();
            shared.slots.get(name).and_then(|s| match &s.config.kind {
                IntegrationKind::Oauth(o) => Some((o.clone(), s.profile.clone())),
                IntegrationKind::ApiToken(_) => None,
            })
        }) else {
            return;
        };
        let _exclusive = match self.exclusive(name).await {
            Ok(held) => held,
            Err(e) => {
                let reason = e.to_string();
                let now_ms = self.inner.clock.now_millis();
                self.commit(name, |slot, now| fail_transiently(slot, now, now_ms, reason, None));
                return;
            }
        };
        let secrets = match self.reconcile(name).await {
            Ok(s) => s,
            Err(e) => {
                let reason = e.to_string();
                let now_ms = self.inner.clock.now_millis();
                self.commit(name, |slot, now| fail_transiently(slot, now, now_ms, reason, None));
                return;
            }
        };
        if self.state_of(name).ok() == Some(State::NeedsSignIn) && why != Why::Forced {
            return;
        }
        let now_ms = self.inner.clock.now_millis();
        let (renew_at, retry_at) =
            self.lock().slots.get(name).map(|s| (s.renew_at_ms(), s.record.retry_at_ms)).unwrap_or_default();
        // After a failure only the scheduled retry (or an explicit `refresh`) may call the service
        // again: scripts asking for a token in a loop must not defeat the backoff.
        let backing_off = retry_at.is_some_and(|t| now_ms < t);
        let not_needed = match why {
            Why::Forced => false,
            Why::TokenRequest => backing_off || fresh(&secrets, now_ms).is_some(),
            Why::Scheduled => backing_off || (retry_at.is_none() && renew_at.is_some_and(|at| now_ms < at)),
        };
        if not_needed {
            self.commit(name, |_, _| {});
            return;
        }
        let Some(refresh_token) = secrets.refresh_token.clone() else {
            self.commit(name, |slot, _| {
                slot.record.state = State::NeedsSignIn;
                slot.record.detail = Some("there is no refresh token; sign in again".into());
            });
            return;
        };
        self.commit(name, |slot, _| slot.busy = true);
        // The provider's clock started the new token somewhere between asking and the answer:
        // its life is counted from the asking, so a slow answer (seconds, on a bad network)
        // never makes the keeper believe a token lives longer than it does.
        let asked_at = self.inner.clock.now();
        let outcome =
            refresh(&self.inner.http, &oauth, &profile.wire, secrets.client_secret.as_ref(), &refresh_token).await;
        match outcome {
            RefreshOutcome::Refreshed(grant) => {
                tracing::info!("{name}: renewed (the new token is valid for {} s)", grant.expires_in.unwrap_or(0));
                let after_trouble = self.lock().slots.get(name).is_some_and(|s| s.record.failures > 0);
                self.store_grant_locked(name, &secrets, grant, Issued::Renewed { asked_at }).await;
                if after_trouble {
                    self.provider_is_back(name);
                }
            }
            RefreshOutcome::TransientError { reason, retry_after } => {
                tracing::warn!("{name}: renewal failed, will retry: {reason}");
                let now_ms = self.inner.clock.now_millis();
                self.commit(name, |slot, now| {
                    slot.busy = false;
                    fail_transiently(slot, now, now_ms, reason, retry_after)
                });
            }
            RefreshOutcome::PermanentError { reason } => {
                tracing::warn!("{name}: needs sign-in: {reason}");
                self.commit(name, |slot, now| {
                    slot.busy = false;
                    slot.record
                        .history
                        .push(now, HistoryEvent::RefreshFailed { reason: reason.clone(), transient: false });
                    slot.record.state = State::NeedsSignIn;
                    slot.record.detail = Some(reason);
                    slot.record.failures = 0;
                    slot.record.retry_at_ms = None;
                });
            }
        }
    }

    /// `name` renewed after failures, so its provider answers again: the other integrations of the
    /// same token endpoint whose token has already ended and that wait to retry try now (spread
    /// over two seconds, never before a `Retry-After`, never sooner than 5 s after their own last
    /// failure) instead of each waiting out its own backoff — up to 30 s once expired — and their
    /// backoff starts again from its first step. Integrations whose token still works keep their
    /// backoff; an ended one is pulled at most once per 5 s. This is how a keeper notices that the
    /// network came back without watching the network itself.
    fn provider_is_back(&self, name: &str) {
        let now_ms = self.inner.clock.now_millis();
        let waiting: Vec<(String, i64)> = {
            let shared = self.lock();
            let Some(origin) = shared.slots.get(name).and_then(Slot::token_origin) else { return };
            shared
                .slots
                .iter()
                .filter(|(other, slot)| {
                    *other != name
                        && slot.record.state != State::NeedsSignIn
                        && !slot.record.paused
                        && slot.record.retry_at_ms.is_some_and(|t| t > now_ms + PROVIDER_BACK_SPREAD_MS)
                        && slot.failed_at_ms.is_none_or(|t| now_ms - t >= PULL_AFTER_FAILURE_MS)
                        && slot.record.access_expires_at.is_some_and(|e| e * 1000 <= now_ms)
                        && slot.token_origin().as_ref() == Some(&origin)
                })
                .map(|(other, slot)| {
                    let soon = now_ms + (rand::random::<f64>() * PROVIDER_BACK_SPREAD_MS as f64) as i64;
                    (other.clone(), soon.max(slot.not_before_ms.unwrap_or(0)))
                })
                .collect()
        };
        if !waiting.is_empty() {
            tracing::info!("{name}: the provider answers again; {} other integrations retry now", waiting.len());
        }
        for (other, at) in waiting {
            self.commit(&other, |slot, _| {
                if slot.record.retry_at_ms.is_some_and(|t| t > at) {
                    slot.record.retry_at_ms = Some(at);
                    // one failure, not none: the state stays "retrying" (no "working again"
                    // before it works), and a failure now waits 2–4 s, not 30 s
                    slot.record.failures = slot.record.failures.min(1);
                }
            });
        }
    }

    /// Stores new tokens: keychain first, then memory and record. If the keychain write fails
    /// the tokens stay in memory (marked unsaved, retried at the next tick) — never dropped.
    async fn store_grant_locked(&self, name: &str, previous: &Secrets, grant: Grant, issued: Issued) {
        let rule = self.lock().slots.get(name).map(|s| s.profile.refresh_token.clone()).unwrap_or_default();
        let stamp = self.inner.clock.stamp();
        let (issued_at, signed_in) = match issued {
            Issued::SignedIn => (self.inner.clock.now(), true),
            Issued::Renewed { asked_at } => (asked_at, false),
        };
        let mut new = grant.apply_to(previous, issued_at, &rule);
        new.clock = Some(stamp);
        let saved = self.keychain_save(name, &new).await;
        self.commit(name, move |slot, now| {
            slot.busy = false;
            copy_times(&mut slot.record, &new);
            slot.secrets = Some(new);
            slot.unsaved = saved.is_err();
            slot.record.failures = 0;
            slot.record.retry_at_ms = None;
            if signed_in {
                if !slot.record.history.entries().any(|e| e.event == HistoryEvent::SignedIn) {
                    slot.record.notices.problem = None; // the first sign-in is no "working again"
                }
                slot.record.state = State::Working;
                slot.record.signed_in_at = Some(now);
                slot.record.history.push(now, HistoryEvent::SignedIn);
                slot.record.probe_at_ms = probe_url(slot).map(|_| next_probe_ms(slot, now));
            } else {
                slot.record.history.push(now, HistoryEvent::Refreshed { expires_at: slot.record.access_expires_at });
            }
            if let Err(e) = saved {
                slot.record.detail =
                    Some(format!("new tokens are kept in memory until the keychain accepts them: {e}"));
                slot.record.history.push(now, HistoryEvent::KeychainWriteFailed { reason: e.to_string() });
                slot.record.retry_at_ms = Some(now * 1000 + 5_000);
            }
        });
    }

    /// Checks the token with the probe. A refused OAuth token gets one forced refresh and a
    /// second check; refused again (or an API token refused once) means `Needs sign-in`.
    pub(super) async fn probe_integration(&self, name: &str) {
        match self.probe_once(name).await {
            Some(ProbeOutcome::Refused { reason }) if !self.is_api_token(name).unwrap_or(true) => {
                self.refresh_integration(name, Why::Forced).await;
                if self.state_of(name).ok() == Some(State::NeedsSignIn) {
                    return;
                }
                if let Some(ProbeOutcome::Refused { .. }) = self.probe_once(name).await {
                    self.mark_refused(name, format!("{reason}, even after renewing it"));
                }
            }
            Some(ProbeOutcome::Refused { reason }) => self.mark_refused(name, reason),
            _ => {}
        }
    }

    fn mark_refused(&self, name: &str, reason: String) {
        self.commit(name, |slot, _| {
            slot.record.state = State::NeedsSignIn;
            slot.record.detail = Some(reason);
        });
    }

    /// One probe; records it and schedules the next one. `None` when there is nothing to probe.
    async fn probe_once(&self, name: &str) -> Option<ProbeOutcome> {
        let (url, wire, username, flight) = {
            let shared = self.lock();
            let slot = shared.slots.get(name)?;
            let username = match &slot.config.kind {
                IntegrationKind::ApiToken(a) => a.username.clone(),
                IntegrationKind::Oauth(_) => None,
            };
            (probe_url(slot)?, slot.profile.wire.clone(), username, slot.flight.clone())
        };
        let _flight = flight.lock_owned().await;
        let secrets = self.secrets(name).await.ok()?;
        let token = secrets
            .api_token
            .as_ref()
            .map(|t| t.expose().to_string())
            .or_else(|| secrets.access_token.as_ref().map(|t| t.expose().to_string()))?;
        let credential = match &username {
            Some(u) => Credential::Basic { username: u, token: &token },
            None => Credential::Bearer(&token),
        };
        // HighQ's probe names the account the service reported at sign-in (`{account}`).
        let outcome = match providers::fill_account(&url, secrets.account.as_deref()) {
            Some(url) => probe(&self.inner.http, &url, credential, &wire).await,
            None => ProbeOutcome::Inconclusive {
                reason: "the service did not say which account signed in, so the token cannot be checked".into(),
                retry_after: None,
            },
        };
        let recorded = outcome.clone();
        self.commit(name, move |slot, now| {
            let (accepted, reason, retry) = match &recorded {
                ProbeOutcome::Accepted => (true, None, None),
                ProbeOutcome::Refused { reason } => (false, Some(reason.clone()), None),
                ProbeOutcome::Inconclusive { reason, retry_after } => {
                    (false, Some(reason.clone()), Some(retry_delay(1, slot.jitter, *retry_after, None)))
                }
            };
            slot.record.history.push(now, HistoryEvent::Checked { accepted, reason });
            slot.record.probe_at_ms = Some(match retry {
                Some(delay) => now * 1000 + delay.as_millis() as i64,
                None => next_probe_ms(slot, now),
            });
            if accepted && slot.is_api_token() {
                slot.record.failures = 0;
            }
        });
        Some(outcome)
    }

    // ---- keeper actions -----------------------------------------------------------------------

    /// Pauses (nothing refreshed or checked) or resumes an integration.
    pub fn pause(&self, name: &str, paused: bool) -> Result<IntegrationView, KeeperError> {
        self.commit(name, |slot, now| {
            if slot.record.paused != paused {
                slot.record.paused = paused;
                slot.record.history.push(now, HistoryEvent::Paused { paused });
            }
            if !paused && slot.record.state == State::Paused {
                slot.record.state = State::Working;
            }
        })
        .ok_or_else(|| KeeperError::unknown(name))
    }

    /// Adds an integration (not yet signed in). The client secret goes to the keychain first;
    /// if that fails nothing is written.
    pub async fn add(
        &self,
        config: IntegrationConfig,
        client_secret: Option<ClientSecret>,
    ) -> Result<IntegrationView, KeeperError> {
        validate_name(&config.name).map_err(KeeperError::BadInput)?;
        let name = config.name.clone();
        let profile = providers::find(&config.provider)
            .ok_or_else(|| KeeperError::BadInput(format!("there is no provider called \"{}\"", config.provider)))?;
        let kind_matches = matches!(
            (&config.kind, profile.kind),
            (IntegrationKind::Oauth(_), ProfileKind::Oauth) | (IntegrationKind::ApiToken(_), ProfileKind::ApiToken)
        );
        if !kind_matches {
            return Err(KeeperError::BadInput(format!(
                "the provider \"{}\" is not for this kind of integration",
                config.provider
            )));
        }
        if self.lock().slots.contains_key(&name) || self.inner.paths.integration_config(&name).exists() {
            return Err(KeeperError::BadInput(format!("there is already an integration called \"{name}\"")));
        }
        if let Some(secret) = client_secret {
            let secrets = Secrets { client_secret: Some(secret), ..Secrets::default() };
            self.keychain_save(&name, &secrets).await?;
        }
        integrations::save(&self.inner.paths, &config)?;
        let mut record = Record::default();
        record.notices.problem = Some(crate::alerts::Problem::NeedsSignIn); // "not signed in yet" is no alarm
        record.history.push(self.inner.clock.now(), HistoryEvent::Added);
        self.lock().slots.insert(name.clone(), Slot::new(config, profile, record));
        self.commit(&name, |_, _| {}).ok_or_else(|| KeeperError::unknown(&name))
    }

    /// Removes an integration: revokes its refresh token at the service first when asked (and
    /// stops if that fails, so nothing is lost), then deletes its secrets and files.
    pub async fn remove(&self, name: &str, revoke: bool) -> Result<(), KeeperError> {
        let (config, profile) = self.config_of(name)?;
        if revoke {
            self.revoke(name, &config, &profile).await?;
        }
        let _exclusive = self.exclusive(name).await?;
        let (store, n) = (self.inner.store.clone(), name.to_string());
        keychain_call(move || store.delete(&n)).await?;
        integrations::remove(&self.inner.paths, name)
            .map_err(|e| KeeperError::Failed(format!("could not remove the files of \"{name}\": {e}")))?;
        {
            let mut shared = self.lock();
            shared.slots.remove(name);
            shared.queue.cancel(name);
        }
        let _ = std::fs::remove_file(self.inner.paths.lock_file(name));
        let _ = self.inner.events.send(super::Event::Removed { name: name.to_string() });
        Ok(())
    }

    async fn revoke(&self, name: &str, config: &IntegrationConfig, profile: &Profile) -> Result<(), KeeperError> {
        let IntegrationKind::Oauth(oauth) = &config.kind else { return Ok(()) };
        if oauth.revocation_url.is_none() {
            return Err(KeeperError::BadInput(format!(
                "the service of \"{name}\" offers no way to revoke; remove it without --revoke"
            )));
        }
        let Some(url) = oauth.revocation_url.clone() else { return Ok(()) };
        let secrets = self.secrets(name).await?;
        let (token, kind) = match (&secrets.refresh_token, &secrets.access_token) {
            (Some(r), _) => (r.expose().to_string(), TokenKind::Refresh),
            (None, Some(a)) => (a.expose().to_string(), TokenKind::Access),
            (None, None) => return Ok(()),
        };
        revoke(&self.inner.http, oauth, &url, &profile.wire, secrets.client_secret.as_ref(), &token, kind)
            .await
            .map_err(|e| {
                KeeperError::Unavailable(format!(
                    "could not revoke \"{name}\" at the service ({e}); nothing was removed"
                ))
            })
    }

    fn config_of(&self, name: &str) -> Result<(IntegrationConfig, Profile), KeeperError> {
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        Ok((slot.config.clone(), slot.profile.clone()))
    }

    fn oauth_of(&self, name: &str) -> Result<(OauthConfig, Profile), KeeperError> {
        match self.config_of(name)? {
            (IntegrationConfig { kind: IntegrationKind::Oauth(o), .. }, p) => Ok((o, p)),
            _ => Err(KeeperError::BadInput(format!(
                "\"{name}\" uses an API token: give it with `tokenkeeper login {}` on standard input",
                shell_word(name)
            ))),
        }
    }

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
        self.commit(name, |slot, _| slot.signin_pending = true);
        let client_secret = self.secrets(name).await.ok().and_then(|s| s.client_secret);
        let outcome =
            pending.finish(&self.inner.http, &oauth, &profile.wire, client_secret.as_ref(), SIGNIN_TIMEOUT).await;
        self.commit(name, |slot, _| slot.signin_pending = false);
        match outcome {
            SignInOutcome::SignedIn(grant) => self.store_signed_in(name, grant).await,
            SignInOutcome::TimedOut => {
                Err(KeeperError::BadInput("the sign-in was not completed within 5 minutes; nothing changed".into()))
            }
            SignInOutcome::Refused { reason } => {
                self.note(name, HistoryEvent::SignInFailed { reason: reason.clone() });
                Err(KeeperError::NeedsSignIn(format!("the sign-in did not succeed ({reason}); nothing changed")))
            }
            SignInOutcome::Failed { reason } => {
                self.note(name, HistoryEvent::SignInFailed { reason: reason.clone() });
                Err(KeeperError::Unavailable(format!("the sign-in could not be finished ({reason}); nothing changed")))
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
        self.commit(name, |slot, _| slot.signin_pending = true);
        let outcome = pending.finish(http, &oauth, &profile.wire, client_secret.as_ref(), DEVICE_TIMEOUT).await;
        self.commit(name, |slot, _| slot.signin_pending = false);
        match outcome {
            DeviceOutcome::SignedIn(grant) => self.store_signed_in(name, grant).await,
            other => self.device_failed(name, other),
        }
    }

    /// Where the integration's service takes device sign-ins: `device_authorization_endpoint`
    /// from its issuer's discovery document.
    async fn device_url(&self, name: &str, oauth: &OauthConfig, profile: &Profile) -> Result<Url, KeeperError> {
        let Some(issuer) = &oauth.issuer else {
            return Err(KeeperError::BadInput(format!(
                "\"{name}\" has no OpenID Connect issuer, so its device sign-in address is unknown; \
                 sign in with `tokenkeeper login {}` instead",
                shell_word(name)
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
                "{} does not offer device sign-in (its discovery document names no device_authorization_endpoint); \
                 sign in with `tokenkeeper login {}` instead",
                profile.name,
                shell_word(name)
            ))
        })
    }

    fn device_failed(&self, name: &str, outcome: DeviceOutcome) -> Result<IntegrationView, KeeperError> {
        match outcome {
            DeviceOutcome::SignedIn(_) => Err(KeeperError::Failed("unexpected device sign-in outcome".into())),
            DeviceOutcome::Expired => {
                Err(KeeperError::BadInput("the code was not confirmed before it expired; nothing changed".into()))
            }
            DeviceOutcome::Denied { reason } | DeviceOutcome::Refused { reason } => {
                self.note(name, HistoryEvent::SignInFailed { reason: reason.clone() });
                Err(KeeperError::NeedsSignIn(format!("the device sign-in did not succeed ({reason}); nothing changed")))
            }
            DeviceOutcome::Failed { reason } => {
                self.note(name, HistoryEvent::SignInFailed { reason: reason.clone() });
                Err(KeeperError::Unavailable(format!(
                    "the device sign-in could not be finished ({reason}); nothing changed"
                )))
            }
        }
    }

    fn note(&self, name: &str, event: HistoryEvent) {
        self.commit(name, |slot, now| slot.record.history.push(now, event));
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
        if self.lock().slots.get(name).is_some_and(|s| s.unsaved) {
            return Err(KeeperError::Failed(format!(
                "signed in, but the keychain did not accept the tokens; they are kept while Token Keeper runs ({})",
                view.detail.clone().unwrap_or_default()
            )));
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
                self.commit(name, move |slot, _| slot.record.sites = sites);
            }
            SitesOutcome::NotListed { reason } => {
                tracing::warn!("{name}: could not list the sites of the sign-in: {reason}");
                self.note(name, HistoryEvent::SitesNotListed { reason });
            }
        }
    }

    /// Checks an API token with the probe, then stores it. A refused or uncheckable token is
    /// not stored, and whatever was stored before stays.
    pub async fn store_api_token(&self, name: &str, token: ApiToken) -> Result<IntegrationView, KeeperError> {
        let (config, profile) = self.config_of(name)?;
        let IntegrationKind::ApiToken(api) = &config.kind else {
            return Err(KeeperError::BadInput(format!(
                "\"{name}\" uses OAuth: sign in with `tokenkeeper login {}`",
                shell_word(name)
            )));
        };
        let credential = match &api.username {
            Some(u) => Credential::Basic { username: u, token: token.expose() },
            None => Credential::Bearer(token.expose()),
        };
        match probe(&self.inner.http, &api.probe_url, credential, &profile.wire).await {
            ProbeOutcome::Accepted => {}
            ProbeOutcome::Refused { reason } => {
                return Err(KeeperError::BadInput(format!("this token does not work: {reason}; it was not saved")))
            }
            ProbeOutcome::Inconclusive { reason, .. } => {
                return Err(KeeperError::Unavailable(format!(
                    "the token could not be checked ({reason}); it was not saved"
                )))
            }
        }
        let flight = self.lock().slots.get(name).map(|s| s.flight.clone()).ok_or_else(|| KeeperError::unknown(name))?;
        let _flight = flight.lock_owned().await;
        let secrets = Secrets {
            api_token: Some(token),
            issued_at: Some(self.inner.clock.now()),
            clock: Some(self.inner.clock.stamp()),
            ..Secrets::default()
        };
        self.keychain_save(name, &secrets).await?;
        self.commit(name, move |slot, now| {
            if !slot.record.history.entries().any(|e| e.event == HistoryEvent::SignedIn) {
                slot.record.notices.problem = None;
            }
            slot.secrets = Some(secrets);
            slot.unsaved = false;
            slot.record.state = State::Working;
            slot.record.failures = 0;
            slot.record.history.push(now, HistoryEvent::SignedIn);
            slot.record.probe_at_ms = Some(next_probe_ms(slot, now));
        })
        .ok_or_else(|| KeeperError::unknown(name))
    }

    /// Keeps the tokens in memory when a save was refused earlier: retried at each tick.
    pub(super) async fn retry_unsaved(&self, name: &str) {
        let memory = self.lock().slots.get(name).filter(|s| s.unsaved).and_then(|s| s.secrets.clone());
        if let Some(memory) = memory {
            let saved = self.keychain_save(name, &memory).await;
            self.commit(name, |slot, now| {
                slot.unsaved = saved.is_err();
                if saved.is_ok() {
                    slot.record.retry_at_ms = None;
                    slot.record.detail = None;
                } else {
                    slot.record.retry_at_ms = Some(now * 1000 + 30_000);
                }
            });
        }
    }
}

/// Both locks of one integration, held together (see [`Keeper::exclusive`]).
struct Exclusive {
    _flight: tokio::sync::OwnedMutexGuard<()>,
    _file: crate::lock::IntegrationLock,
}

/// How long a keychain call may take. A locked keychain on a desktop may show an unlock prompt
/// and wait for the person; a script must not hang on it forever.
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Keychain calls running at once, per process. The Secret Service answers one call at a time
/// anyway; without a bound, 32 concurrent refreshes would park 32 blocking threads on it, and the
/// thread count would grow with the number of integrations.
static KEYCHAIN_CALLS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(2)));

/// Runs a blocking keychain call off the async runtime, with [`KEYCHAIN_TIMEOUT`] for waiting
/// for a turn and the call together. The turn goes with the blocking thread, so a call that hangs
/// past its timeout still holds it: a hung keychain cannot pile up threads.
async fn keychain_call<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let run = async {
        let turn = KEYCHAIN_CALLS.clone().acquire_owned().await.map_err(|e| StoreError::Failed(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            call()
        })
        .await
        .map_err(|e| StoreError::Failed(e.to_string()))
    };
    match tokio::time::timeout(KEYCHAIN_TIMEOUT, run).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StoreError::Locked(format!(
            "the keychain did not answer within {} s (is it waiting for you to unlock it?)",
            KEYCHAIN_TIMEOUT.as_secs()
        ))),
    }
}

/// The access token, if it is outside the renewal margin.
fn fresh(secrets: &Secrets, now_ms: i64) -> Option<AccessToken> {
    let token = secrets.access_token.clone()?;
    match secrets.access_expires_at {
        None => Some(token),
        Some(exp) => {
            let issued = secrets.issued_at.unwrap_or(exp) * 1000;
            (!inside_margin(now_ms, issued, exp * 1000)).then_some(token)
        }
    }
}

fn fail_transiently(slot: &mut Slot, now: i64, now_ms: i64, reason: String, retry_after: Option<Duration>) {
    slot.record.failures += 1;
    let left = slot.record.access_expires_at.map(|e| (e - now) * 1000);
    let delay = retry_delay(slot.record.failures, rand::random(), retry_after, left);
    // Milliseconds, not the commit's whole seconds: a `Retry-After: 3` must mean 3 s, not 2.1.
    slot.record.retry_at_ms = Some(now_ms + delay.as_millis() as i64);
    slot.not_before_ms = retry_after.map(|floor| now_ms + floor.as_millis() as i64);
    slot.failed_at_ms = Some(now_ms);
    slot.record.history.push(now, HistoryEvent::RefreshFailed { reason: reason.clone(), transient: true });
    slot.record.detail = Some(reason);
}

fn copy_times(record: &mut Record, secrets: &Secrets) {
    record.issued_at = secrets.issued_at;
    record.access_expires_at = secrets.access_expires_at;
    if secrets.refresh_expires_at.is_some() || secrets.refresh_token.is_some() {
        record.refresh_expires_at = secrets.refresh_expires_at;
    }
}

fn probe_url(slot: &Slot) -> Option<Url> {
    match &slot.config.kind {
        IntegrationKind::ApiToken(a) => Some(a.probe_url.clone()),
        IntegrationKind::Oauth(o) => o.probe_url.clone(),
    }
}

/// The next probe: the integration's interval, minus up to a tenth of it as jitter.
fn next_probe_ms(slot: &Slot, now: i64) -> i64 {
    let interval = slot.config.probe_interval_secs.max(5) as i64 * 1000;
    now * 1000 + interval - (interval as f64 * 0.1 * rand::random::<f64>()) as i64
}

/// The JSON path of a parse problem, never the value.
fn field_of(e: &serde_json::Error) -> String {
    format!("line {}, column {}", e.line(), e.column())
}

/// A name as one shell word, for hints people copy ("tokenkeeper login 'HighQ reporting'").
fn shell_word(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

//! Renewing and checking: one refresh under both locks with every outcome committed, the probe
//! (a refused token gets one forced renewal before `Needs sign-in`), and, when a provider answers
//! again after trouble, the other integrations waiting for it pulled forward.

use super::freshness::fresh;
use super::{Keeper, KeeperError, Slot};
use crate::actions::oauth::Grant;
use crate::actions::probe::{probe, Credential, ProbeOutcome};
use crate::actions::refresh::{refresh, RefreshOutcome};
use crate::clock::{Moment, Span};
use crate::model::{IntegrationKind, IntegrationView, Secrets, State};
use crate::phrases::{view_words, Failure, Reason};
use crate::providers;

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
pub(super) enum Issued {
    /// An interactive sign-in or a handed-over response: counted from now.
    SignedIn,
    /// A renewal: counted from when the keeper asked, not from the answer.
    Renewed { asked_at: Moment },
}

/// When the provider is seen back, the integrations waiting for it retry within this time.
const PROVIDER_BACK_SPREAD: Span = Span::from_millis(2_000);
/// ...but not sooner after their own last failure than this.
const PULL_AFTER_FAILURE: Span = Span::from_millis(5_000);

impl Keeper {
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
        let now = self.inner.clock.now();
        match view.state {
            State::NeedsSignIn => Err(KeeperError::NeedsSignIn(view_words(&view, now.secs()))),
            State::Retrying | State::Offline => Err(KeeperError::Unavailable(view_words(&view, now.secs()))),
            _ => Ok(view),
        }
    }

    fn has_probe(&self, name: &str) -> bool {
        self.lock().slots.get(name).is_some_and(|s| s.probe_url().is_some())
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
        // The locks or the keychain failed: an attempt that failed, retried like any other.
        let shared = self.is_shared(name);
        let failed = |e: KeeperError| {
            if shared {
                return self.vault_failed(name, &e);
            }
            let reason = local_reason(&e);
            self.commit(name, |slot, now| slot.failed_transiently(reason, None, now));
        };
        if shared && why != Why::Forced {
            // Another keeper may have renewed already: the record is read first, and the lease
            // (a write, and a wait while someone else holds it) taken only to renew.
            match self.shared_reconcile(name).await {
                Ok(_) if self.state_of(name).ok() == Some(State::NeedsSignIn) => return,
                Ok(secrets) if !self.renewal_needed(name, why, &secrets) => {
                    self.commit(name, |_, _| {});
                    return;
                }
                Ok(_) => {}
                Err(e) => return failed(e),
            }
        }
        let settled = || {
            let secrets = self.lock().slots.get(name).and_then(|s| s.secrets().cloned()).unwrap_or_default();
            why != Why::Forced
                && (self.state_of(name).ok() == Some(State::NeedsSignIn) || !self.renewal_needed(name, why, &secrets))
        };
        let _exclusive = match self.exclusive_unless(name, Some(&settled)).await {
            Ok(held) if held.settled() => {
                self.commit(name, |_, _| {});
                return;
            }
            Ok(held) => held,
            Err(e) => return failed(e),
        };
        let secrets = match self.reconcile(name).await {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        if self.state_of(name).ok() == Some(State::NeedsSignIn) && why != Why::Forced {
            return;
        }
        if !self.renewal_needed(name, why, &secrets) {
            self.commit(name, |_, _| {});
            return;
        }
        if !_exclusive.may_renew() {
            let reason = Reason::new(Failure::VaultReadOnly, "the team vault's rules let this keeper read, not write");
            self.commit(name, |slot, now| slot.failed_transiently(reason, None, now));
            return;
        }
        let Some(refresh_token) = secrets.refresh_token.clone() else {
            self.commit(name, |slot, _| slot.refused(Reason::new(Failure::NoRenewal, "no refresh token")));
            return;
        };
        self.commit(name, |slot, _| slot.set_busy(true));
        // The provider's clock started the new token somewhere between asking and the answer:
        // its life is counted from the asking, so a slow answer (seconds, on a bad network)
        // never makes the keeper believe a token lives longer than it does.
        let asked_at = self.inner.clock.now();
        let outcome =
            refresh(&self.inner.http, &oauth, &profile.wire, secrets.client_secret.as_ref(), &refresh_token).await;
        match outcome {
            RefreshOutcome::Refreshed(grant) => {
                match grant.expires_in {
                    Some(life) => tracing::info!("{name}: renewed (the new token is valid for {} s)", life.secs()),
                    None => tracing::info!("{name}: renewed (the service did not say for how long)"),
                }
                let after_trouble = self.lock().slots.get(name).is_some_and(|s| s.record().failures > 0);
                self.store_grant_locked(name, &secrets, grant, Issued::Renewed { asked_at }).await;
                if after_trouble {
                    self.provider_is_back(name);
                }
            }
            RefreshOutcome::TransientError { reason, retry_after } => {
                tracing::warn!("{name}: renewal failed, will retry: {}", reason.for_log());
                self.commit(name, |slot, now| slot.failed_transiently(reason, retry_after, now));
            }
            RefreshOutcome::PermanentError { reason } => {
                tracing::warn!("{name}: needs sign-in: {}", reason.for_log());
                if shared {
                    self.shared_mark_refused(name, &reason).await;
                }
                self.commit(name, |slot, now| slot.renewal_refused(reason, now));
            }
        }
    }

    /// Whether a renewal asked for `why` must call the service, with `secrets` as the current
    /// ones: an explicit one always; after a failure only the scheduled retry (scripts asking for
    /// a token in a loop must not defeat the backoff); otherwise only when the token is due.
    fn renewal_needed(&self, name: &str, why: Why, secrets: &Secrets) -> bool {
        let now = self.inner.clock.now();
        let (renew_at, retry_at) =
            self.lock().slots.get(name).map(|s| (s.renew_at(), s.record().retry_at)).unwrap_or_default();
        let backing_off = retry_at.is_some_and(|t| now < t);
        match why {
            Why::Forced => true,
            Why::TokenRequest => !(backing_off || fresh(secrets, now).is_some()),
            Why::Scheduled => !(backing_off || (retry_at.is_none() && renew_at.is_some_and(|at| now < at))),
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
        let now = self.inner.clock.now();
        let waiting: Vec<(String, Moment)> = {
            let shared = self.lock();
            let Some(origin) = shared.slots.get(name).and_then(Slot::token_origin) else { return };
            shared
                .slots
                .iter()
                .filter(|(other, slot)| {
                    *other != name
                        && slot.waits_for_its_provider(now, PROVIDER_BACK_SPREAD, PULL_AFTER_FAILURE)
                        && slot.token_origin().as_ref() == Some(&origin)
                })
                .map(|(other, slot)| {
                    let soon = now.plus(PROVIDER_BACK_SPREAD.scale(rand::random::<f64>()));
                    (other.clone(), soon.max(slot.not_before().unwrap_or(Moment::EPOCH)))
                })
                .collect()
        };
        if !waiting.is_empty() {
            tracing::info!("{name}: the provider answers again; {} other integrations retry now", waiting.len());
        }
        for (other, at) in waiting {
            self.commit(&other, |slot, _| slot.pulled_forward(at));
        }
    }

    /// Stores new tokens: keychain first, then memory and record. If the keychain write fails
    /// the tokens stay in memory (marked unsaved, retried at the next tick) — never dropped.
    pub(super) async fn store_grant_locked(&self, name: &str, previous: &Secrets, grant: Grant, issued: Issued) {
        let rule = self.lock().slots.get(name).map(|s| s.profile.refresh_token.clone()).unwrap_or_default();
        let stamp = self.inner.clock.stamp();
        let (issued_at, signed_in) = match issued {
            Issued::SignedIn => (self.inner.clock.now(), true),
            Issued::Renewed { asked_at } => (asked_at, false),
        };
        let mut new = grant.apply_to(previous, issued_at, &rule);
        new.clock = Some(stamp);
        if self.is_shared(name) {
            return self.publish_renewal(name, new, signed_in).await;
        }
        let saved = self.keychain_save(name, &new).await.map_err(|e| e.to_string());
        self.commit(name, move |slot, now| match signed_in {
            true => slot.signed_in(new, saved, now),
            false => slot.renewed(new, saved, now),
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
                    let technical = reason.technical.map(|t| format!("{t}, even after renewing it"));
                    self.mark_refused(name, Reason { failure: Failure::RefusedAfterRenewal, technical }).await;
                }
            }
            Some(ProbeOutcome::Refused { reason }) => self.mark_refused(name, reason).await,
            _ => {}
        }
    }

    /// The token is refused for good; a shared integration's record says so for every keeper.
    async fn mark_refused(&self, name: &str, reason: Reason) {
        if self.is_shared(name) {
            self.shared_mark_refused(name, &reason).await;
        }
        self.commit(name, |slot, _| slot.refused(reason));
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
            (slot.probe_url()?, slot.profile.wire.clone(), username, slot.flight.clone())
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
                reason: Reason::new(Failure::AccountUnknown, "no account to fill {account} in the check's address"),
                retry_after: None,
            },
        };
        self.commit(name, |slot, now| slot.checked(&outcome, now));
        Some(outcome)
    }
}

/// A failure on this computer (the locks, the keychain) as a reason.
pub(super) fn local_reason(e: &KeeperError) -> Reason {
    let failure = match e {
        KeeperError::KeychainLocked(_) => Failure::KeychainLocked,
        _ => Failure::LocalProblem,
    };
    Reason::new(failure, e.to_string())
}

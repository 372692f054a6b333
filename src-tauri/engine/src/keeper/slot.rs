//! One integration as the keeper holds it in memory, and the pure rules that turn its facts
//! into a state, a view for shells, and its next deadline.

use std::sync::Arc;

use crate::clock::ClockStamp;
use crate::model::{IntegrationConfig, IntegrationKind, IntegrationView, NextAction, Secrets, State, UnixTime};
use crate::providers::Profile;
use crate::record::Record;
use crate::scheduler::renew_at_ms;

/// The keeper's in-memory copy of one integration.
pub struct Slot {
    pub config: IntegrationConfig,
    pub profile: Profile,
    pub record: Record,
    /// The secrets, once read from the keychain (read lazily: a `token` call for one integration
    /// must not read the keychain items of all of them).
    pub secrets: Option<Secrets>,
    /// `secrets` holds tokens the keychain does not have yet (a write failed): they must be
    /// written before anything else, and never be dropped.
    pub unsaved: bool,
    /// Single flight in this process: held for the whole of a refresh, probe or sign-in.
    pub flight: Arc<tokio::sync::Mutex<()>>,
    /// A refresh or probe is under way (shown as `Refreshing`).
    pub busy: bool,
    pub signin_pending: bool,
    /// This integration's fixed jitter in [0, 1), so it renews at a stable, spread-out moment.
    pub jitter: f64,
    /// A hash of the record file as last written (or read), so a commit that changes nothing
    /// writes nothing: each write is two fsyncs, and a refresh commits four times.
    pub saved_hash: Option<u64>,
}

impl Slot {
    pub fn new(config: IntegrationConfig, profile: Profile, record: Record) -> Self {
        Self {
            config,
            profile,
            record,
            secrets: None,
            unsaved: false,
            flight: Arc::new(tokio::sync::Mutex::new(())),
            busy: false,
            signin_pending: false,
            jitter: rand::random::<f64>(),
            saved_hash: None,
        }
    }

    /// Brings the record's and the in-memory secrets' times into the clock frame `now`
    /// (see [`crate::clock`]): a no-op unless the wall clock was stepped since they were written.
    pub fn follow_clock(&mut self, now: &ClockStamp) {
        let calendar = self.is_api_token();
        self.record.follow_clock(now, calendar);
        if let Some(secrets) = &mut self.secrets {
            secrets.follow_clock(now);
        }
    }

    pub fn is_api_token(&self) -> bool {
        matches!(self.config.kind, IntegrationKind::ApiToken(_))
    }

    /// When the refresh token (OAuth) or API token ends, if known.
    pub fn credential_expires_at(&self) -> Option<UnixTime> {
        match &self.config.kind {
            IntegrationKind::ApiToken(api) => api.expires.map(|d| d.midnight().assume_utc().unix_timestamp()),
            IntegrationKind::Oauth(_) => self.record.refresh_expires_at,
        }
    }

    /// The service's name for notices: the profile's, or the host for generic OAuth.
    pub fn service_name(&self) -> String {
        let url = match &self.config.kind {
            IntegrationKind::Oauth(o) => o.issuer.clone().unwrap_or_else(|| o.token_url.clone()),
            IntegrationKind::ApiToken(a) => a.probe_url.clone(),
        };
        if self.profile.id == "oauth2" || self.profile.id == "api-token" {
            url.host_str().map(str::to_string).unwrap_or_else(|| self.profile.name.clone())
        } else {
            self.profile.name.clone()
        }
    }

    /// How long the current access token was issued for, in seconds, if known.
    pub fn access_lifetime(&self) -> Option<i64> {
        Some(self.record.access_expires_at? - self.record.issued_at?)
    }

    /// When to renew the access token (wall clock, ms), from the copy of its times in the record.
    pub fn renew_at_ms(&self) -> Option<i64> {
        let expires = self.record.access_expires_at? * 1000;
        let issued = self.record.issued_at.map(|t| t * 1000).unwrap_or(expires);
        Some(renew_at_ms(issued, expires, self.jitter))
    }

    /// The state the facts call for. `NeedsSignIn` is sticky: only a sign-in clears it.
    pub fn settle(&mut self, now: UnixTime, warn_days: u32) {
        self.record.state = if self.record.paused {
            State::Paused
        } else if self.record.state == State::NeedsSignIn {
            State::NeedsSignIn
        } else if self.busy {
            State::Refreshing
        } else if self.record.failures > 0 {
            match self.record.access_expires_at {
                Some(t) if t <= now => State::Offline,
                None if self.is_api_token() => State::Offline,
                _ => State::Retrying,
            }
        } else if self.credential_expires_at().is_some_and(|t| t - now <= i64::from(warn_days) * 86_400) {
            State::ExpiringSoon
        } else {
            State::Working
        };
        if matches!(self.record.state, State::Working | State::ExpiringSoon | State::Paused) {
            self.record.detail = None;
        }
    }

    /// What happens next, for "Renews in 3 h".
    pub fn next_action(&self) -> NextAction {
        if self.record.paused || self.record.state == State::NeedsSignIn {
            return NextAction::WaitForKeeper;
        }
        if let Some(retry) = self.record.retry_at_ms {
            return NextAction::Retry(retry / 1000);
        }
        match (self.renew_at_ms(), self.record.probe_at_ms) {
            (Some(renew), Some(probe)) if probe < renew => NextAction::Check(probe / 1000),
            (Some(renew), _) => NextAction::Renew(renew / 1000),
            (None, Some(probe)) => NextAction::Check(probe / 1000),
            (None, None) => NextAction::WaitForKeeper,
        }
    }

    /// The next moment the keeper must look at this integration (wall clock, ms).
    pub fn next_deadline_ms(&self, now: UnixTime, leads: &[u32]) -> Option<i64> {
        if self.record.paused || self.record.state == State::NeedsSignIn {
            return None;
        }
        let mut candidates: Vec<i64> = Vec::with_capacity(5);
        match self.record.retry_at_ms {
            Some(retry) => candidates.push(retry),
            None => candidates.extend(self.renew_at_ms()),
        }
        candidates.extend(self.record.probe_at_ms);
        if self.record.failures > 0 {
            // While failing: wake for the "stops working soon" notice and for going offline.
            if let Some(exp) = self.record.access_expires_at {
                for t in [exp - crate::alerts::stops_working_lead(self.access_lifetime()), exp] {
                    if t > now {
                        candidates.push(t * 1000);
                    }
                }
            }
        }
        if let Some(end) = self.credential_expires_at() {
            candidates.extend(
                leads.iter().map(|d| end - i64::from(*d) * 86_400).filter(|t| *t > now).map(|t| t * 1000).min(),
            );
        }
        candidates.into_iter().min()
    }

    pub fn view(&self) -> IntegrationView {
        IntegrationView {
            name: self.config.name.clone(),
            provider: self.config.provider.clone(),
            kind: if self.is_api_token() { "api-token".into() } else { "oauth".into() },
            state: self.record.state,
            detail: self.record.detail.clone(),
            access_expires_at: self.record.access_expires_at,
            refresh_expires_at: self.credential_expires_at(),
            next: self.next_action(),
            signin_pending: self.signin_pending,
        }
    }
}

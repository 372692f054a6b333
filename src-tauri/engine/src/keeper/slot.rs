//! One integration as the keeper holds it in memory: its state machine — the transitions a
//! sign-in, a renewal, a failure, a refusal, a check or a pause make, as methods, the only
//! writers of its record — and the pure rules that turn its facts into a state, the facts the
//! notice rules read, a view for shells, and its next deadline. `keeper/*` orchestrates (locks,
//! keychain, network) and calls these; it does not write the record itself.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::actions::probe::ProbeOutcome;
use crate::alerts::Facts;
use crate::calendar::Calendar;
use crate::clock::{ClockStamp, Moment, Span};
use crate::history::HistoryEvent;
use crate::model::{IntegrationConfig, IntegrationKind, IntegrationView, NextAction, Secrets, Site, State};
use crate::phrases::{self, Failure, Reason, Subject};
use crate::providers::{self, Profile};
use crate::record::Record;
use crate::scheduler::{renew_at, retry_delay, MIN_RENEW_SPACING};
use crate::shared::store::Version;

/// When tokens kept only in memory (a keychain write failed) are offered to the keychain again,
/// right after the failed write and then at each retry.
const UNSAVED_RETRY_FIRST: Span = Span::from_millis(5_000);
const UNSAVED_RETRY: Span = Span::from_millis(30_000);

/// The name of a generic profile's service whose address has no host (none can: addresses are
/// https or loopback http).
pub const UNNAMED_SERVICE: &str = "The service";

/// Where an integration lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// On this computer: settings in a file, secrets in the keychain.
    Local,
    /// In the team vault; `seen` is the version of its shared record this keeper last read or
    /// wrote (what its memory holds).
    Shared { seen: Version },
}

/// The keeper's in-memory copy of one integration.
pub struct Slot {
    pub config: IntegrationConfig,
    pub profile: Profile,
    home: Home,
    /// What is persisted; written only by the transitions below.
    record: Record,
    /// The secrets, once read from the keychain (read lazily: a `token` call for one integration
    /// must not read the keychain items of all of them).
    secrets: Option<Secrets>,
    /// `secrets` holds tokens the keychain does not have yet (a write failed): they must be
    /// written before anything else, and never be dropped.
    unsaved: bool,
    /// Single flight in this process: held for the whole of a refresh, probe or sign-in.
    pub(super) flight: Arc<tokio::sync::Mutex<()>>,
    /// A refresh or probe is under way (shown as `Refreshing`).
    busy: bool,
    signin_pending: bool,
    /// This integration's fixed jitter in [0, 1), so it renews at a stable, spread-out moment.
    jitter: f64,
    /// The provider's last `Retry-After` ends here: no retry before, even when the provider is
    /// seen back through another integration.
    not_before: Option<Moment>,
    /// When its last renewal attempt failed.
    failed_at: Option<Moment>,
    /// A hash of the record file as last written (or read), so a commit that changes nothing
    /// writes nothing: each write is two fsyncs, and a refresh commits four times.
    pub(super) saved_hash: Option<u64>,
    /// Numbers the record writes of this integration; `written` is the newest one on disk. Writes
    /// happen outside the state mutex, so two commits could otherwise land out of order, and with
    /// `saved_hash` an older file would then stay.
    pub(super) write_seq: u64,
    pub(super) written: Arc<std::sync::Mutex<u64>>,
}

impl Slot {
    pub fn new(config: IntegrationConfig, profile: Profile, record: Record) -> Self {
        Self {
            config,
            profile,
            home: Home::Local,
            record,
            secrets: None,
            unsaved: false,
            flight: Arc::new(tokio::sync::Mutex::new(())),
            busy: false,
            signin_pending: false,
            jitter: rand::random::<f64>(),
            not_before: None,
            failed_at: None,
            saved_hash: None,
            write_seq: 0,
            written: Arc::default(),
        }
    }

    /// A shared integration as read from the team vault at `seen`, with its secrets.
    pub fn shared(
        config: IntegrationConfig,
        profile: Profile,
        record: Record,
        seen: Version,
        secrets: Secrets,
    ) -> Self {
        let mut slot = Self::new(config, profile, record);
        slot.home = Home::Shared { seen };
        slot.adopted(secrets);
        slot
    }

    pub fn home(&self) -> Home {
        self.home
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.home, Home::Shared { .. })
    }

    /// This keeper read or wrote version `seen` of the shared record (ignored for a local one).
    pub fn saw_version(&mut self, seen: Version) {
        if let Home::Shared { seen: known } = &mut self.home {
            *known = seen;
        }
    }

    /// The persisted record, to read.
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The record to write directly: tests only, to set a situation up.
    #[cfg(test)]
    pub fn record_mut(&mut self) -> &mut Record {
        &mut self.record
    }

    /// The secrets in memory, if read yet.
    pub fn secrets(&self) -> Option<&Secrets> {
        self.secrets.as_ref()
    }

    /// Memory holds tokens the keychain does not have yet.
    pub fn unsaved(&self) -> bool {
        self.unsaved
    }

    /// The secrets in memory, or `loaded` (from the keychain) kept as them when there are none.
    pub fn secrets_or(&mut self, loaded: Secrets) -> Secrets {
        self.secrets.get_or_insert(loaded).clone()
    }

    /// Tokens kept only in memory were written (or not) inside the refresh locks.
    pub fn unsaved_tokens_written(&mut self, saved: bool) {
        self.unsaved = !saved;
    }

    /// A sign-in waits for the keeper (the browser is open, a device code is shown), or not.
    pub fn sign_in_pending(&mut self, pending: bool) {
        self.signin_pending = pending;
    }

    // ---- transitions: the only writers of the record ----

    /// New tokens from a sign-in (interactive, a handed-over response, an API token entered) are
    /// in memory; `saved` says whether the keychain took them. Working again, failures
    /// forgotten, the next check scheduled; the first sign-in is no "working again".
    pub fn signed_in(&mut self, secrets: Secrets, saved: Result<(), String>, now: Moment) {
        self.signed_in_as(HistoryEvent::SignedIn, secrets, saved, now);
    }

    /// A shared integration was signed in (or given a new token) on another keeper: as
    /// [`Slot::signed_in`], said as such in the history.
    pub fn signed_in_elsewhere(&mut self, secrets: Secrets, now: Moment) {
        self.signed_in_as(HistoryEvent::SignedInElsewhere, secrets, Ok(()), now);
    }

    fn signed_in_as(&mut self, event: HistoryEvent, secrets: Secrets, saved: Result<(), String>, now: Moment) {
        let signed_in_before = self
            .record
            .history
            .entries()
            .any(|e| matches!(e.event, HistoryEvent::SignedIn | HistoryEvent::SignedInElsewhere));
        if !signed_in_before {
            self.record.notices.problem = None;
        }
        self.take_tokens(secrets);
        self.record.state = State::Working;
        if !self.is_api_token() {
            // a provider's absolute limit counts from here (API tokens have none)
            self.record.signed_in_at = Some(now.whole_secs());
        }
        self.record.history.push(now, event);
        self.record.probe_at = self.probe_url().map(|_| self.next_probe(now));
        self.tokens_stored(saved, now);
    }

    /// New tokens from a renewal are in memory; `saved` says whether the keychain took them.
    pub fn renewed(&mut self, secrets: Secrets, saved: Result<(), String>, now: Moment) {
        self.take_tokens(secrets);
        let expires_at = self.record.access_expires_at.map(Moment::secs);
        self.record.history.push(now, HistoryEvent::Refreshed { expires_at });
        self.tokens_stored(saved, now);
    }

    /// The keychain's tokens are the current ones (read inside the refresh locks: another
    /// process may have renewed).
    pub fn adopted(&mut self, secrets: Secrets) {
        self.copy_times(&secrets);
        self.secrets = Some(secrets);
    }

    /// Another keeper renewed this shared integration (or signed in): its tokens are the current
    /// ones, and this keeper's own failed attempts no longer count.
    pub fn renewed_elsewhere(&mut self, secrets: Secrets) {
        self.take_tokens(secrets);
        self.not_before = None;
        self.failed_at = None;
    }

    /// Tokens kept only in memory were offered to the keychain again.
    pub fn unsaved_tokens_offered(&mut self, saved: bool, now: Moment) {
        self.unsaved_tokens_written(saved);
        if saved {
            self.record.retry_at = None;
            self.record.reason = None;
        } else {
            self.record.retry_at = Some(now.plus(UNSAVED_RETRY));
        }
    }

    /// A renewal (or the locks or keychain around it) failed in a way worth retrying: backoff,
    /// never sooner than a `Retry-After`, and a few tries left before the token expires.
    pub fn failed_transiently(&mut self, reason: Reason, retry_after: Option<Duration>, now: Moment) {
        self.busy = false;
        self.record.failures = self.record.failures.saturating_add(1);
        let left = self.record.access_expires_at.map(|e| e.since(now));
        let delay = retry_delay(self.record.failures, rand::random(), retry_after, left);
        self.record.retry_at = Some(now.plus(Span::from_std(delay)));
        self.not_before = retry_after.map(|floor| now.plus(Span::from_std(floor)));
        self.failed_at = Some(now);
        let mut event = HistoryEvent::refresh_failed(&reason);
        if let HistoryEvent::RefreshFailed { transient, .. } = &mut event {
            *transient = true;
        }
        self.record.history.push(now, event);
        self.record.reason = Some(reason);
    }

    /// The service refused the renewal for good (the grant is gone): the keeper must sign in.
    pub fn renewal_refused(&mut self, reason: Reason, now: Moment) {
        self.busy = false;
        let mut event = HistoryEvent::refresh_failed(&reason);
        if let HistoryEvent::RefreshFailed { transient, .. } = &mut event {
            *transient = false;
        }
        self.record.history.push(now, event);
        self.record.failures = 0;
        self.record.retry_at = None;
        self.refused(reason);
    }

    /// The keeper must sign in again (the service refused the token or the grant, or there is
    /// nothing to renew with): the one place `Needs sign-in` is set. Sticky until a sign-in.
    pub fn refused(&mut self, reason: Reason) {
        self.record.state = State::NeedsSignIn;
        self.record.reason = Some(reason);
    }

    /// A check of the token ended with `outcome`: recorded, and the next one scheduled (sooner
    /// after an inconclusive one). A refusal is not decided here (an OAuth token gets one forced
    /// renewal first): see [`Slot::refused`].
    pub fn checked(&mut self, outcome: &ProbeOutcome, now: Moment) {
        let (accepted, reason, retry) = match outcome {
            ProbeOutcome::Accepted => (true, None, None),
            ProbeOutcome::Refused { reason } => (false, Some(reason), None),
            ProbeOutcome::Inconclusive { reason, retry_after } => {
                (false, Some(reason), Some(retry_delay(1, self.jitter, *retry_after, None)))
            }
        };
        self.record.history.push(
            now,
            HistoryEvent::Checked {
                accepted,
                reason: reason.map(|r| r.technical.clone().unwrap_or_default()),
                failure: reason.map(|r| r.failure.clone()),
            },
        );
        self.record.probe_at = Some(match retry {
            Some(delay) => now.plus(Span::from_std(delay)),
            None => self.next_probe(now),
        });
        if accepted && self.is_api_token() {
            self.record.failures = 0;
        }
    }

    /// Its provider answers again: if it waits to retry later than `at`, it retries at `at`,
    /// with one failure counted (still "retrying", and a failure now waits seconds, not 30).
    pub fn pulled_forward(&mut self, at: Moment) {
        if self.record.retry_at.is_some_and(|t| t > at) {
            self.record.retry_at = Some(at);
            self.record.failures = self.record.failures.min(1);
        }
    }

    /// Pauses (nothing renewed or checked) or resumes.
    pub fn paused(&mut self, paused: bool, now: Moment) {
        if self.record.paused != paused {
            self.record.paused = paused;
            self.record.history.push(now, HistoryEvent::Paused { paused });
        }
        if !paused && self.record.state == State::Paused {
            self.record.state = State::Working;
        }
    }

    /// A renewal or check is under way (or over).
    pub fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
    }

    /// The sites the sign-in reaches, as the service listed them.
    pub fn sites_listed(&mut self, sites: Vec<Site>) {
        self.record.sites = sites;
    }

    /// Something happened worth the history (a sign-in that failed, sites not listed).
    pub fn noted(&mut self, event: HistoryEvent, now: Moment) {
        self.record.history.push(now, event);
    }

    /// Settles the state (see [`Slot::settle`]) and records a change in the history.
    pub fn settle_and_note(&mut self, now: Moment, warn_days: u32) {
        let before = self.record.state;
        self.settle(now, warn_days);
        let after = self.record.state;
        if before != after {
            self.record.history.push(now, HistoryEvent::StateChanged { from: before, to: after });
        }
    }

    /// The notices due now, recorded in its ledger (kept until shown) and its history.
    pub fn notices_due(&mut self, now: Moment, leads: &[u32]) -> Vec<crate::notify::Notice> {
        let service = self.service_name();
        let name = self.config.name.clone();
        let calendar = Calendar::system();
        let mut ledger = std::mem::take(&mut self.record.notices);
        let notices = crate::alerts::decide(&self.facts(&name, &service, now, leads, &calendar), &mut ledger);
        self.record.notices = ledger;
        self.record.notices.await_showing(&notices);
        for n in &notices {
            self.record.history.push(now, HistoryEvent::Notified { summary: n.summary.clone() });
        }
        notices
    }

    /// A notice was shown by the desktop.
    pub fn notice_shown(&mut self, notice: &crate::notify::Notice) {
        self.record.notices.shown(notice);
    }

    /// Drops the waiting notices that no longer apply to its state.
    pub fn stale_notices_dropped(&mut self) {
        let state = self.record.state;
        self.record.notices.unshown.retain(|n| crate::alerts::NoticeLedger::still_relevant(n, state));
    }

    /// What the notice rules look at.
    pub fn facts<'a>(
        &'a self,
        name: &'a str,
        service: &'a str,
        now: Moment,
        leads: &'a [u32],
        calendar: &'a Calendar,
    ) -> Facts<'a> {
        Facts {
            name,
            service,
            state: self.record.state,
            kind: self.config.kind.kind(),
            failure: self.record.reason.as_ref().map(|r| &r.failure),
            calendar,
            access_expires_at: self.record.access_expires_at.map(Moment::secs),
            access_lifetime: self.access_lifetime().map(Span::secs),
            credential_expires_at: self.credential_expires_at().map(Moment::secs),
            absolute_limit_days: self.ended_by_absolute_limit(),
            now: now.secs(),
            expiry_leads_days: leads,
        }
    }

    /// Tokens just stored: in memory and their times in the record, failures forgotten.
    fn take_tokens(&mut self, secrets: Secrets) {
        self.busy = false;
        self.adopted(secrets);
        self.record.failures = 0;
        self.record.retry_at = None;
    }

    /// After a store: a failed keychain write keeps the tokens in memory, says so, and is
    /// retried shortly; they are never dropped.
    fn tokens_stored(&mut self, saved: Result<(), String>, now: Moment) {
        self.unsaved = saved.is_err();
        if let Err(e) = saved {
            let (failure, event) = match self.home {
                Home::Local => (Failure::KeychainRefused, HistoryEvent::KeychainWriteFailed { reason: e.clone() }),
                Home::Shared { .. } => {
                    (Failure::VaultUnreachable, HistoryEvent::VaultWriteFailed { reason: e.clone() })
                }
            };
            self.record.reason = Some(Reason::new(failure, e));
            self.record.history.push(now, event);
            self.record.retry_at = Some(now.plus(UNSAVED_RETRY_FIRST));
        }
    }

    /// The record keeps a copy of the token times, for display without the keychain.
    fn copy_times(&mut self, secrets: &Secrets) {
        self.record.issued_at = secrets.issued_at;
        self.record.access_expires_at = secrets.access_expires_at;
        if secrets.refresh_expires_at.is_some() || secrets.refresh_token.is_some() {
            self.record.refresh_expires_at = secrets.refresh_expires_at;
        }
    }

    // ---- rules ----

    /// Where its token is checked, if anywhere.
    pub fn probe_url(&self) -> Option<Url> {
        match &self.config.kind {
            IntegrationKind::ApiToken(a) => Some(a.probe_url.clone()),
            IntegrationKind::Oauth(o) => o.probe_url.clone(),
        }
    }

    /// The next check: the integration's interval, minus up to a tenth of it as jitter.
    fn next_probe(&self, now: Moment) -> Moment {
        let interval = Span::from_unsigned_secs(self.config.probe_interval_secs.max(5));
        now.plus(interval).minus(interval.scale(0.1 * rand::random::<f64>()))
    }

    /// Whether its provider being back may pull its retry forward to now: it waits to retry
    /// later than `spread` from now, its token has ended, it failed at least `quiet` ago.
    pub fn waits_for_its_provider(&self, now: Moment, spread: Span, quiet: Span) -> bool {
        self.record.state != State::NeedsSignIn
            && !self.record.paused
            && self.record.retry_at.is_some_and(|t| t > now.plus(spread))
            && self.failed_at.is_none_or(|t| now.since(t) >= quiet)
            && self.record.access_expires_at.is_some_and(|e| e <= now)
    }

    /// No retry before this (the provider's last `Retry-After`).
    pub fn not_before(&self) -> Option<Moment> {
        self.not_before
    }

    /// Brings the record's and the in-memory secrets' times into the clock frame `now`
    /// (see [`crate::clock`]): a no-op unless the wall clock was stepped since they were written.
    /// The in-memory retry floor and last failure move with the record's times.
    pub fn follow_clock(&mut self, now: &ClockStamp) {
        let calendar = self.is_api_token();
        if let Some(step) = self.record.follow_clock(now, calendar) {
            crate::clock::shift_all([&mut self.not_before, &mut self.failed_at], step);
        }
        if let Some(secrets) = &mut self.secrets {
            secrets.follow_clock(now);
        }
    }

    pub fn is_api_token(&self) -> bool {
        matches!(self.config.kind, IntegrationKind::ApiToken(_))
    }

    /// When the API token ends, or when the OAuth sign-in ends: the refresh token's end or the
    /// provider's absolute limit counted from the sign-in, whichever comes first; if known.
    pub fn credential_expires_at(&self) -> Option<Moment> {
        match &self.config.kind {
            IntegrationKind::ApiToken(api) => {
                let ends = api.expires_at.or_else(|| api.expires.map(|d| Calendar::system().end_of_day(d)));
                ends.map(Moment::from_secs)
            }
            IntegrationKind::Oauth(_) => providers::earliest(self.record.refresh_expires_at, self.sign_in_ends_at()),
        }
    }

    /// When the provider ends the sign-in however often it was renewed (Atlassian: 365 days
    /// after it), if it has such a limit and the sign-in time is known.
    pub fn sign_in_ends_at(&self) -> Option<Moment> {
        match &self.config.kind {
            IntegrationKind::ApiToken(_) => None,
            IntegrationKind::Oauth(_) => self.profile.refresh_token.absolute_end(self.record.signed_in_at),
        }
    }

    /// The absolute limit in days, when it is what ends the sign-in first (for the notice's words).
    pub fn ended_by_absolute_limit(&self) -> Option<u32> {
        let end = self.sign_in_ends_at()?;
        (self.credential_expires_at() == Some(end)).then_some(self.profile.refresh_token.absolute_days).flatten()
    }

    /// Who the token belongs to: an API token's user name (sent with it), or the account the
    /// service named at sign-in, once the secrets have been read.
    pub fn account(&self) -> Option<String> {
        match &self.config.kind {
            IntegrationKind::ApiToken(api) => api.username.clone(),
            IntegrationKind::Oauth(_) => self.secrets.as_ref()?.account.clone(),
        }
    }

    /// The service's name for notices: the profile's, or the host for a generic profile.
    pub fn service_name(&self) -> String {
        let url = match &self.config.kind {
            IntegrationKind::Oauth(o) => o.issuer.clone().unwrap_or_else(|| o.token_url.clone()),
            IntegrationKind::ApiToken(a) => a.probe_url.clone(),
        };
        if self.profile.is_generic() {
            url.host_str().map(str::to_string).unwrap_or_else(|| UNNAMED_SERVICE.to_string())
        } else {
            self.profile.name.clone()
        }
    }

    /// Where it renews its tokens (scheme, host, port), for "the provider is back" (API tokens:
    /// none, they are checked on their own schedule).
    pub fn token_origin(&self) -> Option<url::Origin> {
        match &self.config.kind {
            IntegrationKind::Oauth(o) => Some(o.token_url.origin()),
            IntegrationKind::ApiToken(_) => None,
        }
    }

    /// How long the current access token was issued for, if known.
    pub fn access_lifetime(&self) -> Option<Span> {
        Some(self.record.access_expires_at?.since(self.record.issued_at?))
    }

    /// When to renew the access token, from the copy of its times in the record. A token whose
    /// issue time is unknown (written by an old version) renews at its expiry.
    pub fn renew_at(&self) -> Option<Moment> {
        let expires = self.record.access_expires_at?;
        let issued = self.record.issued_at.unwrap_or(expires.minus(MIN_RENEW_SPACING));
        Some(renew_at(issued, expires, self.jitter))
    }

    /// The state the facts call for. `NeedsSignIn` is sticky: only a sign-in clears it.
    pub fn settle(&mut self, now: Moment, warn_days: u32) {
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
        } else if self.credential_expires_at().is_some_and(|t| t.since(now) <= Span::from_days(i64::from(warn_days))) {
            State::ExpiringSoon
        } else {
            State::Working
        };
        if matches!(self.record.state, State::Working | State::ExpiringSoon | State::Paused) {
            self.record.reason = None;
        }
    }

    /// What happens next, for "Renews in 3 h".
    pub fn next_action(&self) -> NextAction {
        if self.record.paused || self.record.state == State::NeedsSignIn {
            return NextAction::WaitForKeeper;
        }
        if let Some(retry) = self.record.retry_at {
            return NextAction::Retry(retry.secs());
        }
        match (self.renew_at(), self.record.probe_at) {
            (Some(renew), Some(probe)) if probe < renew => NextAction::Check(probe.secs()),
            (Some(renew), _) => NextAction::Renew(renew.secs()),
            (None, Some(probe)) => NextAction::Check(probe.secs()),
            (None, None) => NextAction::WaitForKeeper,
        }
    }

    /// The next moment the keeper must look at this integration.
    pub fn next_deadline(&self, now: Moment, leads: &[u32]) -> Option<Moment> {
        if self.record.paused || self.record.state == State::NeedsSignIn {
            return None;
        }
        let mut candidates: Vec<Moment> = Vec::with_capacity(5);
        match self.record.retry_at {
            Some(retry) => candidates.push(retry),
            None => candidates.extend(self.renew_at()),
        }
        candidates.extend(self.record.probe_at);
        // Instants that count in whole seconds (notices): woken for when that second has come.
        let now_secs = Moment::from_secs(now.secs());
        if self.record.failures > 0 {
            // While failing: wake for the "stops working soon" notice and for going offline.
            if let Some(exp) = self.record.access_expires_at {
                let lead = Span::from_secs(crate::alerts::stops_working_lead(self.access_lifetime().map(Span::secs)));
                candidates.extend([exp.minus(lead), exp].into_iter().filter(|t| *t > now_secs));
            }
        }
        if let Some(end) = self.credential_expires_at() {
            candidates.extend(
                leads.iter().map(|d| end.minus(Span::from_days(i64::from(*d)))).filter(|t| *t > now_secs).min(),
            );
        }
        candidates.into_iter().min()
    }

    /// What shells see at `now`, with its words from [`crate::phrases`].
    pub fn view(&self, now: Moment) -> IntegrationView {
        let calendar = Calendar::system();
        let kind = self.config.kind.kind();
        let service = self.service_name();
        let state = self.record.state;
        let failure = self.record.reason.as_ref().map(|r| &r.failure);
        let next = self.next_action();
        let subject = Subject {
            kind,
            service: &service,
            state,
            failure,
            credential_expires_at: self.credential_expires_at().map(Moment::secs),
            next,
            now: now.secs(),
        };
        let said = phrases::describe(&subject, &calendar);
        IntegrationView {
            name: self.config.name.clone(),
            provider: self.config.provider.clone(),
            kind,
            state,
            state_label: phrases::label(state, kind, failure).to_string(),
            severity: phrases::severity(state, failure),
            detail: said.as_ref().map(|s| s.sentence(&subject, &calendar)),
            detail_technical: self.record.reason.as_ref().and_then(|r| r.technical.clone()),
            failure: failure.cloned(),
            todo: said.map(|s| s.todo),
            access_expires_at: self.record.access_expires_at.map(Moment::secs),
            refresh_expires_at: self.credential_expires_at().map(Moment::secs),
            next,
            next_verb: phrases::next_verb(state, next).map(str::to_string),
            signin_pending: self.signin_pending,
            shared: self.is_shared(),
            service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiTokenConfig, OauthConfig};
    use crate::secret::AccessToken;

    /// A passing failure with these technical words.
    fn why(technical: &str) -> Reason {
        Reason::new(Failure::NotAnswering, technical)
    }

    fn atlassian(signed_in_at: Option<Moment>, refresh_expires_at: Option<Moment>) -> Slot {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let config = IntegrationConfig {
            name: "jira".into(),
            provider: "atlassian".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::Oauth(OauthConfig {
                authorize_url: url("https://auth.atlassian.com/authorize"),
                has_client_secret: true,
                ..OauthConfig::example("https://auth.atlassian.com/oauth/token")
            }),
        };
        let record =
            Record { state: State::Working, reason: None, signed_in_at, refresh_expires_at, ..Record::default() };
        Slot::new(config, providers::find("atlassian").unwrap(), record)
    }

    fn days(n: i64) -> Span {
        Span::from_days(n)
    }

    #[test]
    fn the_sign_in_ends_at_the_earlier_of_the_refresh_token_and_the_absolute_limit() {
        let now = Moment::EPOCH.plus(days(1_000));
        // Signed in 360 days ago, renewed just now (90 more days): the year ends first, in 5 days.
        let mut slot = atlassian(Some(now.minus(days(360))), Some(now.plus(days(90))));
        assert_eq!(slot.sign_in_ends_at(), Some(now.plus(days(5))));
        assert_eq!(slot.credential_expires_at(), Some(now.plus(days(5))));
        assert_eq!(slot.ended_by_absolute_limit(), Some(365));
        slot.settle(now, 14);
        assert_eq!(slot.record.state, State::ExpiringSoon);
        assert_eq!(
            slot.view(now).refresh_expires_at,
            Some(now.plus(days(5)).secs()),
            "list shows when to sign in again"
        );
        let leads = [14, 3, 1];
        assert_eq!(slot.next_deadline(now, &leads), Some(now.plus(days(2))), "the 3-day warning");

        // Signed in 10 days ago: the refresh token's 90 days end first; no warning yet.
        let mut slot = atlassian(Some(now.minus(days(10))), Some(now.plus(days(90))));
        assert_eq!(slot.credential_expires_at(), Some(now.plus(days(90))));
        assert_eq!(slot.ended_by_absolute_limit(), None);
        slot.settle(now, 14);
        assert_eq!(slot.record.state, State::Working);

        // A sign-in from before the keeper kept its time: only the refresh token counts.
        let slot = atlassian(None, Some(now.plus(days(90))));
        assert_eq!((slot.sign_in_ends_at(), slot.credential_expires_at()), (None, Some(now.plus(days(90)))));
    }

    #[test]
    fn a_clock_step_moves_the_retry_floor_and_the_last_failure_with_the_record() {
        use crate::clock::ClockStamp;
        let now = Moment::EPOCH.plus(days(1_000));
        let mut slot = atlassian(None, Some(now.plus(days(90))));
        let frame = |offset_ms| ClockStamp { boot: "b".into(), offset_ms };
        let (secs, hour) = (Span::from_secs, Span::from_secs(3600));
        slot.record.clock = Some(frame(0));
        slot.record.retry_at = Some(now.plus(secs(30)));
        slot.record.access_expires_at = Some(now.plus(secs(60)));
        slot.not_before = Some(now.plus(secs(20)));
        slot.failed_at = Some(now);
        // the wall clock went an hour back: every instant moves by the same hour, whether the
        // file keeps it in seconds or in milliseconds
        slot.follow_clock(&frame(-3_600_000));
        assert_eq!(slot.record.retry_at, Some(now.plus(secs(30)).minus(hour)));
        assert_eq!(slot.record.access_expires_at, Some(now.plus(secs(60)).minus(hour)));
        assert_eq!(slot.not_before, Some(now.plus(secs(20)).minus(hour)), "Retry-After still holds in real time");
        assert_eq!(slot.failed_at, Some(now.minus(hour)));
        // no step: nothing moves
        slot.follow_clock(&frame(-3_600_000));
        assert_eq!(slot.failed_at, Some(now.minus(hour)));
    }

    /// Every transition from every kind of situation, as a table: the state it settles in.
    /// `Needs sign-in` is sticky (only a sign-in clears it), a pause shows over everything.
    #[test]
    fn the_transitions_as_a_table() {
        type Transition = fn(&mut Slot, Moment);
        let now = Moment::from_secs(1_700_000_000);
        let tokens = |slot: &Slot| Secrets {
            access_token: Some(AccessToken::new("a".into())),
            issued_at: Some(now),
            access_expires_at: Some(now.plus(Span::from_secs(3600))),
            ..slot.secrets.clone().unwrap_or_default()
        };
        let start = |state: State| {
            let mut slot = atlassian(Some(now.minus(days(10))), Some(now.plus(days(90))));
            match state {
                State::Retrying => slot.failed_transiently(why("the service did not answer"), None, now),
                State::NeedsSignIn => slot.refused(why("the grant was revoked")),
                State::Paused => slot.paused(true, now),
                _ => {}
            }
            slot.settle_and_note(now, 14);
            assert_eq!(slot.record().state, state, "set-up");
            slot
        };
        let transitions: [(&str, Transition); 8] = [
            ("signed in", |s, now| s.signed_in(Secrets::default(), Ok(()), now)),
            ("renewed", |s, now| s.renewed(Secrets::default(), Ok(()), now)),
            ("renewed, keychain refused", |s, now| s.renewed(Secrets::default(), Err("locked".into()), now)),
            ("failed transiently", |s, now| s.failed_transiently(why("timeout"), None, now)),
            ("renewal refused", |s, now| s.renewal_refused(why("invalid_grant"), now)),
            ("refused", |s, _| s.refused(why("revoked"))),
            ("paused", |s, now| s.paused(true, now)),
            ("resumed", |s, now| s.paused(false, now)),
        ];
        use State::{NeedsSignIn as Sign, Paused as P, Retrying as R, Working as W};
        // rows: the transitions above; columns: from Working, Retrying, NeedsSignIn, Paused
        let expected = [
            [W, W, W, P],          // signed in: the one way out of Needs sign-in
            [W, W, Sign, P],       // renewed
            [W, W, Sign, P],       // renewed, tokens kept in memory (not a failure of the token)
            [R, R, Sign, P],       // failed transiently
            [Sign, Sign, Sign, P], // renewal refused
            [Sign, Sign, Sign, P], // refused
            [P, P, P, P],          // paused
            [W, R, Sign, W],       // resumed
        ];
        for ((what, transition), row) in transitions.iter().zip(expected) {
            for (from, want) in [W, R, Sign, P].into_iter().zip(row) {
                let mut slot = start(from);
                let secrets = tokens(&slot);
                slot.secrets = Some(secrets);
                transition(&mut slot, now);
                slot.settle_and_note(now, 14);
                assert_eq!(slot.record().state, want, "{what} from {from:?}");
            }
        }
    }

    #[test]
    fn what_each_transition_writes() {
        let now = Moment::from_secs(1_700_000_000);
        let mut slot = atlassian(None, Some(now.plus(days(90))));
        slot.failed_transiently(why("timeout"), Some(Duration::from_secs(7)), now);
        let r = slot.record();
        assert_eq!((r.failures, r.reason.as_ref().and_then(|r| r.technical.as_deref())), (1, Some("timeout")));
        assert!(r.retry_at.unwrap() >= now.plus(Span::from_secs(7)), "Retry-After is a floor");
        assert_eq!((slot.not_before(), slot.failed_at), (Some(now.plus(Span::from_secs(7))), Some(now)));

        let renewed = Secrets { access_expires_at: Some(now.plus(Span::from_secs(60))), ..Secrets::default() };
        slot.renewed(renewed.clone(), Err("the keychain is locked".into()), now);
        let r = slot.record();
        assert_eq!((r.failures, r.access_expires_at), (0, Some(now.plus(Span::from_secs(60)))));
        assert!(slot.unsaved && r.reason.as_ref().is_some_and(|r| r.failure == Failure::KeychainRefused));
        assert_eq!(r.retry_at, Some(now.plus(UNSAVED_RETRY_FIRST)), "the write is tried again soon");
        slot.unsaved_tokens_offered(true, now);
        assert!(!slot.unsaved && slot.record().retry_at.is_none());

        slot.signed_in(renewed, Ok(()), now);
        let r = slot.record();
        assert_eq!(r.signed_in_at, Some(now), "an OAuth sign-in is dated: the absolute limit counts from it");
        assert_eq!(r.history.entries().filter(|e| e.event == HistoryEvent::SignedIn).count(), 1);
        assert_eq!(r.notices.problem, None, "the first sign-in is no \"working again\"");

        slot.renewal_refused(why("invalid_grant"), now);
        let r = slot.record();
        assert_eq!((r.state, r.failures, r.retry_at), (State::NeedsSignIn, 0, None));

        // pulled forward only when it waits longer, with one failure kept
        let mut slot = atlassian(None, None);
        slot.failed_transiently(why("x"), None, now);
        slot.failed_transiently(why("x"), None, now);
        let later = slot.record().retry_at.unwrap();
        slot.pulled_forward(later.plus(Span::SECOND));
        assert_eq!((slot.record().retry_at, slot.record().failures), (Some(later), 2), "not later");
        slot.pulled_forward(now);
        assert_eq!((slot.record().retry_at, slot.record().failures), (Some(now), 1));
    }

    #[test]
    fn an_api_token_has_no_sign_in_limit() {
        let config = IntegrationConfig {
            name: "t".into(),
            provider: "atlassian-api-token".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url: url::Url::parse("https://acme.atlassian.net/rest/api/3/myself").unwrap(),
                username: None,
                expires_at: None,
                expires: None,
            }),
        };
        let record = Record { signed_in_at: Some(Moment::EPOCH), ..Record::default() };
        let slot = Slot::new(config, providers::find("atlassian").unwrap(), record);
        assert_eq!((slot.sign_in_ends_at(), slot.credential_expires_at()), (None, None));
    }
}

/// Property tests of the deadline rule (`make fuzz` runs more).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::actions::oauth::Grant;
    use crate::model::OauthConfig;
    use crate::properties::support::{cases, config};
    use crate::providers::RefreshTokenRule;
    use crate::scheduler::{renew_margin, MIN_RENEW_SPACING};
    use crate::secret::{AccessToken, RefreshToken};

    fn oauth_slot(record: Record, jitter: f64) -> Slot {
        let config = IntegrationConfig {
            name: "reports".into(),
            provider: "oauth2".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::Oauth(OauthConfig::example("https://id.example/token")),
        };
        let mut slot = Slot::new(config, crate::providers::find("oauth2").unwrap(), record);
        slot.jitter = jitter;
        slot
    }

    proptest! {
        #![proptest_config(config(cases(512)))]

        /// The keeper's deadline for a token issued now: never before now, never after the
        /// renewal margin; a pending retry or an expiry while failing comes first; nothing while
        /// paused or signed out.
        #[test]
        fn the_next_deadline_is_in_time_for_the_renewal(
            now in 0i64..4_000_000_000,
            lifetime in 2i64..400 * 86_400,
            jitter in 0.0f64..1.0,
            retry_in in prop::option::of(0i64..10_000_000),
            failures in 0u32..5,
            refresh_left in prop::option::of(-86_400i64..400 * 86_400),
            leads in prop::collection::vec(1u32..365, 0..5),
            stopped in prop::sample::select(vec![None, Some(State::Paused), Some(State::NeedsSignIn)]),
        ) {
            let (now, lifetime) = (Moment::from_secs(now), Span::from_secs(lifetime));
            let retry_in = retry_in.map(Span::from_millis);
            let record = Record {
                state: stopped.unwrap_or(State::Working),
                paused: stopped == Some(State::Paused),
                issued_at: Some(now),
                access_expires_at: Some(now.plus(lifetime)),
                refresh_expires_at: refresh_left.map(|l| now.plus(Span::from_secs(l))),
                failures,
                retry_at: retry_in.map(|r| now.plus(r)),
                ..Record::default()
            };
            let slot = oauth_slot(record, jitter);
            let deadline = slot.next_deadline(now, &leads);
            if stopped.is_some() {
                prop_assert_eq!(deadline, None);
                return Ok(());
            }
            let deadline = deadline.expect("a running integration has a deadline");
            prop_assert!(deadline >= now, "deadline {deadline:?} before now {now:?}");
            let expires = now.plus(lifetime);
            match retry_in {
                Some(r) => prop_assert!(deadline <= now.plus(r), "after the retry"),
                None => prop_assert!(deadline <= expires.minus(renew_margin(lifetime)), "after the margin"),
            }
            if failures > 0 {
                prop_assert!(deadline <= expires, "a failing integration sleeps past its expiry");
            }
        }

        /// From the token response to the record and the next deadline, for any lifetime a
        /// service may claim (all of u64, 0 and absent included) at any instant an i64 holds:
        /// nothing panics, and an integration renewed at each of its deadlines is renewed at
        /// most once per minimum spacing — `expires_in: 0` is no refresh loop. (Token times are
        /// kept in whole seconds, so one pair of renewals may be up to a second closer; over k
        /// renewals at least k − 1 spacings pass.)
        #[test]
        fn any_claimed_lifetime_renews_at_most_once_per_spacing_and_never_panics(
            start in prop_oneof![any::<i64>(), 1_600_000_000_000i64..2_000_000_000_000],
            expires_in in prop::collection::vec(prop::option::of(prop_oneof![0u64..5, any::<u64>()]), 1..6),
            refresh_expires_in in prop::option::of(any::<u64>()),
            jitter in 0.0f64..1.0,
        ) {
            let mut slot = oauth_slot(Record { state: State::Working, ..Record::default() }, jitter);
            let mut secrets = crate::model::Secrets::default();
            let first = Moment::from_millis(start);
            let mut now = first;
            let renewals = expires_in.len() as i64;
            for claimed in expires_in {
                let answer = serde_json::json!({
                    "access_token": "a", "token_type": "bearer", "refresh_token": "r",
                    "expires_in": claimed, "refresh_token_expires_in": refresh_expires_in,
                });
                let answer: crate::actions::oauth::TokenAnswer = serde_json::from_value(answer).unwrap();
                let grant = Grant::from_answer(&answer);
                prop_assert_eq!(&grant.access_token, &AccessToken::new("a".into()));
                prop_assert_eq!(&grant.refresh_token, &Some(RefreshToken::new("r".into())));
                secrets = grant.apply_to(&secrets, now, &RefreshTokenRule::default());
                slot.adopted(secrets.clone());
                slot.settle(now, 14);
                let _ = slot.view(now);
                let next = slot.next_deadline(now, &[14, 3, 1]).expect("a renewable token has a deadline");
                prop_assert!(next > now || now == Moment::from_millis(i64::MAX), "renews again at once");
                prop_assert!(next >= now.whole_secs().plus(MIN_RENEW_SPACING), "renews {:?} after the last", next.since(now));
                now = next;
            }
            let spacings = Span::from_millis(MIN_RENEW_SPACING.millis() * (renewals - 1));
            prop_assert!(now.since(first) >= spacings || now == Moment::from_millis(i64::MAX), "{renewals} renewals in {:?}", now.since(first));
        }
    }
}

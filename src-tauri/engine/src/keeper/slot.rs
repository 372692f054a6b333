//! One integration as the keeper holds it in memory, and the pure rules that turn its facts
//! into a state, a view for shells, and its next deadline.

use std::sync::Arc;

use crate::calendar::Calendar;
use crate::clock::ClockStamp;
use crate::model::{IntegrationConfig, IntegrationKind, IntegrationView, NextAction, Secrets, State, UnixTime};
use crate::phrases::{self, Subject};
use crate::providers::{self, Profile};
use crate::record::Record;
use crate::scheduler::renew_at_ms;

/// The name of a generic profile's service whose address has no host (none can: addresses are
/// https or loopback http).
pub const UNNAMED_SERVICE: &str = "The service";

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
    /// The provider's last `Retry-After` ends here (wall clock, ms): no retry before, even when
    /// the provider is seen back through another integration.
    pub not_before_ms: Option<i64>,
    /// When its last renewal attempt failed (wall clock, ms).
    pub failed_at_ms: Option<i64>,
    /// A hash of the record file as last written (or read), so a commit that changes nothing
    /// writes nothing: each write is two fsyncs, and a refresh commits four times.
    pub saved_hash: Option<u64>,
    /// Numbers the record writes of this integration; `written` is the newest one on disk. Writes
    /// happen outside the state mutex, so two commits could otherwise land out of order, and with
    /// `saved_hash` an older file would then stay.
    pub write_seq: u64,
    pub written: Arc<std::sync::Mutex<u64>>,
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
            not_before_ms: None,
            failed_at_ms: None,
            saved_hash: None,
            write_seq: 0,
            written: Arc::default(),
        }
    }

    /// Brings the record's and the in-memory secrets' times into the clock frame `now`
    /// (see [`crate::clock`]): a no-op unless the wall clock was stepped since they were written.
    /// The in-memory retry floor and last failure move with the record's times.
    pub fn follow_clock(&mut self, now: &ClockStamp) {
        let calendar = self.is_api_token();
        if let Some(secs) = self.record.follow_clock(now, calendar) {
            crate::clock::shift_all([&mut self.not_before_ms, &mut self.failed_at_ms], secs * 1000);
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
    pub fn credential_expires_at(&self) -> Option<UnixTime> {
        match &self.config.kind {
            IntegrationKind::ApiToken(api) => {
                api.expires_at.or_else(|| api.expires.map(|d| Calendar::system().end_of_day(d)))
            }
            IntegrationKind::Oauth(_) => providers::earliest(self.record.refresh_expires_at, self.sign_in_ends_at()),
        }
    }

    /// When the provider ends the sign-in however often it was renewed (Atlassian: 365 days
    /// after it), if it has such a limit and the sign-in time is known.
    pub fn sign_in_ends_at(&self) -> Option<UnixTime> {
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
            self.record.reason = None;
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

    /// What shells see at `now`, with its words from [`crate::phrases`].
    pub fn view(&self, now: UnixTime) -> IntegrationView {
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
            credential_expires_at: self.credential_expires_at(),
            next,
            now,
        };
        let said = phrases::describe(&subject, &calendar);
        IntegrationView {
            name: self.config.name.clone(),
            provider: self.config.provider.clone(),
            kind,
            state,
            state_label: phrases::label(state, failure).to_string(),
            severity: phrases::severity(state, failure),
            detail: said.as_ref().map(|s| s.sentence(&subject, &calendar)),
            detail_technical: self.record.reason.as_ref().and_then(|r| r.technical.clone()),
            failure: failure.cloned(),
            todo: said.map(|s| s.todo),
            access_expires_at: self.record.access_expires_at,
            refresh_expires_at: self.credential_expires_at(),
            next,
            next_verb: phrases::next_verb(state, next).map(str::to_string),
            signin_pending: self.signin_pending,
            service,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiTokenConfig, OauthConfig};

    fn atlassian(signed_in_at: Option<UnixTime>, refresh_expires_at: Option<UnixTime>) -> Slot {
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

    const DAY: i64 = 86_400;

    #[test]
    fn the_sign_in_ends_at_the_earlier_of_the_refresh_token_and_the_absolute_limit() {
        let now = 1_000 * DAY;
        // Signed in 360 days ago, renewed just now (90 more days): the year ends first, in 5 days.
        let mut slot = atlassian(Some(now - 360 * DAY), Some(now + 90 * DAY));
        assert_eq!(slot.sign_in_ends_at(), Some(now + 5 * DAY));
        assert_eq!(slot.credential_expires_at(), Some(now + 5 * DAY));
        assert_eq!(slot.ended_by_absolute_limit(), Some(365));
        slot.settle(now, 14);
        assert_eq!(slot.record.state, State::ExpiringSoon);
        assert_eq!(slot.view(now).refresh_expires_at, Some(now + 5 * DAY), "list shows when to sign in again");
        let leads = [14, 3, 1];
        assert_eq!(slot.next_deadline_ms(now, &leads).map(|t| t / 1000), Some(now + 2 * DAY), "the 3-day warning");

        // Signed in 10 days ago: the refresh token's 90 days end first; no warning yet.
        let mut slot = atlassian(Some(now - 10 * DAY), Some(now + 90 * DAY));
        assert_eq!(slot.credential_expires_at(), Some(now + 90 * DAY));
        assert_eq!(slot.ended_by_absolute_limit(), None);
        slot.settle(now, 14);
        assert_eq!(slot.record.state, State::Working);

        // A sign-in from before the keeper kept its time: only the refresh token counts.
        let slot = atlassian(None, Some(now + 90 * DAY));
        assert_eq!((slot.sign_in_ends_at(), slot.credential_expires_at()), (None, Some(now + 90 * DAY)));
    }

    #[test]
    fn a_clock_step_moves_the_retry_floor_and_the_last_failure_with_the_record() {
        use crate::clock::ClockStamp;
        let now_ms = 1_000 * DAY * 1000;
        let mut slot = atlassian(None, Some(now_ms / 1000 + 90 * DAY));
        let frame = |offset_ms| ClockStamp { boot: "b".into(), offset_ms };
        slot.record.clock = Some(frame(0));
        slot.record.retry_at_ms = Some(now_ms + 30_000);
        slot.not_before_ms = Some(now_ms + 20_000);
        slot.failed_at_ms = Some(now_ms);
        // the wall clock went an hour back
        slot.follow_clock(&frame(-3_600_000));
        assert_eq!(slot.record.retry_at_ms, Some(now_ms + 30_000 - 3_600_000));
        assert_eq!(slot.not_before_ms, Some(now_ms + 20_000 - 3_600_000), "Retry-After still holds in real time");
        assert_eq!(slot.failed_at_ms, Some(now_ms - 3_600_000));
        // no step: nothing moves
        slot.follow_clock(&frame(-3_600_000));
        assert_eq!(slot.failed_at_ms, Some(now_ms - 3_600_000));
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
        let record = Record { signed_in_at: Some(0), ..Record::default() };
        let slot = Slot::new(config, providers::find("atlassian").unwrap(), record);
        assert_eq!((slot.sign_in_ends_at(), slot.credential_expires_at()), (None, None));
    }
}

/// Property tests of the deadline rule (`make fuzz` runs more).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::model::OauthConfig;
    use crate::proptest_support::{cases, config};
    use crate::scheduler::renew_margin_ms;

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
            let record = Record {
                state: stopped.unwrap_or(State::Working),
                paused: stopped == Some(State::Paused),
                issued_at: Some(now),
                access_expires_at: Some(now + lifetime),
                refresh_expires_at: refresh_left.map(|l| now + l),
                failures,
                retry_at_ms: retry_in.map(|r| now * 1000 + r),
                ..Record::default()
            };
            let slot = oauth_slot(record, jitter);
            let deadline = slot.next_deadline_ms(now, &leads);
            if stopped.is_some() {
                prop_assert_eq!(deadline, None);
                return Ok(());
            }
            let deadline = deadline.expect("a running integration has a deadline");
            prop_assert!(deadline >= now * 1000, "deadline {deadline} before now {}", now * 1000);
            let expires_ms = (now + lifetime) * 1000;
            match retry_in {
                Some(r) => prop_assert!(deadline <= now * 1000 + r, "after the retry"),
                None => prop_assert!(deadline <= expires_ms - renew_margin_ms(lifetime * 1000), "after the margin"),
            }
            if failures > 0 {
                prop_assert!(deadline <= expires_ms, "a failing integration sleeps past its expiry");
            }
        }
    }
}

//! Which notification to show, and when: the rules of PRODUCT.md as one pure function.
//!
//! - `Needs sign-in`: urgent, with "Sign in again" (not for an integration never signed in).
//! - Refresh keeps failing and the token stops working within 10 minutes (or already has): once.
//! - Refresh token or API token ends in 14, 3, 1 days: once each (only the most urgent one due,
//!   after a long absence); likewise a provider's absolute limit on a sign-in (Atlassian: 365
//!   days), whichever ends first.
//! - Back to working after a problem was notified: once, low urgency.
//!
//! The [`NoticeLedger`] remembers what was shown; it is saved with the integration's state, so
//! no notice repeats for the same state change, even across restarts. It also keeps the notices
//! decided but not yet handed to the notification service, so that a crash between the decision
//! and the showing delays a notice instead of losing it (the next long-running keeper shows it).

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::keeper::KeeperError;
use crate::model::{IntegrationView, Kind, State, UnixTime};
use crate::notify::{Notice, NoticeAction, Urgency};
pub use crate::phrases::attempts::Attempt;
use crate::phrases::attempts::Undone;
use crate::phrases::{self, Failure, NoticeWords};

/// Warn this long before a token stops working while refreshes keep failing...
pub const STOPS_WORKING_LEAD_SECS: i64 = 10 * 60;

/// ...or a quarter of the token's lifetime when that is shorter, so that with a short-lived
/// token a single failed attempt at the start of its renewal margin is no alarm yet.
pub fn stops_working_lead(lifetime_secs: Option<i64>) -> i64 {
    lifetime_secs.map_or(STOPS_WORKING_LEAD_SECS, |l| STOPS_WORKING_LEAD_SECS.min(l.max(0) / 4))
}
/// Default expiry warning lead times, in days.
pub const DEFAULT_EXPIRY_LEADS: [u32; 3] = [14, 3, 1];

/// The problem notified for the current episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    NeedsSignIn,
    StopsWorking,
}

/// What was already shown for one integration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NoticeLedger {
    #[serde(default)]
    pub problem: Option<Problem>,
    /// Expiry warnings shown, as (expiry time, lead in days).
    #[serde(default)]
    pub expiry_warnings: Vec<(UnixTime, u32)>,
    /// Decided, not yet confirmed shown (oldest first, at most [`MAX_UNSHOWN`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unshown: Vec<Notice>,
}

/// The most notices kept waiting for a notification service that does not answer; older ones
/// give way (the state itself is always in the tray, the list and `status`).
pub const MAX_UNSHOWN: usize = 8;

impl NoticeLedger {
    /// Keeps `notices` until [`NoticeLedger::shown`] confirms them.
    pub fn await_showing(&mut self, notices: &[Notice]) {
        self.unshown.extend(notices.iter().cloned());
        let excess = self.unshown.len().saturating_sub(MAX_UNSHOWN);
        self.unshown.drain(..excess);
    }

    /// Whether a notice a previous process did not live to show still fits the state now: a
    /// sign-in refusal only while signing in is still needed, "working again" only while it works,
    /// a trouble warning only while no sign-in is needed instead.
    pub fn still_relevant(notice: &Notice, state: State) -> bool {
        match notice.urgency {
            Urgency::Critical => state == State::NeedsSignIn,
            Urgency::Low => matches!(state, State::Working | State::ExpiringSoon),
            Urgency::Normal => state != State::NeedsSignIn,
        }
    }

    /// The notification service has shown `notice`.
    pub fn shown(&mut self, notice: &Notice) {
        self.unshown.retain(|n| n != notice);
    }
}

/// What the rules look at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub name: &'a str,
    /// The service, as keepers know it ("HighQ", "login.example.com").
    pub service: &'a str,
    pub state: State,
    pub kind: Kind,
    /// What went wrong, if anything (the notice's words depend on it).
    pub failure: Option<&'a Failure>,
    pub access_expires_at: Option<UnixTime>,
    /// How long the current access token was issued for, if known.
    pub access_lifetime: Option<i64>,
    /// When the sign-in (OAuth: the earlier of the refresh token's end and the provider's
    /// absolute limit) or the API token ends, if known.
    pub credential_expires_at: Option<UnixTime>,
    /// The provider's absolute limit in days, when that is what ends the sign-in first.
    pub absolute_limit_days: Option<u32>,
    pub now: UnixTime,
    pub expiry_leads_days: &'a [u32],
    /// Where the keeper is, for the dates in the notices.
    pub calendar: &'a Calendar,
}

/// The notices due now; records them in `ledger`. Their words come from [`crate::phrases`].
pub fn decide(facts: &Facts, ledger: &mut NoticeLedger) -> Vec<Notice> {
    let mut out = Vec::new();
    let (name, service) = (facts.name, facts.service);
    let notice = |words: NoticeWords, urgency: Urgency, action: bool| Notice {
        summary: words.summary,
        body: words.body,
        urgency,
        integrations: vec![name.to_string()],
        actions: if action { vec![fix(facts)] } else { Vec::new() },
    };
    match facts.state {
        State::NeedsSignIn if ledger.problem != Some(Problem::NeedsSignIn) => {
            ledger.problem = Some(Problem::NeedsSignIn);
            let words = phrases::notice_refused(name, facts.kind, service, facts.failure);
            // a damaged file is not fixed by a sign-in: the notice says what is
            let fixable = !matches!(facts.failure, Some(Failure::SettingsUnreadable | Failure::SharedRecordUnreadable));
            out.push(notice(words, Urgency::Critical, fixable));
        }
        State::Retrying | State::Offline if ledger.problem.is_none() => {
            let left = facts.access_expires_at.map(|t| t - facts.now);
            if let Some(left) = left.filter(|l| *l <= stops_working_lead(facts.access_lifetime)) {
                ledger.problem = Some(Problem::StopsWorking);
                out.push(notice(phrases::notice_trouble(name, service, facts.failure, left), Urgency::Normal, false));
            }
        }
        State::Working | State::ExpiringSoon if ledger.problem.is_some() => {
            ledger.problem = None;
            out.push(notice(phrases::notice_back(name, service), Urgency::Low, false));
        }
        _ => {}
    }
    if let Some(expires) = facts.credential_expires_at {
        if let Some(n) = expiry_warning(facts, expires, ledger) {
            out.push(n);
        }
    }
    out
}

fn expiry_warning(facts: &Facts, expires: UnixTime, ledger: &mut NoticeLedger) -> Option<Notice> {
    if facts.now >= expires || matches!(facts.state, State::NeedsSignIn | State::Paused | State::Unreadable) {
        return None;
    }
    let mut leads: Vec<u32> = facts.expiry_leads_days.to_vec();
    leads.sort_unstable();
    // The most urgent lead time already reached.
    let lead = *leads.iter().find(|d| facts.now >= expires - i64::from(**d) * 86_400)?;
    if ledger.expiry_warnings.iter().any(|(e, d)| *e == expires && *d <= lead) {
        return None;
    }
    ledger.expiry_warnings.retain(|(e, _)| *e == expires);
    ledger.expiry_warnings.push((expires, lead));
    let words = phrases::notice_expiry(
        facts.name,
        facts.kind,
        facts.service,
        expires,
        facts.now,
        facts.absolute_limit_days,
        facts.calendar,
    );
    Some(Notice {
        summary: words.summary,
        body: words.body,
        urgency: if lead <= 1 { Urgency::Critical } else { Urgency::Normal },
        integrations: vec![facts.name.to_string()],
        actions: vec![fix(facts)],
    })
}

/// The button that fixes a refused or ending credential: a new sign-in, or a new API token.
fn fix(facts: &Facts) -> NoticeAction {
    let name = facts.name.to_string();
    match facts.kind {
        Kind::ApiToken => NoticeAction::EnterToken(name),
        Kind::Oauth => NoticeAction::SignIn(name),
    }
}

/// The notice for an [`Attempt`] on `name` that failed with `error`; `view` is the integration
/// as it is now (its failure says why). The error's own text is for the
/// log: it may name a command or a protocol, which a notice never does.
pub fn attempt_failed(name: &str, attempt: Attempt, error: &KeeperError, view: Option<&IntegrationView>) -> Notice {
    let undone = match (error, view) {
        (KeeperError::BadInput(_), None) => Undone::Gone,
        (KeeperError::BadInput(_), Some(_)) if attempt == Attempt::SignIn => Undone::NotFinished,
        (KeeperError::NeedsSignIn(_), _) => Undone::Refused,
        (KeeperError::Unavailable(_), _) => Undone::Unreachable,
        (KeeperError::KeychainLocked(_), _) => Undone::KeychainLocked,
        _ if matches!(attempt, Attempt::Pause | Attempt::Resume) => Undone::NotSaved,
        _ => Undone::Other,
    };
    let kind = view.map(|v| v.kind).unwrap_or_default();
    let service = view.map(|v| v.service.as_str()).unwrap_or_default();
    let failure = view.and_then(|v| v.failure.as_ref());
    let words = phrases::attempts::notice_failed(name, attempt, undone, kind, service, failure);
    let fix = match (attempt, undone) {
        (Attempt::SignIn, _) | (Attempt::Refresh, Undone::Refused) if view.is_some() => Some(match kind {
            Kind::ApiToken => NoticeAction::EnterToken(name.into()),
            Kind::Oauth => NoticeAction::SignIn(name.into()),
        }),
        _ => None,
    };
    Notice {
        summary: words.summary,
        body: words.body,
        urgency: Urgency::Normal,
        integrations: vec![name.to_string()],
        actions: fix.into_iter().collect(),
    }
}

/// The notice when the tray app cannot start, and the technical details its window adds below:
/// what is wrong and what to do, in words.
pub fn cannot_start(error: &KeeperError) -> (Notice, Option<String>) {
    let said = phrases::attempts::notice_cannot_start(error);
    let notice = Notice {
        summary: said.words.summary,
        body: said.words.body,
        urgency: Urgency::Critical,
        integrations: Vec::new(),
        actions: Vec::new(),
    };
    (notice, said.technical)
}

#[cfg(test)]
mod tests {
    use super::*;

    static CALENDAR: std::sync::LazyLock<Calendar> =
        std::sync::LazyLock::new(|| Calendar::fixed(jiff::tz::TimeZone::UTC, crate::calendar::Style::UnitedStates));

    fn facts(state: State) -> Facts<'static> {
        Facts {
            name: "HighQ reporting",
            service: "HighQ",
            state,
            kind: Kind::Oauth,
            failure: None,
            calendar: &CALENDAR,
            access_expires_at: Some(10_000),
            access_lifetime: Some(3_600),
            credential_expires_at: None,
            absolute_limit_days: None,
            now: 1_000,
            expiry_leads_days: &DEFAULT_EXPIRY_LEADS,
        }
    }

    #[test]
    fn needs_sign_in_is_notified_once_with_the_action() {
        let mut ledger = NoticeLedger::default();
        let n = decide(&facts(State::NeedsSignIn), &mut ledger);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].summary, "HighQ reporting stopped working");
        assert_eq!(n[0].body, "HighQ no longer accepts this sign-in. Click to sign in again.");
        assert_eq!(n[0].urgency, Urgency::Critical);
        assert_eq!(n[0].actions, [NoticeAction::SignIn("HighQ reporting".into())]);
        assert!(decide(&facts(State::NeedsSignIn), &mut ledger).is_empty(), "twice");
        let back = decide(&facts(State::Working), &mut ledger);
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].urgency, Urgency::Low);
        assert!(decide(&facts(State::Working), &mut ledger).is_empty());
    }

    #[test]
    fn transient_trouble_is_quiet_until_the_token_is_about_to_stop() {
        let mut ledger = NoticeLedger::default();
        assert!(decide(&facts(State::Retrying), &mut ledger).is_empty(), "9000 s left: no alarm");
        let mut short = facts(State::Retrying);
        short.access_lifetime = Some(20);
        short.now = 10_000 - 9;
        assert!(decide(&short, &mut ledger).is_empty(), "20 s token, 9 s left: a quarter is 5 s: no alarm yet");
        short.now = 10_000 - 4;
        assert_eq!(decide(&short, &mut NoticeLedger::default()).len(), 1);
        let mut f = facts(State::Retrying);
        f.now = 10_000 - 300;
        f.failure = Some(&Failure::Unreachable);
        let n = decide(&f, &mut ledger);
        assert_eq!(n.len(), 1);
        assert_eq!(
            n[0].body,
            "Token Keeper cannot reach HighQ. Check your internet or VPN. HighQ reporting keeps working for 5 minutes \
             more; Token Keeper keeps trying."
        );
        assert!(!n[0].body.contains("sign-in"), "the access token is no sign-in: {}", n[0].body);
        f.state = State::Offline;
        f.now = 10_001;
        assert!(decide(&f, &mut ledger).is_empty(), "offline after the warning: no second notice");
        assert_eq!(decide(&facts(State::Working), &mut ledger).len(), 1, "working again");
    }

    #[test]
    fn expiry_warnings_come_once_per_lead_and_only_the_most_urgent() {
        let mut ledger = NoticeLedger::default();
        let mut f = facts(State::Working);
        f.credential_expires_at = Some(f.now + 13 * 86_400);
        let n = decide(&f, &mut ledger);
        assert_eq!(n.len(), 1);
        assert!(n[0].summary.ends_with("in 13 days"), "{}", n[0].summary);
        assert!(decide(&f, &mut ledger).is_empty());
        f.now += 11 * 86_400; // 2 days left: the 3-day warning
        assert_eq!(decide(&f, &mut ledger).len(), 1);
        // A long absence: from 14 days straight to 12 hours left shows only the 1-day warning.
        let mut fresh = NoticeLedger::default();
        let mut g = facts(State::Working);
        g.credential_expires_at = Some(g.now + 43_200);
        let n = decide(&g, &mut fresh);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].urgency, Urgency::Critical);
        assert!(decide(&g, &mut fresh).is_empty());
        // A new expiry (signed in again) starts over.
        g.credential_expires_at = Some(g.now + 10 * 86_400);
        assert_eq!(decide(&g, &mut fresh).len(), 1);
    }

    #[test]
    fn an_absolute_limit_says_why_the_sign_in_ends() {
        let mut f = facts(State::ExpiringSoon);
        f.service = "Atlassian";
        f.credential_expires_at = Some(f.now + 5 * 86_400);
        f.absolute_limit_days = Some(365);
        let n = decide(&f, &mut NoticeLedger::default());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].summary, "The sign-in of HighQ reporting ends in 5 days");
        assert!(
            n[0].body
                .contains("(Atlassian ends every sign-in 365 days after it was made, however often it is renewed)"),
            "{}",
            n[0].body
        );
        assert_eq!(n[0].actions, [NoticeAction::SignIn("HighQ reporting".into())]);
    }

    #[test]
    fn api_token_notices_offer_a_new_token() {
        let mut f = facts(State::NeedsSignIn);
        f.kind = Kind::ApiToken;
        let n = decide(&f, &mut NoticeLedger::default());
        assert_eq!(n[0].actions, [NoticeAction::EnterToken("HighQ reporting".into())]);
        f.state = State::ExpiringSoon;
        f.credential_expires_at = Some(f.now + 2 * 86_400);
        let n = decide(&f, &mut NoticeLedger::default());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].actions, [NoticeAction::EnterToken("HighQ reporting".into())]);
        // nothing to fix when it works again
        let mut ledger = NoticeLedger { problem: Some(Problem::NeedsSignIn), ..Default::default() };
        assert!(decide(&facts(State::Working), &mut ledger)[0].actions.is_empty());
    }

    #[test]
    fn failed_attempts_say_what_to_do_and_offer_the_fix() {
        let view = |kind: Kind, failure: Option<Failure>| IntegrationView {
            name: "R&D <main>".into(),
            provider: "p".into(),
            kind,
            service: "Jira".into(),
            state: State::Retrying,
            failure,
            ..IntegrationView::default()
        };
        let oauth = view(Kind::Oauth, None);
        let timed_out = KeeperError::BadInput("the sign-in was not completed within 5 minutes".into());
        let n = attempt_failed("R&D <main>", Attempt::SignIn, &timed_out, Some(&oauth));
        assert_eq!(n.summary, "Signing in to R&D <main> did not work");
        assert!(n.body.starts_with("The sign-in was not finished in the browser."), "{}", n.body);
        assert_eq!(n.actions, [NoticeAction::SignIn("R&D <main>".into())]);
        assert_eq!(n.integrations, ["R&D <main>"]);
        // the error's words (a command, a protocol) stay in the log
        let refused = KeeperError::NeedsSignIn("run `tokenkeeper login x` (invalid_grant)".into());
        let token = view(Kind::ApiToken, Some(Failure::TokenRefused));
        let n = attempt_failed("R&D <main>", Attempt::Refresh, &refused, Some(&token));
        assert_eq!(n.summary, "Checking R&D <main> did not work");
        assert_eq!(
            n.body,
            "Jira no longer accepts this token — it was revoked or has expired. Create a new one and enter it in Token \
             Keeper.",
            "a notice has no \"here\""
        );
        assert_eq!(n.actions, [NoticeAction::EnterToken("R&D <main>".into())]);
        let away = KeeperError::Unavailable("HTTP 503".into());
        let n = attempt_failed("x", Attempt::Refresh, &away, Some(&oauth));
        assert_eq!(n.summary, "Renewing x did not work");
        assert!(n.body.contains("keeps trying") && n.actions.is_empty(), "{n:?}");
        let n = attempt_failed("x", Attempt::Pause, &KeeperError::Failed("disk full".into()), Some(&oauth));
        assert!(n.body.contains("could not save the change"), "{}", n.body);
        let n = attempt_failed("gone", Attempt::SignIn, &KeeperError::unknown("gone"), None);
        assert_eq!(n.body, "There is no integration called gone any more.");
        assert!(n.actions.is_empty());
    }

    #[test]
    fn a_failed_start_says_what_is_wrong_and_what_then() {
        let error = KeeperError::Damaged {
            file: "/home/a/settings.toml".into(),
            said: "/home/a/settings.toml is damaged (line 1): expected `=`. It was left as it is; fix or remove it."
                .into(),
        };
        let (n, technical) = cannot_start(&error);
        assert_eq!(n.summary, "Token Keeper cannot start");
        assert_eq!(
            n.body,
            "The file /home/a/settings.toml is damaged, so Token Keeper cannot read its settings. The file was left as it is: fix it or move it away. Your integrations are not kept alive until this is fixed; then start Token Keeper again."
        );
        assert_eq!(technical.as_deref(), Some(error.to_string().as_str()), "the parser's words stay in the details");
        let (n, technical) = cannot_start(&KeeperError::Failed("could not show the tray icon: no panel".into()));
        assert!(n.body.starts_with("Could not show the tray icon. Your"), "{}", n.body);
        assert_eq!(technical.as_deref(), Some("could not show the tray icon: no panel"));
    }
}

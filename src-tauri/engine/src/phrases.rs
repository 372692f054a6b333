//! One place for words: every sentence a keeper reads about an integration — its state's label,
//! why it is in that state, what to do, what happens next, its notifications and its history —
//! comes from here, for the `tokenkeeper` command, the tray and the window alike.
//!
//! The rule (PRODUCT.md, "Words"): a sentence says *which service*, *what happened* and *what
//! to do*, in the words of someone who has never seen a terminal ("HighQ isn't answering. Token
//! Keeper tries again at 10:42; nothing to do."). What went wrong travels as a [`Failure`] (a
//! class, never a sentence) with the service's own words — an `invalid_grant`, an HTTP status,
//! an `AADSTS…` code — beside it as technical detail ([`Reason::technical`]), which shells show
//! only under "Technical details", in `--json` and in logs. What to do is a [`Todo`]; the tray
//! and the window say it as here ([`Todo::words`]), the command line names its own commands.
//!
//! [`FORBIDDEN_WORDS`] lists the protocol words no main sentence may hold; the test at the end
//! walks every phrase this module can produce, for every state, kind, failure and provider
//! profile, and fails on any of them. The window checks its own static strings against the same
//! list (`phrases/forbidden-words.txt`).
//!
//! Two parts live in their own files: the tray menu's words ([`menu`]) and the notices about
//! something the keeper asked for that did not work ([`attempts`]). The classes themselves
//! ([`Failure`], [`Reason`], [`Todo`]) are data that the model and the history carry: they live
//! in [`crate::failure`], without words, so neither needs this module.

pub mod attempts;
pub mod menu;

pub use crate::failure::{Failure, Reason, Todo};

use crate::calendar::Calendar;
use crate::history::HistoryEvent;
use crate::model::{IntegrationView, Kind, NextAction, Severity, State, UnixTime};

impl Todo {
    /// What to do, as the tray and the window say it (they show the buttons named here).
    /// `retry` is when Token Keeper tries again, if it does.
    pub fn words(self, retry: Option<UnixTime>, now: UnixTime, calendar: &Calendar) -> String {
        let again = tries_again(retry, now, calendar);
        match self {
            Todo::SignIn => "Click Sign in to connect it.".into(),
            Todo::SignInAgain => "Click Sign in again.".into(),
            Todo::SignInAgainSoon => "Click Sign in again before then to keep it working.".into(),
            Todo::EnterNewToken => "Create a new one and enter it here.".into(),
            Todo::EnterNewTokenSoon => "Create a new one before then and enter it here.".into(),
            Todo::EnterToken => "Create one at the service and enter it here.".into(),
            Todo::AskAdministrator => {
                "Ask whoever set up this connection to check it, then click Sign in again.".into()
            }
            Todo::CheckNetwork => format!("Check your internet or VPN; {again}."),
            Todo::UnlockKeychain => format!("Unlock your keychain (it opens with your login password); {again}."),
            Todo::Wait => format!("{}; nothing to do.", capitalized(&again)),
            Todo::Resume => "Click Resume to start it again.".into(),
            Todo::AddAgain => "Remove it and add it again, or ask whoever gave you its settings.".into(),
            Todo::AskVaultKeeper => "Ask whoever looks after the team vault to repair it there.".into(),
        }
    }
}

/// "Token Keeper tries again at 10:42" (or "on December 7 at 10:42", "now", "keeps trying").
fn tries_again(retry: Option<UnixTime>, now: UnixTime, calendar: &Calendar) -> String {
    match retry {
        None => "Token Keeper keeps trying".into(),
        Some(at) if at <= now => "Token Keeper tries again now".into(),
        Some(at) if calendar.same_day(at, now) => format!("Token Keeper tries again at {}", calendar.clock_time(at)),
        Some(at) => format!("Token Keeper tries again on {} at {}", calendar.date(at), calendar.clock_time(at)),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// What a view is about, for its words.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: Kind,
    /// The service as keepers know it ("HighQ Collaborate", "login.example.com").
    pub service: &'a str,
    pub state: State,
    pub failure: Option<&'a Failure>,
    /// When the API token or the sign-in ends, if known.
    pub credential_expires_at: Option<UnixTime>,
    pub next: NextAction,
    pub now: UnixTime,
}

impl<'a> Subject<'a> {
    /// What a view is about, at `now` (a shell that words the view itself starts here).
    pub fn of(view: &'a IntegrationView, now: UnixTime) -> Self {
        Subject {
            kind: view.kind,
            service: &view.service,
            state: view.state,
            failure: view.failure.as_ref(),
            credential_expires_at: view.refresh_expires_at,
            next: view.next,
            now,
        }
    }
}

/// Why an integration is in its state, and what to do: the words of its detail line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// What happened, one or two short sentences ending in a full stop.
    pub what: String,
    pub todo: Todo,
}

impl Said {
    /// The whole detail line as the tray and the window show it.
    pub fn sentence(&self, subject: &Subject, calendar: &Calendar) -> String {
        format!("{} {}", self.what, self.todo.words(retry_of(subject.next), subject.now, calendar))
    }
}

fn retry_of(next: NextAction) -> Option<UnixTime> {
    match next {
        NextAction::Retry(at) => Some(at),
        _ => None,
    }
}

/// The state in words: "Working", "Not signed in yet", "Needs a new token", "Can't be read".
/// An API token is never signed in to: its keeper enters a token, so its labels say so.
pub fn label(state: State, kind: Kind, failure: Option<&Failure>) -> &'static str {
    let api = kind == Kind::ApiToken;
    match (state, failure) {
        (State::NeedsSignIn, Some(Failure::SettingsUnreadable | Failure::SharedRecordUnreadable))
        | (State::Unreadable, _) => "Can't be read",
        (State::NeedsSignIn, Some(Failure::NotSignedIn)) if api => "No token yet",
        (State::NeedsSignIn, Some(Failure::NotSignedIn)) => "Not signed in yet",
        (State::NeedsSignIn, _) if api => "Needs a new token",
        (state, _) => state.label(),
    }
}

/// How bad it is: a never-signed-in integration is a calm "to do", not a breakage.
pub fn severity(state: State, failure: Option<&Failure>) -> Severity {
    match (state, failure) {
        (State::NeedsSignIn, Some(Failure::NotSignedIn)) => Severity::Attention,
        (state, _) => state.severity(),
    }
}

/// "renews", "checks again", "retries" (followed by a time); `None` when nothing happens until
/// the keeper acts.
pub fn next_verb(state: State, next: NextAction) -> Option<&'static str> {
    if matches!(state, State::Paused | State::NeedsSignIn | State::Unreadable) {
        return None;
    }
    match next {
        NextAction::Renew(_) => Some("renews"),
        NextAction::Check(_) => Some("checks again"),
        NextAction::Retry(_) => Some("retries"),
        NextAction::WaitForKeeper => None,
    }
}

/// Why the integration is in its state and what to do, or `None` when all is well.
pub fn describe(s: &Subject, calendar: &Calendar) -> Option<Said> {
    let service = s.service;
    let api = s.kind == Kind::ApiToken;
    let said = |what: String, todo| Some(Said { what, todo });
    match s.state {
        State::Working | State::Refreshing => None,
        State::Paused => said("Paused: nothing is renewed or checked.".into(), Todo::Resume),
        State::Unreadable if s.failure == Some(&Failure::SharedRecordUnreadable) => {
            Some(refused(s.kind, service, s.failure))
        }
        State::Unreadable => said(unreadable(), Todo::AddAgain),
        State::ExpiringSoon => {
            let end = s.credential_expires_at?;
            let date = calendar.date(end);
            match (api, end <= s.now) {
                (true, false) => said(format!("This {service} token ends on {date}."), Todo::EnterNewTokenSoon),
                (true, true) => said(format!("This {service} token expired on {date}."), Todo::EnterNewToken),
                (false, false) => said(format!("The sign-in to {service} ends on {date}."), Todo::SignInAgainSoon),
                (false, true) => said(format!("The sign-in to {service} ended on {date}."), Todo::SignInAgain),
            }
        }
        State::NeedsSignIn => Some(refused(s.kind, service, s.failure)),
        State::Retrying | State::Offline => {
            let (what, todo) = trouble(service, s.failure);
            let what = if s.state == State::Offline { format!("Stopped working for now: {what}") } else { what };
            said(what, todo)
        }
    }
}

/// Why a service no longer accepts the connection, and what to do.
fn refused(kind: Kind, service: &str, failure: Option<&Failure>) -> Said {
    let api = kind == Kind::ApiToken;
    let (what, todo) = match failure {
        Some(Failure::NotSignedIn) if api => (format!("No {service} token has been entered yet."), Todo::EnterToken),
        Some(Failure::NotSignedIn) => (format!("Token Keeper is not signed in to {service} yet."), Todo::SignIn),
        Some(Failure::SettingsUnreadable) => (unreadable(), Todo::AddAgain),
        Some(Failure::SharedRecordUnreadable) => (
            "Its record in the team vault cannot be read (it may have been changed by hand, or by another version \
             of Token Keeper); it was left as it is."
                .into(),
            Todo::AskVaultKeeper,
        ),
        Some(Failure::NotSecure) => (
            format!("Token Keeper sent nothing to {service}: its address is not a secure one."),
            Todo::AskAdministrator,
        ),
        Some(Failure::AppRefused { explained }) => (
            explained_or(explained, || format!("{service} no longer accepts the app registration this sign-in uses.")),
            Todo::AskAdministrator,
        ),
        Some(Failure::SignInRefused { explained }) if !api => {
            (explained_or(explained, || format!("{service} no longer accepts this sign-in.")), Todo::SignInAgain)
        }
        Some(Failure::RefusedAfterRenewal) => {
            (format!("{service} refuses the connection even after renewing it."), Todo::SignInAgain)
        }
        Some(Failure::NoRenewal) => {
            (format!("{service} gave no way to renew this sign-in without you."), Todo::SignInAgain)
        }
        Some(Failure::SignInPage) if !api => (format!("{service} asks for a new sign-in."), Todo::SignInAgain),
        _ if api => {
            (format!("{service} no longer accepts this token — it was revoked or has expired."), Todo::EnterNewToken)
        }
        _ => (format!("{service} no longer accepts this sign-in."), Todo::SignInAgain),
    };
    Said { what, todo }
}

fn unreadable() -> String {
    "Its settings file is damaged; Token Keeper cannot read it.".into()
}

/// A profile's explanation as a sentence, or the generic words.
fn explained_or(explained: &Option<String>, generic: impl FnOnce() -> String) -> String {
    match explained.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) if e.ends_with(['.', '!', '?']) => e.to_string(),
        Some(e) => format!("{e}."),
        None => generic(),
    }
}

/// A passing trouble (the current token still works, or Token Keeper keeps trying), and what to do.
fn trouble(service: &str, failure: Option<&Failure>) -> (String, Todo) {
    match failure {
        Some(Failure::Unreachable) => (format!("Token Keeper cannot reach {service}."), Todo::CheckNetwork),
        Some(Failure::BadAnswer) => (format!("{service} sent an answer Token Keeper cannot read."), Todo::Wait),
        Some(Failure::AccountUnknown) => (
            format!("{service} did not say which account signed in, so Token Keeper cannot check the connection."),
            Todo::SignInAgain,
        ),
        Some(Failure::KeychainLocked) => ("Your keychain is locked.".into(), Todo::UnlockKeychain),
        Some(Failure::KeychainRefused) => (
            format!(
                "The keychain did not accept the new {service} sign-in; Token Keeper keeps it in memory meanwhile."
            ),
            Todo::Wait,
        ),
        Some(Failure::LocalProblem) => ("Something on this computer got in the way of the renewal.".into(), Todo::Wait),
        Some(Failure::VaultReadOnly) => (
            "This Token Keeper may only read the team vault, so it cannot renew this shared integration; it uses \
             what the other Token Keepers connected there renew."
                .into(),
            Todo::Wait,
        ),
        Some(Failure::VaultUnreachable) => {
            ("Token Keeper cannot reach the team vault that keeps this shared integration.".into(), Todo::Wait)
        }
        _ => (format!("{service} isn't answering."), Todo::Wait),
    }
}

/// The words of one notification: a summary line and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeWords {
    pub summary: String,
    pub body: String,
}

/// The service no longer accepts the connection (the detail line, said to the keeper).
pub fn notice_refused(name: &str, kind: Kind, service: &str, failure: Option<&Failure>) -> NoticeWords {
    let said = refused(kind, service, failure);
    // A notice has no "here": its action button (or its click) opens the fix.
    let todo = match said.todo {
        Todo::EnterNewToken | Todo::EnterToken => "Create a new one and enter it in Token Keeper.",
        Todo::AskAdministrator => "Ask whoever set up this connection to check it, then sign in again.",
        Todo::AddAgain => "Remove it and add it again in Token Keeper.",
        _ => "Click to sign in again.",
    };
    NoticeWords { summary: format!("{name} stopped working"), body: format!("{} {todo}", said.what) }
}

/// Renewals keep failing and the current connection stops working in `left` seconds (or did
/// already, `left <= 0`).
pub fn notice_trouble(name: &str, service: &str, failure: Option<&Failure>, left: i64) -> NoticeWords {
    let offline = matches!(failure, Some(Failure::Unreachable));
    let cause = match failure {
        Some(Failure::Unreachable) => format!("Token Keeper cannot reach {service}."),
        Some(Failure::KeychainLocked) => "Your keychain is locked.".to_string(),
        Some(other) if other != &Failure::NotAnswering => trouble(service, Some(other)).0,
        _ => format!("{service} isn't answering."),
    };
    let todo = match failure {
        Some(Failure::Unreachable) => "Check your internet or VPN.",
        Some(Failure::KeychainLocked) => "Unlock your keychain (it opens with your login password).",
        _ => "Nothing to do.",
    };
    let _ = offline;
    if left <= 0 {
        NoticeWords {
            summary: format!("{name} stopped working"),
            body: format!("{cause} {todo} Token Keeper keeps trying and tells you when it works again."),
        }
    } else {
        NoticeWords {
            summary: format!("{name} may stop working soon"),
            body: format!("{cause} {todo} {name} keeps working for {} more; Token Keeper keeps trying.", minutes(left)),
        }
    }
}

/// The team vault no longer accepts this keeper: its shared integrations are not kept here
/// until someone connects again.
pub fn notice_vault_access_ended() -> NoticeWords {
    NoticeWords {
        summary: "Token Keeper can no longer reach the team vault".into(),
        body: "Its access has ended (it expired or was withdrawn), so the integrations shared with your team are \
               not kept up to date here. Connect again with the access whoever looks after the team vault gives you."
            .into(),
    }
}

/// Working again after a problem was notified.
pub fn notice_back(name: &str, service: &str) -> NoticeWords {
    NoticeWords {
        summary: format!("{name} is working again"),
        body: format!("Token Keeper reached {service} again; {name} works."),
    }
}

/// The API token or the sign-in ends at `end`; `absolute_limit_days` says why, when a
/// provider's fixed limit is what ends it.
pub fn notice_expiry(
    name: &str,
    kind: Kind,
    service: &str,
    end: UnixTime,
    now: UnixTime,
    absolute_limit_days: Option<u32>,
    calendar: &Calendar,
) -> NoticeWords {
    let when = days(end - now);
    let date = calendar.date(end);
    if kind == Kind::ApiToken {
        NoticeWords {
            summary: format!("The {service} token of {name} ends {when}"),
            body: format!(
                "{service} stops accepting it after {date}. Create a new token there and enter it in Token Keeper before then."
            ),
        }
    } else {
        let why = absolute_limit_days
            .map(|d| format!(" ({service} ends every sign-in {d} days after it was made, however often it is renewed)"))
            .unwrap_or_default();
        NoticeWords {
            summary: format!("The sign-in of {name} ends {when}"),
            body: format!("{service} ends this sign-in on {date}{why}. Sign in again before then to keep it working."),
        }
    }
}

/// Why a sign-in did not complete (nothing changed), and what to do.
pub fn sign_in_failed(service: &str, failure: &Failure) -> String {
    match failure {
        Failure::Unreachable => format!(
            "Token Keeper cannot reach {service}, so the sign-in did not complete. Check your internet or VPN and try again."
        ),
        Failure::NotAnswering | Failure::BadAnswer => {
            format!("{service} isn't answering, so the sign-in did not complete. Try again later.")
        }
        Failure::AppRefused { explained } => format!(
            "{} The sign-in did not complete; ask whoever set up this connection to check it.",
            explained_or(explained, || format!("{service} refused the app registration this sign-in uses."))
        ),
        Failure::SignInRefused { explained } => format!(
            "{} Nothing changed; try signing in again.",
            explained_or(explained, || format!("{service} did not accept the sign-in."))
        ),
        other => format!(
            "The sign-in to {service} did not complete: {} Nothing changed; try again.",
            trouble(service, Some(other)).0
        ),
    }
}

/// Why a new API token was not saved, and what to do.
pub fn token_not_saved(service: &str, failure: &Failure) -> String {
    match failure {
        Failure::TokenRefused | Failure::SignInPage => format!(
            "{service} does not accept this token, so it was not saved. Check that you copied all of it (and the \
             e-mail address, if the service asks for one), or create a new one."
        ),
        Failure::Unreachable => format!(
            "Token Keeper cannot reach {service} to check this token, so it was not saved. Check your internet or VPN \
             and try again."
        ),
        _ => {
            format!("{service} isn't answering, so this token could not be checked and was not saved. Try again later.")
        }
    }
}

/// "a minute", "5 minutes".
fn minutes(secs: i64) -> String {
    let m = (secs + 59) / 60;
    if m <= 1 {
        "a minute".into()
    } else {
        format!("{m} minutes")
    }
}

/// "today", "tomorrow", "in 5 days".
fn days(secs: i64) -> String {
    match secs / 86_400 {
        0 => "today".into(),
        1 => "tomorrow".into(),
        d => format!("in {d} days"),
    }
}

/// A view's words for an error a command returns: what happened, without what to click (each
/// shell adds its own way to act): "\"jira\": HighQ isn't answering."
pub fn view_words(view: &IntegrationView, now: UnixTime) -> String {
    let calendar = Calendar::system();
    match describe(&Subject::of(view, now), &calendar) {
        Some(said) => format!("\"{}\": {}", view.name, said.what),
        None => format!("\"{}\": {}.", view.name, view.state_label),
    }
}

/// One history entry as a sentence (the technical words stay in the entry's `reason`).
pub fn history(event: &HistoryEvent, kind: Kind, service: &str, calendar: &Calendar) -> String {
    let what = |failure: &Option<Failure>, transient: bool| match failure {
        Some(f) if transient || Reason::plain(f.clone()).is_transient() => trouble(service, Some(f)).0,
        Some(f) => refused(kind, service, Some(f)).what,
        None if transient => format!("{service} could not be reached or did not answer."),
        None => refused(kind, service, None).what,
    };
    match event {
        HistoryEvent::Added => "Added to Token Keeper.".into(),
        HistoryEvent::SignedIn if kind == Kind::ApiToken => "New token entered; it works.".into(),
        HistoryEvent::SignedIn => format!("Signed in to {service}."),
        HistoryEvent::SignedInElsewhere if kind == Kind::ApiToken => {
            "New token entered on another Token Keeper connected to the team vault.".into()
        }
        HistoryEvent::SignedInElsewhere => {
            format!("Signed in to {service} on another Token Keeper connected to the team vault.")
        }
        HistoryEvent::SignInFailed { failure, .. } => {
            format!("The sign-in did not succeed: {}", what(failure, false))
        }
        HistoryEvent::Refreshed { expires_at: Some(at) } => {
            format!("Renewed; good until {} {}.", calendar.date(*at), calendar.clock_time(*at))
        }
        HistoryEvent::Refreshed { expires_at: None } => "Renewed.".into(),
        HistoryEvent::RefreshFailed { failure, transient: true, .. } => {
            format!("Could not renew, will retry: {}", what(failure, true))
        }
        HistoryEvent::RefreshFailed { failure, transient: false, .. } => {
            format!("Renewal refused: {}", what(failure, false))
        }
        HistoryEvent::Checked { accepted: true, .. } => "Checked: it works.".into(),
        HistoryEvent::Checked { accepted: false, failure: Some(f), .. } => {
            format!("Check failed: {}", what(&Some(f.clone()), false))
        }
        HistoryEvent::Checked { accepted: false, failure: None, .. } => "Check failed.".into(),
        HistoryEvent::StateChanged { from, to } => {
            format!("{} → {}.", label(*from, kind, None), label(*to, kind, None))
        }
        HistoryEvent::Notified { summary } => format!("Notified: {summary}."),
        HistoryEvent::KeychainWriteFailed { .. } => {
            "The keychain did not accept the new sign-in; kept in memory and tried again.".into()
        }
        HistoryEvent::VaultWriteFailed { .. } => {
            "The team vault did not take the new sign-in; kept in memory and tried again.".into()
        }
        HistoryEvent::Paused { paused: true } => "Paused.".into(),
        HistoryEvent::Paused { paused: false } => "Resumed.".into(),
        HistoryEvent::SitesNotListed { .. } => {
            format!("Signed in, but {service} did not list the sites this sign-in reaches.")
        }
    }
}

/// The protocol words of `phrases/forbidden-words.txt`.
pub const FORBIDDEN_WORDS_FILE: &str = include_str!("phrases/forbidden-words.txt");

/// The forbidden words, one by one.
pub fn forbidden_words() -> impl Iterator<Item = &'static str> {
    FORBIDDEN_WORDS_FILE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// The first protocol word in `text` that a keeper must not read, if any: a listed word (whole,
/// any case, a plural "s" included) or a standalone status number from 400 to 599.
pub fn jargon(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    for word in forbidden_words() {
        let word = word.to_lowercase();
        for (at, _) in lower.match_indices(&word) {
            let before = lower[..at].chars().next_back();
            let mut after = lower[at + word.len()..].chars();
            let next = match after.next() {
                Some('s') => after.next(),
                other => other,
            };
            if !before.is_some_and(word_char) && !next.is_some_and(word_char) {
                return Some(word);
            }
        }
    }
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|n| n.len() == 3)
        .find(|n| n.parse::<u16>().is_ok_and(|n| (400..600).contains(&n)))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    use crate::alerts::{decide, Facts, NoticeLedger, DEFAULT_EXPIRY_LEADS};
    use crate::calendar::Style;
    use crate::keeper::KeeperError;
    use crate::providers;

    /// 2026-12-06 08:33:20 in New York.
    const NOW: UnixTime = 1_796_564_000;

    fn calendar() -> Calendar {
        Calendar::fixed(TimeZone::get("America/New_York").unwrap(), Style::UnitedStates)
    }

    /// Every failure class, with every explanation of every built-in profile.
    fn every_failure() -> Vec<Option<Failure>> {
        let mut all = vec![
            None,
            Some(Failure::NotSignedIn),
            Some(Failure::SignInRefused { explained: None }),
            Some(Failure::AppRefused { explained: None }),
            Some(Failure::TokenRefused),
            Some(Failure::RefusedAfterRenewal),
            Some(Failure::SignInPage),
            Some(Failure::NoRenewal),
            Some(Failure::NotAnswering),
            Some(Failure::Unreachable),
            Some(Failure::BadAnswer),
            Some(Failure::AccountUnknown),
            Some(Failure::KeychainLocked),
            Some(Failure::KeychainRefused),
            Some(Failure::LocalProblem),
            Some(Failure::SettingsUnreadable),
            Some(Failure::NotSecure),
            Some(Failure::VaultUnreachable),
            Some(Failure::SharedRecordUnreadable),
            Some(Failure::VaultReadOnly),
        ];
        for profile in providers::built_in() {
            let wire = &profile.wire;
            for text in wire.explanations.values().chain(wire.description_explanations.values()) {
                all.push(Some(Failure::SignInRefused { explained: Some(text.clone()) }));
                all.push(Some(Failure::AppRefused { explained: Some(text.clone()) }));
            }
        }
        all
    }

    /// Every service name a keeper can see: each profile's, and a host for the generic ones.
    fn every_service() -> Vec<String> {
        let presets = providers::built_in().into_iter().filter(|p| !p.is_generic()).map(|p| p.name);
        presets.chain(["login.example.com".to_string(), crate::keeper::slot::UNNAMED_SERVICE.to_string()]).collect()
    }

    fn assert_plain(text: &str, context: &dyn std::fmt::Debug) {
        assert!(jargon(text).is_none(), "{:?} in {text:?} ({context:?})", jargon(text));
        assert!(!text.contains('`'), "a command in {text:?} ({context:?})");
    }

    #[test]
    fn every_phrase_is_free_of_protocol_words() {
        let cal = calendar();
        let nexts = [
            NextAction::Renew(NOW + 3600),
            NextAction::Check(NOW + 60),
            NextAction::Retry(NOW + 120),
            NextAction::Retry(NOW + 3 * 86_400),
            NextAction::Retry(NOW - 1),
            NextAction::WaitForKeeper,
        ];
        let mut count = 0;
        for service in every_service() {
            for kind in [Kind::Oauth, Kind::ApiToken] {
                for failure in every_failure() {
                    for state in State::ALL {
                        assert_plain(label(state, kind, failure.as_ref()), &(state, &failure));
                        for end in [None, Some(NOW + 5 * 86_400), Some(NOW - 86_400)] {
                            for next in nexts {
                                let subject = Subject {
                                    kind,
                                    service: &service,
                                    state,
                                    failure: failure.as_ref(),
                                    credential_expires_at: end,
                                    next,
                                    now: NOW,
                                };
                                if let Some(said) = describe(&subject, &cal) {
                                    let sentence = said.sentence(&subject, &cal);
                                    assert_plain(&sentence, &subject);
                                    assert!(sentence.ends_with('.'), "{sentence}");
                                    count += 1;
                                }
                                if let Some(verb) = next_verb(state, next) {
                                    assert_plain(verb, &next);
                                }
                            }
                        }
                    }
                    for words in [
                        notice_refused("Reports", kind, &service, failure.as_ref()),
                        notice_trouble("Reports", &service, failure.as_ref(), 300),
                        notice_trouble("Reports", &service, failure.as_ref(), 0),
                    ] {
                        assert_plain(&words.summary, &(&service, &failure));
                        assert_plain(&words.body, &(&service, &failure));
                    }
                    if let Some(f) = &failure {
                        assert_plain(&sign_in_failed(&service, f), f);
                        assert_plain(&token_not_saved(&service, f), f);
                    }
                    for event in history_events(failure.clone()) {
                        assert_plain(&history(&event, kind, &service, &cal), &event);
                    }
                }
                for limit in [None, Some(365)] {
                    let words = notice_expiry("Reports", kind, &service, NOW + 3 * 86_400, NOW, limit, &cal);
                    assert_plain(&words.summary, &service);
                    assert_plain(&words.body, &service);
                }
                for words in [notice_back("Reports", &service), notice_vault_access_ended()] {
                    assert_plain(&words.summary, &service);
                    assert_plain(&words.body, &service);
                }
                for attempt in attempts::Attempt::ALL {
                    for undone in attempts::Undone::ALL {
                        for failure in every_failure() {
                            let failure = failure.as_ref();
                            let words = attempts::notice_failed("Reports", attempt, undone, kind, &service, failure);
                            assert_plain(&words.summary, &(attempt, undone));
                            assert_plain(&words.body, &(attempt, undone));
                        }
                    }
                }
                for todo in [None, Some(Todo::SignIn), Some(Todo::EnterToken), Some(Todo::SignInAgain)] {
                    assert_plain(&menu::fix("Reports", kind, todo), &todo);
                    assert_plain(menu::sign_in(kind, todo), &todo);
                }
                assert_plain(menu::refresh(kind), &kind);
            }
        }
        for (total, needing, paused) in
            [(0, 0, false), (1, 0, false), (3, 0, true), (3, 0, false), (3, 1, false), (9, 4, false)]
        {
            assert_plain(&menu::summary(total, needing, paused), &total);
        }
        for (working, paused) in [(0, 0), (7, 0), (7, 1), (0, 2)] {
            assert_plain(&menu::all_integrations(working, paused), &working);
        }
        for name in [None, Some("Reports")] {
            assert_plain(&menu::notice_sign_in(name), &name);
            assert_plain(&menu::notice_enter_token(name), &name);
        }
        for label in menu::FIXED {
            assert_plain(label, &label);
        }
        let damaged = KeeperError::Damaged {
            file: "/home/k/.config/settings.toml".into(),
            said: "settings.toml is damaged (line 1): invalid type: integer, expected a sequence".into(),
        };
        for error in [
            damaged,
            KeeperError::KeychainLocked("org.freedesktop.DBus.Error.NoReply: no reply in 25 s".into()),
            KeeperError::Failed(
                "the system keychain is not available: org.freedesktop.DBus.Error.ServiceUnknown".into(),
            ),
        ] {
            let words = attempts::notice_cannot_start(&error);
            assert_plain(&words.words.body, &"cannot start");
            assert!(!words.words.body.contains("DBus") && !words.words.body.contains("expected"), "{words:?}");
            assert_eq!(words.technical.as_deref(), Some(error.to_string().as_str()), "the details keep it all");
        }
        assert!(count > 10_000, "only {count} sentences walked");
    }

    fn history_events(failure: Option<Failure>) -> Vec<HistoryEvent> {
        let reason = "invalid_grant: HTTP 401".to_string();
        let mut all = vec![
            HistoryEvent::Added,
            HistoryEvent::SignedIn,
            HistoryEvent::SignedInElsewhere,
            HistoryEvent::Refreshed { expires_at: Some(NOW) },
            HistoryEvent::Refreshed { expires_at: None },
            HistoryEvent::Notified { summary: "Reports stopped working".into() },
            HistoryEvent::Paused { paused: true },
            HistoryEvent::Paused { paused: false },
            HistoryEvent::KeychainWriteFailed { reason: reason.clone() },
            HistoryEvent::VaultWriteFailed { reason: reason.clone() },
            HistoryEvent::SitesNotListed { reason: reason.clone() },
            HistoryEvent::SignInFailed { reason: reason.clone(), failure: failure.clone() },
            HistoryEvent::RefreshFailed { reason: reason.clone(), transient: true, failure: failure.clone() },
            HistoryEvent::RefreshFailed { reason: reason.clone(), transient: false, failure: failure.clone() },
            HistoryEvent::Checked { accepted: true, reason: None, failure: None },
            HistoryEvent::Checked { accepted: false, reason: Some(reason), failure },
        ];
        for from in State::ALL {
            for to in State::ALL {
                all.push(HistoryEvent::StateChanged { from, to });
            }
        }
        all
    }

    /// The notices the rules decide, for every state, kind and failure: the same check on what
    /// `alerts` actually sends.
    #[test]
    fn every_notice_decided_is_free_of_protocol_words() {
        let cal = calendar();
        for service in every_service() {
            for kind in [Kind::Oauth, Kind::ApiToken] {
                for failure in every_failure() {
                    for state in State::ALL {
                        for (left, end) in [(300, Some(NOW + 86_400)), (-10, Some(NOW + 10 * 86_400)), (3600, None)] {
                            let facts = Facts {
                                name: "Reports",
                                service: &service,
                                state,
                                kind,
                                failure: failure.as_ref(),
                                access_expires_at: Some(NOW + left),
                                access_lifetime: Some(3600),
                                credential_expires_at: end,
                                absolute_limit_days: Some(365),
                                now: NOW,
                                expiry_leads_days: &DEFAULT_EXPIRY_LEADS,
                                calendar: &cal,
                            };
                            let mut ledger = NoticeLedger::default();
                            for notice in decide(&facts, &mut ledger) {
                                assert_plain(&notice.summary, &facts);
                                assert_plain(&notice.body, &facts);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_issue_s_sentences() {
        let cal = calendar();
        let say = |kind, service: &str, state, failure: Option<Failure>, next| {
            let subject = Subject {
                kind,
                service,
                state,
                failure: failure.as_ref(),
                credential_expires_at: None,
                next,
                now: NOW,
            };
            describe(&subject, &cal).map(|s| s.sentence(&subject, &cal)).unwrap_or_default()
        };
        assert_eq!(
            say(
                Kind::Oauth,
                "login.example.com",
                State::NeedsSignIn,
                Some(Failure::SignInRefused { explained: None }),
                NextAction::WaitForKeeper
            ),
            "login.example.com no longer accepts this sign-in. Click Sign in again."
        );
        assert_eq!(
            say(Kind::ApiToken, "Jira", State::NeedsSignIn, Some(Failure::TokenRefused), NextAction::WaitForKeeper),
            "Jira no longer accepts this token — it was revoked or has expired. Create a new one and enter it here."
        );
        // 10:42 the same morning:
        let retry = NOW + 2 * 3600 + 8 * 60 + 40;
        assert_eq!(
            say(Kind::Oauth, "HighQ", State::Retrying, Some(Failure::NotAnswering), NextAction::Retry(retry)),
            "HighQ isn't answering. Token Keeper tries again at 10:42 AM; nothing to do."
        );
        assert_eq!(
            say(Kind::Oauth, "HighQ", State::Offline, Some(Failure::Unreachable), NextAction::Retry(retry)),
            "Stopped working for now: Token Keeper cannot reach HighQ. Check your internet or VPN; Token Keeper tries again at 10:42 AM."
        );
        assert_eq!(
            say(Kind::Oauth, "HighQ", State::NeedsSignIn, Some(Failure::NotSignedIn), NextAction::WaitForKeeper),
            "Token Keeper is not signed in to HighQ yet. Click Sign in to connect it."
        );
        assert_eq!(
            say(Kind::ApiToken, "Jira", State::NeedsSignIn, Some(Failure::SignInPage), NextAction::WaitForKeeper),
            "Jira no longer accepts this token — it was revoked or has expired. Create a new one and enter it here.",
            "a sign-in page for an API token means the token is dead"
        );
        assert_eq!(label(State::NeedsSignIn, Kind::Oauth, Some(&Failure::NotSignedIn)), "Not signed in yet");
        assert_eq!(label(State::NeedsSignIn, Kind::ApiToken, Some(&Failure::NotSignedIn)), "No token yet");
        assert_eq!(label(State::NeedsSignIn, Kind::Oauth, Some(&Failure::TokenRefused)), "Needs sign-in");
        assert_eq!(
            label(State::NeedsSignIn, Kind::ApiToken, Some(&Failure::TokenRefused)),
            "Needs a new token",
            "nobody signs in to an API token"
        );
        let changed = HistoryEvent::StateChanged { from: State::Working, to: State::NeedsSignIn };
        assert_eq!(history(&changed, Kind::ApiToken, "Jira", &calendar()), "Working → Needs a new token.");
        assert_eq!(history(&changed, Kind::Oauth, "Jira", &calendar()), "Working → Needs sign-in.");
        assert_eq!(severity(State::NeedsSignIn, Some(&Failure::NotSignedIn)), Severity::Attention);
        assert_eq!(severity(State::NeedsSignIn, Some(&Failure::TokenRefused)), Severity::Broken);
    }

    #[test]
    fn a_passed_end_date_reads_expired_on() {
        let cal = calendar();
        let subject = Subject {
            kind: Kind::ApiToken,
            service: "Atlassian",
            state: State::ExpiringSoon,
            failure: None,
            credential_expires_at: Some(NOW - 3 * 86_400),
            next: NextAction::Check(NOW + 60),
            now: NOW,
        };
        let said = describe(&subject, &cal).unwrap().sentence(&subject, &cal);
        assert_eq!(said, "This Atlassian token expired on December 3, 2026. Create a new one and enter it here.");
        assert!(!said.contains(" in now"), "{said}");
    }

    #[test]
    fn failure_classes_are_spelled_as_serde_spells_them() {
        for failure in every_failure().into_iter().flatten() {
            let value = serde_json::to_value(&failure).unwrap();
            assert_eq!(value["failure"], failure.class(), "{failure:?}");
        }
    }

    #[test]
    fn jargon_is_found_as_whole_words_in_any_case() {
        assert_eq!(jargon("the service answered invalid_grant").as_deref(), Some("invalid_grant"));
        assert_eq!(jargon("refused (HTTP 401)").as_deref(), Some("http"));
        assert_eq!(jargon("refused (401)").as_deref(), Some("401"));
        assert_eq!(jargon("run `tokenkeeper login jira`").as_deref(), Some("tokenkeeper"));
        assert_eq!(jargon("ask for more scopes").as_deref(), Some("scope"));
        assert_eq!(jargon("Your Refresh Token expired").as_deref(), Some("refresh token"));
        assert_eq!(jargon("access was granted; Token Keeper ends in 365 days at 10:42"), None);
        assert_eq!(jargon("Atlassian ends every sign-in 365 days after it was made"), None);
    }
}

//! Plain words for times and states on the command line: "in 3 h", "expired 5 min ago",
//! "renews in 15 min", "Expired on December 7, 2026", local clock times, and an integration's
//! detail with the command that fixes it. The sentences themselves come from the engine's
//! phrase table (`tokenkeeper_engine::phrases`); this module only adds the commands.
//!
//! Keepers read these lines, so they say what happens in words and round to what matters; the
//! exact instants are in the JSON output. Everything here is pure: "now" and the local UTC
//! offset are passed in as a [`Now`], so the words can be tested against fixed times. The offset
//! is read once at start-up, before any thread exists (the `time` crate refuses to read it later
//! on some platforms).

use time::{OffsetDateTime, UtcOffset};
use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::history::HistoryEvent;
use tokenkeeper_engine::model::{IntegrationView, NextAction, State, UnixTime};
use tokenkeeper_engine::phrases::{self, Subject, Todo};

/// The moment a command runs, and where on Earth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Seconds since the Unix epoch.
    pub at: UnixTime,
    /// The local offset from UTC, for clock times.
    pub offset: UtcOffset,
}

impl Now {
    /// The wall clock, with the offset read at start-up.
    pub fn system(offset: UtcOffset) -> Self {
        Self { at: tokenkeeper_engine::clock::now().secs(), offset }
    }

    /// The wall clock again, after something that took a while (a refresh, a sign-in).
    pub fn again(self) -> Self {
        Self::system(self.offset)
    }
}

/// A length of time, rounded to what a person cares about:
/// "10 s", "25 min", "3 h 20 min" (under 10 hours), "14 h", "5 days".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let round = |unit: i64| (secs + unit / 2) / unit;
    if secs < 60 {
        return format!("{secs} s");
    }
    if secs < 3600 {
        let min = round(60);
        return if min == 60 { "1 h".into() } else { format!("{min} min") };
    }
    if secs < 10 * 3600 {
        let min = round(60);
        let (h, m) = (min / 60, min % 60);
        return if m == 0 { format!("{h} h") } else { format!("{h} h {m} min") };
    }
    if secs < 48 * 3600 {
        return format!("{} h", round(3600));
    }
    format!("{} days", round(86_400))
}

/// "in 3 h", "5 min ago", or "now" (within a second).
pub fn relative(at: UnixTime, now: Now) -> String {
    let delta = at - now.at;
    match delta {
        0 => "now".into(),
        d if d > 0 => format!("in {}", duration(d)),
        d => format!("{} ago", duration(-d)),
    }
}

/// When a token ends: "in 45 min", "expired 2 h ago", or "—" when nobody knows.
pub fn expiry(at: Option<UnixTime>, now: Now) -> String {
    match at {
        None => "—".into(),
        Some(at) if at == now.at => "expired just now".into(),
        Some(at) if at < now.at => format!("expired {}", relative(at, now)),
        Some(at) => relative(at, now),
    }
}

/// What the keeper does next: "renews in 3 h", "checks again in 25 min", "retries in 10 s",
/// "waits for you" (the verbs are the engine's). An overdue deadline reads "renews now".
pub fn next(action: NextAction, now: Now) -> String {
    let when = |at: UnixTime| {
        if at <= now.at {
            "now".to_string()
        } else {
            relative(at, now)
        }
    };
    match (phrases::next_verb(State::Working, action), action) {
        (Some(verb), NextAction::Renew(at) | NextAction::Check(at) | NextAction::Retry(at)) => {
            format!("{verb} {}", when(at))
        }
        _ => "waits for you".into(),
    }
}

/// A clock time in the local zone: "2025-03-01 14:05".
pub fn local_minute(at: UnixTime, offset: UtcOffset) -> String {
    format_local(at, offset, time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"))
}

/// A clock time in the local zone, to the second: "2025-03-01 14:05:09".
pub fn local_second(at: UnixTime, offset: UtcOffset) -> String {
    format_local(at, offset, time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
}

fn format_local(
    at: UnixTime,
    offset: UtcOffset,
    format: &[time::format_description::BorrowedFormatItem<'_>],
) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.to_offset(offset).format(format).ok())
        .unwrap_or_else(|| format!("@{at}"))
}

/// An instant for scripts: RFC 3339 in UTC ("2025-03-01T13:05:09Z"), `None` if out of range.
pub fn rfc3339(at: UnixTime) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(at).ok()?.format(&time::format_description::well_known::Rfc3339).ok()
}

pub use crate::shell::shell_word;

/// A history event as a stable kebab-case word (the `event` field of the JSON).
pub fn event_word(event: &HistoryEvent) -> &'static str {
    match event {
        HistoryEvent::Added => "added",
        HistoryEvent::SignedIn => "signed-in",
        HistoryEvent::SignedInElsewhere => "signed-in-elsewhere",
        HistoryEvent::SignInFailed { .. } => "sign-in-failed",
        HistoryEvent::Refreshed { .. } => "refreshed",
        HistoryEvent::RefreshFailed { .. } => "refresh-failed",
        HistoryEvent::Checked { .. } => "checked",
        HistoryEvent::StateChanged { .. } => "state-changed",
        HistoryEvent::Notified { .. } => "notified",
        HistoryEvent::KeychainWriteFailed { .. } => "keychain-write-failed",
        HistoryEvent::VaultWriteFailed { .. } => "vault-write-failed",
        HistoryEvent::Paused { paused: true } => "paused",
        HistoryEvent::Paused { paused: false } => "resumed",
        HistoryEvent::SitesNotListed { .. } => "sites-not-listed",
    }
}

/// A history entry's technical words (the service's codes), when it has some.
pub fn event_technical(event: &HistoryEvent) -> Option<&str> {
    match event {
        HistoryEvent::SignInFailed { reason, .. }
        | HistoryEvent::RefreshFailed { reason, .. }
        | HistoryEvent::KeychainWriteFailed { reason }
        | HistoryEvent::VaultWriteFailed { reason }
        | HistoryEvent::SitesNotListed { reason } => Some(reason.as_str()).filter(|r| !r.is_empty()),
        HistoryEvent::Checked { reason, .. } => reason.as_deref().filter(|r| !r.is_empty()),
        _ => None,
    }
}

/// When an API token or a sign-in ends, as a date here: "December 7, 2026 (in 5 days)",
/// "Expired on December 7, 2026", or "—" when nobody knows.
pub fn ends(at: Option<UnixTime>, now: Now, calendar: &Calendar) -> String {
    match at {
        None => "—".into(),
        Some(at) if at <= now.at => format!("Expired on {}", calendar.date(at)),
        Some(at) => format!("{} ({})", calendar.date(at), relative(at, now)),
    }
}

/// Why the integration is in its state and what to do, as the command line says it: the
/// engine's words, with a command where the window would show a button.
pub fn detail(view: &IntegrationView, now: Now, calendar: &Calendar) -> Option<String> {
    let subject = Subject::of(view, now.at);
    let said = phrases::describe(&subject, calendar)?;
    let name = shell_word(&view.name);
    let todo = match said.todo {
        Todo::SignIn | Todo::SignInAgain | Todo::SignInAgainSoon => format!("To sign in: tokenkeeper login {name}"),
        Todo::AskAdministrator => {
            format!("Ask whoever set up this connection to check it, then: tokenkeeper login {name}")
        }
        Todo::EnterNewToken | Todo::EnterNewTokenSoon | Todo::EnterToken => {
            format!("Create a new token at the service, then: tokenkeeper login {name} --expires YYYY-MM-DD")
        }
        Todo::Resume => format!("To resume: tokenkeeper resume {name}"),
        Todo::AddAgain => format!("Remove it (tokenkeeper remove {name}) and add it again."),
        other => other.words(retry_of(view.next), now.at, calendar),
    };
    Some(format!("{} {todo}", said.what))
}

fn retry_of(next: NextAction) -> Option<UnixTime> {
    match next {
        NextAction::Retry(at) => Some(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Now = Now { at: 1_750_000_000, offset: UtcOffset::UTC };

    #[test]
    fn durations_round_to_what_matters() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(10), "10 s");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(60), "1 min");
        assert_eq!(duration(25 * 60 + 10), "25 min");
        assert_eq!(duration(14 * 60 + 50), "15 min");
        assert_eq!(duration(3599), "1 h");
        assert_eq!(duration(3 * 3600), "3 h");
        assert_eq!(duration(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(duration(14 * 3600 + 20 * 60), "14 h");
        assert_eq!(duration(47 * 3600), "47 h");
        assert_eq!(duration(89 * 86_400 + 3600), "89 days");
        assert_eq!(duration(-5), "0 s");
    }

    #[test]
    fn relative_times_read_forwards_and_backwards() {
        assert_eq!(relative(NOW.at + 3 * 3600, NOW), "in 3 h");
        assert_eq!(relative(NOW.at - 300, NOW), "5 min ago");
        assert_eq!(relative(NOW.at, NOW), "now");
        assert_eq!(expiry(Some(NOW.at + 45 * 60), NOW), "in 45 min");
        assert_eq!(expiry(Some(NOW.at - 2 * 3600), NOW), "expired 2 h ago");
        assert_eq!(expiry(Some(NOW.at), NOW), "expired just now");
        assert_eq!(expiry(None, NOW), "—");
    }

    #[test]
    fn next_actions_in_words() {
        assert_eq!(next(NextAction::Renew(NOW.at + 3 * 3600), NOW), "renews in 3 h");
        assert_eq!(next(NextAction::Check(NOW.at + 25 * 60), NOW), "checks again in 25 min");
        assert_eq!(next(NextAction::Retry(NOW.at + 10), NOW), "retries in 10 s");
        assert_eq!(next(NextAction::Renew(NOW.at - 3), NOW), "renews now");
        assert_eq!(next(NextAction::WaitForKeeper, NOW), "waits for you");
    }

    #[test]
    fn clock_times_are_local_and_rfc3339_is_utc() {
        let plus_two = UtcOffset::from_hms(2, 0, 0).unwrap();
        // 2025-06-15 15:06:40 UTC
        assert_eq!(local_second(NOW.at, UtcOffset::UTC), "2025-06-15 15:06:40");
        assert_eq!(local_second(NOW.at, plus_two), "2025-06-15 17:06:40");
        assert_eq!(local_minute(NOW.at, plus_two), "2025-06-15 17:06");
        assert_eq!(rfc3339(NOW.at).as_deref(), Some("2025-06-15T15:06:40Z"));
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn names_are_quoted_for_the_shell_in_hints() {
        assert_eq!(shell_word("jira"), "jira");
        assert_eq!(shell_word("HighQ reporting"), "'HighQ reporting'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    fn utc() -> Calendar {
        Calendar::utc(tokenkeeper_engine::calendar::Style::UnitedStates)
    }

    #[test]
    fn an_end_date_reads_as_a_date_and_expired_on_once_passed() {
        assert_eq!(ends(Some(NOW.at + 5 * 86_400), NOW, &utc()), "June 20, 2025 (in 5 days)");
        assert_eq!(ends(Some(NOW.at - 86_400), NOW, &utc()), "Expired on June 14, 2025");
        assert_eq!(ends(Some(NOW.at), NOW, &utc()), "Expired on June 15, 2025", "never \"in now\"");
        assert_eq!(ends(None, NOW, &utc()), "—");
    }

    #[test]
    fn a_detail_names_the_command_where_the_window_has_a_button() {
        use tokenkeeper_engine::model::Kind;
        use tokenkeeper_engine::phrases::Failure;
        let view = IntegrationView {
            name: "Jira token".into(),
            kind: Kind::ApiToken,
            service: "Atlassian".into(),
            state: State::NeedsSignIn,
            failure: Some(Failure::TokenRefused),
            ..IntegrationView::default()
        };
        assert_eq!(
            detail(&view, NOW, &utc()).unwrap(),
            "Atlassian no longer accepts this token — it was revoked or has expired. Create a new token at the \
             service, then: tokenkeeper login 'Jira token' --expires YYYY-MM-DD"
        );
        let view = IntegrationView {
            name: "hq".into(),
            service: "HighQ".into(),
            state: State::Retrying,
            failure: Some(Failure::NotAnswering),
            next: NextAction::Retry(NOW.at + 600),
            ..IntegrationView::default()
        };
        assert_eq!(
            detail(&view, NOW, &utc()).unwrap(),
            "HighQ isn't answering. Token Keeper tries again at 3:16 PM; nothing to do."
        );
    }
}

//! The text that people read: the `list` table, the `status` block and the one-line summary
//! that `refresh`, `pause`, `resume` and `login` print (`jira: Working, renews in 15 min`).
//!
//! Pure functions from engine views to strings (the words come from [`crate::words`]), so the
//! layout can be tested without a keeper. Scripts should read the JSON forms instead; these
//! lines may be reworded.

use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::model::{IntegrationView, Kind, NextAction, Site, State};
use tokenkeeper_engine::phrases;
use tokenkeeper_engine::IntegrationStatus;

use crate::words::{self, Now};

/// How many history lines the text form of `status` shows.
pub const HISTORY_LINES: usize = 20;

const HEADERS: [&str; 6] = ["NAME", "PROVIDER", "STATE", "ACCESS EXPIRES", "REFRESH/TOKEN EXPIRES", "NEXT"];

/// The `list` table, header first; every line ends with a newline.
pub fn list(views: &[IntegrationView], now: Now, calendar: &Calendar) -> String {
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.provider.clone(),
                label(v).to_string(),
                words::expiry(v.access_expires_at, now),
                words::ends(v.refresh_expires_at, now, calendar),
                next_short(v, now),
            ]
        })
        .collect();
    table(&HEADERS, &rows)
}

/// Left-aligned columns two spaces apart; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width =
        |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count() + 2));
            }
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// The state in words ("Not signed in yet"): the engine's, or the state's own from an older keeper.
fn label(v: &IntegrationView) -> &str {
    if v.state_label.is_empty() {
        v.state.label()
    } else {
        &v.state_label
    }
}

/// What happens next, for the table.
fn next_short(v: &IntegrationView, now: Now) -> String {
    if v.signin_pending {
        "waits for the sign-in in the browser".into()
    } else {
        words::next(v.next, now)
    }
}

/// What happens next, with the command that unblocks it when the keeper must act.
fn next_long(v: &IntegrationView, now: Now) -> String {
    match (v.next, v.state) {
        _ if v.signin_pending => "waits for the sign-in in the browser".into(),
        (NextAction::WaitForKeeper, State::Paused) => {
            format!("waits for you: `tokenkeeper resume {}`", words::shell_word(&v.name))
        }
        (NextAction::WaitForKeeper, _) => format!("waits for you: `tokenkeeper login {}`", words::shell_word(&v.name)),
        (next, _) => words::next(next, now),
    }
}

/// An expiry with its clock time: "in 45 min (2025-06-15 15:51)".
fn expiry_long(at: Option<i64>, now: Now) -> String {
    match at {
        Some(t) => format!("{} ({})", words::expiry(at, now), words::local_minute(t, now.offset)),
        None => "unknown".into(),
    }
}

/// The text form of `status`: the view, then the last [`HISTORY_LINES`] history lines.
pub fn status(s: &IntegrationStatus, now: Now, calendar: &Calendar) -> String {
    let v = &s.view;
    let api = v.kind == Kind::ApiToken;
    let kind = if api { "API token" } else { "sign-in" };
    let credential = if api { "Token ends:" } else { "Sign-in ends:" };
    let mut state = label(v).to_string();
    if let Some(detail) = words::detail(v, now, calendar) {
        state.push_str(" — ");
        state.push_str(&detail);
    }
    let service = if v.service.is_empty() { v.provider.as_str() } else { v.service.as_str() };
    let mut out = match v.state {
        State::Unreadable => format!("{}\n", v.name),
        _ => format!("{} ({service}, {kind})\n", v.name),
    };
    let mut field = |label: &str, value: String| out.push_str(&format!("  {label:<17}{value}\n"));
    field("State:", state);
    if let Some(technical) = &v.detail_technical {
        field("Technical:", technical.clone());
    }
    if v.state == State::Unreadable {
        return out;
    }
    if !api {
        field("Access expires:", expiry_long(v.access_expires_at, now));
    }
    field(credential, words::ends(v.refresh_expires_at, now, calendar));
    if let Some(at) = s.signed_in_at {
        field("Signed in:", words::local_minute(at, now.offset));
    }
    if let Some(end) = s.sign_in_ends_at {
        field(
            "Service limit:",
            format!(
                "{} — the service ends every sign-in then, however often it is renewed",
                words::ends(Some(end), now, calendar)
            ),
        );
    }
    field("Next:", next_long(v, now));
    out.push_str(&sites(&s.sites));

    out.push('\n');
    let total = s.history.len();
    if total == 0 {
        out.push_str("No history yet.\n");
        return out;
    }
    if total > HISTORY_LINES {
        out.push_str(&format!("History (last {HISTORY_LINES} of {total}, newest last):\n"));
    } else {
        out.push_str("History (newest last):\n");
    }
    for entry in &s.history[total.saturating_sub(HISTORY_LINES)..] {
        let text = phrases::history(&entry.event, v.kind, &v.service, calendar);
        out.push_str(&format!("  {}  {text}\n", words::local_second(entry.at, now.offset)));
    }
    out
}

/// The sites a sign-in reaches, one per line ("Sites:" first), or nothing when there are none.
pub fn sites(sites: &[Site]) -> String {
    let mut out = String::new();
    for (i, site) in sites.iter().enumerate() {
        let label = if i == 0 { "Sites:" } else { "" };
        out.push_str(&format!("  {label:<17}{} {} (cloud id {})\n", site.name, site.url, site.id));
    }
    out
}

/// One line after a change: "jira: Working, renews in 15 min", with the reason when there is one:
/// "jira: Retrying (could not reach a.example), retries in 10 s".
pub fn summary(v: &IntegrationView, now: Now, calendar: &Calendar) -> String {
    let mut line = format!("{}: {}", v.name, label(v));
    if let Some(detail) = words::detail(v, now, calendar) {
        line.push_str(&format!(" ({detail})"));
    }
    line.push_str(", ");
    line.push_str(&next_short(v, now));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::UtcOffset;
    use tokenkeeper_engine::history::{HistoryEntry, HistoryEvent};

    const NOW: Now = Now { at: 1_750_000_000, offset: UtcOffset::UTC };

    fn view(name: &str, state: State, next: NextAction) -> IntegrationView {
        IntegrationView {
            name: name.into(),
            provider: "oauth2".into(),
            service: "login.example.com".into(),
            kind: Kind::Oauth,
            state,
            state_label: state.label().into(),
            access_expires_at: Some(NOW.at + 45 * 60),
            next,
            ..IntegrationView::default()
        }
    }

    fn utc() -> Calendar {
        Calendar::utc(tokenkeeper_engine::calendar::Style::UnitedStates)
    }

    #[test]
    fn the_table_lines_up() {
        let views = [
            view("demo", State::Working, NextAction::Renew(NOW.at + 15 * 60)),
            view("HighQ reporting", State::NeedsSignIn, NextAction::WaitForKeeper),
        ];
        let text = list(&views, NOW, &utc());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME             PROVIDER  STATE          ACCESS EXPIRES  REFRESH/TOKEN EXPIRES  NEXT");
        assert_eq!(
            lines[1],
            "demo             oauth2    Working        in 45 min       —                      renews in 15 min"
        );
        assert_eq!(
            lines[2],
            "HighQ reporting  oauth2    Needs sign-in  in 45 min       —                      waits for you"
        );
    }

    #[test]
    fn summary_lines() {
        assert_eq!(
            summary(&view("demo", State::Working, NextAction::Renew(NOW.at + 15 * 60)), NOW, &utc()),
            "demo: Working, renews in 15 min"
        );
        let mut v = view("demo", State::Retrying, NextAction::Retry(NOW.at + 10));
        v.failure = Some(tokenkeeper_engine::phrases::Failure::Unreachable);
        assert_eq!(
            summary(&v, NOW, &utc()),
            "demo: Retrying (Token Keeper cannot reach login.example.com. Check your internet or VPN; Token Keeper \
             tries again at 3:06 PM.), retries in 10 s"
        );
    }

    #[test]
    fn status_shows_the_last_twenty_history_lines_newest_last() {
        let history = (0..25)
            .map(|i| HistoryEntry {
                at: NOW.at - 100 + i,
                event: HistoryEvent::Checked { accepted: true, reason: None, failure: None },
            })
            .collect();
        let s = IntegrationStatus {
            view: view("HighQ reporting", State::NeedsSignIn, NextAction::WaitForKeeper),
            history,
            history_text: vec![],
            signed_in_at: None,
            sign_in_ends_at: None,
            sites: vec![],
            account: None,
        };
        let text = status(&s, NOW, &utc());
        assert!(text.starts_with("HighQ reporting (login.example.com, sign-in)\n"), "{text}");
        assert!(text.contains("  Next:            waits for you: `tokenkeeper login 'HighQ reporting'`\n"), "{text}");
        assert!(text.contains("History (last 20 of 25, newest last):\n"), "{text}");
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("Checked")).collect();
        assert_eq!(lines.len(), 20);
        assert_eq!(lines[19], "  2025-06-15 15:05:24  Checked: it works.");
        assert_eq!(lines[0], "  2025-06-15 15:05:05  Checked: it works.");
    }

    #[test]
    fn api_tokens_show_their_own_expiry() {
        let mut v = view("jira", State::Working, NextAction::Check(NOW.at + 1500));
        v.kind = Kind::ApiToken;
        v.provider = "api-token".into();
        v.access_expires_at = None;
        v.refresh_expires_at = Some(NOW.at + 30 * 86_400);
        let text = status(
            &IntegrationStatus {
                view: v,
                history: vec![],
                history_text: vec![],
                signed_in_at: None,
                sign_in_ends_at: None,
                sites: vec![],
                account: None,
            },
            NOW,
            &utc(),
        );
        assert!(text.contains("  Token ends:      July 15, 2025 (in 30 days)\n"), "{text}");
        assert!(!text.contains("Access expires"), "{text}");
        assert!(text.contains("  Next:            checks again in 25 min\n"), "{text}");
        assert!(text.ends_with("No history yet.\n"), "{text}");
    }

    #[test]
    fn an_atlassian_sign_in_shows_its_limit_and_sites() {
        let mut v = view("jira", State::ExpiringSoon, NextAction::Renew(NOW.at + 900));
        v.provider = "atlassian".into();
        v.refresh_expires_at = Some(NOW.at + 5 * 86_400);
        let site = |id: &str, name: &str| Site {
            id: id.into(),
            name: name.into(),
            url: format!("https://{name}.atlassian.net"),
        };
        let s = IntegrationStatus {
            view: v,
            history: vec![],
            history_text: vec![],
            signed_in_at: Some(NOW.at - 360 * 86_400),
            sign_in_ends_at: Some(NOW.at + 5 * 86_400),
            sites: vec![site("c1", "acme"), site("c2", "beta")],
            account: None,
        };
        let text = status(&s, NOW, &utc());
        assert!(text.contains("  Sign-in ends:    June 20, 2025 (in 5 days)\n"), "{text}");
        assert!(text.contains("  Signed in:       2024-06-20 15:06\n"), "{text}");
        assert!(
            text.contains("  Service limit:   June 20, 2025 (in 5 days) — the service ends every sign-in"),
            "{text}"
        );
        assert!(text.contains("  Sites:           acme https://acme.atlassian.net (cloud id c1)\n"), "{text}");
        assert!(text.contains("\n                   beta https://beta.atlassian.net (cloud id c2)\n"), "{text}");
    }
}

//! The tray menu as plain data: from the integrations' views, the time and the "start at login"
//! flag to the menu entries, the icon state and the tooltip.
//!
//! Pure functions only — no Tauri, no clock, no I/O — so every wording and every rule is
//! unit-tested without a display (`tray.rs` turns the model into a real menu, and a test over
//! D-Bus checks that real menu). Menu item ids carry the action and the integration name
//! ([`Action::id`] / [`Action::parse`]), so a click needs no lookup table.

use tokenkeeper_engine::model::{IntegrationView, Kind, NextAction, Severity, State, UnixTime};

/// How the tray icon looks: the worst state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IconState {
    /// Everything works (or is paused on purpose).
    Ok,
    /// Something needs watching: retrying, or a credential ends soon.
    Attention,
    /// Something stopped working: needs sign-in, or offline.
    Broken,
}

impl IconState {
    /// From a view's [`Severity`].
    pub fn from_severity(severity: Severity) -> Self {
        match severity {
            Severity::Fine => IconState::Ok,
            Severity::Attention => IconState::Attention,
            Severity::Broken => IconState::Broken,
        }
    }

    /// The icon file's stem in `icons/` (`tray-ok`, …); `-dark` is added for dark panels.
    pub fn file_stem(self) -> &'static str {
        match self {
            IconState::Ok => "tray-ok",
            IconState::Attention => "tray-attention",
            IconState::Broken => "tray-broken",
        }
    }
}

/// What a menu item does when clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a sign-in (OAuth: the system browser; API token: the window's token form).
    SignIn(String),
    Refresh(String),
    Pause(String),
    Resume(String),
    /// Open the window on this integration's details.
    Details(String),
    Open,
    Add,
    ToggleAutostart,
    Quit,
}

impl Action {
    /// The menu item id: `verb` or `verb:name` (names may hold ':'; only the first one splits).
    pub fn id(&self) -> String {
        match self {
            Action::SignIn(n) => format!("sign-in:{n}"),
            Action::Refresh(n) => format!("refresh:{n}"),
            Action::Pause(n) => format!("pause:{n}"),
            Action::Resume(n) => format!("resume:{n}"),
            Action::Details(n) => format!("details:{n}"),
            Action::Open => "open".into(),
            Action::Add => "add".into(),
            Action::ToggleAutostart => "autostart".into(),
            Action::Quit => "quit".into(),
        }
    }

    /// The action of a menu item id; `None` for ids that are not actions (labels, submenus).
    pub fn parse(id: &str) -> Option<Action> {
        let (verb, name) = match id.split_once(':') {
            Some((verb, name)) => (verb, Some(name.to_string())),
            None => (id, None),
        };
        Some(match (verb, name) {
            ("sign-in", Some(n)) => Action::SignIn(n),
            ("refresh", Some(n)) => Action::Refresh(n),
            ("pause", Some(n)) => Action::Pause(n),
            ("resume", Some(n)) => Action::Resume(n),
            ("details", Some(n)) => Action::Details(n),
            ("open", None) => Action::Open,
            ("add", None) => Action::Add,
            ("autostart", None) => Action::ToggleAutostart,
            ("quit", None) => Action::Quit,
            _ => return None,
        })
    }
}

/// One entry of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A clickable (or greyed-out) line. `id` is [`Action::id`], or a unique inert id.
    Item {
        id: String,
        label: String,
        enabled: bool,
    },
    Check {
        id: String,
        label: String,
        checked: bool,
    },
    Separator,
    Submenu {
        id: String,
        label: String,
        entries: Vec<Entry>,
    },
}

impl Entry {
    fn action(action: Action, label: impl Into<String>) -> Entry {
        Entry::Item { id: action.id(), label: label.into(), enabled: true }
    }
    fn disabled(id: impl Into<String>, label: impl Into<String>) -> Entry {
        Entry::Item { id: id.into(), label: label.into(), enabled: false }
    }
    /// The label, for tests and logs.
    pub fn label(&self) -> Option<&str> {
        match self {
            Entry::Item { label, .. } | Entry::Check { label, .. } | Entry::Submenu { label, .. } => Some(label),
            Entry::Separator => None,
        }
    }
}

/// The whole tray: menu, icon and tooltip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    pub icon: IconState,
    pub tooltip: String,
    pub entries: Vec<Entry>,
}

/// The longest integration line before its name is shortened (menus do not wrap).
const MAX_NAME_CHARS: usize = 40;

/// Builds the tray from the integrations (sorted by name by the engine), the wall clock and
/// whether Token Keeper starts at login.
pub fn build(views: &[IntegrationView], now: UnixTime, autostart: bool) -> TrayModel {
    // The summary heads the menu: on Linux the tray (AppIndicator) has no tooltip, so this line is
    // where "2 integrations need you" is read.
    let mut entries = vec![Entry::disabled("summary", summary(views)), Entry::Separator];
    for view in views {
        entries.push(integration_submenu(view, now));
    }
    if !views.is_empty() {
        entries.push(Entry::Separator);
    }
    entries.push(Entry::action(Action::Open, "Open Token Keeper"));
    entries.push(Entry::action(Action::Add, "Add integration…"));
    entries.push(Entry::Check { id: Action::ToggleAutostart.id(), label: "Start at login".into(), checked: autostart });
    entries.push(Entry::Separator);
    entries.push(Entry::action(Action::Quit, "Quit Token Keeper"));
    TrayModel { icon: icon_state(views), tooltip: tooltip(views), entries }
}

/// The worst state of all integrations.
pub fn icon_state(views: &[IntegrationView]) -> IconState {
    IconState::from_severity(views.iter().map(|v| v.severity).max().unwrap_or_default())
}

/// The tooltip: "Token Keeper: " and the [`summary`].
pub fn tooltip(views: &[IntegrationView]) -> String {
    format!("Token Keeper: {}", summary(views))
}

/// "All integrations are working", "1 integration needs you", "2 integrations need you".
pub fn summary(views: &[IntegrationView]) -> String {
    let needing = views.iter().filter(|v| v.severity > Severity::Fine).count();
    let text = match (views.len(), needing) {
        (0, _) => "No integrations yet".to_string(),
        (_, 0) if views.iter().all(|v| v.state == State::Paused) => "All integrations are paused".to_string(),
        (1, 0) => "Your integration is working".to_string(),
        (_, 0) => "All integrations are working".to_string(),
        (_, 1) => "1 integration needs you".to_string(),
        (_, n) => format!("{n} integrations need you"),
    };
    text
}

/// The integration's line: "HighQ reporting — Working, renews in 3 h".
pub fn integration_label(view: &IntegrationView, now: UnixTime) -> String {
    format!("{} — {}", shorten(&view.name), status_text(view, now))
}

/// "Working, renews in 3 h", "Needs sign-in", "Signing in… finish in your browser".
pub fn status_text(view: &IntegrationView, now: UnixTime) -> String {
    if view.signin_pending {
        return "signing in… finish in your browser".into();
    }
    match next_text(view, now) {
        Some(next) => format!("{}, {next}", view.state.label()),
        None => view.state.label().to_string(),
    }
}

/// What happens next, in words: "renews in 3 h", "checks in 25 min", "retries in 2 min";
/// `None` when nothing happens until the keeper acts (the state already says why).
pub fn next_text(view: &IntegrationView, now: UnixTime) -> Option<String> {
    if matches!(view.state, State::Paused | State::NeedsSignIn) {
        return None;
    }
    let (verb, at) = match view.next {
        NextAction::Renew(at) => ("renews", at),
        NextAction::Check(at) => ("checks again", at),
        NextAction::Retry(at) => ("retries", at),
        NextAction::WaitForKeeper => return None,
    };
    Some(format!("{verb} {}", in_time(at - now)))
}

/// "now", "in under a minute", "in 25 min", "in 1 h 20 min", "in 3 h", "in 2 days".
/// Coarse on purpose: the menu is only rebuilt when its text changes.
pub fn in_time(secs: i64) -> String {
    const MIN: i64 = 60;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    match secs {
        s if s <= 0 => "now".into(),
        s if s < MIN => "in under a minute".into(),
        s if s < 90 * MIN => format!("in {} min", (s + MIN / 2) / MIN),
        s if s < 3 * HOUR => {
            let minutes = (s + MIN / 2) / MIN;
            let (h, m) = (minutes / 60, minutes % 60);
            // round to 10 minutes, the precision a keeper needs at this distance
            let m = (m + 5) / 10 * 10;
            match m {
                0 => format!("in {h} h"),
                60 => format!("in {} h", h + 1),
                m => format!("in {h} h {m} min"),
            }
        }
        s if s < 2 * DAY => format!("in {} h", (s + HOUR / 2) / HOUR),
        s => format!("in {} days", (s + DAY / 2) / DAY),
    }
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let mut short: String = name.chars().take(MAX_NAME_CHARS - 1).collect();
    short.push('…');
    short
}

fn integration_submenu(view: &IntegrationView, now: UnixTime) -> Entry {
    let name = &view.name;
    let mut entries = Vec::new();
    if let Some(detail) = &view.detail {
        // Why it is not working, in the engine's plain words (never a token).
        entries.push(Entry::disabled(format!("detail:{name}"), shorten_detail(detail)));
    }
    if view.signin_pending {
        entries.push(Entry::disabled(format!("pending:{name}"), "Signing in… finish in your browser"));
    } else if view.kind == Kind::ApiToken {
        entries.push(Entry::action(Action::SignIn(name.clone()), "Enter a new token…"));
    } else {
        entries.push(Entry::action(Action::SignIn(name.clone()), "Sign in again"));
    }
    let paused = view.state == State::Paused;
    entries.push(Entry::Item { id: Action::Refresh(name.clone()).id(), label: "Refresh now".into(), enabled: !paused });
    entries.push(if paused {
        Entry::action(Action::Resume(name.clone()), "Resume")
    } else {
        Entry::action(Action::Pause(name.clone()), "Pause")
    });
    entries.push(Entry::action(Action::Details(name.clone()), "Show details…"));
    Entry::Submenu { id: format!("integration:{name}"), label: integration_label(view, now), entries }
}

/// Engine details are sentences; a menu line holds one short one.
fn shorten_detail(detail: &str) -> String {
    const MAX: usize = 70;
    let first = detail.trim();
    if first.chars().count() <= MAX {
        return first.to_string();
    }
    let mut short: String = first.chars().take(MAX - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_700_000_000;

    fn view(name: &str, state: State, next: NextAction) -> IntegrationView {
        IntegrationView {
            name: name.into(),
            provider: "oauth2".into(),
            kind: Kind::Oauth,
            state,
            severity: state.severity(),
            access_expires_at: Some(NOW + 4 * 3600),
            next,
            ..IntegrationView::default()
        }
    }

    fn submenu<'a>(model: &'a TrayModel, name: &str) -> (&'a str, &'a [Entry]) {
        let id = format!("integration:{name}");
        model
            .entries
            .iter()
            .find_map(|e| match e {
                Entry::Submenu { id: i, label, entries } if *i == id => Some((label.as_str(), entries.as_slice())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no submenu for {name}: {model:#?}"))
    }

    fn labels(entries: &[Entry]) -> Vec<&str> {
        entries.iter().filter_map(Entry::label).collect()
    }

    #[test]
    fn working_integration_says_when_it_renews() {
        let v = view("HighQ reporting", State::Working, NextAction::Renew(NOW + 3 * 3600));
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "HighQ reporting");
        assert_eq!(label, "HighQ reporting — Working, renews in 3 h");
        assert_eq!(labels(items), ["Sign in again", "Refresh now", "Pause", "Show details…"]);
        assert_eq!(model.icon, IconState::Ok);
        assert_eq!(model.tooltip, "Token Keeper: Your integration is working");
    }

    #[test]
    fn fixed_items_follow_the_integrations_in_order() {
        let model = build(&[view("a", State::Working, NextAction::WaitForKeeper)], NOW, true);
        let all: Vec<_> = model.entries.iter().map(|e| e.label().unwrap_or("---")).collect();
        assert_eq!(
            all,
            [
                "Your integration is working",
                "---",
                "a — Working",
                "---",
                "Open Token Keeper",
                "Add integration…",
                "Start at login",
                "---",
                "Quit Token Keeper"
            ]
        );
        assert!(model.entries.contains(&Entry::Check {
            id: "autostart".into(),
            label: "Start at login".into(),
            checked: true
        }));
        let off = build(&[], NOW, false);
        assert!(off.entries.contains(&Entry::Check {
            id: "autostart".into(),
            label: "Start at login".into(),
            checked: false
        }));
    }

    #[test]
    fn no_integrations_says_so_and_is_ok() {
        let model = build(&[], NOW, false);
        assert_eq!(
            model.entries[0],
            Entry::Item { id: "summary".into(), label: "No integrations yet".into(), enabled: false }
        );
        assert_eq!(model.entries[1], Entry::Separator);
        assert_eq!(model.entries[2], Entry::action(Action::Open, "Open Token Keeper"));
        assert_eq!(model.icon, IconState::Ok);
        assert_eq!(model.tooltip, "Token Keeper: No integrations yet");
    }

    #[test]
    fn icon_shows_the_worst_state() {
        let ok = view("a", State::Working, NextAction::WaitForKeeper);
        let paused = view("p", State::Paused, NextAction::WaitForKeeper);
        let refreshing = view("r", State::Refreshing, NextAction::WaitForKeeper);
        let retrying = view("b", State::Retrying, NextAction::Retry(NOW + 60));
        let expiring = view("e", State::ExpiringSoon, NextAction::Check(NOW + 60));
        let signin = view("c", State::NeedsSignIn, NextAction::WaitForKeeper);
        let offline = view("o", State::Offline, NextAction::Retry(NOW + 60));
        assert_eq!(icon_state(&[ok.clone(), paused.clone(), refreshing.clone()]), IconState::Ok);
        assert_eq!(icon_state(&[ok.clone(), retrying.clone()]), IconState::Attention);
        assert_eq!(icon_state(std::slice::from_ref(&expiring)), IconState::Attention);
        assert_eq!(icon_state(&[retrying.clone(), signin.clone(), ok.clone()]), IconState::Broken);
        assert_eq!(icon_state(&[offline]), IconState::Broken);
        assert_eq!(icon_state(&[]), IconState::Ok);
        assert_eq!(IconState::Broken.file_stem(), "tray-broken");
    }

    #[test]
    fn tooltip_counts_integrations_that_need_the_keeper() {
        let ok = view("a", State::Working, NextAction::WaitForKeeper);
        let paused = view("p", State::Paused, NextAction::WaitForKeeper);
        let bad = view("b", State::NeedsSignIn, NextAction::WaitForKeeper);
        let warn = view("w", State::ExpiringSoon, NextAction::WaitForKeeper);
        assert_eq!(tooltip(&[ok.clone(), ok.clone()]), "Token Keeper: All integrations are working");
        assert_eq!(tooltip(&[ok.clone(), paused.clone()]), "Token Keeper: All integrations are working");
        assert_eq!(tooltip(std::slice::from_ref(&paused)), "Token Keeper: All integrations are paused");
        assert_eq!(tooltip(&[ok.clone(), bad.clone()]), "Token Keeper: 1 integration needs you");
        assert_eq!(tooltip(&[bad.clone(), warn.clone(), ok.clone()]), "Token Keeper: 2 integrations need you");
        let model = build(&[bad, warn, ok], NOW, false);
        assert_eq!(model.entries[0], Entry::disabled("summary", "2 integrations need you"));
    }

    #[test]
    fn needs_sign_in_shows_why_and_offers_sign_in() {
        let mut v = view("Jira sync", State::NeedsSignIn, NextAction::WaitForKeeper);
        v.detail = Some("the service no longer accepts the sign-in (invalid_grant)".into());
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "Jira sync");
        assert_eq!(label, "Jira sync — Needs sign-in");
        assert_eq!(
            items[0],
            Entry::disabled("detail:Jira sync", "the service no longer accepts the sign-in (invalid_grant)")
        );
        assert_eq!(items[1], Entry::action(Action::SignIn("Jira sync".into()), "Sign in again"));
        assert_eq!(model.icon, IconState::Broken);
    }

    #[test]
    fn long_details_and_names_are_shortened() {
        let mut v = view(&"n".repeat(60), State::Retrying, NextAction::Retry(NOW + 120));
        v.detail = Some("x".repeat(200));
        let model = build(&[v], NOW, false);
        let Entry::Submenu { label, entries, .. } = &model.entries[2] else { panic!() };
        assert!(label.starts_with(&format!("{}…", "n".repeat(39))), "{label}");
        assert!(label.ends_with("— Retrying, retries in 2 min"), "{label}");
        assert_eq!(entries[0].label().unwrap().chars().count(), 70);
    }

    #[test]
    fn pending_sign_in_is_shown_and_cannot_be_started_twice() {
        let mut v = view("demo", State::NeedsSignIn, NextAction::WaitForKeeper);
        v.signin_pending = true;
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "demo");
        assert_eq!(label, "demo — signing in… finish in your browser");
        assert_eq!(items[0], Entry::disabled("pending:demo", "Signing in… finish in your browser"));
        assert!(!items.iter().any(|e| matches!(e, Entry::Item { id, .. } if id == "sign-in:demo")));
    }

    #[test]
    fn paused_integration_offers_resume_and_no_refresh() {
        let v = view("demo", State::Paused, NextAction::WaitForKeeper);
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "demo");
        assert_eq!(label, "demo — Paused");
        assert_eq!(labels(items), ["Sign in again", "Refresh now", "Resume", "Show details…"]);
        assert_eq!(items[1], Entry::Item { id: "refresh:demo".into(), label: "Refresh now".into(), enabled: false });
        assert_eq!(items[2], Entry::action(Action::Resume("demo".into()), "Resume"));
    }

    #[test]
    fn api_tokens_get_a_token_form_instead_of_a_browser() {
        let mut v = view("Jira token", State::Working, NextAction::Check(NOW + 25 * 60));
        v.kind = Kind::ApiToken;
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "Jira token");
        assert_eq!(label, "Jira token — Working, checks again in 25 min");
        assert_eq!(items[0], Entry::action(Action::SignIn("Jira token".into()), "Enter a new token…"));
    }

    #[test]
    fn next_step_words() {
        let mut v = view("a", State::Retrying, NextAction::Retry(NOW + 30));
        assert_eq!(status_text(&v, NOW), "Retrying, retries in under a minute");
        v.state = State::ExpiringSoon;
        v.next = NextAction::Renew(NOW - 5);
        assert_eq!(status_text(&v, NOW), "Expiring soon, renews now");
        v.state = State::Offline;
        v.next = NextAction::WaitForKeeper;
        assert_eq!(status_text(&v, NOW), "Offline");
        v.state = State::Refreshing;
        v.next = NextAction::Renew(NOW + 3 * 86_400);
        assert_eq!(status_text(&v, NOW), "Refreshing, renews in 3 days");
    }

    #[test]
    fn durations_are_coarse_and_readable() {
        let cases = [
            (-10, "now"),
            (0, "now"),
            (59, "in under a minute"),
            (60, "in 1 min"),
            (25 * 60 + 10, "in 25 min"),
            (89 * 60, "in 89 min"),
            (90 * 60, "in 1 h 30 min"),
            (2 * 3600 + 57 * 60, "in 3 h"),
            (2 * 3600 + 4 * 60, "in 2 h"),
            (3 * 3600 + 10 * 60, "in 3 h"),
            (47 * 3600, "in 47 h"),
            (2 * 86_400, "in 2 days"),
            (10 * 86_400 + 3600, "in 10 days"),
        ];
        for (secs, want) in cases {
            assert_eq!(in_time(secs), want, "{secs} s");
        }
    }

    #[test]
    fn action_ids_round_trip_even_with_colons_in_names() {
        let all = [
            Action::SignIn("a:b".into()),
            Action::Refresh("HighQ reporting".into()),
            Action::Pause("x".into()),
            Action::Resume("x".into()),
            Action::Details("x".into()),
            Action::Open,
            Action::Add,
            Action::ToggleAutostart,
            Action::Quit,
        ];
        for a in all {
            assert_eq!(Action::parse(&a.id()), Some(a.clone()), "{}", a.id());
        }
        for inert in ["summary", "detail:x", "pending:x", "integration:x", "open:x", "refresh", "bogus"] {
            assert_eq!(Action::parse(inert), None, "{inert}");
        }
    }

    #[test]
    fn every_action_id_is_unique_within_a_menu() {
        let views = [
            view("a", State::Working, NextAction::WaitForKeeper),
            view("b", State::Paused, NextAction::WaitForKeeper),
            view("c", State::NeedsSignIn, NextAction::WaitForKeeper),
        ];
        let model = build(&views, NOW, false);
        let mut ids = Vec::new();
        fn walk(entries: &[Entry], ids: &mut Vec<String>) {
            for e in entries {
                match e {
                    Entry::Item { id, .. } | Entry::Check { id, .. } => ids.push(id.clone()),
                    Entry::Submenu { id, entries, .. } => {
                        ids.push(id.clone());
                        walk(entries, ids)
                    }
                    Entry::Separator => {}
                }
            }
        }
        walk(&model.entries, &mut ids);
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "{ids:?}");
    }

    #[test]
    fn model_is_equal_when_nothing_visible_changed() {
        // The tray is only re-applied when the model differs: a minute later "in 3 h" stays.
        let v = view("a", State::Working, NextAction::Renew(NOW + 5 * 3600));
        assert_eq!(build(std::slice::from_ref(&v), NOW, false), build(std::slice::from_ref(&v), NOW + 60, false));
        assert_ne!(build(std::slice::from_ref(&v), NOW, false), build(&[v], NOW, true));
    }
}

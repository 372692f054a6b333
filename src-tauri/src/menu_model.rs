//! The tray menu as plain data: from the integrations' views, the time and the "start at login"
//! flag to the menu entries, the icon state and the tooltip.
//!
//! The menu is built for a keeper who opens it because something needs them: the header says how
//! many integrations need them (a click opens the window on the list); below it, each integration
//! that needs them is one item whose click starts its fix ("Sign in to Reports…", "Enter a new
//! Jira token…"); all integrations, problems first, sit in one submenu ("All integrations — 7
//! working") with each one's state, what happens next and its actions.
//!
//! Which entries there are is decided here; what they say comes from the engine's phrase table
//! ([`tokenkeeper_engine::phrases::menu`]) and the integrations' views (state label, detail).
//!
//! Pure functions only — no Tauri, no clock, no I/O — so every wording and every rule is
//! unit-tested without a display (`tray.rs` turns the model into a real menu, and a test over
//! D-Bus checks that real menu). Menu item ids carry the action and the integration name
//! ([`Action::id`] / [`Action::parse`]), so a click needs no lookup table.

use tokenkeeper_engine::model::{IntegrationView, Kind, NextAction, Severity, State, UnixTime};
use tokenkeeper_engine::phrases::{menu as words, Todo};

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
    /// Renew (OAuth) or check (API token) now.
    Refresh(String),
    Pause(String),
    Resume(String),
    /// Open the window on this integration's details.
    Details(String),
    /// Open the window on the list of integrations (problems first): the header's click.
    List,
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
            Action::List => "list".into(),
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
            ("list", None) => Action::List,
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

/// The longest integration name in a menu line before its middle is cut out (menus do not wrap).
const MAX_NAME_CHARS: usize = 40;

/// Builds the tray from the integrations (sorted by name by the engine), the wall clock and
/// whether Token Keeper starts at login.
pub fn build(views: &[IntegrationView], now: UnixTime, autostart: bool) -> TrayModel {
    // The summary heads the menu: on Linux the tray (AppIndicator) has no tooltip, so this line is
    // where "2 integrations need you" is read; a click on it opens the list.
    let mut entries = vec![Entry::action(Action::List, summary(views))];
    let sorted = problems_first(views);
    entries.extend(sorted.iter().filter(|v| needs_keeper(v)).map(|v| fix_item(v, now)));
    entries.push(Entry::Separator);
    if !views.is_empty() {
        entries.push(all_submenu(&sorted, now));
        entries.push(Entry::Separator);
    }
    entries.push(Entry::action(Action::Open, words::OPEN));
    entries.push(Entry::action(Action::Add, words::ADD));
    entries.push(Entry::Check {
        id: Action::ToggleAutostart.id(),
        label: words::START_AT_LOGIN.into(),
        checked: autostart,
    });
    entries.push(Entry::Separator);
    entries.push(Entry::action(Action::Quit, words::QUIT));
    TrayModel { icon: icon_state(views), tooltip: tooltip(views), entries }
}

/// Whether the integration needs the keeper (it counts in "N integrations need you" and gets a
/// top-level item): not only what broke, also one never signed in (calmly, as a thing to do).
pub fn needs_keeper(view: &IntegrationView) -> bool {
    view.severity > Severity::Fine
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
    let needing = views.iter().filter(|v| needs_keeper(v)).count();
    words::summary(views.len(), needing, views.iter().all(|v| v.state == State::Paused))
}

/// The top-level item of an integration that needs the keeper: its fix, one click away.
/// When what to do is a sign-in (never signed in, refused, ending soon): "Sign in to Reports…"
/// (browser) or "Enter a new Jira token…" (the window's token form). Anything a click cannot fix
/// (a service that does not answer, a damaged settings file) has no fix to click: the item says
/// what is happening and opens the details, which say why and what to do.
fn fix_item(view: &IntegrationView, now: UnixTime) -> Entry {
    let name = &view.name;
    if view.signin_pending {
        return Entry::disabled(format!("pending:{name}"), integration_label(view, now));
    }
    if fixed_by_sign_in(view) {
        Entry::action(Action::SignIn(name.clone()), fix_label(view))
    } else {
        Entry::action(Action::Details(name.clone()), format!("{}…", integration_label(view, now)))
    }
}

/// Whether a sign-in (or a new API token) is what the integration needs.
fn fixed_by_sign_in(view: &IntegrationView) -> bool {
    matches!(
        view.todo,
        Some(
            Todo::SignIn
                | Todo::SignInAgain
                | Todo::SignInAgainSoon
                | Todo::EnterToken
                | Todo::EnterNewToken
                | Todo::EnterNewTokenSoon
        )
    )
}

/// "Sign in to Reports…", or for an API token "Enter a new Jira token…".
pub fn fix_label(view: &IntegrationView) -> String {
    words::fix(&shorten(&view.name), view.kind, view.todo)
}

/// The worst first; by name (as the engine sorted them) within the same severity.
fn problems_first(views: &[IntegrationView]) -> Vec<&IntegrationView> {
    let mut sorted: Vec<&IntegrationView> = views.iter().collect();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.severity)); // stable
    sorted
}

/// "All integrations — 7 working" (", 1 paused"), holding every integration, problems first.
fn all_submenu(views: &[&IntegrationView], now: UnixTime) -> Entry {
    let working = views.iter().filter(|v| !needs_keeper(v) && v.state != State::Paused).count();
    let paused = views.iter().filter(|v| v.state == State::Paused).count();
    let label = words::all_integrations(working, paused);
    let entries = views.iter().map(|v| integration_submenu(v, now)).collect();
    Entry::Submenu { id: "all".into(), label, entries }
}

/// What marks a shared integration's line (it is kept in the team vault, with the other Token
/// Keepers connected there): after its name, before its state.
pub const SHARED_MARK: &str = " · shared";

/// The integration's line: "HighQ reporting — Working, renews in 3 h"; a shared one
/// "HighQ reporting · shared — Working, renews in 3 h".
pub fn integration_label(view: &IntegrationView, now: UnixTime) -> String {
    let mark = if view.shared { SHARED_MARK } else { "" };
    format!("{}{mark} — {}", shorten(&view.name), status_text(view, now))
}

/// "Working, renews in 3 h", "Not signed in yet", "signing in… finish in your browser".
pub fn status_text(view: &IntegrationView, now: UnixTime) -> String {
    if view.signin_pending {
        return words::SIGNING_IN_STATUS.into();
    }
    match next_text(view, now) {
        Some(next) => format!("{}, {next}", view.state_label),
        None => view.state_label.clone(),
    }
}

/// What happens next, in words: "renews in 3 h", "checks again in 25 min", "retries in 2 min";
/// `None` when nothing happens until the keeper acts (the state already says why). The verb is
/// the engine's ([`IntegrationView::next_verb`]).
pub fn next_text(view: &IntegrationView, now: UnixTime) -> Option<String> {
    let verb = view.next_verb.as_deref()?;
    let at = match view.next {
        NextAction::Renew(at) | NextAction::Check(at) | NextAction::Retry(at) => at,
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

/// A name that fits a menu line: a long one loses its middle, not its end ("Reports for the
/// London…Q3 finance"), since names often differ only at the end (a site, a year, an account).
/// Cut by characters: a menu line is not the place for grapheme-perfect typesetting, and every
/// name here is already one printable line.
pub fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let keep = MAX_NAME_CHARS - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut short: String = chars[..head].iter().collect::<String>().trim_end().to_string();
    short.push('…');
    short.extend(chars[chars.len() - tail..].iter().collect::<String>().trim_start().chars());
    short
}

fn integration_submenu(view: &IntegrationView, now: UnixTime) -> Entry {
    let name = &view.name;
    let api_token = view.kind == Kind::ApiToken;
    let mut entries = Vec::new();
    if let Some(detail) = &view.detail {
        // Why it is not working, in the engine's plain words (never a token).
        entries.push(Entry::disabled(format!("detail:{name}"), shorten_detail(detail)));
    }
    if view.state == State::Unreadable {
        // Its settings cannot be read: no sign-in, renewal or pause can work; the details say
        // what to do (and offer to remove it).
        entries.push(Entry::action(Action::Details(name.clone()), words::SHOW_DETAILS));
        return Entry::Submenu { id: format!("integration:{name}"), label: integration_label(view, now), entries };
    }
    if view.signin_pending {
        entries.push(Entry::disabled(format!("pending:{name}"), words::SIGNING_IN));
    } else {
        entries.push(Entry::action(Action::SignIn(name.clone()), words::sign_in(view.kind, view.todo)));
    }
    let paused = view.state == State::Paused;
    // a refused (or never made) sign-in cannot be renewed (a refused API token can be checked
    // again: its service may take it back)
    if api_token || view.state != State::NeedsSignIn {
        let refresh = words::refresh(view.kind);
        entries.push(Entry::Item { id: Action::Refresh(name.clone()).id(), label: refresh.into(), enabled: !paused });
    }
    entries.push(if paused {
        Entry::action(Action::Resume(name.clone()), words::RESUME)
    } else {
        Entry::action(Action::Pause(name.clone()), words::PAUSE)
    });
    entries.push(Entry::action(Action::Details(name.clone()), words::SHOW_DETAILS));
    Entry::Submenu { id: format!("integration:{name}"), label: integration_label(view, now), entries }
}

/// Engine details are sentences; a menu line holds one short one: the first sentence when it
/// fits, else as many whole words as fit.
fn shorten_detail(detail: &str) -> String {
    const MAX: usize = 70;
    let detail = detail.trim();
    if detail.chars().count() <= MAX {
        return detail.to_string();
    }
    let first = detail.find(". ").map_or(detail, |end| &detail[..=end]);
    if first.chars().count() <= MAX {
        return first.to_string();
    }
    let cut: String = first.chars().take(MAX - 1).collect();
    let words = match cut.rfind(' ') {
        Some(space) if space > MAX / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", words.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenkeeper_engine::phrases::{self, Failure};

    const NOW: UnixTime = 1_700_000_000;

    fn view(name: &str, state: State, next: NextAction) -> IntegrationView {
        let mut v = IntegrationView {
            name: name.into(),
            provider: "oauth2".into(),
            kind: Kind::Oauth,
            state,
            access_expires_at: Some(NOW + 4 * 3600),
            next,
            ..IntegrationView::default()
        };
        derive(&mut v);
        v
    }

    fn token(name: &str, state: State) -> IntegrationView {
        let mut v = IntegrationView {
            kind: Kind::ApiToken,
            provider: "api-token".into(),
            ..view(name, state, NextAction::WaitForKeeper)
        };
        derive(&mut v);
        v
    }

    /// The view's words as the engine gives them for its state, kind and failure.
    fn derive(v: &mut IntegrationView) {
        let failure = v.failure.as_ref();
        v.state_label = phrases::label(v.state, v.kind, failure).into();
        v.severity = phrases::severity(v.state, failure);
        v.next_verb = phrases::next_verb(v.state, v.next).map(str::to_string);
        let api = v.kind == Kind::ApiToken;
        v.todo = match (v.state, failure) {
            (State::NeedsSignIn, Some(Failure::NotSignedIn)) if api => Some(Todo::EnterToken),
            (State::NeedsSignIn, Some(Failure::NotSignedIn)) => Some(Todo::SignIn),
            (State::NeedsSignIn, _) if api => Some(Todo::EnterNewToken),
            (State::NeedsSignIn, _) => Some(Todo::SignInAgain),
            (State::ExpiringSoon, _) if api => Some(Todo::EnterNewTokenSoon),
            (State::ExpiringSoon, _) => Some(Todo::SignInAgainSoon),
            (State::Unreadable, _) => Some(Todo::AddAgain),
            (State::Paused, _) => Some(Todo::Resume),
            (State::Retrying | State::Offline, _) => Some(Todo::Wait),
            _ => None,
        };
    }

    /// The submenu of an integration, wherever it is.
    fn submenu<'a>(model: &'a TrayModel, name: &str) -> (&'a str, &'a [Entry]) {
        fn find<'a>(entries: &'a [Entry], id: &str) -> Option<(&'a str, &'a [Entry])> {
            entries.iter().find_map(|e| match e {
                Entry::Submenu { id: i, label, entries } if i == id => Some((label.as_str(), entries.as_slice())),
                Entry::Submenu { entries, .. } => find(entries, id),
                _ => None,
            })
        }
        find(&model.entries, &format!("integration:{name}"))
            .unwrap_or_else(|| panic!("no submenu for {name}: {model:#?}"))
    }

    fn all<'a>(model: &'a TrayModel) -> (&'a str, &'a [Entry]) {
        model
            .entries
            .iter()
            .find_map(|e| match e {
                Entry::Submenu { id, label, entries } if id == "all" => Some((label.as_str(), entries.as_slice())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no All integrations submenu: {model:#?}"))
    }

    fn labels(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.label().unwrap_or("---")).collect()
    }

    #[test]
    fn working_integration_says_when_it_renews() {
        let v = view("HighQ reporting", State::Working, NextAction::Renew(NOW + 3 * 3600));
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "HighQ reporting");
        assert_eq!(label, "HighQ reporting — Working, renews in 3 h");
        assert_eq!(labels(items), ["Sign in again", "Renew now", "Pause", "Show details…"]);
        assert_eq!(model.icon, IconState::Ok);
        assert_eq!(model.tooltip, "Token Keeper: Your integration is working");
    }

    #[test]
    fn a_shared_integration_is_marked_after_its_name() {
        let mut shared = view("Reports", State::Working, NextAction::Renew(NOW + 3 * 3600));
        shared.shared = true;
        let local = view("Wiki", State::Working, NextAction::Renew(NOW + 3 * 3600));
        let model = build(&[shared.clone(), local], NOW, false);
        let (label, items) = submenu(&model, "Reports");
        assert_eq!(label, "Reports · shared — Working, renews in 3 h");
        assert_eq!(labels(items), ["Sign in again", "Renew now", "Pause", "Show details…"], "the same actions");
        assert_eq!(submenu(&model, "Wiki").0, "Wiki — Working, renews in 3 h", "a local one has no mark");
        assert_eq!(all(&model).0, "All integrations — 2 working");

        // needing the keeper: the fix names it as always; a line without a fix carries the mark
        shared.state = State::NeedsSignIn;
        shared.next = NextAction::WaitForKeeper;
        derive(&mut shared);
        let mut offline = view("Calendar", State::Offline, NextAction::Retry(NOW + 120));
        offline.shared = true;
        let model = build(&[offline, shared], NOW, false);
        assert_eq!(
            labels(&model.entries[..3]),
            ["2 integrations need you", "Calendar · shared — Offline, retries in 2 min…", "Sign in to Reports…"]
        );
        assert_eq!(submenu(&model, "Reports").0, "Reports · shared — Needs sign-in");
        assert!(tokenkeeper_engine::phrases::jargon(SHARED_MARK).is_none());

        // a long name keeps its mark whole
        let name = format!("Reports for the London office {} finance 2027", "x".repeat(30));
        let mut long = view(&name, State::Working, NextAction::WaitForKeeper);
        long.shared = true;
        assert_eq!(integration_label(&long, NOW), "Reports for the Lond…xxxxxx finance 2027 · shared — Working");
    }

    #[test]
    fn fixed_items_follow_the_integrations_in_order() {
        let model = build(&[view("a", State::Working, NextAction::WaitForKeeper)], NOW, true);
        assert_eq!(
            labels(&model.entries),
            [
                "Your integration is working",
                "---",
                "All integrations — 1 working",
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
    fn integrations_that_need_the_keeper_are_one_click_from_their_fix() {
        // 10 integrations, 3 of which need the keeper (and one that merely retries).
        let mut views: Vec<IntegrationView> =
            (0..6).map(|i| view(&format!("ok {i}"), State::Working, NextAction::Renew(NOW + 3600))).collect();
        views.push(view("Reports", State::NeedsSignIn, NextAction::WaitForKeeper));
        views.push(token("Jira", State::NeedsSignIn));
        views.push(token("Confluence token", State::ExpiringSoon));
        views.push(view("Calendar", State::Offline, NextAction::Retry(NOW + 120)));
        views.sort_by(|a, b| a.name.cmp(&b.name));
        let model = build(&views, NOW, false);
        assert_eq!(
            labels(&model.entries[..6]),
            [
                "4 integrations need you",
                "Calendar — Offline, retries in 2 min…",
                "Enter a new Jira token…",
                "Sign in to Reports…",
                "Enter a new Confluence token…",
                "---"
            ]
        );
        assert_eq!(
            model.entries[0],
            Entry::action(Action::List, "4 integrations need you"),
            "the header opens the list"
        );
        assert_eq!(
            model.entries[1],
            Entry::action(Action::Details("Calendar".into()), "Calendar — Offline, retries in 2 min…")
        );
        assert_eq!(model.entries[2], Entry::action(Action::SignIn("Jira".into()), "Enter a new Jira token…"));
        assert_eq!(model.entries[3], Entry::action(Action::SignIn("Reports".into()), "Sign in to Reports…"));
        // everything in one submenu, problems first (the broken ones before the one ending soon)
        let (label, entries) = all(&model);
        assert_eq!(label, "All integrations — 6 working");
        let order: Vec<&str> = entries.iter().map(|e| e.label().unwrap().split(" — ").next().unwrap()).collect();
        assert_eq!(
            order,
            ["Calendar", "Jira", "Reports", "Confluence token", "ok 0", "ok 1", "ok 2", "ok 3", "ok 4", "ok 5"]
        );
    }

    #[test]
    fn paused_integrations_are_counted_apart() {
        let views = [
            view("a", State::Working, NextAction::WaitForKeeper),
            view("b", State::Paused, NextAction::WaitForKeeper),
            view("c", State::NeedsSignIn, NextAction::WaitForKeeper),
        ];
        assert_eq!(all(&build(&views, NOW, false)).0, "All integrations — 1 working, 1 paused");
        assert_eq!(all(&build(&views[2..], NOW, false)).0, "All integrations");
    }

    #[test]
    fn a_pending_sign_in_is_shown_at_the_top_and_cannot_be_started_twice() {
        let mut v = view("demo", State::NeedsSignIn, NextAction::WaitForKeeper);
        v.signin_pending = true;
        let model = build(&[v], NOW, false);
        assert_eq!(model.entries[1], Entry::disabled("pending:demo", "demo — signing in… finish in your browser"));
        let (label, items) = submenu(&model, "demo");
        assert_eq!(label, "demo — signing in… finish in your browser");
        assert_eq!(items[0], Entry::disabled("pending:demo", "Signing in… finish in your browser"));
        fn clickable(entries: &[Entry]) -> bool {
            entries.iter().any(|e| match e {
                Entry::Item { id, enabled, .. } => *enabled && id == "sign-in:demo",
                Entry::Submenu { entries, .. } => clickable(entries),
                _ => false,
            })
        }
        assert!(!clickable(&model.entries), "{model:#?}");
    }

    #[test]
    fn no_integrations_says_so_and_is_ok() {
        let model = build(&[], NOW, false);
        assert_eq!(model.entries[0], Entry::action(Action::List, "No integrations yet"));
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
        assert_eq!(model.entries[0], Entry::action(Action::List, "2 integrations need you"));
    }

    #[test]
    fn needs_sign_in_shows_why_and_offers_sign_in() {
        let mut v = view("Jira sync", State::NeedsSignIn, NextAction::WaitForKeeper);
        v.detail = Some("Jira no longer accepts this sign-in.".into());
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "Jira sync");
        assert_eq!(label, "Jira sync — Needs sign-in");
        assert_eq!(items[0], Entry::disabled("detail:Jira sync", "Jira no longer accepts this sign-in."));
        assert_eq!(items[1], Entry::action(Action::SignIn("Jira sync".into()), "Sign in again"));
        assert_eq!(labels(&items[2..]), ["Pause", "Show details…"], "a refused sign-in cannot be renewed");
        assert_eq!(model.icon, IconState::Broken);
    }

    #[test]
    fn never_signed_in_offers_sign_in_calmly() {
        let mut v = view("Reports", State::NeedsSignIn, NextAction::WaitForKeeper);
        v.failure = Some(Failure::NotSignedIn);
        derive(&mut v);
        let mut t = token("Jira", State::NeedsSignIn);
        t.failure = Some(Failure::NotSignedIn);
        derive(&mut t);
        let model = build(&[t, v], NOW, false);
        assert_eq!(model.icon, IconState::Attention, "nothing broke");
        assert_eq!(
            labels(&model.entries[..3]),
            ["2 integrations need you", "Enter the Jira token…", "Sign in to Reports…"]
        );
        let (label, items) = submenu(&model, "Reports");
        assert_eq!(label, "Reports — Not signed in yet");
        assert_eq!(items[0], Entry::action(Action::SignIn("Reports".into()), "Sign in"));
        assert_eq!(submenu(&model, "Jira").1[0], Entry::action(Action::SignIn("Jira".into()), "Enter the token…"));
    }

    #[test]
    fn an_unreadable_integration_says_so_and_offers_no_fix_that_cannot_work() {
        let mut v = view("Wiki", State::Unreadable, NextAction::WaitForKeeper);
        v.failure = Some(Failure::SettingsUnreadable);
        v.detail = Some(
            "Its settings file is damaged; Token Keeper cannot read it. Remove it and add it again, or ask whoever \
             gave you its settings."
                .into(),
        );
        derive(&mut v);
        let model = build(&[v], NOW, false);
        assert_eq!(model.icon, IconState::Broken);
        assert_eq!(model.entries[1], Entry::action(Action::Details("Wiki".into()), "Wiki — Can't be read…"));
        let (label, items) = submenu(&model, "Wiki");
        assert_eq!(label, "Wiki — Can't be read");
        assert_eq!(labels(items), ["Its settings file is damaged; Token Keeper cannot read it.", "Show details…"]);
        assert_eq!(items[1], Entry::action(Action::Details("Wiki".into()), "Show details…"));
    }

    #[test]
    fn long_names_lose_their_middle_and_details_their_end() {
        let name = format!("Reports for the London office {} finance 2027", "x".repeat(30));
        let mut v = view(&name, State::Retrying, NextAction::Retry(NOW + 120));
        v.detail = Some("x".repeat(200));
        let model = build(&[v.clone()], NOW, false);
        let (label, entries) = submenu(&model, &name);
        assert_eq!(label, "Reports for the Lond…xxxxxx finance 2027 — Retrying, retries in 2 min");
        assert_eq!(entries[0].label().unwrap().chars().count(), 70);
        assert_eq!(shorten(&name).chars().count(), MAX_NAME_CHARS);
        assert_eq!(
            model.entries[1].label(),
            Some("Reports for the Lond…xxxxxx finance 2027 — Retrying, retries in 2 min…")
        );
        v.state = State::NeedsSignIn;
        derive(&mut v);
        assert_eq!(fix_label(&v), "Sign in to Reports for the Lond…xxxxxx finance 2027…");
        assert_eq!(shorten("short name"), "short name");
        assert_eq!(shorten(&"é".repeat(41)).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn paused_integration_offers_resume_and_no_renewal() {
        let v = view("demo", State::Paused, NextAction::WaitForKeeper);
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "demo");
        assert_eq!(label, "demo — Paused");
        assert_eq!(labels(items), ["Sign in again", "Renew now", "Resume", "Show details…"]);
        assert_eq!(items[1], Entry::Item { id: "refresh:demo".into(), label: "Renew now".into(), enabled: false });
        assert_eq!(items[2], Entry::action(Action::Resume("demo".into()), "Resume"));
    }

    #[test]
    fn api_tokens_get_a_token_form_and_a_check() {
        let mut v = token("Jira token", State::Working);
        v.next = NextAction::Check(NOW + 25 * 60);
        derive(&mut v);
        let model = build(&[v], NOW, false);
        let (label, items) = submenu(&model, "Jira token");
        assert_eq!(label, "Jira token — Working, checks again in 25 min");
        assert_eq!(labels(items), ["Enter a new token…", "Check now", "Pause", "Show details…"]);
        assert_eq!(items[0], Entry::action(Action::SignIn("Jira token".into()), "Enter a new token…"));
    }

    #[test]
    fn next_step_words() {
        let mut v = view("a", State::Retrying, NextAction::Retry(NOW + 30));
        assert_eq!(status_text(&v, NOW), "Retrying, retries in under a minute");
        v.state = State::ExpiringSoon;
        v.next = NextAction::Renew(NOW - 5);
        derive(&mut v);
        assert_eq!(status_text(&v, NOW), "Expiring soon, renews now");
        v.state = State::Offline;
        v.next = NextAction::WaitForKeeper;
        derive(&mut v);
        assert_eq!(status_text(&v, NOW), "Offline");
        v.state = State::Refreshing;
        v.next = NextAction::Renew(NOW + 3 * 86_400);
        derive(&mut v);
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
            Action::List,
            Action::Open,
            Action::Add,
            Action::ToggleAutostart,
            Action::Quit,
        ];
        for a in all {
            assert_eq!(Action::parse(&a.id()), Some(a.clone()), "{}", a.id());
        }
        for inert in ["summary", "detail:x", "pending:x", "integration:x", "all", "open:x", "refresh", "bogus"] {
            assert_eq!(Action::parse(inert), None, "{inert}");
        }
    }

    #[test]
    fn every_id_is_unique_within_its_menu_level() {
        // A broken integration's fix is both at the top and in its submenu (same action, same
        // id); within one level every id is unique.
        let views = [
            view("a", State::Working, NextAction::WaitForKeeper),
            view("b", State::Paused, NextAction::WaitForKeeper),
            view("c", State::NeedsSignIn, NextAction::WaitForKeeper),
            token("d", State::Offline),
        ];
        fn walk(entries: &[Entry]) {
            let mut ids = Vec::new();
            for e in entries {
                match e {
                    Entry::Item { id, .. } | Entry::Check { id, .. } => ids.push(id.clone()),
                    Entry::Submenu { id, entries, .. } => {
                        ids.push(id.clone());
                        walk(entries)
                    }
                    Entry::Separator => {}
                }
            }
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "{ids:?}");
        }
        walk(&build(&views, NOW, false).entries);
    }

    #[test]
    fn model_is_equal_when_nothing_visible_changed() {
        // The tray is only re-applied when the model differs: a minute later "in 3 h" stays.
        let v = view("a", State::Working, NextAction::Renew(NOW + 5 * 3600));
        assert_eq!(build(std::slice::from_ref(&v), NOW, false), build(std::slice::from_ref(&v), NOW + 60, false));
        assert_ne!(build(std::slice::from_ref(&v), NOW, false), build(&[v], NOW, true));
    }
}

//! The words of the tray menu and of the buttons on notices: the menu's header ("2 integrations need you"), the item that fixes an
//! integration ("Sign in to Reports…", "Enter a new Jira token…"), the "All integrations — 7
//! working" submenu and each integration's own items. The tray app's `menu_model` decides which
//! entries there are; what they say is here, with the rest of the phrase table, so the word walk
//! covers the menu too.

use super::Todo;
use crate::model::Kind;

/// "All integrations are working", "1 integration needs you", "2 integrations need you".
pub fn summary(total: usize, needing: usize, all_paused: bool) -> String {
    match (total, needing) {
        (0, _) => "No integrations yet".to_string(),
        (_, 0) if all_paused => "All integrations are paused".to_string(),
        (1, 0) => "Your integration is working".to_string(),
        (_, 0) => "All integrations are working".to_string(),
        (_, 1) => "1 integration needs you".to_string(),
        (_, n) => format!("{n} integrations need you"),
    }
}

/// "All integrations — 7 working, 1 paused" (just "All integrations" when none works).
pub fn all_integrations(working: usize, paused: usize) -> String {
    let counts: Vec<String> = [(working, "working"), (paused, "paused")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if counts.is_empty() {
        "All integrations".to_string()
    } else {
        format!("All integrations — {}", counts.join(", "))
    }
}

/// The top-level item that starts the fix of `name` (already shortened to fit a menu line):
/// "Sign in to Reports…"; for an API token "Enter a new Jira token…", or "Enter the Jira token…"
/// when none was entered yet (no "token token" when the name already ends with it).
pub fn fix(name: &str, kind: Kind, todo: Option<Todo>) -> String {
    if kind == Kind::Oauth {
        return format!("Sign in to {name}…");
    }
    let article = if todo == Some(Todo::EnterToken) { "the" } else { "a new" };
    if name.to_lowercase().ends_with("token") {
        format!("Enter {article} {name}…")
    } else {
        format!("Enter {article} {name} token…")
    }
}

/// The sign-in item of an integration's submenu: "Sign in" the first time, "Sign in again"
/// after; for an API token "Enter the token…" or "Enter a new token…".
pub fn sign_in(kind: Kind, todo: Option<Todo>) -> &'static str {
    match (kind, todo) {
        (Kind::ApiToken, Some(Todo::EnterToken)) => "Enter the token…",
        (Kind::ApiToken, _) => "Enter a new token…",
        (Kind::Oauth, Some(Todo::SignIn)) => "Sign in",
        (Kind::Oauth, _) => "Sign in again",
    }
}

/// "Check now" (API token) or "Renew now".
pub fn refresh(kind: Kind) -> &'static str {
    match kind {
        Kind::ApiToken => "Check now",
        Kind::Oauth => "Renew now",
    }
}

/// What a sign-in under way says in place of its item.
pub const SIGNING_IN: &str = "Signing in… finish in your browser";
/// The same, after the integration's name ("Reports — signing in… finish in your browser").
pub const SIGNING_IN_STATUS: &str = "signing in… finish in your browser";
pub const PAUSE: &str = "Pause";
pub const RESUME: &str = "Resume";
pub const SHOW_DETAILS: &str = "Show details…";
pub const OPEN: &str = "Open Token Keeper";
pub const ADD: &str = "Add integration…";
pub const START_AT_LOGIN: &str = "Start at login";
pub const QUIT: &str = "Quit Token Keeper";

/// Every fixed label, for the word walk.
pub const FIXED: [&str; 9] =
    [SIGNING_IN, SIGNING_IN_STATUS, PAUSE, RESUME, SHOW_DETAILS, OPEN, ADD, START_AT_LOGIN, QUIT];

/// The button of the notice that says the team vault's access ended.
pub const NOTICE_CONNECT_AGAIN: &str = "Connect again";

/// The button of a notice that asks for a sign-in: "Sign in again" on a notice about one
/// integration; on a grouped notice the name says which ("Sign in to Reports").
pub fn notice_sign_in(grouped_name: Option<&str>) -> String {
    match grouped_name {
        None => "Sign in again".into(),
        Some(name) => format!("Sign in to {name}"),
    }
}

/// The button of a notice about an API token: "Enter new token", or on a grouped notice "Enter
/// a new token for Jira".
pub fn notice_enter_token(grouped_name: Option<&str>) -> String {
    match grouped_name {
        None => "Enter new token".into(),
        Some(name) => format!("Enter a new token for {name}"),
    }
}

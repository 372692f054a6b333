//! The JSON that `tokenkeeper list --json` and `tokenkeeper status NAME --json` print: a stable,
//! documented contract for scripts, kept separate from the engine's own types so that a change
//! inside the engine cannot silently change what scripts read.
//!
//! # `tokenkeeper list --json`
//!
//! One JSON array (`[]` when there are none), one object per integration, sorted by name:
//!
//! ```json
//! [
//!   {
//!     "name": "jira",
//!     "provider": "oauth2",
//!     "service": "login.example.com",
//!     "kind": "oauth",
//!     "state": "working",
//!     "state_label": "Working",
//!     "detail": null,
//!     "detail_technical": null,
//!     "failure": null,
//!     "access_expires_at": "2025-06-15T16:06:40Z",
//!     "refresh_expires_at": "2025-09-13T15:06:40Z",
//!     "next": { "action": "renew", "at": "2025-06-15T15:51:40Z" },
//!     "signin_pending": false,
//!     "shared": false
//!   }
//! ]
//! ```
//!
//! | field | meaning |
//! | --- | --- |
//! | `name` | the integration's name, as given to the other commands |
//! | `provider` | the provider profile id (`oauth2`, `api-token`, …) |
//! | `kind` | `"oauth"` (refreshable) or `"api-token"` (static, checked with a probe) |
//! | `service` | the service as a person knows it (`"HighQ Collaborate"`, or the host of a generic one) |
//! | `state` | one of `"working"`, `"refreshing"`, `"retrying"`, `"expiring-soon"`, `"needs-sign-in"`, `"offline"`, `"paused"`, `"unreadable"` (its settings file cannot be read) |
//! | `state_label` | the same state in the words the tray and the window show (`"Needs sign-in"`, `"Not signed in yet"`) |
//! | `detail` | why the state is not `working` and what to do, in plain words, or `null` |
//! | `detail_technical` | the service's own codes and words behind `detail` (`"invalid_grant: …"`, `"HTTP 401"`), or `null` |
//! | `failure` | what went wrong as a stable word (`"token-refused"`, `"unreachable"`, …; see `Failure::class`), or `null` |
//! | `access_expires_at` | when the access token ends (RFC 3339, UTC), or `null` if unknown or not signed in |
//! | `refresh_expires_at` | when the sign-in must be renewed: the refresh token's end or, where the provider ends every sign-in after a fixed time (Atlassian: 365 days), that limit, whichever comes first (OAuth); when the API token ends; `null` if unknown |
//! | `next.action` | `"renew"`, `"check"`, `"retry"` or `"wait-for-keeper"` (nothing happens until you act) |
//! | `next.at` | when that happens (RFC 3339, UTC), `null` for `"wait-for-keeper"` |
//! | `signin_pending` | `true` while a browser sign-in is waiting to finish |
//! | `shared` | `true` when it lives in the team vault (`tokenkeeper shared`), kept with the other keepers connected there |
//!
//! # `tokenkeeper status NAME --json`
//!
//! One object: every field above, plus:
//!
//! | field | meaning |
//! | --- | --- |
//! | `signed_in_at` | when the keeper last signed in (RFC 3339, UTC), or `null` if unknown; renewals do not change it |
//! | `sign_in_ends_at` | when the provider ends this sign-in however often it is renewed (Atlassian: 365 days after it), or `null` if it has no such limit |
//! | `sites` | the sites the sign-in reaches, as the service listed them after the sign-in (Atlassian: `{"id": cloud id, "name", "url"}`); `[]` for other providers |
//! | `history` | an array of every kept entry (at most 100), oldest first |
//!
//! ```json
//! { "name": "jira", "...": "...", "signed_in_at": "2025-06-15T15:06:40Z", "sign_in_ends_at": "2026-06-15T15:06:40Z",
//!   "sites": [ { "id": "1324a887-45db-1bf4-1e99-ef0ff456d421", "name": "acme", "url": "https://acme.atlassian.net" } ],
//!   "history": [ { "at": "2025-06-15T15:06:40Z", "event": "refreshed", "text": "Renewed; good until June 15, 2025 4:06 PM.", "detail_technical": null } ] }
//! ```
//!
//! `event` is one of `"added"`, `"signed-in"`, `"sign-in-failed"`, `"refreshed"`,
//! `"refresh-failed"`, `"checked"`, `"state-changed"`, `"notified"`, `"keychain-write-failed"`,
//! `"paused"`, `"resumed"`, `"sites-not-listed"`; `text` is the same line the text form shows (local time only in the
//! text form; `at` is always UTC). New fields and new `state`/`event` values may be added;
//! existing ones keep their meaning.

use serde::Serialize;
use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::model::{IntegrationView, Kind, NextAction, Site, State};
use tokenkeeper_engine::phrases::{self, Failure};
use tokenkeeper_engine::IntegrationStatus;

use crate::words;

/// One integration, as scripts see it.
#[derive(Debug, Serialize)]
pub struct ViewJson<'a> {
    pub name: &'a str,
    pub provider: &'a str,
    pub service: &'a str,
    pub kind: &'static str,
    pub state: &'static str,
    pub state_label: &'a str,
    pub detail: Option<&'a str>,
    pub detail_technical: Option<&'a str>,
    pub failure: Option<&'static str>,
    pub access_expires_at: Option<String>,
    pub refresh_expires_at: Option<String>,
    pub next: NextJson,
    pub signin_pending: bool,
    pub shared: bool,
}

/// What happens next, and when.
#[derive(Debug, Serialize)]
pub struct NextJson {
    pub action: &'static str,
    pub at: Option<String>,
}

/// One integration with its history.
#[derive(Debug, Serialize)]
pub struct StatusJson<'a> {
    #[serde(flatten)]
    pub view: ViewJson<'a>,
    pub signed_in_at: Option<String>,
    pub sign_in_ends_at: Option<String>,
    pub sites: &'a [Site],
    pub history: Vec<HistoryJson<'a>>,
}

/// One history entry.
#[derive(Debug, Serialize)]
pub struct HistoryJson<'a> {
    pub at: Option<String>,
    pub event: &'static str,
    pub text: String,
    pub detail_technical: Option<&'a str>,
}

/// The stable kebab-case word for a state.
pub fn state_word(state: State) -> &'static str {
    match state {
        State::Working => "working",
        State::Refreshing => "refreshing",
        State::Retrying => "retrying",
        State::ExpiringSoon => "expiring-soon",
        State::NeedsSignIn => "needs-sign-in",
        State::Offline => "offline",
        State::Paused => "paused",
        State::Unreadable => "unreadable",
    }
}

/// The stable word for a kind.
pub fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Oauth => "oauth",
        Kind::ApiToken => "api-token",
    }
}

pub fn view(v: &IntegrationView) -> ViewJson<'_> {
    let (action, at) = match v.next {
        NextAction::Renew(at) => ("renew", Some(at)),
        NextAction::Check(at) => ("check", Some(at)),
        NextAction::Retry(at) => ("retry", Some(at)),
        NextAction::WaitForKeeper => ("wait-for-keeper", None),
    };
    ViewJson {
        name: &v.name,
        provider: &v.provider,
        service: &v.service,
        kind: kind_word(v.kind),
        state: state_word(v.state),
        state_label: if v.state_label.is_empty() { v.state.label() } else { &v.state_label },
        detail: v.detail.as_deref(),
        detail_technical: v.detail_technical.as_deref(),
        failure: v.failure.as_ref().map(Failure::class),
        access_expires_at: v.access_expires_at.and_then(words::rfc3339),
        refresh_expires_at: v.refresh_expires_at.and_then(words::rfc3339),
        next: NextJson { action, at: at.and_then(words::rfc3339) },
        signin_pending: v.signin_pending,
        shared: v.shared,
    }
}

pub fn status<'a>(s: &'a IntegrationStatus, calendar: &Calendar) -> StatusJson<'a> {
    StatusJson {
        view: view(&s.view),
        signed_in_at: s.signed_in_at.and_then(words::rfc3339),
        sign_in_ends_at: s.sign_in_ends_at.and_then(words::rfc3339),
        sites: &s.sites,
        history: s
            .history
            .iter()
            .map(|entry| HistoryJson {
                at: words::rfc3339(entry.at),
                event: words::event_word(&entry.event),
                text: phrases::history(&entry.event, s.view.kind, &s.view.service, calendar),
                detail_technical: words::event_technical(&entry.event),
            })
            .collect(),
    }
}

/// `list --json`, pretty-printed, with a final newline.
pub fn list_text(views: &[IntegrationView]) -> String {
    let list: Vec<_> = views.iter().map(view).collect();
    let mut text = serde_json::to_string_pretty(&list).expect("plain data serializes");
    text.push('\n');
    text
}

/// `status --json`, pretty-printed, with a final newline.
pub fn status_text(s: &IntegrationStatus, calendar: &Calendar) -> String {
    let mut text = serde_json::to_string_pretty(&status(s, calendar)).expect("plain data serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokenkeeper_engine::history::{HistoryEntry, HistoryEvent};

    fn sample() -> IntegrationView {
        IntegrationView {
            name: "jira".into(),
            provider: "oauth2".into(),
            service: "login.example.com".into(),
            kind: Kind::Oauth,
            state: State::NeedsSignIn,
            state_label: "Needs sign-in".into(),
            detail: Some("login.example.com no longer accepts this sign-in. Click Sign in again.".into()),
            detail_technical: Some("invalid_grant: grant request is invalid".into()),
            failure: Some(Failure::SignInRefused { explained: None }),
            access_expires_at: Some(1_750_000_000),
            next: NextAction::WaitForKeeper,
            ..IntegrationView::default()
        }
    }

    #[test]
    fn a_view_has_the_documented_shape() {
        let value = serde_json::to_value(view(&sample())).unwrap();
        assert_eq!(
            value,
            json!({
                "name": "jira",
                "provider": "oauth2",
                "service": "login.example.com",
                "kind": "oauth",
                "state": "needs-sign-in",
                "state_label": "Needs sign-in",
                "detail": "login.example.com no longer accepts this sign-in. Click Sign in again.",
                "detail_technical": "invalid_grant: grant request is invalid",
                "failure": "sign-in-refused",
                "access_expires_at": "2025-06-15T15:06:40Z",
                "refresh_expires_at": null,
                "next": { "action": "wait-for-keeper", "at": null },
                "signin_pending": false,
                "shared": false
            })
        );
    }

    #[test]
    fn next_times_and_missing_details_are_explicit() {
        let mut v = sample();
        v.state = State::Working;
        v.detail = None;
        v.next = NextAction::Renew(1_750_000_060);
        let value = serde_json::to_value(view(&v)).unwrap();
        assert_eq!(value["detail"], json!(null));
        assert_eq!(value["next"], json!({ "action": "renew", "at": "2025-06-15T15:07:40Z" }));
        assert_eq!(value["state"], "working");
    }

    #[test]
    fn state_words_match_the_engine_spelling() {
        for state in State::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), json!(state_word(state)));
        }
    }

    #[test]
    fn a_status_is_the_view_plus_its_history() {
        let s = IntegrationStatus {
            view: sample(),
            history: vec![
                HistoryEntry { at: 1_750_000_000, event: HistoryEvent::Added },
                HistoryEntry { at: 1_750_000_001, event: HistoryEvent::Paused { paused: true } },
            ],
            history_text: vec![],
            signed_in_at: Some(1_750_000_000),
            sign_in_ends_at: Some(1_750_000_000 + 365 * 86_400),
            sites: vec![Site { id: "c1".into(), name: "acme".into(), url: "https://acme.atlassian.net".into() }],
            account: None,
        };
        let value: serde_json::Value =
            serde_json::from_str(&status_text(&s, &Calendar::utc(tokenkeeper_engine::calendar::Style::UnitedStates)))
                .unwrap();
        assert_eq!(value["name"], "jira");
        assert_eq!(value["state"], "needs-sign-in");
        assert_eq!(value["signed_in_at"], "2025-06-15T15:06:40Z");
        assert_eq!(value["sign_in_ends_at"], "2026-06-15T15:06:40Z");
        assert_eq!(value["sites"], json!([{ "id": "c1", "name": "acme", "url": "https://acme.atlassian.net" }]));
        assert_eq!(
            value["history"],
            json!([
                { "at": "2025-06-15T15:06:40Z", "event": "added", "text": "Added to Token Keeper.", "detail_technical": null },
                { "at": "2025-06-15T15:06:41Z", "event": "paused", "text": "Paused.", "detail_technical": null }
            ])
        );
    }

    #[test]
    fn an_empty_list_is_an_empty_array() {
        assert_eq!(list_text(&[]), "[]\n");
    }
}

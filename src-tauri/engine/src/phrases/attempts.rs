//! The words of a notice about something the keeper asked for from the tray or a notice (sign
//! in, renew, check, pause, resume) that did not work, and of the notice when Token Keeper cannot
//! start. [`crate::alerts`] decides when they are shown and which class of failure it was; the
//! sentences are here, with the rest of the phrase table, so the word walk covers them.

use super::{notice_refused, trouble, Failure, NoticeWords};
use crate::model::Kind;

/// Something the keeper asked for from the tray or a notice ([`crate::Keeper::on_behalf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    SignIn,
    /// Renew (OAuth) or check (API token) now.
    Refresh,
    Pause,
    Resume,
}

impl Attempt {
    pub const ALL: [Attempt; 4] = [Attempt::SignIn, Attempt::Refresh, Attempt::Pause, Attempt::Resume];
}

/// Why an [`Attempt`] did not work, as a class (the error's own words stay in the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undone {
    /// The integration is gone (removed meanwhile).
    Gone,
    /// The sign-in was not finished in the browser (cancelled, timed out).
    NotFinished,
    /// The service refused it.
    Refused,
    /// The service could not be reached.
    Unreachable,
    /// The keychain is locked.
    KeychainLocked,
    /// A change could not be saved on this computer.
    NotSaved,
    /// Anything else on this computer.
    Other,
}

impl Undone {
    pub const ALL: [Undone; 7] = [
        Undone::Gone,
        Undone::NotFinished,
        Undone::Refused,
        Undone::Unreachable,
        Undone::KeychainLocked,
        Undone::NotSaved,
        Undone::Other,
    ];
}

/// The notice when `attempt` on `name` did not work. `failure` is what the integration's state
/// says went wrong, if anything: a failed renewal or check says why in the notice's words (a
/// notice has no "here": its button or its click opens the fix).
pub fn notice_failed(
    name: &str,
    attempt: Attempt,
    undone: Undone,
    kind: Kind,
    service: &str,
    failure: Option<&Failure>,
) -> NoticeWords {
    let api = kind == Kind::ApiToken;
    let service = if service.trim().is_empty() { "the service" } else { service };
    let summary = match attempt {
        Attempt::SignIn => format!("Signing in to {name} did not work"),
        Attempt::Refresh if api => format!("Checking {name} did not work"),
        Attempt::Refresh => format!("Renewing {name} did not work"),
        Attempt::Pause => format!("Pausing {name} did not work"),
        Attempt::Resume => format!("Resuming {name} did not work"),
    };
    let body = match (attempt, undone) {
        (_, Undone::Gone) => format!("There is no integration called {name} any more."),
        (_, Undone::KeychainLocked) => {
            "Your keychain is locked. Unlock it (it opens with your login password), then try again.".into()
        }
        (Attempt::Refresh, Undone::Refused) => notice_refused(name, kind, service, failure).body,
        (Attempt::Refresh, Undone::Unreachable) => match failure {
            Some(f @ (Failure::NotAnswering | Failure::BadAnswer)) => {
                format!("{} Token Keeper keeps trying; nothing to do.", trouble(service, Some(f)).0)
            }
            _ => format!("Token Keeper cannot reach {service}. Check your internet or VPN; Token Keeper keeps trying."),
        },
        (Attempt::SignIn, Undone::NotFinished) => {
            "The sign-in was not finished in the browser. Nothing changed; try again when you are ready.".into()
        }
        (Attempt::SignIn, Undone::Refused) => format!(
            "{} did not accept the sign-in. Nothing changed; try again, or ask whoever manages the account.",
            super::capitalized(service)
        ),
        (Attempt::SignIn, Undone::Unreachable) => format!(
            "Token Keeper could not reach {service} to finish the sign-in. Nothing changed; check your internet \
             connection or VPN, then try again."
        ),
        (Attempt::Pause | Attempt::Resume, _) | (_, Undone::NotSaved) => {
            "Token Keeper could not save the change on this computer. Nothing changed; try again.".into()
        }
        _ => "Token Keeper could not finish it on this computer. Nothing changed; open Token Keeper to see why.".into(),
    };
    NoticeWords { summary, body }
}

/// The notice (and window text) when the tray app cannot start: `reason` is what is wrong, in
/// the engine's words.
pub fn notice_cannot_start(reason: &str) -> NoticeWords {
    let reason = super::capitalized(reason.trim_end());
    let stop = if reason.ends_with('.') { "" } else { "." };
    NoticeWords {
        summary: "Token Keeper cannot start".into(),
        body: format!(
            "{reason}{stop} Your integrations are not kept alive until this is fixed; then start Token Keeper again."
        ),
    }
}

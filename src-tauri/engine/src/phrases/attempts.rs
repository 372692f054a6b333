//! The words of a notice about something the keeper asked for from the tray or a notice (sign
//! in, renew, check, pause, resume) that did not work, and of the notice when Token Keeper cannot
//! start. [`crate::alerts`] decides when they are shown and which class of failure it was; the
//! sentences are here, with the rest of the phrase table, so the word walk covers them.

use super::{notice_refused, trouble, Failure, NoticeWords};
use crate::keeper::KeeperError;
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

/// The words when the tray app cannot start: the main sentence says what is wrong and what to
/// do; `technical` keeps the error as the engine said it (the parser's or the keychain's words),
/// for the window's "Technical details" and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CannotStart {
    pub words: NoticeWords,
    pub technical: Option<String>,
}

/// Why the tray app cannot start, in words: a damaged file by name, a locked keychain by what
/// unlocks it, anything else by the error's first clause (engine messages read "what: why").
pub fn notice_cannot_start(error: &KeeperError) -> CannotStart {
    let said = error.to_string();
    let reason = match error {
        KeeperError::Damaged { file, .. } => format!(
            "The file {} is damaged, so Token Keeper cannot read its settings. The file was left as it is: \
             fix it or move it away.",
            file.display()
        ),
        KeeperError::KeychainLocked(_) => {
            "The keychain is locked or did not answer. Unlock it (signing in to your desktop again does).".into()
        }
        _ => {
            let first = said.split(": ").next().unwrap_or(&said).trim_end();
            let stop = if first.ends_with('.') { "" } else { "." };
            format!("{}{stop}", super::capitalized(first))
        }
    };
    let technical = (said.trim() != reason.trim()).then_some(said);
    CannotStart {
        words: NoticeWords {
            summary: "Token Keeper cannot start".into(),
            body: format!(
                "{reason} Your integrations are not kept alive until this is fixed; then start Token Keeper again."
            ),
        },
        technical,
    }
}

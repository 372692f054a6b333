//! The per-integration history shown by `status` and the window: refreshes, failures, checks,
//! sign-ins and notifications. Bounded (the newest [`HISTORY_LIMIT`] entries) and secret-free:
//! entries hold times, states, what went wrong as a [`Failure`] class and the service's
//! technical words (`reason`); [`crate::phrases::history`] says each entry in words.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::clock::Moment;
use crate::failure::{Failure, Reason};
use crate::model::{State, UnixTime};

/// How many entries are kept per integration.
pub const HISTORY_LIMIT: usize = 100;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum HistoryEvent {
    /// Added to Token Keeper.
    Added,
    /// The keeper signed in (or stored a token); tokens are new.
    SignedIn,
    /// A sign-in did not complete.
    SignInFailed {
        /// The technical words (codes, the service's own words).
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// The access token was renewed.
    Refreshed { expires_at: Option<UnixTime> },
    /// A refresh failed; `transient` failures are retried.
    RefreshFailed {
        reason: String,
        transient: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// A probe checked the token.
    Checked {
        accepted: bool,
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// The state changed.
    StateChanged { from: State, to: State },
    /// A notification was shown.
    Notified { summary: String },
    /// New tokens could not be written to the keychain (they are kept in memory and retried).
    KeychainWriteFailed { reason: String },
    /// Someone signed in (or entered a new token) on another Token Keeper connected to the team
    /// vault; this keeper took the new tokens from there.
    SignedInElsewhere,
    /// New tokens of a shared integration could not be written to the team vault (kept in
    /// memory and retried).
    VaultWriteFailed { reason: String },
    /// Paused or resumed by the keeper.
    Paused { paused: bool },
    /// The sites the sign-in reaches could not be listed (the sign-in itself worked).
    SitesNotListed { reason: String },
}

/// A dated entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: UnixTime,
    #[serde(flatten)]
    pub event: HistoryEvent,
}

/// The bounded list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History(VecDeque<HistoryEntry>);

impl HistoryEvent {
    /// A failed renewal, from its reason.
    pub fn refresh_failed(reason: &Reason) -> Self {
        HistoryEvent::RefreshFailed {
            reason: reason.technical.clone().unwrap_or_default(),
            transient: reason.is_transient(),
            failure: Some(reason.failure.clone()),
        }
    }

    /// A sign-in that did not complete, from its reason.
    pub fn sign_in_failed(reason: &Reason) -> Self {
        HistoryEvent::SignInFailed {
            reason: reason.technical.clone().unwrap_or_default(),
            failure: Some(reason.failure.clone()),
        }
    }
}

impl History {
    /// Adds what happened at `at` (kept in whole seconds).
    pub fn push(&mut self, at: Moment, event: HistoryEvent) {
        if self.0.len() == HISTORY_LIMIT {
            self.0.pop_front();
        }
        self.0.push_back(HistoryEntry { at: at.secs(), event });
    }

    /// Oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &HistoryEntry> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_keeps_the_newest() {
        let mut h = History::default();
        for i in 0..(HISTORY_LIMIT as i64 + 10) {
            h.push(Moment::from_secs(i), HistoryEvent::Refreshed { expires_at: None });
        }
        assert_eq!(h.len(), HISTORY_LIMIT);
        assert_eq!(h.entries().next().unwrap().at, 10);
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.starts_with("[{\"at\":10,\"event\":\"refreshed\""), "{json}");
    }
}

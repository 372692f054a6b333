//! The non-secret, persisted state of one integration (`state/integrations/<name>.json`):
//! its state, token times (a copy of the keychain's, for display without touching the keychain),
//! failure count, what was notified, and its history; and what belongs to the current sign-in
//! (when it was made, the sites it reaches), kept until the next sign-in.

use serde::{Deserialize, Serialize};

use crate::alerts::NoticeLedger;
use crate::clock::ClockStamp;
use crate::history::History;
use crate::model::{Site, State, UnixTime};
use crate::phrases::{Failure, Reason};

/// One integration's saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub state: State,
    /// Why it is in its state, when something went wrong or it was never signed in. Earlier
    /// versions kept a sentence here (`detail`): it is read as the technical words of a refusal.
    #[serde(
        default,
        alias = "detail",
        deserialize_with = "reason_or_sentence",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<Reason>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub issued_at: Option<UnixTime>,
    #[serde(default)]
    pub access_expires_at: Option<UnixTime>,
    #[serde(default)]
    pub refresh_expires_at: Option<UnixTime>,
    /// When the keeper last signed in (interactively, or by handing over a token response);
    /// refreshes leave it alone. A provider's absolute limit counts from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_at: Option<UnixTime>,
    /// The sites the sign-in reaches, as the service listed them after the last sign-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    /// Consecutive transient failures.
    #[serde(default)]
    pub failures: u32,
    /// When to retry after a failure (wall clock, ms).
    #[serde(default)]
    pub retry_at_ms: Option<i64>,
    /// When to check the token next (wall clock, ms).
    #[serde(default)]
    pub probe_at_ms: Option<i64>,
    #[serde(default)]
    pub notices: NoticeLedger,
    #[serde(default)]
    pub history: History,
    /// The clock frame the times above were written in (see [`crate::clock`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockStamp>,
}

impl Record {
    /// Moves the relative times into the frame `now` after a wall-clock step: token times,
    /// retry and check times, and the expiry warnings already shown for a refresh token (so they
    /// are not shown twice). `calendar_credential` (an API token's expiry date, chosen by a
    /// person) keeps its warnings where they are. History stays as it happened. Returns the
    /// step in whole seconds when there was one.
    pub fn follow_clock(&mut self, now: &ClockStamp, calendar_credential: bool) -> Option<i64> {
        let mut stamp = self.clock.take();
        let mut step = None;
        crate::clock::follow(&mut stamp, now, |secs| {
            step = Some(secs);
            crate::clock::shift_all(
                [
                    &mut self.issued_at,
                    &mut self.access_expires_at,
                    &mut self.refresh_expires_at,
                    &mut self.signed_in_at,
                ],
                secs,
            );
            crate::clock::shift_all([&mut self.retry_at_ms, &mut self.probe_at_ms], secs * 1000);
            if !calendar_credential {
                for (expiry, _) in &mut self.notices.expiry_warnings {
                    *expiry += secs;
                }
            }
        });
        self.clock = stamp;
        step
    }
}

impl Default for Record {
    fn default() -> Self {
        Self {
            state: State::NeedsSignIn,
            reason: Some(Reason::plain(Failure::NotSignedIn)),
            paused: false,
            issued_at: None,
            access_expires_at: None,
            refresh_expires_at: None,
            signed_in_at: None,
            sites: Vec::new(),
            failures: 0,
            retry_at_ms: None,
            probe_at_ms: None,
            notices: NoticeLedger::default(),
            history: History::default(),
            clock: None,
        }
    }
}

/// A saved reason, or the sentence an earlier version saved instead.
fn reason_or_sentence<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Reason>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Reason(Reason),
        Sentence(String),
    }
    Ok(Option::<Saved>::deserialize(de)?.map(|saved| match saved {
        Saved::Reason(reason) => reason,
        Saved::Sentence(s) if s == "not signed in yet" => Reason::plain(Failure::NotSignedIn),
        Saved::Sentence(s) => Reason::new(Failure::SignInRefused { explained: None }, s),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_saved_by_an_earlier_version_becomes_a_reason() {
        let old: Record = serde_json::from_str(r#"{"state":"needs-sign-in","detail":"not signed in yet"}"#).unwrap();
        assert_eq!(old.reason, Some(Reason::plain(Failure::NotSignedIn)));
        let old: Record =
            serde_json::from_str(r#"{"state":"needs-sign-in","detail":"the service answered invalid_grant"}"#).unwrap();
        assert_eq!(
            old.reason,
            Some(Reason::new(Failure::SignInRefused { explained: None }, "the service answered invalid_grant"))
        );
        let new = Record { reason: Some(Reason::new(Failure::TokenRefused, "HTTP 401")), ..Record::default() };
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(r#""reason":{"failure":"token-refused","technical":"HTTP 401"}"#), "{text}");
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), new);
    }
}

//! The non-secret, persisted state of one integration (`state/integrations/<name>.json`):
//! its state, token times (a copy of the keychain's, for display without touching the keychain),
//! failure count, what was notified, and its history; and what belongs to the current sign-in
//! (when it was made, the sites it reaches), kept until the next sign-in.

use serde::{Deserialize, Serialize};

use crate::alerts::NoticeLedger;
use crate::clock::{as_millis, as_secs, ClockStamp, Moment, Span};
use crate::history::History;
use crate::model::{Site, State};
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
    #[serde(default, with = "as_secs")]
    pub issued_at: Option<Moment>,
    #[serde(default, with = "as_secs")]
    pub access_expires_at: Option<Moment>,
    #[serde(default, with = "as_secs")]
    pub refresh_expires_at: Option<Moment>,
    /// When the keeper last signed in (interactively, or by handing over a token response);
    /// refreshes leave it alone. A provider's absolute limit counts from it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "as_secs")]
    pub signed_in_at: Option<Moment>,
    /// The sites the sign-in reaches, as the service listed them after the last sign-in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<Site>,
    /// Consecutive transient failures.
    #[serde(default)]
    pub failures: u32,
    /// When to retry after a failure.
    #[serde(default, rename = "retry_at_ms", with = "as_millis")]
    pub retry_at: Option<Moment>,
    /// When to check the token next.
    #[serde(default, rename = "probe_at_ms", with = "as_millis")]
    pub probe_at: Option<Moment>,
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
    /// step when there was one.
    pub fn follow_clock(&mut self, now: &ClockStamp, calendar_credential: bool) -> Option<Span> {
        let mut stamp = self.clock.take();
        let mut moved = None;
        crate::clock::follow(&mut stamp, now, |step| {
            moved = Some(step);
            crate::clock::shift_all(
                [
                    &mut self.issued_at,
                    &mut self.access_expires_at,
                    &mut self.refresh_expires_at,
                    &mut self.signed_in_at,
                    &mut self.retry_at,
                    &mut self.probe_at,
                ],
                step,
            );
            if !calendar_credential {
                for (expiry, _) in &mut self.notices.expiry_warnings {
                    *expiry = expiry.saturating_add(step.secs());
                }
            }
        });
        self.clock = stamp;
        moved
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
            retry_at: None,
            probe_at: None,
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

    /// A state file as versions with raw integer times wrote it (seconds for token times,
    /// milliseconds for retry and check times).
    const WRITTEN_BEFORE_TYPED_TIME: &str = r#"{
  "state": "retrying",
  "detail": "the service did not answer",
  "paused": false,
  "issued_at": 1700000000,
  "access_expires_at": 1700003600,
  "refresh_expires_at": 1707776000,
  "signed_in_at": 1699990000,
  "failures": 2,
  "retry_at_ms": 1700000123456,
  "probe_at_ms": 1700001800999,
  "notices": { "problem": null, "expiry_warnings": [[1707776000, 14]] },
  "history": [{ "at": 1700000000, "event": "refreshed", "expires_at": 1700003600 }],
  "clock": { "boot": "b", "offset_ms": 1699000000000 }
}"#;

    #[test]
    fn a_state_file_written_before_typed_time_loads_and_is_written_back_the_same() {
        let record: Record = serde_json::from_str(WRITTEN_BEFORE_TYPED_TIME).expect("loads");
        assert_eq!(record.issued_at, Some(Moment::from_secs(1_700_000_000)));
        assert_eq!(record.access_expires_at.map(Moment::millis), Some(1_700_003_600_000));
        assert_eq!(record.signed_in_at, Some(Moment::from_secs(1_699_990_000)));
        assert_eq!(record.retry_at, Some(Moment::from_millis(1_700_000_123_456)), "milliseconds stay milliseconds");
        assert_eq!(record.probe_at, Some(Moment::from_millis(1_700_001_800_999)));
        let mut written: serde_json::Value = serde_json::to_value(&record).unwrap();
        let mut before: serde_json::Value = serde_json::from_str(WRITTEN_BEFORE_TYPED_TIME).unwrap();
        assert_eq!(written["reason"]["technical"], before["detail"], "the old sentence is kept as technical words");
        written.as_object_mut().unwrap().remove("reason");
        before.as_object_mut().unwrap().remove("detail");
        assert_eq!(written, before, "the same file, field for field");
    }

    #[test]
    fn a_step_moves_second_and_millisecond_times_alike() {
        let mut record: Record = serde_json::from_str(WRITTEN_BEFORE_TYPED_TIME).unwrap();
        let stepped = ClockStamp { boot: "b".into(), offset_ms: 1_699_000_000_000 - 3_600_000 };
        assert_eq!(record.follow_clock(&stepped, false), Some(Span::from_secs(-3600)));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["issued_at"], 1_700_000_000 - 3600);
        assert_eq!(json["retry_at_ms"], 1_700_000_123_456i64 - 3_600_000);
        assert_eq!(json["probe_at_ms"], 1_700_001_800_999i64 - 3_600_000);
        assert_eq!(json["notices"]["expiry_warnings"][0][0], 1_707_776_000 - 3600);
        assert_eq!(json["history"][0]["at"], 1_700_000_000, "history stays as it happened");
    }
}

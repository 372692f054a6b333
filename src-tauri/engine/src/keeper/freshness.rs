//! When a token may be handed out, and when it must be renewed first: pure rules over the stored
//! secrets and the time, used by `token` (hand out or renew) and by renewal (skip a renewal that
//! another process already made).
//!
//! One rule decides both "renew first" and "hand out" ([`fresh`], [`usable`]): a token with less
//! than the hand-out minimum ([`MIN_REMAINING`]) left is renewed first, whatever its lifetime.
//! (When the two were separate, a 4 s token with 2.5 s left was "fresh" — outside its 2 s margin
//! — so not renewed, and then refused as too short-lived to hand out.)

use crate::clock::{Moment, Span};
use crate::model::Secrets;
use crate::scheduler::inside_margin;
use crate::secret::AccessToken;

/// A token the keeper may hand out: valid for at least this long, so a script has time to use
/// it. Compared in milliseconds: whole seconds on both sides made "2 s" mean "more than 1 s".
pub(super) const MIN_REMAINING: Span = Span::from_millis(3_000);

/// The access token, if it may be handed out without renewing first: [`usable`] and outside the
/// renewal margin.
pub(super) fn fresh(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
    let token = usable(secrets, now)?;
    match secrets.access_expires_at {
        None => Some(token),
        Some(exp) => {
            let issued = secrets.issued_at.unwrap_or(exp);
            (!inside_margin(now, issued, exp)).then_some(token)
        }
    }
}

/// The access token, if it may be handed out at all: at least [`MIN_REMAINING`] left (or no known
/// expiry).
pub(super) fn usable(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
    let token = secrets.access_token.clone()?;
    secrets.access_expires_at.is_none_or(|e| e.since(now) >= MIN_REMAINING).then_some(token)
}

/// The access token, if it has not ended yet (or has no known expiry).
pub(super) fn alive(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
    let token = secrets.access_token.clone()?;
    secrets.access_expires_at.is_none_or(|e| e > now).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(issued_s: i64, expires_s: i64) -> Secrets {
        Secrets {
            access_token: Some(AccessToken::new("t".into())),
            issued_at: Some(Moment::from_secs(issued_s)),
            access_expires_at: Some(Moment::from_secs(expires_s)),
            ..Secrets::default()
        }
    }

    /// A 4 s token has a 2 s margin: with 2.5 s left it is outside the margin, but under the
    /// hand-out minimum, so it is renewed first, not called fresh and then refused.
    #[test]
    fn a_token_under_the_hand_out_minimum_is_never_fresh() {
        let at = Moment::from_millis;
        let s = secrets(100, 104);
        assert!(fresh(&s, at(101_500)).is_none(), "2.5 s left of a 4 s token must be renewed first");
        assert!(usable(&s, at(101_500)).is_none());
        assert!(fresh(&s, at(100_500)).is_some(), "3.5 s left, outside the margin: fresh");
        // a long token: the margin decides (10 s token, 5 s margin)
        let long = secrets(100, 110);
        assert!(fresh(&long, at(104_000)).is_some());
        assert!(fresh(&long, at(105_500)).is_none() && usable(&long, at(105_500)).is_some());
        assert!(alive(&s, at(103_900)).is_some() && alive(&s, at(104_000)).is_none());
    }

    #[test]
    fn whatever_fresh_hands_out_is_usable() {
        for lifetime in 0..20 {
            let s = secrets(100, 100 + lifetime);
            for now in (100_000..100_000 + lifetime * 1000 + 1000).step_by(100) {
                if fresh(&s, Moment::from_millis(now)).is_some() {
                    assert!(usable(&s, Moment::from_millis(now)).is_some(), "lifetime {lifetime} s at {now}");
                }
            }
        }
    }
}

//! `token`: a valid token, at once — from memory while it is outside its renewal margin and has
//! at least [`MIN_REMAINING`] left, after a renewal otherwise (the renewed token, while it
//! lives), and while renewals fail the current one as long as it has that long left; never one
//! the keeper knows is dead.
//!
//! One rule decides both "renew first" and "hand out" ([`fresh`], [`usable`]): a token with less
//! than the hand-out minimum left is renewed first, whatever its lifetime. (When the two were
//! separate, a 4 s token with 2.5 s left was "fresh" — outside its 2 s margin — so not renewed,
//! and then refused as too short-lived to hand out.)

use super::renewal::{view_words, Why};
use super::{Keeper, KeeperError};
use crate::clock::{Moment, Span};
use crate::model::{Secrets, State};
use crate::scheduler::inside_margin;
use crate::secret::AccessToken;

/// A token the keeper may hand out: valid for at least this long, so a script has time to use
/// it. Compared in milliseconds: whole seconds on both sides made "2 s" mean "more than 1 s".
const MIN_REMAINING: Span = Span::from_millis(3_000);

/// Renewals one `token` request may make when each new token is under the minimum by the time it
/// can be handed out (a very slow machine, a very short-lived token).
const RENEWALS_PER_REQUEST: usize = 3;

impl Keeper {
    /// A currently valid access token (or the API token), refreshing first when inside the
    /// margin. Never a token the keeper knows is dead.
    pub async fn token(&self, name: &str) -> Result<AccessToken, KeeperError> {
        self.refuse_if_signed_out(name)?;
        let secrets = self.secrets(name).await?;
        if let Some(api) = &secrets.api_token {
            return Ok(AccessToken::new(api.expose().to_string()));
        }
        if self.is_api_token(name)? {
            return Err(KeeperError::NeedsSignIn(format!("\"{name}\" has no API token yet")));
        }
        if let Some(token) = fresh(&secrets, self.inner.clock.now()) {
            return Ok(token);
        }
        let mut secrets = secrets;
        let before = secrets.access_token.take();
        // Renewed first; and again if the machine was so slow that the new token fell under the
        // minimum before it could be handed out — but not past a failure (its backoff holds).
        for _ in 0..RENEWALS_PER_REQUEST {
            self.refresh_integration(name, Why::TokenRequest).await;
            self.refuse_if_signed_out(name)?;
            secrets = self.secrets(name).await?;
            if let Some(token) = usable(&secrets, self.inner.clock.now()) {
                return Ok(token);
            }
            if self.lock().slots.get(name).is_none_or(|s| s.record().retry_at.is_some()) {
                break;
            }
        }
        // A token that came while this call waited is the newest the service gives: handed out
        // while it lives (a service whose tokens live less than the minimum still gets used).
        let renewed = secrets.access_token.is_some() && secrets.access_token != before;
        if let Some(token) = alive(&secrets, self.inner.clock.now()).filter(|_| renewed) {
            return Ok(token);
        }
        let view = self.status(name)?.view;
        Err(KeeperError::Unavailable(match view.detail {
            Some(_) => format!("{} It has no valid token right now.", view_words(&view, self.inner.clock.now())),
            None => format!(
                "\"{name}\" has no valid token right now and cannot be renewed: the service's newest token ends in \
                 less than {} seconds, too soon to be used",
                MIN_REMAINING.secs()
            ),
        }))
    }

    fn refuse_if_signed_out(&self, name: &str) -> Result<(), KeeperError> {
        let now = self.inner.clock.now();
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        if slot.record().state == State::NeedsSignIn {
            return Err(KeeperError::NeedsSignIn(view_words(&slot.view(now), now)));
        }
        Ok(())
    }

    pub(super) fn is_api_token(&self, name: &str) -> Result<bool, KeeperError> {
        Ok(self.lock().slots.get(name).ok_or_else(|| KeeperError::unknown(name))?.is_api_token())
    }
}

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
fn usable(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
    let token = secrets.access_token.clone()?;
    secrets.access_expires_at.is_none_or(|e| e.since(now) >= MIN_REMAINING).then_some(token)
}

/// The access token, if it has not ended yet (or has no known expiry).
fn alive(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
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

//! `token`: a valid token, at once — from memory while it is outside its renewal margin, after
//! a renewal inside it, and while renewals fail the current one as long as it has a few seconds
//! left; never one the keeper knows is dead.

use super::renewal::{view_words, Why};
use super::{Keeper, KeeperError};
use crate::clock::{Moment, Span};
use crate::model::{Secrets, State};
use crate::scheduler::inside_margin;
use crate::secret::AccessToken;

/// A token the keeper may hand out: valid for at least this long, so a script has time to use
/// it. Compared in milliseconds: whole seconds on both sides made "2 s" mean "more than 1 s".
const MIN_REMAINING: Span = Span::from_millis(3_000);

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
        self.refresh_integration(name, Why::TokenRequest).await;
        self.refuse_if_signed_out(name)?;
        let secrets = self.secrets(name).await?;
        // After a failed refresh the current token is still handed out while it works.
        match &secrets.access_token {
            Some(t) if secrets.access_expires_at.is_none_or(|e| e.since(self.inner.clock.now()) >= MIN_REMAINING) => {
                Ok(t.clone())
            }
            _ => {
                let view = self.status(name)?.view;
                Err(KeeperError::Unavailable(match view.detail {
                    Some(_) => {
                        format!("{} It has no valid token right now.", view_words(&view, self.inner.clock.now()))
                    }
                    None => format!("\"{name}\" has no valid token right now; Token Keeper keeps trying to renew it."),
                }))
            }
        }
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

/// The access token, if it is outside the renewal margin.
pub(super) fn fresh(secrets: &Secrets, now: Moment) -> Option<AccessToken> {
    let token = secrets.access_token.clone()?;
    match secrets.access_expires_at {
        None => Some(token),
        Some(exp) => {
            let issued = secrets.issued_at.unwrap_or(exp);
            (!inside_margin(now, issued, exp)).then_some(token)
        }
    }
}

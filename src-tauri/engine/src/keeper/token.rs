//! `token`: a valid token, at once — from memory while it is fresh, after a renewal otherwise
//! (the renewed token, while it lives), and while renewals fail the current one as long as it is
//! usable; never one the keeper knows is dead. What "fresh" and "usable" mean is
//! [`super::freshness`]'s.

use super::freshness::{alive, fresh, usable, MIN_REMAINING};
use super::renewal::Why;
use super::{Keeper, KeeperError};
use crate::model::State;
use crate::phrases::view_words;
use crate::secret::AccessToken;

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
            Some(_) => format!("{} It has no valid token right now.", view_words(&view, self.inner.clock.now().secs())),
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
            return Err(KeeperError::NeedsSignIn(view_words(&slot.view(now), now.secs())));
        }
        Ok(())
    }

    pub(super) fn is_api_token(&self, name: &str) -> Result<bool, KeeperError> {
        Ok(self.lock().slots.get(name).ok_or_else(|| KeeperError::unknown(name))?.is_api_token())
    }
}

//! What the keeper asked for and did not get: a sign-in, a renewal, a check or a pause started
//! from the tray or from a notice runs through [`Keeper::on_behalf`], and when it fails the keeper
//! is told in a notice (they acted away from any window, so a log line alone would leave them
//! wondering). The words are [`crate::alerts::attempt_failed`]'s.
//!
//! A failure the keeper's own rules already announced is not told twice: a renewal that ends in
//! "Needs sign-in" shows the "stopped working" notice with its fix, so the failure adds nothing.

use std::future::Future;

use tokio::sync::broadcast::{self, error::TryRecvError};

use super::{run::NoticeJob, Event, Keeper, KeeperError};
use crate::alerts::{self, Attempt};

impl Keeper {
    /// Runs `work`, which the keeper asked for from the tray or a notice, for integration `name`;
    /// when it fails, a notice says so in words (unless a notice about `name` was just shown).
    pub async fn on_behalf<T>(
        &self,
        name: &str,
        attempt: Attempt,
        work: impl Future<Output = Result<T, KeeperError>>,
    ) -> Result<T, KeeperError> {
        let mut events = self.subscribe();
        let result = work.await;
        if let Err(error) = &result {
            tracing::warn!("{name}: {attempt:?} did not work: {error}");
            if !notified_about(&mut events, name) {
                let view = self.status(name).ok().map(|s| s.view);
                self.tell(alerts::attempt_failed(name, attempt, error, view.as_ref()));
            }
        }
        result
    }

    /// Shows a notice that is no state change of an integration (so no ledger keeps it).
    pub fn tell(&self, notice: crate::notify::Notice) {
        let _ = self.inner.events.send(Event::Notified { notice: notice.clone() });
        let _ = self.inner.notices.send(NoticeJob::Show(notice));
    }
}

/// Whether the events seen so far include a notice about `name`.
fn notified_about(events: &mut broadcast::Receiver<Event>, name: &str) -> bool {
    loop {
        match events.try_recv() {
            Ok(Event::Notified { notice }) if notice.integrations.iter().any(|n| n == name) => return true,
            Ok(_) | Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => return false,
        }
    }
}

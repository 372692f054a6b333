//! The keeper's side of the keychain: an integration's secrets loaded and saved off the async
//! runtime (at most one call per keychain connection at once, each with a timeout), the two locks
//! that make a refresh the only one on the machine, and memory reconciled with the keychain after another process's
//! renewal or a refused save (read again only when its change stamp says another process wrote it:
//! [`change_stamp`]).

use std::sync::Arc;
use std::time::Duration;

use super::{change_stamp, Keeper, KeeperError};
use crate::model::Secrets;
use crate::store::keychain::NATIVE_CONNECTIONS;
use crate::store::StoreError;

impl Keeper {
    /// The keychain's secrets of `name`, their times in the current clock frame.
    pub(super) async fn keychain_load(&self, name: &str) -> Result<Option<Secrets>, StoreError> {
        if self.is_shared(name) {
            return self.shared_load(name).await;
        }
        let (store, name) = (self.inner.store.clone(), name.to_string());
        let mut loaded = keychain_call(move || store.load(&name)).await?;
        if let Some(secrets) = &mut loaded {
            secrets.follow_clock(&self.inner.clock.stamp());
        }
        Ok(loaded)
    }

    /// Writes the secrets of `name`, with a change stamp before and after (see [`change_stamp`]).
    pub(super) async fn keychain_save(&self, name: &str, secrets: &Secrets) -> Result<(), StoreError> {
        if self.is_shared(name) {
            return self.shared_overwrite(name, secrets, None).await;
        }
        let file = self.stamp_file(name);
        self.inner.stamps.bump(&file);
        let (store, owned, secrets) = (self.inner.store.clone(), name.to_string(), secrets.clone());
        let saved = keychain_call(move || store.save(&owned, &secrets)).await;
        let after = self.inner.stamps.bump(&file);
        self.inner.stamps.saw(name, after.filter(|_| saved.is_ok()));
        saved
    }

    pub(super) async fn keychain_delete(&self, name: &str) -> Result<(), StoreError> {
        if self.is_shared(name) {
            return self.shared_delete(name).await.map_err(|e| StoreError::Unavailable(e.to_string()));
        }
        let file = self.stamp_file(name);
        self.inner.stamps.bump(&file);
        let (store, owned) = (self.inner.store.clone(), name.to_string());
        let deleted = keychain_call(move || store.delete(&owned)).await;
        self.inner.stamps.bump(&file);
        self.inner.stamps.saw(name, None);
        deleted
    }

    fn stamp_file(&self, name: &str) -> std::path::PathBuf {
        change_stamp::stamp_file(&self.inner.paths.lock_file(name))
    }

    /// Takes, in this order, the two locks that make this the only refresh, sign-in store or
    /// removal of `name` anywhere on the machine: the in-process flight mutex and the
    /// cross-process file lock — for a shared integration, the renewal lease in the team vault,
    /// which makes it the only one of every keeper. Both are released when the guard drops.
    pub(super) async fn exclusive(&self, name: &str) -> Result<Exclusive, KeeperError> {
        self.exclusive_unless(name, None).await
    }

    /// [`Keeper::exclusive`] for a renewal: a shared integration's renewal that another keeper
    /// makes while this one waits for the lease is not made again (see [`Exclusive::settled`]).
    pub(super) async fn exclusive_unless(
        &self,
        name: &str,
        settled: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<Exclusive, KeeperError> {
        let flight = self.lock().slots.get(name).map(|s| s.flight.clone()).ok_or_else(|| KeeperError::unknown(name))?;
        let flight = flight.lock_owned().await;
        if self.is_shared(name) {
            let lease = self.shared_lease(name, settled).await?;
            return Ok(Exclusive { _flight: flight, _cross: Cross::Lease(lease) });
        }
        let file = crate::lock::acquire(self.inner.paths.lock_file(name))
            .await
            .map_err(|e| KeeperError::Failed(format!("could not take the refresh lock of \"{name}\": {e}")))?;
        Ok(Exclusive { _flight: flight, _cross: Cross::File(file) })
    }

    /// The secrets of `name`: the in-memory copy, or the keychain's on first use.
    pub(super) async fn secrets(&self, name: &str) -> Result<Secrets, KeeperError> {
        let stamp = self.inner.clock.stamp();
        let cached = {
            let mut shared = self.lock();
            let slot = shared.slots.get_mut(name).ok_or_else(|| KeeperError::unknown(name))?;
            slot.follow_clock(&stamp);
            slot.secrets().cloned()
        };
        if let Some(s) = cached {
            return Ok(s);
        }
        let loaded = self.keychain_load(name).await?.unwrap_or_default();
        let mut shared = self.lock();
        let slot = shared.slots.get_mut(name).ok_or_else(|| KeeperError::unknown(name))?;
        Ok(slot.secrets_or(loaded))
    }

    /// Inside the refresh locks: makes memory and keychain agree. Unsaved tokens in memory are
    /// newer than the keychain and are written first; otherwise the keychain wins (another
    /// process may have refreshed).
    pub(super) async fn reconcile(&self, name: &str) -> Result<Secrets, KeeperError> {
        if self.is_shared(name) {
            return self.shared_reconcile(name).await;
        }
        let (unsaved, memory) = {
            let shared = self.lock();
            let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
            (slot.unsaved(), slot.secrets().cloned())
        };
        if let (true, Some(memory)) = (unsaved, memory.clone()) {
            let saved = self.keychain_save(name, &memory).await;
            self.commit(name, |slot, _| slot.unsaved_tokens_written(saved.is_ok()));
            return Ok(memory);
        }
        // Nobody wrote the item since this process last read or wrote it: memory is what it holds.
        let file = self.stamp_file(name);
        if let Some(memory) = memory.clone().filter(|_| self.inner.stamps.unchanged(&file, name)) {
            return Ok(memory);
        }
        let stamp = self.inner.stamps.current(&file);
        let stored = self.keychain_load(name).await?;
        self.inner.stamps.saw(name, stamp);
        let secrets = match (stored, memory) {
            (Some(stored), _) => stored,
            (None, Some(memory)) => memory,
            (None, None) => Secrets::default(),
        };
        let adopted = secrets.clone();
        self.commit(name, move |slot, _| slot.adopted(adopted));
        Ok(secrets)
    }

    /// Keeps the tokens in memory when a save was refused earlier: retried at each tick.
    pub(super) async fn retry_unsaved(&self, name: &str) {
        let memory = self.lock().slots.get(name).filter(|s| s.unsaved()).and_then(|s| s.secrets().cloned());
        if let Some(memory) = memory {
            let saved = self.keychain_save(name, &memory).await;
            self.commit(name, |slot, now| slot.unsaved_tokens_offered(saved.is_ok(), now));
        }
    }
}

/// Both locks of one integration, held together (see [`Keeper::exclusive`]).
pub(super) struct Exclusive {
    _flight: tokio::sync::OwnedMutexGuard<()>,
    _cross: Cross,
}

impl Exclusive {
    /// Whether another keeper made the renewal this one waited to make: nothing is held.
    pub(super) fn settled(&self) -> bool {
        matches!(&self._cross, Cross::Lease(lease) if lease.is_settled())
    }

    /// Whether the holder may renew: not a keeper that may only read the team vault.
    pub(super) fn may_renew(&self) -> bool {
        match &self._cross {
            Cross::File(_) => true,
            Cross::Lease(lease) => lease.may_renew(),
        }
    }

    /// The integration and its lease were removed: there is no lease left to give back.
    pub(super) fn removed(&mut self) {
        if let Cross::Lease(lease) = &mut self._cross {
            lease.forget();
        }
    }
}

/// The lock that keeps other processes out: the file lock on this machine, the vault's lease for
/// a shared integration.
enum Cross {
    File(#[allow(dead_code)] crate::lock::IntegrationLock),
    Lease(super::shared_home::HeldLease),
}

/// How long a keychain call may take. A locked keychain on a desktop may show an unlock prompt
/// and wait for the person; a script must not hang on it forever.
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Keychain calls running at once, per process: one per keychain connection (a connection runs
/// one call at a time, see [`NATIVE_CONNECTIONS`]); without a bound, 32 concurrent refreshes would
/// park 32 blocking threads on it, and the thread count would grow with the number of
/// integrations.
static KEYCHAIN_CALLS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(NATIVE_CONNECTIONS)));

/// Runs a blocking keychain call off the async runtime, with [`KEYCHAIN_TIMEOUT`] for waiting
/// for a turn and the call together. The turn goes with the blocking thread, so a call that hangs
/// past its timeout still holds it: a hung keychain cannot pile up threads.
async fn keychain_call<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let run = async {
        let asked = std::time::Instant::now();
        let turn = KEYCHAIN_CALLS.clone().acquire_owned().await.map_err(|e| StoreError::Failed(e.to_string()))?;
        let waited = asked.elapsed();
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let started = std::time::Instant::now();
            let result = call();
            // where a slow catch-up waits: for a turn, or in the keychain itself
            tracing::debug!(waited_ms = waited.as_millis(), took_ms = started.elapsed().as_millis(), "keychain call");
            result
        })
        .await
        .map_err(|e| StoreError::Failed(e.to_string()))
    };
    match tokio::time::timeout(KEYCHAIN_TIMEOUT, run).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StoreError::Locked(format!(
            "the keychain did not answer within {} s (is it waiting for you to unlock it?)",
            KEYCHAIN_TIMEOUT.as_secs()
        ))),
    }
}

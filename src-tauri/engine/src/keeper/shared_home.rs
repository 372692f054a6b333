//! One shared integration in the keeper: the team vault as the home of some integrations, beside
//! the keychain and the files of the local ones.
//!
//! **What lives where.** A shared integration's settings and secrets live only in its vault
//! record ([`SharedRecord`], one check-and-set write for both); this keeper's own observations of
//! it (history, notices shown, retry times) in a local record file under `state/shared/`, as for
//! a local one. The slot remembers which version of the vault record its memory holds
//! ([`Home::Shared`]).
//!
//! **The same keeper, other primitives.** Every path of the keeper stays as it is; where it
//! touches the keychain, the file lock or the change stamps, a shared integration takes the
//! vault's counterpart: the record is read instead of the keychain, the renewal lease
//! ([`crate::shared::lease`]) is taken instead of the file lock, the record's version replaces
//! the change stamp. A renewal's result is written with check-and-set on the version read inside
//! the lease; when that fails another keeper renewed, and its tokens are used instead of ours
//! ([`Keeper::publish_renewal`]). A sign-in (or a new API token) is the person's intent and wins
//! over whatever is there.
//!
//! **What a keeper reads, and when** (the idle cost): every [`super::SYNC_EVERY`], one `LIST` of
//! the shared space (new and removed integrations) and one read of its change log
//! ([`crate::shared::changes`]: sign-ins and refusals made elsewhere, each then read); one read
//! of an integration's record inside its lease before each renewal (anyone else's newer tokens or
//! "needs sign-in" mark); and, as a fallback, a read of each integration waiting for a sign-in
//! once a minute. With the check that the node in use is still the active one (`sys/health`,
//! [`crate::shared::client::VaultClient::keep_active`]), a working integration costs nothing
//! between renewals: 0.3 requests/s per keeper, whatever the number of integrations.
//!
//! **Nothing lost.** A record that cannot be read is reported and left as it is; an unreachable
//! vault is a transient failure ([`Failure::VaultUnreachable`]) retried like a provider that does
//! not answer, with the tokens in memory kept; access lost for good is said in
//! [`super::SharedStatus::error`] and the local integrations go on untouched.

use std::sync::Arc;
use std::time::Duration;

use super::slot::Home;
use super::{Keeper, KeeperError, Slot};
use crate::model::{IntegrationConfig, Secrets, State};
use crate::phrases::{Failure, Reason};
use crate::shared::lease::{self, Lease, TakeOutcome, LEASE_TIME};
use crate::shared::record::{record_path, SharedRecord};
use crate::shared::space::Space;
use crate::shared::store::{Cas, SharedStore, Versioned};
use crate::shared::{VaultError, VaultErrorKind};
use crate::store::StoreError;

/// How often giving a lease back is tried when the vault is not ready.
const RELEASE_ATTEMPTS: u32 = 3;

/// How often a keeper waiting for another's lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(500);

/// The lease of a shared integration, held while renewing: extended every third of
/// [`LEASE_TIME`] while held (so a renewal that takes long keeps it, and a keeper killed while
/// holding it blocks the others for at most [`LEASE_TIME`]), and given back on drop.
pub(super) struct HeldLease {
    space: Arc<Space>,
    /// `None` for a keeper the vault's rules let read but not write (it holds no lease, reads the
    /// record and uses what others renew, and must not renew itself), and once given back.
    lease: Arc<std::sync::Mutex<Option<Lease>>>,
    may_renew: bool,
    settled: bool,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    link: std::sync::Weak<super::Inner>,
}

impl HeldLease {
    fn held(
        space: Arc<Space>,
        lease: Lease,
        clock: Arc<dyn crate::clock::Clock>,
        link: std::sync::Weak<super::Inner>,
    ) -> Self {
        let shared = Arc::new(std::sync::Mutex::new(Some(lease)));
        let heartbeat = tokio::spawn(extend_while_held(space.clone(), shared.clone(), clock));
        Self { space, lease: shared, may_renew: true, settled: false, heartbeat: Some(heartbeat), link }
    }

    fn read_only(space: Arc<Space>, link: std::sync::Weak<super::Inner>) -> Self {
        Self { space, lease: Arc::default(), may_renew: false, settled: false, heartbeat: None, link }
    }

    /// No lease: another keeper renewed while this one waited for it, and nothing is left to do.
    fn settled(space: Arc<Space>, link: std::sync::Weak<super::Inner>) -> Self {
        Self { space, lease: Arc::default(), may_renew: false, settled: true, heartbeat: None, link }
    }

    /// Whether another keeper did the renewal this one waited to make.
    pub(super) fn is_settled(&self) -> bool {
        self.settled
    }

    /// The lease record was removed with its integration: nothing to give back.
    pub(super) fn forget(&mut self) {
        self.stop_heartbeat();
        self.lease.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Whether this keeper may renew (it took the lease).
    pub(super) fn may_renew(&self) -> bool {
        self.may_renew
    }

    fn stop_heartbeat(&mut self) {
        if let Some(task) = self.heartbeat.take() {
            task.abort();
        }
    }
}

/// Extends the lease every third of its time until it is given back (or taken over).
async fn extend_while_held(
    space: Arc<Space>,
    held: Arc<std::sync::Mutex<Option<Lease>>>,
    clock: Arc<dyn crate::clock::Clock>,
) {
    loop {
        tokio::time::sleep(Duration::from_millis((LEASE_TIME.millis() / 3) as u64)).await;
        let Some(mut lease) = held.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        match lease::extend(space.store(), &mut lease, clock.now(), LEASE_TIME).await {
            Ok(lease::Kept::Extended) => *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease),
            Ok(lease::Kept::Lost) => return,
            // kept as it is: it lapses by itself if the vault stays away
            Err(_) => *held.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease),
        }
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.stop_heartbeat();
        let Some(lease) = self.lease.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let space = self.space.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let task = runtime.spawn(async move {
            // a standby whose copy lags refuses the write: tried again on the active node
            for attempt in 1..=RELEASE_ATTEMPTS {
                match lease::release(space.store(), lease.clone()).await {
                    Ok(()) => return,
                    Err(e) if e.is_transient() && attempt < RELEASE_ATTEMPTS => {
                        space.store().client().prefer_active().await;
                        tokio::time::sleep(LEASE_POLL).await;
                    }
                    Err(e) => {
                        tracing::warn!("could not give back a renewal lease (it lapses by itself): {}", e.detail());
                        return;
                    }
                }
            }
        });
        if let Some(inner) = self.link.upgrade() {
            let mut releases = inner.shared.releases.lock().unwrap_or_else(|p| p.into_inner());
            releases.retain(|t| !t.is_finished());
            releases.push(task);
        }
    }
}

impl From<VaultError> for KeeperError {
    fn from(e: VaultError) -> Self {
        tracing::info!("team vault: {}", e.detail());
        let sentence = e.sentence();
        match e.kind() {
            VaultErrorKind::Unreachable
            | VaultErrorKind::Sealed
            | VaultErrorKind::Unavailable
            | VaultErrorKind::AccessEnded => KeeperError::Unavailable(sentence),
            VaultErrorKind::BadAddress { .. }
            | VaultErrorKind::BadName { .. }
            | VaultErrorKind::MountMissing { .. }
            | VaultErrorKind::NotKv2 { .. }
            | VaultErrorKind::BadCertificate
            | VaultErrorKind::NotAVault { .. } => KeeperError::BadInput(sentence),
            VaultErrorKind::Denied { .. }
            | VaultErrorKind::Damaged { .. }
            | VaultErrorKind::Conflict { .. }
            | VaultErrorKind::BadAnswer => KeeperError::Failed(sentence),
        }
    }
}

/// Whether `secrets` hold something to work with (a sign-in was made, a token entered).
pub(super) fn holds_tokens(secrets: &Secrets) -> bool {
    secrets.access_token.is_some() || secrets.refresh_token.is_some() || secrets.api_token.is_some()
}

impl Keeper {
    pub(super) fn is_shared(&self, name: &str) -> bool {
        self.lock().slots.get(name).is_some_and(Slot::is_shared)
    }

    pub(super) async fn read_shared(
        &self,
        space: &Space,
        name: &str,
    ) -> Result<Option<Versioned<SharedRecord>>, VaultError> {
        let path = record_path(name)?;
        match space.store().read::<SharedRecord>(&path).await? {
            Some(Versioned { version, data: Some(record) }) => {
                Ok(Some(Versioned { version, data: Some(record.check(&path, name)?) }))
            }
            _ => Ok(None),
        }
    }

    /// Memory takes what the vault holds at a newer version than it knew: another keeper's
    /// renewal, sign-in or "needs sign-in" mark.
    pub(super) fn adopt_shared(&self, name: &str, read: Versioned<SharedRecord>) {
        let Some(record) = read.data else { return };
        let newer = self.lock().slots.get(name).is_some_and(|s| match s.home() {
            Home::Shared { seen } => read.version > seen,
            Home::Local => false,
        });
        if !newer {
            return;
        }
        let mut secrets: Secrets = record.secrets.into();
        secrets.follow_clock(&self.inner.clock.stamp());
        let version = read.version;
        self.commit(name, move |slot, now| {
            slot.saw_version(version);
            slot.config = record.config;
            match record.needs_sign_in {
                Some(reason) => {
                    slot.adopted(secrets);
                    if slot.record().state != State::NeedsSignIn {
                        tracing::info!("{}: another keeper found the sign-in ended", slot.config.name);
                        slot.renewal_refused(reason, now);
                    }
                }
                None if slot.record().state == State::NeedsSignIn && holds_tokens(&secrets) => {
                    tracing::info!("{}: signed in on another keeper", slot.config.name);
                    slot.signed_in_elsewhere(secrets, now);
                }
                // another keeper's renewal: this keeper's failures are over only if its token
                // still works (a lagging copy read right after an outage may hold an ended one)
                None if secrets.api_token.is_some() || super::freshness::usable(&secrets, now).is_some() => {
                    slot.renewed_elsewhere(secrets)
                }
                None => slot.adopted(secrets),
            }
        });
    }

    /// The secrets of a shared integration as the vault holds them now.
    pub(super) async fn shared_load(&self, name: &str) -> Result<Option<Secrets>, StoreError> {
        let space = self.connected().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let read = self.read_shared(&space, name).await.map_err(|e| StoreError::Unavailable(e.sentence()))?;
        Ok(read.and_then(|r| r.data).map(|r| {
            let mut secrets: Secrets = r.secrets.into();
            secrets.follow_clock(&self.inner.clock.stamp());
            secrets
        }))
    }

    /// Writes `secrets` (and `config`, when it changed) as the integration's current ones,
    /// over whatever the vault holds: a sign-in, a new API token, tokens kept in memory while
    /// the vault could not be reached.
    pub(super) async fn shared_overwrite(
        &self,
        name: &str,
        secrets: &Secrets,
        config: Option<IntegrationConfig>,
    ) -> Result<(), StoreError> {
        let unavailable = |e: VaultError| StoreError::Unavailable(e.sentence());
        let space = self.connected().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (current_config, seen) = {
            let shared = self.lock();
            let slot = shared.slots.get(name).ok_or_else(|| StoreError::Failed(format!("no \"{name}\"")))?;
            let Home::Shared { seen } = slot.home() else {
                return Err(StoreError::Failed(format!("\"{name}\" is not shared")));
            };
            (slot.config.clone(), seen)
        };
        let path = record_path(name).map_err(unavailable)?;
        let record = SharedRecord::new(config.unwrap_or(current_config), secrets);
        let mut cas = Cas::At(seen);
        for _ in 0..3 {
            match space.store().write(&path, &record, cas).await {
                Ok(version) => {
                    if let Some(slot) = self.lock().slots.get_mut(name) {
                        slot.saw_version(version);
                    }
                    return Ok(());
                }
                Err(e) if matches!(e.kind(), VaultErrorKind::Conflict { .. }) => {
                    let now = space.store().read::<serde::de::IgnoredAny>(&path).await.map_err(unavailable)?;
                    cas = crate::shared::store::cas_of(now.as_ref());
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!("\"{name}\" kept changing in the team vault; try again")))
    }

    /// Removes a shared integration's record and lease from the vault.
    pub(super) async fn shared_delete(&self, name: &str) -> Result<(), KeeperError> {
        let space = self.connected()?;
        space.store().remove(&record_path(name)?).await?;
        space.store().remove(&lease::lease_path(name)?).await?;
        let _ = std::fs::remove_file(self.inner.paths.shared_record(name));
        Ok(())
    }

    /// Takes the renewal lease of `name`, waiting while another keeper holds it (at most the
    /// lease's time and the clock allowance: a holder killed mid-renewal is waited out).
    /// With `settled`: while another keeper holds the lease, the record is read again and, once
    /// `settled` says no renewal is needed any more (the other keeper's tokens are in), no lease
    /// is taken at all ([`HeldLease::settled`]).
    pub(super) async fn shared_lease(
        &self,
        name: &str,
        settled: Option<&(dyn Fn() -> bool + Send + Sync)>,
    ) -> Result<HeldLease, KeeperError> {
        let space = self.connected()?;
        let path = lease::lease_path(name)?;
        let give_up = tokio::time::Instant::now()
            + Duration::from_millis((LEASE_TIME.millis() + lease::CLOCK_ALLOWANCE.millis()) as u64 + 5_000);
        let mut not_ready = 0;
        let mut waited = false;
        loop {
            // after waiting for another keeper: its renewal may be in (it usually takes a fraction
            // of a poll, so the lease is often free again by the next look)
            if let (true, Some(settled)) = (waited, settled) {
                if let Ok(Some(read)) = self.read_shared(&space, name).await {
                    self.adopt_shared(name, read);
                }
                if settled() {
                    return Ok(HeldLease::settled(space, Arc::downgrade(&self.inner)));
                }
            }
            let now = self.inner.clock.now();
            let taken = match lease::take(space.store(), &path, space.keeper(), now, LEASE_TIME).await {
                // the vault's rules let this keeper read, not write: it uses what others renew
                Err(e) if matches!(e.kind(), VaultErrorKind::Denied { .. }) => {
                    tracing::info!("{name}: this keeper may only read the team vault ({})", e.detail());
                    return Ok(HeldLease::read_only(space, Arc::downgrade(&self.inner)));
                }
                // a standby that lags, a leader being elected: once more on the active node
                Err(e) if e.is_transient() && not_ready < RELEASE_ATTEMPTS => {
                    not_ready += 1;
                    space.store().client().prefer_active().await;
                    tokio::time::sleep(LEASE_POLL).await;
                    continue;
                }
                taken => taken?,
            };
            match taken {
                TakeOutcome::Taken(lease) => {
                    let (clock, link) = (self.inner.clock.clone(), Arc::downgrade(&self.inner));
                    return Ok(HeldLease::held(space, lease, clock, link));
                }
                TakeOutcome::Busy { holder, .. } => {
                    tracing::debug!("{name}: {} is renewing it; waiting", holder.as_str());
                    waited = true;
                }
                TakeOutcome::Lost => waited = true,
            }
            if tokio::time::Instant::now() >= give_up {
                return Err(KeeperError::Unavailable(format!(
                    "another Token Keeper kept \"{name}\" busy for too long; it will be tried again"
                )));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Inside the lease: memory takes the vault's record when it is newer than what memory
    /// holds (another keeper renewed, signed in, or found the sign-in ended); tokens kept only in
    /// memory are written first.
    pub(super) async fn shared_reconcile(&self, name: &str) -> Result<Secrets, KeeperError> {
        let (unsaved, memory) = {
            let shared = self.lock();
            let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
            (slot.unsaved(), slot.secrets().cloned())
        };
        if let (true, Some(memory)) = (unsaved, memory) {
            let saved = self.shared_overwrite(name, &memory, None).await;
            self.commit(name, |slot, _| slot.unsaved_tokens_written(saved.is_ok()));
            saved?;
            return Ok(memory);
        }
        let space = self.connected()?;
        if let Some(read) = self.read_shared(&space, name).await? {
            self.adopt_shared(name, read);
        }
        self.lock().slots.get(name).and_then(|s| s.secrets().cloned()).ok_or_else(|| KeeperError::unknown(name))
    }

    /// Writes a renewal's (or sign-in's) result on the version read inside the lease and
    /// commits it; when another keeper wrote first, theirs is taken instead.
    pub(super) async fn publish_renewal(&self, name: &str, new: Secrets, signed_in: bool) {
        if signed_in {
            let saved = self.shared_overwrite(name, &new, None).await.map_err(|e| e.to_string());
            let announce = saved.is_ok();
            self.commit(name, move |slot, now| slot.signed_in(new, saved, now));
            if announce {
                self.announce(name).await;
            }
            return;
        }
        let outcome = async {
            let space = self.connected().map_err(|e| VaultError::new(VaultErrorKind::Unavailable, e.to_string()))?;
            let (seen, config) = match self.lock().slots.get(name).map(|s| (s.home(), s.config.clone())) {
                Some((Home::Shared { seen }, config)) => (seen, config),
                _ => return Err(VaultError::new(VaultErrorKind::BadAnswer, "no longer a shared integration here")),
            };
            let path = record_path(name)?;
            let written = lease::publish(space.store(), &path, &SharedRecord::new(config, &new), Cas::At(seen)).await?;
            Ok((space, written))
        }
        .await;
        match outcome {
            Ok((_, lease::Publish::Written(version))) => {
                self.commit(name, move |slot, now| {
                    slot.saw_version(version);
                    slot.renewed(new, Ok(()), now);
                });
            }
            Ok((space, lease::Publish::SomeoneElseRenewed)) => {
                tracing::warn!("{name}: another keeper renewed at the same time; its tokens are used");
                match self.read_shared(&space, name).await {
                    Ok(Some(read)) => self.adopt_shared(name, read),
                    _ => {
                        let reason =
                            Reason::new(Failure::VaultUnreachable, "could not read the other keeper's renewal");
                        self.commit(name, |slot, now| slot.failed_transiently(reason, None, now));
                    }
                }
            }
            Err(e) => {
                // kept in memory, written at the next tick (never dropped)
                let saved = Err(e.sentence());
                self.commit(name, move |slot, now| slot.renewed(new, saved, now));
            }
        }
    }

    /// The service refused the renewal for good: every keeper learns it from the record.
    pub(super) async fn shared_mark_refused(&self, name: &str, reason: &Reason) {
        let Ok(space) = self.connected() else { return };
        let (config, seen, secrets) = {
            let shared = self.lock();
            let Some(slot) = shared.slots.get(name) else { return };
            let Home::Shared { seen } = slot.home() else { return };
            (slot.config.clone(), seen, slot.secrets().cloned().unwrap_or_default())
        };
        let Ok(path) = record_path(name) else { return };
        let mut record = SharedRecord::new(config, &secrets);
        record.needs_sign_in = Some(reason.clone());
        match space.store().write(&path, &record, Cas::At(seen)).await {
            Ok(version) => {
                if let Some(slot) = self.lock().slots.get_mut(name) {
                    slot.saw_version(version);
                }
                self.announce(name).await;
            }
            // someone wrote since (a sign-in elsewhere?): read at the next look
            Err(e) => tracing::warn!("{name}: could not mark the sign-in as ended in the team vault: {}", e.detail()),
        }
    }

    /// Tells the other keepers, through the space's change log, that `name` changed in a way
    /// they should take in now (see [`crate::shared::changes`]); a failure is only logged (they
    /// then see it at their slower re-read).
    pub(super) async fn announce(&self, name: &str) {
        let Ok(space) = self.connected() else { return };
        if let Err(e) = crate::shared::changes::append(space.store(), name).await {
            tracing::warn!("{name}: could not tell the other keepers at once: {}", e.detail());
        }
    }

    /// A vault failure in the middle of a renewal, committed as a transient failure.
    pub(super) fn vault_failed(&self, name: &str, e: &KeeperError) {
        let reason = Reason::new(Failure::VaultUnreachable, e.to_string());
        self.commit(name, |slot, now| slot.failed_transiently(reason, None, now));
    }

    /// Waits for lease releases under way (a short-lived command calls this before it exits).
    pub(super) async fn flush_releases(&self) {
        let tasks: Vec<_> = std::mem::take(&mut *self.inner.shared.releases.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

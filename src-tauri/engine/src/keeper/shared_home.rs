//! Shared integrations in the keeper: the team vault as the home of some integrations, beside
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
//! **What a keeper reads, and when** (the idle cost): one `LIST` of the shared space every
//! [`SYNC_EVERY`] (new and removed integrations), one read of an integration's record inside its
//! lease before each renewal (anyone else's newer tokens or "needs sign-in" mark), and one read
//! every [`SYNC_EVERY`] of each shared integration that waits for a sign-in (so a sign-in made on
//! another machine is served here within that time). A working integration costs nothing between
//! renewals: 0.1 requests/s per keeper plus 0.1 per broken integration.
//!
//! **Nothing lost.** A record that cannot be read is reported and left as it is; an unreachable
//! vault is a transient failure ([`Failure::VaultUnreachable`]) retried like a provider that does
//! not answer, with the tokens in memory kept; access lost for good is said in
//! [`SharedStatus::error`] and the local integrations go on untouched.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::slot::Home;
use super::{Keeper, KeeperError, Slot};
use crate::history::HistoryEvent;
use crate::model::{IntegrationConfig, IntegrationView, Secrets, State};
use crate::phrases::{Failure, Reason};
use crate::record::Record;
use crate::secret::ClientSecret;
use crate::shared::lease::{self, Lease, TakeOutcome, LEASE_TIME};
use crate::shared::record::{record_path, SharedRecord};
use crate::shared::space::{self, ConnectError, ConnectRequest, Space, SpaceSettings, CREDENTIAL_ITEM};
use crate::shared::store::{Cas, RecordPath, SharedStore, Versioned};
use crate::shared::{VaultError, VaultErrorKind};
use crate::store::StoreError;

/// How often a keeper lists the shared space and re-reads the integrations that wait for a
/// sign-in.
pub const SYNC_EVERY: Duration = Duration::from_secs(10);

/// How often a keeper waiting for another's lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(500);

/// This keeper's connection as shells show it (`tokenkeeper shared status`, the tray).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedStatus {
    /// Connection settings exist (`shared connect` was made and not undone).
    pub configured: bool,
    /// Connected now: shared integrations are kept.
    pub connected: bool,
    /// The address that served last.
    pub address: Option<String>,
    pub mount: Option<String>,
    pub path: Option<String>,
    /// Seconds left of the vault credential (`None`: it does not end, or not connected).
    pub credential_remaining_secs: Option<u64>,
    pub credential_renewable: bool,
    /// Shared integrations this keeper keeps.
    pub integrations: usize,
    /// What went wrong last, in plain words.
    pub error: Option<String>,
    /// The vault's own words about it.
    pub error_technical: Option<String>,
}

/// The keeper's link to the vault (inside [`super::Inner`]).
#[derive(Default)]
pub(super) struct SharedLink {
    space: std::sync::RwLock<Option<Arc<Space>>>,
    problem: std::sync::Mutex<Option<VaultError>>,
    /// Lease releases under way, awaited before a short-lived command exits.
    releases: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// The lease of a shared integration, held while renewing; given back on drop.
pub(super) struct HeldLease {
    space: Arc<Space>,
    lease: Option<Lease>,
    link: std::sync::Weak<super::Inner>,
}

impl HeldLease {
    /// The lease record was removed with its integration: nothing to give back.
    pub(super) fn forget(&mut self) {
        self.lease = None;
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        let space = self.space.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let task = runtime.spawn(async move {
            if let Err(e) = lease::release(space.store(), lease).await {
                tracing::warn!("could not give back a renewal lease (it lapses by itself): {}", e.detail());
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

impl From<ConnectError> for KeeperError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Vault(e) => e.into(),
            ConnectError::File(e) => e.into(),
            ConnectError::Keychain(e) => e.into(),
            ConnectError::BadInput(s) => KeeperError::BadInput(s),
        }
    }
}

/// Whether `secrets` hold something to work with (a sign-in was made, a token entered).
fn holds_tokens(secrets: &Secrets) -> bool {
    secrets.access_token.is_some() || secrets.refresh_token.is_some() || secrets.api_token.is_some()
}

impl Keeper {
    fn space(&self) -> Option<Arc<Space>> {
        self.inner.shared.space.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_problem(&self, problem: Option<VaultError>) {
        if let Some(e) = &problem {
            tracing::warn!("{}", e.sentence());
            tracing::info!("team vault: {}", e.detail());
        }
        *self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()) = problem;
    }

    /// The connected space, or why there is none.
    fn connected(&self) -> Result<Arc<Space>, KeeperError> {
        self.space().ok_or_else(|| match self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(e) => e.into(),
            None => KeeperError::BadInput("this keeper is not connected to a team vault".into()),
        })
    }

    pub(super) fn is_shared(&self, name: &str) -> bool {
        self.lock().slots.get(name).is_some_and(Slot::is_shared)
    }

    /// Connects to the team vault named in `shared.toml` (if any) and loads its integrations.
    /// Shells call this once after [`Keeper::open`]; [`Keeper::run`] then keeps it in step.
    /// A vault that cannot be reached is no error here: it is in [`Keeper::shared_status`] and
    /// tried again every [`SYNC_EVERY`].
    pub async fn open_shared(&self) {
        self.sync_shared().await;
    }

    /// Connects this keeper to a shared space (checked by using it; nothing is kept when it
    /// fails) and loads the integrations already there.
    pub async fn shared_connect(&self, request: ConnectRequest) -> Result<SharedStatus, KeeperError> {
        let now = self.inner.clock.now();
        let store = self.inner.store.clone();
        let connected = space::connect(&self.inner.paths, &*store, request, now).await;
        let space = Arc::new(connected?);
        self.forget_shared_slots();
        *self.inner.shared.space.write().unwrap_or_else(|p| p.into_inner()) = Some(space.clone());
        self.set_problem(None);
        if let Err(e) = self.load_shared(&space).await {
            self.set_problem(Some(e.clone()));
            return Err(e.into());
        }
        Ok(self.shared_status())
    }

    /// Forgets the connection; the shared integrations stay in the vault for the other keepers.
    pub async fn shared_disconnect(&self) -> Result<bool, KeeperError> {
        let store = self.inner.store.clone();
        let paths = self.inner.paths.clone();
        let was = tokio::task::spawn_blocking(move || space::disconnect(&paths, &*store))
            .await
            .map_err(|e| KeeperError::Failed(e.to_string()))??;
        *self.inner.shared.space.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.set_problem(None);
        self.forget_shared_slots();
        Ok(was)
    }

    /// The connection as it stands.
    pub fn shared_status(&self) -> SharedStatus {
        let problem = self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let integrations = self.lock().slots.values().filter(|s| s.is_shared()).count();
        let mut status = match (self.space(), SpaceSettings::load(&self.inner.paths)) {
            (Some(space), _) => {
                let (left, renewable) = space.credential_left(self.inner.clock.now());
                SharedStatus {
                    configured: true,
                    connected: true,
                    address: Some(space.address_in_use()),
                    mount: Some(space.settings().mount.clone()),
                    path: Some(space.settings().path.clone()),
                    credential_remaining_secs: left.map(|d| d.as_secs()),
                    credential_renewable: renewable,
                    integrations,
                    ..SharedStatus::default()
                }
            }
            (None, Ok(Some(settings))) => SharedStatus {
                configured: true,
                address: settings.addresses.first().cloned(),
                mount: Some(settings.mount),
                path: Some(settings.path),
                ..SharedStatus::default()
            },
            (None, Ok(None)) => SharedStatus::default(),
            (None, Err(e)) => SharedStatus {
                configured: true,
                error: Some(KeeperError::from(e.clone()).to_string()),
                error_technical: Some(e.to_string()),
                ..SharedStatus::default()
            },
        };
        if let Some(e) = problem {
            status.error = Some(e.sentence());
            status.error_technical = Some(e.detail().to_string());
        }
        status
    }

    /// Adds an integration to the shared space (not yet signed in): one record, written only if
    /// no integration of that name is there.
    pub async fn add_shared(
        &self,
        config: IntegrationConfig,
        client_secret: Option<ClientSecret>,
    ) -> Result<IntegrationView, KeeperError> {
        let profile = self.check_new(&config)?;
        let space = self.connected()?;
        let name = config.name.clone();
        let secrets = Secrets { client_secret, ..Secrets::default() };
        let path = record_path(&name)?;
        let record = SharedRecord::new(config.clone(), &secrets);
        let version = match space.store().write(&path, &record, Cas::Absent).await {
            Ok(v) => v,
            Err(e) if matches!(e.kind(), VaultErrorKind::Conflict { .. }) => {
                return Err(KeeperError::BadInput(format!(
                    "there is already a shared integration called \"{name}\" in the team vault"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let mut local = Record::default();
        local.notices.problem = Some(crate::alerts::Problem::NeedsSignIn); // "not signed in yet" is no alarm
        local.history.push(self.inner.clock.now(), HistoryEvent::Added);
        self.lock().slots.insert(name.clone(), Slot::shared(config, profile, local, version, secrets));
        tracing::info!("{name}: added to the team vault");
        self.commit(&name, |_, _| {}).ok_or_else(|| KeeperError::unknown(&name))
    }

    /// One round of keeping in step with the vault: connect (again) when the settings say so,
    /// keep the credential alive, list the space, re-read the integrations that wait for a
    /// sign-in.
    pub(super) async fn sync_shared(&self) {
        let space = match self.space_from_settings().await {
            Ok(Some(space)) => space,
            Ok(None) => return,
            Err(e) => {
                self.set_problem(Some(e));
                return;
            }
        };
        if let Err(e) = space.upkeep(self.inner.clock.now()).await {
            self.set_problem(Some(e));
            return;
        }
        match self.load_shared(&space).await {
            Ok(()) => self.set_problem(None),
            Err(e) => self.set_problem(Some(e)),
        }
        self.reread_waiting(&space).await;
    }

    /// The space `shared.toml` names, connecting when it is another than the one in use (or
    /// none is); leaves when the file is gone.
    async fn space_from_settings(&self) -> Result<Option<Arc<Space>>, VaultError> {
        let settings = match SpaceSettings::load(&self.inner.paths) {
            Ok(s) => s,
            Err(e) => return Err(VaultError::new(VaultErrorKind::BadAnswer, e.to_string())),
        };
        let current = self.space();
        let Some(settings) = settings else {
            if current.is_some() {
                *self.inner.shared.space.write().unwrap_or_else(|p| p.into_inner()) = None;
                self.forget_shared_slots();
            }
            return Ok(None);
        };
        if let Some(space) = current.filter(|s| s.settings().generation == settings.generation) {
            return Ok(Some(space));
        }
        let (store, now) = (self.inner.store.clone(), self.inner.clock.now());
        let item = tokio::task::spawn_blocking(move || store.load(CREDENTIAL_ITEM))
            .await
            .map_err(|e| VaultError::new(VaultErrorKind::BadAnswer, e.to_string()))?
            .map_err(|e| VaultError::new(VaultErrorKind::AccessEnded, format!("the keychain: {e}")))?;
        let space = match space::open_with(&settings, item, now).await {
            Ok(space) => Arc::new(space),
            Err(ConnectError::Vault(e)) => return Err(e),
            Err(other) => return Err(VaultError::new(VaultErrorKind::AccessEnded, other.to_string())),
        };
        self.forget_shared_slots();
        *self.inner.shared.space.write().unwrap_or_else(|p| p.into_inner()) = Some(space.clone());
        tracing::info!("connected to the team vault at {} ({})", space.address_in_use(), settings.place());
        Ok(Some(space))
    }

    /// Takes in the integrations added to the space since the last look, lets go of those
    /// removed from it.
    async fn load_shared(&self, space: &Arc<Space>) -> Result<(), VaultError> {
        let dir = RecordPath::parse("integrations")?;
        let listed: Vec<String> =
            space.store().list(Some(&dir)).await?.into_iter().filter(|n| !n.ends_with('/')).collect();
        let listed_set: HashSet<&str> = listed.iter().map(String::as_str).collect();
        let (known, local): (HashSet<String>, HashSet<String>) = {
            let shared = self.lock();
            let known = shared.slots.iter().filter(|(_, s)| s.is_shared()).map(|(n, _)| n.clone()).collect();
            let local = shared.slots.iter().filter(|(_, s)| !s.is_shared()).map(|(n, _)| n.clone()).collect();
            (known, local)
        };
        for gone in known.iter().filter(|n| !listed_set.contains(n.as_str())) {
            tracing::info!("{gone}: removed from the team vault by another keeper");
            self.let_go(gone);
        }
        let damaged_gone: Vec<String> = self
            .lock()
            .unreadable
            .iter()
            .filter(|(n, v)| v.shared && !listed_set.contains(n.as_str()))
            .map(|(n, _)| n.clone())
            .collect();
        for name in damaged_gone {
            self.lock().unreadable.remove(&name);
            let _ = self.inner.events.send(super::Event::Removed { name });
        }
        for name in listed.iter().filter(|n| !known.contains(*n)) {
            if local.contains(name) {
                tracing::warn!("\"{name}\" is both on this computer and in the team vault; the one here is kept");
                continue;
            }
            if crate::model::validate_name(name).is_err() {
                continue;
            }
            let path = record_path(name)?;
            match space.store().read::<SharedRecord>(&path).await {
                Ok(Some(Versioned { version, data: Some(record) })) => match record.check(&path, name) {
                    Ok(record) => self.take_in(name, version, record),
                    Err(e) => self.shared_damaged(name, &e),
                },
                Ok(_) => {}
                Err(e) if matches!(e.kind(), VaultErrorKind::Damaged { .. }) => self.shared_damaged(name, &e),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A shared record that cannot be read: shown as an item that says so (not silently
    /// skipped), and left as it is in the vault; read again at each look, so a repair is seen.
    fn shared_damaged(&self, name: &str, e: &VaultError) {
        let mut view = super::unreadable_because(name, Failure::SharedRecordUnreadable, e.detail().to_string());
        view.shared = true;
        let fresh = self.lock().unreadable.insert(name.to_string(), view.clone()).is_none_or(|old| old != view);
        if fresh {
            tracing::warn!("{}", e.sentence());
            tracing::info!("team vault: {}", e.detail());
            let _ = self.inner.events.send(super::Event::Changed { view });
        }
    }

    /// A shared integration seen for the first time (by this process).
    fn take_in(&self, name: &str, version: crate::shared::store::Version, record: SharedRecord) {
        let Some(profile) = crate::providers::find(&record.config.provider) else {
            tracing::warn!("\"{name}\" in the team vault uses a provider this version does not know");
            return;
        };
        let file = self.inner.paths.shared_record(name);
        let local = crate::store::files::read_json::<Record>(&file).ok().flatten().unwrap_or_else(|| {
            let mut fresh = Record::default();
            fresh.notices.problem = Some(crate::alerts::Problem::NeedsSignIn);
            fresh
        });
        let secrets: Secrets = record.secrets.into();
        let mut slot = Slot::shared(record.config, profile, local, version, secrets.clone());
        slot.follow_clock(&self.inner.clock.stamp());
        let refused = record.needs_sign_in;
        {
            let mut shared = self.lock();
            shared.unreadable.remove(name);
            shared.slots.insert(name.to_string(), slot);
        }
        self.commit(name, move |slot, now| match refused {
            Some(reason) if slot.record().state != State::NeedsSignIn => slot.renewal_refused(reason, now),
            None if holds_tokens(&secrets) && slot.record().state == State::NeedsSignIn => {
                slot.signed_in(secrets, Ok(()), now)
            }
            _ => {}
        });
    }

    /// Drops a shared integration from memory (removed from the vault, or this keeper left it).
    fn let_go(&self, name: &str) {
        {
            let mut shared = self.lock();
            if !shared.slots.get(name).is_some_and(Slot::is_shared) {
                return;
            }
            shared.slots.remove(name);
            shared.queue.cancel(name);
        }
        let _ = std::fs::remove_file(self.inner.paths.shared_record(name));
        let _ = self.inner.events.send(super::Event::Removed { name: name.to_string() });
    }

    fn forget_shared_slots(&self) {
        let names: Vec<String> =
            self.lock().slots.iter().filter(|(_, s)| s.is_shared()).map(|(n, _)| n.clone()).collect();
        for name in names {
            let mut shared = self.lock();
            shared.slots.remove(&name);
            shared.queue.cancel(&name);
            drop(shared);
            let _ = self.inner.events.send(super::Event::Removed { name });
        }
    }

    /// Reads again every shared integration that waits for a sign-in: one made on another
    /// machine is taken in.
    async fn reread_waiting(&self, space: &Arc<Space>) {
        let waiting: Vec<String> = self
            .lock()
            .slots
            .iter()
            .filter(|(_, s)| s.is_shared() && s.record().state == State::NeedsSignIn && !s.record().paused)
            .map(|(n, _)| n.clone())
            .collect();
        for name in waiting {
            match self.read_shared(space, &name).await {
                Ok(Some(read)) => self.adopt_shared(&name, read),
                Ok(None) => {}
                Err(e) => tracing::warn!("{name}: {} ({})", e.sentence(), e.detail()),
            }
        }
    }

    async fn read_shared(&self, space: &Space, name: &str) -> Result<Option<Versioned<SharedRecord>>, VaultError> {
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
    fn adopt_shared(&self, name: &str, read: Versioned<SharedRecord>) {
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
                    slot.signed_in(secrets, Ok(()), now);
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
    pub(super) async fn shared_lease(&self, name: &str) -> Result<HeldLease, KeeperError> {
        let space = self.connected()?;
        let path = lease::lease_path(name)?;
        let give_up = tokio::time::Instant::now()
            + Duration::from_millis((LEASE_TIME.millis() + lease::CLOCK_ALLOWANCE.millis()) as u64 + 5_000);
        loop {
            let now = self.inner.clock.now();
            match lease::take(space.store(), &path, space.keeper(), now, LEASE_TIME).await? {
                TakeOutcome::Taken(lease) => {
                    return Ok(HeldLease { space, lease: Some(lease), link: Arc::downgrade(&self.inner) })
                }
                TakeOutcome::Busy { holder, .. } => {
                    tracing::debug!("{name}: {} is renewing it; waiting", holder.as_str());
                }
                TakeOutcome::Lost => {}
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
            self.commit(name, move |slot, now| slot.signed_in(new, saved, now));
            return;
        }
        let outcome = async {
            let space = self.connected().map_err(|e| VaultError::new(VaultErrorKind::Unavailable, e.to_string()))?;
            let seen = match self.lock().slots.get(name).map(Slot::home) {
                Some(Home::Shared { seen }) => seen,
                _ => return Err(VaultError::new(VaultErrorKind::BadAnswer, "not shared")),
            };
            let config = self.lock().slots.get(name).map(|s| s.config.clone()).expect("checked above");
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
            }
            // someone wrote since (a sign-in elsewhere?): read at the next look
            Err(e) => tracing::warn!("{name}: could not mark the sign-in as ended in the team vault: {}", e.detail()),
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

    /// Keeps in step with the vault every [`SYNC_EVERY`] for as long as the keeper lives.
    pub(super) async fn shared_loop(keeper: std::sync::Weak<super::Inner>) {
        loop {
            tokio::time::sleep(SYNC_EVERY).await;
            let Some(inner) = keeper.upgrade() else { return };
            Keeper { inner }.sync_shared().await;
        }
    }
}

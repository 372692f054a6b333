//! This keeper's connection to a shared space, as the keeper holds it: connecting (the command
//! and the settings file), its status for shells, adding an integration there, and keeping in step
//! — every [`SYNC_EVERY`], one `LIST` of the space (integrations added or removed by other
//! keepers), the credential's upkeep, and a read of each integration that waits for a sign-in.
//! What happens to one shared integration (read, write, lease, renewal) is [`super::shared_home`]'s.
//!
//! A vault that cannot be reached is no error of the keeper's: it is kept as the last problem
//! ([`SharedStatus::error`]), tried again at the next round, and the local integrations go on.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::shared_home::holds_tokens;
use super::{Keeper, KeeperError, Slot};
use crate::history::HistoryEvent;
use crate::model::{IntegrationConfig, IntegrationView, Secrets, State};
use crate::phrases::Failure;
use crate::record::Record;
use crate::secret::ClientSecret;
use crate::shared::record::{record_path, SharedRecord};
use crate::shared::space::{self, ConnectError, ConnectRequest, Space, SpaceSettings, CREDENTIAL_ITEM};
use crate::shared::store::{Cas, RecordPath, SharedStore, Versioned};
use crate::shared::{VaultError, VaultErrorKind};

/// How often a keeper lists the shared space and re-reads the integrations that wait for a
/// sign-in.
pub const SYNC_EVERY: Duration = Duration::from_secs(10);

/// This keeper's connection as shells show it (`tokenkeeper shared status`, the tray).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedStatus {
    /// Connection settings exist (`shared connect` was made and not undone).
    pub configured: bool,
    /// Connected, and the last contact with the vault worked: shared integrations are kept.
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

/// The fallback re-read of every integration waiting for a sign-in runs once in this many rounds
/// (a minute): the change log tells a keeper of a sign-in elsewhere within a round.
const REREAD_EVERY_ROUNDS: u64 = 6;

/// Records read at once when a keeper takes in the integrations of its shared space.
const READS_AT_ONCE: usize = 16;

/// The keeper's link to the vault (inside [`super::Inner`]).
#[derive(Default)]
pub(super) struct SharedLink {
    space: std::sync::RwLock<Option<Arc<Space>>>,
    problem: std::sync::Mutex<Option<VaultError>>,
    /// Lease releases under way, awaited before a short-lived command exits.
    pub(super) releases: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Done by the first [`Keeper::open_shared`]: later calls wait for it, then change nothing.
    opened: tokio::sync::OnceCell<()>,
    /// Set once the keeper runs for good ([`Keeper::run`]): only then does it notify.
    notifying: std::sync::atomic::AtomicBool,
    /// The number of the last entry of the space's change log this keeper acted on (`None`
    /// until it first read it: everything before was taken in by the first load).
    seen_change: std::sync::Mutex<Option<u64>>,
    /// Rounds of keeping in step so far (the slow re-read of waiting integrations runs every
    /// [`REREAD_EVERY_ROUNDS`]).
    rounds: std::sync::atomic::AtomicU64,
}

impl From<ConnectError> for KeeperError {
    fn from(e: ConnectError) -> Self {
        match e {
            // the person is connecting: said as such, with the exit code of its kind
            ConnectError::Vault(e) => match KeeperError::from(e.clone()) {
                KeeperError::Unavailable(_) => KeeperError::Unavailable(e.sentence_when_connecting()),
                KeeperError::BadInput(_) => KeeperError::BadInput(e.sentence_when_connecting()),
                _ => KeeperError::Failed(e.sentence_when_connecting()),
            },
            ConnectError::File(e) => e.into(),
            ConnectError::Keychain(e) => e.into(),
            ConnectError::BadInput(s) => KeeperError::BadInput(s),
        }
    }
}

impl Keeper {
    pub(super) fn space(&self) -> Option<Arc<Space>> {
        self.inner.shared.space.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_problem(&self, problem: Option<VaultError>) {
        if let Some(e) = &problem {
            tracing::warn!("{}", e.sentence());
            tracing::info!("team vault: {}", e.detail());
        }
        let ended = |p: &Option<VaultError>| p.as_ref().is_some_and(|e| e.kind() == &VaultErrorKind::AccessEnded);
        let before = std::mem::replace(
            &mut *self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()),
            problem.clone(),
        );
        if ended(&problem) && !ended(&before) && self.inner.shared.notifying.load(std::sync::atomic::Ordering::Relaxed)
        {
            self.access_ended_notice();
        }
        if problem.is_none() && before.is_some_and(|e| e.is_transient()) {
            self.vault_is_back();
        }
    }

    /// The vault answers again after it could not be reached: the shared integrations waiting
    /// to retry try now (spread over two seconds) instead of each waiting out its own backoff —
    /// up to 30 s once its token has ended. As `provider_is_back` does for a service.
    fn vault_is_back(&self) {
        let now = self.inner.clock.now();
        let waiting: Vec<String> = self
            .lock()
            .slots
            .iter()
            .filter(|(_, s)| s.is_shared() && s.record().failures > 0 && s.record().state != State::NeedsSignIn)
            .map(|(n, _)| n.clone())
            .collect();
        if !waiting.is_empty() {
            tracing::info!("the team vault answers again; {} shared integrations retry now", waiting.len());
        }
        for name in waiting {
            let at = now.plus(crate::clock::Span::from_millis((rand::random::<f64>() * 2_000.0) as i64));
            self.commit(&name, |slot, _| slot.pulled_forward(at));
        }
    }

    /// Tells the person (once per loss) that the vault's access ended, with a button to connect
    /// again. Only a keeper that keeps running says it: a command run by a script must not.
    fn access_ended_notice(&self) {
        let words = crate::phrases::notice_vault_access_ended();
        let notice = crate::notify::Notice {
            summary: words.summary,
            body: words.body,
            urgency: crate::notify::Urgency::Critical,
            integrations: Vec::new(),
            actions: vec![crate::notify::NoticeAction::ConnectTeamVault],
        };
        let _ = self.inner.events.send(super::Event::Notified { notice: notice.clone() });
        let _ = self.inner.notices.send(super::run::NoticeJob::Show(notice));
    }

    /// The connected space, or why there is none.
    pub(super) fn connected(&self) -> Result<Arc<Space>, KeeperError> {
        self.space().ok_or_else(|| match self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            Some(e) => e.into(),
            None => KeeperError::BadInput("this keeper is not connected to a team vault".into()),
        })
    }

    /// Connects to the team vault named in `shared.toml` (if any) and loads its integrations.
    /// Shells call this once after [`Keeper::open`]; [`Keeper::run`] then keeps it in step.
    /// A vault that cannot be reached is no error here: it is in [`Keeper::shared_status`] and
    /// tried again every [`SYNC_EVERY`].
    /// Only the first call does it; the others wait for it to finish (a request for a shared
    /// integration that comes while a daemon is still reading 10,000 records waits for them,
    /// while local integrations are served at once).
    pub async fn open_shared(&self) {
        self.inner.shared.opened.get_or_init(|| self.sync_shared()).await;
    }

    /// For a name this keeper does not know while its team vault cannot be reached: the error
    /// that says so (it may be a shared integration; exit 4, as any integration without a valid
    /// token because something cannot be reached). `None` when the name is known or the vault
    /// is fine.
    pub fn unreached_shared(&self, name: &str) -> Option<KeeperError> {
        {
            let shared = self.lock();
            if shared.slots.contains_key(name) || shared.unreadable.contains_key(name) {
                return None;
            }
        }
        let problem = self.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
        Some(KeeperError::Unavailable(format!(
            "There is no integration called \"{name}\" on this computer, and it may be a shared one: {}",
            problem.sentence()
        )))
    }

    /// Whether `name` is an integration of this computer (or one whose files cannot be read).
    pub fn holds_locally(&self, name: &str) -> bool {
        let shared = self.lock();
        shared.slots.get(name).is_some_and(|s| !s.is_shared()) || shared.unreadable.get(name).is_some_and(|v| !v.shared)
    }

    /// Connects this keeper to a shared space (checked by using it; nothing is kept when it
    /// fails) and loads the integrations already there.
    pub async fn shared_connect(&self, request: ConnectRequest) -> Result<SharedStatus, KeeperError> {
        let now = self.inner.clock.now();
        let store = self.inner.store.clone();
        let connected = space::connect(&self.inner.paths, &*store, request, now).await;
        let space = Arc::new(connected?);
        let _ = self.inner.shared.opened.set(());
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
                    connected: problem.is_none(),
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
        space.store().client().keep_active().await;
        if let Err(e) = space.upkeep(self.inner.clock.now()).await {
            self.set_problem(Some(e));
            return;
        }
        match self.load_shared(&space).await {
            Ok(()) => self.set_problem(None),
            Err(e) => self.set_problem(Some(e)),
        }
        let round = self.inner.shared.rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let followed = self.follow_changes(&space).await;
        if !followed || (round > 0 && round.is_multiple_of(REREAD_EVERY_ROUNDS)) {
            self.reread_waiting(&space).await;
        }
    }

    /// Reads the space's change log and takes in the integrations changed since this keeper last
    /// looked (a sign-in or a refusal elsewhere). False when the log could not be used (then the
    /// waiting integrations are read one by one).
    async fn follow_changes(&self, space: &Arc<Space>) -> bool {
        use crate::shared::changes::{self, Since};
        let log = match changes::read(space.store()).await {
            Ok(log) => log,
            Err(e) => {
                tracing::info!("the team vault's change log: {} ({})", e.sentence(), e.detail());
                return false;
            }
        };
        let seen = self.inner.shared.seen_change.lock().unwrap_or_else(|p| p.into_inner()).replace(log.seq());
        let Some(seen) = seen else { return true };
        match log.since(seen) {
            Since::Names(names) => {
                for name in names.iter().filter(|n| self.is_shared(n)) {
                    match self.read_shared(space, name).await {
                        Ok(Some(read)) => self.adopt_shared(name, read),
                        Ok(None) => {}
                        Err(e) => tracing::warn!("{name}: {} ({})", e.sentence(), e.detail()),
                    }
                }
                true
            }
            Since::TooFarBehind => false,
        }
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
        let new: Vec<String> = listed
            .iter()
            .filter(|n| !known.contains(*n))
            .filter(|name| {
                if local.contains(*name) {
                    tracing::warn!("\"{name}\" is both on this computer and in the team vault; the one here is kept");
                }
                !local.contains(*name) && crate::model::validate_name(name).is_ok()
            })
            .cloned()
            .collect();
        // read [`READS_AT_ONCE`] at a time: 10,000 integrations one after the other would keep a
        // starting keeper from serving for half a minute
        let mut pending = new.into_iter();
        let mut reads = tokio::task::JoinSet::new();
        let mut failed = None;
        loop {
            while reads.len() < READS_AT_ONCE {
                let Some(name) = pending.next() else { break };
                let space = space.clone();
                reads.spawn(async move {
                    let read = async {
                        let path = record_path(&name)?;
                        let read = space.store().read::<SharedRecord>(&path).await?;
                        Ok::<_, VaultError>((path, read))
                    }
                    .await;
                    (name, read)
                });
            }
            let Some(done) = reads.join_next().await else { break };
            let Ok((name, read)) = done else { continue };
            match read {
                Ok((path, Some(Versioned { version, data: Some(record) }))) => match record.check(&path, &name) {
                    Ok(record) => self.take_in(&name, version, record),
                    Err(e) => self.shared_damaged(&name, &e),
                },
                Ok(_) => {}
                Err(e) if matches!(e.kind(), VaultErrorKind::Damaged { .. }) => self.shared_damaged(&name, &e),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        failed.map_or(Ok(()), Err)
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
                slot.signed_in_elsewhere(secrets, now)
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

    /// Keeps in step with the vault every [`SYNC_EVERY`] for as long as the keeper lives.
    pub(super) async fn shared_loop(keeper: std::sync::Weak<super::Inner>) {
        if let Some(inner) = keeper.upgrade() {
            inner.shared.notifying.store(true, std::sync::atomic::Ordering::Relaxed);
            let keeper = Keeper { inner };
            let ended = keeper.inner.shared.problem.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if ended.is_some_and(|e| e.kind() == &VaultErrorKind::AccessEnded) {
                keeper.access_ended_notice();
            }
        }
        loop {
            tokio::time::sleep(SYNC_EVERY).await;
            let Some(inner) = keeper.upgrade() else { return };
            Keeper { inner }.sync_shared().await;
        }
    }
}

//! The keeper: the single owner of integration state in a process.
//!
//! Shells (tray app, daemon, `tokenkeeper` in direct mode) hold a cheap, cloneable [`Keeper`]
//! handle. Inside, one `std::sync::Mutex` guards the map of [`slot::Slot`]s and the deadline
//! queue: it is only ever held for short, synchronous updates — never across an `.await` — which
//! is why a std mutex and not a tokio one (the reasoning of mini-redis's `db.rs`). Network calls
//! happen outside it; each integration's own `flight` mutex (a tokio mutex, held across the call)
//! plus the cross-process file lock ([`crate::lock`]) make sure only one refresh of an
//! integration runs at a time anywhere on the machine.
//!
//! Every change goes through [`Keeper::commit`]: settle the state, decide notices, record
//! history, save the record, emit an [`Event`], re-arm the scheduler. Data flows one way:
//! outcome → commit → events and notices → shells.
//!
//! The keeper's own [`Settings`] (warning lead times) sit behind a `std::sync::RwLock`, read by
//! each commit inside the state mutex; [`Keeper::set_warning_days`] saves them and re-commits
//! every integration, so states and deadlines follow at once.
//!
//! The commands live one concern per file: `token` (a valid token now), `renewal`
//! (refresh, probe, provider back), `sign_in` (every way to sign in), `manage` (add, pause,
//! remove), `keychain_io` (secrets in and out of the keychain, the refresh locks) with
//! `change_stamp` (whether another process wrote an item since); `run` is the
//! scheduler loop that drives them, `slot` one integration's state, `freshness` the pure rule
//! of when a token may be handed out and when it must be renewed first (`token` and `renewal`
//! both ask it, so neither imports the other's internals). Shared integrations (kept in a team
//! vault with other keepers) take the same paths: `shared_space` is the connection to the vault and
//! keeping in step with it, `shared_home` what the keychain, the file lock and the change stamps do
//! for a local integration (read, write, the renewal lease, publishing a renewal).

mod change_stamp;
mod error;
#[cfg(test)]
mod flight_properties;
mod freshness;
mod keychain_io;
mod manage;
mod renewal;
mod report;
mod run;
mod shared_home;
mod shared_space;
mod sign_in;
pub mod slot;
mod token;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, Notify};
use url::Url;

pub use error::KeeperError;
pub use shared_space::{SharedStatus, SYNC_EVERY};
use slot::Slot;

use crate::clock::{Clock, Moment, SystemClock};
use crate::history::HistoryEntry;
use crate::model::{IntegrationView, Site, State, UnixTime};
use crate::notify::{Notice, Notifier};
use crate::paths::Paths;
use crate::scheduler::DeadlineQueue;
use crate::settings::Settings;
use crate::store::integrations;
use crate::store::SecretStore;

/// Opens a URL in the system browser; an error is plain words.
pub type UrlOpener = Arc<dyn Fn(&Url) -> Result<(), String> + Send + Sync>;

/// What a keeper is built from. The real keychain, notifier and browser are the defaults
/// ([`KeeperOptions::system`]); tests swap in their own.
pub struct KeeperOptions {
    pub paths: Paths,
    pub store: Arc<dyn SecretStore>,
    pub notifier: Arc<dyn Notifier>,
    pub open_url: UrlOpener,
    /// Where time comes from ([`SystemClock`] unless a test steps its own).
    pub clock: Arc<dyn Clock>,
}

impl KeeperOptions {
    /// The platform's directories, the OS keychain, desktop notifications (whose clicks go to
    /// `clicks`) and the system browser.
    pub fn system(clicks: crate::notify::Clicks) -> Result<Self, KeeperError> {
        let paths = Paths::from_platform().map_err(KeeperError::Failed)?;
        let store = crate::store::keychain::KeychainStore::from_env()?;
        Ok(Self {
            paths,
            store: Arc::new(store),
            notifier: Arc::new(crate::notify::DesktopNotifier::new(clicks)),
            open_url: Arc::new(|url: &Url| crate::address::open_in_browser(url, webbrowser::open)),
            clock: SystemClock::shared(),
        })
    }
}

/// What shells hear about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// An integration was added or changed (state, times, pending sign-in).
    Changed { view: IntegrationView },
    /// An integration was removed.
    Removed { name: String },
    /// A notification was shown.
    Notified { notice: Notice },
}

/// One integration with its history, for `status` and the detail view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationStatus {
    #[serde(flatten)]
    pub view: IntegrationView,
    pub history: Vec<HistoryEntry>,
    /// Each history entry in words, in the same order ([`crate::phrases::history`]): shells show
    /// these rather than wording the entries themselves.
    #[serde(default)]
    pub history_text: Vec<String>,
    /// When the keeper last signed in, if known.
    #[serde(default)]
    pub signed_in_at: Option<UnixTime>,
    /// When the provider ends the sign-in however often it is renewed (Atlassian: a year after
    /// it), if it has such a limit; `view.refresh_expires_at` is already the earlier of this and
    /// the refresh token's end.
    #[serde(default)]
    pub sign_in_ends_at: Option<UnixTime>,
    /// The sites the sign-in reaches (Atlassian's cloud ids), as listed after the sign-in.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// Who the token belongs to, for scripts that need it beside the token (`exec --env
    /// VAR=account`): an API token's user name, or the account the service named at sign-in
    /// (known once the secrets have been read). Not a secret.
    #[serde(default)]
    pub account: Option<String>,
}

/// The item shown for an integration whose files cannot be read: it says so, in words, and what
/// to do; `technical` is the file's problem (its path, line and what the parser said).
fn unreadable_view(name: &str, technical: String) -> IntegrationView {
    unreadable_because(name, crate::phrases::Failure::SettingsUnreadable, technical)
}

/// The item shown for an integration that cannot be read, for `failure`'s reason.
fn unreadable_because(name: &str, failure: crate::phrases::Failure, technical: String) -> IntegrationView {
    let calendar = crate::calendar::Calendar::system();
    let subject = crate::phrases::Subject {
        kind: crate::model::Kind::default(),
        service: "",
        state: State::Unreadable,
        failure: Some(&failure),
        credential_expires_at: None,
        next: crate::model::NextAction::WaitForKeeper,
        now: 0,
    };
    let said = crate::phrases::describe(&subject, &calendar);
    IntegrationView {
        name: name.to_string(),
        state: State::Unreadable,
        state_label: crate::phrases::label(State::Unreadable, subject.kind, Some(&failure)).to_string(),
        severity: crate::phrases::severity(State::Unreadable, Some(&failure)),
        detail: said.as_ref().map(|s| s.sentence(&subject, &calendar)),
        todo: said.map(|s| s.todo),
        detail_technical: Some(technical),
        failure: Some(failure),
        ..IntegrationView::default()
    }
}

/// A fingerprint of a record file's contents (not for security: only "did it change").
fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The handle shells hold.
#[derive(Clone)]
pub struct Keeper {
    inner: Arc<Inner>,
}

struct Inner {
    paths: Paths,
    store: Arc<dyn SecretStore>,
    notifier: Arc<dyn Notifier>,
    open_url: UrlOpener,
    clock: Arc<dyn Clock>,
    /// Read inside the state mutex by every commit; written only by [`Keeper::set_warning_days`].
    settings: RwLock<Settings>,
    http: reqwest::Client,
    state: Mutex<Shared>,
    /// Woken when the head of the deadline queue moves earlier (or on shutdown).
    wake: Notify,
    events: broadcast::Sender<Event>,
    notices: mpsc::UnboundedSender<run::NoticeJob>,
    /// Config files that could not be read, reported by `list`.
    problems: Vec<String>,
    /// Which keychain items this process knows the contents of.
    stamps: change_stamp::ChangeStamps,
    /// The team vault, for shared integrations.
    shared: shared_space::SharedLink,
}

/// What the std mutex guards.
struct Shared {
    slots: HashMap<String, Slot>,
    /// Integrations whose files cannot be read, as the items that say so (by name): shown, so
    /// that they do not vanish, and removable; nothing else.
    unreadable: HashMap<String, IntegrationView>,
    queue: DeadlineQueue,
}

impl Keeper {
    /// Loads every integration's config and saved state (secrets are read when first needed).
    /// Must be called inside a tokio runtime.
    pub fn open(options: KeeperOptions) -> Result<Self, KeeperError> {
        let settings = Settings::load(&options.paths)?;
        let (configs, file_problems) = integrations::load_all(&options.paths);
        let mut problems: Vec<String> = file_problems.iter().map(|e| e.to_string()).collect();
        let mut unreadable: Vec<IntegrationView> = file_problems
            .iter()
            .filter_map(|e| Some(unreadable_view(e.path()?.file_stem()?.to_str()?, e.to_string())))
            .collect();
        let mut slots = HashMap::new();
        let stamp = options.clock.stamp();
        for config in configs {
            let Some(profile) = crate::providers::find(&config.provider) else {
                let problem = format!("\"{}\" uses an unknown provider \"{}\"", config.name, config.provider);
                unreadable.push(unreadable_view(&config.name, problem.clone()));
                problems.push(problem);
                continue;
            };
            match integrations::load_record(&options.paths, &config.name) {
                Ok(record) => {
                    let mut slot = Slot::new(config, profile, record);
                    // as read: the first commit rewrites it only if something changed
                    slot.saved_hash = Some(content_hash(&integrations::record_bytes(slot.record())));
                    slot.follow_clock(&stamp);
                    slots.insert(slot.config.name.clone(), slot);
                }
                Err(e) => {
                    unreadable.push(unreadable_view(&config.name, e.to_string()));
                    problems.push(e.to_string());
                }
            }
        }
        let unreadable = unreadable.into_iter().map(|v| (v.name.clone(), v)).collect();
        let (events, _) = broadcast::channel(1024);
        let (notices, notice_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            paths: options.paths,
            store: options.store,
            notifier: options.notifier,
            open_url: options.open_url,
            clock: options.clock,
            settings: RwLock::new(settings),
            http: crate::providers::wire::client(),
            state: Mutex::new(Shared { slots, unreadable, queue: DeadlineQueue::default() }),
            wake: Notify::new(),
            events,
            notices,
            problems,
            stamps: change_stamp::ChangeStamps::default(),
            shared: shared_space::SharedLink::default(),
        });
        tokio::spawn(run::deliver_notices(inner.notifier.clone(), notice_rx, Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// State changes, notices and removals, for shells.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Files that could not be read when the keeper opened, in plain words.
    pub fn problems(&self) -> &[String] {
        &self.inner.problems
    }

    pub fn paths(&self) -> &Paths {
        &self.inner.paths
    }

    /// Every integration, by name.
    pub fn list(&self) -> Vec<IntegrationView> {
        let now = self.inner.clock.now();
        let shared = self.lock();
        let mut views: Vec<_> = shared.slots.values().map(|slot| slot.view(now)).collect();
        views.extend(shared.unreadable.values().cloned());
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// One integration with its history (newest last).
    pub fn status(&self, name: &str) -> Result<IntegrationStatus, KeeperError> {
        let now = self.inner.clock.now();
        let shared = self.lock();
        if let Some(view) = shared.unreadable.get(name) {
            return Ok(IntegrationStatus {
                view: view.clone(),
                history: Vec::new(),
                history_text: Vec::new(),
                signed_in_at: None,
                sign_in_ends_at: None,
                sites: Vec::new(),
                account: None,
            });
        }
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        let view = slot.view(now);
        let calendar = crate::calendar::Calendar::system();
        let history: Vec<HistoryEntry> = slot.record().history.entries().cloned().collect();
        let history_text =
            history.iter().map(|e| crate::phrases::history(&e.event, view.kind, &view.service, &calendar)).collect();
        Ok(IntegrationStatus {
            view,
            history,
            history_text,
            signed_in_at: slot.record().signed_in_at.map(Moment::secs),
            sign_in_ends_at: slot.sign_in_ends_at().map(Moment::secs),
            sites: slot.record().sites.clone(),
            account: slot.account(),
        })
    }

    /// What an integration is (service, site, account) and how a script uses it.
    pub fn about(&self, name: &str) -> Result<crate::about::About, KeeperError> {
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        let account = slot.account();
        Ok(crate::about::About::of(
            &slot.config,
            &slot.profile,
            slot.service_name(),
            &slot.record().sites,
            account.as_deref(),
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settings_guard(&self) -> std::sync::RwLockReadGuard<'_, Settings> {
        self.inner.settings.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The settings in force (as last read from or saved to `settings.toml`).
    pub fn settings(&self) -> Settings {
        self.settings_guard().clone()
    }

    /// Changes the warning lead times: checks them, saves `settings.toml` in one step, then
    /// applies them at once (every integration is re-committed, so "Expiring soon" and the
    /// warning deadlines follow). A settings file that cannot be read is left as it is and the
    /// change refused. Returns the settings now in force.
    pub fn set_warning_days(&self, days: Vec<u32>) -> Result<Settings, KeeperError> {
        let days = crate::settings::check_warning_days(days).map_err(KeeperError::BadInput)?;
        let saved = {
            // Held across reading and writing the file, so two changes cannot interleave; never
            // held across an await, and never while taking the state mutex.
            let mut current = self.inner.settings.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut on_disk = Settings::load(&self.inner.paths)?;
            on_disk.warning_days = days;
            on_disk.save(&self.inner.paths)?;
            *current = on_disk.clone();
            on_disk
        };
        tracing::info!("warning lead times changed to {:?} days", saved.warning_days);
        let names: Vec<String> = self.lock().slots.keys().cloned().collect();
        for name in &names {
            self.commit(name, |_, _| {});
        }
        Ok(saved)
    }

    /// Applies `change` to the slot of `name`, then settles its state, decides and sends notices,
    /// records history, saves the record, emits an event and re-arms the scheduler.
    /// Returns the new view, or `None` when there is no such integration.
    fn commit(&self, name: &str, change: impl FnOnce(&mut Slot, Moment)) -> Option<IntegrationView> {
        let stamp = self.inner.clock.stamp();
        let now = self.inner.clock.now();
        let (record, view, notices, head_moved) = {
            let mut shared = self.lock();
            let shared = &mut *shared;
            let slot = shared.slots.get_mut(name)?;
            // Times written before a wall-clock step move with it, before anything reads them.
            slot.follow_clock(&stamp);
            // Read under the state mutex: a commit racing `set_warning_days` either sees the new
            // lead times or is followed by that call's own re-commit of this integration.
            let (leads, expiring_soon_days) = {
                let settings = self.settings_guard();
                (settings.warning_days.clone(), settings.expiring_soon_days())
            };
            change(slot, now);
            slot.settle_and_note(now, expiring_soon_days);
            let notices = slot.notices_due(now, &leads);
            let head_moved = match slot.next_deadline(now, &leads) {
                Some(at) => shared.queue.schedule(name, at),
                None => {
                    shared.queue.cancel(name);
                    false
                }
            };
            let bytes = integrations::record_bytes(slot.record());
            let hash = content_hash(&bytes);
            let changed = slot.saved_hash != Some(hash);
            slot.saved_hash = Some(hash);
            slot.write_seq += changed as u64;
            let file = match slot.home() {
                slot::Home::Local => self.inner.paths.integration_record(name),
                slot::Home::Shared { .. } => self.inner.paths.shared_record(name),
            };
            let write = changed.then(|| (bytes, slot.write_seq, slot.written.clone(), file));
            (write, slot.view(now), notices, head_moved)
        };
        if let Some((bytes, seq, written, file)) = record {
            let mut newest = written.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // a newer commit already wrote its record: this older one must not overwrite it
            let result = if *newest < seq {
                crate::store::files::write_atomic(&file, &bytes).map(|()| *newest = seq)
            } else {
                Ok(())
            };
            drop(newest);
            if let Err(e) = result {
                tracing::warn!("{e}");
                // written again at the next commit
                if let Some(slot) = self.lock().slots.get_mut(name) {
                    slot.saved_hash = None;
                }
            }
        }
        if head_moved {
            self.inner.wake.notify_one();
        }
        for notice in notices {
            let _ = self.inner.events.send(Event::Notified { notice: notice.clone() });
            let _ = self.inner.notices.send(run::NoticeJob::Show(notice));
        }
        let _ = self.inner.events.send(Event::Changed { view: view.clone() });
        Some(view)
    }

    /// The notification service showed `shown`: they no longer wait in their integrations'
    /// ledgers.
    fn confirm_shown(&self, shown: &[Notice]) {
        for notice in shown {
            for name in &notice.integrations {
                self.commit(name, |slot, _| slot.notice_shown(notice));
            }
        }
    }

    /// Waits until every notice decided so far has been handed to the notification service
    /// (a short-lived command calls this before it exits).
    pub async fn flush_notices(&self) {
        self.flush_releases().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.notices.send(run::NoticeJob::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The state of `name`, or an error naming it.
    fn state_of(&self, name: &str) -> Result<State, KeeperError> {
        self.lock().slots.get(name).map(|s| s.record().state).ok_or_else(|| KeeperError::unknown(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind};
    use crate::notify::RecordingNotifier;
    use crate::store::memory::MemoryStore;

    fn open(dir: &std::path::Path) -> Keeper {
        Keeper::open(KeeperOptions {
            paths: Paths::under(dir),
            store: Arc::new(MemoryStore::new()),
            notifier: Arc::new(RecordingNotifier::default()),
            open_url: Arc::new(|_| Ok(())),
            clock: SystemClock::shared(),
        })
        .expect("keeper opens")
    }

    /// An API token that ends in `days` days, signed in (Working or Expiring soon).
    async fn add_token_ending_in(keeper: &Keeper, name: &str, days: i64) {
        let expires = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
        let config = IntegrationConfig {
            name: name.into(),
            provider: "api-token".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url: Url::parse("https://example.com/api/me").unwrap(),
                username: None,
                expires_at: None,
                expires: Some(expires),
            }),
        };
        keeper.add(config, None).await.expect("added");
        keeper.commit(name, |slot, _| slot.record_mut().state = State::Working).expect("committed");
    }

    #[tokio::test]
    async fn warning_days_are_saved_and_applied_live() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = open(dir.path());
        assert_eq!(keeper.settings(), Settings::default());
        add_token_ending_in(&keeper, "jira", 10).await;
        assert_eq!(keeper.state_of("jira").unwrap(), State::ExpiringSoon, "10 days left, warned from 14");

        let saved = keeper.set_warning_days(vec![1, 7]).expect("saved");
        assert_eq!(saved.warning_days, vec![7, 1]);
        assert_eq!(keeper.settings(), saved);
        assert_eq!(keeper.state_of("jira").unwrap(), State::Working, "10 days left, warned from 7");
        let text = std::fs::read_to_string(keeper.paths().settings()).unwrap();
        assert!(text.starts_with('#') && text.contains("warning_days = [7, 1]"), "{text}");

        // the warning deadline follows: the next wake-up is the 7-day warning, not the 14-day one
        let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(10);
        let end = crate::calendar::Calendar::system().end_of_day(day);
        let due = keeper.lock().queue.head().expect("a deadline");
        let week = crate::clock::Span::from_days(7);
        assert_eq!(due, Moment::from_secs(end).minus(week), "the next deadline");

        keeper.set_warning_days(vec![30]).expect("saved");
        assert_eq!(keeper.state_of("jira").unwrap(), State::ExpiringSoon);

        // a keeper opened afterwards reads the saved lead times
        drop(keeper);
        assert_eq!(open(dir.path()).settings().warning_days, vec![30]);
    }

    /// A notification service that is not there (or a process killed before it showed).
    struct NoService;
    impl Notifier for NoService {
        fn show(&self, _: &Notice) -> Result<(), String> {
            Err("no notification service".into())
        }
    }

    #[tokio::test]
    async fn a_notice_not_shown_before_the_process_ends_is_shown_by_the_next_keeper() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = Keeper::open(KeeperOptions {
            paths: Paths::under(dir.path()),
            store: Arc::new(MemoryStore::new()),
            notifier: Arc::new(NoService),
            open_url: Arc::new(|_| Ok(())),
            clock: crate::clock::SystemClock::shared(),
        })
        .unwrap();
        add_token_ending_in(&keeper, "jira", 30).await;
        keeper.commit("jira", |slot, _| slot.record_mut().state = State::NeedsSignIn).unwrap();
        keeper.flush_notices().await;
        let waiting = integrations::load_record(keeper.paths(), "jira").unwrap().notices.unshown;
        assert!(
            waiting
                .iter()
                .any(|n| n.urgency == crate::notify::Urgency::Critical && n.summary == "jira stopped working"),
            "the critical notice waits in the saved ledger: {waiting:?}"
        );
        drop(keeper);

        let shown = Arc::new(Mutex::new(Vec::new()));
        let keeper = Keeper::open(KeeperOptions {
            paths: Paths::under(dir.path()),
            store: Arc::new(MemoryStore::new()),
            notifier: Arc::new(RecordingNotifier(shown.clone())),
            open_url: Arc::new(|_| Ok(())),
            clock: crate::clock::SystemClock::shared(),
        })
        .unwrap();
        let running = tokio::spawn({
            let keeper = keeper.clone();
            async move { keeper.run(None).await }
        });
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !integrations::load_record(keeper.paths(), "jira").unwrap().notices.unshown.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "the waiting notice was never confirmed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        running.abort();
        let shown = shown.lock().unwrap().clone();
        // only what still fits the state: the critical notice, not the stale "working again"
        let fitting: Vec<Notice> =
            waiting.iter().filter(|n| n.urgency == crate::notify::Urgency::Critical).cloned().collect();
        assert_eq!(shown, fitting, "shown once, as decided, and no new notice for the same problem");
    }

    #[tokio::test]
    async fn a_commit_that_changes_nothing_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = open(dir.path());
        add_token_ending_in(&keeper, "jira", 100).await;
        let file = keeper.paths().integration_record("jira");
        assert!(file.exists());
        std::fs::remove_file(&file).unwrap();
        keeper.commit("jira", |_, _| {});
        assert!(!file.exists(), "an unchanged record was written again");
        keeper.commit("jira", |slot, _| slot.record_mut().failures = 1);
        assert!(file.exists(), "a changed record is written");
    }

    #[tokio::test]
    async fn a_damaged_integration_file_shows_as_an_item_that_says_so_and_can_be_removed() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = open(dir.path());
        add_token_ending_in(&keeper, "jira", 100).await;
        add_token_ending_in(&keeper, "wiki", 100).await;
        let file = keeper.paths().integration_config("wiki");
        std::fs::write(&file, "name = \"wiki\"\nprovider = [\n").unwrap();
        drop(keeper);

        let keeper = open(dir.path());
        let views = keeper.list();
        let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["jira", "wiki"], "the damaged one does not vanish");
        let wiki = &views[1];
        assert_eq!(wiki.state, State::Unreadable);
        assert_eq!(wiki.state_label, "Can't be read");
        let detail = wiki.detail.clone().unwrap();
        assert!(
            detail.contains("settings file is damaged") && detail.contains("Remove it and add it again"),
            "{detail}"
        );
        assert!(crate::phrases::jargon(&detail).is_none(), "{detail}");
        assert!(wiki.detail_technical.clone().unwrap().contains("wiki.toml"), "{wiki:?}");
        assert_eq!(keeper.status("wiki").unwrap().view, *wiki);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "name = \"wiki\"\nprovider = [\n", "left as it is");

        keeper.remove("wiki", false).await.expect("removed");
        assert!(!file.exists());
        assert_eq!(keeper.list().len(), 1);
    }

    #[tokio::test]
    async fn bad_warning_days_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = open(dir.path());
        for bad in [vec![], vec![0], vec![400], vec![3, 3], vec![1, 2, 3, 4, 5, 6]] {
            let err = keeper.set_warning_days(bad.clone()).unwrap_err();
            assert!(matches!(err, KeeperError::BadInput(_)), "{bad:?}: {err:?}");
        }
        assert_eq!(keeper.settings(), Settings::default());
        assert!(!keeper.paths().settings().exists(), "nothing was written");
    }

    #[tokio::test]
    async fn a_damaged_settings_file_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = open(dir.path());
        let file = keeper.paths().settings();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "warning_days = [14, 3\n").unwrap();
        let err = keeper.set_warning_days(vec![7]).unwrap_err();
        assert!(err.to_string().contains("is damaged"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "warning_days = [14, 3\n");
        assert_eq!(keeper.settings(), Settings::default());
    }
}

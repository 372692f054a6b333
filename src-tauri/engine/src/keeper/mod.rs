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

mod error;
mod ops;
mod run;
pub mod slot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, Notify};
use url::Url;

pub use error::KeeperError;
use slot::Slot;

use crate::alerts::{self, Facts};
use crate::history::{HistoryEntry, HistoryEvent};
use crate::model::{IntegrationView, State};
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
}

impl KeeperOptions {
    /// The platform's directories, the OS keychain, desktop notifications (with the "Sign in
    /// again" action when `actions` is given) and the system browser.
    pub fn system(actions: Option<mpsc::UnboundedSender<String>>) -> Result<Self, KeeperError> {
        let paths = Paths::from_platform().map_err(KeeperError::Failed)?;
        let store = crate::store::keychain::KeychainStore::from_env()?;
        Ok(Self {
            paths,
            store: Arc::new(store),
            notifier: Arc::new(crate::notify::DesktopNotifier::new(actions)),
            open_url: Arc::new(|url: &Url| {
                webbrowser::open(url.as_str()).map_err(|e| format!("could not open the browser: {e}"))
            }),
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
    settings: Settings,
    http: reqwest::Client,
    state: Mutex<Shared>,
    /// Woken when the head of the deadline queue moves earlier (or on shutdown).
    wake: Notify,
    events: broadcast::Sender<Event>,
    notices: mpsc::UnboundedSender<run::NoticeJob>,
    /// Config files that could not be read, reported by `list`.
    problems: Vec<String>,
}

/// What the std mutex guards.
struct Shared {
    slots: HashMap<String, Slot>,
    queue: DeadlineQueue,
}

impl Keeper {
    /// Loads every integration's config and saved state (secrets are read when first needed).
    /// Must be called inside a tokio runtime.
    pub fn open(options: KeeperOptions) -> Result<Self, KeeperError> {
        let settings = Settings::load(&options.paths)?;
        let (configs, file_problems) = integrations::load_all(&options.paths);
        let mut problems: Vec<String> = file_problems.iter().map(|e| e.to_string()).collect();
        let mut slots = HashMap::new();
        for config in configs {
            let Some(profile) = crate::providers::find(&config.provider) else {
                problems.push(format!("\"{}\" uses an unknown provider \"{}\"", config.name, config.provider));
                continue;
            };
            match integrations::load_record(&options.paths, &config.name) {
                Ok(record) => {
                    slots.insert(config.name.clone(), Slot::new(config, profile, record));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        let (events, _) = broadcast::channel(1024);
        let (notices, notice_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            paths: options.paths,
            store: options.store,
            notifier: options.notifier,
            open_url: options.open_url,
            settings,
            http: crate::providers::wire::client(),
            state: Mutex::new(Shared { slots, queue: DeadlineQueue::default() }),
            wake: Notify::new(),
            events,
            notices,
            problems,
        });
        tokio::spawn(run::deliver_notices(inner.notifier.clone(), notice_rx));
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
        let shared = self.lock();
        let mut views: Vec<_> = shared.slots.values().map(Slot::view).collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        views
    }

    /// One integration with its history (newest last).
    pub fn status(&self, name: &str) -> Result<IntegrationStatus, KeeperError> {
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        Ok(IntegrationStatus { view: slot.view(), history: slot.record.history.entries().cloned().collect() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `change` to the slot of `name`, then settles its state, decides and sends notices,
    /// records history, saves the record, emits an event and re-arms the scheduler.
    /// Returns the new view, or `None` when there is no such integration.
    fn commit(&self, name: &str, change: impl FnOnce(&mut Slot, i64)) -> Option<IntegrationView> {
        let now = crate::clock::now();
        let leads = self.inner.settings.warning_days.clone();
        let (record, view, notices, head_moved) = {
            let mut shared = self.lock();
            let shared = &mut *shared;
            let slot = shared.slots.get_mut(name)?;
            let before = slot.record.state;
            change(slot, now);
            slot.settle(now, self.inner.settings.expiring_soon_days());
            let after = slot.record.state;
            if before != after {
                slot.record.history.push(now, HistoryEvent::StateChanged { from: before, to: after });
            }
            let service = slot.service_name();
            let facts = Facts {
                name,
                service: &service,
                state: after,
                is_api_token: slot.is_api_token(),
                access_expires_at: slot.record.access_expires_at,
                access_lifetime: slot.access_lifetime(),
                credential_expires_at: slot.credential_expires_at(),
                now,
                expiry_leads_days: &leads,
            };
            let notices = alerts::decide(&facts, &mut slot.record.notices);
            for n in &notices {
                slot.record.history.push(now, HistoryEvent::Notified { summary: n.summary.clone() });
            }
            let head_moved = match slot.next_deadline_ms(now, &leads) {
                Some(at) => shared.queue.schedule(name, at),
                None => {
                    shared.queue.cancel(name);
                    false
                }
            };
            (slot.record.clone(), slot.view(), notices, head_moved)
        };
        if let Err(e) = integrations::save_record(&self.inner.paths, name, &record) {
            tracing::warn!("{e}");
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

    /// Waits until every notice decided so far has been handed to the notification service
    /// (a short-lived command calls this before it exits).
    pub async fn flush_notices(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.inner.notices.send(run::NoticeJob::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The state of `name`, or an error naming it.
    fn state_of(&self, name: &str) -> Result<State, KeeperError> {
        self.lock().slots.get(name).map(|s| s.record.state).ok_or_else(|| KeeperError::unknown(name))
    }
}

//! The background part of a long-running keeper (tray app, daemon): the scheduler loop that
//! sleeps until the earliest deadline, the per-integration tick, and notice delivery.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::renewal::Why;
use super::{Inner, Keeper};
use crate::alerts::{Attempt, NoticeLedger};
use crate::clock::{Moment, Span, Wake};
use crate::model::{IntegrationKind, State};
use crate::notify::{group, Notice, Notifier};

/// Notices arriving within this window are shown together (three or more as one).
const NOTICE_BATCH_WINDOW: Duration = Duration::from_millis(400);
/// At most this many refreshes or probes run at once (10,000 integrations must not open
/// 10,000 connections when the network comes back).
const MAX_CONCURRENT_TICKS: usize = 32;
/// Due work waits at most as if its token ended this long after it came due (see [`urgency`]).
const PATIENCE: Span = Span::from_millis(30_000);

/// Work for the notice deliverer.
pub(super) enum NoticeJob {
    Show(Notice),
    Flush(oneshot::Sender<()>),
}

/// Shows notices, grouping those that arrive together, and confirms each shown one to the keeper
/// (`keeper` is weak: the deliverer must not keep a dropped keeper alive); runs for the life of
/// the keeper.
pub(super) async fn deliver_notices(
    notifier: Arc<dyn Notifier>,
    mut jobs: mpsc::UnboundedReceiver<NoticeJob>,
    keeper: Weak<Inner>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        match first {
            NoticeJob::Show(n) => batch.push(n),
            NoticeJob::Flush(done) => flushes.push(done),
        }
        if flushes.is_empty() {
            let deadline = tokio::time::Instant::now() + NOTICE_BATCH_WINDOW;
            while let Ok(Some(job)) = tokio::time::timeout_at(deadline, jobs.recv()).await {
                match job {
                    NoticeJob::Show(n) => batch.push(n),
                    NoticeJob::Flush(done) => {
                        flushes.push(done);
                        break;
                    }
                }
            }
        }
        let grouped = group(batch.clone());
        if !grouped.is_empty() {
            let notifier = notifier.clone();
            let all_shown = tokio::task::spawn_blocking(move || {
                let mut all_shown = true;
                for notice in &grouped {
                    if let Err(e) = notifier.show(notice) {
                        tracing::warn!("{e}");
                        all_shown = false;
                    }
                }
                all_shown
            })
            .await
            .unwrap_or(false);
            if let (true, Some(inner)) = (all_shown, keeper.upgrade()) {
                Keeper { inner }.confirm_shown(&batch);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

impl Keeper {
    /// Keeps every integration alive until the future is dropped. `sign_in_requests` carries
    /// names whose "Sign in again" notification action was clicked.
    pub async fn run(&self, mut sign_in_requests: Option<mpsc::UnboundedReceiver<String>>) {
        // Notices a previous process decided but did not live to show.
        let unshown: Vec<Notice> = self
            .lock()
            .slots
            .values()
            .flat_map(|s| {
                let state = s.record().state;
                s.record().notices.unshown.iter().filter(move |n| NoticeLedger::still_relevant(n, state)).cloned()
            })
            .collect();
        for notice in unshown {
            let _ = self.inner.notices.send(NoticeJob::Show(notice));
        }
        let names: Vec<String> = self.lock().slots.keys().cloned().collect();
        for name in &names {
            // notices that no longer fit the state were not re-shown: they stop waiting
            self.commit(name, |slot, _| slot.stale_notices_dropped());
        }
        // keeps shared integrations in step with the team vault; ends with this loop
        let shared_sync = AbortOnDrop(tokio::spawn(Keeper::shared_loop(Arc::downgrade(&self.inner))));
        let _ = &shared_sync;
        let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_TICKS));
        let pending: Arc<std::sync::Mutex<BinaryHeap<Reverse<(Moment, String)>>>> = Arc::default();
        let clock = self.inner.clock.clone();
        let mut frame = clock.stamp();
        loop {
            let head = self.lock().queue.head();
            let wake = async {
                match head {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let sign_in = async {
                match sign_in_requests.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                why = wake => {
                    // A step the timerfd did not report (no timerfd, or made while this process
                    // was stopped) shows as a moved offset.
                    let stepped = frame.step_since(&clock.stamp()).is_some();
                    if why == Wake::ClockChanged || stepped {
                        frame = clock.stamp();
                        tracing::info!("the wall clock changed: recomputing every deadline");
                        let names: Vec<String> = self.lock().slots.keys().cloned().collect();
                        for name in &names {
                            self.commit(name, |_, _| {});
                        }
                    }
                }
                _ = self.inner.wake.notified() => continue,
                Some(name) = sign_in => {
                    let keeper = self.clone();
                    tokio::spawn(async move {
                        let open = keeper.inner.open_url.clone();
                        let sign_in = keeper.sign_in(&name, |url| open(url).map_err(super::KeeperError::Failed));
                        // a failure is told in a notice, where the keeper clicked
                        let _ = keeper.on_behalf(&name, Attempt::SignIn, sign_in).await;
                    });
                    continue;
                }
            }
            let due = {
                let mut shared = self.lock();
                let now = clock.now();
                let due = shared.queue.pop_due(now);
                due.into_iter().map(|name| (urgency(&shared, &name, now), name)).collect::<Vec<_>>()
            };
            // One task per due integration waits for a turn; whoever gets one takes the most
            // urgent integration waiting then, not its own: after a long sleep, the 10 s tokens
            // renewed a moment ago go before the hour-long ones still catching up.
            let count = due.len();
            pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(due.into_iter().map(Reverse));
            for _ in 0..count {
                let keeper = self.clone();
                let permits = permits.clone();
                let pending = pending.clone();
                tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let next = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
                    if let Some(Reverse((_, name))) = next {
                        keeper.tick(&name).await;
                    }
                });
            }
        }
    }

    /// Does whatever is due for one integration, then re-arms it (every path commits).
    async fn tick(&self, name: &str) {
        let now = self.inner.clock.now();
        let plan = {
            let shared = self.lock();
            let Some(slot) = shared.slots.get(name) else { return };
            if slot.unsaved() {
                Plan::SaveTokens
            } else if slot.record().paused || slot.record().state == State::NeedsSignIn {
                Plan::Settle
            } else if matches!(slot.config.kind, IntegrationKind::Oauth(_))
                && (slot.record().retry_at.is_some_and(|t| t <= now) || slot.renew_at().is_some_and(|t| t <= now))
            {
                Plan::Refresh
            } else if slot.record().probe_at.is_some_and(|t| t <= now) {
                Plan::Probe
            } else {
                Plan::Settle
            }
        };
        match plan {
            Plan::SaveTokens => self.retry_unsaved(name).await,
            Plan::Refresh => self.refresh_integration(name, Why::Scheduled).await,
            Plan::Probe => self.probe_integration(name).await,
            Plan::Settle => {}
        }
        self.commit(name, |_, _| {});
    }
}

/// How soon an integration's work matters: when its current token ends, but never later than
/// [`PATIENCE`] from now, so work for long-lived tokens is not put off forever while short-lived
/// ones keep coming due (an integration without a token, or not an OAuth one, counts as due now).
fn urgency(shared: &super::Shared, name: &str, now: Moment) -> Moment {
    let ends = shared
        .slots
        .get(name)
        .filter(|s| matches!(s.config.kind, IntegrationKind::Oauth(_)))
        .and_then(|s| s.record().access_expires_at)
        .unwrap_or(now);
    ends.min(now.plus(PATIENCE))
}

/// What a tick does.
enum Plan {
    /// Write tokens the keychain refused earlier.
    SaveTokens,
    Refresh,
    Probe,
    /// Only re-evaluate state and notices (a warning time or expiry was reached).
    Settle,
}

/// Aborts a background task when the future that started it is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

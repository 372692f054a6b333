//! Time, as the keeper needs it: a [`Clock`] taken from outside (the system's by default, a
//! steppable one in tests), a sleep that keeps counting while the machine is suspended and wakes
//! when the wall clock is stepped, and the bookkeeping that keeps token times right across steps.
//!
//! **Sleeping.** tokio's timers run on CLOCK_MONOTONIC, which stops during suspend: a laptop
//! that slept through a deadline would wake up late by the whole nap. On Linux the sleep is a
//! `timerfd` on CLOCK_BOOTTIME (counts suspend, like pizauth's boot-time clock), plus a
//! CLOCK_REALTIME timerfd armed with `TFD_TIMER_CANCEL_ON_SET`, which fires when someone steps the
//! wall clock ([`Wake::ClockChanged`]). Elsewhere it falls back to tokio sleeps capped at a minute.
//!
//! **Clock steps.** Deadlines are wall-clock instants (they are shown as times of day and stored
//! in files), but most of them come from *durations*: `expires_in` at receipt, a retry delay, a
//! probe interval, a refresh token's life in days. When the wall clock is stepped (NTP fixing a
//! wrong clock, someone changing the time), such an instant must move with the step, or after a
//! step back by an hour the keeper would renew an hour late, and after a step forward it would
//! believe every token expired. A step is seen as a change of (REALTIME − BOOTTIME), the
//! [`ClockStamp::offset_ms`]: BOOTTIME counts real elapsed time (suspend included), so the
//! offset only moves when the wall clock is stepped (or slewed, which is the same thing slowly).
//! Every record and keychain item carries the stamp of the frame its times were written in; when
//! it is read ([`ClockStamp::step_since`]) with a different offset in the same boot, its relative
//! times are shifted by the difference, whole seconds at a time. So nothing has to be rewritten
//! at the moment of the step: the daemon re-reads every integration when the timerfd says the
//! clock changed, and a process started later corrects what it loads by the same rule. Calendar
//! facts — an API token's expiry date chosen by a person, history entries — are not shifted.
//! Across a reboot (another boot id) the offsets are not comparable; times are taken as they are.
//! On macOS the boot clock is CLOCK_MONOTONIC (it counts sleep there) and the frame lives as long
//! as the process; on systems with neither, steps are not followed (see `imp` below).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::UnixTime;

/// A wall-clock change smaller than this is not a step (rounding, NTP slew).
pub const STEP_THRESHOLD_MS: i64 = 1_000;

/// Where time comes from. [`SystemClock`] in production; tests use [`SteppableClock`].
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock now, in milliseconds since the epoch.
    fn now_millis(&self) -> i64;
    /// Milliseconds since boot, counting suspended time (CLOCK_BOOTTIME on Linux).
    fn since_boot_millis(&self) -> i64;
    /// Names this boot, so offsets from another boot are not compared.
    fn boot_id(&self) -> &str;
    /// Sleeps until the wall-clock time `deadline_ms`, counting suspended time; returns early
    /// with [`Wake::ClockChanged`] when the wall clock is stepped.
    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>>;

    /// Wall-clock now, in whole seconds since the epoch.
    fn now(&self) -> UnixTime {
        self.now_millis().div_euclid(1000)
    }
    /// The frame wall-clock times are written in right now.
    fn stamp(&self) -> ClockStamp {
        ClockStamp { boot: self.boot_id().to_string(), offset_ms: self.now_millis() - self.since_boot_millis() }
    }
}

/// The frame some stored wall-clock times were written in: the boot, and REALTIME − BOOTTIME.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStamp {
    pub boot: String,
    pub offset_ms: i64,
}

impl ClockStamp {
    /// How many whole seconds times written under this stamp must move to be right under `now`:
    /// `None` when there was no step (or another boot, where offsets mean nothing). On `Some`,
    /// the stamp is moved along, so applying the shift twice is impossible.
    pub fn step_since(&mut self, now: &ClockStamp) -> Option<i64> {
        let delta = now.offset_ms - self.offset_ms;
        if self.boot != now.boot || delta.abs() < STEP_THRESHOLD_MS {
            return None;
        }
        let secs = (delta as f64 / 1000.0).round() as i64;
        self.offset_ms += secs * 1000;
        Some(secs)
    }
}

/// Brings times stamped with `stamp` into the frame `now`, calling `shift` with the step in whole
/// seconds when there was one. A missing stamp (written before stamps existed) is taken as now.
pub fn follow(stamp: &mut Option<ClockStamp>, now: &ClockStamp, shift: impl FnOnce(i64)) {
    match stamp {
        None => *stamp = Some(now.clone()),
        Some(s) if s.boot != now.boot => *stamp = Some(now.clone()),
        Some(s) => {
            if let Some(secs) = s.step_since(now) {
                shift(secs);
            }
        }
    }
}

/// Adds `by` to each of `times` that is set (a step applied to stored instants).
pub fn shift_all<'a>(times: impl IntoIterator<Item = &'a mut Option<i64>>, by: i64) {
    times.into_iter().flatten().for_each(|t| *t += by);
}

/// Why a sleep returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline was reached (possibly after a suspend).
    Deadline,
    /// The wall clock was stepped: every wall-clock deadline must be re-read.
    ClockChanged,
}

/// The machine's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as the shared handle the keeper takes.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        now_millis()
    }
    fn since_boot_millis(&self) -> i64 {
        imp::since_boot_millis()
    }
    fn boot_id(&self) -> &str {
        imp::boot_id()
    }
    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>> {
        Box::pin(sleep_until(deadline_ms))
    }
}

/// Wall-clock now, in whole seconds since the epoch (system clock).
pub fn now() -> UnixTime {
    now_millis() / 1000
}

/// Wall-clock now, in milliseconds since the epoch (system clock).
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Sleeps until the system wall-clock time `deadline_ms`, counting suspended time.
pub async fn sleep_until(deadline_ms: i64) -> Wake {
    let delay = Duration::from_millis((deadline_ms - now_millis()).max(0) as u64);
    if delay.is_zero() {
        return Wake::Deadline;
    }
    imp::sleep(delay).await
}

/// A clock for tests: real elapsed time, plus a wall-clock offset that [`SteppableClock::step`]
/// changes at once (waking sleepers with [`Wake::ClockChanged`], as the timerfd does).
pub struct SteppableClock {
    started: std::time::Instant,
    boot_at_start_ms: i64,
    wall_at_start_ms: i64,
    step_ms: std::sync::atomic::AtomicI64,
    stepped: tokio::sync::watch::Sender<u64>,
}

impl Default for SteppableClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SteppableClock {
    /// Starts at the system's wall-clock time.
    pub fn new() -> Self {
        Self {
            started: std::time::Instant::now(),
            boot_at_start_ms: 1_000_000,
            wall_at_start_ms: now_millis(),
            step_ms: Default::default(),
            stepped: tokio::sync::watch::channel(0).0,
        }
    }

    /// Steps the wall clock by `by_ms` (negative: back).
    pub fn step(&self, by_ms: i64) {
        self.step_ms.fetch_add(by_ms, std::sync::atomic::Ordering::SeqCst);
        self.stepped.send_modify(|n| *n += 1);
    }

    fn elapsed_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }
}

impl Clock for SteppableClock {
    fn now_millis(&self) -> i64 {
        self.wall_at_start_ms + self.elapsed_ms() + self.step_ms.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn since_boot_millis(&self) -> i64 {
        self.boot_at_start_ms + self.elapsed_ms()
    }
    fn boot_id(&self) -> &str {
        "steppable-test-clock"
    }
    fn sleep_until(&self, deadline_ms: i64) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>> {
        let mut stepped = self.stepped.subscribe();
        let delay = Duration::from_millis((deadline_ms - self.now_millis()).max(0) as u64);
        Box::pin(async move {
            if delay.is_zero() {
                return Wake::Deadline;
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => Wake::Deadline,
                _ = stepped.changed() => Wake::ClockChanged,
            }
        })
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Wake;
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Duration;
    use tokio::io::unix::AsyncFd;

    /// CLOCK_BOOTTIME in ms (0 if unreadable: then no step is ever seen, as before stamps).
    pub fn since_boot_millis() -> i64 {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
            .map(|t| t.tv_sec() * 1000 + t.tv_nsec() / 1_000_000)
            .unwrap_or(0)
    }

    /// The kernel's id of this boot; a per-process one if it cannot be read.
    pub fn boot_id() -> &'static str {
        static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        ID.get_or_init(|| {
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| format!("process-{}", std::process::id()))
        })
    }

    /// nix's `TimerFd` offers `AsFd`; tokio's `AsyncFd` wants `AsRawFd`.
    struct Timer(TimerFd);
    impl AsRawFd for Timer {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    pub async fn sleep(delay: Duration) -> Wake {
        match (boottime_timer(delay), clock_change_watch()) {
            (Ok(boot), Ok(change)) => {
                tokio::select! {
                    _ = wait_readable(&boot) => Wake::Deadline,
                    _ = wait_readable(&change) => Wake::ClockChanged,
                }
            }
            (Ok(boot), Err(_)) => {
                wait_readable(&boot).await;
                Wake::Deadline
            }
            // No timerfd (very old kernel, seccomp): a capped monotonic sleep still gets there.
            _ => {
                tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
                Wake::ClockChanged
            }
        }
    }

    fn boottime_timer(delay: Duration) -> nix::Result<AsyncFd<Timer>> {
        let fd = TimerFd::new(ClockId::CLOCK_BOOTTIME, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        fd.set(Expiration::OneShot(TimeSpec::from_duration(delay)), TimerSetTimeFlags::empty())?;
        // SAFETY: `Timer` owns the timerfd, so the descriptor stays open as long as the AsyncFd.
        unsafe { AsyncFd::register(Timer(fd)) }.map_err(|_| nix::Error::EIO)
    }

    /// A realtime timer set far in the future with CANCEL_ON_SET: it becomes readable (with
    /// ECANCELED) exactly when the wall clock is stepped.
    fn clock_change_watch() -> nix::Result<AsyncFd<Timer>> {
        let fd = TimerFd::new(ClockId::CLOCK_REALTIME, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        let far = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)?
            + TimeSpec::from_duration(Duration::from_secs(10 * 365 * 24 * 3600));
        fd.set(
            Expiration::OneShot(far),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME | TimerSetTimeFlags::TFD_TIMER_CANCEL_ON_SET,
        )?;
        // SAFETY: `Timer` owns the timerfd, so the descriptor stays open as long as the AsyncFd.
        unsafe { AsyncFd::register(Timer(fd)) }.map_err(|_| nix::Error::EIO)
    }

    async fn wait_readable(fd: &AsyncFd<Timer>) {
        loop {
            match fd.readable().await {
                Ok(mut guard) => {
                    guard.clear_ready();
                    return;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::Wake;
    use std::time::Duration;

    /// macOS: CLOCK_MONOTONIC keeps counting while the Mac sleeps (std's `Instant`, on
    /// CLOCK_UPTIME_RAW, stops), so a sleep is not mistaken for a wall-clock step. Steps are
    /// followed within a process (the boot id below is the process's own).
    #[cfg(target_os = "macos")]
    pub fn since_boot_millis() -> i64 {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() * 1000 + t.tv_nsec() / 1_000_000)
            .unwrap_or(0)
    }

    /// Elsewhere no clock that counts sleep is used: the wall clock itself, so the frame's
    /// offset never moves and no step is ever applied. A process-time clock would stop during
    /// sleep and make every sleep look like a step forward — tokens would seem to live longer
    /// than they do; not following a real step only renews early or late once.
    #[cfg(not(target_os = "macos"))]
    pub fn since_boot_millis() -> i64 {
        super::now_millis()
    }

    pub fn boot_id() -> &'static str {
        static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        ID.get_or_init(|| format!("process-{}-{}", std::process::id(), super::now_millis()))
    }

    pub async fn sleep(delay: Duration) -> Wake {
        // Capped so that a suspend or a clock step is noticed within a minute.
        let capped = delay.min(Duration::from_secs(60));
        tokio::time::sleep(capped).await;
        if capped < delay {
            Wake::ClockChanged
        } else {
            Wake::Deadline
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeps_until_the_wall_clock_deadline() {
        let start = now_millis();
        assert_eq!(sleep_until(start + 150).await, Wake::Deadline);
        let slept = now_millis() - start;
        assert!((140..1000).contains(&slept), "slept {slept} ms");
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        assert_eq!(sleep_until(now_millis() - 5_000).await, Wake::Deadline);
    }

    #[test]
    fn a_step_is_the_change_of_realtime_minus_boottime() {
        let clock = SteppableClock::new();
        let mut stamp = Some(clock.stamp());
        let mut moved = None;
        follow(&mut stamp, &clock.stamp(), |s| moved = Some(s));
        assert_eq!(moved, None, "no step, no shift");
        clock.step(-3_600_000);
        follow(&mut stamp, &clock.stamp(), |s| moved = Some(s));
        assert_eq!(moved, Some(-3600));
        let mut again = None;
        follow(&mut stamp, &clock.stamp(), |s| again = Some(s));
        assert_eq!(again, None, "a step is applied once");
        clock.step(400);
        follow(&mut stamp, &clock.stamp(), |s| again = Some(s));
        assert_eq!(again, None, "less than a second is not a step");
        // another boot: offsets are not comparable, the stamp is simply renewed
        let mut other = Some(ClockStamp { boot: "another".into(), offset_ms: 0 });
        follow(&mut other, &clock.stamp(), |s| again = Some(s));
        assert_eq!((again, other), (None, Some(clock.stamp())));
    }

    #[test]
    fn the_system_clock_offset_is_steady() {
        let (a, b) = (SystemClock.stamp(), SystemClock.stamp());
        assert_eq!(a.boot, b.boot);
        assert!((a.offset_ms - b.offset_ms).abs() < STEP_THRESHOLD_MS, "{a:?} {b:?}");
    }

    #[tokio::test]
    async fn a_steppable_clock_wakes_sleepers_on_a_step() {
        let clock = Arc::new(SteppableClock::new());
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(clock.now_millis() + 60_000).await })
        };
        // let the sleeper start waiting first (ordering only; the assertion is on what woke it)
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.step(3_600_000);
        assert_eq!(sleeper.await.unwrap(), Wake::ClockChanged);
        assert_eq!(clock.sleep_until(clock.now_millis() + 20).await, Wake::Deadline);
    }
}

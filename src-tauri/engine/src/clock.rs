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
//!
//! **Units.** An instant is a [`Moment`] (milliseconds since the epoch) and a length of time a
//! [`Span`] (milliseconds, signed); neither converts by hand. Their arithmetic saturates, so no
//! lifetime a service claims (`expires_in: 18446744073709551615`) can overflow or panic, and a
//! step is one [`Span`] applied alike to every stored instant ([`Moment::shift`]). Files and the
//! keychain keep their formats (some fields in seconds, some in milliseconds): the serde adapters
//! [`as_secs`] and [`as_millis`] write each field as before.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, as files, `--json` and shells show instants.
pub type UnixTime = i64;

/// A wall-clock instant, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Moment(i64);

/// A length of wall-clock time in milliseconds; negative for "before" (a step back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(i64);

impl Moment {
    /// The epoch: also what every arithmetic result saturates towards below.
    pub const EPOCH: Moment = Moment(0);

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// Whole seconds since the epoch (saturating far outside any real date).
    pub const fn from_secs(secs: UnixTime) -> Self {
        Self(secs.saturating_mul(Span::SECOND.0))
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds since the epoch, rounded down.
    pub const fn secs(self) -> UnixTime {
        self.0.div_euclid(Span::SECOND.0)
    }
    /// This instant rounded down to its whole second: how token times are stored (files and the
    /// keychain keep seconds), so memory holds what a restart would read.
    pub const fn whole_secs(self) -> Self {
        Self::from_secs(self.secs())
    }
    /// This instant `span` later (earlier when negative), saturating.
    pub const fn plus(self, span: Span) -> Self {
        Self(self.0.saturating_add(span.0))
    }
    /// This instant `span` earlier, saturating.
    pub const fn minus(self, span: Span) -> Self {
        Self(self.0.saturating_sub(span.0))
    }
    /// How long after `earlier` this is (negative when before it), saturating.
    pub const fn since(self, earlier: Moment) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }
    /// Moves a stored instant by a wall-clock step (see the module doc).
    pub fn shift(&mut self, step: Span) {
        *self = self.plus(step);
    }
}

impl Span {
    pub const ZERO: Span = Span(0);
    pub const SECOND: Span = Span(1000);
    pub const DAY: Span = Span(86_400_000);

    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    /// Whole seconds, saturating.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(Self::SECOND.0))
    }
    /// Whole seconds as services send them (`expires_in`), saturating at the largest span.
    pub fn from_unsigned_secs(secs: u64) -> Self {
        Self::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
    }
    pub const fn from_days(days: i64) -> Self {
        Self(days.saturating_mul(Self::DAY.0))
    }
    /// A `std` duration (a `Retry-After`, a backoff delay), saturating.
    pub fn from_std(d: Duration) -> Self {
        Self(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds, rounded towards zero.
    pub const fn secs(self) -> i64 {
        self.0 / Self::SECOND.0
    }
    /// As a `std` duration; a negative span is zero.
    pub fn to_std(self) -> Duration {
        Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }
    /// `self` times `factor` (a fraction for jitter), rounded towards zero.
    pub fn scale(self, factor: f64) -> Self {
        Self((self.0 as f64 * factor) as i64)
    }
    pub const fn saturating_sub(self, other: Span) -> Self {
        Self(self.0.saturating_sub(other.0))
    }
}

/// Serde adapter: an `Option<Moment>` stored in whole seconds (token times, sign-in time).
pub mod as_secs {
    use super::{Moment, UnixTime};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Moment>, s: S) -> Result<S::Ok, S::Error> {
        t.map(Moment::secs).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Moment>, D::Error> {
        Ok(Option::<UnixTime>::deserialize(d)?.map(Moment::from_secs))
    }
}

/// Serde adapter: an `Option<Moment>` stored in milliseconds (retry and check times).
pub mod as_millis {
    use super::Moment;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Moment>, s: S) -> Result<S::Ok, S::Error> {
        t.map(Moment::millis).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Moment>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(Moment::from_millis))
    }
}

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
    /// Sleeps until the wall-clock time `deadline`, counting suspended time; returns early with
    /// [`Wake::ClockChanged`] when the wall clock is stepped.
    fn sleep_until(&self, deadline: Moment) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>>;

    /// Wall-clock now.
    fn now(&self) -> Moment {
        Moment::from_millis(self.now_millis())
    }
    /// The frame wall-clock times are written in right now.
    fn stamp(&self) -> ClockStamp {
        ClockStamp {
            boot: self.boot_id().to_string(),
            offset_ms: self.now_millis().saturating_sub(self.since_boot_millis()),
        }
    }
}

/// The frame some stored wall-clock times were written in: the boot, and REALTIME − BOOTTIME.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStamp {
    pub boot: String,
    pub offset_ms: i64,
}

impl ClockStamp {
    /// How far times written under this stamp must move to be right under `now`, in whole
    /// seconds (times in seconds move exactly as those in milliseconds): `None` when there was
    /// no step (or another boot, where offsets mean nothing). On `Some`, the stamp is moved
    /// along, so applying the shift twice is impossible.
    pub fn step_since(&mut self, now: &ClockStamp) -> Option<Span> {
        let delta = now.offset_ms.saturating_sub(self.offset_ms);
        if self.boot != now.boot || delta.saturating_abs() < STEP_THRESHOLD_MS {
            return None;
        }
        let step = Span::from_secs((delta as f64 / Span::SECOND.millis() as f64).round() as i64);
        self.offset_ms = self.offset_ms.saturating_add(step.millis());
        Some(step)
    }
}

/// Brings times stamped with `stamp` into the frame `now`, calling `shift` with the step when
/// there was one. A missing stamp (written before stamps existed) is taken as now.
pub fn follow(stamp: &mut Option<ClockStamp>, now: &ClockStamp, shift: impl FnOnce(Span)) {
    match stamp {
        None => *stamp = Some(now.clone()),
        Some(s) if s.boot != now.boot => *stamp = Some(now.clone()),
        Some(s) => {
            if let Some(step) = s.step_since(now) {
                shift(step);
            }
        }
    }
}

/// Moves each of `times` that is set by a step.
pub fn shift_all<'a>(times: impl IntoIterator<Item = &'a mut Option<Moment>>, step: Span) {
    times.into_iter().flatten().for_each(|t| t.shift(step));
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
    fn sleep_until(&self, deadline: Moment) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>> {
        Box::pin(sleep_until(deadline))
    }
}

/// Wall-clock now (system clock).
pub fn now() -> Moment {
    Moment::from_millis(now_millis())
}

/// Wall-clock now, in milliseconds since the epoch (system clock).
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Sleeps until the system wall-clock time `deadline`, counting suspended time.
pub async fn sleep_until(deadline: Moment) -> Wake {
    let delay = deadline.since(now()).to_std();
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
    fn sleep_until(&self, deadline: Moment) -> Pin<Box<dyn Future<Output = Wake> + Send + '_>> {
        let mut stepped = self.stepped.subscribe();
        let delay = deadline.since(self.now()).to_std();
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
            .map(|t| super::Span::from_std(Duration::from(t)).millis())
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
            .map(|t| super::Span::from_std(Duration::from(t)).millis())
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
        let start = now();
        assert_eq!(sleep_until(start.plus(Span::from_millis(150))).await, Wake::Deadline);
        let slept = now().since(start).millis();
        assert!((140..1000).contains(&slept), "slept {slept} ms");
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once() {
        assert_eq!(sleep_until(now().minus(Span::from_secs(5))).await, Wake::Deadline);
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
        assert_eq!(moved, Some(Span::from_secs(-3600)));
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
    fn moments_and_spans_convert_once_and_saturate() {
        let t = Moment::from_secs(1_700_000_000);
        assert_eq!((t.millis(), t.secs()), (1_700_000_000_000, 1_700_000_000));
        assert_eq!(Moment::from_millis(-1).secs(), -1, "seconds round down, also before the epoch");
        assert_eq!(t.plus(Span::from_secs(90)).since(t), Span::from_millis(90_000));
        assert_eq!(t.minus(Span::DAY).secs(), 1_700_000_000 - 86_400);
        // a service's lifetime of u64::MAX seconds, and every extreme, saturate instead of panicking
        let huge = Span::from_unsigned_secs(u64::MAX);
        assert_eq!(huge, Span::from_millis(i64::MAX));
        assert_eq!(t.plus(huge), Moment::from_millis(i64::MAX));
        assert_eq!(Moment::from_millis(i64::MIN).since(t), Span::from_millis(i64::MIN));
        assert_eq!(Moment::from_secs(i64::MAX), Moment::from_millis(i64::MAX));
        assert_eq!(Span::from_millis(-5).to_std(), Duration::ZERO);
        assert_eq!(Span::from_std(Duration::from_secs(u64::MAX)), Span::from_millis(i64::MAX));
        // a step moves an instant once, by the same span whatever unit the file keeps it in
        let mut u = t;
        u.shift(Span::from_secs(-3600));
        assert_eq!(u.secs(), 1_700_000_000 - 3600);
    }

    #[test]
    fn stored_times_keep_their_formats() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Both {
            #[serde(with = "as_secs")]
            secs: Option<Moment>,
            #[serde(with = "as_millis")]
            ms: Option<Moment>,
        }
        let both = Both { secs: Some(Moment::from_secs(1_700_000_000)), ms: Some(Moment::from_millis(42)) };
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(json, r#"{"secs":1700000000,"ms":42}"#);
        assert_eq!(serde_json::from_str::<Both>(&json).unwrap(), both);
        assert_eq!(serde_json::from_str::<Both>(r#"{"secs":null,"ms":null}"#).unwrap(), Both { secs: None, ms: None });
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
            tokio::spawn(async move { clock.sleep_until(clock.now().plus(Span::from_secs(60))).await })
        };
        // let the sleeper start waiting first (ordering only; the assertion is on what woke it)
        tokio::time::sleep(Duration::from_millis(50)).await;
        clock.step(3_600_000);
        assert_eq!(sleeper.await.unwrap(), Wake::ClockChanged);
        assert_eq!(clock.sleep_until(clock.now().plus(Span::from_millis(20))).await, Wake::Deadline);
    }
}

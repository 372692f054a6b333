//! Time, as the keeper needs it: wall-clock "now" for provider deadlines, and a sleep that keeps
//! counting while the machine is suspended and wakes when the wall clock is stepped.
//!
//! Token lifetimes are wall-clock facts (the provider's clock). tokio's timers run on
//! CLOCK_MONOTONIC, which stops during suspend: a laptop that slept through a deadline would wake
//! up late by the whole nap. On Linux the sleep is a `timerfd` on CLOCK_BOOTTIME (counts suspend,
//! like pizauth's boot-time clock), plus a CLOCK_REALTIME timerfd armed with
//! `TFD_TIMER_CANCEL_ON_SET`, which fires when someone steps the wall clock, so deadlines are
//! recomputed at once. Elsewhere it falls back to tokio sleeps capped at a minute.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::UnixTime;

/// Wall-clock now, in whole seconds since the epoch.
pub fn now() -> UnixTime {
    now_millis() / 1000
}

/// Wall-clock now, in milliseconds since the epoch.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Why [`sleep_until`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline was reached (possibly after a suspend).
    Deadline,
    /// The wall clock was stepped: every wall-clock deadline must be re-read.
    ClockChanged,
}

/// Sleeps until the wall-clock time `deadline_ms`, counting suspended time.
pub async fn sleep_until(deadline_ms: i64) -> Wake {
    let delay = Duration::from_millis((deadline_ms - now_millis()).max(0) as u64);
    if delay.is_zero() {
        return Wake::Deadline;
    }
    imp::sleep(delay).await
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Wake;
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Duration;
    use tokio::io::unix::AsyncFd;

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
}

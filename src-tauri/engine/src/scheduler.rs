//! When to act: the renewal rule, retry backoff, and the queue of deadlines.
//!
//! The scheduler is data, not tasks (the pattern of mini-redis's purge task): a min-ordered set of
//! `(deadline, integration)` and one sleeper that wakes for the head. There is no timer or thread
//! per integration, so 10,000 integrations cost 10,000 small entries and O(log n) per change.
//! Everything here is pure; the keeper owns the queue and the sleeper.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::clock::{Moment, Span};

/// Never refresh the same integration more often than this, whatever lifetime a provider claims
/// (a provider that says `expires_in: 1` must not send us into a refresh loop).
pub const MIN_RENEW_SPACING: Span = Span::from_millis(1_000);

/// The longest access-token or refresh-token lifetime believed: a service claiming more (up to
/// `u64::MAX` seconds) is taken at ten years, so no time computed from it can overflow.
pub const MAX_LIFETIME: Span = Span::from_days(3_653);

/// The lifetime assumed for an access token that comes with a refresh token but no usable
/// lifetime (`expires_in` absent, 0 or unreadable): it is renewed on the usual rule for this
/// lifetime, 45 minutes after it was issued — a fixed re-check, never a loop. One hour is what
/// most services give (Google, Microsoft, Atlassian).
pub const UNKNOWN_LIFETIME: Span = Span::from_secs(3_600);

/// A lifetime as a service states it (`expires_in`, `refresh_token_expires_in`, in seconds),
/// as the keeper believes it: `None` (unknown) for 0, at most [`MAX_LIFETIME`].
pub fn believed_lifetime(secs: u64) -> Option<Span> {
    (secs > 0).then(|| Span::from_unsigned_secs(secs).min(MAX_LIFETIME))
}

/// How long before expiry to renew a token of this lifetime: when a quarter of the lifetime is
/// left, but never later than min(60 s, half the lifetime) before expiry.
/// A 1 h token renews 15 min early; a 4 s token 2 s early.
pub fn renew_margin(lifetime: Span) -> Span {
    let lifetime = lifetime.max(Span::ZERO).millis();
    Span::from_millis((lifetime / 4).max((lifetime / 2).min(60_000)))
}

/// When to renew a token issued at `issued` that expires at `expires`. `jitter` in [0, 1) moves
/// it up to a tenth of the margin *earlier* (never later), so integrations that were signed in
/// together do not all refresh in the same second. Never sooner than [`MIN_RENEW_SPACING`] after
/// the issue, whatever the times say: each renewal issues a new token, so this bounds renewals
/// to one per spacing even for a token that claims to be dead on arrival.
pub fn renew_at(issued: Moment, expires: Moment, jitter: f64) -> Moment {
    let margin = renew_margin(expires.since(issued));
    let early = margin.scale(0.1 * jitter.clamp(0.0, 1.0));
    expires.minus(margin).minus(early).max(issued.plus(MIN_RENEW_SPACING))
}

/// Whether `now` is already inside the renewal margin (no jitter): `token` refreshes first then.
pub fn inside_margin(now: Moment, issued: Moment, expires: Moment) -> bool {
    now >= expires.minus(renew_margin(expires.since(issued)))
}

/// Longest wait between retries once the access token has expired.
pub const EXPIRED_RETRY_CAP: Span = Span::from_millis(30_000);

/// Retry delay after the `attempt`-th consecutive transient failure (1-based): exponential from
/// 2 s, capped at 5 min, with "equal jitter" (between half and all of the step). A `Retry-After`
/// from the provider is honoured as a floor. While the current token still works, retries are
/// spread so that a few still happen before it expires.
pub fn retry_delay(attempt: u32, jitter: f64, retry_after: Option<Duration>, until_expiry: Option<Span>) -> Duration {
    let step = 2_000i64.saturating_mul(1i64 << attempt.saturating_sub(1).min(20)).min(300_000);
    let mut delay = step / 2 + ((step / 2) as f64 * jitter.clamp(0.0, 1.0)) as i64;
    match until_expiry.map(Span::millis) {
        Some(left) if left > 0 => delay = delay.min((left / 3).max(1_000)),
        // The token has already stopped working: nothing to lose by trying every half minute,
        // and a provider that comes back is noticed quickly.
        Some(_) => delay = delay.min(EXPIRED_RETRY_CAP.millis()),
        None => {}
    }
    if let Some(floor) = retry_after {
        delay = delay.max(Span::from_std(floor).millis());
    }
    Span::from_millis(delay.max(500)).to_std()
}

/// Deadlines ordered by time; at most one per integration.
#[derive(Debug, Default)]
pub struct DeadlineQueue {
    by_time: BTreeSet<(Moment, String)>,
    by_name: HashMap<String, Moment>,
}

impl DeadlineQueue {
    /// Sets (or moves) the deadline of `name`. Returns true if the head of the queue changed,
    /// i.e. the sleeper must be woken to re-arm.
    pub fn schedule(&mut self, name: &str, at: Moment) -> bool {
        let head_before = self.head();
        if let Some(old) = self.by_name.insert(name.to_string(), at) {
            self.by_time.remove(&(old, name.to_string()));
        }
        self.by_time.insert((at, name.to_string()));
        head_before != self.head()
    }

    /// Drops the deadline of `name`, if any.
    pub fn cancel(&mut self, name: &str) {
        if let Some(old) = self.by_name.remove(name) {
            self.by_time.remove(&(old, name.to_string()));
        }
    }

    /// The earliest deadline.
    pub fn head(&self) -> Option<Moment> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The deadline of `name`.
    pub fn get(&self, name: &str) -> Option<Moment> {
        self.by_name.get(name).copied()
    }

    /// Removes and returns every integration whose deadline is at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: Moment) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((t, _)) = self.by_time.first() {
            if *t > now {
                break;
            }
            let (_, name) = self.by_time.pop_first().expect("first exists");
            self.by_name.remove(&name);
            due.push(name);
        }
        due
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: i64) -> Span {
        Span::from_millis(ms)
    }
    fn at(ms: i64) -> Moment {
        Moment::from_millis(ms)
    }

    #[test]
    fn renewal_margins_match_the_product_rule() {
        assert_eq!(renew_margin(ms(3_600_000)), ms(900_000), "1 h token renews 15 min early");
        assert_eq!(renew_margin(ms(4_000)), ms(2_000), "4 s token renews 2 s early");
        assert_eq!(renew_margin(ms(120_000)), ms(60_000), "2 min token: quarter is 30 s, floor 60 s");
        assert_eq!(renew_margin(ms(5 * 3_600_000)), ms(75 * 60_000), "HighQ default 5 h: 75 min early");
    }

    #[test]
    fn jitter_only_moves_renewal_earlier_and_never_loops() {
        for lifetime in [0i64, 1, 500, 4_000, 20_000, 3_600_000, 30 * 86_400_000] {
            let (issued, expires) = (at(1_000_000), at(1_000_000 + lifetime));
            let latest = renew_at(issued, expires, 0.0);
            for j in [0.0, 0.3, 0.999] {
                let when = renew_at(issued, expires, j);
                assert!(when <= latest, "jitter made it later");
                let hard_limit = expires.minus(ms((lifetime / 2).min(60_000)));
                assert!(when <= hard_limit.max(issued.plus(MIN_RENEW_SPACING)));
                assert!(when >= issued.plus(MIN_RENEW_SPACING), "renewal within the minimum spacing");
            }
        }
        // A provider claiming a zero lifetime (or one ending before it began) does not cause an
        // immediate-refresh loop: the next renewal waits the minimum spacing.
        for expires in [0, -1, i64::MIN] {
            assert_eq!(renew_at(Moment::EPOCH, at(expires), 0.5), Moment::EPOCH.plus(MIN_RENEW_SPACING));
        }
    }

    #[test]
    fn lifetimes_are_believed_within_reason() {
        assert_eq!(believed_lifetime(0), None, "0 means unknown");
        assert_eq!(believed_lifetime(3600), Some(Span::from_secs(3600)));
        assert_eq!(believed_lifetime(u64::MAX), Some(MAX_LIFETIME));
        assert_eq!(believed_lifetime(20 * 365 * 86_400), Some(MAX_LIFETIME), "twenty years is ten");
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let d1 = retry_delay(1, 1.0, None, None);
        let d5 = retry_delay(5, 1.0, None, None);
        let d30 = retry_delay(30, 1.0, None, None);
        assert!(d1 < d5 && d5 <= d30);
        assert_eq!(d30, Duration::from_secs(300));
        assert_eq!(retry_delay(1, 0.0, Some(Duration::from_secs(7)), None), Duration::from_secs(7));
        // Token expiring in 6 s: retry within 2 s rather than after 5 min.
        assert!(retry_delay(9, 1.0, None, Some(ms(6_000))) <= Duration::from_secs(2));
        // Already expired: at most 30 s apart, unless the provider asks for more.
        assert_eq!(retry_delay(12, 1.0, None, Some(ms(-1))), Duration::from_secs(30));
        assert_eq!(retry_delay(12, 1.0, Some(Duration::from_secs(90)), Some(ms(-1))), Duration::from_secs(90));
    }

    #[test]
    fn queue_orders_moves_and_pops() {
        let mut q = DeadlineQueue::default();
        assert!(q.schedule("a", at(30)));
        assert!(q.schedule("b", at(10)));
        assert!(!q.schedule("c", at(20)));
        assert!(q.schedule("b", at(40)), "moving the head changes it");
        assert_eq!(q.head(), Some(at(20)));
        assert_eq!(q.pop_due(at(30)), vec!["c".to_string(), "a".to_string()]);
        q.cancel("b");
        assert!(q.is_empty());
    }

    /// Property tests of the renewal rule, the backoff and the queue (`make fuzz` runs more).
    mod properties {
        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::*;
        use crate::properties::support::{cases, config};

        /// One change to a queue.
        #[derive(Debug, Clone)]
        enum Op {
            Schedule(u8, Moment),
            Cancel(u8),
            PopDue(Moment),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => (0u8..12, -1_000i64..1_000).prop_map(|(n, t)| Op::Schedule(n, at(t))),
                1 => (0u8..12).prop_map(Op::Cancel),
                1 => (-1_000i64..1_000).prop_map(|t| Op::PopDue(at(t))),
            ]
        }

        proptest! {
            #![proptest_config(config(cases(512)))]

            #[test]
            fn renewal_is_inside_the_lifetime_before_the_margin_and_jitter_only_moves_it_earlier(
                issued in -4_000_000_000_000i64..4_000_000_000_000,
                lifetime in prop_oneof![0i64..5_000, 0i64..400 * 86_400_000],
                jitter in 0.0f64..1.0,
            ) {
                let (issued, lifetime) = (at(issued), ms(lifetime));
                let expires = issued.plus(lifetime);
                let margin = renew_margin(lifetime);
                let when = renew_at(issued, expires, jitter);
                prop_assert!(when >= issued.plus(MIN_RENEW_SPACING), "renewal within a second of issue");
                prop_assert!(when <= renew_at(issued, expires, 0.0), "jitter made it later");
                prop_assert!(margin.millis() <= lifetime.millis() / 2 + 1 || lifetime < ms(2), "margin {margin:?} of {lifetime:?}");
                if lifetime >= ms(2 * MIN_RENEW_SPACING.millis()) {
                    prop_assert!(when <= expires.minus(margin), "renews at {when:?}, after expiry {expires:?} - margin {margin:?}");
                    prop_assert!(expires.since(when) >= ms((lifetime.millis() / 2).min(60_000)), "less than min(60 s, half) left");
                    prop_assert!(inside_margin(renew_at(issued, expires, 0.0), issued, expires));
                } else {
                    prop_assert!(when <= expires.max(issued.plus(MIN_RENEW_SPACING)));
                }
            }

            /// Whatever a service claims and whatever the clock says — any `expires_in` a u64 can
            /// hold, any instant an i64 can — nothing panics and the next renewal is at least the
            /// minimum spacing after this one: at most one renewal per spacing, so no loop.
            #[test]
            fn no_claimed_lifetime_renews_more_than_once_per_spacing_or_panics(
                issued in any::<i64>(),
                expires_in in prop_oneof![0u64..10, any::<u64>()],
                expires_anywhere in any::<i64>(),
                jitter in 0.0f64..1.0,
            ) {
                let issued = at(issued);
                let lifetime = believed_lifetime(expires_in).unwrap_or(UNKNOWN_LIFETIME);
                prop_assert!(lifetime >= ms(1_000) && lifetime <= MAX_LIFETIME);
                for expires in [issued.plus(lifetime), at(expires_anywhere)] {
                    let when = renew_at(issued, expires, jitter);
                    prop_assert!(when >= issued.plus(MIN_RENEW_SPACING), "renews {:?} after the last", when.since(issued));
                    let _ = inside_margin(when, issued, expires);
                    let _ = retry_delay(u32::MAX, jitter, Some(Duration::MAX), Some(expires.since(when)));
                }
            }

            #[test]
            fn backoff_honours_retry_after_grows_and_stays_bounded(
                attempt in 1u32..100,
                jitter in 0.0f64..1.0,
                retry_after in prop::option::of(0u64..10_000_000),
                left in prop::option::of(-1_000_000_000i64..1_000_000_000),
            ) {
                let floor = retry_after.map(Duration::from_millis);
                let left = left.map(ms);
                let d = retry_delay(attempt, jitter, floor, left);
                let next = retry_delay(attempt + 1, jitter, floor, left);
                prop_assert!(next >= d, "attempt {} waits {next:?}, less than {d:?}", attempt + 1);
                prop_assert!(d >= Duration::from_millis(500));
                if let Some(f) = floor {
                    prop_assert!(d >= f, "{d:?} is below Retry-After {f:?}");
                }
                let cap = match left.map(Span::millis) {
                    Some(l) if l > 0 => (l / 3).clamp(1_000, 300_000),
                    Some(_) => EXPIRED_RETRY_CAP.millis(),
                    None => 300_000,
                };
                let cap = Duration::from_millis(cap.max(500) as u64).max(floor.unwrap_or_default());
                prop_assert!(d <= cap, "{d:?} above {cap:?}");
            }

            #[test]
            fn the_queue_behaves_like_one_deadline_per_name(ops in prop::collection::vec(op(), 0..80)) {
                let mut q = DeadlineQueue::default();
                let mut model: HashMap<String, Moment> = HashMap::new();
                let head = |m: &HashMap<String, Moment>| m.values().min().copied();
                for op in ops {
                    match op {
                        Op::Schedule(n, t) => {
                            let name = format!("i{n}");
                            let before = head(&model);
                            model.insert(name.clone(), t);
                            prop_assert_eq!(q.schedule(&name, t), before != head(&model));
                        }
                        Op::Cancel(n) => {
                            let name = format!("i{n}");
                            q.cancel(&name);
                            model.remove(&name);
                        }
                        Op::PopDue(now) => {
                            let mut due: Vec<(Moment, String)> =
                                model.iter().filter(|(_, t)| **t <= now).map(|(n, t)| (*t, n.clone())).collect();
                            due.sort();
                            model.retain(|_, t| *t > now);
                            let popped = q.pop_due(now);
                            prop_assert_eq!(popped, due.into_iter().map(|(_, n)| n).collect::<Vec<_>>());
                        }
                    }
                    prop_assert_eq!(q.len(), model.len());
                    prop_assert_eq!(q.head(), head(&model));
                    for (name, t) in &model {
                        prop_assert_eq!(q.get(name), Some(*t));
                    }
                }
            }
        }
    }
}

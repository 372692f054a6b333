//! When to act: the renewal rule, retry backoff, and the queue of deadlines.
//!
//! The scheduler is data, not tasks (the pattern of mini-redis's purge task): a min-ordered set of
//! `(deadline, integration)` and one sleeper that wakes for the head. There is no timer or thread
//! per integration, so 10,000 integrations cost 10,000 small entries and O(log n) per change.
//! Everything here is pure; the keeper owns the queue and the sleeper.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Never refresh the same integration more often than this, whatever lifetime a provider claims
/// (a provider that says `expires_in: 0` must not send us into a refresh loop).
pub const MIN_RENEW_SPACING_MS: i64 = 1_000;

/// How long before expiry to renew a token of this lifetime: when a quarter of the lifetime is
/// left, but never later than min(60 s, half the lifetime) before expiry.
/// A 1 h token renews 15 min early; a 4 s token 2 s early.
pub fn renew_margin_ms(lifetime_ms: i64) -> i64 {
    let lifetime_ms = lifetime_ms.max(0);
    (lifetime_ms / 4).max((lifetime_ms / 2).min(60_000))
}

/// When to renew a token issued at `issued_ms` that expires at `expires_ms`. `jitter` in [0, 1)
/// moves it up to a tenth of the margin *earlier* (never later), so integrations that were signed
/// in together do not all refresh in the same second.
pub fn renew_at_ms(issued_ms: i64, expires_ms: i64, jitter: f64) -> i64 {
    let margin = renew_margin_ms(expires_ms - issued_ms);
    let early = (margin as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as i64;
    (expires_ms - margin - early).max(issued_ms + MIN_RENEW_SPACING_MS.min(margin))
}

/// Whether `now_ms` is already inside the renewal margin (no jitter): `token` refreshes first then.
pub fn inside_margin(now_ms: i64, issued_ms: i64, expires_ms: i64) -> bool {
    now_ms >= expires_ms - renew_margin_ms(expires_ms - issued_ms)
}

/// Longest wait between retries once the access token has expired.
pub const EXPIRED_RETRY_CAP_MS: i64 = 30_000;

/// Retry delay after the `attempt`-th consecutive transient failure (1-based): exponential from
/// 2 s, capped at 5 min, with "equal jitter" (between half and all of the step). A `Retry-After`
/// from the provider is honoured as a floor. While the current token still works, retries are
/// spread so that a few still happen before it expires.
pub fn retry_delay(attempt: u32, jitter: f64, retry_after: Option<Duration>, ms_until_expiry: Option<i64>) -> Duration {
    let step = 2_000i64.saturating_mul(1i64 << attempt.saturating_sub(1).min(20)).min(300_000);
    let mut delay = step / 2 + ((step / 2) as f64 * jitter.clamp(0.0, 1.0)) as i64;
    match ms_until_expiry {
        Some(left) if left > 0 => delay = delay.min((left / 3).max(1_000)),
        // The token has already stopped working: nothing to lose by trying every half minute,
        // and a provider that comes back is noticed quickly.
        Some(_) => delay = delay.min(EXPIRED_RETRY_CAP_MS),
        None => {}
    }
    if let Some(floor) = retry_after {
        delay = delay.max(floor.as_millis() as i64);
    }
    Duration::from_millis(delay.max(500) as u64)
}

/// Deadlines ordered by time; at most one per integration.
#[derive(Debug, Default)]
pub struct DeadlineQueue {
    by_time: BTreeSet<(i64, String)>,
    by_name: HashMap<String, i64>,
}

impl DeadlineQueue {
    /// Sets (or moves) the deadline of `name`. Returns true if the head of the queue changed,
    /// i.e. the sleeper must be woken to re-arm.
    pub fn schedule(&mut self, name: &str, at_ms: i64) -> bool {
        let head_before = self.head();
        if let Some(old) = self.by_name.insert(name.to_string(), at_ms) {
            self.by_time.remove(&(old, name.to_string()));
        }
        self.by_time.insert((at_ms, name.to_string()));
        head_before != self.head()
    }

    /// Drops the deadline of `name`, if any.
    pub fn cancel(&mut self, name: &str) {
        if let Some(old) = self.by_name.remove(name) {
            self.by_time.remove(&(old, name.to_string()));
        }
    }

    /// The earliest deadline.
    pub fn head(&self) -> Option<i64> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// The deadline of `name`.
    pub fn get(&self, name: &str) -> Option<i64> {
        self.by_name.get(name).copied()
    }

    /// Removes and returns every integration whose deadline is at or before `now_ms`, earliest first.
    pub fn pop_due(&mut self, now_ms: i64) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((t, _)) = self.by_time.first() {
            if *t > now_ms {
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

    #[test]
    fn renewal_margins_match_the_product_rule() {
        assert_eq!(renew_margin_ms(3_600_000), 900_000, "1 h token renews 15 min early");
        assert_eq!(renew_margin_ms(4_000), 2_000, "4 s token renews 2 s early");
        assert_eq!(renew_margin_ms(120_000), 60_000, "2 min token: quarter is 30 s, floor 60 s");
        assert_eq!(renew_margin_ms(5 * 3_600_000), 75 * 60_000, "HighQ default 5 h: 75 min early");
    }

    #[test]
    fn jitter_only_moves_renewal_earlier_and_never_loops() {
        for lifetime in [0i64, 1, 500, 4_000, 20_000, 3_600_000, 30 * 86_400_000] {
            let latest = renew_at_ms(1_000_000, 1_000_000 + lifetime, 0.0);
            for j in [0.0, 0.3, 0.999] {
                let at = renew_at_ms(1_000_000, 1_000_000 + lifetime, j);
                assert!(at <= latest, "jitter made it later");
                let hard_limit = 1_000_000 + lifetime - (lifetime / 2).min(60_000);
                assert!(at <= hard_limit.max(1_000_000 + MIN_RENEW_SPACING_MS.min(renew_margin_ms(lifetime))));
                assert!(at >= 1_000_000, "renewal before issue");
            }
        }
        // A provider claiming a zero lifetime does not cause an immediate-refresh loop.
        assert!(renew_at_ms(0, 0, 0.5) >= 0);
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
        assert!(retry_delay(9, 1.0, None, Some(6_000)) <= Duration::from_secs(2));
        // Already expired: at most 30 s apart, unless the provider asks for more.
        assert_eq!(retry_delay(12, 1.0, None, Some(-1)), Duration::from_secs(30));
        assert_eq!(retry_delay(12, 1.0, Some(Duration::from_secs(90)), Some(-1)), Duration::from_secs(90));
    }

    #[test]
    fn queue_orders_moves_and_pops() {
        let mut q = DeadlineQueue::default();
        assert!(q.schedule("a", 30));
        assert!(q.schedule("b", 10));
        assert!(!q.schedule("c", 20));
        assert!(q.schedule("b", 40), "moving the head changes it");
        assert_eq!(q.head(), Some(20));
        assert_eq!(q.pop_due(30), vec!["c".to_string(), "a".to_string()]);
        q.cancel("b");
        assert!(q.is_empty());
    }

    /// Property tests of the renewal rule, the backoff and the queue (`make fuzz` runs more).
    mod properties {
        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::*;
        use crate::proptest_support::{cases, config};

        /// One change to a queue.
        #[derive(Debug, Clone)]
        enum Op {
            Schedule(u8, i64),
            Cancel(u8),
            PopDue(i64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => (0u8..12, -1_000i64..1_000).prop_map(|(n, t)| Op::Schedule(n, t)),
                1 => (0u8..12).prop_map(Op::Cancel),
                1 => (-1_000i64..1_000).prop_map(Op::PopDue),
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
                let expires = issued + lifetime;
                let margin = renew_margin_ms(lifetime);
                let at = renew_at_ms(issued, expires, jitter);
                prop_assert!(at >= issued, "renewal before the token was issued (now)");
                prop_assert!(at <= renew_at_ms(issued, expires, 0.0), "jitter made it later");
                prop_assert!(margin <= lifetime / 2 + 1 || lifetime < 2, "margin {margin} of {lifetime}");
                if lifetime >= 2 * MIN_RENEW_SPACING_MS {
                    prop_assert!(at <= expires - margin, "renews at {at}, after expiry {expires} - margin {margin}");
                    prop_assert!(at >= issued + MIN_RENEW_SPACING_MS, "renews within a second of issue");
                    prop_assert!(expires - at >= (lifetime / 2).min(60_000), "less than min(60 s, half) left");
                    prop_assert!(inside_margin(renew_at_ms(issued, expires, 0.0), issued, expires));
                } else {
                    prop_assert!(at <= expires.max(issued + MIN_RENEW_SPACING_MS.min(margin)));
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
                let d = retry_delay(attempt, jitter, floor, left);
                let next = retry_delay(attempt + 1, jitter, floor, left);
                prop_assert!(next >= d, "attempt {} waits {next:?}, less than {d:?}", attempt + 1);
                prop_assert!(d >= Duration::from_millis(500));
                if let Some(f) = floor {
                    prop_assert!(d >= f, "{d:?} is below Retry-After {f:?}");
                }
                let cap = match left {
                    Some(l) if l > 0 => (l / 3).clamp(1_000, 300_000),
                    Some(_) => EXPIRED_RETRY_CAP_MS,
                    None => 300_000,
                };
                let cap = Duration::from_millis(cap.max(500) as u64).max(floor.unwrap_or_default());
                prop_assert!(d <= cap, "{d:?} above {cap:?}");
            }

            #[test]
            fn the_queue_behaves_like_one_deadline_per_name(ops in prop::collection::vec(op(), 0..80)) {
                let mut q = DeadlineQueue::default();
                let mut model: HashMap<String, i64> = HashMap::new();
                let head = |m: &HashMap<String, i64>| m.values().min().copied();
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
                            let mut due: Vec<(i64, String)> =
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

//! The fault soak: many integrations with short-lived tokens, a provider behind a proxy that
//! fails a good share of requests, one long outage, and scripts asking for tokens all the time.
//!
//! [`run`] drives one soak and returns a [`SoakReport`]; `make soak` runs the long one
//! (tests/tests/soak_full.rs) and the CI suite a short one (tests/tests/soak.rs) that asserts
//! the same properties. Everything is real: the `tokenkeeper` daemon and command, the keychain,
//! the notification daemon and oidc-provider. The proxy gives the provider Atlassian's refresh-token
//! reuse window ([`crate::reuse_window`]): without one, any lost answer to a refresh costs the
//! grant, whatever the client does (the crash run shows that case is at least never silent).
//!
//! Each `token` answer is checked at once with the provider's introspection endpoint (directly,
//! not through the proxy), so "active" means the provider accepted it when the script got it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::Rng;
use serde_json::Value;

use crate::fleet::{notices_by_integration, Rig};
use crate::{wait_until, Fault, Notifications, Record};

/// One soak's shape.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// How many integrations.
    pub integrations: usize,
    /// How long the faults last (the outage included).
    pub duration: Duration,
    /// Access tokens live a random whole number of seconds in this range.
    pub token_life_secs: (u64, u64),
    /// How many scripts call `tokenkeeper token` in a loop, and their pause between calls.
    pub callers: usize,
    pub caller_pause: Duration,
    /// When the full outage starts (from the start of the faults) and how long it lasts.
    pub outage_at: Duration,
    pub outage: Duration,
    /// The provider's refresh-token reuse window (Atlassian: 10 minutes).
    pub reuse_window: Duration,
    /// The share of token-endpoint requests that get each fault.
    pub faults: FaultMix,
}

/// Shares (0..1) of token-endpoint requests and what happens to them; the rest pass.
#[derive(Clone, Copy, Debug)]
pub struct FaultMix {
    /// 500, 502 or 503 from the proxy.
    pub server_error: f64,
    /// Forwarded, answered by the provider, and the answer dropped.
    pub dropped_after_sent: f64,
    /// 429 with `Retry-After` of 1–4 s.
    pub too_many_requests: f64,
    /// Forwarded after 1–4 s.
    pub latency_spike: f64,
}

impl FaultMix {
    /// The mix: 20 % 5xx, 5 % dropped after sending, 3 % 429, 5 % slow.
    pub fn standard() -> Self {
        Self { server_error: 0.20, dropped_after_sent: 0.05, too_many_requests: 0.03, latency_spike: 0.05 }
    }

    fn pick(&self, rng: &mut impl Rng) -> Fault {
        let x: f64 = rng.random();
        let mut edge = self.server_error;
        if x < edge {
            return Fault::Status([500, 502, 503][rng.random_range(0..3)], None);
        }
        edge += self.dropped_after_sent;
        if x < edge {
            return Fault::DropAfterForward;
        }
        edge += self.too_many_requests;
        if x < edge {
            return Fault::Status(429, Some(rng.random_range(1..=4)));
        }
        edge += self.latency_spike;
        if x < edge {
            return Fault::Delay(rng.random_range(1_000..=4_000));
        }
        Fault::Pass
    }
}

impl SoakConfig {
    /// The soak: 200 integrations, tokens of 10–30 s, 10 minutes, a 60 s outage.
    pub fn full() -> Self {
        Self {
            integrations: 200,
            duration: Duration::from_secs(600),
            token_life_secs: (10, 30),
            callers: 4,
            caller_pause: Duration::from_millis(20),
            outage_at: Duration::from_secs(240),
            outage: Duration::from_secs(60),
            reuse_window: Duration::from_secs(600),
            faults: FaultMix::standard(),
        }
    }

    /// The CI version: the same faults on 12 integrations for 60 s, a 16 s outage.
    pub fn short() -> Self {
        Self {
            integrations: 12,
            duration: Duration::from_secs(60),
            token_life_secs: (8, 14),
            callers: 2,
            caller_pause: Duration::from_millis(40),
            outage_at: Duration::from_secs(15),
            outage: Duration::from_secs(16),
            ..Self::full()
        }
    }
}

/// What a soak measured.
#[derive(Debug, Default)]
pub struct SoakReport {
    pub integrations: usize,
    pub seconds: f64,
    /// `token` calls that printed a token (exit 0).
    pub answers: usize,
    /// Of those, the ones the provider's introspection called active.
    pub answers_active: usize,
    /// The inactive answers, with their timing.
    pub inactive_examples: Vec<InactiveAnswer>,
    /// `token` calls that exited 4 (no valid token right now: the token had ended during a fault).
    pub unavailable: usize,
    /// `token` calls that exited 3 (needs sign-in).
    pub needs_sign_in_answers: usize,
    /// Other exits.
    pub other_failures: usize,
    /// Longest wait for one `token` answer, and from asking to the provider's verdict on it.
    pub slowest_answer_ms: u128,
    pub slowest_check_ms: u128,
    /// Integrations ever seen in `needs-sign-in` (from `list --json` every 2 s, and at the end).
    pub ever_needed_sign_in: BTreeSet<String>,
    /// Integrations ever seen `offline`.
    pub ever_offline: usize,
    /// Integrations whose grant no longer works at the end (`tokenkeeper refresh` fails).
    pub grants_lost: Vec<String>,
    /// Refresh requests that reached the provider and got 200.
    pub refreshes_ok: usize,
    /// Refresh attempts the keeper made (the proxy saw them, whatever it did with them).
    pub refresh_attempts: usize,
    /// The ideal number of refreshes per integration with no faults: the run's length outside the
    /// outage over the mean renewal interval (half the lifetime for such short tokens).
    pub ideal_refreshes_per_integration: f64,
    /// How long after the outage every integration had worked again at least once (`None`: not
    /// within 60 s).
    pub recovery: Option<Duration>,
    /// 429 answers, and retries of the same refresh token that came before its `Retry-After`.
    pub retry_after_given: usize,
    pub retry_after_violations: usize,
    /// Shortest gap between a failed attempt (5xx, 429, dropped) and the next one with the same
    /// refresh token.
    pub shortest_retry_gap_ms: Option<u128>,
    /// Lost answers the reuse window turned into a good refresh.
    pub reuse_rewrites: usize,
    /// Notices per kind (a grouped notice counts once per integration it names).
    pub notices: BTreeMap<String, usize>,
}

impl SoakReport {
    /// Share of `token` answers the provider called active, in percent.
    pub fn active_percent(&self) -> f64 {
        if self.answers == 0 {
            return 0.0;
        }
        100.0 * self.answers_active as f64 / self.answers as f64
    }
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = |x: usize| x as f64 / self.integrations.max(1) as f64;
        writeln!(f, "soak: {} integrations, {:.0} s of faults", self.integrations, self.seconds)?;
        writeln!(
            f,
            "  token answers: {} with a token, {:.3} % active per introspection ({} inactive{})",
            self.answers,
            self.active_percent(),
            self.answers - self.answers_active,
            if self.inactive_examples.is_empty() {
                String::new()
            } else {
                format!(", e.g. {:?}", &self.inactive_examples[..self.inactive_examples.len().min(5)])
            }
        )?;
        writeln!(
            f,
            "  token calls without a token: {} unavailable (exit 4), {} needs sign-in (exit 3), {} other; slowest answer {} ms, slowest check {} ms",
            self.unavailable, self.needs_sign_in_answers, self.other_failures, self.slowest_answer_ms, self.slowest_check_ms
        )?;
        writeln!(
            f,
            "  false needs-sign-in: {} {:?}; ever offline: {} integrations",
            self.ever_needed_sign_in.len(),
            self.ever_needed_sign_in,
            self.ever_offline
        )?;
        writeln!(f, "  refresh tokens lost: {} {:?}", self.grants_lost.len(), self.grants_lost)?;
        writeln!(
            f,
            "  after the outage every integration was working again in {}",
            self.recovery.map_or("more than 60 s".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()))
        )?;
        writeln!(
            f,
            "  refreshes per integration: {:.1} succeeded, {:.1} attempted; ideal without faults {:.1}",
            per(self.refreshes_ok),
            per(self.refresh_attempts),
            self.ideal_refreshes_per_integration
        )?;
        writeln!(
            f,
            "  backoff: {} Retry-After answers, {} retried early; shortest retry gap after a failure {} ms; {} lost answers recovered through the reuse window",
            self.retry_after_given,
            self.retry_after_violations,
            self.shortest_retry_gap_ms.map_or("-".to_owned(), |g| g.to_string()),
            self.reuse_rewrites
        )?;
        write!(f, "  notices: {:?}", self.notices)
    }
}

/// A token answer the provider did not call active, and how long after asking the script had
/// the token and the provider's verdict: a check long after the answer may just have come after
/// the token's end.
#[derive(Debug)]
pub struct InactiveAnswer {
    pub name: String,
    pub at_secs: f64,
    pub answered_ms: u128,
    pub checked_ms: u128,
}

/// One answer a script got.
struct Answer {
    name: String,
    at: Instant,
    exit: i32,
    active: bool,
    took: Duration,
    /// From asking for the token to the provider's introspection answer.
    checked: Duration,
}

/// Runs one soak in its own sandbox. Must run inside `tests/env/session.sh`.
pub fn run(cfg: &SoakConfig) -> Result<SoakReport> {
    let Rig { server, proxy, sb, fleet } = Rig::start(cfg.integrations, cfg.token_life_secs, Some(cfg.reuse_window))?;
    let notices = Notifications::new();
    let mut daemon = sb.spawn_daemon();
    proxy.reset_counters();

    let mix = cfg.faults;
    proxy.set_rule(move |req| req.is_token_request().then(|| mix.pick(&mut rand::rng())));
    let start = Instant::now();
    let stop = AtomicBool::new(false);
    let answers = Mutex::new(Vec::<Answer>::new());
    let states_seen = Mutex::new(BTreeMap::<String, BTreeSet<String>>::new());
    let recovery = Mutex::new(None);

    thread::scope(|s| -> Result<()> {
        for _ in 0..cfg.callers {
            s.spawn(|| {
                let mut rng = rand::rng();
                while !stop.load(Ordering::Relaxed) {
                    let name = &fleet.names[rng.random_range(0..fleet.names.len())];
                    let asked = Instant::now();
                    let Ok(out) = sb.cmd(["token", name.as_str()]).output() else { continue };
                    let took = asked.elapsed();
                    let exit = out.status.code().unwrap_or(-1);
                    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    let active = exit == 0 && server.introspect(&token)["active"] == Value::Bool(true);
                    let checked = asked.elapsed();
                    answers.lock().unwrap().push(Answer { name: name.clone(), at: asked, exit, active, took, checked });
                    thread::sleep(cfg.caller_pause);
                }
            });
        }
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(states) = fleet.states(&sb) {
                    let mut seen = states_seen.lock().unwrap();
                    for (name, state) in states {
                        seen.entry(name).or_default().insert(state);
                    }
                }
                thread::sleep(Duration::from_secs(2));
            }
        });
        thread::sleep(cfg.outage_at);
        eprintln!("soak: outage for {} s", cfg.outage.as_secs());
        proxy.set_offline(true);
        thread::sleep(cfg.outage);
        proxy.set_offline(false);
        let back = Instant::now();
        eprintln!("soak: provider back");
        // each integration's first moment of working again (faults go on, so they are rarely all
        // working at the same instant)
        let mut recovered = BTreeSet::new();
        let all_recovered = || {
            if let Ok(states) = fleet.states(&sb) {
                recovered.extend(states.into_iter().filter(|(_, st)| st == "working").map(|(name, _)| name));
            }
            recovered.len() == fleet.names.len()
        };
        if wait_until(Duration::from_secs(60), Duration::from_millis(250), all_recovered) {
            *recovery.lock().unwrap() = Some(back.elapsed());
        }
        thread::sleep(cfg.duration.saturating_sub(start.elapsed()));
        stop.store(true, Ordering::Relaxed);
        Ok(())
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let records = proxy.records();
    let reuse_rewrites = proxy.reuse_rewrites();
    proxy.clear_plan();

    // Settle: with the faults gone every integration works again within one retry period.
    let settled = wait_until(Duration::from_secs(45), Duration::from_secs(1), || {
        fleet.states(&sb).is_ok_and(|states| states.values().all(|s| s == "working"))
    });
    if !settled {
        eprintln!("soak: not every integration was working 45 s after the faults ended: {:?}", fleet.states(&sb)?);
    }
    let final_states = fleet.states(&sb)?;
    let mut grants_lost = Vec::new();
    for name in &fleet.names {
        let out = sb.run(&["refresh", name], None);
        if !out.status.success() {
            grants_lost.push(format!("{name}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    daemon.stop();

    let mut report = SoakReport {
        integrations: cfg.integrations,
        seconds,
        grants_lost,
        reuse_rewrites,
        recovery: recovery.into_inner().unwrap(),
        ..Default::default()
    };
    for a in answers.into_inner().unwrap() {
        report.slowest_answer_ms = report.slowest_answer_ms.max(a.took.as_millis());
        report.slowest_check_ms = report.slowest_check_ms.max(a.checked.as_millis());
        match a.exit {
            0 => {
                report.answers += 1;
                if a.active {
                    report.answers_active += 1;
                } else {
                    report.inactive_examples.push(InactiveAnswer {
                        name: a.name,
                        at_secs: (a.at - start).as_secs_f64(),
                        answered_ms: a.took.as_millis(),
                        checked_ms: a.checked.as_millis(),
                    });
                }
            }
            3 => report.needs_sign_in_answers += 1,
            4 => report.unavailable += 1,
            _ => report.other_failures += 1,
        }
    }
    let mut seen = states_seen.into_inner().unwrap();
    for (name, state) in final_states {
        seen.entry(name).or_default().insert(state);
    }
    report.ever_needed_sign_in =
        seen.iter().filter(|(_, s)| s.contains("needs-sign-in")).map(|(n, _)| n.clone()).collect();
    report.ever_offline = seen.values().filter(|s| s.contains("offline")).count();
    backoff_figures(&records, &mut report);
    let (lo, hi) = cfg.token_life_secs;
    report.ideal_refreshes_per_integration = (seconds - cfg.outage.as_secs_f64()) / ((lo + hi) as f64 / 4.0);
    for (_, kind) in notices_by_integration(&notices.all()) {
        *report.notices.entry(format!("{kind:?}")).or_default() += 1;
    }
    Ok(report)
}

/// Refresh counts, and whether retries of one refresh token respected the backoff.
fn backoff_figures(records: &[Record], report: &mut SoakReport) {
    let refreshes: Vec<&Record> = records.iter().filter(|r| r.request.is_refresh()).collect();
    report.refresh_attempts = refreshes.len();
    report.refreshes_ok = refreshes.iter().filter(|r| r.upstream_status == Some(200)).count();
    let mut last_failure: HashMap<&str, (Instant, Option<u64>)> = HashMap::new();
    for r in &refreshes {
        let Some(rt) = r.request.param("refresh_token") else { continue };
        if let Some((failed_at, retry_after)) = last_failure.remove(rt) {
            let gap = r.request.at - failed_at;
            report.shortest_retry_gap_ms =
                Some(report.shortest_retry_gap_ms.map_or(gap.as_millis(), |g| g.min(gap.as_millis())));
            if let Some(secs) = retry_after {
                // the proxy stamps a request when it was read; allow for that and for rounding
                if gap + Duration::from_millis(100) < Duration::from_secs(secs) {
                    report.retry_after_violations += 1;
                }
            }
        }
        let failed = match &r.fault {
            Fault::Status(429, retry_after) => {
                report.retry_after_given += 1;
                Some(*retry_after)
            }
            Fault::Status(..) | Fault::DropAfterForward | Fault::DropBeforeForward | Fault::Down => Some(None),
            _ => None,
        };
        if let Some(retry_after) = failed {
            last_failure.insert(rt, (r.request.at, retry_after));
        }
    }
}

/// Runs [`run`] and prints the report; `Err` when the soak could not run at all.
pub fn run_and_print(cfg: &SoakConfig) -> Result<SoakReport> {
    let report = run(cfg).context("the soak could not run")?;
    println!("{report}");
    Ok(report)
}

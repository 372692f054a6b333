//! The crash run: `kill -9` the daemon again and again while it renews short-lived tokens,
//! restarting it each time, and count what was lost.
//!
//! Half of the kills are aimed: the run watches the proxy and kills the daemon the moment a
//! refresh answer has reached it — between the provider rotating the refresh token and the
//! keeper saving the new one, the one moment a crash can cost a grant. The other half land at
//! random. After every kill the run checks that nothing is torn: every state file parses, every
//! keychain item reads back as a whole document.
//!
//! With a provider reuse window ([`crate::reuse_window`], Atlassian's 10 minutes) the goal is no
//! lost grant at all. Without one (oidc-provider's own behaviour: reuse revokes the grant), a kill
//! in that moment does lose the grant — nothing on the client can prevent it — and the goal is
//! that each such loss is found by the keeper itself and shown as `Needs sign-in` with a critical
//! notice: never a silent failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rand::Rng;
use serde_json::Value;

use crate::fleet::{notices_by_integration, NoticeKind, Rig};
use crate::{files_under, wait_until, Notifications, Sandbox};

/// One crash run's shape.
#[derive(Clone, Debug)]
pub struct CrashConfig {
    pub integrations: usize,
    pub kills: usize,
    /// Access tokens live a random whole number of seconds in this range.
    pub token_life_secs: (u64, u64),
    /// The provider's refresh-token reuse window; `None`: reusing a used refresh token revokes the
    /// grant.
    pub reuse_window: Option<Duration>,
    /// A random kill comes this long (ms, uniform) after the daemon started.
    pub random_kill_after_ms: (u64, u64),
}

impl CrashConfig {
    /// `make crash`: 500 kills of a daemon keeping 20 integrations with 3–6 s tokens.
    pub fn full(reuse_window: Option<Duration>) -> Self {
        Self { integrations: 20, kills: 500, token_life_secs: (3, 6), reuse_window, random_kill_after_ms: (50, 1_500) }
    }

    /// The CI version (without a reuse window every grant is soon gone: fewer kills tell as much).
    pub fn short(reuse_window: Option<Duration>) -> Self {
        Self { integrations: 6, kills: if reuse_window.is_some() { 30 } else { 12 }, ..Self::full(reuse_window) }
    }
}

/// What a crash run found.
#[derive(Debug, Default)]
pub struct CrashReport {
    pub integrations: usize,
    pub reuse_window: Option<Duration>,
    pub kills: usize,
    /// Kills aimed at the moment right after a refresh answer reached the daemon.
    pub aimed_kills: usize,
    /// Times a kill left an integration's keychain item holding a refresh token the provider had
    /// already rotated away (the new one died with the process).
    pub stranded: usize,
    /// State files or keychain items that did not read back whole after a kill.
    pub torn: Vec<String>,
    /// Integrations whose grant still works at the end.
    pub alive: usize,
    /// Integrations whose grant was lost, and among them those the keeper itself had marked
    /// `needs-sign-in` and notified (critical) before the run's final check.
    pub lost: Vec<String>,
    pub lost_and_notified: usize,
    /// Lost integrations the keeper still called working: silent failures.
    pub silent: Vec<String>,
    pub seconds: f64,
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window =
            self.reuse_window.map_or("no reuse window".to_owned(), |w| format!("{} s reuse window", w.as_secs()));
        writeln!(f, "crash: {} integrations, {window}, {:.0} s", self.integrations, self.seconds)?;
        writeln!(
            f,
            "  kill -9: {} ({} aimed right after a refresh answer reached the daemon); {} left a used refresh token in the keychain",
            self.kills, self.aimed_kills, self.stranded
        )?;
        writeln!(f, "  torn state files or keychain items: {} {:?}", self.torn.len(), self.torn)?;
        writeln!(
            f,
            "  grants: {} alive, {} lost ({} found and notified by the keeper, {} silent {:?})",
            self.alive,
            self.lost.len(),
            self.lost_and_notified,
            self.silent.len(),
            self.silent
        )
    }
}

/// Runs one crash run in its own sandbox. Must run inside `tests/env/session.sh`.
pub fn run(cfg: &CrashConfig) -> Result<CrashReport> {
    let Rig { server, proxy, sb, fleet } = Rig::start(cfg.integrations, cfg.token_life_secs, cfg.reuse_window)?;
    let notices = Notifications::new();
    let start = Instant::now();
    let mut report =
        CrashReport { integrations: cfg.integrations, reuse_window: cfg.reuse_window, ..Default::default() };
    let mut rng = rand::rng();
    let mut stranded = BTreeSet::new();

    for i in 0..cfg.kills {
        let mut daemon = sb.spawn_daemon();
        let started = Instant::now();
        let aimed = i % 2 == 0;
        if aimed {
            // the moment a refresh answer has been written to the daemon (or a random moment when
            // none comes: every grant may be gone already)
            let seen = proxy.records().len();
            wait_until(Duration::from_millis(cfg.random_kill_after_ms.1), Duration::from_millis(1), || {
                proxy.records().iter().skip(seen).any(|r| r.request.is_refresh() && r.client_status == Some(200))
            });
        } else {
            let (lo, hi) = cfg.random_kill_after_ms;
            thread::sleep(Duration::from_millis(rng.random_range(lo..=hi)).saturating_sub(started.elapsed()));
        }
        daemon.kill();
        report.kills += 1;
        report.aimed_kills += usize::from(aimed);
        report.torn.extend(torn_state_files(&sb));
        for (name, rt) in fleet.stored_refresh_tokens(&sb) {
            match rt {
                None => report.torn.push(format!("kill {i}: keychain item of {name} unreadable")),
                Some(rt) if server.introspect(&rt)["active"] != Value::Bool(true) && stranded_now(&sb, &name) => {
                    stranded.insert((name, rt));
                }
                Some(_) => {}
            }
        }
    }

    report.stranded = stranded.len();

    // One last daemon, long enough for every integration to renew (or find out it cannot).
    let mut daemon = sb.spawn_daemon();
    let settle = Duration::from_secs(cfg.token_life_secs.1 * 2 + 5);
    wait_until(settle, Duration::from_secs(1), || {
        fleet.states(&sb).is_ok_and(|s| s.values().all(|st| st == "working" || st == "needs-sign-in"))
    });
    thread::sleep(Duration::from_secs(cfg.token_life_secs.1));
    let states = fleet.states(&sb)?;
    let notified: BTreeMap<String, usize> = notices_by_integration(&notices.all())
        .into_iter()
        .filter(|(_, k)| *k == NoticeKind::SignInRefused)
        .fold(BTreeMap::new(), |mut m, (name, _)| {
            *m.entry(name).or_default() += 1;
            m
        });
    daemon.stop();
    for name in &fleet.names {
        let state = states.get(name).cloned().unwrap_or_default();
        let out = sb.run(&["refresh", name], None);
        if out.status.success() {
            report.alive += 1;
            continue;
        }
        report.lost.push(name.clone());
        if state == "needs-sign-in" && notified.contains_key(name) {
            report.lost_and_notified += 1;
        } else if state != "needs-sign-in" {
            report.silent.push(format!("{name} ({state})"));
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Whether this integration still counts: a used refresh token in the keychain of an
/// integration the keeper already knows to be signed out is not a new loss.
fn stranded_now(sb: &Sandbox, name: &str) -> bool {
    let state_file = sb.state_dir().join("tokenkeeper").join("integrations").join(format!("{name}.json"));
    std::fs::read(&state_file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_none_or(|doc| doc["state"] != "needs-sign-in")
}

/// State and settings files under the sandbox that do not parse whole.
fn torn_state_files(sb: &Sandbox) -> Vec<String> {
    let mut torn = Vec::new();
    for file in files_under(sb.root()) {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let Ok(bytes) = std::fs::read(&file) else { continue };
        let ok = match ext {
            "json" => serde_json::from_slice::<Value>(&bytes).is_ok(),
            "toml" => std::str::from_utf8(&bytes).is_ok_and(|t| toml::from_str::<toml::Table>(t).is_ok()),
            _ => true,
        };
        if !ok {
            torn.push(file.display().to_string());
        }
    }
    torn
}

/// Runs [`run`] and prints the report.
pub fn run_and_print(cfg: &CrashConfig) -> Result<CrashReport> {
    let report = run(cfg).context("the crash run could not run")?;
    println!("{report}");
    if report.kills == 0 {
        bail!("no kill happened");
    }
    Ok(report)
}

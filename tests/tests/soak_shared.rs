//! `make soak-shared`: many keepers on one shared space. Five keepers (`SOAK_KEEPERS`) — each a
//! [`Sandbox`] running the real `tokenkeeper daemon`, connected with all three addresses of a
//! real three-node OpenBao Raft cluster — keep 50 shared integrations (`SOAK_INTEGRATIONS`) of
//! the real OAuth fixture alive: 6 s access tokens, refresh tokens rotated on every use, and the
//! fixture's reuse detection on (a refresh token presented twice revokes the grant). Each keeper
//! calls `token` in a loop for its own sample of `SOAK_SAMPLE` (5) integrations (keeper k takes
//! integrations k·5 … k·5+4, so together they ask for 25 of the 50), each answer introspected at
//! the provider, for `SOAK_SECONDS` (60). Then the same with one keeper (the baseline, a fresh
//! cluster and provider, the same loop on the same first sample).
//!
//! Asserts: no grant revoked (no refresh token reused), every `token` answer active, no
//! integration *Needs sign-in* at the end on any keeper, and renewals per integration in the
//! window within 10 % of the one-keeper baseline. Prints a table.
//!
//! A soak, not a test: `test = false` in Cargo.toml, run by `make soak-shared` (release daemon).

mod common;
mod shared_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared_support::*;
use tokenkeeper_tests::require_test_session;

const AT_TTL: u64 = 6;

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

/// What one run measured.
struct RunFigures {
    keepers: usize,
    window_s: f64,
    /// Renewals (`refresh_token.consumed`) per integration in the window.
    per_integration: Vec<usize>,
    calls: usize,
    active: usize,
    inactive: usize,
    failed: Vec<String>,
    revoked: usize,
    needs_sign_in: Vec<String>,
    setup_s: f64,
    /// CPU (% of one core) of the daemons (sum) and of the three OpenBao nodes (sum) in the window.
    keeper_cpu: f64,
    bao_cpu: f64,
}

impl RunFigures {
    fn mean(&self) -> f64 {
        self.per_integration.iter().sum::<usize>() as f64 / self.per_integration.len().max(1) as f64
    }
}

fn ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn run(keepers: usize, integrations: usize, sample: usize, window: Duration) -> RunFigures {
    let names: Vec<String> = (0..integrations).map(|i| format!("soak-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (cluster, fleet) = Fleet::start(keepers, &refs, &[], AT_TTL);
    let setup_s = fleet.secs();
    // the grant of each integration: the one whose refresh tokens its record holds now
    let events_before = fleet.server.events();
    let before = renewals_per_grant(&events_before);
    let grants: Vec<String> = before.keys().cloned().collect();
    eprintln!(
        "[{:6.1}] {keepers} keeper(s), {integrations} integrations, {} grants with renewals so far",
        fleet.secs(),
        grants.len()
    );

    let stop = AtomicBool::new(false);
    let calls: Mutex<Vec<(usize, usize, Outcome)>> = Mutex::new(Vec::new());
    let pids: Vec<u32> = fleet.machines.iter().filter_map(Machine::pid).collect();
    let bao: Vec<u32> = (0..3).filter_map(|i| cluster.pid(i)).collect();
    let (k0, b0): (u64, u64) = (pids.iter().map(|&p| ticks(p)).sum(), bao.iter().map(|&p| ticks(p)).sum());
    let started = Instant::now();
    std::thread::scope(|s| {
        for (mi, m) in fleet.machines.iter().enumerate() {
            let (fleet, stop, calls) = (&fleet, &stop, &calls);
            s.spawn(move || {
                let mine: Vec<usize> = (0..sample).map(|j| (mi * sample + j) % integrations).collect();
                let mut k = 0;
                while !stop.load(Ordering::SeqCst) {
                    let ni = mine[k % mine.len()];
                    k += 1;
                    let outcome = match try_token(&m.sb, &fleet.names[ni]) {
                        Ok(t) => {
                            if fleet.server.introspect(&t)["active"] == serde_json::Value::Bool(true) {
                                Outcome::Active
                            } else {
                                Outcome::Inactive
                            }
                        }
                        Err((code, said)) => Outcome::Failed { code, said, left_at_start: None },
                    };
                    calls.lock().unwrap().push((mi, ni, outcome));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
        std::thread::sleep(window);
        stop.store(true, Ordering::SeqCst);
    });
    let window_s = started.elapsed().as_secs_f64();
    let keeper_cpu = (pids.iter().map(|&p| ticks(p)).sum::<u64>() - k0) as f64 / window_s;
    let bao_cpu = (bao.iter().map(|&p| ticks(p)).sum::<u64>() - b0) as f64 / window_s;
    // renewals in the window, per grant (an integration has one grant: signed in once)
    let after = renewals_per_grant(&fleet.server.events());
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for (g, n) in &after {
        per.insert(g.clone(), n - before.get(g).copied().unwrap_or(0));
    }
    let mut per_integration: Vec<usize> = per.values().copied().collect();
    // an integration with no renewal at all (not even before the window) has no grant line yet
    per_integration.resize(integrations.max(per_integration.len()), 0);
    let calls = calls.into_inner().unwrap();
    let active = calls.iter().filter(|c| c.2 == Outcome::Active).count();
    let inactive = calls.iter().filter(|c| c.2 == Outcome::Inactive).count();
    let failed: Vec<String> = calls
        .iter()
        .filter_map(|(mi, ni, o)| match o {
            Outcome::Failed { code, said, .. } => {
                Some(format!("{}:{} exit {code}: {said}", fleet.machines[*mi].label, fleet.names[*ni]))
            }
            _ => None,
        })
        .collect();
    let mut needs_sign_in = Vec::new();
    for m in &fleet.machines {
        match list_states(&m.sb) {
            Ok(states) => needs_sign_in.extend(
                states
                    .iter()
                    .filter(|(_, s)| s.as_str() != "working" && s.as_str() != "refreshing")
                    .map(|(n, s)| format!("{}:{n} {s}", m.label)),
            ),
            Err(e) => needs_sign_in.push(format!("{}: list failed: {e}", m.label)),
        }
    }
    let revoked = fleet.server.count_events("grant.revoked");
    if revoked > 0 || !failed.is_empty() || inactive > 0 || !needs_sign_in.is_empty() {
        eprintln!("{}", fleet.logs(30));
    }
    if std::env::var_os("TK_KEEP_SANDBOX").is_some_and(|v| v == "1") {
        for m in &fleet.machines {
            eprintln!("keeper {} logs: {}", m.label, m.sb.logs_dir().display());
        }
    }
    RunFigures {
        keepers,
        window_s,
        per_integration,
        calls: calls.len(),
        active,
        inactive,
        failed,
        revoked,
        needs_sign_in,
        setup_s,
        keeper_cpu,
        bao_cpu,
    }
}

fn row(f: &RunFigures, baseline: Option<f64>) -> String {
    let min = f.per_integration.iter().min().copied().unwrap_or(0);
    let max = f.per_integration.iter().max().copied().unwrap_or(0);
    format!(
        "| {} | {:.0} s | {:.0} s | {:.2} ({min}–{max}) | {} | {} | {} / {} / {} | {} | {} | {:.1} % | {:.1} % |",
        f.keepers,
        f.setup_s,
        f.window_s,
        f.mean(),
        baseline.map_or("—".into(), |b| format!("{:+.1} %", (f.mean() / b - 1.0) * 100.0)),
        f.revoked,
        f.active,
        f.inactive,
        f.failed.len(),
        f.calls,
        f.needs_sign_in.len(),
        f.keeper_cpu,
        f.bao_cpu,
    )
}

#[test]
fn soak_shared() {
    require_test_session();
    let window = Duration::from_secs(env_usize("SOAK_SECONDS", 60) as u64);
    let keepers = env_usize("SOAK_KEEPERS", 5);
    let integrations = env_usize("SOAK_INTEGRATIONS", 50);
    let sample = env_usize("SOAK_SAMPLE", 5);

    let many = run(keepers, integrations, sample, window);
    let one = run(1, integrations, sample, window);
    let header = "| keepers | setup | window | renewals per integration: mean (min–max) | vs one keeper | grants revoked (reuse) | token answers active / inactive / failed | calls | not working at the end | keepers' CPU | OpenBao CPU |\n|---|---|---|---|---|---|---|---|---|---|---|";
    println!("\n{integrations} shared integrations, {AT_TTL} s access tokens, three-node OpenBao cluster, {sample} integrations per keeper asked in a loop\n");
    println!("{header}\n{}\n{}", row(&one, None), row(&many, Some(one.mean())));
    for f in [&one, &many] {
        for line in f.failed.iter().take(10) {
            println!("   {} keeper(s): failed {line}", f.keepers);
        }
        for line in f.needs_sign_in.iter().take(10) {
            println!("   {} keeper(s): at the end {line}", f.keepers);
        }
    }
    let mut problems = Vec::new();
    for f in [&one, &many] {
        if f.revoked > 0 {
            problems.push(format!("{} keeper(s): {} grants revoked (a refresh token reused)", f.keepers, f.revoked));
        }
        if f.inactive > 0 || !f.failed.is_empty() {
            problems.push(format!(
                "{} keeper(s): {} inactive and {} failed token answers",
                f.keepers,
                f.inactive,
                f.failed.len()
            ));
        }
        if !f.needs_sign_in.is_empty() {
            problems.push(format!("{} keeper(s): not working at the end: {:?}", f.keepers, f.needs_sign_in));
        }
    }
    let diff = (many.mean() / one.mean() - 1.0).abs();
    if diff > 0.10 {
        problems.push(format!(
            "renewals per integration: {:.2} with {keepers} keepers against {:.2} with one ({:+.1} %)",
            many.mean(),
            one.mean(),
            (many.mean() / one.mean() - 1.0) * 100.0
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

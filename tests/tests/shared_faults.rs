//! Shared integrations under faults of the team vault and of the keepers, on a real three-node
//! OpenBao Raft cluster (`BaoCluster`, loopback): two or three keepers — each a [`Sandbox`]
//! running the real `tokenkeeper daemon`, one "machine" — connected with `tokenkeeper shared
//! connect` and every node's address (`--address` three times), three shared integrations of the
//! real OAuth fixture (8 s access tokens, refresh tokens rotated on every use, a reused refresh
//! token revokes the grant) signed in once, and every machine calling `token` for every
//! integration in a loop, each answer introspected at the provider, while `list --json` is polled
//! on every machine.
//!
//! * `leader_killed_during_renewals`: `kill -9` of the Raft leader mid-traffic, a new leader, 30 s
//!   more traffic, the old node back. No integration is ever *Needs sign-in* on any machine, no
//!   grant is lost (the provider never saw a reused refresh token), every token handed out was
//!   active, and a `token` call fails (exit 4, nothing else) only if it started while the cluster
//!   had no leader; renewals go on through the new leader. Reports the failed calls.
//! * `node_stopped_and_vault_sealed`: a follower stopped (SIGSTOP) for 20 s costs at most a few
//!   timeouts; then the whole vault sealed for 25 s (three 8 s token lives): `token` hands out only
//!   live tokens or exits 4 (never 3), the integrations show *retrying*/*offline* and never *Needs
//!   sign-in*; after unsealing, every machine serves active tokens and shows every integration
//!   *working* within 30 s. Notifications (the session's dunst): no critical one, at most one
//!   "stops working" notice per integration per machine, and as many "working again" ones.
//! * `keeper_killed_holding_a_lease`: machine C's daemon is caught holding an integration's
//!   renewal lease (`leases/<name>` names C's keeper id), stopped, and — only when the refresh
//!   token in the vault is still active, so that the kill itself cannot lose the grant — killed
//!   with `kill -9`; C comes back 5 s later as a new keeper. Nobody takes the dead keeper's lease
//!   before it lapses (`until` + the 2 s clock allowance), a keeper takes it over within
//!   `LEASE_TIME` (the engine's, 15 s now) + slack, no grant is lost, nothing is *Needs sign-in*, the surviving
//!   machines fail only on that integration, only with exit 4 and only until the take-over, and
//!   the longest gap in their successful answers is reported.
//!
//! Needs the desktop session of `tests/env/session.sh` (keychain, notifications), `bao`
//! (`scripts/ensure-openbao.sh`) and the OAuth fixture's node_modules. Each test takes about two
//! minutes.

mod common;
mod shared_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;
use shared_support::*;
use tokenkeeper_tests::{require_test_session, wait_until, Notifications};

/// How long `keeper_killed_holding_a_lease` watches for machine C holding a lease.
const CATCH_WITHIN: Duration = Duration::from_secs(90);

/// Runs one of these tests at a time: each runs a three-node cluster, three keepers, the OAuth
/// fixture and a `token` loop per machine and integration; two at once on CI's two cores would
/// measure the machine, not the keepers (`make test` runs two tests at a time).
fn one_cluster_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static CLUSTER: Mutex<()> = Mutex::new(());
    CLUSTER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The access tokens' life at the provider: renewed every ~4 s.
const AT_TTL: u64 = 8;
/// How often each machine asks for each integration's token.
const EVERY: Duration = Duration::from_millis(500);
/// The renewal lease's life and the clock allowance, as the engine has them.
const LEASE_TIME_MS: i64 = tokenkeeper_engine::shared::lease::LEASE_TIME.millis();
const CLOCK_ALLOWANCE_MS: i64 = tokenkeeper_engine::shared::lease::CLOCK_ALLOWANCE.millis();

/// Sets the loops' stop flag however the fault script ends (a panic included), so the scope's
/// threads end and the panic is reported instead of hanging.
struct StopOnDrop<'a>(&'a Seen);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A failed call that began while the machine's last token still had 3 s or more to live (the
/// keeper's hand-out minimum): the keeper held a token it could have handed out.
fn usable_at_start(c: &Call) -> bool {
    matches!(c.outcome, Outcome::Failed { left_at_start: Some(left), .. } if left >= 3.0)
}

fn sleep_until(fleet: &Fleet, at: f64) {
    let left = at - fleet.secs();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

/// Looks at which any of the test's integrations was `state` (machine, time, name).
fn looks_in_state(fleet: &Fleet, looks: &[Look], state: &str) -> Vec<String> {
    looks
        .iter()
        .filter_map(|l| {
            let states = l.states.as_ref().ok()?;
            let bad: Vec<&String> = fleet.names.iter().filter(|n| states.get(*n).is_some_and(|s| s == state)).collect();
            (!bad.is_empty()).then(|| format!("{} at {:.1}s: {bad:?}", fleet.machines[l.machine].label, l.at))
        })
        .collect()
}

/// Common checks of every run: each machine was looked at regularly, no look failed, none showed
/// *Needs sign-in*; no token handed out was inactive; the provider revoked no grant.
fn assert_nothing_lost(fleet: &Fleet, seen: &Seen, run_secs: f64) {
    let looks = seen.looks();
    for (mi, m) in fleet.machines.iter().enumerate() {
        let n = looks.iter().filter(|l| l.machine == mi).count();
        // one look a second; a loaded machine runs slower, but not ten times slower
        assert!(n as f64 >= run_secs / 10.0, "machine {}: only {n} looks at `list --json` in {run_secs:.0} s", m.label);
    }
    let failed_looks: Vec<String> = looks
        .iter()
        .filter_map(|l| {
            l.states.as_ref().err().map(|e| format!("{} at {:.1}s: {e}", fleet.machines[l.machine].label, l.at))
        })
        .collect();
    assert!(failed_looks.is_empty(), "`list --json` failed: {failed_looks:#?}\n{}", fleet.logs(30));
    let sign_in = looks_in_state(fleet, &looks, "needs-sign-in");
    assert!(sign_in.is_empty(), "Needs sign-in shown: {sign_in:#?}\n{}", fleet.logs(40));
    let calls = seen.calls();
    let inactive: Vec<&Call> = calls.iter().filter(|c| c.outcome == Outcome::Inactive).collect();
    assert!(inactive.is_empty(), "inactive tokens handed out:\n{}", describe(fleet, &inactive, 20));
    let revoked = fleet.server.events_named("grant.revoked");
    assert!(
        revoked.is_empty(),
        "the provider revoked grants (a refresh token reused?): {revoked:#?}\n{}",
        fleet.logs(40)
    );
}

/// Every machine shows every integration `working` (a renewal in flight is waited out), the
/// shared records carry no *needs sign-in* mark and their refresh tokens are active.
fn assert_all_working(fleet: &Fleet, cluster: &tokenkeeper_tests::openbao::BaoCluster) {
    for m in &fleet.machines {
        for name in &fleet.names {
            let mut last = String::new();
            let ok = wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
                last = settled_state(&m.sb, name);
                last == "working"
            });
            assert!(ok, "machine {}: {name} is {last}, not working\n{}", m.label, m.log_tail(40));
        }
    }
    let vault = VaultView::new(cluster);
    for name in &fleet.names {
        assert_eq!(vault.marked_needs_sign_in(name), Some(false), "{name}'s shared record (None: unreadable)");
        // a renewal may consume the refresh token between our read and the introspection: the
        // record must hold an active one at some read within 10 s (a consumed one that stays
        // there means a renewal's result never reached the vault)
        let mut last = None;
        let active = wait_until(Duration::from_secs(10), Duration::from_millis(300), || {
            last = vault.refresh_token(name);
            last.as_ref().is_some_and(|rt| fleet.server.is_active(rt))
        });
        assert!(active, "the shared refresh token of {name} is not active (present: {})", last.is_some());
    }
}

/// The report's lines about calls: per machine the calls and failures, per machine and
/// integration the longest gap between successful answers and the longest call.
fn report_calls(fleet: &Fleet, calls: &[Call], from: f64, to: f64) -> String {
    let mut out = String::new();
    for (mi, m) in fleet.machines.iter().enumerate() {
        let mine: Vec<&Call> = calls.iter().filter(|c| c.machine == mi).collect();
        let failed = mine.iter().filter(|c| matches!(c.outcome, Outcome::Failed { .. })).count();
        out.push_str(&format!("  machine {}: {} token calls, {failed} failed\n", m.label, mine.len()));
        for (ni, name) in fleet.names.iter().enumerate() {
            let these: Vec<&Call> = mine.iter().copied().filter(|c| c.name == ni).collect();
            let (gap, a, b) = longest_gap(&these, from, to);
            let slowest = these.iter().map(|c| c.end - c.start).fold(0.0, f64::max);
            out.push_str(&format!("    {name}: longest gap {gap:.1} s ({a:.1}–{b:.1}), slowest call {slowest:.1} s\n"));
        }
    }
    out
}

/// Per machine: the vault address its keeper uses now (`shared status --json`) against the
/// leader's, and what its daemon logs say about leases (releases refused, waits for another
/// keeper's lease: the latter with `RUST_LOG=tokenkeeper_engine=debug`).
fn keeper_notes(fleet: &Fleet, cluster: &tokenkeeper_tests::openbao::BaoCluster) -> String {
    let leader = cluster.leader().map(|l| cluster.addr(l).to_owned());
    let mut out = format!("  leader now: {leader:?}\n");
    for m in &fleet.machines {
        let status = m.sb.run(&["shared", "status", "--json"], None);
        let address = serde_json::from_slice::<serde_json::Value>(&status.stdout)
            .ok()
            .and_then(|v| v["address"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        let logs: String = tokenkeeper_tests::files_under(&m.sb.logs_dir())
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
        out.push_str(&format!(
            "  machine {}: uses {address}{}; log: {} lease releases refused ({} 'older copy' in all), {} waits for \
             another keeper's lease, {} renewals, {} 'another keeper renewed at the same time'\n",
            m.label,
            if Some(address.trim_end_matches('/')) == leader.as_deref() {
                " (the leader)"
            } else {
                " (not the leader)"
            },
            count("could not give back a renewal lease"),
            count("older copy"),
            count("is renewing it; waiting"),
            count(": renewed ("),
            count("another keeper renewed at the same time"),
        ));
    }
    out
}

// =============================================================================================
// 1. The Raft leader is killed during renewals
// =============================================================================================

#[test]
fn leader_killed_during_renewals() {
    require_test_session();
    let _alone = one_cluster_at_a_time();
    let names = ["lk-alpha", "lk-beta", "lk-gamma"];
    let (mut cluster, fleet) = Fleet::start(3, &names, &[], AT_TTL);
    let seen = Seen::default();
    let timeline = Mutex::new(Vec::new());
    let (mut old, mut new_leader, mut restarted) = (usize::MAX, None, None);
    let (mut t_start, mut t_kill, mut t_leader, mut t_end) = (0.0, 0.0, 0.0, 0.0);
    let (mut ev_kill, mut ev_leader) = (0, 0);

    std::thread::scope(|s| {
        let _stop = StopOnDrop(&seen);
        t_start = fleet.secs();
        start_traffic(s, &fleet, &seen, EVERY);
        std::thread::sleep(Duration::from_secs(10));
        old = cluster.leader().expect("a leader before the fault");
        ev_kill = fleet.server.events().len();
        t_kill = fleet.secs();
        cluster.kill(old);
        fleet.note(&timeline, format!("kill -9 of the leader, node{old}"));
        new_leader = cluster.wait_leader(Duration::from_secs(60));
        t_leader = fleet.secs();
        ev_leader = fleet.server.events().len();
        fleet.note(&timeline, format!("new leader: {new_leader:?} after {:.1} s", t_leader - t_kill));
        if new_leader.is_some() {
            sleep_until(&fleet, t_leader + 30.0);
            restarted = Some(cluster.restart(old).map_err(|e| format!("{e:#}")));
            let standby = wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
                cluster.admin_at(old).health() == Some(429)
            });
            fleet.note(&timeline, format!("node{old} restarted: {restarted:?}, standby again: {standby}"));
            std::thread::sleep(Duration::from_secs(10));
        }
        t_end = fleet.secs();
        seen.stop();
    });

    let calls = seen.calls();
    let events = fleet.server.events();
    let failed: Vec<&Call> = calls.iter().filter(|c| matches!(c.outcome, Outcome::Failed { .. })).collect();
    let usable_existed = failed.iter().filter(|c| usable_at_start(c)).count();
    eprintln!(
        "\nleader_killed_during_renewals: leader node{old} killed at {t_kill:.1}s, new leader {new_leader:?} after \
         {:.1} s; {} token calls, {} failed ({} of them while this machine's last token had 3 s or more to live); \
         renewals per grant: before the kill {:?}, while there was no leader {:?}, after {:?}\n{}",
        t_leader - t_kill,
        calls.len(),
        failed.len(),
        usable_existed,
        renewals_per_grant(&events[..ev_kill]),
        renewals_per_grant(&events[ev_kill..ev_leader]),
        renewals_per_grant(&events[ev_leader..]),
        report_calls(&fleet, &calls, t_start, t_end)
    );
    if !failed.is_empty() {
        eprintln!("failed calls:\n{}", describe(&fleet, &failed, 40));
    }
    eprintln!("keepers after the run:\n{}", keeper_notes(&fleet, &cluster));

    assert!(
        new_leader.is_some_and(|l| l != old),
        "no new leader within 60 s of killing node{old}:\n{}",
        (0..3).map(|i| cluster.log_tail(i)).collect::<Vec<_>>().join("\n---\n")
    );
    assert!(matches!(restarted, Some(Ok(()))), "node{old} could not be restarted: {restarted:?}");
    assert_nothing_lost(&fleet, &seen, t_end - t_start);
    // a call may fail only if it started while there was no leader (1 s: how late the test
    // itself saw the new one), and only as "cannot be served now" (exit 4)
    let misplaced: Vec<&Call> = failed
        .iter()
        .copied()
        .filter(|c| {
            let code = match &c.outcome {
                Outcome::Failed { code, .. } => *code,
                _ => 0,
            };
            code != 4 || c.start < t_kill || c.start > t_leader + 1.0
        })
        .collect();
    assert!(
        misplaced.is_empty(),
        "token calls failed outside the leaderless {t_kill:.1}–{t_leader:.1}s, or not with exit 4:\n{}\n{}",
        describe(&fleet, &misplaced, 30),
        fleet.logs(40)
    );
    // renewals went on through the new leader: every grant, several times in 40 s
    let after = renewals_per_grant(&events[ev_leader..]);
    assert_eq!(after.len(), names.len(), "grants renewed after the new leader: {after:?}");
    assert!(after.values().all(|n| *n >= 4), "renewals per grant after the new leader: {after:?}");
    // and every machine served renewed tokens after the failover
    for (mi, m) in fleet.machines.iter().enumerate() {
        for (ni, name) in names.iter().enumerate() {
            let ok = calls.iter().filter(|c| c.machine == mi && c.name == ni && c.start > t_leader + 1.0);
            assert!(
                ok.filter(|c| c.outcome == Outcome::Active).count() >= 10,
                "machine {}: few active answers of {name} after the new leader",
                m.label
            );
        }
    }
    assert_all_working(&fleet, &cluster);
}

// =============================================================================================
// 2. A follower stopped, then the whole vault sealed longer than a token lives
// =============================================================================================

#[test]
fn node_stopped_and_vault_sealed() {
    require_test_session();
    let _alone = one_cluster_at_a_time();
    let names = ["ss-alpha", "ss-beta", "ss-gamma"];
    let notes = Notifications::new();
    let (mut cluster, fleet) = Fleet::start(3, &names, &[], AT_TTL);
    let seen = Seen::default();
    let timeline = Mutex::new(Vec::new());
    let mut follower = usize::MAX;
    let (mut t_start, mut t_pause, mut t_resumed, mut t_seal, mut t_sealed, mut t_unseal, mut t_serving, mut t_end) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut sealing: Result<Vec<String>, String> = Ok(Vec::new());
    let mut unsealing: Result<(), String> = Ok(());
    // when each machine served an active token of each integration again, after the unseal
    let mut recovered: BTreeMap<(usize, usize), f64> = BTreeMap::new();

    std::thread::scope(|s| {
        let _stop = StopOnDrop(&seen);
        t_start = fleet.secs();
        start_traffic(s, &fleet, &seen, EVERY);
        std::thread::sleep(Duration::from_secs(5));

        // a follower stops answering (and keeps its connections open) for 20 s
        let leader = cluster.leader().expect("a leader");
        follower = (leader + 1) % 3;
        t_pause = fleet.secs();
        cluster.pause(follower);
        fleet.note(&timeline, format!("SIGSTOP of follower node{follower} (leader node{leader})"));
        std::thread::sleep(Duration::from_secs(20));
        cluster.resume(follower);
        let back = wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
            cluster.admin_at(follower).health().is_some()
        });
        t_resumed = fleet.secs();
        fleet.note(&timeline, format!("SIGCONT of node{follower}; answers again: {back}"));
        std::thread::sleep(Duration::from_secs(5));

        // the whole vault sealed for three token lives
        t_seal = fleet.secs();
        sealing = cluster.seal_all().map_err(|e| format!("{e:#}"));
        t_sealed = fleet.secs();
        fleet.note(&timeline, format!("every node sealed: {sealing:?}"));
        if sealing.is_ok() {
            sleep_until(&fleet, t_sealed + 25.0);
            t_unseal = fleet.secs();
            unsealing = cluster.unseal_all().map_err(|e| format!("{e:#}"));
            let leader = cluster.wait_leader(Duration::from_secs(60));
            t_serving = fleet.secs();
            fleet.note(
                &timeline,
                format!("unsealed ({unsealing:?}); leader {leader:?} after {:.1} s", t_serving - t_unseal),
            );
            // until every machine serves every integration again (measured up to 60 s)
            wait_until(Duration::from_secs(60), Duration::from_millis(250), || {
                for c in seen.calls.lock().unwrap().iter() {
                    if c.start >= t_unseal && c.outcome == Outcome::Active {
                        recovered.entry((c.machine, c.name)).or_insert(c.end);
                    }
                }
                recovered.len() == fleet.machines.len() * names.len()
            });
            fleet
                .note(&timeline, format!("{} of {} served again", recovered.len(), fleet.machines.len() * names.len()));
            std::thread::sleep(Duration::from_secs(3));
        }
        t_end = fleet.secs();
        seen.stop();
    });

    let calls = seen.calls();
    let looks = seen.looks();
    let failed = |from: f64, to: f64| -> Vec<&Call> {
        calls
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed { .. }) && c.start >= from && c.start < to)
            .collect()
    };
    let (stopped_failed, sealed_failed, after_failed) =
        (failed(t_pause, t_seal), failed(t_seal, t_unseal), failed(t_unseal, f64::MAX));
    let slowest_recovery = recovered.values().map(|t| t - t_unseal).fold(0.0, f64::max);
    let states_while_sealed: BTreeSet<String> = looks
        .iter()
        .filter(|l| l.at >= t_seal && l.at < t_unseal)
        .filter_map(|l| l.states.as_ref().ok())
        .flat_map(|st| names.iter().filter_map(|n| st.get(*n).cloned()))
        .collect();
    let outcomes_while_sealed: BTreeMap<String, usize> =
        calls.iter().filter(|c| c.start >= t_sealed && c.start < t_unseal).fold(BTreeMap::new(), |mut m, c| {
            let key = match &c.outcome {
                Outcome::Active => "active token".to_owned(),
                Outcome::Inactive => "INACTIVE token".to_owned(),
                Outcome::Failed { code, .. } => format!("exit {code}"),
            };
            *m.entry(key).or_default() += 1;
            m
        });
    eprintln!(
        "\nnode_stopped_and_vault_sealed: follower node{follower} stopped {t_pause:.1}–{t_resumed:.1}s: {} failed \
         calls; sealed {t_seal:.1}s (all sealed at {t_sealed:.1}s) to {t_unseal:.1}s: answers {outcomes_while_sealed:?}, \
         states seen {states_while_sealed:?}; vault serving {:.1} s after unsealing; every machine served every \
         integration again {slowest_recovery:.1} s after unsealing ({} failed calls after the unseal)\n{}",
        stopped_failed.len(),
        t_serving - t_unseal,
        after_failed.len(),
        report_calls(&fleet, &calls, t_start, t_end)
    );
    for (what, list) in [("while stopped", &stopped_failed), ("while sealed", &sealed_failed), ("after", &after_failed)]
    {
        if !list.is_empty() {
            eprintln!("failed calls {what}:\n{}", describe(&fleet, list, 20));
        }
    }
    eprintln!("keepers after the run:\n{}", keeper_notes(&fleet, &cluster));

    assert!(sealing.is_ok(), "could not seal the cluster: {sealing:?}");
    assert!(unsealing.is_ok(), "could not unseal the cluster: {unsealing:?}");
    assert_nothing_lost(&fleet, &seen, t_end - t_start);
    // the stopped follower costs at most a few timeouts, each "cannot be served now" (exit 4)
    assert!(
        stopped_failed.len() <= 3
            && stopped_failed.iter().all(|c| matches!(c.outcome, Outcome::Failed { code: 4, .. })),
        "{} token calls failed while a follower was stopped:\n{}\n{}",
        stopped_failed.len(),
        describe(&fleet, &stopped_failed, 20),
        fleet.logs(30)
    );
    // sealed: a live token (checked above for every answer) or exit 4, never 3 or anything else
    let wrong: Vec<&Call> =
        sealed_failed.iter().copied().filter(|c| !matches!(c.outcome, Outcome::Failed { code: 4, .. })).collect();
    assert!(
        wrong.is_empty(),
        "while sealed, `token` failed otherwise than with exit 4:\n{}",
        describe(&fleet, &wrong, 20)
    );
    // the keepers said so: every integration retrying or offline on every machine
    for (mi, m) in fleet.machines.iter().enumerate() {
        for name in names {
            let said = looks.iter().any(|l| {
                l.machine == mi
                    && l.at >= t_seal
                    && l.at <= t_unseal + 1.0
                    && l.states.as_ref().is_ok_and(|st| st.get(name).is_some_and(|s| s == "retrying" || s == "offline"))
            });
            assert!(said, "machine {}: {name} never showed retrying/offline while the vault was sealed", m.label);
        }
    }
    // Back within 30 s of the unseal, and what people were told: every finding is collected and
    // reported together (a slow recovery says more next to the notices it caused).
    let mut problems: Vec<String> = Vec::new();
    // every machine serves every integration …
    for (mi, m) in fleet.machines.iter().enumerate() {
        for (ni, name) in names.iter().enumerate() {
            let at = recovered.get(&(mi, ni)).map(|t| t - t_unseal);
            if !at.is_some_and(|a| a <= 30.0) {
                problems.push(format!(
                    "machine {}: {name} served again {at:?} s after the unseal (must be ≤ 30 s)",
                    m.label
                ));
            }
        }
    }
    // … and shows every integration working
    for (mi, m) in fleet.machines.iter().enumerate() {
        let working = looks.iter().find(|l| {
            l.machine == mi
                && l.at >= t_unseal
                && l.states.as_ref().is_ok_and(|st| names.iter().all(|n| st.get(*n).is_some_and(|s| s == "working")))
        });
        if !working.is_some_and(|l| l.at - t_unseal <= 30.0) {
            problems.push(format!(
                "machine {}: not every integration working within 30 s of the unseal (first at {:?} s)",
                m.label,
                working.map(|l| l.at - t_unseal)
            ));
        }
    }

    // What people saw: no call to sign in; per integration at most one "stops working" notice per
    // machine, and after the recovery as many "working again" ones (each machine that warned
    // says it is over).
    // a notice is about `name` when its summary is, or when it groups notices that arrived
    // together (three or more: one line "• <summary>" each in its body)
    let says = |n: &tokenkeeper_tests::Notice, summary: &str| {
        n.summary == summary || n.body.lines().any(|l| l.trim() == format!("• {summary}"))
    };
    let trouble_of = |name: &str| {
        notes.count(|n| {
            !n.is_critical()
                && (says(n, &format!("{name} stopped working")) || says(n, &format!("{name} may stop working soon")))
        })
    };
    let back_of = |name: &str| notes.count(|n| says(n, &format!("{name} is working again")));
    wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        names.iter().all(|n| back_of(n) >= trouble_of(n).max(1))
    });
    let ours: Vec<String> = notes
        .all()
        .into_iter()
        .filter(|n| names.iter().any(|name| n.summary.starts_with(&format!("{name} "))))
        .map(|n| {
            let at = (n.time_ms as i64 - fleet.t0_wall_ms) as f64 / 1000.0;
            format!("{at:.1}s {} [{}] {}", n.summary, n.urgency, n.body)
        })
        .collect();
    eprintln!("notifications:\n  {}", ours.join("\n  "));
    for name in names {
        let critical = notes.count(|n| n.is_critical() && n.summary.starts_with(&format!("{name} ")));
        if critical != 0 {
            problems.push(format!("{critical} critical notices of {name}"));
        }
        let (trouble, back) = (trouble_of(name), back_of(name));
        if trouble > fleet.machines.len() {
            problems
                .push(format!("{trouble} 'stops working' notices of {name} from {} machines", fleet.machines.len()));
        }
        if back < 1 || back != trouble {
            problems.push(format!("{name}: {trouble} 'stops working' notices, {back} 'working again'"));
        }
    }
    assert!(
        problems.is_empty(),
        "after the unseal:\n  {}\nnotifications:\n  {}\n{}",
        problems.join("\n  "),
        ours.join("\n  "),
        fleet.logs(40)
    );
    assert_all_working(&fleet, &cluster);
}

// =============================================================================================
// 3. A keeper killed while it holds a renewal lease
// =============================================================================================

#[test]
fn keeper_killed_holding_a_lease() {
    require_test_session();
    let _alone = one_cluster_at_a_time();
    let names = ["kl-alpha", "kl-beta", "kl-gamma"];
    let probe = "kl-probe";
    let (cluster, fleet) = Fleet::start(3, &names, &[probe], AT_TTL);
    let timeline = Mutex::new(Vec::new());

    // Each keeper's id in leases: `refresh` of an integration nobody signed in takes its lease
    // (and gives it back), and nobody else ever renews it.
    let mut ids: Vec<String> = Vec::new();
    for m in &fleet.machines {
        let knows = wait_until(Duration::from_secs(40), Duration::from_millis(500), || {
            list_states(&m.sb).is_ok_and(|st| st.contains_key(probe))
        });
        assert!(knows, "machine {} does not list {probe}", m.label);
        let vault = VaultView::new(&cluster);
        let before = vault.lease(probe).map_or(0, |l| l.0);
        let _ = m.sb.run(&["refresh", probe], None);
        let mut id = None;
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            id = vault.lease_version(probe, before + 1).map(|(h, _)| h).filter(|h| !h.is_empty());
            id.is_some()
        });
        let id = id.unwrap_or_else(|| panic!("machine {}: `refresh {probe}` wrote no lease holder", m.label));
        ids.push(id);
    }
    eprintln!("keeper ids: {ids:?}");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "keeper ids not distinct: {ids:?}");
    fleet.machines[0].sb.run_ok(&["remove", probe], None);
    let label_of = |holder: &str| {
        ids.iter()
            .position(|i| i == holder)
            .map_or_else(|| format!("{holder} (a new keeper)"), |i| fleet.machines[i].label.clone())
    };

    let victim = 2;
    let c = &fleet.machines[victim];
    let seen = Seen::default();
    let ev_run = fleet.server.events().len();
    let mut caught: Option<(usize, u64, i64)> = None; // (integration, lease version, until_ms)
    let mut near_misses = Vec::new();
    let (mut t_start, mut t_stop, mut t_kill, mut kill_ms, mut t_end) = (0.0, 0.0, 0.0, 0i64, 0.0);
    // the first lease write after the victim's: (seen at, version, holder, written at ms)
    let mut takeover: Option<(f64, u64, String, Option<i64>)> = None;
    let (mut ev_kill, mut ev_takeover) = (0, 0);
    // every lease the dead keeper held: (integration, version, until_ms)
    let mut held_by_dead: Vec<(usize, u64, i64)> = Vec::new();

    std::thread::scope(|s| {
        let _stop = StopOnDrop(&seen);
        t_start = fleet.secs();
        start_traffic(s, &fleet, &seen, EVERY);
        std::thread::sleep(Duration::from_secs(3));
        let leader = cluster.leader().expect("a leader");
        let vault = VaultView::at(&cluster, leader);
        // a keeper takes a lease only to renew and gives it back within a fraction of a second:
        // on a loaded machine catching it at a moment when the kill cannot lose the grant by
        // itself may take several renewal rounds
        let deadline = Instant::now() + CATCH_WITHIN;
        'catch: while Instant::now() < deadline {
            for (ni, name) in names.iter().enumerate() {
                let Some((_, holder, until)) = vault.lease(name) else { continue };
                if holder != ids[victim] || until <= wall_ms() {
                    continue;
                }
                // caught renewing: stop it where it is, and let anything already sent arrive
                c.set_paused(true);
                c.signal(Signal::SIGSTOP);
                t_stop = fleet.secs();
                std::thread::sleep(Duration::from_millis(500));
                // every lease it holds now (it may be renewing several integrations at once),
                // each with the vault's refresh token still alive
                let now_ms = wall_ms();
                let held_all: Vec<(usize, u64, i64)> = names
                    .iter()
                    .enumerate()
                    .filter_map(|(k, n)| {
                        let (v, h, u) = vault.lease(n)?;
                        (h == ids[victim] && u > now_ms).then_some((k, v, u))
                    })
                    .collect();
                let held = held_all.iter().find(|(k, _, _)| *k == ni).copied();
                let rt_alive = held_all
                    .iter()
                    .all(|(k, _, _)| vault.refresh_token(names[*k]).is_some_and(|rt| fleet.server.is_active(&rt)));
                match held {
                    Some((_, version, until)) if rt_alive => {
                        c.kill_daemon();
                        t_kill = fleet.secs();
                        kill_ms = wall_ms();
                        caught = Some((ni, version, until));
                        held_by_dead = held_all.clone();
                        fleet.note(
                            &timeline,
                            format!(
                                "kill -9 of machine C's daemon holding the lease of {name} (version {version}, \
                                 {:.1} s left)",
                                (until - kill_ms) as f64 / 1000.0
                            ),
                        );
                        break 'catch;
                    }
                    _ => {
                        // gave it back already, or the provider has rotated the refresh token and
                        // the answer is not in the vault yet (a kill now would lose the grant
                        // whatever the keepers do): let it go on
                        near_misses
                            .push(format!("{name} at {t_stop:.1}s: held {held:?}, refresh token alive {rt_alive}"));
                        c.signal(Signal::SIGCONT);
                        c.set_paused(false);
                        std::thread::sleep(Duration::from_millis(300));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let Some((ni, version, _)) = caught else {
            t_end = fleet.secs();
            return;
        };
        ev_kill = fleet.server.events().len();
        // the machine comes back 5 s later: a new keeper (a new id) on the same machine
        std::thread::sleep(Duration::from_secs(5));
        c.restart_daemon();
        c.set_paused(false);
        fleet.note(&timeline, "machine C's daemon started again");
        // who takes the lease over, and when (its metadata says when it was written)
        let name = names[ni];
        wait_until(Duration::from_secs(100), Duration::from_millis(200), || {
            let Some((v, _, _)) = VaultView::new(&cluster).lease(name) else { return false };
            if v <= version {
                return false;
            }
            let vault = VaultView::new(&cluster);
            let holder = vault.lease_version(name, version + 1).map(|(h, _)| h).unwrap_or_default();
            let written = vault.written_at(&format!("leases/{name}"), version + 1);
            takeover = Some((fleet.secs(), version + 1, holder, written));
            true
        });
        ev_takeover = fleet.server.events().len();
        fleet.note(&timeline, format!("take-over: {takeover:?}"));
        std::thread::sleep(Duration::from_secs(6));
        t_end = fleet.secs();
        seen.stop();
    });

    let calls = seen.calls();
    let events = fleet.server.events();
    let survivors: Vec<usize> = (0..fleet.machines.len()).filter(|&m| m != victim).collect();
    eprintln!("near misses (not killed): {near_misses:#?}");
    let (ni, version, until_ms) = caught.unwrap_or_else(|| {
        panic!(
            "machine C was never caught holding a lease with the vault's refresh token alive in {CATCH_WITHIN:?}: {near_misses:#?}"
        )
    });
    let locked = names[ni];
    let all_locked: Vec<&str> = held_by_dead.iter().map(|(k, _, _)| names[*k]).collect();
    eprintln!("leases the dead keeper held: {all_locked:?}");
    let (t_seen, takeover_version, holder, written) = takeover.clone().unwrap_or_else(|| {
        panic!(
            "nobody took the lease of {locked} over within 100 s of the kill (it ended {:.1} s after it)\n{}",
            (until_ms - kill_ms) as f64 / 1000.0,
            fleet.logs(60)
        )
    });
    let written = written.unwrap_or_else(|| panic!("no created_time of leases/{locked} version {takeover_version}"));
    let after_kill = (written - kill_ms) as f64 / 1000.0;
    let after_end = (written - until_ms - CLOCK_ALLOWANCE_MS) as f64 / 1000.0;
    let survivor_calls: Vec<Call> = calls.iter().filter(|c| survivors.contains(&c.machine)).cloned().collect();
    let survivor_failed: Vec<&Call> =
        survivor_calls.iter().filter(|c| matches!(c.outcome, Outcome::Failed { .. })).collect();
    let usable_existed = survivor_failed.iter().filter(|c| usable_at_start(c)).count();
    let gaps: Vec<(String, f64, f64, f64)> = survivors
        .iter()
        .flat_map(|&mi| {
            let (calls, fleet) = (&calls, &fleet);
            names.iter().enumerate().map(move |(n, name)| {
                let these: Vec<&Call> = calls.iter().filter(|c| c.machine == mi && c.name == n).collect();
                let (gap, a, b) = longest_gap(&these, t_start, t_end);
                (format!("{}:{name}", fleet.machines[mi].label), gap, a, b)
            })
        })
        .collect();
    let longest =
        gaps.iter().cloned().fold(("".to_owned(), 0.0, 0.0, 0.0), |best, g| if g.1 > best.1 { g } else { best });
    eprintln!(
        "\nkeeper_killed_holding_a_lease: machine C stopped at {t_stop:.1}s and killed at {t_kill:.1}s holding the \
         lease of {locked} (version {version}, ending {:.1} s after the kill); taken over by {} (version \
         {takeover_version}) {after_kill:.1} s after the kill ({after_end:+.1} s after the lease's end + allowance), \
         seen at {t_seen:.1}s; surviving machines: {} token calls, {} failed ({usable_existed} of them while the \
         machine's last token had 3 s or more to live); longest gap in a surviving machine's answers: {:.1} s ({} \
         {:.1}–{:.1}s); renewals per grant: before the kill {:?}, from the kill to the take-over {:?}, after {:?}\n{}",
        (until_ms - kill_ms) as f64 / 1000.0,
        label_of(&holder),
        survivor_calls.len(),
        survivor_failed.len(),
        longest.1,
        longest.0,
        longest.2,
        longest.3,
        renewals_per_grant(&events[ev_run..ev_kill]),
        renewals_per_grant(&events[ev_kill..ev_takeover]),
        renewals_per_grant(&events[ev_takeover..]),
        report_calls(&fleet, &calls, t_start, t_end)
    );
    if !survivor_failed.is_empty() {
        eprintln!("surviving machines' failed calls:\n{}", describe(&fleet, &survivor_failed, 40));
    }
    eprintln!("keepers after the run:\n{}", keeper_notes(&fleet, &cluster));

    // nobody took the dead keeper's lease before it lapsed (its end + the clock allowance; the
    // vault stamps a write a little after the keeper decided), and a keeper took it over in time
    assert!(
        written >= until_ms + CLOCK_ALLOWANCE_MS - 250,
        "the lease of {locked} was taken {after_end:.1} s before it lapsed"
    );
    assert!(
        after_kill <= (LEASE_TIME_MS + CLOCK_ALLOWANCE_MS) as f64 / 1000.0 + 10.0,
        "the lease of {locked} was taken over {after_kill:.1} s after the kill\n{}",
        fleet.logs(60)
    );
    assert_ne!(holder, ids[victim], "the dead keeper's id wrote its lease again");
    assert_nothing_lost(&fleet, &seen, t_end - t_start);
    // the surviving machines fail only on the locked integration, only with exit 4, only between
    // the stop and the take-over
    let misplaced: Vec<&Call> = survivor_failed
        .iter()
        .copied()
        .filter(|c| {
            !held_by_dead.iter().any(|(k, _, _)| *k == c.name)
                || !matches!(c.outcome, Outcome::Failed { code: 4, .. })
                || c.start < t_stop - 0.5
                || c.start > t_seen + 5.0
        })
        .collect();
    assert!(
        misplaced.is_empty(),
        "surviving machines failed other than on {all_locked:?} between {t_stop:.1}s and {t_seen:.1}s with exit 4:\n{}\n{}",
        describe(&fleet, &misplaced, 30),
        fleet.logs(40)
    );
    // as a script sees it: a token again within the lease's time (+ slack) on every surviving machine
    assert!(
        longest.1 <= (LEASE_TIME_MS + CLOCK_ALLOWANCE_MS) as f64 / 1000.0 + 10.0,
        "a surviving machine went {:.1} s without a token ({})",
        longest.1,
        longest.0
    );
    // every grant renewed after the take-over
    let after = renewals_per_grant(&events[ev_takeover..]);
    assert_eq!(after.len(), names.len(), "grants renewed after the take-over: {after:?}\n{}", fleet.logs(40));
    assert_all_working(&fleet, &cluster);
}

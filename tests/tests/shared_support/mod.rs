//! Steps of the shared-integration tests on a three-node OpenBao Raft cluster
//! (`tests/shared_faults.rs`): keepers ("machines", each a [`Sandbox`] running the real
//! `tokenkeeper daemon`) connected with every node's address, shared integrations signed in once,
//! a `token` loop per machine and integration whose every answer the provider introspects, a
//! poller of `list --json`, and the vault's own records read as an administrator would.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokenkeeper_tests::openbao::{bao_api_timeout, BaoCluster};
use tokenkeeper_tests::{wait_until, Daemon, OidcOptions, OidcServer, Sandbox};

use crate::common::*;

/// The KV v2 mount and the path of the shared space.
pub const MOUNT: &str = "secret";
pub const TEAM: &str = "tokenkeeper/team";

/// How long one look at the vault may take (a stopped node never answers).
const VAULT_LOOK: Duration = Duration::from_secs(3);

/// A policy that allows everything a keeper does in the shared space and nothing else.
pub fn team_policy() -> String {
    format!(
        "path \"{MOUNT}/data/{TEAM}/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\"] }}\n\
         path \"{MOUNT}/metadata/{TEAM}/*\" {{ capabilities = [\"list\", \"read\", \"delete\"] }}\n"
    )
}

/// Wall-clock milliseconds (what lease records and KV metadata hold).
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// KV v2's `created_time` (RFC 3339, UTC, e.g. `2026-12-06T12:00:01.123456789Z`) in
/// milliseconds since the epoch.
pub fn rfc3339_ms(s: &str) -> Option<i64> {
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let secs: f64 = t.next()?.parse().ok()?;
    // days from the civil date (Howard Hinnant's algorithm)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3_600 + mm * 60) as f64 * 1_000.0 + secs * 1_000.0) as i64)
}

// =============================================================================================
// The vault, as an administrator reads it
// =============================================================================================

/// Reads the shared space through whichever node serves (the leader first), with the root token.
pub struct VaultView<'a> {
    cluster: &'a BaoCluster,
    /// The node asked first without looking for the leader (a fast poll), if any.
    first: Option<usize>,
}

impl<'a> VaultView<'a> {
    /// Asks the leader first (found by asking every node's health).
    pub fn new(cluster: &'a BaoCluster) -> Self {
        Self { cluster, first: None }
    }

    /// Asks node `i` first (for polling: no health calls).
    pub fn at(cluster: &'a BaoCluster, i: usize) -> Self {
        Self { cluster, first: Some(i) }
    }

    /// `GET <MOUNT>/<kind>/<TEAM>/<rel>` on the first node that answers it (200 or 404); `None`
    /// when none does.
    fn get(&self, kind: &str, rel: &str) -> Option<(u16, Value)> {
        let path = format!("{MOUNT}/{kind}/{TEAM}/{rel}");
        let root = self.cluster.root_token();
        let mut order: Vec<usize> = (0..self.cluster.addrs().len()).filter(|&i| self.cluster.is_running(i)).collect();
        if let Some(l) = self.first.or_else(|| self.cluster.leader()) {
            order.retain(|&i| i != l);
            order.insert(0, l);
        }
        order.into_iter().find_map(|i| {
            let (status, v) = bao_api_timeout(VAULT_LOOK, self.cluster.addr(i), Some(root), "GET", &path, None).ok()?;
            matches!(status, 200 | 404).then_some((status, v))
        })
    }

    /// The data of `<TEAM>/<rel>` (its current version, or `version`); `None` when absent.
    pub fn data(&self, rel: &str) -> Option<Value> {
        let (status, v) = self.get("data", rel)?;
        (status == 200 && !v["data"]["data"].is_null()).then(|| v["data"]["data"].clone())
    }

    /// The KV v2 metadata of `<TEAM>/<rel>`.
    pub fn metadata(&self, rel: &str) -> Option<Value> {
        let (status, v) = self.get("metadata", rel)?;
        (status == 200).then(|| v["data"].clone())
    }

    /// The refresh token an integration's record holds, if any.
    pub fn refresh_token(&self, name: &str) -> Option<String> {
        let record = self.data(&format!("integrations/{name}"))?;
        strings_under(&record["secrets"], "refresh_token").into_iter().find(|t| !t.is_empty())
    }

    /// Whether an integration's record carries the "needs sign-in" mark.
    pub fn marked_needs_sign_in(&self, name: &str) -> Option<bool> {
        let record = self.data(&format!("integrations/{name}"))?;
        Some(!matches!(record.get("needs_sign_in"), None | Some(Value::Null) | Some(Value::Bool(false))))
    }

    /// The lease of `name` as stored: (version, holder, until_ms).
    pub fn lease(&self, name: &str) -> Option<(u64, String, i64)> {
        let (status, v) = self.get("data", &format!("leases/{name}"))?;
        if status != 200 {
            return None;
        }
        let version = v["data"]["metadata"]["version"].as_u64()?;
        let data = &v["data"]["data"];
        Some((version, data["holder"].as_str().unwrap_or("").to_owned(), data["until_ms"].as_i64().unwrap_or(0)))
    }

    /// Version `version` of the lease of `name`: (holder, until_ms).
    pub fn lease_version(&self, name: &str, version: u64) -> Option<(String, i64)> {
        let (status, v) = self.get("data", &format!("leases/{name}?version={version}"))?;
        (status == 200).then(|| {
            let data = &v["data"]["data"];
            (data["holder"].as_str().unwrap_or("").to_owned(), data["until_ms"].as_i64().unwrap_or(0))
        })
    }

    /// When version `version` of `<TEAM>/<rel>` was written (wall-clock ms), from its metadata.
    pub fn written_at(&self, rel: &str, version: u64) -> Option<i64> {
        let meta = self.metadata(rel)?;
        rfc3339_ms(meta["versions"][version.to_string()]["created_time"].as_str()?)
    }
}

/// Every string under a key named `key`, anywhere in `v` — also inside strings that hold JSON.
pub fn strings_under(v: &Value, key: &str) -> Vec<String> {
    fn walk(v: &Value, key: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    if k == key {
                        if let Some(s) = x.as_str() {
                            out.push(s.to_owned());
                        }
                    }
                    walk(x, key, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, key, out)),
            Value::String(s) => {
                if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(s) {
                    walk(&inner, key, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, key, &mut out);
    out
}

/// The grant id of a fixture event line (`… grant=<id> …`).
pub fn grant_of(event: &str) -> Option<&str> {
    event.split_whitespace().find_map(|p| p.strip_prefix("grant="))
}

/// Renewals (`refresh_token.consumed`) per grant among `events`.
pub fn renewals_per_grant(events: &[String]) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    for e in events {
        if e.split_whitespace().nth(1) == Some("refresh_token.consumed") {
            *per.entry(grant_of(e).unwrap_or("?").to_owned()).or_default() += 1;
        }
    }
    per
}

// =============================================================================================
// Machines
// =============================================================================================

/// One machine: its sandbox and its daemon (which a test may kill and start again).
pub struct Machine {
    pub label: String,
    pub sb: Sandbox,
    pub daemon: Mutex<Option<Daemon>>,
    /// While set, the loops leave this machine alone (its daemon is stopped or dead: a `token`
    /// then runs the keeper in-process, which waits for a dead keeper's lease up to a minute).
    pub paused: AtomicBool,
}

impl Machine {
    pub fn pid(&self) -> Option<u32> {
        self.daemon.lock().unwrap().as_ref().and_then(Daemon::pid)
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// `kill -9` of its daemon (a crash, a power cut); the socket file is left behind.
    pub fn kill_daemon(&self) {
        if let Some(mut d) = self.daemon.lock().unwrap().take() {
            d.kill();
            // a killed daemon's log is kept under the daemon's number (daemon-<n>.log)
        }
    }

    /// Starts its daemon again (the machine came back), over the dead one's socket file.
    pub fn restart_daemon(&self) {
        let _ = std::fs::remove_file(self.sb.socket_path());
        *self.daemon.lock().unwrap() = Some(self.sb.spawn_daemon());
    }

    /// The last lines of every daemon log of this machine (a restarted daemon writes a new one).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in tokenkeeper_tests::files_under(&self.sb.logs_dir()) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- machine {} {} (last {lines} lines)\n", self.label, path.display()));
            out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            out.push('\n');
        }
        out
    }

    /// Signals its daemon (SIGSTOP / SIGCONT).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
        }
    }
}

/// `tokenkeeper token NAME`: the token, or the exit code and what it said.
pub fn try_token(sb: &Sandbox, name: &str) -> Result<String, (i32, String)> {
    let out = sb.run(&["token", name], None);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err((exit_code(&out), stderr(&out).trim().to_owned()))
    }
}

/// `list --json`: each listed integration's state.
pub fn list_states(sb: &Sandbox) -> Result<BTreeMap<String, String>, String> {
    let out = sb.run(&["list", "--json"], None);
    if !out.status.success() {
        return Err(format!("exit {}: {}", exit_code(&out), stderr(&out).trim()));
    }
    let all: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("list --json: {e}"))?;
    Ok(all
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| (v["name"].as_str().unwrap_or("").to_owned(), v["state"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default())
}

// =============================================================================================
// The fleet: a cluster, the provider, machines, integrations
// =============================================================================================

/// The keepers' side of a test (the cluster is kept apart: a test kills and restarts its nodes
/// while the loops borrow this).
pub struct Fleet {
    pub server: OidcServer,
    pub machines: Vec<Machine>,
    pub names: Vec<String>,
    pub t0: Instant,
    /// `t0` on the wall clock (ms), to place notifications (`time_ms`) on the same axis.
    pub t0_wall_ms: i64,
}

impl Fleet {
    /// A three-node cluster, the provider with `at_ttl` s access tokens (refresh tokens rotated
    /// on every use, a reused one revokes the grant), `machines` keepers connected with every
    /// node's address (each machine lists them in another order), and `names` added on the first
    /// machine with `--shared` and signed in there once. Returns when every machine serves an
    /// active token of every integration. `extra` are added too but never signed in.
    pub fn start(machines: usize, names: &[&str], extra: &[&str], at_ttl: u64) -> (BaoCluster, Self) {
        let (t0, t0_wall_ms) = (Instant::now(), wall_ms());
        let cluster = BaoCluster::start(3);
        eprintln!("[{:6.1}] three-node cluster up", t0.elapsed().as_secs_f64());
        let admin = cluster.admin();
        admin.write_policy("tokenkeeper-team", &team_policy()).expect("the team policy");
        let server = OidcServer::start(OidcOptions { at_ttl, ..OidcOptions::default() });
        let addrs = cluster.addrs();
        let labels = ["A", "B", "C", "D", "E", "F", "G", "H"];
        let machines: Vec<Machine> = (0..machines)
            .map(|i| {
                let sb = Sandbox::new();
                let credential = if i == 0 {
                    cluster.root_token().to_owned()
                } else {
                    admin.create_token(&["tokenkeeper-team"], "1h", "24h").expect("a team token")
                };
                let mut args = vec!["shared", "connect"];
                for k in 0..addrs.len() {
                    args.extend(["--address", addrs[(i + k) % addrs.len()].as_str()]);
                }
                args.extend(["--mount", MOUNT, "--path", TEAM, "--token-stdin"]);
                let out = sb.run(&args, Some(&format!("{credential}\n")));
                assert_eq!(exit_code(&out), 0, "machine {}: shared connect: {}", labels[i], stderr(&out));
                let daemon = sb.spawn_daemon();
                Machine {
                    label: labels[i].to_owned(),
                    sb,
                    daemon: Mutex::new(Some(daemon)),
                    paused: AtomicBool::new(false),
                }
            })
            .collect();
        let a = &machines[0].sb;
        let issuer = server.issuer();
        for name in names.iter().chain(extra) {
            let args = ["--shared", "--provider", "oauth2", "--issuer", &issuer, "--scope", SCOPE];
            a.add_confidential_ok(name, &args, "test-native", "test-secret");
        }
        for name in names {
            login(a, name);
        }
        let fleet = Fleet { server, machines, names: names.iter().map(|n| n.to_string()).collect(), t0, t0_wall_ms };
        for m in &fleet.machines {
            for name in &fleet.names {
                let mut last = String::from("never asked");
                let served =
                    wait_until(Duration::from_secs(60), Duration::from_millis(500), || match try_token(&m.sb, name) {
                        Ok(t) if fleet.server.is_active(&t) => true,
                        Ok(_) => {
                            last = "an inactive token".into();
                            false
                        }
                        Err((code, said)) => {
                            last = format!("exit {code}: {said}");
                            false
                        }
                    });
                assert!(served, "machine {} never served {name}: {last}\n{}", m.label, m.log_tail(40));
            }
        }
        eprintln!("[{:6.1}] every machine serves every integration", fleet.secs());
        (cluster, fleet)
    }

    /// Seconds since the fleet was started (the time axis of every report).
    pub fn secs(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Every machine's daemon logs (the last `lines` of each), for a failure's message.
    pub fn logs(&self, lines: usize) -> String {
        self.machines.iter().map(|m| m.log_tail(lines)).collect::<Vec<_>>().join("")
    }

    pub fn note(&self, timeline: &Mutex<Vec<(f64, String)>>, what: impl Into<String>) {
        let what = what.into();
        let t = self.secs();
        eprintln!("[{t:6.1}] {what}");
        timeline.lock().unwrap().push((t, what));
    }
}

// =============================================================================================
// Traffic and what it saw
// =============================================================================================

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A token the provider called active.
    Active,
    /// A token the provider called inactive (never allowed).
    Inactive,
    /// `token` failed: its exit code, what it said, and how many seconds the last token this
    /// machine was given for this integration still had to live when the call began (by the
    /// provider's `exp`; 3 s or more: the keeper had a token it could have handed out).
    Failed { code: i32, said: String, left_at_start: Option<f64> },
}

/// One `token` call: machine and integration (indexes), when it started and ended (seconds on
/// the fleet's axis), and its outcome.
#[derive(Clone, Debug)]
pub struct Call {
    pub machine: usize,
    pub name: usize,
    pub start: f64,
    pub end: f64,
    pub outcome: Outcome,
}

/// One `list --json` look at one machine.
#[derive(Clone, Debug)]
pub struct Look {
    pub machine: usize,
    pub at: f64,
    pub states: Result<BTreeMap<String, String>, String>,
}

/// What the loops saw.
#[derive(Default)]
pub struct Seen {
    pub calls: Mutex<Vec<Call>>,
    pub looks: Mutex<Vec<Look>>,
    pub stop: AtomicBool,
}

impl Seen {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    pub fn looks(&self) -> Vec<Look> {
        self.looks.lock().unwrap().clone()
    }
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Starts, in `scope`, one `token` loop per machine and integration (a call every `every`,
/// each answer introspected) and one `list --json` poller per machine (every second). They run
/// until [`Seen::stop`]; a paused machine is skipped.
pub fn start_traffic<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    fleet: &'env Fleet,
    seen: &'env Seen,
    every: Duration,
) {
    for (mi, m) in fleet.machines.iter().enumerate() {
        for (ni, name) in fleet.names.iter().enumerate() {
            scope.spawn(move || {
                // when the last active token handed out ends (wall-clock seconds, the provider's `exp`)
                let mut last_exp: Option<f64> = None;
                // spread the loops over the period
                std::thread::sleep(every.mul_f64((mi * fleet.names.len() + ni) as f64 / 9.0));
                while !seen.stopped() {
                    if m.is_paused() {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    let (start, start_wall) = (fleet.secs(), wall_ms() as f64 / 1000.0);
                    let answer = try_token(&m.sb, name);
                    let end = fleet.secs();
                    let outcome = match answer {
                        Ok(t) => {
                            let seen = fleet.server.introspect(&t);
                            if seen["active"] == serde_json::Value::Bool(true) {
                                last_exp = seen["exp"].as_f64().or(last_exp);
                                Outcome::Active
                            } else {
                                Outcome::Inactive
                            }
                        }
                        Err((code, said)) => {
                            Outcome::Failed { code, said, left_at_start: last_exp.map(|e| e - start_wall) }
                        }
                    };
                    // a call on a machine paused meanwhile (its daemon stopped or killed under
                    // it) is said apart by the test, from the timeline
                    seen.calls.lock().unwrap().push(Call { machine: mi, name: ni, start, end, outcome });
                    std::thread::sleep(every);
                }
            });
        }
        scope.spawn(move || {
            while !seen.stopped() {
                if !m.is_paused() {
                    let at = fleet.secs();
                    let states = list_states(&m.sb);
                    if !m.is_paused() {
                        seen.looks.lock().unwrap().push(Look { machine: mi, at, states });
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
}

/// The longest time between two successful answers (and from `from` to the first one, and from
/// the last one to `to`) of `calls` that match: (gap seconds, from, to).
pub fn longest_gap(calls: &[&Call], from: f64, to: f64) -> (f64, f64, f64) {
    let mut ok: Vec<f64> = calls.iter().filter(|c| c.outcome == Outcome::Active).map(|c| c.end).collect();
    ok.sort_by(f64::total_cmp);
    let mut points = vec![from];
    points.extend(ok.into_iter().filter(|t| *t >= from && *t <= to));
    points.push(to);
    points
        .windows(2)
        .map(|w| (w[1] - w[0], w[0], w[1]))
        .fold((0.0, from, from), |best, g| if g.0 > best.0 { g } else { best })
}

/// A short account of calls for a failure message (at most `n`).
pub fn describe(fleet: &Fleet, calls: &[&Call], n: usize) -> String {
    let mut out: Vec<String> = calls
        .iter()
        .take(n)
        .map(|c| {
            format!(
                "  {}:{} {:.1}–{:.1}s {:?}",
                fleet.machines[c.machine].label, fleet.names[c.name], c.start, c.end, c.outcome
            )
        })
        .collect();
    if calls.len() > n {
        out.push(format!("  … and {} more", calls.len() - n));
    }
    out.join("\n")
}

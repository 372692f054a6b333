//! `make bench-scale SCALE_STORE=openbao`: n shared integrations (default 1,000 and 10,000;
//! `SCALE_N=…`) with two-minute access tokens in a real three-node OpenBao Raft cluster, kept
//! alive by two release `tokenkeeper daemon`s (two [`Sandbox`]es, each connected with all three
//! node addresses and its own vault token), against the [`TokenFarm`] (the fast token endpoint
//! of the local scale bench: rotating refresh tokens, a reuse counted, every refresh scored
//! against the keeper's ideal renewal moment). Then the idle cost: `SCALE_IDLE_N` (default 1,000)
//! integrations whose tokens live an hour, and the requests each keeper sends the vault in
//! `SCALE_IDLE_S` (default 60) seconds when nothing changes.
//!
//! **Signing in.** The records are written straight into OpenBao, as an administrator with the
//! root token, in the keeper's own record format (`tokenkeeper_engine::shared::record::
//! SharedRecord`, serialised by the engine's code: settings, the farm's seeded token pair and
//! its times), by check-and-set on "does not exist yet" (`cas=0`), eight writes at a time — what
//! `tokenkeeper add --shared` + `login --from-response` leave in the vault, without 2 × n CLI
//! calls through a daemon. The daemons are started afterwards and take the space in at start
//! (16 reads at a time). Seeded tokens are valid for an hour but already inside their renewal
//! margin, so both keepers renew every integration at start (the catch-up, timed), as in the
//! local scale bench; punctuality is then measured on the tokens the farm issued.
//!
//! **Counting the vault's work.** Every node has a file audit device (declared in its config:
//! OpenBao 2.x refuses `bao audit enable` through the API), all appending to one file; each
//! keeper has its own vault token, so the audit lines' (clear) accessor tells which keeper sent
//! a request. Only `request` lines are counted. The audit device itself costs the vault CPU
//! (it encodes and HMACs every request and response): the OpenBao CPU figures include it.
//!
//! A benchmark, not a test: `test = false` in Cargo.toml, run by scripts/bench-scale.sh.
//! Knobs: `SCALE_N`, `SCALE_LIFETIME_S` (120), `SCALE_WINDOW_S` (130), `SCALE_CATCHUP_MAX_S`
//! (900: after that the window is measured anyway and the row says how many were never renewed),
//! `SCALE_IDLE_N` (1000; 0: no idle run), `SCALE_IDLE_S` (60).

mod scale_support;

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scale_support::{cpu_ticks, name_of, percentile, proc_status};
use serde_json::{json, Value};
use tokenkeeper_engine::clock::{Moment, Span};
use tokenkeeper_engine::model::{IntegrationConfig, IntegrationKind, OauthConfig, Secrets};
use tokenkeeper_engine::scheduler::renew_margin;
use tokenkeeper_engine::secret::{AccessToken, RefreshToken};
use tokenkeeper_engine::shared::record::SharedRecord;
use tokenkeeper_tests::openbao::{bao_api, BaoCluster};
use tokenkeeper_tests::token_farm::{FarmOptions, TokenFarm};
use tokenkeeper_tests::{require_test_session, wait_until, Daemon, Sandbox};

const MOUNT: &str = "secret";
const TEAM: &str = "tokenkeeper/team";

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

// =============================================================================================
// The vault, the keepers, the records
// =============================================================================================

/// One keeper: its machine, its daemon, its vault token's accessor (to find it in the audit log).
struct Keeper {
    label: &'static str,
    sb: Sandbox,
    daemon: Option<Daemon>,
    accessor: String,
}

impl Keeper {
    fn pid(&self) -> u32 {
        self.daemon.as_ref().and_then(Daemon::pid).expect("daemon pid")
    }
}

/// The cluster (audited), the team policy, and `labels.len()` keepers connected with all three
/// addresses (each its own team token); daemons not started yet.
fn vault_and_keepers(audit: &Path, labels: &[&'static str]) -> (BaoCluster, Vec<Keeper>) {
    let cluster = BaoCluster::try_start_audited(3, Some(audit)).unwrap_or_else(|e| panic!("OpenBao cluster: {e:#}"));
    let admin = cluster.admin();
    let policy = format!(
        "path \"{MOUNT}/data/{TEAM}/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\"] }}\n\
         path \"{MOUNT}/metadata/{TEAM}/*\" {{ capabilities = [\"list\", \"read\", \"delete\"] }}\n"
    );
    admin.write_policy("tokenkeeper-team", &policy).expect("the team policy");
    let addrs = cluster.addrs();
    let keepers = labels
        .iter()
        .enumerate()
        .map(|(i, &label)| {
            let created = admin
                .api(
                    "POST",
                    "auth/token/create",
                    Some(json!({"policies": ["tokenkeeper-team"], "ttl": "8h", "explicit_max_ttl": "24h", "renewable": true})),
                )
                .expect("a team token");
            let token = created["auth"]["client_token"].as_str().expect("client_token").to_owned();
            let accessor = created["auth"]["accessor"].as_str().expect("accessor").to_owned();
            let sb = Sandbox::new();
            let mut args = vec!["shared", "connect"];
            for k in 0..addrs.len() {
                args.extend(["--address", addrs[(i + k) % addrs.len()].as_str()]);
            }
            args.extend(["--mount", MOUNT, "--path", TEAM, "--token-stdin"]);
            let out = sb.run(&args, Some(&format!("{token}\n")));
            assert!(out.status.success(), "keeper {label}: shared connect: {}", String::from_utf8_lossy(&out.stderr));
            Keeper { label, sb, daemon: None, accessor }
        })
        .collect();
    (cluster, keepers)
}

/// The shared record of integration `i`: the settings `add --shared` writes (the farm's token
/// endpoint) and the tokens `login` writes (the farm's seeded pair, issued at `issued`, ending at
/// `expires`), as JSON in the engine's own format.
fn record_of(i: usize, token_url: &str, issued: Moment, expires: Moment) -> Value {
    let config = IntegrationConfig {
        name: name_of(i),
        provider: "oauth2".into(),
        probe_interval_secs: 1800,
        kind: IntegrationKind::Oauth(OauthConfig {
            issuer: None,
            authorize_url: "http://127.0.0.1:9/authorize".parse().unwrap(),
            token_url: token_url.parse().unwrap(),
            revocation_url: None,
            probe_url: None,
            sites_url: None,
            client_id: "bench".into(),
            has_client_secret: false,
            scopes: vec![],
        }),
    };
    let secrets = Secrets {
        access_token: Some(AccessToken::new(format!("at-{i}-0"))),
        refresh_token: Some(RefreshToken::new(format!("rt-{i}-0"))),
        issued_at: Some(issued),
        access_expires_at: Some(expires),
        ..Secrets::default()
    };
    serde_json::to_value(SharedRecord::new(config, &secrets)).expect("a record")
}

/// Writes n records into the vault (leader, root token, `cas=0`), eight at a time; the time it took.
fn seed(cluster: &BaoCluster, farm: &TokenFarm, n: usize, issued: Moment, expires: Moment) -> Duration {
    let leader = cluster.addr(cluster.wait_leader(Duration::from_secs(30)).expect("a leader")).to_owned();
    let root = cluster.root_token().to_owned();
    let started = Instant::now();
    let writers = 8;
    std::thread::scope(|s| {
        for w in 0..writers {
            let (leader, root, url) = (&leader, &root, farm.url());
            s.spawn(move || {
                for i in (w..n).step_by(writers) {
                    let body = json!({"options": {"cas": 0}, "data": record_of(i, url, issued, expires)});
                    let path = format!("{MOUNT}/data/{TEAM}/integrations/{}", name_of(i));
                    let mut tries = 0;
                    loop {
                        match bao_api(leader, Some(root), "POST", &path, Some(body.clone())) {
                            Ok((200, _)) => break,
                            other if tries < 5 => {
                                tries += 1;
                                eprintln!("seed {path}: {other:?}; again");
                                std::thread::sleep(Duration::from_millis(200));
                            }
                            other => panic!("seed {path}: {other:?}"),
                        }
                    }
                }
            });
        }
    });
    started.elapsed()
}

/// `list --json` on a keeper: (shared integrations listed, those neither working nor refreshing).
fn listed(sb: &Sandbox) -> Result<(usize, usize), String> {
    let out = sb.run(&["list", "--json"], None);
    if !out.status.success() {
        return Err(format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let all: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("list --json: {e}"))?;
    let items = all.as_array().ok_or("list --json: not an array")?;
    let shared: Vec<&Value> = items.iter().filter(|v| v["shared"] == true).collect();
    let bad = shared.iter().filter(|v| v["state"] != "working" && v["state"] != "refreshing").count();
    Ok((shared.len(), bad))
}

// =============================================================================================
// The audit log
// =============================================================================================

/// Request counts from the audit log: (keeper label or "other", kind of path, operation) → n.
#[derive(Default, Debug)]
struct AuditCounts {
    by: BTreeMap<(String, String, String), u64>,
}

impl AuditCounts {
    fn total(&self, who: Option<&str>, kind: Option<&str>, ops: &[&str]) -> u64 {
        self.by
            .iter()
            .filter(|((w, k, o), _)| {
                who.is_none_or(|x| x == w)
                    && kind.is_none_or(|x| x == k)
                    && (ops.is_empty() || ops.contains(&o.as_str()))
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests sent by one keeper (refusals not counted again).
    fn keeper_total(&self, who: &str) -> u64 {
        self.by.iter().filter(|((w, _, o), _)| w == who && !o.ends_with(" refused")).map(|(_, n)| n).sum()
    }

    /// "kind op n, …" for one keeper (or all keepers when `who` is None), largest first.
    fn breakdown(&self, who: Option<&str>) -> String {
        let mut merged: BTreeMap<(String, String), u64> = BTreeMap::new();
        for ((w, k, o), n) in &self.by {
            if w != "other" && who.is_none_or(|x| x == w) {
                *merged.entry((k.clone(), o.clone())).or_default() += n;
            }
        }
        let mut items: Vec<_> = merged.into_iter().collect();
        items.sort_by(|a, b| b.1.cmp(&a.1));
        items.iter().map(|((k, o), n)| format!("{k} {o} {n}")).collect::<Vec<_>>().join(", ")
    }
}

fn audit_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The value of the first `"key":"…"` in `line` at or after `from`.
fn field<'a>(line: &'a str, key: &str, from: usize) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = line[from..].find(&pat)? + from + pat.len();
    let end = line[start..].find('"')? + start;
    Some(&line[start..end])
}

/// What kind of request a path is: the shared space's records by kind, else the path itself.
fn kind_of(path: &str) -> String {
    let data = format!("{MOUNT}/data/{TEAM}/");
    let meta = format!("{MOUNT}/metadata/{TEAM}/");
    if let Some(rest) = path.strip_prefix(&data) {
        format!("data/{}", rest.split('/').next().unwrap_or(""))
    } else if let Some(rest) = path.strip_prefix(&meta) {
        format!("metadata/{}", rest.split('/').next().unwrap_or(""))
    } else if path.starts_with(&format!("{MOUNT}/metadata/{TEAM}")) {
        "metadata/(space)".into()
    } else {
        path.to_owned()
    }
}

/// Counts the `request` lines of the audit file between byte offsets `from` and `to`.
fn count_audit(path: &Path, from: u64, to: u64, keepers: &[(&str, &str)]) -> AuditCounts {
    let mut file = std::fs::File::open(path).expect("the audit file");
    file.seek(SeekFrom::Start(from)).unwrap();
    let mut bytes = Vec::with_capacity((to - from) as usize);
    file.take(to - from).read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut counts = AuditCounts::default();
    for line in text.lines() {
        // a line cut at either end is skipped
        if !line.starts_with("{\"time\"") || !line.ends_with('}') {
            continue;
        }
        let head = &line[..80.min(line.len())];
        // requests are counted; of the responses only those that carry an error (a check-and-set
        // refused, a denial), counted apart as "<operation> refused"
        let refused = head.contains("\"type\":\"response\"") && line.contains(",\"error\":\"");
        if !head.contains("\"type\":\"request\"") && !refused {
            continue;
        }
        let Some(req) = line.find("\"request\":{") else { continue };
        let accessor = field(line, "accessor", 0).filter(|_| line.find("\"accessor\"") < Some(req)).unwrap_or("");
        let who = keepers.iter().find(|(_, a)| *a == accessor).map_or("other", |(l, _)| *l).to_owned();
        let mut op = field(line, "operation", req).unwrap_or("?").to_owned();
        if refused {
            op.push_str(" refused");
        }
        let p = field(line, "path", req).unwrap_or("?");
        *counts.by.entry((who, kind_of(p), op)).or_default() += 1;
    }
    counts
}

// =============================================================================================
// CPU of processes
// =============================================================================================

struct CpuMeter {
    pids: Vec<u32>,
    start: Vec<u64>,
    at: Instant,
}

impl CpuMeter {
    fn start(pids: Vec<u32>) -> Self {
        let start = pids.iter().map(|&p| cpu_ticks(p)).collect();
        Self { pids, start, at: Instant::now() }
    }

    /// % of one core, per pid, since the start.
    fn percent(&self) -> Vec<f64> {
        let secs = self.at.elapsed().as_secs_f64();
        self.pids
            .iter()
            .zip(&self.start)
            .map(|(&p, &s)| cpu_ticks(p).saturating_sub(s) as f64 / 100.0 / secs * 100.0)
            .collect()
    }
}

fn bao_pids(cluster: &BaoCluster) -> Vec<u32> {
    (0..3).filter_map(|i| cluster.pid(i)).collect()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// =============================================================================================
// The runs
// =============================================================================================

/// One renewal run of n integrations; prints its row and details.
fn renewal_run(n: usize, lifetime_s: u64, window: Duration, catchup_max: Duration) -> String {
    let t0 = Instant::now();
    let margin_ms = renew_margin(Span::from_secs(lifetime_s as i64)).millis();
    let farm = Arc::new(TokenFarm::start(FarmOptions { integrations: n, lifetime_s, margin_ms }));
    let dir = tempfile::tempdir().expect("temp dir");
    let audit = dir.path().join("audit.log");
    let (cluster, mut keepers) = vault_and_keepers(&audit, &["A", "B"]);
    eprintln!("[{:6.1}] n={n}: cluster up, two keepers connected", t0.elapsed().as_secs_f64());

    let now = unix_ms() / 1000;
    // valid for an hour, issued three hours ago: inside the margin, so renewed at once
    let seed_time = seed(&cluster, &farm, n, Moment::from_secs(now - 3 * 3600), Moment::from_secs(now + 3600));
    eprintln!("[{:6.1}] n={n}: {n} records written in {:.1} s", t0.elapsed().as_secs_f64(), seed_time.as_secs_f64());

    let started = Instant::now();
    // both at once, as two machines would; a daemon reads the whole space before it listens
    let socket_up: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = keepers
            .iter_mut()
            .map(|k| {
                s.spawn(move || {
                    k.daemon = Some(k.sb.spawn_daemon_within(&[], Duration::from_secs(600)));
                    started.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("daemon start")).collect()
    });
    eprintln!("[{:6.1}] n={n}: daemons listening after {socket_up:.1?} s", t0.elapsed().as_secs_f64());
    let caught_up = wait_until(catchup_max, Duration::from_millis(100), || farm.never_refreshed() == 0);
    let catch_up = started.elapsed();
    let never = farm.never_refreshed();
    eprintln!(
        "[{:6.1}] n={n}: catch-up {} in {:.1} s ({never} never renewed)",
        t0.elapsed().as_secs_f64(),
        if caught_up { "done" } else { "NOT done" },
        catch_up.as_secs_f64()
    );

    let window_start = unix_ms();
    let audit_from = audit_len(&audit);
    let keeper_cpu = CpuMeter::start(keepers.iter().map(Keeper::pid).collect());
    let bao_cpu = CpuMeter::start(bao_pids(&cluster));
    let mut expired_max = 0;
    let measured = Instant::now();
    while measured.elapsed() < window {
        expired_max = expired_max.max(farm.expired_now());
        std::thread::sleep(Duration::from_millis(500));
    }
    let audit_to = audit_len(&audit);
    let kcpu = keeper_cpu.percent();
    let bcpu = bao_cpu.percent();
    let rss: Vec<u64> = keepers.iter().map(|k| proc_status(k.pid()).0).collect();
    let threads: Vec<u64> = keepers.iter().map(|k| proc_status(k.pid()).1).collect();
    let window_secs = measured.elapsed().as_secs_f64();
    let expired_end = farm.expired_now();
    let states: Vec<Result<(usize, usize), String>> = keepers.iter().map(|k| listed(&k.sb)).collect();

    let scored = farm.refreshes_since(window_start);
    let mut lateness: Vec<i64> = scored.iter().map(|r| r.lateness_ms).collect();
    lateness.sort_unstable();
    let renewals = scored.len() as u64;
    let expired_in_window = scored.iter().filter(|r| r.expired).count();
    let who: Vec<(&str, &str)> = keepers.iter().map(|k| (k.label, k.accessor.as_str())).collect();
    let counts = count_audit(&audit, audit_from, audit_to, &who);
    let writes = |kind: &str| {
        counts.total(None, Some(kind), &["create", "update"]) as f64
            - counts.total(Some("other"), Some(kind), &["create", "update"]) as f64
    };
    let per = |x: f64| if renewals == 0 { 0.0 } else { x / renewals as f64 };
    let all_keeper_requests: u64 = who.iter().map(|(l, _)| counts.keeper_total(l)).sum();
    let all_writes: u64 = who.iter().map(|(l, _)| counts.total(Some(l), None, &["create", "update", "delete"])).sum();
    let record_writes_by: Vec<u64> =
        who.iter().map(|(l, _)| counts.total(Some(l), Some("data/integrations"), &["create", "update"])).collect();

    let row = format!(
        "| {n} | {:.1} s | {} / {:.1} s{} | {renewals} | {} / {} / {} ms | {expired_in_window} / {expired_max} / {expired_end} | {} | {:.2} ({:.2} record + {:.2} lease + {:.2} other; {:.2} refused) | {:.2} | {} | {:.1} / {:.1} MiB | {:.1} / {:.1} % | {:.1} % ({}) |",
        seed_time.as_secs_f64(),
        socket_up.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(", "),
        catch_up.as_secs_f64(),
        if caught_up { String::new() } else { format!(" (**{never} never renewed**)") },
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or(0),
        states.iter().map(|s| s.as_ref().map_or("list failed".into(), |(l, b)| format!("{b} of {l}"))).collect::<Vec<_>>().join(" / "),
        per(all_writes as f64),
        per(writes("data/integrations")),
        per(writes("data/leases")),
        per(all_writes as f64 - writes("data/integrations") - writes("data/leases")),
        per(who.iter().map(|(l, _)| counts.total(Some(l), None, &["create refused", "update refused"])).sum::<u64>() as f64),
        per(all_keeper_requests as f64),
        record_writes_by.iter().map(u64::to_string).collect::<Vec<_>>().join(" / "),
        mib(rss[0]),
        mib(rss[1]),
        kcpu[0],
        kcpu[1],
        bcpu.iter().sum::<f64>(),
        bcpu.iter().map(|c| format!("{c:.0}")).collect::<Vec<_>>().join(" + "),
    );
    println!("{row}");
    println!(
        "   n={n}: window {window_secs:.0} s, reused refresh tokens {}, farm bad requests {}, keeper threads {threads:?}, vault requests/s from keepers {:.1}",
        farm.reused(),
        farm.bad_requests(),
        all_keeper_requests as f64 / window_secs
    );
    for (l, _) in &who {
        println!("   keeper {l}: {}", counts.breakdown(Some(l)));
    }
    for (k, s) in keepers.iter().zip(&states) {
        if let Err(e) = s {
            println!("   keeper {}: `tokenkeeper list --json` failed: {e}", k.label);
        }
    }
    let others = counts.total(Some("other"), None, &[]);
    if others > 0 {
        println!("   not from a keeper (root, this bench): {others}");
    }
    if std::env::var_os("TK_KEEP_SANDBOX").is_some_and(|v| v == "1") {
        for k in &keepers {
            println!("   keeper {} logs: {}", k.label, k.sb.logs_dir().display());
        }
        let kept = std::env::temp_dir().join(format!("shared-scale-audit-{n}.log"));
        if std::fs::copy(&audit, &kept).is_ok() {
            println!("   audit log kept: {}", kept.display());
        }
    }
    drop(keepers);
    drop(cluster);
    row
}

/// The idle cost: n integrations with hour-long tokens (nothing due), two keepers; requests per
/// second each sends the vault over `window`, once both have taken in all n.
fn idle_run(n: usize, window: Duration) {
    let t0 = Instant::now();
    let farm = Arc::new(TokenFarm::start(FarmOptions { integrations: n, lifetime_s: 3600, margin_ms: 0 }));
    let dir = tempfile::tempdir().expect("temp dir");
    let audit = dir.path().join("audit.log");
    let (cluster, mut keepers) = vault_and_keepers(&audit, &["A", "B"]);
    let now = unix_ms() / 1000;
    // issued now, ending in an hour: due in 45 minutes
    let seed_time = seed(&cluster, &farm, n, Moment::from_secs(now), Moment::from_secs(now + 3600));
    for k in keepers.iter_mut() {
        k.daemon = Some(k.sb.spawn_daemon_within(&[], Duration::from_secs(600)));
    }
    let loaded = wait_until(Duration::from_secs(300), Duration::from_secs(1), || {
        keepers.iter().all(|k| listed(&k.sb).is_ok_and(|(l, _)| l == n))
    });
    assert!(loaded, "the keepers did not take in {n} integrations in 300 s");
    let loaded_at = t0.elapsed();
    // the first rounds after the load (and any credential upkeep at start) are not idle
    std::thread::sleep(Duration::from_secs(15));
    let from = audit_len(&audit);
    let keeper_cpu = CpuMeter::start(keepers.iter().map(Keeper::pid).collect());
    let bao_cpu = CpuMeter::start(bao_pids(&cluster));
    let measured = Instant::now();
    std::thread::sleep(window);
    let secs = measured.elapsed().as_secs_f64();
    let to = audit_len(&audit);
    let (kcpu, bcpu) = (keeper_cpu.percent(), bao_cpu.percent());
    let rss: Vec<u64> = keepers.iter().map(|k| proc_status(k.pid()).0).collect();
    let who: Vec<(&str, &str)> = keepers.iter().map(|k| (k.label, k.accessor.as_str())).collect();
    let counts = count_audit(&audit, from, to, &who);
    println!("\nIdle: {n} integrations, tokens valid 1 h (none due), two keepers; seeded in {:.1} s, both listed all {n} at {:.1} s; measured {secs:.0} s from 15 s later\n", seed_time.as_secs_f64(), loaded_at.as_secs_f64());
    println!("| keeper | requests | requests/s | what | keeper CPU | keeper RSS |\n|---|---|---|---|---|---|");
    for (i, (l, _)) in who.iter().enumerate() {
        let total = counts.keeper_total(l);
        println!(
            "| {l} | {total} | {:.2} | {} | {:.2} % | {:.1} MiB |",
            total as f64 / secs,
            counts.breakdown(Some(l)),
            kcpu[i],
            mib(rss[i])
        );
    }
    println!(
        "OpenBao CPU while idle: {:.1} % ({}); refreshes at the farm meanwhile: {}",
        bcpu.iter().sum::<f64>(),
        bcpu.iter().map(|c| format!("{c:.1}")).collect::<Vec<_>>().join(" + "),
        farm.total()
    );
}

#[test]
fn bench_shared_scale() {
    require_test_session();
    let sizes: Vec<usize> = std::env::var("SCALE_N")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("SCALE_N: numbers separated by commas"))
        .collect();
    let lifetime_s = env_u64("SCALE_LIFETIME_S", 120);
    let window = Duration::from_secs(env_u64("SCALE_WINDOW_S", 130));
    let catchup_max = Duration::from_secs(env_u64("SCALE_CATCHUP_MAX_S", 900));
    let idle_n = env_u64("SCALE_IDLE_N", 1000) as usize;
    let idle_window = Duration::from_secs(env_u64("SCALE_IDLE_S", 60));

    if idle_n > 0 {
        idle_run(idle_n, idle_window);
    }
    println!(
        "\nShared on a three-node OpenBao Raft cluster, two daemons; token lifetime {lifetime_s} s, measured for {} s after the catch-up\n",
        window.as_secs()
    );
    let header = "| n | seed (vault writes) | daemons listening A, B / catch-up (from start) | renewals | lateness p50 / p99 / max | expired: renewed late / most at once / at end | not working A / B | vault writes per renewal | vault requests per renewal | record writes A / B | RSS A / B | CPU A / B | OpenBao CPU (3 nodes) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|";
    println!("{header}");
    let mut rows = Vec::new();
    for n in sizes {
        rows.push(renewal_run(n, lifetime_s, window, catchup_max));
    }
    println!("\n{header}\n{}", rows.join("\n"));
}

//! One scale run: n OAuth integrations against the [`TokenFarm`], kept alive by one
//! `tokenkeeper daemon`, measured from outside (the farm's punctuality records, /proc of the
//! daemon). Shared by the CI check (tests/scale.rs) and `make bench-scale` (tests/scale_bench.rs).
//!
//! Setup writes the files the way `tokenkeeper add` + `login` would leave them (config TOML,
//! state JSON, one keychain item each, through the engine's own store code) — seconds instead of
//! minutes of CLI calls — and is timed on its own. The seeded tokens are valid for an hour but
//! already inside their renewal margin, so the daemon renews every integration at start (a
//! catch-up, timed); punctuality is measured afterwards on the tokens the farm issued.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenkeeper_engine::clock::{Clock, Moment, Span, SystemClock};
use tokenkeeper_engine::model::{IntegrationConfig, IntegrationKind, OauthConfig, Secrets, State};
use tokenkeeper_engine::notify::RecordingNotifier;
use tokenkeeper_engine::paths::Paths;
use tokenkeeper_engine::record::Record;
use tokenkeeper_engine::scheduler::renew_margin;
use tokenkeeper_engine::secret::{AccessToken, RefreshToken};
use tokenkeeper_engine::store::{integrations, keychain::KeychainStore, memory::MemoryStore, SecretStore};
use tokenkeeper_engine::{Keeper, KeeperOptions};
use tokenkeeper_tests::token_farm::{FarmOptions, TokenFarm};
use tokenkeeper_tests::{wait_until, Sandbox};

/// What one run is.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    pub integrations: usize,
    /// Access-token lifetime the farm gives.
    pub lifetime_s: u64,
    /// How long to measure after the catch-up.
    pub window: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub n: usize,
    pub setup_files: Duration,
    pub setup_keychain: Duration,
    /// Daemon start → every seeded token renewed.
    pub catch_up: Duration,
    /// Scored refreshes in the window.
    pub refreshes: usize,
    pub lateness_p50_ms: i64,
    pub lateness_p99_ms: i64,
    pub lateness_max_ms: i64,
    /// Tokens that had expired before their refresh arrived.
    pub expired: usize,
    pub reused: usize,
    pub rss_kib: u64,
    pub threads: u64,
    /// Thread count, largest seen during the window.
    pub threads_max: u64,
    /// Daemon CPU over the window, % of one core.
    pub cpu_percent: f64,
    /// Integrations neither `working` nor `refreshing` at the end (from `list --json`).
    pub not_working: usize,
}

/// What the keeper's process showed at the end of the window.
struct ProcessFigures {
    rss_kib: u64,
    threads: u64,
    threads_max: u64,
    cpu_percent: f64,
    not_working: usize,
}

impl Figures {
    /// The figures of a run: the refreshes the farm scored since `window_start` (UNIX ms).
    fn of_run(
        n: usize,
        (setup_files, setup_keychain): (Duration, Duration),
        catch_up: Duration,
        farm: &TokenFarm,
        window_start: i64,
        process: ProcessFigures,
    ) -> Figures {
        let scored = farm.refreshes_since(window_start);
        let mut lateness: Vec<i64> = scored.iter().map(|r| r.lateness_ms).collect();
        lateness.sort_unstable();
        Figures {
            n,
            setup_files,
            setup_keychain,
            catch_up,
            refreshes: scored.len(),
            lateness_p50_ms: percentile(&lateness, 0.5),
            lateness_p99_ms: percentile(&lateness, 0.99),
            lateness_max_ms: lateness.last().copied().unwrap_or(0),
            expired: scored.iter().filter(|r| r.expired).count(),
            reused: farm.reused(),
            rss_kib: process.rss_kib,
            threads: process.threads,
            threads_max: process.threads_max.max(process.threads),
            cpu_percent: process.cpu_percent,
            not_working: process.not_working,
        }
    }

    pub fn header() -> &'static str {
        "| n | setup files | setup keychain | catch-up | refreshes | lateness p50 / p99 / max | expired | RSS | RSS/integration | CPU | threads (max) |\n|---|---|---|---|---|---|---|---|---|---|---|"
    }

    pub fn row(&self) -> String {
        format!(
            "| {} | {:.1} s | {:.1} s | {:.1} s | {} | {} / {} / {} ms | {} | {:.1} MiB | {:.1} KiB | {:.1} % | {} ({}) |",
            self.n,
            self.setup_files.as_secs_f64(),
            self.setup_keychain.as_secs_f64(),
            self.catch_up.as_secs_f64(),
            self.refreshes,
            self.lateness_p50_ms,
            self.lateness_p99_ms,
            self.lateness_max_ms,
            self.expired,
            self.rss_kib as f64 / 1024.0,
            self.rss_kib as f64 / self.n as f64,
            self.cpu_percent,
            self.threads,
            self.threads_max,
        )
    }
}

fn paths_of(sb: &Sandbox) -> Paths {
    Paths {
        config: sb.config_dir().join("tokenkeeper"),
        state: sb.state_dir().join("tokenkeeper"),
        runtime: sb.runtime_dir().join("tokenkeeper"),
    }
}

pub fn name_of(i: usize) -> String {
    format!("scale-{i:05}")
}

/// Writes n integrations as `add` + `login` would; returns (files, secret store) durations.
fn seed(paths: &Paths, store: &dyn SecretStore, farm: &TokenFarm, n: usize) -> (Duration, Duration) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    // valid for an hour, issued four hours ago: inside the margin, so renewed at once
    let (issued, expires) = (Moment::from_secs(now - 3 * 3600), Moment::from_secs(now + 3600));
    let frame = Some(SystemClock.stamp());
    let started = Instant::now();
    for i in 0..n {
        let config = IntegrationConfig {
            name: name_of(i),
            provider: "oauth2".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::Oauth(OauthConfig {
                issuer: None,
                authorize_url: "http://127.0.0.1:9/authorize".parse().unwrap(),
                token_url: farm.url().parse().unwrap(),
                revocation_url: None,
                probe_url: None,
                sites_url: None,
                client_id: "bench".into(),
                has_client_secret: false,
                scopes: vec![],
            }),
        };
        integrations::save(paths, &config).expect("config written");
        let record = Record {
            state: State::Working,
            reason: None,
            issued_at: Some(issued),
            access_expires_at: Some(expires),
            clock: frame.clone(),
            ..Record::default()
        };
        integrations::save_record(paths, &config.name, &record).expect("record written");
    }
    let files = started.elapsed();
    let started = Instant::now();
    for i in 0..n {
        let secrets = Secrets {
            access_token: Some(AccessToken::new(format!("at-{i}-0"))),
            refresh_token: Some(RefreshToken::new(format!("rt-{i}-0"))),
            issued_at: Some(issued),
            access_expires_at: Some(expires),
            clock: frame.clone(),
            ..Secrets::default()
        };
        store.save(&name_of(i), &secrets).expect("keychain item written");
    }
    (files, started.elapsed())
}

/// The daemon's resident memory (KiB) and thread count.
pub fn proc_status(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

/// The daemon's user + system CPU time, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
}

/// User + system time from a /proc `stat` line.
fn stat_ticks(text: &str) -> u64 {
    // fields after the command name (which may hold spaces) — utime and stime are 14 and 15
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// /proc counts CPU time in USER_HZ, which Linux fixes at 100 for user space.
fn clock_ticks_per_second() -> f64 {
    100.0
}

pub fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sets up, runs and measures one daemon with `spec.integrations` integrations.
pub fn run(spec: RunSpec) -> Figures {
    let n = spec.integrations;
    let margin_ms = renew_margin(Span::from_secs(spec.lifetime_s as i64)).millis();
    let farm = Arc::new(TokenFarm::start(FarmOptions { integrations: n, lifetime_s: spec.lifetime_s, margin_ms }));
    let sb = Sandbox::new();
    let keychain = KeychainStore::new(sb.keychain_service()).expect("the session keychain");
    let setup = seed(&paths_of(&sb), &keychain, &farm, n);

    let daemon = sb.spawn_daemon();
    let started = Instant::now();
    let pid = daemon.pid().expect("daemon pid");
    let caught_up = wait_until(Duration::from_secs(600), Duration::from_millis(50), || farm.never_refreshed() == 0);
    assert!(caught_up, "{} of {n} never renewed; daemon log:\n{}", farm.never_refreshed(), tail(&daemon.log()));
    let catch_up = started.elapsed();

    let window_start = unix_ms();
    let ticks_start = cpu_ticks(pid);
    let measured = Instant::now();
    let mut threads_max = 0;
    while measured.elapsed() < spec.window {
        threads_max = threads_max.max(proc_status(pid).1);
        std::thread::sleep(Duration::from_millis(500));
    }
    let cpu_percent =
        (cpu_ticks(pid) - ticks_start) as f64 / clock_ticks_per_second() / measured.elapsed().as_secs_f64() * 100.0;
    let (rss_kib, threads) = proc_status(pid);

    let out = sb.run_ok(&["list", "--json"], None);
    let listed: serde_json::Value = serde_json::from_str(&out).expect("list --json");
    let not_working = listed
        .as_array()
        .map(|a| a.iter().filter(|v| v["state"] != "working" && v["state"] != "refreshing").count())
        .unwrap_or(n);
    drop(daemon);
    let process = ProcessFigures { rss_kib, threads, threads_max, cpu_percent, not_working };
    Figures::of_run(n, setup, catch_up, &farm, window_start, process)
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The same run with the keeper in this process and the in-memory secret store instead of a
/// daemon and the keychain: for sizes the session's keychain cannot hold in reasonable time.
/// Threads and CPU are those of the keeper's runtime (threads named "keeper"); memory is this
/// process's growth from opening the keeper on (the store's copies of the secrets, which stand
/// in for the keychain, are allocated before).
pub fn run_in_process(spec: RunSpec) -> Figures {
    let n = spec.integrations;
    let margin_ms = renew_margin(Span::from_secs(spec.lifetime_s as i64)).millis();
    let farm = Arc::new(TokenFarm::start(FarmOptions { integrations: n, lifetime_s: spec.lifetime_s, margin_ms }));
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = Paths::under(dir.path());
    let store = Arc::new(MemoryStore::new());
    let setup = seed(&paths, store.as_ref(), &farm, n);
    let me = std::process::id();
    let rss_before = proc_status(me).0;

    // like the daemon: tokio's multi-threaded runtime, one worker per core
    let runtime =
        tokio::runtime::Builder::new_multi_thread().thread_name("keeper").enable_all().build().expect("a runtime");
    let keeper = runtime
        .block_on(async {
            Keeper::open(KeeperOptions {
                paths: paths.clone(),
                store: store.clone(),
                notifier: Arc::new(RecordingNotifier::default()),
                open_url: Arc::new(|_| Ok(())),
                clock: SystemClock::shared(),
            })
        })
        .expect("keeper opens");
    let started = Instant::now();
    runtime.spawn({
        let keeper = keeper.clone();
        async move { keeper.run(None).await }
    });
    let caught_up = wait_until(Duration::from_secs(600), Duration::from_millis(50), || farm.never_refreshed() == 0);
    assert!(caught_up, "{} of {n} never renewed", farm.never_refreshed());
    let catch_up = started.elapsed();

    let window_start = unix_ms();
    let ticks_start = keeper_threads(me).1;
    let measured = Instant::now();
    let mut threads_max = 0;
    while measured.elapsed() < spec.window {
        threads_max = threads_max.max(keeper_threads(me).0);
        std::thread::sleep(Duration::from_millis(500));
    }
    let (threads, ticks_end) = keeper_threads(me);
    let cpu_percent =
        ticks_end.saturating_sub(ticks_start) as f64 / clock_ticks_per_second() / measured.elapsed().as_secs_f64()
            * 100.0;
    let rss_kib = proc_status(me).0.saturating_sub(rss_before);
    let not_working = keeper.list().iter().filter(|v| !matches!(v.state, State::Working | State::Refreshing)).count();
    runtime.shutdown_background();
    let process = ProcessFigures { rss_kib, threads, threads_max, cpu_percent, not_working };
    Figures::of_run(n, setup, catch_up, &farm, window_start, process)
}

/// This process's threads named "keeper" (the keeper's runtime): how many, and their CPU ticks.
fn keeper_threads(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return (0, 0) };
    let (mut count, mut ticks) = (0, 0);
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "keeper" {
            count += 1;
            ticks += stat_ticks(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default());
        }
    }
    (count, ticks)
}

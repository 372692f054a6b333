//! The tray app's benchmark (not part of `cargo test`: it idles for minutes; `make bench` runs it). With 10 API-token
//! integrations and the window closed it measures: launch to tray registered, RSS and private
//! memory (RssAnon) after 60 s, CPU over an idle period, then the memory with the window open and
//! 10 s after it was closed again. Prints the figures and writes them to
//! `target/screenshots/tray-bench.txt`; asserts only that the app survives.
//!
//! Run (release build):
//!   cargo build --release -p token-keeper && cargo build -p tokenkeeper
//!   TRAY_APP_BIN=$PWD/target/release/token-keeper TRAY_BENCH_IDLE_SECS=300 \
//!     dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_bench -- --nocapture
//! Targets (issue 3): tray ≤ 0.5 s; RssAnon ≤ 30 MB; 0 % CPU between refreshes; after the window
//! closes, back within 10 MB of the idle figure.

mod tray_support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tray_support::*;

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The app's child processes (WebKit's web and network processes) with their RSS in kB.
fn children(pid: u32) -> Vec<(String, u64)> {
    let out = sh("ps", &["--ppid", &pid.to_string(), "-o", "rss=,comm="]);
    out.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let rss = parts.next()?.parse().ok()?;
            Some((parts.collect::<Vec<_>>().join(" "), rss))
        })
        .collect()
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tray_bench_idle_memory_cpu_and_launch() -> Result<()> {
    if !desktop_session("tray_bench") {
        return Ok(());
    }
    let (app_bin, _) = binaries();
    let idle_secs: u64 = std::env::var("TRAY_BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let sandbox = Sandbox::new()?;
    let probe = ProbeServer::start("tok").await?;
    for i in 0..10 {
        let name = format!("integration {i:02}");
        sandbox.cli_ok(&["add", &name, "--yes", "--provider", "api-token", "--probe-url", &probe.url()], "").await?;
        sandbox.cli_ok(&["login", &name], "tok\n").await?;
    }
    let mut report = vec![format!("binary: {}", app_bin.display())];
    let mut say = |line: String| {
        eprintln!("{line}");
        report.push(line);
    };

    let mut desktop = Desktop::start().await?;
    let app = App::start(&sandbox, &[])?;
    let pid = app.pid();
    let tray = desktop.next_tray(Duration::from_secs(30)).await.with_context(|| app.log_text())?;
    say(format!("launch to tray registered: {} ms", app.started.elapsed().as_millis()));

    tokio::time::sleep(Duration::from_secs(60).saturating_sub(app.started.elapsed())).await;
    let (rss, anon) = memory_kb(pid).context("app memory")?;
    say(format!("idle 60 s, window closed, 10 integrations: VmRSS {} RssAnon {}", mb(rss), mb(anon)));

    let hz = 100.0; // USER_HZ on Linux
    let (t0, c0) = (Instant::now(), cpu_ticks(pid).context("cpu")?);
    let hits0 = probe.hits.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (t1, c1) = (Instant::now(), cpu_ticks(pid).context("cpu")?);
    let hits1 = probe.hits.load(std::sync::atomic::Ordering::SeqCst);
    say(format!(
        "CPU over {} s idle: {:.2} s = {:.3} % (probe requests meanwhile: {})",
        idle_secs,
        (c1 - c0) as f64 / hz,
        100.0 * (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64(),
        hits1 - hits0
    ));
    let (rss_idle, anon_idle) = memory_kb(pid).context("app memory")?;
    say(format!("after the idle period: VmRSS {} RssAnon {}", mb(rss_idle), mb(anon_idle)));

    tray.click(None, "Open Token Keeper").await?;
    let window = wait_window("^Token Keeper$", Duration::from_secs(30)).await.context("no window")?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (rss_open, anon_open) = memory_kb(pid).context("app memory")?;
    let kids = children(pid);
    let kids_total: u64 = kids.iter().map(|(_, r)| r).sum();
    say(format!(
        "window open 10 s: app VmRSS {} RssAnon {}; WebKit processes {:?}; total RSS {}",
        mb(rss_open),
        mb(anon_open),
        kids.iter().map(|(n, r)| format!("{n} {}", mb(*r))).collect::<Vec<_>>(),
        mb(rss_open + kids_total)
    ));

    close_window(&window)?;
    let start = Instant::now();
    while !sh("xdotool", &["search", "--name", "^Token Keeper$"]).is_empty()
        && start.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (rss_closed, anon_closed) = memory_kb(pid).context("the app ended when its window closed")?;
    let kids = children(pid);
    say(format!(
        "window closed 10 s: app VmRSS {} RssAnon {} (idle +{} / +{}); processes left: {:?}",
        mb(rss_closed),
        mb(anon_closed),
        mb(rss_closed.saturating_sub(rss_idle)),
        mb(anon_closed.saturating_sub(anon_idle)),
        kids.iter().map(|(n, r)| format!("{n} {}", mb(*r))).collect::<Vec<_>>()
    ));
    std::fs::write(screenshots_dir().join("tray-bench.txt"), report.join("\n") + "\n")?;
    tray.click(None, "Quit Token Keeper").await?;
    Ok(())
}

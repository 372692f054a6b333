//! The real tray over D-Bus: the test is the desktop's StatusNotifierWatcher, starts the tray app
//! with integrations set up by the `tokenkeeper` command, reads the app's com.canonical.dbusmenu
//! menu, clicks its items and checks their effect (engine state through `tokenkeeper list --json`
//! over the app's socket, the window through xdotool). Also: the icon and tooltip follow the worst
//! state within a second, one instance per user, Quit ends the app.
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_menu`
//! Leaves the tray icons it saw and a window screenshot in `target/screenshots/`.

mod tray_support;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tray_support::*;

/// "Within a second", with room for a loaded 2-core machine running a debug build.
const MENU_LATENCY: Duration = Duration::from_millis(1000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tray_menu_shows_states_and_its_clicks_act() -> Result<()> {
    if !desktop_session("tray_menu") {
        return Ok(());
    }
    binaries();
    let sandbox = Sandbox::new()?;
    let probe = ProbeServer::start("tok").await?;

    // An API-token integration, set up with the command before the app runs (no browser needed).
    sandbox.cli_ok(&["add", "demo", "--yes", "--provider", "api-token", "--probe-url", &probe.url()], "").await?;
    sandbox.cli_ok(&["login", "demo"], "tok\n").await?;

    let mut desktop = Desktop::start().await?;
    // a dark desktop theme: the window follows it (prefers-color-scheme)
    // the "browser" opens nothing, so a sign-in stays pending
    let mut app = App::start(&sandbox, &[("GTK_THEME", "Adwaita:dark"), ("BROWSER", "true")])?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await.with_context(|| app.log_text())?;
    let registered = app.started.elapsed();
    eprintln!("tray registered {} ms after launch", registered.as_millis());

    // ---- the menu, as the panel shows it ----
    let root = tray.layout().await?;
    eprintln!("menu:\n{}", root.dump());
    let demo = root.find("demo — ").with_context(|| root.dump())?;
    ensure!(demo.label.starts_with("demo — Working, checks again in "), "label: {:?}", demo.label);
    ensure!(
        demo.labels() == ["Enter a new token…", "Check now", "Pause", "Show details…"],
        "demo's items: {:?}",
        demo.labels()
    );
    let top: Vec<String> = root.labels();
    ensure!(
        top[3..] == ["---", "Open Token Keeper", "Add integration…", "Start at login", "---", "Quit Token Keeper"],
        "top level: {top:?}"
    );
    ensure!(top[1] == "---" && top[2] == "All integrations — 1 working", "top level: {top:?}");
    ensure!(root.children[0].enabled, "the summary line opens the window");
    ensure!(root.find("Start at login").and_then(|n| n.checked) == Some(false), "{}", root.dump());
    ensure!(top[0] == "Your integration is working", "summary line {:?}", top[0]);
    let status = tray.prop_str("Status").await?;
    ensure!(status == "Active", "SNI status {status:?}");
    save_icon(&tray, "ok").await?;
    let icon = tray.icon_file().await?;
    ensure!(
        icon.starts_with(sandbox.dir.path()),
        "the tray icon is written outside the user's private dir: {}",
        icon.display()
    );

    // ---- scripts reach the running app over its socket ----
    let token = sandbox.cli_ok(&["token", "demo"], "").await?;
    ensure!(token.trim() == "tok", "token over the socket: {token:?}");

    // ---- Check now: the token is checked at once ----
    let hits = probe.hits.load(std::sync::atomic::Ordering::SeqCst);
    tray.click(Some("demo — "), "Check now").await?;
    wait_until(Duration::from_secs(10), "a probe after Check now", || {
        probe.hits.load(std::sync::atomic::Ordering::SeqCst) > hits
    })
    .await?;
    let status = sandbox.cli_ok(&["status", "demo", "--json"], "").await?;
    ensure!(status.contains("\"checked\""), "no check in the history after Check now: {status}");

    // ---- Pause / Resume: engine state and menu follow ----
    tray.click(Some("demo — "), "Pause").await?;
    let (_, took) = tray
        .wait_layout(Duration::from_secs(5), |root| {
            let demo = root.find("demo — ")?;
            (demo.label == "demo — Paused" && demo.labels().contains(&"Resume".to_string())).then_some(())
        })
        .await?;
    eprintln!("menu shows Paused {} ms after the click", took.as_millis());
    ensure!(took <= MENU_LATENCY, "the menu took {took:?} to show Paused");
    ensure!(sandbox.states().await?["demo"]["state"] == "paused", "engine state after Pause");
    ensure!(tray.layout().await?.labels()[0] == "All integrations are paused");
    tray.click(Some("demo — "), "Resume").await?;
    tray.wait_layout(Duration::from_secs(5), |root| root.find("demo — Working").map(|_| ())).await?;
    ensure!(sandbox.states().await?["demo"]["state"] == "working", "engine state after Resume");

    // ---- a change made by a script shows within a second: a token that ends soon ----
    let soon = (time_today() + 5 * 86_400).to_string();
    let date = sh("date", &["-u", "-d", &format!("@{soon}"), "+%Y-%m-%d"]);
    sandbox
        .cli_ok(
            &["add", "soon", "--yes", "--provider", "api-token", "--probe-url", &probe.url(), "--expires", &date],
            "",
        )
        .await?;
    sandbox.cli_ok(&["login", "soon"], "tok\n").await?;
    let asked = Instant::now();
    tray.wait_layout(Duration::from_secs(5), |root| root.find("soon — Expiring soon").map(|_| ())).await?;
    let took = asked.elapsed();
    eprintln!("menu shows the script's change {} ms after the command returned", took.as_millis());
    ensure!(took <= MENU_LATENCY, "the menu took {took:?} to follow a change made over the socket");
    wait_until_async(Duration::from_secs(2), || async { summary(&tray).await == "1 integration needs you" }).await?;
    save_icon(&tray, "attention").await?;

    // ---- the service refuses the token: Needs sign-in, broken icon ----
    probe.accept.store(false, std::sync::atomic::Ordering::SeqCst);
    tray.click(Some("demo — "), "Check now").await?;
    tray.wait_layout(Duration::from_secs(10), |root| root.find("demo — Needs a new token").map(|_| ())).await?;
    let root = tray.layout().await?;
    let demo = root.find("demo — ").expect("still there");
    ensure!(
        !demo.children[0].enabled && !demo.children[0].label.is_empty(),
        "the reason is shown first: {}",
        root.dump()
    );
    ensure!(sandbox.states().await?["demo"]["state"] == "needs-sign-in");
    wait_until_async(Duration::from_secs(2), || async { summary(&tray).await == "2 integrations need you" }).await?;
    save_icon(&tray, "broken").await?;
    std::fs::write(screenshots_dir().join("tray-menu.txt"), tray.layout().await?.dump())?;
    // the keeper can fix it from the command line while the app runs
    probe.accept.store(true, std::sync::atomic::Ordering::SeqCst);
    sandbox.cli_ok(&["login", "demo"], "tok\n").await?;
    tray.wait_layout(Duration::from_secs(5), |root| root.find("demo — Working").map(|_| ())).await?;

    // ---- Start at login ----
    tray.click(None, "Start at login").await?;
    tray.wait_layout(Duration::from_secs(5), |root| (root.find("Start at login")?.checked == Some(true)).then_some(()))
        .await?;
    // the check mark may show (GTK ticks it on the click) before the entry is written
    let autostart = sandbox.dir.path().join("home/.config/autostart");
    let entries = || std::fs::read_dir(&autostart).map(|d| d.count()).unwrap_or(0);
    wait_until(Duration::from_secs(5), "an autostart entry", || entries() == 1).await?;
    tray.click(None, "Start at login").await?;
    tray.wait_layout(Duration::from_secs(5), |root| {
        (root.find("Start at login")?.checked == Some(false)).then_some(())
    })
    .await?;
    wait_until(Duration::from_secs(5), "the autostart entry removed", || entries() == 0).await?;

    // ---- Open Token Keeper: the window appears ----
    ensure!(
        sh("xdotool", &["search", "--onlyvisible", "--name", "^Token Keeper$"]).is_empty(),
        "a window was open before the click"
    );
    tray.click(None, "Open Token Keeper").await?;
    let window =
        wait_window("^Token Keeper$", Duration::from_secs(20)).await.context("no window after Open Token Keeper")?;
    tokio::time::sleep(Duration::from_secs(2)).await; // let WebKit paint
    let shot = screenshots_dir().join("window-list-dark.png");
    sh("import", &["-window", &window, shot.to_str().unwrap()]);
    eprintln!("window {window}; screenshot {}", shot.display());

    // ---- one instance per user: a second launch only brings the window forward ----
    let mut second = App::start(&sandbox, &[])?;
    let exited = tokio::time::timeout(Duration::from_secs(15), second.child.wait())
        .await
        .context("the second instance kept running")??;
    ensure!(exited.success(), "second instance: {exited}");
    let windows = sh("xdotool", &["search", "--onlyvisible", "--name", "^Token Keeper$"]);
    ensure!(windows.lines().count() == 1, "windows after a second launch: {windows:?}");
    ensure!(app.child.try_wait()?.is_none(), "the first instance stopped");

    // ---- Sign in (never signed in: offered calmly, first at the top): the menu says a sign-in
    // is pending; quitting leaves the old state ----
    sandbox.add_unreachable_oauth("oauth demo").await?;
    let (root, _) =
        tray.wait_layout(Duration::from_secs(5), |root| root.find("oauth demo — ").map(|_| root.clone())).await?;
    ensure!(root.find("oauth demo — Not signed in yet").is_some(), "never signed in:\n{}", root.dump());
    ensure!(
        root.children.iter().any(|c| c.label == "Sign in to oauth demo…" && c.enabled),
        "no fix at the top:\n{}",
        root.dump()
    );
    let before = sandbox.states().await?["oauth demo"]["state"].clone();
    tray.click(Some("oauth demo — "), "Sign in").await?;
    let (_, took) = tray
        .wait_layout(Duration::from_secs(5), |root| {
            let item = root.find("All integrations")?.find("oauth demo — ")?;
            (item.label == "oauth demo — signing in… finish in your browser"
                && item.children.iter().any(|c| c.label == "Signing in… finish in your browser" && !c.enabled))
            .then_some(())
        })
        .await?;
    eprintln!("menu shows the pending sign-in {} ms after the click", took.as_millis());
    ensure!(sandbox.states().await?["oauth demo"]["signin_pending"] == true);

    // ---- Quit ends the app, and its socket with it ----
    tray.click(None, "Quit Token Keeper").await?;
    let status =
        tokio::time::timeout(Duration::from_secs(15), app.child.wait()).await.context("the app did not quit")??;
    ensure!(status.success(), "exit status after Quit: {status}\n{}", app.log_text());
    let out = sandbox.cli(&["list", "--json"], "").await?;
    ensure!(out.status.success(), "after Quit the command works directly: {}", String::from_utf8_lossy(&out.stderr));
    let after = &sandbox.states().await?["oauth demo"];
    ensure!(
        after["state"] == before && after["signin_pending"] == false,
        "an unfinished sign-in changed the state: {after}"
    );
    let log = app.log_text();
    ensure!(!log.contains("tok\n") && !log.contains("Bearer"), "the app's log holds a token");
    Ok(())
}

/// The menu's first line: the tooltip's words (AppIndicator trays have no tooltip on Linux).
async fn summary(tray: &Tray) -> String {
    tray.layout().await.ok().and_then(|root| root.labels().first().cloned()).unwrap_or_default()
}

fn time_today() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn save_icon(tray: &Tray, state: &str) -> Result<()> {
    let file = tray.icon_file().await?;
    let to = screenshots_dir().join(format!("tray-icon-{state}.png"));
    std::fs::copy(&file, &to).with_context(|| format!("copy the tray icon {}", file.display()))?;
    Ok(())
}

async fn wait_until(within: Duration, what: &str, mut f: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !f() {
        ensure!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

async fn wait_until_async<F: std::future::Future<Output = bool>>(
    within: Duration,
    mut f: impl FnMut() -> F,
) -> Result<()> {
    let start = Instant::now();
    while !f().await {
        ensure!(start.elapsed() < within, "timed out after {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

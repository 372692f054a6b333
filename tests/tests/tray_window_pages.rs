//! Every page of the window, light and dark, as a keeper sees it: the tour starts at the first-run
//! welcome page, walks every door and service form, an administrator's file up to its confirm
//! step, then (integrations set up by a script meanwhile) the list with problems first, details
//! with their technical sections open, the token form, settings and the remove dialog. Each page
//! is saved to `target/screenshots/page-*-{light,dark}.png` (the ones in docs/screenshots come
//! from here), and checked: nothing scrolls sideways, and no `alert`/`confirm` was reached.
//!
//! The desktop's theme decides light or dark (GTK_THEME=Adwaita:dark; the page follows it through
//! prefers-color-scheme).
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_window_pages`

mod tray_support;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::json;
use tray_support::webdriver::{Driver, Session};
use tray_support::*;

const SHORT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_light_and_dark() -> Result<()> {
    if !desktop_session("tray_window_pages") {
        return Ok(());
    }
    for theme in ["light", "dark"] {
        tour(theme).await.with_context(|| format!("the {theme} tour"))?;
    }
    Ok(())
}

/// Saves the page as `page-NAME-THEME.png` once nothing scrolls sideways.
async fn shot(session: &Session, name: &str, theme: &str) -> Result<()> {
    let overflow = session
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth", json!([]))
        .await?;
    session.screenshot(&screenshots_dir().join(format!("page-{name}-{theme}.png"))).await?;
    ensure!(overflow.as_i64().unwrap_or(1) <= 0, "the page {name} scrolls sideways by {overflow} px");
    Ok(())
}

async fn tour(theme: &str) -> Result<()> {
    // a desktop of its own: the last tour's app registered with the last one
    let mut desktop = Desktop::start().await?;
    let (app_bin, _) = binaries();
    // New York: the end of a day there is the next day in UTC, so a date shown in the wrong zone
    // is caught below; the dark tour in a German locale, whose dates the window must write as the
    // rest of Token Keeper does (in English, day first)
    let locale = if theme == "dark" { "de_DE.UTF-8" } else { "en_US.UTF-8" };
    let sandbox =
        Sandbox::new()?.with("TZ", "America/New_York").with("LANG", locale).with("LC_ALL", "").with("LC_TIME", "");
    let mut env = sandbox.env();
    // the "browser" opens nothing: a sign-in stays pending
    env.push(("BROWSER".into(), "true".into()));
    if theme == "dark" {
        env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
    }
    let driver = Driver::start(&env, &sandbox.dir.path().join("tauri-driver.log")).await?;
    let session = driver.session(&app_bin).await.context("WebDriver session")?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await?;
    let go = |route: &str| session.script("location.hash = arguments[0]", json!([format!("#/{route}")]));

    // ---- the way in ----
    session.wait_text("#page-title", SHORT, |t| t == "Welcome to Token Keeper").await?;
    session.trap_browser_dialogs().await?;
    shot(&session, "welcome", theme).await?;
    session.click("#door-service").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Connect a service").await?;
    shot(&session, "services", theme).await?;
    for service in ["highq", "atlassian-token", "atlassian", "github", "google", "microsoft"] {
        go(&format!("add/service/{service}")).await?;
        session.wait_for("#service-form", SHORT).await?;
        shot(&session, &format!("service-{service}"), theme).await?;
    }
    go("add/advanced").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Other service (advanced)").await?;
    shot(&session, "advanced", theme).await?;
    session.click("#advanced-sign-in").await?;
    session.wait_for("#issuer", SHORT).await?;
    shot(&session, "advanced-sign-in", theme).await?;
    go("add/advanced/token").await?;
    session.wait_for("#probe-url", SHORT).await?;
    shot(&session, "advanced-token", theme).await?;
    go("add/file").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Open the file from your administrator").await?;
    shot(&session, "file", theme).await?;
    let probe = ProbeServer::start("tok").await?;
    let file = format!("name = \"Billing export\"\nprovider = \"api-token\"\nprobe_url = \"{}\"\n", probe.url());
    session.drop_file("billing.toml", &file).await?;
    session.wait_text("#page-title", SHORT, |t| t == "Check what the file sets up").await?;
    shot(&session, "file-confirm", theme).await?;
    session.click("#profile-cancel").await?;

    // ---- integrations, set up by a script meanwhile: working, ending soon, broken, never signed in ----
    let soon = (time::OffsetDateTime::now_utc().date() + time::Duration::days(5)).to_string();
    let refused = ProbeServer::start("tok").await?;
    for (name, url, expires) in [
        ("Billing export", probe.url(), None),
        ("Jira sync", probe.url(), Some(&soon)),
        ("Wiki token", refused.url(), None),
    ] {
        let mut args = vec!["add", name, "--provider", "api-token", "--probe-url", &url, "--yes"];
        if let Some(date) = expires {
            args.extend(["--expires", date]);
        }
        sandbox.cli_ok(&args, "").await?;
        sandbox.cli_ok(&["login", name], "tok\n").await?;
    }
    refused.accept.store(false, std::sync::atomic::Ordering::SeqCst);
    let _ = sandbox.cli(&["refresh", "Wiki token"], "").await?;
    let instance = "--instance-url=https://acme.highq.invalid/acme";
    sandbox.cli_ok(&["add", "HighQ reporting", "--provider", "highq", instance, "--client-id", "hq"], "").await?;
    go("").await?;
    session.wait_text("li[data-name='Wiki token'] .badge", SHORT, |t| t == "Needs a new token").await?;
    session.wait_text("li[data-name='Jira sync'] .badge", SHORT, |t| t == "Expiring soon").await?;
    let order = session
        .script(
            "return [...document.querySelectorAll('li[data-name]')].map(li => li.dataset.name).join(', ')",
            json!([]),
        )
        .await?;
    // broken first (a refused token), then what needs attention (not signed in yet, expiring
    // soon: by name), then what works
    ensure!(order == "Wiki token, HighQ reporting, Jira sync, Billing export", "not problems first: {order}");
    shot(&session, "list", theme).await?;

    go("detail/HighQ%20reporting").await?;
    session.wait_for("#detail-actions[data-ways-checked]", Duration::from_secs(30)).await?;
    shot(&session, "detail-not-signed-in", theme).await?;
    go("detail/Jira%20sync").await?;
    session.wait_for("#technical", SHORT).await?;
    session.click("#technical summary").await?;
    session.click("#script-use summary").await?;
    session.script("document.getElementById('script-use').scrollIntoView()", json!([])).await?;
    shot(&session, "detail-technical", theme).await?;
    session.script("window.scrollTo(0, 0)", json!([])).await?;
    shot(&session, "detail-expiring", theme).await?;
    same_end_date(&session, &sandbox, "Jira sync").await?;
    session.click("#remove").await?;
    session.wait_for("dialog[open]", SHORT).await?;
    shot(&session, "dialog-remove", theme).await?;
    session.keys("\u{E00C}").await?;
    go("token/Jira%20sync").await?;
    session.wait_for("#token-expires", SHORT).await?;
    shot(&session, "token", theme).await?;
    go("settings").await?;
    session.wait_for("#warning-days", SHORT).await?;
    shot(&session, "settings", theme).await?;

    let dialogs = session.browser_dialogs().await?;
    ensure!(dialogs.is_empty(), "the window used the browser's own dialogs: {dialogs:?}");
    tray.click(None, "Quit Token Keeper").await?;
    session.end().await;
    driver.stop().await;
    Ok(())
}

/// One date, one answer: the token's end shown by the window (its own formatting, in the web
/// view's zone), by the engine's sentence in the window, and by `tokenkeeper status`.
async fn same_end_date(session: &Session, sandbox: &Sandbox, name: &str) -> Result<()> {
    let facts = session
        .script(
            "return [...document.querySelectorAll('dt')].find(dt => dt.textContent === 'Token ends on')\
             ?.nextElementSibling?.textContent ?? ''",
            json!([]),
        )
        .await?;
    let window_date = facts.as_str().unwrap_or_default().to_string();
    ensure!(!window_date.is_empty(), "the details show no end date");
    let sentence =
        session.script("return document.getElementById('detail-sentence')?.textContent ?? ''", json!([])).await?;
    let sentence = sentence.as_str().unwrap_or_default();
    ensure!(
        sentence.contains(&format!("ends on {window_date}.")),
        "the window's sentence says {sentence:?}, its facts {window_date:?}"
    );
    let status = sandbox.cli_ok(&["status", name], "").await?;
    let line = status.lines().find(|l| l.trim_start().starts_with("Token ends:")).unwrap_or_default().to_string();
    ensure!(line.contains(&window_date), "`status` says {line:?}, the window {window_date:?}");
    eprintln!("{name} ends on {window_date}: window, sentence and status agree");
    Ok(())
}

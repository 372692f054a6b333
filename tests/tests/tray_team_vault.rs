//! The team vault page of the real window (WebDriver: tauri-driver + WebKitWebDriver), against a
//! real OpenBao dev server on 127.0.0.1, light and dark:
//! - Settings → "Team vault…" opens it; not connected yet, it says so and shows the form
//!   (address, place in the vault with its usual value, the storage area folded under "More
//!   options", the token);
//! - another keeper has shared an integration there; the address and a token made for the team
//!   (a policy on the team's place only) → "Connected to the team vault at ADDRESS
//!   (tokenkeeper/shared). 1 shared integration." and how long its access lasts, in words;
//!   `tokenkeeper shared status --json` in the same sandbox agrees, the shared integration is in
//!   the list, and the token is nowhere in the page;
//! - the vault withdraws the token: the page says the access ended, in words, by itself, and
//!   offers the form again with the address kept; a new token connects again;
//! - "Disconnect…" asks in the window's own dialog (the shared integrations stay in the vault for
//!   the others), then the page and `shared status` say not connected and the vault still holds
//!   the integration;
//! - a wrong token: a plain sentence next to the form (no "HTTP", no status number, no protocol
//!   word), and nothing is kept;
//! - no `alert`/`confirm`/`prompt` is reached, and nothing scrolls sideways.
//!
//! Screenshots: `target/screenshots/page-team-vault-*-{light,dark}.png`.
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_team_vault`

mod tray_support;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use tokenkeeper_tests::openbao::{bao_api, BaoDev};
use tray_support::webdriver::{Driver, Session};
use tray_support::*;

const SHORT: Duration = Duration::from_secs(10);
/// Connecting checks the token and lists the team's place: a moment on a loaded machine.
const CONNECTING: Duration = Duration::from_secs(30);
/// The keeper looks at the vault every 10 s, the page every 10 s: a withdrawn access shows
/// within 20 s; the rest is slack for a loaded machine.
const ACCESS_ENDED_SHOWS: Duration = Duration::from_secs(60);

/// The usual place of a team's shared integrations (the page's default).
const PLACE: &str = "tokenkeeper/shared";
const MOUNT: &str = "secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_vault_page_connects_and_disconnects_in_plain_words() -> Result<()> {
    if !desktop_session("tray_team_vault") {
        return Ok(());
    }
    let dev = BaoDev::start();
    let admin = dev.admin();
    // what the team vault's administrator sets up: a policy on the team's place, and one
    // integration another keeper shared there already
    admin.write_policy(
        "tokenkeeper-team",
        &format!(
            "path \"{MOUNT}/data/{PLACE}/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\"] }}\n\
             path \"{MOUNT}/metadata/{PLACE}/*\" {{ capabilities = [\"list\", \"read\", \"delete\"] }}\n"
        ),
    )?;
    let other = Sandbox::new()?;
    other
        .cli_ok(&["shared", "connect", "--address", dev.addr(), "--token-stdin"], &format!("{}\n", admin.root_token()))
        .await
        .context("another keeper connects")?;
    let probe = "http://127.0.0.1:9/ok";
    other
        .cli_ok(&["add", "Team reports", "--shared", "--provider", "api-token", "--probe-url", probe, "--yes"], "")
        .await
        .context("another keeper shares an integration")?;
    ensure!(vault_list(&dev)? == ["Team reports"], "the shared integration is not in the vault");

    for theme in ["light", "dark"] {
        tour(&dev, theme).await.with_context(|| format!("the {theme} tour"))?;
    }
    Ok(())
}

/// Saves the page as `page-team-vault-NAME-THEME.png` once nothing scrolls sideways.
async fn shot(session: &Session, name: &str, theme: &str) -> Result<()> {
    let overflow = session
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth", json!([]))
        .await?;
    let file = screenshots_dir().join(format!("page-team-vault-{name}-{theme}.png"));
    session.screenshot(&file).await?;
    eprintln!("screenshot: {}", file.display());
    ensure!(overflow.as_i64().unwrap_or(1) <= 0, "the page {name} scrolls sideways by {overflow} px");
    Ok(())
}

async fn tour(dev: &BaoDev, theme: &str) -> Result<()> {
    let admin = dev.admin();
    let mut desktop = Desktop::start().await?;
    let (app_bin, _) = binaries();
    let sandbox = Sandbox::new()?;
    let mut env = sandbox.env();
    if theme == "dark" {
        env.push(("GTK_THEME".into(), "Adwaita:dark".into()));
    }
    let driver = Driver::start(&env, &sandbox.dir.path().join("tauri-driver.log")).await?;
    let session = driver.session(&app_bin).await.context("WebDriver session")?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await?;
    session.wait_text("#page-title", SHORT, |t| t == "Welcome to Token Keeper").await?;
    session.trap_browser_dialogs().await?;

    // ---- the way in: Settings → "Team vault…" ----
    session.click("#nav-settings").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Settings").await?;
    let link = session.wait_text("#settings-team-vault", SHORT, |t| !t.is_empty()).await?;
    ensure!(link == "Team vault…", "the settings' way to the team vault says {link:?}");
    session
        .script("document.getElementById('settings-team-vault').scrollIntoView({block: 'center'})", json!([]))
        .await?;
    shot(&session, "settings", theme).await?;
    session.click("#settings-team-vault").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Team vault").await?;
    let hash = session.script("return location.hash", json!([])).await?;
    ensure!(hash == "#/team-vault", "the team vault page is at {hash}");
    session.wait_for("#team-vault[data-state='not-connected']", SHORT).await?;
    let summary = session.text("#team-vault-summary").await?;
    ensure!(summary.contains("not connected to a team vault"), "not connected yet, the page says {summary:?}");
    let place = field_value(&session, "team-vault-place").await?;
    ensure!(place == PLACE, "the place in the vault is {place:?} at first");
    let area_folded = session.script("return !document.getElementById('team-vault-more').open", json!([])).await?;
    ensure!(area_folded == true, "the storage area is not folded under \"More options\"");
    let token_kind = session.script("return document.getElementById('team-vault-token').type", json!([])).await?;
    ensure!(token_kind == "password", "the token is typed into a {token_kind} field");
    let labels = session.text("#team-vault-form").await?;
    for label in ["Address of the team vault", "Place in the vault", "More options", "Team vault token"] {
        ensure!(labels.contains(label), "the form has no {label:?}: {labels:?}");
    }
    shot(&session, "form", theme).await?;

    // ---- connect with a token made for the team ----
    let token = admin.create_token(&["tokenkeeper-team"], "8h", "24h")?;
    session.fill("#team-vault-address", dev.addr()).await?;
    session.fill("#team-vault-token", &token).await?;
    session.click("#team-vault-connect").await?;
    connected_with_one(&session, dev).await?;
    let access = session.text("#team-vault-access").await?;
    ensure!(
        access == "Its access lasts 8 hours and is renewed automatically.",
        "the access of an 8-hour token is said as {access:?}"
    );
    let status = shared_status(&sandbox).await?;
    ensure!(
        status["connected"] == true
            && status["address"] == dev.addr()
            && status["path"] == PLACE
            && status["mount"] == MOUNT
            && status["integrations"] == 1,
        "`tokenkeeper shared status --json` after connecting in the window: {status}"
    );
    let html = session.script("return document.documentElement.outerHTML", json!([])).await?;
    ensure!(!html.as_str().unwrap_or_default().contains(&token), "the token is in the page after connecting");
    let listed = sandbox.cli_ok(&["list", "--json"], "").await?;
    ensure!(listed.contains("Team reports"), "the shared integration is not listed: {listed}");
    shot(&session, "connected", theme).await?;
    // the list shows it with its "Shared" mark
    session.click("#nav-list").await?;
    session.wait_text("li[data-name='Team reports'] .shared-mark", SHORT, |t| t.starts_with("Shared")).await?;
    session.click("#nav-settings").await?;
    session.wait_text("#settings-team-vault-status", SHORT, |t| t.starts_with("Connected")).await?;
    session.click("#settings-team-vault").await?;
    session.wait_for("#team-vault[data-state='connected']", SHORT).await?;

    // ---- the vault withdraws the access: the page says so by itself and offers the form ----
    admin.revoke_token(&token)?;
    let ended = |t: &str| t.contains("its access has ended");
    let problem = match session.wait_text("#team-vault-problem", ACCESS_ENDED_SHOWS, ended).await {
        Ok(problem) => problem,
        Err(e) => return Err(e.context(format!("the keeper says {}", shared_status(&sandbox).await?))),
    };
    let state = session.script("return document.getElementById('team-vault').dataset.state", json!([])).await?;
    ensure!(state != "connected", "the page says connected with its access ended");
    ensure!(session.exists("#team-vault-form").await?, "no form to connect again once the access ended");
    plain(&problem)?;
    let visible = session.script("return document.getElementById('team-vault').innerText", json!([])).await?;
    // the vault's address and place are the person's own data, and an address starts with https://
    let visible = visible.as_str().unwrap_or_default().replace(dev.addr(), "ADDRESS").replace(PLACE, "PLACE");
    plain(&visible.replace("https://", "")).context("the page with its technical details folded")?;
    let address = field_value(&session, "team-vault-address").await?;
    ensure!(address == dev.addr(), "connecting again, the address is not kept: {address:?}");
    shot(&session, "access-ended", theme).await?;
    let again = admin.create_token(&["tokenkeeper-team"], "30m", "24h")?;
    session.fill("#team-vault-token", &again).await?;
    session.click("#team-vault-connect").await?;
    connected_with_one(&session, dev).await?;
    let access = session.text("#team-vault-access").await?;
    ensure!(access == "Its access lasts 30 minutes and is renewed automatically.", "the access is said as {access:?}");

    // ---- disconnect, asked in the window's own dialog ----
    session.click("#team-vault-disconnect").await?;
    session.wait_for("dialog[open]", SHORT).await?;
    let asked = session.text("dialog[open]").await?;
    ensure!(
        asked.contains("Disconnect from the team vault?")
            && asked.contains("The shared integrations stay in the team vault for the others"),
        "the dialog says {asked:?}"
    );
    shot(&session, "disconnect-dialog", theme).await?;
    // Escape keeps the connection
    session.keys("\u{E00C}").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    ensure!(!session.exists("dialog[open]").await?, "Escape did not close the dialog");
    ensure!(shared_status(&sandbox).await?["connected"] == true, "Escape disconnected");
    session.click("#team-vault-disconnect").await?;
    session.wait_for("dialog[open]", SHORT).await?;
    session.click("dialog[open] button.danger").await?;
    session.wait_for("#team-vault[data-state='not-connected']", SHORT).await?;
    let status = shared_status(&sandbox).await?;
    ensure!(
        status["configured"] == false && status["connected"] == false,
        "`shared status --json` after disconnecting: {status}"
    );
    ensure!(vault_list(dev)? == ["Team reports"], "the shared integration left the vault with this keeper");
    let listed = sandbox.cli_ok(&["list", "--json"], "").await?;
    ensure!(!listed.contains("Team reports"), "still listed after disconnecting: {listed}");

    // ---- a wrong token: a plain sentence, nothing kept ----
    session.fill("#team-vault-address", dev.addr()).await?;
    session.fill("#team-vault-token", "not-the-right-token").await?;
    session.click("#team-vault-connect").await?;
    let said = session.wait_text("#team-vault-error", CONNECTING, |t| !t.is_empty()).await?;
    ensure!(
        said.starts_with("Token Keeper could not connect to the team vault: it did not accept"),
        "a wrong token is said as {said:?}"
    );
    plain(&said)?;
    session.script("document.getElementById('team-vault-error').scrollIntoView({block: 'center'})", json!([])).await?;
    let status = shared_status(&sandbox).await?;
    ensure!(status["configured"] == false, "a refused token was kept: {status}");
    ensure!(session.exists("#team-vault[data-state='not-connected']").await?, "the page changed after a refusal");
    shot(&session, "wrong-token", theme).await?;

    let dialogs = session.browser_dialogs().await?;
    ensure!(dialogs.is_empty(), "the window used the browser's own dialogs: {dialogs:?}");
    tray.click(None, "Quit Token Keeper").await?;
    session.end().await;
    driver.stop().await;
    Ok(())
}

/// The page says it is connected, where, with the one shared integration.
async fn connected_with_one(session: &Session, dev: &BaoDev) -> Result<()> {
    let error = "#team-vault-error";
    let start = std::time::Instant::now();
    while !session.exists("#team-vault[data-state='connected']").await? {
        let said = session.text(error).await?;
        ensure!(said.is_empty(), "connecting failed: {said}");
        ensure!(start.elapsed() < CONNECTING, "not connected within {CONNECTING:?}: {}", session.text("main").await?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let summary = session.text("#team-vault-summary").await?;
    let want = format!("Connected to the team vault at {} ({PLACE}). 1 shared integration.", dev.addr());
    ensure!(summary == want, "connected, the page says {summary:?}, not {want:?}");
    let badge = session.text("#team-vault-badge").await?;
    ensure!(badge == "Connected", "the badge says {badge:?}");
    Ok(())
}

/// A sentence a person reads: no protocol word, no status number, no vault jargon.
fn plain(text: &str) -> Result<()> {
    for word in ["HTTP", "403", "permission denied", "OpenBao", "KV", "mount", "lease", "lookup-self"] {
        ensure!(!text.contains(word), "{word:?} in {text:?}");
    }
    ensure!(
        tokenkeeper_engine::phrases::jargon(text).is_none(),
        "{:?} in {text:?}",
        tokenkeeper_engine::phrases::jargon(text)
    );
    Ok(())
}

async fn field_value(session: &Session, id: &str) -> Result<String> {
    let v = session.script("return document.getElementById(arguments[0]).value", json!([id])).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// `tokenkeeper shared status --json` in the app's sandbox (through the running app).
async fn shared_status(sandbox: &Sandbox) -> Result<Value> {
    let out = sandbox.cli(&["shared", "status", "--json"], "").await?;
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("shared status --json: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The shared integrations the vault holds in the team's place (read as its administrator).
fn vault_list(dev: &BaoDev) -> Result<Vec<String>> {
    let path = format!("{MOUNT}/metadata/{PLACE}/integrations");
    let (status, v) = bao_api(dev.addr(), Some(dev.admin().root_token()), "LIST", &path, None)?;
    ensure!(status == 200 || status == 404, "LIST {path}: {status}: {v}");
    Ok(v["data"]["keys"]
        .as_array()
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default())
}

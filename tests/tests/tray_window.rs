//! The real window through WebDriver (tauri-driver + WebKitWebDriver), with the real tray seen over
//! D-Bus and a real OpenID Connect provider on 127.0.0.1:
//! - first run: the window opens by itself on the wizard; a generic OAuth integration is added
//!   through it (issuer discovery), the "browser" (tests/tray/browser.sh, via the system opener)
//!   signs in and it turns "Working";
//! - the provider forgets the grant: "Needs sign-in" in the window and in the tray menu, an urgent
//!   notification read back from dunst, and its "Sign in again" action recovers;
//! - an API token through the wizard: a refused token is not saved, a working one is;
//! - the wizard offers the provider presets; a HighQ integration needs only its instance address
//!   and client, and waits for sign-in; an administrator's profile file is imported (a broken one
//!   shows why and adds nothing);
//! - the warning lead times changed on the Settings page are saved to settings.toml; a bad value
//!   shows why next to the field and changes nothing;
//! - closing the window destroys it and the app keeps running in the tray.
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_window`
//! Needs tauri-driver (`cargo install tauri-driver --locked --root target/tools`) and the OAuth
//! server's node_modules (`npm ci` in tests/fixtures/oidc-server). Screenshots: target/screenshots/.

mod tray_support;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use tray_support::webdriver::{Driver, OidcServer};
use tray_support::*;

const SHORT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_adds_integrations_and_signs_in_again() -> Result<()> {
    if !desktop_session("tray_window") {
        return Ok(());
    }
    let (app_bin, _) = binaries();
    let shots = screenshots_dir();
    let sandbox = Sandbox::new()?;
    let oidc = OidcServer::start(0, &sandbox.dir.path().join("oidc.log")).await?;
    let browser_log = sandbox.dir.path().join("browser.log");
    let mut env = sandbox.env();
    env.push(("BROWSER".into(), workspace_root().join("tests/tray/browser.sh").display().to_string()));
    env.push(("TRAY_BROWSER_LOG".into(), browser_log.display().to_string()));
    env.push(("TOKENKEEPER_LOG".into(), "info,token_keeper=debug".into()));

    let mut desktop = Desktop::start().await?;
    let driver = Driver::start(&env, &sandbox.dir.path().join("tauri-driver.log")).await?;
    // First run (no integration yet): the window opens at start, so the session can attach.
    let session = driver.session(&app_bin).await.context("WebDriver session")?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await?;

    // ---- the wizard: generic OAuth 2.0 / OpenID Connect with discovery ----
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    session.screenshot(&shots.join("window-wizard-1-kind.png")).await?;
    session.click("#kind-next").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Describe the service").await?;
    session.fill("#name", "Reports").await?;
    session.fill("#issuer", &oidc.issuer()).await?;
    session.click("#discover").await?;
    session.wait_text(".found", SHORT, |t| t.starts_with("Found the service at 127.0.0.1")).await?;
    session.fill("#client-id", "test-native").await?;
    session.fill("#client-secret", "test-secret").await?;
    session.screenshot(&shots.join("window-wizard-2-service.png")).await?;
    let value = session.script("return document.getElementById('token-url').value", serde_json::json!([])).await?;
    ensure!(
        value.as_str().unwrap_or_default().starts_with(&oidc.issuer()),
        "discovery filled the token address: {value}"
    );
    session.click("#add-submit").await?;
    // the system opener runs the "browser", which signs in by itself
    session.wait_text("#signin-status", Duration::from_secs(60), |t| t.starts_with("Done: Reports is working")).await?;
    session.screenshot(&shots.join("window-wizard-3-done.png")).await?;
    let opened = std::fs::read_to_string(&browser_log).unwrap_or_default();
    ensure!(
        opened.contains(&format!("{}/auth?", oidc.issuer())) && opened.contains("code_challenge="),
        "the browser was not opened on the sign-in page: {opened:?}"
    );
    ensure!(sandbox.states().await?["Reports"]["state"] == "working");
    let token = sandbox.cli_ok(&["token", "Reports"], "").await?;
    ensure!(!token.trim().is_empty(), "a token for scripts");

    // no token ever reaches the page: the whole page, and what the window's commands return
    let page = session.script("return document.documentElement.outerHTML", serde_json::json!([])).await?;
    ensure!(!page.as_str().unwrap_or_default().contains(token.trim()), "the access token is in the page");
    let status = session
        .script(
            "return window.__TAURI_INTERNALS__.invoke('status', {name: 'Reports'}).then(s => JSON.stringify(s));",
            serde_json::json!([]),
        )
        .await?;
    ensure!(!status.to_string().contains(token.trim()), "the status command hands out the token");

    // ---- the list: state badge and a live countdown ----
    session.click("#nav-list").await?;
    session.wait_text("li[data-name='Reports'] .badge", SHORT, |t| t == "Working").await?;
    let first = session.text("li[data-name='Reports'] .countdown").await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = session.text("li[data-name='Reports'] .countdown").await?;
    ensure!(first != second && !first.is_empty(), "the countdown does not move: {first:?} then {second:?}");
    session.screenshot(&shots.join("window-list-working.png")).await?;
    // readable at 200 % zoom: nothing is cut off or needs sideways scrolling
    session.script("document.documentElement.style.zoom = '2'", serde_json::json!([])).await?;
    let overflow = session
        .script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            serde_json::json!([]),
        )
        .await?;
    session.screenshot(&shots.join("window-list-zoom-200.png")).await?;
    session.script("document.documentElement.style.zoom = ''", serde_json::json!([])).await?;
    ensure!(overflow.as_i64().unwrap_or(1) <= 0, "at 200 % the page scrolls sideways by {overflow} px");
    tray.wait_layout(SHORT, |root| root.find("Reports — Working, ").map(|_| ())).await?;

    // ---- the provider forgets the grant: Needs sign-in everywhere ----
    let oidc = oidc.restart().await?;
    let out = sandbox.cli(&["refresh", "Reports"], "").await?;
    ensure!(
        out.status.code() == Some(3),
        "refresh after the grant was forgotten: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    session.wait_text("li[data-name='Reports'] .badge", SHORT, |t| t == "Needs sign-in").await?;
    tray.wait_layout(SHORT, |root| root.find("Reports — Needs sign-in").map(|_| ())).await?;
    session.screenshot(&shots.join("window-list-needs-sign-in.png")).await?;
    let notify_log = std::env::var("NOTIFY_LOG").context("NOTIFY_LOG (set by tests/env/session.sh)")?;
    let notice = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&notify_log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains("Reports") && l.contains("CRITICAL"))
            .map(str::to_string)
    })
    .await
    .context("no urgent notification about Reports")?;
    eprintln!("notification: {notice}");

    // ---- "Sign in again" in the notification ----
    let before = std::fs::read_to_string(&browser_log).unwrap_or_default().lines().count();
    let picked = std::process::Command::new("dunstctl").arg("context").env("PICK_ACTION", "Sign in again").status()?;
    ensure!(picked.success(), "dunstctl context");
    session.wait_text("li[data-name='Reports'] .badge", Duration::from_secs(60), |t| t == "Working").await?;
    tray.wait_layout(SHORT, |root| root.find("Reports — Working").map(|_| ())).await?;
    ensure!(
        std::fs::read_to_string(&browser_log).unwrap_or_default().lines().count() > before,
        "the browser was not opened again"
    );
    ensure!(sandbox.states().await?["Reports"]["state"] == "working");

    // ---- the detail view with its history ----
    session.click("li[data-name='Reports'] h2 a").await?;
    session.wait_text(".timeline", SHORT, |t| t.contains("Signed in.") && t.contains("Renewal refused")).await?;
    session.screenshot(&shots.join("window-detail.png")).await?;

    // ---- sign-in with a code (device flow), typed on another device ----
    session.click("#signin-code").await?;
    let url = session.wait_text("#device-url", SHORT, |t| t.starts_with(&oidc.issuer())).await?;
    let code = session.text("#device-code").await?;
    ensure!(!code.is_empty() && url.contains("user_code="), "code {code:?} at {url:?}");
    session.screenshot(&shots.join("window-device-code.png")).await?;
    tokio::task::spawn_blocking(move || tokenkeeper_tests::follow_device_verification(&url)).await??;
    session.wait_text("#device-status", Duration::from_secs(60), |t| t == "Done: Reports is signed in.").await?;
    ensure!(sandbox.states().await?["Reports"]["state"] == "working");

    // ---- an API token through the wizard: checked before it is saved ----
    let probe = ProbeServer::start("good-token").await?;
    session.click("#nav-add").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    session.click("#kind-api-token").await?;
    session.click("#kind-next").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Describe the token").await?;
    session.fill("#name", "Jira token").await?;
    session.fill("#probe-url", &probe.url()).await?;
    session.click("#add-submit").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Token for Jira token").await?;
    session.fill("#token", "wrong-token").await?;
    session.click("#token-save").await?;
    session.wait_text("#token-error", SHORT, |t| t.contains("does not work")).await?;
    session.screenshot(&shots.join("window-token-refused.png")).await?;
    let jira = &sandbox.states().await?["Jira token"];
    ensure!(jira["state"] != "working", "a refused token made it work: {jira}");
    session.fill("#token", "good-token").await?;
    session.click("#token-save").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Jira token").await?;
    session.wait_text(".badge", SHORT, |t| t == "Working").await?;
    ensure!(sandbox.cli_ok(&["token", "Jira token"], "").await?.trim() == "good-token");

    // ---- the presets: the wizard offers the engine's provider profiles ----
    session.click("#nav-add").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    let listed = session
        .wait_text("#presets", SHORT, |t| t.contains("HighQ Collaborate") && t.contains("Atlassian (API token)"))
        .await?;
    for name in [
        "Atlassian (sign in with an account)",
        "GitHub",
        "Google",
        "Microsoft",
        "OAuth 2.0 / OpenID Connect",
        "API token",
    ] {
        ensure!(listed.contains(name), "the preset {name:?} is not offered: {listed:?}");
    }
    session.screenshot(&shots.join("window-wizard-presets.png")).await?;
    // HighQ: the instance address, a client id and secret; a link to register an app
    session.click("#kind-highq").await?;
    session.click("#kind-next").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Describe the service").await?;
    let link = session
        .script("return document.getElementById('register-link').getAttribute('href')", serde_json::json!([]))
        .await?;
    ensure!(link.as_str().unwrap_or_default().starts_with("https://"), "no register link: {link}");
    let fields = session
        .script("return [...document.querySelectorAll('form input')].map(i => i.id).join(',')", serde_json::json!([]))
        .await?;
    // HighQ takes no scopes: its form does not ask for them (the engine's field table).
    ensure!(fields == "name,instance-url,client-id,client-secret", "the HighQ form asks for: {fields}");
    session.fill("#name", "HighQ").await?;
    session.fill("#instance-url", "http://example.com/acme").await?;
    session.fill("#client-id", "hq-client").await?;
    session.fill("#client-secret", "hq-secret").await?;
    session.click("#add-submit").await?;
    session.wait_text("#wizard-error", SHORT, |t| t.contains("not a secure address")).await?;
    ensure!(!sandbox.states().await?.contains_key("HighQ"), "a refused HighQ integration was added");
    session.fill("#instance-url", "https://acme.highq.invalid/acme").await?;
    session.screenshot(&shots.join("window-wizard-highq.png")).await?;
    session.click("#add-submit").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Sign in to HighQ").await?;
    let highq = &sandbox.states().await?["HighQ"];
    ensure!(highq["state"] == "needs-sign-in" && highq["provider"] == "highq", "HighQ after adding: {highq}");
    session.click("#nav-list").await?;

    // ---- "Import profile…": an administrator's file for the generic OAuth provider ----
    let import = |file: &str, text: &str| {
        let script = "const [name, text] = arguments; const dt = new DataTransfer(); \
                      dt.items.add(new File([text], name, {type: 'text/plain'})); \
                      document.getElementById('profile-file').files = dt.files; \
                      document.getElementById('import-submit').click();";
        session.script(script, serde_json::json!([file, text]))
    };
    session.click("#nav-add").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    session.find("#import-submit", SHORT).await?;
    let before = sandbox.states().await?.len();
    // a broken file: the error is shown next to the control, never the secret, nothing added
    let broken = "name = \"Broken\"\nprovider = \"oauth2\"\nclient_secret = \"file-secret-42\"\nclient_id = 7\n";
    import("broken.toml", broken).await?;
    let error = session.wait_text("#import-error", SHORT, |t| t.contains("broken.toml")).await?;
    ensure!(error.contains("client_id") && !error.contains("file-secret-42"), "the import error: {error:?}");
    session.screenshot(&shots.join("window-import-error.png")).await?;
    ensure!(sandbox.states().await?.len() == before, "a broken profile file added an integration");
    let profile = format!(
        "name = \"Imported\"\nprovider = \"oauth2\"\nissuer = \"{}\"\nclient_id = \"test-native\"\n\
         client_secret = \"test-secret\"\nscopes = [\"openid\", \"offline_access\"]\n",
        oidc.issuer()
    );
    import("imported.toml", &profile).await?;
    let done = session.wait_text("#import-done", SHORT, |t| t.contains("Imported")).await?;
    ensure!(done.contains("can now delete imported.toml") && done.contains("keychain"), "after importing: {done:?}");
    ensure!(session.text("#import-error").await.unwrap_or_default().is_empty(), "an error after importing");
    session.screenshot(&shots.join("window-import-done.png")).await?;
    let imported = &sandbox.states().await?["Imported"];
    ensure!(imported["state"] == "needs-sign-in" && imported["provider"] == "oauth2", "imported: {imported}");
    let page = session.script("return document.documentElement.outerHTML", serde_json::json!([])).await?;
    ensure!(!page.as_str().unwrap_or_default().contains("test-secret"), "the client secret is in the page");
    // and it signs in like any other (the "browser" signs in at the local provider)
    session.click("#import-next").await?;
    session
        .wait_text("#signin-status", Duration::from_secs(60), |t| t.starts_with("Done: Imported is working"))
        .await?;

    // ---- settings ----
    session.click("#nav-settings").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Settings").await?;
    session.wait_text("main", SHORT, |t| t.contains("You are warned")).await?;
    let field = "return document.getElementById('warning-days').value";
    let shown = session.script(field, serde_json::json!([])).await?;
    ensure!(shown == "14, 3, 1", "the lead times field shows the defaults: {shown}");
    session.screenshot(&shots.join("window-settings.png")).await?;
    // change the warning lead times: saved to settings.toml, applied at once
    let settings_file = sandbox.dir.path().join("config/tokenkeeper/settings.toml");
    session.fill("#warning-days", "7, 30").await?;
    session.click("#warning-days-save").await?;
    session.wait_text("#warning-days-status", SHORT, |t| t.starts_with("Saved.")).await?;
    session.wait_text("#warning-summary", SHORT, |t| t.contains("30 days and 7 days")).await?;
    let saved = std::fs::read_to_string(&settings_file).context("settings.toml after saving")?;
    ensure!(saved.starts_with('#') && saved.contains("warning_days = [30, 7]"), "settings.toml: {saved:?}");
    ensure!(session.script(field, serde_json::json!([])).await? == "30, 7", "the field shows the saved lead times");
    session.screenshot(&shots.join("window-settings-saved.png")).await?;
    // a bad value (submitted from the keyboard: Enter in the field) shows why and changes nothing
    session.fill("#warning-days", "14, 0\u{E007}").await?;
    session.wait_text("#warning-days-error", SHORT, |t| t.contains("0 days is not possible")).await?;
    ensure!(session.text("#warning-days-status").await?.is_empty(), "a confirmation next to an error");
    let invalid = session
        .script("return document.getElementById('warning-days').getAttribute('aria-invalid')", serde_json::json!([]))
        .await?;
    ensure!(invalid == "true", "the field is not marked invalid: {invalid}");
    session.screenshot(&shots.join("window-settings-error.png")).await?;
    session.fill("#warning-days", "two weeks").await?;
    session.click("#warning-days-save").await?;
    session.wait_text("#warning-days-error", SHORT, |t| t.contains("\"two\" is not a number of days")).await?;
    ensure!(std::fs::read_to_string(&settings_file)? == saved, "a refused value changed settings.toml");
    session.wait_text("#warning-summary", SHORT, |t| t.contains("30 days and 7 days")).await?;
    // the app uses the saved lead times: the page shows them again after a reload
    session.click("#nav-list").await?;
    session.click("#nav-settings").await?;
    session.wait_text("#warning-summary", SHORT, |t| t.contains("30 days and 7 days")).await?;

    // ---- closing the window destroys it; the app lives on in the tray ----
    // as the window manager's close button does (WebDriver's "close window" only drops the web
    // view inside it)
    let window = wait_window("^Token Keeper$", SHORT).await.context("the window")?;
    close_window(&window)?;
    let start = Instant::now();
    while !sh("xdotool", &["search", "--name", "^Token Keeper$"]).is_empty() {
        ensure!(start.elapsed() < SHORT, "the window is still there after closing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(sandbox.states().await?.len() == 4, "the app stopped answering after the window closed");
    tray.wait_layout(SHORT, |root| root.find("Open Token Keeper").map(|_| ())).await?;
    // and it opens again from the tray
    tray.click(None, "Open Token Keeper").await?;
    wait_window("^Token Keeper$", Duration::from_secs(20)).await.context("the window did not open again")?;
    tray.click(None, "Quit Token Keeper").await?;
    drop(oidc);
    session.end().await;
    driver.stop().await;
    Ok(())
}

async fn wait_for<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(found) = f() {
            return Some(found);
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The real window through WebDriver (tauri-driver + WebKitWebDriver), with the real tray seen over
//! D-Bus and a real OpenID Connect provider on 127.0.0.1:
//! - first run: the welcome page with its three doors; a service of its own is added through
//!   "Other service (advanced)" (issuer discovery) after a dialog shows every host it talks to,
//!   the "browser" (tests/tray/browser.sh, via the system opener) signs in and it turns "Working";
//! - the provider forgets the grant: "Needs sign-in" in the window and in the tray menu, an urgent
//!   notification read back from dunst, and its "Sign in again" action recovers;
//! - details: service and site, the history, "Renew now" and sign-in with a code (the provider
//!   offers it), "Technical details" folded away, "Use in a script" with the exact command;
//!   removing asks in the window's own dialog (Escape keeps it, focus comes back);
//! - an API token: a refused token is not saved; one ending in 5 days is "Expiring soon", and
//!   replacing it with a token and a later date makes it "Working" again; "Check now", not "Renew now";
//! - "Connect a service": HighQ asks for its site, app ID and secret only (no permissions), all
//!   required, with where each comes from; no sign-in with a code where HighQ has none; the
//!   Atlassian token form insists on the e-mail;
//! - an administrator's profile file dropped on the window: a broken one says why and adds
//!   nothing; a good one shows where the sign-in happens and every host first, and adds only when
//!   confirmed; a clashing name asks for another; a second launch with the file opens it too;
//! - the warning lead times changed on the Settings page are saved to settings.toml; a bad value
//!   shows why next to the field and changes nothing;
//! - no `alert`/`confirm`/`prompt` is ever reached (they are replaced by recorders);
//! - closing the window destroys it and the app keeps running in the tray.
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_window`
//! Needs tauri-driver (`cargo install tauri-driver --locked --root target/tools`) and the OAuth
//! server's node_modules (`npm ci` in tests/fixtures/oidc-server). Screenshots: target/screenshots/.

mod tray_support;

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::json;
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

    // ---- first run: the welcome page and its three doors ----
    session.wait_text("#page-title", SHORT, |t| t == "Welcome to Token Keeper").await?;
    session.trap_browser_dialogs().await?;
    let doors = session.text(".doors").await?;
    for door in ["I have a file from my administrator", "Connect a service", "Other service (advanced)"] {
        ensure!(doors.contains(door), "the welcome page has no door {door:?}: {doors:?}");
    }
    session.screenshot(&shots.join("window-welcome.png")).await?;
    // ---- "Other service (advanced)": OAuth 2.0 / OpenID Connect with discovery ----
    session.click("#door-advanced").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Other service (advanced)").await?;
    session.click("#advanced-sign-in").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Sign in with an account").await?;
    session.fill("#name", "Reports").await?;
    session.fill("#issuer", &oidc.issuer()).await?;
    session.click("#discover").await?;
    session.wait_text(".found", SHORT, |t| t.starts_with("Found the service at 127.0.0.1")).await?;
    session.fill("#client-id", "test-native").await?;
    session.fill("#client-secret", "test-secret").await?;
    session.screenshot(&shots.join("window-wizard-2-service.png")).await?;
    let value = session.script("return document.getElementById('token-url').value", json!([])).await?;
    ensure!(
        value.as_str().unwrap_or_default().starts_with(&oidc.issuer()),
        "discovery filled the token address: {value}"
    );
    session.click("#add-submit").await?;
    // a service without settings in Token Keeper: every host it talks to is shown first
    let hosts = confirm_hosts(&session).await?;
    ensure!(hosts.starts_with(&format!("127.0.0.1:{}: you sign in there", oidc.port)), "the hosts: {hosts:?}");
    session.screenshot(&shots.join("window-confirm-hosts.png")).await?;
    session.click("dialog[open] button.primary").await?;
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
    let page = session.script("return document.documentElement.outerHTML", json!([])).await?;
    ensure!(!page.as_str().unwrap_or_default().contains(token.trim()), "the access token is in the page");
    let status = session
        .script(
            "return window.__TAURI_INTERNALS__.invoke('status', {name: 'Reports'}).then(s => JSON.stringify(s));",
            json!([]),
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
    session.script("document.documentElement.style.zoom = '2'", json!([])).await?;
    let overflow = session
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth", json!([]))
        .await?;
    session.screenshot(&shots.join("window-list-zoom-200.png")).await?;
    session.script("document.documentElement.style.zoom = ''", json!([])).await?;
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

    // ---- the detail view: what it is, what can be done, the history; technical parts folded ----
    session.click("li[data-name='Reports'] h2 a").await?;
    session.wait_text(".timeline", SHORT, |t| t.contains("Signed in to")).await?;
    let about = session.text("#about").await?;
    ensure!(about.contains("Service") && about.contains("127.0.0.1"), "the details say what it is: {about:?}");
    ensure!(!about.contains("Kind") && !about.contains("OAuth"), "the details speak protocol: {about:?}");
    let actions = session.text("#detail-actions").await?;
    ensure!(actions.contains("Sign in again") && actions.contains("Renew now"), "the actions: {actions:?}");
    ensure!(!actions.contains("Refresh now") && !actions.contains("Check now"), "the actions: {actions:?}");
    ensure!(
        session.script("return document.getElementById('technical').open", json!([])).await? == false,
        "technical details open"
    );
    let outside = "const m = document.querySelector('main').cloneNode(true); \
                   m.querySelectorAll('.technical-sections').forEach(e => e.remove()); return m.textContent;";
    let words = session.script(outside, json!([])).await?;
    for word in ["OAuth", "OpenID", "tokenkeeper ", "HTTP", "grant"] {
        ensure!(!words.as_str().unwrap_or_default().contains(word), "{word:?} outside the technical sections: {words}");
    }
    session.click("#technical summary").await?;
    session.wait_text("#technical", SHORT, |t| t.contains("OAuth 2.0 / OpenID Connect")).await?;
    session.click("#script-use summary").await?;
    let command = session.wait_text("#script-token", SHORT, |t| !t.is_empty()).await?;
    ensure!(command == "tokenkeeper token Reports", "the script's command: {command:?}");
    session.click("#script-use button.copy").await?;
    // said to screen readers (the region outlives the page's repaints on the keeper's events)
    session.wait_text("#announce", SHORT, |t| t == "Copied.").await?;
    session.screenshot(&shots.join("window-detail.png")).await?;
    // removing asks in the window's own dialog; Escape keeps it, and focus returns to the button
    session.click("#remove").await?;
    session.wait_for("dialog[open]", SHORT).await?;
    let question = session.text("dialog[open]").await?;
    ensure!(question.contains("Remove Reports?"), "the dialog: {question:?}");
    let focused = session
        .script(
            "return document.activeElement.closest('dialog') !== null && document.activeElement.textContent",
            json!([]),
        )
        .await?;
    ensure!(focused == "Cancel", "focus is not on the dialog's safe button: {focused}");
    session.screenshot(&shots.join("window-dialog-remove.png")).await?;
    // a keeper event while the dialog is open repaints the page under it (a renewal here): the
    // focus must still come back to the (new) Remove button
    session.script("document.getElementById('remove').dataset.before = 'yes'", json!([])).await?;
    sandbox.cli_ok(&["refresh", "Reports"], "").await?;
    session.wait_for("#remove:not([data-before])", SHORT).await.context("no repaint after the renewal")?;
    session.keys("\u{E00C}").await?;
    let start = Instant::now();
    while session.exists("dialog").await? {
        ensure!(start.elapsed() < SHORT, "Escape did not close the dialog");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(session.focused_id().await? == "remove", "focus did not come back to the Remove button");
    ensure!(sandbox.states().await?.contains_key("Reports"), "Escape removed the integration");

    // ---- sign-in with a code (device flow), typed on another device: the provider offers it ----
    session.click("#signin-code").await?;
    let url = session.wait_text("#device-url", SHORT, |t| t.starts_with(&oidc.issuer())).await?;
    let code = session.text("#device-code").await?;
    ensure!(!code.is_empty() && url.contains("user_code="), "code {code:?} at {url:?}");
    session.screenshot(&shots.join("window-device-code.png")).await?;
    tokio::task::spawn_blocking(move || tokenkeeper_tests::follow_device_verification(&url)).await??;
    session.wait_text("#device-status", Duration::from_secs(60), |t| t == "Done: Reports is signed in.").await?;
    ensure!(sandbox.states().await?["Reports"]["state"] == "working");

    // ---- an API token ("Other service"): checked before it is saved; replacing it ends "Expiring soon" ----
    let probe = ProbeServer::start("good-token").await?;
    session.click("#nav-add").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    session.click("#door-advanced").await?;
    session.click("#advanced-token").await?;
    session.wait_text("#page-title", SHORT, |t| t == "API token").await?;
    session.fill("#name", "Jira token").await?;
    session.fill("#probe-url", &probe.url()).await?;
    session.click("#add-submit").await?;
    let hosts = confirm_hosts(&session).await?;
    ensure!(hosts.starts_with(&format!("127.0.0.1:{}: receives the token", probe.port)), "the hosts: {hosts:?}");
    session.click("dialog[open] button.primary").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Token for Jira token").await?;
    session.fill("#token", "wrong-token").await?;
    session.click("#token-save").await?;
    session.wait_text("#token-error", SHORT, |t| !t.is_empty()).await?;
    session.screenshot(&shots.join("window-token-refused.png")).await?;
    let jira = &sandbox.states().await?["Jira token"];
    ensure!(jira["state"] != "working", "a refused token made it work: {jira}");
    let today = time::OffsetDateTime::now_utc().date();
    let set_date = |date: time::Date| {
        session.script("document.getElementById('token-expires').value = arguments[0];", json!([date.to_string()]))
    };
    session.fill("#token", "good-token").await?;
    set_date(today + time::Duration::days(5)).await?;
    session.click("#token-save").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Jira token").await?;
    session.wait_text(".badge", SHORT, |t| t == "Expiring soon").await?;
    ensure!(sandbox.cli_ok(&["token", "Jira token"], "").await?.trim() == "good-token");
    let actions = session.wait_text("#detail-actions", SHORT, |t| t.contains("Enter a new token")).await?;
    ensure!(actions.contains("Check now") && !actions.contains("Renew now"), "an API token's actions: {actions:?}");
    session.screenshot(&shots.join("window-token-expiring.png")).await?;
    // the yearly job: a new token with its new end date
    session.click("#detail-actions [data-action='token']").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Token for Jira token").await?;
    session.fill("#token", "good-token").await?;
    set_date(today + time::Duration::days(300)).await?;
    session.click("#token-save").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Jira token").await?;
    session.wait_text(".badge", SHORT, |t| t == "Working").await?;
    let now_shown = "const m = document.querySelector('main').cloneNode(true); \
                     m.querySelectorAll('.timeline').forEach(e => e.remove()); return m.textContent;";
    let shown = session.script(now_shown, json!([])).await?;
    ensure!(
        !shown.as_str().unwrap_or_default().contains("Expiring soon"),
        "still expiring after a new token and date: {shown}"
    );
    let jira = &sandbox.states().await?["Jira token"];
    ensure!(jira["state"] == "working", "after replacing the token: {jira}");
    session.click("#nav-list").await?;
    session.wait_text("li[data-name='Jira token'] .badge", SHORT, |t| t == "Working").await?;

    // ---- "Connect a service": the services, and each form asks only what it needs ----
    session.click("#nav-add").await?;
    session.click("#door-service").await?;
    let listed = session.wait_text(".services", SHORT, |t| t.contains("HighQ Collaborate")).await?;
    for name in
        ["Jira or Confluence (API token)", "Atlassian (sign in with your account)", "GitHub", "Google", "Microsoft 365"]
    {
        ensure!(listed.contains(name), "the service {name:?} is not offered: {listed:?}");
    }
    session.screenshot(&shots.join("window-services.png")).await?;
    let form_fields = "return [...document.querySelectorAll('#service-form input')].map(i => i.id + (i.getAttribute('aria-required') === 'true' ? '*' : '')).join(',')";
    // HighQ: its site, the app ID and secret, all required; no permissions (HighQ takes none)
    session.click("#service-highq").await?;
    session.wait_text("#page-title", SHORT, |t| t == "HighQ Collaborate").await?;
    let fields = session.script(form_fields, json!([])).await?;
    ensure!(fields == "name*,instance-url*,client-id*,client-secret*", "the HighQ form asks for: {fields}");
    let hints = session.text("#service-form").await?;
    ensure!(
        hints.contains("Your HighQ administrator gives you"),
        "the HighQ form does not say where values come from: {hints:?}"
    );
    let link =
        session.script("return document.getElementById('register-link').getAttribute('href')", json!([])).await?;
    ensure!(link.as_str().unwrap_or_default().starts_with("https://"), "no register link: {link}");
    session.fill("#name", "HighQ").await?;
    session.fill("#instance-url", "https://acme.highq.invalid/acme").await?;
    session.fill("#client-id", "hq-client").await?;
    session.click("#add-submit").await?;
    session.wait_text("#wizard-error", SHORT, |t| t == "Please fill in: App secret.").await?;
    ensure!(!sandbox.states().await?.contains_key("HighQ"), "HighQ was added without its secret");
    session.fill("#client-secret", "hq-secret").await?;
    session.fill("#instance-url", "http://example.com/acme").await?;
    session.click("#add-submit").await?;
    session.wait_text("#wizard-error", SHORT, |t| t.contains("https://")).await?;
    ensure!(!sandbox.states().await?.contains_key("HighQ"), "a refused HighQ integration was added");
    session.fill("#instance-url", "https://acme.highq.invalid/acme").await?;
    session.screenshot(&shots.join("window-service-highq.png")).await?;
    session.click("#add-submit").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Sign in to HighQ").await?;
    let highq = &sandbox.states().await?["HighQ"];
    ensure!(highq["state"] == "needs-sign-in" && highq["provider"] == "highq", "HighQ after adding: {highq}");
    // a HighQ integration that was never signed in (added by a script, so no sign-in is under
    // way): its details offer "Sign in", and no sign-in with a code (HighQ has none), nor renewing
    let instance = "--instance-url=https://acme.highq.invalid/acme";
    sandbox.cli_ok(&["add", "HighQ 2", "--provider", "highq", instance, "--client-id", "hq"], "").await?;
    session.script("location.hash = '#/detail/HighQ%202'", json!([])).await?;
    session.wait_for("#detail-actions[data-ways-checked]", Duration::from_secs(30)).await?;
    let actions = session.text("#detail-actions").await?;
    ensure!(actions.starts_with("Sign in") && !actions.contains("with a code"), "HighQ's actions: {actions:?}");
    ensure!(!actions.contains("Renew now"), "renewing offered before any sign-in: {actions:?}");
    let about = session.text("#about").await?;
    ensure!(
        about.contains("HighQ Collaborate") && about.contains("https://acme.highq.invalid/acme"),
        "HighQ's details: {about:?}"
    );
    // Atlassian token: the e-mail is required (Atlassian refuses a token without it)
    session.click("#nav-add").await?;
    session.click("#door-service").await?;
    session.click("#service-atlassian-token").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Jira or Confluence (API token)").await?;
    let fields = session.script(form_fields, json!([])).await?;
    ensure!(fields == "name*,site*,username*", "the Atlassian token form asks for: {fields}");
    session.fill("#name", "Jira").await?;
    session.fill("#site", "https://acme.atlassian.net").await?;
    session.click("#add-submit").await?;
    session.wait_text("#wizard-error", SHORT, |t| t == "Please fill in: Your Atlassian e-mail.").await?;
    session.screenshot(&shots.join("window-service-atlassian-token.png")).await?;
    ensure!(!sandbox.states().await?.contains_key("Jira"), "an Atlassian token without its e-mail was added");

    // ---- an administrator's profile file, dropped on the window: confirmed before it is added ----
    session.click("#nav-add").await?;
    session.click("#door-file").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Open the file from your administrator").await?;
    session.screenshot(&shots.join("window-file.png")).await?;
    let before = sandbox.states().await?.len();
    // a broken file: the reason in the window, never the secret, nothing added
    let broken = "name = \"Broken\"\nprovider = \"oauth2\"\nclient_secret = \"file-secret-42\"\nclient_id = 7\n";
    session.drop_file("broken.toml", broken).await?;
    session.wait_text("#page-title", SHORT, |t| t == "This file cannot be used").await?;
    let error = session.wait_text("#import-error", SHORT, |t| t.contains("broken.toml")).await?;
    ensure!(error.contains("client_id") && !error.contains("file-secret-42"), "the import error: {error:?}");
    session.screenshot(&shots.join("window-import-error.png")).await?;
    ensure!(sandbox.states().await?.len() == before, "a broken profile file added an integration");
    let profile = |name: &str| {
        format!(
            "name = \"{name}\"\nprovider = \"oauth2\"\nissuer = \"{}\"\nclient_id = \"test-native\"\n\
             client_secret = \"test-secret\"\nscopes = [\"openid\", \"offline_access\"]\n",
            oidc.issuer()
        )
    };
    let host = format!("127.0.0.1:{}", oidc.port);
    session.drop_file("imported.toml", &profile("Imported")).await?;
    session.wait_text("#page-title", SHORT, |t| t == "Check what the file sets up").await?;
    let signs_in = session.text("#profile-sign-in").await?;
    ensure!(signs_in.contains(&host), "where the sign-in happens is not shown: {signs_in:?}");
    let hosts = session
        .script("return [...document.querySelectorAll('#profile-hosts li')].map(li => li.textContent)", json!([]))
        .await?;
    ensure!(
        hosts.as_array().map(Vec::len) == Some(1)
            && hosts[0]
                .as_str()
                .is_some_and(|h| h.starts_with(&format!("{host}: you sign in there")) && h.contains("receives")),
        "every host it talks to, with what each receives: {hosts}"
    );
    ensure!(session.script("return document.getElementById('profile-name').value", json!([])).await? == "Imported");
    session.screenshot(&shots.join("window-import-confirm.png")).await?;
    ensure!(sandbox.states().await?.len() == before, "the file was added before the keeper confirmed");
    let page = session.script("return document.documentElement.outerHTML", json!([])).await?;
    ensure!(!page.as_str().unwrap_or_default().contains("test-secret"), "the client secret is in the page");
    session.click("#profile-add").await?;
    let done = session.wait_text("#import-done", SHORT, |t| t.contains("Imported")).await?;
    ensure!(done.contains("you can delete imported.toml") && done.contains("keychain"), "after importing: {done:?}");
    // and it signs in like any other (the "browser" signs in at the local provider)
    session
        .wait_text("#signin-status", Duration::from_secs(60), |t| t.starts_with("Done: Imported is working"))
        .await?;
    let imported = &sandbox.states().await?["Imported"];
    ensure!(imported["state"] == "working" && imported["provider"] == "oauth2", "imported: {imported}");
    // the same file again: the name is taken, so the keeper gives another
    session.drop_file("imported.toml", &profile("Imported")).await?;
    session.wait_text("#profile-name-hint", SHORT, |t| t.contains("already have an integration called")).await?;
    session.screenshot(&shots.join("window-import-name-taken.png")).await?;
    session.click("#profile-add").await?;
    session.wait_text("#profile-error", SHORT, |t| t == "Please give it a name.").await?;
    session.fill("#profile-name", "Imported").await?;
    session.click("#profile-add").await?;
    session.wait_text("#profile-error", SHORT, |t| t.contains("already an integration called")).await?;
    session.fill("#profile-name", "Imported again").await?;
    session.click("#profile-add").await?;
    session
        .wait_text("#signin-status", Duration::from_secs(60), |t| t.starts_with("Done: Imported again is working"))
        .await?;
    // a second launch with the file as its argument (a double-click): the same confirm step
    let file = sandbox.dir.path().join("launched.toml");
    std::fs::write(&file, profile("Launched"))?;
    let second = tokio::process::Command::new(&app_bin)
        .arg(&file)
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let second = tokio::time::timeout(Duration::from_secs(60), second).await.context("the second launch hung")??;
    ensure!(second.success(), "the second launch: {second:?}");
    session.wait_text("#page-title", Duration::from_secs(30), |t| t == "Check what the file sets up").await?;
    ensure!(session.script("return document.getElementById('profile-name').value", json!([])).await? == "Launched");
    ensure!(session.text("#profile-hosts").await?.starts_with(&host), "the second launch's file shows its hosts");
    session.click("#profile-cancel").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Add an integration").await?;
    ensure!(!sandbox.states().await?.contains_key("Launched"), "a cancelled file was added");

    // ---- settings ----
    session.click("#nav-settings").await?;
    session.wait_text("#page-title", SHORT, |t| t == "Settings").await?;
    session.wait_text("main", SHORT, |t| t.contains("You are warned")).await?;
    let field = "return document.getElementById('warning-days').value";
    let shown = session.script(field, json!([])).await?;
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
    ensure!(session.script(field, json!([])).await? == "30, 7", "the field shows the saved lead times");
    session.screenshot(&shots.join("window-settings-saved.png")).await?;
    // a bad value (submitted from the keyboard: Enter in the field) shows why and changes nothing
    session.fill("#warning-days", "14, 0\u{E007}").await?;
    session.wait_text("#warning-days-error", SHORT, |t| t.contains("0 days is not possible")).await?;
    ensure!(session.text("#warning-days-status").await?.is_empty(), "a confirmation next to an error");
    let invalid = session
        .script("return document.getElementById('warning-days').getAttribute('aria-invalid')", json!([]))
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

    let dialogs = session.browser_dialogs().await?;
    ensure!(dialogs.is_empty(), "the window used the browser's own dialogs: {dialogs:?}");

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
    ensure!(sandbox.states().await?.len() == 6, "the app stopped answering after the window closed");
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

/// The confirm dialog before adding a service of its own: its list of hosts, as text.
async fn confirm_hosts(session: &tray_support::webdriver::Session) -> Result<String> {
    session.wait_for("dialog[open] #confirm-hosts", SHORT).await?;
    session.text("#confirm-hosts").await
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

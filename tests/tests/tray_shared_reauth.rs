//! The issue's headline, end to end: a server's daemon and a person's tray app, on two different
//! machines, keep a team's integration alive together through OpenBao, and the person signs the
//! server's integration in again from their tray.
//!
//! - A real OpenBao dev server holds the team's place (`secret`, `tokenkeeper/team`); the real
//!   OAuth fixture hands out 10 s access tokens (refresh tokens rotated, a reused one revokes the
//!   grant, introspection tells whether a token is active).
//! - Machine S, the server: a [`Machine`] (its own files and keychain service) on a D-Bus bus of
//!   its own with its own Secret Service and **no** notification service, as a headless server
//!   has; `tokenkeeper shared connect`, then `tokenkeeper daemon`.
//! - Machine D, the desktop: the real tray app in its own sandbox, connected to the same place
//!   with the CLI before it starts, launched under tauri-driver; its tray menu read and clicked
//!   over D-Bus, its notifications read from the session's dunst (`NOTIFY_LOG`: only D can show
//!   notifications there, S has no notification service).
//!
//! What it asserts:
//! 1. `add reports --shared` + `login reports` on S: D's tray shows "reports · shared — Working…"
//!    within 30 s, and D serves a token the provider calls active.
//! 2. The grant is revoked at the provider and S's `refresh reports` exits 3: within 30 s D's menu
//!    puts the fix first ("1 integration needs you", "Sign in to reports…", and the item "reports ·
//!    shared — Needs sign-in" first in "All integrations"), D shows one urgent "reports stopped
//!    working" notice offering "Sign in again", and S's `status reports --json` says
//!    `needs-sign-in`.
//! 3. The person clicks "Sign in to reports…" in D's tray; the automated browser
//!    (tests/tray/browser.sh) signs in: within 30 s S's `token reports` is a token the provider
//!    calls active, S's status is `working`, D's menu is back to working. Over the whole run D
//!    showed exactly one "reports stopped working" notice and, after the sign-in, exactly one calm
//!    "reports is working again" (the rule of alerts.rs: back to working after a notified
//!    problem), and nothing else about reports.
//! 4. D's window, details of reports (light): says it is shared and, in plain words, what
//!    happened. Screenshots: `target/screenshots/shared-reauth-*.png`; the menus as text next to
//!    them.
//!
//! Run: `TOKENKEEPER_TEST_KEYRING_PASSWORD=test-password dbus-run-session -- tests/env/session.sh
//! cargo test -p tokenkeeper-tests --test tray_shared_reauth -- --nocapture` (needs tauri-driver,
//! `bao` from scripts/ensure-openbao.sh, the OAuth fixture's node_modules, `ui/dist`).
//! `TRAY_KEEP=1 TK_KEEP_SANDBOX=1` keep both machines' folders (S's daemon log, D's tauri-driver
//! log with the app's output).

mod common;
mod shared_support;
mod tray_support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use shared_support::{strings_under, team_policy, MOUNT, TEAM};
use tokenkeeper_tests::openbao::{bao_api, BaoDev};
use tokenkeeper_tests::{keychain_items, Daemon, Notice, Notifications, OidcOptions, OidcServer};
use tray_support::webdriver::{Driver, Session};
use tray_support::*;

/// A machine of its own for the server: `tokenkeeper` in private folders (the harness's sandbox).
type Machine = tokenkeeper_tests::Sandbox;

const NAME: &str = "reports";
/// What the keeper promises across machines: it looks at the vault every 10 s.
const ACROSS: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_and_a_tray_keep_a_shared_integration_and_the_tray_signs_it_in_again() -> Result<()> {
    if !desktop_session("tray_shared_reauth") {
        return Ok(());
    }
    tokenkeeper_tests::require_test_session();
    let (app_bin, _) = binaries();
    let shots = screenshots_dir();

    // ---- the team vault and the service ----
    let dev = BaoDev::start();
    let admin = dev.admin();
    admin.write_policy("tokenkeeper-team", &team_policy())?;
    let server_token = admin.create_token(&["tokenkeeper-team"], "8h", "24h")?;
    let desktop_token = admin.create_token(&["tokenkeeper-team"], "8h", "24h")?;
    let oidc = OidcServer::start(OidcOptions { at_ttl: 10, ..OidcOptions::default() });

    // ---- machine S: a server (its own bus and keychain, no notification service) ----
    let mut s = Machine::new();
    let bus = ServerBus::start(s.root()).context("S's own session bus and keychain")?;
    s.set_env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let out = blocking(|| s.run(&connect_args(dev.addr()), Some(&format!("{server_token}\n"))));
    ensure!(out.status.success(), "S: shared connect: {}", String::from_utf8_lossy(&out.stderr));
    ensure!(
        keychain_items(s.keychain_service()).is_empty(),
        "S's credential is in the desktop's keychain: S is not a machine of its own"
    );
    let daemon_s = blocking(|| s.spawn_daemon());

    // ---- machine D: the tray app, connected with the CLI before it starts ----
    let d = Sandbox::new()?;
    d.cli_ok(&connect_args(dev.addr()), &format!("{desktop_token}\n")).await.context("D: shared connect")?;
    let notes = Notifications::new();
    let browser_log = d.dir.path().join("browser.log");
    let driver_log = d.dir.path().join("tauri-driver.log");
    let mut env = d.env();
    env.push(("BROWSER".into(), workspace_root().join("tests/tray/browser.sh").display().to_string()));
    env.push(("TRAY_BROWSER_LOG".into(), browser_log.display().to_string()));
    env.push(("TOKENKEEPER_LOG".into(), "info,token_keeper=debug,tokenkeeper_engine=debug".into()));
    let mut desktop = Desktop::start().await?;
    let driver = Driver::start(&env, &driver_log).await?;
    // no integration yet on D: the window opens at start, so the session can attach
    let session = driver.session(&app_bin).await.context("WebDriver session")?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await?;
    session.wait_text("#page-title", SHORT, |t| !t.is_empty()).await?;
    session.trap_browser_dialogs().await?;

    let logs = || evidence(&daemon_s, &driver_log);

    // ---- 1. the server adds and signs in; the desktop's tray shows it, shared and working ----
    blocking(|| {
        let issuer = oidc.issuer();
        let args = ["--shared", "--provider", "oauth2", "--issuer", &issuer, "--scope", common::SCOPE];
        s.add_confidential_ok(NAME, &args, "test-native", "test-secret");
        common::login(&s, NAME);
    });
    let signed_in_on_s = Instant::now();
    let (menu, took_share) = tray
        .wait_layout(ACROSS, |root| {
            let item = all_integrations(root)?.children.first()?;
            (item.label.starts_with(&format!("{NAME} · shared — Working"))
                && root.labels().first().map(String::as_str) == Some("Your integration is working"))
            .then(|| root.clone())
        })
        .await
        .map_err(|e| e.context(format!("D's tray after S signed in\n{}", logs())))?;
    eprintln!("D's tray showed {NAME} shared and working {took_share:?} after S's sign-in:\n{}", menu.dump());
    std::fs::write(shots.join("shared-reauth-tray-working.txt"), menu.dump())?;
    let listed = d.states().await?;
    ensure!(listed[NAME]["shared"] == true, "D's list --json: {}", listed[NAME]);
    let on_d = d.cli_ok(&["token", NAME], "").await.context("D serves the token")?;
    ensure!(blocking(|| oidc.is_active(on_d.trim())), "D served a token the provider calls inactive");
    eprintln!("D served an active token {:?} after S's sign-in", signed_in_on_s.elapsed());

    // ---- 2. the provider revokes the grant; the server finds out ----
    let revoked = blocking(|| {
        let before = oidc.count_events("grant.revoked");
        tokenkeeper_tests::wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
            // a keeper may rotate the refresh token between the read and the revocation
            if let Some(rt) = vault_refresh_token(&dev) {
                oidc.revoke(&rt);
            }
            oidc.count_events("grant.revoked") > before
                && vault_refresh_token(&dev).is_none_or(|rt| !oidc.is_active(&rt))
        })
    });
    ensure!(revoked, "could not revoke the grant at the provider");
    let refresh = blocking(|| s.run(&["refresh", NAME], None));
    let found_out = Instant::now();
    ensure!(
        refresh.status.code() == Some(3),
        "S: refresh after the revocation exited {:?}: {}\n{}",
        refresh.status.code(),
        String::from_utf8_lossy(&refresh.stderr),
        logs()
    );
    let s_status = blocking(|| status_json(&s));
    ensure!(s_status["state"] == "needs-sign-in", "S's status after its refresh was refused: {s_status}");

    // D: the fix first, within 30 s
    let want = ["1 integration needs you".to_string(), format!("Sign in to {NAME}…"), "---".to_string()];
    let (menu, took_menu) = tray
        .wait_layout(ACROSS, |root| {
            let first = all_integrations(root)?.children.first()?;
            (root.labels().get(..3)? == want && first.label.starts_with(&format!("{NAME} · shared — Needs sign-in")))
                .then(|| root.clone())
        })
        .await
        .map_err(|e| e.context(format!("D's tray after S's refresh was refused\n{}", logs())))?;
    eprintln!("D's tray put the fix first {took_menu:?} after S's refresh exited 3:\n{}", menu.dump());
    std::fs::write(shots.join("shared-reauth-tray-needs-sign-in.txt"), menu.dump())?;
    ensure!(menu.children[..2].iter().all(|n| n.enabled), "the header and the fix are not clickable:\n{}", menu.dump());

    // D: one urgent notice, with the fix
    let stopped = |n: &Notice| n.summary == format!("{NAME} stopped working");
    let left = ACROSS.saturating_sub(found_out.elapsed());
    let notice = blocking(|| notes.wait_for(stopped, left)).with_context(|| {
        format!("no \"{NAME} stopped working\" notice on D within {ACROSS:?}; shown: {:#?}\n{}", notes.all(), logs())
    })?;
    let took_notice = found_out.elapsed();
    eprintln!("D's notice {took_notice:?} after S's refresh exited 3: {notice:?}");
    ensure!(notice.is_critical(), "the notice is not urgent: {notice:?}");
    let actions = blocking(|| notes.actions_of(&notice))?;
    eprintln!("its actions: {actions:?}");
    ensure!(actions.iter().any(|(label, _)| label == "Sign in again"), "no \"Sign in again\" on it: {actions:?}");

    // D's window: the details of reports as a person sees them now
    let (needs_text, history_needs) = detail_page(&session, &shots, "needs-sign-in").await?;

    // ---- 3. the person signs in again from the tray ----
    let opened_before = read(&browser_log).lines().count();
    let seen_before_click = notes.all().len();
    tray.click(None, &format!("Sign in to {NAME}")).await?;
    let clicked = Instant::now();
    // S serves a token the provider calls active
    let mut last = String::from("never asked");
    let mut served = None;
    while clicked.elapsed() < ACROSS {
        match blocking(|| s.run(&["token", NAME], None)) {
            out if out.status.success() => {
                let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if blocking(|| oidc.is_active(&token)) {
                    served = Some(clicked.elapsed());
                    break;
                }
                last = "a token the provider calls inactive".into();
            }
            out => last = format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr).trim()),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let opened: Vec<String> = read(&browser_log).lines().skip(opened_before).map(str::to_string).collect();
    let d_state = if served.is_none() { listed_state(&d).await } else { String::new() };
    let took_token = served.with_context(|| {
        format!(
            "S served no active token within {ACROSS:?} of the click in D's tray; last answer: {last}\n\
             browser opened: {opened:?}\nD's list: {}\n{}",
            d_state,
            logs()
        )
    })?;
    eprintln!("S served an active token {took_token:?} after the click in D's tray");
    ensure!(
        opened.iter().any(|u| u.starts_with(&format!("{}/auth?", oidc.issuer()))),
        "the click did not open the sign-in page in the browser: {opened:?}"
    );
    let s_state = blocking(|| settled_state(&s));
    ensure!(s_state == "working", "S's state after the sign-in on D: {s_state}\n{}", logs());
    let took_s_working = clicked.elapsed();
    let (menu, _) = tray
        .wait_layout(ACROSS.saturating_sub(clicked.elapsed()), |root| {
            let item = all_integrations(root)?.children.first()?;
            (item.label.starts_with(&format!("{NAME} · shared — Working"))
                && root.labels().first().map(String::as_str) == Some("Your integration is working"))
            .then(|| root.clone())
        })
        .await
        .map_err(|e| e.context(format!("D's tray after the sign-in\n{}", logs())))?;
    let took_d_working = clicked.elapsed();
    eprintln!("D's tray back to working {took_d_working:?} after the click (S working after {took_s_working:?})");
    ensure!(menu.find(&format!("Sign in to {NAME}")).is_none(), "the fix is still offered:\n{}", menu.dump());

    // what D said about it: one "stopped working" over the whole run, and a "working again"?
    let again = |n: &Notice| n.summary == format!("{NAME} is working again");
    let working_again = blocking(|| notes.wait_for(again, SHORT));
    // a few more looks at the vault (every 10 s): nothing said twice
    tokio::time::sleep(Duration::from_secs(12)).await;
    let all = notes.all();
    eprintln!("D's notices during the run: {all:#?}");
    let about: Vec<&Notice> = all.iter().filter(|n| n.mentions(NAME)).collect();
    ensure!(
        about.iter().filter(|n| stopped(n)).count() == 1,
        "D showed {} \"{NAME} stopped working\" notices: {about:#?}",
        about.iter().filter(|n| stopped(n)).count()
    );
    // the product's rule (alerts.rs): back to working after a problem was notified, once and
    // calmly; D notified the problem, so D says it works again (S, a server, has nobody to tell)
    let again_count = about.iter().filter(|n| again(n)).count();
    let working_again = working_again.with_context(|| {
        format!(
            "D showed no \"{NAME} is working again\" after the sign-in from its tray; notices since the click: {:#?}",
            &all[seen_before_click.min(all.len())..]
        )
    })?;
    eprintln!("D said it works again: {working_again:?}");
    ensure!(again_count == 1, "\"working again\" said {again_count} times: {about:#?}");
    ensure!(
        working_again.urgency.eq_ignore_ascii_case("LOW"),
        "the \"working again\" notice is not calm: {working_again:?}"
    );
    let other: Vec<&&Notice> = about.iter().filter(|n| !stopped(n) && !again(n)).collect();
    ensure!(other.is_empty(), "D showed other notices about {NAME}: {other:#?}");

    // ---- 4. the details page as a person reads it, once it works again ----
    let (working_text, history_working) = detail_page(&session, &shots, "working").await?;
    for (when, text) in [("needing a sign-in", &needs_text), ("working again", &working_text)] {
        ensure!(
            text.contains("Kept in the team vault, with the other Token Keepers connected there"),
            "D's details page ({when}) does not say it is shared: {text}"
        );
    }
    // what happened, in the person's words: the state, why, the fix, and the history's line
    ensure!(
        needs_text.contains("Needs sign-in") && needs_text.contains("no longer accepts this sign-in"),
        "D's details page does not say what happened: {needs_text}"
    );
    ensure!(
        history_needs.iter().any(|l| l.contains("Renewal refused") && l.contains("no longer accepts this sign-in")),
        "D's history does not tell the refusal: {history_needs:#?}"
    );
    for (when, text) in [("needing a sign-in", &needs_text), ("working again", &working_text)] {
        let jargon = tokenkeeper_engine::phrases::jargon(text);
        ensure!(jargon.is_none(), "{jargon:?} on D's details page ({when}): {text}");
    }
    // whoever fixes a shared integration fixes it for all: said where the fix is offered, and the
    // keeper that did not sign in says where it happened
    let fix_for_all = "fixes it for every Token Keeper connected to the team vault";
    ensure!(needs_text.contains(fix_for_all), "D does not say its sign-in fixes it for all: {needs_text}");
    ensure!(!working_text.contains(fix_for_all), "the fix hint stays once it works: {working_text}");
    let on_s = blocking(|| status_json(&s));
    let told =
        on_s["history"].as_array().into_iter().flatten().any(|e| {
            e["text"].as_str().is_some_and(|t| t.contains("on another Token Keeper connected to the team vault"))
        });
    ensure!(told, "S's history does not say the sign-in was made on another Token Keeper: {on_s}");
    ensure!(
        !history_needs.is_empty() && history_working.len() > history_needs.len(),
        "D's history did not grow with the sign-in: before {history_needs:#?}, after {history_working:#?}"
    );
    let dialogs = session.browser_dialogs().await?;
    ensure!(dialogs.is_empty(), "the window used the browser's own dialogs: {dialogs:?}");

    eprintln!(
        "timings: shared to D {took_share:?}; after S's refusal: D's menu {took_menu:?}, D's notice {took_notice:?}; \
         after the click in D's tray: S's active token {took_token:?}, S working {took_s_working:?}, D's menu {took_d_working:?}"
    );
    eprintln!("S's status at the end: {}", blocking(|| status_json(&s)));
    eprintln!("S's daemon log: {}\nD's app log: {}", daemon_s.log_path().display(), driver_log.display());

    tray.click(None, "Quit Token Keeper").await?;
    session.end().await;
    driver.stop().await;
    drop(daemon_s);
    drop(bus);
    Ok(())
}

// ---- steps --------------------------------------------------------------------------------------

fn connect_args(addr: &str) -> Vec<&str> {
    vec!["shared", "connect", "--address", addr, "--mount", MOUNT, "--path", TEAM, "--token-stdin"]
}

/// A blocking step (a `tokenkeeper` run on S, the provider's introspection) without starving the
/// runtime that reads the tray.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// "All integrations…", the submenu holding every integration, problems first.
fn all_integrations(root: &Node) -> Option<&Node> {
    root.children.iter().find(|c| c.label.starts_with("All integrations"))
}

/// `status reports --json` on S.
fn status_json(s: &Machine) -> Value {
    let out = s.run(&["status", NAME, "--json"], None);
    serde_json::from_slice(&out.stdout).unwrap_or_else(
        |_| json!({"error": format!("exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr))}),
    )
}

/// S's state once a renewal in flight (10 s tokens: every few seconds) has ended.
fn settled_state(s: &Machine) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let state = status_json(s)["state"].as_str().unwrap_or("(none)").to_string();
        if state != "refreshing" || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

async fn listed_state(d: &Sandbox) -> String {
    d.states().await.map(|m| format!("{:?}", m.get(NAME))).unwrap_or_else(|e| e.to_string())
}

/// The refresh token in the shared record, read as the vault's administrator.
fn vault_refresh_token(dev: &BaoDev) -> Option<String> {
    let path = format!("{MOUNT}/data/{TEAM}/integrations/{NAME}");
    let (status, v) = bao_api(dev.addr(), Some(dev.admin().root_token()), "GET", &path, None).ok()?;
    if status != 200 {
        return None;
    }
    strings_under(&v["data"]["data"]["secrets"], "refresh_token").into_iter().find(|t| !t.is_empty())
}

/// Opens D's window on the details of reports, saves `shared-reauth-detail-WHEN-light.png`, and
/// returns what a person reads there (technical sections left out) and the history's lines.
async fn detail_page(session: &Session, shots: &Path, when: &str) -> Result<(String, Vec<String>)> {
    session.script("location.hash = arguments[0]", json!([format!("#/detail/{NAME}")])).await?;
    session.wait_text("#page-title", SHORT, |t| t.contains(NAME)).await?;
    session.wait_for("#about", SHORT).await?;
    // the page repaints on the keeper's events: let it settle on the state the tray shows
    tokio::time::sleep(Duration::from_millis(700)).await;
    let outside = "const m = document.querySelector('main').cloneNode(true); \
                   m.querySelectorAll('.technical-sections, details').forEach(e => e.remove()); return m.innerText;";
    let text = session.script(outside, json!([])).await?.as_str().unwrap_or_default().to_string();
    let history = session
        .script("return [...document.querySelectorAll('.timeline li')].map(li => li.textContent);", json!([]))
        .await?;
    let history: Vec<String> = history
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let file = shots.join(format!("shared-reauth-detail-{when}-light.png"));
    session.screenshot(&file).await?;
    eprintln!("screenshot: {}\nD's details page ({when}), as read:\n{text}\n", file.display());
    std::fs::write(shots.join(format!("shared-reauth-detail-{when}.txt")), &text)?;
    Ok((text, history))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The last lines of S's daemon log and of D's app (tauri-driver's log holds the app's output).
fn evidence(daemon: &Daemon, driver_log: &Path) -> String {
    let tail = |text: String, n: usize| {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    };
    format!(
        "--- S's daemon log ({}):\n{}\n--- D's app log ({}):\n{}",
        daemon.log_path().display(),
        tail(daemon.log(), 40),
        driver_log.display(),
        tail(read(driver_log), 40)
    )
}

// ---- the server's own session bus ---------------------------------------------------------------

/// A D-Bus session bus for machine S alone, with a Secret Service of its own (gnome-keyring,
/// unlocked, its keyring in S's folders) and nothing else: no notification service and no
/// service files (nothing is started on demand), as on a headless server. Stopped when dropped.
struct ServerBus {
    bus: std::process::Child,
    keyring: Option<i32>,
    address: String,
}

impl ServerBus {
    fn start(root: &Path) -> Result<ServerBus> {
        use std::io::BufRead;
        let dir = root.join("server-bus");
        let run = dir.join("run");
        std::fs::create_dir_all(&run)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700))?;
        }
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            r#"<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>"#,
        )?;
        let mut bus = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start dbus-daemon")?;
        let mut line = String::new();
        std::io::BufReader::new(bus.stdout.take().expect("piped")).read_line(&mut line)?;
        let address = line.trim().to_string();
        let mut this = ServerBus { bus, keyring: None, address };
        ensure!(!this.address.is_empty(), "dbus-daemon printed no address");

        // gnome-keyring on that bus: --unlock creates the "login" collection from the password
        let log = std::fs::File::create(dir.join("keyring.log"))?;
        let mut keyring = std::process::Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &this.address)
            .env("HOME", root.join("home"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_RUNTIME_DIR", &run)
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("DISPLAY")
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start gnome-keyring-daemon")?;
        {
            use std::io::Write;
            let mut stdin = keyring.stdin.take().expect("piped");
            stdin.write_all(std::env::var("KEYRING_PASSWORD").unwrap_or_else(|_| "test-password".into()).as_bytes())?;
        }
        let status = keyring.wait()?;
        ensure!(status.success(), "gnome-keyring-daemon --unlock: {status}: {}", read(&dir.join("keyring.log")));
        let start = Instant::now();
        while this.keyring.is_none() {
            this.keyring = this.owner_pid("org.freedesktop.secrets");
            if start.elapsed() > Duration::from_secs(15) {
                bail!("no Secret Service on S's bus: {}", read(&dir.join("keyring.log")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        ensure!(this.owner_pid("org.freedesktop.Notifications").is_none(), "S's bus has a notification service");
        Ok(this)
    }

    /// The process owning `name` on this bus, if any.
    fn owner_pid(&self, name: &str) -> Option<i32> {
        let out = std::process::Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args(["--print-reply=literal", "--dest=org.freedesktop.DBus", "/"])
            .arg("org.freedesktop.DBus.GetConnectionUnixProcessID")
            .arg(format!("string:{name}"))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).split_whitespace().last()?.parse().ok()
    }
}

impl Drop for ServerBus {
    fn drop(&mut self) {
        if let Some(pid) = self.keyring {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

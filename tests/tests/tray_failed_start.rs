//! The tray app cannot start (here: its settings file is damaged): it says why where the keeper
//! looks — a notification read back from dunst and a window (found with xdotool, screenshot in
//! `target/screenshots/`) — instead of standard error only; the file is left as it was, and the app
//! ends when the window is closed. The settings folder's path holds `& < >`, so the notification
//! body also shows that text is escaped for a daemon that reads markup (dunst does).
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_failed_start`

mod tray_support;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tokenkeeper_tests::Notifications;
use tray_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_is_explained_in_a_notice_and_a_window() -> Result<()> {
    if !desktop_session("tray_failed_start") {
        return Ok(());
    }
    binaries();
    let sandbox = Sandbox::new()?;
    let config = sandbox.dir.path().join("R&D <config>");
    let settings = config.join("tokenkeeper/settings.toml");
    std::fs::create_dir_all(settings.parent().expect("a folder"))?;
    let damaged = "warning_days = [14, 3\n";
    std::fs::write(&settings, damaged)?;
    let notes = Notifications::new();

    let mut app = App::start(&sandbox, &[("XDG_CONFIG_HOME", config.to_str().expect("UTF-8"))])?;
    let notice = notes
        .wait_for(|n| n.summary == "Token Keeper cannot start", Duration::from_secs(30))
        .with_context(|| format!("no notice; the app said:\n{}", app.log_text()))?;
    eprintln!("notice: {notice:?}");
    ensure!(notice.is_critical(), "{notice:?}");
    ensure!(
        notice.body.contains("R&amp;D &lt;config&gt;/tokenkeeper/settings.toml is damaged"),
        "the body names the file, escaped for markup: {:?}",
        notice.body
    );
    ensure!(notice.body.contains("start Token Keeper again"), "{:?}", notice.body);

    let window = wait_window("^Token Keeper cannot start$", Duration::from_secs(20))
        .await
        .with_context(|| format!("no window explains it; the app said:\n{}", app.log_text()))?;
    let shot = screenshots_dir().join("tray-failed-start.png");
    sh("import", &["-window", &window, shot.to_str().expect("UTF-8")]);
    eprintln!("window {window}; screenshot {}", shot.display());
    ensure!(app.child.try_wait()?.is_none(), "the app ended while its window was open");
    ensure!(std::fs::read_to_string(&settings)? == damaged, "the damaged file was changed");

    close_window(&window)?;
    let status = tokio::time::timeout(Duration::from_secs(15), app.child.wait())
        .await
        .context("the app kept running after its window was closed")??;
    ensure!(!status.success(), "a failed start ends with an error status: {status}");
    ensure!(app.log_text().contains("Token Keeper cannot start"), "the log keeps it: {}", app.log_text());
    Ok(())
}

//! The tray app cannot start: it says why where the keeper looks — a notification read back from
//! dunst and a window (found with xdotool, screenshot in `target/screenshots/`) — instead of
//! standard error only, and ends when the window is closed.
//! - Its settings file is damaged: the file is left as it was. The settings folder's path holds
//!   `& < >`, so the notification body also shows that text is escaped for a daemon that reads
//!   markup (dunst does).
//! - There is no keyring (a private session bus without a Secret Service, and so without a
//!   notification service either): the window says so.
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
        notice.body.contains("The file ")
            && notice.body.contains("R&amp;D &lt;config&gt;/tokenkeeper/settings.toml is damaged"),
        "the body names the file, escaped for markup: {:?}",
        notice.body
    );
    ensure!(!notice.body.contains("(line"), "the parser's words stay out of the sentence: {:?}", notice.body);
    ensure!(app.log_text().contains("(line"), "the log keeps the parser's words: {}", app.log_text());
    ensure!(notice.body.contains("start Token Keeper again"), "{:?}", notice.body);

    let window = explaining_window(&app, "tray-failed-start.png").await?;
    ensure!(app.child.try_wait()?.is_none(), "the app ended while its window was open");
    ensure!(std::fs::read_to_string(&settings)? == damaged, "the damaged file was changed");
    closing_ends_the_app(&mut app, &window).await?;
    ensure!(app.log_text().contains("Token Keeper cannot start"), "the log keeps it: {}", app.log_text());

    // one after the other: both windows have the same title
    no_keyring().await
}

/// No keyring: the window says so.
async fn no_keyring() -> Result<()> {
    let sandbox = Sandbox::new()?;
    let bus = PrivateBus::start(sandbox.dir.path())?;
    let mut app = App::start(&sandbox, &[("DBUS_SESSION_BUS_ADDRESS", &bus.address)])?;
    let window = explaining_window(&app, "tray-failed-start-no-keyring.png").await?;
    ensure!(app.log_text().contains("keychain is not available"), "the reason: {}", app.log_text());
    closing_ends_the_app(&mut app, &window).await
}

/// The window that says why the app cannot start; its screenshot goes to `shot`.
async fn explaining_window(app: &App, shot: &str) -> Result<String> {
    let window = wait_window("^Token Keeper cannot start$", Duration::from_secs(30))
        .await
        .with_context(|| format!("no window explains it; the app said:\n{}", app.log_text()))?;
    let shot = screenshots_dir().join(shot);
    sh("import", &["-window", &window, shot.to_str().expect("UTF-8")]);
    eprintln!("window {window}; screenshot {}", shot.display());
    Ok(window)
}

/// Closing the window ends the app, with an error status.
async fn closing_ends_the_app(app: &mut App, window: &str) -> Result<()> {
    close_window(window)?;
    let status = tokio::time::timeout(Duration::from_secs(15), app.child.wait())
        .await
        .context("the app kept running after its window was closed")??;
    ensure!(!status.success(), "a failed start ends with an error status: {status}");
    Ok(())
}

/// A session bus of its own with nothing on it: no keyring, no notification service, and no
/// service files, so nothing is started on demand. Stopped when dropped.
struct PrivateBus {
    child: std::process::Child,
    address: String,
}

impl PrivateBus {
    fn start(dir: &std::path::Path) -> Result<PrivateBus> {
        use std::io::BufRead;
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            r#"<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>"#,
        )?;
        let mut child = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("start dbus-daemon")?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let address = line.trim().to_string();
        ensure!(!address.is_empty(), "dbus-daemon printed no address");
        Ok(PrivateBus { child, address })
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! "Start at login", clicked in the real tray menu over D-Bus, writes an XDG autostart entry that
//! a desktop accepts and that starts the very program that was clicked: `/usr/bin/token-keeper`
//! when the installed package runs (`make package-test` runs this file with
//! `TRAY_APP_BIN=/usr/bin/token-keeper`), the build under test otherwise. Clicking again removes it.
//!
//! Run: `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_autostart`

mod tray_support;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use tray_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_at_login_starts_the_program_that_was_clicked() -> Result<()> {
    if !desktop_session("tray_autostart") {
        return Ok(());
    }
    let (app_bin, _) = binaries();
    let sandbox = Sandbox::new()?;
    let mut desktop = Desktop::start().await?;
    let app = App::start(&sandbox, &[])?;
    let tray = desktop.next_tray(Duration::from_secs(30)).await.with_context(|| app.log_text())?;

    tray.click(None, "Start at login").await?;
    tray.wait_layout(Duration::from_secs(5), |root| (root.find("Start at login")?.checked == Some(true)).then_some(()))
        .await?;
    let dir = sandbox.dir.path().join("home/.config/autostart");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("no autostart directory {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    ensure!(entries.len() == 1, "autostart entries: {entries:?}");
    let entry = entries[0].path();
    let text = std::fs::read_to_string(&entry)?;
    eprintln!("{}:\n{text}", entry.display());

    // Exec's first word is the program a login starts: the one that was clicked, by absolute path
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).context("no Exec= line")?;
    let program = exec.split_whitespace().next().unwrap_or_default();
    let expected = std::fs::canonicalize(&app_bin)?;
    ensure!(
        std::path::Path::new(program) == expected,
        "autostart starts {program:?}, not the program that was clicked ({})",
        expected.display()
    );
    let valid = std::process::Command::new("desktop-file-validate").arg(&entry).output()?;
    ensure!(
        valid.status.success() && valid.stdout.is_empty(),
        "desktop-file-validate {}: {}{}",
        entry.display(),
        String::from_utf8_lossy(&valid.stdout),
        String::from_utf8_lossy(&valid.stderr)
    );

    tray.click(None, "Start at login").await?;
    tray.wait_layout(Duration::from_secs(5), |root| {
        (root.find("Start at login")?.checked == Some(false)).then_some(())
    })
    .await?;
    ensure!(!entry.exists(), "the entry is still there after unticking Start at login");
    Ok(())
}

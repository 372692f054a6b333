//! What the session's notification daemon (dunst) showed, read back from its log.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use crate::{lock, wait_until};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

/// One notification the notification daemon showed (a line of `$NOTIFY_LOG`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Notice {
    /// The daemon's notification id.
    pub id: String,
    /// The sender's application name.
    pub app: String,
    /// The title.
    pub summary: String,
    /// The text.
    pub body: String,
    /// `LOW`, `NORMAL` or `CRITICAL`.
    pub urgency: String,
    /// The `category` hint, if any.
    pub category: String,
    /// The `x-dunst-stack-tag` hint, if any.
    pub stack_tag: String,
    /// The icon's path or name, if any.
    pub icon: String,
    /// When it was shown (Unix milliseconds).
    pub time_ms: u64,
}

impl Notice {
    /// Summary and body, for matching words anywhere in the notification.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.summary, self.body)
    }

    /// Whether summary or body contains `s`.
    pub fn mentions(&self, s: &str) -> bool {
        self.summary.contains(s) || self.body.contains(s)
    }

    /// Whether it was sent with critical urgency.
    pub fn is_critical(&self) -> bool {
        self.urgency.eq_ignore_ascii_case("CRITICAL")
    }
}

/// The notifications shown during this test, read from `$NOTIFY_LOG` (written by
/// `tests/env/session.sh`'s dunst). Tests running in parallel share the daemon, so a reader only
/// sees notifications logged after it was created ([`Notifications::new`]), and tests should
/// match on something unique to them (their integration's name).
#[derive(Clone, Debug)]
pub struct Notifications {
    path: PathBuf,
    skip: usize,
}

static ACTION_LOCK: Mutex<()> = Mutex::new(());

impl Default for Notifications {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifications {
    /// A reader of the notifications shown from now on. Panics outside `tests/env/session.sh`.
    pub fn new() -> Self {
        let mut n = Self::from_start();
        n.skip = n.read_all().len();
        n
    }

    /// A reader of every notification in the log, also older ones.
    pub fn from_start() -> Self {
        let path = std::env::var_os("NOTIFY_LOG").map(PathBuf::from).unwrap_or_else(|| {
            panic!("NOTIFY_LOG is not set: run the tests inside tests/env/session.sh (`make test`)")
        });
        Self { path, skip: 0 }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_all(&self) -> Vec<Notice> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        // only complete lines: the last one may still be being written
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        complete.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Every notification shown since this reader was created, oldest first.
    pub fn all(&self) -> Vec<Notice> {
        self.read_all().into_iter().skip(self.skip).collect()
    }

    /// How many of them match `pred`.
    pub fn count(&self, pred: impl Fn(&Notice) -> bool) -> usize {
        self.all().iter().filter(|n| pred(n)).count()
    }

    /// Waits (polling every 25 ms) for a notification matching `pred`; the first one, or `None`
    /// after `timeout`.
    pub fn wait_for(&self, pred: impl Fn(&Notice) -> bool, timeout: Duration) -> Option<Notice> {
        let mut found = None;
        wait_until(timeout, Duration::from_millis(25), || {
            found = self.all().into_iter().find(|n| pred(n));
            found.is_some()
        });
        found
    }

    /// Clicks an action button of a shown notification, like a user: writes `label` to
    /// `$PICK_ACTION_FILE` and runs `dunstctl context`, whose menu lines look like
    /// `#Sign in again (<summary>) [<id>,<action key>]`; the first line containing `label` is
    /// chosen and the sender receives a real `ActionInvoked`. Make `label` unique enough, e.g.
    /// `"Sign in again (Demo stopped working"`. Serialized within this process.
    pub fn invoke_action(&self, label: &str) -> Result<()> {
        let _guard = lock(&ACTION_LOCK);
        let file = std::env::var_os("PICK_ACTION_FILE")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("PICK_ACTION_FILE is not set: run inside tests/env/session.sh"))?;
        std::fs::write(&file, label)?;
        let out = Command::new("dunstctl").arg("context").output().context("dunstctl context")?;
        let _ = std::fs::write(&file, "");
        if !out.status.success() {
            bail!("dunstctl context failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

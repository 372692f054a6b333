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
        self.context_menu(label).map(|_| ())
    }

    /// Clicks the notification itself (its "default" action), as a click on its body does.
    pub fn invoke_default(&self, notice: &Notice) -> Result<()> {
        self.invoke_action(&format!("[{},default]", notice.id))
    }

    /// The actions the daemon offers for a shown notification, as (label, action key) in order
    /// (`default` is the click on the notification itself): read from the menu `dunstctl context`
    /// shows, choosing nothing.
    pub fn actions_of(&self, notice: &Notice) -> Result<Vec<(String, String)>> {
        let menu = self.context_menu("\u{1}choose nothing")?;
        let tail = format!(" ({}) [{},", notice.summary, notice.id);
        Ok(menu
            .lines()
            .filter_map(|line| {
                let line = line.strip_prefix('#')?;
                let at = line.find(&tail)?;
                let key = line[at + tail.len()..].strip_suffix(']')?;
                Some((line[..at].to_string(), key.to_string()))
            })
            .collect())
    }

    /// Runs `dunstctl context` choosing the first menu line containing `pick` (see
    /// tests/env/dunst/pick-action.sh); returns the menu it showed. Serialized within this process.
    fn context_menu(&self, pick: &str) -> Result<String> {
        let _guard = lock(&ACTION_LOCK);
        let file = std::env::var_os("PICK_ACTION_FILE")
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("PICK_ACTION_FILE is not set: run inside tests/env/session.sh"))?;
        let mut menu_log = file.clone().into_os_string();
        menu_log.push(".menu");
        let menu_log = PathBuf::from(menu_log);
        let _ = std::fs::remove_file(&menu_log);
        std::fs::write(&file, pick)?;
        // dunst runs the menu in the background and ignores a call while the previous menu is
        // still closing: ask again when no menu shows within a while
        let mut menu = None;
        for _ in 0..5 {
            let out = Command::new("dunstctl").arg("context").output().context("dunstctl context")?;
            if !out.status.success() {
                bail!("dunstctl context failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            wait_until(Duration::from_secs(2), Duration::from_millis(25), || {
                menu = std::fs::read_to_string(&menu_log).ok();
                menu.is_some()
            });
            if menu.is_some() {
                break;
            }
        }
        // the script has read its choice: the next one starts from the default again
        let _ = std::fs::write(&file, "");
        menu.ok_or_else(|| anyhow!("dunst showed no action menu within 10 s"))
    }
}

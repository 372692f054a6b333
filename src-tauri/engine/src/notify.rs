//! Desktop notifications: what a notice is, and the notifier that shows it.
//!
//! [`Notifier`] is a trait with the real desktop implementation ([`DesktopNotifier`], notify-rust
//! over the freedesktop notification service) as the default; unit tests use a recorder. Which
//! notice to show, and when, is decided by [`crate::alerts`]; this module only shows them. A notice
//! with a sign-in action reports the click back through a channel, so the keeper starts the
//! sign-in in the process that is running (tray or daemon).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

/// How insistent a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    Low,
    Normal,
    Critical,
}

/// One notification, in the words a keeper reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    /// The integrations it is about.
    pub integrations: Vec<String>,
    /// Offer "Sign in again" for this integration.
    pub sign_in_action: Option<String>,
}

/// Shows notices.
pub trait Notifier: Send + Sync + 'static {
    /// Shows one notice; an error is plain words (e.g. no notification service).
    fn show(&self, notice: &Notice) -> Result<(), String>;
}

/// The label of the sign-in action, as keepers see it.
pub const SIGN_IN_ACTION_LABEL: &str = "Sign in again";
const SIGN_IN_ACTION_ID: &str = "sign-in";

/// Notifications through the desktop's notification service.
pub struct DesktopNotifier {
    /// Where clicks on "Sign in again" go (integration name); `None` shows no action, for
    /// short-lived processes that cannot act on a click.
    actions: Option<UnboundedSender<String>>,
}

impl DesktopNotifier {
    pub fn new(actions: Option<UnboundedSender<String>>) -> Self {
        Self { actions }
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, notice: &Notice) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("Token Keeper").summary(&notice.summary).body(&notice.body);
        #[cfg(all(unix, not(target_os = "macos")))]
        n.urgency(match notice.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
        let action = notice.sign_in_action.clone().zip(self.actions.clone());
        if action.is_some() {
            n.action("default", SIGN_IN_ACTION_LABEL).action(SIGN_IN_ACTION_ID, SIGN_IN_ACTION_LABEL);
        }
        let handle = n.show().map_err(|e| format!("could not show a notification: {e}"))?;
        #[cfg(all(unix, not(target_os = "macos")))]
        if let Some((name, tx)) = action {
            // wait_for_action blocks until the notice is clicked or closed: a thread per
            // actionable notice (there are few: one per integration that needs sign-in).
            std::thread::spawn(move || {
                handle.wait_for_action(|clicked| {
                    if clicked == SIGN_IN_ACTION_ID || clicked == "default" {
                        let _ = tx.send(name);
                    }
                })
            });
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (handle, action);
        Ok(())
    }
}

/// Keeps every notice shown, for unit tests.
#[derive(Default, Clone)]
pub struct RecordingNotifier(pub Arc<Mutex<Vec<Notice>>>);

impl Notifier for RecordingNotifier {
    fn show(&self, notice: &Notice) -> Result<(), String> {
        self.0.lock().expect("not poisoned").push(notice.clone());
        Ok(())
    }
}

/// Folds three or more notices that arrive together into one, so a keeper whose network came
/// back is not buried under a notice per integration.
pub fn group(mut batch: Vec<Notice>) -> Vec<Notice> {
    if batch.len() < 3 {
        return batch;
    }
    batch.sort_by_key(|n| std::cmp::Reverse(n.urgency));
    let urgency = batch[0].urgency;
    let names: Vec<String> = batch.iter().flat_map(|n| n.integrations.clone()).collect();
    let body = batch.iter().map(|n| format!("• {}", n.summary)).collect::<Vec<_>>().join("\n");
    let summary = if urgency == Urgency::Low {
        format!("{} integrations are working again", batch.len())
    } else {
        format!("{} integrations need your attention", batch.len())
    };
    vec![Notice { summary, body, urgency, integrations: names, sign_in_action: None }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(name: &str, urgency: Urgency) -> Notice {
        Notice {
            summary: format!("{name} stopped working"),
            body: String::new(),
            urgency,
            integrations: vec![name.into()],
            sign_in_action: None,
        }
    }

    #[test]
    fn three_or_more_are_grouped_two_are_not() {
        assert_eq!(group(vec![notice("a", Urgency::Normal), notice("b", Urgency::Normal)]).len(), 2);
        let g = group(vec![notice("a", Urgency::Normal), notice("b", Urgency::Critical), notice("c", Urgency::Low)]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].urgency, Urgency::Critical);
        assert_eq!(g[0].integrations.len(), 3);
        assert!(g[0].summary.starts_with("3 integrations"));
        assert!(g[0].body.contains("b stopped working"));
    }
}

//! Desktop notifications: what a notice is, what clicking it or its buttons asks for, and the
//! notifier that shows it.
//!
//! [`Notifier`] is a trait with the real desktop implementation ([`DesktopNotifier`], notify-rust
//! over the freedesktop notification service) as the default; unit tests use a recorder. Which
//! notice to show, and when, is decided by [`crate::alerts`]; this module only shows them.
//!
//! Every notice is about one or more integrations (or, when the team vault's access ended, about
//! that connection): a click on the notice itself asks to show them ([`Click::Show`]: the window
//! on one's details, or on the list of several), and its buttons ([`NoticeAction`]) start the fix
//! ("Sign in again", "Enter new token", "Connect again"). The click goes back to
//! the running process through [`Clicks`], which says what that process can do: the tray app
//! everything, the daemon (no window) only sign-ins, a short-lived command nothing.

use std::sync::{Arc, Mutex, OnceLock};

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

/// A button on a notice: the fix for one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", content = "name", rename_all = "kebab-case")]
pub enum NoticeAction {
    /// Sign in again (the system browser opens).
    SignIn(String),
    /// Enter a new API token (the window's token form).
    EnterToken(String),
    /// Connect to the team vault again (the window's team vault page): its access ended.
    ConnectTeamVault,
}

impl NoticeAction {
    /// The integration it is for (none for the team vault's connection).
    pub fn name(&self) -> &str {
        match self {
            NoticeAction::SignIn(name) | NoticeAction::EnterToken(name) => name,
            NoticeAction::ConnectTeamVault => "",
        }
    }

    /// The button's words (the phrase table's): "Sign in again" on a notice about one
    /// integration; on a grouped notice the name says which ("Sign in to Reports").
    pub fn label(&self, grouped: bool) -> String {
        let name = grouped.then_some(self.name());
        match self {
            NoticeAction::SignIn(_) => crate::phrases::menu::notice_sign_in(name),
            NoticeAction::EnterToken(_) => crate::phrases::menu::notice_enter_token(name),
            NoticeAction::ConnectTeamVault => crate::phrases::menu::NOTICE_CONNECT_AGAIN.into(),
        }
    }
}

/// One notification, in the words a keeper reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub summary: String,
    /// Plain text (the notifier escapes it for services that read markup).
    pub body: String,
    pub urgency: Urgency,
    /// The integrations it is about (a click on the notice shows them).
    pub integrations: Vec<String>,
    /// Its buttons, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<NoticeAction>,
}

impl Notice {
    /// Whether it stands for several notices ([`group`]).
    pub fn is_grouped(&self) -> bool {
        self.integrations.len() > 1
    }
}

/// What a click on a notice asks the running process to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// The notice itself: show what it is about (one integration's details, or the list of these).
    Show(Vec<String>),
    /// One of its buttons.
    Act(NoticeAction),
}

/// Where clicks on notices go: what the process showing them can do with a click.
#[derive(Debug, Clone, Default)]
pub enum Clicks {
    /// Nothing (a short-lived command): notices get no buttons.
    #[default]
    Ignored,
    /// Only sign-ins (the daemon has no window): the names whose "Sign in again" was clicked. A
    /// click on a notice with a single sign-in button also signs in.
    SignIns(UnboundedSender<String>),
    /// Every click (the tray app).
    All(UnboundedSender<Click>),
}

impl Clicks {
    /// The buttons this process can act on, and what a click on the notice itself does.
    fn offer(&self, notice: &Notice) -> (Vec<NoticeAction>, Option<Click>) {
        match self {
            Clicks::Ignored => (Vec::new(), None),
            Clicks::SignIns(_) => {
                let buttons: Vec<NoticeAction> =
                    notice.actions.iter().filter(|a| matches!(a, NoticeAction::SignIn(_))).cloned().collect();
                let default = match buttons.as_slice() {
                    [only] => Some(Click::Act(only.clone())),
                    _ => None,
                };
                (buttons, default)
            }
            Clicks::All(_) => (notice.actions.clone(), Some(Click::Show(notice.integrations.clone()))),
        }
    }

    /// Hands a click to the process; false when it is gone or cannot take it.
    fn send(&self, click: Click) -> bool {
        match (self, click) {
            (Clicks::All(tx), click) => tx.send(click).is_ok(),
            (Clicks::SignIns(tx), Click::Act(NoticeAction::SignIn(name))) => tx.send(name).is_ok(),
            _ => false,
        }
    }
}

/// Shows notices.
pub trait Notifier: Send + Sync + 'static {
    /// Shows one notice; an error is plain words (e.g. no notification service).
    fn show(&self, notice: &Notice) -> Result<(), String>;
}

/// The label of a click on the notice itself, where a service lists it (dunst's menu).
pub const SHOW_ACTION_LABEL: &str = crate::phrases::menu::OPEN;
/// The freedesktop id of a click on the notice itself.
const DEFAULT_ACTION_ID: &str = "default";

/// Notifications through the desktop's notification service.
pub struct DesktopNotifier {
    clicks: Clicks,
    /// Whether the service reads markup in bodies (asked once).
    body_markup: OnceLock<bool>,
}

impl DesktopNotifier {
    pub fn new(clicks: Clicks) -> Self {
        Self { clicks, body_markup: OnceLock::new() }
    }

    fn body_markup(&self) -> bool {
        *self.body_markup.get_or_init(|| {
            #[cfg(all(unix, not(target_os = "macos")))]
            {
                notify_rust::get_capabilities().map(|c| c.iter().any(|c| c == "body-markup")).unwrap_or(true)
            }
            #[cfg(not(all(unix, not(target_os = "macos"))))]
            {
                false
            }
        })
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, notice: &Notice) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        let body = if self.body_markup() { escape_markup(&notice.body) } else { notice.body.clone() };
        n.appname("Token Keeper").summary(&notice.summary).body(&body);
        #[cfg(all(unix, not(target_os = "macos")))]
        n.urgency(match notice.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
        let (buttons, default) = self.clicks.offer(notice);
        match &default {
            Some(Click::Act(action)) => n.action(DEFAULT_ACTION_ID, &action.label(notice.is_grouped())),
            Some(Click::Show(_)) => n.action(DEFAULT_ACTION_ID, SHOW_ACTION_LABEL),
            None => &mut n,
        };
        for (i, action) in buttons.iter().enumerate() {
            n.action(&format!("action-{i}"), &action.label(notice.is_grouped()));
        }
        let handle = n.show().map_err(|e| format!("could not show a notification: {e}"))?;
        #[cfg(all(unix, not(target_os = "macos")))]
        if default.is_some() || !buttons.is_empty() {
            let clicks = self.clicks.clone();
            // wait_for_action blocks until the notice is clicked or closed: a thread per
            // actionable notice (few are on screen at once; grouping keeps it so).
            std::thread::spawn(move || {
                handle.wait_for_action(|clicked| {
                    let click = match clicked.strip_prefix("action-").and_then(|i| i.parse::<usize>().ok()) {
                        Some(i) => buttons.get(i).cloned().map(Click::Act),
                        None if clicked == DEFAULT_ACTION_ID => default,
                        None => None, // closed
                    };
                    if let Some(click) = click {
                        if !clicks.send(click) {
                            tracing::warn!("a click on a notification arrived after Token Keeper stopped listening");
                        }
                    }
                })
            });
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = (handle, buttons, default);
        Ok(())
    }
}

/// Escapes the three characters that would be read as markup by the notification services that
/// read it (the freedesktop spec's subset of HTML): a name like "R&D <main>" shows as typed.
/// Hand-written: three replacements are all the spec's markup needs, and `&` goes first.
pub fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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

/// The most buttons a grouped notice carries.
const MAX_GROUP_BUTTONS: usize = 3;

/// Folds three or more notices that arrive together into one, so a keeper whose network came
/// back is not buried under a notice per integration.
pub fn group(mut batch: Vec<Notice>) -> Vec<Notice> {
    if batch.len() < 3 {
        return batch;
    }
    batch.sort_by_key(|n| std::cmp::Reverse(n.urgency));
    let urgency = batch[0].urgency;
    let mut names: Vec<String> = Vec::new();
    for name in batch.iter().flat_map(|n| n.integrations.iter()) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let body = batch.iter().map(|n| format!("• {}", n.summary)).collect::<Vec<_>>().join("\n");
    let summary = if urgency == Urgency::Low {
        format!("{} integrations are working again", batch.len())
    } else {
        format!("{} integrations need your attention", batch.len())
    };
    // each member's fix stays on the group, once, the most urgent first; desktops show at most
    // three buttons (the click on the notice opens the list with every fix)
    let mut actions: Vec<NoticeAction> = Vec::new();
    for action in batch.iter().flat_map(|n| n.actions.iter()) {
        if !actions.contains(action) && actions.len() < MAX_GROUP_BUTTONS {
            actions.push(action.clone());
        }
    }
    vec![Notice { summary, body, urgency, integrations: names, actions }]
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
            actions: Vec::new(),
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

    #[test]
    fn a_group_keeps_its_members_fixes_and_names_once() {
        let mut a = notice("a", Urgency::Critical);
        a.actions = vec![NoticeAction::SignIn("a".into())];
        let mut b = notice("b", Urgency::Critical);
        b.actions = vec![NoticeAction::EnterToken("b".into())];
        let mut a_again = notice("a", Urgency::Normal);
        a_again.actions = a.actions.clone();
        let g = group(vec![a, b, a_again, notice("c", Urgency::Low)]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].integrations, ["a", "b", "c"]);
        assert_eq!(g[0].actions, [NoticeAction::SignIn("a".into()), NoticeAction::EnterToken("b".into())]);
        assert!(g[0].is_grouped());
        assert_eq!(g[0].actions[0].label(true), "Sign in to a");
        assert_eq!(g[0].actions[1].label(true), "Enter a new token for b");
        assert_eq!(g[0].actions[1].label(false), "Enter new token");
    }

    #[test]
    fn what_a_click_does_depends_on_the_process() {
        let mut n = notice("Jira", Urgency::Critical);
        n.actions = vec![NoticeAction::EnterToken("Jira".into())];
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let (buttons, default) = Clicks::All(tx).offer(&n);
        assert_eq!(buttons, n.actions, "the tray app offers the token form");
        assert_eq!(default, Some(Click::Show(vec!["Jira".into()])), "a click on the notice shows it");
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let daemon = Clicks::SignIns(tx);
        assert_eq!(daemon.offer(&n), (Vec::new(), None), "no window: no token form, nothing to show");
        n.actions = vec![NoticeAction::SignIn("Jira".into())];
        assert_eq!(daemon.offer(&n), (n.actions.clone(), Some(Click::Act(n.actions[0].clone()))));
        assert_eq!(Clicks::Ignored.offer(&n), (Vec::new(), None));
    }

    #[test]
    fn bodies_are_escaped_for_markup() {
        assert_eq!(escape_markup("R&D <main> & more"), "R&amp;D &lt;main&gt; &amp; more");
        assert_eq!(escape_markup("&amp;"), "&amp;amp;", "typed text stays typed text");
    }
}

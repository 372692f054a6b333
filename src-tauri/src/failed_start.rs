//! When the app cannot start (a damaged settings file, no tray): the keeper launched it from a
//! menu, or their login did, and reads no terminal. So the reason goes where they look: a
//! notification and a small window saying, in the engine's words, what is wrong and what to do;
//! standard error keeps it for the log. The app ends when the window is closed.

use tokenkeeper_engine::alerts;
use tokenkeeper_engine::notify::{Clicks, DesktopNotifier, Notifier as _};
use tokenkeeper_engine::KeeperError;

/// Says why the app cannot start: standard error, a notification, a window (until closed).
pub fn explain(error: &KeeperError) {
    eprintln!("Token Keeper cannot start: {error}");
    let (notice, technical) = alerts::cannot_start(error);
    if let Err(e) = DesktopNotifier::new(Clicks::Ignored).show(&notice) {
        eprintln!("{e}");
    }
    window(&notice.summary, &notice.body, technical.as_deref());
}

/// A message window with a Close button, drawn with GTK (which the tray already uses on Linux):
/// the web view needs the app that just failed to start.
#[cfg(target_os = "linux")]
fn window(title: &str, text: &str, technical: Option<&str>) {
    use gtk::prelude::*;
    // Tauri initialised GTK on this thread before its setup failed; without a display there is
    // no window to show, and the notification and standard error are all there is.
    if gtk::init().is_err() {
        return;
    }
    let dialog = gtk::MessageDialog::new(
        None::<&gtk::Window>,
        gtk::DialogFlags::MODAL,
        gtk::MessageType::Error,
        gtk::ButtonsType::Close,
        title,
    );
    dialog.set_title(title);
    dialog.set_secondary_text(Some(text));
    // the error as the engine said it (a parser's or the keychain's words), folded away as in
    // the main window's "Technical details"
    if let (Some(technical), Some(area)) = (technical, dialog.message_area().downcast::<gtk::Box>().ok()) {
        let details = gtk::Expander::new(Some("Technical details"));
        let said = gtk::Label::new(Some(technical));
        said.set_selectable(true);
        said.set_line_wrap(true);
        said.set_xalign(0.0);
        details.add(&said);
        area.pack_start(&details, false, false, 0);
        details.show_all();
    }
    dialog.run();
    dialog.close();
}

/// Elsewhere the notification says it (a native dialog would need another dependency).
#[cfg(not(target_os = "linux"))]
fn window(_title: &str, _text: &str, _technical: Option<&str>) {}

//! The one window ("main"): opening it, or focusing it when it is already open, on a route of the
//! front end (`""` the list, `add`, `detail/<name>`, `token/<name>`).
//!
//! Closing the window destroys it (Tauri's default: no `prevent_close`, nothing hidden): an open
//! web view costs hundreds of megabytes across WebKit's processes, and the keeper lives in the
//! tray anyway. `app::run` keeps the app alive when the last window closes.

use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};

/// The window's label (capabilities grant commands to this label only).
pub const LABEL: &str = "main";
/// The event that tells an open window to show another route.
pub const NAVIGATE_EVENT: &str = "navigate";

/// Opens the window on `route`, or brings the open one forward and tells it to go there.
pub fn open(app: &AppHandle, route: &str) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        if !route.is_empty() {
            let _ = window.emit_to(LABEL, NAVIGATE_EVENT, route);
        }
        return;
    }
    let url = if route.is_empty() { "index.html".to_string() } else { format!("index.html#/{route}") };
    let built = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App(url.into()))
        .title("Token Keeper")
        .inner_size(860.0, 640.0)
        .min_inner_size(400.0, 360.0)
        .center()
        .focused(true)
        // Files dropped on the window reach the page as a drop event (a profile file to open),
        // as in a browser, instead of Tauri's own drag-and-drop events.
        .disable_drag_drop_handler()
        .build();
    match built {
        Ok(window) => {
            let _ = window.set_focus();
        }
        Err(e) => tracing::warn!("could not open the window: {e}"),
    }
}

/// Percent-encodes an integration name for a route (the front end decodes it with
/// `decodeURIComponent`).
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_encoded_for_routes() {
        assert_eq!(super::encode("HighQ reporting"), "HighQ%20reporting");
        assert_eq!(super::encode("a/b#c"), "a%2Fb%23c");
        assert_eq!(super::encode("jira-sync_2.prod"), "jira-sync_2.prod");
        assert_eq!(super::encode("Zürich"), "Z%C3%BCrich");
    }
}

//! The one window ("main"): opening it, or focusing it when it is already open, on a [`Route`] of
//! the front end (`""` the list, `add`, `detail/<name>`, `token/<name>`).
//!
//! Closing the window destroys it (Tauri's default: no `prevent_close`, nothing hidden): an open
//! web view costs hundreds of megabytes across WebKit's processes, and the keeper lives in the
//! tray anyway. `app::run` keeps the app alive when the last window closes.

use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};

/// The window's label (capabilities grant commands to this label only).
pub const LABEL: &str = "main";
/// The event that tells an open window to show another route.
pub const NAVIGATE_EVENT: &str = "navigate";

/// A page of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The list of integrations (those that need the keeper first).
    List,
    /// The add-integration wizard.
    Add,
    /// An integration's details.
    Details(String),
    /// An API-token integration's form for a new token.
    Token(String),
    /// The administrator's profile file a launch brought, for the keeper to confirm.
    OpenedProfile,
    /// The team vault: the connection of shared integrations, to connect (again).
    TeamVault,
}

impl Route {
    /// The front end's hash route (without `#/`).
    pub fn path(&self) -> String {
        match self {
            Route::List => String::new(),
            Route::Add => "add".into(),
            Route::Details(name) => format!("detail/{}", encode(name)),
            Route::Token(name) => format!("token/{}", encode(name)),
            Route::OpenedProfile => "open-profile".into(),
            Route::TeamVault => "team-vault".into(),
        }
    }
}

/// Opens the window on `route`, or brings the open one forward and tells it to go there.
pub fn open(app: &AppHandle, route: &Route) {
    tracing::debug!("window: {route:?}");
    bring(app, Some(route));
}

/// Opens the window on the list, or brings the open one forward as it is (a half-filled form
/// stays).
pub fn show(app: &AppHandle) {
    tracing::debug!("window: as it is");
    bring(app, None);
}

fn bring(app: &AppHandle, route: Option<&Route>) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        if let Some(route) = route {
            // also to the list: "show me" must not leave the window on another page
            let _ = window.emit_to(LABEL, NAVIGATE_EVENT, route.path());
        }
        return;
    }
    let url = match route.map(Route::path).filter(|p| !p.is_empty()) {
        Some(path) => format!("index.html#/{path}"),
        None => "index.html".to_string(),
    };
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

    #[test]
    fn routes_are_the_front_ends() {
        use super::Route;
        assert_eq!(Route::List.path(), "");
        assert_eq!(Route::Add.path(), "add");
        assert_eq!(Route::Details("R&D <main>".into()).path(), "detail/R%26D%20%3Cmain%3E");
        assert_eq!(Route::Token("Jira".into()).path(), "token/Jira");
    }
}

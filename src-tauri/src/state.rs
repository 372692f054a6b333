//! What the app shares between the tray, the window's commands and the background tasks, and the
//! two things all of them do through the app: open the system browser and change "start at
//! login". Its own module so that `commands`, `clicks` and `app` depend on it and not on each
//! other.

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt as _;
use tokenkeeper_engine::Keeper;
use tokio::sync::Notify;
use url::Url;

/// The app's shared state (managed by Tauri).
pub struct AppState {
    pub keeper: Keeper,
    /// Whether Token Keeper starts at login (cached: reading it touches the disk).
    pub autostart: AtomicBool,
    /// Wakes the tray updater when something outside the keeper changed (the autostart flag).
    pub tray_dirty: Notify,
}

/// Opens `url` in the system browser, in words when that fails.
pub fn open_in_browser(app: &AppHandle, url: &Url) -> Result<(), String> {
    tokenkeeper_engine::address::open_in_browser(url, |u| app.opener().open_url(u, None::<&str>))
}

/// Turns "start at login" on or off; the tray follows.
pub fn set_autostart(app: &AppHandle, enable: bool) -> Result<bool, String> {
    let launcher = app.autolaunch();
    let result = if enable { launcher.enable() } else { launcher.disable() };
    let state = app.state::<AppState>();
    let now_enabled = launcher.is_enabled().unwrap_or(enable);
    state.autostart.store(now_enabled, Ordering::Relaxed);
    state.tray_dirty.notify_one();
    result.map(|_| now_enabled).map_err(|e| format!("could not change \"start at login\": {e}"))
}

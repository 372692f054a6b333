//! What the keeper's clicks do: a tray menu item ([`Action`]) or a notification and its buttons
//! ([`Click`]). Everything a click starts that can fail (a sign-in, a renewal, a pause) runs through
//! the engine's [`Keeper::on_behalf`], so a failure reaches the keeper as a notice, where they
//! acted, and not only the log.

use std::sync::atomic::Ordering;

use tauri::{AppHandle, Manager};
use tokenkeeper_engine::alerts::Attempt;
use tokenkeeper_engine::model::Kind;
use tokenkeeper_engine::notify::{Click, NoticeAction};
use tokenkeeper_engine::{Keeper, KeeperError};

use crate::menu_model::Action;
use crate::state::{self, AppState};
use crate::window::{self, Route};

/// Does what a tray menu item says.
pub fn on_menu(app: &AppHandle, id: &str) {
    let Some(action) = Action::parse(id) else { return };
    tracing::info!("tray: {}", action.id());
    let keeper = app.state::<AppState>().keeper.clone();
    match action {
        Action::SignIn(name) => fix(app, name),
        Action::Refresh(name) => {
            tauri::async_runtime::spawn(async move {
                let _ = keeper.on_behalf(&name, Attempt::Refresh, keeper.refresh(&name)).await;
            });
        }
        Action::Pause(name) => pause(keeper, name, true),
        Action::Resume(name) => pause(keeper, name, false),
        Action::Details(name) => window::open(app, &Route::Details(name)),
        Action::List => window::open(app, &Route::List),
        Action::Open => window::show(app),
        Action::Add => window::open(app, &Route::Add),
        Action::ToggleAutostart => {
            let enable = !app.state::<AppState>().autostart.load(Ordering::Relaxed);
            if let Err(e) = state::set_autostart(app, enable) {
                tracing::warn!("{e}");
            }
        }
        Action::Quit => app.exit(0),
    }
}

/// Does what a click on a notification (or one of its buttons) asks.
pub fn on_notice(app: &AppHandle, click: Click) {
    tracing::info!("notification: {click:?}");
    match click {
        Click::Show(names) => match <[String; 1]>::try_from(names) {
            Ok([name]) => window::open(app, &Route::Details(name)),
            // several: the list, where the ones that need the keeper come first
            Err(_) => window::open(app, &Route::List),
        },
        Click::Act(NoticeAction::SignIn(name)) => start_sign_in(app, name),
        Click::Act(NoticeAction::EnterToken(name)) => window::open(app, &Route::Token(name)),
        Click::Act(NoticeAction::ConnectTeamVault) => window::open(app, &Route::TeamVault),
    }
}

/// The fix of an integration: an API token gets the window's token form, anything else a sign-in
/// in the browser.
fn fix(app: &AppHandle, name: String) {
    let keeper = &app.state::<AppState>().keeper;
    let is_api_token = keeper.status(&name).map(|s| s.view.kind == Kind::ApiToken).unwrap_or(false);
    if is_api_token {
        window::open(app, &Route::Token(name));
    } else {
        start_sign_in(app, name);
    }
}

/// Starts a sign-in for `name` in the background: the browser opens, the menu says "signing in…"
/// until it ends; a failure (also a cancelled or timed-out one, which changes nothing) is told in
/// a notice.
pub fn start_sign_in(app: &AppHandle, name: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let keeper = app.state::<AppState>().keeper.clone();
        let opener = app.clone();
        let sign_in = keeper.sign_in(&name, |url| state::open_in_browser(&opener, url).map_err(KeeperError::Failed));
        if keeper.on_behalf(&name, Attempt::SignIn, sign_in).await.is_ok() {
            tracing::info!("{name}: signed in");
        }
    });
}

fn pause(keeper: Keeper, name: String, paused: bool) {
    let attempt = if paused { Attempt::Pause } else { Attempt::Resume };
    tauri::async_runtime::spawn(async move {
        let _ = keeper.on_behalf(&name, attempt, async { keeper.pause(&name, paused) }).await;
    });
}

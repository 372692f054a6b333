//! Setting the app up: the engine's keeper (in this process, with the system browser replaced by
//! tauri-plugin-opener), its background scheduler and the local socket the `tokenkeeper` command
//! talks to, the plugins (one instance per user, start at login, opener), the tray and the task
//! that keeps the tray and the window in step with the keeper's events.
//!
//! The app never exits because its last window closed: `RunEvent::ExitRequested` without an exit
//! code (closing a window) is prevented; only "Quit" (`AppHandle::exit`) ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, RunEvent};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_opener::OpenerExt as _;
use tokenkeeper_engine::model::Kind;
use tokenkeeper_engine::{ipc, Keeper, KeeperError, KeeperOptions};
use tokio::sync::{broadcast, mpsc, Notify};
use url::Url;

use crate::menu_model::{self, Action};
use crate::{commands, profile_inbox, tray, window};

/// What the app shares between the tray, the window's commands and the background tasks.
pub struct AppState {
    pub keeper: Keeper,
    /// Whether Token Keeper starts at login (cached: reading it touches the disk).
    pub autostart: AtomicBool,
    /// Wakes the tray updater when something outside the keeper changed (the autostart flag).
    pub tray_dirty: Notify,
}

/// The event the window listens to, carrying the keeper's events (views, names, notices: never a
/// token).
pub const KEEPER_EVENT: &str = "keeper-event";

/// Starts the app; returns when the keeper chose Quit.
pub fn run() {
    init_logging();
    let app = tauri::Builder::default()
        // First: a second launch only tells the running one to open its window, then exits.
        .plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            tracing::info!("another launch: opening the window");
            window::open(app, "");
            // a profile file as its argument (double-clicked): shown for the keeper to confirm
            profile_inbox::receive(app, &args, &cwd);
        }))
        .manage(profile_inbox::ProfileInbox::default())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .invoke_handler(commands::handler())
        .setup(|app| {
            setup(app.handle()).map_err(|e| {
                // A damaged settings file or no keychain: say it in words and stop.
                eprintln!("Token Keeper cannot start: {e}");
                Box::<dyn std::error::Error>::from(e.to_string())
            })
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Token Keeper could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        RunEvent::ExitRequested { code: None, api, .. } => {
            // The last window closed: the app lives on in the tray.
            api.prevent_exit();
        }
        RunEvent::Exit => tray::cleanup(app),
        _ => {}
    });
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TOKENKEEPER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

fn setup(app: &AppHandle) -> Result<(), KeeperError> {
    let started = std::time::Instant::now();
    let (action_tx, action_rx) = mpsc::unbounded_channel();
    let mut options = KeeperOptions::system(Some(action_tx))?;
    let opener_app = app.clone();
    // Sign-in goes to the system browser through the opener plugin; never an embedded web view.
    options.open_url = Arc::new(move |url: &Url| open_in_browser(&opener_app, url));
    let keeper = tauri::async_runtime::block_on(async { Keeper::open(options) })?;
    for problem in keeper.problems() {
        tracing::warn!("{problem}");
    }
    let autostart = app.autolaunch().is_enabled().unwrap_or(false);
    app.manage(AppState { keeper: keeper.clone(), autostart: AtomicBool::new(autostart), tray_dirty: Notify::new() });

    // The background scheduler (its receiver gets the names whose notification "Sign in again"
    // was clicked), and the socket the `tokenkeeper` command talks to.
    let runner = keeper.clone();
    tauri::async_runtime::spawn(async move { runner.run(Some(action_rx)).await });
    let server = keeper.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = ipc::serve(server).await {
            tracing::error!("scripts cannot reach this Token Keeper: {e}");
        }
    });

    let views = keeper.list();
    tray::create(app, &menu_model::build(&views, now(), autostart), keeper.paths().runtime.join("tray"))
        .map_err(|e| KeeperError::Failed(format!("could not show the tray icon: {e}")))?;
    tracing::info!("tray ready {} ms after setup began", started.elapsed().as_millis());
    tauri::async_runtime::spawn(follow_keeper(app.clone(), keeper.subscribe()));

    if views.is_empty() {
        // First run: nothing to keep yet, so show the way in.
        window::open(app, "add");
    }
    // launched with a profile file (double-clicked while Token Keeper was not running)
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    profile_inbox::receive(app, &std::env::args().collect::<Vec<_>>(), &cwd);
    Ok(())
}

/// Wall clock, seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Opens `url` in the system browser, in words when that fails.
pub fn open_in_browser(app: &AppHandle, url: &Url) -> Result<(), String> {
    tokenkeeper_engine::address::open_in_browser(url, |u| app.opener().open_url(u, None::<&str>))
}

/// Keeps the tray (and an open window) in step with the keeper: every event re-derives the menu
/// model, which is applied only when it differs; a periodic tick keeps "renews in …" current.
async fn follow_keeper(app: AppHandle, mut events: broadcast::Receiver<tokenkeeper_engine::Event>) {
    /// Events arriving this close together become one rebuild.
    const SETTLE: Duration = Duration::from_millis(50);
    /// How often the countdown text is re-derived (applied only when it changed).
    const TICK: Duration = Duration::from_secs(30);
    let state = app.state::<AppState>();
    let mut last: Option<menu_model::TrayModel> = None;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let _ = app.emit_to("main", KEEPER_EVENT, &event);
                    // take whatever else arrived meanwhile
                    tokio::time::sleep(SETTLE).await;
                    loop {
                        match events.try_recv() {
                            Ok(event) => { let _ = app.emit_to("main", KEEPER_EVENT, &event); }
                            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = state.tray_dirty.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
        let model = menu_model::build(&state.keeper.list(), now(), state.autostart.load(Ordering::Relaxed));
        if last.as_ref() != Some(&model) {
            if let Err(e) = tray::apply(&app, &model) {
                tracing::warn!("could not update the tray: {e}");
            }
            last = Some(model);
        }
    }
}

/// Starts a sign-in for `name` in the background (tray and notification clicks): the browser
/// opens, the menu says "signing in…" until it ends. A cancelled or timed-out sign-in changes
/// nothing.
pub fn start_sign_in(app: &AppHandle, name: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let keeper = app.state::<AppState>().keeper.clone();
        let opener = app.clone();
        let result = keeper.sign_in(&name, |url| open_in_browser(&opener, url).map_err(KeeperError::Failed)).await;
        match result {
            Ok(_) => tracing::info!("{name}: signed in"),
            Err(e) => tracing::warn!("{name}: sign-in did not complete: {e}"),
        }
    });
}

/// Does what a tray menu item says.
pub fn on_menu(app: &AppHandle, id: &str) {
    let Some(action) = Action::parse(id) else { return };
    tracing::info!("tray: {}", action.id());
    let state = app.state::<AppState>();
    let keeper = state.keeper.clone();
    match action {
        Action::SignIn(name) => {
            let is_api_token = keeper.status(&name).map(|s| s.view.kind == Kind::ApiToken).unwrap_or(false);
            if is_api_token {
                window::open(app, &format!("token/{}", window::encode(&name)));
            } else {
                start_sign_in(app, name);
            }
        }
        Action::Refresh(name) => {
            tauri::async_runtime::spawn(async move {
                if let Err(e) = keeper.refresh(&name).await {
                    tracing::warn!("{name}: refresh: {e}");
                }
            });
        }
        Action::Pause(name) | Action::Resume(name) => {
            let paused = id.starts_with("pause:");
            if let Err(e) = keeper.pause(&name, paused) {
                tracing::warn!("{name}: pause: {e}");
            }
        }
        Action::Details(name) => window::open(app, &format!("detail/{}", window::encode(&name))),
        Action::Open => window::open(app, ""),
        Action::Add => window::open(app, "add"),
        Action::ToggleAutostart => {
            let enable = !state.autostart.load(Ordering::Relaxed);
            if let Err(e) = set_autostart(app, enable) {
                tracing::warn!("{e}");
            }
        }
        Action::Quit => app.exit(0),
    }
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

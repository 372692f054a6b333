//! Setting the app up: the engine's keeper (in this process, with the system browser replaced by
//! tauri-plugin-opener and notification clicks coming back here), its background scheduler and
//! the local socket the `tokenkeeper` command talks to, the plugins (one instance per user, start
//! at login, opener), the tray and the task that keeps the tray and the window in step with the
//! keeper's events. When it cannot start, [`crate::failed_start`] says why.
//!
//! The app never exits because its last window closed: `RunEvent::ExitRequested` without an exit
//! code (closing a window) is prevented; only "Quit" (`AppHandle::exit`) ends it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, RunEvent};
use tauri_plugin_autostart::ManagerExt as _;
use tokenkeeper_engine::notify::Clicks;
use tokenkeeper_engine::{clock, ipc, Keeper, KeeperError, KeeperOptions};
use tokio::sync::{broadcast, mpsc, Notify};
use url::Url;

use crate::state::{self, AppState};
use crate::window::{self, Route};
use crate::{clicks, commands, failed_start, menu_model, profile_inbox, tray};

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
            window::show(app);
            // a profile file as its argument (double-clicked): shown for the keeper to confirm
            profile_inbox::receive(app, &args, &cwd);
        }))
        .manage(profile_inbox::ProfileInbox::default())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .invoke_handler(commands::handler())
        .setup(|app| {
            if let Err(e) = setup(app.handle()) {
                // A damaged settings file, no tray: say it in words where the keeper looks, and
                // stop (an error returned here would only make Tauri panic on standard error).
                failed_start::explain(&e);
                std::process::exit(1);
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            failed_start::explain(&KeeperError::Failed(format!("the window system did not start: {e}")));
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
    // Clicks on notifications come back here: the window and sign-ins are this process's.
    let (click_tx, mut click_rx) = mpsc::unbounded_channel();
    let mut options = KeeperOptions::system(Clicks::All(click_tx))?;
    let opener_app = app.clone();
    // Sign-in goes to the system browser through the opener plugin; never an embedded web view.
    options.open_url = Arc::new(move |url: &Url| state::open_in_browser(&opener_app, url));
    let keeper = tauri::async_runtime::block_on(async { Keeper::open(options) })?;
    for problem in keeper.problems() {
        tracing::warn!("{problem}");
    }
    let autostart = app.autolaunch().is_enabled().unwrap_or(false);
    app.manage(AppState { keeper: keeper.clone(), autostart: AtomicBool::new(autostart), tray_dirty: Notify::new() });

    // The background scheduler, the clicks on notifications, and the socket the `tokenkeeper`
    // command talks to.
    let runner = keeper.clone();
    tauri::async_runtime::spawn(async move {
        runner.open_shared().await;
        runner.run(None).await
    });
    let clicked = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(click) = click_rx.recv().await {
            clicks::on_notice(&clicked, click);
        }
    });
    let server = keeper.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = ipc::serve(server).await {
            tracing::error!("scripts cannot reach this Token Keeper: {e}");
        }
    });

    let views = keeper.list();
    tray::create(app, &menu_model::build(&views, clock::now().secs(), autostart), keeper.paths().runtime.join("tray"))
        .map_err(|e| KeeperError::Failed(format!("could not show the tray icon: {e}")))?;
    tracing::info!("tray ready {} ms after setup began", started.elapsed().as_millis());
    tauri::async_runtime::spawn(follow_keeper(app.clone(), keeper.subscribe()));

    if views.is_empty() {
        // First run: nothing to keep yet, so show the way in.
        window::open(app, &Route::Add);
    }
    // launched with a profile file (double-clicked while Token Keeper was not running)
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    profile_inbox::receive(app, &std::env::args().collect::<Vec<_>>(), &cwd);
    Ok(())
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
        let model =
            menu_model::build(&state.keeper.list(), clock::now().secs(), state.autostart.load(Ordering::Relaxed));
        if last.as_ref() != Some(&model) {
            if let Err(e) = tray::apply(&app, &model) {
                tracing::warn!("could not update the tray: {e}");
            }
            last = Some(model);
        }
    }
}

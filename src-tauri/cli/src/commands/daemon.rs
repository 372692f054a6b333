//! `tokenkeeper daemon`: the headless keeper in the foreground — the same engine as the tray
//! app, without a GUI — for servers and for tests.
//!
//! It opens the keeper with the system keychain, notifier and browser, keeps every integration
//! alive (`Keeper::run`, which also starts sign-ins clicked in notifications) and answers
//! `tokenkeeper` commands on the local socket (`ipc::serve`) until SIGINT or SIGTERM. Logging is
//! set up by `main` (tracing to standard error); nothing logged here holds a secret.

use std::time::Duration;

use tokenkeeper_engine::ipc;
use tokenkeeper_engine::notify::Clicks;
use tokenkeeper_engine::{Keeper, KeeperOptions};

use crate::failure::Failure;

/// How long to wait for the last notifications to be shown when stopping.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run() -> Result<(), Failure> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let keeper = Keeper::open(KeeperOptions::system(Clicks::SignIns(tx))?)?;
    // the team vault's integrations are read in the background: local ones are served at once,
    // a request for a shared one waits for them (10,000 records take seconds)
    let opening = tokio::spawn({
        let keeper = keeper.clone();
        async move { keeper.open_shared().await }
    });
    for problem in keeper.problems() {
        tracing::warn!("{problem}");
    }
    tracing::info!(integrations = keeper.list().len(), "Token Keeper daemon started");
    let result = tokio::select! {
        () = keeper.run(Some(rx)) => Ok(()),
        served = ipc::serve(keeper.clone()) => served.map_err(Failure::from),
        signal = stop_signal() => {
            tracing::info!("{signal}: stopping");
            Ok(())
        }
    };
    opening.abort();
    let _ = tokio::time::timeout(FLUSH_TIMEOUT, keeper.flush_notices()).await;
    result
}

/// Waits for SIGINT or SIGTERM (Ctrl-C elsewhere) and names it.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

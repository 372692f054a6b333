//! Token Keeper's tray app as a library: the Tauri shell around the engine — `app` sets up,
//! `state` is what the parts share, `tray` and `window` show, `clicks` acts on the tray's and the
//! notifications' clicks, `commands` answer the window, `checked` turns inputs into a checked configuration,
//! `profile_inbox` holds an administrator's
//! profile file until the keeper confirms it, `failed_start` explains a start that failed — and the pure menu model, which is unit-tested without a display.

pub mod app;
pub mod checked;
pub mod clicks;
pub mod commands;
pub mod failed_start;
pub mod menu_model;
pub mod profile_inbox;
pub mod state;
pub mod tray;
pub mod window;

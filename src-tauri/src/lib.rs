//! Token Keeper's tray app as a library: the Tauri shell around the engine (`app`, `tray`,
//! `window`, `commands`) and the pure menu model, which is unit-tested without a display.

pub mod app;
pub mod clicks;
pub mod commands;
pub mod failed_start;
pub mod menu_model;
pub mod state;
pub mod tray;
pub mod window;

//! Token Keeper's tray app as a library: the Tauri shell around the engine (`app`, `tray`,
//! `window`, `commands`, `profile_inbox`) and the pure menu model, which is unit-tested without a display.

pub mod app;
pub mod commands;
pub mod menu_model;
pub mod profile_inbox;
pub mod tray;
pub mod window;

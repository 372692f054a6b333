//! The `token-keeper` binary: the tray app. Thin on purpose: everything lives in the library
//! (`app` sets up, `tray` and `window` show, `commands` answer the window).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    token_keeper::app::run();
}

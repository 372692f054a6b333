//! The tray icon: creating it, and applying a [`TrayModel`] to it (menu, icon, tooltip).
//!
//! All decisions (wording, order, which icon) are made by the pure [`crate::menu_model`]; this
//! module only turns the model into Tauri menu items. The icons are the PNGs in `icons/`, built
//! into the binary. On Linux the tray (libayatana) writes the icon to a file: that folder is set
//! per user (in the keeper's private runtime directory), not the shared `/tmp/tray-icon`.

use std::path::PathBuf;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::menu_model::{Entry, IconState, TrayModel};

const TRAY_ID: &str = "token-keeper";

/// The tray and where its icon files go.
struct TrayHandle {
    icon: TrayIcon,
    temp_dir: PathBuf,
}

/// Which panel colour the icon is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Light,
    Dark,
}

/// `TOKENKEEPER_TRAY_THEME=light|dark` decides; otherwise dark, which most Linux panels are
/// (GNOME's top bar always is).
pub fn panel() -> Panel {
    match std::env::var("TOKENKEEPER_TRAY_THEME").as_deref() {
        Ok("light") => Panel::Light,
        _ => Panel::Dark,
    }
}

/// The PNG of a state, for a panel.
pub fn icon_png(state: IconState, panel: Panel) -> &'static [u8] {
    match (state, panel) {
        (IconState::Ok, Panel::Light) => include_bytes!("../../icons/tray-ok.png"),
        (IconState::Attention, Panel::Light) => include_bytes!("../../icons/tray-attention.png"),
        (IconState::Broken, Panel::Light) => include_bytes!("../../icons/tray-broken.png"),
        (IconState::Ok, Panel::Dark) => include_bytes!("../../icons/tray-ok-dark.png"),
        (IconState::Attention, Panel::Dark) => include_bytes!("../../icons/tray-attention-dark.png"),
        (IconState::Broken, Panel::Dark) => include_bytes!("../../icons/tray-broken-dark.png"),
    }
}

fn icon(state: IconState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(icon_png(state, panel()))
}

/// Creates the tray icon with its first model.
pub fn create(app: &AppHandle, model: &TrayModel, temp_dir: PathBuf) -> tauri::Result<()> {
    std::fs::create_dir_all(&temp_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let menu = menu(app, &model.entries)?;
    let icon = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(model.icon)?)
        .tooltip(&model.tooltip)
        .menu(&menu)
        .temp_dir_path(&temp_dir)
        .on_menu_event(|app, event| crate::clicks::on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayHandle { icon, temp_dir });
    Ok(())
}

/// Replaces the menu, icon and tooltip with those of `model`.
pub fn apply(app: &AppHandle, model: &TrayModel) -> tauri::Result<()> {
    let handle = app.state::<TrayHandle>();
    let menu = menu(app, &model.entries)?;
    handle.icon.set_menu(Some(menu))?;
    handle.icon.set_icon(Some(icon(model.icon)?))?;
    handle.icon.set_tooltip(Some(&model.tooltip))?;
    Ok(())
}

/// Removes the icon files when the app ends.
pub fn cleanup(app: &AppHandle) {
    if let Some(handle) = app.try_state::<TrayHandle>() {
        let _ = handle.icon.set_visible(false);
        let _ = std::fs::remove_dir_all(&handle.temp_dir);
    }
}

fn menu(app: &AppHandle, entries: &[Entry]) -> tauri::Result<Menu<Wry>> {
    let items = items(app, entries)?;
    let refs: Vec<&dyn IsMenuItem<Wry>> = items.iter().map(|b| b.as_ref()).collect();
    Menu::with_items(app, &refs)
}

fn items(app: &AppHandle, entries: &[Entry]) -> tauri::Result<Vec<Box<dyn IsMenuItem<Wry>>>> {
    let mut out: Vec<Box<dyn IsMenuItem<Wry>>> = Vec::with_capacity(entries.len());
    for entry in entries {
        out.push(match entry {
            Entry::Item { id, label, enabled } => {
                Box::new(MenuItem::with_id(app, id, escape(label), *enabled, None::<&str>)?)
            }
            Entry::Check { id, label, checked } => {
                Box::new(CheckMenuItem::with_id(app, id, escape(label), true, *checked, None::<&str>)?)
            }
            Entry::Separator => Box::new(PredefinedMenuItem::separator(app)?),
            Entry::Submenu { id, label, entries } => {
                let children = items(app, entries)?;
                let refs: Vec<&dyn IsMenuItem<Wry>> = children.iter().map(|b| b.as_ref()).collect();
                Box::new(Submenu::with_id_and_items(app, id, escape(label), true, &refs)?)
            }
        });
    }
    Ok(out)
}

/// Menu labels treat `&` as a mnemonic marker (and GTK `_`): names must show as typed.
fn escape(label: &str) -> String {
    label.replace('&', "&&")
}

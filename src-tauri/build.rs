//! Build script: Tauri's code generation (config, icons, capabilities), and the list of the app's
//! own commands, so each gets an `allow-…` permission and the window is granted only those it uses
//! (see `capabilities/main-window.json`).

fn main() {
    // The window's front end is embedded at compile time: say how to build it rather than fail
    // inside Tauri's code generation.
    let dist = std::path::Path::new("../ui/dist/index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.exists() {
        panic!("the window's front end is not built: run `npm ci --prefix ui && npm run build --prefix ui` (ui/dist/index.html is missing)");
    }
    let commands = &[
        "list",
        "status",
        "refresh",
        "pause",
        "remove",
        "sign_in",
        "sign_in_with_code",
        "discover",
        "presets",
        "fields",
        "preview_preset",
        "open_register_page",
        "add_preset",
        "shared_status",
        "team_vault",
        "team_vault_connect",
        "team_vault_disconnect",
        "read_profile",
        "opened_profile",
        "add_profile",
        "forget_profile",
        "save_api_token",
        "about",
        "sign_in_ways",
        "settings",
        "set_warning_days",
        "set_autostart",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build step");
}

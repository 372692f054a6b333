//! Issue 10 item 11, the supply chain, checked on what a build would really take: the headless
//! `tokenkeeper` links one D-Bus stack, reqwest is built without cookie storage for it, the
//! window's and the fixture's npm packages install from their lock files, and tauri-driver is
//! one exact version. `cargo tree --offline` reads `Cargo.lock` and the local registry only.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// `cargo tree --offline ARGS --prefix none` for the `tokenkeeper` package, line by line.
fn tree(args: &[&str]) -> Vec<String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args(["tree", "--offline", "-p", "tokenkeeper", "--prefix", "none"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").lines().map(str::to_string).collect()
}

#[test]
fn the_headless_command_links_one_dbus_stack() {
    let mut versions: Vec<String> = tree(&["-e", "normal"])
        .into_iter()
        .filter_map(|line| {
            line.strip_prefix("zbus v").map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        })
        .collect();
    versions.sort();
    versions.dedup();
    assert_eq!(versions.len(), 1, "the keychain and the notifications should share one zbus: {versions:?}");
}

#[test]
fn reqwest_keeps_no_cookies_for_the_command() {
    let features = tree(&["-e", "features", "-i", "reqwest"]);
    let cookies: Vec<&String> = features.iter().filter(|l| l.contains("reqwest feature \"cookies\"")).collect();
    assert!(cookies.is_empty(), "reqwest is built with cookie storage for tokenkeeper: {cookies:?}");
}

#[test]
fn npm_packages_come_from_lock_files_and_tauri_driver_is_pinned() {
    let script = std::fs::read_to_string(root().join("scripts/ensure-deps.sh")).expect("ensure-deps.sh");
    let code: Vec<&str> = script.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert!(!code.iter().any(|l| l.contains("npm install")), "an npm install that ignores the lock file");
    for dir in ["$FIXTURE", "$UI"] {
        let install = format!("cd \"{dir}\" && npm ci ");
        assert!(code.iter().any(|l| l.contains(&install)), "{dir}'s packages are not installed with npm ci");
    }
    for lock in ["ui/package-lock.json", "tests/fixtures/oidc-server/package-lock.json"] {
        assert!(root().join(lock).is_file(), "{lock} is missing");
    }
    let version =
        code.iter().find_map(|l| l.strip_prefix("TAURI_DRIVER_VERSION=")).expect("tauri-driver's version is set once");
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "not one exact version: {version}"
    );
    assert!(
        code.iter().any(|l| l.contains("cargo install tauri-driver --version \"=$TAURI_DRIVER_VERSION\" --locked")),
        "tauri-driver is not installed at exactly that version with its lock file"
    );
}

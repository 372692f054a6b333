//! Where Token Keeper keeps its files, from the platform's conventions (XDG on Linux) via the
//! `directories` crate.
//!
//! - config: `integrations/<name>.toml` (one file per integration, so adding one never rewrites
//!   another, and a damaged file breaks only its own integration) and `settings.toml`;
//! - state: `integrations/<name>.json` (state, history, what was notified);
//! - state: `locks/<name>.lock`, one refresh at a time per integration (see [`crate::lock`]).
//!   Beside the records, not in the runtime directory: every process that keeps the same records
//!   must take the same lock, and a process started by cron or ssh often has no
//!   `XDG_RUNTIME_DIR` — with the locks there, it took other locks and refreshed alongside;
//! - runtime: the local socket (`$XDG_RUNTIME_DIR/tokenkeeper`, which is private to the user).
//!   Cron jobs, systemd timers and some ssh sessions have no `XDG_RUNTIME_DIR`: they use the
//!   user's runtime directory all the same, `/run/user/UID`, when it exists and is the user's own
//!   and private (systemd-logind makes it while the user is logged in, or always with `loginctl
//!   enable-linger`), so they find the running keeper; the state directory only where there is no
//!   such directory.

use std::path::{Path, PathBuf};

/// The directories of one keeper installation.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub state: PathBuf,
    pub runtime: PathBuf,
}

impl Paths {
    /// The platform's directories for the current user.
    pub fn from_platform() -> Result<Self, String> {
        let dirs = directories::ProjectDirs::from("", "", "tokenkeeper")
            .ok_or("cannot find your home directory, so there is nowhere to keep settings")?;
        let state = dirs.state_dir().map(Path::to_path_buf).unwrap_or_else(|| dirs.data_local_dir().to_path_buf());
        let runtime = dirs
            .runtime_dir()
            .map(Path::to_path_buf)
            .or_else(|| user_runtime_dir().map(|dir| dir.join("tokenkeeper")))
            .unwrap_or_else(|| state.join("run"));
        Ok(Self { config: dirs.config_dir().to_path_buf(), state, runtime })
    }

    /// All three under one root (tests, portable installs).
    pub fn under(root: &Path) -> Self {
        Self { config: root.join("config"), state: root.join("state"), runtime: root.join("run") }
    }

    pub fn integration_config(&self, name: &str) -> PathBuf {
        self.config.join("integrations").join(format!("{name}.toml"))
    }
    pub fn integrations_dir(&self) -> PathBuf {
        self.config.join("integrations")
    }
    pub fn settings(&self) -> PathBuf {
        self.config.join("settings.toml")
    }
    pub fn integration_record(&self, name: &str) -> PathBuf {
        self.state.join("integrations").join(format!("{name}.json"))
    }
    /// This keeper's record of a shared integration (its settings and secrets are in the team
    /// vault): apart from the local ones, so a local and a shared integration never share a file.
    pub fn shared_record(&self, name: &str) -> PathBuf {
        self.state.join("shared").join(format!("{name}.json"))
    }
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.state.join("locks").join(format!("{name}.lock"))
    }
    pub fn socket(&self) -> PathBuf {
        self.runtime.join("tokenkeeper.sock")
    }
}

/// `/run/user/UID` when `XDG_RUNTIME_DIR` is not set: the directory systemd-logind gives the user
/// (what `XDG_RUNTIME_DIR` names in a login session), if it is there, a directory, ours and 0700.
/// The `directories` crate has no such fallback (the XDG spec leaves it to the application).
#[cfg(target_os = "linux")]
fn user_runtime_dir() -> Option<PathBuf> {
    user_runtime_dir_in(Path::new("/run/user"), nix::unistd::getuid().as_raw())
}

#[cfg(not(target_os = "linux"))]
fn user_runtime_dir() -> Option<PathBuf> {
    None
}

#[cfg(target_os = "linux")]
fn user_runtime_dir_in(base: &Path, uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = base.join(uid.to_string());
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o777 == 0o700).then_some(dir)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_user_runtime_directory_counts_only_when_ours_and_private() {
        let base = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert_eq!(user_runtime_dir_in(base.path(), uid), None, "missing");
        let dir = base.path().join(uid.to_string());
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(user_runtime_dir_in(base.path(), uid), None, "readable by others");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(user_runtime_dir_in(base.path(), uid), Some(dir.clone()));
        // another user's directory (as its number says) is not ours
        let other = uid + 1;
        std::fs::create_dir(base.path().join(other.to_string())).unwrap();
        assert_eq!(user_runtime_dir_in(base.path(), other), None, "not ours");
    }
}

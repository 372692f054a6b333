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
//! - runtime: the local socket (`$XDG_RUNTIME_DIR/tokenkeeper`, which is private to the user; the
//!   state directory where there is no runtime directory).

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
        let runtime = dirs.runtime_dir().map(Path::to_path_buf).unwrap_or_else(|| state.join("run"));
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
    pub fn lock_file(&self, name: &str) -> PathBuf {
        self.state.join("locks").join(format!("{name}.lock"))
    }
    pub fn socket(&self) -> PathBuf {
        self.runtime.join("tokenkeeper.sock")
    }
}

//! The errors the keeper's commands return, each tied to an exit code of the `tokenkeeper`
//! contract. Messages are plain words for the person (or script log) that reads them and never
//! hold a secret, nor a command: each shell adds its own way to act on the error's kind (the
//! command line names `tokenkeeper login`, the window offers a button). They cross the local
//! socket as they are.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum KeeperError {
    /// Bad input: an unknown name, an invalid option, a malformed file (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// The integration needs the keeper to sign in again (exit 3).
    #[error("{0}")]
    NeedsSignIn(String),
    /// The service cannot be reached and there is no valid token (exit 4).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: keychain, files, a running keeper that broke off (exit 1).
    #[error("{0}")]
    Failed(String),
    /// The keychain is locked or did not answer in time (exit 1): unlocking it helps.
    #[error("{0}")]
    KeychainLocked(String),
    /// One of Token Keeper's own files cannot be understood; it was left as it is (exit 1).
    /// `said` is the whole message with the parser's words, for logs and the command line; the
    /// tray app tells the keeper only which file, and shows `said` as technical details.
    #[error("{said}")]
    Damaged { file: std::path::PathBuf, said: String },
}

impl KeeperError {
    /// The `tokenkeeper` exit code: 2 bad input, 3 needs sign-in, 4 temporarily unavailable, 1 other.
    pub fn exit_code(&self) -> i32 {
        match self {
            KeeperError::BadInput(_) => 2,
            KeeperError::NeedsSignIn(_) => 3,
            KeeperError::Unavailable(_) => 4,
            KeeperError::Failed(_) | KeeperError::KeychainLocked(_) | KeeperError::Damaged { .. } => 1,
        }
    }

    pub fn unknown(name: &str) -> Self {
        KeeperError::BadInput(format!("there is no integration called \"{name}\""))
    }
}

impl From<crate::store::StoreError> for KeeperError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Locked(_) => KeeperError::KeychainLocked(e.to_string()),
            e => KeeperError::Failed(e.to_string()),
        }
    }
}

impl From<crate::store::files::FileError> for KeeperError {
    fn from(e: crate::store::files::FileError) -> Self {
        match e {
            crate::store::files::FileError::Damaged { ref path, .. } => {
                KeeperError::Damaged { file: path.clone(), said: e.to_string() }
            }
            e => KeeperError::Failed(e.to_string()),
        }
    }
}

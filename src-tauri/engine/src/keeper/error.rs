//! The errors the keeper's commands return, each tied to an exit code of the `tokenkeeper`
//! contract. Messages are plain words for the person (or script log) that reads them and never
//! hold a secret. They cross the local socket as they are.

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
}

impl KeeperError {
    /// The `tokenkeeper` exit code: 2 bad input, 3 needs sign-in, 4 temporarily unavailable, 1 other.
    pub fn exit_code(&self) -> i32 {
        match self {
            KeeperError::BadInput(_) => 2,
            KeeperError::NeedsSignIn(_) => 3,
            KeeperError::Unavailable(_) => 4,
            KeeperError::Failed(_) => 1,
        }
    }

    pub fn unknown(name: &str) -> Self {
        KeeperError::BadInput(format!("there is no integration called \"{name}\" (see `tokenkeeper list`)"))
    }
}

impl From<crate::store::StoreError> for KeeperError {
    fn from(e: crate::store::StoreError) -> Self {
        KeeperError::Failed(e.to_string())
    }
}

impl From<crate::store::files::FileError> for KeeperError {
    fn from(e: crate::store::files::FileError) -> Self {
        KeeperError::Failed(e.to_string())
    }
}

/// A name as one shell word, for hints people copy ("tokenkeeper login 'HighQ reporting'").
pub(super) fn shell_word(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "'\\''"))
    }
}

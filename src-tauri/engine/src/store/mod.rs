//! Where things are kept: secrets in the OS keychain, everything else in small files.
//!
//! Secrets sit behind the [`SecretStore`] trait (the way keyring-core separates its API from each
//! credential store): the real keychain is the default, an in-memory store serves unit tests.
//! The calls are blocking (the Secret Service answers in about 2 ms); async callers run them on
//! `spawn_blocking`.

pub mod files;
pub mod integrations;
pub mod keychain;
pub mod memory;

use crate::model::Secrets;

/// Why the keychain could not do what was asked. Messages are plain words and never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// There is no keychain service to talk to (no Secret Service, no session bus).
    #[error("the system keychain is not available: {0}")]
    Unavailable(String),
    /// The keychain exists but is locked or refused access.
    #[error("{0}")]
    Locked(String),
    /// What is stored for this integration cannot be read back (damaged or from an unknown version).
    #[error("the keychain item is damaged: {0}")]
    Damaged(String),
    /// Anything else the keychain reported.
    #[error("the system keychain failed: {0}")]
    Failed(String),
}

/// The names a store keeps items under: an integration's name, or one of the keeper's own items
/// (the team vault's credential, [`crate::shared::space::CREDENTIAL_ITEM`]), named with a leading
/// dot so that no integration can have its name.
pub fn check_item_name(name: &str) -> Result<(), StoreError> {
    crate::model::validate_name(name.strip_prefix('.').unwrap_or(name)).map_err(StoreError::Failed)
}

/// One integration's secrets, kept as a unit.
pub trait SecretStore: Send + Sync + 'static {
    /// The secrets of `name`, or `None` when nothing is stored.
    fn load(&self, name: &str) -> Result<Option<Secrets>, StoreError>;
    /// Replaces every secret of `name` in one step: after a crash either the old or the new set
    /// is read back, never a mix.
    fn save(&self, name: &str, secrets: &Secrets) -> Result<(), StoreError>;
    /// Removes everything stored for `name`; removing nothing is not an error.
    fn delete(&self, name: &str) -> Result<(), StoreError>;
}

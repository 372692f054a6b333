//! An in-memory [`SecretStore`] for tests of the layers above the keychain.
//!
//! It keeps each integration's [`Secrets`] in a map, enforces the same name rule as the real
//! keychain, and can be told to refuse saves ([`MemoryStore::fail_saves`]) so callers can test
//! what they do when a keychain write fails — above all, that a freshly rotated refresh token
//! is not dropped on the floor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{SecretStore, StoreError};
use crate::model::Secrets;

/// Secrets kept in process memory; nothing is written anywhere.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Secrets>>,
    fail_saves: AtomicBool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `fail` is true every [`save`](SecretStore::save) returns
    /// [`StoreError::Failed`] and changes nothing; loads and deletes keep working.
    pub fn fail_saves(&self, fail: bool) {
        self.fail_saves.store(fail, Ordering::SeqCst);
    }

    /// The names that have secrets stored, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.items().keys().cloned().collect();
        names.sort();
        names
    }

    fn items(&self) -> MutexGuard<'_, HashMap<String, Secrets>> {
        // A panicking test thread must not take every other test down with it.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn check_name(name: &str) -> Result<(), StoreError> {
    super::check_item_name(name)
}

impl SecretStore for MemoryStore {
    fn load(&self, name: &str) -> Result<Option<Secrets>, StoreError> {
        check_name(name)?;
        Ok(self.items().get(name).cloned())
    }

    fn save(&self, name: &str, secrets: &Secrets) -> Result<(), StoreError> {
        check_name(name)?;
        if self.fail_saves.load(Ordering::SeqCst) {
            return Err(StoreError::Failed(format!("could not save the secrets of \"{name}\" (simulated failure)")));
        }
        self.items().insert(name.to_owned(), secrets.clone());
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        self.items().remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::RefreshToken;

    fn sample() -> Secrets {
        Secrets {
            refresh_token: Some(RefreshToken::new("r-1".into())),
            refresh_expires_at: Some(crate::clock::Moment::from_secs(42)),
            ..Secrets::default()
        }
    }

    #[test]
    fn round_trip_replace_delete() {
        let store = MemoryStore::new();
        assert_eq!(store.load("a").unwrap(), None);
        store.save("a", &sample()).unwrap();
        assert_eq!(store.load("a").unwrap(), Some(sample()));
        store.save("a", &Secrets::default()).unwrap();
        assert_eq!(store.load("a").unwrap(), Some(Secrets::default()));
        assert_eq!(store.names(), ["a"]);
        store.delete("a").unwrap();
        store.delete("a").unwrap();
        assert_eq!(store.load("a").unwrap(), None);
    }

    #[test]
    fn failing_saves_change_nothing() {
        let store = MemoryStore::new();
        store.save("a", &sample()).unwrap();
        store.fail_saves(true);
        let err = store.save("a", &Secrets::default()).unwrap_err();
        assert!(matches!(err, StoreError::Failed(_)));
        assert_eq!(store.load("a").unwrap(), Some(sample()));
        store.fail_saves(false);
        store.save("a", &Secrets::default()).unwrap();
        assert_eq!(store.load("a").unwrap(), Some(Secrets::default()));
    }

    #[test]
    fn bad_names_are_refused() {
        let store = MemoryStore::new();
        assert!(store.save("../x", &sample()).is_err());
        assert!(store.load("").is_err());
    }
}

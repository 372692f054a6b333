//! The shared store's API, apart from where it stores (as keyring-core separates its `Entry` API
//! from each credential store): versioned records, read with their version and written only by
//! check-and-set on a version. [`super::openbao::OpenBaoStore`] keeps them in OpenBao's KV v2
//! engine; [`super::memory::MemoryStore`] keeps them in memory for unit tests.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{VaultError, VaultErrorKind};

/// A record's version in the store: 1 for the first write, one more for each write after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version(u64);

impl Version {
    pub fn new(n: u64) -> Self {
        Self(n)
    }
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The condition of a write: the record must not exist yet, or must still be at the version
/// that was read. There is no unconditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    Absent,
    At(Version),
}

impl Cas {
    /// KV v2's `cas` option: 0 for "must not exist".
    pub fn number(self) -> u64 {
        match self {
            Cas::Absent => 0,
            Cas::At(v) => v.0,
        }
    }
}

/// A record as read: its version, and its data (`None` when that version was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub version: Version,
    pub data: Option<T>,
}

impl<T> Versioned<T> {
    /// The condition for replacing exactly what was read.
    pub fn cas(&self) -> Cas {
        Cas::At(self.version)
    }
}

/// The condition for replacing what was read (or for creating it when nothing was).
pub fn cas_of<T>(read: Option<&Versioned<T>>) -> Cas {
    read.map_or(Cas::Absent, Versioned::cas)
}

/// Where a record lives below the store's prefix, e.g. `leases/jira`: segments without `/`,
/// not empty, not `.` or `..`, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordPath(String);

impl RecordPath {
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let ok = !text.is_empty()
            && text.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.chars().any(char::is_control));
        if ok {
            Ok(Self(text.to_string()))
        } else {
            Err(VaultError::new(VaultErrorKind::BadName { name: text.to_string() }, "not a valid record path"))
        }
    }

    /// `self/name`.
    pub fn child(&self, name: &str) -> Result<Self, VaultError> {
        Self::parse(&format!("{}/{name}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl std::fmt::Display for RecordPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Versioned records with check-and-set writes. Every failure is a [`VaultError`]; a record that
/// is not a `T` is [`VaultErrorKind::Damaged`] and is left as it is.
pub trait SharedStore: Send + Sync {
    /// The record at `path`, or `None` when it was never written (or was removed).
    fn read<T: DeserializeOwned + Send>(
        &self,
        path: &RecordPath,
    ) -> impl Future<Output = Result<Option<Versioned<T>>, VaultError>> + Send;

    /// Writes `data` if `cas` still holds; returns the new version. A lost check-and-set is
    /// [`VaultErrorKind::Conflict`], and nothing is written.
    fn write<T: Serialize + Sync>(
        &self,
        path: &RecordPath,
        data: &T,
        cas: Cas,
    ) -> impl Future<Output = Result<Version, VaultError>> + Send;

    /// The names directly under `dir` (sub-folders end with `/`), sorted; empty when none.
    fn list(&self, dir: Option<&RecordPath>) -> impl Future<Output = Result<Vec<String>, VaultError>> + Send;

    /// Removes the record with every version; removing nothing is not an error.
    fn remove(&self, path: &RecordPath) -> impl Future<Output = Result<(), VaultError>> + Send;
}

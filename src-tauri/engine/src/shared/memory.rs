//! The shared store in memory, with the same versions and check-and-set rule as OpenBao's KV v2
//! engine: for unit tests of what is built on [`SharedStore`] (the real store is tested against
//! a real OpenBao in `tests/tests/openbao_harness.rs`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{VaultError, VaultErrorKind};
use super::store::{Cas, RecordPath, SharedStore, Version, Versioned};

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, (u64, Option<serde_json::Value>)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` without a condition, as a person would with `bao kv put`.
    pub fn put_by_hand(&self, path: &RecordPath, value: serde_json::Value) -> Version {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let entry = records.entry(path.as_str().to_string()).or_insert((0, None));
        entry.0 += 1;
        entry.1 = Some(value);
        Version::new(entry.0)
    }

    /// The record as stored, whatever its shape.
    pub fn raw(&self, path: &RecordPath) -> Option<(Version, Option<serde_json::Value>)> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records.get(path.as_str()).map(|(v, data)| (Version::new(*v), data.clone()))
    }
}

impl SharedStore for MemoryStore {
    async fn read<T: DeserializeOwned + Send>(&self, path: &RecordPath) -> Result<Option<Versioned<T>>, VaultError> {
        let Some((version, data)) = self.raw(path) else { return Ok(None) };
        let data = match data {
            None => None,
            Some(value) => Some(serde_json::from_value(value).map_err(|e| {
                VaultError::new(VaultErrorKind::Damaged { path: path.to_string() }, format!("{:?}", e.classify()))
            })?),
        };
        Ok(Some(Versioned { version, data }))
    }

    async fn write<T: Serialize + Sync>(&self, path: &RecordPath, data: &T, cas: Cas) -> Result<Version, VaultError> {
        let value =
            serde_json::to_value(data).map_err(|e| VaultError::new(VaultErrorKind::BadAnswer, e.to_string()))?;
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let current = records.get(path.as_str()).map_or(0, |(v, _)| *v);
        if cas.number() != current {
            return Err(VaultError::new(
                VaultErrorKind::Conflict { path: path.to_string() },
                format!("check-and-set {} against version {current}", cas.number()),
            ));
        }
        records.insert(path.as_str().to_string(), (current + 1, Some(value)));
        Ok(Version::new(current + 1))
    }

    async fn list(&self, dir: Option<&RecordPath>) -> Result<Vec<String>, VaultError> {
        let start = dir.map_or(String::new(), |d| format!("{d}/"));
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = records
            .keys()
            .filter_map(|k| k.strip_prefix(&start))
            .map(|rest| match rest.split_once('/') {
                Some((folder, _)) => format!("{folder}/"),
                None => rest.to_string(),
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn remove(&self, path: &RecordPath) -> Result<(), VaultError> {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).remove(path.as_str());
        Ok(())
    }
}

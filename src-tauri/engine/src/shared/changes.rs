//! The change log of a shared space: which integrations changed in a way every keeper should act
//! on at once — a sign-in (or a new API token) made on one keeper, a sign-in found dead by one.
//!
//! **Why a log.** Without it, a keeper would have to read every integration that waits for a
//! sign-in again and again to notice one made elsewhere: the cost would grow with the number of
//! broken integrations (10,000 after a provider revoked them all: 1,000 reads a second per
//! keeper). With it, a keeper reads one record per round ([`read`]) and then only the
//! integrations named since the number it last saw ([`ChangeLog::since`]). Renewals are not
//! logged: they are frequent, and every keeper reads an integration before renewing it anyway.
//!
//! **Writes** ([`append`]) are rare (a person's sign-in, a refusal) and by check-and-set, retried
//! on a conflict; the log keeps the last [`KEPT`] entries. A keeper that fell further behind (or
//! whose append failed) is covered by the slow re-read of waiting integrations, which stays as the
//! fallback.

use serde::{Deserialize, Serialize};

use super::error::{VaultError, VaultErrorKind};
use super::store::{cas_of, RecordPath, SharedStore};

/// Entries kept in the log.
pub const KEPT: usize = 200;

/// How often a conflicting append is tried again.
const ATTEMPTS: usize = 5;

/// The log as stored at `changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLog {
    /// The number of the last entry (0: none yet).
    seq: u64,
    /// The last entries, oldest first: (number, integration).
    recent: Vec<(u64, String)>,
}

/// What changed since a number a keeper saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// These integrations (each once).
    Names(Vec<String>),
    /// More than the log keeps: read every integration that waits.
    TooFarBehind,
}

impl ChangeLog {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The integrations named after `seen`.
    pub fn since(&self, seen: u64) -> Since {
        if seen >= self.seq {
            return Since::Names(Vec::new());
        }
        let oldest_kept = self.recent.first().map_or(self.seq + 1, |(n, _)| *n);
        if seen + 1 < oldest_kept {
            return Since::TooFarBehind;
        }
        let mut names: Vec<String> = Vec::new();
        for (_, name) in self.recent.iter().filter(|(n, _)| *n > seen) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        Since::Names(names)
    }

    fn push(&mut self, name: &str) {
        self.seq += 1;
        self.recent.push((self.seq, name.to_string()));
        let extra = self.recent.len().saturating_sub(KEPT);
        self.recent.drain(..extra);
    }
}

fn path() -> RecordPath {
    RecordPath::parse("changes").expect("a valid path")
}

/// The log as it stands (empty when nobody wrote it yet).
pub async fn read<S: SharedStore>(store: &S) -> Result<ChangeLog, VaultError> {
    Ok(store.read::<ChangeLog>(&path()).await?.and_then(|r| r.data).unwrap_or_default())
}

/// Adds `name` to the log; returns its number.
pub async fn append<S: SharedStore>(store: &S, name: &str) -> Result<u64, VaultError> {
    let path = path();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let read = store.read::<ChangeLog>(&path).await?;
        let mut log = read.as_ref().and_then(|r| r.data.clone()).unwrap_or_default();
        log.push(name);
        match store.write(&path, &log, cas_of(read.as_ref())).await {
            Ok(_) => return Ok(log.seq),
            Err(e) if matches!(e.kind(), VaultErrorKind::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| VaultError::new(VaultErrorKind::Conflict { path: path.to_string() }, "busy")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::memory::MemoryStore;

    #[tokio::test]
    async fn keepers_learn_what_changed_since_they_last_looked() {
        let store = MemoryStore::new();
        assert_eq!(read(&store).await.unwrap().seq(), 0);
        assert_eq!(append(&store, "jira").await.unwrap(), 1);
        assert_eq!(append(&store, "wiki").await.unwrap(), 2);
        assert_eq!(append(&store, "jira").await.unwrap(), 3);
        let log = read(&store).await.unwrap();
        assert_eq!(log.since(0), Since::Names(vec!["jira".into(), "wiki".into()]));
        assert_eq!(log.since(2), Since::Names(vec!["jira".into()]));
        assert_eq!(log.since(3), Since::Names(vec![]));
        assert_eq!(log.since(9), Since::Names(vec![]), "a log that was reset says nothing new");
    }

    #[tokio::test]
    async fn a_keeper_too_far_behind_is_told_so() {
        let store = MemoryStore::new();
        for i in 0..(KEPT + 10) {
            append(&store, &format!("n{i}")).await.unwrap();
        }
        let log = read(&store).await.unwrap();
        assert_eq!(log.recent.len(), KEPT);
        assert_eq!(log.since(5), Since::TooFarBehind);
        assert_eq!(log.since(10), Since::Names((10..KEPT + 10).map(|i| format!("n{i}")).collect()));
    }

    #[tokio::test]
    async fn a_damaged_log_is_an_error_and_left_alone() {
        let store = MemoryStore::new();
        store.put_by_hand(&path(), serde_json::json!({"seq": "x"}));
        assert!(matches!(read(&store).await.unwrap_err().kind(), VaultErrorKind::Damaged { .. }));
        assert!(append(&store, "jira").await.is_err());
        assert_eq!(store.raw(&path()).unwrap().1.unwrap(), serde_json::json!({"seq": "x"}));
    }
}

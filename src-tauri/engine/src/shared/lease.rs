//! One renewal at a time across keepers: the renewal lease, taken, extended and released by
//! check-and-set, and the check-and-set write of what a renewal produced.
//!
//! **The rule.** Before renewing a shared integration a keeper reads its lease record
//! (`{"holder": <keeper id>, "until_ms": <wall clock>}`) and [`judge`]s it: free (never written,
//! deleted, released: holder empty), lapsed (`until_ms` + [`CLOCK_ALLOWANCE`] is past), or its
//! own → it may take it; anyone else's → it waits until then. Taking is a write with
//! `cas` = the version read (or "must not exist"), so of two keepers that read the same version
//! exactly one write succeeds; the other gets a conflict and [`TakeOutcome::Lost`]. A keeper
//! killed while holding the lease keeps it only until `until_ms`: then another takes over,
//! bounded by the lease time. Extending and releasing are check-and-set writes on the version
//! the holder wrote last, so a holder that slept past its lease and was taken over learns that
//! it lost it and cannot clobber the new holder's lease.
//!
//! **The renewal's result** is written with `cas` on the version of the integration's record read
//! before renewing ([`publish`]): if any keeper wrote it since, the write is refused and the
//! answer is [`Publish::SomeoneElseRenewed`]: the caller reads the fresher record and uses it
//! instead of its own.
//!
//! **Why check-and-set** and not a lock service: KV v2 gives it on every write, it needs nothing
//! but the policy on the shared path, and it survives the failover of a Raft cluster (the check
//! runs on the leader, on committed data). Leases are wall-clock times written by the holder:
//! keepers' clocks must agree within [`CLOCK_ALLOWANCE`] (NTP does far better).

use serde::{Deserialize, Serialize};

use super::error::{VaultError, VaultErrorKind};
use super::store::{cas_of, Cas, RecordPath, SharedStore, Version, Versioned};
use crate::clock::{Moment, Span};

/// How long a lease lasts unless extended. Its holder extends it every third of this while it
/// renews (a token request may take 30 s, the engine's request timeout), so this is what a keeper
/// killed while holding it costs the others: their renewal waits at most this (and
/// [`CLOCK_ALLOWANCE`]).
pub const LEASE_TIME: Span = Span::from_secs(15);

/// How far two keepers' clocks may disagree; a lease counts as lapsed only this long after its
/// end.
pub const CLOCK_ALLOWANCE: Span = Span::from_millis(2_000);

/// Names one keeper (a process on a machine) in leases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeeperId(String);

impl KeeperId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// A fresh random id, for a keeper that has none yet.
    pub fn random() -> Self {
        Self(format!("keeper-{:016x}", rand::random::<u64>()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The lease as stored (its end in milliseconds since the epoch). `holder` is empty once
/// released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRecord {
    holder: String,
    until_ms: i64,
}

/// The rule's verdict on a lease as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody holds it (or the holder's time is up): take it with this condition.
    Free(Cas),
    /// This keeper holds it already: extend it with this condition.
    Mine(Cas),
    /// Another keeper holds it until `until`.
    HeldBy { holder: KeeperId, until: Moment },
}

/// The lease rule (pure): see the module doc.
pub fn judge(read: Option<&Versioned<LeaseRecord>>, me: &KeeperId, now: Moment) -> Verdict {
    let cas = cas_of(read);
    match read.and_then(|r| r.data.as_ref()) {
        None => Verdict::Free(cas),
        Some(lease) if lease.holder.is_empty() => Verdict::Free(cas),
        Some(lease) if lease.holder == me.0 => Verdict::Mine(cas),
        Some(lease) if now >= lease.until().plus(CLOCK_ALLOWANCE) => Verdict::Free(cas),
        Some(lease) => Verdict::HeldBy { holder: KeeperId(lease.holder.clone()), until: lease.until() },
    }
}

/// A lease this keeper holds: where, until when, and the version it wrote last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    path: RecordPath,
    holder: KeeperId,
    version: Version,
    until: Moment,
}

impl Lease {
    pub fn until(&self) -> Moment {
        self.until
    }
    pub fn path(&self) -> &RecordPath {
        &self.path
    }
}

/// What came of trying to take a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOutcome {
    Taken(Lease),
    /// Another keeper holds it; try again after `until` (or use what it renewed).
    Busy {
        holder: KeeperId,
        until: Moment,
    },
    /// Another keeper took it between our read and our write.
    Lost,
}

/// Whether the holder still holds the lease after [`extend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Extended,
    /// Another keeper took it over (this one's time had run out).
    Lost,
}

/// What came of writing a renewal's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    Written(Version),
    /// The record changed since it was read: another keeper renewed; nothing was written.
    SomeoneElseRenewed,
}

/// Where the lease of `integration` lives: `leases/<integration>`.
pub fn lease_path(integration: &str) -> Result<RecordPath, VaultError> {
    RecordPath::parse("leases")?.child(integration)
}

impl LeaseRecord {
    fn held(holder: &KeeperId, until: Moment) -> Self {
        Self { holder: holder.0.clone(), until_ms: until.millis() }
    }
    fn released() -> Self {
        Self { holder: String::new(), until_ms: 0 }
    }
    fn until(&self) -> Moment {
        Moment::from_millis(self.until_ms)
    }
}

fn is_conflict(e: &VaultError) -> bool {
    matches!(e.kind(), VaultErrorKind::Conflict { .. })
}

/// Takes the lease at `path` for `duration` from `now`, if the rule allows.
pub async fn take<S: SharedStore>(
    store: &S,
    path: &RecordPath,
    me: &KeeperId,
    now: Moment,
    duration: Span,
) -> Result<TakeOutcome, VaultError> {
    let read = store.read::<LeaseRecord>(path).await?;
    let cas = match judge(read.as_ref(), me, now) {
        Verdict::Free(cas) | Verdict::Mine(cas) => cas,
        Verdict::HeldBy { holder, until } => return Ok(TakeOutcome::Busy { holder, until }),
    };
    let until = now.plus(duration);
    match store.write(path, &LeaseRecord::held(me, until), cas).await {
        Ok(version) => Ok(TakeOutcome::Taken(Lease { path: path.clone(), holder: me.clone(), version, until })),
        Err(e) if is_conflict(&e) => Ok(TakeOutcome::Lost),
        Err(e) => Err(e),
    }
}

/// Moves the lease's end to `now` + `duration`, if nobody took it over.
pub async fn extend<S: SharedStore>(
    store: &S,
    lease: &mut Lease,
    now: Moment,
    duration: Span,
) -> Result<Kept, VaultError> {
    let until = now.plus(duration);
    match store.write(&lease.path, &LeaseRecord::held(&lease.holder, until), Cas::At(lease.version)).await {
        Ok(version) => {
            lease.version = version;
            lease.until = until;
            Ok(Kept::Extended)
        }
        Err(e) if is_conflict(&e) => Ok(Kept::Lost),
        Err(e) => Err(e),
    }
}

/// Gives the lease up; if another keeper took it over meanwhile, there is nothing to give up.
pub async fn release<S: SharedStore>(store: &S, lease: Lease) -> Result<(), VaultError> {
    match store.write(&lease.path, &LeaseRecord::released(), Cas::At(lease.version)).await {
        Ok(_) => Ok(()),
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes a renewal's result over the record that was read before renewing (`read` is its
/// condition, [`Cas::Absent`] when there was none).
pub async fn publish<S: SharedStore, T: Serialize + Sync>(
    store: &S,
    path: &RecordPath,
    data: &T,
    read: Cas,
) -> Result<Publish, VaultError> {
    match store.write(path, data, read).await {
        Ok(version) => Ok(Publish::Written(version)),
        Err(e) if is_conflict(&e) => Ok(Publish::SomeoneElseRenewed),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::memory::MemoryStore;

    const T: Span = Span::from_secs(10);

    fn at(ms: i64) -> Moment {
        Moment::from_millis(ms)
    }

    fn read(version: u64, holder: &str, until_ms: i64) -> Versioned<LeaseRecord> {
        Versioned { version: Version::new(version), data: Some(LeaseRecord { holder: holder.into(), until_ms }) }
    }

    #[test]
    fn the_rule() {
        let me = KeeperId::new("a");
        assert_eq!(judge(None, &me, at(0)), Verdict::Free(Cas::Absent));
        let deleted = Versioned::<LeaseRecord> { version: Version::new(4), data: None };
        assert_eq!(judge(Some(&deleted), &me, at(0)), Verdict::Free(Cas::At(Version::new(4))));
        assert_eq!(judge(Some(&read(2, "", 0)), &me, at(0)), Verdict::Free(Cas::At(Version::new(2))));
        assert_eq!(judge(Some(&read(3, "a", 500)), &me, at(100)), Verdict::Mine(Cas::At(Version::new(3))));
        let held = Verdict::HeldBy { holder: KeeperId::new("b"), until: at(1_000) };
        assert_eq!(judge(Some(&read(3, "b", 1_000)), &me, at(100)), held);
        // lapsed only once the clock allowance is over too
        assert_eq!(judge(Some(&read(3, "b", 1_000)), &me, at(1_000 + CLOCK_ALLOWANCE.millis() - 1)), held);
        assert_eq!(
            judge(Some(&read(3, "b", 1_000)), &me, at(1_000 + CLOCK_ALLOWANCE.millis())),
            Verdict::Free(Cas::At(Version::new(3)))
        );
    }

    #[tokio::test]
    async fn take_extend_release_and_take_over() {
        let store = MemoryStore::new();
        let path = lease_path("jira").unwrap();
        let (a, b) = (KeeperId::new("a"), KeeperId::new("b"));
        let TakeOutcome::Taken(mut lease) = take(&store, &path, &a, at(0), T).await.unwrap() else { panic!() };
        assert_eq!(lease.until(), at(10_000));
        assert_eq!(
            take(&store, &path, &b, at(5_000), T).await.unwrap(),
            TakeOutcome::Busy { holder: a.clone(), until: at(10_000) }
        );
        assert_eq!(extend(&store, &mut lease, at(9_000), T).await.unwrap(), Kept::Extended);
        assert_eq!(lease.until(), at(19_000));
        // a lapses (killed, or asleep): b takes over; a's late extend and release change nothing
        let TakeOutcome::Taken(b_lease) = take(&store, &path, &b, at(21_000), T).await.unwrap() else { panic!() };
        assert_eq!(extend(&store, &mut lease, at(22_000), T).await.unwrap(), Kept::Lost);
        release(&store, lease).await.unwrap();
        assert_eq!(store.raw(&path).unwrap().1.unwrap()["holder"], "b");
        release(&store, b_lease).await.unwrap();
        assert!(matches!(take(&store, &path, &a, at(22_000), T).await.unwrap(), TakeOutcome::Taken(_)));
    }

    #[tokio::test]
    async fn a_stale_publish_is_someone_else_renewed_and_writes_nothing() {
        let store = MemoryStore::new();
        let path = RecordPath::parse("integrations/jira").unwrap();
        let v1 = store.put_by_hand(&path, serde_json::json!({"token": "one"}));
        let mine = publish(&store, &path, &serde_json::json!({"token": "two"}), Cas::At(v1)).await.unwrap();
        assert_eq!(mine, Publish::Written(Version::new(2)));
        let late = publish(&store, &path, &serde_json::json!({"token": "three"}), Cas::At(v1)).await.unwrap();
        assert_eq!(late, Publish::SomeoneElseRenewed);
        assert_eq!(store.raw(&path).unwrap().1.unwrap()["token"], "two");
    }

    #[tokio::test]
    async fn a_damaged_lease_is_an_error_and_is_left_alone() {
        let store = MemoryStore::new();
        let path = lease_path("jira").unwrap();
        store.put_by_hand(&path, serde_json::json!({"holder": "x"}));
        let e = take(&store, &path, &KeeperId::new("a"), at(0), T).await.unwrap_err();
        assert!(matches!(e.kind(), VaultErrorKind::Damaged { .. }), "{e:?}");
        assert_eq!(store.raw(&path).unwrap(), (Version::new(1), Some(serde_json::json!({"holder": "x"}))));
    }
}

//! Shared integrations' home: a team vault (OpenBao, or HashiCorp Vault, which has the same HTTP
//! API) where several keepers — server daemons and desktop tray apps on different machines —
//! keep the same integrations alive together.
//!
//! **What this module owns.** The conversation with the vault and nothing above it: which node
//! of a cluster serves ([`client`]: several addresses, a sealed or leaderless node skipped,
//! https:// or loopback http:// only, bounded answers), the keeper's own vault credential
//! ([`auth`]: a token or an AppRole login, its remaining life, `renew-self`, and the rule for
//! when to renew or log in again; used by [`space`]), versioned records written only by check-and-set
//! ([`store`], kept in a KV v2 engine by [`openbao`], in memory by [`memory`] for unit tests),
//! the renewal lease ([`lease`]), what an integration's shared record holds ([`record`]), the
//! space's change log ([`changes`]) and this keeper's connection to its space ([`space`]:
//! `shared.toml`, the credential in the keychain, connecting and the credential's upkeep). When to
//! read a record again and how renewals are scheduled belong to the keeper
//! (`keeper/shared_space.rs`, `keeper/shared_home.rs`), built on top of this.
//!
//! **Failures** end as one [`VaultError`]: a kind the keeper acts on (try again, connect again,
//! ask the administrator, leave a damaged record alone) and a plain sentence ("Token Keeper can
//! no longer reach the team vault: …"), with OpenBao's own words kept apart as the technical
//! detail. Nothing here deletes or overwrites a record it could not read: a damaged record is
//! reported and left as it is, and every write carries a check-and-set condition, so a write
//! based on an outdated read is refused instead of destroying someone else's newer tokens.
//!
//! **The lease rule** (details in [`lease`]): a keeper renews a shared integration only while it
//! holds the integration's lease, a record `{holder, until_ms}` it wrote by check-and-set on the
//! version it read. Exactly one of several keepers that read the same version wins the write.
//! A lease lapses at `until_ms` (plus a clock allowance): a keeper killed mid-renewal blocks the
//! others for at most the lease time. The renewal's result is written with check-and-set on the
//! version of the record read before renewing; when that fails, someone else renewed, and their
//! tokens are used instead.
//!
//! **Why check-and-set**: KV v2 versions every record and checks the condition on the cluster's
//! leader, on committed data, so it holds across keepers, machines and a leader's failover with
//! nothing but a policy on the shared path — no lock service to run and no clock to trust for
//! who wrote first.

pub mod auth;
pub mod changes;
pub mod client;
pub mod error;
pub mod lease;
pub mod memory;
pub mod openbao;
pub mod record;
pub mod space;
pub mod store;

pub use error::{VaultError, VaultErrorKind};

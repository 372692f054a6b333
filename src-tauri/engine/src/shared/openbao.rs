//! The shared store in OpenBao (or Vault): records in a KV version 2 engine ("mount") under a
//! path prefix, e.g. mount `secret`, prefix `tokenkeeper/team-a`.
//!
//! KV v2 is required because it versions every record and takes a check-and-set condition on
//! writes (`options.cas`); a KV v1 engine would take the same writes without either, so
//! [`OpenBaoStore::open`] checks the engine's version before anything is written.

use std::sync::Arc;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::auth::explain_refusal;
use super::client::{Answer, Method, VaultClient};
use super::error::{VaultError, VaultErrorKind};
use super::store::{Cas, RecordPath, SharedStore, Version, Versioned};

/// A KV v2 mount and a prefix in it, reached through a [`VaultClient`].
#[derive(Debug, Clone)]
pub struct OpenBaoStore {
    client: Arc<VaultClient>,
    mount: String,
    prefix: Option<RecordPath>,
}

/// What the vault keeps about a record besides its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub current_version: Version,
    /// RFC 3339, the vault's clock.
    pub updated_time: String,
}

#[derive(Deserialize)]
struct Envelope<D> {
    data: D,
}
#[derive(Deserialize)]
struct ReadData<T> {
    data: Option<T>,
    metadata: VersionOnly,
}
#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}
#[derive(Deserialize)]
struct MountData {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    options: Option<MountOptions>,
}
#[derive(Deserialize)]
struct MountOptions {
    version: Option<String>,
}
#[derive(Deserialize)]
struct Keys {
    #[serde(default)]
    keys: Vec<String>,
}
#[derive(Deserialize)]
struct MetadataData {
    current_version: u64,
    #[serde(default)]
    updated_time: String,
}
#[derive(Serialize)]
struct WriteBody<'a, T> {
    options: WriteOptions,
    data: &'a T,
}
#[derive(Serialize)]
struct WriteOptions {
    cas: u64,
}

impl OpenBaoStore {
    /// The store at `mount` (e.g. `secret`) under `prefix` (e.g. `tokenkeeper/team-a`; empty for
    /// the whole mount), after checking that the mount is a KV v2 engine this credential may use.
    pub async fn open(client: Arc<VaultClient>, mount: &str, prefix: &str) -> Result<Self, VaultError> {
        let mount = mount.trim_matches('/').to_string();
        RecordPath::parse(&mount)?;
        let prefix = match prefix.trim_matches('/') {
            "" => None,
            p => Some(RecordPath::parse(p)?),
        };
        client.prefer_active().await;
        let store = Self { client, mount, prefix };
        store.check_mount().await?;
        Ok(store)
    }

    pub fn client(&self) -> &Arc<VaultClient> {
        &self.client
    }

    pub fn mount(&self) -> &str {
        &self.mount
    }

    async fn check_mount(&self) -> Result<(), VaultError> {
        let mut segments = vec!["sys", "internal", "ui", "mounts"];
        segments.extend(self.mount.split('/'));
        let answer = self.client.call(Method::Get, &segments, None).await?;
        let missing =
            |detail: String| VaultError::new(VaultErrorKind::MountMissing { mount: self.mount.clone() }, detail);
        match answer.status {
            200..=299 => {
                let data = answer.json::<Envelope<MountData>>()?.data;
                let version = data.options.and_then(|o| o.version).unwrap_or_default();
                if data.kind == "kv" && version == "2" {
                    Ok(())
                } else {
                    Err(VaultError::new(
                        VaultErrorKind::NotKv2 { mount: self.mount.clone() },
                        format!("the mount is of type {:?}, version {version:?}", data.kind),
                    ))
                }
            }
            // OpenBao answers 403 "preflight capability check" for a mount that does not exist
            // as for one this credential may not see; a credential that ended is told apart.
            403 => {
                let refused = VaultError::new(VaultErrorKind::Denied { path: self.mount.clone() }, answer.detail());
                match explain_refusal(&self.client, refused).await {
                    e if e.kind() == &VaultErrorKind::AccessEnded => Err(e),
                    e => Err(missing(e.detail().to_string())),
                }
            }
            404 => Err(missing(answer.detail())),
            _ => Err(answer.refusal(&self.mount, &self.mount)),
        }
    }

    /// `<mount>/<kind>/<prefix>/<path>` as URL segments.
    fn segments<'a>(&'a self, kind: &'a str, path: Option<&'a RecordPath>) -> Vec<&'a str> {
        let mut segments: Vec<&str> = self.mount.split('/').collect();
        segments.push(kind);
        segments.extend(self.prefix.iter().flat_map(RecordPath::segments));
        segments.extend(path.into_iter().flat_map(RecordPath::segments));
        segments
    }

    /// The record's path in the mount, as a person would find it with `bao kv get`.
    fn shown(&self, path: Option<&RecordPath>) -> String {
        let parts: Vec<&str> = self.prefix.iter().chain(path).map(RecordPath::as_str).collect();
        format!("{}/{}", self.mount, parts.join("/"))
    }

    /// A refusal in words; a 403 is checked against the credential itself.
    async fn fail(&self, answer: &Answer, path: Option<&RecordPath>) -> VaultError {
        explain_refusal(&self.client, answer.refusal(&self.mount, &self.shown(path))).await
    }

    /// A lost check-and-set is real when the record is now newer than the version the write was
    /// based on. A standby that lags (its leader just died) checks against its stale copy and
    /// refuses with an *older* version: that is "not ready", not "someone else wrote".
    async fn confirm_conflict(&self, path: &RecordPath, cas: Cas, error: VaultError) -> VaultError {
        if !matches!(error.kind(), VaultErrorKind::Conflict { .. }) {
            return error;
        }
        match self.metadata(path).await {
            Ok(now) if now.as_ref().map_or(0, |m| m.current_version.get()) < cas.number() => VaultError::new(
                VaultErrorKind::Unavailable,
                format!("{}; the node that answered has an older copy (a standby behind its leader)", error.detail()),
            ),
            _ => error,
        }
    }

    /// The record's current version and last change, or `None` when it was never written.
    pub async fn metadata(&self, path: &RecordPath) -> Result<Option<Metadata>, VaultError> {
        let answer = self.client.call(Method::Get, &self.segments("metadata", Some(path)), None).await?;
        match answer.status {
            200..=299 => {
                let data = answer.json::<Envelope<MetadataData>>()?.data;
                Ok(Some(Metadata {
                    current_version: Version::new(data.current_version),
                    updated_time: data.updated_time,
                }))
            }
            404 if answer.errors().is_empty() => Ok(None),
            _ => Err(self.fail(&answer, Some(path)).await),
        }
    }
}

impl SharedStore for OpenBaoStore {
    async fn read<T: DeserializeOwned + Send>(&self, path: &RecordPath) -> Result<Option<Versioned<T>>, VaultError> {
        let answer = self.client.call(Method::Get, &self.segments("data", Some(path)), None).await?;
        match answer.status {
            200..=299 => match answer.json::<Envelope<ReadData<T>>>() {
                Ok(read) => {
                    Ok(Some(Versioned { version: Version::new(read.data.metadata.version), data: read.data.data }))
                }
                Err(e) => match answer.json::<Envelope<ReadData<IgnoredAny>>>() {
                    // the vault's answer is fine; the record in it is not ours
                    Ok(_) => Err(VaultError::new(
                        VaultErrorKind::Damaged { path: self.shown(Some(path)) },
                        format!("version {}: {}", read_version(&answer), e.detail()),
                    )),
                    Err(_) => Err(e),
                },
            },
            // 404 with the metadata of a deleted version, or with nothing (never written)
            404 if answer.errors().is_empty() => Ok(answer
                .json::<Envelope<ReadData<IgnoredAny>>>()
                .ok()
                .map(|read| Versioned { version: Version::new(read.data.metadata.version), data: None })),
            _ => Err(self.fail(&answer, Some(path)).await),
        }
    }

    async fn write<T: Serialize + Sync>(&self, path: &RecordPath, data: &T, cas: Cas) -> Result<Version, VaultError> {
        let body = serde_json::to_value(WriteBody { options: WriteOptions { cas: cas.number() }, data })
            .map_err(|e| VaultError::new(VaultErrorKind::BadAnswer, format!("cannot encode the record: {e}")))?;
        let answer = self.client.call(Method::Post, &self.segments("data", Some(path)), Some(&body)).await?;
        match answer.status {
            // a KV v1 engine answers a write with no content (and no version)
            204 => Err(VaultError::new(VaultErrorKind::NotKv2 { mount: self.mount.clone() }, "HTTP 204 to a write")),
            200..=299 => Ok(Version::new(answer.json::<Envelope<VersionOnly>>()?.data.version)),
            _ => Err(self.confirm_conflict(path, cas, self.fail(&answer, Some(path)).await).await),
        }
    }

    async fn list(&self, dir: Option<&RecordPath>) -> Result<Vec<String>, VaultError> {
        let answer = self.client.call(Method::List, &self.segments("metadata", dir), None).await?;
        match answer.status {
            200..=299 => {
                let mut keys = answer.json::<Envelope<Keys>>()?.data.keys;
                keys.sort();
                Ok(keys)
            }
            404 if answer.errors().is_empty() => Ok(Vec::new()),
            _ => Err(self.fail(&answer, dir).await),
        }
    }

    async fn remove(&self, path: &RecordPath) -> Result<(), VaultError> {
        let answer = self.client.call(Method::Delete, &self.segments("metadata", Some(path)), None).await?;
        match answer.status {
            200..=299 => Ok(()),
            404 if answer.errors().is_empty() => Ok(()),
            _ => Err(self.fail(&answer, Some(path)).await),
        }
    }
}

/// The version named in a read answer, for the detail of a damaged record.
fn read_version(answer: &Answer) -> u64 {
    answer.json::<Envelope<ReadData<IgnoredAny>>>().map(|r| r.data.metadata.version).unwrap_or(0)
}

//! This keeper's connection to a shared space: a KV v2 mount and a path prefix in a team vault,
//! where shared integrations live. What it owns: the local settings of the connection
//! (`shared.toml`: addresses, mount, path, CA file, AppRole role id — nothing secret), the
//! credential kept in the local keychain, connecting (log in, choose the active node, check the
//! mount and the path), and the credential's upkeep while connected ([`super::auth::upkeep`]).
//!
//! **The credential in the keychain** is stored through the same [`SecretStore`] as the
//! integrations' secrets, under the reserved name [`CREDENTIAL_ITEM`] (`.team-vault`: no
//! integration can be called that, names cannot start with a dot): a vault token in the
//! `api_token` field, or an AppRole secret id in `client_secret`. It never goes to a file.
//!
//! **Connecting again.** Every `shared connect` writes a new `generation` into `shared.toml`; a
//! running keeper that sees another generation (or the file gone) connects again (or leaves),
//! so a connection made by the command reaches the tray app and the daemon without a restart.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::auth::{self, Credential, TokenLife, Upkeep};
use super::client::{Address, ClientSettings, VaultClient};
use super::error::{VaultError, VaultErrorKind};
use super::lease::KeeperId;
use super::openbao::OpenBaoStore;
use super::store::{RecordPath, SharedStore};
use crate::clock::Moment;
use crate::model::Secrets;
use crate::paths::Paths;
use crate::secret::{ApiToken, AppRoleSecretId, ClientSecret, VaultToken};
use crate::store::files::{read_toml, write_atomic, FileError};
use crate::store::{SecretStore, StoreError};

/// The keychain item holding the vault credential (see the module doc).
pub const CREDENTIAL_ITEM: &str = ".team-vault";

/// The mount and path used when `shared connect` names none.
pub const DEFAULT_MOUNT: &str = "secret";
pub const DEFAULT_PATH: &str = "tokenkeeper/shared";

/// How this keeper reaches its shared space, as kept in `shared.toml` (nothing secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSettings {
    pub addresses: Vec<String>,
    pub mount: String,
    pub path: String,
    /// A PEM file of certificates to trust besides the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// The AppRole's role id, when the credential is an AppRole secret id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
    /// Changed by each connect (see the module doc).
    pub generation: u64,
}

impl SpaceSettings {
    pub fn file(paths: &Paths) -> PathBuf {
        paths.config.join("shared.toml")
    }

    /// The settings, if this keeper was connected; a damaged file is an error and left as it is.
    pub fn load(paths: &Paths) -> Result<Option<Self>, FileError> {
        read_toml(&Self::file(paths))
    }

    fn save(&self, paths: &Paths) -> Result<(), FileError> {
        let text = format!(
            "# Token Keeper's connection to a team vault (\"tokenkeeper shared connect\"). The credential is in the \
             system keychain, not here.\n{}",
            toml::to_string(self).expect("settings serialize")
        );
        write_atomic(&Self::file(paths), text.as_bytes())
    }

    /// Where records live, as a person finds them with `bao kv list`: `secret/tokenkeeper/team`.
    pub fn place(&self) -> String {
        format!("{}/{}", self.mount, self.path)
    }
}

/// What a person gives to connect (it crosses the local socket with the credential as a secret
/// newtype).
#[derive(Debug, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub addresses: Vec<String>,
    pub mount: Option<String>,
    pub path: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub credential: Credential,
}

/// A connected shared space: the store, this keeper's id in leases, and its credential's upkeep.
pub struct Space {
    settings: SpaceSettings,
    store: OpenBaoStore,
    credential: Credential,
    keeper: KeeperId,
    /// The credential's life as last seen, and when.
    life: Mutex<(TokenLife, Moment)>,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space").field("place", &self.settings.place()).finish_non_exhaustive()
    }
}

impl Space {
    pub fn settings(&self) -> &SpaceSettings {
        &self.settings
    }
    pub fn store(&self) -> &OpenBaoStore {
        &self.store
    }
    pub fn keeper(&self) -> &KeeperId {
        &self.keeper
    }
    pub fn address_in_use(&self) -> String {
        self.store.client().address_in_use().as_str().trim_end_matches('/').to_string()
    }

    /// The credential's life as last seen, counted down to `now`.
    pub fn credential_left(&self, now: Moment) -> (Option<std::time::Duration>, bool) {
        let (life, seen) = *self.life.lock().unwrap_or_else(|p| p.into_inner());
        let gone = std::time::Duration::from_millis(now.since(seen).millis().max(0) as u64);
        (life.remaining.map(|r| r.saturating_sub(gone)), life.renewable)
    }

    /// Renews the credential (or logs in again) when [`auth::upkeep`] says so. `Err` only when
    /// access is lost for good or the vault cannot be reached now.
    pub async fn upkeep(&self, now: Moment) -> Result<(), VaultError> {
        let (life, seen) = *self.life.lock().unwrap_or_else(|p| p.into_inner());
        let can_log_in = matches!(self.credential, Credential::AppRole { .. });
        let fresh = match auth::upkeep(life, seen, now, can_log_in) {
            Upkeep::WaitUntil(_) => return Ok(()),
            Upkeep::Renew => {
                let fresh = auth::renew_self(self.store.client(), None).await?;
                tracing::info!("team vault: access renewed ({:?} left)", fresh.remaining);
                fresh
            }
            Upkeep::LogInAgain => {
                let fresh = auth::log_in(self.store.client(), &self.credential).await?;
                tracing::info!("team vault: logged in again ({:?} left)", fresh.remaining);
                fresh
            }
            Upkeep::Ends(end) if end <= now => {
                return Err(VaultError::new(VaultErrorKind::AccessEnded, "the vault token reached its end"))
            }
            Upkeep::Ends(_) => auth::lookup_self(self.store.client()).await?,
        };
        *self.life.lock().unwrap_or_else(|p| p.into_inner()) = (fresh, now);
        Ok(())
    }
}

/// Why connecting failed: the vault's answer, or this computer (a file, the keychain).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{}", .0.sentence_when_connecting())]
    Vault(VaultError),
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Keychain(#[from] StoreError),
    /// Nothing was given to connect with, or something given cannot be used.
    #[error("{0}")]
    BadInput(String),
}

impl From<VaultError> for ConnectError {
    fn from(e: VaultError) -> Self {
        ConnectError::Vault(e)
    }
}

/// Connects with what a person gave: checks everything by using it (log in, the mount, the
/// path), and only then keeps the settings in `shared.toml` and the credential in the keychain.
/// A failure changes nothing that was there.
pub async fn connect(
    paths: &Paths,
    keychain: &dyn SecretStore,
    request: ConnectRequest,
    now: Moment,
) -> Result<Space, ConnectError> {
    let role_id = match &request.credential {
        Credential::AppRole { role_id, .. } => Some(role_id.clone()),
        Credential::Token(_) => None,
    };
    let settings = SpaceSettings {
        addresses: request.addresses,
        mount: request.mount.unwrap_or_else(|| DEFAULT_MOUNT.into()).trim_matches('/').to_string(),
        path: request.path.unwrap_or_else(|| DEFAULT_PATH.into()).trim_matches('/').to_string(),
        ca_cert: request.ca_cert,
        role_id,
        generation: rand::random::<u64>() >> 12,
    };
    let space = open(&settings, request.credential, now).await?;
    let item = match &space.credential {
        Credential::Token(token) => {
            Secrets { api_token: Some(ApiToken::new(token.expose().into())), ..Secrets::default() }
        }
        Credential::AppRole { secret_id, .. } => {
            Secrets { client_secret: Some(ClientSecret::new(secret_id.expose().into())), ..Secrets::default() }
        }
    };
    keychain.save(CREDENTIAL_ITEM, &item)?;
    settings.save(paths)?;
    Ok(space)
}

/// Connects with `settings` (from `shared.toml`) and `item`, the credential as the keychain
/// keeps it under [`CREDENTIAL_ITEM`].
pub async fn open_with(settings: &SpaceSettings, item: Option<Secrets>, now: Moment) -> Result<Space, ConnectError> {
    let item = item.unwrap_or_default();
    let credential = match (&settings.role_id, item.api_token, item.client_secret) {
        (Some(role_id), _, Some(secret)) => {
            Credential::AppRole { role_id: role_id.clone(), secret_id: AppRoleSecretId::new(secret.expose().into()) }
        }
        (None, Some(token), _) => Credential::Token(VaultToken::new(token.expose().into())),
        _ => {
            return Err(ConnectError::Vault(VaultError::new(
                VaultErrorKind::AccessEnded,
                "the vault credential is missing from the keychain",
            )))
        }
    };
    open(settings, credential, now).await
}

/// Forgets the connection: `shared.toml` and the credential. The shared integrations stay in the
/// vault, for the other keepers.
pub fn disconnect(paths: &Paths, keychain: &dyn SecretStore) -> Result<bool, ConnectError> {
    let file = SpaceSettings::file(paths);
    let was = file.exists();
    keychain.delete(CREDENTIAL_ITEM)?;
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(ConnectError::BadInput(format!("could not remove {}: {e}", file.display())))
        }
        _ => {}
    }
    Ok(was)
}

async fn open(settings: &SpaceSettings, credential: Credential, now: Moment) -> Result<Space, ConnectError> {
    if settings.addresses.is_empty() {
        return Err(ConnectError::BadInput(
            "no address of the team vault was given (--address, or BAO_ADDR / VAULT_ADDR)".into(),
        ));
    }
    let addresses = settings.addresses.iter().map(|a| Address::parse(a)).collect::<Result<Vec<_>, _>>()?;
    let mut client_settings = ClientSettings::new(addresses);
    if let Some(file) = &settings.ca_cert {
        let pem = std::fs::read(file).map_err(|e| {
            VaultError::new(VaultErrorKind::BadCertificate, format!("cannot read {}: {e}", file.display()))
        })?;
        client_settings.ca_cert_pem = Some(pem);
    }
    let client = Arc::new(VaultClient::new(client_settings)?);
    let life = auth::log_in(&client, &credential).await?;
    let store = OpenBaoStore::open(client, &settings.mount, &settings.path).await?;
    // the path itself: a policy that covers the mount but not this path is said now, not at the
    // first renewal
    store.list(Some(&RecordPath::parse("integrations")?)).await?;
    let host = hostname();
    let keeper = KeeperId::new(format!("{host}-{:08x}", rand::random::<u32>()));
    Ok(Space { settings: settings.clone(), store, credential, keeper, life: Mutex::new((life, now)) })
}

/// This machine's name, for lease holders a person can recognise.
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(40).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "keeper".into())
}

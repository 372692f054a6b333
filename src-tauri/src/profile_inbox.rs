//! An administrator's profile file on its way in. It arrives from the window (chosen on the
//! welcome page, or dropped on the window), or as the argument of a launch (double-clicking the
//! file runs the app with it; a second launch hands it to the running one through the
//! single-instance plugin). Nothing is added on arrival: the keeper first sees, in plain words,
//! where the sign-in happens and every host the tokens will be sent to, may give another name
//! when the file's is taken, and confirms.
//!
//! The file is parsed and its configuration built here, in Rust; a client secret it holds waits
//! in this process (never in the web view) until the keeper confirms or the next file arrives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tokenkeeper_engine::model::{IntegrationConfig, IntegrationKind, IntegrationView};
use tokenkeeper_engine::profile_file::{self, MAX_FILE_BYTES};
use tokenkeeper_engine::providers;
use tokenkeeper_engine::secret::ClientSecret;
use tokenkeeper_engine::setup;
use tokenkeeper_engine::KeeperError;

use crate::state::AppState;

/// What adding an administrator's profile file did (no secret: only whether the file held one).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub view: IntegrationView,
    pub had_client_secret: bool,
}

/// Files read and waiting for the keeper's confirmation (managed state of the app).
#[derive(Default)]
pub struct ProfileInbox {
    next: AtomicU64,
    waiting: Mutex<BTreeMap<u64, Waiting>>,
    /// The file a launch brought, until the window asks for it: its preview or why it cannot be
    /// used.
    opened: Mutex<Option<Result<ProfilePreview, KeeperError>>>,
}

struct Waiting {
    config: IntegrationConfig,
    client_secret: Option<ClientSecret>,
}

/// What the confirm step shows: no secret, only where things go.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilePreview {
    /// Which waiting file this is (for `add_profile`).
    id: u64,
    file_name: String,
    /// The name the file suggests.
    name: String,
    /// The service's name ("HighQ Collaborate"), or the host of a service without a preset.
    service: String,
    /// `oauth` or `api-token`.
    kind: &'static str,
    /// Where the browser goes to sign in (OAuth), as a host.
    sign_in_host: Option<String>,
    /// Every host it will talk to, the sign-in page's first, with what each receives.
    hosts: Vec<setup::SecretHost>,
    /// An integration of that name exists already: the keeper chooses another.
    name_taken: bool,
    has_client_secret: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ProfileInbox {
    /// Parses `text` (named `file_name`), builds its configuration (discovering an issuer's
    /// addresses) and keeps it waiting; returns what the keeper confirms. Errors never quote the
    /// file (it may hold the secret).
    async fn read(&self, state: &AppState, file_name: &str, text: &str) -> Result<ProfilePreview, KeeperError> {
        let shown: String = file_name.chars().filter(|c| !c.is_control()).take(100).collect();
        let parsed = profile_file::parse(&shown, text, None).map_err(|e| KeeperError::BadInput(e.to_string()))?;
        let profile = providers::find(&parsed.inputs.provider).ok_or_else(|| {
            KeeperError::BadInput(format!("the profile file {shown} names a service Token Keeper does not know"))
        })?;
        let config = crate::checked::prepared(&parsed.inputs, &profile, &format!("the profile file {shown}: ")).await?;
        let hosts = setup::secret_hosts(&config);
        let sign_in_host =
            hosts.iter().find(|h| h.uses.contains(&setup::AddressUse::SignInPage)).map(|h| h.host.clone());
        let service = if profile.id == "oauth2" || profile.id == "api-token" {
            hosts.first().map(|h| h.host.clone()).unwrap_or_else(|| profile.name.clone())
        } else {
            profile.name.clone()
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let preview = ProfilePreview {
            id,
            file_name: shown,
            name: config.name.clone(),
            service,
            kind: match config.kind {
                IntegrationKind::Oauth(_) => "oauth",
                IntegrationKind::ApiToken(_) => "api-token",
            },
            sign_in_host,
            hosts,
            name_taken: state.keeper.status(&config.name).is_ok(),
            has_client_secret: parsed.client_secret.is_some(),
        };
        // one file at a time: a new one replaces (and forgets the secret of) any other
        let mut waiting = lock(&self.waiting);
        waiting.clear();
        waiting.insert(id, Waiting { config, client_secret: parsed.client_secret });
        Ok(preview)
    }

    /// Reads the file at `path` (a launch's argument).
    async fn read_path(&self, state: &AppState, path: &Path) -> Result<ProfilePreview, KeeperError> {
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(path)
            .map_err(|e| KeeperError::BadInput(format!("the profile file {file_name} could not be opened: {e}")))?
            .len();
        if size > MAX_FILE_BYTES as u64 {
            return Err(KeeperError::BadInput(format!(
                "the profile file {file_name} is larger than {} KiB; a profile file is a few lines",
                MAX_FILE_BYTES / 1024
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeeperError::BadInput(format!("the profile file {file_name} could not be read: {e}")))?;
        self.read(state, &file_name, &text).await
    }
}

/// A profile file's text from the window (chosen, or dropped on it): what the keeper confirms.
#[tauri::command]
pub async fn read_profile(
    state: State<'_, AppState>,
    inbox: State<'_, ProfileInbox>,
    file_name: String,
    text: String,
) -> Result<ProfilePreview, KeeperError> {
    inbox.read(&state, &file_name, &text).await
}

/// The file a launch brought (once): its preview, an error in words, or nothing.
#[tauri::command]
pub fn opened_profile(inbox: State<'_, ProfileInbox>) -> Result<Option<ProfilePreview>, KeeperError> {
    lock(&inbox.opened).take().transpose()
}

/// Adds the confirmed file's integration under `name` (the file's own, or the one the keeper
/// chose when it was taken); its client secret goes to the keychain, or with `shared` ("Share
/// with my team") to the team vault.
#[tauri::command]
pub async fn add_profile(
    state: State<'_, AppState>,
    inbox: State<'_, ProfileInbox>,
    id: u64,
    name: String,
    shared: Option<bool>,
) -> Result<Imported, KeeperError> {
    let name = name.trim().to_string();
    tokenkeeper_engine::model::validate_name(&name).map_err(KeeperError::BadInput)?;
    if state.keeper.status(&name).is_ok() {
        return Err(KeeperError::BadInput(format!(
            "there is already an integration called \"{name}\": choose another name"
        )));
    }
    let Waiting { mut config, client_secret } = lock(&inbox.waiting)
        .remove(&id)
        .ok_or_else(|| KeeperError::BadInput("this profile file is no longer open: open it again".into()))?;
    config.name = name;
    let had_client_secret = client_secret.is_some();
    let view = if shared.unwrap_or(false) {
        state.keeper.add_shared(config, client_secret).await?
    } else {
        state.keeper.add(config, client_secret).await?
    };
    Ok(Imported { view, had_client_secret })
}

/// Forgets a file the keeper did not confirm (and the secret it held).
#[tauri::command]
pub fn forget_profile(inbox: State<'_, ProfileInbox>, id: u64) {
    lock(&inbox.waiting).remove(&id);
}

/// A launch's arguments (the first is the program): a file among them is read and shown in the
/// window's confirm step. Called for the first launch and, through single-instance, for the next.
pub fn receive(app: &AppHandle, args: &[String], cwd: &str) {
    let Some(path) =
        args.iter().skip(1).filter(|a| !a.starts_with('-')).map(|a| Path::new(cwd).join(a)).find(|p| p.is_file())
    else {
        return;
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move { open_file(app, path).await });
}

async fn open_file(app: AppHandle, path: PathBuf) {
    tracing::info!("a profile file came with a launch");
    let state = app.state::<AppState>();
    let inbox = app.state::<ProfileInbox>();
    let result = inbox.read_path(&state, &path).await;
    *lock(&inbox.opened) = Some(result);
    crate::window::open(&app, &crate::window::Route::OpenedProfile);
}

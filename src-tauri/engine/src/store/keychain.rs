//! The operating system's keychain as the [`SecretStore`]: Secret Service on Linux and the BSDs,
//! Keychain Services on macOS, Credential Manager on Windows, all through keyring-core.
//!
//! It owns the keychain layout of Token Keeper, which is the same on every platform:
//!
//! * **One head item per integration** (service = the keychain service name, user = the
//!   integration name). It holds a small versioned JSON document, `{"v":1, "refresh_token":…}`,
//!   with every secret of the integration, so a rotated access + refresh token pair is replaced
//!   by one write. The document is built and parsed in [`Zeroizing`] buffers, so the plaintext
//!   copies this module makes are wiped when dropped.
//! * **Chunks for large documents.** Windows Credential Manager refuses secrets over 2,560
//!   bytes, and some providers issue long JWTs. When the document is larger than
//!   `max_item_bytes` (2,500 by default) it is cut into chunk items named
//!   `"{name}#g{gen}.{i}"` — `#` cannot occur in an integration name, so chunk names never
//!   collide with a real one — and the head holds a pointer instead:
//!   `{"v":1,"gen":G,"chunks":K,"len":N,"id":"…"}`.
//!
//! A save never overwrites the chunks the head points to. It writes the new chunks under the
//! *other* generation (there are two, 1 and 2, used in turn), **then** overwrites the head,
//! which is the commit point, **then** deletes what the head no longer points to (best effort).
//! A crash before the head write leaves the old set readable; after it, the new one. Each chunk
//! starts with the random id of the save that wrote it, so a reader never stitches parts of two
//! saves together: a part from another save, or a missing part, makes the reader look at the
//! head again (another process may just have saved) and otherwise report
//! [`StoreError::Damaged`]. Chunks are written in ascending and deleted in descending order, so
//! leftovers of an interrupted save always form a prefix `0..j` that the next save's clean-up
//! finds and removes (the next save that writes parts, or the removal: a save of a small document
//! over a small one does not look for them).
//!
//! No secret ever reaches an error message, a log line or `Debug` output: keyring errors that
//! carry the raw item bytes (`BadEncoding`, `BadDataFormat`) are reported without them, and
//! parse errors are reported by position only, because serde messages may quote a value.
//!
//! The platform store is opened once per connection ([`NATIVE_CONNECTIONS`] per process, used in
//! turn) and shared (the first also becomes keyring-core's default store). Only success is cached, so a keyring daemon that starts after Token Keeper is
//! found at the next call; and when the Secret Service no longer knows this process's session
//! (its daemon was restarted) every connection is reopened and the operation retried once.
//!
//! Every call blocks (the Secret Service answers over D-Bus in a few milliseconds, or waits for
//! an unlock prompt); async callers use `spawn_blocking`.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{SecretStore, StoreError};
use crate::clock::{as_secs, ClockStamp, Moment};
use crate::model::Secrets;
use crate::secret::{AccessToken, ApiToken, ClientSecret, RefreshToken};

/// The keychain service name used when none is configured.
pub const DEFAULT_SERVICE: &str = "tokenkeeper";
/// Environment variable that overrides the service name (tests use it to keep runs apart).
pub const SERVICE_ENV: &str = "TOKENKEEPER_KEYCHAIN_SERVICE";
/// The largest document stored in one item; below Windows' limit of 2,560 bytes per secret.
pub const DEFAULT_MAX_ITEM_BYTES: usize = 2_500;
/// The smallest item size accepted by [`KeychainStore::with_max_item_bytes`]: room for a chunk
/// header (id, index) and some payload.
pub const MIN_ITEM_BYTES: usize = 64;

/// The only document version this code writes and reads.
const FORMAT_VERSION: u64 = 1;
/// More chunks than this means the pointer is damaged (256 × 2.5 KB is far beyond any token).
const MAX_CHUNKS: usize = 256;
/// A document longer than this means the pointer is damaged.
const MAX_DOC_BYTES: usize = 1 << 20;
/// How often a reader looks at the head again when the chunks changed under it (each retry
/// means another save landed while the parts were being read).
const READ_ATTEMPTS: usize = 5;
/// The two chunk generations, used in turn.
const GENERATIONS: [u8; 2] = [1, 2];

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/// Secrets kept in the operating system's keychain. See the module documentation for the layout.
pub struct KeychainStore {
    service: String,
    max_item_bytes: usize,
    backend: Backend,
    /// See [`KeychainStore::swept_names`].
    swept: Mutex<HashSet<String>>,
}

/// Where the items go: the platform's keychain (opened once per process and reopened after the
/// keychain service restarts), or a keyring-core store chosen by the caller.
enum Backend {
    Native,
    Custom(Arc<CredentialStore>),
}

impl fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeychainStore")
            .field("service", &self.service)
            .field("max_item_bytes", &self.max_item_bytes)
            .field(
                "backend",
                &match self.backend {
                    Backend::Native => "native",
                    Backend::Custom(_) => "custom",
                },
            )
            .finish()
    }
}

impl KeychainStore {
    /// The platform keychain, with items under `service`. Fails with
    /// [`StoreError::Unavailable`] when the keychain cannot be reached (on Linux: no Secret
    /// Service or no session bus).
    pub fn new(service: &str) -> Result<Self, StoreError> {
        check_service(service)?;
        native_store(1)?;
        Ok(Self {
            service: service.to_owned(),
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            backend: Backend::Native,
            swept: Mutex::default(),
        })
    }

    /// The platform keychain, with the service name from `TOKENKEEPER_KEYCHAIN_SERVICE`
    /// (default `"tokenkeeper"`).
    pub fn from_env() -> Result<Self, StoreError> {
        Self::new(&service_from(std::env::var(SERVICE_ENV).ok()))
    }

    /// Items under `service` in a keyring-core store chosen by the caller (for example
    /// `keyring_core::mock::Store` in tests, or another credential store).
    pub fn with_credential_store(service: &str, store: Arc<CredentialStore>) -> Result<Self, StoreError> {
        check_service(service)?;
        Ok(Self {
            service: service.to_owned(),
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            backend: Backend::Custom(store),
            swept: Mutex::default(),
        })
    }

    /// Documents larger than `n` bytes are split into chunks (at least [`MIN_ITEM_BYTES`]).
    /// Tests use a small value to exercise chunking on every platform.
    pub fn with_max_item_bytes(mut self, n: usize) -> Self {
        self.max_item_bytes = n.max(MIN_ITEM_BYTES);
        self
    }

    /// The keychain service name the items are kept under.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Runs `op` against the backend. When the native keychain reports it went away (the
    /// keyring daemon restarted, so the session this process opened is gone), the connection is
    /// reopened and `op` runs once more; every operation here may safely run twice.
    fn run<T>(&self, op: impl Fn(&CredentialStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Custom(store) => op(store.as_ref()),
            Backend::Native => {
                let busy = InFlight::enter();
                let store = native_store(busy.calls)?;
                match op(store.as_ref()) {
                    Err(StoreError::Unavailable(_)) => {
                        forget_native_store(&store);
                        op(native_store(busy.calls)?.as_ref())
                    }
                    other => other,
                }
            }
        }
    }

    // --- single-item helpers; they return keyring errors so callers can map them with context

    fn entry(&self, store: &CredentialStore, user: &str) -> Result<Entry, KeyringError> {
        store.build(&self.service, user, None)
    }

    fn get(&self, store: &CredentialStore, user: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        match self.entry(store, user)?.get_secret() {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) if vanished(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put(&self, store: &CredentialStore, user: &str, bytes: &[u8]) -> Result<(), KeyringError> {
        match self.entry(store, user)?.set_secret(bytes) {
            // Found, then deleted by someone else before the write: the second try creates it.
            Err(e) if vanished(&e) => self.entry(store, user)?.set_secret(bytes),
            other => other,
        }
    }

    fn remove(&self, store: &CredentialStore, user: &str) -> Result<(), KeyringError> {
        match self.entry(store, user)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) if vanished(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, store: &CredentialStore, user: &str) -> Result<bool, KeyringError> {
        match self.entry(store, user)?.get_credential() {
            Ok(_) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) if vanished(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // --- the operations

    fn load_from(&self, store: &CredentialStore, name: &str) -> Result<Option<Secrets>, StoreError> {
        let fail = |e| map_error(name, e);
        let mut problem = String::new();
        for _ in 0..READ_ATTEMPTS {
            let Some(head) = self.get(store, name).map_err(fail)? else {
                return Ok(None);
            };
            let pointer = match parse_head(name, &head)? {
                Head::Inline(secrets) => return Ok(Some(secrets)),
                Head::Pointer(p) => p,
            };
            match self.read_chunks(store, name, &pointer)? {
                Ok(doc) => return decode_document(name, &doc).map(Some),
                Err(why) => problem = why,
            }
            // Another process may have saved since the head was read: look again.
            let again = self.get(store, name).map_err(fail)?;
            if again.as_deref().map(Vec::as_slice) == Some(head.as_slice()) {
                break;
            }
        }
        Err(StoreError::Damaged(format!(
            "the keychain item for \"{name}\" is incomplete ({problem}); save it again (sign in again or re-enter the token)"
        )))
    }

    /// The document the pointer describes, or why it cannot be put together.
    fn read_chunks(
        &self,
        store: &CredentialStore,
        name: &str,
        pointer: &Pointer,
    ) -> Result<Result<Zeroizing<Vec<u8>>, String>, StoreError> {
        let mut doc = Zeroizing::new(Vec::with_capacity(pointer.len));
        for i in 0..pointer.chunks {
            let part = || format!("part {} of {}", i + 1, pointer.chunks);
            let user = chunk_user(name, pointer.gen, i);
            let Some(chunk) = self.get(store, &user).map_err(|e| map_error(name, e))? else {
                return Ok(Err(format!("{} is missing", part())));
            };
            let Some(payload) = chunk_payload(&chunk, &pointer.id, i) else {
                return Ok(Err(format!("{} belongs to another save", part())));
            };
            if doc.len() + payload.len() > pointer.len {
                return Ok(Err("the parts are longer than recorded".to_owned()));
            }
            doc.extend_from_slice(payload);
        }
        if doc.len() != pointer.len {
            return Ok(Err("the parts are shorter than recorded".to_owned()));
        }
        Ok(Ok(doc))
    }

    fn save_to(&self, store: &CredentialStore, name: &str, secrets: &Secrets) -> Result<(), StoreError> {
        let fail = |e| map_error(name, e);
        let doc = encode_document(secrets)?;
        // What the head points to now. An unreadable head points nowhere worth keeping.
        let old = self.current_pointer(store, name)?;
        let keep = if doc.len() <= self.max_item_bytes {
            self.put(store, name, &doc).map_err(fail)?;
            None
        } else {
            // Write under the generation the head does not point to, so the current set stays
            // intact until the head moves.
            let gen = if old.as_ref().map(|p| p.gen) == Some(1) { 2 } else { 1 };
            let id = new_save_id();
            let chunks = split_chunks(&doc, self.max_item_bytes, &id);
            if chunks.len() > MAX_CHUNKS {
                return Err(StoreError::Failed(format!(
                    "the secrets of \"{name}\" are too large for the keychain ({} bytes)",
                    doc.len()
                )));
            }
            for (i, chunk) in chunks.iter().enumerate() {
                self.put(store, &chunk_user(name, gen, i), chunk).map_err(fail)?;
            }
            let pointer = Pointer { gen, chunks: chunks.len(), len: doc.len(), id };
            // The commit point.
            self.put(store, name, &pointer_document(&pointer)?).map_err(fail)?;
            Some(pointer)
        };
        // Inline over inline (every renewal of an ordinary token): no parts were pointed to, so
        // only an interrupted large save could have left any — this process's (its failed save
        // forgets the name) or an earlier process's (looked for at this store's first save of the
        // name). Probing on every write cost two keychain searches per renewal.
        if keep.is_none() && old.is_none() && self.swept_names().contains(name) {
            return Ok(());
        }
        match self.sweep(store, name, keep.as_ref(), old.as_ref()) {
            Ok(()) => self.swept_names().insert(name.to_owned()),
            Err(e) => {
                tracing::warn!(
                    integration = name,
                    "saved, but could not remove old keychain parts: {}",
                    map_error(name, e)
                );
                self.swept_names().remove(name)
            }
        };
        Ok(())
    }

    /// Names whose leftover parts this store has looked for since its last failed save of them.
    fn swept_names(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.swept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn delete_from(&self, store: &CredentialStore, name: &str) -> Result<(), StoreError> {
        let fail = |e| map_error(name, e);
        let old = self.current_pointer(store, name)?;
        // Head first: without it the chunks are unreachable, so a crash in between leaves
        // nothing readable behind, and the sweep (here or at the next save) removes the rest.
        self.remove(store, name).map_err(fail)?;
        self.sweep(store, name, None, old.as_ref()).map_err(fail)
    }

    /// The pointer in the head of `name`, if the head holds a readable one.
    fn current_pointer(&self, store: &CredentialStore, name: &str) -> Result<Option<Pointer>, StoreError> {
        let head = self.get(store, name).map_err(|e| map_error(name, e))?;
        Ok(match head.as_deref().map(|h| parse_head(name, h)) {
            Some(Ok(Head::Pointer(p))) => Some(p),
            _ => None,
        })
    }

    /// Deletes every chunk of `name` except those `keep` points to.
    ///
    /// Leftovers of interrupted saves form a prefix of their generation (written upwards,
    /// deleted downwards), so probing upwards finds their end; the chunks the previous head
    /// pointed to (`old`) are deleted even past a gap, in case one was removed by hand.
    fn sweep(
        &self,
        store: &CredentialStore,
        name: &str,
        keep: Option<&Pointer>,
        old: Option<&Pointer>,
    ) -> Result<(), KeyringError> {
        for gen in GENERATIONS {
            let start = keep.filter(|p| p.gen == gen).map_or(0, |p| p.chunks);
            let mut end = start;
            while end < start + MAX_CHUNKS && self.exists(store, &chunk_user(name, gen, end))? {
                end += 1;
            }
            if let Some(old) = old.filter(|p| p.gen == gen) {
                end = end.max(old.chunks);
            }
            for i in (start..end).rev() {
                self.remove(store, &chunk_user(name, gen, i))?;
            }
        }
        Ok(())
    }
}

impl SecretStore for KeychainStore {
    fn load(&self, name: &str) -> Result<Option<Secrets>, StoreError> {
        check_name(name)?;
        self.run(|store| self.load_from(store, name))
    }

    fn save(&self, name: &str, secrets: &Secrets) -> Result<(), StoreError> {
        check_name(name)?;
        let saved = self.run(|store| self.save_to(store, name, secrets));
        if saved.is_err() {
            // it may have left parts behind: the next save looks for them
            self.swept_names().remove(name);
        }
        saved
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        self.swept_names().remove(name);
        self.run(|store| self.delete_from(store, name))
    }
}

fn check_name(name: &str) -> Result<(), StoreError> {
    // The chunk naming relies on names never holding '#'.
    super::check_item_name(name)
}

fn check_service(service: &str) -> Result<(), StoreError> {
    if service.trim().is_empty() {
        return Err(StoreError::Failed("the keychain service name is empty".to_owned()));
    }
    Ok(())
}

/// The service name from the environment variable's value, or the default.
fn service_from(env_value: Option<String>) -> String {
    match env_value {
        Some(s) if !s.trim().is_empty() => s,
        _ => DEFAULT_SERVICE.to_owned(),
    }
}

/// The item name of chunk `index` of generation `gen`.
fn chunk_user(name: &str, gen: u8, index: usize) -> String {
    format!("{name}#g{gen}.{index}")
}

fn new_save_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

// ---------------------------------------------------------------------------------------------
// The platform keychain, opened once per connection
// ---------------------------------------------------------------------------------------------

/// How many connections to the platform keychain a process keeps. The Secret Service store holds
/// its connection behind a mutex for the whole of each call (a search, then a write: several
/// D-Bus round trips), so one connection runs one call at a time however many threads ask; under
/// CPU load each round trip waits for the scheduler, and 300 renewals due together queued behind
/// that one connection (measured under `stress --cpu 2`: a call took 63 ms and waited 685 ms
/// for its turn). With four, the keeper's concurrent keychain calls really overlap.
pub const NATIVE_CONNECTIONS: usize = 4;

/// The open platform stores (one per connection), used in turn. Only success is cached: a
/// keychain that was missing at the first try (the keyring daemon not started yet) is looked for
/// again at the next call.
static NATIVE: Mutex<[Option<Arc<CredentialStore>>; NATIVE_CONNECTIONS]> =
    Mutex::new([const { None }; NATIVE_CONNECTIONS]);
/// The connection the next call uses.
static NEXT_NATIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// How many platform keychain calls of this process are under way.
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One platform keychain call under way, counted while it lives.
struct InFlight {
    /// How many calls were under way when this one began, itself included.
    calls: usize,
}

impl InFlight {
    fn enter() -> Self {
        InFlight { calls: IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A connection for a call that began with `calls` calls under way. A second connection is
/// opened only while calls really overlap, so a command making one call after another (every
/// `tokenkeeper` process) keeps one connection and one Secret Service session, as before
/// connections were pooled. (With four per process whatever the overlap, one loaded test run of
/// twenty concurrent commands saw gnome-keyring drop off the bus; the cause is not proven.)
fn native_store(calls: usize) -> Result<Arc<CredentialStore>, StoreError> {
    let turn = NEXT_NATIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % calls.clamp(1, NATIVE_CONNECTIONS);
    let mut slots = NATIVE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(store) = slots[turn].as_ref() {
        return Ok(store.clone());
    }
    let store = open_native().map_err(|e| StoreError::Unavailable(unavailable_words(&e.to_string())))?;
    // Let `keyring_core::Entry::new` reach the same keychain, unless the process chose another
    // default store itself.
    if keyring_core::get_default_store().is_none() {
        keyring_core::set_default_store(store.clone());
    }
    slots[turn] = Some(store.clone());
    Ok(store)
}

/// The keychain forgot the session of `stale` (its daemon restarted, so it forgot every session
/// of this process): drops every cached connection, so the next calls reconnect.
fn forget_native_store(stale: &Arc<CredentialStore>) {
    let mut slots = NATIVE.lock().unwrap_or_else(PoisonError::into_inner);
    if slots.iter().flatten().any(|s| Arc::ptr_eq(s, stale)) {
        let dropped = std::mem::replace(&mut *slots, [const { None }; NATIVE_CONNECTIONS]);
        if keyring_core::get_default_store().is_some_and(|d| dropped.iter().flatten().any(|s| Arc::ptr_eq(&d, s))) {
            keyring_core::unset_default_store();
        }
    }
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]
fn open_native() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn open_native() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn open_native() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(
    all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))),
    target_os = "macos",
    target_os = "windows"
)))]
fn open_native() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(KeyringError::NotSupportedByStore("this operating system has no keychain Token Keeper can use".to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

const LOCKED_WORDS: &str = "the keychain is locked; unlock it (log in to your desktop session) and try again";

/// Plain words for "the keychain cannot be reached", with the platform's own detail.
fn unavailable_words(detail: &str) -> String {
    let what = if cfg!(target_os = "macos") {
        "the login keychain could not be opened"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager could not be opened"
    } else {
        "no Secret Service / no session bus: Token Keeper needs a keyring such as GNOME Keyring \
         or KWallet running in your desktop session"
    };
    format!("{what} ({})", short(detail))
}

/// Whether a platform failure means the keychain service is gone rather than that one request
/// failed: no bus, no Secret Service, or a Secret Service that no longer knows the session this
/// process opened (the daemon restarted). Checked against gnome-keyring's replies.
fn looks_unavailable(detail: &str) -> bool {
    const SIGNS: [&str; 7] = [
        "no secret service provider",
        "ServiceUnknown",
        "NameHasNoOwner",
        "NoSession",
        "NoReply",
        "Disconnected",
        "Broken pipe",
    ];
    SIGNS.iter().any(|s| detail.contains(s))
}

/// Whether an item was found by a search and then removed (by another process, or by another of
/// this process's connections) before it was read or written. gnome-keyring answers "Object does
/// not exist at path …", or, when the removal lands between the search and the read, "No such
/// interface “org.freedesktop.Secret.Item” on object at path …" (seen in the concurrent-reader
/// test once saves and reads use separate connections); the Secret Service specification names
/// the error `NoSuchObject`.
fn vanished(err: &KeyringError) -> bool {
    match err {
        KeyringError::PlatformFailure(detail) => {
            let detail = detail.to_string();
            detail.contains("Object does not exist at path")
                || detail.contains("NoSuchObject")
                || (detail.contains("No such interface") && detail.contains("org.freedesktop.Secret.Item"))
        }
        _ => false,
    }
}

/// A platform detail kept short, on one line.
fn short(detail: &str) -> String {
    crate::text::one_line(detail, crate::text::MAX_CHARS)
}

/// Maps a keyring error to plain words. Never formats the variants that carry item bytes.
fn map_error(name: &str, err: KeyringError) -> StoreError {
    match err {
        KeyringError::NoStorageAccess(_) => StoreError::Locked(LOCKED_WORDS.to_owned()),
        KeyringError::NoDefaultStore => StoreError::Unavailable(unavailable_words("no keychain was opened")),
        KeyringError::PlatformFailure(detail) => {
            let detail = detail.to_string();
            if looks_unavailable(&detail) {
                StoreError::Unavailable(unavailable_words(&detail))
            } else {
                StoreError::Failed(short(&detail))
            }
        }
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(_, _) => {
            StoreError::Damaged(format!("the keychain item for \"{name}\" is not in a form Token Keeper can read"))
        }
        KeyringError::Ambiguous(items) => StoreError::Failed(format!(
            "{} keychain items match \"{name}\"; remove the extra ones in your keychain app",
            items.len()
        )),
        KeyringError::NoEntry => StoreError::Failed(format!("the keychain item for \"{name}\" vanished")),
        // Invalid, TooLong, BadStoreFormat, NotSupportedByStore and future variants: their
        // Display names attributes and limits, never item bytes.
        other => StoreError::Failed(short(&other.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// The document format (pure functions)
// ---------------------------------------------------------------------------------------------

/// What a head item holds.
#[derive(Debug, PartialEq)]
enum Head {
    Inline(Secrets),
    Pointer(Pointer),
}

/// Where the chunks of a large document are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pointer {
    gen: u8,
    chunks: usize,
    len: usize,
    id: String,
}

#[derive(Serialize)]
struct DocumentOut<'a> {
    v: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", with = "as_secs")]
    issued_at: Option<Moment>,
    #[serde(skip_serializing_if = "Option::is_none", with = "as_secs")]
    access_expires_at: Option<Moment>,
    #[serde(skip_serializing_if = "Option::is_none", with = "as_secs")]
    refresh_expires_at: Option<Moment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: Option<&'a ClockStamp>,
}

#[derive(Serialize)]
struct PointerOut<'a> {
    v: u64,
    gen: u8,
    chunks: usize,
    len: usize,
    id: &'a str,
}

/// Fields unknown to this version are ignored, so a later version may add optional ones
/// without bumping `v`; anything incompatible bumps `v`.
#[derive(Deserialize)]
struct HeadIn<'a> {
    #[serde(borrow, default)]
    access_token: Option<Text<'a>>,
    #[serde(borrow, default)]
    refresh_token: Option<Text<'a>>,
    #[serde(borrow, default)]
    client_secret: Option<Text<'a>>,
    #[serde(borrow, default)]
    api_token: Option<Text<'a>>,
    #[serde(default, with = "as_secs")]
    issued_at: Option<Moment>,
    #[serde(default, with = "as_secs")]
    access_expires_at: Option<Moment>,
    #[serde(default, with = "as_secs")]
    refresh_expires_at: Option<Moment>,
    #[serde(borrow, default)]
    account: Option<Text<'a>>,
    #[serde(default)]
    clock: Option<ClockStamp>,
    #[serde(default)]
    gen: Option<u8>,
    #[serde(default)]
    chunks: Option<usize>,
    #[serde(default)]
    len: Option<usize>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct VersionIn {
    v: Option<u64>,
}

/// A string read from a document: borrowed from the (zeroized) input when it has no escapes,
/// else an owned copy that is wiped on drop.
enum Text<'a> {
    Borrowed(&'a str),
    Owned(Zeroizing<String>),
}

impl Text<'_> {
    /// Moves the text into a `String` (one exact-size allocation for a borrowed text; an owned
    /// one is moved out of its zeroizing wrapper, so no unwiped copy is left behind).
    fn into_string(self) -> String {
        match self {
            Text::Borrowed(s) => s.to_owned(),
            Text::Owned(mut s) => std::mem::take(&mut *s),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text::Owned(Zeroizing::new(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text::Owned(Zeroizing::new(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// Counts the bytes a serializer writes, so the real buffer can be allocated once at its final
/// size: a growing `Vec` would leave unwiped copies of the plaintext behind in freed memory.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn to_json_zeroizing<T: Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let failed = |_| StoreError::Failed("could not encode the secrets".to_owned());
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, value).map_err(failed)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *buf, value).map_err(failed)?;
    debug_assert_eq!(buf.len(), buf.capacity());
    Ok(buf)
}

/// The version-1 document holding every secret of an integration.
fn encode_document(s: &Secrets) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json_zeroizing(&DocumentOut {
        v: FORMAT_VERSION,
        access_token: s.access_token.as_ref().map(AccessToken::expose),
        refresh_token: s.refresh_token.as_ref().map(RefreshToken::expose),
        client_secret: s.client_secret.as_ref().map(ClientSecret::expose),
        api_token: s.api_token.as_ref().map(ApiToken::expose),
        issued_at: s.issued_at,
        access_expires_at: s.access_expires_at,
        refresh_expires_at: s.refresh_expires_at,
        account: s.account.as_deref(),
        clock: s.clock.as_ref(),
    })
}

fn pointer_document(p: &Pointer) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json_zeroizing(&PointerOut { v: FORMAT_VERSION, gen: p.gen, chunks: p.chunks, len: p.len, id: &p.id })
}

/// Damage found while parsing, described by position only (serde messages may quote values).
fn parse_damage(name: &str, e: &serde_json::Error) -> StoreError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax | Category::Io => "is not valid JSON",
        Category::Eof => "is cut short",
        Category::Data => "has a field of the wrong type",
    };
    StoreError::Damaged(format!(
        "the keychain item for \"{name}\" {what} (at byte {} of line {}); save it again (sign in again or re-enter the token)",
        e.column(),
        e.line()
    ))
}

/// Parses a head item: the secrets themselves, or a pointer to chunks.
fn parse_head(name: &str, bytes: &[u8]) -> Result<Head, StoreError> {
    let version: VersionIn = serde_json::from_slice(bytes).map_err(|e| parse_damage(name, &e))?;
    match version.v {
        Some(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(StoreError::Damaged(format!(
                "the keychain item for \"{name}\" is in format {v}, which this version of Token Keeper cannot read; update Token Keeper or save it again"
            )))
        }
        None => {
            return Err(StoreError::Damaged(format!(
                "the keychain item for \"{name}\" is not a Token Keeper document (no format version)"
            )))
        }
    }
    let doc: HeadIn<'_> = serde_json::from_slice(bytes).map_err(|e| parse_damage(name, &e))?;
    let is_pointer = doc.gen.is_some() || doc.chunks.is_some() || doc.len.is_some() || doc.id.is_some();
    if !is_pointer {
        return Ok(Head::Inline(Secrets {
            access_token: doc.access_token.map(|t| AccessToken::new(t.into_string())),
            refresh_token: doc.refresh_token.map(|t| RefreshToken::new(t.into_string())),
            client_secret: doc.client_secret.map(|t| ClientSecret::new(t.into_string())),
            api_token: doc.api_token.map(|t| ApiToken::new(t.into_string())),
            issued_at: doc.issued_at,
            access_expires_at: doc.access_expires_at,
            refresh_expires_at: doc.refresh_expires_at,
            account: doc.account.map(Text::into_string),
            clock: doc.clock,
        }));
    }
    let has_secrets = doc.access_token.is_some()
        || doc.refresh_token.is_some()
        || doc.client_secret.is_some()
        || doc.api_token.is_some();
    let bad_pointer = |why: &str| {
        StoreError::Damaged(format!(
            "the keychain item for \"{name}\" points to its parts wrongly ({why}); save it again (sign in again or re-enter the token)"
        ))
    };
    if has_secrets {
        return Err(bad_pointer("it holds secrets too"));
    }
    let (Some(gen), Some(chunks), Some(len), Some(id)) = (doc.gen, doc.chunks, doc.len, doc.id) else {
        return Err(bad_pointer("a field is missing"));
    };
    if !GENERATIONS.contains(&gen) {
        return Err(bad_pointer("unknown generation"));
    }
    if chunks == 0 || chunks > MAX_CHUNKS || len == 0 || len > MAX_DOC_BYTES {
        return Err(bad_pointer("impossible size"));
    }
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad_pointer("bad save id"));
    }
    Ok(Head::Pointer(Pointer { gen, chunks, len, id }))
}

/// Parses a document put together from chunks: it must hold the secrets, not another pointer.
fn decode_document(name: &str, bytes: &[u8]) -> Result<Secrets, StoreError> {
    match parse_head(name, bytes)? {
        Head::Inline(secrets) => Ok(secrets),
        Head::Pointer(_) => {
            Err(StoreError::Damaged(format!("the keychain item for \"{name}\" points to a pointer; save it again")))
        }
    }
}

/// The header that starts chunk `index` of the save `id`.
fn chunk_header(id: &str, index: usize) -> String {
    format!("{id}.{index}\n")
}

/// Cuts `doc` into chunk items of at most `max_item_bytes` bytes each, header included.
fn split_chunks(doc: &[u8], max_item_bytes: usize, id: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let mut chunks = Vec::new();
    let mut rest = doc;
    while !rest.is_empty() {
        let header = chunk_header(id, chunks.len());
        let room = max_item_bytes.saturating_sub(header.len()).max(1);
        let (part, tail) = rest.split_at(room.min(rest.len()));
        let mut chunk = Zeroizing::new(Vec::with_capacity(header.len() + part.len()));
        chunk.extend_from_slice(header.as_bytes());
        chunk.extend_from_slice(part);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// The payload of a chunk, if it is chunk `index` of the save `id`.
fn chunk_payload<'a>(chunk: &'a [u8], id: &str, index: usize) -> Option<&'a [u8]> {
    chunk.strip_prefix(chunk_header(id, index).as_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicIsize, Ordering};

    use keyring_core::api::{Credential, CredentialApi, CredentialStoreApi};

    use super::*;

    fn small() -> Secrets {
        Secrets {
            access_token: Some(AccessToken::new("at-\"quoted\"\\-é-1".into())),
            refresh_token: Some(RefreshToken::new("rt-1".into())),
            client_secret: None,
            api_token: None,
            issued_at: Some(Moment::from_secs(1_700_000_000)),
            access_expires_at: Some(Moment::from_secs(1_700_003_600)),
            refresh_expires_at: None,
            account: Some("keeper@example.com".into()),
            clock: None,
        }
    }

    /// Fits in one item even with a tiny `max_item_bytes`.
    fn tiny() -> Secrets {
        Secrets { refresh_token: Some(RefreshToken::new("r".into())), ..Secrets::default() }
    }

    fn large(tag: &str, size: usize) -> Secrets {
        Secrets {
            access_token: Some(AccessToken::new(format!("{tag}-{}", "a".repeat(size)))),
            refresh_token: Some(RefreshToken::new(format!("{tag}-refresh"))),
            client_secret: Some(ClientSecret::new("cs".into())),
            api_token: Some(ApiToken::new("api".into())),
            ..Secrets::default()
        }
    }

    // --- pure functions

    #[test]
    fn documents_round_trip() {
        for s in [small(), Secrets::default(), large("x", 10_000)] {
            let doc = encode_document(&s).unwrap();
            assert_eq!(doc.len(), doc.capacity());
            assert!(doc.starts_with(b"{\"v\":1"));
            assert_eq!(decode_document("n", &doc).unwrap(), s);
        }
        let doc = encode_document(&Secrets::default()).unwrap();
        assert_eq!(&doc[..], b"{\"v\":1}");
    }

    #[test]
    fn unknown_fields_are_ignored_but_unknown_versions_are_damage() {
        let s = decode_document("n", br#"{"v":1,"refresh_token":"r","future":{"x":[1]}}"#).unwrap();
        assert_eq!(s.refresh_token.unwrap().expose(), "r");
        let err = decode_document("HighQ", br#"{"v":2,"refresh_token":"SECRET"}"#).unwrap_err();
        assert!(matches!(&err, StoreError::Damaged(m) if m.contains("\"HighQ\"") && m.contains("format 2")), "{err}");
        assert!(!err.to_string().contains("SECRET"));
    }

    #[test]
    fn damage_messages_never_quote_the_bytes() {
        let cases: [&[u8]; 6] = [
            b"SECRET-not-json",
            b"{\"v\":1,\"refresh_token\":\"SECRET",
            b"{\"v\":1,\"issued_at\":\"SECRET\"}",
            b"{\"refresh_token\":\"SECRET\"}",
            b"{\"v\":1,\"gen\":3,\"chunks\":2,\"len\":9,\"id\":\"SECRET\"}",
            b"{\"v\":1,\"gen\":1,\"chunks\":2,\"len\":9,\"id\":\"ab\",\"api_token\":\"SECRET\"}",
        ];
        for bytes in cases {
            let err = parse_head("my app", bytes).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(matches!(err, StoreError::Damaged(_)), "{text}");
            assert!(text.contains("\"my app\""), "{text}");
            assert!(!text.contains("SECRET"), "{text}");
        }
        let err = map_error("x", KeyringError::BadEncoding(b"SECRET".to_vec()));
        assert!(matches!(err, StoreError::Damaged(_)));
        assert!(!format!("{err} {err:?}").contains("SECRET"));
        let err = map_error("x", KeyringError::BadDataFormat(b"SECRET".to_vec(), Box::new(io::Error::other("bad"))));
        assert!(!format!("{err} {err:?}").contains("SECRET"));
    }

    #[test]
    fn pointers_parse_and_are_checked() {
        let p = Pointer { gen: 2, chunks: 3, len: 5000, id: "00ff00ff00ff00ff".into() };
        let doc = pointer_document(&p).unwrap();
        assert_eq!(parse_head("n", &doc).unwrap(), Head::Pointer(p.clone()));
        assert!(decode_document("n", &doc).is_err(), "a joined document must not be a pointer");
        for bad in [
            r#"{"v":1,"gen":2,"chunks":0,"len":5,"id":"ab"}"#,
            r#"{"v":1,"gen":2,"chunks":9999,"len":5,"id":"ab"}"#,
            r#"{"v":1,"gen":2,"chunks":2,"len":5}"#,
            r#"{"v":1,"gen":2,"chunks":2,"len":5,"id":"a b"}"#,
        ] {
            assert!(matches!(parse_head("n", bad.as_bytes()), Err(StoreError::Damaged(_))), "{bad}");
        }
    }

    #[test]
    fn chunks_split_and_join() {
        let doc: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let chunks = split_chunks(&doc, 100, "abcd");
        assert!(chunks.len() >= 10);
        assert!(chunks.iter().all(|c| c.len() <= 100));
        let mut joined = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            joined.extend_from_slice(chunk_payload(c, "abcd", i).unwrap());
        }
        assert_eq!(joined, doc);
        assert!(chunk_payload(&chunks[1], "abcd", 2).is_none());
        assert!(chunk_payload(&chunks[1], "abce", 1).is_none());
        assert_eq!(split_chunks(&doc, 5000, "id").len(), 1);
        assert!(split_chunks(b"", 100, "id").is_empty());
    }

    #[test]
    fn chunk_names_cannot_be_integration_names() {
        let user = chunk_user("HighQ reporting", 1, 0);
        assert_eq!(user, "HighQ reporting#g1.0");
        assert!(crate::model::validate_name(&user).is_err());
        // nor names of the keeper's own items (the team vault's credential)
        assert!(super::super::check_item_name(&chunk_user(".team-vault", 1, 0)).is_err());
        assert!(super::super::check_item_name(".team-vault").is_ok());
        assert!(super::super::check_item_name("..team-vault").is_err());
    }

    #[test]
    fn service_name_comes_from_the_environment_value() {
        assert_eq!(service_from(None), "tokenkeeper");
        assert_eq!(service_from(Some("  ".into())), "tokenkeeper");
        assert_eq!(service_from(Some("tk-test-1".into())), "tk-test-1");
    }

    #[test]
    fn keyring_errors_map_to_plain_words() {
        let boxed = |s: &str| -> Box<dyn std::error::Error + Send + Sync> { Box::new(io::Error::other(s.to_owned())) };
        let locked = map_error("x", KeyringError::NoStorageAccess(boxed("SS error: prompt dismissed")));
        assert_eq!(locked, StoreError::Locked(LOCKED_WORDS.into()));
        let gone =
            map_error("x", KeyringError::PlatformFailure(boxed("no secret service provider or dbus session found")));
        assert!(
            matches!(&gone, StoreError::Unavailable(m) if m.contains("no Secret Service / no session bus") || cfg!(any(target_os = "macos", windows))),
            "{gone:?}"
        );
        assert!(matches!(map_error("x", KeyringError::NoDefaultStore), StoreError::Unavailable(_)));
        let other = map_error("x", KeyringError::TooLong("secret".into(), 2560));
        assert!(matches!(&other, StoreError::Failed(m) if m.contains("2560")), "{other:?}");
        let odd = map_error("x", KeyringError::PlatformFailure(boxed("zbus error: org.example.Weird: huh")));
        assert!(matches!(odd, StoreError::Failed(_)));
    }

    #[test]
    fn an_item_removed_between_search_and_read_counts_as_vanished() {
        let boxed = |s: &str| -> Box<dyn std::error::Error + Send + Sync> { Box::new(io::Error::other(s.to_owned())) };
        for gone in [
            "Object does not exist at path “/org/freedesktop/secrets/collection/login/7”",
            "zbus error: org.freedesktop.DBus.Error.UnknownMethod: No such interface “org.freedesktop.Secret.Item” on object at path /org/freedesktop/secrets/collection/login/79",
        ] {
            assert!(vanished(&KeyringError::PlatformFailure(boxed(gone))), "{gone}");
        }
        let other = "zbus error: org.freedesktop.DBus.Error.UnknownMethod: No such interface “org.example.Other”";
        assert!(!vanished(&KeyringError::PlatformFailure(boxed(other))));
    }

    // --- the store logic, against an in-memory keyring-core store that can "crash"

    /// A keyring-core store in a map. `writes_left` counts down on every set and delete; at
    /// zero, writes fail as if the process had died there.
    #[derive(Default)]
    struct MapStore {
        items: Mutex<HashMap<(String, String), Vec<u8>>>,
        writes_left: AtomicIsize,
    }

    impl MapStore {
        fn new() -> Arc<Self> {
            let s = Self::default();
            s.writes_left.store(isize::MAX, Ordering::SeqCst);
            Arc::new(s)
        }
        fn users(&self) -> Vec<String> {
            let mut v: Vec<String> = self.items.lock().unwrap().keys().map(|(_, u)| u.clone()).collect();
            v.sort();
            v
        }
        fn raw(&self, user: &str) -> Option<Vec<u8>> {
            self.items.lock().unwrap().iter().find(|((_, u), _)| u == user).map(|(_, v)| v.clone())
        }
    }

    struct MapCred {
        store: Arc<MapStore>,
        key: (String, String),
    }

    impl MapCred {
        fn write_allowed(&self) -> keyring_core::Result<()> {
            if self.store.writes_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
                return Err(KeyringError::PlatformFailure(Box::new(io::Error::other("simulated crash"))));
            }
            Ok(())
        }
    }

    impl CredentialApi for MapCred {
        fn set_secret(&self, secret: &[u8]) -> keyring_core::Result<()> {
            self.write_allowed()?;
            self.store.items.lock().unwrap().insert(self.key.clone(), secret.to_vec());
            Ok(())
        }
        fn get_secret(&self) -> keyring_core::Result<Vec<u8>> {
            self.store.items.lock().unwrap().get(&self.key).cloned().ok_or(KeyringError::NoEntry)
        }
        fn delete_credential(&self) -> keyring_core::Result<()> {
            self.write_allowed()?;
            self.store.items.lock().unwrap().remove(&self.key).map(|_| ()).ok_or(KeyringError::NoEntry)
        }
        fn get_credential(&self) -> keyring_core::Result<Option<Arc<Credential>>> {
            self.get_secret().map(|_| None)
        }
        fn get_specifiers(&self) -> Option<(String, String)> {
            Some(self.key.clone())
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn debug_fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "MapCred({:?})", self.key)
        }
    }

    struct MapStoreHandle(Arc<MapStore>);

    impl CredentialStoreApi for MapStoreHandle {
        fn vendor(&self) -> String {
            "test map".into()
        }
        fn id(&self) -> String {
            "map".into()
        }
        fn build(&self, service: &str, user: &str, _: Option<&HashMap<&str, &str>>) -> keyring_core::Result<Entry> {
            Ok(Entry::new_with_credential(Arc::new(MapCred {
                store: self.0.clone(),
                key: (service.into(), user.into()),
            })))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn keychain(map: &Arc<MapStore>, max: usize) -> KeychainStore {
        KeychainStore::with_credential_store("svc", Arc::new(MapStoreHandle(map.clone())))
            .unwrap()
            .with_max_item_bytes(max)
    }

    #[test]
    fn inline_round_trip_replace_delete() {
        let map = MapStore::new();
        let kc = keychain(&map, DEFAULT_MAX_ITEM_BYTES);
        assert_eq!(kc.load("app").unwrap(), None);
        kc.save("app", &small()).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(small()));
        assert_eq!(map.users(), ["app"]);
        kc.save("app", &Secrets::default()).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(Secrets::default()));
        kc.delete("app").unwrap();
        kc.delete("app").unwrap();
        assert_eq!(kc.load("app").unwrap(), None);
        assert!(map.users().is_empty());
    }

    #[test]
    fn the_clock_frame_travels_with_the_times() {
        let map = MapStore::new();
        let kc = keychain(&map, 4096);
        let stamped =
            Secrets { clock: Some(ClockStamp { boot: "a-boot".into(), offset_ms: 1_699_000_000_123 }), ..small() };
        kc.save("app", &stamped).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(stamped));
    }

    #[test]
    fn large_documents_go_to_alternating_generations() {
        let map = MapStore::new();
        let kc = keychain(&map, 200);
        let a = large("A", 700);
        kc.save("app", &a).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(a));
        let users = map.users();
        assert!(users.len() >= 5, "{users:?}");
        assert!(users.iter().skip(1).all(|u| u.starts_with("app#g1.")), "{users:?}");

        let b = large("B", 500);
        kc.save("app", &b).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(b));
        assert!(map.users().iter().skip(1).all(|u| u.starts_with("app#g2.")), "{:?}", map.users());

        kc.save("app", &small()).unwrap();
        assert_eq!(map.users(), ["app"]);
        assert_eq!(kc.load("app").unwrap(), Some(small()));

        kc.save("app", &large("C", 900)).unwrap();
        kc.delete("app").unwrap();
        assert!(map.users().is_empty(), "{:?}", map.users());
    }

    /// Fails the save at every possible write in turn: the old or the new secrets must be read
    /// back, never a mix or an error, and the next save must leave no orphaned chunks.
    #[test]
    fn a_crash_at_any_write_leaves_old_or_new() {
        let transitions = [
            (large("OLD", 900), large("NEW", 600)),
            (large("OLD", 600), large("NEW", 900)),
            (tiny(), large("NEW", 900)),
            (large("OLD", 900), tiny()),
        ];
        for (old, new) in transitions {
            for crash_at in 0..40 {
                let map = MapStore::new();
                let kc = keychain(&map, 150);
                kc.save("app", &large("FIRST", 700)).unwrap();
                kc.save("app", &old).unwrap();
                map.writes_left.store(crash_at, Ordering::SeqCst);
                let result = kc.save("app", &new);
                map.writes_left.store(isize::MAX, Ordering::SeqCst);
                let seen = kc.load("app").unwrap().expect("something must be stored");
                match result {
                    Ok(()) => assert_eq!(seen, new, "crash at {crash_at}"),
                    Err(_) => assert!(seen == old || seen == new, "crash at {crash_at}: a mix"),
                }
                kc.save("app", &tiny()).unwrap();
                assert_eq!(map.users(), ["app"], "crash at {crash_at}: orphans left");
            }
        }
    }

    #[test]
    fn a_crash_while_deleting_leaves_nothing_readable_and_is_cleaned_up() {
        for crash_at in 0..10 {
            let map = MapStore::new();
            let kc = keychain(&map, 150);
            kc.save("app", &large("X", 700)).unwrap();
            map.writes_left.store(crash_at, Ordering::SeqCst);
            let result = kc.delete("app");
            map.writes_left.store(isize::MAX, Ordering::SeqCst);
            if crash_at > 0 {
                assert_eq!(kc.load("app").unwrap(), None, "crash at {crash_at}");
            } else {
                assert!(result.is_err());
                assert!(kc.load("app").unwrap().is_some());
            }
            kc.delete("app").unwrap();
            assert!(map.users().is_empty(), "crash at {crash_at}: {:?}", map.users());
        }
    }

    #[test]
    fn missing_or_foreign_chunks_are_damage_and_nothing_is_changed() {
        let map = MapStore::new();
        let kc = keychain(&map, 150);
        kc.save("app", &large("X", 700)).unwrap();
        let before = map.items.lock().unwrap().clone();

        map.items.lock().unwrap().remove(&("svc".into(), "app#g1.2".into()));
        let err = kc.load("app").unwrap_err();
        assert!(matches!(&err, StoreError::Damaged(m) if m.contains("\"app\"") && m.contains("part 3 of")), "{err}");

        let mut items = before.clone();
        let stolen = items[&("svc".to_string(), "app#g1.0".to_string())].clone();
        let mut foreign = b"0123456789abcdef.1\n".to_vec();
        foreign.extend_from_slice(&stolen[stolen.iter().position(|&b| b == b'\n').unwrap() + 1..]);
        items.insert(("svc".into(), "app#g1.1".into()), foreign);
        *map.items.lock().unwrap() = items.clone();
        let err = kc.load("app").unwrap_err();
        assert!(matches!(&err, StoreError::Damaged(m) if m.contains("another save")), "{err}");
        assert!(!err.to_string().contains("XXXX") && !err.to_string().contains("aaaa"));
        assert_eq!(*map.items.lock().unwrap(), items, "a failed load must not change anything");
    }

    #[test]
    fn parts_removed_by_hand_do_not_hide_the_others_from_clean_up() {
        let map = MapStore::new();
        let kc = keychain(&map, 150);
        kc.save("app", &large("X", 700)).unwrap();
        map.items.lock().unwrap().remove(&("svc".into(), "app#g1.1".into()));
        assert!(kc.load("app").is_err());
        kc.save("app", &large("Y", 700)).unwrap();
        assert!(map.users().iter().all(|u| !u.starts_with("app#g1.")), "{:?}", map.users());
        map.items.lock().unwrap().remove(&("svc".into(), "app#g2.0".into()));
        kc.delete("app").unwrap();
        assert!(map.users().is_empty(), "{:?}", map.users());
    }

    #[test]
    fn damaged_heads_are_reported_and_left_alone() {
        let map = MapStore::new();
        let kc = keychain(&map, DEFAULT_MAX_ITEM_BYTES);
        map.items.lock().unwrap().insert(("svc".into(), "app".into()), b"\xff\xfeSECRET".to_vec());
        let err = kc.load("app").unwrap_err();
        assert!(matches!(err, StoreError::Damaged(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("SECRET"));
        assert_eq!(map.raw("app").unwrap(), b"\xff\xfeSECRET");
        // A save replaces a damaged head.
        kc.save("app", &small()).unwrap();
        assert_eq!(kc.load("app").unwrap(), Some(small()));
    }

    #[test]
    fn names_are_validated() {
        let map = MapStore::new();
        let kc = keychain(&map, DEFAULT_MAX_ITEM_BYTES);
        assert!(kc.save("a#g1.0", &small()).is_err());
        assert!(kc.load("../x").is_err());
        assert!(map.users().is_empty());
    }

    #[test]
    fn debug_output_holds_no_secrets() {
        let map = MapStore::new();
        let kc = keychain(&map, 100);
        kc.save("app", &large("SECRETVALUE", 10)).unwrap();
        let text = format!("{kc:?}");
        assert!(text.contains("svc") && !text.contains("SECRETVALUE"), "{text}");
    }
}

//! The keychain store against a *locked* Secret Service collection (gnome-keyring).
//!
//! The test locks the default collection over D-Bus, checks that every operation reports
//! [`StoreError::Locked`] and changes nothing, then unlocks it again. gnome-keyring offers no
//! non-interactive unlock of a running daemon, so it is unlocked by replacing the daemon
//! (`gnome-keyring-daemon --replace --unlock --components=secrets`, password on stdin), which
//! also checks that the store reconnects by itself after the keyring daemon restarts.
//!
//! Because it locks the keyring and replaces its daemon, it only runs in a throwaway session and
//! needs the keyring password in `TOKENKEEPER_TEST_KEYRING_PASSWORD`; without it the test fails
//! (it never skips, and never touches a keyring whose password it was not given):
//!
//! ```sh
//! dbus-run-session -- sh -c 'export HOME=$(mktemp -d) XDG_RUNTIME_DIR=$(mktemp -d); \
//!   eval "$(printf test | gnome-keyring-daemon --unlock --components=secrets)"; sleep 0.3; \
//!   TOKENKEEPER_TEST_KEYRING_PASSWORD=test cargo test -p tokenkeeper-engine --test keychain_locked'
//! ```
//!
//! It is a test binary of its own so that nothing else runs while the keyring is locked.
#![cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokenkeeper_engine::model::Secrets;
use tokenkeeper_engine::secret::{AccessToken, RefreshToken};
use tokenkeeper_engine::store::keychain::{KeychainStore, SERVICE_ENV};
use tokenkeeper_engine::store::{SecretStore, StoreError};

const PASSWORD_ENV: &str = "TOKENKEEPER_TEST_KEYRING_PASSWORD";

fn secrets(tag: &str, size: usize) -> Secrets {
    Secrets {
        access_token: Some(AccessToken::new(format!("{tag}-{}", "x".repeat(size)))),
        refresh_token: Some(RefreshToken::new(format!("rt-{tag}"))),
        ..Secrets::default()
    }
}

/// Calls a Secret Service method with `dbus-send` and returns the printed reply.
fn secret_service(path: &str, method: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new("dbus-send")
        .args(["--session", "--print-reply", "--dest=org.freedesktop.secrets", path, method])
        .args(args)
        .output()
        .map_err(|e| format!("could not run dbus-send: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The object path of the collection new items go to.
fn default_collection() -> String {
    let reply =
        secret_service("/org/freedesktop/secrets", "org.freedesktop.Secret.Service.ReadAlias", &["string:default"])
            .expect("read the default collection alias");
    let path = reply.split('"').nth(1).expect("an object path in the reply").to_owned();
    assert!(path.starts_with("/org/freedesktop/secrets/collection/"), "{reply}");
    path
}

fn is_locked(collection: &str) -> Result<bool, String> {
    let reply = secret_service(
        collection,
        "org.freedesktop.DBus.Properties.Get",
        &["string:org.freedesktop.Secret.Collection", "string:Locked"],
    )?;
    Ok(reply.contains("boolean true"))
}

fn lock(collection: &str) {
    secret_service(
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.Lock",
        &[&format!("array:objpath:{collection}")],
    )
    .expect("lock the collection");
}

/// Unlocks by replacing the daemon with one started with the password, then waits until the
/// new daemon serves the collection unlocked.
fn unlock(password: &str, collection: &str) -> Result<(), String> {
    let control = std::env::var("GNOME_KEYRING_CONTROL")
        .unwrap_or_else(|_| format!("{}/keyring", std::env::var("XDG_RUNTIME_DIR").unwrap_or_default()));
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args(["--replace", "--unlock", "--components=secrets"])
        .env("GNOME_KEYRING_CONTROL", control)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not run gnome-keyring-daemon: {e}"))?;
    daemon
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(password.as_bytes())
        .map_err(|e| format!("could not pass the password: {e}"))?;
    daemon.wait().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match is_locked(collection) {
            Ok(false) => return Ok(()),
            _ if Instant::now() > deadline => {
                return Err(format!("{collection} is still locked after the daemon was replaced"))
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Unlocks again if the test fails while the collection is locked, so later runs in the same
/// session are not left with a locked keyring.
struct UnlockOnDrop<'a> {
    password: &'a str,
    collection: &'a str,
}

impl Drop for UnlockOnDrop<'_> {
    fn drop(&mut self) {
        if is_locked(self.collection).unwrap_or(true) {
            if let Err(e) = unlock(self.password, self.collection) {
                eprintln!("could not unlock the keyring again: {e}");
            }
        }
    }
}

fn assert_locked<T: std::fmt::Debug>(what: &str, result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Locked(message)) => {
            assert!(message.contains("unlock it"), "{what}: {message}");
        }
        other => panic!("{what}: expected Locked, got {other:?}"),
    }
}

#[test]
fn a_locked_keychain_is_reported_and_left_unchanged_and_the_store_reconnects() {
    let password = std::env::var(PASSWORD_ENV).unwrap_or_else(|_| {
        panic!(
            "set {PASSWORD_ENV} to the password of the session's gnome-keyring login keyring: \
             this test locks that keyring and replaces its daemon, so it only runs in a \
             throwaway session (see the top of tests/keychain_locked.rs)"
        )
    });
    let base = std::env::var(SERVICE_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "tokenkeeper-test".to_owned());
    let service = format!("{base}.{}.locked", std::process::id());
    let kc = KeychainStore::new(&service)
        .unwrap_or_else(|e| panic!("this test needs a running Secret Service: {e}"))
        .with_max_item_bytes(200);

    let (big, small) = (secrets("big", 800), secrets("small", 10));
    kc.save("chunked", &big).unwrap();
    kc.save("inline", &small).unwrap();

    let collection = default_collection();
    assert!(!is_locked(&collection).unwrap(), "the keyring must start unlocked");
    lock(&collection);
    let guard = UnlockOnDrop { password: &password, collection: &collection };
    assert!(is_locked(&collection).unwrap(), "dbus-send Lock did not lock {collection}");

    assert_locked("load chunked", kc.load("chunked"));
    assert_locked("load inline", kc.load("inline"));
    assert_locked("replace", kc.save("inline", &secrets("other", 10)));
    assert_locked("replace chunked", kc.save("chunked", &secrets("other", 900)));
    assert_locked("create", kc.save("brand new", &small));
    assert_locked("delete", kc.delete("chunked"));
    let shown = kc.load("inline").unwrap_err().to_string();
    assert!(shown.starts_with("the keychain is locked; unlock it"), "shown as: {shown}");

    unlock(&password, &collection).unwrap();
    drop(guard);

    // Nothing changed while locked, and the same store reaches the replaced daemon by itself.
    assert_eq!(kc.load("chunked").unwrap(), Some(big));
    assert_eq!(kc.load("inline").unwrap(), Some(small));
    assert_eq!(kc.load("brand new").unwrap(), None);

    kc.delete("chunked").unwrap();
    kc.delete("inline").unwrap();
    assert_eq!(kc.load("chunked").unwrap(), None);
}

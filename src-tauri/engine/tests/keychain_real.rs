//! The keychain store against the real Secret Service (Linux/BSD).
//!
//! These tests need a running, unlocked Secret Service on the session bus and fail without one —
//! they never skip. Locally or in CI, run them in a throwaway session:
//!
//! ```sh
//! dbus-run-session -- sh -c 'export HOME=$(mktemp -d) XDG_RUNTIME_DIR=$(mktemp -d); \
//!   eval "$(printf test | gnome-keyring-daemon --unlock --components=secrets)"; sleep 0.3; \
//!   cargo test -p tokenkeeper-engine --test keychain_real'
//! ```
//!
//! Every test uses its own keychain service name (`$TOKENKEEPER_KEYCHAIN_SERVICE` or
//! "tokenkeeper-test", plus the process id and the test name) and removes its items at the end,
//! so runs never see each other's items.
#![cfg(all(unix, not(any(target_os = "macos", target_os = "ios", target_os = "android"))))]

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyring_core::Entry;
use tokenkeeper_engine::clock::Moment;
use tokenkeeper_engine::model::Secrets;
use tokenkeeper_engine::secret::{AccessToken, ApiToken, ClientSecret, RefreshToken};
use tokenkeeper_engine::store::keychain::{KeychainStore, SERVICE_ENV};
use tokenkeeper_engine::store::{SecretStore, StoreError};

/// One test's keychain service; its items are removed when it is dropped.
struct Svc {
    name: String,
}

impl Svc {
    fn new(test: &str) -> Self {
        let base = std::env::var(SERVICE_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "tokenkeeper-test".to_owned());
        let svc = Svc { name: format!("{base}.{}.{test}", std::process::id()) };
        // Opening the store also makes it keyring-core's default, for the raw checks below.
        let _ = svc.store();
        svc.clean();
        svc
    }

    fn store(&self) -> KeychainStore {
        KeychainStore::new(&self.name)
            .unwrap_or_else(|e| panic!("these tests need a running, unlocked Secret Service: {e}"))
    }

    /// The user names of every item under this service, sorted (seen through keyring-core's
    /// search, independently of the store under test).
    fn users(&self) -> Vec<String> {
        let spec = HashMap::from([("service", self.name.as_str())]);
        let mut users: Vec<String> = Entry::search(&spec)
            .expect("search the Secret Service")
            .iter()
            .map(|e| e.get_specifiers().expect("item has service and user").1)
            .collect();
        users.sort();
        users
    }

    fn raw(&self, user: &str) -> Entry {
        Entry::new(&self.name, user).unwrap()
    }

    fn clean(&self) {
        let spec = HashMap::from([("service", self.name.as_str())]);
        for entry in Entry::search(&spec).unwrap_or_default() {
            let _ = entry.delete_credential();
        }
    }
}

impl Drop for Svc {
    fn drop(&mut self) {
        self.clean();
    }
}

fn small(tag: &str) -> Secrets {
    Secrets {
        access_token: Some(AccessToken::new(format!("at-{tag}"))),
        refresh_token: Some(RefreshToken::new(format!("rt-{tag}"))),
        client_secret: None,
        api_token: None,
        issued_at: Some(Moment::from_secs(1_700_000_000)),
        access_expires_at: Some(Moment::from_secs(1_700_003_600)),
        refresh_expires_at: Some(Moment::from_secs(1_702_592_000)),
        account: Some("keeper@example.com".to_owned()),
        clock: None,
    }
}

/// Large enough for `chunks` parts at 200 bytes per item.
fn large(tag: &str, chunks: usize) -> Secrets {
    Secrets {
        access_token: Some(AccessToken::new(format!("{tag}.{}", "J".repeat(chunks * 170)))),
        refresh_token: Some(RefreshToken::new(format!("rt-{tag}"))),
        client_secret: Some(ClientSecret::new(format!("cs-{tag}"))),
        api_token: Some(ApiToken::new(format!("api-{tag}"))),
        issued_at: Some(Moment::from_secs(1)),
        access_expires_at: None,
        refresh_expires_at: None,
        account: None,
        clock: None,
    }
}

fn chunk_users(users: &[String], name: &str, gen: u8) -> usize {
    let prefix = format!("{name}#g{gen}.");
    users.iter().filter(|u| u.starts_with(&prefix)).count()
}

#[test]
fn round_trip() {
    let svc = Svc::new("round_trip");
    let kc = svc.store();
    kc.save("HighQ reporting", &small("1")).unwrap();
    assert_eq!(kc.load("HighQ reporting").unwrap(), Some(small("1")));
    assert_eq!(svc.users(), ["HighQ reporting"]);
    // A second store (a second process, in real life) reads the same item.
    assert_eq!(svc.store().load("HighQ reporting").unwrap(), Some(small("1")));
    // The item really is the versioned document.
    let raw = svc.raw("HighQ reporting").get_secret().unwrap();
    assert!(raw.starts_with(b"{\"v\":1,"), "{}", String::from_utf8_lossy(&raw[..7]));
}

#[test]
fn replace() {
    let svc = Svc::new("replace");
    let kc = svc.store();
    kc.save("app", &small("old")).unwrap();
    kc.save("app", &small("new")).unwrap();
    assert_eq!(kc.load("app").unwrap(), Some(small("new")));
    assert_eq!(svc.users(), ["app"], "a replace must not leave a second item");
    kc.save("app", &Secrets::default()).unwrap();
    assert_eq!(kc.load("app").unwrap(), Some(Secrets::default()));
}

#[test]
fn load_of_missing_is_none() {
    let svc = Svc::new("missing");
    let kc = svc.store();
    assert_eq!(kc.load("never saved").unwrap(), None);
    assert!(svc.users().is_empty());
}

#[test]
fn large_secrets_are_chunked_and_old_chunks_removed() {
    let svc = Svc::new("large");
    let kc = svc.store().with_max_item_bytes(200);

    let a = large("A", 4);
    kc.save("app", &a).unwrap();
    let users = svc.users();
    let g1 = chunk_users(&users, "app", 1);
    assert!(g1 >= 3, "expected 3+ chunks: {users:?}");
    assert_eq!(users.len(), g1 + 1, "{users:?}");
    assert_eq!(kc.load("app").unwrap(), Some(a));
    // A store with the default item size still reads what was chunked.
    assert_eq!(svc.store().load("app").unwrap(), Some(large("A", 4)));

    let b = large("B", 3);
    kc.save("app", &b).unwrap();
    let users = svc.users();
    assert_eq!(chunk_users(&users, "app", 1), 0, "old generation left: {users:?}");
    assert!(chunk_users(&users, "app", 2) >= 3, "{users:?}");
    assert_eq!(kc.load("app").unwrap(), Some(b));

    kc.save("app", &small("inline")).unwrap();
    assert_eq!(svc.users(), ["app"]);
    assert_eq!(kc.load("app").unwrap(), Some(small("inline")));

    // The same, seen by an independent Secret Service client (it prints attributes on stderr).
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", &svc.name])
        .output()
        .expect("run secret-tool (package libsecret-tools)");
    assert!(out.status.success());
    let text = [out.stdout, out.stderr].concat();
    let text = String::from_utf8_lossy(&text);
    let found: Vec<&str> = text.lines().filter(|l| l.starts_with("attribute.username = ")).collect();
    assert_eq!(found, ["attribute.username = app"]);
}

#[test]
fn delete_removes_head_and_chunks() {
    let svc = Svc::new("delete");
    let kc = svc.store().with_max_item_bytes(200);
    kc.save("app", &large("D", 3)).unwrap();
    kc.save("other", &small("keep")).unwrap();
    assert!(svc.users().len() >= 5);
    kc.delete("app").unwrap();
    assert_eq!(kc.load("app").unwrap(), None);
    assert_eq!(svc.users(), ["other"]);
    kc.delete("app").unwrap();
    kc.delete("never saved").unwrap();
    assert_eq!(kc.load("other").unwrap(), Some(small("keep")));
}

#[test]
fn damaged_head_is_reported_and_left_alone() {
    let svc = Svc::new("damaged");
    let kc = svc.store();
    for garbage in [&b"SECRET-looking garbage"[..], b"\xff\xfe\x00SECRET", b"{\"v\":9,\"x\":\"SECRET\"}"] {
        svc.raw("app").set_secret(garbage).unwrap();
        let err = kc.load("app").unwrap_err();
        let text = format!("{err} / {err:?}");
        assert!(matches!(err, StoreError::Damaged(_)), "{text}");
        assert!(text.contains("\"app\""), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(svc.raw("app").get_secret().unwrap(), garbage, "a failed load changed the item");
    }
    // Saving replaces the damaged item.
    kc.save("app", &small("fixed")).unwrap();
    assert_eq!(kc.load("app").unwrap(), Some(small("fixed")));
    assert_eq!(svc.users(), ["app"]);
}

#[test]
fn missing_chunk_is_damage() {
    let svc = Svc::new("missing_chunk");
    let kc = svc.store().with_max_item_bytes(200);
    kc.save("app", &large("M", 3)).unwrap();
    svc.raw("app#g1.1").delete_credential().unwrap();
    let err = kc.load("app").unwrap_err();
    assert!(matches!(&err, StoreError::Damaged(m) if m.contains("\"app\"") && m.contains("part 2 of")), "{err}");
    assert!(!err.to_string().contains("JJJJ"));
    // A new save repairs it and leaves no stray parts.
    kc.save("app", &large("N", 3)).unwrap();
    assert_eq!(kc.load("app").unwrap(), Some(large("N", 3)));
    let users = svc.users();
    assert_eq!(chunk_users(&users, "app", 1), 0, "{users:?}");
}

/// A reader running while another thread keeps replacing a chunked item must see one whole
/// save or the other, never a mix, and (thanks to re-reading the head) no spurious damage.
/// The writer pauses briefly between saves, as a keeper does (it saves once per refresh);
/// back-to-back saves sharing this process's one D-Bus connection could starve the reader.
#[test]
fn concurrent_reader_never_sees_a_mix() {
    let svc = Svc::new("concurrent");
    let kc = Arc::new(svc.store().with_max_item_bytes(200));
    let (a, b) = (large("A", 4), large("B", 5));
    kc.save("app", &a).unwrap();
    let writer = {
        let kc = kc.clone();
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || {
            for i in 0..15 {
                kc.save("app", if i % 2 == 0 { &b } else { &a }).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let seen = kc.load("app").unwrap().expect("stored");
        assert!(seen == a || seen == b, "a mix of two saves was read");
        reads += 1;
    }
    writer.join().unwrap();
    assert!(reads > 0);
    let users = svc.users();
    assert_eq!(users.len(), 1 + chunk_users(&users, "app", 1) + chunk_users(&users, "app", 2));
}

#[test]
fn service_name_from_environment() {
    let kc = KeychainStore::from_env().unwrap();
    let expected =
        std::env::var(SERVICE_ENV).ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "tokenkeeper".to_owned());
    assert_eq!(kc.service(), expected);
}

/// The store blocks, but calling it straight from async code must still work (it uses its own
/// D-Bus executor, not tokio's); the engine still calls it through `spawn_blocking`.
#[tokio::test(flavor = "current_thread")]
async fn usable_inside_a_tokio_runtime() {
    let svc = Svc::new("tokio");
    let kc = svc.store();
    kc.save("app", &small("t")).unwrap();
    assert_eq!(kc.load("app").unwrap(), Some(small("t")));
    let kc = Arc::new(kc);
    let k2 = kc.clone();
    let loaded = tokio::task::spawn_blocking(move || k2.load("app")).await.unwrap().unwrap();
    assert_eq!(loaded, Some(small("t")));
}

#[test]
fn latency_is_a_few_milliseconds() {
    let svc = Svc::new("latency");
    let kc = svc.store();
    let rounds = 20;
    let start = Instant::now();
    for i in 0..rounds {
        kc.save("app", &small(&i.to_string())).unwrap();
    }
    let save = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        kc.load("app").unwrap().unwrap();
    }
    let load = start.elapsed() / rounds;
    let big = kc.with_max_item_bytes(200);
    let start = Instant::now();
    for i in 0..rounds {
        big.save("big", &large(&i.to_string(), 4)).unwrap();
    }
    let save_chunked = start.elapsed() / rounds;
    let start = Instant::now();
    for _ in 0..rounds {
        big.load("big").unwrap().unwrap();
    }
    let load_chunked = start.elapsed() / rounds;
    eprintln!(
        "per call: save {save:?}, load {load:?}; chunked (5 parts): save {save_chunked:?}, load {load_chunked:?}"
    );
    // Generous bounds: only a store that hangs or reconnects on every call fails them.
    assert!(save < Duration::from_millis(250) && load < Duration::from_millis(250));
}

//! OpenBao, for real: the harness (dev server, three-node Raft cluster and its faults) and the
//! engine's vault client on top of it (`tokenkeeper_engine::shared`): KV v2 with check-and-set,
//! token and AppRole credentials, failover across nodes, the renewal lease, and bad input —
//! each failure a plain sentence, nothing lost.
//!
//! Needs `bao` (scripts/ensure-openbao.sh) and, for one wrong address, the OAuth fixture's
//! node_modules; no keychain or notification daemon.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokenkeeper_engine::clock::{Moment, Span};
use tokenkeeper_engine::secret::{AppRoleSecretId, VaultToken};
use tokenkeeper_engine::shared::auth::{self, Credential};
use tokenkeeper_engine::shared::client::{Address, ClientSettings, VaultClient};
use tokenkeeper_engine::shared::lease::{self, KeeperId, Kept, Publish, TakeOutcome, CLOCK_ALLOWANCE};
use tokenkeeper_engine::shared::openbao::OpenBaoStore;
use tokenkeeper_engine::shared::store::{Cas, RecordPath, SharedStore, Version};
use tokenkeeper_engine::shared::{VaultError, VaultErrorKind};
use tokenkeeper_tests::openbao::{bao_api, BaoAdmin, BaoCluster, BaoDev};
use tokenkeeper_tests::{wait_until, OidcServer};

const PREFIX: &str = "tokenkeeper/team";

fn vault_client(addrs: &[&str]) -> Arc<VaultClient> {
    let addresses = addrs.iter().map(|a| Address::parse(a).expect("address")).collect();
    let mut settings = ClientSettings::new(addresses);
    settings.request_timeout = Duration::from_secs(3);
    Arc::new(VaultClient::new(settings).expect("client"))
}

async fn connect(addrs: &[&str], token: &str) -> Result<OpenBaoStore, VaultError> {
    let client = vault_client(addrs);
    auth::log_in(&client, &Credential::Token(VaultToken::new(token.to_owned()))).await?;
    OpenBaoStore::open(client, "secret", PREFIX).await
}

async fn dev_store(dev: &BaoDev) -> OpenBaoStore {
    connect(&[dev.addr()], dev.admin().root_token()).await.expect("connect to the dev server")
}

fn path(p: &str) -> RecordPath {
    RecordPath::parse(p).unwrap()
}

fn now() -> Moment {
    Moment::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

/// What `bao kv get` shows of a record: its version and data.
fn kv_get(admin: &BaoAdmin, record: &str) -> (u64, Value) {
    let out = admin.cli(&["kv", "get", "-mount=secret", "-format=json", &format!("{PREFIX}/{record}")]).unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    (v["data"]["metadata"]["version"].as_u64().unwrap(), v["data"]["data"].clone())
}

/// A sentence for a person: plain words, the technical detail elsewhere.
fn assert_plain(e: &VaultError, starts: &str) {
    let s = e.sentence();
    assert!(s.starts_with(starts), "{s:?} does not start with {starts:?} (detail: {})", e.detail());
    for word in ["HTTP", "cas", "permission denied", "403", "503", "KV", "{"] {
        assert!(!s.contains(word), "{word:?} in the sentence {s:?}");
    }
    assert!(!e.detail().is_empty());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    token: String,
    expires_at: i64,
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

#[test]
fn dev_server_starts_serves_kv2_seals_and_unseals() {
    let t0 = std::time::Instant::now();
    let dev = BaoDev::start();
    eprintln!("dev server up in {:?}", t0.elapsed());
    let admin = dev.admin();
    admin.cli(&["kv", "put", "-mount=secret", "a/b", "k=v"]).unwrap();
    assert!(admin.cli(&["kv", "get", "-mount=secret", "-field=k", "a/b"]).unwrap().starts_with('v'));
    dev.seal().unwrap();
    assert_eq!(admin.health(), Some(503));
    dev.unseal().unwrap();
    assert_eq!(admin.health(), Some(200));
    assert!(admin.cli(&["kv", "get", "-mount=secret", "-field=k", "a/b"]).unwrap().starts_with('v'));
}

// ---------------------------------------------------------------------------------------------
// The client: KV v2, credentials, failover
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_are_read_with_their_version_and_written_only_by_check_and_set() {
    let dev = BaoDev::start();
    let store = dev_store(&dev).await;
    let jira = path("integrations/jira");
    assert_eq!(store.read::<Record>(&jira).await.unwrap(), None);
    let one = Record { token: "one".into(), expires_at: 10 };
    let v1 = store.write(&jira, &one, Cas::Absent).await.unwrap();
    assert_eq!(v1, Version::new(1));
    let read = store.read::<Record>(&jira).await.unwrap().unwrap();
    assert_eq!((read.version, read.data.as_ref()), (v1, Some(&one)));
    assert_eq!(kv_get(dev.admin(), "integrations/jira"), (1, json!({"token": "one", "expires_at": 10})));

    let e = store.write(&jira, &one, Cas::Absent).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Conflict { path: format!("secret/{PREFIX}/integrations/jira") });
    let two = Record { token: "two".into(), expires_at: 20 };
    assert_eq!(store.write(&jira, &two, Cas::At(v1)).await.unwrap(), Version::new(2));
    assert!(store.write(&jira, &one, Cas::At(v1)).await.is_err(), "a stale version is refused");
    assert_eq!(store.read::<Record>(&jira).await.unwrap().unwrap().data, Some(two));

    store.write(&path("integrations/github"), &one, Cas::Absent).await.unwrap();
    store.write(&path("leases/jira"), &json!({"holder": "", "until_ms": 0}), Cas::Absent).await.unwrap();
    assert_eq!(store.list(None).await.unwrap(), ["integrations/", "leases/"]);
    assert_eq!(store.list(Some(&path("integrations"))).await.unwrap(), ["github", "jira"]);
    assert_eq!(store.list(Some(&path("nothing"))).await.unwrap(), Vec::<String>::new());
    let meta = store.metadata(&jira).await.unwrap().unwrap();
    assert_eq!(meta.current_version, Version::new(2));

    // a deleted version reads as "no data" with its version, so it can be written over by cas
    dev.admin().cli(&["kv", "delete", "-mount=secret", &format!("{PREFIX}/integrations/jira")]).unwrap();
    let deleted = store.read::<Record>(&jira).await.unwrap().unwrap();
    assert_eq!((deleted.version, deleted.data), (Version::new(2), None));

    store.remove(&jira).await.unwrap();
    assert_eq!(store.read::<Record>(&jira).await.unwrap(), None);
    assert_eq!(store.list(Some(&path("integrations"))).await.unwrap(), ["github"]);
}

#[tokio::test]
async fn a_token_and_an_approle_log_in_and_the_token_is_renewed() {
    let dev = BaoDev::start();
    let admin = dev.admin();
    admin
        .write_policy("team", &format!("path \"secret/data/{PREFIX}/*\" {{ capabilities = [\"create\", \"read\", \"update\"] }}\npath \"secret/metadata/{PREFIX}/*\" {{ capabilities = [\"list\", \"read\"] }}"))
        .unwrap();
    let token = admin.create_token(&["team"], "30s", "1h").unwrap();
    let client = vault_client(&[dev.addr()]);
    let life = auth::log_in(&client, &Credential::Token(VaultToken::new(token))).await.unwrap();
    let left = life.remaining.expect("a token that expires");
    assert!(life.renewable && left <= Duration::from_secs(30) && left > Duration::from_secs(20), "{life:?}");
    let renewed = auth::renew_self(&client, Some(Duration::from_secs(600))).await.unwrap();
    assert!(renewed.remaining.unwrap() > Duration::from_secs(500), "{renewed:?}");
    let looked = auth::lookup_self(&client).await.unwrap();
    assert!(looked.remaining.unwrap() > Duration::from_secs(500), "{looked:?}");
    let store = OpenBaoStore::open(client, "secret", PREFIX).await.unwrap();
    store.write(&path("x"), &json!({"a": 1}), Cas::Absent).await.unwrap();

    let (role_id, secret_id) = admin.approle("server", &["team"], "20s").unwrap();
    let server = vault_client(&[dev.addr()]);
    let approle = Credential::AppRole { role_id: role_id.clone(), secret_id: AppRoleSecretId::new(secret_id.clone()) };
    assert!(!format!("{approle:?}").contains(&secret_id), "the secret ID is redacted");
    let life = auth::log_in(&server, &approle).await.unwrap();
    assert!(life.remaining.unwrap() <= Duration::from_secs(20), "{life:?}");
    let store = OpenBaoStore::open(server.clone(), "secret", PREFIX).await.unwrap();
    assert!(store.read::<Value>(&path("x")).await.unwrap().is_some());
    // AppRole logs in again by itself: a second login gives a new token
    let first = server.token().unwrap();
    auth::log_in(&server, &approle).await.unwrap();
    assert_ne!(server.token().unwrap(), first);

    let wrong = Credential::AppRole { role_id, secret_id: AppRoleSecretId::new("not-the-secret".into()) };
    let e = auth::log_in(&client_for(&dev), &wrong).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::AccessEnded);
    assert_plain(&e, "Token Keeper can no longer reach the team vault: its access has ended");
    assert!(!format!("{e:?} {}", e.sentence()).contains("not-the-secret"));
}

fn client_for(dev: &BaoDev) -> Arc<VaultClient> {
    vault_client(&[dev.addr()])
}

#[tokio::test]
async fn a_dead_address_and_a_sealed_node_are_skipped() {
    let live = BaoDev::start();
    let sealed = BaoDev::start();
    sealed.seal().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let store = connect(&[&dead, sealed.addr(), live.addr()], live.admin().root_token()).await.unwrap();
    store.write(&path("x"), &json!({"a": 1}), Cas::Absent).await.unwrap();
    assert_eq!(store.client().address_in_use().as_str().trim_end_matches('/'), live.addr());

    // only the dead one and the sealed one: the sentence says "locked", the detail names both
    let e = connect(&[&dead, sealed.addr()], live.admin().root_token()).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Sealed);
    assert_plain(&e, "Token Keeper can no longer reach the team vault: the vault is locked");
    assert!(e.detail().contains(&dead) && e.detail().contains("sealed"), "{}", e.detail());
}

/// Calls `op` (a vault call) until it succeeds, up to `timeout`; every failure meanwhile must be
/// one the keeper would retry. Returns the result and how many failures there were.
fn until_served<T>(timeout: Duration, mut op: impl FnMut() -> Result<T, VaultError>) -> (Option<T>, usize) {
    let (mut result, mut failures) = (None, 0);
    wait_until(timeout, Duration::from_millis(200), || match op() {
        Ok(v) => {
            result = Some(v);
            true
        }
        Err(e) => {
            assert!(e.is_transient(), "{e:?}");
            failures += 1;
            false
        }
    });
    (result, failures)
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

/// Keepers "a" (on `a`) and "b" (on `b`) try to take the lease at `lease_path` at the same
/// moment; asserts that exactly one wins, and returns its name.
async fn race_for_lease(a: &Arc<OpenBaoStore>, b: &Arc<OpenBaoStore>, lease_path: &RecordPath) -> &'static str {
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let race = |store: Arc<OpenBaoStore>, me: &str| {
        let (start, lease_path, me) = (start.clone(), lease_path.clone(), KeeperId::new(me));
        tokio::spawn(async move {
            start.wait().await;
            lease::take(&*store, &lease_path, &me, now(), Span::from_secs(30)).await
        })
    };
    let (ra, rb) = (race(a.clone(), "a"), race(b.clone(), "b"));
    let outcomes = [ra.await.unwrap(), rb.await.unwrap()];
    let won: Vec<bool> = outcomes.iter().map(|o| matches!(o, Ok(TakeOutcome::Taken(_)))).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{lease_path}: {outcomes:?}");
    if won[0] {
        "a"
    } else {
        "b"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raft_cluster_serves_through_standbys_a_killed_leader_and_a_stopped_node() {
    let t0 = std::time::Instant::now();
    let mut cluster = BaoCluster::start(3);
    eprintln!("three-node cluster up in {:?}", t0.elapsed());
    let leader = cluster.leader().expect("a leader");
    for i in 0..3 {
        assert_eq!(cluster.admin_at(i).health(), Some(if i == leader { 200 } else { 429 }), "node{i}");
    }
    let (standby, third) = ((leader + 1) % 3, (leader + 2) % 3);
    let addrs = cluster.addrs();
    let root = cluster.root_token().to_owned();

    // keepers on different nodes race for leases: a standby checks on its copy, the leader on
    // committed data; still exactly one wins each time
    let on_standby = Arc::new(connect(&[&addrs[standby]], &root).await.unwrap());
    let on_leader = Arc::new(connect(&[&addrs[leader]], &root).await.unwrap());
    for round in 0..10 {
        let lease_path = lease::lease_path(&format!("jira-{round}")).unwrap();
        let winner = race_for_lease(&on_standby, &on_leader, &lease_path).await;
        let on_leader_now = cluster.admin_at(leader).api("GET", &format!("secret/data/{PREFIX}/{lease_path}"), None);
        let holder = on_leader_now.unwrap()["data"]["data"]["holder"].clone();
        assert_eq!(holder, winner, "round {round}");
    }

    // a client that knows every node starts with the leader, even when a standby is listed first
    let order = [addrs[standby].as_str(), addrs[leader].as_str(), addrs[third].as_str()];
    let store = connect(&order, &root).await.unwrap();
    assert_eq!(store.client().address_in_use().as_str().trim_end_matches('/'), addrs[leader]);
    let x = path("x");
    let version = store.write(&x, &json!({"n": 0}), Cas::Absent).await.unwrap();

    // the leader and a standby die: the last node has no quorum and cannot take the write (its
    // copy may even lack the last record: that is "not ready", never "someone else wrote")
    cluster.kill(leader);
    cluster.kill(standby);
    let e = store.write(&x, &json!({"n": 1}), Cas::At(version)).await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_plain(&e, "Token Keeper can no longer reach the team vault");

    // a second node back: a new leader, and the client finds it by itself
    cluster.restart(standby).unwrap();
    let t1 = std::time::Instant::now();
    let (written, failures) =
        until_served(Duration::from_secs(90), || block(store.write(&x, &json!({"n": 1}), Cas::At(version))));
    let new_leader = cluster.leader();
    eprintln!("served again after {:?} ({failures} transient failures); leader node{new_leader:?}", t1.elapsed());
    assert!(written.is_some(), "no node served after a restart; node{standby}'s log:\n{}", cluster.log_tail(standby));
    assert_ne!(new_leader, Some(leader));
    assert_eq!(store.read::<Value>(&x).await.unwrap().unwrap().data, Some(json!({"n": 1})));

    // the old leader comes back as a standby
    cluster.restart(leader).unwrap();
    assert!(wait_until(Duration::from_secs(60), Duration::from_millis(100), || cluster.admin_at(leader).health()
        == Some(429)));

    // a stopped node (SIGSTOP) answers nothing; a client that lists it first skips it
    let stopped = (0..3).find(|&i| Some(i) != cluster.leader()).unwrap();
    cluster.pause(stopped);
    assert_eq!(cluster.admin_at(stopped).health(), None, "a stopped node answers nothing");
    let rest: Vec<&str> = (0..3).filter(|&i| i != stopped).map(|i| addrs[i].as_str()).collect();
    let store = connect(&[&addrs[stopped], rest[0], rest[1]], &root).await.unwrap();
    assert_ne!(store.client().address_in_use().as_str().trim_end_matches('/'), addrs[stopped]);
    let (read, _) = until_served(Duration::from_secs(30), || block(store.read::<Value>(&x)));
    assert_eq!(read.unwrap().unwrap().data, Some(json!({"n": 1})));
    cluster.resume(stopped);
    assert!(wait_until(Duration::from_secs(30), Duration::from_millis(100), || cluster
        .admin_at(stopped)
        .health()
        .is_some()));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// The lease
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_keepers_racing_for_the_lease_exactly_one_wins() {
    let dev = BaoDev::start();
    let a = Arc::new(dev_store(&dev).await);
    let b = Arc::new(dev_store(&dev).await);
    for round in 0..20 {
        let lease_path = lease::lease_path(&format!("jira-{round}")).unwrap();
        let winner = race_for_lease(&a, &b, &lease_path).await;
        let (_, data) = kv_get(dev.admin(), lease_path.as_str());
        assert_eq!(data["holder"], winner, "round {round}");
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_old_holder_learns_it() {
    let dev = BaoDev::start();
    let a_store = dev_store(&dev).await;
    let b_store = dev_store(&dev).await;
    let (a, b) = (KeeperId::new("keeper-a"), KeeperId::new("keeper-b"));
    let jira = lease::lease_path("jira").unwrap();
    let t = now();
    let one_second = Span::SECOND;
    let TakeOutcome::Taken(mut a_lease) = lease::take(&a_store, &jira, &a, t, one_second).await.unwrap() else {
        panic!("a takes the free lease")
    };
    assert_eq!(
        lease::take(&b_store, &jira, &b, t.plus(Span::from_millis(500)), one_second).await.unwrap(),
        TakeOutcome::Busy { holder: a.clone(), until: t.plus(Span::SECOND) }
    );
    // a is killed: b waits out the lease (and the clock allowance), then takes it over
    let later = t.plus(Span::SECOND).plus(CLOCK_ALLOWANCE);
    let TakeOutcome::Taken(b_lease) = lease::take(&b_store, &jira, &b, later, one_second).await.unwrap() else {
        panic!("b takes over the lapsed lease")
    };
    assert_eq!(lease::extend(&a_store, &mut a_lease, later, one_second).await.unwrap(), Kept::Lost);
    lease::release(&a_store, a_lease).await.unwrap();
    assert_eq!(kv_get(dev.admin(), jira.as_str()).1["holder"], "keeper-b", "a's late release changed nothing");
    lease::release(&b_store, b_lease).await.unwrap();
    assert_eq!(kv_get(dev.admin(), jira.as_str()).1, json!({"holder": "", "until_ms": 0}));
}

#[tokio::test]
async fn a_write_on_a_stale_version_is_someone_else_renewed() {
    let dev = BaoDev::start();
    let a = dev_store(&dev).await;
    let b = dev_store(&dev).await;
    let jira = path("integrations/jira");
    a.write(&jira, &Record { token: "one".into(), expires_at: 1 }, Cas::Absent).await.unwrap();
    let a_read = a.read::<Record>(&jira).await.unwrap().unwrap();
    let b_read = b.read::<Record>(&jira).await.unwrap().unwrap();
    let b_tokens = Record { token: "from-b".into(), expires_at: 2 };
    assert_eq!(lease::publish(&b, &jira, &b_tokens, b_read.cas()).await.unwrap(), Publish::Written(Version::new(2)));
    let a_tokens = Record { token: "from-a".into(), expires_at: 3 };
    assert_eq!(lease::publish(&a, &jira, &a_tokens, a_read.cas()).await.unwrap(), Publish::SomeoneElseRenewed);
    assert_eq!(kv_get(dev.admin(), "integrations/jira"), (2, json!({"token": "from-b", "expires_at": 2})));
}

// ---------------------------------------------------------------------------------------------
// Bad input: each a sentence, nothing lost
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_wrong_address_is_a_sentence() {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let e = connect(&[&nobody], "whatever").await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Unreachable);
    assert_plain(&e, "Token Keeper can no longer reach the team vault: none of its addresses answered");
    assert!(e.detail().contains(&nobody), "{}", e.detail());

    // another service at the address (here the OAuth test server): not "no storage area"
    let other = OidcServer::start_default();
    let e = connect(&[&other.issuer()], "whatever").await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::NotAVault { address: other.issuer() }, "{e:?}");
    assert_plain(&e, &format!("The address {} does not lead to a team vault", other.issuer()));

    let e = Address::parse("http://vault.example.com:8200").unwrap_err();
    assert_plain(
        &e,
        "The team vault's address http://vault.example.com:8200 cannot be used: it must start with https://",
    );
}

#[tokio::test]
async fn https_with_the_vaults_own_ca_works_and_without_it_is_refused() {
    let dev = BaoDev::start_tls();
    assert!(dev.addr().starts_with("https://"));
    let pem = std::fs::read(dev.ca_cert().unwrap()).unwrap();
    let mut settings = ClientSettings::new(vec![Address::parse(dev.addr()).unwrap()]);
    settings.ca_cert_pem = Some(pem);
    let trusted = Arc::new(VaultClient::new(settings).unwrap());
    auth::log_in(&trusted, &Credential::Token(VaultToken::new(dev.admin().root_token().to_owned()))).await.unwrap();
    let store = OpenBaoStore::open(trusted, "secret", PREFIX).await.unwrap();
    store.write(&path("x"), &json!({"a": 1}), Cas::Absent).await.unwrap();

    // the system's roots do not know the dev CA: no connection, said in words
    let e = connect(&[dev.addr()], dev.admin().root_token()).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Unreachable, "{e:?}");
    assert_plain(&e, "Token Keeper can no longer reach the team vault: none of its addresses answered");

    let mut settings = ClientSettings::new(vec![Address::parse(dev.addr()).unwrap()]);
    settings.ca_cert_pem = Some(b"not a certificate".to_vec());
    let e = VaultClient::new(settings).unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::BadCertificate);
    assert_plain(&e, "The certificate file given for the team vault cannot be used");
}

#[tokio::test]
async fn a_kv_v1_mount_and_a_missing_mount_are_sentences_and_nothing_is_written() {
    let dev = BaoDev::start();
    let admin = dev.admin();
    admin.enable_kv("kv1", 1).unwrap();
    let client = client_for(&dev);
    auth::log_in(&client, &Credential::Token(VaultToken::new(admin.root_token().to_owned()))).await.unwrap();
    let e = OpenBaoStore::open(client.clone(), "kv1", PREFIX).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::NotKv2 { mount: "kv1".into() });
    assert_plain(&e, "The storage area \"kv1\" in the team vault does not keep versions");
    let (status, _) = bao_api(dev.addr(), Some(admin.root_token()), "LIST", "kv1", None).unwrap();
    assert_eq!(status, 404, "nothing was written into the KV v1 mount");

    let e = OpenBaoStore::open(client, "nosuch", PREFIX).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::MountMissing { mount: "nosuch".into() });
    assert_plain(&e, "The team vault has no storage area called \"nosuch\"");
}

#[tokio::test]
async fn a_sealed_vault_is_a_sentence_and_the_records_are_there_after_unsealing() {
    let dev = BaoDev::start();
    let store = dev_store(&dev).await;
    let jira = path("integrations/jira");
    let v1 = store.write(&jira, &Record { token: "keep-me".into(), expires_at: 1 }, Cas::Absent).await.unwrap();
    dev.seal().unwrap();
    let e = store.read::<Record>(&jira).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Sealed);
    assert!(e.is_transient());
    assert_plain(&e, "Token Keeper can no longer reach the team vault: the vault is locked (sealed)");
    let e = store.write(&jira, &Record { token: "x".into(), expires_at: 2 }, Cas::At(v1)).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Sealed);
    dev.unseal().unwrap();
    let read = store.read::<Record>(&jira).await.unwrap().unwrap();
    assert_eq!((read.version, read.data.unwrap().token.as_str()), (v1, "keep-me"));
}

#[tokio::test]
async fn an_expired_or_revoked_token_is_access_ended_not_a_missing_permission() {
    let dev = BaoDev::start();
    let admin = dev.admin();
    admin
        .write_policy(
            "team",
            &format!("path \"secret/data/{PREFIX}/*\" {{ capabilities = [\"create\", \"read\", \"update\"] }}"),
        )
        .unwrap();
    // long enough for the calls below on a loaded machine; then it expires by itself
    let short = admin.create_token(&["team"], "6s", "6s").unwrap();
    let store = connect(&[dev.addr()], &short).await.unwrap();
    let jira = path("integrations/jira");
    store.write(&jira, &Record { token: "keep-me".into(), expires_at: 1 }, Cas::Absent).await.unwrap();
    // a path the policy does not cover, while the token lives: denied, naming the path
    let other = OpenBaoStore::open(store.client().clone(), "secret", "tokenkeeper/team-b").await.unwrap();
    let e = other.read::<Record>(&jira).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::Denied { path: "secret/tokenkeeper/team-b/integrations/jira".into() });
    assert_plain(
        &e,
        "The team vault does not allow Token Keeper to use \"secret/tokenkeeper/team-b/integrations/jira\"",
    );
    // expired: wait for the vault to say so (bounded), then every call is "access ended"
    assert!(wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        bao_api(dev.addr(), Some(&short), "GET", "auth/token/lookup-self", None).map(|(s, _)| s).ok() == Some(403)
    }));
    let e = store.read::<Record>(&jira).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::AccessEnded, "{e:?}");
    assert_plain(&e, "Token Keeper can no longer reach the team vault: its access has ended");
    assert_eq!(auth::lookup_self(store.client()).await.unwrap_err().kind(), &VaultErrorKind::AccessEnded);
    assert_eq!(kv_get(admin, "integrations/jira").1["token"], "keep-me", "nothing lost");

    let revoked = admin.create_token(&["team"], "1h", "1h").unwrap();
    let store = connect(&[dev.addr()], &revoked).await.unwrap();
    admin.revoke_token(&revoked).unwrap();
    let e = store.write(&jira, &json!({"token": "x"}), Cas::At(Version::new(1))).await.unwrap_err();
    assert_eq!(e.kind(), &VaultErrorKind::AccessEnded, "{e:?}");
    assert_eq!(kv_get(admin, "integrations/jira").1["token"], "keep-me", "nothing lost");
}

#[tokio::test]
async fn a_record_damaged_by_hand_is_a_sentence_and_left_as_it_is() {
    let dev = BaoDev::start();
    let admin = dev.admin();
    let store = dev_store(&dev).await;
    let jira = lease::lease_path("jira").unwrap();
    for (i, fields) in [vec!["holder=someone"], vec!["holder=someone", "until_ms=tomorrow"], vec!["note=hello"]]
        .into_iter()
        .enumerate()
    {
        let mut args = vec!["kv", "put", "-mount=secret"];
        let full = format!("{PREFIX}/{jira}");
        args.push(&full);
        args.extend(fields.iter().copied());
        admin.cli(&args).unwrap();
        let before = kv_get(admin, jira.as_str());
        let e = lease::take(&store, &jira, &KeeperId::new("a"), now(), Span::from_secs(30)).await.unwrap_err();
        assert_eq!(e.kind(), &VaultErrorKind::Damaged { path: format!("secret/{PREFIX}/leases/jira") }, "case {i}");
        assert_plain(&e, &format!("The shared record \"secret/{PREFIX}/leases/jira\" in the team vault is damaged"));
        assert!(!e.detail().contains("tomorrow"), "the detail quotes no content: {}", e.detail());
        assert_eq!(kv_get(admin, jira.as_str()), before, "case {i}: the damaged record was left as it is");
    }
}

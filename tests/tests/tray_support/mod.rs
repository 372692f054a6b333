//! Shared by the tray app's end-to-end tests (`tray_*.rs`): a sandbox of XDG directories and a
//! private keychain service per test, the `tokenkeeper` command, a tiny probe server, the app
//! process, and the desktop side of the tray — a StatusNotifierWatcher the app registers with,
//! and a com.canonical.dbusmenu client that reads and clicks the real menu.
//!
//! Needs a desktop session (a session bus with a Secret Service and an X display): run the tests
//! as `dbus-run-session -- tests/env/session.sh cargo test -p tokenkeeper-tests --test tray_…`.
//! Without one, they fail with that instruction (`desktop_session()`): a test that did not run
//! never passes.

#![allow(dead_code, unused_imports)] // each test file uses part of this

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use zbus::zvariant::{OwnedValue, Value};

pub mod webdriver;

/// Requires a desktop session (session bus and display): fails the test without one.
pub fn desktop_session(test: &str) -> bool {
    let ok = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() && std::env::var_os("DISPLAY").is_some();
    assert!(ok, "{test}: needs a desktop session; run under `dbus-run-session -- tests/env/session.sh` (`make test`)");
    ok
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("target"))
}

/// Where tests leave screenshots for people to look at.
pub fn screenshots_dir() -> PathBuf {
    let dir = target_dir().join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// The app and the `tokenkeeper` command: `TRAY_APP_BIN` / `TOKENKEEPER_BIN`, or built now (debug;
/// a no-op when up to date). The app's front end must have been built (`ui/dist`).
pub fn binaries() -> (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        let app = std::env::var_os("TRAY_APP_BIN").map(PathBuf::from);
        let cli = std::env::var_os("TOKENKEEPER_BIN").map(PathBuf::from);
        if app.is_none() || cli.is_none() {
            // one package at a time: together, cargo would unify their features and rebuild both
            for package in ["token-keeper", "tokenkeeper"] {
                let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                    .args(["build", "-p", package])
                    .current_dir(workspace_root())
                    .output()
                    .expect("run cargo build");
                // the reason first: CI shows the panic message, not always the output before it
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                assert!(out.status.success(), "cargo build -p {package} failed:\n{}", tail.join("\n"));
            }
        }
        let debug = target_dir().join("debug");
        (app.unwrap_or_else(|| debug.join("token-keeper")), cli.unwrap_or_else(|| debug.join("tokenkeeper")))
    })
    .clone()
}

/// Private XDG directories and keychain service: one keeper installation per test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub keychain_service: String,
    /// Variables the test picks for the app, the window and the command alike (`TZ`, `LANG`).
    picked: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox> {
        // TRAY_KEEP=1 keeps the sandbox (logs of the app, tauri-driver, the OAuth server) for a look
        let keep = std::env::var_os("TRAY_KEEP").is_some();
        let dir = tempfile::Builder::new().prefix("tk-tray-").disable_cleanup(keep).tempdir()?;
        if keep {
            eprintln!("sandbox kept: {}", dir.path().display());
        }
        for sub in ["config", "state", "run", "data", "cache", "home"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o700))?;
        }
        let keychain_service = format!("tokenkeeper-tray-test-{}", rand::random::<u64>());
        Ok(Sandbox { dir, keychain_service, picked: Vec::new() })
    }

    /// The app, the window and the command run with `name=value` (a time zone, a locale).
    pub fn with(mut self, name: &str, value: &str) -> Sandbox {
        self.picked.push((name.to_string(), value.to_string()));
        self
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let p = |s: &str| self.dir.path().join(s).display().to_string();
        vec![
            // auto-launch (Start at login) writes to $HOME/.config/autostart, whatever XDG says
            ("HOME".into(), p("home")),
            ("XDG_CONFIG_HOME".into(), p("config")),
            ("XDG_STATE_HOME".into(), p("state")),
            ("XDG_DATA_HOME".into(), p("data")),
            ("XDG_CACHE_HOME".into(), p("cache")),
            ("XDG_RUNTIME_DIR".into(), p("run")),
            ("TOKENKEEPER_KEYCHAIN_SERVICE".into(), self.keychain_service.clone()),
            // the app must not find a desktop environment's browser settings: BROWSER decides
            ("XDG_CURRENT_DESKTOP".into(), "".into()),
        ]
        .into_iter()
        .chain(self.picked.iter().cloned())
        .collect()
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/tokenkeeper/tokenkeeper.sock")
    }

    /// Runs `tokenkeeper ARGS` with `stdin`; returns its output (any exit code).
    pub async fn cli(&self, args: &[&str], stdin: &str) -> Result<Output> {
        let (_, cli) = binaries();
        let mut child = tokio::process::Command::new(cli)
            .args(args)
            .envs(self.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut input = child.stdin.take().expect("piped");
        input.write_all(stdin.as_bytes()).await?;
        drop(input);
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .context("tokenkeeper hung")??;
        Ok(out)
    }

    /// Runs `tokenkeeper ARGS`, failing on a non-zero exit.
    pub async fn cli_ok(&self, args: &[&str], stdin: &str) -> Result<String> {
        let out = self.cli(args, stdin).await?;
        if !out.status.success() {
            bail!("tokenkeeper {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Adds an OAuth integration whose service is nowhere (127.0.0.1:9): never signed in, and a
    /// sign-in started for it stays pending until the browser would come back.
    pub async fn add_unreachable_oauth(&self, name: &str) -> Result<()> {
        let nowhere = "http://127.0.0.1:9";
        let (auth, token) = (format!("{nowhere}/auth"), format!("{nowhere}/token"));
        let args = [
            "add",
            name,
            "--yes",
            "--provider",
            "oauth2",
            "--client-id",
            "c",
            "--authorize-url",
            &auth,
            "--token-url",
            &token,
        ];
        self.cli_ok(&args, "").await.map(|_| ())
    }

    /// `tokenkeeper list --json`, by name.
    pub async fn states(&self) -> Result<HashMap<String, serde_json::Value>> {
        let text = self.cli_ok(&["list", "--json"], "").await?;
        let list: Vec<serde_json::Value> = serde_json::from_str(&text)?;
        Ok(list.into_iter().map(|v| (v["name"].as_str().unwrap_or_default().to_string(), v)).collect())
    }
}

/// A tiny HTTP server standing in for a service's probe URL: 200 JSON for `Bearer <token>` while
/// `accept` is on, else 401. Counts requests.
pub struct ProbeServer {
    pub port: u16,
    pub accept: Arc<AtomicBool>,
    pub hits: Arc<AtomicUsize>,
    pub token: String,
}

impl ProbeServer {
    pub async fn start(token: &str) -> Result<ProbeServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let accept = Arc::new(AtomicBool::new(true));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, n, want) = (accept.clone(), hits.clone(), format!("authorization: bearer {}", token.to_lowercase()));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (a, n, want) = (a.clone(), n.clone(), want.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut len = 0;
                    while len < buf.len() {
                        let Ok(k) = stream.read(&mut buf[len..]).await else { return };
                        if k == 0 {
                            break;
                        }
                        len += k;
                        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let request = String::from_utf8_lossy(&buf[..len]).to_lowercase();
                    n.fetch_add(1, Ordering::SeqCst);
                    let ok = a.load(Ordering::SeqCst) && request.lines().any(|l| l.trim() == want);
                    let (status, body) = if ok {
                        ("200 OK", "{\"ok\":true}")
                    } else {
                        ("401 Unauthorized", "{\"error\":\"unauthorized\"}")
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Ok(ProbeServer { port, accept, hits, token: token.into() })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ok", self.port)
    }
}

/// The tray app, killed when dropped.
pub struct App {
    pub child: tokio::process::Child,
    pub started: Instant,
    pub log: PathBuf,
}

impl App {
    /// Starts the app in the sandbox; its output goes to `<sandbox>/app.log`.
    pub fn start(sandbox: &Sandbox, extra_env: &[(&str, &str)]) -> Result<App> {
        let (app, _) = binaries();
        let log = sandbox.dir.path().join("app.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let child = tokio::process::Command::new(app)
            .envs(sandbox.env())
            .envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .env("TOKENKEEPER_LOG", "info,token_keeper=debug")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("start the app")?;
        Ok(App { child, started: Instant::now(), log })
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

// ---- the desktop side of the tray ------------------------------------------------------------

/// A registered StatusNotifierItem: (bus name of the app, object path).
pub type Registration = (String, String);

struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
    tx: mpsc::UnboundedSender<Registration>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(&self, #[zbus(header)] header: zbus::message::Header<'_>, service: &str) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        // Some items pass their object path, others their bus name.
        let (name, path) = if service.starts_with('/') {
            (sender, service.to_string())
        } else {
            (service.to_string(), "/StatusNotifierItem".to_string())
        };
        self.items.lock().unwrap().push(format!("{name}{path}"));
        let _ = self.tx.send((name, path));
    }

    async fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }
}

/// Owns `org.kde.StatusNotifierWatcher` on the session bus, as a desktop's panel does.
pub struct Desktop {
    pub conn: zbus::Connection,
    registrations: mpsc::UnboundedReceiver<Registration>,
}

impl Desktop {
    pub async fn start() -> Result<Desktop> {
        let (tx, registrations) = mpsc::unbounded_channel();
        let watcher = Watcher { items: Arc::default(), tx };
        let conn = zbus::connection::Builder::session()?
            .serve_at("/StatusNotifierWatcher", watcher)?
            .name("org.kde.StatusNotifierWatcher")?
            .build()
            .await
            .context("own org.kde.StatusNotifierWatcher (is another test or panel holding it?)")?;
        Ok(Desktop { conn, registrations })
    }

    /// Waits for the next item to register; returns its tray.
    pub async fn next_tray(&mut self, within: Duration) -> Result<Tray> {
        let (dest, path) = tokio::time::timeout(within, self.registrations.recv())
            .await
            .context("the app registered no tray item in time")?
            .context("watcher stopped")?;
        let tray = Tray { conn: self.conn.clone(), dest, item: path, menu: String::new() };
        let menu: zbus::zvariant::OwnedObjectPath = tray.prop("Menu").await?.try_into()?;
        Ok(Tray { menu: menu.to_string(), ..tray })
    }
}

/// StatusNotifierItem's `ToolTip`: icon name, icon pixmaps, title, text.
type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);
/// A dbusmenu layout node: id, properties, children (each a variant holding a node).
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// One app's tray item and menu, seen over D-Bus.
#[derive(Clone)]
pub struct Tray {
    conn: zbus::Connection,
    pub dest: String,
    pub item: String,
    pub menu: String,
}

/// A menu node from `GetLayout`.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: i32,
    /// The label as shown (GTK mnemonic underscores removed).
    pub label: String,
    pub enabled: bool,
    pub separator: bool,
    /// For check items: Some(true/false).
    pub checked: Option<bool>,
    pub children: Vec<Node>,
}

impl Node {
    /// Depth-first: the first node whose label starts with `prefix`.
    pub fn find(&self, prefix: &str) -> Option<&Node> {
        if self.label.starts_with(prefix) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(prefix))
    }

    /// Labels of the direct children ("---" for separators).
    pub fn labels(&self) -> Vec<String> {
        self.children.iter().map(|c| if c.separator { "---".into() } else { c.label.clone() }).collect()
    }

    /// The whole tree, indented, for failure messages.
    pub fn dump(&self) -> String {
        fn walk(n: &Node, depth: usize, out: &mut String) {
            let flags = format!(
                "{}{}",
                if n.enabled { "" } else { " (disabled)" },
                n.checked.map(|c| if c { " [x]" } else { " [ ]" }).unwrap_or("")
            );
            out.push_str(&format!(
                "{}{} {}{}\n",
                "  ".repeat(depth),
                n.id,
                if n.separator { "---" } else { &n.label },
                flags
            ));
            for c in &n.children {
                walk(c, depth + 1, out);
            }
        }
        let mut s = String::new();
        walk(self, 0, &mut s);
        s
    }
}

fn unmnemonic(label: &str) -> String {
    let mut out = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                out.push('_');
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn node(value: &Value<'_>) -> Result<Node> {
    let value = match value {
        Value::Value(inner) => inner.as_ref(),
        v => v,
    };
    let Value::Structure(s) = value else { bail!("a menu node is not a structure: {value:?}") };
    let fields = s.fields();
    let (Some(Value::I32(id)), Some(Value::Dict(props)), Some(Value::Array(children))) =
        (fields.first(), fields.get(1), fields.get(2))
    else {
        bail!("unexpected menu node: {value:?}")
    };
    let props: HashMap<String, OwnedValue> = Value::Dict(props.try_clone()?).try_into()?;
    let children = children.iter().map(node).collect::<Result<Vec<_>>>()?;
    Ok(make_node(*id, &props, children))
}

fn make_node(id: i32, props: &HashMap<String, OwnedValue>, children: Vec<Node>) -> Node {
    let text = |k: &str| props.get(k).and_then(|v| <&str>::try_from(v).ok().map(str::to_string));
    let label = unmnemonic(&text("label").unwrap_or_default());
    let enabled = props.get("enabled").and_then(|v| bool::try_from(v).ok()).unwrap_or(true);
    let separator = text("type").as_deref() == Some("separator");
    let checked = match text("toggle-type").as_deref() {
        Some("checkmark") | Some("radio") => {
            Some(props.get("toggle-state").and_then(|v| i32::try_from(v).ok()).unwrap_or(0) == 1)
        }
        _ => None,
    };
    Node { id, label, enabled, separator, checked, children }
}

impl Tray {
    /// A property of the StatusNotifierItem (`org.kde.StatusNotifierItem`).
    pub async fn prop(&self, name: &str) -> Result<OwnedValue> {
        let reply = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                self.item.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &("org.kde.StatusNotifierItem", name),
            )
            .await
            .with_context(|| format!("read the tray item's {name}"))?;
        Ok(reply.body().deserialize::<OwnedValue>()?)
    }

    pub async fn prop_str(&self, name: &str) -> Result<String> {
        let v = self.prop(name).await?;
        Ok(<&str>::try_from(&v).map(str::to_string).unwrap_or_default())
    }

    /// The tooltip's title (`ToolTip` is `(sa(iiay)ss)`).
    pub async fn tooltip(&self) -> Result<String> {
        let v = self.prop("ToolTip").await?;
        let (_, _, title, _): ToolTip = v.try_into()?;
        Ok(title)
    }

    /// The whole menu.
    pub async fn layout(&self) -> Result<Node> {
        let _ = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                self.menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "AboutToShow",
                &(0i32),
            )
            .await;
        let empty: Vec<&str> = Vec::new();
        let reply = self
            .conn
            .call_method(
                Some(self.dest.as_str()),
                self.menu.as_str(),
                Some("com.canonical.dbusmenu"),
                "GetLayout",
                &(0i32, -1i32, empty),
            )
            .await
            .context("GetLayout")?;
        let body = reply.body();
        let (_revision, (id, props, children)): (u32, Layout) = body.deserialize()?;
        let children = children.iter().map(|c| node(c)).collect::<Result<Vec<_>>>()?;
        Ok(make_node(id, &props, children))
    }

    /// Polls the menu until `check` finds what it wants (the menu is rebuilt asynchronously).
    pub async fn wait_layout<T>(
        &self,
        within: Duration,
        mut check: impl FnMut(&Node) -> Option<T>,
    ) -> Result<(T, Duration)> {
        let start = Instant::now();
        loop {
            let root = self.layout().await?;
            if let Some(found) = check(&root) {
                return Ok((found, start.elapsed()));
            }
            if start.elapsed() > within {
                bail!("the menu did not change as expected within {within:?}; it is:\n{}", root.dump());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Clicks the item whose label starts with `label` (looked up afresh: ids change when the
    /// menu is rebuilt); `under` narrows the search to a submenu. A menu rebuilt between the
    /// look-up and the click refuses the old id: then it is looked up again (a few times).
    pub async fn click(&self, under: Option<&str>, label: &str) -> Result<()> {
        let mut attempts = 0;
        loop {
            let root = self.layout().await?;
            let scope = match under {
                Some(prefix) => {
                    root.find(prefix).with_context(|| format!("no {prefix:?} in the menu:\n{}", root.dump()))?
                }
                None => &root,
            };
            let item = scope.children.iter().find(|c| c.label.starts_with(label)).or_else(|| scope.find(label));
            let item = item.with_context(|| format!("no {label:?} in the menu:\n{}", root.dump()))?;
            let clicked = self
                .conn
                .call_method(
                    Some(self.dest.as_str()),
                    self.menu.as_str(),
                    Some("com.canonical.dbusmenu"),
                    "Event",
                    &(item.id, "clicked", Value::from(0i32), 0u32),
                )
                .await;
            attempts += 1;
            match clicked {
                Ok(_) => return Ok(()),
                Err(e) if attempts < 3 => eprintln!("click {label:?}: {e}; the menu changed, looking again"),
                Err(e) => return Err(e).with_context(|| format!("click {label:?}")),
            }
        }
    }

    /// The icon file the tray shows (libayatana: `IconThemePath`/`IconName`.png, or a path).
    pub async fn icon_file(&self) -> Result<PathBuf> {
        let name = self.prop_str("IconName").await?;
        if name.starts_with('/') {
            return Ok(PathBuf::from(name));
        }
        let dir = self.prop_str("IconThemePath").await?;
        Ok(Path::new(&dir).join(format!("{name}.png")))
    }
}

/// Runs a program, returning its standard output (empty on failure).
pub fn sh(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Waits for an X window whose name matches `name` (xdotool); returns its id.
pub async fn wait_window(name: &str, within: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < within {
        let ids = sh("xdotool", &["search", "--onlyvisible", "--name", name]);
        if let Some(id) = ids.lines().next() {
            return Some(id.to_string());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Memory of a process from /proc (kB): (VmRSS, RssAnon).
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("RssAnon:")?))
}

/// Asks an X window to close exactly as a window manager's close button does: a
/// `WM_PROTOCOLS`/`WM_DELETE_WINDOW` client message (there is no window manager under Xvfb, and
/// this xdotool has no `windowclose`).
pub fn close_window(id: &str) -> Result<()> {
    use x11_dl::xlib;
    let window: xlib::Window = id.trim().parse().context("an X window id")?;
    let x = xlib::Xlib::open().context("load libX11")?;
    // SAFETY: plain Xlib calls on a display opened and closed here; the event is fully initialised.
    unsafe {
        let display = (x.XOpenDisplay)(std::ptr::null());
        anyhow::ensure!(!display.is_null(), "cannot open the X display");
        let protocols = (x.XInternAtom)(display, c"WM_PROTOCOLS".as_ptr(), 0);
        let delete = (x.XInternAtom)(display, c"WM_DELETE_WINDOW".as_ptr(), 0);
        let mut data = xlib::ClientMessageData::new();
        data.set_long(0, delete as std::os::raw::c_long);
        data.set_long(1, 0); // CurrentTime
        let message = xlib::XClientMessageEvent {
            type_: xlib::ClientMessage,
            serial: 0,
            send_event: 1,
            display,
            window,
            message_type: protocols,
            format: 32,
            data,
        };
        let mut event = xlib::XEvent { client_message: message };
        (x.XSendEvent)(display, window, 0, xlib::NoEventMask, &mut event);
        (x.XFlush)(display);
        (x.XCloseDisplay)(display);
    }
    Ok(())
}

//! A small W3C WebDriver client (reqwest + JSON) for the app's window, through tauri-driver and
//! WebKitWebDriver, plus the local OAuth server fixture the wizard signs in against.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// tauri-driver: `TAURI_DRIVER`, or `target/tools/bin/tauri-driver`
/// (`cargo install tauri-driver --locked --root target/tools`).
pub fn tauri_driver_path() -> Result<PathBuf> {
    let path = std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::workspace_root().join("target/tools/bin/tauri-driver"));
    if !path.exists() {
        bail!(
            "tauri-driver is not installed at {}: run `cargo install tauri-driver --locked --root target/tools` (or set TAURI_DRIVER)",
            path.display()
        );
    }
    Ok(path)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// tauri-driver with its own ports; it starts the app (with this process's environment plus
/// `env`) when a session is created. It runs in a process group of its own, and the whole group
/// (tauri-driver, WebKitWebDriver, the app) is killed when dropped: a test that fails half-way
/// must not leave its app running, or the next test's launch finds it (single instance) and
/// never opens a window of its own.
pub struct Driver {
    child: tokio::process::Child,
    pub base: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(env: &[(String, String)], log: &Path) -> Result<Driver> {
        let port = free_port()?;
        let native = free_port()?;
        let file = std::fs::File::create(log)?;
        let child = tokio::process::Command::new(tauri_driver_path()?)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
                "--native-driver",
                "/usr/bin/WebKitWebDriver",
            ])
            .envs(env.iter().cloned())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .context("start tauri-driver")?;
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("tauri-driver did not answer on {base}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Driver { child, base, http })
    }

    /// A session on the app (tauri-driver launches it; the window must open at start).
    pub async fn session(&self, app: &Path) -> Result<Session> {
        let caps =
            json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}});
        let answer: Value = self.http.post(format!("{}/session", self.base)).json(&caps).send().await?.json().await?;
        let id = answer["value"]["sessionId"].as_str().with_context(|| format!("no session: {answer}"))?.to_string();
        Ok(Session { http: self.http.clone(), url: format!("{}/session/{id}", self.base) })
    }

    pub async fn stop(mut self) {
        self.kill_group();
        let _ = self.child.kill().await;
    }

    /// Kills tauri-driver and everything it started.
    fn kill_group(&self) {
        if let Some(pid) = self.child.id() {
            let group = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// One WebDriver session: the app's window.
pub struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        } else if method == reqwest::Method::POST {
            request = request.json(&json!({}));
        }
        let answer: Value = request.send().await?.json().await?;
        if let Some(error) = answer["value"]["error"].as_str() {
            bail!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        Ok(answer["value"].clone())
    }

    /// The element for `css`, waiting up to `within` for it to appear.
    pub async fn find(&self, css: &str, within: Duration) -> Result<String> {
        let start = Instant::now();
        loop {
            match self
                .call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
                .await
            {
                Ok(v) => return Ok(v[ELEMENT].as_str().context("element id")?.to_string()),
                Err(e) if start.elapsed() > within => return Err(e.context(format!("no element {css}"))),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks the element for `css`, found afresh when the page was repainted in between (the
    /// window re-renders on the keeper's events).
    pub async fn click(&self, css: &str) -> Result<()> {
        let mut attempts = 0;
        loop {
            let el = self.find(css, Duration::from_secs(10)).await?;
            match self.call(reqwest::Method::POST, &format!("/element/{el}/click"), None).await {
                Ok(_) => return Ok(()),
                Err(e) if attempts < 3 && e.to_string().contains("stale element") => attempts += 1,
                Err(e) => return Err(e.context(format!("click {css}"))),
            }
        }
    }

    /// Clears the field and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let el = self.find(css, Duration::from_secs(10)).await?;
        self.call(reqwest::Method::POST, &format!("/element/{el}/clear"), None).await?;
        self.call(reqwest::Method::POST, &format!("/element/{el}/value"), Some(json!({"text": text}))).await?;
        Ok(())
    }

    /// Runs `script` (a function body) in the page.
    pub async fn script(&self, script: &str, args: Value) -> Result<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// The text of the first element matching `css` ("" when there is none).
    pub async fn text(&self, css: &str) -> Result<String> {
        let v = self
            .script("const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", json!([css]))
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Waits until the text of `css` satisfies `want`; returns it.
    pub async fn wait_text(&self, css: &str, within: Duration, want: impl Fn(&str) -> bool) -> Result<String> {
        let start = Instant::now();
        loop {
            let text = self.text(css).await?;
            if want(&text) {
                return Ok(text);
            }
            if start.elapsed() > within {
                let page = self.text("main").await.unwrap_or_default();
                bail!(
                    "{css} did not show what was expected within {within:?}; it says {text:?}; the page says: {page}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Replaces the browser's own dialogs (`alert`, `confirm`, `prompt`) with recorders that
    /// answer "no": a test then asserts `browser_dialogs()` is empty (the window has its own).
    pub async fn trap_browser_dialogs(&self) -> Result<()> {
        self.script(
            "window.__browserDialogs = []; \
             for (const kind of ['alert', 'confirm', 'prompt']) { \
               window[kind] = (text) => { window.__browserDialogs.push(kind + ': ' + text); return kind === 'prompt' ? null : false; }; \
             }",
            json!([]),
        )
        .await?;
        Ok(())
    }

    /// What the page tried to show with `alert`/`confirm`/`prompt` since `trap_browser_dialogs`.
    pub async fn browser_dialogs(&self) -> Result<Vec<String>> {
        let v = self
            .script("return window.__browserDialogs || ['the traps are gone (the page reloaded)'];", json!([]))
            .await?;
        Ok(v.as_array()
            .map(|a| a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default())
    }

    /// Drops a file named `name` holding `text` on the window, as a file manager's drag does
    /// (the page sees dragover, then drop, with the file in the event's data).
    pub async fn drop_file(&self, name: &str, text: &str) -> Result<()> {
        self.script(
            "const [name, text] = arguments; const dt = new DataTransfer(); \
             dt.items.add(new File([text], name, {type: 'text/plain'})); \
             const target = document.querySelector('main'); \
             for (const type of ['dragenter', 'dragover', 'drop']) { \
               target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt})); \
             }",
            json!([name, text]),
        )
        .await?;
        Ok(())
    }

    /// Types `keys` (WebDriver key codes allowed: "\u{E00C}" is Escape) into the focused element.
    pub async fn keys(&self, keys: &str) -> Result<()> {
        let active = self.call(reqwest::Method::GET, "/element/active", None).await?;
        let el = active[ELEMENT].as_str().context("the focused element")?.to_string();
        self.call(reqwest::Method::POST, &format!("/element/{el}/value"), Some(json!({"text": keys}))).await?;
        Ok(())
    }

    /// The focused element's id ("" when it has none).
    pub async fn focused_id(&self) -> Result<String> {
        let v = self.script("return document.activeElement ? document.activeElement.id : '';", json!([])).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        let v = self.script("return document.querySelector(arguments[0]) !== null;", json!([css])).await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Waits until an element matches `css`.
    pub async fn wait_for(&self, css: &str, within: Duration) -> Result<()> {
        self.find(css, within).await.map(|_| ())
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, to: &Path) -> Result<()> {
        // what the page holds is painted: two frames later (the first page of a new window can
        // still be blank when its text is already there)
        let frames = "const done = arguments[arguments.length - 1]; \
                      requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": frames, "args": []}))).await?;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().context("screenshot data")?)?;
        std::fs::write(to, png)?;
        Ok(())
    }

    /// Closes the window (the app must keep running in the tray).
    pub async fn close_window(&self) -> Result<()> {
        self.call(reqwest::Method::DELETE, "/window", None).await.map(|_| ())
    }

    pub async fn end(self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}

/// The local OpenID Connect provider (`tests/fixtures/oidc-server`), with a user who signs in by
/// itself. `restart` forgets every grant (the in-memory store), as a provider revoking them.
pub struct OidcServer {
    child: tokio::process::Child,
    pub port: u16,
    log: PathBuf,
}

impl OidcServer {
    pub async fn start(port: u16, log: &Path) -> Result<OidcServer> {
        let dir = super::workspace_root().join("tests/fixtures/oidc-server");
        if !dir.join("node_modules").exists() {
            bail!("the OAuth server fixture has no node_modules: run `npm ci` in {}", dir.display());
        }
        let mut child = tokio::process::Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("AUTO_LOGIN", "alice")
            .env("AT_TTL", "3600")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("start node tests/fixtures/oidc-server/server.mjs")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(p) = line.strip_prefix("LISTENING ") {
                    return Ok::<u16, anyhow::Error>(p.trim().parse()?);
                }
            }
            bail!("the OAuth server ended before listening")
        })
        .await
        .context("the OAuth server did not start")??;
        let log = log.to_path_buf();
        let sink = log.clone();
        tokio::spawn(async move {
            let mut out = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                out.push_str(&line);
                out.push('\n');
                let _ = std::fs::write(&sink, &out);
            }
        });
        Ok(OidcServer { child, port, log })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops and starts again on the same port: every grant is forgotten.
    pub async fn restart(mut self) -> Result<OidcServer> {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
        OidcServer::start(self.port, &self.log).await
    }
}

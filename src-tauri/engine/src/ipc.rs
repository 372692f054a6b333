//! The one protocol between the `tokenkeeper` command and a running keeper (tray app or
//! daemon): newline-delimited JSON over a Unix socket in the user's runtime directory.
//!
//! The socket's directory is private to the user (0700) and the server also checks every peer's
//! uid (`SO_PEERCRED`), so no other user can ask for a token. One request per connection; a
//! sign-in answers twice (the URL or the device code, then the result). [`Backend`] gives the command the same
//! methods whether it talks to a running keeper or opens the keeper itself (direct mode, under
//! the same cross-process lock) — so there is no second copy of any token logic.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use url::Url;

use crate::actions::device::DeviceCode;
use crate::keeper::{IntegrationStatus, Keeper, KeeperError, KeeperOptions};
use crate::model::{IntegrationConfig, IntegrationView, UnixTime};
use crate::paths::Paths;
use crate::secret::{AccessToken, ApiToken, ClientSecret};

/// The longest request or answer line accepted (a token response given to `login --from-response`
/// is the largest thing sent). The server reads no more of a longer one.
pub(crate) const MAX_LINE: u64 = 2 * 1024 * 1024;

/// How long the server waits for a client's request line: clients send it at once, so a
/// connection still without one after this is dropped rather than held forever.
pub(crate) const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A command for the running keeper. Secrets travel only over the user's own socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Request {
    List,
    Status {
        name: String,
    },
    Token {
        name: String,
    },
    Refresh {
        name: String,
    },
    Pause {
        name: String,
        paused: bool,
    },
    Add {
        config: Box<IntegrationConfig>,
        client_secret: Option<String>,
    },
    Remove {
        name: String,
        revoke: bool,
    },
    SignIn {
        name: String,
    },
    DeviceSignIn {
        name: String,
    },
    StoreResponse {
        name: String,
        body: String,
    },
    StoreApiToken {
        name: String,
        token: String,
        /// When the new token ends (UNIX seconds), if the keeper said.
        #[serde(default)]
        ends_at: Option<UnixTime>,
    },
}

/// An answer line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
enum Answer {
    Views {
        views: Vec<IntegrationView>,
    },
    Status {
        status: IntegrationStatus,
    },
    Token {
        token: String,
    },
    View {
        view: IntegrationView,
    },
    Done,
    /// The sign-in URL; the result follows on the next line.
    SignInUrl {
        url: Url,
    },
    /// A device sign-in's code and address; the result follows on the next line.
    DeviceCode {
        code: DeviceCode,
    },
    Error {
        error: KeeperError,
    },
}

// ---- server ---------------------------------------------------------------------------------

/// Serves the keeper's socket until the future is dropped. Refuses to start when another keeper
/// already answers on it; removes a stale socket left by a crash.
pub async fn serve(keeper: Keeper) -> Result<(), KeeperError> {
    serve_with(keeper, REQUEST_TIMEOUT).await
}

/// [`serve`] with another wait for request lines (tests).
pub(crate) async fn serve_with(keeper: Keeper, request_timeout: std::time::Duration) -> Result<(), KeeperError> {
    let path = keeper.paths().socket();
    let listener = bind(&path).await?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: accepting again at once would spin a CPU.
                tracing::warn!("could not accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if !same_user(&stream) {
            tracing::warn!("refused a connection from another user");
            continue;
        }
        let keeper = keeper.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(keeper, stream, request_timeout).await {
                tracing::debug!("client went away: {e}");
            }
        });
    }
}

async fn bind(path: &Path) -> Result<UnixListener, KeeperError> {
    let fail = |what: &str, e: std::io::Error| KeeperError::Failed(format!("could not {what} {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail("protect the folder of", e))?;
        }
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(KeeperError::Failed("Token Keeper is already running for this user".into()));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| fail("listen on", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail("protect", e))?;
    }
    Ok(listener)
}

fn same_user(stream: &UnixStream) -> bool {
    stream.peer_cred().is_ok_and(|cred| cred.uid() == nix::unistd::getuid().as_raw())
}

async fn handle(keeper: Keeper, stream: UnixStream, request_timeout: std::time::Duration) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read).take(MAX_LINE);
    let reading = reader.read_until(b'\n', &mut line);
    let request = match tokio::time::timeout(request_timeout, reading).await {
        Err(_) => Err("the request took too long to arrive"),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) if line.len() as u64 >= MAX_LINE && !line.ends_with(b"\n") => Err("the request is too long"),
        Ok(Ok(_)) => serde_json::from_slice::<Request>(&line).map_err(|_| "the keeper did not understand the request"),
    };
    let request = match request {
        Ok(r) => r,
        Err(why) => return send(&mut write, &Answer::Error { error: KeeperError::BadInput(why.into()) }).await,
    };
    let answer = match request {
        Request::List => Answer::Views { views: keeper.list() },
        Request::Status { name } => result(keeper.status(&name).map(|status| Answer::Status { status })),
        Request::Token { name } => {
            result(keeper.token(&name).await.map(|t| Answer::Token { token: t.expose().to_string() }))
        }
        Request::Refresh { name } => result(keeper.refresh(&name).await.map(|view| Answer::View { view })),
        Request::Pause { name, paused } => result(keeper.pause(&name, paused).map(|view| Answer::View { view })),
        Request::Add { config, client_secret } => {
            result(keeper.add(*config, client_secret.map(ClientSecret::new)).await.map(|view| Answer::View { view }))
        }
        Request::Remove { name, revoke } => result(keeper.remove(&name, revoke).await.map(|_| Answer::Done)),
        Request::StoreResponse { name, body } => {
            result(keeper.store_response(&name, body.as_bytes()).await.map(|view| Answer::View { view }))
        }
        Request::StoreApiToken { name, token, ends_at } => {
            result(keeper.store_api_token(&name, ApiToken::new(token), ends_at).await.map(|view| Answer::View { view }))
        }
        Request::SignIn { name } => {
            let (url_tx, url_rx) = tokio::sync::oneshot::channel();
            let signing = keeper.sign_in(&name, move |url| {
                let _ = url_tx.send(url.clone());
                Ok(())
            });
            tokio::pin!(signing);
            tokio::select! {
                done = &mut signing => result(done.map(|view| Answer::View { view })),
                Ok(url) = url_rx => {
                    send(&mut write, &Answer::SignInUrl { url }).await?;
                    result(signing.await.map(|view| Answer::View { view }))
                }
            }
        }
        Request::DeviceSignIn { name } => {
            let (code_tx, code_rx) = tokio::sync::oneshot::channel();
            let signing = keeper.sign_in_with_device_code(&name, move |code| {
                let _ = code_tx.send(code.clone());
                Ok(())
            });
            tokio::pin!(signing);
            tokio::select! {
                done = &mut signing => result(done.map(|view| Answer::View { view })),
                Ok(code) = code_rx => {
                    send(&mut write, &Answer::DeviceCode { code }).await?;
                    result(signing.await.map(|view| Answer::View { view }))
                }
            }
        }
    };
    send(&mut write, &answer).await
}

fn result(r: Result<Answer, KeeperError>) -> Answer {
    r.unwrap_or_else(|error| Answer::Error { error })
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, answer: &Answer) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(answer).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

// ---- client ---------------------------------------------------------------------------------

/// What a running keeper asks the command to show during a sign-in.
enum Prompt<'p> {
    /// The authorization URL of a browser sign-in.
    Url(&'p Url),
    /// The code and address of a device sign-in.
    Code(&'p DeviceCode),
}

/// Called with a sign-in URL or device code when the running keeper sends one.
type ShowPrompt<'a> = dyn for<'p> FnMut(Prompt<'p>) -> Result<(), KeeperError> + Send + 'a;

/// A connection target for a running keeper.
pub struct Client {
    socket: std::path::PathBuf,
}

impl Client {
    /// Whether a keeper answers on this user's socket.
    pub async fn connect(paths: &Paths) -> Option<Client> {
        let socket = paths.socket();
        UnixStream::connect(&socket).await.ok()?;
        Some(Client { socket })
    }

    async fn call(&self, request: &Request, mut on_prompt: Option<&mut ShowPrompt<'_>>) -> Result<Answer, KeeperError> {
        let lost = |e: std::io::Error| KeeperError::Failed(format!("lost contact with the running Token Keeper: {e}"));
        let stream = UnixStream::connect(&self.socket).await.map_err(lost)?;
        let (read, mut write) = stream.into_split();
        let mut bytes = serde_json::to_vec(request).map_err(|e| KeeperError::Failed(e.to_string()))?;
        bytes.push(b'\n');
        write.write_all(&bytes).await.map_err(lost)?;
        let mut reader = BufReader::new(read);
        loop {
            let mut line = String::new();
            (&mut reader).take(MAX_LINE).read_line(&mut line).await.map_err(lost)?;
            if line.is_empty() {
                return Err(KeeperError::Failed(
                    "the running Token Keeper closed the connection without an answer".into(),
                ));
            }
            match serde_json::from_str::<Answer>(&line) {
                Ok(Answer::SignInUrl { url }) => {
                    if let Some(show) = on_prompt.as_mut() {
                        show(Prompt::Url(&url))?;
                    }
                }
                Ok(Answer::DeviceCode { code }) => {
                    if let Some(show) = on_prompt.as_mut() {
                        show(Prompt::Code(&code))?;
                    }
                }
                Ok(Answer::Error { error }) => return Err(error),
                Ok(answer) => return Ok(answer),
                Err(_) => return Err(KeeperError::Failed(
                    "the running Token Keeper sent an answer this command does not understand (different versions?)"
                        .into(),
                )),
            }
        }
    }
}

/// `token NAME` from a running keeper without an async runtime: the hot path of scripts that call
/// `tokenkeeper token` in loops (a runtime, a signal handler and a log subscriber cost more than
/// the whole conversation). `None` when no keeper answers on the socket: then use [`Backend`].
pub fn token_from_running_keeper(name: &str) -> Option<Result<AccessToken, KeeperError>> {
    use std::io::{BufRead, Read, Write};
    let paths = Paths::from_platform().ok()?;
    let mut stream = std::os::unix::net::UnixStream::connect(paths.socket()).ok()?;
    let mut request = serde_json::to_vec(&Request::Token { name: name.to_string() }).ok()?;
    request.push(b'\n');
    let lost = |e: std::io::Error| KeeperError::Failed(format!("lost contact with the running Token Keeper: {e}"));
    let answer = (|| {
        stream.write_all(&request).map_err(lost)?;
        let mut line = String::new();
        std::io::BufReader::new(Read::take(&stream, MAX_LINE)).read_line(&mut line).map_err(lost)?;
        match serde_json::from_str::<Answer>(&line) {
            Ok(Answer::Token { token }) => Ok(AccessToken::new(token)),
            Ok(Answer::Error { error }) => Err(error),
            _ => Err(unexpected()),
        }
    })();
    Some(answer)
}

fn unexpected() -> KeeperError {
    KeeperError::Failed("the running Token Keeper sent an unexpected answer".into())
}

/// The keeper as a command sees it: a running one over the socket, or this process's own.
pub enum Backend {
    Local(Keeper),
    Remote(Client),
}

macro_rules! remote_view {
    ($client:expr, $request:expr) => {
        match $client.call(&$request, None).await? {
            Answer::View { view } => Ok(view),
            _ => Err(unexpected()),
        }
    };
}

impl Backend {
    /// Talks to a running keeper (tray app or daemon) over its socket, else opens the keeper
    /// directly with the system keychain and notifications (no notification actions: this
    /// process does not stay to hear a click).
    pub async fn connect_or_open() -> Result<Backend, KeeperError> {
        let paths = Paths::from_platform().map_err(KeeperError::Failed)?;
        if let Some(client) = Client::connect(&paths).await {
            return Ok(Backend::Remote(client));
        }
        Ok(Backend::Local(Keeper::open(KeeperOptions::system(crate::notify::Clicks::Ignored)?)?))
    }

    pub async fn list(&self) -> Result<Vec<IntegrationView>, KeeperError> {
        match self {
            Backend::Local(k) => Ok(k.list()),
            Backend::Remote(c) => match c.call(&Request::List, None).await? {
                Answer::Views { views } => Ok(views),
                _ => Err(unexpected()),
            },
        }
    }

    pub async fn status(&self, name: &str) -> Result<IntegrationStatus, KeeperError> {
        match self {
            Backend::Local(k) => k.status(name),
            Backend::Remote(c) => match c.call(&Request::Status { name: name.into() }, None).await? {
                Answer::Status { status } => Ok(status),
                _ => Err(unexpected()),
            },
        }
    }

    pub async fn token(&self, name: &str) -> Result<AccessToken, KeeperError> {
        match self {
            Backend::Local(k) => k.token(name).await,
            Backend::Remote(c) => match c.call(&Request::Token { name: name.into() }, None).await? {
                Answer::Token { token } => Ok(AccessToken::new(token)),
                _ => Err(unexpected()),
            },
        }
    }

    pub async fn refresh(&self, name: &str) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.refresh(name).await,
            Backend::Remote(c) => remote_view!(c, Request::Refresh { name: name.into() }),
        }
    }

    pub async fn pause(&self, name: &str, paused: bool) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.pause(name, paused),
            Backend::Remote(c) => remote_view!(c, Request::Pause { name: name.into(), paused }),
        }
    }

    pub async fn add(
        &self,
        config: IntegrationConfig,
        client_secret: Option<ClientSecret>,
    ) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.add(config, client_secret).await,
            Backend::Remote(c) => {
                remote_view!(
                    c,
                    Request::Add {
                        config: Box::new(config),
                        client_secret: client_secret.map(|s| s.expose().to_string())
                    }
                )
            }
        }
    }

    pub async fn remove(&self, name: &str, revoke: bool) -> Result<(), KeeperError> {
        match self {
            Backend::Local(k) => k.remove(name, revoke).await,
            Backend::Remote(c) => match c.call(&Request::Remove { name: name.into(), revoke }, None).await? {
                Answer::Done => Ok(()),
                _ => Err(unexpected()),
            },
        }
    }

    /// `show_url` is called with the authorization URL before waiting for the browser.
    pub async fn sign_in(
        &self,
        name: &str,
        show_url: impl FnOnce(&Url) -> Result<(), KeeperError> + Send,
    ) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.sign_in(name, show_url).await,
            Backend::Remote(c) => {
                let mut once = Some(show_url);
                let mut show = |prompt: Prompt<'_>| match prompt {
                    Prompt::Url(url) => once.take().map_or(Ok(()), |f| f(url)),
                    Prompt::Code(_) => Err(unexpected()),
                };
                match c.call(&Request::SignIn { name: name.into() }, Some(&mut show)).await? {
                    Answer::View { view } => Ok(view),
                    _ => Err(unexpected()),
                }
            }
        }
    }

    /// Device sign-in (RFC 8628): `show` gets the code and address, then this waits for the
    /// keeper to confirm it (see [`Keeper::sign_in_with_device_code`]).
    pub async fn sign_in_with_device_code(
        &self,
        name: &str,
        show: impl FnOnce(&DeviceCode) -> Result<(), KeeperError> + Send,
    ) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.sign_in_with_device_code(name, show).await,
            Backend::Remote(c) => {
                let mut once = Some(show);
                let mut show = |prompt: Prompt<'_>| match prompt {
                    Prompt::Code(code) => once.take().map_or(Ok(()), |f| f(code)),
                    Prompt::Url(_) => Err(unexpected()),
                };
                match c.call(&Request::DeviceSignIn { name: name.into() }, Some(&mut show)).await? {
                    Answer::View { view } => Ok(view),
                    _ => Err(unexpected()),
                }
            }
        }
    }

    pub async fn store_response(&self, name: &str, body: Vec<u8>) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.store_response(name, &body).await,
            Backend::Remote(c) => {
                let body = String::from_utf8(body)
                    .map_err(|_| KeeperError::BadInput("this is not a token response: not text".into()))?;
                remote_view!(c, Request::StoreResponse { name: name.into(), body })
            }
        }
    }

    pub async fn store_api_token(
        &self,
        name: &str,
        token: ApiToken,
        ends_at: Option<UnixTime>,
    ) -> Result<IntegrationView, KeeperError> {
        match self {
            Backend::Local(k) => k.store_api_token(name, token, ends_at).await,
            Backend::Remote(c) => {
                remote_view!(
                    c,
                    Request::StoreApiToken { name: name.into(), token: token.expose().to_string(), ends_at }
                )
            }
        }
    }

    /// Config files that could not be read (direct mode; a running keeper logs its own).
    pub fn problems(&self) -> Vec<String> {
        match self {
            Backend::Local(k) => k.problems().to_vec(),
            Backend::Remote(_) => Vec::new(),
        }
    }

    /// Waits for pending notifications to be shown (direct mode); call before exiting.
    pub async fn finish(self) {
        if let Backend::Local(k) = self {
            k.flush_notices().await;
        }
    }
}

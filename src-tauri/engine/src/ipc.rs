//! The one protocol between the `tokenkeeper` command and a running keeper (tray app or
//! daemon): newline-delimited JSON, one request per connection, over a transport private to the
//! user (a Unix socket in the user's runtime directory: [`unix`]).
//!
//! The protocol is written once. [`Request`] says what is asked, [`answer`] is what the keeper
//! answers to it — used alike by the socket server and by direct mode — and [`Backend`] gives the
//! command typed methods that build a request and read the answer back, whether it talks to a
//! running keeper or opens the keeper itself (under the same cross-process lock). A sign-in
//! answers twice: its [`Prompt`] (the URL or the device code), then the result.
//!
//! Secrets travel in the messages as the engine's secret newtypes, so `Debug` of a request or an
//! answer never prints one. Both sides bound their waits: the server drops a connection that
//! sends no request line within [`REQUEST_TIMEOUT`]; the client gives up on a keeper that does not
//! answer within [`ANSWER_WITHIN`] (exit 4), so a stuck keeper cannot hang a script.
//!
//! This file is platform-neutral; the transport (listening, the peer's and the socket's owner
//! checks, connecting) is in [`unix`], behind `cfg(unix)`. Another platform adds its own module
//! with the same three functions (`serve`, `connect`, `connect_blocking`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use url::Url;

use crate::actions::device::{DeviceCode, DEVICE_TIMEOUT};
use crate::keeper::{IntegrationStatus, Keeper, KeeperError, KeeperOptions};
use crate::model::{IntegrationConfig, IntegrationView, UnixTime};
use crate::paths::Paths;
use crate::secret::{AccessToken, ApiToken, ClientSecret, TokenResponseText};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as transport;

#[cfg(not(unix))]
mod unsupported;
#[cfg(not(unix))]
use unsupported as transport;

/// The longest request line accepted (a token response given to `login --from-response` is the
/// largest thing sent). The server reads no more of a longer one.
pub(crate) const MAX_LINE: u64 = 2 * 1024 * 1024;

/// The longest answer line a client reads: the list of every integration is the largest (about
/// 500 bytes each: 10,000 shared integrations are 5 MB), and the answer comes from the user's own
/// keeper, checked as such before anything is sent.
pub(crate) const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// How long the server waits for a client's request line: clients send it at once, so a
/// connection still without one after this is dropped rather than held forever.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the client waits for an answer line. The keeper answers from memory at once; its
/// slowest answer is a renewal first (one provider request, bounded at 30 s by the HTTP client).
/// A keeper that says nothing for longer is stuck: the command gives up with exit 4.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(35);

/// After a sign-in's prompt, the result may wait for the person: up to the device flow's limit
/// (the longer of the two flows) and then the answer's own time.
const SIGN_IN_ANSWER_WITHIN: Duration = DEVICE_TIMEOUT.saturating_add(ANSWER_WITHIN);

/// A command for the keeper.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Request {
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
        client_secret: Option<ClientSecret>,
        /// In the team vault rather than on this computer.
        #[serde(default)]
        shared: bool,
    },
    SharedConnect {
        request: Box<crate::shared::space::ConnectRequest>,
    },
    SharedStatus,
    SharedDisconnect,
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
        body: TokenResponseText,
    },
    StoreApiToken {
        name: String,
        token: ApiToken,
        /// When the new token ends (UNIX seconds), if the keeper said.
        #[serde(default)]
        ends_at: Option<UnixTime>,
    },
}

impl Request {
    /// The integration a request is about, if one.
    fn name(&self) -> Option<&str> {
        match self {
            Request::Status { name }
            | Request::Token { name }
            | Request::Refresh { name }
            | Request::Pause { name, .. }
            | Request::Remove { name, .. }
            | Request::SignIn { name }
            | Request::DeviceSignIn { name }
            | Request::StoreResponse { name, .. }
            | Request::StoreApiToken { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether answering may need the shared integrations: a request about a name this keeper
    /// does not hold locally, the list, or the team vault itself. A command run in direct mode
    /// (no keeper running) asks the vault only then, so `token` of a local integration never
    /// waits for a vault that is slow or down.
    fn needs_team_vault(&self, keeper: &Keeper) -> bool {
        match self {
            Request::List | Request::SharedStatus | Request::Add { shared: true, .. } => true,
            Request::Add { shared: false, .. } | Request::SharedConnect { .. } | Request::SharedDisconnect => false,
            _ => self.name().is_some_and(|name| !keeper.holds_locally(name)),
        }
    }
}

/// An answer line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub(crate) enum Answer {
    Views {
        views: Vec<IntegrationView>,
    },
    Status {
        status: IntegrationStatus,
    },
    Token {
        token: AccessToken,
    },
    View {
        view: IntegrationView,
    },
    Done,
    Shared {
        status: crate::keeper::SharedStatus,
    },
    /// The team vault's connection was forgotten (`was`: there was one).
    Disconnected {
        was: bool,
    },
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

impl Answer {
    fn view(view: IntegrationView) -> Answer {
        Answer::View { view }
    }

    /// A sign-in's prompt, which the final answer follows.
    fn prompt(&self) -> Option<Prompt<'_>> {
        match self {
            Answer::SignInUrl { url } => Some(Prompt::Url(url)),
            Answer::DeviceCode { code } => Some(Prompt::Code(code)),
            _ => None,
        }
    }
}

/// What the keeper asks the command to show during a sign-in.
pub(crate) enum Prompt<'p> {
    /// The authorization URL of a browser sign-in.
    Url(&'p Url),
    /// The code and address of a device sign-in.
    Code(&'p DeviceCode),
}

impl Prompt<'_> {
    fn to_answer(&self) -> Answer {
        match self {
            Prompt::Url(url) => Answer::SignInUrl { url: (*url).clone() },
            Prompt::Code(code) => Answer::DeviceCode { code: (*code).clone() },
        }
    }
}

/// Called with a sign-in's URL or device code before the keeper waits for the person.
pub(crate) type Prompter<'a> = dyn for<'p> FnMut(Prompt<'p>) -> Result<(), KeeperError> + Send + 'a;

/// The keeper's answer to one request: the meaning of the whole protocol, in one place.
pub(crate) async fn answer(keeper: &Keeper, request: Request, prompt: &mut Prompter<'_>) -> Answer {
    if request.needs_team_vault(keeper) {
        keeper.open_shared().await;
        if let Some(unreached) = request.name().and_then(|name| keeper.unreached_shared(name)) {
            return Answer::Error { error: unreached };
        }
    }
    let result = match request {
        Request::List => Ok(Answer::Views { views: keeper.list() }),
        Request::Status { name } => keeper.status(&name).map(|status| Answer::Status { status }),
        Request::Token { name } => keeper.token(&name).await.map(|token| Answer::Token { token }),
        Request::Refresh { name } => keeper.refresh(&name).await.map(Answer::view),
        Request::Pause { name, paused } => keeper.pause(&name, paused).map(Answer::view),
        Request::Add { config, client_secret, shared: false } => {
            keeper.add(*config, client_secret).await.map(Answer::view)
        }
        Request::Add { config, client_secret, shared: true } => {
            keeper.add_shared(*config, client_secret).await.map(Answer::view)
        }
        Request::SharedConnect { request } => {
            keeper.shared_connect(*request).await.map(|status| Answer::Shared { status })
        }
        Request::SharedStatus => Ok(Answer::Shared { status: keeper.shared_status() }),
        Request::SharedDisconnect => keeper.shared_disconnect().await.map(|was| Answer::Disconnected { was }),
        Request::Remove { name, revoke } => keeper.remove(&name, revoke).await.map(|()| Answer::Done),
        Request::SignIn { name } => keeper.sign_in(&name, |url| prompt(Prompt::Url(url))).await.map(Answer::view),
        Request::DeviceSignIn { name } => {
            keeper.sign_in_with_device_code(&name, |code| prompt(Prompt::Code(code))).await.map(Answer::view)
        }
        Request::StoreResponse { name, body } => {
            keeper.store_response(&name, body.expose().as_bytes()).await.map(Answer::view)
        }
        Request::StoreApiToken { name, token, ends_at } => {
            keeper.store_api_token(&name, token, ends_at).await.map(Answer::view)
        }
    };
    result.unwrap_or_else(|error| Answer::Error { error })
}

// ---- server ---------------------------------------------------------------------------------

/// Serves the keeper's socket until the future is dropped. Refuses to start when another keeper
/// already answers on it; removes a stale socket left by a crash.
pub async fn serve(keeper: Keeper) -> Result<(), KeeperError> {
    transport::serve(keeper, REQUEST_TIMEOUT).await
}

/// [`serve`] with another wait for request lines (tests).
#[cfg(test)]
pub(crate) async fn serve_with(keeper: Keeper, request_timeout: Duration) -> Result<(), KeeperError> {
    transport::serve(keeper, request_timeout).await
}

/// One connection of the server: reads the request line, sends the prompts and the answer.
pub(crate) async fn serve_connection<S: AsyncRead + AsyncWrite>(
    keeper: Keeper,
    stream: S,
    request_timeout: Duration,
) -> std::io::Result<()> {
    let (read, mut write) = tokio::io::split(stream);
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
    // Prompts go out while the keeper waits for the person; the answer after them.
    let (prompts_tx, mut prompts) = tokio::sync::mpsc::unbounded_channel();
    let mut to_client = move |p: Prompt<'_>| {
        let _ = prompts_tx.send(p.to_answer());
        Ok(())
    };
    let answering = answer(&keeper, request, &mut to_client);
    tokio::pin!(answering);
    let last = loop {
        tokio::select! {
            biased;
            Some(prompt) = prompts.recv() => send(&mut write, &prompt).await?,
            last = &mut answering => break last,
        }
    };
    while let Ok(prompt) = prompts.try_recv() {
        send(&mut write, &prompt).await?;
    }
    send(&mut write, &last).await
}

async fn send(write: &mut (impl AsyncWrite + Unpin), answer: &Answer) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(answer).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await
}

// ---- client ---------------------------------------------------------------------------------

fn lost(e: std::io::Error) -> KeeperError {
    KeeperError::Failed(format!("lost contact with the running Token Keeper: {e}"))
}

fn unexpected() -> KeeperError {
    KeeperError::Failed("the running Token Keeper sent an unexpected answer".into())
}

fn not_understood() -> KeeperError {
    KeeperError::Failed(
        "the running Token Keeper sent an answer this command does not understand (different versions?)".into(),
    )
}

/// A keeper that accepted the request and then said nothing within `within`.
fn no_answer(within: Duration) -> KeeperError {
    KeeperError::Unavailable(format!(
        "the running Token Keeper did not answer within {} seconds; try again, and restart Token Keeper if it keeps happening",
        within.as_secs()
    ))
}

fn request_line(request: &Request) -> Result<Vec<u8>, KeeperError> {
    let mut bytes = serde_json::to_vec(request).map_err(|e| KeeperError::Failed(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A running keeper, found on this user's socket.
pub struct Client {
    socket: std::path::PathBuf,
}

impl Client {
    /// Whether a keeper answers on this user's socket. Err when something answers there that is
    /// not private to this user (nothing is sent to it).
    pub async fn connect(paths: &Paths) -> Result<Option<Client>, KeeperError> {
        let socket = paths.socket();
        Ok(transport::connect(&socket).await?.map(|_| Client { socket }))
    }

    async fn call(&self, request: &Request, prompt: &mut Prompter<'_>) -> Result<Answer, KeeperError> {
        let stream = transport::connect(&self.socket)
            .await?
            .ok_or_else(|| KeeperError::Failed("the running Token Keeper stopped before it could answer".into()))?;
        let (read, mut write) = tokio::io::split(stream);
        write.write_all(&request_line(request)?).await.map_err(lost)?;
        let mut reader = BufReader::new(read);
        let mut within = ANSWER_WITHIN;
        loop {
            let mut line = Vec::new();
            let mut limited = (&mut reader).take(MAX_ANSWER);
            let reading = limited.read_until(b'\n', &mut line);
            tokio::time::timeout(within, reading).await.map_err(|_| no_answer(within))?.map_err(lost)?;
            if line.is_empty() {
                return Err(KeeperError::Failed(
                    "the running Token Keeper closed the connection without an answer".into(),
                ));
            }
            let answer = serde_json::from_slice::<Answer>(&line).map_err(|_| not_understood())?;
            match answer.prompt() {
                Some(shown) => {
                    prompt(shown)?;
                    within = SIGN_IN_ANSWER_WITHIN;
                }
                None => return answer.into_result(),
            }
        }
    }
}

impl Answer {
    fn into_result(self) -> Result<Answer, KeeperError> {
        match self {
            Answer::Error { error } => Err(error),
            answer => Ok(answer),
        }
    }
}

/// `token NAME` from a running keeper without an async runtime: the hot path of scripts that call
/// `tokenkeeper token` in loops (a runtime, a signal handler and a log subscriber cost more than
/// the whole conversation). `None` when no keeper answers on the socket: then use [`Backend`].
/// The socket is checked as [`Client::connect`] does, and the answer waited for as long.
pub fn token_from_running_keeper(name: &str) -> Option<Result<AccessToken, KeeperError>> {
    use std::io::{BufRead, Read, Write};
    let paths = Paths::from_platform().ok()?;
    let mut stream = match transport::connect_blocking(&paths.socket(), ANSWER_WITHIN) {
        Ok(Some(stream)) => stream,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    let answer = (|| {
        stream.write_all(&request_line(&Request::Token { name: name.to_string() })?).map_err(lost)?;
        let mut line = Vec::new();
        std::io::BufReader::new(Read::take(&stream, MAX_ANSWER)).read_until(b'\n', &mut line).map_err(|e| {
            match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => no_answer(ANSWER_WITHIN),
                _ => lost(e),
            }
        })?;
        match serde_json::from_slice::<Answer>(&line).map_err(|_| not_understood())?.into_result()? {
            Answer::Token { token } => Ok(token),
            _ => Err(unexpected()),
        }
    })();
    Some(answer)
}

/// The keeper as a command sees it: a running one over the socket, or this process's own.
pub enum Backend {
    Local(Keeper),
    Remote(Client),
}

/// The one answer a request may have, or [`unexpected`].
macro_rules! expect {
    ($answer:expr, $pattern:pat => $value:expr) => {
        match $answer? {
            $pattern => Ok($value),
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
        if let Some(client) = Client::connect(&paths).await? {
            return Ok(Backend::Remote(client));
        }
        // the team vault, if any, is reached only by the requests that need it
        Ok(Backend::Local(Keeper::open(KeeperOptions::system(crate::notify::Clicks::Ignored)?)?))
    }

    /// Asks the keeper, running or this process's own: the only place the two differ.
    async fn ask(&self, request: Request, prompt: &mut Prompter<'_>) -> Result<Answer, KeeperError> {
        match self {
            Backend::Local(keeper) => answer(keeper, request, prompt).await.into_result(),
            Backend::Remote(client) => client.call(&request, prompt).await,
        }
    }

    /// [`Backend::ask`] for requests without a sign-in prompt.
    async fn ask_plain(&self, request: Request) -> Result<Answer, KeeperError> {
        self.ask(request, &mut |_| Err(unexpected())).await
    }

    pub async fn list(&self) -> Result<Vec<IntegrationView>, KeeperError> {
        expect!(self.ask_plain(Request::List).await, Answer::Views { views } => views)
    }

    pub async fn status(&self, name: &str) -> Result<IntegrationStatus, KeeperError> {
        expect!(self.ask_plain(Request::Status { name: name.into() }).await, Answer::Status { status } => status)
    }

    pub async fn token(&self, name: &str) -> Result<AccessToken, KeeperError> {
        expect!(self.ask_plain(Request::Token { name: name.into() }).await, Answer::Token { token } => token)
    }

    pub async fn refresh(&self, name: &str) -> Result<IntegrationView, KeeperError> {
        expect!(self.ask_plain(Request::Refresh { name: name.into() }).await, Answer::View { view } => view)
    }

    pub async fn pause(&self, name: &str, paused: bool) -> Result<IntegrationView, KeeperError> {
        expect!(self.ask_plain(Request::Pause { name: name.into(), paused }).await, Answer::View { view } => view)
    }

    /// Adds an integration on this computer, or in the team vault when `shared`.
    pub async fn add(
        &self,
        config: IntegrationConfig,
        client_secret: Option<ClientSecret>,
        shared: bool,
    ) -> Result<IntegrationView, KeeperError> {
        let request = Request::Add { config: Box::new(config), client_secret, shared };
        expect!(self.ask_plain(request).await, Answer::View { view } => view)
    }

    /// Connects the keeper to a team vault (see [`crate::shared::space`]).
    pub async fn shared_connect(
        &self,
        request: crate::shared::space::ConnectRequest,
    ) -> Result<crate::keeper::SharedStatus, KeeperError> {
        let request = Request::SharedConnect { request: Box::new(request) };
        expect!(self.ask_plain(request).await, Answer::Shared { status } => status)
    }

    pub async fn shared_status(&self) -> Result<crate::keeper::SharedStatus, KeeperError> {
        expect!(self.ask_plain(Request::SharedStatus).await, Answer::Shared { status } => status)
    }

    /// Forgets the team vault's connection; whether there was one.
    pub async fn shared_disconnect(&self) -> Result<bool, KeeperError> {
        expect!(self.ask_plain(Request::SharedDisconnect).await, Answer::Disconnected { was } => was)
    }

    pub async fn remove(&self, name: &str, revoke: bool) -> Result<(), KeeperError> {
        expect!(self.ask_plain(Request::Remove { name: name.into(), revoke }).await, Answer::Done => ())
    }

    /// `show_url` is called with the authorization URL before waiting for the browser.
    pub async fn sign_in(
        &self,
        name: &str,
        show_url: impl FnOnce(&Url) -> Result<(), KeeperError> + Send,
    ) -> Result<IntegrationView, KeeperError> {
        let mut once = Some(show_url);
        let mut show = |prompt: Prompt<'_>| match prompt {
            Prompt::Url(url) => once.take().map_or(Ok(()), |f| f(url)),
            Prompt::Code(_) => Err(unexpected()),
        };
        expect!(self.ask(Request::SignIn { name: name.into() }, &mut show).await, Answer::View { view } => view)
    }

    /// Device sign-in (RFC 8628): `show` gets the code and address, then this waits for the
    /// keeper to confirm it (see [`Keeper::sign_in_with_device_code`]).
    pub async fn sign_in_with_device_code(
        &self,
        name: &str,
        show: impl FnOnce(&DeviceCode) -> Result<(), KeeperError> + Send,
    ) -> Result<IntegrationView, KeeperError> {
        let mut once = Some(show);
        let mut show = |prompt: Prompt<'_>| match prompt {
            Prompt::Code(code) => once.take().map_or(Ok(()), |f| f(code)),
            Prompt::Url(_) => Err(unexpected()),
        };
        let request = Request::DeviceSignIn { name: name.into() };
        expect!(self.ask(request, &mut show).await, Answer::View { view } => view)
    }

    pub async fn store_response(&self, name: &str, body: Vec<u8>) -> Result<IntegrationView, KeeperError> {
        let body = String::from_utf8(body)
            .map_err(|_| KeeperError::BadInput("this is not a token response: not text".into()))?;
        let request = Request::StoreResponse { name: name.into(), body: TokenResponseText::new(body) };
        expect!(self.ask_plain(request).await, Answer::View { view } => view)
    }

    pub async fn store_api_token(
        &self,
        name: &str,
        token: ApiToken,
        ends_at: Option<UnixTime>,
    ) -> Result<IntegrationView, KeeperError> {
        let request = Request::StoreApiToken { name: name.into(), token, ends_at };
        expect!(self.ask_plain(request).await, Answer::View { view } => view)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A request or answer that carries a secret prints it under `Debug` only as `[redacted]`.
    #[test]
    fn debug_of_a_message_never_shows_a_secret() {
        let shown = format!(
            "{:?} {:?} {:?}",
            Request::StoreApiToken { name: "x".into(), token: ApiToken::new("SEKRIT-1".into()), ends_at: None },
            Request::StoreResponse { name: "x".into(), body: TokenResponseText::new("{\"a\":\"SEKRIT-2\"}".into()) },
            Answer::Token { token: AccessToken::new("SEKRIT-3".into()) },
        );
        assert!(!shown.contains("SEKRIT"), "{shown}");
        // ... while the wire still carries it
        let wire = serde_json::to_string(&Answer::Token { token: AccessToken::new("SEKRIT-3".into()) }).unwrap();
        assert_eq!(wire, r#"{"answer":"token","token":"SEKRIT-3"}"#);
    }
}

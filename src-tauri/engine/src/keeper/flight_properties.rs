//! Property test of the keeper's single flight: however many `token()` and `refresh()` calls
//! arrive at once, for however many integrations, at most one refresh of an integration is at
//! its token endpoint at any moment, and every refresh presents the newest refresh token (a
//! rotated-away one would make a real provider revoke the whole grant).
//!
//! The keeper is the real one (in-process, [`MemoryStore`], files in a temporary folder); the
//! token endpoint is [`TokenEndpoint`], a few lines of HTTP/1.1 on 127.0.0.1 written here because
//! the engine has no HTTP server dependency and this answers exactly one kind of POST.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::model::{IntegrationConfig, IntegrationKind, OauthConfig};
use crate::notify::RecordingNotifier;
use crate::paths::Paths;
use crate::properties::support::{config, heavy_cases};
use crate::store::memory::MemoryStore;
use crate::{Keeper, KeeperOptions};

/// What the endpoint saw for one integration (the first segment of the request path).
#[derive(Debug, Default)]
struct Seen {
    /// Refreshes at the endpoint right now.
    in_flight: u32,
    /// The most that ever were at once.
    most_at_once: u32,
    /// Refreshes answered.
    refreshes: u32,
    /// The refresh token the endpoint issued last; a request with any other is a reuse.
    current: String,
    /// Requests that presented a refresh token other than the current one.
    reused: u32,
}

/// A token endpoint that rotates refresh tokens and measures concurrency per integration.
struct TokenEndpoint {
    url: String,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
}

impl TokenEndpoint {
    /// Starts it; each refresh is held for `delay` before the answer, and the new access token
    /// lives `expires_in` seconds.
    async fn start(delay: Duration, expires_in: u64) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
        let state = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let seen = state.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut read = BufReader::new(read);
                    let mut line = String::new();
                    read.read_line(&mut line).await.ok()?;
                    let path = line.split(' ').nth(1)?.to_string();
                    let name = path.trim_start_matches('/').split('/').next()?.to_string();
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        read.read_line(&mut header).await.ok()?;
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().ok()?;
                        }
                    }
                    let mut body = vec![0; length];
                    read.read_exact(&mut body).await.ok()?;
                    let presented = url::form_urlencoded::parse(&body)
                        .find(|(k, _)| k == "refresh_token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    {
                        let mut seen = seen.lock().unwrap();
                        let s = seen.entry(name.clone()).or_default();
                        s.in_flight += 1;
                        s.most_at_once = s.most_at_once.max(s.in_flight);
                        if presented != s.current {
                            s.reused += 1;
                        }
                    }
                    tokio::time::sleep(delay).await;
                    let answer = {
                        let mut seen = seen.lock().unwrap();
                        let s = seen.get_mut(&name).unwrap();
                        s.in_flight -= 1;
                        s.refreshes += 1;
                        s.current = format!("{name}-r{}", s.refreshes);
                        serde_json::json!({
                            "access_token": format!("{name}-a{}", s.refreshes),
                            "token_type": "bearer",
                            "expires_in": expires_in,
                            "refresh_token": s.current,
                        })
                        .to_string()
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        answer.len()
                    );
                    write.write_all(head.as_bytes()).await.ok()?;
                    write.write_all(answer.as_bytes()).await.ok()?;
                    write.shutdown().await.ok()
                });
            }
        });
        Self { url, seen }
    }

    /// Makes `name` known with its first refresh token.
    fn issue_first(&self, name: &str) -> String {
        let first = format!("{name}-r0");
        self.seen.lock().unwrap().entry(name.to_string()).or_default().current = first.clone();
        first
    }
}

fn oauth_config(name: &str, endpoint: &str) -> IntegrationConfig {
    IntegrationConfig {
        name: name.into(),
        provider: "oauth2".into(),
        probe_interval_secs: 1800,
        kind: IntegrationKind::Oauth(OauthConfig::example(&format!("{endpoint}/{name}/token"))),
    }
}

/// One call a script or the keeper makes.
#[derive(Debug, Clone, Copy)]
enum Call {
    Token(usize),
    Refresh(usize),
}

fn call(integrations: usize) -> impl Strategy<Value = Call> {
    (0..integrations, any::<bool>()).prop_map(|(i, refresh)| if refresh { Call::Refresh(i) } else { Call::Token(i) })
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Call>, u64, u64)> {
    (1usize..4).prop_flat_map(|n| (Just(n), prop::collection::vec(call(n), 1..30), 0u64..8, 0u64..4))
}

async fn run(integrations: usize, calls: Vec<Call>, delay_ms: u64, expires_in: u64) -> Result<(), TestCaseError> {
    let endpoint = TokenEndpoint::start(Duration::from_millis(delay_ms), expires_in).await;
    let dir = tempfile::tempdir().unwrap();
    let keeper = Keeper::open(KeeperOptions {
        paths: Paths::under(dir.path()),
        store: Arc::new(MemoryStore::new()),
        notifier: Arc::new(RecordingNotifier::default()),
        open_url: Arc::new(|_| Ok(())),
        clock: crate::clock::SystemClock::shared(),
    })
    .unwrap();
    let names: Vec<String> = (0..integrations).map(|i| format!("i{i}")).collect();
    for name in &names {
        keeper.add(oauth_config(name, &endpoint.url), None).await.unwrap();
        let first = endpoint.issue_first(name);
        let body = serde_json::json!({
            "access_token": format!("{name}-a0"), "token_type": "bearer", "expires_in": expires_in, "refresh_token": first,
        });
        keeper.store_response(name, body.to_string().as_bytes()).await.unwrap();
    }
    let forced: Vec<usize> =
        calls.iter().filter_map(|c| if let Call::Refresh(i) = c { Some(*i) } else { None }).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for c in calls {
        let keeper = keeper.clone();
        let name = match c {
            Call::Token(i) | Call::Refresh(i) => names[i].clone(),
        };
        tasks.spawn(async move {
            match c {
                Call::Token(_) => keeper.token(&name).await.map(|_| ()),
                Call::Refresh(_) => keeper.refresh(&name).await.map(|_| ()),
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        // Calls may fail (a token that ends within 2 s is not handed out); they must not panic.
        done.expect("a call panicked").ok();
    }
    let seen = endpoint.seen.lock().unwrap();
    for name in &names {
        let s = &seen[name];
        prop_assert!(s.most_at_once <= 1, "{name}: {} refreshes at once", s.most_at_once);
        prop_assert_eq!(s.reused, 0, "{}: a rotated-away refresh token was presented", name);
        let forced_here = forced.iter().filter(|i| names[**i] == *name).count() as u32;
        prop_assert!(s.refreshes >= forced_here.min(1), "{name}: no refresh although one was forced");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(heavy_cases(16)))]

    #[test]
    fn at_most_one_refresh_per_integration_is_in_flight((integrations, calls, delay_ms, expires_in) in scenario()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        runtime.block_on(run(integrations, calls, delay_ms, expires_in))?;
    }
}

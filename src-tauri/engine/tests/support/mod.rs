//! What the engine's integration tests share: a tiny local token endpoint and an in-process
//! keeper (memory store, steppable clock, recording notifier) with one integration, "svc",
//! signed in against it.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokenkeeper_engine::clock::SteppableClock;
use tokenkeeper_engine::model::{IntegrationConfig, IntegrationKind, OauthConfig, State};
use tokenkeeper_engine::notify::RecordingNotifier;
use tokenkeeper_engine::paths::Paths;
use tokenkeeper_engine::store::memory::MemoryStore;
use tokenkeeper_engine::{Keeper, KeeperOptions};

/// A token endpoint: answers each POST with a new pair living `lifetime_s`, `delay` after the
/// request arrived, and notes when each request arrived (in real time).
/// Hand-written on a std listener: a dozen lines, and the engine has no HTTP server dependency.
pub struct TokenEndpoint {
    pub url: String,
    pub lifetime_s: i64,
    refreshes: Arc<Mutex<Vec<Instant>>>,
}

impl TokenEndpoint {
    pub fn start(lifetime_s: i64, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let refreshes = Arc::new(Mutex::new(Vec::new()));
        let seen = refreshes.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                seen.lock().unwrap().push(Instant::now());
                std::thread::sleep(delay);
                let json = format!(
                    r#"{{"access_token":"at-{n}","refresh_token":"rt-{n}","token_type":"Bearer","expires_in":{lifetime_s}}}"#
                );
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                );
            }
        });
        Self { url, lifetime_s, refreshes }
    }

    /// A token address nothing listens on: every renewal fails to connect (a provider that
    /// is down). Sign-ins through [`Setup::signed_in`] still give tokens of `lifetime_s`.
    pub fn unreachable(lifetime_s: i64) -> Self {
        Self { url: "http://127.0.0.1:9/token".into(), lifetime_s, refreshes: Arc::default() }
    }

    pub fn count(&self) -> usize {
        self.refreshes.lock().unwrap().len()
    }

    pub fn first(&self) -> Option<Instant> {
        self.refreshes.lock().unwrap().first().copied()
    }
}

pub struct Setup {
    _dir: tempfile::TempDir,
    pub paths: Paths,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<SteppableClock>,
    pub notices: RecordingNotifier,
    pub endpoint: TokenEndpoint,
}

impl Setup {
    pub fn new(endpoint: TokenEndpoint) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            paths: Paths::under(dir.path()),
            _dir: dir,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SteppableClock::new()),
            notices: RecordingNotifier::default(),
            endpoint,
        }
    }

    pub fn open(&self) -> Keeper {
        Keeper::open(KeeperOptions {
            paths: self.paths.clone(),
            store: self.store.clone(),
            notifier: Arc::new(self.notices.clone()),
            open_url: Arc::new(|_| Ok(())),
            clock: self.clock.clone(),
        })
        .expect("keeper opens")
    }

    /// Adds "svc" and signs it in with a token of the endpoint's lifetime (a handed-over
    /// response, not a request); returns the keeper and when (real time).
    pub async fn signed_in(&self) -> (Keeper, Instant) {
        let keeper = self.open();
        let config = IntegrationConfig {
            name: "svc".into(),
            provider: "oauth2".into(),
            probe_interval_secs: 1800,
            kind: IntegrationKind::Oauth(OauthConfig {
                issuer: None,
                authorize_url: "http://127.0.0.1:9/authorize".parse().unwrap(),
                token_url: self.endpoint.url.parse().unwrap(),
                revocation_url: None,
                probe_url: None,
                sites_url: None,
                client_id: "c".into(),
                has_client_secret: false,
                scopes: vec![],
            }),
        };
        keeper.add(config, None).await.expect("added");
        let body = format!(
            r#"{{"access_token":"at-0","refresh_token":"rt-0","token_type":"Bearer","expires_in":{}}}"#,
            self.endpoint.lifetime_s
        );
        let received = Instant::now();
        let view = keeper.store_response("svc", body.as_bytes()).await.expect("signed in");
        assert_eq!(view.state, State::Working);
        (keeper, received)
    }
}

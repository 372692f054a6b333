//! A fast local token endpoint for scale runs (`make bench-scale`, tests/tests/scale.rs): many
//! integrations, each with one rotating refresh token, and a record of how punctually each was
//! refreshed. The OAuth fixture (oidc-provider) cannot answer thousands of refreshes a minute on
//! this machine; this endpoint does little more than parse a form and format a JSON line.
//!
//! Integration `i` starts with refresh token `rt-<i>-0` (the bench seeds the keychain with it).
//! A refresh with the current token answers `at-<i>-<g+1>` / `rt-<i>-<g+1>`, living
//! [`FarmOptions::lifetime_s`]; an older token is a reuse (counted, answered `invalid_grant`, so
//! the integration shows as needing sign-in). For each token the farm issued itself, the refresh
//! that replaces it is scored: lateness = refresh time − ideal time, the ideal being the moment
//! the keeper's rule renews it (expiry as the keeper sees it, in whole seconds, minus the
//! renewal margin), and whether the token had already expired.
//!
//! Hand-written HTTP/1.1 (keep-alive, `Content-Length` bodies only) on std threads, one per
//! connection: the keeper opens at most a few dozen, and no server crate is in this workspace.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// How the farm answers.
#[derive(Debug, Clone, Copy)]
pub struct FarmOptions {
    /// Number of integrations (`rt-0-0` … `rt-<n-1>-0`).
    pub integrations: usize,
    /// `expires_in` of every access token issued.
    pub lifetime_s: u64,
    /// The keeper's renewal margin for this lifetime (ms before expiry).
    pub margin_ms: i64,
}

/// One scored refresh: of a token the farm issued.
#[derive(Debug, Clone, Copy)]
pub struct Refresh {
    /// When it arrived (wall clock, ms).
    pub at_ms: i64,
    /// `at_ms` − the ideal renewal time (negative: early, as the keeper's jitter allows).
    pub lateness_ms: i64,
    /// The token it replaced had expired already.
    pub expired: bool,
}

#[derive(Default)]
struct Farm {
    /// Per integration: current generation and when (ms) the farm issued it (0: seeded).
    current: Vec<(u32, i64)>,
    refreshes: Vec<Refresh>,
    /// Refreshes of seeded tokens (not scored).
    seeded: usize,
    reused: usize,
    bad_requests: usize,
}

/// The running endpoint; serves until the process exits.
pub struct TokenFarm {
    url: String,
    options: FarmOptions,
    state: Arc<Mutex<Farm>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl TokenFarm {
    /// Listens on 127.0.0.1 (any free port).
    pub fn start(options: FarmOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token farm");
        let url = format!("http://{}/token", listener.local_addr().expect("farm address"));
        let state = Arc::new(Mutex::new(Farm { current: vec![(0, 0); options.integrations], ..Farm::default() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state, options));
            }
        });
        Self { url, options, state }
    }

    /// The token endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn options(&self) -> FarmOptions {
        self.options
    }

    /// Every refresh answered so far (seeded and scored).
    pub fn total(&self) -> usize {
        let farm = self.lock();
        farm.seeded + farm.refreshes.len()
    }

    /// Scored refreshes that arrived at or after `since_ms`.
    pub fn refreshes_since(&self, since_ms: i64) -> Vec<Refresh> {
        self.lock().refreshes.iter().filter(|r| r.at_ms >= since_ms).copied().collect()
    }

    /// Refresh tokens presented after they had been rotated.
    pub fn reused(&self) -> usize {
        self.lock().reused
    }

    /// Requests that were not a refresh of a known integration.
    pub fn bad_requests(&self) -> usize {
        self.lock().bad_requests
    }

    /// Integrations whose seeded token has not been refreshed yet.
    pub fn never_refreshed(&self) -> usize {
        self.lock().current.iter().filter(|(gen, _)| *gen == 0).count()
    }

    /// Integrations whose current token, issued by the farm, has already expired (nobody renewed
    /// it in time): at this moment they have no valid access token.
    pub fn expired_now(&self) -> usize {
        let (now, life) = (now_ms(), self.options.lifetime_s as i64 * 1000);
        self.lock().current.iter().filter(|(gen, issued)| *gen > 0 && now > issued + life).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Farm> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Answers requests on one connection until it closes.
fn serve(stream: TcpStream, state: &Mutex<Farm>, options: FarmOptions) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, json) = answer(&body, state, options);
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        if out.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

/// The refresh token's integration and generation, from a form body.
fn presented(body: &[u8]) -> Option<(usize, u32)> {
    let body = std::str::from_utf8(body).ok()?;
    let token = body.split('&').find_map(|kv| kv.strip_prefix("refresh_token="))?;
    let mut parts = token.strip_prefix("rt-")?.split('-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn answer(body: &[u8], state: &Mutex<Farm>, options: FarmOptions) -> (&'static str, String) {
    let now = now_ms();
    let mut farm = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some((i, gen)) = presented(body).filter(|(i, _)| *i < farm.current.len()) else {
        farm.bad_requests += 1;
        return ("400 Bad Request", r#"{"error":"invalid_request"}"#.into());
    };
    let (current, issued) = farm.current[i];
    if gen != current {
        farm.reused += 1;
        return ("400 Bad Request", r#"{"error":"invalid_grant"}"#.into());
    }
    if issued == 0 {
        farm.seeded += 1;
    } else {
        let lifetime_ms = options.lifetime_s as i64 * 1000;
        // the keeper's own view: issued at a whole second, expiring a lifetime later
        let ideal = (issued.div_euclid(1000) * 1000 + lifetime_ms) - options.margin_ms;
        farm.refreshes.push(Refresh { at_ms: now, lateness_ms: now - ideal, expired: now > issued + lifetime_ms });
    }
    let next = current + 1;
    farm.current[i] = (next, now);
    let json = format!(
        r#"{{"access_token":"at-{i}-{next}","refresh_token":"rt-{i}-{next}","token_type":"Bearer","expires_in":{}}}"#,
        options.lifetime_s
    );
    ("200 OK", json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_rotates_and_a_reuse_is_refused() {
        let state = Mutex::new(Farm { current: vec![(0, 0); 2], ..Farm::default() });
        let options = FarmOptions { integrations: 2, lifetime_s: 10, margin_ms: 5_000 };
        let (status, json) = answer(b"grant_type=refresh_token&refresh_token=rt-1-0", &state, options);
        assert_eq!(status, "200 OK");
        assert!(json.contains(r#""refresh_token":"rt-1-1""#) && json.contains(r#""expires_in":10"#), "{json}");
        let (status, _) = answer(b"grant_type=refresh_token&refresh_token=rt-1-0", &state, options);
        assert_eq!(status, "400 Bad Request");
        let (status, _) = answer(b"grant_type=refresh_token&refresh_token=rt-1-1", &state, options);
        assert_eq!(status, "200 OK");
        let farm = state.lock().unwrap();
        assert_eq!((farm.seeded, farm.reused, farm.refreshes.len()), (1, 1, 1));
        // refreshed at once: ~5 s before the ideal moment, not expired
        let r = farm.refreshes[0];
        assert!((-5_000..=-3_900).contains(&r.lateness_ms) && !r.expired, "{r:?}");
    }
}

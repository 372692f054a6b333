//! Many OAuth integrations at once, for the soak and crash runs.
//!
//! A [`Fleet`] is `n` integrations in one [`Sandbox`], all signed in to the real OAuth fixture,
//! whose token endpoint is a [`FaultProxy`] in front of it. Sign-in goes through
//! `tokenkeeper login NAME --from-response -` with a response the harness got from the fixture
//! itself (authorization code + PKCE), so setting up 200 integrations takes seconds, not a browser
//! dance each. Every `tokenkeeper` call here is the real binary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{FaultProxy, Notice, OidcOptions, OidcServer, Sandbox, CLIENT_ID, CLIENT_SECRET};

/// The scope every fleet integration asks for (with `offline_access`: refresh tokens).
pub const FLEET_SCOPE: &str = "openid offline_access email";

/// One run's world: the OAuth fixture with tokens of a random lifetime in `token_life_secs`, the
/// proxy in front of it (with a refresh-token reuse window when given), a sandbox, and `n` signed-in
/// integrations.
pub struct Rig {
    pub server: OidcServer,
    pub proxy: FaultProxy,
    pub sb: Sandbox,
    pub fleet: Fleet,
}

impl Rig {
    pub fn start(n: usize, token_life_secs: (u64, u64), reuse_window: Option<Duration>) -> Result<Self> {
        let server = OidcServer::try_start(OidcOptions {
            at_ttl: token_life_secs.0,
            at_ttl_max: Some(token_life_secs.1),
            ..OidcOptions::default()
        })?;
        let proxy = FaultProxy::start(server.addr());
        proxy.set_reuse_window(reuse_window);
        let sb = Sandbox::new();
        let setup = Instant::now();
        let fleet = Fleet::create(&sb, &server, &proxy, n)?;
        eprintln!("{n} integrations added and signed in in {:.1} s", setup.elapsed().as_secs_f64());
        Ok(Self { server, proxy, sb, fleet })
    }
}

/// `tokenkeeper add NAME --provider oauth2` with the fixture's authorization endpoint and the
/// proxy's token endpoint (the client secret on stdin).
pub fn add_through_proxy(sb: &Sandbox, server: &OidcServer, proxy: &FaultProxy, name: &str) -> Result<()> {
    let (authorize, token) = (server.authorize_url(), format!("{}/token", proxy.url()));
    let args = ["--provider", "oauth2", "--authorize-url", &authorize, "--token-url", &token, "--scope", FLEET_SCOPE];
    let out = sb.add_confidential(name, &args, CLIENT_ID, CLIENT_SECRET);
    if !out.status.success() {
        bail!("add {name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// The integrations of one run.
pub struct Fleet {
    /// Their names, `fleet-000`, `fleet-001`, …
    pub names: Vec<String>,
}

impl Fleet {
    /// Adds `n` integrations whose token endpoint is `proxy` and signs each in.
    pub fn create(sb: &Sandbox, server: &OidcServer, proxy: &FaultProxy, n: usize) -> Result<Self> {
        let names: Vec<String> = (0..n).map(|i| format!("fleet-{i:03}")).collect();
        for name in &names {
            add_through_proxy(sb, server, proxy, name)?;
            let response = server.sign_in(CLIENT_ID, FLEET_SCOPE).with_context(|| format!("sign-in of {name}"))?;
            let out = sb.run(&["login", name, "--from-response", "-"], Some(&response.to_string()));
            if !out.status.success() {
                bail!("login {name}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Ok(Self { names })
    }

    /// Each integration's state as `tokenkeeper list --json` tells it (`working`, `offline`, …).
    pub fn states(&self, sb: &Sandbox) -> Result<BTreeMap<String, String>> {
        let out = sb.run(&["list", "--json"], None);
        if !out.status.success() {
            bail!("list --json: {}", String::from_utf8_lossy(&out.stderr));
        }
        let all: Value = serde_json::from_slice(&out.stdout).context("list --json is not JSON")?;
        Ok(all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?.to_owned(), v["state"].as_str()?.to_owned())))
            .collect())
    }

    /// The refresh token each integration keeps in the keychain (`None` where there is none or the
    /// item cannot be read).
    pub fn stored_refresh_tokens(&self, sb: &Sandbox) -> BTreeMap<String, Option<String>> {
        self.names
            .iter()
            .map(|name| {
                let rt = sb
                    .keychain_secret(name)
                    .and_then(|s| serde_json::from_str::<Value>(s.trim()).ok())
                    .and_then(|doc| doc["refresh_token"].as_str().map(str::to_owned));
                (name.clone(), rt)
            })
            .collect()
    }
}

/// What kind of notice Token Keeper showed, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoticeKind {
    /// Critical: the provider refused the sign-in ("Needs sign-in").
    SignInRefused,
    /// Normal: it cannot renew and the token ends soon or has ended (offline).
    CannotRenew,
    /// Low: it works again.
    WorkingAgain,
    /// Anything else (expiry-date warnings, …).
    Other,
}

/// The (integration, kind) pairs in `notices`, a grouped notice counting once per integration it
/// lists, each by its own line (a group can mix "stopped working" and "is working again").
pub fn notices_by_integration(notices: &[Notice]) -> Vec<(String, NoticeKind)> {
    let kind_of = |text: &str, critical: bool| {
        if critical && text.contains("stopped working") {
            NoticeKind::SignInRefused
        } else if text.contains("working again") {
            NoticeKind::WorkingAgain
        } else if text.contains("stopped working") || text.contains("may stop working") {
            NoticeKind::CannotRenew
        } else {
            NoticeKind::Other
        }
    };
    let mut out = Vec::new();
    for n in notices.iter().filter(|n| n.app == "Token Keeper") {
        let grouped: Vec<&str> = n.body.lines().filter_map(|l| l.strip_prefix("• ")).collect();
        if grouped.is_empty() {
            let name = n.summary.split(' ').next().unwrap_or_default().to_owned();
            out.push((name, kind_of(&n.summary, n.is_critical())));
        } else {
            // A group is critical when one of its lines is a sign-in refusal, and its lines are
            // the summaries only: "stopped working" in a critical group counts as a refusal (for
            // the soak, which wants none, that errs on the strict side).
            for line in grouped {
                let name = line.split(' ').next().unwrap_or_default().to_owned();
                out.push((name, kind_of(line, n.is_critical())));
            }
        }
    }
    out
}

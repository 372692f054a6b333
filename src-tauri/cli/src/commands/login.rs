//! `tokenkeeper login NAME`: gets an integration signed in.
//!
//! - OAuth: the engine's sign-in (authorization code + PKCE, loopback redirect). We only decide
//!   how the authorization URL reaches the person: the system browser (with the URL on standard
//!   error in case nothing opens), or with `--no-browser` the URL as the only line on standard
//!   output, for a script or a person to open.
//! - `--device`: device sign-in (RFC 8628) for machines without a browser: the code and the
//!   address go to standard error in plain words, and the address (with the code in it when the
//!   service gives one) is the only line on standard output, as with `--no-browser`.
//! - `--from-response FILE|-`: a token response the service already gave, handed over as is.
//! - API token: one line from standard input, checked by the engine before it is stored, with
//!   its end date (`--expires`), which replaces the old token's.
//!
//! Progress and the result go to standard error, so standard output carries only the URL. After
//! a sign-in that lists the sites it reaches (Atlassian), they are shown too, with their cloud ids.

use std::io::Write;

use tokenkeeper_engine::actions::device::DeviceCode;
use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::model::Kind;
use tokenkeeper_engine::secret::ApiToken;
use tokenkeeper_engine::KeeperError;
use url::Url;

use super::say;
use crate::args::LoginArgs;
use crate::failure::Failure;
use crate::words::Now;
use crate::{input, text};

pub async fn login(backend: &Backend, args: LoginArgs, now: Now) -> Result<(), Failure> {
    let name = args.name.as_str();
    let view = if let Some(path) = args.from_response {
        let body = input::response(path).await?;
        backend.store_response(name, body).await?
    } else if args.device {
        let who = name.to_string();
        backend.sign_in_with_device_code(name, move |code| show_code(&who, code)).await?
    } else if backend.status(name).await?.view.kind == Kind::ApiToken {
        let token = input::secret_line(format!("the API token for {name}")).await?;
        say(&format!("Checking the token for {name}…"));
        let ends_at = args.expires.map(|day| Calendar::system().end_of_day(day));
        backend.store_api_token(name, ApiToken::new(token), ends_at).await?
    } else if args.expires.is_some() {
        return Err(Failure::usage(format!("\"{name}\" uses a sign-in: --expires is for API tokens")));
    } else {
        let who = name.to_string();
        let no_browser = args.no_browser;
        backend.sign_in(name, move |url| show_url(&who, url, no_browser)).await?
    };
    say(&format!("Signed in. {}", text::summary(&view, now.again(), &Calendar::system())));
    if let Ok(status) = backend.status(name).await {
        if !status.sites.is_empty() {
            say(&format!("The sign-in reaches these sites:\n{}", text::sites(&status.sites).trim_end()));
        }
    }
    Ok(())
}

/// Shows the sign-in address: in the browser, or as the only line on standard output.
fn show_url(name: &str, url: &Url, no_browser: bool) -> Result<(), KeeperError> {
    // The engine's rule for what a browser may open, with --no-browser too: the address is for one.
    tokenkeeper_engine::address::for_browser(url)
        .map_err(|e| KeeperError::BadInput(format!("the sign-in page of {name} cannot be opened: {e}")))?;
    if no_browser {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")
            .and_then(|()| out.flush())
            .map_err(|e| KeeperError::Failed(format!("could not write the sign-in address to standard output: {e}")))?;
        say(&format!(
            "Open the address above in a browser on this computer to sign in to {name}. Waiting up to 5 minutes (Ctrl-C to cancel)…"
        ));
    } else {
        say(&format!("Opening your browser to sign in to {name}… If nothing opens, visit: {url}"));
        if let Err(e) = tokenkeeper_engine::address::open_in_browser(url, webbrowser::open) {
            say(&format!("({e}.)"));
        }
        say("Waiting for the sign-in to finish, up to 5 minutes (Ctrl-C to cancel)…");
    }
    Ok(())
}

/// Shows a device sign-in's code and address in plain words on standard error, and the address
/// to open as the only line on standard output.
fn show_code(name: &str, code: &DeviceCode) -> Result<(), KeeperError> {
    let minutes = code.expires_in_secs.div_ceil(60).max(1);
    say(&format!(
        "To sign in to {name}, open {} in a browser on any device and enter the code {} (valid for {minutes} minute{}).",
        code.verification_uri,
        code.user_code,
        if minutes == 1 { "" } else { "s" }
    ));
    if code.verification_uri_complete.is_some() {
        say(&format!("Or open this address, which has the code in it: {}", code.url()));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", code.url())
        .and_then(|()| out.flush())
        .map_err(|e| KeeperError::Failed(format!("could not write the sign-in address to standard output: {e}")))?;
    say("Waiting for the code to be confirmed (Ctrl-C to cancel)…");
    Ok(())
}

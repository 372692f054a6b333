//! The user's browser, without a browser: follows an authorization URL through the provider's
//! pages (and forms) to the client's loopback redirect, or completes a device verification.

use anyhow::{anyhow, bail, Context, Result};
use url::Url;

use crate::{block_on, http_client, snippet};

/// What the browser got from the loopback redirect_uri at the end of a sign-in.
#[derive(Clone, Debug)]
pub struct LoopbackHit {
    /// The full URL requested (`http://127.0.0.1:<port>/…?code=…&state=…`, or `?error=…`).
    pub url: String,
    /// Its HTTP status.
    pub status: u16,
    /// Its body (the keeper's "you can close this tab" page).
    pub body: String,
    /// Every URL requested before it.
    pub hops: Vec<String>,
}

/// Acts as the user's browser for an authorization URL printed by `tokenkeeper login --no-browser`
/// (or opened by the keeper): with the fixture's `AUTO_LOGIN` user, GETs it with a cookie-keeping
/// client and follows the redirects (at most 12) until the loopback `redirect_uri` (taken from the
/// URL's `redirect_uri` parameter, else any `127.0.0.1` URL on another port) was requested, and
/// requires that it answered 200. Errors say where the journey stopped.
pub fn follow_authorization(url: &str) -> Result<()> {
    let hit = follow_authorization_to_loopback(url)?;
    if hit.status != 200 {
        bail!("the loopback redirect {} answered HTTP {}: {}", hit.url, hit.status, snippet(&hit.body));
    }
    Ok(())
}

/// Like [`follow_authorization`], but returns what the loopback redirect_uri answered whatever
/// its status (e.g. to check the keeper's page after a refused consent).
pub fn follow_authorization_to_loopback(url: &str) -> Result<LoopbackHit> {
    let start = Url::parse(url).with_context(|| format!("not a URL: {url:?}"))?;
    let redirect_uri = start.query_pairs().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.into_owned());
    let start_port = start.port_or_known_default();
    let is_loopback_target = move |u: &Url| match &redirect_uri {
        Some(r) => u.as_str().starts_with(r.as_str()),
        None => {
            matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) && u.port_or_known_default() != start_port
        }
    };
    block_on(async move {
        let client = http_client(true);
        let mut current = start;
        let mut hops = Vec::new();
        for _ in 0..12 {
            if is_loopback_target(&current) {
                let resp = client
                    .get(current.clone())
                    .send()
                    .await
                    .with_context(|| format!("the loopback redirect {current} did not answer (after {hops:?})"))?;
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                return Ok(LoopbackHit { url: current.to_string(), status, body, hops });
            }
            let resp = client
                .get(current.clone())
                .send()
                .await
                .with_context(|| format!("GET {current} failed (after {hops:?})"))?;
            hops.push(current.to_string());
            let status = resp.status();
            if status.is_redirection() {
                current = redirect_target(&resp, &current)?;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            bail!(
                "the sign-in stopped at {current} with HTTP {status} instead of redirecting to the \
                 loopback address (is the fixture's AUTO_LOGIN set?): {}",
                snippet(&body)
            );
        }
        bail!("more than 12 redirects: {hops:?}")
    })
}

/// Where a redirect answer to a request for `current` points.
fn redirect_target(resp: &reqwest::Response, current: &Url) -> Result<Url> {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("HTTP {} without Location at {current}", resp.status()))?;
    current.join(location).with_context(|| format!("bad Location {location:?}"))
}

/// Acts as the user for the device flow (RFC 8628): opens `verification_uri_complete`
/// (`…/device?user_code=XXXX-XXXX`), submits the provider's forms (code, then "Continue"),
/// signs in and consents as the fixture's `AUTO_LOGIN` user, and requires the provider's
/// "Sign-in Success" page. The device's next poll then gets its tokens.
pub fn follow_device_verification(verification_uri_complete: &str) -> Result<()> {
    let start =
        Url::parse(verification_uri_complete).with_context(|| format!("not a URL: {verification_uri_complete:?}"))?;
    block_on(async move {
        let client = http_client(true);
        let mut current = start.clone();
        let mut resp = client.get(current.clone()).send().await.with_context(|| format!("GET {current}"))?;
        for _ in 0..16 {
            let status = resp.status();
            if status.is_redirection() {
                current = redirect_target(&resp, &current)?;
                resp = client.get(current.clone()).send().await.with_context(|| format!("GET {current}"))?;
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            if status.is_success() && body.contains("Sign-in Success") {
                return Ok(());
            }
            let Some(form) = parse_post_form(&body) else {
                bail!("device verification stopped at {current} (HTTP {status}): {}", snippet(&body));
            };
            if form.visible_inputs > 0 {
                bail!("the provider asks for input at {current} (wrong or expired code?): {}", snippet(&body));
            }
            let action = if form.action.is_empty() { current.clone() } else { current.join(&form.action)? };
            current = action;
            resp = client
                .post(current.clone())
                .form(&form.fields)
                .send()
                .await
                .with_context(|| format!("POST {current}"))?;
        }
        bail!("device verification did not finish after 16 steps (at {current})")
    })
}

struct HtmlForm {
    action: String,
    fields: Vec<(String, String)>,
    visible_inputs: usize,
}

/// The first `<form method="post">` of a page: its action and hidden inputs.
fn parse_post_form(html: &str) -> Option<HtmlForm> {
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let form_and_after = &rest[i..];
        let tag_end = form_and_after.find('>')?;
        let tag = &form_and_after[..tag_end];
        let end = form_and_after.find("</form>").unwrap_or(form_and_after.len());
        if html_attr(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            let body = &form_and_after[tag_end..end];
            let mut fields = Vec::new();
            let mut visible_inputs = 0;
            let mut scan = body;
            while let Some(j) = scan.find("<input") {
                let input = &scan[j..];
                let close = input.find('>').unwrap_or(input.len());
                let itag = &input[..close];
                if html_attr(itag, "type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
                    if let Some(name) = html_attr(itag, "name") {
                        fields.push((name, html_attr(itag, "value").unwrap_or_default()));
                    }
                } else {
                    visible_inputs += 1;
                }
                scan = &input[close..];
            }
            return Some(HtmlForm { action: html_attr(tag, "action").unwrap_or_default(), fields, visible_inputs });
        }
        rest = &form_and_after[tag_end..];
    }
    None
}

/// The value of a double-quoted attribute in a start tag, unescaped.
fn html_attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut from = 0;
    while let Some(pos) = tag[from..].find(&needle) {
        let at = from + pos;
        let preceded_by_space = at == 0 || tag[..at].ends_with(|c: char| c.is_whitespace());
        let start = at + needle.len();
        if preceded_by_space {
            let len = tag[start..].find('"')?;
            return Some(html_unescape(&tag[start..start + len]));
        }
        from = start;
    }
    None
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

//! Listing the sites a sign-in reaches: one authenticated GET of the profile's `sites` address
//! (Atlassian's `accessible-resources`), answered with a JSON array of
//! `{id, name, url, scopes, avatarUrl}`. Only `id` (the cloud id), `name` and `url` are kept.
//!
//! Nothing here may fail a sign-in: the keeper notes a [`SitesOutcome::NotListed`] in the
//! history and keeps the tokens.

use serde::Deserialize;
use url::Url;

use crate::model::Site;
use crate::providers::wire::{host_of, send};
use crate::secret::AccessToken;

/// The most sites kept (a listing is for people to read, not a directory).
pub const MAX_SITES: usize = 100;

/// What listing the sites came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SitesOutcome {
    /// The service listed these sites (possibly none).
    Listed(Vec<Site>),
    /// The list could not be had; the reason in plain words.
    NotListed { reason: String },
}

/// One entry as the service sends it; other fields (`scopes`, `avatarUrl`) are ignored.
#[derive(Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
}

/// GETs `url` with the access token as a Bearer token.
pub async fn list_sites(http: &reqwest::Client, url: &Url, access_token: &AccessToken) -> SitesOutcome {
    let host = host_of(url.as_str());
    let request = http.get(url.clone()).header("accept", "application/json").bearer_auth(access_token.expose());
    match send(request, &host).await {
        Ok((status, _, body)) => read(status, &body, &host),
        Err(e) => SitesOutcome::NotListed { reason: e.to_string() },
    }
}

/// The verdict on an answer (pure, for tests).
pub fn read(status: u16, body: &[u8], host: &str) -> SitesOutcome {
    if !(200..300).contains(&status) {
        return SitesOutcome::NotListed { reason: format!("{host} answered HTTP {status}") };
    }
    match serde_json::from_slice::<Vec<Entry>>(body) {
        Ok(entries) => SitesOutcome::Listed(
            entries
                .into_iter()
                .take(MAX_SITES)
                .map(|e| Site { id: bounded(e.id), name: bounded(e.name), url: bounded(e.url) })
                .collect(),
        ),
        Err(e) => SitesOutcome::NotListed {
            reason: format!(
                "{host} sent a list of sites that could not be read (line {}, column {})",
                e.line(),
                e.column()
            ),
        },
    }
}

fn bounded(s: String) -> String {
    crate::text::one_line(&s, crate::text::MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_answer_gives_id_name_and_address() {
        let body = br#"[{"id":"1324a887-45db-1bf4-1e99-ef0ff456d421","name":"Site name",
            "url":"https://your-domain.atlassian.net","scopes":["write:jira-work"],"avatarUrl":"https://x/flag.png"}]"#;
        assert_eq!(
            read(200, body, "api.atlassian.com"),
            SitesOutcome::Listed(vec![Site {
                id: "1324a887-45db-1bf4-1e99-ef0ff456d421".into(),
                name: "Site name".into(),
                url: "https://your-domain.atlassian.net".into(),
            }])
        );
        assert_eq!(read(200, b"[]", "h"), SitesOutcome::Listed(vec![]));
    }

    #[test]
    fn names_are_one_printable_line_and_short() {
        let long = "x".repeat(500);
        let body = format!(r#"[{{"id":"1","name":"Evil\u001b[2J\nSite","url":"{long}"}}]"#);
        let SitesOutcome::Listed(sites) = read(200, body.as_bytes(), "h") else { panic!() };
        assert_eq!(sites[0].name, "Evil [2J Site");
        assert_eq!(sites[0].url.chars().count(), 201, "200 and an ellipsis");
    }

    #[test]
    fn refusals_and_odd_answers_are_plain_words() {
        assert_eq!(read(401, b"{}", "h"), SitesOutcome::NotListed { reason: "h answered HTTP 401".into() });
        let SitesOutcome::NotListed { reason } = read(200, b"<html>", "h") else { panic!() };
        assert!(reason.starts_with("h sent a list of sites that could not be read"), "{reason}");
        let SitesOutcome::NotListed { .. } = read(200, br#"[{"name":"no id"}]"#, "h") else { panic!() };
    }
}

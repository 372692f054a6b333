//! What an integration is, in a keeper's words: the service, the site it is for and the account
//! it is signed in as; and how a script uses it (the exact `tokenkeeper` commands, shell-quoted).
//!
//! Pure: it reads an integration's configuration, profile and what its last sign-in reported.
//! The window's details show it; the commands belong under "Use in a script" only.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::{IntegrationConfig, IntegrationKind, Site};
use crate::providers::Profile;

/// The variables of a profile's templates that name the keeper's own site (HighQ's instance,
/// Atlassian's site): what "Site" shows.
const SITE_VARIABLES: [&str; 2] = ["instance", "site"];

/// An integration's service, site and account, and the commands a script runs to use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// The service's name ("HighQ Collaborate"), or its host for a service without a preset.
    pub service: String,
    /// The keeper's site at the service ("https://acme.highq.com/acme"), when it has one (a
    /// service without a preset is named by its host in `service` already).
    pub site: Option<String>,
    /// The account it is signed in as (an e-mail), when the service said or the keeper gave it.
    pub account: Option<String>,
    /// Prints a valid token: `tokenkeeper token NAME`.
    pub token_command: String,
    /// Runs a program with the token in `ACCESS_TOKEN`.
    pub exec_command: String,
}

impl About {
    /// `service_name` as the keeper names it elsewhere (notices); `sites` as listed after the
    /// sign-in; `account` whom the token belongs to (`Slot::account`).
    pub fn of(
        config: &IntegrationConfig,
        profile: &Profile,
        service_name: String,
        sites: &[Site],
        account: Option<&str>,
    ) -> About {
        let name = quote(&config.name);
        About {
            service: service_name,
            site: site(config, profile, sites),
            account: account.map(str::to_string),
            token_command: format!("tokenkeeper token {name}"),
            exec_command: format!("tokenkeeper exec {name} -- your-program"),
        }
    }
}

/// One shell word (`'HighQ reporting'`); a name never holds a NUL, the only thing shlex refuses.
fn quote(word: &str) -> String {
    shlex::try_quote(word).map(|q| q.into_owned()).unwrap_or_else(|_| word.to_string())
}

/// The sites the sign-in reaches, else the site the keeper gave when adding it (recovered from the
/// address built from it).
fn site(config: &IntegrationConfig, profile: &Profile, sites: &[Site]) -> Option<String> {
    if !sites.is_empty() {
        return Some(sites.iter().map(|s| s.url.clone()).collect::<Vec<_>>().join(", "));
    }
    let e = &profile.endpoints;
    let (template, url) = match &config.kind {
        IntegrationKind::Oauth(o) => (e.authorize.as_deref(), o.issuer.as_ref().unwrap_or(&o.authorize_url)),
        IntegrationKind::ApiToken(a) => (e.probe.as_deref(), &a.probe_url),
    };
    // a service without a preset is named by its host already
    SITE_VARIABLES.iter().find_map(|var| prefix_of(template?, var, url))
}

/// The value `{var}` took in `url`, when `template` starts with it: "{instance}/authorize.action"
/// and "https://acme.highq.com/acme/authorize.action" give "https://acme.highq.com/acme".
fn prefix_of(template: &str, var: &str, url: &Url) -> Option<String> {
    let rest = template.strip_prefix(&format!("{{{var}}}"))?;
    let rest = rest.split('?').next().unwrap_or_default();
    if rest.contains('{') {
        // more variables after it: cut at the first fixed part
        let fixed = &rest[..rest.find('{').unwrap_or(rest.len())];
        let text = url.as_str();
        return (!fixed.is_empty()).then(|| text.find(fixed).map(|i| text[..i].to_string())).flatten();
    }
    let text = url.as_str().split('?').next().unwrap_or_default();
    text.strip_suffix(rest).map(|s| s.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiTokenConfig, OauthConfig};
    use crate::providers;

    fn oauth(name: &str, provider: &str, authorize: &str) -> IntegrationConfig {
        let mut o = OauthConfig::example("https://id.example/token");
        o.authorize_url = authorize.parse().unwrap();
        IntegrationConfig {
            name: name.into(),
            provider: provider.into(),
            probe_interval_secs: 60,
            kind: IntegrationKind::Oauth(o),
        }
    }

    #[test]
    fn a_highq_integration_names_its_instance_and_the_commands_quote_its_name() {
        let profile = providers::find("highq").unwrap();
        let config = oauth("HighQ reporting", "highq", "https://acme.highq.com/acme/authorize.action");
        let about = About::of(&config, &profile, "HighQ Collaborate".into(), &[], Some("ann@acme.example"));
        assert_eq!(about.site.as_deref(), Some("https://acme.highq.com/acme"));
        assert_eq!(about.account.as_deref(), Some("ann@acme.example"));
        assert_eq!(about.token_command, "tokenkeeper token 'HighQ reporting'");
        assert_eq!(about.exec_command, "tokenkeeper exec 'HighQ reporting' -- your-program");
        assert_eq!(shlex::split(&about.token_command).unwrap(), ["tokenkeeper", "token", "HighQ reporting"]);
    }

    #[test]
    fn an_atlassian_token_names_its_site() {
        let profile = providers::find("atlassian-api-token").unwrap();
        let config = IntegrationConfig {
            name: "jira".into(),
            provider: "atlassian-api-token".into(),
            probe_interval_secs: 60,
            kind: IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url: "https://acme.atlassian.net/rest/api/3/myself".parse().unwrap(),
                username: Some("ann@acme.example".into()),
                expires_at: None,
                expires: None,
            }),
        };
        let about = About::of(&config, &profile, "Atlassian".into(), &[], Some("ann@acme.example"));
        assert_eq!(about.site.as_deref(), Some("https://acme.atlassian.net"));
        assert_eq!(about.account.as_deref(), Some("ann@acme.example"));
        assert_eq!(about.token_command, "tokenkeeper token jira");
    }

    #[test]
    fn a_service_without_a_site_has_none_unless_the_sign_in_listed_sites() {
        // a service without a preset is named by its host already
        let generic = providers::find("oauth2").unwrap();
        let config = oauth("x", "oauth2", "https://login.example.com/authorize");
        assert_eq!(About::of(&config, &generic, "login.example.com".into(), &[], None).site, None);
        let google = providers::find("google").unwrap();
        let config = oauth("g", "google", "https://accounts.google.com/o/oauth2/v2/auth");
        assert_eq!(About::of(&config, &google, "Google".into(), &[], None).site, None);
        let sites = [Site { id: "1".into(), name: "acme".into(), url: "https://acme.atlassian.net".into() }];
        assert_eq!(
            About::of(&config, &google, "Google".into(), &sites, None).site.as_deref(),
            Some("https://acme.atlassian.net")
        );
    }
}

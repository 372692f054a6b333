//! Provider profiles: what differs between services, as data.
//!
//! A profile says how a service speaks (request body encoding, response format, how clients
//! authenticate, which probe statuses mean "this token is dead", what its error codes mean in
//! plain words), what it promises (refresh token rotation and lifetime) and, for a preset, where
//! its endpoints are. Profiles are TOML files under `profiles/`, embedded in the binary; adding a
//! service that speaks standard OAuth needs a file, not code.
//!
//! # The format
//!
//! ```toml
//! id = "highq"                      # what `--provider` takes
//! name = "HighQ Collaborate"        # the service's name in notices
//! kind = "oauth"                    # or "api-token"
//! scopes = []                       # scopes always asked for (the keeper's --scope adds to them)
//! register_url = "https://…"        # where a keeper registers an app (the add wizard links it)
//! takes_scopes = false              # the service ignores scopes: the form does not ask (default true)
//! needs_username = true             # an API token goes with a user name (default false)
//!
//! [endpoints]                       # URL templates (optional; without them the keeper gives URLs)
//! authorize = "{instance}/authorize.action"
//! token = "{instance}/api/oauth2/token"
//! revocation = "…"                  # optional
//! probe = "{instance}/api/3/users/{account}?type=email"
//! sites = "{api}/oauth/token/accessible-resources"  # optional: the sites a sign-in reaches,
//!                                   # fetched once after each sign-in (Atlassian's cloud ids)
//! site_by_cloud_id = "{base}/ex/jira/{cloud_id}"     # optional: what stands in for `{site}`
//!                                   # when the keeper gives a cloud id (`--cloud-id`)
//!
//! [endpoints.defaults]              # values for variables the keeper may leave out
//! base = "https://auth.atlassian.com"
//! api = "https://api.atlassian.com"
//!
//! [authorize_params]                # extra authorization-request parameters
//! audience = "api.atlassian.com"
//!
//! [wire]                            # see [`Wire`]
//! request_body = "form"             # or "json"
//! response = "json-or-xml"          # or "json"
//! client_auth = "body"              # or "basic"
//! errors_with_status_200 = false
//! auth_failure_statuses = [401, 403]
//!
//! [wire.explanations]               # OAuth error codes in plain words
//! invalid_grant = "…"
//!
//! [wire.description_explanations]   # codes inside error_description, in plain words; they win
//! AADSTS700082 = "…"                # over [wire.explanations] (Microsoft's AADSTS… codes)
//!
//! [refresh_token]
//! rotates = true
//! lifetime_days = 365               # counted from the last refresh, unless the service says
//! absolute_days = 365               # counted from the sign-in; refreshes do not extend it
//! ```
//!
//! The end of a sign-in is the earlier of the refresh token's end and the absolute limit; the
//! expiry warnings and "Expiring soon" follow it.
//!
//! Template variables are filled when the integration is added: `{instance}` (`--instance-url`),
//! `{site}` (`--site`), `{base}` (`--base-url`, defaulting to `[endpoints.defaults]`),
//! `{tenant}` (`--tenant`, a directory name such as Microsoft's `common` or a tenant id, not a
//! URL). Values are used without a trailing slash. `{account}` stays in the stored URL and is filled at each
//! check with the account the service named at sign-in (HighQ's `useremail`). `{cloud_id}`
//! (`--cloud-id`) only fills `site_by_cloud_id`. A keeper's `--base-url` also stands in for every
//! other variable whose default is an address (Atlassian's `{api}`): a local or proxied copy of a
//! service serves all of its hosts' paths.

pub mod discovery;
pub mod token_response;
pub mod wire;

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use crate::clock::{Moment, Span};
use crate::phrases::{Failure, Reason};
use crate::text;

/// One provider's profile.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub id: String,
    /// The service's name as keepers know it.
    pub name: String,
    pub kind: ProfileKind,
    #[serde(default)]
    pub wire: Wire,
    #[serde(default)]
    pub refresh_token: RefreshTokenRule,
    /// Scopes always asked for; the keeper's own are added.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Where the service's endpoints are, as URL templates.
    #[serde(default)]
    pub endpoints: Endpoints,
    /// Extra parameters of the authorization request (Atlassian: `audience`, `prompt`).
    #[serde(default)]
    pub authorize_params: BTreeMap<String, String>,
    /// The service's page for registering an app (client id and secret), for the add wizard.
    #[serde(default)]
    pub register_url: Option<Url>,
    /// Whether the keeper may ask for more scopes (HighQ ignores them: its form does not ask).
    #[serde(default = "yes")]
    pub takes_scopes: bool,
    /// Whether an API token goes with a user name (Atlassian refuses a token without the
    /// e-mail): the form marks it required.
    #[serde(default)]
    pub needs_username: bool,
}

fn yes() -> bool {
    true
}

/// URL templates of a preset's endpoints (see the module documentation).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoints {
    pub authorize: Option<String>,
    pub token: Option<String>,
    pub revocation: Option<String>,
    pub probe: Option<String>,
    /// Where to list the sites a sign-in reaches (Atlassian's `accessible-resources`).
    pub sites: Option<String>,
    /// The address that stands in for `{site}` when the keeper gives a cloud id (Atlassian's
    /// API gateway, which scoped API tokens must use).
    pub site_by_cloud_id: Option<String>,
    /// Values for template variables the keeper does not give.
    pub defaults: BTreeMap<String, String>,
}

/// The placeholder filled at check time with the signed-in account.
pub const ACCOUNT_VARIABLE: &str = "account";

/// Why a template could not become a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template needs a value the keeper did not give (the variable's name).
    #[error("this provider needs a value for {{{0}}}")]
    Missing(String),
    /// The template names a variable no one can fill (a broken profile).
    #[error("unknown variable {{{0}}} in a URL template")]
    Unknown(String),
    /// The filled template is not a URL.
    #[error("{0} is not a valid URL")]
    BadUrl(String),
}

impl Profile {
    /// The template variables the profile's endpoints use (without `{account}`), in order.
    pub fn variables(&self) -> Vec<String> {
        let e = &self.endpoints;
        let mut out = Vec::new();
        for template in [&e.authorize, &e.token, &e.revocation, &e.probe, &e.sites].into_iter().flatten() {
            for var in variables_of(template) {
                if var != ACCOUNT_VARIABLE && !out.contains(&var) {
                    out.push(var);
                }
            }
        }
        out
    }

    /// The variables whose default is an address, other than `{base}` (Atlassian's `{api}`): a
    /// keeper's `--base-url` stands in for them too.
    pub fn address_variables(&self) -> impl Iterator<Item = &str> {
        self.endpoints
            .defaults
            .iter()
            .filter(|(k, v)| *k != "base" && (v.starts_with("https://") || v.starts_with("http://")))
            .map(|(k, _)| k.as_str())
    }

    /// Whether this is a generic profile (OAuth 2.0, API token) whose addresses the keeper
    /// gives, rather than a service's preset: its service is then named by its host.
    pub fn is_generic(&self) -> bool {
        self.endpoints == Endpoints::default()
    }

    /// Whether `variable` appears in any endpoint template.
    pub fn uses(&self, variable: &str) -> bool {
        self.variables().iter().any(|v| v == variable)
    }

    /// Fills `template` with `values` (then the profile's defaults); `{account}` stays.
    pub fn expand(&self, template: &str, values: &BTreeMap<String, String>) -> Result<Url, TemplateError> {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| TemplateError::Unknown("{".into()))?;
            let var = &rest[open + 1..close];
            if var == ACCOUNT_VARIABLE {
                out.push_str("{account}");
            } else if let Some(value) = values.get(var).or_else(|| self.endpoints.defaults.get(var)) {
                out.push_str(value.trim_end_matches('/'));
            } else if self.endpoints.defaults.contains_key(var) || KNOWN_VARIABLES.contains(&var) {
                return Err(TemplateError::Missing(var.to_string()));
            } else {
                return Err(TemplateError::Unknown(var.to_string()));
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Url::parse(&out).map_err(|_| TemplateError::BadUrl(out.split('?').next().unwrap_or_default().to_string()))
    }
}

/// Variables the keeper can give when adding an integration.
pub const KNOWN_VARIABLES: &[&str] = &["instance", "site", "base", "tenant", "cloud_id"];

fn variables_of(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    out
}

/// `url` with its `{account}` path segment (stored percent-encoded) replaced by `account`,
/// encoded as one path segment. `None` when the URL needs an account and none is known.
pub fn fill_account(url: &Url, account: Option<&str>) -> Option<Url> {
    const MARK: &str = "/%7Baccount%7D";
    if !url.path().contains(MARK) {
        return Some(url.clone());
    }
    let account = account.filter(|a| !a.is_empty())?;
    let mut scratch = Url::parse("http://segment/").expect("a valid URL");
    scratch.path_segments_mut().ok()?.push(account);
    let encoded = scratch.path().to_string(); // "/" + the account as one encoded segment
    let path = url.path().replace(MARK, &encoded);
    let mut filled = url.clone();
    filled.set_path(&path);
    Some(filled)
}

/// Whether the profile describes refreshable OAuth tokens or a static API token.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    Oauth,
    ApiToken,
}

/// How a service speaks on the wire.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Wire {
    /// Encoding of token-endpoint request bodies.
    pub request_body: BodyEncoding,
    /// What token responses may look like.
    pub response: ResponseFormat,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Some services (GitHub) answer errors with HTTP 200 and an `error` field.
    pub errors_with_status_200: bool,
    /// Probe answers that mean the token no longer works (HighQ uses 403 for "expired").
    pub auth_failure_statuses: Vec<u16>,
    /// OAuth error codes (`invalid_grant`, …) explained in plain words for this service.
    pub explanations: BTreeMap<String, String>,
    /// Codes found inside `error_description` (Microsoft's `AADSTS700082: …`) explained in plain
    /// words; a key matches where it appears not followed by another digit or letter, so
    /// `AADSTS5007` never matches `AADSTS50076`.
    pub description_explanations: BTreeMap<String, String>,
}

impl Wire {
    /// The plain-language explanation of an error code, if the profile has one.
    pub fn explain(&self, code: &str) -> Option<&str> {
        self.explanations.get(code).map(String::as_str)
    }

    /// What an error answer of the token endpoint means: the class (the app registration, or
    /// the sign-in itself), the profile's plain words for it when it has them, and the service's
    /// own code and words as technical detail, on one printable line of bounded length.
    pub fn refusal(&self, code: &str, description: Option<&str>) -> Reason {
        let explained = self.explain_error(code, description).map(str::to_string);
        let failure = if APP_CODES.contains(&code) {
            Failure::AppRefused { explained }
        } else {
            Failure::SignInRefused { explained }
        };
        Reason::new(failure, technical(code, description))
    }
    /// The plain-language explanation of an error: a code named in its description first (the
    /// more specific), then the error code itself.
    pub fn explain_error(&self, code: &str, description: Option<&str>) -> Option<&str> {
        description
            .and_then(|d| {
                self.description_explanations
                    .iter()
                    .find(|(key, _)| contains_code(d, key))
                    .map(|(_, plain)| plain.as_str())
            })
            .or_else(|| self.explain(code))
    }
}

/// OAuth error codes that concern the app registration, not the person's sign-in: only
/// whoever set the app up can fix them.
const APP_CODES: &[&str] = &[
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "incorrect_client_credentials",
    "redirect_uri_mismatch",
];

/// A service's code and words as technical detail: one printable line, bounded.
pub fn technical(code: &str, description: Option<&str>) -> String {
    match description {
        Some(d) => format!("{}: {}", text::one_line(code, 80), text::one_line(d, text::MAX_CHARS)),
        None => text::one_line(code, 80),
    }
}

/// Whether `code` occurs in `text` as a whole code (not followed by a letter or digit).
fn contains_code(text: &str, code: &str) -> bool {
    !code.is_empty()
        && text
            .match_indices(code)
            .any(|(at, _)| !text[at + code.len()..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric()))
}

impl Default for Wire {
    fn default() -> Self {
        Self {
            request_body: BodyEncoding::Form,
            response: ResponseFormat::Json,
            client_auth: ClientAuth::Basic,
            errors_with_status_200: false,
            auth_failure_statuses: vec![401, 403],
            explanations: BTreeMap::new(),
            description_explanations: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BodyEncoding {
    Form,
    Json,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseFormat {
    Json,
    /// JSON or HighQ's `<TokenResponse>` XML.
    JsonOrXml,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret (RFC 6749 §2.3.1, preferred).
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Body,
}

/// What is known about a service's refresh tokens.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshTokenRule {
    /// Every refresh returns a new refresh token and the old one dies.
    pub rotates: bool,
    /// Lifetime counted from the last refresh, when the service does not say
    /// (HighQ: one year from the last generation; Atlassian: 90 days unused).
    pub lifetime_days: Option<u32>,
    /// Absolute lifetime of the whole chain of refresh tokens, counted from the sign-in
    /// (Atlassian: 365 days): refreshes do not extend it, only a new sign-in does.
    pub absolute_days: Option<u32>,
}

impl RefreshTokenRule {
    /// When a sign-in made at `signed_in_at` ends whatever the refreshes, if the service has
    /// such a limit.
    pub fn absolute_end(&self, signed_in_at: Option<Moment>) -> Option<Moment> {
        Some(signed_in_at?.plus(Span::from_days(i64::from(self.absolute_days?))))
    }
}

/// The earlier of two optional ends (an unknown end is no end).
pub fn earliest<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

const BUILT_IN: &[&str] = &[
    include_str!("profiles/oauth2.toml"),
    include_str!("profiles/api-token.toml"),
    include_str!("profiles/highq.toml"),
    include_str!("profiles/atlassian.toml"),
    include_str!("profiles/atlassian-api-token.toml"),
    include_str!("profiles/github.toml"),
    include_str!("profiles/google.toml"),
    include_str!("profiles/microsoft.toml"),
];

/// The built-in profiles, parsed once.
static PROFILES: std::sync::LazyLock<Vec<Profile>> = std::sync::LazyLock::new(|| {
    BUILT_IN
        .iter()
        .map(|text| toml::from_str(text).expect("built-in profiles are valid (checked by a unit test)"))
        .collect()
});

/// Every built-in profile.
pub fn built_in() -> Vec<Profile> {
    PROFILES.clone()
}

/// The built-in profile with this id.
pub fn find(id: &str) -> Option<Profile> {
    PROFILES.iter().find(|p| p.id == id).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_error_is_a_class_with_plain_words_and_the_codes_beside_them() {
        let wire = find("microsoft").unwrap().wire;
        let reason = wire.refusal("invalid_grant", Some("AADSTS70008: expired\n\u{1b}[2Jfake line"));
        let technical = reason.technical.clone().unwrap();
        assert!(!technical.chars().any(char::is_control), "{technical:?}");
        assert_eq!(technical, "invalid_grant: AADSTS70008: expired  [2Jfake line");
        let Failure::SignInRefused { explained: Some(plain) } = &reason.failure else { panic!("{reason:?}") };
        assert!(plain.starts_with("Microsoft did not accept the sign-in"), "{plain}");
        assert!(crate::phrases::jargon(plain).is_none(), "{plain}");
        let generic = Wire::default().refusal("x\ny", None);
        assert_eq!(generic, Reason::new(Failure::SignInRefused { explained: None }, "x y"));
        let app = Wire::default().refusal("invalid_client", Some(&"d".repeat(500)));
        assert!(matches!(app.failure, Failure::AppRefused { explained: None }), "{app:?}");
        assert!(app.technical.unwrap().chars().count() < 300, "the service's words are bounded");
    }

    #[test]
    fn built_in_profiles_parse_and_have_unique_ids() {
        let all = built_in();
        let mut ids: Vec<_> = all.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert_eq!(find("oauth2").unwrap().kind, ProfileKind::Oauth);
        assert_eq!(find("api-token").unwrap().kind, ProfileKind::ApiToken);
        assert!(find("nope").is_none());
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_generic_profiles_have_no_endpoints() {
        for id in ["oauth2", "api-token"] {
            let p = find(id).unwrap();
            assert_eq!(p.endpoints, Endpoints::default());
            assert!(p.variables().is_empty() && p.scopes.is_empty() && p.authorize_params.is_empty());
            assert!(p.is_generic());
        }
    }

    #[test]
    fn highq_endpoints_come_from_the_instance_url() {
        let p = find("highq").unwrap();
        assert_eq!(p.name, "HighQ Collaborate");
        assert_eq!(p.variables(), ["instance"]);
        let v = values(&[("instance", "https://acme.highq.com/acme/")]);
        let e = &p.endpoints;
        assert_eq!(
            p.expand(e.authorize.as_ref().unwrap(), &v).unwrap().as_str(),
            "https://acme.highq.com/acme/authorize.action"
        );
        assert_eq!(
            p.expand(e.token.as_ref().unwrap(), &v).unwrap().as_str(),
            "https://acme.highq.com/acme/api/oauth2/token"
        );
        let probe = p.expand(e.probe.as_ref().unwrap(), &v).unwrap();
        assert_eq!(probe.as_str(), "https://acme.highq.com/acme/api/3/users/%7Baccount%7D?type=email");
        assert_eq!(
            fill_account(&probe, Some("user@client name.com")).unwrap().as_str(),
            "https://acme.highq.com/acme/api/3/users/user@client%20name.com?type=email"
        );
        assert_eq!(fill_account(&probe, None), None, "no account, no check");
        assert_eq!(p.wire.client_auth, ClientAuth::Body);
        assert_eq!(p.wire.response, ResponseFormat::JsonOrXml);
        assert!(p.wire.auth_failure_statuses.contains(&403));
        assert_eq!(p.refresh_token, RefreshTokenRule { rotates: true, lifetime_days: Some(365), absolute_days: None });
        assert_eq!(p.expand("{instance}/x", &BTreeMap::new()), Err(TemplateError::Missing("instance".into())));
    }

    #[test]
    fn atlassian_base_defaults_to_the_real_host_and_can_be_overridden() {
        let p = find("atlassian").unwrap();
        let token = p.endpoints.token.clone().unwrap();
        assert_eq!(p.expand(&token, &BTreeMap::new()).unwrap().as_str(), "https://auth.atlassian.com/oauth/token");
        let local = values(&[("base", "http://127.0.0.1:8080")]);
        assert_eq!(p.expand(&token, &local).unwrap().as_str(), "http://127.0.0.1:8080/oauth/token");
        assert_eq!(p.wire.request_body, BodyEncoding::Json);
        assert_eq!(p.authorize_params.get("audience").map(String::as_str), Some("api.atlassian.com"));
        assert_eq!(p.authorize_params.get("prompt").map(String::as_str), Some("consent"));
        assert_eq!(p.scopes, ["offline_access"]);
        assert!(p.wire.explain("invalid_grant").unwrap().contains("no longer accepts"));
        assert_eq!(
            p.refresh_token,
            RefreshTokenRule { rotates: true, lifetime_days: Some(90), absolute_days: Some(365) },
            "90 days unused (the keeper renews hourly), 365 days from the sign-in"
        );
        let sites = p.endpoints.sites.clone().unwrap();
        assert_eq!(
            p.expand(&sites, &BTreeMap::new()).unwrap().as_str(),
            "https://api.atlassian.com/oauth/token/accessible-resources"
        );
        assert_eq!(p.address_variables().collect::<Vec<_>>(), ["api"]);
        assert_eq!(p.variables(), ["base", "api"]);
    }

    #[test]
    fn the_absolute_limit_counts_from_the_sign_in_and_the_earliest_end_wins() {
        let rule = find("atlassian").unwrap().refresh_token;
        let at = Moment::from_secs;
        assert_eq!(rule.absolute_end(Some(at(1_000))), Some(at(1_000 + 365 * 86_400)));
        assert_eq!(rule.absolute_end(None), None, "an unknown sign-in time has no limit");
        assert_eq!(find("highq").unwrap().refresh_token.absolute_end(Some(at(1_000))), None);
        assert_eq!(earliest(Some(5), Some(3)), Some(3));
        assert_eq!(earliest(None, Some(3)), Some(3));
        assert_eq!(earliest(Some(5), None), Some(5));
        assert_eq!(earliest::<Moment>(None, None), None);
    }

    #[test]
    fn atlassian_api_token_probes_myself_on_the_site() {
        let p = find("atlassian-api-token").unwrap();
        assert_eq!(p.kind, ProfileKind::ApiToken);
        let v = values(&[("site", "https://acme.atlassian.net")]);
        let url = p.expand(p.endpoints.probe.as_ref().unwrap(), &v).unwrap();
        assert_eq!(url.as_str(), "https://acme.atlassian.net/rest/api/3/myself");
        let gateway = p.endpoints.site_by_cloud_id.clone().unwrap();
        let v = values(&[("cloud_id", "1324a887-45db")]);
        assert_eq!(p.expand(&gateway, &v).unwrap().as_str(), "https://api.atlassian.com/ex/jira/1324a887-45db");
        assert_eq!(p.variables(), ["site"], "the gateway is not asked for: only with a cloud id");
    }

    #[test]
    fn every_preset_links_its_app_registration_page() {
        for p in built_in() {
            assert_eq!(p.is_generic(), ["oauth2", "api-token"].contains(&p.id.as_str()), "{}", p.id);
            match p.id.as_str() {
                "oauth2" | "api-token" => assert_eq!(p.register_url, None),
                _ => assert_eq!(p.register_url.as_ref().map(Url::scheme), Some("https"), "{}", p.id),
            }
        }
    }

    #[test]
    fn github_answers_errors_with_200_and_rotates() {
        let p = find("github").unwrap();
        let token = p.expand(p.endpoints.token.as_ref().unwrap(), &BTreeMap::new()).unwrap();
        assert_eq!(token.as_str(), "https://github.com/login/oauth/access_token");
        let authorize = p.expand(p.endpoints.authorize.as_ref().unwrap(), &BTreeMap::new()).unwrap();
        assert_eq!(authorize.as_str(), "https://github.com/login/oauth/authorize");
        let probe = p.expand(p.endpoints.probe.as_ref().unwrap(), &BTreeMap::new()).unwrap();
        assert_eq!(probe.as_str(), "https://api.github.com/user");
        assert!(p.wire.errors_with_status_200);
        assert_eq!(p.wire.auth_failure_statuses, [401], "a 403 from GitHub's API is a rate limit");
        assert!(p.wire.explain("bad_refresh_token").unwrap().contains("six months"));
        assert_eq!(p.refresh_token, RefreshTokenRule { rotates: true, lifetime_days: Some(184), absolute_days: None });
        assert!(p.scopes.is_empty());
    }

    #[test]
    fn google_asks_for_offline_access_and_explains_the_testing_limit() {
        let p = find("google").unwrap();
        assert_eq!(p.authorize_params.get("access_type").map(String::as_str), Some("offline"));
        assert_eq!(p.authorize_params.get("prompt").map(String::as_str), Some("consent"));
        assert_eq!(p.scopes, ["openid"]);
        assert!(p.variables().is_empty());
        let plain = p.wire.explain_error("invalid_grant", Some("Token has been expired or revoked.")).unwrap();
        assert!(plain.contains("\"Testing\"") && plain.contains("7 days") && plain.contains("6 months"), "{plain}");
        for url in [&p.endpoints.authorize, &p.endpoints.token, &p.endpoints.revocation, &p.endpoints.probe] {
            assert_eq!(p.expand(url.as_ref().unwrap(), &BTreeMap::new()).unwrap().scheme(), "https");
        }
    }

    #[test]
    fn microsoft_endpoints_take_the_tenant() {
        let p = find("microsoft").unwrap();
        assert_eq!(p.variables(), ["base", "tenant"]);
        let token = p.endpoints.token.clone().unwrap();
        assert_eq!(
            p.expand(&token, &BTreeMap::new()).unwrap().as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        let v = values(&[("tenant", "contoso.onmicrosoft.com")]);
        assert_eq!(
            p.expand(p.endpoints.authorize.as_ref().unwrap(), &v).unwrap().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        assert_eq!(p.scopes, ["offline_access"]);
        assert_eq!(p.endpoints.probe, None, "no probe that would refuse tokens for other APIs");
        let plain = p.wire.explain_error("invalid_grant", Some("AADSTS700082: The refresh token has expired")).unwrap();
        assert!(plain.contains("not used for 90 days"), "{plain}");
    }

    #[test]
    fn broken_templates_and_profiles_are_refused() {
        let p = find("oauth2").unwrap();
        assert_eq!(p.expand("{nope}/x", &BTreeMap::new()), Err(TemplateError::Unknown("nope".into())));
        assert!(matches!(p.expand("{site}", &values(&[("site", "not a url")])), Err(TemplateError::BadUrl(_))));
        assert!(toml::from_str::<Profile>("id = \"x\"\nname = \"X\"\nkind = \"oauth\"\n[endpoints]\ntokn = \"a\"\n")
            .is_err());
        let p: Profile = toml::from_str(
            "id = \"gh\"\nname = \"GitHub\"\nkind = \"oauth\"\n[endpoints]\ntoken = \"https://github.com/login/oauth/access_token\"\n",
        )
        .unwrap();
        assert_eq!(
            p.expand(p.endpoints.token.as_ref().unwrap(), &BTreeMap::new()).unwrap().host_str(),
            Some("github.com")
        );
    }
}

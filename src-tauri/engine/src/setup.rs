//! Turning what a keeper gives (command-line flags, a profile file, later the window's wizard)
//! into an [`IntegrationConfig`]: the rules shared by every way of adding an integration.
//!
//! Pure: OpenID Connect discovery is done by the caller and handed in as [`Discovered`].
//! Errors name the offending input as a [`Field`], which each caller words its own way
//! (`--instance-url` on the command line, `instance_url` in a profile file).

use std::collections::BTreeMap;

use url::Url;

use crate::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind, OauthConfig};
use crate::providers::discovery::Discovered;
use crate::providers::{Profile, ProfileKind, TemplateError};

/// How often to check a token when the keeper does not say, in seconds.
pub const DEFAULT_PROBE_INTERVAL_SECS: u64 = 30 * 60;
/// The shortest check interval accepted, in seconds.
pub const MIN_PROBE_INTERVAL_SECS: u64 = 5;

/// One input of an integration, as the error messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Provider,
    Issuer,
    AuthorizeUrl,
    TokenUrl,
    RevocationUrl,
    ProbeUrl,
    ClientId,
    ClientSecret,
    Scopes,
    ProbeInterval,
    Username,
    Expires,
    InstanceUrl,
    Site,
    BaseUrl,
    Tenant,
}

impl Field {
    /// The command-line flag that gives this input.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Name => "NAME",
            Field::Provider => "--provider",
            Field::Issuer => "--issuer",
            Field::AuthorizeUrl => "--authorize-url",
            Field::TokenUrl => "--token-url",
            Field::RevocationUrl => "--revocation-url",
            Field::ProbeUrl => "--probe-url",
            Field::ClientId => "--client-id",
            Field::ClientSecret => "--client-secret-stdin",
            Field::Scopes => "--scope",
            Field::ProbeInterval => "--probe-interval",
            Field::Username => "--username",
            Field::Expires => "--expires",
            Field::InstanceUrl => "--instance-url",
            Field::Site => "--site",
            Field::BaseUrl => "--base-url",
            Field::Tenant => "--tenant",
        }
    }

    /// The key that gives this input in a profile file.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Provider => "provider",
            Field::Issuer => "issuer",
            Field::AuthorizeUrl => "authorize_url",
            Field::TokenUrl => "token_url",
            Field::RevocationUrl => "revocation_url",
            Field::ProbeUrl => "probe_url",
            Field::ClientId => "client_id",
            Field::ClientSecret => "client_secret",
            Field::Scopes => "scopes",
            Field::ProbeInterval => "probe_interval_secs",
            Field::Username => "username",
            Field::Expires => "expires",
            Field::InstanceUrl => "instance_url",
            Field::Site => "site",
            Field::BaseUrl => "base_url",
            Field::Tenant => "tenant",
        }
    }

    /// Every field, in the order a profile file documents them.
    pub const ALL: [Field; 17] = [
        Field::Name,
        Field::Provider,
        Field::Issuer,
        Field::AuthorizeUrl,
        Field::TokenUrl,
        Field::RevocationUrl,
        Field::ProbeUrl,
        Field::ClientId,
        Field::ClientSecret,
        Field::Scopes,
        Field::ProbeInterval,
        Field::Username,
        Field::Expires,
        Field::InstanceUrl,
        Field::Site,
        Field::BaseUrl,
        Field::Tenant,
    ];
}

/// What a keeper gives to add an integration (no secret: only whether there is a client secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub name: String,
    pub provider: String,
    pub issuer: Option<Url>,
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    pub revocation_url: Option<Url>,
    pub probe_url: Option<Url>,
    pub client_id: Option<String>,
    pub has_client_secret: bool,
    /// Scopes, each entry possibly several separated by spaces.
    pub scopes: Vec<String>,
    pub probe_interval_secs: u64,
    pub username: Option<String>,
    pub expires: Option<time::Date>,
    pub instance_url: Option<Url>,
    pub site: Option<Url>,
    pub base_url: Option<Url>,
    /// A directory name (Microsoft's `common`, a tenant id or domain), not a URL.
    pub tenant: Option<String>,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            name: String::new(),
            provider: String::new(),
            issuer: None,
            authorize_url: None,
            token_url: None,
            revocation_url: None,
            probe_url: None,
            client_id: None,
            has_client_secret: false,
            scopes: Vec::new(),
            probe_interval_secs: DEFAULT_PROBE_INTERVAL_SECS,
            username: None,
            expires: None,
            instance_url: None,
            site: None,
            base_url: None,
            tenant: None,
        }
    }
}

/// Why the inputs do not make an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    /// Inputs of the other kind of integration (`belongs_to`: "OAuth" or "API-token").
    Misplaced { fields: Vec<Field>, belongs_to: &'static str, provider: String },
    /// A preset address the provider's profile does not use.
    NotApplicable { field: Field, provider: String },
    /// An address that is neither https:// nor plain http to this computer.
    NotHttps(Field),
    /// A preset address with a query or fragment.
    HasQuery(Field),
    /// A tenant that is not a plain directory name.
    BadTenant,
    /// The provider (by its name) needs this input.
    NeedsValue { service: String, field: Field },
    /// An OAuth integration without an issuer or both endpoints.
    NeedsEndpoints,
    /// An OAuth integration without a client id.
    NeedsClientId,
    /// An API-token integration without a probe address.
    NeedsProbeUrl,
    /// A profile template could not become an address (the reason, no secret in it).
    BadTemplate(String),
}

impl SetupError {
    /// The error in plain words, each input named by `name` (e.g. [`Field::flag`]).
    pub fn describe(&self, name: fn(Field) -> &'static str) -> String {
        match self {
            SetupError::Misplaced { fields, belongs_to, provider } => format!(
                "{} {} only for {belongs_to} integrations, and \"{provider}\" is not one",
                fields.iter().map(|f| name(*f)).collect::<Vec<_>>().join(", "),
                if fields.len() == 1 { "is" } else { "are" },
            ),
            SetupError::NotApplicable { field, provider } => {
                format!("{} does not apply to the provider \"{provider}\"", name(*field))
            }
            SetupError::NotHttps(field) => {
                format!("{} must be an https:// address (plain http:// only to this computer)", name(*field))
            }
            SetupError::HasQuery(field) => format!("{} must be an address without ?query or #fragment", name(*field)),
            SetupError::BadTenant => format!(
                "{} must be a directory name: common, organizations, consumers, a tenant id or a domain",
                name(Field::Tenant)
            ),
            SetupError::NeedsValue { service, field } => format!("{service} needs {}", name(*field)),
            SetupError::NeedsEndpoints => format!(
                "give {}, or both {} and {}",
                name(Field::Issuer),
                name(Field::AuthorizeUrl),
                name(Field::TokenUrl)
            ),
            SetupError::NeedsClientId => format!("give {}", name(Field::ClientId)),
            SetupError::NeedsProbeUrl => format!("an API-token integration needs {}", name(Field::ProbeUrl)),
            SetupError::BadTemplate(reason) => format!("the address could not be made: {reason}"),
        }
    }

    /// The input the error is about, when there is one.
    pub fn field(&self) -> Option<Field> {
        match self {
            SetupError::Misplaced { fields, .. } => fields.first().copied(),
            SetupError::NotApplicable { field, .. }
            | SetupError::NotHttps(field)
            | SetupError::HasQuery(field)
            | SetupError::NeedsValue { field, .. } => Some(*field),
            SetupError::BadTenant => Some(Field::Tenant),
            SetupError::NeedsEndpoints => Some(Field::Issuer),
            SetupError::NeedsClientId => Some(Field::ClientId),
            SetupError::NeedsProbeUrl => Some(Field::ProbeUrl),
            SetupError::BadTemplate(_) => None,
        }
    }
}

/// Whether `url` is https://, or plain http:// to this computer (local servers, tests).
pub fn secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
}

/// Whether `url` points at this computer.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The preset address inputs, by the template variable each fills.
const PRESET_FIELDS: &[(&str, Field)] =
    &[("instance", Field::InstanceUrl), ("site", Field::Site), ("base", Field::BaseUrl)];

fn preset_value(inputs: &Inputs, field: Field) -> Option<&Url> {
    match field {
        Field::InstanceUrl => inputs.instance_url.as_ref(),
        Field::Site => inputs.site.as_ref(),
        Field::BaseUrl => inputs.base_url.as_ref(),
        _ => None,
    }
}

/// Refuses inputs that do not belong to the profile's kind, preset addresses the profile does
/// not use, and preset addresses that are not https:// (plain http only to this computer).
pub fn check(inputs: &Inputs, profile: &Profile) -> Result<(), SetupError> {
    let given = |present: bool, field: Field| present.then_some(field);
    let (misplaced, belongs_to): (Vec<Field>, &'static str) = match profile.kind {
        ProfileKind::Oauth => (
            [given(inputs.username.is_some(), Field::Username), given(inputs.expires.is_some(), Field::Expires)]
                .into_iter()
                .flatten()
                .collect(),
            "API-token",
        ),
        ProfileKind::ApiToken => (
            [
                given(inputs.issuer.is_some(), Field::Issuer),
                given(inputs.authorize_url.is_some(), Field::AuthorizeUrl),
                given(inputs.token_url.is_some(), Field::TokenUrl),
                given(inputs.revocation_url.is_some(), Field::RevocationUrl),
                given(inputs.client_id.is_some(), Field::ClientId),
                given(inputs.has_client_secret, Field::ClientSecret),
                given(!inputs.scopes.is_empty(), Field::Scopes),
            ]
            .into_iter()
            .flatten()
            .collect(),
            "OAuth",
        ),
    };
    if !misplaced.is_empty() {
        return Err(SetupError::Misplaced { fields: misplaced, belongs_to, provider: inputs.provider.clone() });
    }
    for (variable, field) in PRESET_FIELDS {
        let Some(url) = preset_value(inputs, *field) else { continue };
        if !profile.uses(variable) {
            return Err(SetupError::NotApplicable { field: *field, provider: profile.id.clone() });
        }
        if !secure_or_loopback(url) {
            return Err(SetupError::NotHttps(*field));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(SetupError::HasQuery(*field));
        }
    }
    if let Some(tenant) = &inputs.tenant {
        if !profile.uses("tenant") {
            return Err(SetupError::NotApplicable { field: Field::Tenant, provider: profile.id.clone() });
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if tenant.is_empty() || tenant.starts_with('.') || !tenant.chars().all(plain) {
            return Err(SetupError::BadTenant);
        }
    }
    Ok(())
}

/// One of the profile's endpoint templates filled with the keeper's addresses, if it has it.
fn preset_url(inputs: &Inputs, profile: &Profile, template: Option<&String>) -> Result<Option<Url>, SetupError> {
    let Some(template) = template else { return Ok(None) };
    let mut values: BTreeMap<String, String> = PRESET_FIELDS
        .iter()
        .filter_map(|(v, f)| {
            preset_value(inputs, *f).map(|u| (v.to_string(), u.as_str().trim_end_matches('/').to_string()))
        })
        .collect();
    if let Some(tenant) = &inputs.tenant {
        values.insert("tenant".into(), tenant.clone());
    }
    // A local or proxied copy of the service (`--base-url`) serves all of its hosts' paths.
    if let Some(base) = values.get("base").cloned() {
        for variable in profile.address_variables() {
            values.insert(variable.to_string(), base.clone());
        }
    }
    profile.expand(template, &values).map(Some).map_err(|e| match e {
        TemplateError::Missing(v) => {
            match PRESET_FIELDS.iter().chain(&[("tenant", Field::Tenant)]).find(|(n, _)| *n == v) {
                Some((_, field)) => SetupError::NeedsValue { service: profile.name.clone(), field: *field },
                None => SetupError::BadTemplate(TemplateError::Missing(v).to_string()),
            }
        }
        other => SetupError::BadTemplate(other.to_string()),
    })
}

/// The integration's configuration: explicit inputs first, then what discovery found, then the
/// preset's endpoint templates.
pub fn build_config(
    inputs: &Inputs,
    profile: &Profile,
    discovered: Option<&Discovered>,
) -> Result<IntegrationConfig, SetupError> {
    let endpoints = &profile.endpoints;
    let preset_probe = preset_url(inputs, profile, endpoints.probe.as_ref())?;
    let kind = match profile.kind {
        ProfileKind::Oauth => {
            let preset_authorize = preset_url(inputs, profile, endpoints.authorize.as_ref())?;
            let preset_token = preset_url(inputs, profile, endpoints.token.as_ref())?;
            let preset_revocation = preset_url(inputs, profile, endpoints.revocation.as_ref())?;
            let sites_url = preset_url(inputs, profile, endpoints.sites.as_ref())?;
            let authorize_url = inputs
                .authorize_url
                .clone()
                .or_else(|| discovered.map(|d| d.authorization_endpoint.clone()))
                .or(preset_authorize);
            let token_url =
                inputs.token_url.clone().or_else(|| discovered.map(|d| d.token_endpoint.clone())).or(preset_token);
            let (Some(authorize_url), Some(token_url)) = (authorize_url, token_url) else {
                return Err(SetupError::NeedsEndpoints);
            };
            let client_id = inputs.client_id.clone().filter(|c| !c.is_empty()).ok_or(SetupError::NeedsClientId)?;
            IntegrationKind::Oauth(OauthConfig {
                issuer: discovered.map(|d| d.issuer.clone()).or_else(|| inputs.issuer.clone()),
                authorize_url,
                token_url,
                revocation_url: inputs
                    .revocation_url
                    .clone()
                    .or_else(|| discovered.and_then(|d| d.revocation_endpoint.clone()))
                    .or(preset_revocation),
                probe_url: inputs
                    .probe_url
                    .clone()
                    .or_else(|| discovered.and_then(|d| d.userinfo_endpoint.clone()))
                    .or(preset_probe),
                sites_url,
                client_id,
                has_client_secret: inputs.has_client_secret,
                scopes: scopes(profile, inputs),
            })
        }
        ProfileKind::ApiToken => IntegrationKind::ApiToken(ApiTokenConfig {
            probe_url: inputs.probe_url.clone().or(preset_probe).ok_or(SetupError::NeedsProbeUrl)?,
            username: inputs.username.clone(),
            expires_at: inputs.expires.map(|d| crate::calendar::Calendar::system().end_of_day(d)),
            expires: None,
        }),
    };
    Ok(IntegrationConfig {
        name: inputs.name.clone(),
        provider: inputs.provider.clone(),
        probe_interval_secs: inputs.probe_interval_secs,
        kind,
    })
}

/// The address that stands in for `{site}` when the keeper gives a cloud id (Atlassian's API
/// gateway for scoped API tokens, `--cloud-id`); `base` replaces the gateway's host (a local or
/// proxied copy). Errors are plain words about the cloud id.
pub fn site_for_cloud_id(profile: &Profile, cloud_id: &str, base: Option<&Url>) -> Result<Url, String> {
    let Some(template) = profile.endpoints.site_by_cloud_id.as_ref() else {
        return Err(format!("a cloud id does not apply to the provider \"{}\"", profile.id));
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if cloud_id.is_empty() || !cloud_id.chars().all(plain) {
        return Err("a cloud id is letters, digits and dashes, such as 1324a887-45db-1bf4-1e99-ef0ff456d421".into());
    }
    let mut values = BTreeMap::from([("cloud_id".to_string(), cloud_id.to_string())]);
    if let Some(base) = base {
        if !secure_or_loopback(base) || base.query().is_some() || base.fragment().is_some() {
            return Err("the service address must be an https:// address without ?query or #fragment".into());
        }
        values.insert("base".into(), base.as_str().trim_end_matches('/').to_string());
    }
    profile.expand(template, &values).map_err(|e| e.to_string())
}

/// The profile's scopes, then the keeper's, each once.
fn scopes(profile: &Profile, inputs: &Inputs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let given = inputs.scopes.iter().flat_map(|s| s.split_whitespace()).map(str::to_string);
    for scope in profile.scopes.iter().cloned().chain(given) {
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn errors_name_the_input_the_callers_way() {
        let e = SetupError::NeedsValue { service: "HighQ Collaborate".into(), field: Field::InstanceUrl };
        assert_eq!(e.describe(Field::flag), "HighQ Collaborate needs --instance-url");
        assert_eq!(e.describe(Field::key), "HighQ Collaborate needs instance_url");
        assert_eq!(SetupError::NeedsEndpoints.describe(Field::key), "give issuer, or both authorize_url and token_url");
    }

    #[test]
    fn loopback_is_the_only_plain_http() {
        assert!(secure_or_loopback(&url("https://example.com/")));
        assert!(secure_or_loopback(&url("http://127.0.0.1:9/")));
        assert!(secure_or_loopback(&url("http://[::1]:9/")));
        assert!(secure_or_loopback(&url("http://localhost/")));
        assert!(!secure_or_loopback(&url("http://example.com/")));
        assert!(!secure_or_loopback(&url("ftp://127.0.0.1/")));
    }

    #[test]
    fn atlassian_sites_follow_the_base_address() {
        let p = providers::find("atlassian").unwrap();
        let inputs = Inputs {
            provider: "atlassian".into(),
            client_id: Some("c".into()),
            base_url: Some(url("http://127.0.0.1:9/")),
            ..Inputs::default()
        };
        let IntegrationKind::Oauth(o) = build_config(&inputs, &p, None).unwrap().kind else { panic!() };
        assert_eq!(o.token_url.as_str(), "http://127.0.0.1:9/oauth/token");
        assert_eq!(o.sites_url.unwrap().as_str(), "http://127.0.0.1:9/oauth/token/accessible-resources");
        let inputs = Inputs { base_url: None, ..inputs };
        let IntegrationKind::Oauth(o) = build_config(&inputs, &p, None).unwrap().kind else { panic!() };
        assert_eq!(o.sites_url.unwrap().as_str(), "https://api.atlassian.com/oauth/token/accessible-resources");
    }

    #[test]
    fn a_cloud_id_makes_the_gateway_address_of_a_scoped_token() {
        let p = providers::find("atlassian-api-token").unwrap();
        assert_eq!(
            site_for_cloud_id(&p, "1324a887-45db", None).unwrap().as_str(),
            "https://api.atlassian.com/ex/jira/1324a887-45db"
        );
        assert_eq!(
            site_for_cloud_id(&p, "abc", Some(&url("http://127.0.0.1:9/"))).unwrap().as_str(),
            "http://127.0.0.1:9/ex/jira/abc"
        );
        assert!(site_for_cloud_id(&p, "../x", None).unwrap_err().contains("letters, digits and dashes"));
        assert!(site_for_cloud_id(&p, "abc", Some(&url("http://example.com/"))).is_err());
        let highq = providers::find("highq").unwrap();
        assert!(site_for_cloud_id(&highq, "abc", None).unwrap_err().contains("does not apply"));
    }

    #[test]
    fn api_token_inputs_on_an_oauth_provider_are_refused() {
        let inputs = Inputs { provider: "oauth2".into(), username: Some("me".into()), ..Inputs::default() };
        let e = check(&inputs, &providers::find("oauth2").unwrap()).unwrap_err();
        assert_eq!(e.describe(Field::key), "username is only for API-token integrations, and \"oauth2\" is not one");
        assert_eq!(e.field(), Some(Field::Username));
    }
}

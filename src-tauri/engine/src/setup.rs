//! Turning what a keeper gives (command-line flags, a profile file, later the window's wizard)
//! into an [`IntegrationConfig`]: the rules shared by every way of adding an integration.
//!
//! Pure, except [`prepare`], the one path both shells take: it adds OpenID Connect discovery
//! (handed to the pure [`build_config`] as [`Discovered`]). Errors name the offending input as
//! a [`Field`], which each caller words its own way (`--instance-url` on the command line,
//! `instance_url` in a profile file, "the instance address" in the window).
//!
//! Where secrets go is decided here too:
//! - every address passes [`crate::address::check`] (https, or http to a loopback IP);
//! - a preset's addresses are its own: a keeper, a profile file or the window can move them only
//!   through the inputs the preset documents (instance, site, base address, tenant), never by
//!   giving a token, check, revocation or sign-in address in full;
//! - a token, check or revocation address given in full on another site than the sign-in page
//!   is refused unless the inputs say so ([`Field::AllowOtherSites`]), and the keeper is shown
//!   every host that will receive a secret ([`secret_hosts`]) before anything is added.

use std::collections::BTreeMap;

use url::Url;

use crate::address::{self, AddressError};
use crate::fields;
use crate::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind, OauthConfig};
use crate::providers::discovery::{discover, Discovered, DiscoveryError};
use crate::providers::{Profile, ProfileKind, TemplateError};

/// How often to check a token when the keeper does not say, in seconds.
pub const DEFAULT_PROBE_INTERVAL_SECS: u64 = 30 * 60;
/// The shortest check interval accepted, in seconds.
pub const MIN_PROBE_INTERVAL_SECS: u64 = 5;

pub use crate::fields::Field;

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
    /// The inputs say a token, check or revocation address may be on another site than the
    /// sign-in page (the keeper still confirms the hosts).
    pub allow_other_sites: bool,
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
            allow_other_sites: false,
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
    /// A preset's own address given in full (`service`: the preset's name).
    PresetAddress { field: Field, service: String },
    /// An address given in full on another site than the sign-in page, not allowed by the inputs.
    OtherSite { field: Field, host: String, sign_in: String },
    /// The address (given, discovered or made from a template) breaks the rule of
    /// [`crate::address`].
    Unsafe { field: Field, problem: AddressError },
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
            SetupError::PresetAddress { field, service } => {
                format!("{} cannot be given for {service}: Token Keeper uses {service}'s own addresses", name(*field))
            }
            SetupError::OtherSite { field, host, sign_in } => format!(
                "{} is on {host}, another site than the sign-in page ({sign_in}); secrets go there only if {} says so",
                name(*field),
                name(Field::AllowOtherSites)
            ),
            SetupError::Unsafe { field, problem } => format!("{}: {problem}", name(*field)),
        }
    }

    /// The input the error is about, when there is one.
    pub fn field(&self) -> Option<Field> {
        match self {
            SetupError::Misplaced { fields, .. } => fields.first().copied(),
            SetupError::NotApplicable { field, .. }
            | SetupError::HasQuery(field)
            | SetupError::NeedsValue { field, .. }
            | SetupError::PresetAddress { field, .. }
            | SetupError::OtherSite { field, .. }
            | SetupError::Unsafe { field, .. } => Some(*field),
            SetupError::BadTenant => Some(Field::Tenant),
            SetupError::NeedsEndpoints => Some(Field::Issuer),
            SetupError::NeedsClientId => Some(Field::ClientId),
            SetupError::NeedsProbeUrl => Some(Field::ProbeUrl),
            SetupError::BadTemplate(_) => None,
        }
    }
}

/// Whether `url` passes the rule of [`crate::address`] (https, or http to a loopback IP).
pub fn secure_or_loopback(url: &Url) -> bool {
    crate::address::check(url).is_ok()
}

/// The addresses the inputs give, each with its field.
fn given_addresses(inputs: &Inputs) -> impl Iterator<Item = (Field, &Url)> {
    [
        (Field::Issuer, &inputs.issuer),
        (Field::AuthorizeUrl, &inputs.authorize_url),
        (Field::TokenUrl, &inputs.token_url),
        (Field::RevocationUrl, &inputs.revocation_url),
        (Field::ProbeUrl, &inputs.probe_url),
        (Field::InstanceUrl, &inputs.instance_url),
        (Field::Site, &inputs.site),
        (Field::BaseUrl, &inputs.base_url),
    ]
    .into_iter()
    .filter_map(|(field, url)| url.as_ref().map(|u| (field, u)))
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
    if fields::is_preset(profile) {
        let own = [
            (inputs.issuer.is_some(), Field::Issuer),
            (inputs.authorize_url.is_some(), Field::AuthorizeUrl),
            (inputs.token_url.is_some(), Field::TokenUrl),
            (inputs.revocation_url.is_some(), Field::RevocationUrl),
            (inputs.probe_url.is_some() && profile.endpoints.probe.is_some(), Field::ProbeUrl),
        ];
        if let Some((_, field)) = own.iter().find(|(given, _)| *given) {
            return Err(SetupError::PresetAddress { field: *field, service: profile.name.clone() });
        }
    }
    for (field, url) in given_addresses(inputs) {
        address::check(url).map_err(|problem| SetupError::Unsafe { field, problem })?;
    }
    for (variable, field) in PRESET_FIELDS {
        let Some(url) = preset_value(inputs, *field) else { continue };
        if !profile.uses(variable) {
            return Err(SetupError::NotApplicable { field: *field, provider: profile.id.clone() });
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
    let config = IntegrationConfig {
        name: inputs.name.clone(),
        provider: inputs.provider.clone(),
        probe_interval_secs: inputs.probe_interval_secs,
        kind,
    };
    for (field, url) in addresses(&config) {
        address::check(url).map_err(|problem| SetupError::Unsafe { field, problem })?;
    }
    check_sites(inputs, &config)?;
    Ok(config)
}

/// Every address of a configuration, with the input that names it.
fn addresses(config: &IntegrationConfig) -> Vec<(Field, &Url)> {
    match &config.kind {
        IntegrationKind::Oauth(o) => [
            (Field::AuthorizeUrl, Some(&o.authorize_url)),
            (Field::TokenUrl, Some(&o.token_url)),
            (Field::RevocationUrl, o.revocation_url.as_ref()),
            (Field::ProbeUrl, o.probe_url.as_ref()),
            (Field::BaseUrl, o.sites_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(f, u)| u.map(|u| (f, u)))
        .collect(),
        IntegrationKind::ApiToken(a) => vec![(Field::ProbeUrl, &a.probe_url)],
    }
}

/// Refuses a token, check or revocation address given in full on another site than the sign-in
/// page, unless the inputs allow other sites. Addresses from a preset's templates and from
/// discovery are not held to it: the preset's are its own, and discovery's come from the
/// sign-in service itself, which is trusted with the sign-in anyway.
fn check_sites(inputs: &Inputs, config: &IntegrationConfig) -> Result<(), SetupError> {
    let IntegrationKind::Oauth(o) = &config.kind else { return Ok(()) };
    if inputs.allow_other_sites {
        return Ok(());
    }
    let given = [
        (Field::TokenUrl, inputs.token_url.as_ref()),
        (Field::ProbeUrl, inputs.probe_url.as_ref()),
        (Field::RevocationUrl, inputs.revocation_url.as_ref()),
    ];
    for (field, url) in given.into_iter().filter_map(|(f, u)| u.map(|u| (f, u))) {
        if !address::same_site(url, &o.authorize_url) {
            return Err(SetupError::OtherSite {
                field,
                host: address::host_port(url),
                sign_in: address::host_port(&o.authorize_url),
            });
        }
    }
    Ok(())
}

/// What an address of an integration is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressUse {
    /// The page the keeper signs in on (opened in the browser; no secret is sent to it).
    SignInPage,
    /// Receives the sign-in code, the client secret and every renewal.
    Renewal,
    /// Receives the token at each check.
    Check,
    /// Receives the tokens when the integration is removed.
    Revocation,
    /// Receives the token to list the sites a sign-in reaches.
    SiteList,
}

impl AddressUse {
    /// What the host gets, in plain words.
    pub fn words(self) -> &'static str {
        match self {
            AddressUse::SignInPage => "you sign in there (no secret is sent to it)",
            AddressUse::Renewal => "receives the sign-in code, the client secret and each renewal",
            AddressUse::Check => "receives the token at each check",
            AddressUse::Revocation => "receives the tokens when you remove the connection",
            AddressUse::SiteList => "receives the token to list your sites",
        }
    }

    fn receives_secret(self) -> bool {
        self != AddressUse::SignInPage
    }
}

/// One host an integration talks to, and what it gets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretHost {
    /// `host[:port]`.
    pub host: String,
    pub uses: Vec<AddressUse>,
    /// Whether a secret goes to this host (every use but the sign-in page).
    pub receives_secret: bool,
    /// On another site than the sign-in page.
    pub other_site: bool,
    /// The line a keeper reads: "login.example.com: you sign in there …; receives …".
    pub sentence: String,
}

/// Every host an integration will talk to, the sign-in page's first, with what each receives:
/// what the keeper is shown, and confirms, before a generic integration is added (the command
/// line prints it; the window's confirm step shows it). The hosts of a secret on another site
/// than the sign-in page say so.
pub fn secret_hosts(config: &IntegrationConfig) -> Vec<SecretHost> {
    let (sign_in, uses): (Option<&Url>, Vec<(AddressUse, &Url)>) = match &config.kind {
        IntegrationKind::Oauth(o) => (
            Some(&o.authorize_url),
            [
                (AddressUse::SignInPage, Some(&o.authorize_url)),
                (AddressUse::Renewal, Some(&o.token_url)),
                (AddressUse::Check, o.probe_url.as_ref()),
                (AddressUse::Revocation, o.revocation_url.as_ref()),
                (AddressUse::SiteList, o.sites_url.as_ref()),
            ]
            .into_iter()
            .filter_map(|(use_, u)| u.map(|u| (use_, u)))
            .collect(),
        ),
        IntegrationKind::ApiToken(a) => (None, vec![(AddressUse::Check, &a.probe_url)]),
    };
    let mut out: Vec<SecretHost> = Vec::new();
    for (use_, url) in uses {
        let host = address::host_port(url);
        let other_site = sign_in.is_some_and(|s| !address::same_site(s, url));
        match out.iter_mut().find(|h| h.host == host) {
            Some(h) => h.uses.push(use_),
            None => out.push(SecretHost {
                host,
                uses: vec![use_],
                receives_secret: false,
                other_site,
                sentence: String::new(),
            }),
        }
    }
    for h in &mut out {
        h.receives_secret = h.uses.iter().any(|u| u.receives_secret());
        let words: Vec<&str> = h.uses.iter().map(|u| u.words()).collect();
        let other = if h.other_site { " (another site than the sign-in page)" } else { "" };
        h.sentence = format!("{}: {}{other}", h.host, words.join("; "));
    }
    out
}

/// Whether the keeper must see and confirm [`secret_hosts`] before the configuration is added:
/// a generic profile (its addresses are given in full), or a preset given its check address in
/// full (Microsoft's). A preset's own addresses need no confirmation.
pub fn needs_confirmation(inputs: &Inputs, profile: &Profile) -> bool {
    !fields::is_preset(profile) || inputs.probe_url.is_some()
}

/// Why [`prepare`] made no configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// The inputs (named by each caller its own way).
    #[error("{}", .0.describe(Field::key))]
    Setup(SetupError),
    /// The sign-in service's addresses could not be looked up.
    #[error("could not look up the sign-in service's addresses: {0}")]
    Discovery(#[from] DiscoveryError),
}

impl From<SetupError> for PrepareError {
    fn from(e: SetupError) -> Self {
        PrepareError::Setup(e)
    }
}

/// The one path from inputs to a checked configuration, for every shell: the inputs' rules
/// ([`check`]), OpenID Connect discovery for an issuer, then [`build_config`] (every address
/// checked, other sites refused unless allowed). The keeper should then see [`secret_hosts`]
/// before the configuration is added.
pub async fn prepare(
    inputs: &Inputs,
    profile: &Profile,
    http: &reqwest::Client,
) -> Result<IntegrationConfig, PrepareError> {
    check(inputs, profile)?;
    let discovered = match (&inputs.issuer, profile.kind) {
        (Some(issuer), ProfileKind::Oauth) => Some(discover(http, issuer).await?),
        _ => None,
    };
    Ok(build_config(inputs, profile, discovered.as_ref())?)
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
        assert!(!secure_or_loopback(&url("http://localhost/")), "a name may resolve anywhere");
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
    fn a_github_base_address_moves_its_check_address_too() {
        let p = providers::find("github").unwrap();
        let inputs = Inputs {
            provider: "github".into(),
            client_id: Some("c".into()),
            base_url: Some(url("http://127.0.0.1:9/")),
            ..Inputs::default()
        };
        let IntegrationKind::Oauth(o) = build_config(&inputs, &p, None).unwrap().kind else { panic!() };
        assert_eq!(o.probe_url.unwrap().as_str(), "http://127.0.0.1:9/user");
    }

    fn generic(authorize: &str, token: &str) -> Inputs {
        Inputs {
            name: "g".into(),
            provider: "oauth2".into(),
            client_id: Some("c".into()),
            authorize_url: Some(url(authorize)),
            token_url: Some(url(token)),
            ..Inputs::default()
        }
    }

    #[test]
    fn secrets_for_another_site_need_the_inputs_to_say_so() {
        let p = providers::find("oauth2").unwrap();
        let inputs = generic("https://login.example.com/authorize", "https://collector.example/token");
        let e = build_config(&inputs, &p, None).unwrap_err();
        assert_eq!(e.field(), Some(Field::TokenUrl));
        assert_eq!(
            e.describe(Field::flag),
            "--token-url is on collector.example, another site than the sign-in page (login.example.com); \
             secrets go there only if --allow-other-sites says so"
        );
        let allowed = Inputs { allow_other_sites: true, ..inputs.clone() };
        let config = build_config(&allowed, &p, None).unwrap();
        let hosts = secret_hosts(&config);
        assert_eq!(hosts.len(), 2);
        assert_eq!((hosts[0].host.as_str(), hosts[0].receives_secret), ("login.example.com", false));
        assert_eq!(
            (hosts[1].host.as_str(), hosts[1].other_site, hosts[1].receives_secret),
            ("collector.example", true, true)
        );
        assert!(hosts[1].sentence.contains("the client secret") && hosts[1].sentence.contains("another site"));
        let same = generic("https://login.example.com/a", "https://api.example.com/t");
        let probe = Inputs { probe_url: Some(url("https://evil.example/me")), ..same.clone() };
        assert_eq!(build_config(&same, &p, None).map(|_| ()), Ok(()));
        assert_eq!(build_config(&probe, &p, None).unwrap_err().field(), Some(Field::ProbeUrl));
    }

    #[test]
    fn a_preset_keeps_its_addresses_and_every_address_is_checked() {
        let google = providers::find("google").unwrap();
        let inputs = Inputs {
            provider: "google".into(),
            client_id: Some("c".into()),
            token_url: Some(url("https://collector.example/token")),
            ..Inputs::default()
        };
        let e = check(&inputs, &google).unwrap_err();
        assert_eq!(
            e.describe(Field::flag),
            "--token-url cannot be given for Google: Token Keeper uses Google's own addresses"
        );
        let microsoft = providers::find("microsoft").unwrap();
        let probe = Inputs {
            provider: "microsoft".into(),
            client_id: Some("c".into()),
            tenant: Some("common".into()),
            probe_url: Some(url("https://graph.microsoft.com/v1.0/me")),
            ..Inputs::default()
        };
        check(&probe, &microsoft).expect("Microsoft has no check address of its own");
        assert!(needs_confirmation(&probe, &microsoft));
        assert_eq!(build_config(&probe, &microsoft, None).unwrap_err().field(), Some(Field::ProbeUrl), "another site");
        let plain = generic("http://127.0.0.1:9/a", "http://localhost:9/t");
        let e = check(&plain, &providers::find("oauth2").unwrap()).unwrap_err();
        assert!(matches!(e, SetupError::Unsafe { field: Field::TokenUrl, .. }), "{e:?}");
        let discovered = Discovered {
            issuer: url("https://id.example/"),
            authorization_endpoint: url("file:///tmp/evil.desktop"),
            token_endpoint: url("https://id.example/token"),
            revocation_endpoint: None,
            userinfo_endpoint: None,
            device_authorization_endpoint: None,
        };
        let issuer = Inputs {
            issuer: Some(url("https://id.example/")),
            client_id: Some("c".into()),
            provider: "oauth2".into(),
            ..Inputs::default()
        };
        let e = build_config(&issuer, &providers::find("oauth2").unwrap(), Some(&discovered)).unwrap_err();
        assert!(matches!(e, SetupError::Unsafe { field: Field::AuthorizeUrl, .. }), "{e:?}");
    }

    #[test]
    fn api_token_inputs_on_an_oauth_provider_are_refused() {
        let inputs = Inputs { provider: "oauth2".into(), username: Some("me".into()), ..Inputs::default() };
        let e = check(&inputs, &providers::find("oauth2").unwrap()).unwrap_err();
        assert_eq!(e.describe(Field::key), "username is only for API-token integrations, and \"oauth2\" is not one");
        assert_eq!(e.field(), Some(Field::Username));
    }
}

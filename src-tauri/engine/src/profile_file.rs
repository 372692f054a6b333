//! Admin profile files: a TOML file an administrator hands out so that a keeper can add an
//! integration without knowing its endpoints (`tokenkeeper add --from FILE`, later "Import
//! profile…" in the window).
//!
//! ```toml
//! name = "HighQ reporting"            # suggested; the keeper may choose another
//! provider = "highq"                  # a provider profile id
//! instance_url = "https://acme.highq.com/acme"
//! client_id = "reporting"
//! client_secret = "…"                 # optional; moves into the keychain
//! scopes = ["openid", "offline_access"]   # or one string, separated by spaces
//! ```
//!
//! The other keys are the `add` flags' names in snake case: `issuer`, `authorize_url`,
//! `token_url`, `revocation_url`, `probe_url`, `username`, `expires` (`YYYY-MM-DD`),
//! `probe_interval_secs`, `site`, `base_url`, `tenant`, `allow_other_sites` (true when the
//! service's token, check or revocation address is on another site than its sign-in page; the
//! keeper still confirms the hosts). The keys are [`crate::fields::TABLE`]'s. Unknown keys are
//! refused, every address must pass [`crate::address::check`] (https://, plain http only to
//! a loopback IP), a preset's own addresses cannot be given, and the inputs must make an
//! integration of the provider ([`crate::setup::check`] and [`crate::setup::build_config`]).
//! Errors name the file and the key and never contain the client secret (nor a line of the
//! file, which might).
//!
//! Pure: reading the file and discovery (for `issuer`) are the caller's.

use toml::{Table, Value};
use url::Url;

use crate::address;
use crate::model::validate_name;
use crate::providers;
use crate::secret::ClientSecret;
use crate::setup::{self, Field, Inputs, SetupError, MIN_PROBE_INTERVAL_SECS};

/// The largest profile file read, in bytes.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

/// A profile file that makes an integration.
#[derive(Debug, Clone)]
pub struct ProfileFile {
    /// The inputs, with the chosen name.
    pub inputs: Inputs,
    /// The client secret the file held, to go into the keychain.
    pub client_secret: Option<ClientSecret>,
}

/// Why a profile file cannot be used; `Display` names the file and, where there is one, the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the profile file {file}: {problem}")]
pub struct ProfileFileError {
    /// The file as the keeper named it.
    pub file: String,
    /// The key at fault, if one is.
    pub field: Option<&'static str>,
    /// What is wrong, in plain words.
    pub problem: String,
}

/// Parses and validates a profile file's `text`; `file` names it in errors; `name` replaces the
/// name the file suggests.
pub fn parse(file: &str, text: &str, name: Option<&str>) -> Result<ProfileFile, ProfileFileError> {
    let fail = |field: Option<&'static str>, problem: String| ProfileFileError { file: file.into(), field, problem };
    if text.len() > MAX_FILE_BYTES {
        return Err(fail(
            None,
            format!("it is larger than {} KiB; a profile file is a few lines", MAX_FILE_BYTES / 1024),
        ));
    }
    let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
        // Only the parser's message and the line: its full display quotes the line, which may
        // hold the client secret.
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" on line {l}")).unwrap_or_default();
        fail(None, format!("it is not valid TOML{at}: {}", e.message().trim()))
    })?;

    let mut take = |field: Field| table.remove(field.key());
    let client_secret = match take(Field::ClientSecret) {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(ClientSecret::new(s.trim().to_string())),
        Some(_) => return Err(fail(Some("client_secret"), "client_secret must be a non-empty text string".into())),
    };
    let string = |field: Field, value: Option<Value>| -> Result<Option<String>, ProfileFileError> {
        match value {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(Value::String(_)) => Err(fail(Some(field.key()), format!("{} is empty", field.key()))),
            Some(_) => Err(fail(Some(field.key()), format!("{} must be a text string", field.key()))),
        }
    };
    let address = |field: Field, value: Option<Value>| -> Result<Option<Url>, ProfileFileError> {
        let Some(text) = string(field, value)? else { return Ok(None) };
        let url = Url::parse(&text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| fail(Some(field.key()), format!("{} is not a web address (https://…)", field.key())))?;
        address::check(&url).map_err(|e| fail(Some(field.key()), format!("{}: {e}", field.key())))?;
        Ok(Some(url))
    };

    let file_name = string(Field::Name, take(Field::Name))?;
    let provider = string(Field::Provider, take(Field::Provider))?.ok_or_else(|| {
        fail(Some("provider"), "provider is missing: the file must say which provider it is for".into())
    })?;
    let mut inputs = Inputs {
        issuer: address(Field::Issuer, take(Field::Issuer))?,
        authorize_url: address(Field::AuthorizeUrl, take(Field::AuthorizeUrl))?,
        token_url: address(Field::TokenUrl, take(Field::TokenUrl))?,
        revocation_url: address(Field::RevocationUrl, take(Field::RevocationUrl))?,
        probe_url: address(Field::ProbeUrl, take(Field::ProbeUrl))?,
        instance_url: address(Field::InstanceUrl, take(Field::InstanceUrl))?,
        site: address(Field::Site, take(Field::Site))?,
        base_url: address(Field::BaseUrl, take(Field::BaseUrl))?,
        client_id: string(Field::ClientId, take(Field::ClientId))?,
        username: string(Field::Username, take(Field::Username))?,
        tenant: string(Field::Tenant, take(Field::Tenant))?,
        has_client_secret: client_secret.is_some(),
        ..Inputs::default()
    };
    inputs.scopes = match take(Field::Scopes) {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(fail(Some("scopes"), "scopes must be text strings".into())),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(fail(Some("scopes"), "scopes must be a list of text strings or one string".into())),
    };
    inputs.scopes.retain(|s| !s.trim().is_empty());
    inputs.allow_other_sites = match take(Field::AllowOtherSites) {
        None => false,
        Some(Value::Boolean(b)) => b,
        Some(_) => {
            let key = Field::AllowOtherSites.key();
            return Err(fail(Some(key), format!("{key} must be true or false")));
        }
    };
    if let Some(value) = take(Field::ProbeInterval) {
        inputs.probe_interval_secs = match value {
            Value::Integer(n) if n >= MIN_PROBE_INTERVAL_SECS as i64 => n as u64,
            _ => {
                return Err(fail(
                    Some("probe_interval_secs"),
                    format!(
                        "probe_interval_secs must be a whole number of seconds, at least {MIN_PROBE_INTERVAL_SECS}"
                    ),
                ))
            }
        };
    }
    inputs.expires = match take(Field::Expires) {
        None => None,
        Some(value) => {
            let text = match value {
                Value::String(s) => s,
                Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
                _ => String::new(),
            };
            let date = time::Date::parse(text.trim(), time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| fail(Some("expires"), "expires must be a date of the form YYYY-MM-DD".into()))?;
            Some(date)
        }
    };
    if let Some(key) = table.keys().next() {
        let known: Vec<&str> = Field::ALL.iter().map(|f| f.key()).collect();
        return Err(fail(None, format!("unknown field \"{key}\" (a profile file may have: {})", known.join(", ")))
            .with_field_named(key));
    }

    let profile = providers::find(&provider).ok_or_else(|| {
        let ids: Vec<String> = providers::built_in().into_iter().map(|p| p.id).collect();
        fail(Some("provider"), format!("there is no provider called \"{provider}\" (known: {})", ids.join(", ")))
    })?;
    inputs.provider = provider;
    inputs.name = match (name, file_name) {
        (Some(chosen), _) => chosen.to_string(),
        (None, Some(suggested)) => suggested,
        (None, None) => return Err(fail(Some("name"), "name is missing (or choose one with --name)".into())),
    };
    validate_name(&inputs.name).map_err(|e| fail(Some("name"), format!("name: {e}")))?;

    let setup_error = |e: SetupError| fail(e.field().map(Field::key), e.describe(Field::key));
    setup::check(&inputs, &profile).map_err(setup_error)?;
    match setup::build_config(&inputs, &profile, None) {
        Ok(_) => {}
        // The endpoints come from discovery, done by the caller.
        Err(SetupError::NeedsEndpoints) if inputs.issuer.is_some() => {}
        Err(e) => return Err(setup_error(e)),
    }
    Ok(ProfileFile { inputs, client_secret })
}

impl ProfileFileError {
    fn with_field_named(mut self, key: &str) -> Self {
        self.field = Field::by_key(key).map(Field::key).or(Some("(unknown)"));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IntegrationKind;

    const SECRET: &str = "s3cr3t-do-not-echo";

    fn oauth(extra: &str) -> String {
        format!(
            "name = \"reports\"\nprovider = \"oauth2\"\nauthorize_url = \"https://id.example/authorize\"\n\
             token_url = \"https://id.example/token\"\nclient_id = \"cid\"\nclient_secret = \"{SECRET}\"\n{extra}"
        )
    }

    fn error(text: &str) -> ProfileFileError {
        let e = parse("/tmp/p.toml", text, None).unwrap_err();
        assert!(!e.to_string().contains(SECRET), "the secret leaked: {e}");
        assert!(e.to_string().starts_with("the profile file /tmp/p.toml: "), "{e}");
        e
    }

    #[test]
    fn a_valid_oauth_file_imports_with_its_secret() {
        let f = parse(
            "p.toml",
            &oauth("scopes = [\"openid\", \"offline_access email\"]\nprobe_interval_secs = 600\n"),
            None,
        )
        .unwrap();
        assert_eq!(f.client_secret.as_ref().unwrap().expose(), SECRET);
        assert_eq!(f.inputs.name, "reports");
        assert!(f.inputs.has_client_secret);
        let profile = providers::find("oauth2").unwrap();
        let config = setup::build_config(&f.inputs, &profile, None).unwrap();
        assert_eq!(config.probe_interval_secs, 600);
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!(o.scopes, ["openid", "offline_access", "email"]);
        assert_eq!(o.client_id, "cid");
        assert!(o.has_client_secret);
    }

    #[test]
    fn the_chosen_name_replaces_the_suggested_one() {
        assert_eq!(parse("p", &oauth(""), Some("other")).unwrap().inputs.name, "other");
        let e = parse("p", &oauth("").replace("name = \"reports\"\n", ""), None).unwrap_err();
        assert_eq!(e.field, Some("name"));
        assert_eq!(parse("p", &oauth("").replace("name = \"reports\"\n", ""), Some("n")).unwrap().inputs.name, "n");
        assert_eq!(parse("p", &oauth(""), Some("../evil")).unwrap_err().field, Some("name"));
    }

    #[test]
    fn an_issuer_alone_is_enough_until_discovery() {
        let text = "name = \"r\"\nprovider = \"oauth2\"\nissuer = \"http://127.0.0.1:5/\"\nclient_id = \"c\"\n";
        let f = parse("p", text, None).unwrap();
        assert_eq!(f.inputs.issuer.unwrap().as_str(), "http://127.0.0.1:5/");
        assert!(f.client_secret.is_none());
    }

    #[test]
    fn presets_and_api_tokens() {
        let highq =
            "name = \"h\"\nprovider = \"highq\"\ninstance_url = \"https://acme.highq.com/acme\"\nclient_id = \"c\"\n";
        parse("p", highq, None).unwrap();
        let api = "name = \"j\"\nprovider = \"atlassian-api-token\"\nsite = \"https://acme.atlassian.net\"\n\
                   username = \"me@example.com\"\nexpires = 2027-06-30\n";
        let f = parse("p", api, None).unwrap();
        assert_eq!(f.inputs.expires, Some(time::macros::date!(2027 - 06 - 30)));
        let quoted = api.replace("2027-06-30", "\"2027-06-30\"");
        assert_eq!(parse("p", &quoted, None).unwrap().inputs.expires, f.inputs.expires);
    }

    #[test]
    fn a_bad_url_is_named() {
        let e = error(&oauth("").replace("https://id.example/token", "not a url"));
        assert_eq!(e.field, Some("token_url"));
        assert!(e.problem.contains("token_url is not a web address"), "{e}");
    }

    #[test]
    fn plain_http_to_another_host_is_refused() {
        let e = error(&oauth("").replace("https://id.example/token", "http://id.example/token"));
        assert_eq!(e.field, Some("token_url"));
        assert!(e.problem.contains("https://"), "{e}");
        let e = error(&oauth("").replace("https://id.example/token", "http://localhost:8/token"));
        assert_eq!(e.field, Some("token_url"), "a name is not this computer: {e}");
        let local = oauth("").replace("https://id.example/", "http://127.0.0.1:8/");
        parse("p", &local, None).unwrap();
    }

    #[test]
    fn a_preset_keeps_its_own_addresses() {
        let google = "name = \"g\"\nprovider = \"google\"\nclient_id = \"c\"\n";
        parse("p", google, None).unwrap();
        for key in ["token_url", "probe_url", "revocation_url", "authorize_url", "issuer"] {
            let e = error(&format!("{google}{key} = \"https://collector.example/x\"\n"));
            assert_eq!(e.field, Some(key), "{e}");
            assert!(e.problem.contains("Token Keeper uses Google's own addresses"), "{e}");
        }
        let highq = "name = \"h\"\nprovider = \"highq\"\ninstance_url = \"https://acme.highq.com/a\"\n\
                     client_id = \"c\"\nprobe_url = \"https://acme.highq.com/other\"\n";
        assert_eq!(error(highq).field, Some("probe_url"));
    }

    #[test]
    fn another_site_needs_the_file_to_say_so() {
        let foreign = oauth("").replace("https://id.example/token", "https://collector.example/token");
        let e = error(&foreign);
        assert_eq!(e.field, Some("token_url"));
        assert!(e.problem.contains("collector.example") && e.problem.contains("allow_other_sites"), "{e}");
        let f = parse("p", &format!("{foreign}allow_other_sites = true\n"), None).unwrap();
        assert!(f.inputs.allow_other_sites);
        let probe = oauth("probe_url = \"https://api.other.example/me\"\n");
        assert_eq!(error(&probe).field, Some("probe_url"));
        parse("p", &oauth("probe_url = \"https://api.id.example/me\"\n"), None).expect("the same site");
        assert_eq!(error(&oauth("allow_other_sites = \"yes\"\n")).field, Some("allow_other_sites"));
    }

    #[test]
    fn an_unknown_provider_is_named() {
        let e = error(&oauth("").replace("\"oauth2\"", "\"nope\""));
        assert_eq!(e.field, Some("provider"));
        assert!(e.problem.contains("no provider called \"nope\"") && e.problem.contains("highq"), "{e}");
    }

    #[test]
    fn missing_fields_are_named() {
        let e = error(&oauth("").replace("provider = \"oauth2\"\n", ""));
        assert_eq!(e.field, Some("provider"));
        let e = error(&oauth("").replace("client_id = \"cid\"\n", ""));
        assert_eq!((e.field, e.problem.as_str()), (Some("client_id"), "give client_id"));
        let e = error(&oauth("").replace("token_url = \"https://id.example/token\"\n", ""));
        assert_eq!(e.field, Some("issuer"));
        assert_eq!(e.problem, "give issuer, or both authorize_url and token_url");
        let e = error("name = \"h\"\nprovider = \"highq\"\nclient_id = \"c\"\n");
        assert_eq!((e.field, e.problem.as_str()), (Some("instance_url"), "HighQ Collaborate needs instance_url"));
        let e = error("name = \"t\"\nprovider = \"api-token\"\n");
        assert_eq!(e.field, Some("probe_url"));
    }

    #[test]
    fn unknown_fields_are_named() {
        let e = error(&oauth("clientsecret = \"x\"\n"));
        assert!(e.problem.starts_with("unknown field \"clientsecret\""), "{e}");
        let e = error(&oauth("[extra]\na = 1\n"));
        assert!(e.problem.starts_with("unknown field \"extra\""), "{e}");
    }

    #[test]
    fn fields_of_the_wrong_kind_or_type_are_named() {
        let e = error(&oauth("username = \"me\"\n"));
        assert_eq!(e.field, Some("username"));
        let e = error(
            "name = \"t\"\nprovider = \"api-token\"\nprobe_url = \"https://a.example/me\"\nclient_secret = \"x\"\n",
        );
        assert_eq!(e.field, Some("client_secret"));
        assert!(e.problem.starts_with("client_secret is only for OAuth"), "{e}");
        let e = error(&oauth("").replace(&format!("\"{SECRET}\""), "42"));
        assert_eq!(e.field, Some("client_secret"));
        let e = error(&oauth("probe_interval_secs = 1\n"));
        assert_eq!(e.field, Some("probe_interval_secs"));
        let e = error(&oauth("scopes = 3\n"));
        assert_eq!(e.field, Some("scopes"));
        let e =
            error("name = \"j\"\nprovider = \"api-token\"\nprobe_url = \"https://a.example/\"\nexpires = \"June\"\n");
        assert_eq!(e.field, Some("expires"));
        let e = error("name = \"h\"\nprovider = \"highq\"\nsite = \"https://a.example\"\nclient_id = \"c\"\n");
        assert_eq!(e.field, Some("site"));
        assert!(e.problem.contains("does not apply"), "{e}");
    }

    #[test]
    fn broken_toml_never_quotes_the_secret_line() {
        let text = format!("name = \"r\"\nclient_secret = \"{SECRET}\n");
        let e = error(&text);
        assert!(e.problem.starts_with("it is not valid TOML on line 2"), "{e}");
        assert!(error(&"x".repeat(MAX_FILE_BYTES + 1)).problem.contains("larger than"));
    }
}

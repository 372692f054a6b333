//! The inputs of an integration, in one table: each one's profile-file key, command-line flag,
//! label and hint in plain words, and which provider asks for it.
//!
//! The command line's `add` flags (their help), the window's forms (through the app's `fields`
//! command) and the profile-file reader ([`crate::profile_file`]) all take their names from here,
//! so a new input is added once. Which inputs a provider asks for follows from its profile
//! ([`asked`]): the template variables it has no default for, a client id for sign-in services,
//! a check address for a generic API token.

use serde::Serialize;

use crate::providers::{Profile, ProfileKind};

/// One input of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
    AllowOtherSites,
}

/// What kind of value an input takes (the window's input type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Url,
    Text,
    Email,
    Password,
    Date,
    Number,
    Checkbox,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldInfo {
    pub field: Field,
    /// The profile file's key (also the window form's field name).
    pub key: &'static str,
    /// The command-line flag (`NAME` for the positional name).
    pub flag: &'static str,
    /// The form's label.
    pub label: &'static str,
    /// The input named inside a sentence ("Acme needs the instance address").
    pub named: &'static str,
    /// Where the value comes from, in plain words.
    pub hint: &'static str,
    pub input: InputType,
}

macro_rules! row {
    ($field:ident, $key:literal, $flag:literal, $label:literal, $named:literal, $input:ident, $hint:literal) => {
        FieldInfo {
            field: Field::$field,
            key: $key,
            flag: $flag,
            label: $label,
            named: $named,
            hint: $hint,
            input: InputType::$input,
        }
    };
}

/// Every input, in the order a profile file documents them.
pub const TABLE: [FieldInfo; 18] = [
    row!(Name, "name", "NAME", "Name", "a name", Text, "A name you choose for this connection, such as “Reports”."),
    row!(Provider, "provider", "--provider", "Service", "the service", Text, "Which service this connects to."),
    row!(Issuer, "issuer", "--issuer", "Sign-in service address", "the sign-in service address", Url,
        "The address of the sign-in service; Token Keeper looks up the rest from it."),
    row!(AuthorizeUrl, "authorize_url", "--authorize-url", "Sign-in page address", "the sign-in page address", Url,
        "The page where you sign in, from the service's documentation."),
    row!(TokenUrl, "token_url", "--token-url", "Token address", "the token address", Url,
        "Where Token Keeper renews the connection, from the service's documentation."),
    row!(RevocationUrl, "revocation_url", "--revocation-url", "Revocation address", "the revocation address", Url,
        "Where Token Keeper cancels the connection when you remove it (optional)."),
    row!(ProbeUrl, "probe_url", "--probe-url", "Check address", "the check address", Url,
        "A page of the service that answers only with a valid token. Token Keeper opens it now and then to check the token."),
    row!(ClientId, "client_id", "--client-id", "Client ID", "the client ID", Text,
        "From the app registration at the service (your administrator has it)."),
    row!(ClientSecret, "client_secret", "--client-secret-stdin", "Client secret (optional)", "a client secret", Password,
        "Only if the service gave you one. It is kept in your keychain."),
    row!(Scopes, "scopes", "--scope", "Extra permissions (optional)", "the permissions", Text,
        "Separated by spaces; the ones this service needs are asked for anyway."),
    row!(ProbeInterval, "probe_interval_secs", "--probe-interval", "Check every (seconds)", "the check interval", Number,
        "How often Token Keeper checks that the token works."),
    row!(Username, "username", "--username", "User name or email (optional)", "the user name or email", Email,
        "If the service wants it with the token (Atlassian: your email)."),
    row!(Expires, "expires", "--expires", "Token ends on (optional)", "the end date", Date,
        "The expiry date you chose when you created the token. You are reminded before then."),
    row!(InstanceUrl, "instance_url", "--instance-url", "Instance address", "the instance address", Url,
        "The address of your organisation's site, such as https://acme.highq.com/acme. Your administrator gives it to you."),
    row!(Site, "site", "--site", "Site address", "the site address", Url,
        "Your site, such as https://your-site.atlassian.net."),
    row!(BaseUrl, "base_url", "--base-url", "Service address", "the service address", Url,
        "Only if your organisation uses its own address for this service."),
    row!(Tenant, "tenant", "--tenant", "Tenant", "the tenant", Text,
        "“common” for any account, or your organisation's tenant id or domain."),
    row!(AllowOtherSites, "allow_other_sites", "--allow-other-sites", "Tokens may go to other sites", "the permission to use other sites", Checkbox,
        "Lets the token, check or revocation address be on another site than the sign-in page: only when the service's own documentation says so."),
];

impl Field {
    /// Every field, in the table's order.
    pub const ALL: [Field; 18] = {
        let mut out = [Field::Name; 18];
        let mut i = 0;
        while i < TABLE.len() {
            out[i] = TABLE[i].field;
            i += 1;
        }
        out
    };

    /// The field's row.
    pub fn info(self) -> &'static FieldInfo {
        TABLE.iter().find(|row| row.field == self).expect("every field has a row")
    }

    /// The command-line flag that gives this input.
    pub fn flag(self) -> &'static str {
        self.info().flag
    }

    /// The key that gives this input in a profile file.
    pub fn key(self) -> &'static str {
        self.info().key
    }

    /// The input named inside a sentence, as the window words it.
    pub fn named(self) -> &'static str {
        self.info().named
    }

    /// The field a profile file's key names.
    pub fn by_key(key: &str) -> Option<Field> {
        TABLE.iter().find(|row| row.key == key).map(|row| row.field)
    }

    /// The template variable a preset's address input fills, if it is one.
    pub fn of_variable(variable: &str) -> Option<Field> {
        match variable {
            "instance" => Some(Field::InstanceUrl),
            "site" => Some(Field::Site),
            "base" => Some(Field::BaseUrl),
            "tenant" => Some(Field::Tenant),
            _ => None,
        }
    }
}

/// Microsoft's directory for any account, the tenant offered when the keeper has no other.
pub const DEFAULT_TENANT: &str = "common";

/// One input a provider asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asked {
    pub field: Field,
    pub required: bool,
    pub default: Option<String>,
}

/// Whether a profile is a preset: its addresses are its own (or made from the few inputs it
/// documents), never typed in full by the keeper.
pub fn is_preset(profile: &Profile) -> bool {
    let e = &profile.endpoints;
    match profile.kind {
        ProfileKind::Oauth => e.authorize.is_some() && e.token.is_some(),
        ProfileKind::ApiToken => e.probe.is_some(),
    }
}

/// The inputs `profile` asks for besides the name, in order, with whether each is required.
/// The generic profiles ask for their addresses as well (the window's advanced form).
pub fn asked(profile: &Profile) -> Vec<Asked> {
    let mut out = Vec::new();
    let ask = |field: Field, required: bool| Asked { field, required, default: None };
    if !is_preset(profile) {
        match profile.kind {
            ProfileKind::Oauth => {
                out.push(ask(Field::Issuer, false));
                out.push(ask(Field::AuthorizeUrl, false));
                out.push(ask(Field::TokenUrl, false));
                out.push(ask(Field::RevocationUrl, false));
                out.push(ask(Field::ProbeUrl, false));
            }
            ProfileKind::ApiToken => out.push(ask(Field::ProbeUrl, true)),
        }
    }
    for variable in profile.variables() {
        let Some(field) = Field::of_variable(&variable) else { continue };
        // A preset's own address (Atlassian's, GitHub's) is not asked for.
        if profile.endpoints.defaults.contains_key(&variable) {
            continue;
        }
        let default = (field == Field::Tenant).then(|| DEFAULT_TENANT.to_string());
        out.push(Asked { field, required: true, default });
    }
    match profile.kind {
        ProfileKind::Oauth => {
            if is_preset(profile) && profile.endpoints.probe.is_none() {
                out.push(ask(Field::ProbeUrl, false));
            }
            out.push(ask(Field::ClientId, true));
            out.push(ask(Field::ClientSecret, false));
            if profile.takes_scopes {
                out.push(ask(Field::Scopes, false));
            }
        }
        ProfileKind::ApiToken => {
            out.push(ask(Field::Username, profile.needs_username));
            out.push(ask(Field::Expires, false));
        }
    }
    if profile.kind == ProfileKind::Oauth && (!is_preset(profile) || profile.endpoints.probe.is_none()) {
        out.push(ask(Field::AllowOtherSites, false));
    }
    out
}

/// The whole table for one provider, as the window's form takes it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FormField {
    pub key: &'static str,
    pub flag: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub input: InputType,
    pub required: bool,
    pub default: Option<String>,
}

/// The form `profile` asks the keeper to fill (the name not included).
pub fn form(profile: &Profile) -> Vec<FormField> {
    asked(profile)
        .into_iter()
        .map(|a| {
            let row = a.field.info();
            FormField {
                key: row.key,
                flag: row.flag,
                label: row.label,
                hint: row.hint,
                input: row.input,
                required: a.required,
                default: a.default,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers;

    #[test]
    fn keys_and_flags_are_unique_and_rows_in_order() {
        for (i, row) in TABLE.iter().enumerate() {
            assert_eq!(Field::ALL[i], row.field);
            assert_eq!(TABLE.iter().filter(|r| r.key == row.key).count(), 1, "{}", row.key);
            assert_eq!(TABLE.iter().filter(|r| r.flag == row.flag).count(), 1, "{}", row.flag);
            assert_eq!(Field::by_key(row.key), Some(row.field));
            assert!(!row.hint.is_empty() && !row.label.is_empty());
        }
    }

    #[test]
    fn each_provider_asks_what_it_needs() {
        let keys = |id: &str| -> Vec<(&str, bool)> {
            form(&providers::find(id).unwrap()).iter().map(|f| (f.key, f.required)).collect()
        };
        assert_eq!(
            keys("highq"),
            [("instance_url", true), ("client_id", true), ("client_secret", false)],
            "HighQ takes no scopes"
        );
        assert_eq!(
            keys("atlassian-api-token"),
            [("site", true), ("username", true), ("expires", false)],
            "Atlassian refuses a token without the email"
        );
        assert!(keys("oauth2").contains(&("issuer", false)) && keys("oauth2").contains(&("allow_other_sites", false)));
        assert_eq!(keys("api-token")[0], ("probe_url", true));
        assert!(!keys("google").iter().any(|(k, _)| k.ends_with("_url")), "Google's addresses are its own");
    }
}

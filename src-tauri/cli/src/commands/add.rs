//! `tokenkeeper add NAME --provider …`: turns flags into an [`IntegrationConfig`] and hands it
//! to the keeper.
//!
//! The only work done here besides translating is OpenID Connect discovery for `--issuer`
//! (the engine's [`discover`]), whose endpoints fill whatever the flags left out — flags given
//! explicitly always win. A preset profile (HighQ, Atlassian) fills its endpoints from its URL
//! templates and the few addresses the keeper gives (`--instance-url`, `--site`, `--base-url`).
//! Which flags fit depends on the provider profile; a flag that does not fit is refused rather
//! than silently ignored. The client secret comes from standard input only ([`crate::input`]).

use std::collections::BTreeMap;

use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind, OauthConfig};
use tokenkeeper_engine::providers::discovery::{discover, Discovered, DiscoveryError};
use tokenkeeper_engine::providers::{self, Profile, ProfileKind, TemplateError};
use tokenkeeper_engine::secret::ClientSecret;

use super::print_out;
use crate::args::AddArgs;
use crate::failure::Failure;
use crate::{input, words};

pub async fn add(backend: &Backend, args: AddArgs) -> Result<(), Failure> {
    let profile = providers::find(&args.provider)
        .ok_or_else(|| Failure::usage(format!("there is no provider called \"{}\"", args.provider)))?;
    let kind = profile.kind;
    check_flags(&args, kind)?;
    check_preset_flags(&args, &profile)?;
    let client_secret = match args.client_secret_stdin {
        true => Some(ClientSecret::new(input::secret_line(format!("the client secret for {}", args.name)).await?)),
        false => None,
    };
    let discovered = match (&args.issuer, kind) {
        (Some(issuer), ProfileKind::Oauth) => {
            Some(discover(&providers::wire::client(), issuer).await.map_err(|e| discovery_failure(&e))?)
        }
        _ => None,
    };
    let config = build_config(&args, &profile, discovered.as_ref(), client_secret.is_some())?;
    let view = backend.add(config, client_secret).await?;
    let next = match kind {
        ProfileKind::Oauth => "sign in with `tokenkeeper login NAME`",
        ProfileKind::ApiToken => "give its token on standard input to `tokenkeeper login NAME`",
    };
    print_out(&format!("{}: added; {}\n", view.name, next.replace("NAME", &words::shell_word(&view.name))))
}

/// Discovery failing because the issuer cannot be reached is temporary (exit 4); an address
/// that is not an issuer is bad input (exit 2).
fn discovery_failure(e: &DiscoveryError) -> Failure {
    let code = match e {
        DiscoveryError::Wire(w) if w.is_transient() => 4,
        _ => crate::failure::USAGE,
    };
    Failure { code, message: format!("could not discover the endpoints: {e}") }
}

/// Refuses flags that do not belong to the provider's kind.
fn check_flags(args: &AddArgs, kind: ProfileKind) -> Result<(), Failure> {
    let given = |present: bool, flag: &'static str| present.then_some(flag);
    let (misplaced, belongs_to): (Vec<&str>, &str) = match kind {
        ProfileKind::Oauth => (
            [given(args.username.is_some(), "--username"), given(args.expires.is_some(), "--expires")]
                .into_iter()
                .flatten()
                .collect(),
            "API-token",
        ),
        ProfileKind::ApiToken => (
            [
                given(args.issuer.is_some(), "--issuer"),
                given(args.authorize_url.is_some(), "--authorize-url"),
                given(args.token_url.is_some(), "--token-url"),
                given(args.revocation_url.is_some(), "--revocation-url"),
                given(args.client_id.is_some(), "--client-id"),
                given(args.client_secret_stdin, "--client-secret-stdin"),
                given(!args.scopes.is_empty(), "--scope"),
            ]
            .into_iter()
            .flatten()
            .collect(),
            "OAuth",
        ),
    };
    if misplaced.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{} {} only for {belongs_to} integrations, and \"{}\" is not one",
        misplaced.join(", "),
        if misplaced.len() == 1 { "is" } else { "are" },
        args.provider
    )))
}

/// The preset address flags, by the template variable each fills.
const PRESET_FLAGS: &[(&str, &str)] = &[("instance", "--instance-url"), ("site", "--site"), ("base", "--base-url")];

fn preset_flag<'a>(args: &'a AddArgs, variable: &str) -> Option<&'a url::Url> {
    match variable {
        "instance" => args.instance_url.as_ref(),
        "site" => args.site.as_ref(),
        "base" => args.base_url.as_ref(),
        _ => None,
    }
}

fn flag_of(variable: &str) -> String {
    PRESET_FLAGS.iter().find(|(v, _)| *v == variable).map(|(_, f)| f.to_string()).unwrap_or(format!("{{{variable}}}"))
}

/// Refuses preset address flags the profile does not use, and addresses that are not HTTPS
/// (plain HTTP only to this computer, for local test servers).
fn check_preset_flags(args: &AddArgs, profile: &Profile) -> Result<(), Failure> {
    for (variable, flag) in PRESET_FLAGS {
        let Some(url) = preset_flag(args, variable) else { continue };
        if !profile.uses(variable) {
            return Err(Failure::usage(format!("{flag} does not apply to the provider \"{}\"", profile.id)));
        }
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if !(url.scheme() == "https" || (url.scheme() == "http" && loopback)) {
            return Err(Failure::usage(format!("{flag} must be an https:// address")));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Failure::usage(format!("{flag} must be an address without ?query or #fragment")));
        }
    }
    Ok(())
}

/// One of the profile's endpoint templates filled with the keeper's addresses, if it has it.
fn preset_url(args: &AddArgs, profile: &Profile, template: Option<&String>) -> Result<Option<url::Url>, Failure> {
    let Some(template) = template else { return Ok(None) };
    let values: BTreeMap<String, String> = PRESET_FLAGS
        .iter()
        .filter_map(|(v, _)| {
            preset_flag(args, v).map(|u| (v.to_string(), u.as_str().trim_end_matches('/').to_string()))
        })
        .collect();
    profile.expand(template, &values).map(Some).map_err(|e| match e {
        TemplateError::Missing(v) => Failure::usage(format!("{} needs {}", profile.name, flag_of(&v))),
        other => Failure::usage(format!("the address could not be made: {other}")),
    })
}

/// The integration's configuration: explicit flags first, then what discovery found, then the
/// preset's endpoint templates.
pub fn build_config(
    args: &AddArgs,
    profile: &Profile,
    discovered: Option<&Discovered>,
    has_client_secret: bool,
) -> Result<IntegrationConfig, Failure> {
    let endpoints = &profile.endpoints;
    let preset_probe = preset_url(args, profile, endpoints.probe.as_ref())?;
    let kind = match profile.kind {
        ProfileKind::Oauth => {
            let preset_authorize = preset_url(args, profile, endpoints.authorize.as_ref())?;
            let preset_token = preset_url(args, profile, endpoints.token.as_ref())?;
            let preset_revocation = preset_url(args, profile, endpoints.revocation.as_ref())?;
            let authorize_url = args
                .authorize_url
                .clone()
                .or_else(|| discovered.map(|d| d.authorization_endpoint.clone()))
                .or(preset_authorize);
            let token_url =
                args.token_url.clone().or_else(|| discovered.map(|d| d.token_endpoint.clone())).or(preset_token);
            let (Some(authorize_url), Some(token_url)) = (authorize_url, token_url) else {
                return Err(Failure::usage("give --issuer, or both --authorize-url and --token-url"));
            };
            let client_id =
                args.client_id.clone().filter(|c| !c.is_empty()).ok_or_else(|| Failure::usage("give --client-id"))?;
            IntegrationKind::Oauth(OauthConfig {
                issuer: discovered.map(|d| d.issuer.clone()).or_else(|| args.issuer.clone()),
                authorize_url,
                token_url,
                revocation_url: args
                    .revocation_url
                    .clone()
                    .or_else(|| discovered.and_then(|d| d.revocation_endpoint.clone()))
                    .or(preset_revocation),
                probe_url: args
                    .probe_url
                    .clone()
                    .or_else(|| discovered.and_then(|d| d.userinfo_endpoint.clone()))
                    .or(preset_probe),
                client_id,
                has_client_secret,
                scopes: scopes(profile, args),
            })
        }
        ProfileKind::ApiToken => IntegrationKind::ApiToken(ApiTokenConfig {
            probe_url: args
                .probe_url
                .clone()
                .or(preset_probe)
                .ok_or_else(|| Failure::usage("an API-token integration needs --probe-url"))?,
            username: args.username.clone(),
            expires: args.expires,
        }),
    };
    Ok(IntegrationConfig {
        name: args.name.clone(),
        provider: args.provider.clone(),
        probe_interval_secs: args.probe_interval,
        kind,
    })
}

/// The profile's scopes, then the keeper's, each once.
fn scopes(profile: &Profile, args: &AddArgs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let given = args.scopes.iter().flat_map(|s| s.split_whitespace()).map(str::to_string);
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
    use crate::args::{Cli, Command};
    use clap::Parser;
    use url::Url;

    fn add_args(line: &[&str]) -> AddArgs {
        let cli = Cli::try_parse_from(["tokenkeeper", "add"].iter().chain(line)).unwrap();
        let Command::Add(args) = cli.command else { panic!() };
        args
    }

    fn oauth2() -> Profile {
        providers::find("oauth2").unwrap()
    }

    fn preset(line: &[&str]) -> Result<IntegrationConfig, Failure> {
        let args = add_args(line);
        let profile = providers::find(&args.provider).unwrap();
        check_flags(&args, profile.kind)?;
        check_preset_flags(&args, &profile)?;
        build_config(&args, &profile, None, true)
    }

    #[test]
    fn highq_needs_only_the_instance_url() {
        let config =
            preset(&["r", "--provider", "highq", "--instance-url", "https://acme.highq.com/acme/", "--client-id", "c"])
                .unwrap();
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!(o.authorize_url, url("https://acme.highq.com/acme/authorize.action"));
        assert_eq!(o.token_url, url("https://acme.highq.com/acme/api/oauth2/token"));
        assert_eq!(o.probe_url, Some(url("https://acme.highq.com/acme/api/3/users/%7Baccount%7D?type=email")));
        assert!(o.scopes.is_empty(), "HighQ takes no scope");
        let missing = preset(&["r", "--provider", "highq", "--client-id", "c"]).unwrap_err();
        assert_eq!((missing.code, missing.message.as_str()), (2, "HighQ Collaborate needs --instance-url"));
        let plain =
            preset(&["r", "--provider", "highq", "--instance-url", "http://acme.highq.com/a", "--client-id", "c"]);
        assert!(plain.unwrap_err().message.contains("https://"));
        let local = preset(&["r", "--provider", "highq", "--instance-url", "http://127.0.0.1:9/a", "--client-id", "c"]);
        assert!(local.is_ok(), "plain HTTP to this computer is for local test servers");
        let wrong = preset(&[
            "r",
            "--provider",
            "highq",
            "--instance-url",
            "https://h/i",
            "--site",
            "https://s",
            "--client-id",
            "c",
        ]);
        assert!(wrong.unwrap_err().message.starts_with("--site does not apply"));
    }

    #[test]
    fn atlassian_uses_the_real_host_unless_told_otherwise() {
        let config =
            preset(&["j", "--provider", "atlassian", "--client-id", "c", "--scope", "read:jira-work offline_access"])
                .unwrap();
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!(o.token_url, url("https://auth.atlassian.com/oauth/token"));
        assert_eq!(o.authorize_url, url("https://auth.atlassian.com/authorize"));
        assert_eq!(o.scopes, ["offline_access", "read:jira-work"]);
        let config =
            preset(&["j", "--provider", "atlassian", "--client-id", "c", "--base-url", "http://127.0.0.1:5/"]).unwrap();
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!(o.token_url, url("http://127.0.0.1:5/oauth/token"));
    }

    #[test]
    fn an_atlassian_api_token_probes_its_site() {
        let config = preset(&[
            "t",
            "--provider",
            "atlassian-api-token",
            "--site",
            "https://acme.atlassian.net",
            "--username",
            "me@example.com",
        ])
        .unwrap();
        let IntegrationKind::ApiToken(a) = config.kind else { panic!() };
        assert_eq!(a.probe_url, url("https://acme.atlassian.net/rest/api/3/myself"));
        assert_eq!(a.username.as_deref(), Some("me@example.com"));
        assert_eq!(preset(&["t", "--provider", "atlassian-api-token"]).unwrap_err().message, "Atlassian needs --site");
    }

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    fn discovered() -> Discovered {
        Discovered {
            issuer: url("https://id.example/"),
            authorization_endpoint: url("https://id.example/authorize"),
            token_endpoint: url("https://id.example/token"),
            revocation_endpoint: Some(url("https://id.example/revoke")),
            userinfo_endpoint: Some(url("https://id.example/userinfo")),
            device_authorization_endpoint: None,
        }
    }

    #[test]
    fn discovery_fills_what_the_flags_leave_out() {
        let args = add_args(&[
            "g",
            "--provider",
            "oauth2",
            "--issuer",
            "https://id.example/",
            "--client-id",
            "cid",
            "--token-url",
            "https://proxy.example/token",
            "--scope",
            "openid email",
            "--scope",
            "offline_access",
        ]);
        let config = build_config(&args, &oauth2(), Some(&discovered()), true).unwrap();
        assert_eq!(config.probe_interval_secs, 1800);
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!(o.issuer, Some(url("https://id.example/")));
        assert_eq!(o.authorize_url, url("https://id.example/authorize"));
        assert_eq!(o.token_url, url("https://proxy.example/token"), "an explicit flag wins");
        assert_eq!(o.revocation_url, Some(url("https://id.example/revoke")));
        assert_eq!(o.probe_url, Some(url("https://id.example/userinfo")));
        assert_eq!(o.scopes, ["openid", "email", "offline_access"]);
        assert!(o.has_client_secret);
        assert_eq!(o.client_id, "cid");
    }

    #[test]
    fn explicit_endpoints_need_both_urls() {
        let args =
            add_args(&["c", "--provider", "oauth2", "--client-id", "cid", "--authorize-url", "https://sso.example/a"]);
        assert_eq!(build_config(&args, &oauth2(), None, false).unwrap_err().code, 2);
        let args = add_args(&[
            "c",
            "--provider",
            "oauth2",
            "--client-id",
            "cid",
            "--authorize-url",
            "https://sso.example/a",
            "--token-url",
            "https://sso.example/t",
            "--probe-url",
            "https://api.example/me",
            "--probe-interval",
            "600",
        ]);
        let config = build_config(&args, &oauth2(), None, false).unwrap();
        assert_eq!(config.probe_interval_secs, 600);
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!((o.issuer, o.revocation_url, o.has_client_secret), (None, None, false));
        assert_eq!(o.probe_url, Some(url("https://api.example/me")));
    }

    #[test]
    fn an_api_token_config() {
        let args = add_args(&[
            "jira",
            "--provider",
            "api-token",
            "--probe-url",
            "https://acme.atlassian.net/rest/api/3/myself",
            "--username",
            "me@example.com",
            "--expires",
            "2026-06-30",
        ]);
        check_flags(&args, ProfileKind::ApiToken).unwrap();
        let config = build_config(&args, &providers::find("api-token").unwrap(), None, false).unwrap();
        assert_eq!(config.provider, "api-token");
        assert_eq!(
            config.kind,
            IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url: url("https://acme.atlassian.net/rest/api/3/myself"),
                username: Some("me@example.com".into()),
                expires: Some(time::macros::date!(2026 - 06 - 30)),
            })
        );
    }

    #[test]
    fn flags_of_the_other_kind_are_refused() {
        let args = add_args(&[
            "jira",
            "--provider",
            "api-token",
            "--probe-url",
            "https://a.example/me",
            "--client-id",
            "x",
            "--scope",
            "s",
        ]);
        let failure = check_flags(&args, ProfileKind::ApiToken).unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(failure.message.starts_with("--client-id, --scope are only for OAuth"), "{}", failure.message);
        let args = add_args(&[
            "g",
            "--provider",
            "oauth2",
            "--issuer",
            "https://id.example",
            "--client-id",
            "x",
            "--username",
            "me",
        ]);
        assert!(check_flags(&args, ProfileKind::Oauth)
            .unwrap_err()
            .message
            .starts_with("--username is only for API-token"));
    }
}

//! `tokenkeeper add NAME --provider …`: turns flags into an [`IntegrationConfig`] and hands it
//! to the keeper.
//!
//! The only work done here besides translating is OpenID Connect discovery for `--issuer`
//! (the engine's [`discover`]), whose endpoints fill whatever the flags left out — flags given
//! explicitly always win. Which flags fit depends on the provider profile's kind; a flag that
//! does not fit is refused rather than silently ignored. The client secret comes from standard
//! input only ([`crate::input`]).

use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind, OauthConfig};
use tokenkeeper_engine::providers::discovery::{discover, Discovered, DiscoveryError};
use tokenkeeper_engine::providers::{self, ProfileKind};
use tokenkeeper_engine::secret::ClientSecret;

use super::print_out;
use crate::args::AddArgs;
use crate::failure::Failure;
use crate::{input, words};

pub async fn add(backend: &Backend, args: AddArgs) -> Result<(), Failure> {
    let kind = providers::find(&args.provider)
        .ok_or_else(|| Failure::usage(format!("there is no provider called \"{}\"", args.provider)))?
        .kind;
    check_flags(&args, kind)?;
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
    let config = build_config(&args, kind, discovered.as_ref(), client_secret.is_some())?;
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

/// The integration's configuration: explicit flags first, then what discovery found.
pub fn build_config(
    args: &AddArgs,
    kind: ProfileKind,
    discovered: Option<&Discovered>,
    has_client_secret: bool,
) -> Result<IntegrationConfig, Failure> {
    let kind = match kind {
        ProfileKind::Oauth => {
            let authorize_url =
                args.authorize_url.clone().or_else(|| discovered.map(|d| d.authorization_endpoint.clone()));
            let token_url = args.token_url.clone().or_else(|| discovered.map(|d| d.token_endpoint.clone()));
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
                    .or_else(|| discovered.and_then(|d| d.revocation_endpoint.clone())),
                probe_url: args.probe_url.clone().or_else(|| discovered.and_then(|d| d.userinfo_endpoint.clone())),
                client_id,
                has_client_secret,
                scopes: args.scopes.iter().flat_map(|s| s.split_whitespace()).map(str::to_string).collect(),
            })
        }
        ProfileKind::ApiToken => IntegrationKind::ApiToken(ApiTokenConfig {
            probe_url: args
                .probe_url
                .clone()
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
        let config = build_config(&args, ProfileKind::Oauth, Some(&discovered()), true).unwrap();
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
        assert_eq!(build_config(&args, ProfileKind::Oauth, None, false).unwrap_err().code, 2);
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
        let config = build_config(&args, ProfileKind::Oauth, None, false).unwrap();
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
        let config = build_config(&args, ProfileKind::ApiToken, None, false).unwrap();
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

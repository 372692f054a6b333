//! `tokenkeeper add NAME --provider …` and `tokenkeeper add --from FILE`: turn flags or an
//! administrator's profile file into an `IntegrationConfig` and hand it to the keeper.
//!
//! The rules are the engine's ([`setup`] for flags and files alike, [`profile_file`] for the
//! file's format, [`setup::prepare`] for the one path from inputs to a checked configuration,
//! discovery included); this module translates flags, words errors with the flags' names, and
//! shows the hosts that will receive a secret ([`setup::secret_hosts`]), asking the keeper to
//! confirm them when the addresses were given in full (`--yes` for scripts). A preset profile (HighQ,
//! Atlassian) fills its endpoints from its URL templates and the few addresses the keeper gives
//! (`--instance-url`, `--site`, `--base-url`). The client secret comes from standard input
//! ([`crate::input`]) or from the profile file, and goes to the keychain only.

use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::model::IntegrationConfig;
use tokenkeeper_engine::profile_file::{self, MAX_FILE_BYTES};
#[cfg(test)]
use tokenkeeper_engine::providers::discovery::Discovered;
use tokenkeeper_engine::providers::discovery::DiscoveryError;
use tokenkeeper_engine::providers::{self, Profile, ProfileKind};
use tokenkeeper_engine::secret::ClientSecret;
use tokenkeeper_engine::setup::{self, Field, Inputs, PrepareError, SetupError};

use super::{print_out, say};
use crate::args::AddArgs;
use crate::failure::Failure;
use crate::{input, words};

pub async fn add(backend: &Backend, args: AddArgs) -> Result<(), Failure> {
    if let Some(file) = &args.from {
        return add_from_file(backend, file, args.new_name.as_deref(), args.yes, args.shared).await;
    }
    let mut inputs = inputs_of(&args);
    let profile = providers::find(&inputs.provider)
        .ok_or_else(|| Failure::usage(format!("there is no provider called \"{}\"", inputs.provider)))?;
    apply_cloud_id(&args, &profile, &mut inputs)?;
    // Before the secret is asked for: a mistake in the flags should not cost a typed secret.
    setup::check(&inputs, &profile).map_err(|e| flag_failure(&e))?;
    let client_secret = match args.client_secret_stdin {
        true => Some(ClientSecret::new(input::secret_line(format!("the client secret for {}", inputs.name)).await?)),
        false => None,
    };
    let config = setup::prepare(&inputs, &profile, &providers::wire::client())
        .await
        .map_err(|e| prepare_failure(e, Field::flag, ""))?;
    confirm_hosts(&config, setup::needs_confirmation(&inputs, &profile), args.yes).await?;
    let view = backend.add(config, client_secret, args.shared).await?;
    print_out(&format!("{}: added{}; {}\n", view.name, where_(args.shared), next_step(profile.kind, &view.name)))
}

/// `add --from FILE [--name NAME]`: the file is validated completely before anything is stored,
/// its client secret goes to the keychain, and the keeper is told the file can be deleted.
async fn add_from_file(
    backend: &Backend,
    file: &std::path::Path,
    name: Option<&str>,
    yes: bool,
    shared: bool,
) -> Result<(), Failure> {
    let shown = file.display().to_string();
    let text =
        read_bounded(file).map_err(|e| Failure::usage(format!("could not read the profile file {shown}: {e}")))?;
    let parsed = profile_file::parse(&shown, &text, name).map_err(|e| Failure::usage(e.to_string()))?;
    drop(text);
    let profile = providers::find(&parsed.inputs.provider).expect("the profile file checked its provider");
    let config = setup::prepare(&parsed.inputs, &profile, &providers::wire::client())
        .await
        .map_err(|e| prepare_failure(e, Field::key, &format!("the profile file {shown}: ")))?;
    confirm_hosts(&config, setup::needs_confirmation(&parsed.inputs, &profile), yes).await?;
    let had_secret = parsed.client_secret.is_some();
    let view = backend.add(config, parsed.client_secret, shared).await?;
    let mut out =
        format!("{}: added from {shown}{}; {}\n", view.name, where_(shared), next_step(profile.kind, &view.name));
    if had_secret {
        let kept = if shared { "the team vault" } else { "the keychain" };
        out.push_str(&format!("{shown} holds a client secret, which is now in {kept}: the file can now be deleted.\n"));
    }
    print_out(&out)
}

/// Where an added integration lives, for the line that says it was added.
fn where_(shared: bool) -> &'static str {
    if shared {
        " to the team vault"
    } else {
        ""
    }
}

/// Shows every host that will receive a secret (the engine's [`setup::secret_hosts`]) and, when
/// the addresses were given in full, asks the keeper to confirm them; `--yes` confirms for a
/// script. Without a terminal to ask and without `--yes`, nothing is added.
async fn confirm_hosts(config: &IntegrationConfig, needed: bool, yes: bool) -> Result<(), Failure> {
    if !needed {
        return Ok(());
    }
    let lines: Vec<String> = setup::secret_hosts(config).iter().map(|h| format!("  {}", h.sentence)).collect();
    say(&format!("\"{}\" will connect to:\n{}", config.name, lines.join("\n")));
    if yes {
        return Ok(());
    }
    match input::confirm("Add it with these addresses?".into()).await? {
        Some(true) => Ok(()),
        Some(false) => Err(Failure::usage("Nothing was added.")),
        None => Err(Failure::usage(
            "Nothing was added: check the addresses above, then add --yes to confirm them (or run this at a terminal to be asked).",
        )),
    }
}

/// Reads at most a little more than [`MAX_FILE_BYTES`] (the parser refuses larger files).
fn read_bounded(file: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)?.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn next_step(kind: ProfileKind, name: &str) -> String {
    let next = match kind {
        ProfileKind::Oauth => "sign in with `tokenkeeper login NAME`",
        ProfileKind::ApiToken => "give its token on standard input to `tokenkeeper login NAME`",
    };
    next.replace("NAME", &words::shell_word(name))
}

/// The flags as the engine's inputs.
fn inputs_of(args: &AddArgs) -> Inputs {
    Inputs {
        name: args.name.clone().unwrap_or_default(),
        provider: args.provider.clone().unwrap_or_default(),
        issuer: args.issuer.clone(),
        authorize_url: args.authorize_url.clone(),
        token_url: args.token_url.clone(),
        revocation_url: args.revocation_url.clone(),
        probe_url: args.probe_url.clone(),
        client_id: args.client_id.clone(),
        has_client_secret: args.client_secret_stdin,
        scopes: args.scopes.clone(),
        probe_interval_secs: args.probe_interval,
        username: args.username.clone(),
        expires: args.expires,
        instance_url: args.instance_url.clone(),
        site: args.site.clone(),
        base_url: args.base_url.clone(),
        tenant: args.tenant.clone(),
        allow_other_sites: args.allow_other_sites,
    }
}

/// `--cloud-id`: the API gateway's address for the site (Atlassian's scoped API tokens) takes
/// the place of `--site`, and `--base-url` replaces the gateway's host.
fn apply_cloud_id(args: &AddArgs, profile: &Profile, inputs: &mut Inputs) -> Result<(), Failure> {
    let Some(cloud_id) = &args.cloud_id else { return Ok(()) };
    let site = setup::site_for_cloud_id(profile, cloud_id.trim(), args.base_url.as_ref())
        .map_err(|e| Failure::usage(format!("--cloud-id: {e}")))?;
    inputs.site = Some(site);
    inputs.base_url = None;
    Ok(())
}

fn flag_failure(e: &SetupError) -> Failure {
    Failure::usage(e.describe(Field::flag))
}

/// The inputs' errors name each input by `name` after `prefix`; discovery failing because the
/// issuer cannot be reached is temporary (exit 4), an address that is not an issuer bad input.
fn prepare_failure(e: PrepareError, name: fn(Field) -> &'static str, prefix: &str) -> Failure {
    match e {
        PrepareError::Setup(e) => Failure::usage(format!("{prefix}{}", e.describe(name))),
        PrepareError::Discovery(d) => {
            let code = match &d {
                DiscoveryError::Wire(w) if w.is_transient() => 4,
                _ => crate::failure::USAGE,
            };
            Failure { code, message: format!("{prefix}{}", PrepareError::Discovery(d)) }
        }
    }
}

/// The configuration the flags make (for the unit tests: `add` does the same in steps).
#[cfg(test)]
fn build_config(
    args: &AddArgs,
    profile: &Profile,
    discovered: Option<&Discovered>,
    has_client_secret: bool,
) -> Result<IntegrationConfig, Failure> {
    let mut inputs = inputs_of(args);
    apply_cloud_id(args, profile, &mut inputs)?;
    inputs.has_client_secret = has_client_secret;
    setup::build_config(&inputs, profile, discovered).map_err(|e| flag_failure(&e))
}

#[cfg(test)]
fn check_flags(args: &AddArgs, _kind: ProfileKind) -> Result<(), Failure> {
    let mut inputs = inputs_of(args);
    let profile = providers::find(&inputs.provider).unwrap();
    apply_cloud_id(args, &profile, &mut inputs)?;
    setup::check(&inputs, &profile).map_err(|e| flag_failure(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use tokenkeeper_engine::model::{ApiTokenConfig, IntegrationKind};
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
        let profile = providers::find(args.provider.as_deref().unwrap()).unwrap();
        check_flags(&args, profile.kind)?;
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

    #[test]
    fn a_scoped_atlassian_api_token_is_checked_through_the_gateway() {
        let line = ["t", "--provider", "atlassian-api-token", "--cloud-id", "1324a887-45db", "--username", "me@x.com"];
        let IntegrationKind::ApiToken(a) = preset(&line).unwrap().kind else { panic!() };
        assert_eq!(a.probe_url, url("https://api.atlassian.com/ex/jira/1324a887-45db/rest/api/3/myself"));
        let mut local = line.to_vec();
        local.extend(["--base-url", "http://127.0.0.1:7"]);
        let IntegrationKind::ApiToken(a) = preset(&local).unwrap().kind else { panic!() };
        assert_eq!(a.probe_url, url("http://127.0.0.1:7/ex/jira/1324a887-45db/rest/api/3/myself"));
        let bad = preset(&["t", "--provider", "atlassian-api-token", "--cloud-id", "a/b"]).unwrap_err();
        assert!(bad.message.starts_with("--cloud-id: a cloud id is letters"), "{}", bad.message);
        let highq = preset(&["r", "--provider", "highq", "--instance-url", "https://h/i", "--cloud-id", "x"]);
        assert_eq!(highq.unwrap_err().message, "--cloud-id: a cloud id does not apply to the provider \"highq\"");
        let both = ["t", "--provider", "atlassian-api-token", "--cloud-id", "x", "--site", "https://s"];
        assert!(Cli::try_parse_from(["tokenkeeper", "add"].iter().chain(&both)).is_err(), "--site or --cloud-id");
        let no_base =
            preset(&["t", "--provider", "atlassian-api-token", "--site", "https://s", "--base-url", "https://b"]);
        assert!(no_base.unwrap_err().message.starts_with("--base-url does not apply"), "only with --cloud-id");
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
            "--allow-other-sites",
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
            "https://api.sso.example/me",
            "--probe-interval",
            "600",
        ]);
        let config = build_config(&args, &oauth2(), None, false).unwrap();
        assert_eq!(config.probe_interval_secs, 600);
        let IntegrationKind::Oauth(o) = config.kind else { panic!() };
        assert_eq!((o.issuer, o.revocation_url, o.has_client_secret), (None, None, false));
        assert_eq!(o.probe_url, Some(url("https://api.sso.example/me")));
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
                expires_at: Some(
                    tokenkeeper_engine::calendar::Calendar::system().end_of_day(time::macros::date!(2026 - 06 - 30))
                ),
                expires: None,
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

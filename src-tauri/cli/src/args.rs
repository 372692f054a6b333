//! The command line itself: every command, flag and help text of `tokenkeeper`, as clap
//! derive definitions.
//!
//! This is the one place the command line is defined; `--help`, the shell completions and the
//! man page are all generated from it, so they cannot drift apart. Parsing only checks the form
//! of the arguments (clap exits 2 on a usage error); meaning is checked by the engine.
//!
//! Secrets are never taken as arguments: they would end up in shell history and in every
//! process list. The hidden flags of [`REFUSED`] exist only so that an attempt such as
//! `--client-secret VALUE` is recognised and refused with a helpful message (and without
//! repeating the value) instead of a generic "unexpected argument". They are added to the
//! parser only, never to the definition that help, completions and the man page are made from.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use url::Url;

/// The default `--probe-interval`, in seconds.
pub const DEFAULT_PROBE_INTERVAL_SECS: u64 = 1800;

/// The default `--env` of `tokenkeeper exec`.
pub const DEFAULT_ENV_VAR: &str = "ACCESS_TOKEN";

macro_rules! exit_codes {
    ($($line:literal),* $(,)?) => {
        concat!(
            "Exit codes:\n",
            "  0  success\n",
            $($line, "\n",)*
            "  2  usage error or bad input (unknown name, invalid option, malformed file)\n",
            "  3  the integration needs you to sign in again\n",
            "  4  temporarily unavailable: the service cannot be reached and there is no valid token\n",
            "  1  anything else (keychain, files, a running keeper that broke off)"
        )
    };
}

const ABOUT: &str = "Keeps OAuth and API tokens alive and hands valid ones to scripts.";

const LONG_ABOUT: &str = "\
Keeps OAuth and API tokens alive and hands valid ones to scripts.

When the Token Keeper tray app or `tokenkeeper daemon` runs, the command asks it over a local \
socket that only you can open; otherwise it works directly on the keychain, under the same lock, \
so there is only ever one refresh of an integration at a time.

Secrets are never taken on the command line: client secrets and API tokens are read from \
standard input.";

const TOP_AFTER: &str = concat!(
    "Examples:\n",
    "  tokenkeeper list\n",
    "  tokenkeeper exec jira -- ./sync.sh\n",
    "  tokenkeeper token jira | sed 's/^/Authorization: Bearer /' | curl -sf -H @- https://example.com/api\n",
    "\n",
    "Run `tokenkeeper COMMAND --help` for the details of one command.\n",
    "\n",
    exit_codes!()
);

const LIST_AFTER: &str = concat!(
    "With --json, standard output is one JSON array with one object per integration:\n",
    "  name, provider, kind (\"oauth\" | \"api-token\"),\n",
    "  state (\"working\" | \"refreshing\" | \"retrying\" | \"expiring-soon\" | \"needs-sign-in\" | \"offline\" | \"paused\"),\n",
    "  state_label (the same in words), detail (string or null),\n",
    "  access_expires_at, refresh_expires_at (RFC 3339 UTC, or null),\n",
    "  next: {action (\"renew\" | \"check\" | \"retry\" | \"wait-for-keeper\"), at (RFC 3339 or null)},\n",
    "  signin_pending (true while a browser sign-in is under way),\n",
    "  shared (true when it lives in the team vault: see `tokenkeeper shared`).\n",
    "Files that could not be read are reported as warnings on standard error.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper list\n",
    "  tokenkeeper list --json | jq -r '.[] | select(.state == \"needs-sign-in\") | .name'\n",
    "\n",
    exit_codes!()
);

const STATUS_AFTER: &str = concat!(
    "The text form shows the last 20 history lines (newest last) in local time. With --json,\n",
    "standard output is the object `tokenkeeper list --json` gives for this integration, plus\n",
    "\"history\": every kept entry, oldest first, each {at (RFC 3339 UTC), event, text}.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper status jira\n",
    "  tokenkeeper status jira --json | jq '.history[-1]'\n",
    "\n",
    exit_codes!()
);

// Every example that hands a token on is run by tests/tests/script_examples.rs, which checks
// that the token reaches the service and never appears on a command line (/proc/PID/cmdline is
// readable by every user): a token goes through standard input, the environment or a file,
// never through an argument (`curl -H "Authorization: Bearer $(tokenkeeper token jira)"` would
// show it to everyone).
const TOKEN_AFTER: &str = concat!(
    "Standard output holds the token and a newline, nothing else. A token the keeper knows is\n",
    "dead is never printed (exit 3); it is renewed first when it is close to its end.\n",
    "\n",
    "Keep the token off command lines (other users can read them): give it to programs on\n",
    "standard input or in their environment, as below, or use `tokenkeeper exec`.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper token jira | sed 's/^/Authorization: Bearer /' | curl -sf -H @- https://example.com/api\n",
    "  TOKEN=$(tokenkeeper token jira) || exit $?\n",
    "\n",
    exit_codes!()
);

const EXEC_AFTER: &str = concat!(
    "The token is added to COMMAND's environment only, never to a command line: COMMAND\n",
    "should not put it on one either (for curl, pass the header on standard input, -H @-).\n",
    "tokenkeeper exits with COMMAND's exit code (128 + the signal number if a signal ended it),\n",
    "or with its own code below if no token could be had; 127 if COMMAND was not found, 126 if\n",
    "it could not be started.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper exec jira -- ./sync.sh --since yesterday\n",
    "  tokenkeeper exec github --env GH_TOKEN -- gh repo list\n",
    "  tokenkeeper exec jira --env JIRA_USER=account --env JIRA_TOKEN=token -- ./export.sh\n",
    "  tokenkeeper exec jira -- sh -c 'printf \"Authorization: Bearer %s\\n\" \"$ACCESS_TOKEN\" | curl -sf -H @- https://example.com/api'\n",
    "\n",
    exit_codes!()
);

const REFRESH_AFTER: &str = concat!(
    "Prints one line such as `jira: Working, renews in 45 min`. An API token cannot be renewed;\n",
    "it is checked instead.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper refresh jira\n",
    "\n",
    exit_codes!()
);

const PAUSE_AFTER: &str = concat!(
    "While paused, nothing is renewed or checked in the background.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper pause jira\n",
    "  tokenkeeper resume jira\n",
    "\n",
    exit_codes!()
);

const RESUME_AFTER: &str = concat!("Examples:\n", "  tokenkeeper resume jira\n", "\n", exit_codes!());

const ADD_AFTER: &str = concat!(
    "OAuth 2.0 / OpenID Connect (--provider oauth2) needs --client-id and either --issuer\n",
    "(the endpoints and the userinfo probe are discovered) or both --authorize-url and\n",
    "--token-url. Flags given explicitly win over discovery. A client secret is read from\n",
    "standard input with --client-secret-stdin, never from the command line.\n",
    "\n",
    "An API token (--provider api-token) needs --probe-url: a cheap GET that answers 2xx JSON\n",
    "while the token works (e.g. Jira's /rest/api/3/myself). With --username the token is sent\n",
    "as Basic username:token, otherwise as a Bearer token. --expires is the date you chose when\n",
    "creating the token, so Token Keeper can warn you before it ends.\n",
    "\n",
    "Presets fill the endpoints in: HighQ Collaborate (--provider highq) needs --instance-url\n",
    "https://HOST/INSTANCE, --client-id and usually --client-secret-stdin; Atlassian OAuth 2.0\n",
    "(--provider atlassian) needs --client-id, --client-secret-stdin and the API --scope you\n",
    "registered (offline_access is added); an Atlassian API token (--provider\n",
    "atlassian-api-token) needs --site https://SITE.atlassian.net and --username EMAIL; a token\n",
    "with scopes needs --cloud-id ID instead of --site (it works only through api.atlassian.com).\n",
    "GitHub\n",
    "App user tokens (--provider github), Google (--provider google) and Microsoft (--provider\n",
    "microsoft, --tenant defaults to common) need --client-id and usually --client-secret-stdin.\n",
    "\n",
    "A profile file an administrator hands out (--from FILE, TOML) gives all of this at once:\n",
    "name (suggested; --name replaces it), provider, and the flags' names in snake case\n",
    "(instance_url, client_id, scopes, probe_interval_secs, ...), plus an optional client_secret,\n",
    "which moves into the keychain; the file can be deleted afterwards.\n",
    "\n",
    "A service's addresses given in full (--provider oauth2 or api-token, or --probe-url) are\n",
    "shown with what each host receives, and you are asked to confirm them; --yes confirms for a\n",
    "script (the hosts are still printed). Secrets for another site than the sign-in page need\n",
    "--allow-other-sites; a preset's own addresses cannot be replaced.\n",
    "\n",
    "After adding, sign in (or give the API token) with `tokenkeeper login NAME`.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper add --from reporting.toml --name reporting\n",
    "  printf '%s\\n' \"$SECRET\" | tokenkeeper add reporting --provider highq \\\n",
    "      --instance-url https://acme.highq.com/acme --client-id 1234 --client-secret-stdin\n",
    "  printf '%s\\n' \"$SECRET\" | tokenkeeper add jira-sync --provider atlassian \\\n",
    "      --client-id abcd --client-secret-stdin --scope \"read:jira-work\"\n",
    "  tokenkeeper add jira-token --provider atlassian-api-token --site https://acme.atlassian.net \\\n",
    "      --username me@example.com --expires 2026-06-30\n",
    "  tokenkeeper add jira-scoped --provider atlassian-api-token --cloud-id 1324a887-45db-1bf4 \\\n",
    "      --username me@example.com --expires 2026-06-30\n",
    "  tokenkeeper add google --provider oauth2 --issuer https://accounts.google.com --yes \\\n",
    "      --client-id 1234.apps.googleusercontent.com --scope \"openid email\" --client-secret-stdin < secret.txt\n",
    "  tokenkeeper add corp --provider oauth2 --authorize-url https://sso.example.com/authorize \\\n",
    "      --token-url https://sso.example.com/token --client-id reports\n",
    "  tokenkeeper add jira --provider api-token --probe-url https://acme.atlassian.net/rest/api/3/myself \\\n",
    "      --username me@example.com --expires 2026-06-30\n",
    "\n",
    exit_codes!()
);

const LOGIN_AFTER: &str = concat!(
    "OAuth: opens the system browser to sign in and waits (up to 5 minutes) for the answer on\n",
    "127.0.0.1. With --no-browser, the address to open is the only line on standard output;\n",
    "open it in a browser on this computer. Messages go to standard error.\n",
    "\n",
    "--device signs in where no browser can reach this computer (a server over SSH): it shows a\n",
    "code and an address; confirm the code there on any device (phone, laptop). The address is\n",
    "the only line on standard output. The service must offer device sign-in (OpenID Connect\n",
    "discovery: device_authorization_endpoint).\n",
    "\n",
    "--from-response stores a token response the service already gave you (JSON, or XML where\n",
    "the provider uses it), read from FILE or, for `-`, standard input (at most 1 MiB).\n",
    "\n",
    "API token: reads the token from standard input (one line; typing is hidden at a terminal),\n",
    "checks it with the probe URL and stores it only if it works. --expires DATE is the new\n",
    "token's end date (YYYY-MM-DD, as the service showed it): the token is taken to work until the\n",
    "end of that day here. It replaces the old token's date; without it the end is unknown.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper login google\n",
    "  tokenkeeper login google --no-browser\n",
    "  tokenkeeper login reports --device\n",
    "  tokenkeeper login highq --from-response response.xml\n",
    "  pass show jira-token | tokenkeeper login jira --expires 2027-12-07\n",
    "\n",
    exit_codes!()
);

const REMOVE_AFTER: &str = concat!(
    "Deletes the integration's secrets from the keychain and its files. With --revoke, the\n",
    "refresh token is first revoked at the service; if that fails nothing is removed (exit 4).\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper remove old-sync\n",
    "  tokenkeeper remove google --revoke\n",
    "\n",
    exit_codes!()
);

const SHARED_AFTER: &str = concat!(
    "A shared integration lives in a team vault (OpenBao, or HashiCorp Vault) instead of on this\n",
    "computer: its settings and tokens are kept there, and every keeper connected to the same place\n",
    "keeps it alive — a server's daemon and a person's tray app alike, one renewal at a time. Add one\n",
    "with `tokenkeeper add NAME --shared …`; sign in on any keeper.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper shared connect --address https://bao.example:8200 --path tokenkeeper/team --token-stdin\n",
    "  tokenkeeper shared connect --address https://10.0.0.1:8200 --address https://10.0.0.2:8200 \\\n",
    "      --role-id 1f2e… --secret-id-stdin --ca-cert /etc/ssl/team-ca.pem\n",
    "  tokenkeeper shared status --json\n",
    "  tokenkeeper shared disconnect\n",
    "\n",
    exit_codes!()
);

const DAEMON_AFTER: &str = concat!(
    "Runs in the foreground until SIGINT or SIGTERM, keeping every integration alive and\n",
    "answering `tokenkeeper` commands over a local socket only you can open. Logs go to standard\n",
    "error; set RUST_LOG (e.g. RUST_LOG=debug) to see more. Do not run it beside the tray app.\n",
    "\n",
    "Examples:\n",
    "  tokenkeeper daemon\n",
    "  RUST_LOG=tokenkeeper_engine=debug tokenkeeper daemon\n",
    "\n",
    "Exit codes:\n",
    "  0  stopped by SIGINT or SIGTERM\n",
    "  1  could not start (keychain, files, socket in use)"
);

const COMPLETIONS_AFTER: &str = concat!(
    "Examples:\n",
    "  tokenkeeper completions bash > ~/.local/share/bash-completion/completions/tokenkeeper\n",
    "  tokenkeeper completions zsh > \"${fpath[1]}/_tokenkeeper\"\n",
    "  tokenkeeper completions fish > ~/.config/fish/completions/tokenkeeper.fish\n",
    "\n",
    "Exit codes:\n",
    "  0  success\n",
    "  2  usage error"
);

const MAN_AFTER: &str = concat!(
    "Examples:\n",
    "  tokenkeeper man > tokenkeeper.1 && man ./tokenkeeper.1\n",
    "  tokenkeeper man login > tokenkeeper-login.1\n",
    "\n",
    "Exit codes:\n",
    "  0  success\n",
    "  2  usage error or unknown command"
);

/// `tokenkeeper`.
#[derive(Debug, Parser)]
#[command(
    name = "tokenkeeper",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = TOP_AFTER,
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per run; boxing would only add noise")]
pub enum Command {
    /// List every integration with its state, expiry times and what happens next.
    #[command(after_help = LIST_AFTER)]
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },

    /// Show one integration with its recent history.
    #[command(after_help = STATUS_AFTER)]
    Status {
        /// The integration's name.
        name: String,
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Print a currently valid token on standard output, and nothing else.
    #[command(after_help = TOKEN_AFTER)]
    Token {
        /// The integration's name.
        name: String,
    },

    /// Run a command with a currently valid token in its environment.
    #[command(after_help = EXEC_AFTER)]
    Exec(ExecArgs),

    /// Renew the token now (or check it, for an API token).
    #[command(after_help = REFRESH_AFTER)]
    Refresh {
        /// The integration's name.
        name: String,
    },

    /// Stop renewing and checking an integration until it is resumed.
    #[command(after_help = PAUSE_AFTER)]
    Pause {
        /// The integration's name.
        name: String,
    },

    /// Start renewing and checking a paused integration again.
    #[command(after_help = RESUME_AFTER)]
    Resume {
        /// The integration's name.
        name: String,
    },

    /// Create an integration (then sign in with `tokenkeeper login`).
    #[command(after_help = ADD_AFTER)]
    Add(AddArgs),

    /// Sign in (OAuth), store a token response, or give an API token on standard input.
    #[command(after_help = LOGIN_AFTER)]
    Login(LoginArgs),

    /// Delete an integration, optionally revoking it at the service first.
    #[command(after_help = REMOVE_AFTER)]
    Remove {
        /// The integration's name.
        name: String,
        /// Revoke the refresh token at the service before removing.
        #[arg(long)]
        revoke: bool,
    },

    /// Keep integrations in a team vault (OpenBao or Vault), shared with other keepers.
    #[command(subcommand, after_help = SHARED_AFTER)]
    Shared(SharedCommand),

    /// Run the headless keeper in the foreground (for servers and tests).
    #[command(after_help = DAEMON_AFTER)]
    Daemon,

    /// Print a shell completion script on standard output.
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) on standard output.
    #[command(after_help = MAN_AFTER)]
    Man {
        /// A command whose own page to print (e.g. `login`); the main page when left out.
        command: Option<String>,
    },
}

/// `tokenkeeper shared …`.
#[derive(Debug, Subcommand)]
pub enum SharedCommand {
    /// Connect this keeper to a place in a team vault; the credential goes to the keychain only.
    Connect(SharedConnectArgs),
    /// Show the connection: the address in use, how long its access lasts, the last problem.
    Status {
        /// Print a JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Forget the connection here (the shared integrations stay in the vault for the others).
    Disconnect,
}

/// `tokenkeeper shared connect`.
#[derive(Debug, Args)]
pub struct SharedConnectArgs {
    /// The vault's address; repeat it for each node of a cluster. BAO_ADDR or VAULT_ADDR when
    /// left out.
    #[arg(long = "address", value_name = "URL")]
    pub addresses: Vec<String>,
    /// The vault's key-value storage (version 2) to use.
    #[arg(long, value_name = "MOUNT", default_value = "secret")]
    pub mount: String,
    /// The place in it shared by the team's keepers.
    #[arg(long, value_name = "PATH", default_value = "tokenkeeper/shared")]
    pub path: String,
    /// Read a vault token from standard input (one line).
    #[arg(long, conflicts_with_all = ["role_id", "secret_id_stdin"], required_unless_present = "role_id")]
    pub token_stdin: bool,
    /// Log in with an AppRole (for servers): its role id; the secret id from standard input.
    #[arg(long, value_name = "ID", requires = "secret_id_stdin")]
    pub role_id: Option<String>,
    /// With --role-id: read the AppRole's secret id from standard input (one line).
    #[arg(long, requires = "role_id")]
    pub secret_id_stdin: bool,
    /// A PEM file of certificates to trust for the vault (a private certificate authority).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// `tokenkeeper exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The integration's name.
    pub name: String,
    /// An environment variable for COMMAND: VAR receives the token, VAR=FIELD the field (token,
    /// or account: the user name sent with an API token, e.g. your Atlassian e-mail). May be
    /// repeated.
    #[arg(long = "env", value_name = "VAR[=FIELD]", default_value = DEFAULT_ENV_VAR, value_parser = parse_env_var)]
    pub vars: Vec<EnvVar>,
    /// The command to run, and its arguments (after `--`).
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_parser = clap::value_parser!(OsString)
    )]
    pub command: Vec<OsString>,
}

/// What `exec --env` can put in a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Field {
    /// The currently valid token.
    Token,
    /// Who the token belongs to: the user name sent with an API token, or the account the service
    /// named at sign-in.
    Account,
}

/// One `exec --env VAR[=FIELD]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub field: Field,
}

/// `--env JIRA_TOKEN` or `--env JIRA_USER=account`: a name the system accepts for a variable,
/// and a known field (the token when none is given).
fn parse_env_var(text: &str) -> Result<EnvVar, String> {
    let (name, field) = match text.split_once('=') {
        Some((name, field)) => {
            let field = <Field as clap::ValueEnum>::from_str(field, false)
                .map_err(|_| format!("\"{field}\" is not something exec can give: use token or account"))?;
            (name, field)
        }
        None => (text, Field::Token),
    };
    if name.is_empty() || name.contains('\0') {
        return Err(format!("\"{name}\" cannot be the name of an environment variable"));
    }
    Ok(EnvVar { name: name.to_string(), field })
}

/// `tokenkeeper add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The new integration's name (letters, digits, spaces, '-', '_' and '.').
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    pub name: Option<String>,

    /// The provider profile.
    #[arg(long, value_parser = provider_parser(), required_unless_present = "from")]
    pub provider: Option<String>,

    /// Take everything from a profile file an administrator handed out (TOML).
    #[arg(long, value_name = "FILE", help_heading = "Profile file", conflicts_with_all = [
        "provider", "issuer", "authorize_url", "token_url", "revocation_url", "client_id",
        "client_secret_stdin", "scopes", "probe_url", "probe_interval", "username", "expires",
        "instance_url", "site", "base_url", "cloud_id",
    ])]
    pub from: Option<PathBuf>,
    /// With --from: the name to use instead of the one the file suggests.
    #[arg(long = "name", value_name = "NAME", help_heading = "Profile file", requires = "from")]
    pub new_name: Option<String>,

    /// OpenID Connect issuer: the endpoints are discovered from it.
    #[arg(long, value_name = "URL", help_heading = "OAuth")]
    pub issuer: Option<Url>,
    /// The authorization endpoint (instead of, or overriding, discovery).
    #[arg(long, value_name = "URL", help_heading = "OAuth")]
    pub authorize_url: Option<Url>,
    /// The token endpoint (instead of, or overriding, discovery).
    #[arg(long, value_name = "URL", help_heading = "OAuth")]
    pub token_url: Option<Url>,
    /// The revocation endpoint, used by `remove --revoke`.
    #[arg(long, value_name = "URL", help_heading = "OAuth")]
    pub revocation_url: Option<Url>,
    /// The OAuth client id.
    #[arg(long, value_name = "ID", help_heading = "OAuth", required_if_eq("provider", "oauth2"))]
    pub client_id: Option<String>,
    /// Read the client secret from standard input (one line).
    #[arg(long, help_heading = "OAuth")]
    pub client_secret_stdin: bool,
    /// Scopes to ask for, separated by spaces; may be repeated.
    #[arg(long = "scope", value_name = "SCOPES", help_heading = "OAuth")]
    pub scopes: Vec<String>,

    /// A cheap authenticated GET that answers 2xx JSON while the token works
    /// (OAuth: defaults to the discovered userinfo endpoint).
    #[arg(long, value_name = "URL", required_if_eq("provider", "api-token"))]
    pub probe_url: Option<Url>,
    /// How often to check that the token works, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_PROBE_INTERVAL_SECS,
          value_parser = clap::value_parser!(u64).range(5..))]
    pub probe_interval: u64,

    /// Send the API token as Basic USER:token (e.g. your Atlassian e-mail) instead of Bearer.
    #[arg(long, value_name = "USER", help_heading = "API token")]
    pub username: Option<String>,
    /// The date the API token expires (you chose it when creating the token).
    #[arg(long, value_name = "YYYY-MM-DD", help_heading = "API token", value_parser = parse_date)]
    pub expires: Option<time::Date>,

    /// HighQ Collaborate: the instance's address, https://HOST/INSTANCE.
    #[arg(long, value_name = "URL", help_heading = "Presets")]
    pub instance_url: Option<Url>,
    /// Atlassian API token: the site, https://SITE.atlassian.net.
    #[arg(long, value_name = "URL", help_heading = "Presets")]
    pub site: Option<Url>,
    /// Atlassian API token with scopes: the site's cloud id; the token is then checked through
    /// https://api.atlassian.com/ex/jira/ID instead of the site.
    #[arg(long, value_name = "ID", help_heading = "Presets", conflicts_with = "site")]
    pub cloud_id: Option<String>,
    /// Replaces a preset's default service address, for a local or proxied endpoint.
    #[arg(long, value_name = "URL", help_heading = "Presets")]
    pub base_url: Option<Url>,
    /// Microsoft: the directory (common, organizations, consumers, a tenant id or domain).
    #[arg(long, value_name = "TENANT", help_heading = "Presets")]
    pub tenant: Option<String>,

    /// Allow a token, check or revocation address on another site than the sign-in page.
    #[arg(long, conflicts_with = "from")]
    pub allow_other_sites: bool,
    /// Keep it in the team vault (see `tokenkeeper shared`), for every keeper connected there.
    #[arg(long)]
    pub shared: bool,
    /// Add without asking: the addresses that will receive secrets are still printed. Without
    /// it, a service's addresses given in full are shown and confirmed at the terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `tokenkeeper login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The integration's name.
    pub name: String,
    /// Print the sign-in address on standard output instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Store a token response the service already gave you, from FILE or `-` (standard input).
    #[arg(long, value_name = "FILE|-", conflicts_with = "no_browser")]
    pub from_response: Option<PathBuf>,
    /// Device sign-in (RFC 8628), for machines without a browser: shows a code to confirm on any
    /// device, and prints the address to open as the only line on standard output.
    #[arg(long, conflicts_with_all = ["no_browser", "from_response"])]
    pub device: bool,
    /// API token: the new token's end date (YYYY-MM-DD), the end of that day here.
    #[arg(long, value_name = "DATE", value_parser = parse_date, conflicts_with_all = ["no_browser", "from_response", "device"])]
    pub expires: Option<time::Date>,
}

/// Flags that would put a secret on the command line, as typed, and the message for each.
/// The parser accepts them (hidden, on every command) only to refuse them with that message.
pub const REFUSED: &[(&str, &str)] = &[
    ("--client-secret", CLIENT_SECRET_REFUSAL),
    ("--token", TOKEN_REFUSAL),
    ("--api-token", TOKEN_REFUSAL),
    ("--access-token", TOKEN_REFUSAL),
    ("--refresh-token", TOKEN_REFUSAL),
    ("--password", TOKEN_REFUSAL),
];

const CLIENT_SECRET_REFUSAL: &str = "a client secret is never taken on the command line (it would show in shell \
     history and process lists): use --client-secret-stdin and give it on standard input";
const TOKEN_REFUSAL: &str = "secrets are never taken on the command line (they would show in shell history and \
     process lists): give an API token on standard input to `tokenkeeper login NAME`, or a token \
     response with `tokenkeeper login NAME --from-response FILE|-`";

/// The parser: the definition plus the hidden flags that exist only to be refused.
fn parser() -> clap::Command {
    let refused = REFUSED.iter().map(|(flag, _)| {
        let long = flag.trim_start_matches('-');
        clap::Arg::new(format!("refused:{long}"))
            .long(long)
            .global(true)
            .hide(true)
            .num_args(0..=1)
            .value_name("REFUSED")
    });
    Cli::command().args(refused).mut_subcommand("add", with_field_hints)
}

/// `add`'s flags take their help from the engine's field table (the window's hints too), so
/// the command line and the window explain an input in the same words.
fn with_field_hints(add: clap::Command) -> clap::Command {
    let hinted: Vec<(String, &'static str)> = tokenkeeper_engine::fields::TABLE
        .iter()
        .filter_map(|row| {
            let long = row.flag.strip_prefix("--")?;
            let arg = add.get_arguments().find(|a| a.get_long() == Some(long))?;
            Some((arg.get_id().to_string(), row.hint))
        })
        .collect();
    hinted.into_iter().fold(add, |add, (id, hint)| add.mut_arg(id, |a| a.help(hint)))
}

/// The refusal message for a flag of [`REFUSED`] that was given.
fn refusal_in_matches(matches: &clap::ArgMatches) -> Option<&'static str> {
    REFUSED.iter().find_map(|(flag, message)| {
        let id = format!("refused:{}", flag.trim_start_matches('-'));
        let given = |m: &clap::ArgMatches| m.value_source(&id) == Some(clap::parser::ValueSource::CommandLine);
        let mut level = Some(matches);
        while let Some(m) = level {
            if given(m) {
                return Some(*message);
            }
            level = m.subcommand().map(|(_, sub)| sub);
        }
        None
    })
}

/// The refusal message for raw arguments that offer a secret, looked for when clap refuses the
/// line for another reason first (a missing flag, say): the secret flag is the more important
/// thing to explain. Arguments after `--` belong to another program and are not looked at.
pub fn refusal_in_raw(args: &[OsString]) -> Option<&'static str> {
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        for (flag, message) in REFUSED {
            if arg == *flag || arg.strip_prefix(flag).is_some_and(|rest| rest.starts_with('=')) {
                return Some(message);
            }
        }
    }
    None
}

/// Why the command line was not accepted.
#[derive(Debug)]
pub enum Rejected {
    /// clap's own answer: a usage error (exit 2), or `--help` / `--version` (exit 0).
    Clap(clap::Error),
    /// A secret was offered as an argument: this message says what to do instead (exit 2).
    Secret(&'static str),
}

/// Parses the command line; a secret offered as an argument is refused with a message that
/// explains what to do instead (and never repeats the value).
pub fn parse_from(args: Vec<OsString>) -> Result<Cli, Rejected> {
    use clap::error::ErrorKind;
    match parser().try_get_matches_from(&args) {
        Ok(matches) => match refusal_in_matches(&matches) {
            Some(message) => Err(Rejected::Secret(message)),
            None => Cli::from_arg_matches(&matches).map_err(Rejected::Clap),
        },
        Err(e) if e.exit_code() == 0 || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            Err(Rejected::Clap(e))
        }
        Err(e) => Err(refusal_in_raw(&args).map_or(Rejected::Clap(e), Rejected::Secret)),
    }
}

/// The provider ids of the engine's built-in profiles, with their names as help.
fn provider_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(
        tokenkeeper_engine::providers::built_in().into_iter().map(|p| PossibleValue::new(p.id).help(p.name)),
    )
}

/// `--expires 2026-06-30`.
fn parse_date(text: &str) -> Result<time::Date, String> {
    tokenkeeper_engine::calendar::parse_day(text)
}

/// The clap definition, for completions and the man page.
pub fn command() -> clap::Command {
    Cli::command()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(line: &[&str]) -> Result<Cli, clap::Error> {
        match parse_from(std::iter::once("tokenkeeper").chain(line.iter().copied()).map(OsString::from).collect()) {
            Ok(cli) => Ok(cli),
            Err(Rejected::Clap(e)) => Err(e),
            Err(Rejected::Secret(m)) => panic!("refused as a secret: {m}"),
        }
    }

    fn refused(line: &[&str]) -> &'static str {
        match parse_from(std::iter::once("tokenkeeper").chain(line.iter().copied()).map(OsString::from).collect()) {
            Err(Rejected::Secret(m)) => m,
            other => panic!("{line:?} not refused: {other:?}"),
        }
    }

    #[test]
    fn every_input_of_the_field_table_is_a_flag_of_add_with_its_hint() {
        let cmd = parser();
        let add = cmd.find_subcommand("add").unwrap();
        for row in tokenkeeper_engine::fields::TABLE.iter().filter(|r| r.flag.starts_with("--")) {
            let arg = add.get_arguments().find(|a| a.get_long() == row.flag.strip_prefix("--"));
            let arg = arg.unwrap_or_else(|| panic!("{} is in the field table but not a flag of add", row.flag));
            assert_eq!(arg.get_help().map(|h| h.to_string()).as_deref(), Some(row.hint), "{}", row.flag);
        }
    }

    #[test]
    fn add_from_a_profile_file_takes_only_a_new_name() {
        let cli = parse(&["add", "--from", "p.toml", "--name", "mine"]).unwrap();
        let Command::Add(add) = cli.command else { panic!() };
        assert_eq!(
            (add.from.as_deref(), add.new_name.as_deref()),
            (Some(std::path::Path::new("p.toml")), Some("mine"))
        );
        let Command::Add(add) = parse(&["add", "--from", "p.toml"]).unwrap().command else { panic!() };
        assert_eq!((add.name, add.provider), (None, None));
        for bad in [
            &["add", "--from", "p.toml", "--provider", "oauth2"][..],
            &["add", "x", "--from", "p.toml"],
            &["add", "--from", "p.toml", "--client-id", "c"],
        ] {
            assert_eq!(parse(bad).unwrap_err().kind(), ErrorKind::ArgumentConflict, "{bad:?}");
        }
        assert_eq!(
            parse(&["add", "--name", "x", "--provider", "oauth2"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(parse(&["add"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
        parser().debug_assert();
    }

    #[test]
    fn a_client_secret_on_the_command_line_is_refused_without_echoing_it() {
        for line in [
            &[
                "add",
                "demo",
                "--provider",
                "oauth2",
                "--issuer",
                "https://a.example",
                "--client-id",
                "c",
                "--client-secret",
                "hunter2",
            ][..],
            &[
                "add",
                "demo",
                "--provider",
                "oauth2",
                "--issuer",
                "https://a.example",
                "--client-id",
                "c",
                "--client-secret=hunter2",
            ],
            // clap would refuse this line anyway (no --client-id): the secret is still what is explained.
            &["add", "demo", "--provider", "oauth2", "--client-secret", "hunter2"],
            &["login", "demo", "--client-secret", "hunter2"],
        ] {
            let shown = refused(line);
            assert!(shown.contains("--client-secret-stdin"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn tokens_on_the_command_line_are_refused_too() {
        for line in [
            &["login", "jira", "--token", "hunter2"][..],
            &["login", "jira", "--api-token=hunter2"],
            &["token", "jira", "--password"],
        ] {
            let shown = refused(line);
            assert!(shown.contains("standard input"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn secret_looking_flags_for_the_executed_command_are_its_business() {
        let cli = parse(&["exec", "jira", "--", "tool", "--client-secret", "x"]).unwrap();
        let Command::Exec(exec) = cli.command else { panic!() };
        assert_eq!(exec.command, ["tool", "--client-secret", "x"].map(OsString::from));
        assert_eq!(exec.vars, [EnvVar { name: DEFAULT_ENV_VAR.into(), field: Field::Token }]);
        assert_eq!(refusal_in_raw(&["tokenkeeper", "exec", "j", "--", "t", "--token=x"].map(OsString::from)), None);
    }

    #[test]
    fn exec_takes_env_before_the_command() {
        let cli = parse(&["exec", "--env", "GH_TOKEN", "github", "--", "gh", "-R", "x"]).unwrap();
        let Command::Exec(exec) = cli.command else { panic!() };
        assert_eq!(exec.vars, [EnvVar { name: "GH_TOKEN".into(), field: Field::Token }]);
        assert_eq!(exec.name, "github");
        assert_eq!(exec.command, ["gh", "-R", "x"].map(OsString::from));
        assert_eq!(parse(&["exec", "github"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn exec_sets_several_variables_from_fields() {
        let cli = parse(&[
            "exec",
            "jira",
            "--env",
            "JIRA_USER=account",
            "--env",
            "JIRA_TOKEN=token",
            "--env",
            "T",
            "--",
            "x",
        ])
        .unwrap();
        let Command::Exec(exec) = cli.command else { panic!() };
        let var = |name: &str, field| EnvVar { name: name.into(), field };
        assert_eq!(
            exec.vars,
            [var("JIRA_USER", Field::Account), var("JIRA_TOKEN", Field::Token), var("T", Field::Token)]
        );
        for bad in ["X=password", "=token", "", "A=", "A=Token"] {
            let err = parse(&["exec", "jira", "--env", bad, "--", "x"]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn an_api_token_needs_a_probe_url() {
        let err = parse(&["add", "jira", "--provider", "api-token"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert_eq!(err.exit_code(), 2);
        assert!(err.render().to_string().contains("--probe-url"));

        let cli = parse(&[
            "add",
            "jira",
            "--provider",
            "api-token",
            "--probe-url",
            "https://acme.atlassian.net/rest/api/3/myself",
            "--username",
            "me@example.com",
            "--expires",
            "2026-06-30",
        ])
        .unwrap();
        let Command::Add(add) = cli.command else { panic!() };
        assert_eq!(add.probe_interval, DEFAULT_PROBE_INTERVAL_SECS);
        assert_eq!(add.expires, Some(time::macros::date!(2026 - 06 - 30)));
        assert_eq!(add.username.as_deref(), Some("me@example.com"));
    }

    #[test]
    fn oauth_needs_a_client_id_and_a_known_provider() {
        assert_eq!(
            parse(&["add", "g", "--provider", "oauth2", "--issuer", "https://a.example"]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["add", "g", "--provider", "nope", "--client-id", "c"]).unwrap_err().kind(),
            ErrorKind::InvalidValue
        );
        let cli = parse(&[
            "add",
            "g",
            "--provider",
            "oauth2",
            "--issuer",
            "https://a.example",
            "--client-id",
            "c",
            "--scope",
            "openid email",
            "--scope",
            "offline_access",
            "--client-secret-stdin",
            "--probe-interval",
            "60",
        ])
        .unwrap();
        let Command::Add(add) = cli.command else { panic!() };
        assert!(add.client_secret_stdin);
        assert_eq!(add.scopes, ["openid email", "offline_access"]);
        assert_eq!(add.probe_interval, 60);
    }

    #[test]
    fn bad_dates_and_intervals_are_usage_errors() {
        let base = ["add", "jira", "--provider", "api-token", "--probe-url", "https://a.example/me"];
        let with = |extra: &[&'static str]| parse(&[&base[..], extra].concat());
        assert_eq!(with(&["--expires", "30.06.2026"]).unwrap_err().exit_code(), 2);
        assert_eq!(with(&["--probe-interval", "0"]).unwrap_err().exit_code(), 2);
        assert_eq!(with(&["--probe-url", "not a url"]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn help_and_version_exit_zero() {
        for line in [&["--help"][..], &["--version"], &["add", "--help"], &["exec", "-h"]] {
            assert_eq!(parse(line).unwrap_err().exit_code(), 0, "{line:?}");
        }
    }

    #[test]
    fn every_command_explains_its_exit_codes_and_shows_examples() {
        let cmd = command();
        for sub in cmd.get_subcommands() {
            let after = sub.get_after_help().map(|s| s.to_string()).unwrap_or_default();
            assert!(after.contains("Exit codes:"), "{} has no exit codes", sub.get_name());
            assert!(after.contains("Examples:"), "{} has no examples", sub.get_name());
        }
    }

    #[test]
    fn login_from_response_excludes_no_browser() {
        assert!(parse(&["login", "h", "--from-response", "-", "--no-browser"]).is_err());
        let cli = parse(&["login", "h", "--from-response", "-"]).unwrap();
        let Command::Login(login) = cli.command else { panic!() };
        assert_eq!(login.from_response, Some(PathBuf::from("-")));
    }
}

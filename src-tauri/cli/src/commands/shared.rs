//! `tokenkeeper shared connect | status | disconnect`: this keeper's connection to a team vault.
//! The engine connects, checks and keeps the connection ([`tokenkeeper_engine::shared::space`],
//! the keeper's `shared_*` calls, through a running keeper when there is one, so it connects at
//! once); this module reads the flags and the credential from standard input, and prints.

use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::keeper::SharedStatus;
use tokenkeeper_engine::secret::{AppRoleSecretId, VaultToken};
use tokenkeeper_engine::shared::auth::Credential;
use tokenkeeper_engine::shared::space::ConnectRequest;

use super::print_out;
use crate::args::{SharedCommand, SharedConnectArgs};
use crate::failure::Failure;
use crate::input;

/// Exit code of `shared status` when the keeper is set up for a vault it cannot reach now.
const UNAVAILABLE: i32 = 4;

pub async fn run(backend: &Backend, command: SharedCommand) -> Result<(), Failure> {
    match command {
        SharedCommand::Connect(args) => connect(backend, args).await,
        SharedCommand::Status { json } => status(backend, json).await,
        SharedCommand::Disconnect => {
            let was = backend.shared_disconnect().await?;
            print_out(if was {
                "Disconnected from the team vault. The shared integrations stay there for the other keepers.\n"
            } else {
                "This keeper was not connected to a team vault.\n"
            })
        }
    }
}

async fn connect(backend: &Backend, args: SharedConnectArgs) -> Result<(), Failure> {
    let mut addresses = args.addresses;
    if addresses.is_empty() {
        addresses
            .extend(["BAO_ADDR", "VAULT_ADDR"].iter().find_map(|v| std::env::var(v).ok()).filter(|a| !a.is_empty()));
    }
    if addresses.is_empty() {
        return Err(Failure::usage("give the team vault's address with --address (or set BAO_ADDR)"));
    }
    // the keeper that connects may be a daemon started elsewhere: the file by its full path
    let ca_cert = match args.ca_cert {
        Some(file) => Some(
            std::path::absolute(&file)
                .map_err(|e| Failure::usage(format!("cannot use the certificate file {}: {e}", file.display())))?,
        ),
        None => None,
    };
    let credential = match args.role_id {
        Some(role_id) => Credential::AppRole {
            role_id,
            secret_id: AppRoleSecretId::new(input::secret_line("the AppRole secret id".into()).await?),
        },
        None => Credential::Token(VaultToken::new(input::secret_line("the vault token".into()).await?)),
    };
    let request = ConnectRequest { addresses, mount: Some(args.mount), path: Some(args.path), ca_cert, credential };
    let status = backend.shared_connect(request).await?;
    print_out(&format!(
        "Connected to the team vault at {} ({}). {}\n",
        status.address.as_deref().unwrap_or("?"),
        place(&status),
        count(status.integrations)
    ))
}

async fn status(backend: &Backend, json: bool) -> Result<(), Failure> {
    let status = backend.shared_status().await?;
    if json {
        let text = serde_json::to_string_pretty(&status).map_err(|e| Failure::other(e.to_string()))?;
        print_out(&format!("{text}\n"))?;
    } else {
        print_out(&words(&status))?;
    }
    if status.configured && !status.connected {
        return Err(Failure {
            code: UNAVAILABLE,
            message: status.error.unwrap_or_else(|| "the team vault cannot be reached right now".into()),
        });
    }
    Ok(())
}

fn place(status: &SharedStatus) -> String {
    format!("{}/{}", status.mount.as_deref().unwrap_or("?"), status.path.as_deref().unwrap_or("?"))
}

fn count(n: usize) -> String {
    match n {
        0 => "No shared integrations there yet.".into(),
        1 => "1 shared integration.".into(),
        n => format!("{n} shared integrations."),
    }
}

/// The status in words, one fact per line.
fn words(status: &SharedStatus) -> String {
    if !status.configured {
        return "Not connected to a team vault.\n".into();
    }
    let address = status.address.as_deref().unwrap_or("?");
    if !status.connected {
        let mut out = format!("Not connected to the team vault at {address} ({}) right now.\n", place(status));
        if let Some(error) = &status.error {
            out.push_str(&format!("{error}\n"));
        }
        return out;
    }
    let mut out =
        format!("Connected to the team vault at {address} ({}).\n{}\n", place(status), count(status.integrations));
    match status.credential_remaining_secs {
        None => out.push_str("Its access does not end.\n"),
        Some(secs) => {
            let renewed =
                if status.credential_renewable { ", renewed automatically" } else { "; connect again before then" };
            out.push_str(&format!("Its access lasts {}{renewed}.\n", duration(secs)));
        }
    }
    if let Some(error) = &status.error {
        out.push_str(&format!("Last problem: {error}\n"));
    }
    out
}

fn duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} seconds"),
        120..=7199 => format!("{} minutes", secs / 60),
        7200..=172_799 => format!("{} hours", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_in_words() {
        assert_eq!(words(&SharedStatus::default()), "Not connected to a team vault.\n");
        let connected = SharedStatus {
            configured: true,
            connected: true,
            address: Some("https://bao.example:8200".into()),
            mount: Some("secret".into()),
            path: Some("tokenkeeper/team".into()),
            credential_remaining_secs: Some(3 * 3600 + 5),
            credential_renewable: true,
            integrations: 2,
            ..SharedStatus::default()
        };
        assert_eq!(
            words(&connected),
            "Connected to the team vault at https://bao.example:8200 (secret/tokenkeeper/team).\n2 shared \
             integrations.\nIts access lasts 3 hours, renewed automatically.\n"
        );
        let down =
            SharedStatus { connected: false, error: Some("Token Keeper can no longer reach…".into()), ..connected };
        assert!(
            words(&down).starts_with("Not connected to the team vault at https://bao.example:8200"),
            "{}",
            words(&down)
        );
    }
}

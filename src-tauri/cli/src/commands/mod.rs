//! The commands: each turns its arguments into engine calls and the results into printed lines.
//! No token logic lives here — renewing, checking, locking and storing are the engine's.
//!
//! Commands that talk to a keeper get a [`Backend`] (a running keeper over its socket, or the
//! keeper opened directly) from `main`, which also calls `Backend::finish` afterwards so that
//! notifications decided in direct mode are delivered. `exec` is the one command that does not
//! finish here: it hands back an [`ExecPlan`] that `main` carries out after `finish`, because on
//! Unix the process is replaced by the command.

mod add;
mod change;
pub mod daemon;
pub mod docs;
pub mod exec;
mod login;
pub mod read;
mod shared;

use std::io::Write;

use tokenkeeper_engine::ipc::Backend;

use crate::args::Command;
use crate::failure::Failure;
use crate::words::Now;
pub use exec::ExecPlan;

/// What is left to do once the keeper is finished with.
pub enum Outcome {
    /// Nothing: exit 0.
    Done,
    /// Run a command with the token (and exit with its code).
    Exec(ExecPlan),
}

/// Runs one command that needs a keeper.
pub async fn dispatch(backend: &Backend, command: Command, now: Now) -> Result<Outcome, Failure> {
    // The engine says what is wrong; the command line adds the command that fixes it.
    let name = match &command {
        Command::Token { name } | Command::Refresh { name } | Command::Status { name, .. } => Some(name.clone()),
        Command::Exec(args) => Some(args.name.clone()),
        _ => None,
    };
    run(backend, command, now).await.map_err(|failure| match name {
        Some(name) => failure.with_hint_for(&name),
        None => failure,
    })
}

async fn run(backend: &Backend, command: Command, now: Now) -> Result<Outcome, Failure> {
    match command {
        Command::List { json } => read::list(backend, json, now).await?,
        Command::Status { name, json } => read::status(backend, &name, json, now).await?,
        Command::Token { name } => read::token(backend, &name).await?,
        Command::Exec(args) => return exec::prepare(backend, args).await.map(Outcome::Exec),
        Command::Refresh { name } => change::refresh(backend, &name, now).await?,
        Command::Pause { name } => change::pause(backend, &name, true, now).await?,
        Command::Resume { name } => change::pause(backend, &name, false, now).await?,
        Command::Remove { name, revoke } => change::remove(backend, &name, revoke).await?,
        Command::Add(args) => add::add(backend, args).await?,
        Command::Login(args) => login::login(backend, args, now).await?,
        Command::Shared(command) => shared::run(backend, command).await?,
        Command::Daemon | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("main runs these without a keeper")
        }
    }
    Ok(Outcome::Done)
}

/// Writes `text` to standard output and flushes it. A closed pipe (`tokenkeeper list | head`)
/// is an error for us to report, not a panic.
pub fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("could not write to standard output: {e}")))
}

/// A line on standard error (messages for people; never a secret).
pub fn say(line: &str) {
    eprintln!("{line}");
}

/// A warning on standard error.
pub fn warn(message: &str) {
    eprintln!("tokenkeeper: warning: {message}");
}

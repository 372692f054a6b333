//! `tokenkeeper-full`: the command-line shell of Token Keeper — valid tokens for scripts, and the
//! headless keeper daemon. Scripts call `tokenkeeper`, a small front door (`front.rs`) that
//! answers `token NAME` from a running keeper and `exec`s this program for everything else, with
//! the same arguments (and `argv[0]`), so this program still says `tokenkeeper` everywhere.
//!
//! A thin shell: parse the arguments ([`args`]), translate them into engine calls
//! ([`commands`]), print the results ([`text`], [`json`], [`words`]) and exit with the code of
//! the contract ([`failure`]): 0 ok · 2 usage or bad input · 3 needs sign-in · 4 temporarily
//! unavailable · 1 anything else. All token logic is in `tokenkeeper-engine`.
//!
//! This file owns the process's life: the local UTC offset is read before any thread starts
//! (required by the `time` crate on Unix), logging is set up, the tokio runtime is built, a
//! keeper is reached (`Backend::connect_or_open`) for the commands that need one and finished
//! before exit, so notifications decided in direct mode are delivered. Errors end as one line
//! `tokenkeeper: <message>` on standard error.
//!
//! Memory is allocated through a zeroizing wrapper of the system allocator: the secret newtypes
//! wipe themselves, but the HTTP client, the JSON parsers and the keychain's D-Bus messages make
//! copies of tokens in ordinary buffers; wiped when freed, a token the keeper has let go of (a
//! rotated-away refresh token, a removed client secret) does not linger in the process.

mod args;
mod commands;
mod failure;
mod input;
mod json;
mod shell;
mod text;
mod token_out;
mod words;

use std::process::ExitCode;
use std::time::Duration;

use tokenkeeper_engine::ipc::Backend;

use crate::args::{Command, Rejected};
use crate::commands::Outcome;
use crate::failure::Failure;
use crate::words::Now;

#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

/// Exit code after Ctrl-C: what a shell reports for a process ended by SIGINT.
const INTERRUPTED: i32 = 130;

fn main() -> ExitCode {
    // Before any token is in memory: no ptrace, /proc/PID/mem or core dump of this process.
    tokenkeeper_engine::process::harden();
    // `token NAME` with a running keeper was answered by the front door (`front.rs`) already.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match args::parse_from(args) {
        Ok(cli) => cli,
        Err(Rejected::Clap(e)) => e.exit(),
        Err(Rejected::Secret(message)) => return fail(&Failure::usage(message)),
    };
    // Before any thread exists: the `time` crate will not read the local offset later on Unix.
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    init_logging(matches!(cli.command, Command::Daemon));

    // The daemon serves many clients at once; every other command is one short conversation, and
    // a single-threaded runtime starts faster (`token` is called by scripts in loops).
    let builder = match cli.command {
        Command::Daemon => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Failure::other(format!("could not start: {e}"))),
    };
    let result = runtime.block_on(run(cli.command, offset));
    // A blocking read of standard input may still be running after an error: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(code) => exit_code(code),
        Err(failure) => fail(&failure),
    }
}

/// Runs one command; the number is the exit code on success (a program run by `exec` may
/// have its own). Ctrl-C stops the command where it is (a sign-in waiting for the browser is
/// abandoned), puts the terminal back, and still lets the keeper finish (exit 130).
async fn run(command: Command, offset: time::UtcOffset) -> Result<i32, Failure> {
    match command {
        Command::Daemon => return commands::daemon::run().await.map(|()| 0),
        Command::Completions { shell } => return commands::docs::completions(shell).map(|()| 0),
        Command::Man { command } => return commands::docs::man(command.as_deref()).map(|()| 0),
        _ => {}
    }
    let backend = Backend::connect_or_open()
        .await
        .map_err(|e| Failure::from(e).outside_session(std::env::var_os("XDG_RUNTIME_DIR").is_some(), current_uid()))?;
    let outcome = tokio::select! {
        outcome = commands::dispatch(&backend, command, Now::system(offset)) => outcome,
        _ = tokio::signal::ctrl_c() => {
            input::restore_terminal();
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(); // the cursor may be after "^C" or a prompt
            }
            Err(Failure { code: INTERRUPTED, message: "interrupted".into() })
        }
    };
    backend.finish().await;
    match outcome? {
        Outcome::Done => Ok(0),
        Outcome::Exec(plan) => commands::exec::run(plan),
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// Prints a failure as one plain line and gives its exit code.
fn fail(failure: &Failure) -> ExitCode {
    exit_code(failure.report())
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Logs to standard error. The daemon logs what it does ("info" unless `RUST_LOG` says
/// otherwise); other commands show only the engine's warnings, without timestamps.
fn init_logging(daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(if daemon { "info" } else { "warn" }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if daemon {
        builder.init();
    } else {
        builder.without_time().with_target(false).init();
    }
}

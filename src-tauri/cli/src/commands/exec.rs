//! `tokenkeeper exec NAME [--env VAR[=FIELD]]… -- COMMAND [ARGS…]`: runs a program with a valid
//! token (and, if asked, the account it belongs to) in its environment (only in the child's:
//! never in ours, never on a command line).
//!
//! Two steps, so that `main` can deliver pending notifications in between: [`prepare`] gets the
//! token from the keeper, [`run`] starts the program. On Unix the program replaces this process
//! (`exec`), so the token does not stay in a waiting `tokenkeeper` and signals reach the program
//! directly; elsewhere the program is waited for and its exit code passed on.

use std::ffi::OsString;
use std::process::Command;

use tokenkeeper_engine::ipc::Backend;
use tokenkeeper_engine::secret::AccessToken;

use crate::args::{EnvVar, ExecArgs, Field};
use crate::failure::Failure;

/// Exit code when the program could not be found (as `env` and shells use).
pub const NOT_FOUND: i32 = 127;
/// Exit code when the program was found but could not be started.
pub const CANNOT_RUN: i32 = 126;

/// A program to run with a token.
pub struct ExecPlan {
    /// The variables to set, in the order given.
    pub vars: Vec<EnvVar>,
    pub token: AccessToken,
    /// Who the token belongs to, when a variable asked for it.
    pub account: Option<String>,
    pub program: OsString,
    pub args: Vec<OsString>,
}

impl std::fmt::Debug for ExecPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecPlan").field("vars", &self.vars).field("program", &self.program).finish_non_exhaustive()
    }
}

/// Checks the variables, then gets the token (and the account, if a variable asks for it).
pub async fn prepare(backend: &Backend, args: ExecArgs) -> Result<ExecPlan, Failure> {
    check_distinct(&args.vars)?;
    let mut command = args.command.into_iter();
    let program = command.next().ok_or_else(|| Failure::usage("give the command to run after `--`"))?;
    let token = backend.token(&args.name).await?;
    // after the token: a sign-in's account is known once its secrets have been read
    let account = match args.vars.iter().find(|v| v.field == Field::Account) {
        None => None,
        Some(var) => Some(backend.status(&args.name).await?.account.ok_or_else(|| {
            Failure::usage(format!(
                "{} has no account to put in {}: only an API token with a user name, or a sign-in whose \
                 service said who signed in, has one",
                args.name, var.name
            ))
        })?),
    };
    Ok(ExecPlan { vars: args.vars, token, account, program, args: command.collect() })
}

/// Each variable once: `--env A --env A=account` would silently drop one of them.
fn check_distinct(vars: &[EnvVar]) -> Result<(), Failure> {
    for (i, var) in vars.iter().enumerate() {
        if vars[..i].iter().any(|v| v.name == var.name) {
            return Err(Failure::usage(format!("--env {} is given twice", var.name)));
        }
    }
    Ok(())
}

/// Runs the program. On Unix this only returns if the program could not be started; otherwise
/// it returns the program's exit code (128 + the signal number if a signal ended it).
pub fn run(plan: ExecPlan) -> Result<i32, Failure> {
    let mut command = Command::new(&plan.program);
    command.args(&plan.args);
    for var in &plan.vars {
        let value = match var.field {
            Field::Token => plan.token.expose(),
            Field::Account => plan.account.as_deref().unwrap_or_default(),
        };
        command.env(&var.name, value);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        Err(cannot_start(&plan.program, &error))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(|e| cannot_start(&plan.program, &e))?;
        drop(command);
        drop(plan);
        Ok(exit_code(status))
    }
}

fn cannot_start(program: &OsString, error: &std::io::Error) -> Failure {
    let code = match error.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND,
        _ => CANNOT_RUN,
    };
    Failure { code, message: format!("could not run {}: {error}", program.to_string_lossy()) }
}

/// The exit code to pass on for a finished program.
#[cfg_attr(unix, allow(dead_code))]
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variable_is_given_once() {
        let var = |name: &str, field| EnvVar { name: name.into(), field };
        assert!(check_distinct(&[var("U", Field::Account), var("T", Field::Token)]).is_ok());
        assert_eq!(check_distinct(&[var("T", Field::Token), var("T", Field::Account)]).unwrap_err().code, 2);
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_and_signals_are_passed_on() {
        let status = |script: &str| Command::new("sh").args(["-c", script]).status().unwrap();
        assert_eq!(exit_code(status("exit 7")), 7);
        assert_eq!(exit_code(status("kill -TERM $$")), 128 + 15);
    }

    #[test]
    fn a_missing_program_is_127() {
        let err = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(cannot_start(&"nope".into(), &err).code, NOT_FOUND);
        let err = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(cannot_start(&"nope".into(), &err).code, CANNOT_RUN);
    }
}

//! Why a command failed, as the exit code and the one plain line a script's log shows.
//!
//! Every error a command can meet (engine errors, bad input found here, I/O on our own
//! standard streams) becomes a [`Failure`]; `main` prints it as `tokenkeeper: <message>` on
//! standard error and exits with its code. Codes are the `tokenkeeper` contract: 0 ok, 2 usage or
//! bad input, 3 needs sign-in, 4 temporarily unavailable, 1 anything else. Engine errors carry
//! their own code ([`KeeperError::exit_code`]); messages never hold a secret.

use tokenkeeper_engine::KeeperError;

/// Usage or bad input.
pub const USAGE: i32 = 2;
/// Anything else.
pub const OTHER: i32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// Bad input noticed by the command itself (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: USAGE, message: message.into() }
    }

    /// Anything else (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self { code: OTHER, message: message.into() }
    }

    /// Says it as one plain line on standard error (`tokenkeeper: <message>`) and gives its exit
    /// code: how both programs end on a failure.
    pub fn report(&self) -> i32 {
        eprintln!("tokenkeeper: {}", self.message.replace('\n', " "));
        self.code
    }
}

impl Failure {
    /// With the command that fixes it, when it is a sign-in the keeper must make (exit 3).
    pub fn with_hint_for(mut self, name: &str) -> Self {
        if self.code == NEEDS_SIGN_IN {
            let command = format!("tokenkeeper login {}", crate::shell::shell_word(name));
            self.message = format!("{} To sign in (or enter a new token): {command}", self.message.trim_end());
        }
        self
    }

    /// For a keeper that could neither be reached nor opened by a process outside any login
    /// session (a cron job, a timer: no `XDG_RUNTIME_DIR`): says where the running keeper was
    /// looked for and how to have one there. Other failures are left as they are.
    pub fn outside_session(self, runtime_dir_set: bool, uid: u32) -> Self {
        if runtime_dir_set || self.code != OTHER {
            return self;
        }
        Self {
            message: format!(
                "{} (this process runs outside a login session and no Token Keeper answers in \
                 /run/user/{uid}: for cron jobs and timers, run the keeper as a user service that starts \
                 at boot: `systemctl --user enable --now tokenkeeper` and `sudo loginctl enable-linger \
                 $USER`)",
                self.message
            ),
            ..self
        }
    }
}

/// The keeper must sign in (or enter a new API token).
pub const NEEDS_SIGN_IN: i32 = 3;

impl From<KeeperError> for Failure {
    fn from(e: KeeperError) -> Self {
        Self { code: e.exit_code(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_keep_their_exit_codes() {
        assert_eq!(Failure::from(KeeperError::NeedsSignIn("x".into())).code, 3);
        assert_eq!(Failure::from(KeeperError::Unavailable("x".into())).code, 4);
        assert_eq!(Failure::from(KeeperError::BadInput("x".into())).code, 2);
        assert_eq!(Failure::from(KeeperError::Failed("x".into())), Failure::other("x"));
        assert_eq!(Failure::from(KeeperError::KeychainLocked("x".into())).code, 1);
    }

    #[test]
    fn a_needed_sign_in_names_the_command_and_nothing_else_does() {
        let hinted = Failure::from(KeeperError::NeedsSignIn(
            "\"HighQ reporting\": HighQ no longer accepts this sign-in.".into(),
        ))
        .with_hint_for("HighQ reporting");
        assert_eq!(
            hinted.message,
            "\"HighQ reporting\": HighQ no longer accepts this sign-in. To sign in (or enter a new token): tokenkeeper \
             login 'HighQ reporting'"
        );
        assert_eq!(Failure::other("x").with_hint_for("a"), Failure::other("x"));
    }

    #[test]
    fn outside_a_session_the_failure_says_where_the_keeper_was_looked_for() {
        let failed = Failure::other("the system keychain is not available");
        let explained = failed.clone().outside_session(false, 1000);
        assert!(explained.message.starts_with("the system keychain is not available (this process runs outside"));
        assert!(explained.message.contains("/run/user/1000") && explained.message.contains("enable-linger"));
        assert_eq!(explained.code, OTHER);
        assert_eq!(failed.clone().outside_session(true, 1000), failed, "in a session: unchanged");
        let unknown = Failure::usage("there is no integration called \"x\"");
        assert_eq!(unknown.clone().outside_session(false, 1000), unknown, "not about reaching a keeper");
    }
}

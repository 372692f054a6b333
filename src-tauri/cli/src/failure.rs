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
}

impl Failure {
    /// With the command that fixes it, when it is a sign-in the keeper must make (exit 3).
    pub fn with_hint_for(mut self, name: &str) -> Self {
        if self.code == NEEDS_SIGN_IN {
            let command = format!("tokenkeeper login {}", crate::words::shell_word(name));
            self.message = format!("{} To sign in (or enter a new token): {command}", self.message.trim_end());
        }
        self
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
}

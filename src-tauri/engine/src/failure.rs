//! Why an integration is in its state, as data: a [`Failure`] class (never a sentence), a
//! [`Reason`] with the service's own words beside it for "Technical details", and the [`Todo`]
//! the keeper should do. The model, the history and the actions carry them; the sentences made
//! from them are [`crate::phrases`]'s, which is why these types live apart from the words.

use serde::{Deserialize, Serialize};

/// What went wrong, as a class: the sentence is made from it where it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "failure", rename_all = "kebab-case")]
pub enum Failure {
    /// Added, never signed in (or no API token entered yet).
    NotSignedIn,
    /// The service refused the sign-in (its renewal): revoked, expired, unused too long. The
    /// profile's plain explanation for the service's code, when it has one.
    SignInRefused { explained: Option<String> },
    /// The service refused the app registration the sign-in uses (its ID or secret, or what it
    /// is allowed to do): only whoever set it up can fix that.
    AppRefused { explained: Option<String> },
    /// The service refused the API token: revoked or expired.
    TokenRefused,
    /// The service refused the renewed connection too: only a new sign-in helps.
    RefusedAfterRenewal,
    /// The service answered with a sign-in page where it should have answered data.
    SignInPage,
    /// The service gave no way to renew the sign-in without the keeper.
    NoRenewal,
    /// The service is there but not answering (overloaded, down, too slow).
    NotAnswering,
    /// The service cannot be reached at all: no network, no VPN, a wrong address.
    Unreachable,
    /// The service answered something that cannot be read.
    BadAnswer,
    /// The service did not say which account signed in, so the connection cannot be checked.
    AccountUnknown,
    /// The keychain is locked (or did not answer in time).
    KeychainLocked,
    /// The keychain refused the new sign-in; it is kept in memory meanwhile.
    KeychainRefused,
    /// Something on this computer failed (a lock, a file).
    LocalProblem,
    /// The integration's settings file cannot be read.
    SettingsUnreadable,
    /// The team vault that holds a shared integration cannot be reached (down, sealed, the
    /// network), or it refused this keeper's credential: its tokens are there.
    VaultUnreachable,
    /// A shared integration's record in the team vault cannot be read (written by hand, or by
    /// another version): left as it is, for whoever looks after the vault.
    SharedRecordUnreadable,
    /// The team vault lets this keeper read a shared integration but not renew it: it uses what
    /// the other keepers renew.
    VaultReadOnly,
    /// An address of the integration is not secure (plain http to another computer): nothing
    /// was sent, and only whoever set it up can correct it.
    NotSecure,
}

impl Failure {
    /// The class as a stable kebab-case word (`token-refused`), for `--json` and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::NotSignedIn => "not-signed-in",
            Failure::SignInRefused { .. } => "sign-in-refused",
            Failure::AppRefused { .. } => "app-refused",
            Failure::TokenRefused => "token-refused",
            Failure::RefusedAfterRenewal => "refused-after-renewal",
            Failure::SignInPage => "sign-in-page",
            Failure::NoRenewal => "no-renewal",
            Failure::NotAnswering => "not-answering",
            Failure::Unreachable => "unreachable",
            Failure::BadAnswer => "bad-answer",
            Failure::AccountUnknown => "account-unknown",
            Failure::KeychainLocked => "keychain-locked",
            Failure::KeychainRefused => "keychain-refused",
            Failure::LocalProblem => "local-problem",
            Failure::SettingsUnreadable => "settings-unreadable",
            Failure::VaultUnreachable => "vault-unreachable",
            Failure::SharedRecordUnreadable => "shared-record-unreadable",
            Failure::VaultReadOnly => "vault-read-only",
            Failure::NotSecure => "not-secure",
        }
    }
}

/// A failure with the service's own words beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    #[serde(flatten)]
    pub failure: Failure,
    /// The codes and the service's words (`invalid_grant: …`, `HTTP 401`): for "Technical
    /// details", `--json` and logs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical: Option<String>,
}

impl Reason {
    pub fn new(failure: Failure, technical: impl Into<String>) -> Self {
        Reason { failure, technical: Some(technical.into()) }
    }

    pub fn plain(failure: Failure) -> Self {
        Reason { failure, technical: None }
    }

    /// The same, without anything in its technical words that looks like one of `sent`
    /// (see [`crate::text::without_secrets`]).
    pub fn without_secrets(mut self, sent: &[&str]) -> Self {
        self.technical = self.technical.map(|t| crate::text::without_secrets(&t, sent));
        self
    }

    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.failure,
            Failure::NotAnswering
                | Failure::Unreachable
                | Failure::BadAnswer
                | Failure::AccountUnknown
                | Failure::KeychainLocked
                | Failure::KeychainRefused
                | Failure::LocalProblem
                | Failure::VaultUnreachable
                | Failure::VaultReadOnly
        )
    }

    /// One line for logs: the class and the technical words.
    pub fn for_log(&self) -> String {
        let class = self.failure.class().to_string();
        match &self.technical {
            Some(t) => format!("{class}: {t}"),
            None => class,
        }
    }
}

/// What the keeper should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Todo {
    /// Sign in for the first time.
    SignIn,
    /// Sign in again.
    SignInAgain,
    /// Sign in again before the sign-in ends.
    SignInAgainSoon,
    /// Create a new API token at the service and enter it.
    EnterNewToken,
    /// Create a new API token before the current one ends.
    EnterNewTokenSoon,
    /// Enter the API token for the first time.
    EnterToken,
    /// Whoever set up the app registration must fix it; then sign in again.
    AskAdministrator,
    /// Check the internet connection or VPN; Token Keeper keeps trying.
    CheckNetwork,
    /// Unlock the keychain; Token Keeper keeps trying.
    UnlockKeychain,
    /// Nothing: Token Keeper keeps trying by itself.
    Wait,
    /// Resume it.
    Resume,
    /// Remove it and add it again (its file is damaged).
    AddAgain,
    /// Whoever looks after the team vault must repair its record there.
    AskVaultKeeper,
}

//! What can go wrong with the team vault, once: a small kind the keeper acts on, a sentence a
//! person can read, and the technical detail kept apart (for "Technical details", `--json` and
//! logs).
//!
//! Every call of this module ends in `Ok` or in a [`VaultError`]; nothing else leaves it. The
//! sentence never holds a protocol word, an HTTP status or a secret; the detail holds the status
//! and OpenBao's own error strings (which never echo a token).

use std::fmt;

/// What kind of failure, by what the keeper should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultErrorKind {
    /// No address answered (refused, name unknown, TLS failure, timeout): try again later.
    Unreachable,
    /// Every node that answered is sealed (locked): try again later; its administrator must act.
    Sealed,
    /// Nodes answered but none could serve (standby without a leader, overloaded, 5xx).
    Unavailable,
    /// The credential no longer works (expired, revoked, AppRole refused): connect again.
    AccessEnded,
    /// The vault's rules do not let this connection use `path`.
    Denied { path: String },
    /// The storage area (KV mount) does not exist.
    MountMissing { mount: String },
    /// The storage area exists but is not a KV version 2 engine (no versions, so no `cas`).
    NotKv2 { mount: String },
    /// A record is not what a keeper writes (edited by hand, another program); left as it is.
    Damaged { path: String },
    /// A check-and-set write lost: someone else wrote `path` first.
    Conflict { path: String },
    /// The address is not https:// (plain http only to this computer) or cannot be used.
    BadAddress { address: String },
    /// An answer that makes no sense (not JSON, too large, an unexpected shape).
    BadAnswer,
    /// A name that cannot be a place in the vault (empty, `..`, a `/` inside).
    BadName { name: String },
    /// The certificate file given to trust the vault (`--ca-cert`) holds no usable certificate.
    BadCertificate,
    /// Something answers at the address, but it is not an OpenBao or Vault server.
    NotAVault { address: String },
}

/// A failure, with its technical detail kept out of the sentence.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultError {
    kind: VaultErrorKind,
    detail: String,
}

impl VaultError {
    pub fn new(kind: VaultErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }

    pub fn kind(&self) -> &VaultErrorKind {
        &self.kind
    }

    /// The technical detail: HTTP status, OpenBao's error strings, the address.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Whether trying the same thing again later may work without a person.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, VaultErrorKind::Unreachable | VaultErrorKind::Sealed | VaultErrorKind::Unavailable)
    }

    /// The sentence a keeper reads: what happened and what to do, in plain words.
    pub fn sentence(&self) -> String {
        const LOST: &str = "Token Keeper can no longer reach the team vault";
        match &self.kind {
            VaultErrorKind::Unreachable => {
                format!("{LOST}: none of its addresses answered. It will keep trying; check the network or the address.")
            }
            VaultErrorKind::Sealed => format!(
                "{LOST}: the vault is locked (sealed). Its administrator must unlock it; Token Keeper will keep trying."
            ),
            VaultErrorKind::Unavailable => {
                format!("{LOST}: the vault is not ready to answer right now. Token Keeper will keep trying.")
            }
            VaultErrorKind::AccessEnded => format!(
                "{LOST}: its access has ended (it expired or was withdrawn). Connect again with the new access \
                 whoever looks after the team vault gives you."
            ),
            VaultErrorKind::Denied { path } => format!(
                "The team vault does not allow Token Keeper to use \"{path}\". Ask the vault's administrator for access."
            ),
            VaultErrorKind::MountMissing { mount } => format!(
                "The team vault has no storage area called \"{mount}\" (or does not let Token Keeper see it). \
                 Check the name given when connecting."
            ),
            VaultErrorKind::NotKv2 { mount } => format!(
                "The storage area \"{mount}\" in the team vault does not keep versions of what it stores, which Token \
                 Keeper needs to share safely. Use a storage area of version 2."
            ),
            VaultErrorKind::Damaged { path } => format!(
                "The shared record \"{path}\" in the team vault is damaged or was not written by Token Keeper; it was \
                 left as it is. Remove or repair it in the vault."
            ),
            VaultErrorKind::Conflict { path } => {
                format!("Someone else renewed \"{path}\" first; Token Keeper will use their result.")
            }
            VaultErrorKind::BadAddress { address } => format!(
                "The team vault's address {address} cannot be used: it must start with https:// (plain http only to \
                 this computer, written 127.0.0.1)."
            ),
            VaultErrorKind::BadAnswer => {
                format!("{LOST}: it sent an answer Token Keeper cannot read. Token Keeper will keep trying.")
            }
            VaultErrorKind::BadCertificate => "The certificate file given for the team vault cannot be used: it \
                                               holds no certificate. Give the file its administrator provides."
                .to_string(),
            VaultErrorKind::NotAVault { address } => format!(
                "The address {address} does not lead to a team vault (OpenBao or Vault): something else answers \
                 there. Check the address."
            ),
            VaultErrorKind::BadName { name } => {
                format!("\"{name}\" cannot be used as a name in the team vault. Choose another name.")
            }
        }
    }
}

impl VaultError {
    /// The sentence when a person is connecting for the first time: nothing was kept, so nothing
    /// "keeps trying" and nothing was "lost"; they check what they gave and try again.
    pub fn sentence_when_connecting(&self) -> String {
        const NOT: &str = "Token Keeper could not connect to the team vault";
        match &self.kind {
            VaultErrorKind::Unreachable => {
                format!("{NOT}: none of its addresses answered. Check the address and the network, then try again.")
            }
            VaultErrorKind::Sealed => {
                format!("{NOT}: the vault is locked (sealed). Ask its administrator to unlock it, then try again.")
            }
            VaultErrorKind::Unavailable => {
                format!("{NOT}: the vault is not ready to answer right now. Try again later.")
            }
            VaultErrorKind::AccessEnded => format!(
                "{NOT}: it did not accept the credential given (it may be mistyped, expired or withdrawn). Check it, \
                 then try again."
            ),
            VaultErrorKind::BadAnswer => {
                format!("{NOT}: it sent an answer Token Keeper cannot read. Check the address, then try again.")
            }
            _ => self.sentence(),
        }
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

impl fmt::Debug for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultError({:?}: {})", self.kind, self.detail)
    }
}

impl std::error::Error for VaultError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_carry_no_protocol_words_and_details_stay_apart() {
        let kinds = [
            VaultErrorKind::Unreachable,
            VaultErrorKind::Sealed,
            VaultErrorKind::Unavailable,
            VaultErrorKind::AccessEnded,
            VaultErrorKind::Denied { path: "shared/team-b/jira".into() },
            VaultErrorKind::MountMissing { mount: "nosuch".into() },
            VaultErrorKind::NotKv2 { mount: "kv1".into() },
            VaultErrorKind::Damaged { path: "shared/team/jira".into() },
            VaultErrorKind::Conflict { path: "shared/team/jira".into() },
            VaultErrorKind::BadAddress { address: "http://example.com".into() },
            VaultErrorKind::BadAnswer,
            VaultErrorKind::BadName { name: "../x".into() },
            VaultErrorKind::BadCertificate,
            VaultErrorKind::NotAVault { address: "https://intranet.example".into() },
        ];
        for kind in kinds {
            let e = VaultError::new(kind, "HTTP 403: permission denied");
            let s = e.sentence();
            for word in ["HTTP", "403", "cas", "token", "KV", "permission denied", "endpoint"] {
                assert!(!s.contains(word), "{word:?} in {s:?}");
            }
            assert_eq!(e.to_string(), s);
            let first = e.sentence_when_connecting();
            for word in
                ["HTTP", "403", "cas", "token", "KV", "permission denied", "endpoint", "keep trying", "no longer"]
            {
                assert!(!first.contains(word), "{word:?} in {first:?}");
            }
            assert!(format!("{e:?}").contains("HTTP 403"));
        }
    }
}

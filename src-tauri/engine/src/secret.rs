//! Secret newtypes: the only types that hold token material.
//!
//! Each wraps a [`secrecy::SecretString`], so the memory is zeroized on drop, and prints
//! `[redacted]` under `Debug` (as oauth2-rs does) so a secret cannot reach a log or an error
//! message by accident. Reading the value takes an explicit `expose()`, which makes every place
//! that hands a secret to the outside world easy to find with grep.
//!
//! They serialise as plain strings for one reader: the messages of the local socket
//! ([`crate::ipc`]), so a request or an answer holds the newtype and its `Debug` cannot print the
//! value. No file the keeper writes holds a secret type (the keychain document is built by hand
//! in `store::keychain`, in zeroizing buffers).

use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value; the `String` is moved in, so no unzeroized copy is left behind.
            pub fn new(value: String) -> Self {
                Self(SecretString::from(value))
            }
            /// The secret itself, for the one place that must send or store it.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.expose())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.expose() == other.expose()
            }
        }
        impl Eq for $name {}
    };
}

secret_type!(
    /// An OAuth access token, or the token handed to scripts.
    AccessToken
);
secret_type!(
    /// An OAuth refresh token: often the only way back in without the user; never dropped unsaved.
    RefreshToken
);
secret_type!(
    /// A confidential client's secret.
    ClientSecret
);
secret_type!(
    /// A static API token (e.g. an Atlassian API token).
    ApiToken
);
secret_type!(
    /// A provider's token response handed over as text (`login --from-response`): it holds tokens.
    TokenResponseText
);
secret_type!(
    /// The team vault's (OpenBao's) own credential: a token that opens the shared space.
    VaultToken
);
secret_type!(
    /// An AppRole secret ID: the password half of a server's OpenBao login.
    AppRoleSecretId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let t = RefreshToken::new("very-secret-value".into());
        let shown = format!("{t:?} {:?}", Some(AccessToken::new("abc123".into())));
        assert!(!shown.contains("very-secret-value"));
        assert!(!shown.contains("abc123"));
        assert!(shown.contains("[redacted]"));
        assert_eq!(t.expose(), "very-secret-value");
    }

    #[test]
    fn serde_carries_the_value_as_a_plain_string() {
        let t = ApiToken::new("tok-1".into());
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"tok-1\"");
        let back: ApiToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}

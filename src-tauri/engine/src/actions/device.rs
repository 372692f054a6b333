//! Device sign-in: the OAuth device authorization grant (RFC 8628), for machines where a
//! loopback redirect cannot work (a server over SSH, a container): the keeper is shown a short
//! code and an address, confirms the code in a browser on any device, and this side polls the
//! token endpoint until the service hands out tokens.
//!
//! oauth2-rs makes the requests and runs the poll loop: it keeps the service's `interval`,
//! keeps polling on `authorization_pending`, adds 5 seconds on `slow_down`, and backs off on
//! transport errors. Its HTTP client is ours ([`TokenHttp`]), so answers are bounded and
//! normalized. oauth2-rs does not insist on https:// for these endpoints (only its revocation
//! does); we refuse plain http to any host but this computer ourselves, as everywhere else.

use std::time::Duration;

use oauth2::basic::BasicErrorResponseType;
use oauth2::{
    DeviceAuthorizationUrl, DeviceCodeErrorResponseType, RequestTokenError, Scope, StandardDeviceAuthorizationResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::oauth::{client, Grant};
use super::refresh::{classify, RefreshOutcome};
use crate::model::OauthConfig;
use crate::phrases::{Failure, Reason};
use crate::providers::wire::{host_of, TokenHttp};
use crate::providers::Wire;
use crate::secret::ClientSecret;
use crate::setup::secure_or_loopback;

/// The longest a device sign-in waits for the keeper, whatever the service allows.
pub const DEVICE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What the keeper needs to confirm a device sign-in (no secret: the device code stays here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCode {
    /// The short code to type at the verification address.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: Url,
    /// The address with the code already in it, when the service gives one.
    pub verification_uri_complete: Option<Url>,
    /// How long the code stays valid, in seconds.
    pub expires_in_secs: u64,
}

impl DeviceCode {
    /// The address to open: with the code in it when there is one.
    pub fn url(&self) -> &Url {
        self.verification_uri_complete.as_ref().unwrap_or(&self.verification_uri)
    }
}

/// What a device sign-in came to.
#[derive(Debug, Clone)]
pub enum DeviceOutcome {
    /// The keeper confirmed the code; new tokens (not yet stored).
    SignedIn(Grant),
    /// Nobody confirmed the code before it expired (`expired_token`, or our own time limit).
    Expired,
    /// The keeper refused at the service (`access_denied`).
    Denied { reason: Reason },
    /// The service refused the request (client not allowed the device flow, bad scope, …).
    Refused { reason: Reason },
    /// The service could not be reached or sent something unusable.
    Failed { reason: Reason },
}

/// A device sign-in waiting for the keeper to confirm the code.
pub struct PendingDevice {
    /// What to show the keeper.
    pub code: DeviceCode,
    details: StandardDeviceAuthorizationResponse,
}

/// Asks the service's device authorization endpoint for a code.
pub async fn start(
    http: &reqwest::Client,
    config: &OauthConfig,
    device_url: &Url,
    wire: &Wire,
    secret: Option<&ClientSecret>,
) -> Result<PendingDevice, DeviceOutcome> {
    if !secure_or_loopback(device_url) {
        return Err(DeviceOutcome::Refused {
            reason: Reason::new(
                Failure::AppRefused { explained: None },
                format!("the device sign-in address {} is not secure (https)", host_of(device_url.as_str())),
            ),
        });
    }
    let client =
        client(config, secret, wire).set_device_authorization_url(DeviceAuthorizationUrl::from_url(device_url.clone()));
    let send = TokenHttp { client: http, wire };
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(config.scopes.iter().cloned().map(Scope::new))
        .request_async(&send)
        .await
        .map_err(|e| match classify(e, wire) {
            RefreshOutcome::PermanentError { reason } => DeviceOutcome::Refused { reason },
            RefreshOutcome::TransientError { reason, .. } => DeviceOutcome::Failed { reason },
            RefreshOutcome::Refreshed(_) => {
                DeviceOutcome::Failed { reason: Reason::new(Failure::BadAnswer, "unexpected tokens") }
            }
        })?;
    let verification_uri = details.verification_uri().url().clone();
    let verification_uri_complete = details.verification_uri_complete().and_then(|u| Url::parse(u.secret()).ok());
    let code = DeviceCode {
        user_code: details.user_code().secret().clone(),
        verification_uri,
        verification_uri_complete,
        expires_in_secs: details.expires_in().as_secs(),
    };
    Ok(PendingDevice { code, details })
}

impl PendingDevice {
    /// Polls the token endpoint until the keeper confirms or refuses, or the code expires
    /// (at most `timeout`).
    pub async fn finish(
        self,
        http: &reqwest::Client,
        config: &OauthConfig,
        wire: &Wire,
        secret: Option<&ClientSecret>,
        timeout: Duration,
    ) -> DeviceOutcome {
        let client = client(config, secret, wire);
        let send = TokenHttp { client: http, wire };
        let timeout = self.details.expires_in().min(timeout);
        let answer = client
            .exchange_device_access_token(&self.details)
            .request_async(&send, tokio::time::sleep, Some(timeout))
            .await;
        match answer {
            Ok(answer) => DeviceOutcome::SignedIn(Grant::from_answer(&answer)),
            Err(RequestTokenError::ServerResponse(response)) => {
                let code = response.error().as_ref().to_string();
                let reason = wire.refusal(&code, response.error_description().map(String::as_str));
                match response.error() {
                    DeviceCodeErrorResponseType::ExpiredToken => DeviceOutcome::Expired,
                    DeviceCodeErrorResponseType::AccessDenied => DeviceOutcome::Denied { reason },
                    DeviceCodeErrorResponseType::Basic(BasicErrorResponseType::Extension(_)) => {
                        DeviceOutcome::Failed { reason: Reason { failure: Failure::NotAnswering, ..reason } }
                    }
                    _ => DeviceOutcome::Refused { reason },
                }
            }
            Err(RequestTokenError::Request(e)) => DeviceOutcome::Failed { reason: e.reason() },
            Err(RequestTokenError::Parse(e, _)) => DeviceOutcome::Failed {
                reason: Reason::new(Failure::BadAnswer, format!("not a valid token response (at {})", e.path())),
            },
            Err(RequestTokenError::Other(_)) => {
                DeviceOutcome::Failed { reason: Reason::new(Failure::BadAnswer, "an unexpected answer") }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_complete_address_is_preferred() {
        let mut code = DeviceCode {
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://id.example/device".parse().unwrap(),
            verification_uri_complete: None,
            expires_in_secs: 600,
        };
        assert_eq!(code.url().as_str(), "https://id.example/device");
        code.verification_uri_complete = Some("https://id.example/device?user_code=ABCD-EFGH".parse().unwrap());
        assert_eq!(code.url().as_str(), "https://id.example/device?user_code=ABCD-EFGH");
    }

    #[tokio::test]
    async fn plain_http_to_another_host_is_refused_before_any_request() {
        let config = OauthConfig::example("https://id.example/t");
        let url: Url = "http://id.example/device".parse().unwrap();
        let outcome = start(&reqwest::Client::new(), &config, &url, &Wire::default(), None).await;
        assert!(
            matches!(outcome, Err(DeviceOutcome::Refused { reason }) if reason.technical.as_deref().unwrap_or_default().contains("not secure"))
        );
    }
}

//! Adding, pausing and removing integrations (a removal can revoke the grant at the provider
//! first).

use super::{Keeper, KeeperError, Slot};
use crate::actions::revoke::{revoke, TokenKind};
use crate::history::HistoryEvent;
use crate::model::{validate_name, IntegrationConfig, IntegrationKind, IntegrationView, OauthConfig, Secrets};
use crate::providers::{self, Profile, ProfileKind};
use crate::record::Record;
use crate::secret::ClientSecret;
use crate::store::integrations;

impl Keeper {
    /// Pauses (nothing refreshed or checked) or resumes an integration.
    pub fn pause(&self, name: &str, paused: bool) -> Result<IntegrationView, KeeperError> {
        self.commit(name, |slot, now| slot.paused(paused, now)).ok_or_else(|| KeeperError::unknown(name))
    }

    /// Adds an integration (not yet signed in). The client secret goes to the keychain first;
    /// if that fails nothing is written.
    pub async fn add(
        &self,
        config: IntegrationConfig,
        client_secret: Option<ClientSecret>,
    ) -> Result<IntegrationView, KeeperError> {
        let profile = self.check_new(&config)?;
        let name = config.name.clone();
        if let Some(secret) = client_secret {
            let secrets = Secrets { client_secret: Some(secret), ..Secrets::default() };
            self.keychain_save(&name, &secrets).await?;
        }
        integrations::save(&self.inner.paths, &config)?;
        let mut record = Record::default();
        record.notices.problem = Some(crate::alerts::Problem::NeedsSignIn); // "not signed in yet" is no alarm
        record.history.push(self.inner.clock.now(), HistoryEvent::Added);
        self.lock().slots.insert(name.clone(), Slot::new(config, profile, record));
        self.commit(&name, |_, _| {}).ok_or_else(|| KeeperError::unknown(&name))
    }

    /// What every new integration must be, here or shared: a valid name not taken, a known
    /// provider of its kind. Returns the provider's profile.
    pub(super) fn check_new(&self, config: &IntegrationConfig) -> Result<Profile, KeeperError> {
        validate_name(&config.name).map_err(KeeperError::BadInput)?;
        let name = config.name.clone();
        let profile = providers::find(&config.provider)
            .ok_or_else(|| KeeperError::BadInput(format!("there is no provider called \"{}\"", config.provider)))?;
        let kind_matches = matches!(
            (&config.kind, profile.kind),
            (IntegrationKind::Oauth(_), ProfileKind::Oauth) | (IntegrationKind::ApiToken(_), ProfileKind::ApiToken)
        );
        if !kind_matches {
            return Err(KeeperError::BadInput(format!(
                "the provider \"{}\" is not for this kind of integration",
                config.provider
            )));
        }
        let taken = {
            let shared = self.lock();
            shared.slots.contains_key(&name) || shared.unreadable.contains_key(&name)
        };
        if taken || self.inner.paths.integration_config(&name).exists() {
            return Err(KeeperError::BadInput(format!("there is already an integration called \"{name}\"")));
        }
        Ok(profile)
    }

    /// Removes an integration: revokes its refresh token at the service first when asked (and
    /// stops if that fails, so nothing is lost), then deletes its secrets and files.
    pub async fn remove(&self, name: &str, revoke: bool) -> Result<(), KeeperError> {
        if self.lock().unreadable.contains_key(name) {
            return self.remove_unreadable(name).await;
        }
        let (config, profile) = self.config_of(name)?;
        if revoke {
            self.revoke(name, &config, &profile).await?;
        }
        let shared = self.is_shared(name);
        let mut exclusive = self.exclusive(name).await?;
        self.keychain_delete(name).await?;
        exclusive.removed();
        if !shared {
            integrations::remove(&self.inner.paths, name)
                .map_err(|e| KeeperError::Failed(format!("could not remove the files of \"{name}\": {e}")))?;
        }
        {
            let mut shared = self.lock();
            shared.slots.remove(name);
            shared.queue.cancel(name);
        }
        let _ = std::fs::remove_file(self.inner.paths.lock_file(name));
        let _ = self.inner.events.send(super::Event::Removed { name: name.to_string() });
        Ok(())
    }

    /// Removes an integration whose files cannot be read: its keychain item and its files (the
    /// keeper asked for it, knowing they are damaged), so that it can be added again.
    async fn remove_unreadable(&self, name: &str) -> Result<(), KeeperError> {
        validate_name(name).map_err(KeeperError::BadInput)?;
        if self.lock().unreadable.get(name).is_some_and(|v| v.shared) {
            // it may be another version's record, in use by other keepers: never deleted from here
            return Err(KeeperError::BadInput(format!(
                "\"{name}\" is kept in the team vault, where its record cannot be read; it was left as it is. \
                 Ask whoever looks after the team vault to repair or remove it there."
            )));
        }
        let _file = crate::lock::acquire(self.inner.paths.lock_file(name))
            .await
            .map_err(|e| KeeperError::Failed(format!("could not take the lock of \"{name}\": {e}")))?;
        self.keychain_delete(name).await?;
        integrations::remove(&self.inner.paths, name)
            .map_err(|e| KeeperError::Failed(format!("could not remove the files of \"{name}\": {e}")))?;
        self.lock().unreadable.remove(name);
        let _ = self.inner.events.send(super::Event::Removed { name: name.to_string() });
        Ok(())
    }

    async fn revoke(&self, name: &str, config: &IntegrationConfig, profile: &Profile) -> Result<(), KeeperError> {
        let IntegrationKind::Oauth(oauth) = &config.kind else { return Ok(()) };
        if oauth.revocation_url.is_none() {
            return Err(KeeperError::BadInput(format!(
                "the service of \"{name}\" offers no way to revoke; remove it without --revoke"
            )));
        }
        let Some(url) = oauth.revocation_url.clone() else { return Ok(()) };
        let secrets = self.secrets(name).await?;
        let (token, kind) = match (&secrets.refresh_token, &secrets.access_token) {
            (Some(r), _) => (r.expose().to_string(), TokenKind::Refresh),
            (None, Some(a)) => (a.expose().to_string(), TokenKind::Access),
            (None, None) => return Ok(()),
        };
        revoke(&self.inner.http, oauth, &url, &profile.wire, secrets.client_secret.as_ref(), &token, kind)
            .await
            .map_err(|e| {
                KeeperError::Unavailable(format!(
                    "could not revoke \"{name}\" at the service ({e}); nothing was removed"
                ))
            })
    }

    pub(super) fn config_of(&self, name: &str) -> Result<(IntegrationConfig, Profile), KeeperError> {
        let shared = self.lock();
        let slot = shared.slots.get(name).ok_or_else(|| KeeperError::unknown(name))?;
        Ok((slot.config.clone(), slot.profile.clone()))
    }

    pub(super) fn oauth_of(&self, name: &str) -> Result<(OauthConfig, Profile), KeeperError> {
        match self.config_of(name)? {
            (IntegrationConfig { kind: IntegrationKind::Oauth(o), .. }, p) => Ok((o, p)),
            _ => Err(KeeperError::BadInput(format!("\"{name}\" uses an API token, not a sign-in"))),
        }
    }
}

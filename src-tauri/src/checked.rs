//! Inputs (a preset's form, an administrator's file) into a checked configuration, through the
//! engine's one path ([`setup::prepare`], discovery included), with its errors in the window's
//! words. The preset forms' commands and the profile inbox both use it.

use tokenkeeper_engine::model::IntegrationConfig;
use tokenkeeper_engine::providers::{self, Profile};
use tokenkeeper_engine::setup::{self, Field, Inputs, PrepareError};
use tokenkeeper_engine::KeeperError;

/// The engine's one path from inputs to a checked configuration, errors in the window's words.
pub async fn prepared(inputs: &Inputs, profile: &Profile, prefix: &str) -> Result<IntegrationConfig, KeeperError> {
    setup::prepare(inputs, profile, &providers::wire::client()).await.map_err(|e| {
        KeeperError::BadInput(match e {
            PrepareError::Setup(e) => format!("{prefix}{}", e.describe(Field::named)),
            other => format!("{prefix}{other}"),
        })
    })
}

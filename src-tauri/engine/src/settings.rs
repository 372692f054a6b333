//! The keeper's own settings (`settings.toml`): warning lead times. A missing file means the
//! defaults; a damaged one is an error that names the file and line (see [`crate::store::files`]).

use serde::{Deserialize, Serialize};

use crate::alerts::DEFAULT_EXPIRY_LEADS;
use crate::paths::Paths;
use crate::store::files::{read_toml, FileError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Warn this many days before a refresh token or API token ends.
    pub warning_days: Vec<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self { warning_days: DEFAULT_EXPIRY_LEADS.to_vec() }
    }
}

impl Settings {
    pub fn load(paths: &Paths) -> Result<Self, FileError> {
        Ok(read_toml(&paths.settings())?.unwrap_or_default())
    }

    /// The longest lead time: within it a credential is "Expiring soon".
    pub fn expiring_soon_days(&self) -> u32 {
        self.warning_days.iter().copied().max().unwrap_or(0)
    }
}

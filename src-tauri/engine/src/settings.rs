//! The keeper's own settings (`settings.toml`): warning lead times. A missing file means the
//! defaults; a damaged one is an error that names the file and line (see [`crate::store::files`]).
//! Changes are checked by [`check_warning_days`] and written in one step by [`Settings::save`]
//! (the keeper applies them live: [`crate::Keeper::set_warning_days`]).

use serde::{Deserialize, Serialize};

use crate::alerts::DEFAULT_EXPIRY_LEADS;
use crate::paths::Paths;
use crate::store::files::{read_toml, write_atomic, FileError};

/// At most this many warning lead times.
pub const MAX_WARNING_DAYS: usize = 5;
/// The longest warning lead time, in days.
pub const MAX_WARNING_DAY: u32 = 365;

/// The header of a saved `settings.toml`: it stays a file a person can read and edit.
const HEADER: &str = "# Token Keeper settings.\n\
# warning_days: how many days before a refresh token or API token ends you are warned\n\
# (1 to 5 different numbers of days, each from 1 to 365).\n";

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

    /// Writes `settings.toml` in one step (a comment header, then the values).
    pub fn save(&self, paths: &Paths) -> Result<(), FileError> {
        let text = format!("{HEADER}{}", toml::to_string(self).expect("settings serialize"));
        write_atomic(&paths.settings(), text.as_bytes())
    }

    /// The longest lead time: within it a credential is "Expiring soon".
    pub fn expiring_soon_days(&self) -> u32 {
        self.warning_days.iter().copied().max().unwrap_or(0)
    }
}

/// Checks warning lead times as a keeper typed them: 1 to [`MAX_WARNING_DAYS`] different
/// values, each from 1 to [`MAX_WARNING_DAY`] days. Returns them longest first, or what is wrong
/// in plain words.
pub fn check_warning_days(mut days: Vec<u32>) -> Result<Vec<u32>, String> {
    if days.is_empty() {
        return Err("Please give at least one number of days, like 14, 3, 1.".into());
    }
    if let Some(bad) = days.iter().find(|d| !(1..=MAX_WARNING_DAY).contains(*d)) {
        return Err(format!("{bad} days is not possible: each warning must be from 1 to {MAX_WARNING_DAY} days."));
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(pair) = days.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("{} days is given twice: each warning must be a different number of days.", pair[0]));
    }
    if days.len() > MAX_WARNING_DAYS {
        return Err(format!("That is {} warnings: give at most {MAX_WARNING_DAYS}.", days.len()));
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_lead_times_are_sorted_longest_first() {
        assert_eq!(check_warning_days(vec![1, 14, 3]), Ok(vec![14, 3, 1]));
        assert_eq!(check_warning_days(vec![365]), Ok(vec![365]));
        assert_eq!(check_warning_days(vec![1, 2, 3, 4, 5]), Ok(vec![5, 4, 3, 2, 1]));
    }

    #[test]
    fn bad_lead_times_are_refused_in_words() {
        assert!(check_warning_days(vec![]).unwrap_err().contains("at least one"));
        assert!(check_warning_days(vec![0]).unwrap_err().contains("from 1 to 365"));
        assert!(check_warning_days(vec![14, 366]).unwrap_err().contains("366 days"));
        assert!(check_warning_days(vec![3, 14, 3]).unwrap_err().contains("3 days is given twice"));
        assert!(check_warning_days(vec![1, 2, 3, 4, 5, 6]).unwrap_err().contains("at most 5"));
    }

    #[test]
    fn saved_settings_read_back_and_stay_readable() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        assert_eq!(Settings::load(&paths).unwrap(), Settings::default());
        let settings = Settings { warning_days: vec![30, 7] };
        settings.save(&paths).unwrap();
        let text = std::fs::read_to_string(paths.settings()).unwrap();
        assert!(text.starts_with("# Token Keeper settings."), "{text}");
        assert!(text.contains("warning_days = [30, 7]"), "{text}");
        assert_eq!(Settings::load(&paths).unwrap(), settings);
    }
}

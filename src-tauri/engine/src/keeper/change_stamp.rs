//! Knowing, without asking the keychain, that an integration's keychain item still holds what this
//! process last read or wrote there.
//!
//! Every renewal used to begin, inside the refresh locks, by reading the item back in case another
//! process (a `tokenkeeper` command in direct mode, a second keeper) had renewed meanwhile. That
//! read is a keychain round trip on every renewal; with hundreds of integrations due at once it is
//! a good part of what a catch-up waits for behind the Secret Service, and it almost never finds
//! anything new. So each process that writes or removes an item first writes a new random stamp
//! into a small file beside the integration's lock file, and writes another once the keychain has
//! answered. A process remembers the stamp it saw when it last read (inside the locks) or wrote the
//! item; while the file still holds that stamp, nobody has written the item since, and memory is
//! what the keychain holds. Any doubt — no file, an unreadable one, a stamp this process did not
//! see — means "read the keychain", as before.
//!
//! Why stamps before *and* after the write: a writer that dies between its keychain write and its
//! second stamp has still changed the file before the write; a writer whose keychain write lands
//! after another's changes the file after it too, so the earlier writer's remembered stamp no
//! longer matches. The stamp is not a secret (a random number).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The stamps this process has seen, per integration.
#[derive(Debug, Default)]
pub(super) struct ChangeStamps {
    seen: Mutex<HashMap<String, u64>>,
}

impl ChangeStamps {
    /// Whether the item of `name` is unchanged since this process last saw it.
    pub(super) fn unchanged(&self, file: &Path, name: &str) -> bool {
        read(file).is_some_and(|now| self.seen().get(name) == Some(&now))
    }

    /// Call before reading the item inside the locks; then [`ChangeStamps::saw`] with the result.
    pub(super) fn current(&self, file: &Path) -> Option<u64> {
        read(file)
    }

    /// What the item holds was seen (read or written) when the file held `stamp`.
    pub(super) fn saw(&self, name: &str, stamp: Option<u64>) {
        match stamp {
            Some(s) => self.seen().insert(name.to_owned(), s),
            None => self.seen().remove(name),
        };
    }

    /// A new stamp in the file, before or after a write of the item. `None` when the file cannot
    /// be written (then it is removed if possible, so nobody trusts an old stamp).
    pub(super) fn bump(&self, file: &Path) -> Option<u64> {
        let stamp = rand::random::<u64>();
        match std::fs::write(file, format!("{stamp:016x}")) {
            Ok(()) => Some(stamp),
            Err(_) => {
                let _ = std::fs::remove_file(file);
                None
            }
        }
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stamp file of the integration whose lock file is `lock_file`.
pub(super) fn stamp_file(lock_file: &Path) -> PathBuf {
    lock_file.with_extension("changed")
}

fn read(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    u64::from_str_radix(text.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_only_while_the_file_holds_the_stamp_this_process_saw() {
        let dir = tempfile::tempdir().unwrap();
        let file = stamp_file(&dir.path().join("a.b.lock"));
        assert_eq!(file.file_name().unwrap(), "a.b.changed");
        let stamps = ChangeStamps::default();
        assert!(!stamps.unchanged(&file, "x"), "no file: read the keychain");
        let mine = stamps.bump(&file);
        stamps.saw("x", mine);
        assert!(stamps.unchanged(&file, "x"));
        assert!(!stamps.unchanged(&file, "y"), "another integration");
        // another process writes the item
        let other = ChangeStamps::default();
        other.bump(&file);
        assert!(!stamps.unchanged(&file, "x"), "another process's write must be seen");
        stamps.saw("x", stamps.current(&file));
        assert!(stamps.unchanged(&file, "x"));
        std::fs::write(&file, "damaged").unwrap();
        assert!(!stamps.unchanged(&file, "x"));
        stamps.saw("x", None);
        assert!(!stamps.unchanged(&file, "x"));
    }
}

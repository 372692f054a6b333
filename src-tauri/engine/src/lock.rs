//! One refresh per integration at a time, across every process of the user (tray app, daemon,
//! `tokenkeeper` commands): an exclusive advisory lock on `<state>/locks/<name>.lock`, whatever
//! the process's environment (see [`crate::paths`]).
//!
//! Two concurrent refreshes with a rotating refresh token destroy the grant (the second one
//! presents a token the first just consumed), so this is enforced in one place: the keeper takes
//! this lock around every refresh and re-reads the keychain inside it. The OS releases the lock
//! when a process dies, so a crash never leaves it held. Uses std's `File::lock` (flock on unix,
//! LockFileEx on Windows).
//!
//! The files are 0600 in a 0700 directory: anyone who can open a lock file can hold it and stall
//! the renewals of that integration.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct IntegrationLock {
    _file: File,
}

/// Waits for the lock of `path` (blocking: call from `spawn_blocking`).
pub fn acquire_blocking(path: PathBuf) -> std::io::Result<IntegrationLock> {
    let file = open(&path)?;
    file.lock()?;
    Ok(IntegrationLock { _file: file })
}

/// Waits for the lock without blocking the async runtime. An uncontended lock (the usual case)
/// is taken at once on the calling thread; only a held one waits on a blocking thread, so a
/// keeper with thousands of integrations does not grow a thread per concurrent refresh.
pub async fn acquire(path: PathBuf) -> std::io::Result<IntegrationLock> {
    if let Some(held) = try_acquire(&path)? {
        return Ok(held);
    }
    tokio::task::spawn_blocking(move || acquire_blocking(path)).await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// The lock if it is free now; `None` if another holder has it.
fn try_acquire(path: &Path) -> std::io::Result<Option<IntegrationLock>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(IntegrationLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Opens (creating) the lock file, private to the user: the directory 0700, the file 0600, both
/// corrected when an older version left them 0755/0644.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            private(dir, 0o700)?;
        }
        let file = options.mode(0o600).open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        options.open(path)
    }
}

/// Takes group and other permissions off `dir` when it has any.
#[cfg(unix)]
fn private(dir: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn holders_never_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/x.lock");
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, inside, max) = (path.clone(), inside.clone(), max.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _l = acquire_blocking(path.clone()).unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_held_lock_is_waited_for_and_a_free_one_taken_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/y.lock");
        let first = acquire(path.clone()).await.unwrap();
        assert!(try_acquire(&path).unwrap().is_none(), "held: not free");
        let waiter = tokio::spawn(acquire(path.clone()));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits while held");
        drop(first);
        waiter.await.unwrap().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_private_to_the_user_even_when_an_older_version_left_them_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(acquire_blocking(locks.join("a.lock")).unwrap());
        assert_eq!((mode(&locks), mode(&locks.join("a.lock"))), (0o700, 0o600));
        // as an older version left them
        std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(locks.join("a.lock"), std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(acquire_blocking(locks.join("a.lock")).unwrap());
        assert_eq!((mode(&locks), mode(&locks.join("a.lock"))), (0o700, 0o600));
    }
}

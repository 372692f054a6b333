//! The keeper's socket on Unix: a stream socket in the user's runtime directory.
//!
//! Both ends check whom they talk to before anything secret moves. The server makes the folder
//! 0700 and the socket 0600 and refuses a peer of another uid (`SO_PEERCRED`). The client, before
//! it sends a request, checks that the socket and its folder belong to this user and let no one
//! else in, and that the process listening runs as this user — so whatever else listens at that
//! path (another user's program, a leftover with loose permissions) is told nothing. It also
//! bounds its blocking reads ([`super::ANSWER_WITHIN`]), so a stuck keeper cannot hang it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};

use super::serve_connection;
use crate::keeper::{Keeper, KeeperError};

/// Serves the keeper's socket until the future is dropped (see [`super::serve`]).
pub(super) async fn serve(keeper: Keeper, request_timeout: Duration) -> Result<(), KeeperError> {
    let path = keeper.paths().socket();
    let listener = bind(&path).await?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: accepting again at once would spin a CPU.
                tracing::warn!("could not accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !same_user(&stream) {
            tracing::warn!("refused a connection from another user");
            continue;
        }
        let keeper = keeper.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_connection(keeper, stream, request_timeout).await {
                tracing::debug!("client went away: {e}");
            }
        });
    }
}

async fn bind(path: &Path) -> Result<UnixListener, KeeperError> {
    let fail = |what: &str, e: std::io::Error| KeeperError::Failed(format!("could not {what} {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("protect the folder of", e))?;
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(KeeperError::Failed("Token Keeper is already running for this user".into()));
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| fail("listen on", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail("protect", e))?;
    Ok(listener)
}

fn same_user(stream: &UnixStream) -> bool {
    stream.peer_cred().is_ok_and(|cred| cred.uid() == nix::unistd::getuid().as_raw())
}

/// A connection to the keeper at `path`: `None` when nothing listens there (no keeper: direct
/// mode), Err when what listens is not private to this user.
pub(super) async fn connect(path: &Path) -> Result<Option<UnixStream>, KeeperError> {
    let Ok(stream) = UnixStream::connect(path).await else { return Ok(None) };
    let peer = stream.peer_cred().map(|c| c.uid()).map_err(|e| not_private(path, &e.to_string()))?;
    check_private(path, peer)?;
    Ok(Some(stream))
}

/// [`connect`] without a runtime, with reads and writes bounded by `within`.
pub(super) fn connect_blocking(
    path: &Path,
    within: Duration,
) -> Result<Option<std::os::unix::net::UnixStream>, KeeperError> {
    let Ok(stream) = std::os::unix::net::UnixStream::connect(path) else { return Ok(None) };
    let peer = peer_uid(&stream).map_err(|e| not_private(path, &e.to_string()))?;
    check_private(path, peer)?;
    let bounded = stream.set_read_timeout(Some(within)).and_then(|()| stream.set_write_timeout(Some(within)));
    bounded.map_err(|e| KeeperError::Failed(format!("could not talk to the running Token Keeper: {e}")))?;
    Ok(Some(stream))
}

/// The uid of the process at the other end (what tokio's `peer_cred` does, without a runtime).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn peer_uid(stream: &std::os::unix::net::UnixStream) -> nix::Result<u32> {
    nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials).map(|c| c.uid())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn peer_uid(stream: &std::os::unix::net::UnixStream) -> nix::Result<u32> {
    nix::unistd::getpeereid(stream).map(|(uid, _)| uid.as_raw())
}

/// The socket, its folder and the listening process all belong to this user, and neither the
/// socket nor its folder lets anyone else in.
fn check_private(path: &Path, peer_uid: u32) -> Result<(), KeeperError> {
    let me = nix::unistd::getuid().as_raw();
    if peer_uid != me {
        return Err(not_private(path, &format!("it is run by user {peer_uid}")));
    }
    let socket = std::fs::symlink_metadata(path).map_err(|e| not_private(path, &e.to_string()))?;
    loose(&socket, me, "the socket").map_or(Ok(()), |why| Err(not_private(path, &why)))?;
    if let Some(dir) = path.parent() {
        let folder = std::fs::symlink_metadata(dir).map_err(|e| not_private(path, &e.to_string()))?;
        loose(&folder, me, "its folder").map_or(Ok(()), |why| Err(not_private(path, &why)))?;
    }
    Ok(())
}

/// Why a file is not private to user `me`, if it is not.
fn loose(meta: &std::fs::Metadata, me: u32, what: &str) -> Option<String> {
    if meta.uid() != me {
        return Some(format!("{what} belongs to user {}", meta.uid()));
    }
    let mode = meta.mode() & 0o777;
    (mode & 0o077 != 0).then(|| format!("{what} can be used by other users (mode {mode:o})"))
}

fn not_private(path: &Path, why: &str) -> KeeperError {
    KeeperError::Failed(format!(
        "the running Token Keeper's socket {} is not private to you ({why}), so nothing was sent to it; \
         quit Token Keeper and start it again",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_others_may_use_is_refused_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("run");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = folder.join("tokenkeeper.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let me = nix::unistd::getuid().as_raw();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_private(&path, me).is_ok());
        assert!(check_private(&path, me + 1).is_err(), "a listener of another user");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let refused = check_private(&path, me).unwrap_err().to_string();
        assert!(refused.contains("not private") && refused.contains("666"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_private(&path, me).is_err(), "a folder others can enter");
        assert!(connect_blocking(&path, Duration::from_secs(1)).is_err());
    }
}

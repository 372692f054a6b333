//! Platforms without a keeper socket yet (Windows: a named pipe would go here). Every command
//! runs in direct mode there; the tray app keeps integrations alive without serving one.

use std::path::Path;
use std::time::Duration;

use crate::keeper::{Keeper, KeeperError};

pub(super) async fn serve(_keeper: Keeper, _request_timeout: Duration) -> Result<(), KeeperError> {
    std::future::pending().await
}

pub(super) async fn connect(_path: &Path) -> Result<Option<tokio::io::DuplexStream>, KeeperError> {
    Ok(None)
}

pub(super) fn connect_blocking(_path: &Path, _within: Duration) -> Result<Option<std::fs::File>, KeeperError> {
    Ok(None)
}

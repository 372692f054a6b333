//! The commands that act on one integration: `refresh`, `pause`, `resume` and `remove`.
//! Each prints one line saying where the integration stands afterwards.

use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::ipc::Backend;

use super::print_out;
use crate::failure::Failure;
use crate::text;
use crate::words::Now;

pub async fn refresh(backend: &Backend, name: &str, now: Now) -> Result<(), Failure> {
    let view = backend.refresh(name).await?;
    print_out(&format!("{}\n", text::summary(&view, now.again(), &Calendar::system())))
}

pub async fn pause(backend: &Backend, name: &str, paused: bool, now: Now) -> Result<(), Failure> {
    let view = backend.pause(name, paused).await?;
    print_out(&format!("{}\n", text::summary(&view, now, &Calendar::system())))
}

pub async fn remove(backend: &Backend, name: &str, revoke: bool) -> Result<(), Failure> {
    backend.remove(name, revoke).await?;
    let how = if revoke { "revoked at the service and removed" } else { "removed" };
    print_out(&format!("{name}: {how}\n"))
}

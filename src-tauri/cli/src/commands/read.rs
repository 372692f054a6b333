//! The commands that only look: `list`, `status` and `token`.
//!
//! `token` is the one place the command prints a secret, and it prints nothing else on
//! standard output, so `$(tokenkeeper token NAME)` is exactly the token.

use tokenkeeper_engine::calendar::Calendar;
use tokenkeeper_engine::ipc::Backend;

use super::{print_out, say, warn};
use crate::failure::Failure;
use crate::words::Now;
use crate::{json, text};

pub async fn list(backend: &Backend, as_json: bool, now: Now) -> Result<(), Failure> {
    for problem in backend.problems() {
        warn(&problem);
    }
    let views = backend.list().await?;
    if as_json {
        return print_out(&json::list_text(&views));
    }
    if views.is_empty() {
        say("No integrations yet. Add one with `tokenkeeper add` (see `tokenkeeper add --help`).");
        return Ok(());
    }
    print_out(&text::list(&views, now, &Calendar::system()))
}

pub async fn status(backend: &Backend, name: &str, as_json: bool, now: Now) -> Result<(), Failure> {
    let status = backend.status(name).await?;
    if as_json {
        print_out(&json::status_text(&status, &Calendar::system()))
    } else {
        print_out(&text::status(&status, now, &Calendar::system()))
    }
}

pub async fn token(backend: &Backend, name: &str) -> Result<(), Failure> {
    crate::token_out::print_token(&backend.token(name).await?)
}

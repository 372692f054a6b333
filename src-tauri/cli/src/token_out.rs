//! The one place a token is written to standard output (`tokenkeeper token`, by the front door or
//! by the full program): the token and a newline, nothing else, so `$(tokenkeeper token NAME)` is
//! exactly the token.

use std::io::Write;

use tokenkeeper_engine::secret::AccessToken;

use crate::failure::Failure;

/// Prints the token and a newline, nothing else.
pub fn print_token(token: &AccessToken) -> Result<(), Failure> {
    // Written straight from the secret, so no unguarded copy of it is made here.
    let mut out = std::io::stdout().lock();
    out.write_all(token.expose().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::other(format!("could not write the token to standard output: {e}")))
}

//! One action against a service, each ending in an outcome enum the caller must handle:
//! a refresh ([`refresh`]), a check of a token ([`probe`]), a sign-in ([`signin`], or [`device`]
//! where no loopback redirect can work), listing the sites a sign-in reaches ([`sites`]).
//! Actions neither store nor schedule anything: the keeper applies their outcomes.

pub mod device;
pub mod oauth;
pub mod probe;
pub mod refresh;
pub mod revoke;
pub mod signin;
pub mod sites;

//! Token Keeper's engine: keeps OAuth and API tokens alive, with no GUI dependency.
//!
//! Data flows one way: provider → engine → state events → shells. The tray app, the headless
//! daemon and the `tokenkeeper` command are thin shells over the [`Keeper`] handle defined here.

pub mod model;
pub mod secret;
pub mod store;

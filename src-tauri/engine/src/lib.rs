//! Token Keeper's engine: keeps OAuth and API tokens alive, with no GUI dependency.
//!
//! Data flows one way: provider → engine → state events → shells. The tray app, the headless
//! daemon and the `tokenkeeper` command are thin shells over the [`Keeper`] handle defined here.
//!
//! Layers, from the ground up (each uses only those before it):
//! - ground: [`model`], [`about`], [`secret`], [`clock`], [`calendar`], [`failure`] (why an
//!   integration is in its state, as data), [`paths`], [`text`],
//!   [`process`], [`address`] (where secrets may go), [`fields`] (the inputs of an integration),
//!   [`phrases`] (every sentence a keeper reads);
//! - services: [`store`] (keychain, files), [`providers`] (profiles, wire formats),
//!   [`scheduler`] (when), [`notify`] (desktop notifications);
//! - actions: [`actions`] (one refresh, probe or sign-in → an outcome enum);
//! - the keeper: [`keeper`] (owns state, applies outcomes, emits events) and [`ipc`];
//! - the team vault: [`shared`] (OpenBao client, versioned records, the renewal lease, the
//!   shared record and change log, the connection), used by the keeper for shared integrations.

pub mod about;
pub mod actions;
pub mod address;
pub mod alerts;
pub mod calendar;
pub mod clock;
pub mod failure;
pub mod fields;
pub mod history;
pub mod ipc;
pub mod keeper;
pub mod lock;
pub mod model;
pub mod notify;
pub mod paths;
pub mod phrases;
pub mod process;
pub mod profile_file;
#[cfg(test)]
mod properties;
pub mod providers;
pub mod record;
pub mod scheduler;
pub mod secret;
pub mod settings;
pub mod setup;
pub mod shared;
pub mod store;
pub mod text;

pub use keeper::{Event, IntegrationStatus, Keeper, KeeperError, KeeperOptions};

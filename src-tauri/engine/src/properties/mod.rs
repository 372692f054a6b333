//! The engine's cross-cutting property tests, kept out of the source root: files read from disk
//! ([`files`]) and the local socket's server ([`ipc`]), with the shared case counts and
//! strategies ([`support`]) that every property test of the engine uses (`make fuzz` runs more).
//! Properties of one module's pure rules stay beside that module (the scheduler's, the slot's).

mod files;
mod ipc;
pub(crate) mod support;

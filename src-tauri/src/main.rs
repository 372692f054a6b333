//! The `token-keeper` binary: the tray app. Thin on purpose: everything lives in the library
//! (`app` sets up, `tray` and `window` show, `commands` answer the window).
//!
//! Like the `tokenkeeper` command, it allocates through a zeroizing wrapper of the system
//! allocator, so copies of tokens in the HTTP client's, parsers' and D-Bus buffers are wiped
//! when freed (tests/tests/secret_hygiene.rs measures it on the daemon).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() {
    // Before any token is in memory: no ptrace, /proc/PID/mem or core dump of this process.
    tokenkeeper_engine::process::harden();
    token_keeper::app::run();
}

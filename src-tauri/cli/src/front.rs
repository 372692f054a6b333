//! `tokenkeeper`'s front door: a small program that answers `tokenkeeper token NAME` from a
//! running keeper, and hands every other command to the whole command line program
//! (`tokenkeeper-full`, [`FULL`]) by `exec`, with the same arguments, environment and process.
//!
//! Why two programs: scripts call `tokenkeeper token` in loops, and most of its time was the
//! dynamic loader relocating the whole command-line program (16 MB, 320 KB of pointers to fix
//! up on every start: 44 % of its page faults were in `_dl_relocate_object`, `docs/BENCHMARKS.md`)
//! for a conversation of one line on a local socket. This program links only what that
//! conversation needs — the engine's socket client, with every check it makes (the socket and its
//! folder owned by this user and closed to others, the keeper's peer uid, the time limit, the
//! answer's size) — so it starts like a small C program.
//!
//! A running keeper's refusal (or its silence past the time limit) is said here as the full
//! program says it ([`failure`]: the same sentence, hint and exit code); anything else goes to the
//! full program: another command, or no keeper running. So nothing a script sees changes, only
//! how fast a token comes.
//!
//! `main` is the C entry point (`no_main`): Rust's own start-up (the main thread's stack guard,
//! read from `/proc/self/maps`, and its signal handlers) is skipped; the standard library works
//! as usual (its arguments come from the C start-up on Linux).

#![no_main]

#[allow(dead_code)] // the front door says only a keeper's refusal
mod failure;
mod shell;
mod token_out;

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

/// The same zeroizing allocator as the full program: the token's copies are wiped when freed.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

/// The full program's name beside this one (a build directory), then where the package puts it.
const FULL: [&str; 2] = ["tokenkeeper-full", "../lib/tokenkeeper/tokenkeeper"];

#[unsafe(no_mangle)]
extern "C" fn main(_argc: std::ffi::c_int, _argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    // Before any token is in memory, as the full program does.
    tokenkeeper_engine::process::harden();
    let args: Vec<OsString> = std::env::args_os().collect();
    if let [_, command, name] = args.as_slice() {
        if let (Some("token"), Some(name)) = (command.to_str(), name.to_str().filter(|n| !n.starts_with('-'))) {
            if let Some(answer) = tokenkeeper_engine::ipc::token_from_running_keeper(name) {
                // a refusal is said as the full program says it (it would only ask again, and
                // wait again); a closed standard output is an error to report, not a signal that
                // kills (as in the full program, whose standard library start-up sets so)
                let printed = answer.map_err(|e| failure::Failure::from(e).with_hint_for(name)).and_then(|token| {
                    ignore_sigpipe();
                    token_out::print_token(&token)
                });
                return printed.map_or_else(|failure| failure.report(), |()| 0);
            }
        }
    }
    let Some(full) = full_program() else {
        let missing = format!(
            "the rest of Token Keeper's command is missing (looked for {} beside this program); reinstall Token Keeper",
            FULL.join(" and ")
        );
        return failure::Failure::other(missing).report();
    };
    let mut command = std::process::Command::new(&full);
    if let Some((zero, rest)) = args.split_first() {
        command.arg0(zero).args(rest);
    }
    let e = command.exec();
    failure::Failure::other(format!("could not start {}: {e}", full.display())).report()
}

/// The full program, found relative to this one (so a build directory and the package both work).
fn full_program() -> Option<PathBuf> {
    let here = std::env::current_exe().ok()?;
    let dir = here.parent()?;
    FULL.iter().map(|relative| dir.join(relative)).find(|path| path.is_file())
}

fn ignore_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: setting a signal to "ignore" installs no handler code; nothing else runs yet.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

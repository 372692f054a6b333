//! Link options for the `tokenkeeper` binary.
//!
//! Scripts run `tokenkeeper token` in loops, so its start-up time matters. Most of it is the
//! dynamic loader applying ~34,000 relative relocations of the position-independent executable;
//! packed relative relocations (DT_RELR, glibc ≥ 2.36) apply them several times faster while
//! keeping the binary position-independent (ASLR stays on).
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if target_os == "linux" && target_env == "gnu" && std::env::var_os("TOKENKEEPER_NO_RELR").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-env-changed=TOKENKEEPER_NO_RELR");
}

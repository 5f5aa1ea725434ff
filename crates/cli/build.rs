//! Links the `portent` binary as a position-dependent executable on Linux (`-no-pie`).
//!
//! Why: the registry is compiled in as static tables full of string pointers (about 72,000 of
//! them). In a position-independent executable every one is a run-time relocation: the loader
//! patches and so dirties ~4 MiB of `.data.rel.ro` on every start. Measured on the 2-core dev
//! machine: `portent --version` 2.6-3.5 ms and 8.4 MiB max RSS as PIE, 1.1 ms and 2.9 MiB
//! without (docs/benchmarks.md). `portent listening` has to start faster than `ss` does.
//! Only the binary's link changes (`rustc-link-arg-bins`); libraries, tests and proc macros
//! are untouched. ASLR of the executable image is lost; the heap, stack and shared libraries
//! are still randomised.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && (env == "gnu" || env == "musl") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

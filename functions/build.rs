//! The build script of every function crate (`build = "../build.rs"`): links the Lambda
//! binaries as position-dependent executables (`-no-pie`) on Linux.
//!
//! A position-independent executable is loaded at a random address, so before `main` the
//! dynamic loader patches every absolute pointer in its data (vtables, string tables: about
//! 50,000 relative relocations in `deployments`), and each patched page is copied on first
//! write: about 200 copied pages per cold start, half a millisecond and more (README,
//! Performance). Linked at a fixed address the pointers are final in the file and the pages
//! are read in as they are needed. What this gives up is the random placement of the
//! binary's own code and data; shared libraries, stack and heap stay randomized, as for any
//! non-PIE program (Go builds its Lambdas this way by default).
//!
//! A link argument of the binaries only, so tests, build scripts and proc macros link as
//! before, and it holds under `cargo lambda build` (zig as the aarch64 linker) whatever
//! `RUSTFLAGS` it sets. The objects stay position-independent code; only the link changes.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=../build.rs");
}

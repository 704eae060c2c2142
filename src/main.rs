//! The `kbpub` binary: the command line is `kbpub::cli`; this file only picks the allocator.

use std::process::ExitCode;

/// mimalloc: rendering allocates many short-lived strings on every core; glibc malloc spent a
/// fifth of a 10,000-page build in lock contention and free-list work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kbpub::cli::main()
}

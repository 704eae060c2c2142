//! The `kbpub` binary: the command line is `kbpub::cli`; this file only picks the allocator.

use std::process::ExitCode;

/// mimalloc: rendering allocates many short-lived strings on every core; glibc malloc spent a
/// fifth of a 10,000-page build in lock contention and free-list work.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // mimalloc asks for transparent huge pages, which the kernel zeroes 2 MiB at a time on first
    // touch: a 1,000-document build touched 120 MiB instead of 75 and spent much of its kernel
    // time clearing pages it never used. A short-lived build is better off with small pages.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    kbpub::cli::main()
}

//! Running the `git` command line: every git call of the approval module goes through [`run`],
//! which turns a missing git, a failing command or unreadable output into a diagnostic that says
//! what was run and what git said. Git is used through its CLI (it is wherever CI is) with
//! machine-readable formats.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::diag::Diagnostic;

/// Runs `git -C root <args>` and returns its standard output.
pub fn run(root: &Path, args: &[&str]) -> Result<Vec<u8>, Diagnostic> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Diagnostic::error("git", format!("cannot run git: {e}"))
                .help("approvals are verified from git history: install git and run kbpub inside the knowledge base's repository")
        })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = stderr.trim();
    Err(Diagnostic::error(
        "git",
        format!("`git {}` failed: {said}", args.join(" ")),
    ))
}

/// [`run`] for commands whose output is text.
pub fn run_text(root: &Path, args: &[&str]) -> Result<String, Diagnostic> {
    let out = run(root, args)?;
    String::from_utf8(out).map_err(|_| {
        Diagnostic::error(
            "git",
            format!("`git {}` printed text that is not UTF-8", args.join(" ")),
        )
    })
}

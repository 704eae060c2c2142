//! Running the `git` command line: every git call of the approval module goes through [`run`],
//! which turns a missing git, a failing command or unreadable output into a diagnostic that says
//! what was run and what git said. Git is used through its CLI (it is wherever CI is) with
//! machine-readable formats; lists of paths go through standard input, never the command line,
//! so approving ten thousand documents at once does not hit the argument length limit.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::diag::Diagnostic;

/// Runs `git -C root <args>` and returns its standard output.
pub fn run(root: &Path, args: &[&str]) -> Result<Vec<u8>, Diagnostic> {
    run_with_input(root, args, &[], &[])
}

/// Runs `git -C root <args> --pathspec-from-file=- --pathspec-file-nul` with `paths` on its
/// standard input (for `add`, `commit`, `reset`).
pub fn run_with_paths(root: &Path, args: &[&str], paths: &[&str]) -> Result<Vec<u8>, Diagnostic> {
    run_with_paths_env(root, args, paths, &[])
}

/// [`run_with_paths`] with extra environment variables (a commit's dates).
pub fn run_with_paths_env(
    root: &Path,
    args: &[&str],
    paths: &[&str],
    env: &[(&str, String)],
) -> Result<Vec<u8>, Diagnostic> {
    let mut args = args.to_vec();
    args.extend(["--pathspec-from-file=-", "--pathspec-file-nul"]);
    let input: Vec<u8> = paths.iter().flat_map(|p| p.bytes().chain([0])).collect();
    run_with_input(root, &args, &input, env)
}

/// [`run`] with `input` on standard input.
pub fn run_with_stdin(root: &Path, args: &[&str], input: &[u8]) -> Result<Vec<u8>, Diagnostic> {
    run_with_input(root, args, input, &[])
}

/// The contents of `commit:path` for each `(commit, path)`, in one `git cat-file --batch`;
/// `None` where git has no such file.
pub fn read_blobs(root: &Path, blobs: &[(&str, &str)]) -> Result<Vec<Option<Vec<u8>>>, Diagnostic> {
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    let input: String = blobs.iter().map(|(c, p)| format!("{c}:{p}\n")).collect();
    let out = run_with_input(root, &["cat-file", "--batch"], input.as_bytes(), &[])?;
    let mut rest = out.as_slice();
    let mut found = Vec::new();
    for _ in blobs {
        let unexpected = || Diagnostic::error("git", "unexpected `git cat-file --batch` output");
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(unexpected)?;
        let header = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let size = match header.rsplit_once(' ') {
            Some((_, "missing" | "ambiguous")) | None => {
                found.push(None);
                continue;
            }
            Some((_, size)) => size.parse::<usize>().map_err(|_| unexpected())?,
        };
        if rest.len() < size + 1 {
            return Err(unexpected());
        }
        found.push(Some(rest[..size].to_vec()));
        rest = &rest[size + 1..];
    }
    Ok(found)
}

fn run_with_input(
    root: &Path,
    args: &[&str],
    input: &[u8],
    env: &[(&str, String)],
) -> Result<Vec<u8>, Diagnostic> {
    let cannot_run = |e: std::io::Error| {
        Diagnostic::error("git", format!("cannot run git: {e}"))
            .help("approvals are verified from git history: install git and run kbpub inside the knowledge base's repository")
    };
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(cannot_run)?;
    // Written from another thread: git may fill its output pipe before it has read all input.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        // A write error means git exited early; its status and stderr below say why.
        std::thread::spawn(move || stdin.write_all(&input).ok())
    });
    let output = child.wait_with_output().map_err(cannot_run)?;
    if let Some(writer) = writer {
        writer.join().ok();
    }
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(Diagnostic::error(
        "git",
        format!("`git {}` failed: {}", args.join(" "), stderr.trim()),
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

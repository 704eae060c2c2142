//! The append-only receipt log: every receipt a publish run writes is also appended, as one JSON
//! line, to `.kb/receipts/log.jsonl`, with the CI run that published it (taken from the CI's
//! environment). CI keeps the file as an artifact; `kbpub audit` reads it. Lines are only ever
//! appended, never rewritten.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::receipt::{RECEIPTS_DIR, Receipt};

/// The log file, relative to the knowledge-base root.
pub const LOG_FILE: &str = "log.jsonl";

/// CI run id variables, by CI system: GitHub Actions, GitLab, Jenkins, Buildkite, CircleCI.
const CI_RUN_VARIABLES: [&str; 5] = [
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "BUILD_ID",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_WORKFLOW_ID",
];

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub receipt: Receipt,
    /// `GITHUB_RUN_ID=123`, when published from CI.
    pub ci_run: Option<String>,
}

/// Appends `receipt` to the log under `root` (one `write` of one line, opened for appending).
pub fn append(root: &Path, receipt: &Receipt) -> std::io::Result<()> {
    let entry = Entry {
        receipt: receipt.clone(),
        ci_run: CI_RUN_VARIABLES
            .iter()
            .find_map(|v| std::env::var(v).ok().map(|id| format!("{v}={id}"))),
    };
    let mut line = serde_json::to_vec(&entry)?;
    line.push(b'\n');
    let dir = root.join(RECEIPTS_DIR);
    std::fs::create_dir_all(&dir)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))?;
    file.write_all(&line)?;
    file.sync_data()
}

/// Every entry of the log under `root` (none when there is no log); lines that do not parse
/// are skipped and counted.
pub fn read(root: &Path) -> (Vec<Entry>, usize) {
    let text = std::fs::read_to_string(root.join(RECEIPTS_DIR).join(LOG_FILE)).unwrap_or_default();
    let mut bad = 0;
    let entries = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).map_err(|_| bad += 1).ok())
        .collect();
    (entries, bad)
}

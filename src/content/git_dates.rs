//! "Last updated" dates from git: one `git log` over `content/` gives the newest commit date of
//! every file, so a 10,000-document site costs one process, not one per file. Outside a git
//! checkout (or without git) there are simply no dates.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;

/// Maps root-relative paths (`content/sops/x.md`) to the date of the last commit that touched them.
pub fn last_commit_dates(root: &Path) -> HashMap<String, NaiveDate> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "log",
            "--relative",
            "--no-renames",
            "--format=%x00%cs",
            "--name-only",
            "--",
            "content",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => parse_log(&String::from_utf8_lossy(&out.stdout)),
        _ => HashMap::new(),
    }
}

fn parse_log(log: &str) -> HashMap<String, NaiveDate> {
    let mut dates = HashMap::new();
    let mut current: Option<NaiveDate> = None;
    for line in log.lines() {
        if let Some(date) = line.strip_prefix('\0') {
            current = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok();
        } else if let (Some(date), false) = (current, line.is_empty()) {
            // git log lists newest first: the first date seen for a file is its last change.
            dates.entry(line.to_string()).or_insert(date);
        }
    }
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_commit_wins() {
        let log =
            "\x002026-11-20\n\ncontent/a.md\n\n\x002026-10-01\n\ncontent/a.md\ncontent/b.md\n";
        let dates = parse_log(log);
        assert_eq!(dates["content/a.md"].to_string(), "2026-11-20");
        assert_eq!(dates["content/b.md"].to_string(), "2026-10-01");
    }
}

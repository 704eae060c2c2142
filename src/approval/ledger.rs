//! The approval records as git holds them: each record exactly as the commit that first added it
//! wrote it. Records are immutable once committed: a later change, move, deletion or re-adding
//! of a record file (committed or only in the working tree) is tampering, reported against the
//! document, and the record as first committed still stands. A record that does not parse as
//! first committed blocks its document (fail closed). Records only in the working tree are
//! listed too: they do not count until committed.

use std::collections::BTreeMap;
use std::path::Path;

use super::git;
use super::history::{ChangeKind, History};
use super::record::{self, APPROVALS_DIR, Record};
use crate::diag::Diagnostic;

/// One record file of a document.
#[derive(Debug)]
pub struct Entry {
    /// Root-relative path.
    pub path: String,
    /// The commit that first added it; `None` when it is not committed.
    pub commit: Option<usize>,
    /// The record as first committed (or as in the working tree when not committed), or why it
    /// cannot be read.
    pub record: Result<Record, Diagnostic>,
}

/// Every record, by document id (the record's folder).
#[derive(Debug, Default)]
pub struct Ledger {
    pub entries: BTreeMap<String, Vec<Entry>>,
    /// Document id -> what was done to its records after they were committed.
    pub tampering: BTreeMap<String, Vec<String>>,
    /// Files under `.kb/approvals` that are not records at all.
    pub warnings: Vec<Diagnostic>,
}

impl Ledger {
    pub fn read(root: &Path, history: &History) -> Result<Ledger, Diagnostic> {
        let mut ledger = Ledger::default();
        let committed: Vec<&str> = history.paths_under(APPROVALS_DIR);
        let mut firsts: Vec<(String, usize)> = Vec::new();
        for &path in &committed {
            let changes = history.changes_to(path);
            if let Some(first) = changes.iter().find(|c| c.kind == ChangeKind::Added) {
                firsts.push((path.to_string(), first.commit));
            }
        }
        let ids: Vec<(&str, &str)> = firsts
            .iter()
            .map(|(p, c)| (history.commits[*c].id.as_str(), p.as_str()))
            .collect();
        let texts = git::read_blobs(root, &ids)?;
        for ((path, commit), text) in firsts.iter().zip(texts) {
            let Some(doc) = doc_of(path) else {
                ledger.warnings.push(not_a_record(path));
                continue;
            };
            let text = text.map(|t| String::from_utf8_lossy(&t).into_owned());
            ledger.tamper_checks(root, history, path, *commit, text.as_deref(), doc);
            let record = match text {
                Some(text) => Record::parse(path, &text),
                None => Err(Diagnostic::error(
                    "approval-record",
                    format!(
                        "{path} cannot be read from commit {}",
                        history.commits[*commit].short_id()
                    ),
                )),
            };
            ledger
                .entries
                .entry(doc.to_string())
                .or_default()
                .push(Entry {
                    path: path.clone(),
                    commit: Some(*commit),
                    record,
                });
        }
        for (path, record) in record::read_worktree(root) {
            if firsts.iter().any(|(p, _)| *p == path) {
                continue;
            }
            match doc_of(&path) {
                Some(doc) => ledger
                    .entries
                    .entry(doc.to_string())
                    .or_default()
                    .push(Entry {
                        path,
                        commit: None,
                        record,
                    }),
                None => ledger.warnings.push(not_a_record(&path)),
            }
        }
        Ok(ledger)
    }

    /// The ids of the commits that added records.
    pub fn commit_ids<'h>(&self, history: &'h History) -> Vec<&'h str> {
        self.entries
            .values()
            .flatten()
            .filter_map(|e| e.commit.map(|c| history.commits[c].id.as_str()))
            .collect()
    }

    /// Reports every change to `path` after `first` added it, and a working-tree copy that
    /// differs from what was committed.
    fn tamper_checks(
        &mut self,
        root: &Path,
        history: &History,
        path: &str,
        first: usize,
        committed: Option<&str>,
        doc: &str,
    ) {
        let mut found = Vec::new();
        for change in history
            .changes_to(path)
            .iter()
            .filter(|c| c.commit != first)
        {
            let commit = &history.commits[change.commit];
            let what = match change.kind {
                ChangeKind::Added => "re-added (after a deletion)",
                ChangeKind::Modified => "changed",
                ChangeKind::Deleted => "deleted or moved",
            };
            found.push(format!(
                "TAMPERING: {path} was {what} in commit {} by {}; records are immutable, the record as first committed (commit {}) stands",
                commit.short_id(),
                commit.author,
                history.commits[first].short_id()
            ));
        }
        let on_disk = std::fs::read_to_string(root.join(path)).ok();
        if history.is_uncommitted(path) && on_disk.as_deref() != committed {
            let what = if on_disk.is_some() {
                "changed"
            } else {
                "deleted"
            };
            found.push(format!(
                "TAMPERING: {path} is {what} in the working tree (not committed); the record as first committed (commit {}) stands",
                history.commits[first].short_id()
            ));
        }
        if !found.is_empty() {
            self.tampering
                .entry(doc.to_string())
                .or_default()
                .extend(found);
        }
    }
}

/// `.kb/approvals/<doc>/<name>.toml` -> `doc`.
fn doc_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(APPROVALS_DIR)?.strip_prefix('/')?;
    let (doc, name) = rest.split_once('/')?;
    (!name.contains('/') && name.ends_with(".toml")).then_some(doc)
}

fn not_a_record(path: &str) -> Diagnostic {
    Diagnostic::warning(
        "approval-record",
        format!("`{path}` is not an approval record"),
    )
    .in_file(path.to_string())
    .help("records are `.kb/approvals/<doc id>/<time>-<approver>.toml`, written by `kbpub approve`")
}

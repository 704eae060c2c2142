//! The journal of pending creates: before a target sends a create, it records here which
//! document it is creating, where and under which title; once the new page carries kbpub's record
//! the entry is removed. A later run that finds an unrecorded page matching a pending entry knows
//! kbpub created it (the create landed, its answer or the record did not) and takes it over;
//! without an entry (or proof on the page itself) a page is someone else's and is left alone.
//! One file per document under `.kb/journal/<target>/`, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where journals live, relative to the knowledge-base root.
pub const JOURNAL_DIR: &str = ".kb/journal";

/// A create kbpub was about to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCreate {
    pub doc_id: String,
    /// The space (or category) and the title the page was created with.
    pub scope: String,
    pub title: String,
    /// The content hash of what was sent.
    pub content_hash: String,
}

impl PendingCreate {
    /// This entry describes a page titled `title` in `scope` (titles compared ignoring case).
    pub fn matches(&self, scope: &str, title: &str) -> bool {
        self.scope == scope && self.title.to_lowercase() == title.to_lowercase()
    }
}

pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    pub fn new(root: &Path, target: &str) -> Journal {
        Journal {
            dir: root.join(JOURNAL_DIR).join(target),
        }
    }

    /// Every pending create (unreadable entries are ignored: they prove nothing).
    pub fn pending(&self) -> Vec<PendingCreate> {
        super::receipt::read_json_files(&self.dir)
    }

    /// Records `entry` durably; call before sending the create.
    pub fn begin(&self, entry: &PendingCreate) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(&entry.doc_id);
        let temporary = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&temporary)?;
        serde_json::to_writer_pretty(&mut file, entry)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    }

    /// The page of `doc_id` now carries kbpub's record: its create is no longer pending.
    pub fn settle(&self, doc_id: &str) {
        // A leftover entry only ever proves a page is ours that the target checks again.
        let _ = std::fs::remove_file(self.path(doc_id));
    }

    fn path(&self, doc_id: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", super::receipt::file_safe(doc_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path(), "confluence");
        assert!(journal.pending().is_empty());
        let entry = PendingCreate {
            doc_id: "sops/a b".into(),
            scope: "OPS".into(),
            title: "Setup".into(),
            content_hash: "sha256:00".into(),
        };
        journal.begin(&entry).unwrap();
        assert_eq!(journal.pending(), std::slice::from_ref(&entry));
        assert!(entry.matches("OPS", "SETUP") && !entry.matches("EDI", "Setup"));
        journal.settle("sops/a b");
        assert!(journal.pending().is_empty());
    }
}

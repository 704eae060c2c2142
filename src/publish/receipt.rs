//! Receipts: what a target did to one document — which remote page, which version, which content
//! hash, from which data and under which approvals. Each receipt is written to
//! `.kb/receipts/<target>/<doc id>.json` (atomically, as soon as the page is done, so a crash
//! keeps what finished) and travels in the page itself (Confluence: the `kbpub` content property).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where receipts live, relative to the knowledge-base root.
pub const RECEIPTS_DIR: &str = ".kb/receipts";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub target: String,
    pub doc_id: String,
    /// `content/...` path of the source.
    pub source: String,
    /// The remote page or article id.
    pub remote_id: String,
    /// The remote version kbpub wrote.
    pub version: u64,
    /// Hash of what was published (body, title, place, labels, attachments).
    pub content_hash: String,
    /// The snapshot's `as_of` for pages rendered with live data.
    pub data_as_of: Option<String>,
    /// The approval state the page was published under, and who approved it.
    pub approval_state: String,
    pub approvals_used: Vec<String>,
    pub emergency: Option<String>,
    /// RFC 3339, UTC.
    pub published_at: String,
}

/// Writes `receipt` under `root`; returns the file written.
pub fn write(root: &Path, receipt: &Receipt) -> std::io::Result<PathBuf> {
    let dir = root.join(RECEIPTS_DIR).join(&receipt.target);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", file_safe(&receipt.doc_id)));
    let temporary = dir.join(format!(".{}.json.tmp", file_safe(&receipt.doc_id)));
    let mut file = std::fs::File::create(&temporary)?;
    serde_json::to_writer_pretty(&mut file, receipt)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    super::receipt_log::append(root, receipt)?;
    Ok(path)
}

/// Every receipt kbpub wrote for `target` under `root` (unreadable files are skipped).
pub fn read_all(root: &Path, target: &str) -> Vec<Receipt> {
    read_json_files(&root.join(RECEIPTS_DIR).join(target))
}

/// Every `*.json` file in `dir` that parses as `T` (others are skipped; no folder: none).
pub fn read_json_files<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// Doc ids are path-derived slugs, but front matter may set anything: keep file names tame.
pub fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A target's content hash: `sha256:` and the hex SHA-256 of `canonical` (everything the target
/// writes for a document) as compact JSON.
pub fn content_hash(canonical: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    )
}

/// The first 16 hex digits of a `sha256:` content hash, for version messages.
pub fn short_hash(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    &hex[..hex.len().min(16)]
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

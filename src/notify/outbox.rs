//! What kbpub keeps about notifications, next to the receipts: a delivery is written to
//! `.kb/receipts/notify/<name>/pending/` before it is first sent and removed once it arrived, so
//! a run that could not deliver leaves it for the next run to send again — the same bytes under
//! the same id; a delivery that arrived becomes a receipt per document (target `notify/<name>`,
//! the event or post id as the remote id), written like every receipt and appended to the
//! receipt log, which is also how X posts are not repeated for the same content.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::notify::Kind;
use crate::publish::receipt::{self, RECEIPTS_DIR, Receipt};

/// A document a delivery tells about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocRef {
    pub doc_id: String,
    pub source: String,
    pub hash: Option<String>,
    pub approval_state: Option<String>,
    pub approvals: Vec<String>,
}

/// One request to send: a webhook event or an X post.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// The `webhook-id` of an event; for X a local id for the pending file.
    pub id: String,
    pub kind: Kind,
    /// The exact JSON bytes to send.
    pub body: String,
    pub docs: Vec<DocRef>,
    /// RFC 3339; with `seq`, the order deliveries are sent in.
    pub created_at: String,
    pub seq: u32,
}

/// The receipts target of destination `name`.
pub fn target(name: &str) -> String {
    format!("notify/{name}")
}

fn pending_dir(root: &Path, name: &str) -> PathBuf {
    root.join(RECEIPTS_DIR)
        .join("notify")
        .join(name)
        .join("pending")
}

/// The deliveries of `name` not yet delivered, oldest first.
pub fn pending(root: &Path, name: &str) -> Vec<Delivery> {
    let mut found: Vec<Delivery> = receipt::read_json_files(&pending_dir(root, name));
    found.sort_by(|a, b| (&a.created_at, a.seq).cmp(&(&b.created_at, b.seq)));
    found
}

/// Keeps `delivery` as pending (atomically: a temporary file, synced, renamed).
pub fn keep(root: &Path, name: &str, delivery: &Delivery) -> std::io::Result<()> {
    let dir = pending_dir(root, name);
    std::fs::create_dir_all(&dir)?;
    let file = receipt::file_safe(&delivery.id);
    let temporary = dir.join(format!(".{file}.json.tmp"));
    let mut out = std::fs::File::create(&temporary)?;
    serde_json::to_writer_pretty(&mut out, delivery)?;
    out.write_all(b"\n")?;
    out.sync_all()?;
    std::fs::rename(&temporary, dir.join(format!("{file}.json")))
}

/// Records `delivery` as delivered (`remote_id`: the event id or the post id): a receipt per
/// document, then the pending file removed.
pub fn delivered(
    root: &Path,
    name: &str,
    delivery: &Delivery,
    remote_id: &str,
) -> std::io::Result<()> {
    let published_at = receipt::now_rfc3339();
    for doc in &delivery.docs {
        receipt::write(
            root,
            &Receipt {
                target: target(name),
                doc_id: doc.doc_id.clone(),
                source: doc.source.clone(),
                remote_id: remote_id.to_string(),
                version: 1,
                content_hash: doc.hash.clone().unwrap_or_default(),
                data_as_of: None,
                approval_state: doc.approval_state.clone().unwrap_or_default(),
                approvals_used: doc.approvals.clone(),
                emergency: None,
                published_at: published_at.clone(),
            },
        )?;
    }
    let file = receipt::file_safe(&delivery.id);
    std::fs::remove_file(pending_dir(root, name).join(format!("{file}.json")))
}

/// Whether `name` already told about `doc_id` with content `hash` (a receipt), or is about to (a
/// pending delivery).
pub fn told(root: &Path, name: &str, pending: &[Delivery], doc_id: &str, hash: &str) -> bool {
    let same = |d: &str, h: Option<&str>| d == doc_id && h == Some(hash);
    receipt::read_all(root, &target(name))
        .iter()
        .any(|r| same(&r.doc_id, Some(&r.content_hash)))
        || pending
            .iter()
            .flat_map(|p| &p.docs)
            .any(|d| same(&d.doc_id, d.hash.as_deref()))
}

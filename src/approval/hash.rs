//! Content hashes: what an approval is bound to. A page's hash is sha256 over its source (front
//! matter and body) and every template it renders through (layout chain, imported macros,
//! includes), so an edit to the document or to a shared partial changes it; live data values are
//! not part of it, so new numbers do not need a new approval. The parts are kept too, so status
//! can say which of them changed since an approval.

use std::collections::HashMap;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::render::Engine;

/// Versioned, so a future change of the scheme cannot be mistaken for an edit.
const SCHEME: &str = "kbpub-content-hash-v1";
pub const PREFIX: &str = "sha256:";
/// The part name of the document's own source.
pub const DOCUMENT_PART: &str = "document";

/// One hashed input of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `document`, or the template's name (`sop.html`, `partials/metrics.html`).
    pub name: String,
    /// Hex sha256 of the part's text.
    pub digest: String,
    /// The file in the knowledge base holding the part (`content/sops/x.md`,
    /// `templates/sop.html`); `None` for built-in templates, which live in the binary.
    pub file: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PageHash {
    /// `sha256:<hex>`.
    pub hash: String,
    /// The document first, then templates by name.
    pub parts: Vec<Part>,
}

/// The hash of every page, by page index. Each template is hashed once, then each page's hash
/// is sha256 over the scheme name and the `name digest` line of each part, so two pages sharing
/// `base.html` do not hash its text twice. A page's path is not hashed: moving a document keeps
/// its approvals.
pub fn hash_pages(engine: &Engine, pages: &[usize]) -> HashMap<usize, PageHash> {
    let site = engine.site;
    let templates: HashMap<&str, (String, Option<String>)> = engine
        .layouts()
        .par_iter()
        .map(|t| {
            let file = t
                .display
                .starts_with("templates/")
                .then(|| t.display.clone());
            (t.name.as_str(), (hex_sha256(t.text.as_bytes()), file))
        })
        .collect();
    pages
        .par_iter()
        .map(|&page| {
            let p = &site.pages[page];
            let mut parts = vec![Part {
                name: DOCUMENT_PART.to_string(),
                digest: hex_sha256(p.source.as_bytes()),
                file: Some(p.file.clone()),
            }];
            for t in engine.templates_used(page) {
                let (digest, file) = templates[t.name.as_str()].clone();
                parts.push(Part {
                    name: t.name.clone(),
                    digest,
                    file,
                });
            }
            (
                page,
                PageHash {
                    hash: combine(&parts),
                    parts,
                },
            )
        })
        .collect()
}

fn combine(parts: &[Part]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SCHEME.as_bytes());
    hasher.update(b"\n");
    for part in parts {
        hasher.update(part.name.as_bytes());
        hasher.update(b" ");
        hasher.update(part.digest.as_bytes());
        hasher.update(b"\n");
    }
    format!("{PREFIX}{}", hex::encode(hasher.finalize()))
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `sha256:0123456789ab…` -> `0123456789ab`, for messages.
pub fn short(hash: &str) -> &str {
    let hex = hash.strip_prefix(PREFIX).unwrap_or(hash);
    &hex[..hex.len().min(12)]
}

pub fn is_valid(hash: &str) -> bool {
    hash.strip_prefix(PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, text: &str) -> Part {
        Part {
            name: name.into(),
            digest: hex_sha256(text.as_bytes()),
            file: None,
        }
    }

    #[test]
    fn every_part_changes_the_hash_and_the_format_is_stable() {
        let base = combine(&[part("document", "a"), part("base.html", "b")]);
        assert!(is_valid(&base), "{base}");
        assert_ne!(
            base,
            combine(&[part("document", "a!"), part("base.html", "b")])
        );
        assert_ne!(
            base,
            combine(&[part("document", "a"), part("base.html", "b!")])
        );
        assert_ne!(
            base,
            combine(&[part("document", "a"), part("other.html", "b")])
        );
        assert_eq!(
            base,
            combine(&[part("document", "a"), part("base.html", "b")])
        );
    }
}

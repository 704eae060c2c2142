//! Content hashes: what an approval is bound to. A page's hash is sha256 over everything that is
//! published for it: its source (front matter and body), its title and metadata as published,
//! every file it embeds or links as an attachment (images, PDFs in `content/`), and every
//! template it renders through (layout chain, imported macros, includes), so an edit to the
//! document, a replaced image or an edit to a shared partial changes it; live data values are
//! not part of it, so new numbers do not need a new approval. The parts are kept too, so status
//! can say which of them changed since an approval.

use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use pulldown_cmark::{Event, Parser, Tag};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::family::Family;
use crate::content::{Page, PageKind, Site, url};
use crate::render::Engine;
use crate::render::templates::TemplateSource;

/// Versioned, so a future change of the scheme cannot be mistaken for an edit.
const SCHEME: &str = "kbpub-content-hash-v2";
pub const PREFIX: &str = "sha256:";
/// The part name of the document's own source.
pub const DOCUMENT_PART: &str = "document";
/// The part name of the page's id, kind, title and front matter values as published.
pub const METADATA_PART: &str = "metadata";
/// The part name of a page family's template name.
pub const FAMILY_PART: &str = "family";
/// Part names of embedded files start with this, then their path in the knowledge base.
pub const FILE_PART_PREFIX: &str = "file:";

/// One hashed input of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `document`, `metadata`, `file:content/<path>` for an embedded file, or the template's
    /// name (`sop.html`, `partials/metrics.html`).
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
    /// The document first, its metadata, embedded files by path, then templates by name.
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
            let mut parts = vec![
                Part {
                    name: DOCUMENT_PART.to_string(),
                    digest: hex_sha256(p.source.as_bytes()),
                    file: Some(p.file.clone()),
                },
                Part {
                    name: METADATA_PART.to_string(),
                    digest: hex_sha256(metadata(p).as_bytes()),
                    file: None,
                },
            ];
            parts.extend(embedded_files(site, p).into_iter().map(|rel| {
                let file = format!("content/{rel}");
                // An unreadable file hashes as such: the page cannot be approved as it is.
                let bytes = std::fs::read(site.config.content_dir().join(&rel))
                    .unwrap_or_else(|e| format!("unreadable: {e}").into_bytes());
                Part {
                    name: format!("{FILE_PART_PREFIX}{file}"),
                    digest: hex_sha256(&bytes),
                    file: Some(file),
                }
            }));
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

/// The page's identity and front matter as published (not its path: a move keeps approvals).
fn metadata(page: &Page) -> String {
    let kind = match page.kind {
        PageKind::Document(t) => format!("{t:?}"),
        PageKind::Section(_) => "section".to_string(),
    };
    let meta = serde_json::to_string(&page.meta).unwrap_or_default();
    format!(
        "id {}\nkind {kind}\ntitle {}\nmeta {meta}\n",
        page.id, page.meta.title
    )
}

/// Files in `content/` the page's body embeds (`![..](x.png)`) or links to (`[..](x.pdf)`),
/// content-relative, sorted and unique: publish targets attach them.
fn embedded_files(site: &Site, page: &Page) -> Vec<String> {
    let dir = url::parent_dir(&page.rel_path);
    let mut files: Vec<String> = Parser::new(page.body())
        .filter_map(|event| match event {
            Event::Start(Tag::Image { dest_url, .. } | Tag::Link { dest_url, .. }) => {
                Some(dest_url)
            }
            _ => None,
        })
        .filter_map(|dest| {
            let path = dest.split(['#', '?']).next().unwrap_or_default();
            if path.is_empty() || path.contains(':') || path.starts_with("//") {
                return None;
            }
            let path = percent_decode_str(path).decode_utf8_lossy().into_owned();
            let joined = match path.strip_prefix('/') {
                Some(abs) => url::join("", abs),
                None => url::join(dir, &path),
            }?;
            site.has_asset(&joined).then_some(joined)
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

/// The hash of a data-driven page family: the template the pages include and every template
/// any of them renders through (their data-derived front matter and values are not hashed).
pub fn hash_family(engine: &Engine, family: &Family) -> PageHash {
    let mut parts = vec![Part {
        name: FAMILY_PART.to_string(),
        digest: hex_sha256(family.template.as_bytes()),
        file: None,
    }];
    let mut names: Vec<&str> = Vec::new();
    for &page in &family.pages {
        for t in engine.templates_used(page) {
            if !names.contains(&t.name.as_str()) {
                names.push(&t.name);
                parts.push(template_part(t));
            }
        }
    }
    parts[1..].sort_by(|a, b| a.name.cmp(&b.name));
    PageHash {
        hash: combine(&parts),
        parts,
    }
}

fn template_part(t: &TemplateSource) -> Part {
    Part {
        name: t.name.clone(),
        digest: hex_sha256(t.text.as_bytes()),
        file: t
            .display
            .starts_with("templates/")
            .then(|| t.display.clone()),
    }
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

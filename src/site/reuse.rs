//! Pages a build takes from the previous output without rendering them again. After each build,
//! `.kbpub-cache/pages.json` records for every page written without problems a key over
//! everything its bytes depend on, what its render learned (search entry, anchors, links), and
//! the stamp (device, inode, size, mtime) of its file in the output. The next build hard-links a
//! page whose key and stamp both still match instead of rendering it ([`output::Sink::reuse`]).
//!
//! A page's key covers: this kbpub binary, the output folder, the whole configuration, every
//! layout template, the data snapshot, the site's structure (every page's id, path, URL, front
//! matter, date and kind, the sections, the content assets: what nav, links, listings and
//! template functions read of other pages), the page's own source and its banners (approval,
//! data). Anything else a page shows comes from those. Pages with any diagnostic are never
//! kept, so their problems are reported by every build. A stamp that no longer matches (the
//! output was deleted, or a file in it edited or replaced) makes the page render again, and so
//! does a cache that is missing, unreadable or from another build setup: the fallback is always
//! a render, never a stale page.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::PageRecord;
use super::context::Banner;
use super::output::Sink;
use crate::content::{Page, Site};
use crate::render::{AnchorRef, Engine};

const CACHE_FILE: &str = "pages.json";

/// Where an output file was when it was written: a file with the same stamp holds the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i128,
}

impl Stamp {
    /// The stamp of the regular file at `path` (not following links), if there is one.
    pub fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        stamp_of(&meta)
    }
}

#[cfg(unix)]
fn stamp_of(meta: &std::fs::Metadata) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    Some(Stamp {
        device: meta.dev(),
        inode: meta.ino(),
        size: meta.size(),
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

#[cfg(not(unix))]
fn stamp_of(_: &std::fs::Metadata) -> Option<Stamp> {
    None // without inodes a stamp proves nothing: every page renders
}

/// What is kept of a page between builds.
#[derive(Serialize, Deserialize)]
struct Kept {
    url: String,
    key: u64,
    stamp: Stamp,
    /// The page's search entry, JSON kept as it is (not a string of escaped JSON): reading and
    /// writing the cache of 10,000 pages then costs a copy, not an escape and an unescape.
    search: Box<RawValue>,
    heading_ids: Vec<String>,
    anchor_refs: Vec<AnchorRef>,
    links_to: Vec<usize>,
}

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    /// The key of everything pages share; a cache with another one is ignored.
    shared: u64,
    pages: Vec<Kept>,
}

/// One build's use of the cache: what the previous build kept, and what this one will keep.
pub struct Reuse {
    file: PathBuf,
    output: PathBuf,
    shared: u64,
    previous: HashMap<String, Kept>,
    /// Per page (index): its key, when it rendered (or was reused) without problems.
    fresh: Mutex<Vec<Option<(u64, KeptRecord)>>>,
    reused: AtomicUsize,
}

struct KeptRecord {
    search: String,
    heading_ids: Vec<String>,
    anchor_refs: Vec<AnchorRef>,
    links_to: Vec<usize>,
}

impl Reuse {
    /// Reads what the previous build into `output` kept, for the site `engine` renders.
    pub fn open(engine: &Engine, cache_dir: &Path, output: &Path) -> Reuse {
        let shared = shared_key(engine, output);
        let file = cache_dir.join(CACHE_FILE);
        // Without an output folder there is nothing to take (a clean build, or after `rm`).
        let stored: Stored = Some(&file)
            .filter(|_| output.is_dir())
            .and_then(|file| std::fs::read(file).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|s: &Stored| s.shared == shared)
            .unwrap_or_default();
        Reuse {
            file,
            output: output.to_path_buf(),
            shared,
            previous: stored
                .pages
                .into_iter()
                .map(|k| (k.url.clone(), k))
                .collect(),
            fresh: Mutex::new((0..engine.site.pages.len()).map(|_| None).collect()),
            reused: AtomicUsize::new(0),
        }
    }

    /// The key of page `page` with `banners`.
    pub fn key(&self, site: &Site, page: usize, banners: &[Banner]) -> u64 {
        let mut h = DefaultHasher::new();
        self.shared.hash(&mut h);
        page.hash(&mut h);
        site.pages[page].source.hash(&mut h);
        hash_debug(&mut h, &banners);
        h.finish()
    }

    /// Takes page `page` (at `url`) from the previous output into `sink` when it was kept under
    /// `key` and its file is still as written; returns what its render had learned.
    pub(super) fn take(
        &self,
        page: usize,
        url: &str,
        key: u64,
        sink: &dyn Sink,
    ) -> Option<PageRecord> {
        let kept = self.previous.get(url).filter(|k| k.key == key)?;
        if !sink.reuse(url, &kept.stamp) {
            return None;
        }
        let record = PageRecord {
            heading_ids: kept.heading_ids.iter().cloned().collect(),
            anchor_refs: kept.anchor_refs.clone(),
            links_to: kept.links_to.clone(),
            search: kept.search.get().to_string(),
            diagnostics: Vec::new(),
        };
        self.keep(page, key, &record);
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(record)
    }

    /// Page `page` is in the output under `key`, as `record` says; kept when it has no problems.
    pub(super) fn keep(&self, page: usize, key: u64, record: &PageRecord) {
        if !record.diagnostics.is_empty() {
            return;
        }
        let mut heading_ids: Vec<String> = record.heading_ids.iter().cloned().collect();
        heading_ids.sort();
        self.fresh.lock().expect("reuse lock")[page] = Some((
            key,
            KeptRecord {
                search: record.search.clone(),
                heading_ids,
                anchor_refs: record.anchor_refs.clone(),
                links_to: record.links_to.clone(),
            },
        ));
    }

    /// Once the build is in the output: records the kept pages with their files' stamps, for the
    /// next build, and returns how many pages were taken from the previous output. A cache that
    /// cannot be written costs the next build time, never correctness.
    pub fn save(self, site: &Site) -> usize {
        let fresh = self.fresh.into_inner().expect("reuse lock");
        let pages = fresh
            .into_par_iter()
            .enumerate()
            .filter_map(|(page, kept)| {
                let (key, record) = kept?;
                let url = site.pages[page].url.clone();
                let stamp = Stamp::of(&self.output.join(&url))?;
                Some(Kept {
                    url,
                    key,
                    stamp,
                    search: RawValue::from_string(record.search).ok()?,
                    heading_ids: record.heading_ids,
                    anchor_refs: record.anchor_refs,
                    links_to: record.links_to,
                })
            })
            .collect();
        let stored = Stored {
            shared: self.shared,
            pages,
        };
        let _ = write_atomically(&self.file, &stored);
        self.reused.into_inner()
    }
}

fn write_atomically(file: &Path, stored: &Stored) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(std::io::BufWriter::new(temp.as_file_mut()), stored)?;
    temp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// The key of what every page depends on besides its own source and banners.
fn shared_key(engine: &Engine, output: &Path) -> u64 {
    let site = engine.site;
    let mut h = DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    // A rebuilt kbpub may render differently: its executable is part of the key.
    let exe = std::env::current_exe().ok();
    hash_debug(&mut h, &exe.and_then(|e| Stamp::of(&e)));
    output.hash(&mut h);
    hash_debug(&mut h, &site.config);
    for layout in engine.layouts() {
        layout.name.hash(&mut h);
        layout.text.hash(&mut h);
    }
    hash_debug(&mut h, &engine.data().stable_view());
    for page in &site.pages {
        // Every field named, so that a new one is not left out; the source is in each page's key.
        let Page {
            id,
            rel_path,
            file,
            source: _,
            body_start,
            meta,
            kind,
            section,
            url,
            updated,
            badge,
        } = page;
        (id, rel_path, file, body_start, section, url, updated).hash(&mut h);
        hash_debug(&mut h, &(meta, kind, badge));
    }
    hash_debug(&mut h, &site.sections);
    site.assets.hash(&mut h);
    h.finish()
}

/// Hashes `value`'s `Debug` text without building it.
fn hash_debug(h: &mut DefaultHasher, value: &impl std::fmt::Debug) {
    struct Feed<'h>(&'h mut DefaultHasher);
    impl std::fmt::Write for Feed<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let _ = std::fmt::write(&mut Feed(h), format_args!("{value:?}"));
}

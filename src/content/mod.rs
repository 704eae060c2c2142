//! Load: walks `content/`, parses every document's front matter, and builds the site model — pages,
//! the section tree (folders, with `_index.md` as the section page), ids, URLs and the asset list.
//! Pure data: it reads files and returns a [`Site`] or every problem it found, never renders.

pub mod frontmatter;
mod git_dates;
pub mod url;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::config::Config;
use crate::diag::{Diagnostic, Location};
pub use frontmatter::{Audience, DocType, FrontMatter, Status};

/// Folders and files at the output root that kbpub writes itself; content may not use them.
const RESERVED_ROOT_NAMES: &[&str] = &[
    "assets",
    "tags",
    "search-index.js",
    "sitemap.xml",
    "feed.xml",
    "404.html",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Document(DocType),
    /// The page of the section with this index (`_index.md`, or a generated one).
    Section(usize),
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    /// Path inside `content/`, with `/` separators: `sops/asn.md`.
    pub rel_path: String,
    /// Path shown to writers, relative to the site root: `content/sops/asn.md`.
    pub file: String,
    pub source: Arc<str>,
    /// Byte offset where the body starts (after the front matter).
    pub body_start: usize,
    pub meta: FrontMatter,
    pub kind: PageKind,
    /// The section this page lives in (for a section page, the section itself).
    pub section: usize,
    /// Output path relative to the site root: `sops/asn.html`.
    pub url: String,
    /// Last updated: front matter `updated`, else the last git commit touching the file.
    pub updated: Option<NaiveDate>,
    /// What a generated page is (a partner scorecard, an error code), shown instead of its type.
    pub badge: Option<Badge>,
}

/// A page's badge: a CSS class suffix (`badge-<class>`) and the words shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Badge {
    pub class: &'static str,
    pub label: &'static str,
}

impl Badge {
    pub const fn new(class: &'static str, label: &'static str) -> Badge {
        Badge { class, label }
    }
}

impl Page {
    pub fn body(&self) -> &str {
        &self.source[self.body_start..]
    }

    pub fn doc_type(&self) -> Option<DocType> {
        match self.kind {
            PageKind::Document(t) => Some(t),
            PageKind::Section(_) => None,
        }
    }

    pub fn title(&self) -> &str {
        &self.meta.title
    }

    /// The front matter `description` cut to `max` characters (a target's summary field).
    pub fn summary(&self, max: usize) -> String {
        let description = self.meta.description.as_deref().unwrap_or_default();
        description.chars().take(max).collect()
    }

    /// The badge that says what the page is: a generated page's own, else its document type's.
    pub fn badge(&self) -> Option<Badge> {
        self.badge
            .or_else(|| self.doc_type().map(|t| Badge::new(t.name(), t.label())))
    }

    pub fn is_obsolete(&self) -> bool {
        self.meta.status == Status::Obsolete
    }

    /// Made by kbpub (a data-driven page), not read from `content/`.
    pub fn is_generated(&self) -> bool {
        self.file.starts_with(GENERATED_PREFIX)
    }

    /// Location of the value of a front matter key (or the file start), for diagnostics.
    pub fn key_location(&self, key: &str) -> Location {
        let span = frontmatter::split(&self.source)
            .and_then(|s| {
                frontmatter::value_span(&self.source[s.header.clone()], key)
                    .map(|r| s.header.start + r.start..s.header.start + r.end)
            })
            .unwrap_or(0..0);
        Location::new(self.file.clone(), self.source.clone(), span)
    }
}

#[derive(Debug, Clone)]
pub struct Section {
    /// Folder inside `content/`: `""` for the root, `sops`, `sops/onboarding`.
    pub dir: String,
    /// Index of this section's page in [`Site::pages`].
    pub page: usize,
    pub parent: Option<usize>,
    /// Ordered by weight, then title.
    pub subsections: Vec<usize>,
    /// Document pages directly in this folder, ordered by weight, then title.
    pub pages: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub config: Config,
    pub pages: Vec<Page>,
    pub sections: Vec<Section>,
    /// Files in `content/` that are not Markdown (images, PDFs), content-relative.
    pub assets: Vec<String>,
    by_rel_path: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

impl Site {
    pub fn page_by_rel_path(&self, rel_path: &str) -> Option<usize> {
        self.by_rel_path.get(rel_path).copied()
    }

    pub fn page_by_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn has_asset(&self, rel_path: &str) -> bool {
        self.assets
            .binary_search_by(|a| a.as_str().cmp(rel_path))
            .is_ok()
    }

    pub fn root_section(&self) -> &Section {
        &self.sections[0]
    }

    /// Document pages (not section pages), in nav order.
    pub fn documents(&self) -> impl Iterator<Item = usize> + '_ {
        self.nav_order()
            .into_iter()
            .filter(|&i| matches!(self.pages[i].kind, PageKind::Document(_)))
    }

    /// Every page in reading order: a section page, then its documents, then its subsections.
    pub fn nav_order(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.pages.len());
        self.push_section_order(0, &mut order);
        order
    }

    fn push_section_order(&self, section: usize, order: &mut Vec<usize>) {
        let s = &self.sections[section];
        order.push(s.page);
        order.extend(&s.pages);
        for &sub in &s.subsections {
            self.push_section_order(sub, order);
        }
    }

    /// Sections from the root down to `section`, inclusive.
    pub fn ancestors(&self, section: usize) -> Vec<usize> {
        let mut chain = vec![section];
        let mut current = section;
        while let Some(parent) = self.sections[current].parent {
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// Every tag with the documents that carry it, tags sorted by name.
    pub fn tags(&self) -> Vec<(String, Vec<usize>)> {
        let mut tags: HashMap<&str, Vec<usize>> = HashMap::new();
        for i in self.documents() {
            for tag in &self.pages[i].meta.tags {
                tags.entry(tag.as_str()).or_default().push(i);
            }
        }
        let mut list: Vec<(String, Vec<usize>)> = tags
            .into_iter()
            .map(|(tag, pages)| (tag.to_string(), pages))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }
}

impl Site {
    /// The site of just the documents `keep` selects and the sections that hold them, for a
    /// view of the site for one audience. Section pages keep their front matter; their body is
    /// kept only when `keep_body` says so; files of `content/` are left out (a view's renderings
    /// embed what they need). Returns the new site and, for each of its pages, the
    /// index of the same page (same id) in `self`.
    pub fn subset(
        &self,
        keep: &dyn Fn(usize) -> bool,
        keep_body: &dyn Fn(usize) -> bool,
    ) -> (Site, Vec<usize>) {
        let kept: Vec<usize> = self.documents().filter(|&d| keep(d)).collect();
        let mut sections = BTreeSet::new();
        for &d in &kept {
            sections.extend(self.ancestors(self.pages[d].section));
        }
        let written_sections = sections
            .iter()
            .map(|&s| self.sections[s].page)
            .filter(|&p| !self.pages[p].source.is_empty());
        let pages = kept
            .iter()
            .copied()
            .chain(written_sections)
            .map(|i| {
                let mut page = self.pages[i].clone();
                if matches!(page.kind, PageKind::Section(_)) && !keep_body(i) {
                    page.body_start = page.source.len();
                }
                page
            })
            .collect();
        let files = Files {
            pages,
            assets: Vec::new(),
            diagnostics: Vec::new(),
        };
        let (site, _) = assemble(&self.config, files, Vec::new());
        let original = site
            .pages
            .iter()
            .map(|p| {
                self.page_by_id(&p.id)
                    .expect("a subset holds pages of the site")
            })
            .collect();
        (site, original)
    }
}

/// How a generated document's `file` starts: `(generated) live/partners/acme-retail.md`.
pub const GENERATED_PREFIX: &str = "(generated) ";

/// A document made by kbpub rather than read from `content/` (the data-driven pages): its
/// content-relative path and its full text, front matter included. It loads like a file.
#[derive(Debug, Clone)]
pub struct Generated {
    pub rel_path: String,
    pub text: String,
    /// What the page is, for its badge.
    pub badge: Badge,
}

/// The files of `content/`, read and parsed, not yet assembled into a [`Site`].
pub struct Files {
    pages: Vec<Page>,
    assets: Vec<String>,
    diagnostics: Vec<Diagnostic>,
}

/// What re-reading one document did to the site.
#[derive(Debug)]
pub enum Reload {
    /// The page at this index was re-read and replaced in place; `old` is what it was before.
    Replaced { page: usize, old: Box<Page> },
    /// The file holds what the page already has (a save without changes, or an editor's second
    /// write event for one save).
    Unchanged,
    /// The document does not fit in place: it is new or gone, its id, `updated`,
    /// `superseded_by` or `default_type` changed, or it has problems. Only a full [`load`] gives the right site
    /// (and reports every problem).
    NeedsFullLoad,
}

impl Site {
    /// Re-reads the document at `rel_path` (content-relative) and replaces its page when its place
    /// in the site is unchanged, re-sorting sections since its title or weight may have changed.
    /// `kbpub serve` uses this so that saving one document does not reload ten thousand.
    pub fn reload_page(&mut self, rel_path: &str) -> Reload {
        let Some(index) = self.page_by_rel_path(rel_path) else {
            return Reload::NeedsFullLoad;
        };
        let (Some(mut page), diagnostics) = read_page(&self.config.content_dir(), rel_path) else {
            return Reload::NeedsFullLoad;
        };
        let old = &self.pages[index];
        if page.source == old.source {
            return Reload::Unchanged;
        }
        let fits = diagnostics.is_empty()
            && page.id == old.id
            && page.meta.superseded_by == old.meta.superseded_by
            && page.meta.default_type == old.meta.default_type
            && (page.meta.updated.is_some() || old.meta.updated.is_none());
        if !fits {
            return Reload::NeedsFullLoad;
        }
        page.section = old.section;
        match page.kind {
            PageKind::Section(_) => page.kind = old.kind,
            PageKind::Document(_) if page.meta.doc_type.is_none() => {
                match default_type(&self.pages, &self.sections, page.section) {
                    Some(t) => page.kind = PageKind::Document(t),
                    None => return Reload::NeedsFullLoad,
                }
            }
            PageKind::Document(_) => {}
        }
        // Without `updated` in the front matter the date is git's, which an edit does not change.
        page.updated = page.meta.updated.or(old.updated);
        let old = std::mem::replace(&mut self.pages[index], page);
        order_sections(self);
        Reload::Replaced {
            page: index,
            old: Box::new(old),
        }
    }
}

/// Loads the site under `config.root` with every problem found, not just the first. A document
/// whose front matter is broken is kept as a placeholder (titled after its file) so that links
/// to it and from it are still checked. The outer error is for sites that cannot load at all.
pub fn load(config: &Config) -> Result<(Site, Vec<Diagnostic>), Vec<Diagnostic>> {
    Ok(assemble(config, read(config)?, Vec::new()))
}

/// Reads and parses every file of `content/` (the part of [`load`] that touches the disk).
pub fn read(config: &Config) -> Result<Files, Vec<Diagnostic>> {
    let content_dir = config.content_dir();
    if !content_dir.is_dir() {
        return Err(vec![
            Diagnostic::error(
                "no-content",
                format!("no content folder at {}", content_dir.display()),
            )
            .help("create `content/` with Markdown documents, or run `kbpub init`"),
        ]);
    }
    // `git log` runs while the files are read: over a long history it takes as long as reading
    // a thousand documents.
    let root = config.root.clone();
    let git_dates = std::thread::spawn(move || git_dates::last_commit_dates(&root));
    let (markdown, assets, mut diagnostics) = walk(&content_dir);
    let parsed: Vec<(Option<Page>, Vec<Diagnostic>)> = markdown
        .par_iter()
        .map(|rel| read_page(&content_dir, rel))
        .collect();
    let mut pages = Vec::with_capacity(parsed.len());
    for (page, errors) in parsed {
        pages.extend(page);
        diagnostics.extend(errors);
    }
    let git_dates = git_dates.join().unwrap_or_default();
    for page in &mut pages {
        if page.updated.is_none() {
            page.updated = git_dates.get(&page.file).copied();
        }
    }
    Ok(Files {
        pages,
        assets,
        diagnostics,
    })
}

/// Builds the site from the files read and the generated documents: sections, ids, checks.
pub fn assemble(
    config: &Config,
    files: Files,
    generated: Vec<Generated>,
) -> (Site, Vec<Diagnostic>) {
    let Files {
        mut pages,
        assets,
        mut diagnostics,
    } = files;
    for doc in generated {
        let (page, errors) = parse_page(
            &doc.rel_path,
            format!("{GENERATED_PREFIX}{}", doc.rel_path),
            Arc::from(doc.text),
        );
        pages.extend(page.map(|page| Page {
            badge: Some(doc.badge),
            ..page
        }));
        diagnostics.extend(errors);
    }
    let sections = build_sections(&mut pages);
    diagnostics.extend(resolve_types(&mut pages, &sections));
    diagnostics.extend(check_reserved_and_collisions(&pages));
    let by_id = index_ids(&pages, &mut diagnostics);
    diagnostics.extend(check_references(&pages, &by_id));
    crate::diag::sort(&mut diagnostics);
    let by_rel_path = pages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.rel_path.clone(), i))
        .collect();
    let mut site = Site {
        config: config.clone(),
        pages,
        sections,
        assets,
        by_rel_path,
        by_id,
    };
    order_sections(&mut site);
    (site, diagnostics)
}

/// [`load`] for callers that need a site without errors.
pub fn load_valid(config: &Config) -> Result<Site, Vec<Diagnostic>> {
    let (site, diagnostics) = load(config)?;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    Ok(site)
}

/// Lists Markdown files and assets (content-relative, sorted); hidden files are skipped.
fn walk(content_dir: &Path) -> (Vec<String>, Vec<String>, Vec<Diagnostic>) {
    let mut markdown = Vec::new();
    let mut assets = Vec::new();
    let mut diagnostics = Vec::new();
    let walker = walkdir::WalkDir::new(content_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.push(Diagnostic::error("io", format!("cannot read content: {e}")));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(content_dir) else {
            continue;
        };
        let rel = url::to_slash(rel);
        if rel.ends_with(".md") {
            markdown.push(rel);
        } else {
            assets.push(rel);
        }
    }
    (markdown, assets, diagnostics)
}

fn read_page(content_dir: &Path, rel: &str) -> (Option<Page>, Vec<Diagnostic>) {
    let file = format!("content/{rel}");
    match std::fs::read_to_string(content_dir.join(rel)) {
        Ok(text) => parse_page(rel, file, Arc::from(text)),
        Err(e) => {
            let d = Diagnostic::error("io", format!("cannot read {file}: {e}"))
                .in_file(file.clone())
                .help("documents must be UTF-8 text");
            (None, vec![d])
        }
    }
}

/// Parses a document's text; `file` is how diagnostics name it.
fn parse_page(rel: &str, file: String, source: Arc<str>) -> (Option<Page>, Vec<Diagnostic>) {
    let is_section = rel == "_index.md" || rel.ends_with("/_index.md");
    let mut page = Page {
        id: url::derived_id(rel),
        rel_path: rel.to_string(),
        file: file.clone(),
        source: source.clone(),
        body_start: 0,
        meta: FrontMatter {
            title: url::title_from_slug(url::file_stem(rel)),
            ..FrontMatter::default()
        },
        kind: if is_section {
            PageKind::Section(usize::MAX)
        } else {
            PageKind::Document(DocType::Sop)
        },
        section: usize::MAX,
        url: url::page_url(rel),
        updated: None,
        badge: None,
    };
    let Some(split) = frontmatter::split(&source) else {
        if let Some((fence, _)) = frontmatter::opening_fence(&source) {
            let d = Diagnostic::error(
                "front-matter",
                format!("front matter opened with `{fence}` is never closed"),
            )
            .at(Location::new(file, source.clone(), 0..fence.len()))
            .help(format!(
                "end the front matter with a line holding only `{fence}`"
            ));
            page.meta.doc_type = page.doc_type();
            return (Some(page), vec![d]);
        }
        // Plain Markdown: the title from its first heading, the type from its section.
        if let Some((title, body_start)) = first_heading(&source) {
            page.meta.title = title;
            page.body_start = body_start;
        }
        return (Some(page), Vec::new());
    };
    page.body_start = split.body_start;
    let meta = match frontmatter::parse(&file, &source, &split) {
        Ok(meta) => meta,
        Err(errors) => {
            // A placeholder keeps its stand-in type: its front matter's errors are reported.
            page.meta.doc_type = page.doc_type();
            return (Some(page), errors);
        }
    };
    let mut errors = Vec::new();
    if let (false, Some(t)) = (is_section, meta.doc_type) {
        page.kind = PageKind::Document(t);
    }
    if !is_section && meta.default_type.is_some() {
        errors.push(
            Diagnostic::error(
                "front-matter",
                "`default_type` belongs in a section's `_index.md`",
            )
            .at(Location::new(
                file,
                source.clone(),
                frontmatter::value_span(&source[split.header.clone()], "default_type")
                    .map_or(0..0, |r| {
                        split.header.start + r.start..split.header.start + r.end
                    }),
            ))
            .help("set `type` here, or move `default_type` to the `_index.md` of this folder"),
        );
    }
    if let Some(id) = &meta.id {
        page.id = id.clone();
    }
    page.updated = meta.updated;
    page.meta = meta;
    (Some(page), errors)
}

/// The text of a plain Markdown file's first heading, and where its body starts: after that
/// heading when it is a level-1 heading at the top (the layout shows the title), else at 0.
fn first_heading(source: &str) -> Option<(String, usize)> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut title = String::new();
    let mut body_start = 0;
    let mut in_heading = false;
    for (index, (event, range)) in Parser::new(source).into_offset_iter().enumerate() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                in_heading = true;
                if index == 0 && level == HeadingLevel::H1 {
                    body_start = range.end;
                }
            }
            Event::Text(t) | Event::Code(t) if in_heading => title.push_str(&t),
            Event::End(TagEnd::Heading(_)) => break,
            _ => {}
        }
    }
    let title = title.trim();
    (!title.is_empty()).then(|| (title.to_string(), body_start))
}

/// Gives each document without a `type` the `default_type` of the nearest section above it that
/// sets one (in its `_index.md`); a document with none is an error.
fn resolve_types(pages: &mut [Page], sections: &[Section]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for i in 0..pages.len() {
        if matches!(pages[i].kind, PageKind::Section(_)) || pages[i].meta.doc_type.is_some() {
            continue;
        }
        match default_type(pages, sections, pages[i].section) {
            Some(t) => pages[i].kind = PageKind::Document(t),
            None => diagnostics.push(missing_type(&pages[i])),
        }
    }
    diagnostics
}

/// The `default_type` of `section` or the nearest section above it that sets one.
fn default_type(pages: &[Page], sections: &[Section], section: usize) -> Option<DocType> {
    let mut current = Some(section);
    while let Some(s) = current {
        if let Some(t) = pages.get(sections[s].page)?.meta.default_type {
            return Some(t);
        }
        current = sections[s].parent;
    }
    None
}

fn missing_type(page: &Page) -> Diagnostic {
    let at = frontmatter::split(&page.source).map_or(0, |s| s.header.start);
    Diagnostic::error("front-matter", "missing `type`")
        .at(Location::new(page.file.clone(), page.source.clone(), at..at))
        .help(format!(
            "add `type = \"sop\"` (or playbook, faq, partner, incident-review, notice) to its front matter, or `default_type = \"sop\"` to `content/{}_index.md` for every document of the folder",
            match url::parent_dir(&page.rel_path) {
                "" => String::new(),
                dir => format!("{dir}/"),
            }
        ))
}

/// Creates a section for every folder that holds Markdown (and its parents), generating a page
/// for folders without `_index.md`, and links pages to their sections.
fn build_sections(pages: &mut Vec<Page>) -> Vec<Section> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    dirs.insert(String::new());
    for page in pages.iter() {
        let mut dir = url::parent_dir(&page.rel_path);
        while !dir.is_empty() {
            dirs.insert(dir.to_string());
            dir = url::parent_dir(dir);
        }
    }
    let index_of_dir: HashMap<String, usize> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.clone(), i))
        .collect();
    let mut sections: Vec<Section> = dirs
        .iter()
        .map(|dir| Section {
            dir: dir.clone(),
            page: usize::MAX,
            parent: (!dir.is_empty()).then(|| index_of_dir[url::parent_dir(dir)]),
            subsections: Vec::new(),
            pages: Vec::new(),
        })
        .collect();
    for (i, page) in pages.iter_mut().enumerate() {
        let dir = url::parent_dir(&page.rel_path);
        let section = index_of_dir[dir];
        page.section = section;
        match page.kind {
            PageKind::Section(_) => {
                page.kind = PageKind::Section(section);
                sections[section].page = i;
            }
            PageKind::Document(_) => sections[section].pages.push(i),
        }
    }
    for (s, section) in sections.iter_mut().enumerate() {
        if section.page == usize::MAX {
            section.page = pages.len();
            pages.push(generated_section_page(s, &section.dir));
        }
    }
    for s in 1..sections.len() {
        let parent = sections[s].parent.expect("non-root sections have parents");
        sections[parent].subsections.push(s);
    }
    sections
}

fn generated_section_page(section: usize, dir: &str) -> Page {
    let rel_path = if dir.is_empty() {
        "_index.md".to_string()
    } else {
        format!("{dir}/_index.md")
    };
    let name = dir.rsplit('/').next().unwrap_or(dir);
    let title = if dir.is_empty() {
        "Home".to_string()
    } else {
        url::title_from_slug(name)
    };
    Page {
        id: url::derived_id(&rel_path),
        file: format!("content/{rel_path}"),
        url: url::page_url(&rel_path),
        rel_path,
        source: Arc::from(""),
        body_start: 0,
        meta: FrontMatter {
            title,
            ..FrontMatter::default()
        },
        kind: PageKind::Section(section),
        section,
        updated: None,
        badge: None,
    }
}

fn check_reserved_and_collisions(pages: &[Page]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut by_url: HashMap<&str, &Page> = HashMap::new();
    for page in pages {
        let first = page.url.split('/').next().unwrap_or("");
        if RESERVED_ROOT_NAMES.contains(&first) {
            diagnostics.push(
                Diagnostic::error(
                    "reserved-path",
                    format!("`{first}` at the site root is reserved for kbpub's own output"),
                )
                .at(Location::new(page.file.clone(), page.source.clone(), 0..0))
                .help(format!(
                    "rename `{}` so that its output path does not start with `{first}`",
                    page.file
                )),
            );
        }
        if let Some(other) = by_url.insert(&page.url, page) {
            diagnostics.push(
                Diagnostic::error(
                    "url-collision",
                    format!(
                        "`{}` and `{}` both become `{}`",
                        other.file, page.file, page.url
                    ),
                )
                .at(Location::new(page.file.clone(), page.source.clone(), 0..0))
                .help("rename one of them (a folder's own page is `_index.md`, not `index.md`)"),
            );
        }
    }
    diagnostics
}

fn index_ids(pages: &[Page], diagnostics: &mut Vec<Diagnostic>) -> HashMap<String, usize> {
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(pages.len());
    for (i, page) in pages.iter().enumerate() {
        if let Some(&first) = by_id.get(&page.id) {
            let first = &pages[first];
            diagnostics.push(
                Diagnostic::error("duplicate-id", format!("duplicate id `{}`", page.id))
                    .at(page.key_location("id"))
                    .label("this id is already used")
                    .related(first.key_location("id"), "first used here")
                    .help(format!(
                        "ids must be unique; `{}` already has id `{}`",
                        first.file, page.id
                    )),
            );
        } else {
            by_id.insert(page.id.clone(), i);
        }
    }
    by_id
}

/// Front matter that names other documents must name existing ones.
fn check_references(pages: &[Page], by_id: &HashMap<String, usize>) -> Vec<Diagnostic> {
    pages
        .iter()
        .filter_map(|page| {
            let target = page.meta.superseded_by.as_deref()?;
            (!by_id.contains_key(target)).then(|| {
                Diagnostic::error(
                    "unknown-id",
                    format!("`superseded_by` names unknown document id `{target}`"),
                )
                .at(page.key_location("superseded_by"))
                .help("use the `id` of an existing document")
            })
        })
        .collect()
}

fn order_sections(site: &mut Site) {
    let key = |pages: &[Page], i: usize| {
        (
            pages[i].meta.weight.unwrap_or(i64::MAX),
            pages[i].meta.title.to_lowercase(),
        )
    };
    let pages = &site.pages;
    let section_pages: Vec<usize> = site.sections.iter().map(|s| s.page).collect();
    for section in &mut site.sections {
        section.pages.sort_by_cached_key(|&i| key(pages, i));
        section
            .subsections
            .sort_by_cached_key(|&s| key(pages, section_pages[s]));
    }
}

/// For tests: a knowledge base in a new temporary folder with `files` (content-relative path,
/// text) in `content/`, loaded. The folder lives as long as the returned guard, so that a test
/// can edit files and reload them.
#[cfg(test)]
pub(crate) fn temp_site(
    files: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Site, Vec<Diagnostic>>) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        write_temp(dir.path(), path, text);
    }
    let mut config = Config::parse("").expect("default config");
    config.root = dir.path().to_path_buf();
    let site = load_valid(&config);
    (dir, site)
}

/// For tests: writes `text` to `content/<rel>` under `root`.
#[cfg(test)]
pub(crate) fn write_temp(root: &Path, rel: &str, text: &str) {
    let path = root.join("content").join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_with(files: &[(&str, &str)]) -> Result<Site, Vec<Diagnostic>> {
        temp_site(files).1
    }

    const DOC: &str = "+++\ntitle = \"T\"\ntype = \"sop\"\n+++\n";

    #[test]
    fn ids_are_derived_from_paths_and_sections_generated() {
        let site = site_with(&[("sops/a-b.md", DOC), ("sops/deep/c.md", DOC)]).unwrap();
        assert!(site.page_by_id("sops-a-b").is_some());
        assert!(site.page_by_id("sops-deep-c").is_some());
        let titles: Vec<&str> = site
            .sections
            .iter()
            .map(|s| site.pages[s.page].title())
            .collect();
        assert_eq!(titles, ["Home", "Sops", "Deep"]);
    }

    #[test]
    fn pages_order_by_weight_then_title() {
        let doc = |t: &str, w: Option<i64>| {
            let weight = w.map(|w| format!("weight = {w}\n")).unwrap_or_default();
            format!("+++\ntitle = \"{t}\"\ntype = \"faq\"\n{weight}+++\n")
        };
        let site = site_with(&[
            ("f/a.md", &doc("Zeta", Some(1))),
            ("f/b.md", &doc("beta", None)),
            ("f/c.md", &doc("Alpha", None)),
        ])
        .unwrap();
        let order: Vec<&str> = site.sections[1]
            .pages
            .iter()
            .map(|&i| site.pages[i].title())
            .collect();
        assert_eq!(order, ["Zeta", "Alpha", "beta"]);
    }

    #[test]
    fn duplicate_ids_name_both_files() {
        let doc = "+++\nid = \"same\"\ntitle = \"T\"\ntype = \"sop\"\n+++\n";
        let errs = site_with(&[("a.md", doc), ("b.md", doc)]).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].position(), "content/b.md:2:6");
        assert_eq!(errs[0].related.as_ref().unwrap().0.file, "content/a.md");
    }

    #[test]
    fn reload_page_replaces_in_place_or_asks_for_a_full_load() {
        let (dir, site) = temp_site(&[
            ("f/a.md", "+++\ntitle = \"Alpha\"\ntype = \"faq\"\n+++\nold"),
            ("f/b.md", "+++\ntitle = \"Beta\"\ntype = \"faq\"\n+++\n"),
        ]);
        let mut site = site.unwrap();
        let write = |rel: &str, text: &str| write_temp(dir.path(), rel, text);
        let a = site.page_by_rel_path("f/a.md").unwrap();

        write("f/a.md", "+++\ntitle = \"Zulu\"\ntype = \"faq\"\n+++\nnew");
        let Reload::Replaced { page, old } = site.reload_page("f/a.md") else {
            panic!("not replaced")
        };
        assert_eq!((page, old.body()), (a, "old"));
        assert_eq!(site.pages[a].body(), "new");
        let order: Vec<&str> = site.sections[1]
            .pages
            .iter()
            .map(|&i| site.pages[i].title())
            .collect();
        assert_eq!(order, ["Beta", "Zulu"], "sections are re-sorted");

        write(
            "f/a.md",
            "+++\nid = \"other\"\ntitle = \"Zulu\"\ntype = \"faq\"\n+++\n",
        );
        assert!(
            matches!(site.reload_page("f/a.md"), Reload::NeedsFullLoad),
            "a new id"
        );
        write("f/a.md", "+++\ntitle = \"Zulu\"\ntype = \"nope\"\n+++\n");
        assert!(
            matches!(site.reload_page("f/a.md"), Reload::NeedsFullLoad),
            "a front matter error"
        );
        assert!(
            matches!(site.reload_page("f/new.md"), Reload::NeedsFullLoad),
            "a new document"
        );
        write("f/a.md", "+++\ntitle = \"Zulu\"\ntype = \"faq\"\n+++\nnew");
        assert!(matches!(site.reload_page("f/a.md"), Reload::Unchanged));
        assert_eq!(
            site.pages[a].body(),
            "new",
            "the site is unchanged when a full load is needed"
        );
    }

    #[test]
    fn all_errors_are_reported_together() {
        let errs = site_with(&[
            ("a.md", "+++\ntitle = \"A\"\ntype = \"nope\"\n+++\n"),
            ("b.md", "no front matter"),
            ("c.md", "---\ntitle: C\n---\n"),
        ])
        .unwrap_err();
        let positions: Vec<String> = errs.iter().map(Diagnostic::position).collect();
        assert_eq!(
            positions,
            ["content/a.md:3:8", "content/b.md:1:1", "content/c.md:2:1"]
        );
    }

    #[test]
    fn plain_markdown_takes_its_title_from_the_first_heading_and_its_type_from_the_section() {
        let (dir, site) = temp_site(&[
            (
                "runbooks/_index.md",
                "+++
title = \"Runbooks\"\ndefault_type = \"playbook\"\n+++\n",
            ),
            (
                "runbooks/restart.md",
                "# Restart the `as2` gateway\n\nStep one.\n",
            ),
            ("runbooks/deep/later.md", "Intro first.\n\n## Not the top\n"),
            (
                "runbooks/typed.md",
                "+++\ntitle = \"Typed\"\n+++\nNo type given.\n",
            ),
        ]);
        let mut site = site.unwrap();
        let restart = &site.pages[site.page_by_id("runbooks-restart").unwrap()];
        assert_eq!(restart.title(), "Restart the as2 gateway");
        assert_eq!(restart.doc_type(), Some(DocType::Playbook));
        assert_eq!(
            restart.body().trim(),
            "Step one.",
            "the top heading is the title"
        );
        let later = &site.pages[site.page_by_id("runbooks-deep-later").unwrap()];
        assert_eq!(
            (later.title(), later.doc_type()),
            ("Not the top", Some(DocType::Playbook)),
            "a subfolder without _index.md inherits"
        );
        assert!(later.body().starts_with("Intro first."));
        let typed = site.page_by_id("runbooks-typed").unwrap();
        assert_eq!(site.pages[typed].doc_type(), Some(DocType::Playbook));

        write_temp(
            dir.path(),
            "runbooks/restart.md",
            "# Restart\n\nStep two.\n",
        );
        assert!(matches!(
            site.reload_page("runbooks/restart.md"),
            Reload::Replaced { .. }
        ));
        let restart = site.page_by_id("runbooks-restart").unwrap();
        assert_eq!(site.pages[restart].doc_type(), Some(DocType::Playbook));
        write_temp(
            dir.path(),
            "runbooks/_index.md",
            "+++\ntitle = \"Runbooks\"\ndefault_type = \"faq\"\n+++\n",
        );
        assert!(
            matches!(
                site.reload_page("runbooks/_index.md"),
                Reload::NeedsFullLoad
            ),
            "a new default type changes other documents"
        );
    }

    #[test]
    fn plain_markdown_without_a_default_type_is_an_error_naming_the_index() {
        let errs = site_with(&[
            ("notes/a.md", "# A\n"),
            (
                "b.md",
                "+++\ntitle = \"B\"\ndefault_type = \"faq\"\ntype = \"sop\"\n+++\n",
            ),
        ])
        .unwrap_err();
        let shown: Vec<(String, String)> = errs
            .iter()
            .map(|d| (d.position(), d.help.clone().unwrap_or_default()))
            .collect();
        assert_eq!(shown[0].0, "content/b.md:3:16", "{shown:?}");
        assert_eq!(shown[1].0, "content/notes/a.md:1:1");
        assert!(shown[1].1.contains("content/notes/_index.md"), "{shown:?}");
    }
}

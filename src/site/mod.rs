//! Build: orchestrates load -> render -> output. Every page renders in parallel into a [`Sink`]
//! (a staging folder for `kbpub build`, memory for `kbpub serve`, a link recorder for `kbpub
//! check`); links to anchors are checked
//! once every page's headings are known; then the staged build is swapped in, or thrown away
//! with every problem reported when anything failed.

pub mod context;
pub mod feed;
pub mod nav;
pub mod output;
pub mod partner;
pub mod reuse;
pub mod search;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::Config;
use crate::content::{self, Site};
use crate::data::{self, Dataset};
use crate::diag::Diagnostic;
use crate::render::{AnchorRef, DataUse, Engine, RenderedBody, View, highlight, templates};
use crate::text::visible;
pub use context::Banner;
use nav::Nav;
pub use output::{Discard, Memory, Sink, Staging};

/// What a caller adds to pages beyond their content (approval state, data freshness).
#[derive(Default)]
pub struct Decorations {
    pub banners: HashMap<usize, Vec<Banner>>,
    /// Problems met while computing the decorations, reported with the build's warnings.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug)]
pub struct RenderSummary {
    /// Pages rendered (documents and sections).
    pub pages: usize,
    /// Files written, pages included.
    pub files: usize,
    pub warnings: Vec<Diagnostic>,
    /// For each page, the pages it links to.
    pub links: Vec<Vec<usize>>,
}

#[derive(Debug)]
pub struct BuildSummary {
    pub render: RenderSummary,
    pub output: PathBuf,
    /// Pages taken unchanged from the previous output without rendering them (`site::reuse`).
    pub reused: usize,
}

/// `kbpub build`: renders the whole site and swaps it into the output folder atomically.
/// `decorate` computes the pages' banners once the site is loaded and its templates compiled.
pub fn build(
    config: &Config,
    decorate: impl FnOnce(&Engine) -> Decorations,
) -> Result<BuildSummary, Vec<Diagnostic>> {
    let (site, mut diagnostics, data) = load(config)?;
    let engine = Engine::new(&site, data).map_err(|errors| merged(&diagnostics, errors))?;
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let mut decorations = if failed {
        Decorations::default()
    } else {
        decorate(&engine)
    };
    diagnostics.append(&mut decorations.warnings);
    let output = config.output_dir();
    let reuse = reuse::Reuse::open(&engine, &config.cache_dir(), &output);
    let summary = write_atomically(output, diagnostics, |staging| {
        let nav = Nav::new(engine.site);
        let mut rendered = Rendered::new(engine.site);
        let body = |page| engine.render_body(page, View::Internal);
        let pages = nav.order();
        rendered.render_pages(
            &engine,
            &nav,
            &decorations,
            pages,
            staging,
            &body,
            Some(&reuse),
        );
        rendered.finish(&engine, &nav, &Generated::ALL, staging)
    })?;
    let reused = reuse.save(engine.site);
    Ok(BuildSummary { reused, ..summary })
}

/// Renders into a staging folder beside `output` and swaps it in when nothing failed;
/// `diagnostics` (earlier warnings or errors) are reported with the render's own.
fn write_atomically(
    output: PathBuf,
    diagnostics: Vec<Diagnostic>,
    render: impl FnOnce(&Staging) -> Result<RenderSummary, Vec<Diagnostic>>,
) -> Result<BuildSummary, Vec<Diagnostic>> {
    let cannot_write =
        |e: &std::io::Error| vec![io_error(&format!("cannot write {}", output.display()), e)];
    let staging = Staging::new(&output).map_err(|e| cannot_write(&e))?;
    let render = outcome(diagnostics, render(&staging))?;
    staging.commit().map_err(|e| cannot_write(&e))?;
    Ok(BuildSummary {
        render,
        output,
        reused: 0,
    })
}

/// What a build reports: `rendered` after the `earlier` diagnostics (load, decorations). `Ok`
/// with every warning when nothing is an error; `Err` with every diagnostic, sorted. `kbpub
/// check` renders the same way (into a sink that keeps only links) and reports through this too,
/// so it finds exactly what a build would.
pub fn outcome(
    mut earlier: Vec<Diagnostic>,
    rendered: Result<RenderSummary, Vec<Diagnostic>>,
) -> Result<RenderSummary, Vec<Diagnostic>> {
    let mut render = rendered.map_err(|errors| merged(&earlier, errors))?;
    if earlier.iter().any(Diagnostic::is_error) {
        return Err(merged(&earlier, render.warnings));
    }
    earlier.append(&mut render.warnings);
    render.warnings = earlier;
    Ok(render)
}

/// Loads the content and the data snapshots (in parallel: a large snapshot parses while the
/// documents are read) and adds the data-driven pages to the site.
pub fn load(config: &Config) -> Result<(Site, Vec<Diagnostic>, Arc<Dataset>), Vec<Diagnostic>> {
    let (data, files) = rayon::join(|| data::load(config), || content::read(config));
    let (data, files) = match (data, files) {
        (Ok(data), Ok(files)) => (data, files),
        (data, files) => {
            let mut errors = data.err().unwrap_or_default();
            errors.extend(files.err().unwrap_or_default());
            return Err(errors);
        }
    };
    let generated = data::pages::documents(&data, &config.data.pages);
    let (site, diagnostics) = content::assemble(config, files, generated);
    Ok((site, diagnostics, Arc::new(data)))
}

/// Load diagnostics followed by later ones, sorted by position.
pub fn merged(first: &[Diagnostic], then: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut all = first.to_vec();
    all.extend(then);
    crate::diag::sort(&mut all);
    all
}

/// What rendering learned about each page: its anchors, the links and anchors it refers to, its
/// search entry and its problems. `kbpub build` fills it once; `kbpub serve` keeps it between
/// edits, re-renders only the pages an edit affects, and still checks anchors and writes the
/// search index for the whole site.
pub struct Rendered {
    pages: Vec<PageRecord>,
}

#[derive(Default)]
struct PageRecord {
    heading_ids: HashSet<String>,
    anchor_refs: Vec<AnchorRef>,
    links_to: Vec<usize>,
    /// The page's search index entry, as JSON.
    search: String,
    diagnostics: Vec<Diagnostic>,
}

/// The generated files a render writes besides the search index, which is written every time
/// (every rendered page has an entry in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Tag pages: `None` for every tag, else only these tags.
    pub tags: Option<BTreeSet<String>>,
    /// `sitemap.xml` and `feed.xml`: they change only with how pages are listed (paths, titles,
    /// descriptions, types, status, dates).
    pub sitemap: bool,
    /// The tags index, the 404 page and the assets: they change only with the set of tags,
    /// templates or asset files.
    pub fixed: bool,
}

impl Generated {
    pub const ALL: Generated = Generated {
        tags: None,
        sitemap: true,
        fixed: true,
    };
    pub const SEARCH_INDEX_ONLY: Generated = Generated {
        tags: Some(BTreeSet::new()),
        sitemap: false,
        fixed: false,
    };
}

/// Renders every page and generated file of the site into `sink`.
pub fn render_site(
    engine: &Engine,
    decorations: &Decorations,
    sink: &dyn Sink,
) -> Result<RenderSummary, Vec<Diagnostic>> {
    render_site_with(engine, decorations, sink, &|page| {
        engine.render_body(page, View::Internal)
    })
}

/// [`render_site`] with each page's body from `body` (the partner view renders bodies its own way).
pub fn render_site_with(
    engine: &Engine,
    decorations: &Decorations,
    sink: &dyn Sink,
    body: &(dyn Fn(usize) -> RenderedBody + Sync),
) -> Result<RenderSummary, Vec<Diagnostic>> {
    let nav = Nav::new(engine.site);
    let mut rendered = Rendered::new(engine.site);
    rendered.render_pages(engine, &nav, decorations, nav.order(), sink, body, None);
    rendered.finish(engine, &nav, &Generated::ALL, sink)
}

impl Rendered {
    /// Nothing rendered yet, for every page of `site`.
    pub fn new(site: &Site) -> Rendered {
        Rendered {
            pages: site.pages.iter().map(|_| PageRecord::default()).collect(),
        }
    }

    /// Renders `pages` in parallel into `sink`, each with its body from `body`, replacing what was
    /// known about them. With `reuse`, a page whose inputs did not change since the previous build
    /// is taken from its output instead (`kbpub build`), and the others are recorded for the next.
    #[allow(clippy::too_many_arguments)]
    pub fn render_pages(
        &mut self,
        engine: &Engine,
        nav: &Nav,
        decorations: &Decorations,
        pages: &[usize],
        sink: &dyn Sink,
        body: &(dyn Fn(usize) -> RenderedBody + Sync),
        reuse: Option<&reuse::Reuse>,
    ) {
        let results: Vec<(usize, PageRecord)> = pages
            .par_iter()
            .map(|&page| {
                let url = &engine.site.pages[page].url;
                let key = reuse.map(|r| r.key(engine.site, page, banners_of(decorations, page)));
                if let Some((reuse, key)) = reuse.zip(key)
                    && let Some(record) = reuse.take(page, url, key, sink)
                {
                    return (page, record);
                }
                let (html, mut record, body_html) =
                    render_page(engine, nav, decorations, page, body(page));
                if let Err(e) = html.map_or(Ok(()), |html| sink.page(url, html, &body_html)) {
                    record
                        .diagnostics
                        .push(io_error(&format!("cannot write {url}"), &e));
                }
                if let Some((reuse, key)) = reuse.zip(key) {
                    reuse.keep(page, key, &record);
                }
                (page, record)
            })
            .collect();
        for (page, record) in results {
            self.pages[page] = record;
        }
    }

    /// The pages whose last render linked to `page`.
    pub fn linking_to(&self, page: usize) -> Vec<usize> {
        (0..self.pages.len())
            .filter(|&p| self.pages[p].links_to.binary_search(&page).is_ok())
            .collect()
    }

    /// Checks anchors across the whole site and writes the generated files `generated` asks for.
    /// The result covers every page: problems of pages rendered by an earlier call still count.
    pub fn finish(
        &self,
        engine: &Engine,
        nav: &Nav,
        generated: &Generated,
        sink: &dyn Sink,
    ) -> Result<RenderSummary, Vec<Diagnostic>> {
        let site = engine.site;
        let mut diagnostics: Vec<Diagnostic> = self
            .pages
            .iter()
            .flat_map(|r| r.diagnostics.iter().cloned())
            .collect();
        diagnostics.extend(self.check_anchors(engine));
        let entries = nav.order().iter().map(|&p| self.pages[p].search.as_str());
        let index = search::index_script(entries);
        let mut files = site.pages.len();
        files += write_generated(engine, nav, generated, index, sink, &mut diagnostics);
        crate::diag::sort(&mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        let links = self.pages.iter().map(|r| r.links_to.clone()).collect();
        Ok(RenderSummary {
            pages: site.pages.len(),
            files,
            warnings: diagnostics,
            links,
        })
    }

    fn check_anchors(&self, engine: &Engine) -> Vec<Diagnostic> {
        let refs = self
            .pages
            .iter()
            .enumerate()
            .flat_map(|(from, r)| r.anchor_refs.iter().map(move |a| (from, a)));
        refs.filter(|(_, r)| !self.pages[r.page].heading_ids.contains(&r.anchor))
            .map(|(from, r)| broken_anchor(engine, &self.pages[r.page].heading_ids, from, r))
            .collect()
    }
}

/// Renders page `page` for `view`: its HTML (`None` when the layout failed), what was learned,
/// and the HTML of its body.
fn render_page(
    engine: &Engine,
    nav: &Nav,
    decorations: &Decorations,
    page: usize,
    body: RenderedBody,
) -> (Option<String>, PageRecord, String) {
    let site = engine.site;
    let p = &site.pages[page];
    let mut diagnostics = body.diagnostics;
    let banners = banners_of(decorations, page);
    let template = engine.layout_for(page);
    let render = |data_use: DataUse| {
        let mut banners = banners.to_vec();
        banners.extend(context::data_banners(engine.data(), data_use));
        let mut context = context::page(site, nav, page, &body.html, &body.headings, &banners);
        context.insert("data", &context::data_view(engine.data(), data_use));
        engine.render_template_for(Some(page), &template, &context)
    };
    let (mut rendered, layout_use) = render(body.data);
    if layout_use.used && !body.data.used {
        // The layout itself showed data: render again so it carries "data as of" and banners.
        rendered = render(layout_use).0;
    }
    let html = rendered
        .map_err(|d| {
            diagnostics.push(d.help(format!("while rendering {} with `{template}`", p.file)))
        })
        .ok();
    // Search shows titles and headings as the page does: hidden characters as markers.
    let section = visible(&site.pages[site.sections[p.section].page].meta.title);
    let headings = body
        .headings
        .iter()
        .map(|h| (visible(&h.title), h.id.clone()))
        .collect();
    let record = PageRecord {
        search: search::Entry::new(
            &visible(&p.meta.title),
            &p.url,
            &section,
            headings,
            &body.text,
        )
        .obsolete(p.is_obsolete())
        .to_json(),
        heading_ids: body.headings.into_iter().map(|h| h.id).collect(),
        anchor_refs: body.anchor_refs,
        links_to: body.links_to,
        diagnostics,
    };
    (html, record, body.html)
}

fn banners_of(decorations: &Decorations, page: usize) -> &[Banner] {
    decorations
        .banners
        .get(&page)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Page `page` with `body` in the site's layout, as a whole HTML document, or the problems that
/// stopped it (`kbpub serve` shows reviewers the partner view this way).
pub fn render_page_view(
    engine: &Engine,
    decorations: &Decorations,
    page: usize,
    body: RenderedBody,
) -> Result<String, Vec<Diagnostic>> {
    let (html, record, _) = render_page(engine, &Nav::new(engine.site), decorations, page, body);
    match html {
        Some(html) if !record.diagnostics.iter().any(Diagnostic::is_error) => Ok(html),
        _ => Err(record.diagnostics),
    }
}

fn broken_anchor(
    engine: &Engine,
    known: &HashSet<String>,
    from: usize,
    r: &AnchorRef,
) -> Diagnostic {
    let target = &engine.site.pages[r.page];
    let markdown = engine
        .body_markdown(from, View::Internal)
        .unwrap_or_default();
    let mut known: Vec<&String> = known.iter().collect();
    known.sort();
    let suggestion = known
        .iter()
        .min_by_key(|a| strsim::levenshtein(a, &r.anchor))
        .map(|a| format!("; did you mean `#{a}`?"))
        .unwrap_or_default();
    Diagnostic::error(
        "broken-anchor",
        format!(
            "`{}` has no heading with anchor `#{}`",
            target.file, r.anchor
        ),
    )
    .at(engine.source_location(from, &markdown, r.span.clone()))
    .label("this link")
    .help(format!(
        "anchors are heading slugs (lowercase, spaces as `-`){suggestion}"
    ))
}

/// The search index (`index`), and the tag pages, sitemap and feed, tags index, 404 page and assets that
/// `generated` asks for. Returns the file count.
fn write_generated(
    engine: &Engine,
    nav: &Nav,
    generated: &Generated,
    index: String,
    sink: &dyn Sink,
    diagnostics: &mut Vec<Diagnostic>,
) -> usize {
    let site = engine.site;
    let wants_tags = generated.fixed || generated.tags.as_ref().is_none_or(|only| !only.is_empty());
    let tags = if wants_tags { site.tags() } else { Vec::new() };
    let mut files: Vec<(String, Result<Vec<u8>, Diagnostic>)> = tags
        .par_iter()
        .filter(|(name, _)| {
            generated
                .tags
                .as_ref()
                .is_none_or(|only| only.contains(name))
        })
        .map(|(name, pages)| {
            (
                context::tag_url(name),
                engine
                    .render_template("tag.html", &context::tag(site, nav, name, pages))
                    .map(String::into_bytes),
            )
        })
        .collect();
    files.push((context::SEARCH_INDEX_URL.into(), Ok(index.into_bytes())));
    if generated.sitemap {
        files.push(("sitemap.xml".into(), Ok(sitemap(site, nav).into_bytes())));
        files.push((
            feed::FEED_URL.into(),
            Ok(feed::atom(site, nav.order()).into_bytes()),
        ));
    }
    if generated.fixed {
        files.push((
            context::TAGS_INDEX_URL.into(),
            engine
                .render_template("tags.html", &context::tags_index(site, nav, &tags))
                .map(String::into_bytes),
        ));
        files.push((
            "404.html".into(),
            engine
                .render_template("404.html", &context::not_found(site))
                .map(String::into_bytes),
        ));
        files.push((
            "assets/highlight.css".into(),
            Ok(highlight::stylesheet().into_bytes()),
        ));
        match templates::assets(&site.config.templates_dir()) {
            Ok(assets) => files.extend(
                assets
                    .into_iter()
                    .map(|(name, bytes)| (format!("assets/{name}"), Ok(bytes))),
            ),
            Err(e) => diagnostics.push(io_error("cannot read templates/assets", &e)),
        }
        let content_dir = site.config.content_dir();
        files.extend(site.assets.iter().map(|rel| {
            let bytes = std::fs::read(content_dir.join(rel))
                .map_err(|e| io_error(&format!("cannot read content/{rel}"), &e));
            (rel.clone(), bytes)
        }));
    }
    let count = files.len();
    for (path, bytes) in files {
        match bytes {
            Ok(bytes) => {
                if let Err(e) = sink.write_owned(&path, bytes) {
                    diagnostics.push(io_error(&format!("cannot write {path}"), &e));
                }
            }
            Err(d) => diagnostics.push(d),
        }
    }
    count
}

fn sitemap(site: &Site, nav: &Nav) -> String {
    let pages: Vec<(String, Option<String>)> = nav
        .order()
        .iter()
        .map(|&i| {
            (
                site.pages[i].url.clone(),
                site.pages[i].updated.map(|d| d.to_string()),
            )
        })
        .collect();
    search::sitemap(&site.config.site.base_url, &pages)
}

fn io_error(action: &str, error: &std::io::Error) -> Diagnostic {
    Diagnostic::error("io", format!("{action}: {error}"))
        .help("check the files are readable, the output folder writable and the disk not full")
}

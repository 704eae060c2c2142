//! The partner view of a page: exactly what partners get. The body is rendered for
//! [`View::Partner`] (internal-only passages dropped; live data withheld while a source is
//! stale), then written by the community writer (the contract's HTML subset, sanitised, images
//! as `data:` URLs). The community target sends it; `kbpub build --audience partner` and the
//! dev server show it; the leak check reads it.

use super::community::{self, Resolver};
use super::markdown::{self, View};
use super::{AnchorRef, DataUse, Engine, Heading, raster};
use crate::content::{Audience, Site, Status};
use crate::diag::Diagnostic;

/// Whether page `page` is a partner document that partners get (current, `audience = "partner"`).
pub fn is_partner_document(site: &Site, page: usize) -> bool {
    let p = &site.pages[page];
    p.doc_type().is_some()
        && p.meta.audience == Audience::Partner
        && p.meta.status == Status::Current
}

/// The partner documents of the site, current and obsolete, in nav order: what a
/// partner-facing target publishes (current ones) and retires (obsolete ones).
pub fn documents(site: &Site) -> Vec<usize> {
    site.documents()
        .filter(|&d| site.pages[d].meta.audience == Audience::Partner)
        .collect()
}

/// One page as partners get it.
#[derive(Debug, Default)]
pub struct PartnerBody {
    /// The community HTML body (sanitised).
    pub html: String,
    /// The writer's output before sanitising, for the leak check.
    pub unsanitised: String,
    pub headings: Vec<Heading>,
    /// Readable text, for search.
    pub text: String,
    pub anchor_refs: Vec<AnchorRef>,
    pub links_to: Vec<usize>,
    pub data: DataUse,
}

/// Where links from a partner rendering go: `page_url(page, anchor)` for pages partners can
/// open (`None`: the link becomes plain text). Images are read from `content/` and embedded.
pub struct Links<'a> {
    pub site: &'a Site,
    pub page_url: &'a (dyn Fn(usize, Option<&str>) -> Option<String> + Sync),
    /// `page_url` gives relative hrefs (the partner view of the site), not article URLs.
    pub relative: bool,
}

/// Renders each of `documents` in parallel as an article for a partner-facing target: links to a
/// partner document point at `article_url(page)` when `linkable(page)` (it is, or will be,
/// published), others become plain text. Every document's result, or every problem of every
/// document.
pub fn each_article<T: Send>(
    site: &Site,
    documents: &[usize],
    article_url: &(dyn Fn(usize) -> String + Sync),
    linkable: &(dyn Fn(usize) -> bool + Sync),
    article: impl Fn(&Links, usize) -> Result<T, Vec<Diagnostic>> + Sync,
) -> Result<Vec<T>, Vec<Diagnostic>> {
    use rayon::prelude::*;
    let page_url = |page: usize, anchor: Option<&str>| {
        (is_partner_document(site, page) && linkable(page))
            .then(|| crate::content::url::with_anchor(article_url(page), anchor))
    };
    let links = Links {
        site,
        page_url: &page_url,
        relative: false,
    };
    let results: Vec<_> = documents
        .par_iter()
        .map(|&page| article(&links, page))
        .collect();
    crate::diag::all_or_problems(results)
}

/// The body a partner-facing target sends for document `page`: its partner rendering, leak
/// checked, and within the target's limit (`too_large` names a body over it). Empty when
/// nothing of the document is sent (`sent` is false: it is retired or held back by its
/// approval gate).
pub fn article_body(
    engine: &Engine,
    page: usize,
    links: &Links,
    sent: bool,
    too_large: impl Fn(&str) -> Option<Diagnostic>,
) -> Result<String, Vec<Diagnostic>> {
    if !sent {
        return Ok(String::new());
    }
    let rendered = body(engine, page, links)?;
    let leaks = super::leak::check(engine, page, &rendered);
    if !leaks.is_empty() {
        return Err(leaks);
    }
    match too_large(&rendered.html) {
        Some(too_large) => Err(vec![too_large]),
        None => Ok(rendered.html),
    }
}

impl Resolver for Links<'_> {
    fn page_url(&self, page: usize, anchor: Option<&str>) -> Option<String> {
        (self.page_url)(page, anchor)
    }

    fn image(&self, asset: &str) -> Result<String, String> {
        let bytes = std::fs::read(self.site.config.content_dir().join(asset))
            .map_err(|e| format!("cannot read content/{asset}: {e}"))?;
        let extension = asset.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        match extension.as_str() {
            "png" | "gif" | "webp" => Ok(community::data_url(&extension, &bytes)),
            "jpg" | "jpeg" => Ok(community::data_url("jpeg", &bytes)),
            "svg" => {
                let svg =
                    String::from_utf8(bytes).map_err(|_| "the SVG is not UTF-8".to_string())?;
                self.chart(&svg)
            }
            _ => Err("only PNG, JPEG, GIF, WebP and SVG images can travel to partners".into()),
        }
    }

    fn chart(&self, svg: &str) -> Result<String, String> {
        raster::svg_to_png(svg).map(|png| community::data_url("png", &png))
    }

    fn relative_links(&self) -> bool {
        self.relative
    }
}

/// Renders page `page` as partners get it. `Err`: problems the writer must fix (template
/// errors, broken links, unclosed internal markers, images that cannot be embedded).
pub fn body(engine: &Engine, page: usize, links: &Links) -> Result<PartnerBody, Vec<Diagnostic>> {
    let rendered = engine.body(page, View::Partner).map_err(|d| vec![d])?;
    let prepared = markdown::prepare(&rendered.markdown, engine.site, page, View::Partner);
    if !prepared.problems.is_empty() {
        return Err(engine.problem_diagnostics(page, &rendered.markdown, &prepared.problems));
    }
    let out = community::write(&prepared.events, links);
    if !out.problems.is_empty() {
        let file = &engine.site.pages[page].file;
        return Err(out
            .problems
            .into_iter()
            .map(|problem| {
                Diagnostic::error("partner-image", problem)
                    .in_file(file.clone())
                    .help("partners get images inside the article; use a PNG, JPEG, GIF, WebP or SVG file in content/")
            })
            .collect());
    }
    Ok(PartnerBody {
        html: out.html,
        unsanitised: out.unsanitised,
        text: super::html::plain_text(&prepared.events),
        headings: prepared.headings,
        anchor_refs: prepared.anchor_refs,
        links_to: prepared.links_to,
        data: rendered.data,
    })
}

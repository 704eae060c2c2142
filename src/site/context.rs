//! Template contexts: what each page template sees (ARCHITECTURE.md, "Template context"). Every
//! href is made relative to the page being rendered, so templates never compute paths.

use serde::Serialize;
use tera::Context;

use super::nav::{self, Link, Nav};
use crate::content::{Page, PageKind, Site, url};
use crate::data::Dataset;
use crate::render::DataUse;
use crate::render::Heading;
use crate::render::markdown::slug;

/// A notice shown above a page's content (approval state, stale data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Banner {
    pub level: &'static str,
    pub title: String,
    pub text: String,
}

#[derive(Serialize)]
struct TagLink {
    name: String,
    href: String,
}

#[derive(Serialize)]
pub struct TocEntry {
    level: u8,
    id: String,
    title: String,
    children: Vec<TocEntry>,
}

#[derive(Serialize)]
struct PageView<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(rename = "type")]
    doc_type: Option<&'static str>,
    /// What the page is: `badge` is the CSS class suffix, `type_label` the words.
    badge: Option<&'static str>,
    type_label: Option<&'static str>,
    owner: Option<&'a str>,
    audience: crate::content::Audience,
    obsolete: bool,
    /// The document that replaces an obsolete one.
    superseded_by: Option<Link>,
    /// "Edit this page": the source file in `[site] repo_url`.
    edit_href: Option<String>,
    description: Option<&'a str>,
    tags: Vec<TagLink>,
    updated: Option<String>,
    review_by: Option<String>,
    partners: &'a [String],
    source_path: &'a str,
    content: &'a str,
    toc: Vec<TocEntry>,
    extra: &'a serde_json::Value,
}

#[derive(Serialize)]
pub struct ListedPage {
    title: String,
    href: String,
    #[serde(rename = "type")]
    doc_type: Option<&'static str>,
    badge: Option<&'static str>,
    type_label: Option<&'static str>,
    owner: Option<String>,
    description: Option<String>,
    updated: Option<String>,
    section: String,
    obsolete: bool,
}

#[derive(Serialize)]
struct SubsectionView {
    title: String,
    href: String,
    description: Option<String>,
    count: usize,
}

#[derive(Serialize)]
struct SectionView<'a> {
    title: &'a str,
    /// A generated section's badge (`badge-<class>`, label), e.g. the incident index.
    badge: Option<&'static str>,
    type_label: Option<&'static str>,
    description: Option<&'a str>,
    content: &'a str,
    is_home: bool,
    pages: Vec<ListedPage>,
    subsections: Vec<SubsectionView>,
}

/// The output path of the page listing a tag.
pub fn tag_url(tag: &str) -> String {
    let slug = slug(tag);
    format!("tags/{}.html", if slug.is_empty() { "tag" } else { &slug })
}

pub const TAGS_INDEX_URL: &str = "tags/index.html";
pub const SEARCH_INDEX_URL: &str = "search-index.js";

/// The parts every page template shares.
pub fn base(site: &Site, root: &str) -> Context {
    let mut context = Context::new();
    context.insert("site", &site.config.site);
    context.insert("root", root);
    context.insert("search_index_href", &format!("{root}{SEARCH_INDEX_URL}"));
    context.insert("tags_href", &format!("{root}{TAGS_INDEX_URL}"));
    context.insert("nav_html", "");
    context.insert("breadcrumbs", &Vec::<()>::new());
    context.insert("prev", &None::<Link>);
    context.insert("next", &None::<Link>);
    context.insert("banners", &Vec::<Banner>::new());
    context.insert("data", &None::<DataView>);
    context.insert("diagrams", &false);
    context
}

/// What a page that used data shows about it: "data as of", and whether it is stale.
#[derive(Debug, Serialize)]
pub struct DataView {
    /// RFC 3339, for `datetime` attributes.
    pub as_of: String,
    /// `2026-11-20 06:00 UTC`.
    pub as_of_label: String,
    pub stale: bool,
}

/// The `data` context of a page: `None` unless it showed data (withheld data is not shown).
pub fn data_view(data: &Dataset, data_use: DataUse) -> Option<DataView> {
    if !data_use.used || data_use.withheld {
        return None;
    }
    let as_of = data.as_of()?;
    Some(DataView {
        as_of: as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        as_of_label: as_of.format("%Y-%m-%d %H:%M UTC").to_string(),
        stale: data.is_stale(),
    })
}

/// Banners for a page that used data while a source is stale.
pub fn data_banners(data: &Dataset, data_use: DataUse) -> Vec<Banner> {
    if !data_use.used {
        return Vec::new();
    }
    data.stale_sources()
        .filter_map(|source| {
            let marker = source.stale.as_ref()?;
            let failed = format!(
                "The last pull of `{}` failed at {}: {}.",
                source.name,
                marker.failed_at.format("%Y-%m-%d %H:%M UTC"),
                crate::text::display_safe(&marker.reason, 240)
            );
            let as_of = marker.snapshot_as_of.format("%Y-%m-%d %H:%M UTC");
            Some(if data_use.withheld {
                Banner {
                    level: "warning",
                    title: "Live data withheld".into(),
                    text: format!("{failed} This page is partner-facing, and partner pages are never built from stale data, so its live figures are not shown."),
                }
            } else {
                Banner { level: "warning", title: "Stale data".into(), text: format!("{failed} Figures on this page are from the snapshot as of {as_of}.") }
            })
        })
        .collect()
}

/// The context of a page (document or section) in the site's nav.
pub fn page(
    site: &Site,
    nav: &Nav,
    index: usize,
    content: &str,
    headings: &[Heading],
    banners: &[Banner],
) -> Context {
    let p = &site.pages[index];
    let root = url::root_prefix(&p.url);
    let mut context = base(site, &root);
    context.insert("nav_html", &nav::to_html(&nav.tree(index)));
    context.insert("breadcrumbs", &nav.breadcrumbs(index));
    let (prev, next) = nav.prev_next(index);
    context.insert("prev", &prev);
    context.insert("next", &next);
    context.insert("banners", banners);
    context.insert(
        "diagrams",
        &content.contains(crate::render::html::DIAGRAM_OPEN),
    );
    match p.kind {
        PageKind::Document(_) => context.insert("page", &page_view(site, p, content, headings)),
        PageKind::Section(s) => context.insert("section", &section_view(site, s, content)),
    }
    context
}

fn page_view<'a>(site: &Site, p: &'a Page, content: &'a str, headings: &[Heading]) -> PageView<'a> {
    let root = url::root_prefix(&p.url);
    let superseded_by = p
        .meta
        .superseded_by
        .as_deref()
        .and_then(|id| site.page_by_id(id))
        .map(|s| Link {
            title: site.pages[s].meta.title.clone(),
            href: url::relative_href(&p.url, &site.pages[s].url),
        });
    PageView {
        id: &p.id,
        title: &p.meta.title,
        doc_type: p.doc_type().map(|t| t.name()),
        badge: p.badge().map(|b| b.class),
        type_label: p.badge().map(|b| b.label),
        owner: p.meta.owner.as_deref(),
        audience: p.meta.audience,
        obsolete: p.is_obsolete(),
        superseded_by,
        edit_href: edit_href(site, p),
        description: p.meta.description.as_deref(),
        tags: p
            .meta
            .tags
            .iter()
            .map(|t| TagLink {
                name: t.clone(),
                href: format!("{root}{}", tag_url(t)),
            })
            .collect(),
        updated: p.updated.map(|d| d.to_string()),
        review_by: p.meta.review_by.map(|d| d.to_string()),
        partners: &p.meta.partners,
        source_path: &p.file,
        content,
        toc: toc(headings),
        extra: &p.meta.extra,
    }
}

/// The page's source in `[site] repo_url` (`<repo_url>/content/sops/x.md`), for written pages.
fn edit_href(site: &Site, p: &Page) -> Option<String> {
    let repo = site.config.site.repo_url.trim_end_matches('/');
    (!repo.is_empty() && !p.is_generated()).then(|| format!("{repo}/{}", p.file))
}

/// Nests level-2 and level-3 headings into a table of contents.
fn toc(headings: &[Heading]) -> Vec<TocEntry> {
    let mut entries: Vec<TocEntry> = Vec::new();
    for h in headings.iter().filter(|h| (2..=3).contains(&h.level)) {
        let entry = TocEntry {
            level: h.level,
            id: h.id.clone(),
            title: h.title.clone(),
            children: Vec::new(),
        };
        match entries.last_mut() {
            Some(parent) if h.level == 3 && parent.level == 2 => parent.children.push(entry),
            _ => entries.push(entry),
        }
    }
    entries
}

fn section_view<'a>(site: &'a Site, section: usize, content: &'a str) -> SectionView<'a> {
    let s = &site.sections[section];
    let page = &site.pages[s.page];
    SectionView {
        title: &page.meta.title,
        badge: page.badge.map(|b| b.class),
        type_label: page.badge.map(|b| b.label),
        description: page.meta.description.as_deref(),
        content,
        is_home: section == 0,
        pages: s
            .pages
            .iter()
            .map(|&p| listed_page(site, &page.url, p))
            .collect(),
        subsections: s
            .subsections
            .iter()
            .map(|&sub| {
                let sp = &site.pages[site.sections[sub].page];
                SubsectionView {
                    title: sp.meta.title.clone(),
                    href: url::relative_href(&page.url, &sp.url),
                    description: sp.meta.description.clone(),
                    count: count_documents(site, sub),
                }
            })
            .collect(),
    }
}

fn count_documents(site: &Site, section: usize) -> usize {
    let s = &site.sections[section];
    s.pages.len()
        + s.subsections
            .iter()
            .map(|&sub| count_documents(site, sub))
            .sum::<usize>()
}

/// Whether two versions of a page look the same from other pages: in listings ([`listed_page`]),
/// the nav, prev/next links, tag pages and the sitemap (title, order, description, type, owner,
/// date, tags, status: an obsolete page is marked in lists and left out of the nav). When they
/// differ, the pages that list it must be rendered again.
pub fn listed_alike(a: &Page, b: &Page) -> bool {
    let shown = |p: &Page| {
        let m = &p.meta;
        (
            m.title.clone(),
            m.weight,
            m.description.clone(),
            p.doc_type(),
            m.owner.clone(),
            p.updated,
            m.tags.clone(),
            m.status,
        )
    };
    shown(a) == shown(b)
}

/// A page as listed on section and tag pages.
pub fn listed_page(site: &Site, from: &str, index: usize) -> ListedPage {
    let p = &site.pages[index];
    ListedPage {
        title: p.meta.title.clone(),
        href: url::relative_href(from, &p.url),
        doc_type: p.doc_type().map(|t| t.name()),
        badge: p.badge().map(|b| b.class),
        type_label: p.badge().map(|b| b.label),
        owner: p.meta.owner.clone(),
        description: p.meta.description.clone(),
        updated: p.updated.map(|d| d.to_string()),
        section: site.pages[site.sections[p.section].page].meta.title.clone(),
        obsolete: p.is_obsolete(),
    }
}

#[derive(Serialize)]
struct TagView {
    name: String,
    pages: Vec<ListedPage>,
}

#[derive(Serialize)]
struct TagCount {
    name: String,
    href: String,
    count: usize,
}

/// The base context of a page in `tags/`, with the nav as it shows outside the content.
fn tags_base(site: &Site, nav: &Nav) -> Context {
    let mut context = base(site, "../");
    context.insert(
        "nav_html",
        &nav::to_html(&nav.tree_outside_content("tags/")),
    );
    context
}

/// The breadcrumb to the home page from a page in `tags/`.
fn home_from_tags() -> Link {
    Link {
        title: "Home".into(),
        href: "../index.html".into(),
    }
}

/// The context of the page listing tag `name`.
pub fn tag(site: &Site, nav: &Nav, name: &str, pages: &[usize]) -> Context {
    let page_url = tag_url(name);
    let mut context = tags_base(site, nav);
    context.insert(
        "breadcrumbs",
        &vec![
            home_from_tags(),
            Link {
                title: "Tags".into(),
                href: "index.html".into(),
            },
        ],
    );
    context.insert(
        "tag",
        &TagView {
            name: name.to_string(),
            pages: pages
                .iter()
                .map(|&p| listed_page(site, &page_url, p))
                .collect(),
        },
    );
    context
}

/// The context of the tags index.
pub fn tags_index(site: &Site, nav: &Nav, tags: &[(String, Vec<usize>)]) -> Context {
    let mut context = tags_base(site, nav);
    context.insert("breadcrumbs", &vec![home_from_tags()]);
    let counts: Vec<TagCount> = tags
        .iter()
        .map(|(name, pages)| TagCount {
            name: name.clone(),
            href: url::relative_href(TAGS_INDEX_URL, &tag_url(name)),
            count: pages.len(),
        })
        .collect();
    context.insert("tags", &counts);
    context
}

/// The 404 page is served at any depth, so its links are absolute from the site's base path.
pub fn not_found(site: &Site) -> Context {
    let base_path = base_path(&site.config.site.base_url);
    base(site, &base_path)
}

/// `https://kb.example.com/docs/` -> `/docs/`.
fn base_path(base_url: &str) -> String {
    let without_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let path = without_scheme
        .find('/')
        .map_or("/", |i| &without_scheme[i..]);
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(base_path("https://kb.example.com/"), "/");
        assert_eq!(base_path("https://kb.example.com/docs"), "/docs/");
        assert_eq!(base_path("http://localhost"), "/");
    }

    #[test]
    fn toc_nests_h3_under_h2() {
        let h = |level, id: &str| Heading {
            level,
            id: id.into(),
            title: id.into(),
        };
        let toc = toc(&[
            h(1, "t"),
            h(2, "a"),
            h(3, "a1"),
            h(3, "a2"),
            h(2, "b"),
            h(4, "deep"),
        ]);
        assert_eq!(toc.len(), 2);
        assert_eq!(toc[0].children.len(), 2);
        assert!(toc[1].children.is_empty());
    }
}

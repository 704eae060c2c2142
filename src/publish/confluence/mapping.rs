//! Which pages go to Confluence and where, and what each should look like: the space of every
//! document (front matter, else its section's space, else the default), the page tree (section
//! pages are parents in their space, created before their children), titles, labels from tags,
//! and the storage-format body with the "managed by kbpub" panel. Pure: reads the site and
//! content assets, never the network.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::ConfluenceConfig;
use crate::content::{PageKind, Site, Status, url};
use crate::diag::Diagnostic;
use crate::publish::gate::Gate;
use crate::render::Engine;
use crate::render::markdown::{View, prepare};
use crate::render::storage::{self, AttachmentData, PageRef};

/// Where each page of the site goes (indexed like `site.pages`).
#[derive(Debug)]
pub struct Layout {
    /// The space of every page that goes to Confluence; `None` for the rest.
    pub space: Vec<Option<String>>,
    /// The page index of each page's Confluence parent; `None`: the space's root page.
    pub parent: Vec<Option<usize>>,
    pub depth: Vec<usize>,
}

/// A page as kbpub wants it in Confluence.
#[derive(Debug, Clone)]
pub struct Desired {
    pub page: usize,
    pub title: String,
    pub space: String,
    pub labels: Vec<String>,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub hash: String,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub sha256: String,
    pub data: AttachmentData,
}

/// The Confluence title of a page: `[confluence] title`, else its title.
pub fn title(site: &Site, page: usize) -> String {
    let meta = &site.pages[page].meta;
    meta.confluence
        .title
        .clone()
        .unwrap_or_else(|| meta.title.clone())
}

/// The space a page goes to: `[confluence] space` in its front matter, else its folder's.
pub fn space_of(site: &Site, config: &ConfluenceConfig, page: usize) -> String {
    let p = &site.pages[page];
    if let Some(space) = &p.meta.confluence.space {
        return space.clone();
    }
    let dir = match p.kind {
        PageKind::Section(s) => site.sections[s].dir.as_str(),
        PageKind::Document(_) => url::parent_dir(&p.rel_path),
    };
    config.space_for_dir(dir).to_string()
}

/// Places every current document, and the section pages that hold published documents in
/// their space. The root section stands for each space's configured parent page.
pub fn layout(site: &Site, config: &ConfluenceConfig, gates: &[Gate]) -> Layout {
    let n = site.pages.len();
    let spaces: Vec<String> = (0..n).map(|i| space_of(site, config, i)).collect();
    let mut included = vec![false; n];
    let documents: Vec<usize> = site
        .documents()
        .filter(|&d| site.pages[d].meta.status == Status::Current)
        .collect();
    for &d in &documents {
        included[d] = true;
        if !gates[d].publishable {
            continue;
        }
        for s in site.ancestors(site.pages[d].section).into_iter().skip(1) {
            let section_page = site.sections[s].page;
            if spaces[section_page] == spaces[d] {
                included[section_page] = true;
            }
        }
    }
    let mut parent = vec![None; n];
    let mut depth = vec![0; n];
    // Nav order puts every section page before what it holds, so parents get depths first.
    for i in site.nav_order() {
        if !included[i] {
            continue;
        }
        let start = match site.pages[i].kind {
            PageKind::Section(s) => site.sections[s].parent,
            PageKind::Document(_) => Some(site.pages[i].section),
        };
        let mut chain = start.map(|s| site.ancestors(s)).unwrap_or_default();
        chain.reverse();
        parent[i] = chain
            .into_iter()
            .filter(|&s| s != 0)
            .map(|s| site.sections[s].page)
            .find(|&p| included[p] && spaces[p] == spaces[i]);
        depth[i] = parent[i].map_or(0, |p| depth[p] + 1);
    }
    Layout {
        space: (0..n)
            .map(|i| included[i].then(|| spaces[i].clone()))
            .collect(),
        parent,
        depth,
    }
}

/// Confluence labels from tags: lowercase, spaces as `-`, without the characters Confluence
/// refuses in labels; sorted and unique.
pub fn labels(tags: &[String]) -> Vec<String> {
    let mut labels: Vec<String> = tags
        .iter()
        .map(|t| {
            t.trim()
                .to_lowercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("-")
                .chars()
                .filter(|c| !":;,.?&[]()#^*@!<>'\"/\\".contains(*c))
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// Renders every page of `layout` that will be written (or planned): its body, attachments and
/// hash. `linkable(page)`: links to the page become `ac:link`s (it is, or will be, in
/// Confluence); others become plain text.
pub fn render(
    engine: &Engine,
    layout: &Layout,
    gates: &[Gate],
    linkable: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<Desired>, Vec<Diagnostic>> {
    let site = engine.site;
    let resolve = |p: usize| -> Option<PageRef> {
        let space = layout.space[p].clone()?;
        linkable(p).then(|| PageRef {
            space_key: space,
            title: title(site, p),
        })
    };
    let pages: Vec<usize> = (0..site.pages.len())
        .filter(|&p| layout.space[p].is_some())
        .collect();
    let results: Vec<Result<Desired, Vec<Diagnostic>>> = pages
        .par_iter()
        .map(|&page| render_page(engine, layout, gates, page, &resolve))
        .collect();
    crate::diag::all_or_problems(results)
}

/// Page `page`'s body in storage format (without the managed panel), and the Markdown it was
/// written from. `Err`: problems in the body a writer must fix (broken links, template errors).
pub fn storage_body<'s>(
    engine: &Engine<'s>,
    page: usize,
    resolve: &dyn Fn(usize) -> Option<PageRef>,
) -> Result<(std::borrow::Cow<'s, str>, storage::StorageOutput), Vec<Diagnostic>> {
    let markdown = engine
        .body_markdown(page, View::Internal)
        .map_err(|d| vec![d])?;
    let prepared = prepare(&markdown, engine.site, page, View::Internal);
    if !prepared.problems.is_empty() {
        return Err(engine.problem_diagnostics(page, &markdown, &prepared.problems));
    }
    let out = storage::write(&prepared.events, resolve);
    Ok((markdown, out))
}

fn render_page(
    engine: &Engine,
    layout: &Layout,
    gates: &[Gate],
    page: usize,
    resolve: &(dyn Fn(usize) -> Option<PageRef> + Sync),
) -> Result<Desired, Vec<Diagnostic>> {
    let site = engine.site;
    let p = &site.pages[page];
    let is_section = matches!(p.kind, PageKind::Section(_));
    let source = (!p.is_generated() && !p.source.is_empty()).then_some(p.file.as_str());
    let mut body = storage::managed_panel(source);
    let mut attachments = Vec::new();
    // A section page whose own text is not approved still holds its approved children.
    if !is_section || gates[page].publishable {
        let (_, out) = storage_body(engine, page, resolve)?;
        body.push_str(&out.xhtml);
        for a in out.attachments {
            let bytes = match &a.data {
                AttachmentData::Asset(rel) => std::fs::read(site.config.content_dir().join(rel))
                    .map_err(|e| {
                        vec![
                            Diagnostic::error("io", format!("cannot read content/{rel}: {e}"))
                                .in_file(p.file.clone()),
                        ]
                    })?,
                AttachmentData::Svg(svg) => svg.clone().into_bytes(),
            };
            attachments.push(Attachment {
                filename: a.filename,
                sha256: hex::encode(Sha256::digest(&bytes)),
                data: a.data,
            });
        }
    }
    if is_section {
        body.push_str(storage::CHILDREN_MACRO);
    }
    let title = title(site, page);
    let space = layout.space[page].clone().unwrap_or_default();
    let labels = labels(&p.meta.tags);
    let parent = layout.parent[page].map(|q| site.pages[q].id.clone());
    let hash = content_hash(
        &title,
        &space,
        parent.as_deref(),
        &labels,
        &body,
        &attachments,
    );
    Ok(Desired {
        page,
        title,
        space,
        labels,
        body,
        attachments,
        hash,
    })
}

/// What "no change" is judged by: everything kbpub writes to the page — title, space, parent
/// document, labels, storage body (live data included) and attachment bytes.
fn content_hash(
    title: &str,
    space: &str,
    parent: Option<&str>,
    labels: &[String],
    body: &str,
    attachments: &[Attachment],
) -> String {
    let attachments: Vec<(&str, &str)> = attachments
        .iter()
        .map(|a| (a.filename.as_str(), a.sha256.as_str()))
        .collect();
    let canonical = serde_json::json!({
        "title": title, "space": space, "parent": parent, "labels": labels,
        "body": body, "attachments": attachments,
    });
    crate::publish::receipt::content_hash(&canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_tags_in_confluence_form() {
        let tags = [
            "ASN".to_string(),
            "856 rejections".into(),
            "a:b".into(),
            "asn".into(),
            "  ".into(),
        ];
        assert_eq!(labels(&tags), ["856-rejections", "ab", "asn"]);
    }
}

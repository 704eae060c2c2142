//! Which documents become Salesforce Knowledge articles and what each should be: every
//! `audience = "partner"` document (current ones published, obsolete ones archived), its
//! `UrlName` (from the doc id), title, summary, placement (record type, data categories,
//! channels) and body — the partner rendering, leak checked, which is already inside the HTML
//! subset Knowledge keeps (reference §1.6; images and charts travel as `data:` PNG/JPEG, which
//! Salesforce stores as its own `rtaImage` URLs) and must fit the body field's limit — with the
//! content hash kbpub writes to its hash field. The same checks serve `kbpub check` (`preflight`).
//! Pure: reads the site and content assets, never the network.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::config::salesforce::{Placement, SalesforceConfig};
use crate::content::{Page, Site, Status, url};
use crate::diag::Diagnostic;
use crate::publish::gate::Gate;
use crate::render::Engine;
use crate::render::partner::{self, Links, documents, is_partner_document};

/// `Title` and `UrlName` hold at most this many characters.
pub const MAX_NAME: usize = 255;
/// `Summary` holds at most this many characters.
pub const MAX_SUMMARY: usize = 1000;

/// An article as kbpub wants it in Knowledge.
#[derive(Debug, Clone)]
pub struct Desired {
    pub page: usize,
    pub url_name: String,
    pub title: String,
    pub summary: String,
    pub placement: Placement,
    /// Empty for retired and gated documents (nothing of theirs is sent).
    pub body: String,
    pub hash: String,
    /// `status = "obsolete"`: archive the article.
    pub retire: bool,
}

/// The `UrlName` of document `id`: lower-case letters, digits and single hyphens (reference §6:
/// lower-case ASCII is safe whatever the org's case rule).
pub fn url_name(id: &str) -> String {
    let mut name = String::with_capacity(id.len());
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    name.trim_end_matches('-').to_string()
}

/// Problems with the names of the partner documents: a `UrlName` that is empty or too long, two
/// documents with one `UrlName`, a title over 255 characters. Nothing is written while any is
/// found (publish and `kbpub check` both ask).
pub fn name_problems(site: &Site) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut seen: HashMap<String, &Page> = HashMap::new();
    for page in documents(site) {
        let p = &site.pages[page];
        let mut problem = |code: &'static str, message: String, help: &str| {
            problems.push(
                Diagnostic::error(code, message)
                    .in_file(p.file.clone())
                    .help(help.to_string()),
            )
        };
        let name = url_name(&p.id);
        if name.is_empty() || name.len() > MAX_NAME {
            problem(
                "salesforce-url-name",
                format!(
                    "document `{}` has no usable Salesforce `UrlName` (`{name}`: letters, digits and hyphens, 1 to {MAX_NAME} characters)",
                    p.id
                ),
                "give the document an `id` of letters, digits and hyphens in its front matter",
            );
        } else if let Some(first) = seen.get(&name) {
            problem(
                "salesforce-url-name",
                format!(
                    "documents `{}` ({}) and `{}` would share the Salesforce `UrlName` `{name}`; UrlNames are unique in an org",
                    first.id, first.file, p.id
                ),
                "give one of them another `id` in its front matter",
            );
        } else {
            seen.insert(name, p);
        }
        if p.meta.title.chars().count() > MAX_NAME {
            problem(
                "salesforce-title",
                format!(
                    "the title of `{}` is over Salesforce's {MAX_NAME} characters",
                    p.id
                ),
                "shorten `title` in the front matter",
            );
        }
    }
    problems
}

/// An error when a body of `body` is over the body field's limit (counted in characters,
/// markup included, as Salesforce counts).
pub fn too_large(p: &Page, config: &SalesforceConfig, body: &str) -> Option<Diagnostic> {
    let chars = body.chars().count();
    (chars > config.body_limit).then(|| {
        Diagnostic::error(
            "too-large",
            format!(
                "the Salesforce article of `{}` would be {chars} characters, over `{}`'s limit of {} (markup and embedded images count)",
                p.id, config.body_field, config.body_limit
            ),
        )
        .in_file(p.file.clone())
        .help("images and charts travel inside the body: use fewer or smaller images, split the document, or raise the field's limit in Salesforce and `salesforce.body_limit` (at most 131072)")
    })
}

/// What publishing to Salesforce would refuse, found offline for `kbpub check`: a `[salesforce]`
/// section that cannot work, `UrlName`s that are invalid or shared, titles over the limit, and
/// bodies (images and charts included) over the body field's limit. Every current partner
/// document is checked as if it were approved; render problems are `check`'s own.
pub fn preflight(engine: &Engine, config: &SalesforceConfig) -> Vec<Diagnostic> {
    let site = engine.site;
    let mut problems: Vec<Diagnostic> = site.config.refused.salesforce.iter().cloned().collect();
    problems.extend(name_problems(site));
    let page_url = |page: usize, anchor: Option<&str>| {
        is_partner_document(site, page)
            .then(|| url::with_anchor(config.article_url(&url_name(&site.pages[page].id)), anchor))
    };
    let links = Links {
        site,
        page_url: &page_url,
        relative: false,
    };
    let documents: Vec<usize> = documents(site)
        .into_iter()
        .filter(|&d| is_partner_document(site, d))
        .collect();
    let too_large: Vec<Diagnostic> = documents
        .par_iter()
        .filter_map(|&page| {
            let body = partner::body(engine, page, &links).ok()?;
            too_large(&site.pages[page], config, &body.html)
        })
        .collect();
    problems.extend(too_large);
    problems
}

/// Renders every partner document that will be written. `linkable(page)`: links to that partner
/// document point at its article; others become plain text. `Err`: problems a writer must fix
/// (names, render errors, leaks, bodies over the limit); nothing is sent.
pub fn render(
    engine: &Engine,
    config: &SalesforceConfig,
    gates: &[Gate],
    linkable: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<Desired>, Vec<Diagnostic>> {
    let site = engine.site;
    let names = name_problems(site);
    if !names.is_empty() {
        return Err(names);
    }
    let article_url = |page: usize| config.article_url(&url_name(&site.pages[page].id));
    partner::each_article(
        site,
        &documents(site),
        &article_url,
        linkable,
        |links, page| desired(engine, config, gates, links, page),
    )
}

fn desired(
    engine: &Engine,
    config: &SalesforceConfig,
    gates: &[Gate],
    links: &Links,
    page: usize,
) -> Result<Desired, Vec<Diagnostic>> {
    let p = &engine.site.pages[page];
    let retire = p.meta.status == Status::Obsolete;
    let title = p.meta.title.clone();
    let summary = p.summary(MAX_SUMMARY);
    let placement = config.placement(url::parent_dir(&p.rel_path), p.doc_type().map(|t| t.name()));
    let sent = !retire && gates[page].publishable;
    let body = partner::article_body(engine, page, links, sent, |html| too_large(p, config, html))?;
    let url_name = url_name(&p.id);
    // What "no change" is judged by: everything kbpub writes to the article.
    let hash = crate::publish::receipt::content_hash(&serde_json::json!([
        &title,
        &url_name,
        &summary,
        &config.language,
        &serde_json::to_string(&placement_json(&placement)).unwrap_or_default(),
        &body,
    ]));
    Ok(Desired {
        page,
        url_name,
        title,
        summary,
        placement,
        body,
        hash,
        retire,
    })
}

fn placement_json(p: &Placement) -> serde_json::Value {
    serde_json::json!({
        "record_type": p.record_type,
        "data_categories": p.data_categories,
        "channels": p.channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_names_are_lower_case_letters_digits_and_single_hyphens() {
        assert_eq!(url_name("sops-asn-856"), "sops-asn-856");
        assert_eq!(
            url_name("Partners/ACME_Retail.v2"),
            "partners-acme-retail-v2"
        );
        assert_eq!(url_name("--x--"), "x");
        assert_eq!(url_name("ü"), "");
    }

    #[test]
    fn the_community_subset_is_inside_what_knowledge_keeps() {
        // Reference §1.6: the Lightning rich-text display allow-list.
        const KNOWLEDGE_TAGS: &[&str] = &[
            "a",
            "abbr",
            "acronym",
            "address",
            "br",
            "big",
            "blockquote",
            "caption",
            "cite",
            "code",
            "col",
            "colgroup",
            "del",
            "div",
            "dl",
            "dd",
            "dt",
            "em",
            "font",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "img",
            "ins",
            "kbd",
            "li",
            "ol",
            "mark",
            "p",
            "param",
            "pre",
            "q",
            "s",
            "samp",
            "small",
            "span",
            "strong",
            "sub",
            "sup",
            "table",
            "tbody",
            "td",
            "tfoot",
            "th",
            "thead",
            "tr",
            "tt",
            "u",
            "ul",
            "var",
            "strike",
        ];
        const KNOWLEDGE_ATTRIBUTES: &[&str] = &[
            "alt", "align", "border", "class", "colspan", "dir", "height", "href", "id", "lang",
            "name", "rel", "rowspan", "scope", "src", "style", "start", "target", "title", "width",
        ];
        use crate::render::community::{ATTRIBUTES, TAGS};
        assert!(TAGS.iter().all(|t| KNOWLEDGE_TAGS.contains(t)));
        assert!(ATTRIBUTES.iter().all(|a| KNOWLEDGE_ATTRIBUTES.contains(a)));
    }
}

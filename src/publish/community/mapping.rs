//! Which documents go to the partner community and what each article should be: every
//! `audience = "partner"` document (current ones published, obsolete ones archived with their
//! `superseded_by`), its category, labels from tags, and its body — the partner rendering, leak
//! checked and within the contract's 1 MiB — with the content hash that tells "no change". Pure:
//! reads the site and content assets, never the network.

use crate::config::CommunityConfig;
use crate::content::{DocType, Page, Site, Status, url};
use crate::diag::Diagnostic;
use crate::publish::gate::Gate;
use crate::render::Engine;
use crate::render::partner::{self, Links, documents};

/// The contract's limit on a request body.
pub const MAX_BODY: usize = 1 << 20;

/// An article as kbpub wants it on the community.
#[derive(Debug, Clone)]
pub struct Desired {
    pub page: usize,
    pub title: String,
    pub category: String,
    pub labels: Vec<String>,
    /// Empty for retired and gated documents (nothing of theirs is sent).
    pub body: String,
    pub hash: String,
    /// `status = "obsolete"`: archive the article.
    pub retire: bool,
    pub superseded_by: Option<String>,
}

/// The category of page `page`.
pub fn category<'c>(site: &Site, config: &'c CommunityConfig, page: usize) -> &'c str {
    let p = &site.pages[page];
    config.category(
        url::parent_dir(&p.rel_path),
        p.doc_type().map(DocType::name),
    )
}

/// Renders every partner document that will be written. `linkable(page)`: links to that partner
/// document point at its article (it is, or will be, published); others become plain text.
/// `Err`: problems a writer must fix (render errors, leaks, bodies over 1 MiB); nothing is sent.
pub fn render(
    engine: &Engine,
    config: &CommunityConfig,
    gates: &[Gate],
    linkable: &(dyn Fn(usize) -> bool + Sync),
) -> Result<Vec<Desired>, Vec<Diagnostic>> {
    let site = engine.site;
    let article_url = |page: usize| config.article_url(&site.pages[page].id);
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
    config: &CommunityConfig,
    gates: &[Gate],
    links: &Links,
    page: usize,
) -> Result<Desired, Vec<Diagnostic>> {
    let p = &engine.site.pages[page];
    let retire = p.meta.status == Status::Obsolete;
    let title = p.meta.title.clone();
    let category = category(engine.site, config, page).to_string();
    let labels = crate::publish::confluence::mapping::labels(&p.meta.tags);
    let sent = !retire && gates[page].publishable;
    let body = partner::article_body(engine, page, links, sent, |html| too_large(p, html.len()))?;
    let hash = content_hash(&title, &category, &labels, &config.locale, &body);
    Ok(Desired {
        page,
        title,
        category,
        labels,
        body,
        hash,
        retire,
        superseded_by: p.meta.superseded_by.clone(),
    })
}

/// An error when an article body of `bytes` is over the community's limit (`kbpub check` asks
/// too).
pub fn too_large(p: &Page, bytes: usize) -> Option<Diagnostic> {
    (bytes > MAX_BODY).then(|| {
        Diagnostic::error(
            "too-large",
            format!(
                "the community article of `{}` would be {:.1} MiB, over the community's 1 MiB limit",
                p.id,
                bytes as f64 / MAX_BODY as f64
            ),
        )
        .in_file(p.file.clone())
        .help("images and charts travel inside the article: use smaller images (PNG or JPEG), or split the document")
    })
}

/// What "no change" is judged by: everything kbpub writes to the article.
pub fn content_hash(
    title: &str,
    category: &str,
    labels: &[String],
    locale: &str,
    body: &str,
) -> String {
    let canonical = serde_json::json!({
        "title": title, "category": category, "labels": labels, "locale": locale, "body": body,
    });
    crate::publish::receipt::content_hash(&canonical)
}

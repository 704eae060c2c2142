//! The reviewer's side of the preview: the views of a page a reviewer can switch between (what
//! each audience gets) and the facts the reviewer panel shows about a page.
//!
//! The Confluence view runs the page through the storage-format writer ([`confluence_page`]) with
//! the publisher's titles, spaces and "managed by kbpub" panel. Links go to every page (publishing
//! turns links to pages it does not publish into plain text).
//!
//! The approval state comes from the page's approval banner, which the preview computes as
//! `kbpub build` does (`approval::banner::decorations`); data freshness from the snapshot and
//! whether the page's templates used it. More facts go in [`ReviewInfo::new`].

use chrono::NaiveDate;
use serde::Serialize;

use crate::approval::policy;
use crate::content::{Audience, Page, PageKind, Site, Status};
use crate::diag::Diagnostic;
use crate::publish::confluence::mapping;
use crate::render::Engine;
use crate::render::markdown::{self, View};
use crate::render::storage::{self, PageRef};
use crate::site::Banner;
use crate::site::context::{data_banners, data_view};
use crate::text::{escape_html, escape_visible};

/// A view of a page a reviewer can ask for with `?view=<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewView {
    /// The internal site, exactly as `kbpub build` writes it.
    Internal,
    /// The page as partners get it: internal-only passages removed.
    Partner,
    /// The page as published to Confluence: the storage format, its macros drawn roughly as
    /// Confluence draws them.
    Confluence,
}

impl ReviewView {
    pub const ALL: [ReviewView; 3] = [
        ReviewView::Internal,
        ReviewView::Partner,
        ReviewView::Confluence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReviewView::Internal => "internal",
            ReviewView::Partner => "partner",
            ReviewView::Confluence => "confluence",
        }
    }

    pub fn from_name(name: &str) -> Option<ReviewView> {
        ReviewView::ALL.into_iter().find(|v| v.name() == name)
    }

    fn label(self) -> &'static str {
        match self {
            ReviewView::Internal => "Internal",
            ReviewView::Partner => "Partner",
            ReviewView::Confluence => "Confluence",
        }
    }
}

/// What the reviewer panel shows for one document.
#[derive(Debug, Serialize)]
pub struct ReviewInfo {
    pub id: String,
    pub title: String,
    /// The file to edit: `content/sops/x.md`.
    pub source: String,
    pub views: Vec<ViewChoice>,
    pub facts: Vec<Fact>,
}

#[derive(Debug, Serialize)]
pub struct ViewChoice {
    pub name: &'static str,
    pub label: &'static str,
    pub available: bool,
    /// Why the view is not available, or what it leaves out.
    pub note: Option<String>,
}

/// One line of the panel.
#[derive(Debug, Serialize)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    /// `info` or `warning`.
    pub level: &'static str,
}

impl Fact {
    fn info(label: &'static str, value: impl Into<String>) -> Fact {
        Fact {
            label,
            value: value.into(),
            level: "info",
        }
    }

    fn warning(label: &'static str, value: impl Into<String>) -> Fact {
        Fact {
            label,
            value: value.into(),
            level: "warning",
        }
    }
}

/// Whether partners get this page at all: documents with `audience = "partner"`.
pub fn partners_get(page: &Page) -> bool {
    matches!(page.kind, PageKind::Document(_)) && page.meta.audience == Audience::Partner
}

impl ReviewInfo {
    /// The panel for page `page`, a document (section pages have no audience: `None`), on `today`;
    /// `banners` are the page's approval banners.
    pub fn new(
        engine: &Engine,
        page: usize,
        today: NaiveDate,
        banners: &[Banner],
    ) -> Option<ReviewInfo> {
        let p = &engine.site.pages[page];
        let badge = p.doc_type().and(p.badge())?;
        let internal_passages = engine
            .body_markdown(page, View::Internal)
            .is_ok_and(|md| markdown::prepare(&md, engine.site, page, View::Internal).had_internal);
        let for_partners = partners_get(p);
        let views = ReviewView::ALL
            .into_iter()
            .map(|view| {
                let (available, note) = match view {
                    ReviewView::Internal => (true, None),
                    ReviewView::Partner if !for_partners => (
                        false,
                        Some("audience is internal: partners do not get this page".to_string()),
                    ),
                    ReviewView::Partner => (
                        true,
                        internal_passages.then(|| "internal-only passages removed".to_string()),
                    ),
                    ReviewView::Confluence => (
                        true,
                        Some(
                            "the storage format kbpub publishes; macros drawn approximately"
                                .to_string(),
                        ),
                    ),
                };
                ViewChoice {
                    name: view.name(),
                    label: view.label(),
                    available,
                    note,
                }
            })
            .collect();
        let mut facts = vec![Fact::info("Type", badge.label)];
        facts.push(Fact::info(
            "Audience",
            if for_partners {
                "partner: also published to the partner community"
            } else {
                "internal: partners do not get this page"
            },
        ));
        if internal_passages {
            facts.push(Fact::info(
                "Internal-only passages",
                if for_partners {
                    "yes: removed from the partner view"
                } else {
                    "yes: marked \"Internal only\""
                },
            ));
        }
        if let Some(owner) = &p.meta.owner {
            facts.push(Fact::info("Owner", owner.clone()));
        }
        if let Some(review_by) = p.meta.review_by {
            facts.push(if review_by < today {
                Fact::warning("Review by", format!("{review_by}: overdue"))
            } else {
                Fact::info("Review by", review_by.to_string())
            });
        }
        facts.extend(approval_fact(engine.site, page, banners));
        facts.extend(data_fact(engine, page));
        if p.meta.status == Status::Obsolete {
            let by = p
                .meta
                .superseded_by
                .as_deref()
                .map(|id| format!(", superseded by `{id}`"))
                .unwrap_or_default();
            facts.push(Fact::warning("Status", format!("obsolete{by}")));
        }
        Some(ReviewInfo {
            id: p.id.clone(),
            title: p.meta.title.clone(),
            source: p.file.clone(),
            views,
            facts,
        })
    }
}

/// The document a reviewer sees when asking for the partner view of a page partners do not get.
pub fn not_for_partners(page: &Page) -> String {
    let title = escape_visible(&page.meta.title);
    let file = escape_html(&page.file);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title} (partner view)</title>\n</head>\n<body>\n\
         <main style=\"font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">\n\
         <h1>Partners do not get this page</h1>\n<p><code>{file}</code> has <code>audience = \"internal\"</code>: it is published to the \
         internal site only. Set <code>audience = \"partner\"</code> in its front matter to publish it to partners too.</p>\n\
         <p><a href=\"?view=internal\">Back to the internal view</a></p>\n</main>\n</body>\n</html>\n"
    )
}

/// The page's approval state: what its approval banner says, "approved" when it needs approval
/// and has no banner, nothing when the knowledge base has no approval policy.
fn approval_fact(site: &Site, page: usize, banners: &[Banner]) -> Option<Fact> {
    if let Some(banner) = banners.first() {
        return Some(Fact::warning(
            "Approval",
            format!("{}. {}", banner.title, banner.text),
        ));
    }
    let gated =
        site.config.root.join(policy::POLICY_FILE).exists() && policy::is_gated(&site.pages[page]);
    gated.then(|| Fact::info("Approval", "approved"))
}

/// How fresh the live data on the page is, when the page shows any.
fn data_fact(engine: &Engine, page: usize) -> Option<Fact> {
    let data_use = engine.body(page, View::Internal).ok()?.data;
    let warning = data_banners(engine.data(), data_use).into_iter().next();
    match (warning, data_view(engine.data(), data_use)) {
        (Some(banner), _) => Some(Fact::warning(
            "Data",
            format!("{}. {}", banner.title, banner.text),
        )),
        (None, Some(view)) => Some(Fact::info("Data", format!("as of {}", view.as_of_label))),
        (None, None) => None,
    }
}

/// Where page `page` goes in Confluence, as `kbpub publish` places it (its space from the front
/// matter or the `[confluence]` configuration, none when publishing is not configured).
fn confluence_ref(site: &Site, page: usize) -> PageRef {
    let space_key = match &site.config.confluence {
        Some(config) => mapping::space_of(site, config, page),
        None => site.pages[page]
            .meta
            .confluence
            .space
            .clone()
            .unwrap_or_default(),
    };
    PageRef {
        space_key,
        title: mapping::title(site, page),
    }
}

/// The Confluence view of page `page`: its body through the storage-format writer (Confluence is
/// internal, so the internal view), as an XHTML document. The browser parses it as XML, so the
/// `ac:` and `ri:` elements keep their names and the stylesheet draws code macros, panels, task
/// lists, links and attachments roughly as Confluence does.
pub fn confluence_page(engine: &Engine, page: usize) -> Result<String, Vec<Diagnostic>> {
    let site = engine.site;
    let (_, out) =
        mapping::storage_body(engine, page, &|target| Some(confluence_ref(site, target)))?;
    let p = &site.pages[page];
    let source = (!p.is_generated() && !p.source.is_empty()).then_some(p.file.as_str());
    let children = if matches!(p.kind, PageKind::Section(_)) {
        storage::CHILDREN_MACRO
    } else {
        ""
    };
    let body = format!("{}{}{children}", storage::managed_panel(source), out.xhtml);
    let here = confluence_ref(site, page);
    let space = if here.space_key.is_empty() {
        "no space set".to_string()
    } else {
        format!("space {}", here.space_key)
    };
    let attachments: String = out
        .attachments
        .iter()
        .map(|a| format!("<li>{}</li>", storage::xml_text(&a.filename)))
        .collect();
    let attachments = if attachments.is_empty() {
        String::new()
    } else {
        format!("<h2>Attachments</h2><ul>{attachments}</ul>")
    };
    let warnings: String = out
        .warnings
        .iter()
        .map(|w| format!("<li>{}</li>", storage::xml_text(&w.message)))
        .collect();
    let warnings = if warnings.is_empty() {
        String::new()
    } else {
        format!("<h2>Not carried over faithfully</h2><ul>{warnings}</ul>")
    };
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:ac=\"{AC}\" xmlns:ri=\"{RI}\" lang=\"en\">\n\
         <head><meta charset=\"utf-8\"/><title>{title} (Confluence view)</title><style>{CONFLUENCE_CSS}</style></head>\n\
         <body>\n<p class=\"cf-bar\">Confluence view ({space}): the storage format <code>kbpub publish</code> sends</p>\n\
         <main class=\"cf-page\">\n<h1 class=\"cf-title\">{title}</h1>\n{body}\n<footer class=\"cf-footer\">{attachments}{warnings}</footer>\n</main>\n</body>\n</html>\n",
        title = storage::xml_text(&here.title),
        space = storage::xml_text(&space),
        body = body,
    ))
}

/// Namespaces for the `ac:` and `ri:` prefixes, so that the storage format parses as XML.
const AC: &str = "http://atlassian.com/content";
const RI: &str = "http://atlassian.com/resource/identifier";

const CONFLUENCE_CSS: &str = "@namespace ac url(http://atlassian.com/content);\
@namespace ri url(http://atlassian.com/resource/identifier);\
body{margin:0;font:14px/1.714 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#172b4d;background:#fff}\
.cf-bar{margin:0;padding:.5rem 1.5rem;background:#0747a6;color:#fff;font-size:13px}\
.cf-page{max-width:760px;margin:0 auto;padding:1.5rem}\
.cf-title{font-size:28px;font-weight:500;margin:0 0 1.5rem}\
h1,h2,h3,h4{color:#172b4d;font-weight:600}\
table{border-collapse:collapse}th,td{border:1px solid #c1c7d0;padding:7px 10px}th{background:#f4f5f7}\
ac|parameter,ri|page,ac|task-id,ac|task-status{display:none}\
ac|structured-macro{display:block;margin:1em 0}\
ac|structured-macro[ac|name=anchor]{display:none}\
ac|structured-macro[ac|name=code]{white-space:pre;overflow:auto;padding:.75rem 1rem;background:#f4f5f7;border:1px solid #dfe1e6;border-radius:3px;font:12px/1.5 SFMono-Medium,Menlo,Consolas,monospace}\
ac|structured-macro[ac|name=info],ac|structured-macro[ac|name=note],ac|structured-macro[ac|name=tip],ac|structured-macro[ac|name=warning]{padding:.5rem 1rem;border-radius:3px;background:#deebff}\
ac|structured-macro[ac|name=note]{background:#eae6ff}ac|structured-macro[ac|name=tip]{background:#e3fcef}ac|structured-macro[ac|name=warning]{background:#ffebe6}\
ac|structured-macro>ac|parameter[ac|name=title]{display:block;font-weight:600}\
ac|rich-text-body,ac|plain-text-body{display:block}\
ac|task-list{display:block;margin:.5em 0;padding-left:1.5em}ac|task{display:list-item;list-style:'\\2610  '}\
ac|link{color:#0052cc;text-decoration:underline}\
ac|image{display:inline-block;padding:.25rem .5rem;border:1px dashed #97a0af;color:#5e6c84}\
ac|image::before{content:'Image attachment'}\
.cf-footer{margin-top:2rem;color:#5e6c84;font-size:12px}";

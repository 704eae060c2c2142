//! The reviewer's side of the preview: the views of a page a reviewer can switch between (what
//! each audience gets) and the facts the reviewer panel shows about a page.
//!
//! Extension points for what lands later:
//! - **Confluence view** (storage-format writer): add a `ReviewView::Confluence` variant and
//!   render it in `Preview::view_page` (preview.rs) from the storage format, inside a page that
//!   looks like Confluence; the panel lists every variant of [`ReviewView::ALL`].
//! - **Approval state** and **data freshness**: push a [`Fact`] for each in [`ReviewInfo::new`]
//!   (e.g. "Approval: stale, approved hash ab12… before the last edit", level `warning`; "Data: as
//!   of 2026-11-20 09:00 UTC"). Banners on the page itself come from `site::Decorations`, which
//!   the preview builds like `kbpub build` does.

use chrono::NaiveDate;
use serde::Serialize;

use crate::content::{Audience, Page, PageKind, Status};
use crate::render::Engine;
use crate::render::escape::escape_html;
use crate::render::markdown::{self, View};

/// A view of a page a reviewer can ask for with `?view=<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewView {
    /// The internal site, exactly as `kbpub build` writes it.
    Internal,
    /// The page as partners get it: internal-only passages removed.
    Partner,
}

impl ReviewView {
    pub const ALL: [ReviewView; 2] = [ReviewView::Internal, ReviewView::Partner];

    pub fn name(self) -> &'static str {
        match self {
            ReviewView::Internal => "internal",
            ReviewView::Partner => "partner",
        }
    }

    pub fn from_name(name: &str) -> Option<ReviewView> {
        ReviewView::ALL.into_iter().find(|v| v.name() == name)
    }

    fn label(self) -> &'static str {
        match self {
            ReviewView::Internal => "Internal",
            ReviewView::Partner => "Partner",
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
    /// The panel for page `page`, a document (section pages have no audience: `None`), on `today`.
    pub fn new(engine: &Engine, page: usize, today: NaiveDate) -> Option<ReviewInfo> {
        let p = &engine.site.pages[page];
        let doc_type = p.doc_type()?;
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
                };
                ViewChoice {
                    name: view.name(),
                    label: view.label(),
                    available,
                    note,
                }
            })
            .collect();
        let mut facts = vec![Fact::info("Type", doc_type.label())];
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
    let title = escape_html(&page.meta.title);
    let file = escape_html(&page.file);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title} (partner view)</title>\n</head>\n<body>\n\
         <main style=\"font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem\">\n\
         <h1>Partners do not get this page</h1>\n<p><code>{file}</code> has <code>audience = \"internal\"</code>: it is published to the \
         internal site only. Set <code>audience = \"partner\"</code> in its front matter to publish it to partners too.</p>\n\
         <p><a href=\"?view=internal\">Back to the internal view</a></p>\n</main>\n</body>\n</html>\n"
    )
}

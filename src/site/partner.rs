//! `kbpub build --audience partner`: the partner view of the site, for reviewers — only the
//! documents partners get (current, `audience = "partner"`) and the sections that hold them, each
//! body exactly as the community gets it (`render::partner`: internal passages dropped, links to
//! pages partners cannot open as plain text, images inside), leak checked, in the site's own
//! layout. Written atomically to `[partner] output` (`output-partner/`), beside `output/`.

use std::collections::HashMap;

use super::{BuildSummary, Decorations, merged, render_site_with, write_atomically};
use crate::config::Config;
use crate::content::{Audience, url};
use crate::diag::Diagnostic;
use crate::render::leak;
use crate::render::partner::{self, Links, is_partner_document};
use crate::render::{AnchorRef, Engine, RenderedBody};
use crate::site::Banner;

/// Renders the partner view into `[partner] output`. `decorate` computes banners over the whole
/// site (approval state), as for `kbpub build`.
pub fn build(
    config: &Config,
    decorate: impl FnOnce(&Engine) -> Decorations,
) -> Result<BuildSummary, Vec<Diagnostic>> {
    let (site, mut diagnostics, data) = super::load(config)?;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let engine = Engine::new(&site, data.clone()).map_err(|e| merged(&diagnostics, e))?;
    let mut decorations = decorate(&engine);
    diagnostics.append(&mut decorations.warnings);
    let (view, original) = site.subset(&|p| is_partner_document(&site, p), &|p| {
        site.pages[p].meta.audience == Audience::Partner
    });
    let view_engine = Engine::new(&view, data).map_err(|e| merged(&diagnostics, e))?;
    let position: HashMap<usize, usize> =
        original.iter().enumerate().map(|(i, &o)| (o, i)).collect();
    let notice = Banner {
        level: "info",
        title: "Partner view".into(),
        text: "This is what partners get on the community: internal-only passages are removed and links to internal pages are plain text.".into(),
    };
    let banners = original
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut list = vec![notice.clone()];
            list.extend(decorations.banners.remove(o).unwrap_or_default());
            (i, list)
        })
        .collect();
    let decorations = Decorations {
        banners,
        warnings: Vec::new(),
    };
    let body = |i: usize| -> RenderedBody {
        let full = original[i];
        if site.pages[full].meta.audience != Audience::Partner {
            return RenderedBody::default(); // a section page's own text is internal
        }
        let from = &view.pages[i].url;
        let page_url = |target: usize, anchor: Option<&str>| {
            let &t = position.get(&target)?;
            Some(url::with_anchor(
                url::relative_href(from, &view.pages[t].url),
                anchor,
            ))
        };
        let links = Links {
            site: &site,
            page_url: &page_url,
            relative: true,
        };
        rendered_body(&engine, full, &links, &|p| position.get(&p).copied())
    };
    write_atomically(config.partner_output_dir(), diagnostics, |staging| {
        render_site_with(&view_engine, &decorations, staging, &body)
    })
}

/// Page `page`'s body as partners get it (`render::partner::body`), leak checked, ready for the
/// site's layout. `index` maps a page of the full site to the page it is among those rendered
/// (`None`: not rendered), for the links and anchors the body refers to.
pub fn rendered_body(
    engine: &Engine,
    page: usize,
    links: &Links,
    index: &dyn Fn(usize) -> Option<usize>,
) -> RenderedBody {
    match partner::body(engine, page, links) {
        Ok(rendered) => RenderedBody {
            diagnostics: leak::check(engine, page, &rendered),
            anchor_refs: rendered
                .anchor_refs
                .into_iter()
                .filter_map(|r| {
                    Some(AnchorRef {
                        page: index(r.page)?,
                        ..r
                    })
                })
                .collect(),
            links_to: rendered.links_to.iter().filter_map(|&p| index(p)).collect(),
            html: rendered.html,
            headings: rendered.headings,
            text: rendered.text,
            data: rendered.data,
        },
        Err(problems) => RenderedBody {
            diagnostics: problems,
            ..RenderedBody::default()
        },
    }
}

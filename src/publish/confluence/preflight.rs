//! What `kbpub publish` would refuse or lose in Confluence, found without the network, for
//! `kbpub check`: a `[confluence]` section that cannot work, titles that would collide in a space
//! (publish writes nothing then), and Markdown that storage format cannot carry (raw HTML, which
//! Confluence shows as text). Every current page is checked as if it were approved: any of them
//! may be published once it is.

use std::collections::HashMap;

use rayon::prelude::*;

use super::mapping;
use crate::config::ConfluenceConfig;
use crate::diag::Diagnostic;
use crate::publish::gate::Gate;
use crate::publish::plan::{self, Place, Rules, Wanted};
use crate::render::Engine;
use crate::render::storage::PageRef;

/// Every problem publishing the site to Confluence would meet before reaching the server.
pub fn check(engine: &Engine, config: &ConfluenceConfig) -> Vec<Diagnostic> {
    let site = engine.site;
    let mut diagnostics: Vec<Diagnostic> = site.config.refused.confluence.iter().cloned().collect();
    let approved = Gate {
        state: "approved".into(),
        publishable: true,
        reasons: Vec::new(),
        approved_hash: None,
        approvals_used: Vec::new(),
        emergency: None,
    };
    let gates = vec![approved; site.pages.len()];
    let layout = mapping::layout(site, config, &gates);
    let pages: Vec<usize> = (0..site.pages.len())
        .filter(|&p| layout.space[p].is_some())
        .collect();
    diagnostics.extend(title_collisions(engine, &layout, &pages));
    let resolve = |p: usize| {
        Some(PageRef {
            space_key: layout.space[p].clone()?,
            title: mapping::title(site, p),
        })
    };
    let unsupported: Vec<Vec<Diagnostic>> = pages
        .par_iter()
        .map(|&page| unsupported_markdown(engine, page, &resolve))
        .collect();
    diagnostics.extend(unsupported.into_iter().flatten());
    diagnostics
}

/// Titles are unique per space in Confluence, ignoring case: the same check the publish plan makes.
fn title_collisions(engine: &Engine, layout: &mapping::Layout, pages: &[usize]) -> Vec<Diagnostic> {
    let site = engine.site;
    let wanted: Vec<Wanted> = pages
        .iter()
        .map(|&p| Wanted {
            page: p,
            key: site.pages[p].id.clone(),
            source: site.pages[p].file.clone(),
            title: mapping::title(site, p),
            place: Place {
                scope: layout.space[p].clone().unwrap_or_default(),
                parent: layout.parent[p].map(|q| site.pages[q].id.clone()),
            },
            hash: String::new(),
            gated: None,
            depth: layout.depth[p],
            retire: false,
        })
        .collect();
    let rules = Rules {
        unique_titles: true,
        ..Rules::default()
    };
    let by_file: HashMap<&str, usize> = pages
        .iter()
        .map(|&p| (site.pages[p].file.as_str(), p))
        .collect();
    let title_location = |file: &str| site.pages[by_file[file]].key_location("title");
    plan::plan(&wanted, &[], rules)
        .collisions
        .into_iter()
        .map(|c| {
            Diagnostic::error(
                "title-collision",
                format!(
                    "`{}` would have the same Confluence title as `{}` in space {}: \"{}\"",
                    c.second, c.first, c.scope, c.title
                ),
            )
            .at(title_location(&c.second))
            .label("same title, ignoring case")
            .related(title_location(&c.first), "the other page")
            .help("Confluence titles are unique per space: give one of them another `title`, or `[confluence] title = \"...\"` in its front matter; publish writes nothing while titles collide")
        })
        .collect()
}

/// Warnings for what storage format cannot carry in page `page`, each at its place in the source.
fn unsupported_markdown(
    engine: &Engine,
    page: usize,
    resolve: &dyn Fn(usize) -> Option<PageRef>,
) -> Vec<Diagnostic> {
    // Raw HTML needs a `<` in the body, or template syntax that may produce one.
    let body = engine.site.pages[page].body();
    if !body.contains('<') && !body.contains('{') {
        return Vec::new();
    }
    // A body with problems is reported by the site render already.
    let Ok((markdown, out)) = mapping::storage_body(engine, page, resolve) else {
        return Vec::new();
    };
    let mut searched_to = 0;
    out.warnings
        .into_iter()
        .map(|warning| {
            let found = markdown[searched_to..]
                .find(&warning.markdown)
                .map(|i| searched_to + i);
            let span = match found {
                Some(start) => {
                    searched_to = start + warning.markdown.len();
                    start..searched_to
                }
                None => 0..0,
            };
            Diagnostic::warning("confluence-html", warning.message)
                .at(engine.source_location(page, &markdown, span))
                .label("shown as text in Confluence")
                .help("use Markdown instead of raw HTML (tables, emphasis, `<br>` line breaks and `<!-- comments -->` are fine)")
        })
        .collect()
}

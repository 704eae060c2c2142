//! Data references in front matter: `partners = [...]` ties a page to partners' live data, so
//! each id must be a partner in the data snapshot. A misspelt id would otherwise show nothing for
//! that partner, silently. (Template calls with an unknown id, `partner(id="NOPE")`, fail the
//! render itself and are reported there, at the call.)
//!
//! An unknown id is an error, like a broken link: the snapshot checked is the one committed with
//! the change, so the result does not depend on when check runs. It is a warning when a source's
//! snapshot is partial (the partner may be in the part that is missing). Without data sources
//! `partners` is a plain list of names and is not checked.

use crate::content::{Page, Site, frontmatter};
use crate::data::Dataset;
use crate::diag::{Diagnostic, Location};

pub fn partners(site: &Site, data: &Dataset) -> Vec<Diagnostic> {
    if !data.is_configured() {
        return Vec::new();
    }
    let partial = data.sources.iter().any(|s| s.is_partial);
    let mut diagnostics = Vec::new();
    for page in &site.pages {
        for id in &page.meta.partners {
            if data.partner(id).is_some() {
                continue;
            }
            let closest = data
                .partners
                .iter()
                .map(|p| (strsim::levenshtein(&p.id, id), p.id.as_str()))
                .min()
                .filter(|(distance, _)| *distance <= 3)
                .map(|(_, known)| format!("did you mean `{known}`? "))
                .unwrap_or_default();
            let message =
                format!("`partners` names `{id}`, which is not a partner in the data snapshot");
            let diagnostic = if partial {
                Diagnostic::warning("unknown-partner", message)
            } else {
                Diagnostic::error("unknown-partner", message)
            };
            diagnostics.push(
                diagnostic
                    .at(id_location(page, id))
                    .label("unknown partner id")
                    .help(format!(
                        "{closest}use a partner id from the snapshot ({} partners, e.g. `{}`); `kbpub data pull` refreshes it",
                        data.partners.len(),
                        data.partners.first().map_or("", |p| p.id.as_str())
                    )),
            );
        }
    }
    diagnostics
}

/// Where `id` is written in the page's `partners` list (which may span several lines).
fn id_location(page: &Page, id: &str) -> Location {
    let key = page.key_location("partners");
    let header_end = frontmatter::split(&page.source).map_or(0, |s| s.header.end);
    let from = key.span.start.min(header_end);
    let found = page.source[from..header_end]
        .match_indices(id)
        .map(|(i, _)| from + i)
        .find(|&i| {
            let before = page.source[..i].chars().next_back();
            let after = page.source[i + id.len()..].chars().next();
            let is_id_char = |c: Option<char>| {
                c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.')
            };
            !is_id_char(before) && !is_id_char(after)
        });
    match found {
        Some(start) => Location::new(
            page.file.clone(),
            page.source.clone(),
            start..start + id.len(),
        ),
        None => key,
    }
}

//! The partner leak check (`render::leak`, the one the community target and `kbpub build
//! --audience partner` run) on the partner rendering of every partner document: an internal-only
//! marker that was not recognised, an internal host or e-mail address, or a link to the internal
//! site is an error here as it is there. Partner-only rendering problems (an image that cannot
//! travel to partners) are reported too, and with a `[community]` target what it would refuse: a
//! broken `[community]` section, an article over its size limit.

use rayon::prelude::*;

use crate::content::url;
use crate::diag::Diagnostic;
use crate::publish::community::mapping::too_large;
use crate::render::Engine;
use crate::render::leak;
use crate::render::partner::{self, Links, is_partner_document};

pub fn check(engine: &Engine) -> Vec<Diagnostic> {
    let site = engine.site;
    let community = site.config.community.as_ref();
    let mut diagnostics: Vec<Diagnostic> = site.config.refused.community.iter().cloned().collect();
    let documents: Vec<usize> = (0..site.pages.len())
        .filter(|&p| is_partner_document(site, p))
        .collect();
    let found: Vec<Diagnostic> = documents
        .par_iter()
        .flat_map_iter(|&page| {
            // Links between partner documents stay links (as in the partner view of the site);
            // links to anything else become plain text.
            let from = &site.pages[page].url;
            let page_url = |target: usize, anchor: Option<&str>| {
                is_partner_document(site, target).then(|| {
                    url::with_anchor(url::relative_href(from, &site.pages[target].url), anchor)
                })
            };
            let links = Links {
                site,
                page_url: &page_url,
                relative: true,
            };
            match partner::body(engine, page, &links) {
                Ok(body) => {
                    let mut found = leak::check(engine, page, &body);
                    let too_large =
                        community.and_then(|_| too_large(&site.pages[page], body.html.len()));
                    found.extend(too_large);
                    found
                }
                Err(problems) => problems,
            }
        })
        .collect();
    diagnostics.extend(found);
    diagnostics
}

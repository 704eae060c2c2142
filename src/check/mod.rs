//! `kbpub check`: everything `build` and `publish` would find, and more, without writing
//! anything. The site is loaded, compiled and rendered through the same `site::render_site` and
//! `site::outcome` as a build
//! (into a sink that keeps only the links between pages), so check reports exactly what build
//! would; then it adds what only matters for publishing or for readers:
//!
//! - `references`: front matter naming partners the data snapshot does not know
//! - `review`: `review_by` dates passed or close, and approval states (as publish gates them)
//! - `nav`: pages no navigation leads to from the home page
//! - `leaks`: the partner leak check on every partner document's partner rendering
//! - `publish::confluence::preflight`: what Confluence would refuse or lose
//! - `publish::salesforce::mapping::preflight`: what Salesforce Knowledge would refuse
//! - `publish::amplience::mapping::preflight`: what Amplience would refuse
//! - `notify::preflight`: `[[notify]]` entries, their credentials and X texts
//! - `external` (with `--external`): links to other sites, checked over HTTP with a cache
//!
//! Nothing is written but the external-link cache (`.kbpub-cache/`, git-ignored).

pub mod external;
pub mod leaks;
pub mod nav;
pub mod references;
pub mod review;

use crate::approval::{self, policy};
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::render::Engine;
use crate::site;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also check links to other sites (network access).
    pub external: bool,
}

/// What check found.
#[derive(Debug)]
pub struct Report {
    /// Pages checked (documents, section pages and data-driven pages).
    pub pages: usize,
    /// External links checked (distinct URLs), with `--external`.
    pub external_links: Option<usize>,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks the knowledge base of `config`. Never writes into the site.
pub fn check(config: &Config, options: Options) -> Report {
    let mut report = Report {
        pages: 0,
        external_links: None,
        diagnostics: Vec::new(),
    };
    let (site, mut diagnostics, data) = match site::load(config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            report.diagnostics = errors;
            return report;
        }
    };
    report.pages = site.pages.len();
    let now = match approval::now() {
        Ok(now) => now,
        Err(d) => {
            report.diagnostics = vec![d];
            return report;
        }
    };
    diagnostics.extend(references::partners(&site, &data));
    diagnostics.extend(review::dates(&site, now, config.check.review_due_within));
    let engine = match Engine::new(&site, data) {
        Ok(engine) => engine,
        Err(errors) => {
            diagnostics.extend(errors);
            crate::diag::sort(&mut diagnostics);
            report.diagnostics = diagnostics;
            return report;
        }
    };
    let evaluated = approvals(&engine, now);
    let mut decorations = match &evaluated {
        Some(evaluated) => approval::banner::decorations_for(&site, evaluated),
        None => site::Decorations::default(),
    };
    // Approval problems are reported below as check sees them (a broken policy is an error
    // here; a build, being a preview, reports it as a warning).
    decorations.warnings.clear();
    let links = nav::Recorder::default();
    let rendered = site::render_site(&engine, &decorations, &links);
    let mut diagnostics = match site::outcome(diagnostics, rendered) {
        Ok(summary) => summary.warnings,
        Err(all) => all,
    };
    diagnostics.extend(nav::unreachable(&site, &links));
    match &evaluated {
        Some(evaluated) => diagnostics.extend(review::approvals(&site, evaluated, now)),
        // Publishing needs a policy: without one, publish would publish nothing.
        None if config.confluence.is_some()
            || config.community.is_some()
            || config.salesforce.is_some()
            || config.amplience.is_some() =>
        {
            diagnostics.extend(approval::Error::NoPolicy.diagnostics())
        }
        None => {}
    }
    diagnostics.extend(leaks::check(&engine));
    if let Some(confluence) = &config.confluence {
        diagnostics.extend(crate::publish::confluence::preflight::check(
            &engine, confluence,
        ));
    }
    if let Some(salesforce) = &config.salesforce {
        diagnostics.extend(crate::publish::salesforce::mapping::preflight(
            &engine, salesforce,
        ));
    }
    if let Some(amplience) = &config.amplience {
        diagnostics.extend(crate::publish::amplience::mapping::preflight(
            &engine, amplience,
        ));
    }
    diagnostics.extend(crate::notify::preflight::check(&site, &|name| {
        std::env::var(name).ok()
    }));
    if options.external {
        let (checked, found) = external::check(&engine, &config.check.external, now);
        report.external_links = Some(checked);
        diagnostics.extend(found);
    }
    crate::diag::sort(&mut diagnostics);
    // The partner rendering meets the same template and link problems as the site's.
    diagnostics.dedup_by(|a, b| {
        (a.severity, a.code, &a.message) == (b.severity, b.code, &b.message)
            && a.position() == b.position()
    });
    report.diagnostics = diagnostics;
    report
}

/// Approval states, when the site has a policy (`None` without one: nothing is gated).
fn approvals(
    engine: &Engine,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Result<approval::Approvals, approval::Error>> {
    let has_policy = engine.site.config.root.join(policy::POLICY_FILE).exists();
    has_policy.then(|| approval::evaluate(engine, now))
}

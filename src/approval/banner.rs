//! Approval banners for the built site: every page that needs approval and is not approved gets
//! a banner saying its state and why; approved pages get none. When the state cannot be known
//! (no git history, a shallow clone, a broken policy) the build still succeeds — it is a
//! preview — and each such page says why its approval state is unknown; publishing fails closed.

use std::collections::HashMap;

use super::{Approvals, Error, State, evaluate, now, policy};
use crate::content::Site;
use crate::diag::{Diagnostic, Severity};
use crate::render::Engine;
use crate::site::{Banner, Decorations};

/// Banners for `kbpub build`: nothing (and no work) when the knowledge base has no policy.
pub fn decorations(engine: &Engine) -> Decorations {
    if !engine.site.config.root.join(policy::POLICY_FILE).exists() {
        return Decorations::default();
    }
    let evaluated = now()
        .map_err(|d| Error::History(Box::new(d)))
        .and_then(|now| evaluate(engine, now));
    decorations_for(engine.site, &evaluated)
}

/// Banners for the outcome of [`evaluate`]: the approval state of each page that is not
/// approved, or on every gated page why its state is unknown (the errors become warnings).
pub fn decorations_for(site: &Site, evaluated: &Result<Approvals, Error>) -> Decorations {
    match evaluated {
        Ok(approvals) => Decorations {
            banners: banners(approvals),
            warnings: approvals.warnings.clone(),
        },
        Err(error) => {
            let banner = Banner {
                level: "warning",
                title: "Approval state unknown".into(),
                text: format!(
                    "{}. Publishing is blocked until this is fixed.",
                    error.summary()
                ),
            };
            let banners = (0..site.pages.len())
                .filter(|&i| policy::is_gated(&site.pages[i]))
                .map(|i| (i, vec![banner.clone()]))
                .collect();
            let warnings = error.diagnostics().into_iter().map(as_warning).collect();
            Decorations { banners, warnings }
        }
    }
}

/// A banner for every page that is not approved (every page of a family that is not).
pub fn banners(approvals: &Approvals) -> HashMap<usize, Vec<Banner>> {
    approvals
        .by_page
        .iter()
        .map(|(&page, &n)| (page, &approvals.pages[n]))
        .filter(|(_, p)| p.state != State::Approved)
        .map(|(page, p)| {
            let (level, title) = match p.state {
                State::Emergency => (
                    "danger",
                    "Emergency approval: published without regular review",
                ),
                State::Rejected => ("danger", "Rejected: not approved for publication"),
                State::Blocked => ("danger", "Blocked: an approval record cannot be read"),
                State::Stale => (
                    "warning",
                    "Changed since it was approved: needs approval again",
                ),
                State::Expired => ("warning", "Approval expired: needs approval again"),
                State::Draft | State::Approved => {
                    ("warning", "Draft: not approved for publication")
                }
            };
            let text = p
                .reasons
                .iter()
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
                .join(". ")
                .replace('`', "");
            (
                page,
                vec![Banner {
                    level,
                    title: title.into(),
                    text,
                }],
            )
        })
        .collect()
}

/// The build goes on without approval states, so their errors are reported as warnings.
fn as_warning(mut d: Diagnostic) -> Diagnostic {
    d.severity = Severity::Warning;
    let help = d.help.take().map(|h| format!("{h}; ")).unwrap_or_default();
    d.help(format!("{help}the site was built with \"approval state unknown\" banners, and publishing is blocked"))
}

//! Approval gating as publish targets see it: for each page, may it be published, and if not,
//! why. A thin view of `approval::evaluate` (issue 4): when the approval states cannot be known
//! (no or broken policy, no repository, shallow clone) publishing stops before anything is sent.

use serde::Serialize;

use crate::approval::{self, PageApproval};
use crate::diag::Diagnostic;
use crate::render::Engine;

/// One page's approval state, as publish needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// `approved`, `emergency`, `stale`, `expired`, `rejected`, `draft`, or `generated` for
    /// section pages kbpub makes up (nothing to approve).
    pub state: String,
    pub publishable: bool,
    /// Why the page is (not) publishable, for the report.
    pub reasons: Vec<String>,
    /// The page's current content hash as approval computes it.
    pub approved_hash: Option<String>,
    /// Who approved, e.g. `Ana Ops <ana@example.com> (ops, 2026-11-02T10:00:00Z)`.
    pub approvals_used: Vec<String>,
    /// The emergency override (reason, by whom, when), when the page goes out under one.
    pub emergency: Option<String>,
}

/// The gate for every page of the engine's site (indexed like `site.pages`). An `Err` means the
/// approval states cannot be known: nothing may be published.
pub fn evaluate(engine: &Engine) -> Result<Vec<Gate>, Vec<Diagnostic>> {
    let now = approval::now().map_err(|d| vec![d])?;
    let approvals = approval::evaluate(engine, now).map_err(|e| e.diagnostics())?;
    Ok((0..engine.site.pages.len())
        .map(|page| gate(approvals.page(page)))
        .collect())
}

fn gate(approval: Option<&PageApproval>) -> Gate {
    let Some(a) = approval else {
        return Gate {
            state: "generated".into(),
            publishable: true,
            reasons: vec!["a generated section page holds nothing to approve".into()],
            approved_hash: None,
            approvals_used: Vec::new(),
            emergency: None,
        };
    };
    Gate {
        state: a.state.name().to_string(),
        publishable: a.is_publishable(),
        reasons: a.reasons.clone(),
        approved_hash: Some(a.content_hash.clone()),
        approvals_used: a
            .approvals_used
            .iter()
            .map(|u| {
                let s = &u.signoff;
                format!(
                    "{} <{}> ({}, {})",
                    s.name,
                    s.approver,
                    u.group,
                    s.time.to_rfc3339()
                )
            })
            .collect(),
        emergency: a.emergency.as_ref().map(|e| {
            let s = &e.signoff;
            format!(
                "{} — {} <{}>, {}",
                e.reason,
                s.name,
                s.approver,
                s.time.to_rfc3339()
            )
        }),
    }
}

//! Approval gating as publish targets see it: for each page, may it be published, and if not,
//! why. This is the seam to the approval module (issue 4, `approval::evaluate`): until that lands,
//! [`evaluate`] does not invent approval states — every page is reported as `unchecked`, the
//! report says so on every page, and nothing here claims a page was approved.

use serde::Serialize;

use crate::content::Site;
use crate::diag::Diagnostic;
use crate::render::Engine;

/// One page's approval state, as publish needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    /// `draft`, `approved`, `stale`, `expired`, `rejected`, `emergency` (from the approval
    /// module), or `unchecked` while gating is not built in.
    pub state: String,
    pub publishable: bool,
    /// Why the page is (not) publishable, for the report.
    pub reasons: Vec<String>,
    /// The approved content hash, when there is one.
    pub approved_hash: Option<String>,
    /// Who approved, e.g. `ana@example.com (2026-11-02)`.
    pub approvals_used: Vec<String>,
    /// The emergency override's reason, when the page is published under one.
    pub emergency: Option<String>,
}

/// The gate for every page of `site` (indexed like `site.pages`). An `Err` means gating itself
/// is broken (bad policy, shallow clone): publishing must stop, nothing may pass.
pub fn evaluate(site: &Site, _engine: &Engine) -> Result<Vec<Gate>, Diagnostic> {
    Ok(site
        .pages
        .iter()
        .map(|_| Gate {
            state: "unchecked".into(),
            publishable: true,
            reasons: vec!["approval gating is not part of this build yet".into()],
            approved_hash: None,
            approvals_used: Vec::new(),
            emergency: None,
        })
        .collect())
}

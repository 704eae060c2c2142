//! Review dates and approval states, as check reports them:
//!
//! - `review_by` passed: warning `review-overdue` (the page needs a review, and its approval
//!   ended with that day); within `[check] review_due_within` (30 days): note `review-due`.
//! - Approval states from `approval::evaluate` (what publish gates by): drafts, stale and
//!   rejected pages are notes (`approval`): normal while a change waits for review, they never fail
//!   a check; an expired approval (`approval-expired`) and a page out under an emergency approval
//!   (`emergency-approval`) are warnings: someone has to act, whatever the change, as is a page
//!   no policy rule matches (`no-approval-rule`: nobody can ever approve it), a page blocked by a
//!   record that cannot be read (`approval-blocked`), tampering with approval records after they
//!   were committed (`approval-tampering`) and a policy change awaiting its owners
//!   (`policy-pending`). When the
//!   states cannot be known (broken policy, no git history, shallow clone) that is an error:
//!   publish would publish nothing.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::approval::{self, Approvals, State};
use crate::content::{Page, PageKind, Site};
use crate::diag::Diagnostic;

/// The moment a `review_by` date has passed: the end of that day (UTC), as approvals expire.
fn end_of(day: NaiveDate) -> Option<DateTime<Utc>> {
    Some(day.succ_opt()?.and_time(NaiveTime::MIN).and_utc())
}

fn review_passed(page: &Page, now: DateTime<Utc>) -> bool {
    page.meta
        .review_by
        .and_then(end_of)
        .is_some_and(|end| end <= now)
}

pub fn dates(site: &Site, now: DateTime<Utc>, within: std::time::Duration) -> Vec<Diagnostic> {
    let within = Duration::from_std(within).unwrap_or(Duration::MAX);
    site.pages
        .iter()
        .filter(|p| matches!(p.kind, PageKind::Document(_)))
        .filter_map(|page| {
            let day = page.meta.review_by?;
            let end = end_of(day)?;
            let at = page.key_location("review_by");
            if end <= now {
                Some(
                    Diagnostic::warning(
                        "review-overdue",
                        format!("review date {day} has passed: this page is due for review"),
                    )
                    .at(at)
                    .label("passed")
                    .help("review the page, set the next `review_by` date and have it approved again; its approval ended with that day"),
                )
            } else if end <= now + within {
                let days = (end - now).num_days();
                Some(
                    Diagnostic::note(
                        "review-due",
                        format!("review due by {day} (in {days} day{})", if days == 1 { "" } else { "s" }),
                    )
                    .at(at)
                    .help("`kbpub due` lists every page due for review"),
                )
            } else {
                None
            }
        })
        .collect()
}

pub fn approvals(
    site: &Site,
    evaluated: &Result<Approvals, approval::Error>,
    now: DateTime<Utc>,
) -> Vec<Diagnostic> {
    let approvals = match evaluated {
        Ok(approvals) => approvals,
        Err(error) => {
            return error
                .diagnostics()
                .into_iter()
                .map(|d| {
                    let help = d.help.clone().map(|h| format!("{h}; ")).unwrap_or_default();
                    d.help(format!(
                        "{help}until this is fixed, `kbpub publish` publishes nothing"
                    ))
                })
                .collect();
        }
    };
    let mut diagnostics = approvals.warnings.clone();
    for a in &approvals.pages {
        let page = &site.pages[a.page];
        diagnostics.extend(a.tampering.iter().map(|t| {
            Diagnostic::warning("approval-tampering", t.clone())
                .at(page.key_location("title"))
                .help("approval records are immutable once committed: revert the change; the record as first committed is what counts")
        }));
        let why = a.reasons.join("; ");
        let diagnostic = match a.state {
            State::Approved => continue,
            // `review-overdue` already says so, at the date.
            State::Expired if review_passed(page, now) => continue,
            State::Expired => Diagnostic::warning(
                "approval-expired",
                "the approval of this page has expired: it needs approving again",
            )
            .help(format!("{why}; run `kbpub approve {}` as a reviewer", a.doc)),
            State::Draft if a.rule.is_none() => Diagnostic::warning(
                "no-approval-rule",
                "no rule in .kb/policy.toml matches this page: nobody can approve it, so it is never published",
            )
            .help("add a rule whose `paths` or `audience` match it (see the README's \"Approvals\")"),
            State::Blocked => Diagnostic::warning(
                "approval-blocked",
                "an approval record of this page cannot be read: it is blocked (fail closed)",
            )
            .help(format!("{why}; approve the page again in a later commit")),
            State::Emergency => Diagnostic::warning(
                "emergency-approval",
                "published under an emergency approval: it needs a regular approval before that ends",
            )
            .help(why),
            State::Draft | State::Stale | State::Rejected => Diagnostic::note(
                "approval",
                format!(
                    "{}: not approved, so `kbpub publish` holds it back",
                    a.state.name()
                ),
            )
            .help(why),
        };
        diagnostics.push(diagnostic.at(page.key_location("title")));
    }
    diagnostics
}

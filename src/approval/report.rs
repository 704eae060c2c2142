//! What `kbpub status` and `kbpub due` print: per page its state and reasons, and the pages whose
//! review is due, as aligned text for people or JSON for CI.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;

use super::{Approvals, State};
use crate::content::Site;

/// `kbpub status --format json`.
#[derive(Serialize)]
pub struct StatusReport<'a> {
    pub head: &'a str,
    pub now: DateTime<Utc>,
    /// `signed` (approvals count only from commits signed by the approver's keys) or
    /// `unverified` (identities rest on git's author field).
    pub identities: &'static str,
    /// Which policy is in force.
    pub policy: &'a super::governance::PolicyState,
    pub counts: BTreeMap<&'static str, usize>,
    pub pages: &'a [super::PageApproval],
}

pub fn status_json(approvals: &Approvals) -> StatusReport<'_> {
    StatusReport {
        head: &approvals.head,
        now: approvals.now,
        identities: identities(approvals).0,
        policy: &approvals.policy,
        counts: approvals
            .counts()
            .into_iter()
            .map(|(s, n)| (s.name(), n))
            .collect(),
        pages: &approvals.pages,
    }
}

/// Each page's state, id and file, with its reasons indented below.
pub fn status_text(approvals: &Approvals) -> String {
    let width = approvals
        .pages
        .iter()
        .map(|p| p.doc.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for p in &approvals.pages {
        writeln!(out, "{:<10} {:<width$}  {}", p.state.name(), p.doc, p.file).ok();
        for reason in &p.reasons {
            writeln!(out, "{:<10} {reason}", "").ok();
        }
        if let [first, rest @ ..] = p.generated_pages.as_slice() {
            let more = match rest {
                [] => String::new(),
                [second] => format!(", {second}"),
                [second, others @ ..] => format!(", {second} and {} more", others.len()),
            };
            writeln!(
                out,
                "{:<10} covers {} generated page(s): {first}{more}",
                "",
                p.generated_pages.len()
            )
            .ok();
        }
    }
    let counts: Vec<String> = approvals
        .counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.name()))
        .collect();
    let head = &approvals.head[..approvals.head.len().min(10)];
    writeln!(
        out,
        "\n{} page(s): {} (verified against commit {head} at {})",
        approvals.pages.len(),
        counts.join(", "),
        approvals.now.format("%Y-%m-%d %H:%M UTC")
    )
    .ok();
    writeln!(out, "{}", identities(approvals).1).ok();
    if let Some(pending) = &approvals.policy.pending {
        writeln!(out, "POLICY CHANGE PENDING: {pending}").ok();
    }
    out
}

/// How approvers' identities are established: a short name and a sentence for people.
fn identities(approvals: &Approvals) -> (&'static str, &'static str) {
    if approvals.require_signed {
        (
            "signed",
            "Identities: approvals count only from commits signed by one of the approver's keys in .kb/people.toml.",
        )
    } else {
        (
            "unverified",
            "Identities are UNVERIFIED: approvals rest on git's author field, which anyone can set; set `require_signed = true` in .kb/policy.toml and list people's SSH keys to require signed approvals.",
        )
    }
}

/// A page whose review is due.
#[derive(Debug, Serialize)]
pub struct Due {
    pub doc: String,
    pub file: String,
    pub title: String,
    /// The page's approval state; `None` when the knowledge base has no policy.
    pub state: Option<State>,
    pub due: DateTime<Utc>,
    pub overdue: bool,
}

/// Pages due for review by `now + within` (overdue ones included), soonest first: the time their
/// approval expires, else the end of their `review_by` day.
pub fn due(
    site: &Site,
    approvals: Option<&Approvals>,
    now: DateTime<Utc>,
    within: Duration,
) -> Vec<Due> {
    let mut list: Vec<Due> = match approvals {
        Some(approvals) => approvals
            .pages
            .iter()
            .filter_map(|p| {
                Some(Due {
                    doc: p.doc.clone(),
                    file: p.file.clone(),
                    title: p.title.clone(),
                    state: Some(p.state),
                    due: p.review_due?,
                    overdue: false,
                })
            })
            .collect(),
        None => site
            .documents()
            .filter_map(|i| {
                let p = &site.pages[i];
                let due = p
                    .meta
                    .review_by?
                    .succ_opt()?
                    .and_time(NaiveTime::MIN)
                    .and_utc();
                Some(Due {
                    doc: p.id.clone(),
                    file: p.file.clone(),
                    title: p.meta.title.clone(),
                    state: None,
                    due,
                    overdue: false,
                })
            })
            .collect(),
    };
    list.retain(|d| d.due <= now + within);
    for d in &mut list {
        d.overdue = d.due <= now;
    }
    list.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.doc.cmp(&b.doc)));
    list
}

/// `kbpub due --format json`: the time, the window as written (`30d`) and the documents due.
pub fn due_json(list: &[Due], now: DateTime<Utc>, within: &str) -> serde_json::Value {
    serde_json::json!({ "now": now, "within": within, "documents": list })
}

pub fn due_text(list: &[Due], now: DateTime<Utc>, within: &str) -> String {
    let width = list.iter().map(|d| d.doc.len()).max().unwrap_or(0);
    let mut out = String::new();
    for d in list {
        let when = if d.overdue {
            "overdue".to_string()
        } else {
            format!("in {} days", (d.due - now).num_days())
        };
        let state = d.state.map_or("", State::name);
        writeln!(
            out,
            "{}  {:<12} {:<10} {:<width$}  {}",
            super::wording::last_day(d.due),
            when,
            state,
            d.doc,
            d.file
        )
        .ok();
    }
    writeln!(
        out,
        "{} document(s) due for review within {within}",
        list.len()
    )
    .ok();
    out
}

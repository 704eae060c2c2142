//! `kbpub audit`: the evidence an auditor signs off on. For each document (and data-driven page
//! family), the timeline of its decisions — who, when (the commit's date), which commit, the key
//! that signed it, which content hash, the policy commit in force — every publish to every target
//! from the append-only receipt log, and any tampering with its records. As JSON, CSV (one row per
//! event) or HTML that prints cleanly to PDF. It joins `approval` with `publish`'s receipt log, so
//! it sits above both.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::approval::history::History;
use crate::approval::ledger::Ledger;
use crate::approval::policy::{self, PEOPLE_FILE, POLICY_FILE};
use crate::approval::record::Decision;
use crate::approval::{Approvals, Error, signature};
use crate::publish::receipt_log;
use crate::text::escape_html;

/// One decision as git recorded it.
#[derive(Debug, Serialize)]
pub struct DecisionEvent {
    pub time: DateTime<Utc>,
    pub approver: String,
    pub decision: &'static str,
    pub emergency: Option<String>,
    pub content_hash: String,
    pub record: String,
    pub commit: String,
    pub commit_author: String,
    /// The fingerprint of the key that signed the commit; `None` when unsigned.
    pub signing_key: Option<String>,
    /// The last commit that changed the policy files before the decision.
    pub policy_commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DocAudit {
    pub doc: String,
    pub file: String,
    pub title: String,
    /// The state now.
    pub state: &'static str,
    pub content_hash: String,
    pub decisions: Vec<DecisionEvent>,
    pub publishes: Vec<receipt_log::Entry>,
    pub tampering: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Audit {
    pub head: String,
    pub generated_at: DateTime<Utc>,
    pub identities: &'static str,
    pub policy_commit: Option<String>,
    pub documents: Vec<DocAudit>,
    /// Receipt log lines that could not be read.
    pub unreadable_log_lines: usize,
}

/// The audit of `docs` (every document when empty), events since `since` only.
pub fn audit(
    root: &std::path::Path,
    approvals: &Approvals,
    people: &policy::People,
    docs: &[String],
    since: Option<DateTime<Utc>>,
) -> Result<Audit, Error> {
    let history = History::read(root).map_err(|d| Error::History(Box::new(d)))?;
    let ledger = Ledger::read(root, &history).map_err(|d| Error::History(Box::new(d)))?;
    let signatures = signature::verify(root, people, &ledger.commit_ids(&history))
        .map_err(|d| Error::History(Box::new(d)))?;
    let mut policy_changes: Vec<usize> = [POLICY_FILE, PEOPLE_FILE]
        .iter()
        .flat_map(|f| history.changes_to(f))
        .map(|c| c.commit)
        .collect();
    policy_changes.sort_by_key(|&c| history.order(c));
    let (log, unreadable_log_lines) = receipt_log::read(root);
    let after = |t: DateTime<Utc>| since.is_none_or(|s| t >= s);
    let documents = approvals
        .pages
        .iter()
        .filter(|p| docs.is_empty() || docs.contains(&p.doc) || docs.contains(&p.file))
        .map(|p| {
            let mut decisions: Vec<DecisionEvent> = ledger
                .entries
                .get(&p.doc)
                .into_iter()
                .flatten()
                .filter_map(|e| {
                    let (Ok(r), Some(c)) = (&e.record, e.commit) else {
                        return None;
                    };
                    let commit = &history.commits[c];
                    Some(DecisionEvent {
                        time: history.effective_time(c),
                        approver: r.approver.clone(),
                        decision: match r.decision {
                            Decision::Approve => "approve",
                            Decision::Reject => "reject",
                        },
                        emergency: r.emergency.clone(),
                        content_hash: r.content_hash.clone(),
                        record: e.path.clone(),
                        commit: commit.id.clone(),
                        commit_author: commit.author.clone(),
                        signing_key: signatures.get(&commit.id).and_then(|s| s.key.clone()),
                        policy_commit: policy_changes
                            .iter()
                            .find(|&&pc| history.is_ancestor(pc, c))
                            .map(|&pc| history.commits[pc].id.clone()),
                    })
                })
                .filter(|d| after(d.time))
                .collect();
            decisions.sort_by_key(|d| d.time);
            DocAudit {
                doc: p.doc.clone(),
                file: p.file.clone(),
                title: p.title.clone(),
                state: p.state.name(),
                content_hash: p.content_hash.clone(),
                decisions,
                publishes: log
                    .iter()
                    .filter(|l| {
                        l.receipt.doc_id == p.doc || p.generated_pages.contains(&l.receipt.doc_id)
                    })
                    .filter(|l| {
                        DateTime::parse_from_rfc3339(&l.receipt.published_at)
                            .is_ok_and(|t| after(t.with_timezone(&Utc)))
                    })
                    .cloned()
                    .collect(),
                tampering: ledger.tampering.get(&p.doc).cloned().unwrap_or_default(),
            }
        })
        .collect();
    Ok(Audit {
        head: approvals.head.clone(),
        generated_at: approvals.now,
        identities: if approvals.require_signed {
            "signed"
        } else {
            "unverified"
        },
        policy_commit: approvals.policy.commit.clone(),
        documents,
        unreadable_log_lines,
    })
}

/// A CSV row: every event has the document and its kind; the other columns are its own.
#[derive(Serialize, Default)]
struct Row<'a> {
    doc: &'a str,
    event: &'a str,
    time: String,
    who: &'a str,
    commit: &'a str,
    signing_key: &'a str,
    content_hash: &'a str,
    policy_commit: &'a str,
    target: &'a str,
    remote_id: &'a str,
    version: String,
    approvals_used: String,
    data_as_of: &'a str,
    ci_run: &'a str,
    detail: String,
}

/// One row per event: decisions, publishes, tampering.
pub fn to_csv(audit: &Audit) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for d in &audit.documents {
        for e in &d.decisions {
            out.serialize(Row {
                doc: &d.doc,
                event: e.decision,
                time: e.time.to_rfc3339(),
                who: &e.approver,
                commit: &e.commit,
                signing_key: e.signing_key.as_deref().unwrap_or(""),
                content_hash: &e.content_hash,
                policy_commit: e.policy_commit.as_deref().unwrap_or(""),
                detail: e
                    .emergency
                    .as_deref()
                    .map_or(String::new(), |r| format!("emergency: {r}")),
                ..Row::default()
            })?;
        }
        for p in &d.publishes {
            let r = &p.receipt;
            out.serialize(Row {
                doc: &r.doc_id,
                event: "publish",
                time: r.published_at.clone(),
                content_hash: &r.content_hash,
                target: &r.target,
                remote_id: &r.remote_id,
                version: r.version.to_string(),
                approvals_used: r.approvals_used.join("; "),
                data_as_of: r.data_as_of.as_deref().unwrap_or(""),
                ci_run: p.ci_run.as_deref().unwrap_or(""),
                detail: r.approval_state.clone(),
                ..Row::default()
            })?;
        }
        for t in &d.tampering {
            out.serialize(Row {
                doc: &d.doc,
                event: "tampering",
                detail: t.clone(),
                ..Row::default()
            })?;
        }
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A self-contained page, one section per document, laid out for printing to PDF.
pub fn to_html(audit: &Audit) -> String {
    let mut out = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kbpub approval audit</title>\n<style>body{font:10pt/1.4 sans-serif;margin:1.5cm}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #999;padding:2px 4px;text-align:left;vertical-align:top;word-break:break-all}th{background:#eee}section{break-inside:avoid-page}.tamper{color:#a00;font-weight:bold}@page{size:A4 landscape;margin:1cm}</style></head><body>\n",
    );
    let e = escape_html;
    writeln!(
        out,
        "<h1>Approval audit</h1><p>Commit {} · generated {} · identities {} · policy in force from commit {}</p>",
        e(&audit.head),
        audit.generated_at.to_rfc3339(),
        audit.identities,
        e(audit.policy_commit.as_deref().unwrap_or("(uncommitted)"))
    )
    .ok();
    for d in &audit.documents {
        writeln!(
            out,
            "<section><h2>{} — {}</h2><p>{} · state <b>{}</b> · {}</p>",
            e(&d.doc),
            e(&d.title),
            e(&d.file),
            d.state,
            e(&d.content_hash)
        )
        .ok();
        out.push_str("<table><tr><th>time</th><th>decision</th><th>who</th><th>commit</th><th>signing key</th><th>content hash</th><th>policy commit</th></tr>\n");
        for x in &d.decisions {
            writeln!(out, "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", x.time.to_rfc3339(), x.decision, x.emergency.as_deref().map(|r| format!(" (emergency: {})", e(r))).unwrap_or_default(), e(&x.approver), e(&x.commit), e(x.signing_key.as_deref().unwrap_or("unsigned")), e(&x.content_hash), e(x.policy_commit.as_deref().unwrap_or(""))).ok();
        }
        out.push_str("</table><table><tr><th>published</th><th>target</th><th>page id</th><th>version</th><th>hash</th><th>approvals used</th><th>data as of</th><th>CI run</th></tr>\n");
        for p in &d.publishes {
            let r = &p.receipt;
            writeln!(out, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", e(&r.published_at), e(&r.target), e(&r.remote_id), r.version, e(&r.content_hash), e(&r.approvals_used.join("; ")), e(r.data_as_of.as_deref().unwrap_or("")), e(p.ci_run.as_deref().unwrap_or(""))).ok();
        }
        out.push_str("</table>\n");
        for t in &d.tampering {
            writeln!(out, "<p class=\"tamper\">{}</p>", e(t)).ok();
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body></html>\n");
    out
}

//! `kbpub approve`, `status`, `due` and `audit`: the approval commands, on a loaded site without
//! live data (approvals bind to content and templates, never to data values).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::output::Output;
use super::{Failure, Outcome, fail, load_config, print_json, report};
use crate::approval::{self, Approvals, approve, record::Decision};
use crate::content::Site;
use crate::diag::{Diagnostic, Format};
use crate::render::Engine;

/// The clock (`KBPUB_NOW` or the real one); a `KBPUB_NOW` that cannot be read is a usage error.
pub fn clock(format: Format) -> Result<DateTime<Utc>, Failure> {
    approval::now().map_err(|d| {
        report(&[d], format);
        Failure::Usage
    })
}

/// Loads the knowledge base for the approval commands: a site without errors, with the
/// data-driven pages the snapshot generates (their families are approved by template).
fn load_site(root: Option<PathBuf>, format: Format) -> Result<Site, Failure> {
    let config = load_config(root, format)?;
    let (site, diagnostics, _) = crate::site::load(&config).map_err(|d| fail(&d, format))?;
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(fail(&diagnostics, format));
    }
    Ok(site)
}

/// The engine for the approval commands: no dataset.
fn engine(site: &Site, format: Format) -> Result<Engine<'_>, Failure> {
    Engine::new(site, Default::default()).map_err(|d| fail(&d, format))
}

/// Evaluates approvals; an error means states cannot be known.
fn approvals(engine: &Engine, now: DateTime<Utc>) -> Result<Approvals, Failure> {
    let approvals =
        approval::evaluate(engine, now).map_err(|e| fail(&e.diagnostics(), Format::Human))?;
    report(&approvals.warnings, Format::Human);
    Ok(approvals)
}

pub fn approve(
    root: Option<PathBuf>,
    quiet: bool,
    format: Output,
    request: impl FnOnce(DateTime<Utc>) -> approve::Request,
) -> Outcome {
    let format = format.diagnostics();
    let now = clock(format)?;
    let site = load_site(root, format)?;
    let engine = engine(&site, format)?;
    let request = request(now);
    let outcome = approve::approve(&engine, &request).map_err(|d| fail(&d, format))?;
    if !quiet {
        for record in &outcome.records {
            let verb = match (record.decision, record.is_emergency()) {
                (Decision::Reject, _) => "Rejected",
                (Decision::Approve, true) => "Emergency-approved",
                (Decision::Approve, false) => "Approved",
            };
            let until = record
                .expires
                .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            eprintln!(
                "{verb} {} ({}) as {}{until}: {}",
                record.doc,
                approval::hash::short(&record.content_hash),
                outcome.approver,
                record.path
            );
        }
        if !outcome.unchanged.is_empty() {
            eprintln!(
                "Unchanged (the same decision by {} already stands): {}",
                outcome.approver,
                outcome.unchanged.join(", ")
            );
        }
        match &outcome.commit {
            Some(commit) => eprintln!(
                "Committed {} authored by {}.",
                &commit[..commit.len().min(10)],
                outcome.approver
            ),
            None if outcome.records.is_empty() => {}
            None => eprintln!(
                "Staged, not committed: the records count once committed with the approver as author."
            ),
        }
    }
    Ok(())
}

pub fn audit(
    root: Option<PathBuf>,
    docs: &[String],
    since: Option<chrono::NaiveDate>,
    format: Output,
) -> Outcome {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let approvals = approvals(&engine, now)?;
    let people = approval::policy::Policy::load(&site.config.root)
        .ok()
        .flatten()
        .map(|p| p.people)
        .unwrap_or_default();
    let since = since.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let audit = crate::audit::audit(&site.config.root, &approvals, &people, docs, since)
        .map_err(|e| fail(&e.diagnostics(), Format::Human))?;
    match format {
        Output::Html => print!("{}", crate::audit::to_html(&audit)),
        Output::Csv => match crate::audit::to_csv(&audit) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("error: cannot write CSV: {e}");
                return Err(Failure::Failed);
            }
        },
        _ => print_json(&audit),
    }
    Ok(())
}

pub fn status(root: Option<PathBuf>, format: Output) -> Outcome {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let approvals = approvals(&engine, now)?;
    match format {
        Output::Json => print_json(&approval::report::status_json(&approvals)),
        _ => print!("{}", approval::report::status_text(&approvals)),
    }
    Ok(())
}

pub fn due(
    root: Option<PathBuf>,
    (within, within_text): (chrono::Duration, String),
    format: Output,
) -> Outcome {
    let now = clock(Format::Human)?;
    let site = load_site(root, Format::Human)?;
    let engine = engine(&site, Format::Human)?;
    let has_policy = site
        .config
        .root
        .join(approval::policy::POLICY_FILE)
        .exists();
    let approvals = if has_policy {
        Some(approvals(&engine, now)?)
    } else {
        None
    };
    let list = approval::report::due(&site, approvals.as_ref(), now, within);
    match format {
        Output::Json => print_json(&approval::report::due_json(&list, now, &within_text)),
        _ => print!("{}", approval::report::due_text(&list, now, &within_text)),
    }
    Ok(())
}

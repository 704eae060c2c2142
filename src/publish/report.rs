//! The publish report: per target, what was planned and what happened to every page, the
//! request counts, and why a target stopped. Printed as a table for people or as one JSON
//! document (`--format json`) for CI.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::failure::Failure;
use super::plan::{Action, Collision, Found, Skip, Step, Wanted};

/// What became of one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Dry run, or an action that writes nothing (unchanged, gated, orphan).
    Planned,
    Done,
    Failed,
    /// Not attempted: an earlier failure made it unsafe (prune after a failure, a child whose
    /// parent failed) or a page kbpub does not manage is in the way. Fails the run.
    Skipped,
}

/// Why a page was skipped or failed, for people and for CI: a stable `code` (with its details),
/// the sentence, and what to do.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    #[serde(flatten)]
    pub why: Why,
    pub message: String,
    pub help: &'static str,
}

/// A skip or a failure; each carries its own `code`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Why {
    Skip(Skip),
    Failure(Failure),
}

impl From<Skip> for Reason {
    fn from(skip: Skip) -> Reason {
        Reason {
            message: skip.message(),
            help: skip.help(),
            why: Why::Skip(skip),
        }
    }
}

impl From<Failure> for Reason {
    fn from(failure: Failure) -> Reason {
        Reason {
            message: failure.message(),
            help: failure.help(),
            why: Why::Failure(failure),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub doc_id: String,
    pub source: String,
    pub title: String,
    /// The space (Confluence) or category (community).
    pub scope: String,
    pub action: Action,
    pub outcome: Outcome,
    pub remote_id: Option<String>,
    pub version: Option<u64>,
    pub approval: Option<String>,
    /// Gate reasons, who drifted the page, what moved.
    pub note: Option<String>,
    pub error: Option<String>,
    /// Why a skipped or failed page was not written, and what to do.
    pub reason: Option<Reason>,
    /// The receipt file written for this page.
    pub receipt: Option<String>,
}

impl PageReport {
    /// The planned page of `step`, before anything is written; `approval` is the wanted page's
    /// approval state.
    pub fn planned(
        step: &Step,
        wanted: &[Wanted],
        found: &[Found],
        approval: Option<String>,
    ) -> PageReport {
        let f = step.found.map(|i| &found[i]);
        let (doc_id, source, title, scope) = match step.wanted {
            Some(i) => {
                let w = &wanted[i];
                (
                    w.key.clone(),
                    w.source.clone(),
                    w.title.clone(),
                    w.place.scope.clone(),
                )
            }
            None => {
                let f = f.expect("prune and orphan steps have a found page");
                (
                    f.key.clone().unwrap_or_default(),
                    String::new(),
                    f.title.clone(),
                    f.place.scope.clone(),
                )
            }
        };
        // A blocked step is reported as skipped from the start, so a dry run shows it too.
        let reason = step.blocked.clone().map(Reason::from);
        PageReport {
            doc_id,
            source,
            title,
            scope,
            action: step.action,
            outcome: match reason {
                Some(_) => Outcome::Skipped,
                None => Outcome::Planned,
            },
            remote_id: f.map(|f| f.remote_id.clone()),
            version: f.map(|f| f.version),
            approval,
            note: step.note.clone(),
            error: reason.as_ref().map(|r| r.message.clone()),
            reason,
            receipt: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: &'static str,
    pub endpoint: String,
    pub api: Option<String>,
    pub dry_run: bool,
    /// Why the target did nothing at all (no credentials, collisions, unreachable).
    pub error: Option<String>,
    pub collisions: Vec<Collision>,
    pub pages: Vec<PageReport>,
    pub reads: u64,
    pub writes: u64,
    pub data_as_of: Option<String>,
    /// What someone should act on soon (an API allowance running out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TargetReport {
    pub fn new(target: &'static str, endpoint: &str, dry_run: bool) -> TargetReport {
        TargetReport {
            target,
            endpoint: endpoint.to_string(),
            api: None,
            dry_run,
            error: None,
            collisions: Vec::new(),
            pages: Vec::new(),
            reads: 0,
            writes: 0,
            data_as_of: None,
            warnings: Vec::new(),
        }
    }

    /// Everything asked was done: no error, and every page written, unchanged or gated — none
    /// failed, skipped or drifted.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.collisions.is_empty()
            && self.pages.iter().all(|p| {
                !matches!(p.outcome, Outcome::Failed | Outcome::Skipped)
                    && p.action != Action::Drifted
            })
    }

    /// Pages per action, and per outcome (`failed`, `skipped`).
    pub fn summary(&self) -> BTreeMap<&'static str, usize> {
        let mut summary = BTreeMap::new();
        for p in &self.pages {
            *summary.entry(p.action.name()).or_default() += 1;
            match p.outcome {
                Outcome::Failed => *summary.entry("failed").or_default() += 1,
                Outcome::Skipped => *summary.entry("skipped").or_default() += 1,
                _ => {}
            }
        }
        summary
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// Every target and every notification did all it was asked.
    pub ok: bool,
    pub targets: Vec<TargetReport>,
    /// What each `[[notify]]` destination was told.
    pub notify: Vec<crate::notify::DestinationReport>,
}

impl Report {
    pub fn new(
        targets: Vec<TargetReport>,
        notify: Vec<crate::notify::DestinationReport>,
    ) -> Report {
        Report {
            ok: targets.iter().all(TargetReport::ok)
                && notify.iter().all(crate::notify::DestinationReport::ok),
            targets,
            notify,
        }
    }

    /// Every target did all it was asked (notifications aside).
    pub fn pages_ok(&self) -> bool {
        self.targets.iter().all(TargetReport::ok)
    }

    pub fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct WithSummary<'a> {
            #[serde(flatten)]
            target: &'a TargetReport,
            summary: BTreeMap<&'static str, usize>,
        }
        let targets: Vec<WithSummary> = self
            .targets
            .iter()
            .map(|t| WithSummary {
                target: t,
                summary: t.summary(),
            })
            .collect();
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({"ok": self.ok, "targets": targets, "notify": self.notify}),
        )?;
        writeln!(out)
    }

    pub fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for t in &self.targets {
            let api = t
                .api
                .as_deref()
                .map(|a| format!(", REST {a}"))
                .unwrap_or_default();
            let dry = if t.dry_run {
                " — dry run, nothing written"
            } else {
                ""
            };
            writeln!(out, "{} ({}{api}){dry}", t.target, t.endpoint)?;
            for c in &t.collisions {
                writeln!(
                    out,
                    "  collision  {}: title \"{}\" is used by {} and {} (titles must be unique there, ignoring case)",
                    c.scope, c.title, c.first, c.second
                )?;
            }
            for p in &t.pages {
                let word = match p.outcome {
                    Outcome::Failed => "FAILED",
                    Outcome::Skipped => "skipped",
                    Outcome::Done => p.action.past(),
                    Outcome::Planned => p.action.name(),
                };
                let id = p
                    .remote_id
                    .as_deref()
                    .map(|id| match p.version {
                        Some(v) => format!(" [page {id} v{v}]"),
                        None => format!(" [page {id}]"),
                    })
                    .unwrap_or_default();
                write!(
                    out,
                    "  {word:<9}  {:<8} {}  ({}){id}",
                    p.scope, p.title, p.source
                )?;
                if let Some(note) = &p.note {
                    write!(out, " — {note}")?;
                }
                if let Some(error) = &p.error {
                    write!(out, " — {error}")?;
                }
                writeln!(out)?;
                if let Some(reason) = &p.reason {
                    writeln!(out, "             to fix: {}", reason.help)?;
                }
            }
            if let Some(error) = &t.error {
                writeln!(out, "  error: {error}")?;
            }
            for warning in &t.warnings {
                writeln!(out, "  warning: {warning}")?;
            }
            let summary: Vec<String> = t
                .summary()
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            writeln!(
                out,
                "  {} — {} reads, {} writes",
                if summary.is_empty() {
                    "no pages".to_string()
                } else {
                    summary.join(", ")
                },
                t.reads,
                t.writes
            )?;
        }
        crate::notify::write_human(&self.notify, out)
    }
}

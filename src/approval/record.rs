//! Approval records: `.kb/approvals/<doc-id>/<timestamp>-<approver>.toml`, one file per decision
//! (approve, reject, or an emergency approval), naming the content hash it is about. This module
//! reads them strictly and writes new ones; whether a record counts is decided against git
//! history elsewhere (a record proves nothing by itself: anyone can write a file).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::hash::{self, Part};
use crate::config::toml_diagnostic;
use crate::content::url;
use crate::diag::{Diagnostic, Location};

pub const APPROVALS_DIR: &str = ".kb/approvals";

const HEADER: &str = "# Approval record written by `kbpub approve`. It counts only while the commit that added it is\n# authored by the approver and the content hash below is the document's current hash.\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

/// The file as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    doc: String,
    file: String,
    content_hash: String,
    decision: Decision,
    meaning: String,
    approver: String,
    time: toml::value::Datetime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<toml::value::Datetime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    emergency: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Digest of each hashed part (`document`, `sop.html`, ...) at the time of the decision.
    #[serde(default)]
    hashed: BTreeMap<String, String>,
}

/// A parsed, well-formed record.
#[derive(Debug, Clone)]
pub struct Record {
    /// Path relative to the knowledge base root: `.kb/approvals/<doc>/<name>.toml`.
    pub path: String,
    pub doc: String,
    /// The document's file when the decision was made (informative; documents may move).
    pub file: String,
    pub content_hash: String,
    pub decision: Decision,
    pub meaning: String,
    /// Lower-case e-mail address.
    pub approver: String,
    pub time: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// `Some(reason)` for an emergency approval.
    pub emergency: Option<String>,
    pub hashed: BTreeMap<String, String>,
}

impl Record {
    /// A new decision about a document with hash parts `parts`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        doc: &str,
        file: &str,
        content_hash: &str,
        parts: &[Part],
        decision: Decision,
        approver: &str,
        time: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
        comment: Option<String>,
        emergency: Option<String>,
    ) -> Record {
        let meaning = match (decision, &emergency) {
            (Decision::Approve, Some(_)) => {
                "emergency approval: publish without regular review, for a limited time"
            }
            (Decision::Approve, None) => {
                "approved: I reviewed this exact content and approve its publication"
            }
            (Decision::Reject, _) => "rejected: this content must not be published as it is",
        };
        let time = truncate_to_seconds(time);
        Record {
            path: format!("{APPROVALS_DIR}/{doc}/{}", file_name(time, approver)),
            doc: doc.to_string(),
            file: file.to_string(),
            content_hash: content_hash.to_string(),
            decision,
            meaning: meaning.to_string(),
            approver: approver.to_lowercase(),
            time,
            expires: expires.map(truncate_to_seconds),
            comment,
            emergency,
            hashed: parts
                .iter()
                .map(|p| (p.name.clone(), p.digest.clone()))
                .collect(),
        }
    }

    /// The record as TOML, with a header comment.
    pub fn to_toml(&self) -> String {
        let file = RecordFile {
            doc: self.doc.clone(),
            file: self.file.clone(),
            content_hash: self.content_hash.clone(),
            decision: self.decision,
            meaning: self.meaning.clone(),
            approver: self.approver.clone(),
            time: toml_datetime(self.time),
            expires: self.expires.map(toml_datetime),
            comment: self.comment.clone(),
            emergency: self.emergency.is_some(),
            reason: self.emergency.clone(),
            hashed: self.hashed.clone(),
        };
        format!(
            "{HEADER}{}",
            toml::to_string(&file).expect("a record always serializes")
        )
    }

    pub fn is_emergency(&self) -> bool {
        self.emergency.is_some()
    }

    /// Parses record text; `path` is root-relative and names the document folder.
    pub fn parse(path: &str, text: &str) -> Result<Record, Diagnostic> {
        let source: Arc<str> = Arc::from(text);
        let raw: RecordFile =
            toml::from_str(text).map_err(|e| toml_diagnostic("approval-record", path, text, &e))?;
        let at = |key: &str| {
            let span = crate::content::frontmatter::value_span(text, key).unwrap_or(0..0);
            Location::new(path, source.clone(), span)
        };
        let problem = |key: &str, message: String, help: &str| {
            Diagnostic::warning("approval-record", message)
                .at(at(key))
                .help(help.to_string())
        };
        let folder = url::parent_dir(path).rsplit('/').next().unwrap_or("");
        if raw.doc != folder {
            return Err(problem(
                "doc",
                format!(
                    "record names document `{}` but is in the folder of `{folder}`",
                    raw.doc
                ),
                "records live in `.kb/approvals/<doc id>/`; write them with `kbpub approve`",
            ));
        }
        if !hash::is_valid(&raw.content_hash) {
            return Err(problem(
                "content_hash",
                format!("`{}` is not a content hash", raw.content_hash),
                "content hashes look like `sha256:` and 64 lower-case hex digits",
            ));
        }
        let time = datetime(&raw.time).map_err(|m| {
            problem(
                "time",
                m,
                "write an RFC 3339 time in UTC, e.g. 2026-05-01T09:30:00Z",
            )
        })?;
        let expires = raw
            .expires
            .as_ref()
            .map(datetime)
            .transpose()
            .map_err(|m| problem("expires", m, "write an RFC 3339 time in UTC"))?;
        let emergency = match (raw.emergency, raw.reason, raw.decision) {
            (true, Some(reason), Decision::Approve) if !reason.trim().is_empty() => Some(reason),
            (true, _, Decision::Approve) => {
                return Err(problem(
                    "emergency",
                    "emergency approval without a `reason`".into(),
                    "emergency approvals must say why",
                ));
            }
            (true, _, Decision::Reject) => {
                return Err(problem(
                    "emergency",
                    "a rejection cannot be an emergency approval".into(),
                    "drop `emergency`",
                ));
            }
            (false, Some(_), _) => {
                return Err(problem(
                    "reason",
                    "`reason` is only for emergency approvals".into(),
                    "use `comment`",
                ));
            }
            (false, None, _) => None,
        };
        Ok(Record {
            path: path.to_string(),
            doc: raw.doc,
            file: raw.file,
            content_hash: raw.content_hash,
            decision: raw.decision,
            meaning: raw.meaning,
            approver: raw.approver.to_lowercase(),
            time,
            expires,
            comment: raw.comment,
            emergency,
            hashed: raw.hashed,
        })
    }
}

/// Every file under `root/.kb/approvals` in the working tree, root-relative, sorted, each
/// parsed as a record (whether a file is where a record belongs is the caller's question).
pub fn read_worktree(root: &Path) -> Vec<(String, Result<Record, Diagnostic>)> {
    let dir = root.join(APPROVALS_DIR);
    if !dir.is_dir() {
        return Vec::new();
    }
    walkdir::WalkDir::new(&dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let d = Diagnostic::warning(
                        "approval-record",
                        format!("cannot read {APPROVALS_DIR}: {e}"),
                    );
                    return Some((APPROVALS_DIR.to_string(), Err(d)));
                }
            };
            if !entry.file_type().is_file() {
                return None;
            }
            let rel = format!(
                "{APPROVALS_DIR}/{}",
                url::to_slash(entry.path().strip_prefix(&dir).unwrap_or(entry.path()))
            );
            let parsed = std::fs::read_to_string(entry.path())
                .map_err(|e| {
                    Diagnostic::warning("approval-record", format!("cannot read {rel}: {e}"))
                        .in_file(rel.clone())
                })
                .and_then(|text| Record::parse(&rel, &text));
            Some((rel, parsed))
        })
        .collect()
}

/// `20260501T093000Z-ana@example.com.toml`.
fn file_name(time: DateTime<Utc>, approver: &str) -> String {
    let who: String = approver
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}-{who}.toml", time.format("%Y%m%dT%H%M%SZ"))
}

fn truncate_to_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap_or(time)
}

fn toml_datetime(time: DateTime<Utc>) -> toml::value::Datetime {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
        .parse()
        .expect("RFC 3339 is a TOML datetime")
}

fn datetime(value: &toml::value::Datetime) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(&value.to_string())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{value}` is not a date and time with a UTC offset"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let time = "2026-05-01T09:30:00Z".parse().unwrap();
        let hash = format!("sha256:{}", "a".repeat(64));
        let parts = [Part {
            name: "document".into(),
            digest: "b".repeat(64),
            file: None,
        }];
        Record::new(
            "sop-x",
            "content/sops/x.md",
            &hash,
            &parts,
            Decision::Approve,
            "Ana@Example.com",
            time,
            Some(time),
            Some("ok".into()),
            None,
        )
    }

    #[test]
    fn records_round_trip_through_toml() {
        let record = sample();
        assert_eq!(
            record.path,
            ".kb/approvals/sop-x/20260501T093000Z-ana@example.com.toml"
        );
        let text = record.to_toml();
        assert!(text.contains("time = 2026-05-01T09:30:00Z"), "{text}");
        let back = Record::parse(&record.path, &text).unwrap();
        assert_eq!(back.approver, "ana@example.com");
        assert_eq!(back.time, record.time);
        assert_eq!(back.hashed["document"], "b".repeat(64));
        assert_eq!(back.comment.as_deref(), Some("ok"));
    }

    #[test]
    fn broken_records_are_reported_at_the_bad_value() {
        let record = sample();
        let text = record.to_toml().replace("sha256:aaaa", "sha1:aaaa");
        let error = Record::parse(&record.path, &text).unwrap_err();
        assert!(
            error.message.contains("is not a content hash"),
            "{}",
            error.message
        );
        assert!(
            error
                .position()
                .starts_with(".kb/approvals/sop-x/20260501T093000Z-ana@example.com.toml:"),
            "{}",
            error.position()
        );
        let moved = Record::parse(".kb/approvals/other/x.toml", &record.to_toml()).unwrap_err();
        assert!(
            moved.message.contains("in the folder of `other`"),
            "{}",
            moved.message
        );
    }
}

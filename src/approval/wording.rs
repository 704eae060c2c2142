//! The sentences `kbpub status`, reports, banners and receipts show for each [`Reason`] of a
//! page's approval state: people by name, dates by day (minutes for emergencies), hashes short.

use chrono::{DateTime, Duration, Utc};

use super::hash;
use super::policy::People;
use super::reason::{EmergencyProblem, PartChange, Reason, RecordProblem};
use super::record::Decision;

/// How many changes a reason lists before "and N more".
const LISTED: usize = 3;

/// `reason` in words.
pub fn render(reason: &Reason, people: &People) -> String {
    match reason {
        Reason::NoRule { path, audience } => format!(
            "no rule in .kb/policy.toml matches this page (path `{path}`, audience `{audience}`), so nobody can approve it"
        ),
        Reason::Uncommitted { files } => {
            format!("not committed yet: changes in {}", files.join(", "))
        }
        Reason::RecordNotCounted { record, problem } => {
            format!("{record} does not count: {}", record_problem(problem))
        }
        Reason::NotInGroups {
            approver,
            decision,
            rule,
            groups,
        } => format!(
            "{} {} this version but is not in the groups of rule `{rule}` ({}); not counted",
            people.display(approver),
            verb(*decision),
            groups.join(", ")
        ),
        Reason::ChangedSinceApproved {
            approver,
            decision,
            commit,
        } => format!(
            "{} {} this version but authored or committed changes to it since its last approved state (commit {commit}); not counted",
            people.display(approver),
            verb(*decision)
        ),
        Reason::RejectedBy {
            approver,
            time,
            comment,
        } => {
            let comment = comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            format!(
                "rejected by {} on {}{comment}",
                people.display(approver),
                day(*time)
            )
        }
        Reason::Approved {
            hash: content,
            credits,
            until,
        } => {
            let who: Vec<String> = credits
                .iter()
                .map(|c| {
                    format!(
                        "{} ({}) on {}",
                        people.display(&c.approver),
                        c.group,
                        day(c.time)
                    )
                })
                .collect();
            let until = until.map(last_day).unwrap_or_default();
            format!(
                "approved {} by {}; valid until {until}",
                hash::short(content),
                who.join(", ")
            )
        }
        Reason::Emergency {
            approver,
            expires,
            reason,
        } => format!(
            "EMERGENCY approval by {} until {}: {reason}",
            people.display(approver),
            minute(*expires)
        ),
        Reason::EmergencyNotCounted { approver, problem } => {
            let who = people.display(approver);
            match problem {
                EmergencyProblem::NoPolicy => format!(
                    "emergency approval by {who} does not count: the policy has no `[emergency]` section"
                ),
                EmergencyProblem::NotInGroups { groups } => format!(
                    "emergency approval by {who} does not count: not in the emergency groups ({})",
                    groups.join(", ")
                ),
                EmergencyProblem::ChangedIt { commit } => format!(
                    "emergency approval by {who} does not count: authored or committed changes to this version (commit {commit})"
                ),
                EmergencyProblem::Expired { at } => {
                    format!("emergency approval by {who} expired on {}", minute(*at))
                }
            }
        }
        Reason::ApprovalExpired {
            approver,
            approved,
            expired,
        } => format!(
            "approval by {} of {} expired on {}",
            people.display(approver),
            day(*approved),
            day(*expired)
        ),
        Reason::Stale {
            hash: content,
            approver,
            approved,
            changes,
            commits,
        } => {
            let changed = if changes.is_empty() {
                "the content changed".to_string()
            } else {
                let parts: Vec<String> = changes.iter().map(part_change).collect();
                format!("changed since: {}", parts.join(", "))
            };
            let mut listed: Vec<String> = commits
                .iter()
                .take(LISTED)
                .map(|(commit, author)| format!("{commit} by {author}"))
                .collect();
            let more = commits.len().saturating_sub(LISTED);
            if more > 0 {
                listed.push(format!("{more} more"));
            }
            let commits = if listed.is_empty() {
                String::new()
            } else {
                format!(" (commits {})", listed.join(", "))
            };
            format!(
                "approved for {} by {} on {}; {changed}{commits}",
                hash::short(content),
                people.display(approver),
                day(*approved)
            )
        }
        Reason::QuorumNeeded {
            approvals,
            groups,
            distinct_groups,
            rule,
            valid,
        } => {
            let per_group = if *distinct_groups {
                ", each from a different group"
            } else {
                ""
            };
            let has = match valid.as_slice() {
                [] => "none yet".to_string(),
                some => some
                    .iter()
                    .map(|a| people.display(a))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!(
                "needs {approvals} approval{} of this version from {}{per_group} (rule `{rule}`); valid approvals: {has}",
                if *approvals == 1 { "" } else { "s" },
                groups.join(", "),
            )
        }
        Reason::ReviewDatePassed { date } => format!(
            "its review date {date} has passed: update `review_by` and get the page approved again"
        ),
        Reason::Blocked {
            record,
            commit,
            problem,
        } => format!(
            "blocked: record {record} (commit {commit}) cannot be read: {problem}; a record that cannot be read blocks the page until it is approved again in a later commit"
        ),
        Reason::Tampering(sentence) => sentence.clone(),
    }
}

fn record_problem(problem: &RecordProblem) -> String {
    match problem {
        RecordProblem::Unreadable => "it cannot be read".into(),
        RecordProblem::NotCommitted => {
            "it is not committed (approvals count once their commit is in the history)".into()
        }
        RecordProblem::AuthoredByOther {
            commit,
            author,
            approver,
        } => format!(
            "commit {commit} that added it is authored by {author}, not by the approver {approver}"
        ),
        RecordProblem::SignedByOther { commit, signer } => unsigned(
            commit,
            &format!("is signed with a key of {signer}, not of the approver"),
        ),
        RecordProblem::UnknownKey {
            commit,
            key,
            approver,
        } => unsigned(
            commit,
            &format!(
                "is signed with key {key}, which is not one of {approver}'s keys in .kb/people.toml (or the signature is bad)"
            ),
        ),
        RecordProblem::Unsigned { commit } => unsigned(commit, "is not signed"),
        RecordProblem::UnknownPerson { approver } => {
            format!("{approver} is not in .kb/people.toml")
        }
        RecordProblem::DatedAfterCommit {
            time,
            commit,
            commit_time,
        } => format!(
            "it is dated {}, after commit {commit} that added it ({}); times come from git",
            minute(*time),
            minute(*commit_time)
        ),
        RecordProblem::CommitInFuture { commit, time } => format!(
            "commit {commit} that added it is dated in the future ({})",
            minute(*time)
        ),
    }
}

fn unsigned(commit: &str, problem: &str) -> String {
    format!("commit {commit} that added it {problem}; the policy has `require_signed = true`")
}

fn verb(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
    }
}

fn part_change(change: &PartChange) -> String {
    match change {
        PartChange::Changed(name) => part_label(name),
        PartChange::NewlyUsed(name) => format!("{} (newly used)", part_label(name)),
        PartChange::NoLongerUsed(name) => format!("{} (no longer used)", part_label(name)),
    }
}

/// A hashed part as people know it: "the document", "file `content/x.png`", "template `x`".
fn part_label(name: &str) -> String {
    if name == hash::DOCUMENT_PART {
        "the document".into()
    } else if name == hash::METADATA_PART {
        "its title or metadata".into()
    } else if let Some(file) = name.strip_prefix(hash::FILE_PART_PREFIX) {
        format!("file `{file}`")
    } else {
        format!("template `{name}`")
    }
}

/// The last day something ending at `time` (exclusive) is still valid.
pub fn last_day(time: DateTime<Utc>) -> String {
    day(time - Duration::seconds(1))
}

fn day(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

fn minute(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

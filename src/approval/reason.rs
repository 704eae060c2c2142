//! Why a page has its approval state, as data: one variant per reason the decision in
//! [`super::status`] gives (who approved which hash, what changed since, what is missing, which
//! record does not count and why). [`super::wording`] turns them into sentences for people;
//! tests of the decision match on these values instead.

use chrono::{DateTime, NaiveDate, Utc};

use super::record::Decision;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No rule of the policy matches the page (its path and audience).
    NoRule { path: String, audience: String },
    /// The page's files with changes that are not committed.
    Uncommitted { files: Vec<String> },
    /// An approval record that does not count.
    RecordNotCounted {
        record: String,
        problem: RecordProblem,
    },
    /// A decision by someone outside the rule's groups.
    NotInGroups {
        approver: String,
        decision: Decision,
        rule: String,
        groups: Vec<String>,
    },
    /// A decision by someone who changed the page since its last approved state (short commit id).
    ChangedSinceApproved {
        approver: String,
        decision: Decision,
        commit: String,
    },
    /// A standing rejection of the current version.
    RejectedBy {
        approver: String,
        time: DateTime<Utc>,
        comment: Option<String>,
    },
    /// The current version (`hash`) is approved by these credits, until the end of `until`.
    Approved {
        hash: String,
        credits: Vec<Credit>,
        until: Option<DateTime<Utc>>,
    },
    /// A valid emergency approval of the current version.
    Emergency {
        approver: String,
        expires: DateTime<Utc>,
        reason: String,
    },
    /// An emergency approval that does not count.
    EmergencyNotCounted {
        approver: String,
        problem: EmergencyProblem,
    },
    /// An approval of the current version that has expired.
    ApprovalExpired {
        approver: String,
        approved: DateTime<Utc>,
        expired: DateTime<Utc>,
    },
    /// An earlier version was approved; what changed since (parts, then commits newest last).
    Stale {
        hash: String,
        approver: String,
        approved: DateTime<Utc>,
        changes: Vec<PartChange>,
        /// Short commit id and author of each change since.
        commits: Vec<(String, String)>,
    },
    /// What the rule asks for, and who has a valid approval of this version.
    QuorumNeeded {
        approvals: usize,
        groups: Vec<String>,
        distinct_groups: bool,
        rule: String,
        valid: Vec<String>,
    },
    /// The page's `review_by` date has passed.
    ReviewDatePassed { date: NaiveDate },
    /// A committed record that cannot be read blocks the page.
    Blocked {
        record: String,
        commit: String,
        problem: String,
    },
    /// A change to an approval record after it was committed (worded by the ledger).
    Tampering(String),
}

/// An approval credited to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    pub approver: String,
    pub group: String,
    pub time: DateTime<Utc>,
}

/// Why a record does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    Unreadable,
    NotCommitted,
    AuthoredByOther {
        commit: String,
        author: String,
        approver: String,
    },
    /// Under `require_signed`: the commit is signed by someone else's key.
    SignedByOther {
        commit: String,
        signer: String,
    },
    /// Under `require_signed`: a key that is not one of the approver's (or a bad signature).
    UnknownKey {
        commit: String,
        key: String,
        approver: String,
    },
    /// Under `require_signed`: the commit is not signed.
    Unsigned {
        commit: String,
    },
    UnknownPerson {
        approver: String,
    },
    DatedAfterCommit {
        time: DateTime<Utc>,
        commit: String,
        commit_time: DateTime<Utc>,
    },
    CommitInFuture {
        commit: String,
        time: DateTime<Utc>,
    },
}

/// Why an emergency approval does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmergencyProblem {
    NoPolicy,
    NotInGroups { groups: Vec<String> },
    ChangedIt { commit: String },
    Expired { at: DateTime<Utc> },
}

/// How one hashed part differs from what an earlier approval saw (part names as hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartChange {
    Changed(String),
    NewlyUsed(String),
    NoLongerUsed(String),
}

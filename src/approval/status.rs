//! The approval state of one page — approved, emergency, stale, expired, rejected, blocked or
//! draft — with the reasons, decided from the policy, the page's current content hash, its
//! approval records (as first committed) and git history. A record counts only when the commit
//! that added it was authored by its approver and is not dated before the record; an approval
//! counts only when its approver is in the rule's groups, did not author or commit changes to
//! the page (followed across renames) since its last approved state, names the current hash and
//! has not expired, counted from its commit's date. The latest decision of each approver wins:
//! a descendant commit over its ancestor, else the later commit date, a rejection on a tie. One
//! standing rejection blocks, and so does a record that cannot be read (fail closed) until an
//! approval committed after it counts.
//!
//! The decision gives typed [`Reason`]s ([`super::wording`] words them); the quorum is
//! [`super::quorum::credit_groups`]; the history is data ([`History`]), so the decision is
//! tested without git below.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;

use super::family::Family;
use super::hash::{self, PageHash};
use super::history::History;
use super::ledger::Entry;
use super::policy::{Policy, Rule};
use super::quorum::credit_groups;
use super::reason::{Credit, EmergencyProblem, PartChange, Reason, RecordProblem};
use super::record::{Decision, Record};
use super::signature::Signature;
use super::wording;
use crate::content::Page;

/// Commits dated further ahead of now than this (clock skew) do not count.
const MAX_CLOCK_SKEW_MINUTES: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Approved,
    Emergency,
    Stale,
    Expired,
    Rejected,
    /// A record of the page cannot be read: fail closed until a later approval counts.
    Blocked,
    Draft,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Approved,
        State::Emergency,
        State::Stale,
        State::Expired,
        State::Rejected,
        State::Blocked,
        State::Draft,
    ];

    /// Only approved pages, and pages under a valid emergency approval, may be published.
    pub fn is_publishable(self) -> bool {
        matches!(self, State::Approved | State::Emergency)
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Approved => "approved",
            State::Emergency => "emergency",
            State::Stale => "stale",
            State::Expired => "expired",
            State::Rejected => "rejected",
            State::Blocked => "blocked",
            State::Draft => "draft",
        }
    }
}

/// A verified decision that counts: who made it, when, until when, about which content, and
/// where it is recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Signoff {
    /// E-mail address.
    pub approver: String,
    pub name: String,
    /// When the decision was made: the date of the commit that added the record.
    pub time: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub content_hash: String,
    /// The record file, root-relative.
    pub record: String,
    /// The commit that added the record.
    pub commit: String,
    /// The fingerprint of the key that signed that commit (`SHA256:...`), when it is signed.
    pub signing_key: Option<String>,
}

/// An approval that counts towards the page's current state (what publish receipts record).
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalUsed {
    #[serde(flatten)]
    pub signoff: Signoff,
    /// The group the approval is credited to.
    pub group: String,
}

/// A valid emergency approval of the page's current content.
#[derive(Debug, Clone, Serialize)]
pub struct EmergencyApproval {
    #[serde(flatten)]
    pub signoff: Signoff,
    pub reason: String,
}

/// The approval state of one page.
#[derive(Debug, Clone, Serialize)]
pub struct PageApproval {
    /// Index in `Site::pages`.
    #[serde(skip)]
    pub page: usize,
    pub doc: String,
    pub file: String,
    pub title: String,
    pub state: State,
    /// Why, in sentences for people: who approved which hash, what changed since, what is missing.
    pub reasons: Vec<String>,
    /// The same reasons as data, in the same order.
    #[serde(skip)]
    pub why: Vec<Reason>,
    /// The hash of the page's current content (`sha256:...`).
    pub content_hash: String,
    /// The policy rule that governs the page.
    pub rule: Option<String>,
    /// The approvals that make the page approved (empty unless `state` is approved).
    pub approvals_used: Vec<ApprovalUsed>,
    /// Set when the page is publishable through an emergency approval.
    pub emergency: Option<EmergencyApproval>,
    /// When the page needs (re-)approval: its approval's expiry, else its `review_by` date.
    pub review_due: Option<DateTime<Utc>>,
    /// Who authored or committed changes to the page since its last approved state (e-mail
    /// addresses); under a rule with `exclude_authors` their approvals do not count.
    pub changed_by: Vec<String>,
    /// The page's files (document, site templates) with changes that are not committed.
    pub uncommitted: Vec<String>,
    /// Changes to the page's approval records after they were committed (they do not count).
    pub tampering: Vec<String>,
    /// For a data-driven page family: the ids of the pages generated from its template, which
    /// all take its state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generated_pages: Vec<String>,
    /// Who has a standing, valid approval of the current version (quorum or not).
    #[serde(skip)]
    pub approved_by: Vec<String>,
    /// Whose rejection of the current version stands.
    #[serde(skip)]
    pub rejected_by: Vec<String>,
    /// What the hash covers, part by part (recorded with each decision).
    #[serde(skip)]
    pub parts: Vec<hash::Part>,
}

impl PageApproval {
    pub fn is_publishable(&self) -> bool {
        self.state.is_publishable()
    }
}

/// What every page's evaluation shares.
pub struct Inputs<'a> {
    pub policy: &'a Policy,
    pub history: &'a History,
    /// The signatures of the commits that added records, by commit id.
    pub signatures: &'a HashMap<String, Signature>,
    pub now: DateTime<Utc>,
}

/// A record that passed the history checks, with the commit that added it and that commit's
/// date.
struct Verified<'r> {
    record: &'r Record,
    commit: usize,
    time: DateTime<Utc>,
    /// The fingerprint of the key that signed the commit, when signed.
    key: Option<String>,
}

/// Evaluates one page, or (`family`) a data-driven page family whose first page is `page`.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_page(
    inputs: &Inputs,
    index: usize,
    page: &Page,
    family: Option<&Family>,
    rule: Option<&Rule>,
    hash: &PageHash,
    entries: &[Entry],
    tampering: &[String],
) -> PageApproval {
    let review_by_end = page
        .meta
        .review_by
        .map(|d| d.succ_opt().unwrap_or(d).and_time(NaiveTime::MIN).and_utc());
    let (doc, file, title) = match family {
        Some(f) => (
            f.id.clone(),
            hash.parts
                .iter()
                .find(|p| p.name == f.template)
                .and_then(|p| p.file.clone())
                .unwrap_or_else(|| format!("(built-in) {}", f.template)),
            format!("Pages generated from {}", f.template),
        ),
        None => (page.id.clone(), page.file.clone(), page.meta.title.clone()),
    };
    let mut result = undecided(index, (doc, file, title), hash, rule, review_by_end);
    result.tampering = tampering.to_vec();
    let Some(rule) = rule else {
        result.why.push(Reason::NoRule {
            path: page.rel_path.clone(),
            audience: serde_json::to_value(page.meta.audience)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        });
        return worded(result, inputs);
    };
    result.uncommitted = hash
        .parts
        .iter()
        .filter_map(|p| p.file.clone())
        .filter(|f| inputs.history.is_uncommitted(f))
        .collect();
    if !result.uncommitted.is_empty() {
        result.why.push(Reason::Uncommitted {
            files: result.uncommitted.clone(),
        });
    }
    decide(inputs, rule, hash, review_by_end, entries, &mut result);
    result
        .why
        .extend(tampering.iter().cloned().map(Reason::Tampering));
    worded(result, inputs)
}

/// A page's approval before any decision: a draft with no reasons.
fn undecided(
    index: usize,
    (doc, file, title): (String, String, String),
    hash: &PageHash,
    rule: Option<&Rule>,
    review_due: Option<DateTime<Utc>>,
) -> PageApproval {
    PageApproval {
        page: index,
        doc,
        file,
        title,
        state: State::Draft,
        reasons: Vec::new(),
        why: Vec::new(),
        content_hash: hash.hash.clone(),
        rule: rule.map(|r| r.name.clone()),
        approvals_used: Vec::new(),
        emergency: None,
        review_due,
        changed_by: Vec::new(),
        uncommitted: Vec::new(),
        tampering: Vec::new(),
        generated_pages: Vec::new(),
        approved_by: Vec::new(),
        rejected_by: Vec::new(),
        parts: hash.parts.clone(),
    }
}

/// Decides `result`'s state under `rule` from the records in `entries` (adding to its reasons):
/// everything of the evaluation that is not about the page's files.
fn decide(
    inputs: &Inputs,
    rule: &Rule,
    hash: &PageHash,
    review_by_end: Option<DateTime<Utc>>,
    entries: &[Entry],
    result: &mut PageApproval,
) {
    let evaluation = Evaluation::new(inputs, rule, hash, review_by_end, entries, &mut result.why);
    evaluation.decide(result);
    evaluation.block_on_broken_records(entries, result);
}

/// `result` with its reasons in words.
fn worded(mut result: PageApproval, inputs: &Inputs) -> PageApproval {
    let people = &inputs.policy.people;
    result.reasons = result
        .why
        .iter()
        .map(|r| wording::render(r, people))
        .collect();
    result
}

struct Evaluation<'a> {
    inputs: &'a Inputs<'a>,
    rule: &'a Rule,
    hash: &'a PageHash,
    review_by_end: Option<DateTime<Utc>>,
    /// Verified records, oldest first.
    decisions: Vec<Verified<'a>>,
    /// Commits that changed the page's files (document and site templates).
    page_changes: Vec<usize>,
}

impl<'a> Evaluation<'a> {
    fn new(
        inputs: &'a Inputs,
        rule: &'a Rule,
        hash: &'a PageHash,
        review_by_end: Option<DateTime<Utc>>,
        entries: &'a [Entry],
        reasons: &mut Vec<Reason>,
    ) -> Self {
        let history = inputs.history;
        let mut decisions: Vec<Verified> = entries
            .iter()
            .filter_map(|e| verify(inputs, e).map_err(|why| reasons.push(why)).ok())
            .collect();
        decisions.sort_by_key(|d| (std::cmp::Reverse(history.order(d.commit)), d.record.time));
        // Where the document was when each decision was made: its authors there count too.
        let earlier: Vec<(String, usize)> = decisions
            .iter()
            .map(|d| (d.record.file.clone(), d.commit))
            .collect();
        let mut page_changes: Vec<usize> = Vec::new();
        for file in hash.parts.iter().filter_map(|p| p.file.as_deref()) {
            page_changes.extend(history.document_changes(file, &earlier));
        }
        page_changes.sort_unstable();
        page_changes.dedup();
        Evaluation {
            inputs,
            rule,
            hash,
            review_by_end,
            decisions,
            page_changes,
        }
    }

    /// People who authored or committed changes to the page that are ancestors of `upto` (all,
    /// when `None`) and not ancestors of `base`, each with the first such commit.
    fn changers(&self, upto: Option<usize>, base: Option<usize>) -> HashMap<&str, usize> {
        let history = self.inputs.history;
        let mut people = HashMap::new();
        for &c in &self.page_changes {
            if upto.is_none_or(|u| history.is_ancestor(c, u))
                && base.is_none_or(|b| !history.is_ancestor(c, b))
            {
                let commit = &history.commits[c];
                people.entry(commit.author.as_str()).or_insert(c);
                people.entry(commit.committer.as_str()).or_insert(c);
            }
        }
        people
    }

    fn eligible_groups(&self, approver: &str) -> Vec<&'a str> {
        self.inputs
            .policy
            .people
            .memberships(approver, &self.rule.groups)
    }

    /// The commit of the last approved state of a version other than the current one: changes
    /// after it are what approvers now review, and their authors may not approve. Found by
    /// replaying the decisions in history order, applying the same rules at each point.
    fn baseline(&self) -> Option<usize> {
        let mut baseline = None;
        let mut approved: Option<&str> = None;
        let mut before_current = None;
        let mut latest: BTreeMap<(&str, &str), (&Verified, Vec<&str>)> = BTreeMap::new();
        for d in self.decisions.iter().filter(|d| !d.record.is_emergency()) {
            let r = d.record;
            let groups = self.eligible_groups(&r.approver);
            let excluded = self.rule.exclude_authors
                && self
                    .changers(Some(d.commit), baseline)
                    .contains_key(r.approver.as_str());
            if groups.is_empty() || excluded {
                continue;
            }
            let key = (r.content_hash.as_str(), r.approver.as_str());
            if latest
                .get(&key)
                .is_none_or(|(before, _)| self.supersedes(d, before))
            {
                latest.insert(key, (d, groups));
            }
            let approving: Vec<Vec<&str>> = latest
                .iter()
                .filter(|((h, _), (decision, _))| {
                    *h == r.content_hash && decision.record.decision == Decision::Approve
                })
                .map(|(_, (_, groups))| groups.clone())
                .collect();
            if approved != Some(r.content_hash.as_str())
                && credit_groups(self.rule.approvals, self.rule.distinct_groups, &approving)
                    .is_some()
            {
                if r.content_hash == self.hash.hash {
                    before_current = baseline;
                }
                baseline = Some(d.commit);
                approved = Some(r.content_hash.as_str());
            }
        }
        if approved == Some(self.hash.hash.as_str()) {
            before_current
        } else {
            baseline
        }
    }

    fn decide(&self, result: &mut PageApproval) {
        let inputs = self.inputs;
        let history = inputs.history;
        let changers = self.changers(None, self.baseline());
        let excluded = |approver: &str| {
            if self.rule.exclude_authors {
                changers.get(approver).copied()
            } else {
                None
            }
        };
        let mut latest: BTreeMap<&str, &Verified> = BTreeMap::new();
        for d in self
            .decisions
            .iter()
            .filter(|d| d.record.content_hash == self.hash.hash && !d.record.is_emergency())
        {
            if latest
                .get(d.record.approver.as_str())
                .is_none_or(|before| self.supersedes(d, before))
            {
                latest.insert(&d.record.approver, d);
            }
        }
        let (mut counted, mut rejections, mut expired) = (Vec::new(), Vec::new(), Vec::new());
        for (approver, d) in latest {
            let groups = self.eligible_groups(approver);
            if groups.is_empty() {
                result.why.push(Reason::NotInGroups {
                    approver: approver.to_string(),
                    decision: d.record.decision,
                    rule: self.rule.name.clone(),
                    groups: self.rule.groups.clone(),
                });
            } else if let Some(c) = excluded(approver) {
                result.why.push(Reason::ChangedSinceApproved {
                    approver: approver.to_string(),
                    decision: d.record.decision,
                    commit: history.commits[c].short_id().to_string(),
                });
            } else if d.record.decision == Decision::Reject {
                rejections.push(d);
            } else {
                let expires = self.expiry(d);
                if expires <= inputs.now {
                    expired.push((d, expires));
                } else {
                    counted.push((d, groups, expires));
                }
            }
        }
        result.approved_by = counted
            .iter()
            .map(|(d, _, _)| d.record.approver.clone())
            .collect();
        result.rejected_by = rejections
            .iter()
            .map(|d| d.record.approver.clone())
            .collect();
        let candidate_groups: Vec<Vec<&str>> = counted.iter().map(|(_, g, _)| g.clone()).collect();
        let credited = credit_groups(
            self.rule.approvals,
            self.rule.distinct_groups,
            &candidate_groups,
        );
        if !rejections.is_empty() {
            result.state = State::Rejected;
            for d in rejections {
                result.why.insert(
                    0,
                    Reason::RejectedBy {
                        approver: d.record.approver.clone(),
                        time: d.time,
                        comment: d.record.comment.clone(),
                    },
                );
            }
        } else if let Some(credited) = credited {
            result.state = State::Approved;
            for ((d, _, expires), group) in counted.iter().zip(credited) {
                result.approvals_used.push(ApprovalUsed {
                    signoff: self.signoff(d, *expires),
                    group: group.to_string(),
                });
            }
            result.review_due = result
                .approvals_used
                .iter()
                .map(|a| a.signoff.expires)
                .min();
            let credits = result
                .approvals_used
                .iter()
                .map(|a| Credit {
                    approver: a.signoff.approver.clone(),
                    group: a.group.clone(),
                    time: a.signoff.time,
                })
                .collect();
            result.why.insert(
                0,
                Reason::Approved {
                    hash: self.hash.hash.clone(),
                    credits,
                    until: result.review_due,
                },
            );
        } else if let Some(emergency) = self.emergency(&changers, &mut result.why) {
            result.state = State::Emergency;
            result.why.insert(
                0,
                Reason::Emergency {
                    approver: emergency.signoff.approver.clone(),
                    expires: emergency.signoff.expires,
                    reason: emergency.reason.clone(),
                },
            );
            result.review_due = Some(emergency.signoff.expires);
            result.emergency = Some(emergency);
        } else if !expired.is_empty() {
            result.state = State::Expired;
            for (d, expires) in expired.iter().rev() {
                result.why.insert(
                    0,
                    Reason::ApprovalExpired {
                        approver: d.record.approver.clone(),
                        approved: d.time,
                        expired: *expires,
                    },
                );
            }
        } else if let Some(previous) = self.decisions.iter().rev().find(|d| {
            let r = d.record;
            r.content_hash != self.hash.hash
                && r.decision == Decision::Approve
                && (r.is_emergency() || !self.eligible_groups(&r.approver).is_empty())
        }) {
            result.state = State::Stale;
            let reason = self.what_changed(previous);
            result.why.insert(0, reason);
        } else {
            result.state = State::Draft;
        }
        if matches!(result.state, State::Draft | State::Stale | State::Expired) {
            let have: Vec<&str> = counted
                .iter()
                .map(|(d, _, _)| d.record.approver.as_str())
                .collect();
            result.why.push(self.quorum_needed(&have));
        }
        if let Some(end) = self
            .review_by_end
            .filter(|end| *end <= inputs.now && !result.state.is_publishable())
        {
            let date = (end - Duration::days(1)).date_naive();
            result.why.push(Reason::ReviewDatePassed { date });
        }
        let mut changed_by: Vec<String> = changers.into_keys().map(String::from).collect();
        changed_by.sort();
        result.changed_by = changed_by;
    }

    /// When an approval stops counting: its record's expiry, the rule's `max_age` after its
    /// commit, and the end of the page's `review_by` day, whichever comes first.
    fn expiry(&self, d: &Verified) -> DateTime<Utc> {
        [
            Some(d.time + self.rule.max_age),
            d.record.expires,
            self.review_by_end,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(d.time)
    }

    /// Does decision `a` replace `b` (same approver)? A descendant replaces its ancestor; of
    /// decisions on diverging branches the one committed later wins, a rejection on a tie.
    fn supersedes(&self, a: &Verified, b: &Verified) -> bool {
        let history = self.inputs.history;
        if a.commit != b.commit {
            if history.is_ancestor(b.commit, a.commit) {
                return true;
            }
            if history.is_ancestor(a.commit, b.commit) {
                return false;
            }
        }
        let rank = |d: &Verified| (d.time, d.record.decision == Decision::Reject, d.record.time);
        rank(a) >= rank(b)
    }

    /// A committed record that cannot be read blocks the page until an approval committed on
    /// top of it counts.
    fn block_on_broken_records(&self, entries: &[Entry], result: &mut PageApproval) {
        let history = self.inputs.history;
        let mut used: Vec<String> = result
            .approvals_used
            .iter()
            .map(|a| a.signoff.commit.clone())
            .collect();
        used.extend(result.emergency.iter().map(|e| e.signoff.commit.clone()));
        let lifted = |broken: usize| {
            self.decisions.iter().any(|d| {
                d.commit != broken
                    && history.is_ancestor(broken, d.commit)
                    && used.contains(&history.commits[d.commit].id)
            })
        };
        for entry in entries {
            let (Err(problem), Some(commit)) = (&entry.record, entry.commit) else {
                continue;
            };
            if lifted(commit) {
                continue;
            }
            result.state = State::Blocked;
            result.approvals_used.clear();
            result.emergency = None;
            result.why.insert(
                0,
                Reason::Blocked {
                    record: entry.path.clone(),
                    commit: history.commits[commit].short_id().to_string(),
                    problem: problem.message.clone(),
                },
            );
        }
    }

    fn signoff(&self, d: &Verified, expires: DateTime<Utc>) -> Signoff {
        let r = d.record;
        let people = &self.inputs.policy.people;
        Signoff {
            approver: r.approver.clone(),
            name: people
                .get(&r.approver)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            time: d.time,
            expires,
            content_hash: r.content_hash.clone(),
            record: r.path.clone(),
            commit: self.inputs.history.commits[d.commit].id.clone(),
            signing_key: d.key.clone(),
        }
    }

    /// The latest valid emergency approval of the current version, if any.
    fn emergency(
        &self,
        changers: &HashMap<&str, usize>,
        reasons: &mut Vec<Reason>,
    ) -> Option<EmergencyApproval> {
        let inputs = self.inputs;
        let people = &inputs.policy.people;
        let mut found = None;
        for d in self
            .decisions
            .iter()
            .filter(|d| d.record.content_hash == self.hash.hash)
        {
            let (r, Some(reason)) = (d.record, d.record.emergency.as_ref()) else {
                continue;
            };
            let not_counted = |problem| Reason::EmergencyNotCounted {
                approver: r.approver.clone(),
                problem,
            };
            let Some(policy) = &inputs.policy.emergency else {
                reasons.push(not_counted(EmergencyProblem::NoPolicy));
                continue;
            };
            let expires = [Some(d.time + policy.valid_for), r.expires]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(d.time);
            if people.memberships(&r.approver, &policy.groups).is_empty() {
                reasons.push(not_counted(EmergencyProblem::NotInGroups {
                    groups: policy.groups.clone(),
                }));
            } else if let Some(c) = changers
                .get(r.approver.as_str())
                .filter(|_| policy.exclude_authors)
            {
                reasons.push(not_counted(EmergencyProblem::ChangedIt {
                    commit: inputs.history.commits[*c].short_id().to_string(),
                }));
            } else if expires <= inputs.now {
                reasons.push(not_counted(EmergencyProblem::Expired { at: expires }));
            } else {
                found = Some(EmergencyApproval {
                    signoff: self.signoff(d, expires),
                    reason: reason.clone(),
                });
            }
        }
        found
    }

    /// Who approved which earlier version, and what changed since, for a stale page.
    fn what_changed(&self, previous: &Verified) -> Reason {
        let record = previous.record;
        let history = self.inputs.history;
        let mut changes: Vec<PartChange> = Vec::new();
        for part in &self.hash.parts {
            match record.hashed.get(&part.name) {
                Some(digest) if *digest == part.digest => {}
                Some(_) => changes.push(PartChange::Changed(part.name.clone())),
                None => changes.push(PartChange::NewlyUsed(part.name.clone())),
            }
        }
        let current: HashSet<&str> = self.hash.parts.iter().map(|p| p.name.as_str()).collect();
        changes.extend(
            record
                .hashed
                .keys()
                .filter(|n| !current.contains(n.as_str()))
                .map(|n| PartChange::NoLongerUsed(n.clone())),
        );
        let commits = self
            .page_changes
            .iter()
            .filter(|&&c| !history.is_ancestor(c, previous.commit))
            .map(|&c| {
                let commit = &history.commits[c];
                (commit.short_id().to_string(), commit.author.clone())
            })
            .collect();
        Reason::Stale {
            hash: record.content_hash.clone(),
            approver: record.approver.clone(),
            approved: previous.time,
            changes,
            commits,
        }
    }

    /// What the rule asks for and which valid approvals of this version there are.
    fn quorum_needed(&self, have: &[&str]) -> Reason {
        let rule = self.rule;
        Reason::QuorumNeeded {
            approvals: rule.approvals,
            groups: rule.groups.clone(),
            distinct_groups: rule.distinct_groups,
            rule: rule.name.clone(),
            valid: have.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// Checks a record against history: committed (as first committed), the commit that added it
/// authored by its approver, who is a known person; not dated after that commit, and that commit
/// not dated in the future.
fn verify<'r>(inputs: &Inputs, entry: &'r Entry) -> Result<Verified<'r>, Reason> {
    let history = inputs.history;
    let not_counted = |problem| Reason::RecordNotCounted {
        record: entry.path.clone(),
        problem,
    };
    let Ok(record) = &entry.record else {
        return Err(not_counted(RecordProblem::Unreadable));
    };
    let Some(commit) = entry.commit else {
        return Err(not_counted(RecordProblem::NotCommitted));
    };
    let c = &history.commits[commit];
    let short = c.short_id().to_string();
    if c.author != record.approver {
        return Err(not_counted(RecordProblem::AuthoredByOther {
            commit: short,
            author: c.author.clone(),
            approver: record.approver.clone(),
        }));
    }
    let signature = inputs.signatures.get(&c.id).cloned().unwrap_or_default();
    if inputs.policy.require_signed && record.decision == Decision::Approve {
        let problem = match (&signature.signer, &signature.key) {
            (Some(signer), _) if *signer == record.approver => None,
            (Some(signer), _) => Some(RecordProblem::SignedByOther {
                commit: short.clone(),
                signer: signer.clone(),
            }),
            (None, Some(key)) => Some(RecordProblem::UnknownKey {
                commit: short.clone(),
                key: key.clone(),
                approver: record.approver.clone(),
            }),
            (None, None) => Some(RecordProblem::Unsigned {
                commit: short.clone(),
            }),
        };
        if let Some(problem) = problem {
            return Err(not_counted(problem));
        }
    }
    if inputs.policy.people.get(&record.approver).is_none() {
        return Err(not_counted(RecordProblem::UnknownPerson {
            approver: record.approver.clone(),
        }));
    }
    if record.time > c.time {
        return Err(not_counted(RecordProblem::DatedAfterCommit {
            time: record.time,
            commit: short,
            commit_time: c.time,
        }));
    }
    let time = history.effective_time(commit);
    if time > inputs.now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
        return Err(not_counted(RecordProblem::CommitInFuture {
            commit: short,
            time,
        }));
    }
    Ok(Verified {
        record,
        commit,
        time,
        key: signature.key,
    })
}

#[cfg(test)]
mod tests {
    //! The decision on history given as data (no git): each test states the commits, the records
    //! and the page's current hash, and matches the typed reasons.

    use std::collections::BTreeMap;

    use chrono::TimeZone;

    use super::*;
    use crate::approval::hash::{DOCUMENT_PART, Part};
    use crate::approval::history::{ChangeKind, CommitData};
    use crate::approval::policy::People;

    const PEOPLE: &str = "[[person]]\nemail = \"wes@example.com\"\nname = \"Wes Writer\"\n[[person]]\nemail = \"ana@example.com\"\nname = \"Ana Ops\"\n[[person]]\nemail = \"bob@example.com\"\nname = \"Bob Ops\"\n\n[groups]\nops = [\"ana@example.com\", \"bob@example.com\", \"wes@example.com\"]\n";
    const POLICY: &str = "[[rule]]\nname = \"everything\"\napprovals = 1\ngroups = [\"ops\"]\n";
    const DOC: &str = "content/doc.md";

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, day, 12, 0, 0).unwrap()
    }

    /// A record of `approver`'s `decision` on the document at digest `digest`, made on `day`.
    fn record(approver: &str, decision: Decision, digest: &str, day: u32) -> Record {
        let name = approver.split('@').next().unwrap();
        Record {
            path: format!(".kb/approvals/doc/{name}-{day}.toml"),
            doc: "doc".into(),
            file: DOC.into(),
            content_hash: format!("sha256:{digest}"),
            decision,
            meaning: "approved".into(),
            approver: approver.into(),
            time: at(day),
            expires: None,
            comment: (decision == Decision::Reject).then(|| "not yet".to_string()),
            emergency: None,
            hashed: BTreeMap::from([(DOCUMENT_PART.to_string(), digest.to_string())]),
        }
    }

    /// Evaluates the document at `digest` against `records`, each added by the commit of the
    /// same position in `commits` (newest first; commits beyond the records change the page).
    fn evaluate(
        commits: &[CommitData],
        records: Vec<(usize, Record)>,
        digest: &str,
    ) -> PageApproval {
        let people = People::parse(PEOPLE).expect("people");
        let policy = Policy::parse(POLICY, people).expect("policy");
        let history = History::from_commits(commits, &[]);
        let signatures = HashMap::new();
        let inputs = Inputs {
            policy: &policy,
            history: &history,
            signatures: &signatures,
            now: at(30),
        };
        let hash = PageHash {
            hash: format!("sha256:{digest}"),
            parts: vec![Part {
                name: DOCUMENT_PART.into(),
                digest: digest.into(),
                file: Some(DOC.into()),
            }],
        };
        let entries: Vec<Entry> = records
            .into_iter()
            .map(|(commit, record)| Entry {
                path: record.path.clone(),
                commit: Some(commit),
                record: Ok(record),
            })
            .collect();
        let rule = &policy.rules[0];
        let mut result = undecided(0, Default::default(), &hash, Some(rule), None);
        decide(&inputs, rule, &hash, None, &entries, &mut result);
        worded(result, &inputs)
    }

    const WRITE: &[(ChangeKind, &str)] = &[(ChangeKind::Modified, DOC)];

    /// A straight history, newest first: each step is (author, day, whether it changes the
    /// document); commit ids count up from `c1`, the oldest.
    fn linear(steps: &[(&'static str, u32, bool)]) -> Vec<CommitData<'static>> {
        static IDS: [&str; 4] = ["c1", "c2", "c3", "c4"];
        let oldest = steps.len() - 1;
        let commit = |(i, &(author, day, writes)): (usize, &(&'static str, u32, bool))| {
            let k = oldest - i;
            CommitData {
                id: IDS[k],
                parents: if k == 0 { &[] } else { &IDS[k - 1..k] },
                author,
                committer: author,
                time: at(day),
                changes: if writes { WRITE } else { &[] },
            }
        };
        steps.iter().enumerate().map(commit).collect()
    }

    #[test]
    fn an_approval_of_the_current_version_by_a_member_approves_it() {
        let commits = linear(&[("ana@example.com", 3, false), ("wes@example.com", 2, true)]);
        let page = evaluate(
            &commits,
            vec![(0, record("ana@example.com", Decision::Approve, "d1", 3))],
            "d1",
        );
        assert_eq!(page.state, State::Approved);
        let Reason::Approved { credits, .. } = &page.why[0] else {
            panic!("{:?}", page.why)
        };
        assert_eq!(
            (credits[0].approver.as_str(), credits[0].group.as_str()),
            ("ana@example.com", "ops")
        );
        assert!(
            page.reasons[0]
                .starts_with("approved d1 by Ana Ops <ana@example.com> (ops) on 2026-05-03"),
            "{:?}",
            page.reasons
        );
    }

    #[test]
    fn a_change_after_the_approval_makes_it_stale_and_names_the_commits() {
        let commits = linear(&[
            ("wes@example.com", 4, true),
            ("ana@example.com", 3, false),
            ("wes@example.com", 2, true),
        ]);
        let page = evaluate(
            &commits,
            vec![(1, record("ana@example.com", Decision::Approve, "d1", 3))],
            "d2",
        );
        assert_eq!(page.state, State::Stale);
        assert_eq!(
            page.why[0],
            Reason::Stale {
                hash: "sha256:d1".into(),
                approver: "ana@example.com".into(),
                approved: at(3),
                changes: vec![PartChange::Changed(DOCUMENT_PART.into())],
                commits: vec![("c3".into(), "wes@example.com".into())],
            }
        );
        assert!(matches!(&page.why[1], Reason::QuorumNeeded { valid, .. } if valid.is_empty()));
        assert_eq!(page.changed_by, ["wes@example.com"]);
    }

    #[test]
    fn the_author_of_a_change_cannot_approve_it() {
        let commits = linear(&[("wes@example.com", 3, false), ("wes@example.com", 2, true)]);
        let page = evaluate(
            &commits,
            vec![(0, record("wes@example.com", Decision::Approve, "d1", 3))],
            "d1",
        );
        assert_eq!(page.state, State::Draft);
        assert_eq!(
            page.why[0],
            Reason::ChangedSinceApproved {
                approver: "wes@example.com".into(),
                decision: Decision::Approve,
                commit: "c1".into(),
            }
        );
    }

    #[test]
    fn a_record_committed_by_someone_else_does_not_count() {
        let commits = linear(&[("wes@example.com", 3, false), ("wes@example.com", 2, true)]);
        let page = evaluate(
            &commits,
            vec![(0, record("ana@example.com", Decision::Approve, "d1", 3))],
            "d1",
        );
        assert_eq!(page.state, State::Draft);
        assert!(matches!(
            &page.why[0],
            Reason::RecordNotCounted { problem: RecordProblem::AuthoredByOther { author, .. }, .. } if author == "wes@example.com"
        ));
    }

    #[test]
    fn one_standing_rejection_outweighs_an_approval() {
        let commits = linear(&[
            ("bob@example.com", 4, false),
            ("ana@example.com", 3, false),
            ("wes@example.com", 2, true),
        ]);
        let records = vec![
            (1, record("ana@example.com", Decision::Approve, "d1", 3)),
            (0, record("bob@example.com", Decision::Reject, "d1", 4)),
        ];
        let page = evaluate(&commits, records, "d1");
        assert_eq!(page.state, State::Rejected);
        assert_eq!(
            page.reasons[0],
            "rejected by Bob Ops <bob@example.com> on 2026-05-04: not yet"
        );
        assert_eq!(page.approved_by, ["ana@example.com"]);
    }
}

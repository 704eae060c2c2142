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

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::Serialize;

use super::family::Family;
use super::hash::{self, PageHash};
use super::history::History;
use super::ledger::Entry;
use super::policy::{Policy, Rule};
use super::record::{Decision, Record};
use super::signature::Signature;
use crate::content::Page;

/// Commits dated further ahead of now than this (clock skew) do not count.
const MAX_CLOCK_SKEW_MINUTES: i64 = 10;
/// How many changes or records a reason lists before "and N more".
const LISTED: usize = 3;

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
    let mut result = PageApproval {
        page: index,
        doc,
        file,
        title,
        state: State::Draft,
        reasons: Vec::new(),
        content_hash: hash.hash.clone(),
        rule: rule.map(|r| r.name.clone()),
        approvals_used: Vec::new(),
        emergency: None,
        review_due: review_by_end,
        changed_by: Vec::new(),
        uncommitted: Vec::new(),
        tampering: tampering.to_vec(),
        generated_pages: Vec::new(),
        approved_by: Vec::new(),
        rejected_by: Vec::new(),
        parts: hash.parts.clone(),
    };
    let Some(rule) = rule else {
        result.reasons.push(format!(
            "no rule in .kb/policy.toml matches this page (path `{}`, audience `{}`), so nobody can approve it",
            page.rel_path,
            serde_json::to_value(page.meta.audience).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ));
        return result;
    };
    result.uncommitted = hash
        .parts
        .iter()
        .filter_map(|p| p.file.clone())
        .filter(|f| inputs.history.is_uncommitted(f))
        .collect();
    if !result.uncommitted.is_empty() {
        result.reasons.push(format!(
            "not committed yet: changes in {}",
            result.uncommitted.join(", ")
        ));
    }
    let evaluation = Evaluation::new(
        inputs,
        rule,
        hash,
        review_by_end,
        entries,
        &mut result.reasons,
    );
    evaluation.decide(&mut result);
    evaluation.block_on_broken_records(entries, &mut result);
    result.reasons.extend(tampering.iter().cloned());
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
        reasons: &mut Vec<String>,
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
                && credit_groups(self.rule, &approving).is_some()
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
        let people = &inputs.policy.people;
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
            let verb = if d.record.decision == Decision::Approve {
                "approved"
            } else {
                "rejected"
            };
            if groups.is_empty() {
                result.reasons.push(format!("{} {verb} this version but is not in the groups of rule `{}` ({}); not counted", people.display(approver), self.rule.name, self.rule.groups.join(", ")));
            } else if let Some(c) = excluded(approver) {
                result.reasons.push(format!(
                    "{} {verb} this version but authored or committed changes to it since its last approved state (commit {}); not counted",
                    people.display(approver),
                    history.commits[c].short_id()
                ));
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
        let credited = credit_groups(self.rule, &candidate_groups);
        if !rejections.is_empty() {
            result.state = State::Rejected;
            for d in rejections {
                let comment = d
                    .record
                    .comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                result.reasons.insert(
                    0,
                    format!(
                        "rejected by {} on {}{comment}",
                        people.display(&d.record.approver),
                        day(d.time)
                    ),
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
            let who: Vec<String> = result
                .approvals_used
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}) on {}",
                        people.display(&a.signoff.approver),
                        a.group,
                        day(a.signoff.time)
                    )
                })
                .collect();
            let until = result.review_due.map(last_day).unwrap_or_default();
            result.reasons.insert(
                0,
                format!(
                    "approved {} by {}; valid until {until}",
                    hash::short(&self.hash.hash),
                    who.join(", ")
                ),
            );
        } else if let Some(emergency) = self.emergency(&changers, &mut result.reasons) {
            result.state = State::Emergency;
            result.reasons.insert(
                0,
                format!(
                    "EMERGENCY approval by {} until {}: {}",
                    people.display(&emergency.signoff.approver),
                    minute(emergency.signoff.expires),
                    emergency.reason
                ),
            );
            result.review_due = Some(emergency.signoff.expires);
            result.emergency = Some(emergency);
        } else if !expired.is_empty() {
            result.state = State::Expired;
            for (d, expires) in expired.iter().rev() {
                let who = people.display(&d.record.approver);
                result.reasons.insert(
                    0,
                    format!(
                        "approval by {who} of {} expired on {}",
                        day(d.time),
                        day(*expires)
                    ),
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
            result.reasons.insert(0, reason);
        } else {
            result.state = State::Draft;
        }
        if matches!(result.state, State::Draft | State::Stale | State::Expired) {
            let have: Vec<&str> = counted
                .iter()
                .map(|(d, _, _)| d.record.approver.as_str())
                .collect();
            result.reasons.push(self.quorum_needed(&have));
        }
        if let Some(end) = self
            .review_by_end
            .filter(|end| *end <= inputs.now && !result.state.is_publishable())
        {
            let date = (end - Duration::days(1)).date_naive();
            result.reasons.push(format!("its review date {date} has passed: update `review_by` and get the page approved again"));
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
            result.reasons.insert(0, format!(
                "blocked: record {} (commit {}) cannot be read: {}; a record that cannot be read blocks the page until it is approved again in a later commit",
                entry.path,
                history.commits[commit].short_id(),
                problem.message
            ));
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
        reasons: &mut Vec<String>,
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
            let who = people.display(&r.approver);
            let Some(policy) = &inputs.policy.emergency else {
                reasons.push(format!("emergency approval by {who} does not count: the policy has no `[emergency]` section"));
                continue;
            };
            let expires = [Some(d.time + policy.valid_for), r.expires]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(d.time);
            if people.memberships(&r.approver, &policy.groups).is_empty() {
                reasons.push(format!(
                    "emergency approval by {who} does not count: not in the emergency groups ({})",
                    policy.groups.join(", ")
                ));
            } else if let Some(c) = changers
                .get(r.approver.as_str())
                .filter(|_| policy.exclude_authors)
            {
                reasons.push(format!("emergency approval by {who} does not count: authored or committed changes to this version (commit {})", inputs.history.commits[*c].short_id()));
            } else if expires <= inputs.now {
                reasons.push(format!(
                    "emergency approval by {who} expired on {}",
                    minute(expires)
                ));
            } else {
                found = Some(EmergencyApproval {
                    signoff: self.signoff(d, expires),
                    reason: reason.clone(),
                });
            }
        }
        found
    }

    /// "approved for <hash> by ..., changed since: ..." for a stale page.
    fn what_changed(&self, previous: &Verified) -> String {
        let record = previous.record;
        let history = self.inputs.history;
        let mut parts: Vec<String> = Vec::new();
        for part in &self.hash.parts {
            match record.hashed.get(&part.name) {
                Some(digest) if *digest == part.digest => {}
                Some(_) => parts.push(part_label(&part.name)),
                None => parts.push(format!("{} (newly used)", part_label(&part.name))),
            }
        }
        let current: HashSet<&str> = self.hash.parts.iter().map(|p| p.name.as_str()).collect();
        parts.extend(
            record
                .hashed
                .keys()
                .filter(|n| !current.contains(n.as_str()))
                .map(|n| format!("{} (no longer used)", part_label(n))),
        );
        let mut commits: Vec<String> = self
            .page_changes
            .iter()
            .filter(|&&c| !history.is_ancestor(c, previous.commit))
            .map(|&c| {
                format!(
                    "{} by {}",
                    history.commits[c].short_id(),
                    history.commits[c].author
                )
            })
            .collect();
        let more = commits.len().saturating_sub(LISTED);
        commits.truncate(LISTED);
        if more > 0 {
            commits.push(format!("{more} more"));
        }
        let changed = if parts.is_empty() {
            "the content changed".to_string()
        } else {
            format!("changed since: {}", parts.join(", "))
        };
        let commits = if commits.is_empty() {
            String::new()
        } else {
            format!(" (commits {})", commits.join(", "))
        };
        format!(
            "approved for {} by {} on {}; {changed}{commits}",
            hash::short(&record.content_hash),
            self.inputs.policy.people.display(&record.approver),
            day(previous.time)
        )
    }

    /// What the rule asks for and which valid approvals of this version there are.
    fn quorum_needed(&self, have: &[&str]) -> String {
        let rule = self.rule;
        let per_group = if rule.distinct_groups {
            ", each from a different group"
        } else {
            ""
        };
        let people = &self.inputs.policy.people;
        let has = match have {
            [] => "none yet".to_string(),
            some => some
                .iter()
                .map(|a| people.display(a))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "needs {} approval{} of this version from {}{per_group} (rule `{}`); valid approvals: {has}",
            rule.approvals,
            if rule.approvals == 1 { "" } else { "s" },
            rule.groups.join(", "),
            rule.name,
        )
    }
}

/// Checks a record against history: committed (as first committed), the commit that added it
/// authored by its approver, who is a known person; not dated after that commit, and that commit
/// not dated in the future.
fn verify<'r>(inputs: &Inputs, entry: &'r Entry) -> Result<Verified<'r>, String> {
    let history = inputs.history;
    let path = &entry.path;
    let Ok(record) = &entry.record else {
        return Err(format!("{path} does not count: it cannot be read"));
    };
    let Some(commit) = entry.commit else {
        return Err(format!(
            "{path} does not count: it is not committed (approvals count once their commit is in the history)"
        ));
    };
    let c = &history.commits[commit];
    if c.author != record.approver {
        return Err(format!(
            "{path} does not count: commit {} that added it is authored by {}, not by the approver {}",
            c.short_id(),
            c.author,
            record.approver
        ));
    }
    let signature = inputs.signatures.get(&c.id).cloned().unwrap_or_default();
    if inputs.policy.require_signed && record.decision == Decision::Approve {
        let problem = match (&signature.signer, &signature.key) {
            (Some(signer), _) if *signer == record.approver => None,
            (Some(signer), _) => Some(format!(
                "is signed with a key of {signer}, not of the approver"
            )),
            (None, Some(key)) => Some(format!(
                "is signed with key {key}, which is not one of {}'s keys in .kb/people.toml (or the signature is bad)",
                record.approver
            )),
            (None, None) => Some("is not signed".to_string()),
        };
        if let Some(problem) = problem {
            return Err(format!(
                "{path} does not count: commit {} that added it {problem}; the policy has `require_signed = true`",
                c.short_id()
            ));
        }
    }
    if inputs.policy.people.get(&record.approver).is_none() {
        return Err(format!(
            "{path} does not count: {} is not in .kb/people.toml",
            record.approver
        ));
    }
    if record.time > c.time {
        return Err(format!(
            "{path} does not count: it is dated {}, after commit {} that added it ({}); times come from git",
            minute(record.time),
            c.short_id(),
            minute(c.time)
        ));
    }
    let time = history.effective_time(commit);
    if time > inputs.now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
        return Err(format!(
            "{path} does not count: commit {} that added it is dated in the future ({})",
            c.short_id(),
            minute(time)
        ));
    }
    Ok(Verified {
        record,
        commit,
        time,
        key: signature.key,
    })
}

/// The group each candidate is credited to when together they meet the rule's quorum; `None`
/// when they do not. With `distinct_groups`, each group is credited at most once (a maximum
/// bipartite matching, so a person in two groups is credited where it helps).
fn credit_groups<'g>(rule: &Rule, candidates: &[Vec<&'g str>]) -> Option<Vec<&'g str>> {
    if !rule.distinct_groups {
        return (candidates.len() >= rule.approvals)
            .then(|| candidates.iter().map(|g| g[0]).collect());
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for c in 0..candidates.len() {
        assign(c, candidates, &mut owner, &mut HashSet::new());
    }
    if owner.len() < rule.approvals {
        return None;
    }
    let mut credited: Vec<&str> = candidates.iter().map(|g| g[0]).collect();
    for (group, c) in owner {
        credited[c] = group;
    }
    Some(credited)
}

/// One augmenting-path step of the matching: finds a group for candidate `c`, moving others.
fn assign<'g>(
    c: usize,
    candidates: &[Vec<&'g str>],
    owner: &mut HashMap<&'g str, usize>,
    visited: &mut HashSet<&'g str>,
) -> bool {
    for &group in &candidates[c] {
        if visited.insert(group) {
            let free = match owner.get(group) {
                None => true,
                Some(&other) => assign(other, candidates, owner, visited),
            };
            if free {
                owner.insert(group, c);
                return true;
            }
        }
    }
    false
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

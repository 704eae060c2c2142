//! Change control for the policy itself: `.kb/policy.toml` and `.kb/people.toml` are approved by
//! the policy owners (`[owners]` in the policy in force). The first committed policy is in force
//! from the start; each later committed version is in force once enough owners of the policy
//! then in force approved its hash (records in `.kb/approvals/_policy/`, added by them, after
//! the change, signed when that policy requires it). Until then the last approved policy stays
//! in force, and status says so. A policy without `[owners]` governs nothing: its next version
//! is in force as soon as it is written.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::history::History;
use super::ledger::Ledger;
use super::policy::{OwnersRule, PEOPLE_FILE, POLICY_FILE, People, Policy};
use super::record::Decision;
use super::{Error, git, hash, signature};

/// The folder (document id) of policy approval records.
pub const POLICY_DOC: &str = "_policy";

/// Which policy is in force, for status, approve and audit.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyState {
    /// The commit whose policy files are in force; `None` when they are not committed yet.
    pub commit: Option<String>,
    /// The hash of the policy files as they are now: what `kbpub approve .kb/policy.toml`
    /// approves.
    pub current_hash: String,
    /// Why the current policy files are not in force, when they are not.
    pub pending: Option<String>,
    /// Who may approve a policy change (e-mail addresses), under the policy in force.
    pub owners: Vec<String>,
}

/// The policy in force and its state. `current` is the policy as it is in the working tree.
pub fn in_force(
    root: &Path,
    current: Policy,
    history: &History,
    ledger: &Ledger,
) -> Result<(Policy, PolicyState), Error> {
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap_or_default();
    let current_hash = policy_hash(&read(POLICY_FILE), &read(PEOPLE_FILE));
    let mut versions: Vec<usize> = [POLICY_FILE, PEOPLE_FILE]
        .iter()
        .flat_map(|f| history.changes_to(f))
        .map(|c| c.commit)
        .collect();
    versions.sort_by_key(|&c| std::cmp::Reverse(history.order(c)));
    versions.dedup();
    let blobs: Vec<(&str, &str)> = versions
        .iter()
        .flat_map(|&c| {
            [
                (history.commits[c].id.as_str(), POLICY_FILE),
                (history.commits[c].id.as_str(), PEOPLE_FILE),
            ]
        })
        .collect();
    let texts = git::read_blobs(root, &blobs).map_err(|d| Error::History(Box::new(d)))?;
    let mut force: Option<(usize, Policy, String)> = None;
    for (n, &commit) in versions.iter().enumerate() {
        let text = |i: usize| {
            texts[2 * n + i]
                .as_ref()
                .map(|t| String::from_utf8_lossy(t).into_owned())
        };
        let (Some(policy_text), Some(people_text)) = (text(0), text(1)) else {
            continue;
        };
        let Ok(policy) = People::parse(&people_text).and_then(|p| Policy::parse(&policy_text, p))
        else {
            continue; // a broken version is never in force
        };
        let version_hash = policy_hash(&policy_text, &people_text);
        let accepted = match &force {
            None => true,
            Some((_, _, h)) if *h == version_hash => false,
            Some((_, before, _)) => match &before.owners {
                None => true,
                Some(owners) => {
                    approved(root, before, owners, &version_hash, commit, history, ledger)?
                }
            },
        };
        if accepted {
            force = Some((commit, policy, version_hash));
        }
    }
    let owners_of = |p: &Policy| -> Vec<String> {
        p.owners.as_ref().map_or_else(Vec::new, |o| {
            p.people
                .all()
                .filter(|x| !p.people.memberships(&x.email, &o.groups).is_empty())
                .map(|x| x.email.clone())
                .collect()
        })
    };
    let state = |commit: Option<usize>, pending: Option<String>, owners: Vec<String>| PolicyState {
        commit: commit.map(|c| history.commits[c].id.clone()),
        current_hash: current_hash.clone(),
        pending,
        owners,
    };
    match force {
        Some((commit, policy, h)) if h != current_hash && policy.owners.is_some() => {
            let pending = format!(
                "the policy files differ from the last approved policy (commit {}), which stays in force until the policy owners approve the change: `kbpub approve .kb/policy.toml` ({} approval(s) from {})",
                history.commits[commit].short_id(),
                policy.owners.as_ref().map_or(1, |o| o.approvals),
                policy
                    .owners
                    .as_ref()
                    .map(|o| o.groups.join(", "))
                    .unwrap_or_default()
            );
            let owners = owners_of(&policy);
            Ok((policy, state(Some(commit), Some(pending), owners)))
        }
        Some((commit, _, h)) if h == current_hash => {
            let owners = owners_of(&current);
            Ok((current, state(Some(commit), None, owners)))
        }
        _ => {
            let owners = owners_of(&current);
            Ok((current, state(None, None, owners)))
        }
    }
}

/// Did enough owners of `before` approve `version_hash` in commits made after `change`?
fn approved(
    root: &Path,
    before: &Policy,
    owners: &OwnersRule,
    version_hash: &str,
    change: usize,
    history: &History,
    ledger: &Ledger,
) -> Result<bool, Error> {
    let candidates: Vec<(&str, &str)> = ledger
        .entries
        .get(POLICY_DOC)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let (Ok(record), Some(commit)) = (&e.record, e.commit) else {
                return None;
            };
            let c = &history.commits[commit];
            (record.decision == Decision::Approve
                && record.content_hash == version_hash
                && c.author == record.approver
                && history.is_ancestor(change, commit)
                && !before
                    .people
                    .memberships(&record.approver, &owners.groups)
                    .is_empty())
            .then_some((c.id.as_str(), record.approver.as_str()))
        })
        .collect();
    let signatures = if before.require_signed {
        let ids: Vec<&str> = candidates.iter().map(|(c, _)| *c).collect();
        signature::verify(root, &before.people, &ids).map_err(|d| Error::History(Box::new(d)))?
    } else {
        Default::default()
    };
    let approvers: BTreeSet<&str> = candidates
        .into_iter()
        .filter(|(c, a)| {
            !before.require_signed
                || signatures.get(*c).and_then(|s| s.signer.as_deref()) == Some(*a)
        })
        .map(|(_, a)| a)
        .collect();
    Ok(approvers.len() >= owners.approvals)
}

/// sha256 over both files' text: what a policy approval is bound to.
pub fn policy_hash(policy: &str, people: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"kbpub-policy-hash-v1\n");
    hasher.update(policy.as_bytes());
    hasher.update(b"\0");
    hasher.update(people.as_bytes());
    format!("{}{}", hash::PREFIX, hex::encode(hasher.finalize()))
}

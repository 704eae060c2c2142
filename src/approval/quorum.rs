//! The quorum of a policy rule as a pure function: given the groups each valid approver belongs to
//! (of the rule's groups), do they together meet the rule's number of approvals, and which group
//! is each credited to? With `distinct_groups`, each group counts once: a maximum bipartite
//! matching, so a person in two groups is credited where it helps.

use std::collections::{HashMap, HashSet};

/// The group each candidate is credited to when together they meet a quorum of `approvals`;
/// `None` when they do not. `candidates[i]` is candidate `i`'s groups, never empty.
pub fn credit_groups<'g>(
    approvals: usize,
    distinct_groups: bool,
    candidates: &[Vec<&'g str>],
) -> Option<Vec<&'g str>> {
    if !distinct_groups {
        return (candidates.len() >= approvals).then(|| candidates.iter().map(|g| g[0]).collect());
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for c in 0..candidates.len() {
        assign(c, candidates, &mut owner, &mut HashSet::new());
    }
    if owner.len() < approvals {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_and_group_credit_table() {
        // (approvals needed, distinct groups, each candidate's groups, expected credit)
        type Row = (
            usize,
            bool,
            &'static [&'static [&'static str]],
            Option<&'static [&'static str]>,
        );
        let table: &[Row] = &[
            (1, false, &[], None),
            (1, false, &[&["ops"]], Some(&["ops"])),
            (2, false, &[&["ops"]], None),
            (2, false, &[&["ops"], &["ops"]], Some(&["ops", "ops"])),
            (2, false, &[&["ops", "qa"], &["qa"]], Some(&["ops", "qa"])),
            (0, false, &[], Some(&[])),
            // Distinct groups: two people of one group are one approval.
            (2, true, &[&["ops"], &["ops"]], None),
            (2, true, &[&["ops"], &["qa"]], Some(&["ops", "qa"])),
            // A person in two groups is credited where the other cannot be.
            (2, true, &[&["ops", "qa"], &["ops"]], Some(&["qa", "ops"])),
            (2, true, &[&["ops"], &["ops", "qa"]], Some(&["ops", "qa"])),
            (
                3,
                true,
                &[&["a", "b"], &["b", "c"], &["a"]],
                Some(&["b", "c", "a"]),
            ),
            (3, true, &[&["a", "b"], &["a", "b"], &["a", "b"]], None),
            // More approvers than needed: all are credited somewhere.
            (1, true, &[&["ops"], &["qa"]], Some(&["ops", "qa"])),
        ];
        for (approvals, distinct, candidates, expected) in table {
            let candidates: Vec<Vec<&str>> = candidates.iter().map(|c| c.to_vec()).collect();
            let credited = credit_groups(*approvals, *distinct, &candidates);
            assert_eq!(
                credited.as_deref(),
                *expected,
                "{approvals} approvals, distinct {distinct}, candidates {candidates:?}"
            );
        }
    }
}

//! The publish plan, pure and target-agnostic: given what should be published (rendered pages
//! with their approval gates) and what a scan of the target found, decide per page — create,
//! update, move, unchanged, gated, drifted, archive (retired documents), prune (or orphan, when
//! pruning was not asked) — and find title collisions before anything is written. No I/O: targets scan, this decides, the
//! runner executes.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// Where a page sits on the target: a scope (a Confluence space, a community category) and the
/// key of its parent page (`None`: directly under the scope's root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    pub scope: String,
    pub parent: Option<String>,
}

/// A page kbpub wants on the target.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The document id: the page's identity across renames and moves.
    pub key: String,
    /// The document's index in the site's pages (its approval gate, its receipt).
    pub page: usize,
    /// `content/...` path of the source.
    pub source: String,
    pub title: String,
    pub place: Place,
    /// Hash of everything that is written (body, title, place, labels, attachments).
    pub hash: String,
    /// `Some(reasons)` when approval gating holds the page back.
    pub gated: Option<Vec<String>>,
    /// Distance from the scope root: parents are written before their children.
    pub depth: usize,
    /// The document is retired (`status = "obsolete"`): archive its page where there is one.
    pub retire: bool,
}

/// The last edit of a page found on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub by: String,
    pub when: String,
    /// The edit carries kbpub's version message: an earlier run wrote it.
    pub by_kbpub: bool,
}

/// What kbpub recorded on the page the last time it wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub hash: String,
    pub version: u64,
}

/// A page found by the scan of the target.
#[derive(Debug, Clone)]
pub struct Found {
    pub remote_id: String,
    /// The doc id kbpub recorded on the page; `None` for pages kbpub does not manage.
    pub key: Option<String>,
    pub title: String,
    pub place: Place,
    pub recorded: Option<Recorded>,
    /// The page's current version.
    pub version: u64,
    pub last_edit: Edit,
    /// Archived on the target: not served, and not an orphan.
    pub archived: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Move,
    Unchanged,
    Gated,
    Drifted,
    /// A retired document's page is archived.
    Archive,
    Prune,
    /// A managed page whose source is gone; `--prune` would remove it.
    Orphan,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Move => "move",
            Action::Unchanged => "unchanged",
            Action::Gated => "gated",
            Action::Drifted => "drifted",
            Action::Archive => "archive",
            Action::Prune => "prune",
            Action::Orphan => "orphan",
        }
    }

    /// What the report says once the action was carried out.
    pub fn past(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Move => "moved",
            Action::Archive => "archived",
            Action::Prune => "pruned",
            other => other.name(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// Index into the wanted pages (none for prune/orphan).
    pub wanted: Option<usize>,
    /// Index into the found pages (none for create and never-published gated pages).
    pub found: Option<usize>,
    /// Why, in words: gate reasons, who drifted it, what changed.
    pub note: Option<String>,
    /// Write order: parents first (lower depth); prunes children first.
    pub depth: usize,
    /// Planned but not to be attempted, and why (the run fails).
    pub blocked: Option<Skip>,
}

/// Why a page that should have been written was not. Every skip fails the run, and says what to
/// do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Skip {
    /// Its parent page failed or was never written.
    ParentNotWritten { parent: String },
    /// A page kbpub cannot prove it wrote holds the title.
    ForeignPage { page: String, by: String },
    /// Prune does not run after a failure.
    NotPruned { failures: usize },
    /// The run stopped before this page (the service's allowance was spent).
    RunStopped { why: String },
}

impl Skip {
    pub fn message(&self) -> String {
        match self {
            Skip::ParentNotWritten { parent } => {
                format!("not written: its parent page (`{parent}`) was not published")
            }
            Skip::ForeignPage { page, by } => format!(
                "a page kbpub does not manage holds this title (page {page}, last edited by {by}); left alone"
            ),
            Skip::NotPruned { failures } => {
                format!("not pruned: {failures} page(s) did not publish in this run")
            }
            Skip::RunStopped { why } => format!("not attempted: the run stopped ({why})"),
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            Skip::ParentNotWritten { .. } => {
                "fix the parent's failure above, then re-run: publishing is idempotent"
            }
            Skip::ForeignPage { .. } => {
                "rename the document (`title` in front matter), rename or remove that page in Confluence, or re-run with --adopt to let kbpub take it over"
            }
            Skip::NotPruned { .. } => "fix the failures above, then re-run with --prune",
            Skip::RunStopped { .. } => {
                "re-run once the service accepts requests again: publishing is idempotent"
            }
        }
    }
}

/// Two pages that would share a title in one scope (Confluence titles are unique per space,
/// regardless of case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collision {
    pub scope: String,
    pub title: String,
    pub first: String,
    pub second: String,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Overwrite drifted pages.
    pub force: bool,
    /// Remove managed pages whose source is gone.
    pub prune: bool,
    /// Titles must be unique per scope, ignoring case.
    pub unique_titles: bool,
    /// Where people edit pages, for drift notes: `Confluence`, `the community`.
    pub editor: &'static str,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub collisions: Vec<Collision>,
}

/// Decides what to do with every wanted and every found page.
pub fn plan(wanted: &[Wanted], found: &[Found], rules: Rules) -> Plan {
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, f) in found.iter().enumerate() {
        if let Some(key) = &f.key {
            match by_key.entry(key) {
                Entry::Occupied(_) => duplicates.push(i),
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
    let mut claimed: HashSet<usize> = HashSet::new();
    let mut steps = Vec::with_capacity(wanted.len());
    for (w_index, w) in wanted.iter().enumerate() {
        let matched = by_key.get(w.key.as_str()).copied();
        if let Some(f) = matched {
            claimed.insert(f);
        }
        let mut step = decide(w_index, w, matched.map(|f| (f, &found[f])), rules);
        if step.action == Action::Create
            && rules.unique_titles
            && let Some(f) = foreign_holder(w, found)
        {
            step.found = Some(f);
            step.blocked = Some(Skip::ForeignPage {
                page: found[f].remote_id.clone(),
                by: found[f].last_edit.by.clone(),
            });
        }
        steps.push(step);
    }
    let depths = found_depths(found, &by_key);
    for (i, f) in found.iter().enumerate() {
        if claimed.contains(&i) || f.key.is_none() || f.archived {
            continue;
        }
        let duplicate = duplicates.contains(&i);
        steps.push(Step {
            action: if rules.prune {
                Action::Prune
            } else {
                Action::Orphan
            },
            wanted: None,
            found: Some(i),
            note: Some(if duplicate {
                "a second page for the same document".into()
            } else {
                "the source is gone or obsolete".into()
            }),
            depth: depths[i],
            blocked: None,
        });
    }
    let collisions = if rules.unique_titles {
        collisions(wanted, found, &steps)
    } else {
        Vec::new()
    };
    Plan { steps, collisions }
}

fn decide(w_index: usize, w: &Wanted, matched: Option<(usize, &Found)>, rules: Rules) -> Step {
    let step = |action, found, note| Step {
        action,
        wanted: Some(w_index),
        found,
        note,
        depth: w.depth,
        blocked: None,
    };
    if let Some(reasons) = &w.gated {
        return step(
            Action::Gated,
            matched.map(|m| m.0),
            Some(reasons.join("; ")),
        );
    }
    let Some((f_index, f)) = matched else {
        return match w.retire {
            true => step(
                Action::Unchanged,
                None,
                Some("retired, and never published".into()),
            ),
            false => step(Action::Create, None, None),
        };
    };
    if w.retire && f.archived {
        return step(Action::Unchanged, Some(f_index), Some("archived".into()));
    }
    let mut notes = Vec::new();
    if f.recorded.is_none() {
        notes.push("taking over a page that carries no kbpub record yet".to_string());
    }
    let drifted =
        f.recorded.as_ref().is_some_and(|r| r.version != f.version) && !f.last_edit.by_kbpub;
    if drifted {
        let edit = format!(
            "edited in {} by {} at {}",
            rules.editor, f.last_edit.by, f.last_edit.when
        );
        if !rules.force {
            return step(Action::Drifted, Some(f_index), Some(edit));
        }
        notes.push(format!("overwriting: {edit}"));
    }
    // Someone archived the page of a document kbpub still publishes (kbpub archives only
    // retired documents): a person's decision, kept until forced.
    if f.archived && !w.retire {
        let archived = format!(
            "archived in {} while its document is still published (latest version by {})",
            rules.editor, f.last_edit.by
        );
        if !rules.force {
            return step(Action::Drifted, Some(f_index), Some(archived));
        }
        notes.push(format!("restoring: {archived}"));
    }
    let current = f
        .recorded
        .as_ref()
        .is_some_and(|r| r.hash == w.hash && r.version == f.version)
        && f.title == w.title;
    let action = if w.retire {
        Action::Archive
    } else if f.place != w.place {
        notes.push(format!("from {}", describe(&f.place)));
        Action::Move
    } else if current && !f.archived {
        Action::Unchanged
    } else {
        Action::Update
    };
    step(
        action,
        Some(f_index),
        (!notes.is_empty()).then(|| notes.join("; ")),
    )
}

/// A page kbpub does not manage (no key: the target could not prove kbpub wrote it) that holds
/// `w`'s title in its scope, ignoring case: creating `w` would collide with it.
fn foreign_holder(w: &Wanted, found: &[Found]) -> Option<usize> {
    found.iter().position(|f| {
        f.key.is_none()
            && !f.archived
            && f.place.scope == w.place.scope
            && f.title.to_lowercase() == w.title.to_lowercase()
    })
}

fn describe(place: &Place) -> String {
    match &place.parent {
        Some(parent) => format!("{} under {parent}", place.scope),
        None => format!("{} at the top", place.scope),
    }
}

/// Depth of each found page in the found tree (for pruning children first).
fn found_depths(found: &[Found], by_key: &HashMap<&str, usize>) -> Vec<usize> {
    found
        .iter()
        .map(|f| {
            let mut depth = 0;
            let mut parent = f.place.parent.as_deref();
            while let Some(&p) = parent.and_then(|k| by_key.get(k)) {
                depth += 1;
                if depth > found.len() {
                    break; // a cycle cannot happen on a real tree; never loop on a bad scan
                }
                parent = found[p].place.parent.as_deref();
            }
            depth
        })
        .collect()
}

/// Titles that would clash in a scope: between wanted pages that will be written, and between
/// those and managed pages that stay where they are (orphans).
fn collisions(wanted: &[Wanted], found: &[Found], steps: &[Step]) -> Vec<Collision> {
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    let mut clashes = Vec::new();
    let mut claim = |scope: &str, title: &str, who: String| {
        let slot = (scope.to_string(), title.to_lowercase());
        match seen.get(&slot) {
            Some(first) => clashes.push(Collision {
                scope: scope.to_string(),
                title: title.to_string(),
                first: first.clone(),
                second: who,
            }),
            None => {
                seen.insert(slot, who);
            }
        }
    };
    for step in steps.iter().filter(|s| s.blocked.is_none()) {
        match (step.action, step.wanted, step.found) {
            (Action::Gated | Action::Drifted | Action::Archive, _, _) => {}
            (_, Some(w), _) => claim(
                &wanted[w].place.scope,
                &wanted[w].title,
                wanted[w].source.clone(),
            ),
            (Action::Orphan | Action::Prune, None, Some(f)) => {
                let f = &found[f];
                claim(
                    &f.place.scope,
                    &f.title,
                    format!(
                        "page {} (document `{}`, whose source is gone)",
                        f.remote_id,
                        f.key.as_deref().unwrap_or("?")
                    ),
                );
            }
            _ => {}
        }
    }
    clashes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(parent: Option<&str>) -> Place {
        Place {
            scope: "OPS".into(),
            parent: parent.map(String::from),
        }
    }

    fn wanted(key: &str, title: &str, hash: &str) -> Wanted {
        Wanted {
            key: key.into(),
            page: 0,
            source: format!("content/{key}.md"),
            title: title.into(),
            place: place(None),
            hash: hash.into(),
            gated: None,
            depth: 0,
            retire: false,
        }
    }

    fn found(key: &str, title: &str, hash: &str, recorded: u64, version: u64) -> Found {
        Found {
            remote_id: format!("p-{key}"),
            key: Some(key.into()),
            title: title.into(),
            place: place(None),
            recorded: Some(Recorded {
                hash: hash.into(),
                version: recorded,
            }),
            version,
            last_edit: Edit {
                by: "Dana".into(),
                when: "2026-11-20T10:00:00Z".into(),
                by_kbpub: recorded == version,
            },
            archived: false,
        }
    }

    fn actions(plan: &Plan) -> Vec<Action> {
        plan.steps.iter().map(|s| s.action).collect()
    }

    /// The note of step `index` of `plan`.
    fn note(plan: &Plan, index: usize) -> &str {
        plan.steps[index].note.as_deref().expect("a note")
    }

    /// The default rules with `change` made (`|r| r.force = true`).
    fn rules(change: impl FnOnce(&mut Rules)) -> Rules {
        let mut rules = Rules::default();
        change(&mut rules);
        rules
    }

    /// The plan for one wanted page and one found page, under the default rules.
    fn plan_one(w: &Wanted, f: &Found) -> Plan {
        plan(
            std::slice::from_ref(w),
            std::slice::from_ref(f),
            Rules::default(),
        )
    }

    #[test]
    fn create_update_unchanged_and_orphan() {
        let w = [
            wanted("a", "A", "h1"),
            wanted("b", "B", "h2"),
            wanted("c", "C", "h3"),
        ];
        let f = [
            found("b", "B", "old", 3, 3),
            found("c", "C", "h3", 2, 2),
            found("gone", "G", "x", 1, 1),
        ];
        let p = plan(&w, &f, Rules::default());
        assert_eq!(
            actions(&p),
            [
                Action::Create,
                Action::Update,
                Action::Unchanged,
                Action::Orphan
            ]
        );
        let p = plan(&w, &f, rules(|r| r.prune = true));
        assert_eq!(p.steps[3].action, Action::Prune);
    }

    #[test]
    fn a_renamed_or_moved_document_keeps_its_page() {
        let mut w = wanted("a", "New title", "h");
        let f = found("a", "Old title", "h", 1, 1);
        assert_eq!(actions(&plan_one(&w, &f)), [Action::Update]);
        w.place = place(Some("section"));
        let p = plan(&[w], &[f], Rules::default());
        assert_eq!(actions(&p), [Action::Move]);
        assert_eq!(p.steps[0].found, Some(0));
    }

    #[test]
    fn drift_is_reported_unless_forced() {
        let w = [wanted("a", "A", "h2")];
        let f = [found("a", "A", "h1", 2, 3)];
        let p = plan(&w, &f, rules(|r| r.editor = "Confluence"));
        assert_eq!(actions(&p), [Action::Drifted]);
        assert!(note(&p, 0).contains("edited in Confluence by Dana at 2026-11-20"));
        let p = plan(&w, &f, rules(|r| r.force = true));
        assert_eq!(actions(&p), [Action::Update]);
    }

    #[test]
    fn a_version_kbpub_wrote_but_did_not_record_is_repaired_not_drift() {
        let mut f = found("a", "A", "h1", 2, 3);
        f.last_edit.by_kbpub = true;
        assert_eq!(
            actions(&plan(&[wanted("a", "A", "h1")], &[f], Rules::default())),
            [Action::Update]
        );
    }

    #[test]
    fn retired_documents_are_archived_once() {
        let mut w = wanted("a", "A", "h");
        w.retire = true;
        let mut f = found("a", "A", "h", 2, 2);
        let p = plan_one(&w, &f);
        assert_eq!(actions(&p), [Action::Archive]);
        f.archived = true;
        let p = plan_one(&w, &f);
        assert_eq!(actions(&p), [Action::Unchanged]);
        assert_eq!(
            actions(&plan(&[w], &[], Rules::default())),
            [Action::Unchanged]
        );
        let p = plan(&[], &[f], Rules::default());
        assert!(p.steps.is_empty(), "an archived page is not an orphan");
    }

    #[test]
    fn a_page_archived_by_someone_else_is_drift_until_forced() {
        let mut f = found("a", "A", "h", 2, 2);
        f.archived = true;
        let w = wanted("a", "A", "h");
        let p = plan_one(&w, &f);
        assert_eq!(actions(&p), [Action::Drifted]);
        assert!(note(&p, 0).starts_with("archived in"));
        let forced = rules(|r| r.force = true);
        let p = plan(&[w], &[f], forced);
        assert_eq!(actions(&p), [Action::Update]);
        assert!(note(&p, 0).starts_with("restoring: archived"));
    }

    #[test]
    fn gated_pages_are_listed_with_reasons() {
        let mut w = wanted("a", "A", "h");
        w.gated = Some(vec!["draft: no approvals".into()]);
        let p = plan(&[w], &[], Rules::default());
        assert_eq!(actions(&p), [Action::Gated]);
        assert_eq!(p.steps[0].note.as_deref(), Some("draft: no approvals"));
    }

    #[test]
    fn titles_collide_regardless_of_case_naming_both_sources() {
        let w = [wanted("a", "Setup", "h"), wanted("b", "SETUP", "h")];
        let p = plan(&w, &[], rules(|r| r.unique_titles = true));
        assert_eq!(p.collisions.len(), 1);
        assert_eq!(
            (
                p.collisions[0].first.as_str(),
                p.collisions[0].second.as_str()
            ),
            ("content/a.md", "content/b.md")
        );
        let orphan = found("gone", "setup", "h", 1, 1);
        let p = plan(&w[..1], &[orphan], rules(|r| r.unique_titles = true));
        assert!(
            p.collisions[0].second.contains("`gone`"),
            "{:?}",
            p.collisions
        );
    }

    #[test]
    fn a_page_the_target_proved_ours_is_taken_over_and_any_other_blocks_the_create() {
        let mut f = found("a", "a", "h", 1, 1);
        f.recorded = None;
        let unique = rules(|r| r.unique_titles = true);
        let p = plan(&[wanted("a", "A", "h")], &[f.clone()], unique);
        assert_eq!(actions(&p), [Action::Update]);
        assert!(note(&p, 0).contains("no kbpub record"));
        f.key = None;
        let p = plan(&[wanted("a", "A", "h")], &[f], unique);
        assert_eq!(actions(&p), [Action::Create]);
        assert_eq!(
            p.steps[0].blocked,
            Some(Skip::ForeignPage {
                page: "p-a".into(),
                by: "Dana".into()
            })
        );
        assert!(p.collisions.is_empty(), "the foreign page is reported once");
    }
}

//! `kbpub approve`: records a decision (approve, reject, or emergency approval) about documents'
//! current content and commits it, authored by the approver. Everything is checked before
//! anything is written — the approver is a known person in the right group, did not change the
//! document since its last approved state, and the document has no uncommitted changes — so a
//! record that could never count is refused with the reason instead of written.

use std::path::Path;

use chrono::{DateTime, NaiveTime, Utc};

use super::policy::{self, People, Policy};
use super::record::{Decision, Record};
use super::{Approvals, Error, PageApproval, State, evaluate, git, governance, hash, signature};
use crate::content::Site;
use crate::diag::Diagnostic;
use crate::render::Engine;

/// How many documents a commit message lists (the message is one command-line argument).
const LISTED_IN_MESSAGE: usize = 50;

/// What `kbpub approve` was asked to do.
pub struct Request {
    /// Document ids or paths (`content/sops/x.md`, `sops/x.md`, or relative to `cwd`).
    pub targets: Vec<String>,
    pub decision: Decision,
    pub comment: Option<String>,
    /// `--as`: the approver's e-mail; default `git config user.email`.
    pub approver: Option<String>,
    /// `Some(reason)` for an emergency approval.
    pub emergency: Option<String>,
    /// `--hash`: the content hash (or its short form) the reviewer reviewed; refused when the
    /// content changed since.
    pub expected_hash: Option<String>,
    /// Commit the records (else leave them staged).
    pub commit: bool,
    pub now: DateTime<Utc>,
    /// The folder relative paths are resolved from.
    pub cwd: std::path::PathBuf,
}

/// What was written.
pub struct Outcome {
    pub records: Vec<Record>,
    /// `Name <email>` of the approver.
    pub approver: String,
    /// The commit holding the records, when committed.
    pub commit: Option<String>,
    /// Documents on which the approver's same decision already stands: nothing was written.
    pub unchanged: Vec<String>,
}

pub fn approve(engine: &Engine, request: &Request) -> Result<Outcome, Vec<Diagnostic>> {
    let site = engine.site;
    let root = &site.config.root;
    let policy = Policy::load(root)?.ok_or_else(|| Error::NoPolicy.diagnostics())?;
    let email = match &request.approver {
        Some(email) => email.trim().to_lowercase(),
        None => git::run_text(root, &["config", "user.email"])
            .map(|e| e.trim().to_lowercase())
            .ok()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                vec![
                    Diagnostic::error(
                        "approver",
                        "who is approving? `git config user.email` is not set",
                    )
                    .help(
                        "set it with `git config user.email you@example.com`, or pass `--as EMAIL`",
                    ),
                ]
            })?,
    };
    let person = policy.people.get(&email).cloned().ok_or_else(|| {
        vec![Diagnostic::error("approver", format!("{email} is not in {}", policy::PEOPLE_FILE)).help("approvers are listed as `[[person]]` in .kb/people.toml; pass `--as EMAIL` to approve as someone listed")]
    })?;
    if policy.require_signed && person.ssh_keys.is_empty() && person.gpg_keys.is_empty() {
        return Err(vec![Diagnostic::error("approver", format!("the policy requires signed approvals, and {email} has no `ssh_keys` (or `gpg_keys`) in {}", policy::PEOPLE_FILE))
            .help("add the public key you sign commits with to your `[[person]]` entry, and have that change approved by the policy owners")]);
    }
    let approvals = evaluate(engine, request.now).map_err(|e| e.diagnostics())?;
    let (policy_targets, page_targets): (Vec<String>, Vec<String>) = request
        .targets
        .iter()
        .cloned()
        .partition(|t| is_policy_target(t));
    let subjects = resolve(site, &approvals, &page_targets, &request.cwd)?;
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut unchanged = Vec::new();
    if !policy_targets.is_empty() {
        match approve_policy(root, &approvals, &email, request) {
            Ok(Some(record)) => records.push(record),
            Ok(None) => unchanged.push(policy::POLICY_FILE.to_string()),
            Err(d) => errors.push(d),
        }
    }
    for subject in subjects {
        let Some(n) = subject else {
            errors.push(Diagnostic::error(
                "approve",
                "a section page without `_index.md` is generated from its folder: there is nothing to approve",
            ));
            continue;
        };
        let state = &approvals.pages[n];
        let p = &site.pages[state.page];
        let stands = match request.decision {
            Decision::Approve => state.approved_by.contains(&email),
            Decision::Reject => state.rejected_by.contains(&email),
        };
        if stands && request.emergency.is_none() {
            unchanged.push(state.doc.clone());
            continue;
        }
        let Some(rule) = policy
            .rules
            .iter()
            .find(|r| Some(&r.name) == state.rule.as_ref())
        else {
            errors.push(
                Diagnostic::error(
                    "approve",
                    format!("no rule in {} matches {}", policy::POLICY_FILE, state.file),
                )
                .help("add a `[[rule]]` whose `paths` or `audience` match it"),
            );
            continue;
        };
        let (groups, exclude_authors, expires) = match (&request.emergency, &policy.emergency) {
            (Some(_), None) => {
                errors.push(Diagnostic::error("approve", "the policy has no `[emergency]` section: emergency approvals are not allowed").in_file(policy::POLICY_FILE));
                continue;
            }
            (Some(_), Some(emergency)) => (
                &emergency.groups,
                emergency.exclude_authors,
                Some(request.now + emergency.valid_for),
            ),
            (None, _) => {
                let review_by_end = p
                    .meta
                    .review_by
                    .map(|d| d.succ_opt().unwrap_or(d).and_time(NaiveTime::MIN).and_utc());
                let expires = [Some(request.now + rule.max_age), review_by_end]
                    .into_iter()
                    .flatten()
                    .min();
                (
                    &rule.groups,
                    rule.exclude_authors,
                    expires.filter(|_| request.decision == Decision::Approve),
                )
            }
        };
        if policy.people.memberships(&email, groups).is_empty() {
            let kind = if request.emergency.is_some() {
                "the emergency groups".to_string()
            } else {
                format!("the groups of rule `{}`", rule.name)
            };
            errors.push(
                Diagnostic::error(
                    "approve",
                    format!(
                        "{} may not decide on {}: not in {kind} ({})",
                        person.email,
                        state.doc,
                        groups.join(", ")
                    ),
                )
                .in_file(policy::PEOPLE_FILE),
            );
            continue;
        }
        if exclude_authors && state.changed_by.contains(&email) {
            errors.push(
                Diagnostic::error("approve", format!("{} authored or committed changes to {} since its last approved state, so their approval would not count", person.email, state.doc))
                    .help("ask another reviewer in the rule's groups to approve it"),
            );
            continue;
        }
        if let Some(expires) = expires.filter(|e| *e <= request.now) {
            errors.push(
                Diagnostic::error(
                    "approve",
                    format!(
                        "an approval of {} now would expire immediately ({expires})",
                        state.doc
                    ),
                )
                .at(p.key_location("review_by"))
                .help("update `review_by` to a future date and commit it first"),
            );
            continue;
        }
        if !state.uncommitted.is_empty() {
            errors.push(
                Diagnostic::error(
                    "approve",
                    format!(
                        "{} has uncommitted changes in {}",
                        state.doc,
                        state.uncommitted.join(", ")
                    ),
                )
                .help("commit them first: approvers approve what is in git"),
            );
            continue;
        }
        if let Some(refused) = cannot_count(state, request) {
            errors.push(refused);
            continue;
        }
        records.push(Record::new(
            &state.doc,
            &state.file,
            &state.content_hash,
            &state.parts,
            request.decision,
            &email,
            request.now,
            expires,
            request.comment.clone(),
            request.emergency.clone(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let commit = if records.is_empty() {
        None
    } else {
        let signed = approvals.require_signed.then_some(&policy.people);
        write_and_commit(root, &mut records, &person.name, &email, signed, request)?
    };
    Ok(Outcome {
        records,
        approver: policy.people.display(&email),
        commit,
        unchanged,
    })
}

/// `.kb/policy.toml`, `.kb/people.toml` or `_policy`: the policy files, approved together.
fn is_policy_target(target: &str) -> bool {
    let target = target.trim_start_matches("./");
    [
        policy::POLICY_FILE,
        policy::PEOPLE_FILE,
        governance::POLICY_DOC,
    ]
    .contains(&target)
}

/// A policy owner's approval of the policy files as they are committed now; `None` when they
/// are already in force.
fn approve_policy(
    root: &Path,
    approvals: &Approvals,
    email: &str,
    request: &Request,
) -> Result<Option<Record>, Diagnostic> {
    let state = &approvals.policy;
    if request.decision == Decision::Reject || request.emergency.is_some() {
        return Err(Diagnostic::error("approve", "a policy change is approved, or left unapproved: there is no rejection or emergency approval of the policy").in_file(policy::POLICY_FILE));
    }
    if state.pending.is_none() {
        return Ok(None);
    }
    if !state.owners.contains(&email.to_string()) {
        return Err(Diagnostic::error("approve", format!("{email} may not approve policy changes: not a policy owner ({})", state.owners.join(", ")))
            .in_file(policy::POLICY_FILE)
            .help("the `[owners]` groups of the policy in force approve changes to .kb/policy.toml and .kb/people.toml"));
    }
    let status = git::run_text(
        root,
        &[
            "status",
            "--porcelain",
            "--",
            policy::POLICY_FILE,
            policy::PEOPLE_FILE,
        ],
    )?;
    if !status.trim().is_empty() {
        return Err(
            Diagnostic::error("approve", "the policy files have uncommitted changes")
                .in_file(policy::POLICY_FILE)
                .help("commit them first: owners approve what is in git"),
        );
    }
    Ok(Some(Record::new(
        governance::POLICY_DOC,
        policy::POLICY_FILE,
        &state.current_hash,
        &[],
        Decision::Approve,
        email,
        request.now,
        None,
        request.comment.clone(),
        None,
    )))
}

/// Why a decision about `state` could not count, beyond who decides: an emergency approval over
/// a standing rejection (rejections win), or content other than what the reviewer saw.
fn cannot_count(state: &PageApproval, request: &Request) -> Option<Diagnostic> {
    if request.emergency.is_some() && state.state == State::Rejected {
        return Some(
            Diagnostic::error(
                "approve",
                format!(
                    "{} is rejected: an emergency approval does not override a rejection",
                    state.doc
                ),
            )
            .help(format!(
                "{}; the rejecter must approve it (or a new version) first",
                state.reasons.first().cloned().unwrap_or_default()
            )),
        );
    }
    if let Some(seen) = request
        .expected_hash
        .as_deref()
        .filter(|h| *h != state.content_hash && *h != hash::short(&state.content_hash))
    {
        return Some(
            Diagnostic::error(
                "approve",
                format!(
                    "{} changed since it was reviewed: its content hash is {}, not {seen}",
                    state.doc,
                    hash::short(&state.content_hash)
                ),
            )
            .help(
                "review the current version (`kbpub status`, `kbpub serve`) and approve that hash",
            ),
        );
    }
    None
}

/// Finds each target by id (of a document, a section page or a data-driven page family) or by
/// path, as an index into `approvals.pages` (`None` for a generated section page); each once.
fn resolve(
    site: &Site,
    approvals: &Approvals,
    targets: &[String],
    cwd: &Path,
) -> Result<Vec<Option<usize>>, Vec<Diagnostic>> {
    let content = site.config.content_dir();
    let content = content.canonicalize().unwrap_or(content);
    let mut subjects = Vec::new();
    let mut errors = Vec::new();
    for target in targets {
        let by_path = || {
            let rel = cwd.join(target).canonicalize().ok().and_then(|p| {
                p.strip_prefix(&content)
                    .ok()
                    .map(crate::content::url::to_slash)
            });
            rel.as_deref()
                .and_then(|r| site.page_by_rel_path(r))
                .or_else(|| {
                    site.page_by_rel_path(
                        target
                            .trim_start_matches("./")
                            .trim_start_matches("content/"),
                    )
                })
        };
        let by_family = || approvals.pages.iter().position(|a| a.doc == *target);
        let found = match site.page_by_id(target).or_else(by_path) {
            Some(page) => Some(approvals.index_of(page)),
            None => by_family().map(Some),
        };
        match found {
            Some(subject) if !subjects.contains(&subject) => subjects.push(subject),
            Some(_) => {}
            None => errors.push(Diagnostic::error("usage", format!("no document with id or path `{target}`")).help("name a document by its id (`kbpub status` lists them, and data-driven page families such as `family-data-partner`) or its file, e.g. content/sops/x.md")),
        }
    }
    if errors.is_empty() {
        Ok(subjects)
    } else {
        Err(errors)
    }
}

/// Writes the records, stages them and (unless `--no-commit`) commits exactly them, authored by
/// the approver. With `signed` (the policy's `require_signed`), the commit is signed with the
/// user's git signing configuration and must verify as signed by one of the approver's keys in
/// `signed`, or it is undone. On failure the records are removed again: nothing half-done is
/// left behind.
fn write_and_commit(
    root: &Path,
    records: &mut [Record],
    name: &str,
    email: &str,
    signed: Option<&People>,
    request: &Request,
) -> Result<Option<String>, Vec<Diagnostic>> {
    let records = with_free_names(root, records);
    let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
    let cleanup = || {
        git::run_with_paths(root, &["reset", "-q"], &paths).ok();
        for path in &paths {
            std::fs::remove_file(root.join(path)).ok();
        }
    };
    for record in records {
        let path = root.join(&record.path);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, record.to_toml()));
        if let Err(e) = written {
            cleanup();
            return Err(vec![Diagnostic::error(
                "io",
                format!("cannot write {}: {e}", record.path),
            )]);
        }
    }
    if let Err(d) = git::run_with_paths(root, &["add"], &paths) {
        cleanup();
        return Err(vec![d]);
    }
    if !request.commit {
        return Ok(None);
    }
    let author = format!("--author={name} <{email}>");
    let message = commit_message(records, request);
    let mut commit = vec!["commit", "-q", author.as_str(), "-m", message.as_str()];
    if signed.is_some() {
        commit.push("-S");
    }
    // The commit carries the records' time: validity is counted from the commit's date.
    let date = request
        .now
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let dates = [
        ("GIT_AUTHOR_DATE", date.clone()),
        ("GIT_COMMITTER_DATE", date),
    ];
    if let Err(d) = git::run_with_paths_env(root, &commit, &paths, &dates) {
        cleanup();
        return Err(vec![d.help(
            "the records were not kept; fix the problem git reports and run the command again",
        )]);
    }
    let ids = git::run_text(root, &["rev-parse", "HEAD", "HEAD^"]).map_err(|d| vec![d])?;
    let (head, parent) = ids.trim().split_once('\n').unwrap_or((ids.trim(), ""));
    if let Some(people) = signed {
        let verified = signature::verify(root, people, &[head]).map_err(|d| vec![d])?;
        let signature = verified.get(head).cloned().unwrap_or_default();
        if signature.signer.as_deref() != Some(email) {
            git::run(
                root,
                &[
                    "update-ref",
                    "-m",
                    "kbpub approve: unsigned",
                    "HEAD",
                    parent,
                    head,
                ],
            )
            .map_err(|d| vec![d])?;
            cleanup();
            let how = match &signature.key {
                Some(key) => format!(
                    "it was signed with key {key}, which is not one of {email}'s keys in {}",
                    policy::PEOPLE_FILE
                ),
                None => "it was not signed".to_string(),
            };
            return Err(vec![Diagnostic::error("approve", format!("the policy requires signed approvals, and the commit could not count: {how}; nothing was kept"))
                .help(format!("sign with your own key: `git config gpg.format ssh` and `git config user.signingkey ~/.ssh/id_ed25519.pub`, listed under your `ssh_keys` in {}; `--as` works only with that person's key", policy::PEOPLE_FILE))]);
        }
    }
    Ok(Some(head.to_string()))
}

/// Records are named by the second they are made; a second decision in the same second gets
/// `-2`, `-3`, ... so no record is ever overwritten.
fn with_free_names<'r>(root: &Path, records: &'r mut [Record]) -> &'r [Record] {
    for record in records.iter_mut() {
        let stem = record.path.trim_end_matches(".toml").to_string();
        let mut n = 1;
        while root.join(&record.path).exists() {
            n += 1;
            record.path = format!("{stem}-{n}.toml");
        }
    }
    records
}

fn commit_message(records: &[Record], request: &Request) -> String {
    let verb = match (request.decision, &request.emergency) {
        (Decision::Approve, Some(_)) => "Emergency-approve",
        (Decision::Approve, None) => "Approve",
        (Decision::Reject, _) => "Reject",
    };
    let subject = match records {
        [one] => format!("{verb} {} ({})", one.doc, hash::short(&one.content_hash)),
        many => format!("{verb} {} documents", many.len()),
    };
    let mut body: Vec<String> = records
        .iter()
        .take(LISTED_IN_MESSAGE)
        .map(|r| format!("{} {}", r.doc, r.content_hash))
        .collect();
    if records.len() > LISTED_IN_MESSAGE {
        body.push(format!(
            "and {} more (see the records)",
            records.len() - LISTED_IN_MESSAGE
        ));
    }
    if let Some(reason) = &request.emergency {
        body.push(format!("Emergency reason: {reason}"));
    }
    if let Some(comment) = &request.comment {
        body.push(format!("Comment: {comment}"));
    }
    format!("{subject}\n\n{}\n", body.join("\n"))
}

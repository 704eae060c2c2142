//! Approval gating: nothing is published unless the right people approved exactly this content.
//! Approvals live in git next to the documents (`.kb/`), are bound to a content hash, and are
//! verified from git history. [`evaluate`] is the entry point for everything that gates pages
//! (publish, build banners, status): it returns every page's state, or an error when the state
//! cannot be known — publishing then fails closed.
//!
//! - `policy`: `.kb/policy.toml` and `.kb/people.toml`, parsed strictly
//! - `hash`: the content hash of a page (source, metadata, embedded files, templates; not live
//!   data)
//! - `family`: data-driven pages, approved once per template
//! - `record`: `.kb/approvals/<doc-id>/<time>-<approver>.toml` files
//! - `ledger`: the records as first committed, and tampering with them
//! - `history`: the git history the records are verified against
//! - `signature`: who signed which commit, by the keys in `people.toml`
//! - `governance`: which policy is in force (changes approved by the policy owners)
//! - `status`: the state of one page, decided from history given as data, with typed reasons
//! - `reason`: those reasons as data; `wording`: their sentences for people
//! - `quorum`: which approvers meet a rule's quorum, credited to which group (pure)
//! - `approve`: `kbpub approve`, writing and committing records
//! - `report`: status and due lists for people; `banner`: the site's approval banners
//!
//! `kbpub audit` (`crate::audit`) sits above this module and publishing: it joins the decisions
//! with the receipt log.

// `Diagnostic` is the project's error type for anything a writer must fix (as in `config` and
// `render`); these errors are rare and small in number, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod approve;
pub mod banner;
pub mod family;
mod git;
pub mod governance;
pub mod hash;
pub mod history;
pub mod ledger;
pub mod policy;
pub mod quorum;
pub mod reason;
pub mod record;
pub mod report;
pub mod signature;
pub mod status;
pub mod wording;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use crate::diag::Diagnostic;
use crate::render::Engine;
use history::History;
use policy::Policy;
pub use status::{ApprovalUsed, EmergencyApproval, PageApproval, Signoff, State};

/// Environment variable that sets kbpub's clock (RFC 3339), for tests and for CI runs that must
/// evaluate expiry at a fixed time. Unset, the system clock is used.
pub const NOW_ENV: &str = "KBPUB_NOW";

/// Why approval states could not be computed. Every variant means "publish nothing".
#[derive(Debug)]
pub enum Error {
    /// The knowledge base has no `.kb/policy.toml`, so nobody can approve anything.
    NoPolicy,
    /// `.kb/policy.toml` or `.kb/people.toml` is broken (every problem, with positions).
    Policy(Vec<Diagnostic>),
    /// The git history cannot be read or is incomplete (no repository, shallow clone).
    History(Box<Diagnostic>),
}

impl Error {
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::NoPolicy => vec![Diagnostic::error("no-policy", format!("no {}: approvals need a policy", policy::POLICY_FILE))
                .help("create `.kb/policy.toml` (rules) and `.kb/people.toml` (people and groups); see the README's \"Approvals\" section")],
            Error::Policy(diagnostics) => diagnostics.clone(),
            Error::History(diagnostic) => vec![(**diagnostic).clone()],
        }
    }

    /// One line saying why, for banners and summaries.
    pub fn summary(&self) -> String {
        match self {
            Error::NoPolicy => format!("there is no {}", policy::POLICY_FILE),
            Error::Policy(d) => format!(
                "{} has {} error(s), first: {}: {}",
                policy::POLICY_FILE,
                d.len(),
                d[0].position(),
                d[0].message
            ),
            Error::History(d) => d.message.clone(),
        }
    }
}

/// The approval state of every page that needs approval.
#[derive(Debug, Serialize)]
pub struct Approvals {
    /// The commit the states were verified against.
    pub head: String,
    /// The time expiry was evaluated at.
    pub now: DateTime<Utc>,
    /// Approvals count only from commits signed by the approver's keys; without it, identities
    /// rest on git's author field and are unverified.
    pub require_signed: bool,
    /// Which policy is in force, and whether a change to it awaits the owners' approval.
    pub policy: governance::PolicyState,
    /// Documents and written section pages (`_index.md`) in nav order, then data-driven page
    /// families.
    pub pages: Vec<PageApproval>,
    /// Problems that make approvals not count but do not stop evaluation (broken records, a
    /// path glob matching nothing).
    #[serde(skip)]
    pub warnings: Vec<Diagnostic>,
    #[serde(skip)]
    by_page: HashMap<usize, usize>,
}

impl Approvals {
    /// The state of page `page` (an index into `Site::pages`): a data-driven page has its
    /// family's; `None` for generated section pages (folders without `_index.md`), which have no
    /// content of their own to approve.
    pub fn page(&self, page: usize) -> Option<&PageApproval> {
        self.index_of(page).map(|i| &self.pages[i])
    }

    /// The index in `pages` of page `page`'s approval (its family's for a data-driven page);
    /// `None` for generated section pages.
    pub fn index_of(&self, page: usize) -> Option<usize> {
        self.by_page.get(&page).copied()
    }

    /// May page `page` be published? True for approved pages, pages under a valid emergency
    /// approval, pages of an approved family, and generated section pages (nothing to
    /// approve); false for everything else.
    pub fn is_publishable(&self, page: usize) -> bool {
        self.page(page).is_none_or(PageApproval::is_publishable)
    }

    /// How many pages are in each state.
    pub fn counts(&self) -> Vec<(State, usize)> {
        State::ALL
            .iter()
            .map(|&s| (s, self.pages.iter().filter(|p| p.state == s).count()))
            .collect()
    }
}

/// Evaluates the approval state of every page of `engine`'s site at time `now` (usually
/// [`now()`]): reads the policy, hashes every page, reads the records and verifies them against
/// git history (a fixed handful of git processes). An `Err` means the states cannot be known:
/// callers that publish must publish nothing.
pub fn evaluate(engine: &Engine, now: DateTime<Utc>) -> Result<Approvals, Error> {
    let site = engine.site;
    let root = &site.config.root;
    let policy = Policy::load(root)
        .map_err(Error::Policy)?
        .ok_or(Error::NoPolicy)?;
    let history = History::read(root).map_err(|d| Error::History(Box::new(d)))?;
    let ledger = ledger::Ledger::read(root, &history).map_err(|d| Error::History(Box::new(d)))?;
    let (policy, policy_state) = governance::in_force(root, policy, &history, &ledger)?;
    let (rules, mut warnings) = policy.assign(site).map_err(Error::Policy)?;
    if let Some(pending) = &policy_state.pending {
        warnings.push(
            Diagnostic::warning("policy-pending", pending.clone()).in_file(policy::POLICY_FILE),
        );
    }
    warnings.extend(ledger.warnings.iter().cloned());
    for (doc, found) in &ledger.tampering {
        if site.page_by_id(doc).is_none() {
            warnings.extend(
                found
                    .iter()
                    .map(|t| Diagnostic::warning("approval-tampering", t.clone())),
            );
        }
    }
    let gated: Vec<usize> = site
        .nav_order()
        .into_iter()
        .filter(|&i| policy::is_gated(&site.pages[i]) && !site.pages[i].is_generated())
        .collect();
    let hashes = hash::hash_pages(engine, &gated);
    let families = family::families(site);
    let signatures = if policy.require_signed
        || policy
            .people
            .all()
            .any(|p| !p.ssh_keys.is_empty() || !p.gpg_keys.is_empty())
    {
        signature::verify(root, &policy.people, &ledger.commit_ids(&history))
            .map_err(|d| Error::History(Box::new(d)))?
    } else {
        HashMap::new()
    };
    let inputs = status::Inputs {
        policy: &policy,
        history: &history,
        signatures: &signatures,
        now,
    };
    let subjects: Vec<(usize, Option<&family::Family>)> = gated
        .iter()
        .map(|&i| (i, None))
        .chain(families.iter().map(|f| (f.pages[0], Some(f))))
        .collect();
    let pages: Vec<PageApproval> = subjects
        .par_iter()
        .map(|&(i, family)| {
            let page = &site.pages[i];
            let rule = rules[i].map(|r| &policy.rules[r]);
            let id = family.map_or(page.id.as_str(), |f| f.id.as_str());
            let entries = ledger.entries.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let tampering = ledger.tampering.get(id).map(Vec::as_slice).unwrap_or(&[]);
            let hash = match family {
                Some(f) => &hash::hash_family(engine, f),
                None => &hashes[&i],
            };
            let mut approval =
                status::evaluate_page(&inputs, i, page, family, rule, hash, entries, tampering);
            if let Some(f) = family {
                approval.generated_pages =
                    f.pages.iter().map(|&p| site.pages[p].id.clone()).collect();
            }
            approval
        })
        .collect();
    let mut by_page: HashMap<usize, usize> = HashMap::new();
    for (n, (i, family)) in subjects.iter().enumerate() {
        match family {
            Some(f) => by_page.extend(f.pages.iter().map(|&p| (p, n))),
            None => {
                by_page.insert(*i, n);
            }
        }
    }
    Ok(Approvals {
        head: history.head.clone(),
        now,
        require_signed: policy.require_signed,
        policy: policy_state,
        pages,
        warnings,
        by_page,
    })
}

/// The current time: [`NOW_ENV`] when set (tests, CI clocks), else the system clock.
pub fn now() -> Result<DateTime<Utc>, Diagnostic> {
    match std::env::var(NOW_ENV) {
        Ok(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                Diagnostic::error(
                    "usage",
                    format!("{NOW_ENV}=`{text}` is not an RFC 3339 time: {e}"),
                )
                .help(format!(
                    "e.g. {NOW_ENV}=2026-05-01T09:00:00Z, or unset it to use the system clock"
                ))
            }),
        Err(_) => Ok(Utc::now()),
    }
}

//! The one publish flow every target goes through, and the [`Target`] trait a target implements.
//! The flow: connect and survey (the target scans what is there and renders what should be),
//! plan (`plan::plan` with `--force` / `--prune` and the target's drift wording), report every
//! planned page with its approval state, stop on title collisions, then — unless `--dry-run` —
//! execute (`run::execute`: waves, bounded concurrency, per-page retries, prunes last) and write a
//! receipt for every page written. Retries and the shared rate-limit gate live in the HTTP
//! clients the flow hands out ([`Connector`]); counts, progress and the JSON report are here too.
//!
//! **Adding a target** writes no planning or execution code: a folder `publish/<name>/` with
//! `config.rs` (its `[name]` section), `client.rs` (its API over [`Http`]), `mapping.rs` (pure:
//! documents to bodies and content hashes) and a `mod.rs` implementing [`Target`] — `survey`
//! (credentials, scan into [`Found`], render into [`Wanted`]), `write` and `remove` (one step
//! each, settling the target's own faults) — then a `TargetName` variant and a line in
//! `publish::publish`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::failure::Failure;
use super::http::{Auth, Http};
use super::plan::{self, Action, Found, Plan, Rules, Step, Wanted};
use super::receipt::{self, Receipt};
use super::report::{PageReport, TargetReport};
use super::retry::{Budget, RetryPolicy};
use super::run::{self, JobResult};
use super::{Context, Stopped};
use crate::diag::Diagnostic;

/// The most one target's run waits in total between retries.
const RETRY_BUDGET: Duration = Duration::from_secs(300);

/// What the flow needs to know about a target.
pub struct Profile {
    /// The target's name in reports and receipts: `confluence`, `community`.
    pub name: &'static str,
    /// The configured URL, for the report.
    pub endpoint: String,
    /// Where people edit pages, for drift notes: `Confluence`, `the community`.
    pub editor: &'static str,
    /// `Some(how to rename a page)`: titles are unique per scope (ignoring case), and a plan
    /// whose titles collide writes nothing.
    pub unique_titles: Option<&'static str>,
    /// Writes at the same time (`--concurrency` overrides it).
    pub concurrency: usize,
}

/// What a target found and what it wants, in the planner's terms. The target keeps whatever
/// else its writes need (bodies, raw records) in its own state, by the same indexes.
pub struct Survey {
    pub wanted: Vec<Wanted>,
    pub found: Vec<Found>,
}

/// What kbpub wants for document `page` of the site: its id, source and approval gate, titled
/// `title`, at the top of `scope`, at depth 0, not retired (a target sets what differs).
pub fn wanted(ctx: &Context<'_>, page: usize, title: &str, scope: &str, hash: &str) -> Wanted {
    let p = &ctx.engine.site.pages[page];
    Wanted {
        key: p.id.clone(),
        page,
        source: p.file.clone(),
        title: title.to_string(),
        place: plan::Place {
            scope: scope.to_string(),
            parent: None,
        },
        hash: hash.to_string(),
        gated: ctx.gates[page].held_back(),
        depth: 0,
        retire: false,
    }
}

/// Whether links from a partner article may point at partner document `page`'s article: it is
/// publishable now, or already on the target (`found`, not archived). Others become plain text.
pub fn linkable<'a>(ctx: &'a Context<'_>, found: &[Found]) -> impl Fn(usize) -> bool + Sync + 'a {
    let on_target: std::collections::HashSet<String> = found
        .iter()
        .filter(|f| !f.archived)
        .filter_map(|f| f.key.clone())
        .collect();
    move |page| ctx.gates[page].publishable || on_target.contains(&ctx.engine.site.pages[page].id)
}

/// One write step, as a target's [`Target::write`] gets it.
pub struct Job<'p> {
    pub action: Action,
    /// Index into [`Survey::wanted`].
    pub index: usize,
    pub wanted: &'p Wanted,
    /// The page found for it, if any.
    pub found: Option<&'p Found>,
    /// The receipt this write gets, but for the remote id and version.
    receipt: Receipt,
}

impl Job<'_> {
    /// The receipt of this write once it made version `version` of remote page `id`; a target
    /// that stores the receipt on the page itself gets the same one the flow writes locally.
    pub fn receipt(&self, id: &str, version: u64) -> Receipt {
        Receipt {
            remote_id: id.to_string(),
            version,
            ..self.receipt.clone()
        }
    }
}

/// A publish target: its client and mapping behind the one flow. Jobs run concurrently on the
/// caller's task (never spawned), so futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Target {
    fn profile(&self) -> Profile;
    /// Reads the credentials, connects (through `connect`, which gives clients with kbpub's retry
    /// policy and the run's budget), scans the target and renders what should be there. `Err`:
    /// content problems a writer must fix, or why the target cannot be published to now.
    async fn survey(&mut self, ctx: &Context<'_>, connect: &Connector) -> Result<Survey, Stopped>;
    /// The API spoken, for the report, once known.
    fn api(&self) -> Option<String> {
        None
    }
    /// Requests sent by clients the [`Connector`] did not make: (reads, writes).
    fn counts(&self) -> (u64, u64) {
        (0, 0)
    }
    /// What someone should act on soon, found while publishing.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Adds the target's own notes to a planned page.
    fn annotate(&self, _ctx: &Context<'_>, _step: &Step, _page: &mut PageReport) {}
    /// Carries out a create, update, move or archive step. `Done` makes the flow write the
    /// job's receipt.
    async fn write(&self, ctx: &Context<'_>, job: &Job<'_>) -> JobResult;
    /// Archives or deletes a page whose document is gone (`--prune`).
    async fn remove(&self, ctx: &Context<'_>, found: &Found) -> JobResult;
}

/// Hands out HTTP clients for one target's run: kbpub's retry policy, one retry budget for the
/// run, and the request counts of every client it made.
pub struct Connector {
    budget: Arc<Budget>,
    made: Mutex<Vec<Arc<Http>>>,
}

impl Connector {
    fn new() -> Connector {
        Connector {
            budget: Arc::new(Budget::new(RETRY_BUDGET)),
            made: Mutex::new(Vec::new()),
        }
    }

    /// A client for the service at `base_url`, sending `auth`.
    pub fn http(&self, base_url: &str, auth: Auth) -> Result<Arc<Http>, String> {
        let http = Arc::new(Http::new(
            base_url,
            auth,
            RetryPolicy::default(),
            self.budget.clone(),
        )?);
        self.made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(http.clone());
        Ok(http)
    }

    /// The settings of every client it makes, for clients a target builds itself (OAuth).
    pub fn settings(&self) -> Result<crate::net::Settings, String> {
        Ok(crate::net::Settings {
            connect_timeout: Duration::from_secs(10),
            request_timeout: super::http::request_timeout()?,
            policy: RetryPolicy::default(),
            budget: self.budget.clone(),
        })
    }

    /// Requests sent by every client made: (reads, writes).
    fn counts(&self) -> (u64, u64) {
        let made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        made.iter().fold((0, 0), |(reads, writes), http| {
            let (r, w) = http.counts();
            (reads + r, writes + w)
        })
    }
}

/// Runs `target` through the flow. `Err` holds content problems a writer must fix (nothing was
/// sent); everything else, including a target that could not be reached, is in the report.
pub async fn publish(
    ctx: &Context<'_>,
    target: &mut impl Target,
) -> Result<TargetReport, Vec<Diagnostic>> {
    let profile = target.profile();
    let mut report = TargetReport::new(profile.name, &profile.endpoint, ctx.options.dry_run);
    report.data_as_of = ctx.data_as_of.clone();
    let connector = Connector::new();
    let outcome = match target.survey(ctx, &connector).await {
        Ok(survey) => execute(ctx, target, &profile, &survey, &mut report).await,
        Err(stopped) => Err(stopped),
    };
    report.api = target.api();
    report.warnings = target.warnings();
    let ((reads, writes), (own_reads, own_writes)) = (connector.counts(), target.counts());
    (report.reads, report.writes) = (reads + own_reads, writes + own_writes);
    match outcome {
        Ok(()) => Ok(report),
        Err(Stopped::Target(error)) => {
            report.error = Some(error);
            Ok(report)
        }
        Err(Stopped::Content(diagnostics)) => Err(diagnostics),
    }
}

/// Plans `survey`, reports the plan, and executes it unless this is a dry run.
async fn execute(
    ctx: &Context<'_>,
    target: &impl Target,
    profile: &Profile,
    survey: &Survey,
    report: &mut TargetReport,
) -> Result<(), Stopped> {
    let rules = Rules {
        force: ctx.options.force,
        prune: ctx.options.prune,
        unique_titles: profile.unique_titles.is_some(),
        editor: profile.editor,
    };
    let plan = plan::plan(&survey.wanted, &survey.found, rules);
    report.pages = plan
        .steps
        .iter()
        .map(|step| {
            let approval = step
                .wanted
                .map(|i| ctx.gates[survey.wanted[i].page].state.clone());
            let mut page = PageReport::planned(step, &survey.wanted, &survey.found, approval);
            target.annotate(ctx, step, &mut page);
            page
        })
        .collect();
    report.collisions = plan.collisions.clone();
    if let (false, Some(rename)) = (plan.collisions.is_empty(), profile.unique_titles) {
        return Err(Stopped::Target(format!(
            "titles collide: nothing was written; give the pages distinct titles ({rename})"
        )));
    }
    if !ctx.options.dry_run {
        let steps = Steps {
            ctx,
            target,
            name: profile.name,
            plan: &plan,
            survey,
        };
        let concurrency = ctx.options.concurrency.unwrap_or(profile.concurrency);
        run::execute(&plan, report, &steps, concurrency, ctx.options.progress).await;
    }
    Ok(())
}

/// The runner's view of a target: each step handed to the target, each page written recorded.
struct Steps<'r, T> {
    ctx: &'r Context<'r>,
    target: &'r T,
    name: &'static str,
    plan: &'r Plan,
    survey: &'r Survey,
}

impl<T: Target> run::Writer for Steps<'_, T> {
    async fn write(&self, step: usize) -> JobResult {
        let step = &self.plan.steps[step];
        let index = step.wanted.expect("writes have a wanted page");
        let job = self.job(step.action, index, step.found);
        match self.target.write(self.ctx, &job).await {
            JobResult::Done { id, version, .. } => record(self.ctx, job.receipt(&id, version)),
            other => other,
        }
    }

    async fn prune(&self, step: usize) -> JobResult {
        let found = self.plan.steps[step]
            .found
            .expect("prunes have a found page");
        self.target
            .remove(self.ctx, &self.survey.found[found])
            .await
    }
}

impl<T> Steps<'_, T> {
    fn job(&self, action: Action, index: usize, found: Option<usize>) -> Job<'_> {
        let wanted = &self.survey.wanted[index];
        let gate = &self.ctx.gates[wanted.page];
        Job {
            action,
            index,
            wanted,
            found: found.map(|f| &self.survey.found[f]),
            receipt: Receipt {
                target: self.name.into(),
                doc_id: wanted.key.clone(),
                source: wanted.source.clone(),
                remote_id: String::new(),
                version: 0,
                content_hash: wanted.hash.clone(),
                data_as_of: self.ctx.data_as_of.clone(),
                approval_state: gate.state.clone(),
                approvals_used: gate.approvals_used.clone(),
                emergency: gate.emergency.clone(),
                published_at: receipt::now_rfc3339(),
            },
        }
    }
}

/// Writes the receipt of a page that was written.
fn record(ctx: &Context<'_>, receipt: Receipt) -> JobResult {
    match receipt::write(&ctx.engine.site.config.root, &receipt) {
        Ok(path) => JobResult::Done {
            id: receipt.remote_id,
            version: receipt.version,
            receipt: Some(path.display().to_string()),
        },
        Err(e) => JobResult::Failed(Failure::Unrecorded {
            error: format!("published, but the receipt could not be written: {e}"),
        }),
    }
}

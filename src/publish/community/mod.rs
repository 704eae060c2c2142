//! The partner-community target (`community-v1`): scan the articles of kbpub's categories, render
//! the partner documents (leak checked), plan, then per article: create a draft or write a new
//! draft version with `If-Match`, publish exactly that version, and record a receipt; archive
//! obsolete documents. Faults are settled here: a create that fails (5xx, no answer, 409) is
//! looked up by external id before anything else, so an article is never created twice; a 412
//! or a publish 409 re-reads the article, and an edit made on the community is reported as
//! drifted unless `--force`.

pub mod client;
pub mod config;
pub mod mapping;

use std::collections::{BTreeSet, HashSet};

use super::Context;
use super::http::{Auth, HttpError};
use super::plan::{self, Action, Edit, Found, Place, Recorded, Rules, Wanted};
use super::receipt::{self, Receipt, short_hash};
use super::report::{PageReport, TargetReport};
use super::run::{self, JobResult};
use crate::diag::Diagnostic;
use client::{Article, Client, Content};
pub use config::CommunityConfig;
use mapping::Desired;

/// Who edits articles on the community when it is not kbpub, in drift notes.
const MODERATOR: &str = "a moderator";

/// Publishes to the partner community. `Err` holds content problems a writer must fix (nothing
/// was sent); everything else, including a target that could not be reached, is in the report.
pub async fn publish(
    ctx: &Context<'_>,
    config: &CommunityConfig,
) -> Result<TargetReport, Vec<Diagnostic>> {
    let connect = || {
        config.check()?;
        let token = super::secret(&config.token_env, "community token", "community.token_env")?;
        Ok(Auth::Bearer(token))
    };
    super::run_target(
        ctx,
        "community",
        &config.base_url,
        connect,
        async |http, report| run(ctx, config, Client { http }, report).await,
    )
    .await
}

async fn run(
    ctx: &Context<'_>,
    config: &CommunityConfig,
    client: Client,
    report: &mut TargetReport,
) -> Result<Result<(), String>, Vec<Diagnostic>> {
    let site = ctx.engine.site;
    let documents = mapping::documents(site);
    let mut categories: BTreeSet<String> = documents
        .iter()
        .map(|&d| mapping::category(site, config, d).to_string())
        .collect();
    categories.insert(config.default_category.clone());
    categories.extend(config.sections.values().cloned());
    categories.extend(config.types.values().cloned());
    let mut scanned = Vec::new();
    for category in &categories {
        match client.list(category).await {
            Ok(mut articles) => scanned.append(&mut articles),
            Err(e) => {
                (report.reads, report.writes) = client.http.counts();
                return Ok(Err(format!("cannot reach the community: {e}")));
            }
        }
    }
    let found = found_articles(&scanned, site);
    let on_target: HashSet<&str> = found
        .iter()
        .filter(|f| !f.archived)
        .filter_map(|f| f.key.as_deref())
        .collect();
    let linkable =
        |p: usize| ctx.gates[p].publishable || on_target.contains(site.pages[p].id.as_str());
    let desired = mapping::render(ctx.engine, config, ctx.gates, &linkable)?;
    let wanted: Vec<Wanted> = desired
        .iter()
        .map(|d| {
            let p = &site.pages[d.page];
            Wanted {
                key: p.id.clone(),
                source: p.file.clone(),
                title: d.title.clone(),
                place: Place {
                    scope: d.category.clone(),
                    parent: None,
                },
                hash: d.hash.clone(),
                gated: ctx.gates[d.page].held_back(),
                depth: 0,
                retire: d.retire,
            }
        })
        .collect();
    let rules = Rules::for_run(ctx.options, false, "the community");
    let plan = plan::plan(&wanted, &found, rules);
    report.pages = plan
        .steps
        .iter()
        .map(|step| page_report(step, &wanted, &found, &desired, ctx))
        .collect();
    if !ctx.options.dry_run {
        let writer = Writer {
            ctx,
            config,
            client: &client,
            plan: &plan,
            desired: &desired,
            scanned: &scanned,
            found: &found,
        };
        let concurrency = ctx.options.concurrency.unwrap_or(config.concurrency);
        run::execute(&plan, report, &writer, concurrency, ctx.options.progress).await;
    }
    (report.reads, report.writes) = client.http.counts();
    Ok(Ok(()))
}

/// The scan as the planner sees it. Articles whose external id is no document of the site are
/// kbpub's only when they carry a content hash (an article of a document that was deleted);
/// others belong to someone else and are left out.
fn found_articles(scanned: &[Article], site: &crate::content::Site) -> Vec<Found> {
    scanned
        .iter()
        .filter(|a| site.page_by_id(&a.external_id).is_some() || a.content_hash.is_some())
        .map(|a| {
            let by_kbpub = a.content_hash.is_some();
            Found {
                remote_id: a.id.clone(),
                key: Some(a.external_id.clone()),
                title: a.title.clone(),
                place: Place {
                    scope: a.category.clone(),
                    parent: None,
                },
                recorded: Some(Recorded {
                    // "No change" means partners already see it: the hash of a published latest version.
                    hash: match a.latest_is_published() {
                        true => a.content_hash.clone().unwrap_or_default(),
                        false => String::new(),
                    },
                    version: if by_kbpub { a.version } else { 0 },
                }),
                version: a.version,
                last_edit: Edit {
                    by: if by_kbpub { "kbpub" } else { MODERATOR }.into(),
                    when: a.updated_at.clone(),
                    by_kbpub,
                },
                archived: a.status == "archived",
            }
        })
        .collect()
}

fn page_report(
    step: &plan::Step,
    wanted: &[Wanted],
    found: &[Found],
    desired: &[Desired],
    ctx: &Context<'_>,
) -> PageReport {
    let approval = step
        .wanted
        .map(|i| ctx.gates[desired[i].page].state.clone());
    PageReport::planned(step, wanted, found, approval)
}

struct Writer<'a> {
    ctx: &'a Context<'a>,
    config: &'a CommunityConfig,
    client: &'a Client,
    plan: &'a plan::Plan,
    desired: &'a [Desired],
    scanned: &'a [Article],
    found: &'a [Found],
}

impl run::Writer for Writer<'_> {
    async fn write(&self, step: usize) -> JobResult {
        let step = &self.plan.steps[step];
        let d = &self.desired[step.wanted.expect("writes have a wanted article")];
        let article = step.found.map(|f| self.article(&self.found[f]));
        let result = match (step.action, article) {
            (Action::Archive, Some(article)) => self.archive(d, article).await,
            (_, None) => self.create(d).await,
            (_, Some(article)) => self.update(d, article.clone()).await,
        };
        match result {
            Ok(Settled::Done(article)) => self.receipt(d, &article),
            Ok(Settled::Drifted(why)) => JobResult::Drifted(why),
            Err(e) => JobResult::Failed(e),
        }
    }

    async fn prune(&self, step: usize) -> JobResult {
        let f = &self.found[self.plan.steps[step]
            .found
            .expect("prunes have a found article")];
        let reason = "kbpub: the document is gone, or no longer for partners";
        match self.client.archive(&f.remote_id, reason, None).await {
            Ok(a) => JobResult::Done {
                id: a.id,
                version: a.version,
                receipt: None,
            },
            Err(e) => JobResult::Failed(e.to_string()),
        }
    }
}

/// How one article's job ended, short of failing.
enum Settled {
    Done(Article),
    Drifted(String),
}

impl Writer<'_> {
    fn article(&self, f: &Found) -> &Article {
        self.scanned
            .iter()
            .find(|a| a.id == f.remote_id)
            .expect("found articles come from the scan")
    }

    fn content<'d>(&'d self, d: &'d Desired) -> Content<'d> {
        Content {
            external_id: &self.ctx.engine.site.pages[d.page].id,
            title: &d.title,
            body: &d.body,
            category: &d.category,
            labels: &d.labels,
            locale: &self.config.locale,
            content_hash: &d.hash,
        }
    }

    /// Creates the draft and publishes it. When the create fails in a way that may have
    /// committed (5xx, no answer) or finds the external id taken (409), the article is looked up
    /// first: ours is adopted, never created twice.
    async fn create(&self, d: &Desired) -> Result<Settled, String> {
        let content = self.content(d);
        let created = match self.client.create(&content).await {
            Ok(article) => article,
            Err(e) if e.is_server_error() || e.is(409) => {
                match self.client.find(content.external_id).await {
                    Ok(Some(article)) if article.content_hash.is_some() => {
                        return self.update(d, article).await;
                    }
                    Ok(Some(article)) => {
                        return Err(format!(
                            "{e}; external id `{}` is taken by article {} that kbpub did not write",
                            content.external_id, article.id
                        ));
                    }
                    Ok(None) if !e.is(409) => {
                        self.client.create(&content).await.map_err(describe)?
                    }
                    Ok(None) => return Err(describe(e)),
                    Err(lookup) => return Err(format!("{e}; then the lookup failed: {lookup}")),
                }
            }
            Err(e) => return Err(describe(e)),
        };
        self.publish(d, created).await
    }

    /// Writes a new draft version over `article` (unless its latest version already holds this
    /// content) and publishes it.
    async fn update(&self, d: &Desired, article: Article) -> Result<Settled, String> {
        if article.content_hash.as_deref() == Some(d.hash.as_str()) {
            return self.publish(d, article).await; // an earlier run wrote it but did not publish
        }
        let content = self.content(d);
        let written = match self
            .client
            .update(&article.id, &article.etag, &content)
            .await
        {
            Ok(written) => written,
            Err(e) if e.is(412) => {
                let current = self.client.article(&article.id).await.map_err(describe)?;
                if current.content_hash.as_deref() == Some(d.hash.as_str()) {
                    current // our write landed; its answer was lost
                } else if current.content_hash.is_none() && !self.ctx.options.force {
                    return Ok(Settled::Drifted(format!(
                        "edited in the community by {MODERATOR} at {} while publishing (version {})",
                        current.updated_at, current.version
                    )));
                } else {
                    self.client
                        .update(&current.id, &current.etag, &content)
                        .await
                        .map_err(|e| match e.is(412) {
                            true => {
                                format!("{e}: the article kept changing while publishing; re-run")
                            }
                            false => describe(e),
                        })?
                }
            }
            Err(e) => return Err(describe(e)),
        };
        self.publish(d, written).await
    }

    /// Publishes exactly `article`'s latest version. A 409 (a newer version appeared) re-reads:
    /// a version someone else wrote is drift.
    async fn publish(&self, d: &Desired, article: Article) -> Result<Settled, String> {
        if article.latest_is_published() {
            return Ok(Settled::Done(article));
        }
        let message = format!("kbpub {}", short_hash(&d.hash));
        match self
            .client
            .publish(&article.id, article.version, &message)
            .await
        {
            Ok(published) => Ok(Settled::Done(published)),
            Err(e) if e.is(409) => {
                let current = self.client.article(&article.id).await.map_err(describe)?;
                if current.content_hash.is_none() {
                    Ok(Settled::Drifted(format!(
                        "edited in the community by {MODERATOR} at {} while publishing (version {})",
                        current.updated_at, current.version
                    )))
                } else {
                    Err(format!("{e}: the article changed while publishing; re-run"))
                }
            }
            Err(e) => Err(describe(e)),
        }
    }

    async fn archive(&self, d: &Desired, article: &Article) -> Result<Settled, String> {
        let reason = match &d.superseded_by {
            Some(next) => format!("kbpub: obsolete, superseded by `{next}`"),
            None => "kbpub: obsolete".to_string(),
        };
        self.client
            .archive(&article.id, &reason, d.superseded_by.as_deref())
            .await
            .map(Settled::Done)
            .map_err(describe)
    }

    fn receipt(&self, d: &Desired, article: &Article) -> JobResult {
        let gate = &self.ctx.gates[d.page];
        let p = &self.ctx.engine.site.pages[d.page];
        let receipt = Receipt {
            target: "community".into(),
            doc_id: p.id.clone(),
            source: p.file.clone(),
            remote_id: article.id.clone(),
            version: article.version,
            content_hash: d.hash.clone(),
            data_as_of: self.ctx.data_as_of.clone(),
            approval_state: gate.state.clone(),
            approvals_used: gate.approvals_used.clone(),
            emergency: gate.emergency.clone(),
            published_at: receipt::now_rfc3339(),
        };
        match receipt::write(&self.ctx.engine.site.config.root, &receipt) {
            Ok(path) => JobResult::Done {
                id: article.id.clone(),
                version: article.version,
                receipt: Some(path.display().to_string()),
            },
            Err(e) => JobResult::Failed(format!(
                "published, but the receipt could not be written: {e}"
            )),
        }
    }
}

/// An HTTP error in words, with what to do for the contract's content errors.
fn describe(e: HttpError) -> String {
    match e.status {
        Some(413) => {
            format!("{e}: the article is over the community's 1 MiB limit; use smaller images")
        }
        Some(422) => format!(
            "{e}: the community's sanitiser refused the body; report this as a kbpub bug (bodies are sanitised before sending)"
        ),
        _ => e.to_string(),
    }
}

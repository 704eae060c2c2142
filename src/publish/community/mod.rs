//! The partner-community target (`community-v1`): scan the articles of kbpub's categories, render
//! the partner documents (leak checked), plan, then per article: create a draft or write a new
//! draft version with `If-Match`, publish exactly that version, and record a receipt; archive
//! obsolete documents.
//!
//! **Which versions are kbpub's.** A version is kbpub's only when kbpub can verify it, never by a
//! field it carries: a platform may copy the previous version's `content_hash` (or any field) into
//! a moderator's edit. kbpub's content hash is sha256 over exactly what it writes — title,
//! category, labels, locale and body (`mapping::content_hash`) — so the body kbpub wrote for a
//! hash is the one whose fields hash to it: the scan reads each article carrying a hash by id
//! (with its body) and re-hashes its latest version. A version whose fields do not hash to the
//! hash it carries, or that carries none, is someone else's edit, published or not: it is
//! reported as drift and kbpub publishes nothing over it; `--force` writes kbpub's approved text
//! as a new draft version and publishes that version, never the moderator's. This needs no local
//! state (a CI checkout has no receipts) and costs one read per article. (The contract names no
//! author per version, so a version identical in every field to kbpub's counts as kbpub's: it is
//! exactly the approved text. It relies on the contract returning bodies as stored.)
//!
//! **Faults.** Writes are sent once by the HTTP layer; after a 5xx or a lost answer on any write
//! (create, draft, publish, archive) the article is read back before trying again, and a write
//! found applied counts as done, with its receipt. A create that fails that way, or meets the
//! unique external id (409), is looked up by external id first, so an article is never created
//! twice; a 409 with nothing found is a transient conflict, retried once. A 412 or a publish 409
//! re-reads the article: a version kbpub did not write is drift unless `--force`.

pub mod client;
pub mod mapping;

use std::collections::BTreeSet;

use futures_util::stream::{self, StreamExt};

use super::failure::Failure;
use super::http::{Auth, HttpError};
use super::plan::{self, Action, Edit, Found, Place, Recorded, Wanted};
use super::receipt::short_hash;
use super::report::PageReport;
use super::run::JobResult;
use super::target::{Connector, Job, Profile, Survey, Target};
use super::{Context, Stopped};
pub use crate::config::CommunityConfig;
use client::{Article, Client, Content};
use mapping::Desired;

/// Who edits articles on the community when it is not kbpub, in drift notes.
const MODERATOR: &str = "a moderator";
/// What to do about an article someone else edited.
const DRIFT_HELP: &str = "kbpub published nothing over it: bring the edit into the source and have it approved, or re-run with --force to publish the approved text as a new version";
use crate::net::retry::WRITE_ATTEMPTS;

/// The partner-community target; its state is filled by the survey.
pub struct Community<'c> {
    config: &'c CommunityConfig,
    state: Option<State>,
}

/// What the survey learnt, for the writes.
struct State {
    client: Client,
    scanned: Vec<Article>,
    /// Parallel to the survey's wanted articles.
    desired: Vec<Desired>,
}

impl<'c> Community<'c> {
    pub fn new(config: &'c CommunityConfig) -> Community<'c> {
        Community {
            config,
            state: None,
        }
    }

    fn writer<'a>(&'a self, ctx: &'a Context<'a>) -> Writer<'a> {
        let state = self.state.as_ref().expect("writes come after the survey");
        Writer {
            ctx,
            config: self.config,
            client: &state.client,
            scanned: &state.scanned,
        }
    }
}

impl Target for Community<'_> {
    fn profile(&self) -> Profile {
        Profile {
            name: "community",
            endpoint: self.config.base_url.clone(),
            editor: "the community",
            unique_titles: None,
            concurrency: self.config.concurrency,
        }
    }

    async fn survey(&mut self, ctx: &Context<'_>, connect: &Connector) -> Result<Survey, Stopped> {
        let config = self.config;
        super::refused(&ctx.engine.site.config.refused.community)?;
        let token = super::secret(&config.token_env, "community token", "community.token_env")?;
        let client = Client {
            http: connect.http(&config.base_url, Auth::Bearer(token))?,
        };
        let site = ctx.engine.site;
        let documents = crate::render::partner::documents(site);
        let mut categories: BTreeSet<String> = documents
            .iter()
            .map(|&d| mapping::category(site, config, d).to_string())
            .collect();
        categories.insert(config.default_category.clone());
        categories.extend(config.sections.values().cloned());
        categories.extend(config.types.values().cloned());
        let concurrency = ctx.options.concurrency.unwrap_or(config.concurrency);
        let scanned = scan(&client, &categories, concurrency)
            .await
            .map_err(|e| format!("cannot reach the community: {e}"))?;
        let found = found_articles(&scanned, site);
        let linkable = super::target::linkable(ctx, &found);
        let desired = mapping::render(ctx.engine, config, ctx.gates, &linkable)?;
        let wanted = desired
            .iter()
            .map(|d| Wanted {
                retire: d.retire,
                ..super::target::wanted(ctx, d.page, &d.title, &d.category, &d.hash)
            })
            .collect();
        self.state = Some(State {
            client,
            scanned,
            desired,
        });
        Ok(Survey { wanted, found })
    }

    fn annotate(&self, _ctx: &Context<'_>, step: &plan::Step, page: &mut PageReport) {
        if step.action == Action::Drifted {
            page.note = page.note.take().map(|note| format!("{note}; {DRIFT_HELP}"));
        }
    }

    async fn write(&self, ctx: &Context<'_>, job: &Job<'_>) -> JobResult {
        let writer = self.writer(ctx);
        let d = &self.state.as_ref().expect("surveyed").desired[job.index];
        let article = job.found.map(|f| writer.article(f));
        let result = match (job.action, article) {
            (Action::Archive, Some(article)) => writer.archive(d, article).await,
            (_, None) => writer.create(d).await,
            (_, Some(article)) => writer.update(d, article.clone()).await,
        };
        match result {
            Ok(Settled::Done(article)) => JobResult::done(article.id, article.version),
            Ok(Settled::Drifted(why)) => JobResult::Drifted(why),
            Err(why) => JobResult::Failed(why),
        }
    }

    async fn remove(&self, ctx: &Context<'_>, found: &Found) -> JobResult {
        let reason = "kbpub: the document is gone, or no longer for partners";
        match self
            .writer(ctx)
            .archive_article(&found.remote_id, reason, None)
            .await
        {
            Ok(a) => JobResult::done(a.id, a.version),
            Err(e) => JobResult::Failed(e.into()),
        }
    }
}

/// Every article in `categories`; those carrying a content hash are read by id (with their body)
/// so that `written_by_kbpub` can check it.
async fn scan(
    client: &Client,
    categories: &BTreeSet<String>,
    concurrency: usize,
) -> Result<Vec<Article>, HttpError> {
    let mut listed = Vec::new();
    for category in categories {
        listed.append(&mut client.in_category(category).await?);
    }
    stream::iter(listed)
        .map(async |a| match a.content_hash {
            Some(_) => client.article(&a.id).await,
            None => Ok(a),
        })
        .buffered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// The latest version of `article` (read by id) is exactly what kbpub wrote: its fields hash to
/// the content hash it carries. See the module comment.
fn written_by_kbpub(article: &Article) -> bool {
    match (&article.content_hash, &article.body) {
        (Some(hash), Some(body)) => {
            *hash
                == mapping::content_hash(
                    &article.title,
                    &article.category,
                    &article.labels,
                    &article.locale,
                    body,
                )
        }
        _ => false,
    }
}

/// The latest version of `article` is kbpub's and holds `d`.
fn holds(article: &Article, d: &Desired) -> bool {
    article.content_hash.as_deref() == Some(d.hash.as_str()) && written_by_kbpub(article)
}

/// Who wrote the latest version of an article that is not kbpub's, for drift notes.
fn someone_else(article: &Article) -> String {
    let draft = match article.latest_is_published() {
        true => "",
        false => ", an unpublished draft",
    };
    format!("{MODERATOR} (version {}{draft})", article.version)
}

/// The drift of an article found edited while publishing.
fn drifted_meanwhile(article: &Article) -> Settled {
    Settled::Drifted(format!(
        "edited in the community by {} at {} while publishing; {DRIFT_HELP}",
        someone_else(article),
        article.updated_at
    ))
}

/// The scan as the planner sees it. An article is recorded as kbpub's when its latest version is
/// (`written_by_kbpub`); an article of a document whose latest version someone else wrote is
/// drifted; articles of no document are kbpub's (a deleted document's, to prune) only when their
/// latest version is kbpub's, and left out otherwise.
fn found_articles(scanned: &[Article], site: &crate::content::Site) -> Vec<Found> {
    scanned
        .iter()
        .map(|a| (a, written_by_kbpub(a)))
        .filter(|(a, ours)| *ours || site.page_by_id(&a.external_id).is_some())
        .map(|(a, ours)| Found {
            remote_id: a.id.clone(),
            key: Some(a.external_id.clone()),
            title: a.title.clone(),
            place: Place {
                scope: a.category.clone(),
                parent: None,
            },
            recorded: Some(Recorded {
                // "No change" means partners already see it: the hash of a published latest version.
                hash: match ours && a.latest_is_published() {
                    true => a.content_hash.clone().unwrap_or_default(),
                    false => String::new(),
                },
                version: if ours { a.version } else { 0 },
            }),
            version: a.version,
            last_edit: Edit {
                by: match ours {
                    true => "kbpub".into(),
                    false => someone_else(a),
                },
                when: a.updated_at.clone(),
                by_kbpub: ours,
            },
            archived: a.status == "archived",
        })
        .collect()
}

/// The writes of one run: the community's API and what the survey scanned.
struct Writer<'a> {
    ctx: &'a Context<'a>,
    config: &'a CommunityConfig,
    client: &'a Client,
    scanned: &'a [Article],
}

/// How one article's job ended, short of failing.
enum Settled {
    Done(Box<Article>),
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

    /// Sends `write`; after a failure that may have landed (5xx, no answer) reads the article
    /// back with `applied`: a write found applied is done, one not applied is tried again, up
    /// to `WRITE_ATTEMPTS` in all.
    async fn write_once(
        &self,
        id: &str,
        write: impl AsyncFn() -> Result<Article, HttpError>,
        applied: impl Fn(&Article) -> bool,
    ) -> Result<Article, HttpError> {
        let mut attempt = 1;
        loop {
            let error = match write().await {
                Err(e) if e.is_server_error() => e,
                answer => return answer,
            };
            let current = self.client.article(id).await.map_err(|read| HttpError {
                message: format!("{}; reading the article back failed: {read}", error.message),
                ..error.clone()
            })?;
            if applied(&current) {
                return Ok(current);
            }
            if attempt >= WRITE_ATTEMPTS {
                return Err(error);
            }
            attempt += 1;
        }
    }

    /// Creates the draft and publishes it. When the create fails in a way that may have
    /// committed (5xx, no answer) or finds the external id taken (409), the article is looked up
    /// by external id first: kbpub's is taken up where it was left, never created twice; a 409
    /// with nothing found (a transient conflict) is tried once more.
    async fn create(&self, d: &Desired) -> Result<Settled, Failure> {
        let content = self.content(d);
        let mut tries = 0;
        let mut conflicts = 0;
        loop {
            tries += 1;
            let e = match self.client.create(&content).await {
                Ok(created) => return self.publish(d, created).await,
                Err(e) if e.is_server_error() || e.is(409) => e,
                Err(e) => return Err(describe(e)),
            };
            match self.client.find(content.external_id).await {
                Ok(Some(found)) => return self.take_up(d, &found.id).await,
                Ok(None) if e.is(409) && conflicts == 0 => conflicts += 1,
                Ok(None) if e.is(409) => {
                    return Err(Failure::KeptChanging {
                        error: format!(
                            "{e}: the community still reports a conflict for external id `{}` that it does not list; re-run",
                            content.external_id
                        ),
                    });
                }
                Ok(None) if tries < WRITE_ATTEMPTS => {}
                Ok(None) => return Err(describe(e)),
                Err(lookup) => return Err(Failure::after(&e, lookup)),
            }
        }
    }

    /// Continues with article `id`, found by external id after a create failed: an article
    /// whose latest version kbpub wrote (its own create that landed, or an earlier run's) is
    /// updated and published; anyone else's is drift (outside the scanned categories), left
    /// alone unless `--force`.
    async fn take_up(&self, d: &Desired, id: &str) -> Result<Settled, Failure> {
        let article = self.client.article(id).await.map_err(describe)?;
        if !written_by_kbpub(&article) && !self.ctx.options.force {
            return Ok(Settled::Drifted(format!(
                "external id `{}` is held by article {} in category `{}` (not scanned), edited by {}; {DRIFT_HELP}",
                article.external_id,
                article.id,
                article.category,
                someone_else(&article)
            )));
        }
        self.update(d, article).await
    }

    /// Writes a new draft version holding `d` over `article` (unless its latest version is
    /// kbpub's and already holds `d`) and publishes it. `article` was read by id.
    async fn update(&self, d: &Desired, article: Article) -> Result<Settled, Failure> {
        if holds(&article, d) {
            return self.publish(d, article).await; // an earlier run wrote it but did not publish
        }
        let content = self.content(d);
        let write = async |etag: &str| {
            self.write_once(
                &article.id,
                async || self.client.update(&article.id, etag, &content).await,
                |current| holds(current, d),
            )
            .await
        };
        let written = match write(&article.etag).await {
            Ok(written) => written,
            Err(e) if e.is(412) => {
                let current = self.client.article(&article.id).await.map_err(describe)?;
                if holds(&current, d) {
                    current // our write landed; its answer was lost
                } else if !written_by_kbpub(&current) && !self.ctx.options.force {
                    return Ok(drifted_meanwhile(&current));
                } else {
                    write(&current.etag).await.map_err(|e| match e.is(412) {
                        true => Failure::KeptChanging {
                            error: format!(
                                "{e}: the article kept changing while publishing; re-run"
                            ),
                        },
                        false => describe(e),
                    })?
                }
            }
            Err(e) => return Err(describe(e)),
        };
        self.publish(d, written).await
    }

    /// Publishes exactly `article`'s latest version, which kbpub wrote. A 409 (a newer version
    /// appeared) re-reads: a version someone else wrote is drift.
    async fn publish(&self, d: &Desired, article: Article) -> Result<Settled, Failure> {
        if article.latest_is_published() {
            return Ok(Settled::Done(Box::new(article)));
        }
        let message = format!("kbpub {}", short_hash(&d.hash));
        let published = self
            .write_once(
                &article.id,
                async || {
                    self.client
                        .publish(&article.id, article.version, &message)
                        .await
                },
                |current| {
                    current.status == "published"
                        && current.published_version == Some(article.version)
                },
            )
            .await;
        match published {
            Ok(published) => Ok(Settled::Done(Box::new(published))),
            Err(e) if e.is(409) => {
                let current = self.client.article(&article.id).await.map_err(describe)?;
                if written_by_kbpub(&current) {
                    Err(Failure::KeptChanging {
                        error: format!("{e}: the article changed while publishing; re-run"),
                    })
                } else {
                    Ok(drifted_meanwhile(&current))
                }
            }
            Err(e) => Err(describe(e)),
        }
    }

    async fn archive(&self, d: &Desired, article: &Article) -> Result<Settled, Failure> {
        let reason = match &d.superseded_by {
            Some(next) => format!("kbpub: obsolete, superseded by `{next}`"),
            None => "kbpub: obsolete".to_string(),
        };
        self.archive_article(&article.id, &reason, d.superseded_by.as_deref())
            .await
            .map(|archived| Settled::Done(Box::new(archived)))
            .map_err(describe)
    }

    async fn archive_article(
        &self,
        id: &str,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<Article, HttpError> {
        self.write_once(
            id,
            async || self.client.archive(id, reason, superseded_by).await,
            |current| current.status == "archived",
        )
        .await
    }
}

/// An HTTP error in words, with what to do for the contract's content errors.
fn describe(e: HttpError) -> Failure {
    match e.status {
        Some(413) => Failure::TooLarge {
            error: format!(
                "{e}: the article is over the community's 1 MiB limit; use smaller images"
            ),
        },
        Some(422) => Failure::BodyRefused {
            error: format!(
                "{e}: the community's sanitiser refused the body; report this as a kbpub bug (bodies are sanitised before sending)"
            ),
        },
        _ => e.into(),
    }
}

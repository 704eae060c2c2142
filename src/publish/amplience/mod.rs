//! The Amplience Dynamic Content target (reference §2 and §4): the selected partner documents
//! become content items of kbpub's content type in one repository, found in one scan of the
//! repository by the doc id kbpub records in each body. Per item: create it (or take up the one a
//! failed create left), update it with its current `version`, publish it and poll the publishing
//! job to its end within `publish_timeout`; obsolete documents are unpublished, their delivery
//! key released (the key stays reserved on an archived item otherwise), then archived.
//!
//! **Which items are kbpub's, unchanged.** An item's body carries kbpub's content hash, which is
//! the fingerprint of every field kbpub writes; a body whose fields no longer give that hash was
//! edited in Amplience since: drift, left alone unless `--force`. "No change" is such an
//! unedited item holding the wanted hash whose current version is published.
//!
//! **Faults.** A create that fails with 5xx, no answer or the 409 of a taken delivery key is
//! looked up by key before anything else: kbpub's item (its create landed) is taken up where it
//! was left, never created twice; anyone else's holds the key and is left alone. An update or
//! archive answered 409 (a stale `version`) re-reads the item once: kbpub's own write that landed
//! counts as done, a CMS user's edit is drift. A new item's 404s are waited out (client), 429s
//! and 5xx of safe requests retried with backoff (net).

pub mod client;
pub mod mapping;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::failure::Failure;
use super::http::HttpError;
use super::plan::{Action, Edit, Found, Place, Recorded, Skip};
use super::run::JobResult;
use super::target::{Connector, Job, Profile, Survey, Target};
use super::{Context, Stopped};
pub use crate::config::amplience::AmplienceConfig;
use crate::config::amplience::Credentials;
use crate::net::Secret;
use crate::net::oauth::OAuth;
use crate::net::retry::WRITE_ATTEMPTS;
use client::{Client, Item, JobState};
use mapping::Desired;

/// The first wait between polls of a publishing job (doubling, at most [`POLL_MAX`]).
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(2);

/// The Amplience target; its state is filled by the survey.
pub struct Amplience<'c> {
    config: &'c AmplienceConfig,
    state: Option<State>,
}

struct State {
    client: Client,
    /// Items found by the scan, by id.
    items: HashMap<String, Item>,
    /// Parallel to the survey's wanted items.
    desired: Vec<Desired>,
}

impl<'c> Amplience<'c> {
    pub fn new(config: &'c AmplienceConfig) -> Amplience<'c> {
        Amplience {
            config,
            state: None,
        }
    }

    fn state(&self) -> &State {
        self.state.as_ref().expect("writes come after the survey")
    }

    fn client(&self) -> &Client {
        &self.state().client
    }

    fn oauth(&self, connect: &Connector) -> Result<OAuth, String> {
        let config = self.config;
        let settings = connect.settings()?;
        let oauth = match config.credentials() {
            Credentials::Pat(env) => {
                let token =
                    super::secret(env, "Amplience personal access token", "amplience.pat_env")?;
                OAuth::token(&config.api_url, Secret::new(token), settings)
            }
            Credentials::Client { id_env, secret_env } => {
                let id = super::secret(id_env, "Amplience client id", "amplience.client_id_env")?;
                let secret = super::secret(
                    secret_env,
                    "Amplience client secret",
                    "amplience.client_secret_env",
                )?;
                OAuth::client_credentials(
                    &config.auth_url,
                    &config.api_url,
                    &id,
                    Secret::new(secret),
                    settings,
                )
            }
        };
        oauth.map_err(|e| format!("Amplience: {e}"))
    }
}

impl Target for Amplience<'_> {
    fn profile(&self) -> Profile {
        Profile {
            name: "amplience",
            endpoint: self.config.api_url.clone(),
            editor: "Amplience",
            unique_titles: None,
            concurrency: self.config.concurrency,
        }
    }

    async fn survey(&mut self, ctx: &Context<'_>, connect: &Connector) -> Result<Survey, Stopped> {
        let config = self.config;
        super::refused(&ctx.engine.site.config.refused.amplience)?;
        let client = Client::new(self.oauth(connect)?, &config.hub, &config.repository);
        let scanned = match client.check_repository().await {
            Ok(()) => client.items().await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let scanned = match scanned {
            Ok(scanned) => scanned,
            Err(e) => {
                self.state = Some(State {
                    client,
                    items: HashMap::new(),
                    desired: Vec::new(),
                });
                return Err(Stopped::Target(format!("cannot scan Amplience: {e}")));
            }
        };
        let scope = Place {
            scope: config.repository.clone(),
            parent: None,
        };
        let mut found: Vec<Found> = scanned
            .iter()
            .filter_map(|item| {
                let key = item.doc_id()?.to_string();
                let ours = item.is_kbpubs();
                Some(Found {
                    remote_id: item.id.clone(),
                    key: Some(key),
                    title: item.body["title"].as_str().unwrap_or_default().to_string(),
                    place: scope.clone(),
                    recorded: Some(Recorded {
                        hash: match ours && item.is_published() {
                            true => mapping::stamp(&item.body).unwrap_or_default().to_string(),
                            false => String::new(),
                        },
                        version: if ours { item.version } else { 0 },
                    }),
                    version: item.version,
                    last_edit: Edit {
                        by: item.modified_by.clone(),
                        when: item.modified_at.clone(),
                        by_kbpub: ours,
                    },
                    archived: item.archived,
                })
            })
            .collect();
        found.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        let linkable = super::target::linkable(ctx, &found);
        let desired = mapping::render(ctx.engine, config, ctx.gates, &linkable)?;
        let wanted = desired
            .iter()
            .map(|d| super::plan::Wanted {
                retire: d.retire,
                ..super::target::wanted(ctx, d.page, &d.title, &config.repository, &d.hash)
            })
            .collect();
        self.state = Some(State {
            client,
            items: scanned.into_iter().map(|i| (i.id.clone(), i)).collect(),
            desired,
        });
        Ok(Survey { wanted, found })
    }

    fn counts(&self) -> (u64, u64) {
        self.state.as_ref().map_or((0, 0), |s| s.client.counts())
    }

    fn api(&self) -> Option<String> {
        Some("content-management v2".into())
    }

    async fn write(&self, ctx: &Context<'_>, job: &Job<'_>) -> JobResult {
        let d = &self.state().desired[job.index];
        let found = job.found.map(|f| f.remote_id.as_str());
        let result = match (job.action, found) {
            (Action::Archive, Some(id)) => self.archive(id).await,
            (_, None) => self.create(d).await,
            (_, Some(id)) => self.update(d, id, ctx.options.force).await,
        };
        result.unwrap_or_else(|e| JobResult::Failed(e.into()))
    }

    async fn remove(&self, _ctx: &Context<'_>, found: &Found) -> JobResult {
        self.archive(&found.remote_id)
            .await
            .unwrap_or_else(|e| JobResult::Failed(e.into()))
    }
}

impl Amplience<'_> {
    /// Creates the item and publishes it. A create that may have landed, or meets a taken
    /// delivery key, looks the key up first.
    async fn create(&self, d: &Desired) -> Result<JobResult, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let locale = self.config.locale.as_deref();
            let error = match self.client().create(&d.title, locale, &d.body).await {
                Ok(item) => return self.publish(&item).await,
                Err(e) => e,
            };
            let taken = error.is(409) && error.message.contains("DELIVERY_KEY_DUPLICATE");
            if !(taken || error.is_server_error()) {
                return Err(error);
            }
            match self.client().by_key(&d.key).await? {
                Some(item) if item.doc_id() == Some(d.doc_id.as_str()) && item.is_kbpubs() => {
                    return self.bring_up_to_date(d, item).await; // our create landed
                }
                Some(holder) => {
                    return Ok(JobResult::Skipped(Skip::ForeignPage {
                        page: format!("item {} (delivery key `{}`)", holder.id, d.key),
                        by: holder.modified_by.clone(),
                    }));
                }
                None if taken || attempt >= WRITE_ATTEMPTS => return Err(error),
                None => {}
            }
        }
    }

    /// Writes `d` into item `id` (read afresh), then publishes it. An item a CMS user edited
    /// since the scan is drift, unless `force`; an archived item (only planned with `--force`) is
    /// restored first.
    async fn update(&self, d: &Desired, id: &str, force: bool) -> Result<JobResult, HttpError> {
        let mut item = self.client().read(id).await?;
        let scanned = self.state().items.get(id);
        let edited_since = scanned.is_none_or(|s| s.version != item.version) && !item.is_kbpubs();
        if edited_since && !force {
            return Ok(JobResult::Drifted(format!(
                "edited in Amplience by {} at {} while kbpub was publishing; left alone (re-run, or --force to overwrite)",
                item.modified_by, item.modified_at
            )));
        }
        if item.archived {
            item = self.client().set_archived(id, item.version, false).await?;
        }
        self.bring_up_to_date(d, item).await
    }

    /// Updates `item` to `d` unless it already holds it, then publishes it. A 409 re-reads the
    /// item once: kbpub's write that landed is done, a CMS user's edit is drift.
    async fn bring_up_to_date(&self, d: &Desired, item: Item) -> Result<JobResult, HttpError> {
        if item.holds(&d.hash) {
            return self.publish(&item).await;
        }
        let client = self.client();
        let updated = match client
            .update(&item.id, item.version, &d.title, &d.body)
            .await
        {
            Ok(updated) => updated,
            Err(e) if e.is(409) => {
                let now = client.read(&item.id).await?;
                if now.holds(&d.hash) {
                    now
                } else if now.is_kbpubs() {
                    client
                        .update(&item.id, now.version, &d.title, &d.body)
                        .await?
                } else {
                    return Ok(JobResult::Drifted(format!(
                        "edited in Amplience by {} at {} while kbpub was writing it; left alone (re-run, or --force to overwrite)",
                        now.modified_by, now.modified_at
                    )));
                }
            }
            Err(e) => return Err(e),
        };
        self.publish(&updated).await
    }

    /// Publishes `item`'s current version and polls the job to its end within the configured
    /// time.
    async fn publish(&self, item: &Item) -> Result<JobResult, HttpError> {
        if item.is_published() {
            return Ok(JobResult::done(item.id.clone(), item.version));
        }
        let location = self.client().publish(&item.id).await?;
        let budget = Duration::from_secs(self.config.publish_timeout);
        let deadline = Instant::now() + budget;
        let mut wait = POLL_FIRST;
        loop {
            match self.client().job(&location).await? {
                JobState::Completed => return Ok(JobResult::done(item.id.clone(), item.version)),
                JobState::Failed(why) => {
                    return Ok(JobResult::Failed(Failure::Http {
                        status: None,
                        error: format!(
                            "Amplience's publishing job for item {} ended {why}; the item is saved, re-run to publish it",
                            item.id
                        ),
                    }));
                }
                JobState::Running(state) if Instant::now() + wait > deadline => {
                    return Ok(JobResult::Failed(Failure::RetryBudgetSpent {
                        error: format!(
                            "Amplience's publishing job for item {} was still {state} after {} s (`amplience.publish_timeout`); the item is saved, re-run to publish it",
                            item.id,
                            budget.as_secs()
                        ),
                    }));
                }
                JobState::Running(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(POLL_MAX);
                }
            }
        }
    }

    /// Archives item `id`: unpublished (the delivery API stops serving it), its delivery key
    /// released (an archived item keeps its key reserved otherwise, reference §2.3), then
    /// archived.
    async fn archive(&self, id: &str) -> Result<JobResult, HttpError> {
        let client = self.client();
        let mut item = client.read(id).await?;
        if item.archived {
            return Ok(JobResult::done(item.id.clone(), item.version));
        }
        if matches!(item.publishing_status.as_str(), "LATEST" | "EARLY") {
            client.unpublish(id).await?;
        }
        if item.delivery_key().is_some() {
            let mut body = item.body.clone();
            if let Some(meta) = body.get_mut("_meta").and_then(Value::as_object_mut) {
                meta.remove("deliveryKey");
            }
            let label = item.body["title"].as_str().unwrap_or(id).to_string();
            item = match client.update(id, item.version, &label, &body).await {
                Ok(item) => item,
                Err(e) if e.is(409) => client.read(id).await?,
                Err(e) => return Err(e),
            };
            if item.delivery_key().is_some() {
                item = client.update(id, item.version, &label, &body).await?;
            }
        }
        let archived = match client.set_archived(id, item.version, true).await {
            Ok(archived) => archived,
            Err(e) if e.is(409) || e.is(400) => {
                let now = client.read(id).await?;
                match now.archived {
                    true => now,
                    false => client.set_archived(id, now.version, true).await?,
                }
            }
            Err(e) => return Err(e),
        };
        Ok(JobResult::done(archived.id, archived.version))
    }
}

//! The Salesforce Knowledge target (reference §1 and §4): partner documents become
//! `Knowledge__kav` articles, found by `UrlName` in one scan of the Draft and Online versions
//! carrying kbpub's hash field. Per article: create a draft (a new article), or reuse kbpub's
//! draft, or create a draft from the online version; write the fields and data categories;
//! publish it (minor or major by config); obsolete documents are archived (kbpub's open draft
//! deleted first).
//!
//! **Which versions are kbpub's.** Salesforce rewrites rich text on save, so the body read back
//! is not the body written and cannot prove anything; kbpub's hash field names what it wrote,
//! and the version's last editor (`LastModifiedBy.Username`) says who wrote it. A latest version
//! (the draft, else the online one) last edited by anyone but kbpub's user is drift: left alone
//! unless `--force`. "No change" is an online latest version of kbpub's whose hash matches.
//!
//! **Faults.** A create that fails with 5xx, no answer or `DUPLICATE_VALUE` is looked up by
//! `UrlName` before anything else: kbpub's own article (its create landed) is taken up where it
//! was left, never created twice; anyone else's holds the name and is left alone. A new draft or
//! a publish that fails that way is checked the same way before it is tried again. A 403
//! `REQUEST_LIMIT_EXCEEDED` (the org's 24-hour allowance) stops the run: what was done is
//! reported, the rest is not attempted; an article whose publish succeeded but whose read-back
//! was refused is done (with a warning; the next run's scan checks it). `Sforce-Limit-Info` warns
//! before it comes to that.

pub mod client;
pub mod mapping;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

use super::failure::Failure;
use super::http::HttpError;
use super::plan::{Action, Edit, Found, Place, Recorded, Skip, Wanted};
use super::run::JobResult;
use super::target::{Connector, Job, Profile, Survey, Target};
use super::{Context, Stopped};
pub use crate::config::salesforce::SalesforceConfig;
use crate::config::salesforce::{CHANNELS, Flow, Publish};
use crate::net::oauth::{Grant, OAuth, OAuthConfig};
use crate::net::retry::WRITE_ATTEMPTS;
use client::{Client, Version};
use mapping::Desired;

/// Warn when this share of the org's daily API allowance is used.
const USAGE_WARNING: f64 = 0.8;

/// The Salesforce Knowledge target; its state is filled by the survey.
pub struct Salesforce<'c> {
    config: &'c SalesforceConfig,
    state: Option<State>,
}

/// What the survey learnt, for the writes.
struct State {
    client: Client,
    /// The draft and online versions of every scanned article, by `KnowledgeArticleId`.
    articles: HashMap<String, Vec<Version>>,
    /// Parallel to the survey's wanted articles.
    desired: Vec<Desired>,
    /// Articles published whose read-back the spent allowance refused.
    unconfirmed: AtomicUsize,
}

impl<'c> Salesforce<'c> {
    pub fn new(config: &'c SalesforceConfig) -> Salesforce<'c> {
        Salesforce {
            config,
            state: None,
        }
    }

    fn username(&self) -> &str {
        self.config.username.as_deref().unwrap_or_default()
    }

    /// The latest version of an article is kbpub's: its last editor is kbpub's user and it
    /// carries kbpub's hash.
    fn is_ours(&self, version: &Version) -> bool {
        version.hash.is_some() && version.modified_by.eq_ignore_ascii_case(self.username())
    }

    fn state(&self) -> &State {
        self.state.as_ref().expect("writes come after the survey")
    }

    fn oauth(&self, connect: &Connector) -> Result<OAuth, String> {
        let config = self.config;
        let consumer_key = super::secret(
            &config.client_id_env,
            "Salesforce consumer key",
            "salesforce.client_id_env",
        )?;
        let grant = match config.flow {
            Flow::Jwt => Grant::JwtBearer {
                consumer_key,
                username: self.username().to_string(),
                audience: config
                    .audience
                    .clone()
                    .unwrap_or_else(|| "https://login.salesforce.com".into()),
                key_file_env: config.private_key_env.clone().unwrap_or_default(),
            },
            Flow::ClientCredentials => Grant::ClientCredentials {
                consumer_key,
                secret_env: config.client_secret_env.clone().unwrap_or_default(),
            },
        };
        let oauth = OAuthConfig {
            my_domain: config.login_url.clone(),
            grant,
            api_version: config.api_version.clone(),
        };
        OAuth::new(&oauth, connect.settings()?).map_err(|e| format!("Salesforce: {e}"))
    }
}

/// The latest version of an article: its draft, else its online version.
fn latest(versions: &[Version]) -> &Version {
    versions
        .iter()
        .find(|v| v.is_draft())
        .unwrap_or(&versions[0])
}

impl Target for Salesforce<'_> {
    fn profile(&self) -> Profile {
        Profile {
            name: "salesforce",
            endpoint: self.config.login_url.clone(),
            editor: "Salesforce",
            unique_titles: None,
            concurrency: self.config.concurrency,
        }
    }

    async fn survey(&mut self, ctx: &Context<'_>, connect: &Connector) -> Result<Survey, Stopped> {
        let config = self.config;
        super::refused(&ctx.engine.site.config.refused.salesforce)?;
        let client = Client::new(self.oauth(connect)?, config);
        let site = ctx.engine.site;
        let scanned = client.managed().await;
        let scanned = match scanned {
            Ok(scanned) => scanned,
            Err(e) => {
                self.state = Some(State {
                    client,
                    articles: HashMap::new(),
                    desired: Vec::new(),
                    unconfirmed: AtomicUsize::new(0),
                });
                return Err(Stopped::Target(format!(
                    "cannot scan Salesforce Knowledge: {e}"
                )));
            }
        };
        let mut articles: HashMap<String, Vec<Version>> = HashMap::new();
        for version in scanned {
            articles
                .entry(version.article_id.clone())
                .or_default()
                .push(version);
        }
        let by_url_name: HashMap<String, &str> = crate::render::partner::documents(site)
            .into_iter()
            .map(|d| {
                (
                    mapping::url_name(&site.pages[d].id),
                    site.pages[d].id.as_str(),
                )
            })
            .collect();
        let mut found: Vec<Found> = Vec::new();
        for (article_id, versions) in &articles {
            let latest = latest(versions);
            let ours = self.is_ours(latest);
            let key = match by_url_name.get(&latest.url_name) {
                Some(doc) => doc.to_string(),
                None if ours => latest.url_name.clone(),
                None => continue,
            };
            found.push(Found {
                remote_id: article_id.clone(),
                key: Some(key),
                title: latest.title.clone(),
                place: Place {
                    scope: config.language.clone(),
                    parent: None,
                },
                recorded: Some(Recorded {
                    hash: match ours && !latest.is_draft() {
                        true => latest.hash.clone().unwrap_or_default(),
                        false => String::new(),
                    },
                    version: if ours { latest.version_number } else { 0 },
                }),
                version: latest.version_number,
                last_edit: Edit {
                    by: latest.modified_by.clone(),
                    when: latest.modified_at.clone(),
                    by_kbpub: ours,
                },
                archived: false,
            });
        }
        found.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        let linkable = super::target::linkable(ctx, &found);
        let desired = mapping::render(ctx.engine, config, ctx.gates, &linkable)?;
        let wanted = desired
            .iter()
            .map(|d| Wanted {
                retire: d.retire,
                ..super::target::wanted(ctx, d.page, &d.title, &config.language, &d.hash)
            })
            .collect();
        self.state = Some(State {
            client,
            articles,
            desired,
            unconfirmed: AtomicUsize::new(0),
        });
        Ok(Survey { wanted, found })
    }

    fn api(&self) -> Option<String> {
        Some(format!("v{}", self.config.api_version))
    }

    fn counts(&self) -> (u64, u64) {
        self.state.as_ref().map_or((0, 0), |s| s.client.counts())
    }

    fn warnings(&self) -> Vec<String> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        if let Some((used, allowed)) = state.client.usage()
            && allowed > 0
            && used as f64 >= allowed as f64 * USAGE_WARNING
        {
            warnings.push(format!(
                "the org has used {used} of its {allowed} API requests in the last 24 hours (Sforce-Limit-Info); at the limit every integration of the org is refused until usage drops"
            ));
        }
        let unconfirmed = state.unconfirmed.load(Ordering::Relaxed);
        if unconfirmed > 0 {
            warnings.push(format!(
                "{unconfirmed} article(s) were published, but the org's API allowance ran out before kbpub could read them back; the next run checks them"
            ));
        }
        warnings
    }

    async fn write(&self, _ctx: &Context<'_>, job: &Job<'_>) -> JobResult {
        let d = &self.state().desired[job.index];
        let versions = job
            .found
            .and_then(|f| self.state().articles.get(&f.remote_id))
            .cloned()
            .unwrap_or_default();
        let result = match (job.action, versions.is_empty()) {
            (Action::Archive, false) => self.archive(&versions).await,
            (_, true) => self.create(d).await,
            (_, false) => self.update(d, &versions).await,
        };
        result.unwrap_or_else(|failure| JobResult::Failed(describe(failure)))
    }

    async fn remove(&self, _ctx: &Context<'_>, found: &Found) -> JobResult {
        let versions = self
            .state()
            .articles
            .get(&found.remote_id)
            .cloned()
            .unwrap_or_default();
        self.archive(&versions)
            .await
            .unwrap_or_else(|failure| JobResult::Failed(describe(failure)))
    }
}

impl Salesforce<'_> {
    fn client(&self) -> &Client {
        &self.state().client
    }

    /// The fields kbpub writes for `d` (`Language` and `UrlName` only on create).
    fn fields(&self, d: &Desired, creating: bool) -> Value {
        let config = self.config;
        let mut fields = Map::new();
        fields.insert("Title".into(), json!(d.title));
        fields.insert("Summary".into(), json!(d.summary));
        fields.insert(config.body_field.clone(), json!(d.body));
        fields.insert(config.hash_field.clone(), json!(d.hash));
        let channels = d.placement.channels.clone().unwrap_or_default();
        for channel in CHANNELS {
            fields.insert(
                channel.to_string(),
                json!(channels.iter().any(|c| c == channel)),
            );
        }
        if let Some(record_type) = &d.placement.record_type {
            fields.insert("RecordTypeId".into(), json!(record_type));
        }
        if creating {
            fields.insert("UrlName".into(), json!(d.url_name));
            fields.insert("Language".into(), json!(config.language));
        }
        Value::Object(fields)
    }

    /// Creates the article's draft, then writes its categories and publishes it. A create that
    /// may have landed or meets a taken `UrlName` looks the name up first.
    async fn create(&self, d: &Desired) -> Result<JobResult, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.client().create(self.fields(d, true)).await {
                Ok(draft) => {
                    // Until it is read back, the new version's id stands for the article.
                    let known = Known {
                        id: draft.clone(),
                        version: 1,
                    };
                    return self.finish(d, &draft, known, true).await;
                }
                Err(e) => e,
            };
            let taken = error.is(400) && error.message.contains("DUPLICATE_VALUE");
            if !(taken || may_have_landed(&error)) {
                return Err(error);
            }
            let versions = self.client().by_url_name(&d.url_name).await?;
            if !versions.is_empty() {
                let holder = latest(&versions);
                if self.is_ours(holder) {
                    return self.update(d, &versions).await; // our create landed
                }
                return Ok(JobResult::Skipped(Skip::ForeignPage {
                    page: format!("article {} (UrlName `{}`)", holder.article_id, d.url_name),
                    by: holder.modified_by.clone(),
                }));
            }
            if taken || attempt >= WRITE_ATTEMPTS {
                return Err(error);
            }
        }
    }

    /// Writes `d` into kbpub's draft of the article, or a new draft from its online version,
    /// and publishes it.
    async fn update(&self, d: &Desired, versions: &[Version]) -> Result<JobResult, HttpError> {
        let draft = match versions.iter().find(|v| v.is_draft()) {
            Some(draft) => draft.id.clone(),
            None => self.new_draft(&versions[0].article_id, &d.url_name).await?,
        };
        self.client().update(&draft, self.fields(d, false)).await?;
        let online = versions.iter().find(|v| !v.is_draft());
        let known = Known {
            id: versions[0].article_id.clone(),
            version: match (online, self.config.publish) {
                (Some(online), Publish::Minor) => online.version_number,
                (Some(online), Publish::Major) => online.version_number + 1,
                (None, _) => latest(versions).version_number,
            },
        };
        self.finish(d, &draft, known, false).await
    }

    /// A new draft of the online article `article_id`; after a failure that may have landed,
    /// the draft it made (if any) is found by `UrlName` and used.
    async fn new_draft(&self, article_id: &str, url_name: &str) -> Result<String, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.client().new_draft(article_id).await {
                Ok(id) => return Ok(id),
                Err(e) if may_have_landed(&e) && attempt < WRITE_ATTEMPTS => e,
                Err(e) => return Err(e),
            };
            let versions = self
                .client()
                .by_url_name(url_name)
                .await
                .map_err(|_| error)?;
            if let Some(draft) = versions.iter().find(|v| v.is_draft()) {
                return Ok(draft.id.clone());
            }
        }
    }

    /// Data categories as placed, then publish the draft and read back the online version. A
    /// publish that succeeded but whose read-back the spent allowance refuses is done as `known`.
    async fn finish(
        &self,
        d: &Desired,
        draft: &str,
        known: Known,
        created: bool,
    ) -> Result<JobResult, HttpError> {
        let wanted: BTreeSet<&str> = d
            .placement
            .data_categories
            .iter()
            .map(String::as_str)
            .collect();
        let selected = match created {
            true => Vec::new(),
            false => self.client().categories(draft).await?,
        };
        for (selection, pair) in &selected {
            if !wanted.contains(pair.as_str()) {
                self.client().remove_category(selection).await?;
            }
        }
        for pair in wanted {
            if selected.iter().any(|(_, p)| p == pair) {
                continue;
            }
            if let Some((group, name)) = crate::config::salesforce::data_category(pair) {
                self.client().add_category(draft, group, name).await?;
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let published = self.client().publish(draft).await;
            let online = match &published {
                Err(e) if !may_have_landed(e) => return Err(e.clone()),
                _ => match self.client().by_url_name(&d.url_name).await {
                    Ok(online) => online,
                    Err(e) if published.is_ok() && allowance_spent(&e) => {
                        self.state().unconfirmed.fetch_add(1, Ordering::Relaxed);
                        return Ok(JobResult::done(known.id, known.version));
                    }
                    Err(e) => return Err(e),
                },
            };
            let done = online.iter().find(|v| {
                !v.is_draft() && v.hash.as_deref() == Some(d.hash.as_str()) && self.is_ours(v)
            });
            match (done, published) {
                (Some(v), _) => return Ok(JobResult::done(v.article_id.clone(), v.version_number)),
                (None, Err(e)) if attempt >= WRITE_ATTEMPTS => return Err(e),
                (None, Err(_)) => {}
                (None, Ok(())) => {
                    return Ok(JobResult::Failed(Failure::KeptChanging {
                        error: format!(
                            "published draft {draft}, but the online version of `{}` does not hold kbpub's hash: someone changed it meanwhile; re-run",
                            d.url_name
                        ),
                    }));
                }
            }
        }
    }

    /// Archives the article: kbpub's open draft is deleted first, then the online version
    /// archived.
    async fn archive(&self, versions: &[Version]) -> Result<JobResult, HttpError> {
        let latest = latest(versions);
        for draft in versions.iter().filter(|v| v.is_draft()) {
            self.client().delete_draft(&draft.id).await?;
        }
        if let Some(online) = versions.iter().find(|v| !v.is_draft()) {
            self.client().archive(&online.id).await?;
        }
        Ok(JobResult::done(
            latest.article_id.clone(),
            latest.version_number,
        ))
    }
}

/// What kbpub knows of an article it is publishing without reading it back: the id it is
/// recorded under and the version number publishing gives it.
struct Known {
    id: String,
    version: u64,
}

/// The org's 24-hour API allowance is spent: nothing more can be sent today.
fn allowance_spent(e: &HttpError) -> bool {
    e.is(403) && e.message.contains("REQUEST_LIMIT_EXCEEDED")
}

/// A write that failed this way may have been applied: look before trying again.
fn may_have_landed(e: &HttpError) -> bool {
    e.is_server_error() || e.status.is_none()
}

/// An HTTP error in words, with what to do for Salesforce's own refusals.
fn describe(e: HttpError) -> Failure {
    if allowance_spent(&e) {
        return Failure::AllowanceSpent {
            error: format!("{e}: the org's API allowance is spent; kbpub stopped the run"),
        };
    }
    if e.is(400) && e.message.contains("STRING_TOO_LONG") {
        return Failure::TooLarge {
            error: format!(
                "{e}: a field is over its limit in Salesforce (check `salesforce.body_limit` against the field's length)"
            ),
        };
    }
    e.into()
}

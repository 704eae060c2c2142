//! The Confluence target: scan the managed tree once, render what should be there, plan, then
//! write with bounded concurrency — page, attachments whose bytes changed, labels, and last the
//! `kbpub` content property that records what was written (the receipt travels in it). kbpub
//! changes only pages it can prove are its own: the property, a pending create in the journal,
//! or (for a first version) its own account as author and exactly the body it renders; any
//! other page holding a wanted title is reported and left alone unless `--adopt`. The scan does
//! not trust the (lagging) search index alone: pages named by receipts and pending creates are
//! read directly. Faults are settled here: a create that fails with 5xx or 409 is looked up
//! before it is tried again, a 409 on an update re-reads and retries once, a page edited in
//! Confluence is reported as drifted.

pub mod client;
pub mod mapping;
pub mod preflight;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::failure::Failure;
use super::http::{Auth, HttpError};
use super::journal::{self, Journal, PendingCreate};
use super::plan::{self, Action, Edit, Found, Place, Recorded, Skip, Wanted};
use super::receipt::{self, short_hash};
use super::report::PageReport;
use super::run::JobResult;
use super::target::{Connector, Job, Profile, Survey, Target};
use super::{Context, Stopped};
pub use crate::config::ConfluenceConfig;
use crate::render::raster;
use crate::render::storage::AttachmentData;
use client::{Client, Content, Page, Property, Space, VERSION_MESSAGE_PREFIX};
use mapping::Desired;

/// The Confluence target; its state is filled by the survey.
pub struct Confluence<'c> {
    config: &'c ConfluenceConfig,
    /// The API spoken, once connected.
    api: Option<String>,
    state: Option<State>,
}

/// What the survey learnt, for the writes.
struct State {
    client: Client,
    spaces: HashMap<String, Space>,
    /// The root page id per space key.
    roots: HashMap<String, String>,
    /// Page id per doc id: found by the scan, then every page created in this run.
    ids: Mutex<HashMap<String, String>>,
    scanned: Vec<Page>,
    /// Pending creates, recorded before each create is sent.
    journal: Journal,
    pending: Vec<PendingCreate>,
    /// The account kbpub publishes as, asked once when needed.
    me: tokio::sync::OnceCell<String>,
    /// Parallel to the survey's wanted pages.
    desired: Vec<Desired>,
    /// The note per document taken over without kbpub's record.
    taken_over: HashMap<String, &'static str>,
}

impl<'c> Confluence<'c> {
    pub fn new(config: &'c ConfluenceConfig) -> Confluence<'c> {
        Confluence {
            config,
            api: None,
            state: None,
        }
    }

    fn executor<'a>(&'a self, ctx: &'a Context<'a>) -> Executor<'a> {
        let state = self.state.as_ref().expect("writes come after the survey");
        Executor {
            ctx,
            state,
            client: &state.client,
            proofs: state.proofs(ctx.options.adopt),
        }
    }
}

impl State {
    fn proofs(&self, adopt: bool) -> Proofs<'_> {
        Proofs {
            client: &self.client,
            me: &self.me,
            pending: &self.pending,
            adopt,
        }
    }
}

impl Target for Confluence<'_> {
    fn profile(&self) -> Profile {
        Profile {
            name: "confluence",
            endpoint: self.config.base_url.clone(),
            editor: "Confluence",
            unique_titles: Some("`title` or `[confluence] title` in front matter"),
            concurrency: self.config.concurrency,
        }
    }

    fn api(&self) -> Option<String> {
        self.api.clone()
    }

    async fn survey(&mut self, ctx: &Context<'_>, connect: &Connector) -> Result<Survey, Stopped> {
        let config = self.config;
        super::refused(&ctx.engine.site.config.refused.confluence)?;
        let http = connect.http(&config.base_url, credentials(config)?)?;
        let site = ctx.engine.site;
        let layout = mapping::layout(site, config, ctx.gates);
        let mut keys: BTreeSet<String> = layout.space.iter().flatten().cloned().collect();
        keys.extend(config.spaces.keys().cloned());
        keys.insert(config.default_space.clone());
        let keys: Vec<String> = keys.into_iter().collect();
        let connected =
            Client::connect(http, &config.base_url, config.api, config.page_size, &keys);
        let (client, spaces) = connected
            .await
            .map_err(|e| format!("cannot reach Confluence: {e}"))?;
        self.api = Some(client.flavour.name().to_string());
        let mut roots: HashMap<String, String> = HashMap::new();
        for key in &keys {
            let Some(space) = spaces.get(key) else {
                let used_by = (0..site.pages.len())
                    .find(|&p| layout.space[p].as_deref() == Some(key.as_str()))
                    .map(|p| format!(" (wanted by {})", site.pages[p].file))
                    .unwrap_or_default();
                return Err(Stopped::Target(format!(
                    "space `{key}`{used_by} does not exist or this account cannot see it; fix the space key in kbpub.toml or front matter"
                )));
            };
            let root = config
                .spaces
                .get(key)
                .and_then(|s| s.parent.clone())
                .unwrap_or_else(|| space.home.clone());
            if root.is_empty() {
                return Err(Stopped::Target(format!(
                    "space `{key}` has no home page: set `[confluence.spaces.{key}] parent`"
                )));
            }
            roots.insert(key.clone(), root);
        }
        let root_ids: Vec<String> = roots
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let root_dir = &site.config.root;
        let journal = Journal::new(root_dir, "confluence");
        let pending = journal.pending();
        let scanned = scan(&client, &root_ids, &spaces, root_dir, &pending)
            .await
            .map_err(|e| format!("cannot scan the managed pages: {e}"))?;
        let mut found = found_pages(&scanned, &roots);
        let managed: std::collections::HashSet<&str> =
            found.iter().filter_map(|f| f.key.as_deref()).collect();
        let linkable =
            |p: usize| ctx.gates[p].publishable || managed.contains(site.pages[p].id.as_str());
        let desired = mapping::render(ctx.engine, &layout, ctx.gates, &linkable)?;
        // A gated section page that is not on the target yet is not created: its approved pages
        // go under the nearest ancestor that is published or may be.
        let placed_under = |mut parent: Option<usize>| {
            while let Some(q) = parent.filter(|&q| !linkable(q)) {
                parent = layout.parent[q];
            }
            parent
        };
        let wanted: Vec<Wanted> = desired
            .iter()
            .map(|d| {
                let placed = placed_under(layout.parent[d.page]).map(|q| site.pages[q].id.clone());
                let mut w = super::target::wanted(ctx, d.page, &d.title, &d.space, &d.hash);
                // Section pages are gated like documents: an unapproved title is never sent.
                w.place.parent = placed;
                w.depth = layout.depth[d.page];
                w
            })
            .collect();
        let mut state = State {
            client,
            spaces,
            roots,
            ids: Mutex::default(),
            scanned,
            journal,
            pending,
            me: tokio::sync::OnceCell::new(),
            desired,
            taken_over: HashMap::new(),
        };
        let claimed = state
            .proofs(ctx.options.adopt)
            .claim_unrecorded(&mut found, &state.scanned, &wanted, &state.desired)
            .await;
        state.taken_over = claimed.map_err(|e| format!("cannot check a page in the way: {e}"))?;
        state.ids = Mutex::new(
            found
                .iter()
                .filter_map(|f| Some((f.key.clone()?, f.remote_id.clone())))
                .collect(),
        );
        self.state = Some(state);
        Ok(Survey { wanted, found })
    }

    fn annotate(&self, ctx: &Context<'_>, step: &plan::Step, page: &mut PageReport) {
        let Some(state) = &self.state else { return };
        let desired = step.wanted.map(|i| &state.desired[i]);
        if let Some(note) =
            desired.and_then(|d| state.taken_over.get(&ctx.engine.site.pages[d.page].id))
        {
            page.note = Some(note.to_string());
        }
        let gate = desired.map(|d| &ctx.gates[d.page]);
        if let Some(gate) = gate.filter(|g| !g.publishable && step.action != Action::Gated) {
            let container = format!(
                "its own text is {}: published only as the parent of its approved pages",
                gate.state
            );
            page.note = Some(
                page.note
                    .take()
                    .map_or(container.clone(), |n| format!("{n}; {container}")),
            );
        }
    }

    async fn write(&self, ctx: &Context<'_>, job: &Job<'_>) -> JobResult {
        let executor = self.executor(ctx);
        let d = &executor.state.desired[job.index];
        match job.found {
            None => executor.create(d, job).await,
            Some(f) => {
                let property = executor
                    .state
                    .scanned
                    .iter()
                    .find(|p| p.id == f.remote_id)
                    .and_then(|p| p.property.as_ref());
                let existing = Existing {
                    id: &f.remote_id,
                    version: f.version,
                    scope: &f.place.scope,
                    property,
                };
                executor.update(d, job, existing, job.action).await
            }
        }
    }

    async fn remove(&self, ctx: &Context<'_>, found: &Found) -> JobResult {
        match self.executor(ctx).client.prune(&found.remote_id).await {
            Ok(()) => JobResult::done(found.remote_id.clone(), found.version),
            Err(e) => JobResult::Failed(e.into()),
        }
    }
}

/// Credentials from the env vars `kbpub.toml` names; the values never leave the `Auth`.
fn credentials(config: &ConfluenceConfig) -> Result<Auth, String> {
    let token = super::secret(
        &config.token_env,
        "Confluence token",
        "confluence.token_env",
    )?;
    Ok(match &config.email_env {
        Some(email_env) => Auth::Basic {
            user: super::secret(
                email_env,
                "Confluence account e-mail",
                "confluence.email_env",
            )?,
            token,
        },
        None => Auth::Bearer(token),
    })
}

/// Every page under `roots` by one paginated search, plus the pages the search may not show yet
/// (its index lags on Cloud): those named by kbpub's receipts, read by id, and those of pending
/// creates, looked up by title.
async fn scan(
    client: &Client,
    roots: &[String],
    spaces: &HashMap<String, Space>,
    root_dir: &std::path::Path,
    pending: &[PendingCreate],
) -> Result<Vec<Page>, HttpError> {
    let mut pages = client.scan(roots).await?;
    let mut seen: std::collections::HashSet<String> = pages.iter().map(|p| p.id.clone()).collect();
    let recorded: std::collections::HashSet<String> = pages.iter().filter_map(doc_id_of).collect();
    for r in receipt::read_all(root_dir, "confluence") {
        if recorded.contains(&r.doc_id) || seen.contains(&r.remote_id) {
            continue;
        }
        if let Some(page) = client.read(&r.remote_id).await?
            && spaces.contains_key(&page.space)
        {
            seen.insert(page.id.clone());
            pages.push(page);
        }
    }
    for entry in pending {
        let Some(space) = spaces.get(&entry.scope) else {
            continue;
        };
        if let Some(page) = client.find_by_title(space, &entry.title).await?
            && seen.insert(page.id.clone())
        {
            pages.push(page);
        }
    }
    Ok(pages)
}

/// What can prove that a page without kbpub's record is kbpub's own.
struct Proofs<'a> {
    client: &'a Client,
    /// The account kbpub publishes as, asked once when needed.
    me: &'a tokio::sync::OnceCell<String>,
    pending: &'a [PendingCreate],
    /// `--adopt`: take over such pages without proof.
    adopt: bool,
}

impl Proofs<'_> {
    /// Gives a page without kbpub's record that holds a wanted title (in the wanted space,
    /// ignoring case) that document's key when kbpub can prove it created the page — a pending
    /// create in the journal, or kbpub's account wrote its only version with exactly the body
    /// kbpub renders — or when `--adopt` asks to take such pages over. Returns the note per
    /// document taken over. Every other such page stays keyless: the plan reports it and leaves
    /// it alone.
    async fn claim_unrecorded(
        &self,
        found: &mut [Found],
        scanned: &[Page],
        wanted: &[Wanted],
        desired: &[Desired],
    ) -> Result<HashMap<String, &'static str>, HttpError> {
        let managed: std::collections::HashSet<String> =
            found.iter().filter_map(|f| f.key.clone()).collect();
        let mut notes = HashMap::new();
        for (f, page) in found.iter_mut().zip(scanned) {
            if f.key.is_some() {
                continue;
            }
            let Some(w) = wanted.iter().position(|w| {
                !managed.contains(&w.key)
                    && !notes.contains_key(&w.key)
                    && w.place.scope == f.place.scope
                    && w.title.to_lowercase() == f.title.to_lowercase()
            }) else {
                continue;
            };
            let key = &wanted[w].key;
            let journaled = self
                .pending
                .iter()
                .any(|e| &e.doc_id == key && e.matches(&f.place.scope, &f.title));
            let note = if journaled {
                Some("an interrupted run created this page (its pending create is in the journal)")
            } else if f.version == 1 && self.wrote_exactly(page, &desired[w].body).await? {
                Some("an interrupted run created this page (kbpub's account, exactly kbpub's body)")
            } else if self.adopt {
                Some("adopted (--adopt): a page kbpub did not create")
            } else {
                None
            };
            if let Some(note) = note {
                f.key = Some(key.clone());
                notes.insert(key.clone(), note);
            }
        }
        Ok(notes)
    }

    /// The last version of `page` is by kbpub's account and its body is exactly `body`.
    async fn wrote_exactly(&self, page: &Page, body: &str) -> Result<bool, HttpError> {
        let me = self.me.get_or_try_init(|| self.client.me()).await?;
        if page.author.is_empty() || me != &page.author {
            return Ok(false);
        }
        Ok(self.client.body(&page.id).await? == body)
    }
}

/// The scan as the planner sees it: identity from the property, place from the parent.
fn found_pages(scanned: &[Page], roots: &HashMap<String, String>) -> Vec<Found> {
    let by_id: HashMap<&str, &Page> = scanned.iter().map(|p| (p.id.as_str(), p)).collect();
    let root_ids: std::collections::HashSet<&str> = roots.values().map(String::as_str).collect();
    scanned
        .iter()
        .map(|p| {
            let parent = p.parent.as_deref().and_then(|parent| {
                if root_ids.contains(parent)
                    && roots.get(&p.space).map(String::as_str) == Some(parent)
                {
                    return None;
                }
                Some(
                    by_id
                        .get(parent)
                        .and_then(|q| doc_id_of(q))
                        .unwrap_or_else(|| format!("page {parent}")),
                )
            });
            let recorded = p.property.as_ref().map(|prop| Recorded {
                hash: prop
                    .value
                    .get("content_hash")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                version: prop
                    .value
                    .get("version")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
            });
            Found {
                remote_id: p.id.clone(),
                key: doc_id_of(p),
                title: p.title.clone(),
                place: Place {
                    scope: p.space.clone(),
                    parent,
                },
                recorded,
                version: p.version,
                last_edit: Edit {
                    by: p.by.clone(),
                    when: p.when.clone(),
                    by_kbpub: p.message.starts_with(VERSION_MESSAGE_PREFIX),
                },
                archived: false,
            }
        })
        .collect()
}

/// The writes of one run: the survey's state, and what proves a page is kbpub's.
struct Executor<'a> {
    ctx: &'a Context<'a>,
    state: &'a State,
    client: &'a Client,
    proofs: Proofs<'a>,
}

impl Executor<'_> {
    /// The page id of `w`'s parent: the space root, or a page found or created in this run.
    fn parent_id(&self, w: &Wanted) -> Result<String, Skip> {
        match &w.place.parent {
            None => Ok(self.state.roots[&w.place.scope].clone()),
            Some(key) => self
                .state
                .ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .cloned()
                .ok_or_else(|| Skip::ParentNotWritten {
                    parent: key.clone(),
                }),
        }
    }

    /// Creates `w`'s page, recording the pending create in the journal first. A create that
    /// failed with 5xx, no answer or 409 is looked up before it is sent again; a title taken by
    /// a page carrying `w`'s record (the search had not shown it yet) is updated instead; a
    /// title taken by any other page is reported and left alone unless `--adopt`.
    async fn create(&self, d: &Desired, job: &Job<'_>) -> JobResult {
        let w = job.wanted;
        let parent = match self.parent_id(w) {
            Ok(parent) => parent,
            Err(why) => return JobResult::Skipped(why),
        };
        let space = &self.state.spaces[&d.space];
        let content = Content {
            space,
            parent: &parent,
            title: &d.title,
            body: &d.body,
        };
        let entry = PendingCreate {
            doc_id: w.key.clone(),
            scope: d.space.clone(),
            title: d.title.clone(),
            content_hash: d.hash.clone(),
        };
        if let Err(e) = self.state.journal.begin(&entry) {
            return JobResult::Failed(Failure::Local {
                error: format!(
                    "cannot record the pending create in {}: {e}; nothing was sent",
                    journal::JOURNAL_DIR
                ),
            });
        }
        let mut attempt = 0;
        let page = loop {
            attempt += 1;
            let error = match self.client.create(&content).await {
                Ok(page) => break page,
                Err(e) => e,
            };
            let transient = error.is_server_error() || error.is(409);
            let taken = error.is(400) && error.message.contains("already exists");
            if !(taken || transient && attempt < 3) {
                return JobResult::Failed(error.into());
            }
            // The create may have landed, or the title is taken: look before anything else.
            let holder = match self.client.find_by_title(space, &d.title).await {
                Ok(holder) => holder,
                Err(lookup) => return JobResult::Failed(Failure::after(&error, lookup)),
            };
            let ours = match &holder {
                Some(page) if transient => self.is_our_first_version(page, w, d, &parent).await,
                _ => Ok(false),
            };
            match (holder, ours) {
                (_, Err(lookup)) => return JobResult::Failed(Failure::after(&error, lookup)),
                (Some(page), Ok(true)) => break page,
                (Some(page), _) if carries_key(&page, &w.key) || self.ctx.options.adopt => {
                    return self.take_over(d, job, page).await;
                }
                (Some(page), _) => {
                    return JobResult::Skipped(Skip::ForeignPage {
                        page: page.id,
                        by: page.by,
                    });
                }
                (None, _) if taken => {
                    return JobResult::Skipped(Skip::ForeignPage {
                        page: "(outside the published tree; its title differs in case)".into(),
                        by: "someone".into(),
                    });
                }
                (None, _) => {}
            }
        };
        self.remember(&w.key, &page.id);
        self.finish(d, job, &page.id, page.version, page.property.as_ref(), None)
            .await
    }

    /// The page a create of `w` left behind: its first version, where kbpub put it, no other
    /// document's record, written by kbpub's account with exactly the body sent.
    async fn is_our_first_version(
        &self,
        page: &Page,
        w: &Wanted,
        d: &Desired,
        parent: &str,
    ) -> Result<bool, HttpError> {
        let in_place = page.version == 1
            && page.parent.as_deref() == Some(parent)
            && doc_id_of(page).is_none_or(|key| key == w.key);
        Ok(in_place && self.proofs.wrote_exactly(page, &d.body).await?)
    }

    /// Updates `page`, which holds `w`'s title but was not in the scan, as `w`'s page.
    async fn take_over(&self, d: &Desired, job: &Job<'_>, page: Page) -> JobResult {
        let w = job.wanted;
        self.remember(&w.key, &page.id);
        let existing = Existing {
            id: &page.id,
            version: page.version,
            scope: &page.space,
            property: page.property.as_ref(),
        };
        self.update(d, job, existing, Action::Update).await
    }

    async fn update(
        &self,
        d: &Desired,
        job: &Job<'_>,
        f: Existing<'_>,
        action: Action,
    ) -> JobResult {
        let w = job.wanted;
        let parent = match self.parent_id(w) {
            Ok(parent) => parent,
            Err(why) => return JobResult::Skipped(why),
        };
        let space = &self.state.spaces[&d.space];
        let property = f.property;
        // Attachments first, so the new body never shows a missing image.
        let attachments = match self.upload_changed(d, f.id, property).await {
            Ok(attachments) => attachments,
            Err(e) => return JobResult::Failed(e),
        };
        if action == Action::Move
            && f.scope != d.space
            && let Err(e) = self.client.move_under(f.id, &parent).await
        {
            return JobResult::Failed(e.into());
        }
        let message = format!("{VERSION_MESSAGE_PREFIX}{}", short_hash(&d.hash));
        let content = Content {
            space,
            parent: &parent,
            title: &d.title,
            body: &d.body,
        };
        let write = |version| self.client.update(f.id, &content, version, &message);
        let version = match write(f.version + 1).await {
            Ok(()) => f.version + 1,
            Err(e) if e.is(409) => {
                let current = match self.client.current(f.id, &d.space).await {
                    Ok(current) => current,
                    Err(e) => return JobResult::Failed(e.into()),
                };
                if current.message == message {
                    current.version // our write landed; its answer was lost
                } else if current.version != f.version
                    && !current.message.starts_with(VERSION_MESSAGE_PREFIX)
                    && !self.ctx.options.force
                {
                    return JobResult::Drifted(format!(
                        "edited in Confluence by {} at {} while publishing",
                        current.by, current.when
                    ));
                } else {
                    match write(current.version + 1).await {
                        Ok(()) => current.version + 1,
                        Err(e) if e.is(409) => {
                            return JobResult::Failed(Failure::KeptChanging {
                                error: format!(
                                    "{e}: the page kept changing while publishing; re-run"
                                ),
                            });
                        }
                        Err(e) => return JobResult::Failed(e.into()),
                    }
                }
            }
            Err(e) => return JobResult::Failed(e.into()),
        };
        self.finish(d, job, f.id, version, property, Some(attachments))
            .await
    }

    fn remember(&self, key: &str, id: &str) {
        self.state
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), id.to_string());
    }

    /// Uploads attachments whose bytes differ from what the property records.
    async fn upload_changed(
        &self,
        d: &Desired,
        page: &str,
        property: Option<&Property>,
    ) -> Result<BTreeMap<String, Value>, Failure> {
        let recorded = property
            .and_then(|p| p.value.get("attachments"))
            .and_then(Value::as_object);
        let mut attachments = BTreeMap::new();
        for a in &d.attachments {
            let known = recorded.and_then(|r| r.get(&a.filename));
            let known_id = known.and_then(|k| k.get("id")).and_then(Value::as_str);
            let same = known.and_then(|k| k.get("sha256")).and_then(Value::as_str)
                == Some(a.sha256.as_str());
            let id = match (same, known_id) {
                (true, Some(id)) => id.to_string(),
                _ => {
                    let (bytes, mime) = attachment_bytes(self.ctx, &a.data, &a.filename)
                        .map_err(|error| Failure::Local { error })?;
                    self.client
                        .upload(
                            page,
                            &a.filename,
                            Arc::new(bytes),
                            &a.sha256,
                            mime,
                            known_id,
                        )
                        .await
                        .map_err(|e| Failure::http(&e, format!("attachment {}: {e}", a.filename)))?
                }
            };
            attachments.insert(a.filename.clone(), json!({"id": id, "sha256": a.sha256}));
        }
        Ok(attachments)
    }

    /// After the page is written: attachments (unless `uploaded` already), labels, then the
    /// property and the receipt.
    async fn finish(
        &self,
        d: &Desired,
        job: &Job<'_>,
        id: &str,
        version: u64,
        property: Option<&Property>,
        uploaded: Option<BTreeMap<String, Value>>,
    ) -> JobResult {
        let w = job.wanted;
        let attachments = match uploaded {
            Some(attachments) => attachments,
            None => match self.upload_changed(d, id, property).await {
                Ok(attachments) => attachments,
                Err(e) => return JobResult::Failed(e),
            },
        };
        let recorded: BTreeSet<String> = property
            .and_then(|p| p.value.get("labels"))
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let wanted: BTreeSet<String> = d.labels.iter().cloned().collect();
        let added: Vec<String> = wanted.difference(&recorded).cloned().collect();
        if !added.is_empty()
            && let Err(e) = self.client.add_labels(id, &added).await
        {
            return JobResult::Failed(e.into());
        }
        for label in recorded.difference(&wanted) {
            if let Err(e) = self.client.remove_label(id, label).await {
                return JobResult::Failed(e.into());
            }
        }
        let receipt = job.receipt(id, version);
        let value = json!({
            "doc_id": w.key, "source": w.source, "content_hash": d.hash, "version": version,
            "labels": d.labels, "attachments": attachments, "receipt": receipt,
        });
        if let Err(e) = self.client.write_property(id, property, &value).await {
            return JobResult::Failed(Failure::Unrecorded {
                error: format!("page written, but not its kbpub property: {e}"),
            });
        }
        self.state.journal.settle(&w.key);
        JobResult::done(id, version)
    }
}

/// The page kbpub is about to write: found by the scan, or holding the title of a create.
struct Existing<'a> {
    id: &'a str,
    version: u64,
    scope: &'a str,
    property: Option<&'a Property>,
}

/// The document whose page this is, by kbpub's record on it.
fn doc_id_of(page: &Page) -> Option<String> {
    let property = page.property.as_ref()?;
    property.value.get("doc_id")?.as_str().map(String::from)
}

/// The page carries kbpub's record for document `key`.
fn carries_key(page: &Page, key: &str) -> bool {
    doc_id_of(page).as_deref() == Some(key)
}

/// The bytes to upload for an attachment: the asset, or the chart rasterised to PNG.
fn attachment_bytes(
    ctx: &Context<'_>,
    data: &AttachmentData,
    filename: &str,
) -> Result<(Vec<u8>, &'static str), String> {
    match data {
        AttachmentData::Asset(rel) => {
            let bytes = std::fs::read(ctx.engine.site.config.content_dir().join(rel))
                .map_err(|e| format!("cannot read content/{rel}: {e}"))?;
            Ok((bytes, mime(filename)))
        }
        AttachmentData::Svg(svg) => raster::svg_to_png(svg)
            .map(|png| (png, "image/png"))
            .map_err(|e| format!("chart {filename}: {e}")),
    }
}

fn mime(filename: &str) -> &'static str {
    match filename
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "csv" | "edi" | "x12" => "text/plain",
        _ => "application/octet-stream",
    }
}

//! The preview: owns the loaded site and runs on one thread. It loads and renders the site into
//! memory, then takes [`Job`]s: batches of changed files from the watcher, which it re-reads and
//! re-renders as far as the edits reach ([`Plan`]), and render requests from the server (reviewer
//! views and panel). A render without errors is published to the [`Store`]; a render with errors
//! is held back (the last good files stay served) and its errors go to every open page. Only this
//! thread touches the site, so it needs no lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use tokio::sync::{oneshot, watch};

use super::incremental::{self, Input, Plan};
use super::reload::Status;
use super::review::{self, ReviewInfo, ReviewView};
use super::store::Store;
use super::watch::Watcher;
use crate::approval;
use crate::config::Config;
use crate::content::url;
use crate::content::{self, Reload, Site};
use crate::data::Dataset;
use crate::diag::{self, Diagnostic, Format};
use crate::render::partner::{Links, is_partner_document};
use crate::render::{Compiled, Engine, RenderedBody, View};
use crate::site::nav::Nav;
use crate::site::{self, Decorations, Generated, Memory, Rendered, merged};

/// Work for the preview thread.
pub enum Job {
    /// Files changed (absolute paths, as the watcher saw them).
    Changed(Vec<PathBuf>),
    /// A page (`sops/x.html`) in a reviewer view.
    View {
        url: String,
        view: ReviewView,
        reply: oneshot::Sender<ViewReply>,
    },
    /// The reviewer panel of a page.
    Review {
        url: String,
        reply: oneshot::Sender<Option<ReviewInfo>>,
    },
}

pub enum ViewReply {
    Html(String),
    /// An XHTML document (parsed as XML, so that Confluence's `ac:` elements keep their names).
    Xhtml(String),
    /// No page has that path.
    NotFound,
    /// The page cannot be rendered in that view: these problems stop it.
    Problems(Vec<Diagnostic>),
}

pub struct Preview {
    root: PathBuf,
    quiet: bool,
    watcher: Watcher,
    store: Arc<Store>,
    status: watch::Sender<Arc<str>>,
    /// `None` while `kbpub.toml` or `content/` cannot be loaded at all.
    site: Option<Site>,
    /// What the last load found (errors make every edit reload the whole site).
    load_problems: Vec<Diagnostic>,
    /// What the last render learned about each page; `None` when every page must be rendered.
    rendered: Option<Rendered>,
    /// The templates the last render compiled, reused while only documents change.
    compiled: Option<Compiled>,
    /// The data snapshot the site was loaded with.
    data: Arc<Dataset>,
    /// What `kbpub build` adds to pages beyond their content (approval banners), computed the
    /// way the build computes it ([`decorate`]).
    decorations: Decorations,
    /// Renders made while the site had errors, published once it has none.
    held: Held,
}

#[derive(Default)]
struct Held {
    files: BTreeMap<String, Vec<u8>>,
    /// `files` hold a whole-site render.
    whole_site: bool,
}

/// What a rebuild produced, to publish.
struct Outcome {
    files: BTreeMap<String, Vec<u8>>,
    whole_site: bool,
    pages: usize,
    problems: Vec<Diagnostic>,
}

impl Preview {
    /// Loads and renders the whole site (problems included: they are shown, not fatal).
    pub fn start(
        root: PathBuf,
        quiet: bool,
        watcher: Watcher,
        store: Arc<Store>,
        status: watch::Sender<Arc<str>>,
    ) -> Preview {
        let mut preview = Preview {
            root,
            quiet,
            watcher,
            store,
            status,
            site: None,
            load_problems: Vec::new(),
            rendered: None,
            compiled: None,
            data: Arc::default(),
            decorations: Decorations::default(),
            held: Held::default(),
        };
        let started = Instant::now();
        let outcome = preview.load_and_render();
        preview.publish(outcome, started, "start");
        preview
    }

    /// Takes jobs until every sender is gone. Edits queued behind a rebuild are taken together.
    pub fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            let mut changed = Vec::new();
            let mut requests = Vec::new();
            for job in std::iter::once(job).chain(jobs.try_iter()) {
                match job {
                    Job::Changed(paths) => changed.extend(paths),
                    request => requests.push(request),
                }
            }
            if !changed.is_empty() {
                self.rebuild(changed);
            }
            for request in requests {
                self.answer(request);
            }
        }
    }

    fn rebuild(&mut self, paths: Vec<PathBuf>) {
        let started = Instant::now();
        let inputs: BTreeSet<Input> = paths
            .iter()
            .filter_map(|p| incremental::classify(&self.root, p))
            .filter(|input| self.matters(input))
            .collect();
        if inputs.is_empty() {
            return;
        }
        let what = describe(&inputs);
        if inputs.contains(&Input::Everything)
            && let Err(e) = self.watcher.refresh()
        {
            eprintln!("warning: cannot watch the input folders: {e}");
        }
        let outcome = match self.reload_in_place(&inputs) {
            Some(edits) => self.render_edits(edits),
            None => Some(self.load_and_render()),
        };
        if let Some(outcome) = outcome {
            self.publish(outcome, started, &what);
        }
    }

    /// Files that were created and deleted again before the watcher reported them (editors' temp
    /// files) do not matter.
    fn matters(&self, input: &Input) -> bool {
        match input {
            Input::Document(rel) | Input::ContentAsset(rel) => {
                let known = self.site.as_ref().is_some_and(|site| {
                    site.page_by_rel_path(rel).is_some() || site.has_asset(rel)
                });
                known || self.root.join("content").join(rel).exists()
            }
            _ => true,
        }
    }

    /// Re-reads edited documents into the site in place. `None` when the site must be loaded
    /// again as a whole (see `incremental`'s rules).
    fn reload_in_place(&mut self, inputs: &BTreeSet<Input>) -> Option<Edits> {
        if self.load_problems.iter().any(Diagnostic::is_error)
            || inputs.contains(&Input::Everything)
        {
            return None;
        }
        let root = self.root.clone();
        let site = self.site.as_mut()?;
        let mut edits = Edits::default();
        for input in inputs {
            match input {
                Input::Document(rel) => match site.reload_page(rel) {
                    Reload::Replaced { page, old } => edits.documents.push((page, old)),
                    Reload::Unchanged => {}
                    Reload::NeedsFullLoad => return None,
                },
                // An asset added or removed changes what links to it resolve to.
                Input::ContentAsset(rel)
                    if !site.has_asset(rel) || !root.join("content").join(rel).is_file() =>
                {
                    return None;
                }
                Input::ContentAsset(_) | Input::TemplateAsset => edits.assets = true,
                Input::Template(name) => {
                    edits.templates.insert(name.clone());
                }
                Input::Everything => return None,
            }
        }
        Some(edits)
    }

    /// Renders what `edits` affect. `None` when there was nothing to render.
    fn render_edits(&mut self, edits: Edits) -> Option<Outcome> {
        if edits.documents.is_empty() && edits.templates.is_empty() && !edits.assets {
            return None;
        }
        let site = self.site.as_ref().expect("edits apply to a loaded site");
        let edited: Vec<usize> = edits.documents.iter().map(|(page, _)| *page).collect();
        let engine = match self.compiled.take() {
            Some(compiled) if edits.templates.is_empty() => Engine::reuse(site, compiled, &edited),
            _ => Engine::new(site, self.data.clone()),
        };
        let engine = match engine {
            Ok(engine) => engine,
            Err(problems) => {
                // The edited pages are not rendered: render every page once templates compile.
                self.rendered = None;
                return Some(Outcome {
                    files: BTreeMap::new(),
                    whole_site: false,
                    pages: 0,
                    problems,
                });
            }
        };
        let nav = Nav::new(site);
        let mut plan = Plan::default();
        // An edit can change approval states (a new content hash): re-render the pages whose
        // banners changed.
        let decorations = decorate(&engine);
        plan.pages.extend(banners_changed(
            &self.decorations,
            &decorations,
            site.pages.len(),
        ));
        self.decorations = decorations;
        match &self.rendered {
            None => plan = Plan::everything(),
            Some(rendered) => {
                for (page, old) in &edits.documents {
                    plan.document_edited(site, rendered, nav.order(), *page, old);
                }
                if !edits.templates.is_empty() {
                    plan.templates_edited(&engine, &edits.templates);
                }
                if edits.assets {
                    plan.assets_edited();
                }
            }
        }
        let sink = Memory::default();
        let (rendered, pages, generated) = if plan.everything {
            let rendered = render_everything(&engine, &nav, &self.decorations, &sink);
            (
                self.rendered.insert(rendered),
                site.pages.len(),
                Generated::ALL,
            )
        } else {
            let rendered = self
                .rendered
                .as_mut()
                .expect("a partial plan has a previous render");
            let pages: Vec<usize> = plan.pages.into_iter().collect();
            let body = internal_body(&engine);
            rendered.render_pages(&engine, &nav, &self.decorations, &pages, &sink, &body, None);
            (rendered, pages.len(), plan.generated)
        };
        let problems = match rendered.finish(&engine, &nav, &generated, &sink) {
            Ok(summary) => merged(&self.decorations.warnings, summary.warnings),
            Err(problems) => merged(&self.decorations.warnings, problems),
        };
        self.compiled = Some(engine.into_compiled());
        let files = sink.files.into_inner().expect("memory sink lock");
        Some(Outcome {
            files,
            whole_site: plan.everything,
            pages,
            problems,
        })
    }

    /// Loads `kbpub.toml` and `content/` again and renders every page.
    fn load_and_render(&mut self) -> Outcome {
        self.rendered = None;
        self.compiled = None;
        self.load_problems.clear();
        let failed = |problems| Outcome {
            files: BTreeMap::new(),
            whole_site: false,
            pages: 0,
            problems,
        };
        let config = match Config::load(&self.root) {
            Ok(config) => config,
            Err(problem) => {
                self.site = None;
                return failed(vec![problem]);
            }
        };
        let (site, mut load_problems, data) = match site::load(&config) {
            Ok(loaded) => loaded,
            Err(problems) => {
                self.site = None;
                return failed(problems);
            }
        };
        self.data = data;
        let site = self.site.insert(site);
        let engine = match Engine::new(site, self.data.clone()) {
            Ok(engine) => engine,
            Err(problems) => return failed(merged(&load_problems, problems)),
        };
        self.decorations = if load_problems.iter().any(Diagnostic::is_error) {
            Decorations::default()
        } else {
            decorate(&engine)
        };
        load_problems.extend(self.decorations.warnings.iter().cloned());
        self.load_problems = load_problems;
        let nav = Nav::new(site);
        let sink = Memory::default();
        let rendered = render_everything(&engine, &nav, &self.decorations, &sink);
        let problems = match rendered.finish(&engine, &nav, &Generated::ALL, &sink) {
            Ok(summary) => merged(&self.load_problems, summary.warnings),
            Err(problems) => merged(&self.load_problems, problems),
        };
        self.rendered = Some(rendered);
        self.compiled = Some(engine.into_compiled());
        let files = sink.files.into_inner().expect("memory sink lock");
        Outcome {
            files,
            whole_site: true,
            pages: site.pages.len(),
            problems,
        }
    }

    /// Serves the outcome when it has no errors (with what was held back), else holds it back;
    /// tells the open pages and the terminal.
    fn publish(&mut self, outcome: Outcome, started: Instant, what: &str) {
        let errors = diag::error_count(&outcome.problems);
        if errors > 0 {
            if outcome.whole_site {
                self.held = Held {
                    files: outcome.files,
                    whole_site: true,
                };
            } else {
                self.held.files.extend(outcome.files);
            }
            self.status
                .send_replace(Status::new(self.store.generation(), &outcome.problems).to_json());
            self.print(&outcome.problems);
            if !self.quiet {
                eprintln!(
                    "{errors} error{} after {what}; still serving the last good pages",
                    if errors == 1 { "" } else { "s" }
                );
            }
            return;
        }
        let (files, whole_site) = if outcome.whole_site {
            self.held = Held::default();
            (outcome.files, true)
        } else {
            let mut held = std::mem::take(&mut self.held);
            held.files.extend(outcome.files);
            (held.files, held.whole_site)
        };
        // A render that changes nothing (a save without changes, an editor's second event for
        // one save) publishes nothing, so pages do not reload; the status still clears errors.
        let published = self.store.publish(files, whole_site);
        let generation = published.unwrap_or_else(|| self.store.generation());
        self.status
            .send_replace(Status::new(generation, &[]).to_json());
        self.print(&outcome.problems);
        if !self.quiet {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let pages = outcome.pages;
            let unchanged = if published.is_none() {
                " (no change)"
            } else {
                ""
            };
            eprintln!(
                "Rendered {pages} page{} in {ms:.0} ms after {what}{unchanged}",
                if pages == 1 { "" } else { "s" }
            );
        }
    }

    fn print(&self, problems: &[Diagnostic]) {
        if let Err(e) = diag::emit(problems, Format::Human) {
            eprintln!("error: cannot print diagnostics: {e}");
        }
    }

    fn answer(&self, request: Job) {
        match request {
            Job::View { url, view, reply } => {
                let _ = reply.send(self.view_page(&url, view));
            }
            Job::Review { url, reply } => {
                let _ = reply.send(self.review_info(&url));
            }
            Job::Changed(_) => unreachable!("changes are taken by `run`"),
        }
    }

    /// The site and the page at `url`, when both exist.
    fn page_at(&self, url: &str) -> Option<(&Site, usize)> {
        let site = self.site.as_ref()?;
        site.pages
            .iter()
            .position(|p| p.url == url)
            .map(|page| (site, page))
    }

    fn view_page(&self, url: &str, view: ReviewView) -> ViewReply {
        let Some((site, page)) = self.page_at(url) else {
            return ViewReply::NotFound;
        };
        if view == ReviewView::Partner && !review::partners_get(&site.pages[page]) {
            return ViewReply::Html(review::not_for_partners(&site.pages[page]));
        }
        let rendered = Engine::new(site, self.data.clone()).and_then(|engine| {
            let body = match view {
                ReviewView::Internal => engine.render_body(page, View::Internal),
                ReviewView::Partner => partner_body(&engine, page),
                ReviewView::Confluence => {
                    return review::confluence_page(&engine, page).map(ViewReply::Xhtml);
                }
            };
            site::render_page_view(&engine, &self.decorations, page, body).map(ViewReply::Html)
        });
        rendered.unwrap_or_else(ViewReply::Problems)
    }

    fn review_info(&self, url: &str) -> Option<ReviewInfo> {
        let (site, page) = self.page_at(url)?;
        let engine = Engine::new(site, self.data.clone()).ok()?;
        let banners = self
            .decorations
            .banners
            .get(&page)
            .map(Vec::as_slice)
            .unwrap_or_default();
        ReviewInfo::new(&engine, page, chrono::Local::now().date_naive(), banners)
    }
}

/// Names the inputs for the terminal.
fn describe(inputs: &BTreeSet<Input>) -> String {
    let names: Vec<String> = inputs
        .iter()
        .map(|input| match input {
            Input::Everything => "site settings or data".to_string(),
            Input::Document(rel) | Input::ContentAsset(rel) => format!("content/{rel}"),
            Input::Template(name) => format!("templates/{name}"),
            Input::TemplateAsset => "templates/assets".to_string(),
        })
        .collect();
    names.join(", ")
}

/// Document edits re-read in place, templates and assets changed.
#[derive(Default)]
struct Edits {
    documents: Vec<(usize, Box<content::Page>)>,
    templates: BTreeSet<String>,
    assets: bool,
}

/// Every page of the site, rendered into `sink`.
fn render_everything(
    engine: &Engine,
    nav: &Nav,
    decorations: &Decorations,
    sink: &Memory,
) -> Rendered {
    let mut rendered = Rendered::new(engine.site);
    rendered.render_pages(
        engine,
        nav,
        decorations,
        nav.order(),
        sink,
        &internal_body(engine),
        None,
    );
    rendered
}

/// Bodies as the internal site shows them.
fn internal_body<'e>(engine: &'e Engine) -> impl Fn(usize) -> RenderedBody + Sync + 'e {
    |page| engine.render_body(page, View::Internal)
}

/// Page `page`'s body exactly as partners get it (internal passages dropped, links to pages
/// partners cannot open as plain text, leak checked), for the site's layout.
fn partner_body(engine: &Engine, page: usize) -> RenderedBody {
    let site = engine.site;
    let from = &site.pages[page].url;
    let page_url = |target: usize, anchor: Option<&str>| {
        is_partner_document(site, target).then(|| {
            let href = url::relative_href(from, &site.pages[target].url);
            anchor.map_or(href.clone(), |anchor| format!("{href}#{anchor}"))
        })
    };
    let links = Links {
        site,
        page_url: &page_url,
        relative: true,
    };
    site::partner::rendered_body(engine, page, &links, &Some)
}

/// The decorations `kbpub build` adds: approval banners (none, and no work, without a policy).
fn decorate(engine: &Engine) -> Decorations {
    approval::banner::decorations(engine)
}

/// Pages whose banners differ between `before` and `after`.
fn banners_changed(before: &Decorations, after: &Decorations, pages: usize) -> Vec<usize> {
    (0..pages)
        .filter(|page| before.banners.get(page) != after.banners.get(page))
        .collect()
}

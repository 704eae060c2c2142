//! Render: the pure core that turns a loaded [`Site`] into outputs. A document body is first a
//! Tera template (only when it holds template syntax), then Markdown, prepared once into an event
//! stream that the writers consume. `build`, `serve`, `check` and `publish` all render through an
//! [`Engine`], so a preview is exactly what gets published. No I/O beyond reading templates.

pub mod community;
pub mod data_functions;
pub mod fence;
pub mod highlight;
pub mod html;
pub mod leak;
pub mod markdown;
pub mod partials;
pub mod partner;
pub mod raster;
pub mod storage;
pub mod templates;

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera};

use crate::content::{Audience, Page, PageKind, Site};
use crate::data::Dataset;
use crate::diag::{Diagnostic, Location};
use data_functions::DataContext;
pub use data_functions::DataUse;
pub use markdown::{AnchorRef, Heading, View};

/// Compiled templates for one site. Cheap to share across threads.
pub struct Engine<'s> {
    pub site: &'s Site,
    /// Layout templates (HTML escaping).
    layout_tera: Tera,
    /// Template bodies, with every layout template available for includes (Markdown escaping).
    body_tera: Tera,
    layouts: Vec<templates::TemplateSource>,
    /// Per page: its body as a template, if it is one, and whether that failed to compile.
    templated: BodyTemplates,
    /// The data snapshot templates read (never the network).
    data: Arc<DataContext>,
}

/// An engine's compiled templates without the site they were compiled for, so that `serve` can
/// keep them while it edits the site, and build the next engine from them.
pub struct Compiled {
    layout_tera: Tera,
    body_tera: Tera,
    layouts: Vec<templates::TemplateSource>,
    templated: BodyTemplates,
    data: Arc<DataContext>,
}

/// Per page: the body as Tera sees it (code protected), when it uses template syntax, and the
/// error that kept it from compiling. A body that fails to compile is still checked as
/// Markdown, so one document's template error hides nothing else.
#[derive(Clone)]
struct BodyTemplates {
    protected: Vec<Option<Arc<templates::Protected>>>,
    errors: Vec<Option<Diagnostic>>,
}

impl BodyTemplates {
    /// Whether page `page` renders through Tera (a template body that compiled).
    fn renders(&self, page: usize) -> bool {
        self.protected[page].is_some() && self.errors[page].is_none()
    }
}

/// A page body as Markdown, and what it did with data.
#[derive(Debug)]
pub struct Body<'s> {
    pub markdown: Cow<'s, str>,
    pub data: DataUse,
}

/// A page body rendered for the site.
#[derive(Debug, Default)]
pub struct RenderedBody {
    pub html: String,
    pub headings: Vec<Heading>,
    /// Readable text, for search.
    pub text: String,
    pub anchor_refs: Vec<AnchorRef>,
    pub links_to: Vec<usize>,
    pub diagnostics: Vec<Diagnostic>,
    /// Whether the body used data (for "data as of" and the stale banner).
    pub data: DataUse,
}

/// What a document body sees as `page` when it is a template.
#[derive(Serialize)]
struct BodyPage<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(rename = "type")]
    doc_type: Option<&'static str>,
    owner: Option<&'a str>,
    audience: crate::content::Audience,
    partners: &'a [String],
    tags: &'a [String],
    review_by: Option<String>,
    extra: &'a serde_json::Value,
}

impl<'s> Engine<'s> {
    /// Compiles layouts and template bodies with the data functions over `data`; reports every
    /// template that fails to parse.
    pub fn new(site: &'s Site, data: Arc<Dataset>) -> Result<Engine<'s>, Vec<Diagnostic>> {
        let layouts = templates::layout_sources(&site.config.templates_dir())?;
        // Bodies without template syntax outside code skip Tera entirely (most documents).
        let protected: Vec<Option<Arc<templates::Protected>>> = site
            .pages
            .par_iter()
            .map(|p| templates::Protected::body(p.body()).map(Arc::new))
            .collect();
        let layout_sources: Vec<(String, Arc<str>)> = layouts
            .iter()
            .map(|t| (t.name.clone(), t.text.clone()))
            .collect();
        let bodies: Vec<(usize, String, Arc<str>)> = protected
            .iter()
            .enumerate()
            .filter_map(|(i, body)| {
                let body = body.as_ref()?;
                Some((
                    i,
                    body_template_name(&site.pages[i]),
                    Arc::from(body.text.as_str()),
                ))
            })
            .collect();
        let locate = |name: &str| locate_template(site, &layouts, &protected, name);
        let data = Arc::new(DataContext::new(data, site));
        // The two instances compile the same layouts: side by side, as `serve` does on edits.
        let compile = |escaping, output, sources: &[(String, Arc<str>)]| {
            let mut tera = templates::new_tera(escaping);
            data_functions::register(&mut tera, &data, output);
            templates::add_all(&mut tera, sources, &locate).map(|()| tera)
        };
        let (layout_tera, body_tera) = rayon::join(
            || {
                compile(
                    templates::Escaping::Html,
                    data_functions::Output::Html,
                    &layout_sources,
                )
            },
            || {
                compile(
                    templates::Escaping::Markup,
                    data_functions::Output::Markdown,
                    &layout_sources,
                )
            },
        );
        let (layout_tera, mut body_tera) = (layout_tera?, body_tera?);
        let named: Vec<(String, Arc<str>)> = bodies
            .iter()
            .map(|(_, name, text)| (name.clone(), text.clone()))
            .collect();
        let mut errors = vec![None; site.pages.len()];
        for ((page, _, _), error) in
            bodies
                .iter()
                .zip(templates::add_bodies(&mut body_tera, &named, &locate))
        {
            errors[*page] = error;
        }
        let templated = BodyTemplates { protected, errors };
        let compiled = Compiled {
            layout_tera,
            body_tera,
            layouts,
            templated,
            data,
        };
        Ok(Engine::attach(site, compiled))
    }

    fn attach(site: &'s Site, compiled: Compiled) -> Engine<'s> {
        let Compiled {
            layout_tera,
            body_tera,
            layouts,
            templated,
            data,
        } = compiled;
        Engine {
            site,
            layout_tera,
            body_tera,
            layouts,
            templated,
            data,
        }
    }

    /// The compiled templates, detached from the site.
    pub fn into_compiled(self) -> Compiled {
        Compiled {
            layout_tera: self.layout_tera,
            body_tera: self.body_tera,
            layouts: self.layouts,
            templated: self.templated,
            data: self.data,
        }
    }

    /// An engine for `site` from templates compiled for an earlier version of it that had the
    /// same pages and templates: only the `edited` pages differ. Their bodies that use template
    /// syntax are compiled again, and the data functions see the pages' new titles; nothing else
    /// is compiled again (a body edit skips a full compile).
    pub fn reuse(
        site: &'s Site,
        mut compiled: Compiled,
        edited: &[usize],
    ) -> Result<Engine<'s>, Vec<Diagnostic>> {
        for &page in edited {
            let p = &site.pages[page];
            let protected = templates::Protected::body(p.body()).map(Arc::new);
            compiled.templated.protected[page] = protected.clone();
            compiled.templated.errors[page] = None;
            if let Some(body) = protected {
                let name = body_template_name(p);
                let sources = [(name, Arc::from(body.text.as_str()))];
                let locate = |n: &str| {
                    locate_template(site, &compiled.layouts, &compiled.templated.protected, n)
                };
                let error = templates::add_bodies(&mut compiled.body_tera, &sources, &locate);
                compiled.templated.errors[page] = error.into_iter().next().flatten();
            }
        }
        compiled.data = Arc::new(DataContext::new(compiled.data.data.clone(), site));
        data_functions::register(
            &mut compiled.layout_tera,
            &compiled.data,
            data_functions::Output::Html,
        );
        data_functions::register(
            &mut compiled.body_tera,
            &compiled.data,
            data_functions::Output::Markdown,
        );
        Ok(Engine::attach(site, compiled))
    }

    /// The names of the layout templates (built-in and the site's own).
    pub fn layout_names(&self) -> impl Iterator<Item = &str> {
        self.layouts.iter().map(|t| t.name.as_str())
    }

    /// The layout templates (built-in ones overridden by the site's own), sorted by name.
    pub fn layouts(&self) -> &[templates::TemplateSource] {
        &self.layouts
    }

    /// The page body as Markdown: the Tera output for template bodies, the source otherwise.
    pub fn body_markdown(&self, page: usize, view: View) -> Result<Cow<'s, str>, Diagnostic> {
        self.body(page, view).map(|body| body.markdown)
    }

    /// The data every template reads.
    pub fn data(&self) -> &Dataset {
        &self.data.data
    }

    /// Partner-facing pages never render from stale data: while a source is stale, their data
    /// functions see nothing and their partials show a notice.
    pub fn withholds_data(&self, page: usize) -> bool {
        self.site.pages[page].meta.audience == Audience::Partner && self.data.data.is_stale()
    }

    /// The page body as Markdown, and whether it used data.
    pub fn body(&self, page: usize, view: View) -> Result<Body<'s>, Diagnostic> {
        let p = &self.site.pages[page];
        if let Some(error) = &self.templated.errors[page] {
            return Err(error.clone());
        }
        if !self.templated.renders(page) {
            return Ok(Body {
                markdown: Cow::Borrowed(p.body()),
                data: DataUse::default(),
            });
        }
        let mut context = Context::new();
        context.insert("page", &body_page(p));
        context.insert("site", &self.site.config.site.title);
        context.insert("view", &view);
        let name = body_template_name(p);
        let (rendered, data) = data_functions::scoped(self.withholds_data(page), || {
            self.body_tera.render(&name, &context)
        });
        let markdown =
            rendered.map_err(|e| templates::template_error(&e, &name, &|n| self.locate(n)))?;
        Ok(Body {
            markdown: Cow::Owned(markdown),
            data,
        })
    }

    fn locate(&self, name: &str) -> templates::Located {
        locate_template(self.site, &self.layouts, &self.templated.protected, name)
    }

    /// Renders page `page`'s body to site HTML for `view`. A body whose template fails is still
    /// checked as Markdown (its source), so the template error hides no other problem.
    pub fn render_body(&self, page: usize, view: View) -> RenderedBody {
        let p = &self.site.pages[page];
        let (markdown, data, template_error) = match self.body(page, view) {
            Ok(body) => (body.markdown, body.data, None),
            Err(diagnostic) => (
                Cow::Borrowed(p.body()),
                DataUse::default(),
                Some(diagnostic),
            ),
        };
        let prepared = markdown::prepare(&markdown, self.site, page, view);
        let mut diagnostics: Vec<Diagnostic> = template_error.into_iter().collect();
        diagnostics.extend(self.problem_diagnostics(page, &markdown, &prepared.problems));
        RenderedBody {
            html: html::write(
                self.site,
                &p.url,
                &prepared.events,
                self.site.config.build.highlight,
            ),
            text: html::plain_text(&prepared.events),
            headings: prepared.headings,
            anchor_refs: prepared.anchor_refs,
            links_to: prepared.links_to,
            diagnostics,
            data,
        }
    }

    /// Diagnostics for the problems found while preparing page `page`'s `markdown`.
    pub fn problem_diagnostics(
        &self,
        page: usize,
        markdown: &str,
        problems: &[markdown::Problem],
    ) -> Vec<Diagnostic> {
        problems
            .iter()
            .map(|problem| {
                Diagnostic::error(problem.code, problem.message.clone())
                    .at(self.source_location(page, markdown, problem.span.clone()))
                    .help(problem.help.clone())
            })
            .collect()
    }

    /// Maps a span of the rendered markdown back to the page's source file. Exact for plain
    /// bodies; for template bodies it finds the same text in the source, else the body start.
    pub fn source_location(
        &self,
        page: usize,
        markdown: &str,
        span: std::ops::Range<usize>,
    ) -> Location {
        let p = &self.site.pages[page];
        let start = if self.templated.renders(page) {
            let needle = &markdown[span.clone()];
            p.body()
                .find(needle)
                .map_or(p.body_start, |i| p.body_start + i)
        } else {
            p.body_start + span.start
        };
        Location::new(p.file.clone(), p.source.clone(), start..start + span.len())
    }

    /// Renders a layout template with `context`.
    pub fn render_template(&self, name: &str, context: &Context) -> Result<String, Diagnostic> {
        self.render_template_for(None, name, context).0
    }

    /// Renders a layout template for page `page` (if any), reporting whether it used data.
    pub fn render_template_for(
        &self,
        page: Option<usize>,
        name: &str,
        context: &Context,
    ) -> (Result<String, Diagnostic>, DataUse) {
        let withhold = page.is_some_and(|p| self.withholds_data(p));
        let (rendered, data) =
            data_functions::scoped(withhold, || self.layout_tera.render(name, context));
        let rendered =
            rendered.map_err(|e| templates::template_error(&e, name, &|n| self.locate(n)));
        (rendered, data)
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.layout_tera.get_template_names().any(|n| n == name)
    }

    /// The layout template a page renders with: its type's template (`sop.html`), falling back
    /// to `page.html`; `section.html` for section pages.
    pub fn layout_for(&self, page: usize) -> String {
        match self.site.pages[page].kind {
            PageKind::Document(t) if self.has_template(&t.template()) => t.template(),
            PageKind::Document(_) => "page.html".to_string(),
            PageKind::Section(_) => "section.html".to_string(),
        }
    }

    /// Every template a page renders through (its layout chain, imported macros, includes, and
    /// what its body includes when the body is a template), sorted by name. A change to any of
    /// them changes the page; approval hashes them, `serve` re-renders by them.
    pub fn templates_used(&self, page: usize) -> Vec<&templates::TemplateSource> {
        let mut names = templates::dependencies(&self.layout_tera, &self.layout_for(page));
        if self.templated.renders(page) {
            let body = body_template_name(&self.site.pages[page]);
            names.extend(
                templates::dependencies(&self.body_tera, &body)
                    .into_iter()
                    .filter(|n| *n != body),
            );
        }
        names.sort();
        names.dedup();
        names
            .iter()
            .filter_map(|n| self.layouts.iter().find(|t| &t.name == n))
            .collect()
    }
}

fn body_template_name(page: &Page) -> String {
    format!("{}{}", templates::BODY_PREFIX, page.rel_path)
}

fn body_page(p: &Page) -> BodyPage<'_> {
    BodyPage {
        id: &p.id,
        title: &p.meta.title,
        doc_type: p.doc_type().map(|t| t.name()),
        owner: p.meta.owner.as_deref(),
        audience: p.meta.audience,
        partners: &p.meta.partners,
        tags: &p.meta.tags,
        review_by: p.meta.review_by.map(|d| d.to_string()),
        extra: &p.meta.extra,
    }
}

/// File, text and start offset of a template, for diagnostics.
fn locate_template(
    site: &Site,
    layouts: &[templates::TemplateSource],
    protected: &[Option<Arc<templates::Protected>>],
    name: &str,
) -> templates::Located {
    if let Some(rel) = name.strip_prefix(templates::BODY_PREFIX)
        && let Some(i) = site.page_by_rel_path(rel)
    {
        let p = &site.pages[i];
        return templates::Located {
            file: p.file.clone(),
            source: p.source.clone(),
            start: p.body_start,
            protected: protected.get(i).cloned().flatten(),
        };
    }
    let (file, source) = match layouts.iter().find(|t| t.name == name) {
        Some(t) => (t.display.clone(), t.text.clone()),
        None => (name.to_string(), Arc::from("")),
    };
    templates::Located {
        file,
        source,
        start: 0,
        protected: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_engine_renders_edited_bodies_like_a_new_one() {
        let doc = |body: &str| format!("+++\ntitle = \"Alpha\"\ntype = \"sop\"\n+++\n{body}\n");
        let (dir, site) = crate::content::temp_site(&[("a.md", &doc("plain"))]);
        let mut site = site.unwrap();
        let a = site.page_by_rel_path("a.md").unwrap();
        let compiled = Engine::new(&site, Default::default())
            .unwrap()
            .into_compiled();
        let mut edit = |body: &str, compiled| {
            crate::content::write_temp(dir.path(), "a.md", &doc(body));
            assert!(matches!(
                site.reload_page("a.md"),
                crate::content::Reload::Replaced { .. }
            ));
            Engine::reuse(&site, compiled, &[a]).map(|engine| {
                let markdown = engine.body_markdown(a, View::Internal).map(Cow::into_owned);
                let fresh = Engine::new(&site, Default::default())
                    .unwrap()
                    .render_body(a, View::Internal)
                    .html;
                assert_eq!(engine.render_body(a, View::Internal).html, fresh);
                (markdown, engine.into_compiled())
            })
        };
        let (markdown, compiled) = edit("Title: {{ page.title }}", compiled).unwrap();
        assert_eq!(markdown.unwrap(), "Title: Alpha\n");
        let (markdown, compiled) = edit("{{ broken", compiled).unwrap();
        assert_eq!(markdown.unwrap_err().file.as_deref(), Some("content/a.md"));
        let engine = Engine::reuse(&site, compiled, &[]).unwrap();
        let errors = engine.render_body(a, View::Internal).diagnostics;
        assert_eq!(errors[0].file.as_deref(), Some("content/a.md"));
    }
}

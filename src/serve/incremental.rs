//! What an edit re-renders. Pure: [`classify`] says what a changed path is to the site, and a
//! [`Plan`] collects the pages and generated files that edits affect, from the site after the edit
//! and what the last render learned. [`super::preview`] does the reading and the rendering.
//!
//! The rules, from cheapest to safest:
//! - a document edit re-renders the document and the pages that link to it; when what other pages
//!   show of it changed (title, order, description, type, owner, date, tags), also the pages that
//!   list it: its section and subsections (nav and listings), the page after them (its "previous"
//!   link), the tag pages of its old and new tags and the sitemap; documents at the root and
//!   section pages are in every page's nav, so they re-render everything;
//! - a template edit re-renders the pages that render through that template, and the generated
//!   pages;
//! - an asset edit rewrites the assets;
//! - anything that can move pages around (a new, deleted or renamed document, a changed id,
//!   `kbpub.toml`, `data/`, `.kb/`) reloads the whole site, and so does any edit while the site
//!   has load errors: the fallback is always a full build, never a stale page.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use rayon::prelude::*;

use crate::content::{Page, PageKind, Site, url};
use crate::render::{Engine, templates};
use crate::site::context::listed_alike;
use crate::site::{Generated, Rendered};

/// A changed input of the knowledge base, by what it can affect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// `kbpub.toml`, `data/`, `.kb/`, or a whole input folder: anything may change.
    Everything,
    /// A Markdown file, content-relative (`sops/x.md`).
    Document(String),
    /// Another file in `content/`, content-relative.
    ContentAsset(String),
    /// A layout template, by name (`page.html`, `partials/x.html`).
    Template(String),
    /// A file in `templates/assets/`.
    TemplateAsset,
}

/// What the changed `path` is to the site under `root`, or `None` when no build reads it: the
/// output folder, hidden files (editor swap files) and anything outside the watched inputs.
pub fn classify(root: &Path, path: &Path) -> Option<Input> {
    let rel = url::to_slash(path.strip_prefix(root).ok()?);
    let (top, rest) = rel
        .split_once('/')
        .map_or((rel.as_str(), None), |(top, rest)| (top, Some(rest)));
    if rest.is_some_and(|rest| rest.split('/').any(|part| part.starts_with('.'))) {
        return None;
    }
    match (top, rest) {
        (crate::config::CONFIG_FILE, None)
        | ("data" | ".kb", _)
        | ("content" | "templates", None) => Some(Input::Everything),
        ("content", Some(rest)) if rest.ends_with(".md") => Some(Input::Document(rest.to_string())),
        ("content", Some(rest)) => Some(Input::ContentAsset(rest.to_string())),
        ("templates", Some(rest)) if rest.starts_with("assets/") => Some(Input::TemplateAsset),
        ("templates", Some(rest)) if templates::is_template(rest) => {
            Some(Input::Template(rest.to_string()))
        }
        _ => None,
    }
}

/// The pages and generated files a render must cover after some edits.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Render every page and generated file, and replace everything served.
    pub everything: bool,
    pub pages: BTreeSet<usize>,
    pub generated: Generated,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            everything: false,
            pages: BTreeSet::new(),
            generated: Generated::SEARCH_INDEX_ONLY,
        }
    }
}

impl Plan {
    pub fn everything() -> Plan {
        Plan {
            everything: true,
            ..Plan::default()
        }
    }

    /// Page `page` of `site` was re-read; `old` is what it was before. `order` is the site's
    /// reading order after the edit.
    pub fn document_edited(
        &mut self,
        site: &Site,
        rendered: &Rendered,
        order: &[usize],
        page: usize,
        old: &Page,
    ) {
        self.pages.insert(page);
        self.pages.extend(rendered.linking_to(page));
        let new = &site.pages[page];
        if listed_alike(old, new) {
            return;
        }
        // Obsolete pages name what replaces them, by title, in their banner.
        self.pages.extend(
            site.pages
                .iter()
                .enumerate()
                .filter(|(_, p)| p.meta.superseded_by.as_deref() == Some(new.id.as_str()))
                .map(|(i, _)| i),
        );
        // A section's title is in the nav of every page, and so are the documents at the root.
        if matches!(new.kind, PageKind::Section(_)) || new.section == 0 {
            self.everything = true;
            return;
        }
        self.pages
            .extend(section_and_follower(site, order, new.section));
        self.generated.sitemap = true; // it holds the pages' dates
        if old.meta.tags != new.meta.tags {
            let remaining: HashSet<&str> = site
                .documents()
                .flat_map(|d| site.pages[d].meta.tags.iter().map(String::as_str))
                .collect();
            if old
                .meta
                .tags
                .iter()
                .any(|t| !remaining.contains(t.as_str()))
            {
                // A tag page would be left behind: only replacing everything removes it.
                self.everything = true;
                return;
            }
            self.generated.fixed = true; // the tags index counts pages per tag
        }
        if let Some(tags) = &mut self.generated.tags {
            tags.extend(old.meta.tags.iter().chain(&new.meta.tags).cloned());
        }
    }

    /// The layout templates `names` changed: re-render the pages that render through any of them,
    /// and every generated page.
    pub fn templates_edited(&mut self, engine: &Engine, names: &BTreeSet<String>) {
        let pages: Vec<usize> = (0..engine.site.pages.len())
            .into_par_iter()
            .filter(|&p| {
                engine
                    .templates_used(p)
                    .iter()
                    .any(|t| names.contains(&t.name))
            })
            .collect();
        self.pages.extend(pages);
        self.generated = Generated::ALL;
    }

    /// Template or content assets changed: write the assets (and the other fixed files) again.
    pub fn assets_edited(&mut self) {
        self.generated.fixed = true;
    }
}

/// The pages of section `section` and its subsections, which follow each other in reading order,
/// and the page after them, whose "previous" link names the last of them.
fn section_and_follower(site: &Site, order: &[usize], section: usize) -> Vec<usize> {
    let Some(start) = order.iter().position(|&p| p == site.sections[section].page) else {
        return Vec::new();
    };
    let end = (start + pages_under(site, section) + 1).min(order.len());
    order[start..end].to_vec()
}

/// How many pages section `section` holds, its own page and its subsections' included.
fn pages_under(site: &Site, section: usize) -> usize {
    let s = &site.sections[section];
    1 + s.pages.len()
        + s.subsections
            .iter()
            .map(|&sub| pages_under(site, sub))
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{Decorations, Discard};

    #[test]
    fn paths_are_classified_by_what_they_affect() {
        let root = Path::new("/kb");
        let c = |p: &str| classify(root, &root.join(p));
        assert_eq!(c("kbpub.toml"), Some(Input::Everything));
        assert_eq!(c("data/snapshot.json"), Some(Input::Everything));
        assert_eq!(c(".kb/approvals/x/1.toml"), Some(Input::Everything));
        assert_eq!(c("content"), Some(Input::Everything));
        assert_eq!(
            c("content/sops/x.md"),
            Some(Input::Document("sops/x.md".into()))
        );
        assert_eq!(
            c("content/sops/img/a.png"),
            Some(Input::ContentAsset("sops/img/a.png".into()))
        );
        assert_eq!(
            c("templates/partials/x.html"),
            Some(Input::Template("partials/x.html".into()))
        );
        assert_eq!(c("templates/assets/kbpub.css"), Some(Input::TemplateAsset));
        for ignored in [
            "content/sops/.x.md.swp",
            "templates/notes.txt",
            "output/index.html",
            ".output.staging-1",
            "kbpub.toml~",
            "README.md",
        ] {
            assert_eq!(c(ignored), None, "{ignored}");
        }
        assert_eq!(classify(root, Path::new("/elsewhere/kbpub.toml")), None);
    }

    /// A site with sections `a` (documents a1..a3, subsection `a/deep`) and `b`, each document
    /// linking as given, rendered once so that the link graph is known.
    struct Fixture {
        site: Site,
    }

    impl Fixture {
        fn new() -> Fixture {
            let doc = |title: &str, tags: &str, body: &str| {
                format!("+++\ntitle = \"{title}\"\ntype = \"sop\"\ntags = [{tags}]\n+++\n{body}\n")
            };
            let files = [
                ("a/a1.md", doc("A1", "\"x\"", "")),
                ("a/a2.md", doc("A2", "\"x\", \"y\"", "[one](a1.md)")),
                ("a/a3.md", doc("A3", "", "")),
                ("a/deep/d1.md", doc("D1", "", "[two](../a2.md)")),
                ("b/b1.md", doc("B1", "\"y\"", "[two](../a/a2.md)")),
                ("b/b2.md", doc("B2", "", "")),
            ];
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(path, text)| (*path, text.as_str()))
                .collect();
            let (_dir, site) = crate::content::temp_site(&files);
            Fixture {
                site: site.unwrap(),
            }
        }

        fn page(&self, rel: &str) -> usize {
            self.site.page_by_rel_path(rel).unwrap()
        }

        /// Plans an edit that turns page `rel` into `edit(page)`.
        fn plan(&self, rel: &str, edit: impl Fn(&mut Page)) -> Plan {
            let engine = Engine::new(&self.site, Default::default()).unwrap();
            let nav = crate::site::nav::Nav::new(&self.site);
            let mut rendered = Rendered::new(&self.site);
            let body = |page| engine.render_body(page, crate::render::View::Internal);
            let decorations = Decorations::default();
            rendered.render_pages(
                &engine,
                &nav,
                &decorations,
                nav.order(),
                &Discard,
                &body,
                None,
            );
            let mut site = self.site.clone();
            let page = self.page(rel);
            let old = site.pages[page].clone();
            edit(&mut site.pages[page]);
            let mut plan = Plan::default();
            plan.document_edited(
                &site,
                &rendered,
                crate::site::nav::Nav::new(&site).order(),
                page,
                &old,
            );
            plan
        }

        fn rels(&self, plan: &Plan) -> Vec<&str> {
            let mut rels: Vec<&str> = plan
                .pages
                .iter()
                .map(|&p| self.site.pages[p].rel_path.as_str())
                .collect();
            rels.sort();
            rels
        }
    }

    #[test]
    fn a_body_edit_re_renders_the_document_and_the_pages_linking_to_it() {
        let f = Fixture::new();
        let plan = f.plan("a/a2.md", |p| {
            p.source = std::sync::Arc::from("+++\n+++\nnew body")
        });
        assert_eq!(f.rels(&plan), ["a/a2.md", "a/deep/d1.md", "b/b1.md"]);
        assert_eq!(plan.generated, Generated::SEARCH_INDEX_ONLY);
        assert!(!plan.everything);
    }

    #[test]
    fn a_title_edit_re_renders_the_pages_that_list_it() {
        let f = Fixture::new();
        let plan = f.plan("a/a3.md", |p| p.meta.title = "A3 renamed".into());
        // Section a (its page, documents and subsection), then b's page: its "previous" link.
        assert_eq!(
            f.rels(&plan),
            [
                "a/_index.md",
                "a/a1.md",
                "a/a2.md",
                "a/a3.md",
                "a/deep/_index.md",
                "a/deep/d1.md",
                "b/_index.md"
            ]
        );
        let plan = f.plan("a/deep/d1.md", |p| p.meta.title = "D1 renamed".into());
        assert_eq!(
            f.rels(&plan),
            ["a/deep/_index.md", "a/deep/d1.md", "b/_index.md"]
        );
        assert!(!plan.everything);
    }

    #[test]
    fn a_tag_edit_re_renders_old_and_new_tag_pages_and_a_vanished_tag_everything() {
        let f = Fixture::new();
        let plan = f.plan("a/a1.md", |p| p.meta.tags = vec!["y".into()]);
        assert!(!plan.everything, "x is still on a2");
        assert_eq!(
            plan.generated.tags,
            Some(BTreeSet::from(["x".to_string(), "y".to_string()]))
        );
        assert!(plan.generated.fixed, "the tags index counts change");
        let plan = f.plan("b/b2.md", |p| p.meta.tags = vec!["z".into()]);
        assert_eq!(plan.generated.tags, Some(BTreeSet::from(["z".to_string()])));
        let mut site_without_x = Fixture::new();
        let a2 = site_without_x.page("a/a2.md");
        site_without_x.site.pages[a2].meta.tags = vec!["y".into()];
        let plan = site_without_x.plan("a/a1.md", |p| p.meta.tags.clear());
        assert!(plan.everything, "tag page x would linger");
    }

    #[test]
    fn section_titles_replace_everything() {
        let f = Fixture::new();
        assert!(
            f.plan("b/_index.md", |p| p.meta.title = "Bee".into())
                .everything
        );
    }
}

//! Tera setup: the built-in templates and assets (embedded from `templates/` at compile time), the
//! site's own `templates/` overriding them by name, and the document bodies that use template
//! syntax, compiled once so rendering can run in parallel. Autoescape is on for everything and
//! escapes for HTML and Markdown at once; templates cannot read the environment.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use tera::Tera;

use crate::content::url;
use crate::diag::{Diagnostic, Location};
use crate::text::{escape_markup, escape_visible};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Prefix of the template names given to document bodies.
pub const BODY_PREFIX: &str = "__body/";
const ASSETS_DIR: &str = "assets";

/// A template's name (`page.html`) and where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct TemplateSource {
    pub name: String,
    /// `templates/page.html` for the site's own, `(built-in) page.html` otherwise.
    pub display: String,
    pub text: Arc<str>,
}

/// Every layout template: built-in ones overridden by the site's `templates/`, by name.
pub fn layout_sources(templates_dir: &Path) -> Result<Vec<TemplateSource>, Vec<Diagnostic>> {
    let mut by_name: BTreeMap<String, TemplateSource> = BTreeMap::new();
    for file in builtin_files(&BUILTIN) {
        let name = url::to_slash(file.path());
        if is_template(&name) {
            let text = file.contents_utf8().unwrap_or_default();
            by_name.insert(
                name.clone(),
                TemplateSource {
                    display: format!("(built-in) {name}"),
                    name,
                    text: Arc::from(text),
                },
            );
        }
    }
    let mut errors = Vec::new();
    if templates_dir.is_dir() {
        for entry in walkdir::WalkDir::new(templates_dir)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            let Ok(rel) = entry.path().strip_prefix(templates_dir) else {
                continue;
            };
            let name = url::to_slash(rel);
            if !entry.file_type().is_file() || !is_template(&name) {
                continue;
            }
            let display = format!("templates/{name}");
            match std::fs::read_to_string(entry.path()) {
                Ok(text) => {
                    by_name.insert(
                        name.clone(),
                        TemplateSource {
                            name,
                            display,
                            text: Arc::from(text),
                        },
                    );
                }
                Err(e) => errors.push(
                    Diagnostic::error("io", format!("cannot read {display}: {e}")).in_file(display),
                ),
            }
        }
    }
    if errors.is_empty() {
        Ok(by_name.into_values().collect())
    } else {
        Err(errors)
    }
}

/// Whether a file under `templates/` (by its name there) is a layout template rather than an asset.
pub fn is_template(name: &str) -> bool {
    !name.starts_with(&format!("{ASSETS_DIR}/"))
        && (name.ends_with(".html") || name.ends_with(".xml") || name.ends_with(".md"))
}

/// Every built-in template and asset: its path inside `templates/` and its bytes (for
/// `kbpub init --templates`, which copies them into a site to customise).
pub fn builtin() -> Vec<(String, &'static [u8])> {
    builtin_files(&BUILTIN)
        .into_iter()
        .map(|file| (url::to_slash(file.path()), file.contents()))
        .collect()
}

fn builtin_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files: Vec<&include_dir::File> = dir.files().collect();
    for sub in dir.dirs() {
        files.extend(builtin_files(sub));
    }
    files
}

/// Static assets (CSS, JS) to copy to `output/assets/`: built-in ones overridden by the site's
/// `templates/assets/`. Returns (path under `assets/`, bytes).
pub fn assets(templates_dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut by_name: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(dir) = BUILTIN.get_dir(ASSETS_DIR) {
        for file in builtin_files(dir) {
            let name = url::to_slash(file.path().strip_prefix(ASSETS_DIR).unwrap_or(file.path()));
            by_name.insert(name, file.contents().to_vec());
        }
    }
    let site_assets = templates_dir.join(ASSETS_DIR);
    if site_assets.is_dir() {
        for entry in walkdir::WalkDir::new(&site_assets).into_iter() {
            let entry = entry?;
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(&site_assets)
                    .unwrap_or(entry.path());
                by_name.insert(url::to_slash(rel), std::fs::read(entry.path())?);
            }
        }
    }
    Ok(by_name.into_iter().collect())
}

/// How a Tera instance escapes values.
#[derive(Debug, Clone, Copy)]
pub enum Escaping {
    /// Layout templates produce HTML that is not parsed again: HTML escaping suffices.
    Html,
    /// Document bodies produce Markdown that is parsed next: escape for HTML and Markdown.
    Markup,
}

/// A Tera instance with kbpub's escaping and without access to the environment.
pub fn new_tera(escaping: Escaping) -> Tera {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".xml", ".md"]);
    tera.set_escape_fn(match escaping {
        Escaping::Html => escape_visible,
        Escaping::Markup => escape_markup,
    });
    tera.register_function(
        "get_env",
        |_: &std::collections::HashMap<String, tera::Value>| {
            Err(tera::Error::msg(
                "`get_env` is disabled: templates cannot read environment variables",
            ))
        },
    );
    tera
}

/// Where a template's text came from, for diagnostics.
pub struct Located {
    /// The writer's file (`content/a.md`, `templates/page.html`).
    pub file: String,
    /// The file's text.
    pub source: Arc<str>,
    /// Byte offset in `source` where the template's text starts.
    pub start: usize,
    /// For a document body: how the text Tera parsed differs from the file (code protected).
    pub protected: Option<Arc<Protected>>,
}

/// Maps a template name to where its text came from (for diagnostics).
pub type Locate<'a> = dyn Fn(&str) -> Located + Sync + 'a;

/// A document body as Tera sees it: every code span and code block (and `{#id}` at a heading's
/// end) that holds `{{`, `{%` or `{#` is wrapped in `{% raw %}`…`{% endraw %}`, so template syntax
/// is only template syntax outside code; and the inside of each internal-only passage
/// (`<!-- internal -->` … `<!-- /internal -->`) is wrapped in `{% if view != "partner" %}`…
/// `{% endif %}`, so the partner view never runs what partners do not get (its data functions:
/// the partner view says "data as of" only when partners see data). The wrapping adds no line,
/// so lines stay the writer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    pub text: String,
    /// (offset in `text`, bytes inserted there), in order.
    inserted: Vec<(usize, usize)>,
}

const RAW_OPEN: &str = "{% raw %}";
const RAW_CLOSE: &str = "{% endraw %}";
const INTERNAL_ONLY_OPEN: &str = "{% if view != \"partner\" %}";
const INTERNAL_ONLY_CLOSE: &str = "{% endif %}";

impl Protected {
    /// The body as Tera should see it, or `None` when nothing outside code is template syntax
    /// (`{{` or `{%`; a lone `{#` is Markdown's heading id), so the body is plain Markdown.
    pub fn body(body: &str) -> Option<Protected> {
        // Most bodies hold no template syntax at all: no need to find their code spans.
        if !(body.contains("{{") || body.contains("{%")) {
            return None;
        }
        let (literal, internal) = literal_ranges(body);
        let mut outside = String::with_capacity(body.len());
        let mut at = 0;
        for range in &literal {
            outside.push_str(&body[at..range.start]);
            outside.push('\n');
            at = range.end;
        }
        outside.push_str(&body[at..]);
        if !(outside.contains("{{") || outside.contains("{%")) {
            return None;
        }
        let mut insertions: Vec<(usize, &str)> = Vec::with_capacity(literal.len() * 2);
        for range in literal {
            insertions.push((range.start, RAW_OPEN));
            insertions.push((range.end, RAW_CLOSE));
        }
        for range in internal {
            insertions.push((range.start, INTERNAL_ONLY_OPEN));
            insertions.push((range.end, INTERNAL_ONLY_CLOSE));
        }
        insertions.sort_by_key(|&(offset, _)| offset);
        let mut text = String::with_capacity(body.len() + insertions.len() * 16);
        let mut inserted = Vec::with_capacity(insertions.len());
        let mut at = 0;
        for (offset, insertion) in insertions {
            text.push_str(&body[at..offset]);
            inserted.push((text.len(), insertion.len()));
            text.push_str(insertion);
            at = offset;
        }
        text.push_str(&body[at..]);
        Some(Protected { text, inserted })
    }

    /// The offset in the writer's body of `offset` in [`Protected::text`].
    pub fn original_offset(&self, offset: usize) -> usize {
        let mut shift = 0;
        for &(at, len) in &self.inserted {
            if at >= offset {
                break;
            }
            shift += len.min(offset - at);
        }
        offset - shift
    }
}

/// Byte ranges of `body` that must stay literal for Tera: code spans and code blocks, and a
/// `{#id}` at a heading's end, that hold template-like braces (and cannot close a raw block).
/// Second, the inside of each internal-only passage: from the line after its opening marker to
/// the start of its closing marker's line (unclosed markers are left to the Markdown checks).
type Ranges = Vec<std::ops::Range<usize>>;

fn literal_ranges(body: &str) -> (Ranges, Ranges) {
    use pulldown_cmark::{Event, Parser, Tag};
    let braces = |text: &str| {
        (text.contains("{{") || text.contains("{%") || text.contains("{#"))
            && !text.contains("endraw")
    };
    let mut ranges: Ranges = Vec::new();
    let mut internal: Ranges = Vec::new();
    let mut open_marker: Option<usize> = None;
    for (event, range) in Parser::new_ext(body, super::markdown::options()).into_offset_iter() {
        let range = match event {
            Event::Code(_) | Event::Start(Tag::CodeBlock(_)) => range,
            Event::Start(Tag::Heading { .. }) => {
                let line = body[range.clone()].trim_end();
                match super::markdown::heading_id_suffix(line) {
                    Some((at, _)) => range.start + at..range.start + line.len(),
                    None => continue,
                }
            }
            Event::Html(_) => {
                match (super::markdown::internal_marker_event(&event), open_marker) {
                    (Some(true), None) => {
                        let line_end = body[range.start..].find('\n').map(|n| range.start + n + 1);
                        open_marker = Some(line_end.unwrap_or(body.len()));
                    }
                    (Some(false), Some(start)) => {
                        internal.push(start..range.start);
                        open_marker = None;
                    }
                    _ => {}
                }
                continue;
            }
            _ => continue,
        };
        let covered = ranges.last().is_some_and(|last| last.end > range.start);
        if !covered && braces(&body[range.clone()]) {
            ranges.push(range);
        }
    }
    (ranges, internal)
}

/// Adds templates to `tera`, reporting every one that fails to parse (not just the first).
/// `locate` maps a template to the file and byte offset its text starts at.
pub fn add_all(
    tera: &mut Tera,
    templates: &[(String, Arc<str>)],
    locate: &Locate,
) -> Result<(), Vec<Diagnostic>> {
    let batch: Vec<(&str, &str)> = templates
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_ref()))
        .collect();
    if tera.add_raw_templates(batch).is_ok() {
        return Ok(());
    }
    // Parse each template on its own to report every syntax error; then, if they all parse,
    // the problem is between templates (extends, includes, imports).
    let mut errors = Vec::new();
    for (name, text) in templates {
        if let Err(e) = tera::Template::new(name, None, text) {
            errors.push(template_error(&e, name, locate));
        }
    }
    if errors.is_empty() {
        let batch: Vec<(&str, &str)> = templates
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_ref()))
            .collect();
        if let Err(e) = tera.add_raw_templates(batch) {
            errors.push(Diagnostic::error("template", error_text(&e)).help(MISSING_TEMPLATE_HELP));
        }
    }
    Err(errors)
}

/// Adds document bodies (name, text) to `tera`, which already holds every layout. Returns, per
/// body, the error that kept it out: one body's error never keeps another out.
pub fn add_bodies(
    tera: &mut Tera,
    bodies: &[(String, Arc<str>)],
    locate: &Locate,
) -> Vec<Option<Diagnostic>> {
    use rayon::prelude::*;
    // Parsed in parallel, once: the templates go into `tera` as they are.
    let (parsed, mut errors): (Vec<Option<tera::Template>>, Vec<Option<Diagnostic>>) = bodies
        .par_iter()
        .map(|(name, text)| match tera::Template::new(name, None, text) {
            Ok(template) => (Some(template), None),
            Err(e) => (None, Some(template_error(&e, name, locate))),
        })
        .unzip();
    let names: Vec<String> = parsed.iter().flatten().map(|t| t.name.clone()).collect();
    for template in parsed.into_iter().flatten() {
        tera.templates.insert(template.name.clone(), template);
    }
    if tera.build_inheritance_chains().is_ok() && tera.check_macro_files().is_ok() {
        return errors;
    }
    // A body names a template that does not exist (extends, include, import): find which, one
    // at a time, and leave each failing one out.
    for name in &names {
        tera.templates.remove(name);
    }
    for (i, (name, text)) in bodies.iter().enumerate() {
        if errors[i].is_some() {
            continue;
        }
        if let Err(e) = tera.add_raw_template(name, text) {
            tera.templates.remove(name);
            errors[i] = Some(template_error(&e, name, locate).help(MISSING_TEMPLATE_HELP));
        }
    }
    errors
}

const MISSING_TEMPLATE_HELP: &str =
    "check `{% extends %}`, `{% include %}` and `{% import %}` name existing templates";

/// Every template `name` renders through, itself included: its parents (`extends`), the files it
/// imports macros from and the templates it includes, transitively. Sorted by name.
pub fn dependencies(tera: &Tera, name: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![name.to_string()];
    while let Some(current) = pending.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let Ok(template) = tera.get_template(&current) else {
            continue;
        };
        pending.extend(template.parents.iter().cloned());
        pending.extend(
            template
                .imported_macro_files
                .iter()
                .map(|(file, _)| file.clone()),
        );
        let mut includes = Vec::new();
        collect_includes(&template.ast, &mut includes);
        for definition in template.macros.values() {
            collect_includes(&definition.body, &mut includes);
        }
        pending.extend(includes);
    }
    seen.into_iter().collect()
}

fn collect_includes(nodes: &[tera::ast::Node], out: &mut Vec<String>) {
    use tera::ast::Node;
    for node in nodes {
        match node {
            Node::Include(_, names, _) => out.extend(names.iter().cloned()),
            Node::Block(_, block, _) => collect_includes(&block.body, out),
            Node::MacroDefinition(_, definition, _) => collect_includes(&definition.body, out),
            Node::FilterSection(_, section, _) => collect_includes(&section.body, out),
            Node::Forloop(_, forloop, _) => {
                collect_includes(&forloop.body, out);
                if let Some(empty) = &forloop.empty_body {
                    collect_includes(empty, out);
                }
            }
            Node::If(conditional, _) => {
                for (_, _, body) in &conditional.conditions {
                    collect_includes(body, out);
                }
                if let Some((_, body)) = &conditional.otherwise {
                    collect_includes(body, out);
                }
            }
            _ => {}
        }
    }
}

/// A diagnostic for a Tera error in template `name`, at the position Tera reports when it has one.
pub fn template_error(error: &tera::Error, name: &str, locate: &Locate) -> Diagnostic {
    let text = error_text(error);
    let Located {
        file,
        source,
        start,
        protected,
    } = locate(name);
    let parsed: &str = match &protected {
        Some(p) => &p.text,
        None => &source[start..],
    };
    let to_source = |i: usize| start + protected.as_ref().map_or(i, |p| p.original_offset(i));
    let mut message = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("= "))
        .map(|l| l.trim_start().trim_start_matches("= ").to_string())
        .unwrap_or_else(|| first_line(&text))
        .replace(name, &file);
    let mut help = "see https://keats.github.io/tera/docs/ for template syntax".to_string();
    let unclosed = position(&text).and_then(|_| unbalanced_tag(parsed));
    let offset = if let Some(tag) = &unclosed {
        message = tag.message.clone();
        help = tag.help.clone();
        tag.offset
    } else {
        position(&text)
            .map(|(line, col)| offset_of(parsed, line, col))
            .or_else(|| call_site(&text, parsed))
            .or_else(|| missing_name(&text).and_then(|n| parsed.find(&n)))
            .unwrap_or(0)
    };
    if name.starts_with(BODY_PREFIX) {
        help.push_str(LITERAL_BRACES_HINT);
    }
    let offset = to_source(offset);
    Diagnostic::error("template", message)
        .at(Location::new(file, source, offset..offset + 1))
        .help(help)
}

/// Said after every template error in a document body.
const LITERAL_BRACES_HINT: &str = "; to show `{{` or `{%` as text, put it in `code` or write \
     `{{ \"{{\" }}` (see \"Literal braces\" in the README)";

/// A block tag left open, or an end tag that closes nothing.
struct UnbalancedTag {
    offset: usize,
    message: String,
    help: String,
}

/// The first block tag (`{% if %}`, `{% for %}`, …) of `template` that is never closed, or the
/// first end tag that closes nothing or the wrong block: Tera itself reports these at the end of
/// the file or at the end tag, far from the construct that opened the problem.
fn unbalanced_tag(template: &str) -> Option<UnbalancedTag> {
    const BLOCKS: [&str; 6] = ["if", "for", "block", "macro", "filter", "raw"];
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut rest_at = 0;
    while let Some(found) = template[rest_at..].find("{%") {
        let at = rest_at + found;
        let inner = template[at + 2..].trim_start_matches(['-', ' ', '\t', '\n', '\r']);
        let keyword: &str = &inner[..inner
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(inner.len())];
        rest_at = at + 2;
        let in_raw = open.last().is_some_and(|(k, _)| *k == "raw");
        if in_raw && keyword != "endraw" {
            continue;
        }
        if BLOCKS.contains(&keyword) {
            open.push((keyword, at));
        } else if let Some(closed) = keyword.strip_prefix("end") {
            match open.pop() {
                Some((opened, _)) if opened == closed => {}
                Some((opened, opened_at)) => {
                    return Some(UnbalancedTag {
                        offset: opened_at,
                        message: format!("`{{% {opened} %}}` is closed by `{{% end{closed} %}}`"),
                        help: format!(
                            "close it with `{{% end{opened} %}}` before `{{% end{closed} %}}`"
                        ),
                    });
                }
                None => {
                    return Some(UnbalancedTag {
                        offset: at,
                        message: format!("`{{% end{closed} %}}` closes nothing"),
                        help: format!(
                            "remove it, or open the block with `{{% {closed} … %}}` before it"
                        ),
                    });
                }
            }
        }
    }
    open.first().map(|&(opened, offset)| UnbalancedTag {
        offset,
        message: format!("`{{% {opened} %}}` is never closed"),
        help: format!("add `{{% end{opened} %}}` where the block ends"),
    })
}

/// The error and all its causes, one per line.
pub fn error_text(error: &tera::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push('\n');
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("template error")
        .to_string()
}

/// Tera (pest) parse errors carry ` --> line:col`.
fn position(text: &str) -> Option<(usize, usize)> {
    let at = text.find("--> ")?;
    let rest = &text[at + 4..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit() && c != ':')
        .unwrap_or(rest.len());
    let (line, col) = rest[..end].split_once(':')?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

/// Where the failed call is in `template`, for render errors that name a function or filter but
/// no position ("Function call 'partner' failed"): the call whose arguments hold a quoted value
/// the message names in backticks (the unknown id), else the first call of that name.
fn call_site(text: &str, template: &str) -> Option<usize> {
    let quoted = |prefix: &str| {
        let rest = &text[text.find(prefix)? + prefix.len()..];
        Some(&rest[..rest.find('\'')?])
    };
    let (name, filter) = match quoted("Function call '") {
        Some(name) => (name, false),
        None => (quoted("Filter call '")?, true),
    };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let calls: Vec<usize> = template
        .match_indices(name)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = template[..i].trim_end();
            let after = template[i + name.len()..].trim_start();
            !template[..i].ends_with(is_ident)
                && !after.starts_with(is_ident)
                && if filter {
                    before.ends_with('|')
                } else {
                    after.starts_with('(')
                }
        })
        .collect();
    let named: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
    let arguments = |i: usize| {
        let rest = &template[i..];
        &rest[..rest.find([')', '}', '%']).unwrap_or(rest.len())]
    };
    calls
        .iter()
        .copied()
        .find(|&i| {
            named.iter().any(|value| {
                let args = arguments(i);
                args.contains(&format!("\"{value}\"")) || args.contains(&format!("'{value}'"))
            })
        })
        .or(calls.first().copied())
}

/// The name in "Variable `x` not found" / "Function `f` not found" style messages.
fn missing_name(text: &str) -> Option<String> {
    let start = text.find('`')? + 1;
    let end = start + text[start..].find('`')?;
    let name = &text[start..end];
    (!name.is_empty()).then(|| name.to_string())
}

fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line_text = text[line_start.min(text.len())..]
        .lines()
        .next()
        .unwrap_or("");
    line_start
        + line_text
            .chars()
            .take(col.saturating_sub(1))
            .map(char::len_utf8)
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_point_into_the_template() {
        let mut tera = new_tera(Escaping::Html);
        let source: Arc<str> = Arc::from("<p>\n{{ page.title }\n</p>");
        let templates = vec![("x.html".to_string(), source.clone())];
        let locate = |_: &str| Located {
            file: "templates/x.html".to_string(),
            source: source.clone(),
            start: 0,
            protected: None,
        };
        let errors = add_all(&mut tera, &templates, &locate).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].position().starts_with("templates/x.html:2:"),
            "{}",
            errors[0].position()
        );
    }

    #[test]
    fn failed_calls_point_at_the_call_with_the_unknown_value() {
        let template =
            "partner says {{ partner(id=\"ACME\").name }}\n{{ partner(id=\"NOPE\").name }}";
        let text = "Failed to render\nFunction call 'partner' failed\n`partner`: no partner `NOPE` in the data snapshot";
        assert_eq!(call_site(text, template), template.rfind("partner("));
        let other = "Function call 'partner' failed\n`partner`: `id` is required";
        assert_eq!(call_site(other, template), template.find("partner("));
        let filter = "Filter call 'percent' failed\nnot a number";
        assert_eq!(call_site(filter, "{{ x | percent }} percent"), Some(7));
    }

    #[test]
    fn dependencies_follow_extends_imports_and_includes() {
        let mut tera = new_tera(Escaping::Html);
        tera.add_raw_templates(vec![
            ("base.html", "{% import \"macros.html\" as m %}<main>{% block content %}{% endblock %}</main>"),
            ("macros.html", "{% macro x() %}{% include \"partials/x.html\" %}{% endmacro %}"),
            ("partials/x.html", "x"),
            ("page.html", "{% extends \"base.html\" %}{% block content %}{% if a %}{% include \"partials/y.html\" %}{% endif %}{% endblock %}"),
            ("partials/y.html", "y"),
            ("unused.html", "u"),
        ])
        .unwrap();
        assert_eq!(
            dependencies(&tera, "page.html"),
            [
                "base.html",
                "macros.html",
                "page.html",
                "partials/x.html",
                "partials/y.html"
            ]
        );
    }

    #[test]
    fn get_env_is_disabled() {
        let mut tera = new_tera(Escaping::Markup);
        tera.add_raw_template("t.md", "{{ get_env(name=\"HOME\") }}")
            .unwrap();
        let err = tera.render("t.md", &tera::Context::new()).unwrap_err();
        assert!(
            error_text(&err).contains("disabled"),
            "{}",
            error_text(&err)
        );
    }

    #[test]
    fn values_are_escaped_in_markdown_templates() {
        let mut tera = new_tera(Escaping::Markup);
        tera.add_raw_template("t.md", "{{ v }}").unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("v", "<b>[x](javascript:y)</b>");
        let out = tera.render("t.md", &ctx).unwrap();
        assert!(!out.contains('<') && !out.contains('['), "{out}");
    }
}

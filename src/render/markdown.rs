//! Markdown preparation: parses a body once into a pulldown-cmark event stream and makes it ready
//! for every writer — stable, de-duplicated heading ids; relative links to documents resolved to
//! page references (`kb:` URLs that each writer maps to its own form); bare URLs autolinked;
//! internal-only passages kept (internal view) or dropped (partner view). Problems found on the way
//! (a link to a missing document, a missing image, an unclosed internal marker) are diagnostics.

use std::collections::HashSet;
use std::ops::Range;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::content::{Site, url};

/// Who a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    Internal,
    Partner,
}

pub const INTERNAL_OPEN: &str = "<!-- internal -->";
pub const INTERNAL_CLOSE: &str = "<!-- /internal -->";
const PAGE_SCHEME: &str = "kb:";
const ASSET_SCHEME: &str = "asset:";

pub fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM
}

/// Where a heading's `{#id}` starts in `line` (the heading's source or text, trailing space
/// trimmed) and the id. Only this form is syntax: any other brace group (`/partners/{id}`,
/// `{.class}`) stays text.
pub fn heading_id_suffix(line: &str) -> Option<(usize, &str)> {
    let inner = line.strip_suffix('}')?;
    let at = inner.rfind("{#")?;
    let id = &inner[at + 2..];
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    let separated = at == 0 || line[..at].ends_with([' ', '\t']);
    (valid && separated).then_some((at, id))
}

/// Takes `{#id}` off the end of each heading into the heading's id, and turns U+0000 into
/// U+FFFD (CommonMark: the NUL character is never passed through).
fn heading_ids_and_nul<'a>(
    mut events: Vec<(Event<'a>, Range<usize>)>,
) -> Vec<(Event<'a>, Range<usize>)> {
    let mut heading_start = None;
    for i in 0..events.len() {
        match &mut events[i].0 {
            Event::Start(Tag::Heading { .. }) => heading_start = Some(i),
            Event::End(TagEnd::Heading(_)) => {
                let Some(start) = heading_start.take() else {
                    continue;
                };
                let Some((Event::Text(text), _)) = events[..i].last() else {
                    continue;
                };
                let trimmed = text.trim_end();
                let Some((at, id)) = heading_id_suffix(trimmed) else {
                    continue;
                };
                let (id, kept) = (
                    CowStr::from(id.to_string()),
                    trimmed[..at].trim_end().to_string(),
                );
                events[i - 1].0 = Event::Text(CowStr::from(kept));
                if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[start].0 {
                    *slot = Some(id);
                }
            }
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text)
                if text.contains('\0') =>
            {
                *text = CowStr::from(text.replace('\0', "\u{FFFD}"));
            }
            _ => {}
        }
    }
    events
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub title: String,
}

/// A link to another page's anchor, checked once every page's headings are known.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AnchorRef {
    pub page: usize,
    pub anchor: String,
    /// Byte range of the link in the markdown that was parsed.
    pub span: Range<usize>,
}

/// Where a link points, as prepared for the writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Page {
        page: usize,
        anchor: Option<&'a str>,
    },
    Asset(&'a str),
    External(&'a str),
}

/// Decodes a prepared link destination.
pub fn target(dest: &str) -> Target<'_> {
    if let Some(rest) = dest.strip_prefix(PAGE_SCHEME) {
        let (page, anchor) = rest
            .split_once('#')
            .map_or((rest, None), |(p, a)| (p, Some(a)));
        if let Ok(page) = page.parse() {
            return Target::Page { page, anchor };
        }
    }
    match dest.strip_prefix(ASSET_SCHEME) {
        Some(asset) => Target::Asset(asset),
        None => Target::External(dest),
    }
}

/// A link (or image) to an `http(s)` URL outside the site, for `kbpub check --external`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalLink {
    pub url: String,
    /// Byte range of the link in the markdown that was parsed.
    pub span: Range<usize>,
}

/// A problem found while preparing; the caller turns the span into a file location.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub span: Range<usize>,
    pub help: String,
}

#[derive(Debug)]
pub struct Prepared<'a> {
    pub events: Vec<Event<'a>>,
    pub headings: Vec<Heading>,
    pub anchor_refs: Vec<AnchorRef>,
    pub problems: Vec<Problem>,
    /// Internal-only passages were present (and, in the partner view, removed).
    pub had_internal: bool,
    /// Pages this one links to.
    pub links_to: Vec<usize>,
    /// Links to `http(s)` URLs, in document order.
    pub external_links: Vec<ExternalLink>,
}

/// Prepares `markdown`, the body of page `page` of `site`, for `view`.
pub fn prepare<'a>(markdown: &'a str, site: &Site, page: usize, view: View) -> Prepared<'a> {
    let mut prep = Preparer {
        site,
        page,
        dir: url::parent_dir(&site.pages[page].rel_path).to_string(),
        out: Prepared {
            events: Vec::new(),
            headings: Vec::new(),
            anchor_refs: Vec::new(),
            problems: Vec::new(),
            had_internal: false,
            links_to: Vec::new(),
            external_links: Vec::new(),
        },
        used_ids: HashSet::new(),
    };
    let events: Vec<(Event<'a>, Range<usize>)> = Parser::new_ext(markdown, options())
        .into_offset_iter()
        .collect();
    let events = prep.drop_or_keep_internal(heading_ids_and_nul(events), view);
    prep.assign_heading_ids(events, markdown);
    prep.out
}

struct Preparer<'s, 'a> {
    site: &'s Site,
    page: usize,
    dir: String,
    out: Prepared<'a>,
    used_ids: HashSet<String>,
}

/// `Some(true)` for an opening internal marker event, `Some(false)` for a closing one.
pub fn internal_marker_event(event: &Event) -> Option<bool> {
    match event {
        Event::Html(html) => match html.trim() {
            INTERNAL_OPEN => Some(true),
            INTERNAL_CLOSE => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl<'s, 'a> Preparer<'s, 'a> {
    fn problem(&mut self, code: &'static str, message: String, span: Range<usize>, help: &str) {
        self.out.problems.push(Problem {
            code,
            message,
            span,
            help: help.to_string(),
        });
    }

    /// Checks internal markers pair up; in the partner view removes what they enclose. A marker
    /// is a one-line HTML comment, which CommonMark always makes its own HTML block.
    fn drop_or_keep_internal(
        &mut self,
        events: Vec<(Event<'a>, Range<usize>)>,
        view: View,
    ) -> Vec<(Event<'a>, Range<usize>)> {
        let partner = view == View::Partner;
        let mut kept: Vec<(Event<'a>, Range<usize>)> = Vec::with_capacity(events.len());
        let mut open: Option<Range<usize>> = None;
        let mut drop_closing_block = false;
        for (event, range) in events {
            match internal_marker_event(&event) {
                Some(true) => {
                    self.out.had_internal = true;
                    if let Some(previous) = open.replace(range.clone()) {
                        self.problem("internal-marker", "internal passage opened twice".into(), previous,
                            "close the first passage with `<!-- /internal -->` before opening another");
                    }
                    if partner && matches!(kept.last(), Some((Event::Start(Tag::HtmlBlock), _))) {
                        kept.pop();
                    }
                }
                Some(false) => {
                    if open.take().is_none() {
                        self.problem(
                            "internal-marker",
                            "`<!-- /internal -->` without an opening marker".into(),
                            range.clone(),
                            "add `<!-- internal -->` on its own line where the passage starts",
                        );
                    }
                    drop_closing_block = partner;
                    if partner {
                        continue;
                    }
                }
                None => {}
            }
            let in_passage = open.is_some();
            let closing_block_end =
                drop_closing_block && matches!(event, Event::End(TagEnd::HtmlBlock));
            drop_closing_block &= !closing_block_end;
            if !(partner && (in_passage || closing_block_end)) {
                kept.push((event, range));
            }
        }
        if let Some(range) = open {
            self.problem(
                "internal-marker",
                "internal passage is never closed".into(),
                range,
                "add `<!-- /internal -->` on its own line where the passage ends",
            );
        }
        kept
    }

    fn assign_heading_ids(&mut self, events: Vec<(Event<'a>, Range<usize>)>, markdown: &'a str) {
        // Explicit `{#id}` attributes claim their ids first, so generated ones never steal them.
        for (event, _) in &events {
            if let Event::Start(Tag::Heading { id: Some(id), .. }) = event {
                self.used_ids.insert(id.to_string());
            }
        }
        let mut out: Vec<Event<'a>> = Vec::with_capacity(events.len());
        let mut heading: Option<(usize, String)> = None; // (index of Start in out, plain text)
        let mut in_link_or_code = 0usize;
        for (event, range) in events {
            match event {
                Event::Start(Tag::Heading { .. }) => {
                    heading = Some((out.len(), String::new()));
                    out.push(event);
                }
                Event::End(TagEnd::Heading(level)) => {
                    if let Some((start, text)) = heading.take() {
                        let id = match &mut out[start] {
                            Event::Start(Tag::Heading { id: Some(id), .. }) => id.to_string(),
                            Event::Start(Tag::Heading { id, .. }) => {
                                let generated = self.unique_id(&slug(&text));
                                *id = Some(CowStr::from(generated.clone()));
                                generated
                            }
                            _ => unreachable!("heading start recorded"),
                        };
                        self.out.headings.push(Heading {
                            level: level as u8,
                            id,
                            title: text.trim().to_string(),
                        });
                    }
                    out.push(Event::End(TagEnd::Heading(level)));
                }
                Event::Text(ref text) | Event::Code(ref text) => {
                    if let Some((_, plain)) = &mut heading {
                        plain.push_str(text);
                    }
                    if in_link_or_code == 0
                        && matches!(event, Event::Text(_))
                        && &markdown[range.clone()] == text.as_ref()
                    {
                        self.autolink(event, range.start, &mut out);
                    } else {
                        out.push(event);
                    }
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    in_link_or_code += 1;
                    let dest_url = match link_type {
                        LinkType::Email => dest_url,
                        LinkType::Autolink => {
                            self.note_external(&dest_url, range);
                            dest_url
                        }
                        _ => self.resolve(dest_url, range, false),
                    };
                    out.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    in_link_or_code += 1;
                    let dest_url = self.resolve(dest_url, range, true);
                    out.push(Event::Start(Tag::Image {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    in_link_or_code += 1;
                    out.push(event);
                }
                Event::End(TagEnd::Link | TagEnd::Image | TagEnd::CodeBlock) => {
                    in_link_or_code = in_link_or_code.saturating_sub(1);
                    out.push(event);
                }
                other => out.push(other),
            }
        }
        self.out.links_to.sort_unstable();
        self.out.links_to.dedup();
        self.out.events = out;
    }

    fn unique_id(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "section" } else { base };
        let mut candidate = base.to_string();
        let mut n = 0;
        while !self.used_ids.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        candidate
    }

    /// Splits a text event at bare URLs (GFM autolinks) and pushes the result; `start` is where
    /// the text starts in the markdown.
    fn autolink(&mut self, event: Event<'a>, start: usize, out: &mut Vec<Event<'a>>) {
        let Event::Text(text) = event else {
            return out.push(event);
        };
        let mut finder = linkify::LinkFinder::new();
        finder.kinds(&[linkify::LinkKind::Url]);
        if finder.links(&text).next().is_none() {
            return out.push(Event::Text(text));
        }
        for span in finder.spans(&text) {
            let piece = CowStr::from(span.as_str().to_string());
            match span.kind() {
                Some(linkify::LinkKind::Url) => {
                    self.note_external(span.as_str(), start + span.start()..start + span.end());
                    out.push(Event::Start(Tag::Link {
                        link_type: LinkType::Autolink,
                        dest_url: piece.clone(),
                        title: CowStr::Borrowed(""),
                        id: CowStr::Borrowed(""),
                    }));
                    out.push(Event::Text(piece));
                    out.push(Event::End(TagEnd::Link));
                }
                _ => out.push(Event::Text(piece)),
            }
        }
    }

    /// Records a link to an `http(s)` URL (other schemes, such as `mailto:`, are not checked).
    fn note_external(&mut self, dest: &str, span: Range<usize>) {
        let scheme = dest.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        if matches!(scheme.as_deref(), Some("http" | "https")) {
            self.out.external_links.push(ExternalLink {
                url: dest.to_string(),
                span,
            });
        }
    }

    /// Resolves a link destination written in the document.
    fn resolve(&mut self, dest: CowStr<'a>, span: Range<usize>, is_image: bool) -> CowStr<'a> {
        if is_external(&dest) {
            self.note_external(&dest, span);
            return dest;
        }
        let (path, anchor) = dest
            .split_once('#')
            .map_or((dest.as_ref(), None), |(p, a)| (p, Some(a)));
        let path = percent_decode(path);
        if path.is_empty() {
            // `#anchor` on this page.
            if let Some(anchor) = anchor {
                self.out.anchor_refs.push(AnchorRef {
                    page: self.page,
                    anchor: anchor.to_string(),
                    span,
                });
            }
            return dest;
        }
        let joined = if let Some(abs) = path.strip_prefix('/') {
            url::join("", abs)
        } else {
            url::join(&self.dir, &path)
        };
        let Some(joined) = joined else {
            self.problem(
                "broken-link",
                format!("link `{dest}` leads outside `content/`"),
                span,
                "link to a file inside `content/` with a relative path",
            );
            return dest;
        };
        if let Some(target) = self.page_for(&joined, &path) {
            if let Some(anchor) = anchor {
                self.out.anchor_refs.push(AnchorRef {
                    page: target,
                    anchor: anchor.to_string(),
                    span,
                });
            }
            self.out.links_to.push(target);
            let anchor = anchor.map(|a| format!("#{a}")).unwrap_or_default();
            return CowStr::from(format!("{PAGE_SCHEME}{target}{anchor}"));
        }
        if self.site.has_asset(&joined) {
            return CowStr::from(format!("{ASSET_SCHEME}{joined}"));
        }
        let (code, what) = if is_image {
            ("missing-image", "image")
        } else {
            ("broken-link", "document")
        };
        self.problem(
            code,
            format!("no {what} at `{path}` (looked for `content/{joined}`)"),
            span,
            "fix the path: links are relative to this file, e.g. `../sops/other-doc.md#heading`",
        );
        dest
    }

    /// The page a resolved path names: a Markdown file, or a folder (its section page).
    fn page_for(&self, joined: &str, written: &str) -> Option<usize> {
        if joined.ends_with(".md") {
            return self.site.page_by_rel_path(joined);
        }
        if written.ends_with('/')
            || joined.is_empty()
            || !joined.rsplit('/').next().unwrap_or("").contains('.')
        {
            let index = if joined.is_empty() {
                "_index.md".to_string()
            } else {
                format!("{joined}/_index.md")
            };
            return self.site.page_by_rel_path(&index);
        }
        None
    }
}

/// URLs with a scheme (`https:`, `mailto:`) or protocol-relative ones are left alone.
fn is_external(dest: &str) -> bool {
    if dest.starts_with("//") {
        return true;
    }
    let scheme_end = dest.find(':');
    let path_start = dest.find(['/', '#', '?']).unwrap_or(dest.len());
    matches!(scheme_end, Some(i) if i > 0 && i < path_start
        && dest[..i].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// GitHub's heading slug: lowercase; letters, digits, `-` and `_` kept; spaces become `-`;
/// everything else dropped.
pub fn slug(text: &str) -> String {
    text.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_github() {
        assert_eq!(
            slug("AK5 — Transaction Set Response (997)"),
            "ak5--transaction-set-response-997"
        );
        assert_eq!(slug("What's new?"), "whats-new");
        assert_eq!(slug("Ünïcode Heading"), "ünïcode-heading");
    }

    #[test]
    fn external_detection() {
        assert!(is_external("https://x12.org"));
        assert!(is_external("mailto:a@b.c"));
        assert!(!is_external("../sops/x.md"));
        assert!(!is_external("x.md#a:b"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b.md"), "a b.md");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn targets_round_trip() {
        assert_eq!(
            target("kb:3#x"),
            Target::Page {
                page: 3,
                anchor: Some("x")
            }
        );
        assert_eq!(
            target("kb:3"),
            Target::Page {
                page: 3,
                anchor: None
            }
        );
        assert_eq!(target("asset:a/b.png"), Target::Asset("a/b.png"));
        assert_eq!(target("https://a"), Target::External("https://a"));
    }
}

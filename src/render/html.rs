//! The site HTML writer: turns a prepared event stream into the body HTML of a site page —
//! headings with ids, GitHub alerts as callouts, highlighted code, wrapped tables,
//! internal-only passages marked, and `kb:`/`asset:` links mapped to relative hrefs.

use pulldown_cmark::{CowStr, Event, Tag, TagEnd, html};

use super::fence::Fence;
use super::highlight;
use super::markdown::{Target, internal_marker_event, target};
use crate::content::{Site, url};
use crate::text::escape_html;

/// Maps a prepared link destination to an href relative to the page at `from_url`.
pub fn href_for(site: &Site, from_url: &str, dest: &str) -> String {
    match target(dest) {
        Target::Page { page, anchor } => {
            url::with_anchor(url::relative_href(from_url, &site.pages[page].url), anchor)
        }
        Target::Asset(asset) => url::relative_href(from_url, asset),
        Target::External(external) => external.to_string(),
    }
}

/// Writes `events` as HTML for the page at `from_url`.
pub fn write(site: &Site, from_url: &str, events: &[Event<'_>], highlight_code: bool) -> String {
    let mut out = String::with_capacity(events.len() * 24);
    let mut code: Option<(Fence, String)> = None; // (fence, text) while inside a code block
    let mut mapped: Vec<Event<'_>> = Vec::with_capacity(events.len());
    for event in events {
        if let Some((fence, text)) = &mut code {
            match event {
                Event::Text(t) => text.push_str(t),
                Event::End(TagEnd::CodeBlock) => {
                    mapped.push(Event::Html(CowStr::from(code_block(
                        fence,
                        text,
                        highlight_code,
                    ))));
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => code = Some((Fence::of(kind), String::new())),
            Event::Start(Tag::Heading { level, id, .. }) => {
                let id = escape_html(id.as_deref().unwrap_or(""));
                // The hover `#` link is added by the page script: the TOC already links every
                // heading without JavaScript, and leaving it out of the HTML keeps pages lean.
                mapped.push(Event::Html(CowStr::from(format!("<{level} id=\"{id}\">"))));
            }
            Event::End(TagEnd::Heading(level)) => mapped.push(Event::Html(CowStr::from(format!("</{level}>\n")))),
            Event::Start(Tag::BlockQuote(Some(kind))) => {
                let (class, title) = alert(*kind);
                mapped.push(Event::Html(CowStr::from(format!(
                    "<div class=\"callout callout-{class}\"><p class=\"callout-title\">{title}</p>\n"
                ))));
            }
            Event::End(TagEnd::BlockQuote(Some(_))) => mapped.push(Event::Html(CowStr::Borrowed("</div>\n"))),
            Event::Start(Tag::Table(_)) => {
                mapped.push(Event::Html(CowStr::Borrowed("<div class=\"table-wrap\">")));
                mapped.push(event.clone());
            }
            Event::End(TagEnd::Table) => {
                mapped.push(event.clone());
                mapped.push(Event::Html(CowStr::Borrowed("</div>\n")));
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => mapped.push(Event::Start(Tag::Link {
                link_type: *link_type,
                dest_url: CowStr::from(href_for(site, from_url, dest_url)),
                title: title.clone(),
                id: id.clone(),
            })),
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => mapped.push(Event::Start(Tag::Image {
                link_type: *link_type,
                dest_url: CowStr::from(href_for(site, from_url, dest_url)),
                title: title.clone(),
                id: id.clone(),
            })),
            Event::Html(_) => match internal_marker_event(event) {
                Some(true) => mapped.push(Event::Html(CowStr::Borrowed(
                    "<div class=\"internal-only\"><p class=\"internal-only-title\">Internal only</p>\n",
                ))),
                Some(false) => mapped.push(Event::Html(CowStr::Borrowed("</div>\n"))),
                None => mapped.push(event.clone()),
            },
            other => mapped.push(other.clone()),
        }
    }
    html::push_html(&mut out, mapped.into_iter());
    out
}

/// How a process map starts in the site HTML: the layout loads the bundled Mermaid script only on
/// pages whose body holds one.
pub const DIAGRAM_OPEN: &str = "<pre class=\"mermaid\">";

/// A code block: a process map (`mermaid`) as its source for the diagram script to draw, else
/// highlighted code with its title and highlighted lines.
fn code_block(fence: &Fence, text: &str, highlight_code: bool) -> String {
    if fence.is_mermaid() {
        return format!("{DIAGRAM_OPEN}{}</pre>\n", escape_html(text));
    }
    let lang = &fence.lang;
    let mut body = if highlight_code && !lang.is_empty() {
        highlight::highlight(text, lang)
    } else {
        escape_html(text)
    };
    if !fence.lines.is_empty() {
        body = mark_lines(&body, fence);
    }
    let pre = if lang.is_empty() {
        format!("<pre class=\"code\"><code>{body}</code></pre>")
    } else {
        let lang = escape_html(lang);
        format!(
            "<pre class=\"code\" data-lang=\"{lang}\"><code class=\"language-{lang}\">{body}</code></pre>"
        )
    };
    match &fence.title {
        Some(title) => format!(
            "<figure class=\"code-block\"><figcaption class=\"code-title\">{}</figcaption>{pre}</figure>\n",
            escape_html(title)
        ),
        None => format!("{pre}\n"),
    }
}

/// Wraps the highlighted lines of `html` (code HTML: text and one level of `<span>`) in
/// `<span class="hl-line">`. A span open at a line's end is closed there and opened again on the
/// next line, so every line is well-formed on its own.
fn mark_lines(html: &str, fence: &Fence) -> String {
    let mut out = String::with_capacity(html.len() + fence.lines.len() * 32);
    let mut open: Option<&str> = None;
    for (index, line) in html.split_inclusive('\n').enumerate() {
        let (content, newline) = match line.strip_suffix('\n') {
            Some(content) => (content, "\n"),
            None => (line, ""),
        };
        let marked = fence.highlights(index + 1);
        if marked {
            out.push_str("<span class=\"hl-line\">");
        }
        out.extend(open);
        out.push_str(content);
        let mut rest = content;
        while let Some(at) = rest.find('<') {
            rest = &rest[at..];
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            open = if rest.starts_with("</") {
                None
            } else {
                Some(&rest[..end])
            };
            rest = &rest[end..];
        }
        if open.is_some() {
            out.push_str("</span>");
        }
        out.push_str(newline);
        if marked {
            out.push_str("</span>");
        }
    }
    out
}

/// CSS class suffix and title of a GitHub alert.
pub fn alert(kind: pulldown_cmark::BlockQuoteKind) -> (&'static str, &'static str) {
    use pulldown_cmark::BlockQuoteKind::*;
    match kind {
        Note => ("note", "Note"),
        Tip => ("tip", "Tip"),
        Important => ("important", "Important"),
        Warning => ("warning", "Warning"),
        Caution => ("caution", "Caution"),
    }
}

/// The readable text of `events` (no markup, code blocks left out), for the search index.
pub fn plain_text(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    let mut in_code_block = false;
    for event in events {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Text(t) | Event::Code(t) if !in_code_block => text.push_str(t),
            Event::SoftBreak | Event::HardBreak | Event::End(_) if !text.ends_with(' ') => {
                text.push(' ')
            }
            _ => {}
        }
    }
    text.trim().to_string()
}

//! The community HTML writer: turns a prepared event stream (the partner view of a page, the same
//! events the site and Confluence writers read) into the partner community's restricted HTML
//! subset (`community-v1`): GitHub alerts as `div.callout`, code as `pre > code`, task lists as
//! text boxes, charts and content images as PNG (or JPEG/GIF/WebP) `data:` images, links to other
//! partner documents as absolute article URLs and links to anything else as plain text. The
//! result is then sanitised with ammonia against exactly the contract's allowlist, so whatever a
//! document or a data value holds, the body sent is inside the subset.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use base64::Engine as _;
use pulldown_cmark::{CowStr, Event, LinkType, Tag, TagEnd, html};

use super::fence::Fence;
use super::html::alert;
use super::markdown::{Target, internal_marker_event, target};
use super::storage::{DIAGRAM_NOTE, chart_svg, chart_title, inner_text};
use crate::text::escape_html;

/// The elements the contract allows.
pub const TAGS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "img",
    "hr",
    "br",
    "span",
    "div",
];
/// The attributes the contract allows (on any allowed element).
pub const ATTRIBUTES: &[&str] = &["href", "src", "alt", "title", "class", "id"];
/// Image types a `data:` URL may carry.
pub const DATA_IMAGE_TYPES: &[&str] = &["png", "jpeg", "gif", "webp"];

/// What the writer needs from outside: where links to other pages go, and image bytes.
pub trait Resolver {
    /// The absolute URL of page `page` for partners (with `#anchor`), or `None` when partners
    /// cannot open it: the link becomes plain text.
    fn page_url(&self, page: usize, anchor: Option<&str>) -> Option<String>;
    /// A `data:` URL for a content image (`asset` is relative to `content/`).
    fn image(&self, asset: &str) -> Result<String, String>;
    /// A `data:` URL for an SVG chart.
    fn chart(&self, svg: &str) -> Result<String, String>;
    /// Page URLs are relative (the partner view of the site); on the community they are absolute
    /// and relative links are dropped, since they lead nowhere there.
    fn relative_links(&self) -> bool {
        false
    }
}

#[derive(Debug, Default)]
pub struct CommunityHtml {
    /// The body to send: sanitised, inside the contract's subset.
    pub html: String,
    /// The writer's output before sanitising (raw HTML from the document passed through), for
    /// the leak check: the sanitiser strips comments, so a stray internal marker shows only here.
    pub unsanitised: String,
    /// Images that could not be embedded, and why.
    pub problems: Vec<String>,
}

/// A code block in the contract's subset: `pre > code`, its title as a paragraph above it; a
/// process map (`mermaid`) as its source under a note that the diagram is drawn on the site.
fn code_block(fence: &Fence, code: &str) -> String {
    let class = if fence.lang.is_empty() {
        String::new()
    } else {
        format!(" class=\"language-{}\"", escape_html(&fence.lang))
    };
    let caption = match (&fence.title, fence.is_mermaid()) {
        (_, true) => {
            format!("<p class=\"code-title\"><strong>Process map.</strong> {DIAGRAM_NOTE}</p>\n")
        }
        (Some(title), false) => format!(
            "<p class=\"code-title\"><code>{}</code></p>\n",
            escape_html(title)
        ),
        (None, false) => String::new(),
    };
    format!(
        "{caption}<pre><code{class}>{}</code></pre>\n",
        escape_html(code)
    )
}

/// Writes `events` as community HTML.
pub fn write(events: &[Event<'_>], resolver: &dyn Resolver) -> CommunityHtml {
    let mut problems = Vec::new();
    let mut mapped: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut links: Vec<bool> = Vec::new(); // for each open link: written as a link?
    let mut i = 0;
    while i < events.len() {
        let event = &events[i];
        i += 1;
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let (code, next) = inner_text(events, i - 1, TagEnd::CodeBlock);
                i = next;
                mapped.push(html_event(code_block(&Fence::of(kind), &code)));
            }
            Event::Start(Tag::BlockQuote(Some(kind))) => {
                let (class, title) = alert(*kind);
                mapped.push(html_event(format!(
                    "<div class=\"callout callout-{class}\"><p class=\"callout-title\"><strong>{title}</strong></p>\n"
                )));
            }
            Event::End(TagEnd::BlockQuote(Some(_))) => mapped.push(html_event("</div>\n".into())),
            Event::Start(Tag::Strikethrough) => {
                mapped.push(html_event("<span class=\"strikethrough\">".into()))
            }
            Event::End(TagEnd::Strikethrough) => mapped.push(html_event("</span>".into())),
            Event::TaskListMarker(done) => mapped.push(Event::Text(CowStr::Borrowed(if *done {
                "\u{2611} "
            } else {
                "\u{2610} "
            }))),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let href = match target(dest_url) {
                    _ if *link_type == LinkType::Email => Some(format!("mailto:{dest_url}")),
                    Target::Page { page, anchor } => resolver.page_url(page, anchor),
                    Target::External(url) if url.starts_with('#') || is_safe_link(url) => {
                        Some(url.to_string())
                    }
                    Target::External(_) | Target::Asset(_) => None,
                };
                links.push(href.is_some());
                if let Some(href) = href {
                    mapped.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url: CowStr::from(href),
                        title: title.clone(),
                        id: id.clone(),
                    }));
                }
            }
            Event::End(TagEnd::Link) => {
                if links.pop().unwrap_or(false) {
                    mapped.push(event.clone());
                }
            }
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => {
                let (alt, next) = inner_text(events, i - 1, TagEnd::Image);
                i = next;
                let src = match target(dest_url) {
                    Target::Asset(asset) => resolver
                        .image(asset)
                        .map_err(|e| problems.push(format!("image `{asset}`: {e}")))
                        .ok(),
                    Target::External(url) if url.to_ascii_lowercase().starts_with("https://") => {
                        Some(url.to_string())
                    }
                    _ => None,
                };
                mapped.push(html_event(match src {
                    Some(src) => img(&src, &alt, title),
                    None => escape_html(&alt),
                }));
            }
            Event::Start(Tag::HtmlBlock) => {
                let (block, next) = html_block(events, i - 1);
                i = next;
                if let Some(svg) = chart_svg(&block) {
                    match resolver.chart(svg) {
                        Ok(src) => mapped.push(html_event(format!(
                            "<p>{}</p>\n",
                            img(
                                &src,
                                &chart_title(&block).unwrap_or_else(|| "Chart".into()),
                                ""
                            )
                        ))),
                        Err(e) => problems.push(format!("chart: {e}")),
                    }
                } else {
                    mapped.push(html_event(block));
                }
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => {
                mapped.push(Event::Text(math.clone()))
            }
            other => mapped.push(other.clone()),
        }
    }
    let mut unsanitised = String::with_capacity(events.len() * 24);
    html::push_html(&mut unsanitised, mapped.into_iter());
    CommunityHtml {
        html: match resolver.relative_links() {
            true => SITE_SANITISER.clean(&unsanitised).to_string(),
            false => sanitise(&unsanitised),
        },
        unsanitised,
        problems,
    }
}

fn html_event(html: String) -> Event<'static> {
    Event::Html(CowStr::from(html))
}

fn img(src: &str, alt: &str, title: &str) -> String {
    let title = if title.is_empty() {
        String::new()
    } else {
        format!(" title=\"{}\"", escape_html(title))
    };
    format!(
        "<img src=\"{}\" alt=\"{}\"{title}>",
        escape_html(src),
        escape_html(alt)
    )
}

/// The raw HTML of the block starting at `start` (internal markers left out: in the partner view
/// their passages are already gone) and the index after its end.
fn html_block(events: &[Event<'_>], start: usize) -> (String, usize) {
    let mut block = String::new();
    let mut i = start + 1;
    while i < events.len() && events[i] != Event::End(TagEnd::HtmlBlock) {
        if let Event::Html(text) = &events[i]
            && internal_marker_event(&events[i]).is_none()
        {
            block.push_str(text);
        }
        i += 1;
    }
    (block, i + 1)
}

fn is_safe_link(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// A `data:` URL for an image of type `subtype` (`png`, `jpeg`, ...).
pub fn data_url(subtype: &str, bytes: &[u8]) -> String {
    format!(
        "data:image/{subtype};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Whether `url` is a `data:` URL the contract accepts for images.
pub fn is_data_image(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("data:image/") else {
        return false;
    };
    DATA_IMAGE_TYPES.iter().any(|t| {
        rest.strip_prefix(t)
            .is_some_and(|r| r.starts_with(";base64,"))
    })
}

static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| sanitiser(false));
static SITE_SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| sanitiser(true));

/// The contract's allowlist; `relative`: relative links are kept (for the site's partner view).
fn sanitiser(relative: bool) -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(TAGS.iter().copied().collect())
        .generic_attributes(ATTRIBUTES.iter().copied().collect())
        .url_schemes(HashSet::from(["http", "https", "mailto", "data"]))
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(None)
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| match attribute {
            "href" if relative && !value.contains(':') => Some(Cow::Borrowed(value)),
            "href" | "src" => {
                allowed_url(element, attribute, value).then_some(Cow::Borrowed(value))
            }
            _ => Some(Cow::Borrowed(value)),
        });
    builder
}

/// `data:` only for images, and only image types the contract names; relative URLs only as
/// `#anchors` (a relative path means nothing on the community).
fn allowed_url(element: &str, attribute: &str, value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    if lower.starts_with("data:") {
        return element == "img" && attribute == "src" && is_data_image(value.trim());
    }
    if attribute == "src" {
        return lower.starts_with("https://");
    }
    lower.starts_with('#') || is_safe_link(&lower)
}

/// Cleans `html` to the contract's subset: other elements are dropped (their text kept; script
/// and style with their content), other attributes and URLs removed.
pub fn sanitise(html: &str) -> String {
    SANITISER.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sanitiser_keeps_the_subset_and_drops_the_rest() {
        let dirty = "<p onclick=\"x()\" style=\"color:red\" class=\"a\">Hi <script>alert(1)</script><iframe src=\"https://x\"></iframe><a href=\"javascript:alert(1)\" rel=\"x\">js</a> <a href=\"../x.html\">rel</a> <a href=\"#t\">t</a> <a href=\"data:text/html,x\">d</a></p><img src=\"data:image/png;base64,AAAA\" alt=\"c\"><img src=\"data:image/svg+xml;base64,AAAA\"><img src=\"http://x/y.png\"><del>gone</del><!-- internal -->";
        let clean = sanitise(dirty);
        assert_eq!(
            clean,
            "<p class=\"a\">Hi <a>js</a> <a>rel</a> <a href=\"#t\">t</a> <a>d</a></p><img src=\"data:image/png;base64,AAAA\" alt=\"c\"><img><img>gone"
        );
    }

    #[test]
    fn data_images_are_limited_to_the_contracts_types() {
        assert!(is_data_image("data:image/webp;base64,AA"));
        assert!(!is_data_image("data:image/png,AA"));
        assert!(!is_data_image("data:image/svg+xml;base64,AA"));
        assert_eq!(data_url("png", b"\x89P"), "data:image/png;base64,iVA=");
    }
}

//! Pages reachable from no navigation. The nav is folder-based: the home page lists the top-level
//! sections, every section page lists its pages and subsections, and each page's nav tree shows
//! its open sections (a long section as a window around the current page, with a link to the
//! section page for the rest). With the built-in templates every page is therefore reachable —
//! this check proves it on the real output, and catches sites whose own templates drop a listing.
//!
//! Precisely: a page is reachable when a chain of navigation links leads to it from the home
//! page (`index.html`). Navigation links are the links in the rendered HTML of pages, section
//! pages, tag pages and the tags index, except links in a page's own text (its Markdown body: a
//! page mentioned only in another document is still missing from the nav) and the pager
//! (`rel="prev"` / `rel="next"`: a chain of "next" through a section is not a way to find a page).
//!
//! [`Recorder`] is the sink check renders into: it keeps only these links, never the HTML.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use crate::content::{Site, url};
use crate::diag::Diagnostic;
use crate::site::Sink;

/// Keeps, for each rendered HTML file, the files its navigation links lead to.
#[derive(Default)]
pub struct Recorder {
    links: Mutex<HashMap<String, Vec<String>>>,
}

impl Recorder {
    fn record(&self, path: &str, targets: Vec<String>) {
        self.links
            .lock()
            .expect("link recorder lock")
            .insert(path.to_string(), targets);
    }
}

impl Sink for Recorder {
    fn write(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        if path.ends_with(".html") {
            let html = String::from_utf8_lossy(bytes);
            let targets = anchors(&html)
                .into_iter()
                .filter_map(|a| resolve(path, a.href?))
                .collect();
            self.record(path, targets);
        }
        Ok(())
    }

    fn page(&self, path: &str, html: String, body_html: &str) -> std::io::Result<()> {
        let mut in_body: HashMap<&str, usize> = HashMap::new();
        for href in anchors(body_html).into_iter().filter_map(|a| a.href) {
            *in_body.entry(href).or_default() += 1;
        }
        let mut targets = Vec::new();
        for anchor in anchors(&html) {
            let Some(href) = anchor.href else { continue };
            if matches!(anchor.rel, Some("prev" | "next")) {
                continue;
            }
            if let Some(n) = in_body.get_mut(href).filter(|n| **n > 0) {
                *n -= 1;
                continue;
            }
            targets.extend(resolve(path, href));
        }
        self.record(path, targets);
        Ok(())
    }
}

/// A warning for every page that no chain of navigation links reaches from the home page. Says
/// nothing when some page did not render (its errors come first; its links are unknown).
pub fn unreachable(site: &Site, recorder: &Recorder) -> Vec<Diagnostic> {
    let links = recorder.links.lock().expect("link recorder lock");
    if site.pages.iter().any(|p| !links.contains_key(&p.url)) {
        return Vec::new();
    }
    let home = "index.html";
    let mut reached: HashSet<&str> = HashSet::from([home]);
    let mut queue = VecDeque::from([home]);
    while let Some(path) = queue.pop_front() {
        for target in links.get(path).into_iter().flatten() {
            if reached.insert(target) {
                queue.push_back(target);
            }
        }
    }
    site.pages
        .iter()
        .filter(|p| !reached.contains(p.url.as_str()))
        .map(|p| {
            Diagnostic::warning(
                "unreachable-page",
                format!(
                    "no navigation leads to `{}` from the home page",
                    p.url
                ),
            )
            .at(p.key_location("title"))
            .help("section pages list their pages and subsections, and each page's nav shows its section: the site's own templates (`templates/section.html`, `base.html`) must keep `section.pages`, `section.subsections` or `nav_html`")
        })
        .collect()
}

/// One `<a>` element's `href` and `rel`.
struct Anchor<'a> {
    href: Option<&'a str>,
    rel: Option<&'a str>,
}

/// Every `<a>` element of `html` (kbpub's own output: quoted attributes, `>` escaped in values).
fn anchors(html: &str) -> Vec<Anchor<'_>> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<a") {
        let tag = &rest[i + 2..];
        rest = tag;
        if !tag.starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        found.push(Anchor {
            href: attribute(tag, "href"),
            rel: attribute(tag, "rel"),
        });
    }
    found
}

/// The value of attribute `name` in the inside of a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = tag[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        if !tag[..i].ends_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let Some(value) = tag[from..].trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = &value[1..];
        return Some(&value[..value.find(quote)?]);
    }
    None
}

/// The root-relative file an href in the file at `from` leads to; `None` for other sites and
/// links within the same page.
fn resolve(from: &str, href: &str) -> Option<String> {
    let path = href.split(['#', '?']).next().unwrap_or("");
    let scheme = path.find(':').is_some_and(|i| !path[..i].contains('/'));
    if path.is_empty() || scheme || path.starts_with("//") {
        return None;
    }
    let joined = url::join(url::parent_dir(from), path)?;
    Some(if joined.is_empty() || path.ends_with('/') {
        format!(
            "{joined}{}index.html",
            if joined.is_empty() { "" } else { "/" }
        )
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_attributes() {
        let html = r#"<p><abbr>x</abbr><a class="x" href="../a.html#t" rel="next">A</a> <a
 href='b.html'>B</a><a name="n">no href</a></p>"#;
        let found: Vec<(Option<&str>, Option<&str>)> =
            anchors(html).iter().map(|a| (a.href, a.rel)).collect();
        assert_eq!(
            found,
            [
                (Some("../a.html#t"), Some("next")),
                (Some("b.html"), None),
                (None, None)
            ]
        );
    }

    #[test]
    fn hrefs_resolve_against_the_page() {
        assert_eq!(
            resolve("sops/x.html", "../faqs/y.html#a").as_deref(),
            Some("faqs/y.html")
        );
        assert_eq!(
            resolve("sops/x.html", "index.html").as_deref(),
            Some("sops/index.html")
        );
        assert_eq!(resolve("sops/x.html", "../").as_deref(), Some("index.html"));
        assert_eq!(resolve("sops/x.html", "#top"), None);
        assert_eq!(resolve("sops/x.html", "https://x12.org/a"), None);
        assert_eq!(resolve("sops/x.html", "mailto:a@b.c"), None);
        assert_eq!(resolve("x.html", "../../out.html"), None);
    }
}

//! The leak check: a partner rendering must not hold anything internal. It refuses a rendering
//! that still holds an internal-only marker (one the partner view did not recognise, e.g. written
//! inline), a host or e-mail address of a domain listed in `[partner] internal_domains`, a host
//! listed in `[partner] internal_hostnames`, or a link to the internal site or to the article of a
//! document partners do not get. Each finding is a diagnostic naming the document and the
//! offending text, at its position in the source when the text is there (else the document, e.g.
//! when the text came from live data). `kbpub publish` (community) and `kbpub build --audience
//! partner` run it on every partner rendering they produce; `kbpub check` calls it too. It lives
//! beside the partner rendering (`partner`) so that every layer above render can run it.

use std::collections::BTreeSet;

use super::Engine;
use super::partner::{PartnerBody, is_partner_document};
use crate::content::Site;
use crate::diag::{Diagnostic, Location};

/// Every leak in `body`, the partner rendering of page `page` (from
/// [`crate::render::partner::body`]). Empty: nothing internal was found.
pub fn check(engine: &Engine, page: usize, body: &PartnerBody) -> Vec<Diagnostic> {
    let site = engine.site;
    let rules = &site.config.partner;
    let mut findings: BTreeSet<(Kind, String)> = BTreeSet::new();
    for marker in internal_markers(&body.unsanitised) {
        findings.insert((Kind::Marker, marker));
    }
    let lower = body.html.to_ascii_lowercase();
    for domain in &rules.internal_domains {
        for found in occurrences(&body.html, &lower, domain) {
            let kind = if found.contains('@') {
                Kind::Email
            } else {
                Kind::Host
            };
            findings.insert((kind, found));
        }
    }
    for host in &rules.internal_hostnames {
        for found in occurrences(&body.html, &lower, host) {
            findings.insert((Kind::Host, found));
        }
    }
    for href in hrefs(&body.html) {
        if let Some(why) = internal_link(site, &href) {
            findings.insert((Kind::Link(why), href));
        }
    }
    findings
        .into_iter()
        .map(|(kind, text)| diagnostic(engine, page, kind, &text))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Marker,
    Host,
    Email,
    Link(String),
}

fn diagnostic(engine: &Engine, page: usize, kind: Kind, text: &str) -> Diagnostic {
    let p = &engine.site.pages[page];
    let (what, help) = match &kind {
        Kind::Marker => (
            format!("an internal-only marker `{text}`"),
            "put `<!-- internal -->` and `<!-- /internal -->` each on a line of its own around the passage; a marker inside a line is not recognised, so the passage would reach partners".to_string(),
        ),
        Kind::Host => (
            format!("the internal host `{text}`"),
            "remove it, or move the passage between `<!-- internal -->` and `<!-- /internal -->` lines".to_string(),
        ),
        Kind::Email => (
            format!("the internal e-mail address `{text}`"),
            "give partners a partner-facing address instead, or move the passage between `<!-- internal -->` and `<!-- /internal -->` lines".to_string(),
        ),
        Kind::Link(why) => (
            format!("a link to {why}: `{text}`"),
            "link partner documents with a relative path to their Markdown file; partners cannot open internal pages".to_string(),
        ),
    };
    let message = format!(
        "the partner rendering of `{}` holds {what}; it is not published to partners",
        p.id
    );
    let diagnostic = Diagnostic::error("leak", message).help(help);
    let needle = match &kind {
        Kind::Marker => text
            .trim_start_matches("<!--")
            .trim_end_matches("-->")
            .trim(),
        _ => text,
    };
    match find_in_source(&p.source, p.body_start, needle) {
        Some(span) => diagnostic
            .at(Location::new(p.file.clone(), p.source.clone(), span))
            .label("reaches partners"),
        None => diagnostic.in_file(p.file.clone()),
    }
}

/// The span of `needle` in the body of `source` (ignoring ASCII case).
fn find_in_source(source: &str, body_start: usize, needle: &str) -> Option<std::ops::Range<usize>> {
    if needle.is_empty() {
        return None;
    }
    let body = source.get(body_start..)?.to_ascii_lowercase();
    let at = body.find(&needle.to_ascii_lowercase())?;
    Some(body_start + at..body_start + at + needle.len())
}

/// HTML comments that are internal markers.
fn internal_markers(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        let after = &rest[start + 4..];
        let Some(end) = after.find("-->") else { break };
        let inner = after[..end].trim();
        if inner.eq_ignore_ascii_case("internal") || inner.eq_ignore_ascii_case("/internal") {
            found.push(format!("<!-- {inner} -->"));
        }
        rest = &after[end + 3..];
    }
    found
}

fn is_host_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.'
}

fn is_local_part_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Each distinct host or e-mail address in `text` that is `name` or inside it (`*.name`,
/// `someone@name`, `someone@host.name`), as written; `lower` is `text` in ASCII lowercase.
fn occurrences(text: &str, lower: &str, name: &str) -> BTreeSet<String> {
    let name = name.trim().trim_start_matches('.').to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut found = BTreeSet::new();
    if name.is_empty() {
        return found;
    }
    let mut from = 0;
    while let Some(at) = lower[from..].find(&name) {
        let start = from + at;
        let end = start + name.len();
        from = start + 1;
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        let whole_label = !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == b'-')
            && !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == b'-');
        if !whole_label {
            continue;
        }
        let mut left = start;
        while left > 0 && is_host_char(bytes[left - 1]) {
            left -= 1;
        }
        if left > 0 && bytes[left - 1] == b'@' {
            left -= 1;
            while left > 0 && is_local_part_char(bytes[left - 1]) {
                left -= 1;
            }
        }
        let token = text[left..end].trim_start_matches('.');
        found.insert(token.to_string());
    }
    found
}

/// Every `href` and `src` value in `html` (as the sanitiser writes them: double-quoted).
fn hrefs(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in [" href=\"", " src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            let value = &rest[at + attribute.len()..];
            let end = value.find('"').unwrap_or(value.len());
            found.push(value[..end].replace("&amp;", "&"));
            rest = &value[end..];
        }
    }
    found
}

/// Why `url` leads partners to something internal, if it does.
fn internal_link(site: &Site, url: &str) -> Option<String> {
    let base = site.config.site.base_url.trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    if !base.is_empty() && lower.starts_with(&base.to_ascii_lowercase()) {
        let path = url[base.len()..].trim_start_matches('/');
        let path = path.split(['#', '?']).next().unwrap_or("");
        let page = site.pages.iter().find(|p| p.url == path);
        return Some(match page {
            Some(p) => format!("the internal site's page of `{}`", p.id),
            None => "the internal site".into(),
        });
    }
    let community = site.config.community.as_ref()?;
    let pattern = &community.article_url;
    let (prefix, suffix) = pattern.split_once(crate::config::community::EXTERNAL_ID)?;
    let rest = url.strip_prefix(prefix)?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let id = rest.strip_suffix(suffix).unwrap_or(rest);
    let page = site.page_by_id(id)?;
    (!is_partner_document(site, page)).then(|| {
        format!(
            "the community article of `{id}`, which partners do not get ({})",
            site.pages[page].file
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_addresses_of_a_domain_are_found_whole() {
        let text = "Mail Edi-Oncall@Ops.Example.com or tg-gw01.ops.example.com; not shops.example.com nor ops.example.community.";
        let found = occurrences(text, &text.to_ascii_lowercase(), "ops.example.com");
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["Edi-Oncall@Ops.Example.com", "tg-gw01.ops.example.com"]
        );
    }

    #[test]
    fn only_internal_markers_count() {
        assert_eq!(
            internal_markers("a <!--internal--> b <!-- note --> <!-- /internal -->"),
            ["<!-- internal -->", "<!-- /internal -->"]
        );
    }

    #[test]
    fn links_are_read_from_the_sanitised_html() {
        assert_eq!(
            hrefs(
                "<a href=\"https://x/a?b=1&amp;c=2\">x</a><img src=\"data:image/png;base64,AA\">"
            ),
            ["https://x/a?b=1&c=2", "data:image/png;base64,AA"]
        );
    }
}

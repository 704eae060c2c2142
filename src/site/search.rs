//! The client-side search index (`search-index.js`, loaded by a `<script>` tag so it works from
//! disk too) and `sitemap.xml`.

use serde::Serialize;

use crate::text::escape_html;

/// Characters of body text kept for the result snippet.
const EXCERPT_CHARS: usize = 280;

/// One searchable page. Short keys keep the index small on large sites.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// title
    pub t: String,
    /// path from the site root
    pub u: String,
    /// section title
    pub s: String,
    /// headings
    pub h: Vec<String>,
    /// excerpt of the text, for the snippet
    pub x: String,
    /// every other distinct word of the text (lowercase), so that search finds words anywhere
    pub w: String,
}

impl Entry {
    pub fn new(title: &str, url: &str, section: &str, headings: Vec<String>, text: &str) -> Entry {
        let cut = text
            .char_indices()
            .nth(EXCERPT_CHARS)
            .map_or(text.len(), |(i, _)| i);
        let excerpt = &text[..cut];
        let in_excerpt: std::collections::HashSet<String> = words(excerpt).collect();
        let mut seen = std::collections::HashSet::new();
        let rest: Vec<String> = words(&text[cut..])
            .filter(|w| !in_excerpt.contains(w) && seen.insert(w.clone()))
            .collect();
        Entry {
            t: title.to_string(),
            u: url.to_string(),
            s: section.to_string(),
            h: headings,
            x: excerpt.to_string(),
            w: rest.join(" "),
        }
    }

    /// The entry as it appears in the index. Entries are kept serialised so that a rebuild of
    /// a few pages (`kbpub serve`) re-joins the index without re-serialising every page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("search entries serialise")
    }
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
}

/// `search-index.js` from entries serialised by [`Entry::to_json`]: assigns the index
/// (`{"docs":[...]}`) to `window.KBPUB_SEARCH`.
pub fn index_script<'a>(entries: impl Iterator<Item = &'a str> + Clone) -> String {
    let size: usize = entries.clone().map(|e| e.len() + 1).sum();
    let mut script = String::with_capacity(size + 32);
    script.push_str("window.KBPUB_SEARCH={\"docs\":[");
    for (i, entry) in entries.enumerate() {
        if i > 0 {
            script.push(',');
        }
        script.push_str(entry);
    }
    script.push_str("]};\n");
    script
}

/// `sitemap.xml` for `(path, lastmod)` pairs under `base_url`.
pub fn sitemap(base_url: &str, pages: &[(String, Option<String>)]) -> String {
    let base = if base_url.ends_with('/') {
        base_url.to_string()
    } else {
        format!("{base_url}/")
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (path, lastmod) in pages {
        xml.push_str("  <url><loc>");
        xml.push_str(&escape_html(&format!("{base}{path}")));
        xml.push_str("</loc>");
        if let Some(date) = lastmod {
            xml.push_str("<lastmod>");
            xml.push_str(date);
            xml.push_str("</lastmod>");
        }
        xml.push_str("</url>\n");
    }
    xml.push_str("</urlset>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_beyond_the_excerpt_are_kept_once() {
        let text = format!("{} ak304 AK304 partner", "x ".repeat(200));
        let e = Entry::new("T", "a.html", "S", vec![], &text);
        assert_eq!(e.x.chars().count(), EXCERPT_CHARS);
        assert_eq!(e.w, "ak304 partner");
    }

    #[test]
    fn index_script_is_a_json_assignment() {
        let entries = [
            Entry::new("A", "a.html", "S", vec!["H".into()], "x"),
            Entry::new("B", "b.html", "S", vec![], ""),
        ];
        let json: Vec<String> = entries.iter().map(Entry::to_json).collect();
        let script = index_script(json.iter().map(String::as_str));
        let value = script
            .strip_prefix("window.KBPUB_SEARCH=")
            .and_then(|s| s.strip_suffix(";\n"))
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(parsed["docs"][1]["t"], "B");
        assert_eq!(parsed["docs"][0]["h"][0], "H");
    }

    #[test]
    fn sitemap_lists_absolute_urls() {
        let xml = sitemap(
            "https://kb.example.com",
            &[("sops/a.html".into(), Some("2026-01-02".into()))],
        );
        assert!(xml.contains(
            "<loc>https://kb.example.com/sops/a.html</loc><lastmod>2026-01-02</lastmod>"
        ));
    }
}

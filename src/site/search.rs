//! The client-side search index (`search-index.js`, loaded by a `<script>` tag so it works from
//! disk too) and `sitemap.xml`.
//!
//! The index carries English stems made here with `rust-stemmers` (Snowball English), so the
//! browser stems only what a reader types (`templates/assets/search.js` has the same algorithm;
//! the browser tests compare the two word for word). Each stem travels with the words it came
//! from, so that prefix and typo matching can work on the words a reader sees.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
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
    /// headings as `[text, anchor id]`, so a match in a heading links to it
    pub h: Vec<(String, String)>,
    /// excerpt of the text, for the snippet (the browser stems its words)
    pub x: String,
    /// every other distinct word of the text by stem: `stem` when the word is its own stem, else
    /// `stem:ending,ending` (the words are the stem plus each ending; an ending starting with
    /// `=` is a whole word that does not start with its stem, as `happi:=happy`)
    pub w: String,
    /// true when the document is obsolete (results mark it); absent otherwise
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub o: bool,
}

impl Entry {
    pub fn new(
        title: &str,
        url: &str,
        section: &str,
        headings: Vec<(String, String)>,
        text: &str,
    ) -> Entry {
        let cut = text
            .char_indices()
            .nth(EXCERPT_CHARS)
            .map_or(text.len(), |(i, _)| i);
        let excerpt = &text[..cut];
        let in_excerpt: HashSet<Cow<str>> = words(excerpt).collect();
        let mut seen = HashSet::new();
        let rest = words(&text[cut..])
            .filter(|w| !in_excerpt.contains(w) && seen.insert(w.clone()))
            .collect::<Vec<_>>();
        Entry {
            t: title.to_string(),
            u: url.to_string(),
            s: section.to_string(),
            h: headings,
            x: excerpt.to_string(),
            w: by_stem(rest),
            o: false,
        }
    }

    /// Marks the entry's document as obsolete (or not).
    pub fn obsolete(self, obsolete: bool) -> Entry {
        Entry {
            o: obsolete,
            ..self
        }
    }

    /// The entry as it appears in the index. Entries are kept serialised so that a rebuild of
    /// a few pages (`kbpub serve`) re-joins the index without re-serialising every page.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("search entries serialise")
    }
}

/// The English stem of a lowercase word. Each thread remembers the stems it made: a site's
/// pages share most of their words, and a lookup costs less than stemming again.
pub fn stem(word: &str) -> String {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    thread_local! {
        static STEMS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    }
    STEMS.with_borrow_mut(|stems| {
        if let Some(stem) = stems.get(word) {
            return stem.clone();
        }
        let stem = STEMMER
            .get_or_init(|| Stemmer::create(Algorithm::English))
            .stem(word)
            .into_owned();
        stems.insert(word.to_string(), stem.clone());
        stem
    })
}

/// Distinct words grouped by stem, in order of first use: the `w` field's format.
fn by_stem(distinct: Vec<Cow<str>>) -> String {
    let mut groups: Vec<(String, Vec<Cow<str>>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for word in distinct {
        let stem = stem(&word);
        let at = *group_of.entry(stem.clone()).or_insert_with(|| {
            groups.push((stem, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(word);
    }
    let mut out = String::new();
    for (stem, words) in groups {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&stem);
        if words.len() == 1 && words[0] == stem {
            continue;
        }
        for (i, word) in words.iter().enumerate() {
            out.push(if i == 0 { ':' } else { ',' });
            match word.strip_prefix(stem.as_str()) {
                Some(ending) => out.push_str(ending),
                None => {
                    out.push('=');
                    out.push_str(word);
                }
            }
        }
    }
    out
}

/// The words of `text` of two letters or more, lowercased; borrowed when already lowercase ASCII
/// (most words: a page's text is split into words once per build).
fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some())
        .map(|w| {
            if w.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                Cow::Borrowed(w)
            } else {
                Cow::Owned(w.to_lowercase())
            }
        })
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
    let base = crate::content::url::base_with_slash(base_url);
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
    fn words_are_grouped_by_stem_with_their_endings() {
        let text = format!(
            "{} rotate rotating partner partners happy rotated",
            "x ".repeat(200)
        );
        let e = Entry::new("T", "a.html", "S", vec![], &text);
        assert_eq!(e.w, "rotat:e,ing,ed partner:,s happi:=happy");
        assert_eq!(stem("certificates"), stem("certificate"));
    }

    #[test]
    fn index_script_is_a_json_assignment() {
        let entries = [
            Entry::new("A", "a.html", "S", vec![("H".into(), "h".into())], "x"),
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
        assert_eq!(parsed["docs"][0]["h"][0], serde_json::json!(["H", "h"]));
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

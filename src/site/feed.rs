//! `feed.xml`: an Atom feed (RFC 4287) of the site's notices and its most recently changed
//! documents, newest first, with absolute URLs under `[site] base_url`. Entries are dated by the
//! pages' `updated` date (front matter, else git), so the feed is the same for the same inputs;
//! undated and obsolete documents are left out.

use chrono::NaiveDate;

use crate::content::{DocType, Site, url};
use crate::text::{escape_html, escape_visible};

/// Documents other than notices that the feed lists, the most recently changed first.
const RECENT_DOCUMENTS: usize = 30;
/// Entries at most, the newest kept.
const MAX_ENTRIES: usize = 50;

/// The feed's path at the site root.
pub const FEED_URL: &str = "feed.xml";

/// The Atom feed of `site`'s documents `order` (reading order), notices and recent changes.
pub fn atom(site: &Site, order: &[usize]) -> String {
    let base = url::base_with_slash(&site.config.site.base_url);
    let dated = |&i: &usize| {
        let p = &site.pages[i];
        let date = p
            .updated
            .filter(|_| p.doc_type().is_some() && !p.is_obsolete())?;
        Some((date, i))
    };
    let mut notices: Vec<(NaiveDate, usize)> = Vec::new();
    let mut others: Vec<(NaiveDate, usize)> = Vec::new();
    for (date, i) in order.iter().filter_map(dated) {
        match site.pages[i].doc_type() {
            Some(DocType::Notice) => notices.push((date, i)),
            _ => others.push((date, i)),
        }
    }
    let newest_first = |a: &(NaiveDate, usize), b: &(NaiveDate, usize)| {
        b.0.cmp(&a.0)
            .then_with(|| site.pages[a.1].url.cmp(&site.pages[b.1].url))
    };
    others.sort_by(newest_first);
    others.truncate(RECENT_DOCUMENTS);
    let mut entries = notices;
    entries.append(&mut others);
    entries.sort_by(newest_first);
    entries.truncate(MAX_ENTRIES);

    let updated = entries
        .first()
        .map_or_else(|| "1970-01-01".into(), |e| e.0.to_string());
    let mut xml = String::with_capacity(512 + entries.len() * 400);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml.push_str(&format!(
        "<title>{}</title>\n<subtitle>Notices and recently changed documents</subtitle>\n<id>{base}</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"{base}\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"{base}{FEED_URL}\"/>\n<updated>{updated}T00:00:00Z</updated>\n<author><name>{}</name></author>\n<generator>kbpub</generator>\n",
        escape_visible(&site.config.site.title),
        escape_visible(&site.config.site.title),
    ));
    for (date, i) in entries {
        let p = &site.pages[i];
        let href = escape_html(&format!("{base}{}", p.url));
        let badge = p.badge().expect("feed entries are documents");
        xml.push_str(&format!(
            "<entry>\n<title>{}</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"{href}\"/>\n<id>{href}</id>\n<updated>{date}T00:00:00Z</updated>\n<category term=\"{}\" label=\"{}\"/>\n",
            escape_visible(p.title()),
            badge.class,
            badge.label,
        ));
        if let Some(description) = &p.meta.description {
            xml.push_str(&format!(
                "<summary>{}</summary>\n",
                escape_visible(description)
            ));
        }
        xml.push_str("</entry>\n");
    }
    xml.push_str("</feed>\n");
    xml
}

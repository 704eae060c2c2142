//! What a reader gets, end to end: the real binary builds the sample knowledge base and headless
//! Chromium opens the pages from disk (`file://`, as a reader opening `output/` would): search
//! (stems, typos, title > headings > text, links to the matching heading), wide tables printed to
//! PDF (read back with `pdftotext`: no column lost), and charts (clean captions, an x axis that
//! matches the stated period, the dark palette in dark mode).

#[allow(dead_code)] // shared with tests/serve, which uses all of it
#[path = "serve/cdp.rs"]
mod cdp;
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use cdp::Browser;
use common::*;
use rust_stemmers::{Algorithm, Stemmer};
use serde_json::{Value, json};

fn built_sample() -> Kb {
    let kb = Kb::sample();
    kb.run(&["build"]).ok();
    kb
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// One search result as the panel shows it.
#[derive(Debug)]
struct Hit {
    title: String,
    href: String,
    heading: String,
}

/// Types `query` into the search box and returns the results once the panel shows them.
fn search(browser: &mut Browser, query: &str) -> Vec<Hit> {
    let typed = format!(
        "(() => {{ const i = document.getElementById('kb-search-input'); i.focus(); \
         for (const id of ['kb-search-status', 'kb-search-results']) {{ const e = document.getElementById(id); if (e) e.textContent = ''; }} \
         i.value = {}; i.dispatchEvent(new Event('input')); return true; }})()",
        json!(query)
    );
    browser.eval(&typed).expect("type the query");
    let wait = format!(
        "(() => {{ const s = document.getElementById('kb-search-status'); \
         return document.getElementById('kb-search-input').value === {} && s && /result/.test(s.textContent) \
         && JSON.stringify([...document.querySelectorAll('#kb-search-results a')].map(a => ({{ \
           title: a.querySelector('.sr-title').textContent, href: a.getAttribute('href'), \
           heading: (a.querySelector('.sr-heading') || {{}}).textContent || '' }}))); }})()",
        json!(query)
    );
    let found = browser.wait_for(&wait, &format!("results for {query:?}"));
    let hits: Vec<Value> = serde_json::from_str(found.as_str().expect("JSON text")).unwrap();
    hits.iter()
        .map(|h| Hit {
            title: h["title"].as_str().unwrap().to_string(),
            href: h["href"].as_str().unwrap().to_string(),
            heading: h["heading"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn stems(text: &str) -> BTreeSet<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(|w| stemmer.stem(&w.to_lowercase()).into_owned())
        .collect()
}

#[test]
fn search_finds_stems_and_typos_ranks_titles_first_and_links_to_headings() {
    let kb = built_sample();
    let mut browser = Browser::launch();
    browser.goto(&file_url(&kb.output_file("index.html")));

    let rotate = search(&mut browser, "rotate certificate");
    assert_eq!(
        rotate.first().map(|h| h.title.as_str()),
        Some("Rotating AS2 certificates"),
        "stems: {rotate:?}"
    );
    assert!(
        rotate[0]
            .href
            .ends_with("sops/as2-certificate-rotation.html"),
        "{rotate:?}"
    );

    let typo = search(&mut browser, "certficate");
    assert_eq!(
        typo.first().map(|h| h.title.as_str()),
        Some("Rotating AS2 certificates"),
        "one edit away: {typo:?}"
    );

    // A match in a heading (and not in the title) links to that heading.
    let cutover = search(&mut browser, "cutover checklist");
    let hit = cutover
        .iter()
        .find(|h| h.title == "Rotating AS2 certificates")
        .unwrap_or_else(|| panic!("{cutover:?}"));
    assert!(
        hit.href
            .ends_with("sops/as2-certificate-rotation.html#cutover-checklist"),
        "{hit:?}"
    );
    assert_eq!(hit.heading, "§ Cutover checklist");
    let page = kb.html("sops/as2-certificate-rotation.html");
    assert_eq!(select(&page, "h3#cutover-checklist").len(), 1);
    browser
        .eval("document.querySelector('#kb-search-results a[href$=\"#cutover-checklist\"]').click(), true")
        .unwrap();
    browser.wait_for(
        "location.pathname.endsWith('/as2-certificate-rotation.html') && location.hash === '#cutover-checklist' \
         && document.readyState === 'complete'",
        "the result to open at its heading",
    );
    browser.goto(&file_url(&kb.output_file("index.html")));

    // Title > headings > text: every result whose title has the word comes before every one whose
    // headings have it, and those before matches in the text alone.
    let index = kb.search_index();
    let docs = index["docs"].as_array().unwrap();
    let word = stems("certificate").into_iter().next().unwrap();
    let field = |hit: &Hit| {
        let doc = docs
            .iter()
            .find(|d| hit.href.starts_with(d["u"].as_str().unwrap()))
            .unwrap();
        let headings: Vec<&str> = doc["h"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h[0].as_str().unwrap())
            .collect();
        if stems(doc["t"].as_str().unwrap()).contains(&word) {
            2
        } else if stems(&headings.join(" ")).contains(&word) {
            1
        } else {
            0
        }
    };
    let ranked: Vec<u8> = search(&mut browser, "certificate")
        .iter()
        .map(field)
        .collect();
    assert!(
        ranked.windows(2).all(|w| w[0] >= w[1]) && ranked.contains(&2) && ranked.contains(&0),
        "title matches first, then headings, then text: {ranked:?}"
    );
}

#[test]
fn the_page_script_adds_the_controls_and_heading_links_the_html_leaves_out() {
    let kb = built_sample();
    let path = "sops/as2-certificate-rotation.html";
    let page = kb.html(path);
    // Without JavaScript: no dead controls, and the navigation and TOC are plain links.
    for missing in [
        ".nav-btn",
        ".theme-btn",
        "#kb-search-input",
        ".backdrop",
        "a.anchor",
    ] {
        assert!(select(&page, missing).is_empty(), "{missing} in the HTML");
    }
    assert!(!select(&page, "#kb-sidebar nav a[href]").is_empty());
    assert_eq!(
        attr(&page, ".toc a[href='#cutover-checklist']", "href"),
        "#cutover-checklist"
    );

    let mut browser = Browser::launch();
    browser.goto(&file_url(&kb.output_file(path)));
    browser.wait_for(
        "document.readyState === 'complete' && !!document.querySelector('.header-inner > .nav-btn:first-child') \
         && !!document.querySelector('.header-inner > .theme-btn:last-child') \
         && !!document.querySelector('form.search > #kb-search-input') && !!document.querySelector('.backdrop[hidden]') \
         && document.querySelector('h3#cutover-checklist > a.anchor:first-child').getAttribute('href') === '#cutover-checklist' \
         && [...document.querySelectorAll('.prose h2[id], .prose h3[id]')].every(h => h.querySelector('a.anchor'))",
        "the controls and a link beside every heading",
    );
    browser
        .eval("document.querySelector('.theme-btn').click(), true")
        .unwrap();
    browser.wait_for(
        "document.documentElement.getAttribute('data-theme') === 'dark' \
         && document.querySelector('.theme-btn').getAttribute('aria-pressed') === 'true'",
        "the theme button to switch to dark",
    );
}

#[test]
fn the_browser_stems_queries_exactly_as_the_index_was_stemmed() {
    let kb = built_sample();
    let script = kb.read_output("assets/search.js");
    let start = script.find("var stem = (function").expect("the stemmer");
    let end = start + script[start..].find("\n  })();").expect("its end") + "\n  })();".len();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut words: BTreeSet<String> = BTreeSet::new();
    for file in ["README.md", "ARCHITECTURE.md"]
        .iter()
        .map(|f| repo.join(f))
        .chain(
            files_under(&repo.join("content"))
                .iter()
                .map(|f| repo.join("content").join(f)),
        )
    {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        words.extend(
            text.split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 2)
                .map(str::to_lowercase),
        );
    }
    words.extend(
        [
            "skies",
            "dying",
            "generously",
            "hopping",
            "hoping",
            "agreed",
            "succeeded",
            "happy",
        ]
        .map(String::from),
    );
    let words: Vec<String> = words.into_iter().collect();
    assert!(words.len() > 2000, "{} words", words.len());
    let mut browser = Browser::launch();
    browser.goto(&file_url(&kb.output_file("index.html")));
    let expression = format!(
        "(() => {{ {} return JSON.stringify({}.map(stem)); }})()",
        &script[start..end],
        json!(words)
    );
    let from_browser: Vec<String> =
        serde_json::from_str(browser.eval(&expression).unwrap().as_str().unwrap()).unwrap();
    let stemmer = Stemmer::create(Algorithm::English);
    let differ: Vec<String> = words
        .iter()
        .zip(&from_browser)
        .filter(|(w, js)| stemmer.stem(w) != js.as_str())
        .map(|(w, js)| format!("{w}: {} vs {js}", stemmer.stem(w)))
        .collect();
    assert!(differ.is_empty(), "rust-stemmers vs search.js: {differ:?}");
}

/// `(page, header texts of every table on it)` for each built page whose widest table has at
/// least `columns` columns, one page per distinct set of headers.
fn wide_table_pages(kb: &Kb, columns: usize) -> Vec<(String, Vec<String>)> {
    let mut seen = BTreeSet::new();
    let mut pages = Vec::new();
    for file in files_under(&kb.path().join("output")) {
        if !file.ends_with(".html") {
            continue;
        }
        let html = kb.html(&file);
        let widest = select(&html, "table")
            .iter()
            .map(|t| t.select(&Selector::parse("th").unwrap()).count())
            .max()
            .unwrap_or(0);
        let headers: Vec<String> = select(&html, "th")
            .iter()
            .map(|th| th.text().collect::<Vec<_>>().join(" "))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        if widest >= columns && seen.insert(headers.clone()) {
            pages.push((file, headers));
        }
    }
    pages
}

#[test]
fn printed_wide_tables_keep_every_column() {
    let kb = built_sample();
    let pages = wide_table_pages(&kb, 6);
    assert!(
        pages.len() >= 3,
        "the sample's scorecards, scorecard index and SOP tables: {pages:?}"
    );
    let profile = tempfile::tempdir().unwrap();
    for (page, headers) in pages {
        let pdf = profile.path().join("page.pdf");
        let _ = std::fs::remove_file(&pdf);
        let printed = Command::new("chromium")
            .args(cdp::HEADLESS)
            .arg("--no-pdf-header-footer")
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("chromium").display()
            ))
            .arg(format!("--print-to-pdf={}", pdf.display()))
            .arg(file_url(&kb.output_file(&page)))
            .output()
            .expect("chromium must be installed (scripts/test installs it)");
        assert!(pdf.is_file(), "no PDF of {page}: {printed:?}");
        let text = Command::new("pdftotext")
            .arg(&pdf)
            .arg("-")
            .output()
            .expect("pdftotext must be installed (poppler-utils; scripts/test installs it)");
        let text = String::from_utf8_lossy(&text.stdout);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let lost: Vec<&String> = headers
            .iter()
            .filter(|h| !text.contains(h.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "{page} printed without columns {lost:?}:\n{text}"
        );
    }
}

#[test]
fn chart_captions_are_plain_and_the_axis_matches_the_period() {
    let kb = built_sample();
    let snapshot: Value = serde_json::from_str(&kb.read("data/trading-grid.json")).unwrap();
    let as_of = chrono::DateTime::parse_from_rfc3339(snapshot["as_of"].as_str().unwrap())
        .unwrap()
        .date_naive();
    let (first, last) = (
        (as_of - chrono::Days::new(30)).to_string(),
        (as_of - chrono::Days::new(1)).to_string(),
    );
    let page = kb.html("live/partners/acme-retail.html");
    let caption = text(&page, ".kb-chart figcaption");
    assert_eq!(
        caption,
        format!("{first} to {last} (30 days). Gaps are days with nothing to measure (n/a).")
    );
    assert!(
        !caption.contains('_') && !caption.contains(".."),
        "{caption}"
    );
    let dates: Vec<String> = select(&page, ".kb-chart text.kc-axis")
        .iter()
        .map(|t| t.text().collect::<String>())
        .filter(|t| t.len() == 10 && t.starts_with("20"))
        .collect();
    assert_eq!(dates.first(), Some(&first), "{dates:?}");
    assert_eq!(dates.last(), Some(&last), "{dates:?}");
    assert!(
        dates.windows(2).all(|w| w[0] < w[1]) && dates.len() == 5,
        "{dates:?}"
    );
    // One point per day of the period, placed by date.
    let svg = &select(&page, ".kb-chart svg")[0];
    let dots = svg.select(&Selector::parse("circle").unwrap()).count();
    assert!(dots <= 30 && dots > 20, "{dots} days with a rate");
    // The table says the same period, as Markdown (italic), not as raw underscores.
    let table_caption = select(&page, "em")
        .iter()
        .map(|e| e.text().collect::<String>())
        .find(|t| t.contains(" to "))
        .unwrap();
    assert_eq!(table_caption, format!("{first} to {last} (30 days)."));
}

#[test]
fn charts_take_the_dark_palette_in_dark_mode() {
    let kb = built_sample();
    let url = file_url(&kb.output_file("live/partners/acme-retail.html"));
    let colours = "JSON.stringify((() => { const c = q => getComputedStyle(document.querySelector(q)); \
        return { page: c('body').backgroundColor, bg: c('.kb-chart .kc-bg').fill, \
        line: c('.kb-chart .kc-line').stroke, accent: c('.nav a[aria-current=page]').color, text: c('.kb-chart .kc-title').fill, \
        fg: c('body').color }; })())";
    let mut browser = Browser::launch();
    let mut read = |scheme: &str| -> Value {
        browser.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        );
        browser.goto(&url);
        serde_json::from_str(browser.eval(colours).unwrap().as_str().unwrap()).unwrap()
    };
    let light = read("light");
    let dark = read("dark");
    assert_eq!(light["bg"], "rgb(255, 255, 255)", "{light}");
    assert_eq!(
        dark["bg"], dark["page"],
        "the chart's background is the page's: {dark}"
    );
    assert_ne!(dark["bg"], light["bg"], "{dark}");
    assert_eq!(dark["text"], dark["fg"], "{dark}");
    assert_eq!(dark["line"], dark["accent"], "{dark}");
    assert_ne!(dark["line"], light["line"], "{dark} {light}");
}

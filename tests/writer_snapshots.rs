//! Snapshots (insta) of the three writers on the fixture site `tests/fixtures/writers/` — one
//! internal guide and one partner guide with headings, tables, code, alerts, links, images,
//! details/sub/sup/kbd, footnotes and a data partial — so a change to any writer shows as a diff
//! of `tests/snapshots/` in review. Driven through the real binary: `kbpub build` for the site's
//! HTML (the page's `<main>`), `kbpub publish` to `kbpub sim` for the Confluence storage body and
//! the community article body as the services received them. Volatile parts (today's date,
//! hashes and commit ids, the simulator's address) are replaced by placeholders.

mod common;

use std::path::Path;

use common::*;

/// The fixture with the repository's Trading Grid snapshot as its data.
fn fixture() -> Kb {
    let kb = Kb::fixture("writers");
    std::fs::create_dir_all(kb.path().join("data")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/trading-grid.json"),
        kb.path().join("data/trading-grid.json"),
    )
    .expect("copy the data snapshot");
    kb
}

/// `text` with today's date, hex digests and commit ids (12 hex digits or more) and `base` (the
/// simulator's address) replaced by placeholders.
fn normalise(text: &str, base: &str) -> String {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let text = text.replace(&today, "[today]");
    let text = if base.is_empty() {
        text
    } else {
        text.replace(base, "[sim]")
    };
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 && run.bytes().any(|b| b.is_ascii_digit()) {
            out.push_str("[hex]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The `<main>` element of an output page.
fn main_of(html: &str) -> &str {
    let start = html.find("<main").expect("a <main> element");
    let end = html.rfind("</main>").expect("a </main>") + "</main>".len();
    &html[start..end]
}

#[test]
fn site_html() {
    let kb = fixture();
    kb.run(&["build"]).ok();
    for (name, page) in [
        ("site_everything", "guides/everything.html"),
        ("site_connect", "partners/connect.html"),
    ] {
        let html = kb.read_output(page);
        insta::assert_snapshot!(name, normalise(main_of(&html), ""));
    }
}

#[test]
fn confluence_storage_and_community_html() {
    let sim = Sim::start();
    let kb = fixture();
    kb.append(
        "kbpub.toml",
        &format!(
            "[confluence]\nbase_url = \"{base}/wiki\"\nemail_env = \"KB_TEST_EMAIL\"\ntoken_env = \"KB_TEST_TOKEN\"\ndefault_space = \"OPS\"\n\n[community]\nbase_url = \"{base}/community\"\ntoken_env = \"KB_TEST_COMMUNITY\"\narticle_url = \"https://community.test/kb/{{external_id}}\"\ndefault_category = \"guides\"\n",
            base = sim.base
        ),
    );
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(&kb);
    kb.run_env(
        &["publish"],
        &[
            ("KB_TEST_EMAIL", "kbpub@example.com"),
            ("KB_TEST_TOKEN", "cloud-token"),
            ("KB_TEST_COMMUNITY", "community-token"),
        ],
    )
    .ok();
    let pages = sim.pages("cloud");
    for (name, title) in [
        ("confluence_everything", "Everything a writer uses"),
        ("confluence_connect", "Connecting to us"),
    ] {
        let page = pages
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("{title} published: {pages:#?}"));
        let body = page["body"].as_str().unwrap();
        insta::assert_snapshot!(name, normalise(body, &sim.base));
    }
    let article = common::community::article(&sim, "connect");
    let body = article["body"].as_str().unwrap();
    insta::assert_snapshot!("community_connect", normalise(body, &sim.base));
}

//! What a reader and a writer meet on the site (issue 15, points 6 to 9), through the real binary:
//! obsolete documents and what generated pages are, hidden characters shown alike everywhere,
//! "data as of" only where partners see data, plain Markdown folders, edit links, the Atom feed,
//! code titles and highlighted lines, and process maps.

mod common;

use common::*;

/// A page of the partner build (`kbpub build --audience partner`, into `output-partner/`).
fn partner_page(kb: &Kb, rel: &str) -> String {
    std::fs::read_to_string(kb.path().join("output-partner").join(rel))
        .unwrap_or_else(|e| panic!("output-partner/{rel}: {e}"))
}

fn doc(title: &str, extra: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ntype = \"sop\"\n{extra}+++\n{body}")
}

#[test]
fn an_obsolete_document_links_to_its_successor_is_marked_in_lists_and_search_and_leaves_the_nav() {
    let kb = Kb::new();
    kb.write(
        "content/guides/new.md",
        &doc("Rotate AS2 certificates", "id = \"as2-rotate\"\n", "Now.\n"),
    );
    kb.write(
        "content/guides/old.md",
        &doc(
            "Renew AS2 certificates by hand",
            "status = \"obsolete\"\nsuperseded_by = \"as2-rotate\"\ntags = [\"as2\"]\n",
            "Then.\n",
        ),
    );
    kb.write(
        "content/guides/retired.md",
        &doc("Retired", "status = \"obsolete\"\n", "Gone.\n"),
    );
    kb.run(&["build"]).ok();

    let old = kb.html("guides/old.html");
    let banner = text(&old, ".banner-obsolete");
    assert_contains(&banner, "Obsolete");
    assert_contains(&banner, "Use Rotate AS2 certificates instead.");
    assert_eq!(attr(&old, ".banner-obsolete a", "href"), "new.html");
    assert!(
        text(&kb.html("guides/retired.html"), ".banner-obsolete").contains("kept for reference")
    );
    assert_eq!(text(&old, ".doc-meta .badge-obsolete"), "Obsolete");

    for page in ["guides/new.html", "guides/old.html", "index.html"] {
        let nav: Vec<String> = select(&kb.html(page), "nav.nav a")
            .iter()
            .map(|a| a.text().collect())
            .collect();
        assert!(
            nav.contains(&"Rotate AS2 certificates".to_string()) || page == "index.html",
            "{page}: {nav:?}"
        );
        assert!(
            !nav.iter().any(|t| t.contains("by hand") || t == "Retired"),
            "{page}: obsolete documents are not in the nav: {nav:?}"
        );
    }

    let section = kb.html("guides/index.html");
    let obsolete: Vec<String> = select(&section, ".page-item.is-obsolete .page-item-title")
        .iter()
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(obsolete, ["Renew AS2 certificates by hand", "Retired"]);
    assert_eq!(select(&section, ".page-item").len(), 3, "still listed");
    let tag = kb.html("tags/as2.html");
    assert_eq!(
        select(&tag, ".page-item.is-obsolete .badge-obsolete").len(),
        1
    );

    let index = kb.search_index();
    let docs = index["docs"].as_array().unwrap();
    let flag = |title: &str| docs.iter().find(|d| d["t"] == title).unwrap()["o"].clone();
    assert_eq!(flag("Renew AS2 certificates by hand"), true);
    assert_eq!(flag("Rotate AS2 certificates"), serde_json::Value::Null);
    assert!(
        kb.read_output("assets/search.js").contains("r.o"),
        "results mark obsolete entries"
    );
}

#[test]
fn generated_pages_carry_badges_that_say_what_they_are() {
    let kb = Kb::sample();
    kb.run(&["build"]).ok();
    let badge = |page: &str, selector: &str| text(&kb.html(page), selector);
    assert_eq!(
        badge("live/partners/acme-retail.html", ".doc-meta .badge"),
        "Partner scorecard"
    );
    assert_eq!(
        badge("live/incidents/ak5-r-ak304-3.html", ".doc-meta .badge"),
        "Error code"
    );
    assert_eq!(
        badge("live/incidents/index.html", ".section-header .badge"),
        "Incident index"
    );
    let listed: Vec<String> = select(&kb.html("live/incidents/index.html"), ".page-item .badge")
        .iter()
        .map(|b| b.text().collect())
        .collect();
    assert!(
        !listed.is_empty() && listed.iter().all(|b| b == "Error code"),
        "{listed:?}"
    );
    assert_eq!(
        badge("faqs/x12-error-codes.html", ".doc-meta .badge"),
        "FAQ",
        "written documents keep their type"
    );
}

#[test]
fn the_partner_view_says_data_as_of_only_when_partners_see_data() {
    let kb = Kb::sample();
    kb.write(
        "content/partners/internal-figures.md",
        "+++\ntitle = \"Internal figures\"\ntype = \"partner\"\naudience = \"partner\"\n+++\nFor partners.\n\n<!-- internal -->\nLast pull: {{ as_of() }}.\n<!-- /internal -->\n",
    );
    kb.write(
        "content/partners/shared-figures.md",
        "+++\ntitle = \"Shared figures\"\ntype = \"partner\"\naudience = \"partner\"\n+++\nAs of {{ as_of() }}.\n",
    );
    kb.run(&["build"]).ok();
    kb.run(&["build", "--audience", "partner"]).ok();
    let as_of = |html: &str| select(&scraper::Html::parse_document(html), ".meta-data").len();
    let internal = kb.read_output("partners/internal-figures.html");
    assert_eq!(as_of(&internal), 1, "internal view");
    let partner = partner_page(&kb, "partners/internal-figures.html");
    assert_eq!(as_of(&partner), 0);
    assert_eq!(as_of(&partner_page(&kb, "partners/shared-figures.html")), 1);
    assert_eq!(as_of(&partner_page(&kb, "faqs/x12-error-codes.html")), 0);
    assert!(
        partner.contains("For partners.") && !partner.contains("Last pull"),
        "{partner}"
    );
}

#[test]
fn hidden_characters_show_as_the_same_markers_in_the_page_nav_search_and_feed() {
    let kb = Kb::new();
    kb.write(
        "content/guides/a.md",
        &doc(
            "Pay\u{202E}ment",
            "updated = 2026-11-02\n",
            "## Se\u{200B}tup\n\nText.\n",
        ),
    );
    kb.run(&["build"]).ok();
    let page = kb.read_output("guides/a.html");
    assert!(!page.contains('\u{202E}'), "U+202E reached the page raw");
    let html = kb.html("guides/a.html");
    assert_eq!(text(&html, "h1.doc-title"), "Pay[U+202E]ment");
    assert!(text(&html, "nav.nav").contains("Pay[U+202E]ment"));
    let index = kb.search_index();
    let entry = index["docs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["u"] == "guides/a.html")
        .unwrap();
    assert_eq!(entry["t"], "Pay[U+202E]ment");
    assert_eq!(entry["h"][0][0], "Se[U+200B]tup");
    let feed = kb.read_output("feed.xml");
    assert_contains(&feed, "<title>Pay[U+202E]ment</title>");
}

#[test]
fn a_folder_of_plain_markdown_is_documents_of_its_default_type() {
    let kb = Kb::new();
    kb.write(
        "content/runbooks/_index.md",
        "+++\ntitle = \"Runbooks\"\ndefault_type = \"playbook\"\n+++\n",
    );
    kb.write(
        "content/runbooks/restart-gateway.md",
        "# Restart the AS2 gateway\n\nStop it, then [check the queue](queue/drain.md).\n",
    );
    kb.write(
        "content/runbooks/queue/drain.md",
        "Drain first.\n\n## Drain the queue\n\nSteps.\n",
    );
    kb.run(&["build"]).ok();
    let page = kb.html("runbooks/restart-gateway.html");
    assert_eq!(text(&page, "h1.doc-title"), "Restart the AS2 gateway");
    assert_eq!(select(&page, "h1").len(), 1, "the heading became the title");
    assert_eq!(text(&page, ".doc-meta .badge"), "Playbook");
    assert_eq!(attr(&page, ".doc-body a", "href"), "queue/drain.html");
    let nested = kb.html("runbooks/queue/drain.html");
    assert_eq!(text(&nested, "h1.doc-title"), "Drain the queue");
    assert_eq!(text(&nested, ".doc-meta .badge"), "Playbook");

    kb.write("content/notes/loose.md", "# Loose\n");
    let stderr = kb.run(&["check"]).fails_with(1).stderr();
    assert_contains(&stderr, "content/notes/loose.md:1:1");
    assert_contains(
        &stderr,
        "`default_type = \"sop\"` to `content/notes/_index.md`",
    );
}

#[test]
fn repo_url_adds_edit_links_to_written_pages_only() {
    let kb = Kb::sample();
    kb.run(&["build"]).ok();
    assert!(select(&kb.html("sops/index.html"), ".edit-link").is_empty());
    assert!(
        select(&kb.html("faqs/x12-error-codes.html"), ".edit-link").is_empty(),
        "no repo_url, no link"
    );
    let config = kb.read("kbpub.toml");
    kb.write(
        "kbpub.toml",
        &config.replacen(
            "[site]\n",
            "[site]\nrepo_url = \"https://git.example.com/ops/kb/edit/main/\"\n",
            1,
        ),
    );
    kb.run(&["build"]).ok();
    assert_eq!(
        attr(&kb.html("faqs/x12-error-codes.html"), "a.edit-link", "href"),
        "https://git.example.com/ops/kb/edit/main/content/faqs/x12-error-codes.md"
    );
    assert!(
        select(&kb.html("live/partners/acme-retail.html"), ".edit-link").is_empty(),
        "generated pages have no source to edit"
    );
}

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// The Atom child element `name` of `node`.
fn atom_child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    node.children()
        .find(|c| c.tag_name().name() == name && c.tag_name().namespace() == Some(ATOM))
        .unwrap_or_else(|| panic!("<{name}> missing under <{}>", node.tag_name().name()))
}

#[test]
fn feed_xml_is_atom_with_notices_and_recent_changes_at_absolute_urls() {
    let kb = Kb::new();
    let dated = |title: &str, kind: &str, date: &str, extra: &str| {
        format!(
            "+++\ntitle = \"{title}\"\ntype = \"{kind}\"\nupdated = {date}\ndescription = \"About {title} & more\"\n{extra}+++\nBody.\n"
        )
    };
    kb.write(
        "content/notices/outage.md",
        &dated("VAN outage", "notice", "2026-11-20", ""),
    );
    kb.write(
        "content/sops/asn.md",
        &dated("ASN <rejections>", "sop", "2026-11-25", ""),
    );
    kb.write(
        "content/sops/old.md",
        &dated("Old way", "sop", "2026-11-30", "status = \"obsolete\"\n"),
    );
    kb.write("content/sops/undated.md", &doc("Undated", "", "x\n"));
    kb.run(&["build"]).ok();
    let xml = kb.read_output("feed.xml");
    let feed = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let root = feed.root_element();
    assert_eq!(root.tag_name().namespace(), Some(ATOM));
    assert_eq!(root.tag_name().name(), "feed");
    let child = atom_child;
    for required in ["id", "title", "updated", "author"] {
        child(root, required);
    }
    assert_eq!(child(root, "updated").text(), Some("2026-11-25T00:00:00Z"));
    assert_eq!(child(root, "id").text(), Some("https://kb.test/"));
    let entries: Vec<roxmltree::Node> = root
        .children()
        .filter(|c| c.tag_name().name() == "entry")
        .collect();
    let titles: Vec<&str> = entries
        .iter()
        .map(|e| child(*e, "title").text().unwrap())
        .collect();
    assert_eq!(titles, ["ASN <rejections>", "VAN outage"], "newest first");
    for entry in &entries {
        let id = child(*entry, "id").text().unwrap();
        assert!(id.starts_with("https://kb.test/"), "{id}");
        assert_eq!(child(*entry, "link").attribute("href"), Some(id));
        assert!(
            child(*entry, "updated")
                .text()
                .unwrap()
                .ends_with("T00:00:00Z")
        );
    }
    assert_eq!(
        child(entries[1], "summary").text(),
        Some("About VAN outage & more")
    );
    assert_eq!(
        child(entries[1], "category").attribute("label"),
        Some("Notice")
    );
    assert_eq!(
        attr(
            &kb.html("sops/asn.html"),
            "link[type='application/atom+xml']",
            "href"
        ),
        "../feed.xml"
    );
}

#[test]
fn code_titles_and_highlighted_lines_on_the_site_and_for_partners() {
    let kb = Kb::new();
    kb.write(
        "content/partners/setup.md",
        "+++\ntitle = \"Setup\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\n```yaml title=\"partner.yaml\" {2,4-5}\nid: acme\nname: ACME\nqual: ZZ\nisa: ACME01\nvan: x\nend: y\n```\n",
    );
    kb.run(&["build"]).ok();
    let html = kb.html("partners/setup.html");
    assert_eq!(
        text(&html, "figure.code-block figcaption.code-title"),
        "partner.yaml"
    );
    let marked: Vec<String> = select(&html, "figure.code-block pre code .hl-line")
        .iter()
        .map(|l| l.text().collect::<String>())
        .collect();
    assert_eq!(marked, ["name: ACME\n", "isa: ACME01\n", "van: x\n"]);
    assert_eq!(
        text(&html, "figure.code-block pre code"),
        "id: acme\nname: ACME\nqual: ZZ\nisa: ACME01\nvan: x\nend: y\n",
        "the code itself is unchanged"
    );

    kb.run(&["build", "--audience", "partner"]).ok();
    let partner = scraper::Html::parse_document(&partner_page(&kb, "partners/setup.html"));
    assert_eq!(text(&partner, ".doc-body p.code-title"), "partner.yaml");
    assert!(text(&partner, ".doc-body pre code").starts_with("id: acme\n"));
}

const PROCESS_MAP: &str = "+++\ntitle = \"Escalation\"\ntype = \"playbook\"\naudience = \"partner\"\n+++\n\nHow it flows.\n\n```mermaid\ngraph TD\n  A[Alert] --> B{Partner?}\n  B -->|yes| C[Notify <partner>]\n```\n";

#[test]
fn process_maps_load_the_bundled_diagram_script_only_where_used_and_reach_partners_as_source() {
    let kb = Kb::new();
    kb.write("content/guides/escalation.md", PROCESS_MAP);
    kb.write("content/guides/plain.md", &doc("Plain", "", "No map.\n"));
    kb.run(&["build"]).ok();
    let html = kb.html("guides/escalation.html");
    assert_eq!(
        text(&html, ".doc-body pre.mermaid"),
        "graph TD\n  A[Alert] --> B{Partner?}\n  B -->|yes| C[Notify <partner>]\n"
    );
    assert_eq!(
        attr(&html, "script[src$='mermaid.min.js']", "src"),
        "../assets/mermaid/mermaid.min.js"
    );
    assert!(
        select(
            &kb.html("guides/plain.html"),
            "script[src$='mermaid.min.js']"
        )
        .is_empty()
    );
    assert!(select(&kb.html("index.html"), "script[src$='mermaid.min.js']").is_empty());
    let script = std::fs::read(kb.output_file("assets/mermaid/mermaid.min.js")).unwrap();
    assert!(script.len() > 1_000_000, "the library itself, bundled");
    assert!(
        kb.read_output("assets/mermaid/LICENSE")
            .contains("MIT License")
    );

    kb.run(&["build", "--audience", "partner"]).ok();
    let partner = scraper::Html::parse_document(&partner_page(&kb, "guides/escalation.html"));
    assert!(
        text(&partner, ".doc-body p.code-title")
            .contains("drawn as a diagram on the knowledge-base site"),
    );
    assert!(text(&partner, ".doc-body pre code.language-mermaid").contains("C[Notify <partner>]"));
}

//! `kbpub build` end to end: the real binary on fixture sites, asserting on the parsed HTML, on
//! the error report for broken inputs, and on the atomicity of the output folder.

mod common;

use common::*;

fn built_fixture() -> Kb {
    let kb = Kb::fixture("valid");
    kb.run(&["build"]).ok();
    kb
}

#[test]
fn sample_knowledge_base_builds_with_every_section() {
    let kb = Kb::sample();
    let run = kb.run(&["build"]).ok();
    run.assert_stderr_has("Open output/index.html");
    let files = files_under(&kb.path().join("output"));
    for section in ["sops", "playbooks", "faqs", "partners", "notices"] {
        assert!(
            files.contains(&format!("{section}/index.html")),
            "missing {section}/index.html"
        );
    }
    let documents = files
        .iter()
        .filter(|f| {
            f.ends_with(".html")
                && !f.ends_with("index.html")
                && !f.starts_with("tags/")
                && *f != "404.html"
        })
        .count();
    assert!(documents >= 20, "only {documents} documents");
}

#[test]
fn relative_links_resolve_to_page_urls_with_anchors() {
    let kb = built_fixture();
    let beta = kb.html("guides/beta.html");
    let hrefs: Vec<String> = select(&beta, "main .doc-content a, article a")
        .iter()
        .filter_map(|a| a.value().attr("href").map(String::from))
        .collect();
    for expected in [
        "alpha.html#setup",
        "../faq/gamma.html",
        "deep/delta.html",
        "#later-on",
    ] {
        assert!(
            hrefs.iter().any(|h| h == expected),
            "no link to {expected} in {hrefs:?}"
        );
    }
    let delta = kb.html("guides/deep/delta.html");
    assert!(
        select(&delta, "a[href='../index.html']")
            .iter()
            .any(|a| a.text().collect::<String>() == "the guides")
    );
    assert!(
        select(&delta, "a[href='../../index.html']")
            .iter()
            .any(|a| a.text().collect::<String>() == "home")
    );
}

#[test]
fn every_internal_href_and_anchor_in_the_site_exists() {
    let kb = Kb::sample();
    kb.run(&["build"]).ok();
    let out = kb.path().join("output");
    for file in files_under(&out)
        .iter()
        .filter(|f| f.ends_with(".html") && *f != "404.html")
    {
        let html = kb.html(file);
        let dir = std::path::Path::new(file).parent().unwrap().to_path_buf();
        for (selector, attribute) in [
            ("a[href]", "href"),
            ("link[href]", "href"),
            ("script[src]", "src"),
            ("img[src]", "src"),
        ] {
            for element in select(&html, selector) {
                let target = element.value().attr(attribute).unwrap();
                if target.contains(':') || target.starts_with("//") {
                    continue; // external (https:, mailto:, data:)
                }
                assert!(
                    !target.starts_with('/'),
                    "{file}: absolute link {target} breaks opening from disk"
                );
                let (path, anchor) = target
                    .split_once('#')
                    .map_or((target, None), |(p, a)| (p, Some(a)));
                let resolved = if path.is_empty() {
                    out.join(file)
                } else {
                    out.join(&dir).join(path)
                };
                assert!(
                    resolved.is_file(),
                    "{file}: {target} does not exist ({})",
                    resolved.display()
                );
                if let Some(anchor) = anchor.filter(|a| !a.is_empty()) {
                    let page = Html::parse_document(&std::fs::read_to_string(&resolved).unwrap());
                    assert!(
                        !select(&page, &format!("[id='{anchor}']")).is_empty(),
                        "{file}: {target} has no #{anchor}"
                    );
                }
            }
        }
    }
}

#[test]
fn headings_get_stable_deduplicated_anchors() {
    let kb = built_fixture();
    let gamma = kb.html("faq/gamma.html");
    let ids: Vec<&str> = select(&gamma, "h2[id]")
        .iter()
        .map(|h| h.value().attr("id").unwrap())
        .collect();
    assert_eq!(ids, ["usage", "usage-1", "custom"]);
    // The HTML carries no `#` links beside headings (the page script adds them, see
    // tests/reading.rs); the TOC links every heading without JavaScript.
    assert!(select(&gamma, "h2 a.anchor").is_empty());
    let toc: Vec<String> = select(&gamma, ".toc a")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert!(toc.contains(&"#usage-1".to_string()), "{toc:?}");
}

#[test]
fn nav_marks_the_current_page_and_opens_its_section() {
    let kb = built_fixture();
    let delta = kb.html("guides/deep/delta.html");
    assert_eq!(text(&delta, "nav a[aria-current='page']"), "Delta");
    let open: Vec<String> = select(&delta, "nav li.is-open > a")
        .iter()
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(open, ["Guides", "Deep"]);
    let faq_children = select(
        &delta,
        "nav li:not(.is-open) > a[href='../../faq/index.html'] + details",
    );
    assert!(
        faq_children.is_empty(),
        "closed sections do not list their pages"
    );
    let crumbs: Vec<String> = select(&delta, ".breadcrumbs a")
        .iter()
        .map(|a| a.text().collect())
        .collect();
    assert_eq!(crumbs, ["Fixture KB", "Guides", "Deep"]);
}

#[test]
fn prev_next_follow_reading_order() {
    let kb = built_fixture();
    let beta = kb.html("guides/beta.html");
    let pager: Vec<String> = select(&beta, ".pager a")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(pager, ["alpha.html", "deep/index.html"]);
}

#[test]
fn github_alerts_become_styled_callouts() {
    let kb = built_fixture();
    let gamma = kb.html("faq/gamma.html");
    for (kind, title) in [
        ("note", "Note"),
        ("tip", "Tip"),
        ("important", "Important"),
        ("warning", "Warning"),
        ("caution", "Caution"),
    ] {
        assert_eq!(
            text(&gamma, &format!(".callout.callout-{kind} .callout-title")),
            title
        );
    }
}

#[test]
fn gfm_tables_tasks_strikethrough_footnotes_and_autolinks() {
    let kb = built_fixture();
    let gamma = kb.html("faq/gamma.html");
    assert_eq!(text(&gamma, ".table-wrap table td"), "AK5");
    assert_eq!(select(&gamma, "input[type=checkbox][checked]").len(), 1);
    assert_eq!(select(&gamma, "input[type=checkbox]").len(), 2);
    assert_eq!(text(&gamma, "del"), "old");
    assert_eq!(
        text(&gamma, "a[href='https://example.org/x']"),
        "https://example.org/x"
    );
    assert!(!select(&gamma, ".footnote-definition").is_empty());
}

#[test]
fn code_is_highlighted_with_css_classes() {
    let kb = built_fixture();
    let gamma = kb.html("faq/gamma.html");
    let spans = select(&gamma, "pre.code[data-lang='rust'] span[class]");
    assert!(!spans.is_empty());
    let css = kb.read_output("assets/highlight.css");
    assert!(css.contains("data-theme=\"dark\""), "dark theme colours");
    for class in spans.iter().flat_map(|s| s.value().classes()) {
        assert!(
            css.contains(&format!(" pre.code .{class} {{")),
            "highlight.css styles .{class}"
        );
    }
}

#[test]
fn images_are_copied_and_linked_relatively() {
    let kb = built_fixture();
    let beta = kb.html("guides/beta.html");
    assert_eq!(
        attr(&beta, "img[alt='Diagram of the flow']", "src"),
        "img/diagram.png"
    );
    assert!(kb.output_file("guides/img/diagram.png").is_file());
}

#[test]
fn metadata_tags_and_tag_pages() {
    let kb = built_fixture();
    let alpha = kb.html("guides/alpha.html");
    let page = kb.read_output("guides/alpha.html");
    assert!(page.contains("alpha@ops.example.com"), "owner shown");
    assert!(page.contains("2026-10-02"), "last updated shown");
    let tags: Vec<String> = select(&alpha, "a.tag")
        .iter()
        .map(|a| a.value().attr("href").unwrap().to_string())
        .collect();
    assert_eq!(tags, ["../tags/onboarding.html", "../tags/as2.html"]);
    let tag = kb.html("tags/onboarding.html");
    let listed: Vec<String> = select(&tag, "main a[href$='.html']")
        .iter()
        .map(|a| a.text().collect::<String>())
        .collect();
    assert!(
        listed.iter().any(|t| t.contains("Alpha guide"))
            && listed.iter().any(|t| t.contains("Gamma questions")),
        "{listed:?}"
    );
    assert!(kb.read_output("tags/index.html").contains("onboarding"));
}

#[test]
fn dark_mode_search_and_sitemap_are_local() {
    let kb = built_fixture();
    let page = kb.read_output("guides/alpha.html");
    assert!(
        !page.contains("http://") && !page.contains("https://cdn"),
        "no remote assets"
    );
    assert!(
        page.contains("data-theme") || kb.read_output("assets/kbpub.js").contains("data-theme")
    );
    let json = kb.search_index();
    let alpha = json["docs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["t"] == "Alpha guide")
        .expect("alpha indexed");
    assert_eq!(alpha["u"], "guides/alpha.html");
    assert_eq!(
        alpha["h"],
        serde_json::json!([["Setup", "setup"], ["Verify", "verify"]])
    );
    let sitemap = kb.read_output("sitemap.xml");
    assert!(
        sitemap
            .contains("<loc>https://kb.test/guides/alpha.html</loc><lastmod>2026-10-02</lastmod>"),
        "{sitemap}"
    );
    assert!(kb.output_file("404.html").is_file());
}

#[test]
fn broken_inputs_report_every_error_with_its_position() {
    let kb = Kb::fixture("invalid");
    kb.write("content/docs/links.md", "+++\ntitle = \"Links\"\ntype = \"sop\"\n+++\n\nSee [gone](missing.md) and\n[no anchor](dup-a.md#nope).\n");
    let run = kb.run(&["build"]).fails_with(1);
    let stderr = run.stderr();
    for expected in [
        "error[front-matter]: unknown type `recipe`",
        "content/docs/bad-type.md:3:8",
        "error[duplicate-id]: duplicate id `same-id`",
        "content/docs/dup-b.md:2:6",
        "error[front-matter]: `review_by` is not a valid date",
        "content/docs/bad-date.md:4:12",
        "error[front-matter]: front matter opened with `+++` is never closed",
        "content/docs/unclosed.md:1:1",
        "error[broken-link]: no document at `missing.md`",
        "content/docs/links.md:6:5",
        "error[broken-anchor]: `content/docs/dup-a.md` has no heading with anchor `#nope`",
        "content/docs/links.md:7:1",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert_contains(&stderr, "6 errors");
    assert!(
        stderr.contains("6 │ See [gone](missing.md) and"),
        "code frame:\n{stderr}"
    );
    assert!(!kb.path().join("output").exists(), "nothing written");
}

#[test]
fn json_report_lists_errors_with_positions() {
    let kb = Kb::fixture("invalid");
    let run = kb.run(&["build", "--format", "json"]).fails_with(1);
    let report = run.json();
    assert_eq!(report["errors"], 4);
    let first = &report["diagnostics"][0];
    assert_eq!(first["file"], "content/docs/bad-date.md");
    assert_eq!(first["line"], 4);
    assert_eq!(first["column"], 12);
    assert_eq!(first["code"], "front-matter");
}

#[test]
fn template_errors_name_the_template_and_line() {
    let kb = built_fixture();
    kb.write("templates/faq.html", "{% extends \"page.html\" %}\n{% block content %}\n{{ page.title }\n{% endblock content %}\n");
    let stderr = kb.run(&["build"]).fails_with(1).stderr();
    assert_contains(&stderr, "templates/faq.html:3:");
}

#[test]
fn a_failed_build_leaves_the_previous_output_untouched() {
    let kb = built_fixture();
    let out = kb.path().join("output");
    let before = snapshot(&out);
    kb.write(
        "content/guides/alpha.md",
        "+++\ntitle = \"Alpha changed\"\ntype = \"sop\"\n+++\n\n[broken](nowhere.md)\n",
    );
    kb.run(&["build"]).fails_with(1);
    assert!(
        before == snapshot(&out),
        "output changed after a failed build"
    );
    assert_no_staging_left(&kb);
}

fn assert_no_staging_left(kb: &Kb) {
    let leftovers: Vec<String> = std::fs::read_dir(kb.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

/// Every output file with its inode and bytes.
fn snapshot(out: &std::path::Path) -> Vec<(String, u64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    files_under(out)
        .into_iter()
        .map(|f| {
            let path = out.join(&f);
            let inode = std::fs::metadata(&path).unwrap().ino();
            (f, inode, std::fs::read(path).unwrap())
        })
        .collect()
}

#[test]
fn a_rebuild_writes_only_the_files_whose_bytes_changed() {
    let kb = built_fixture();
    let out = kb.path().join("output");
    let before = snapshot(&out);
    kb.run(&["build"]).ok();
    assert!(
        before == snapshot(&out),
        "a rebuild without changes keeps every file, inode and bytes"
    );

    let gamma = kb.read("content/faq/gamma.md");
    kb.write(
        "content/faq/gamma.md",
        &format!(
            "{gamma}
A sentence added by the writer.
"
        ),
    );
    kb.run(&["build"]).ok();
    let after = snapshot(&out);
    let changed: Vec<&str> = after
        .iter()
        .filter(|(f, ino, _)| {
            !before
                .iter()
                .any(|(old, old_ino, _)| old == f && old_ino == ino)
        })
        .map(|(f, _, _)| f.as_str())
        .collect();
    assert_eq!(changed, ["faq/gamma.html", "search-index.js"]);
    assert!(
        kb.read_output("faq/gamma.html")
            .contains("A sentence added by the writer.")
    );
    for (file, _, bytes) in &after {
        let (_, _, old) = before.iter().find(|(f, _, _)| f == file).unwrap();
        assert_eq!(
            old != bytes,
            changed.contains(&file.as_str()),
            "{file}: new inode exactly when the bytes changed"
        );
    }
}

/// How many pages `kbpub build` took unchanged from the previous build, from its summary line.
fn kept_pages(run: &Run) -> usize {
    let stderr = run.stderr();
    stderr
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split_once(" unchanged pages kept"))
        .map_or(0, |(n, _)| n.parse().unwrap())
}

#[test]
fn a_rebuild_renders_only_the_pages_whose_inputs_changed() {
    let kb = built_fixture();
    let all = kept_pages(&kb.run(&["build"]).ok());
    assert!(all >= 7, "an unchanged rebuild keeps every page: {all}");

    kb.write(
        "content/faq/gamma.md",
        &(kb.read("content/faq/gamma.md") + "\nA sentence added by the writer.\n"),
    );
    assert_eq!(kept_pages(&kb.run(&["build"]).ok()), all - 1);
    assert!(
        kb.read_output("faq/gamma.html")
            .contains("A sentence added by the writer.")
    );

    // A file changed in the output since the last build is rendered again, never trusted.
    std::fs::write(kb.output_file("guides/alpha.html"), "edited by hand").unwrap();
    assert_eq!(kept_pages(&kb.run(&["build"]).ok()), all - 1);
    assert!(kb.read_output("guides/alpha.html").contains("<html"));

    // After `rm -rf output` nothing can be kept.
    std::fs::remove_dir_all(kb.path().join("output")).unwrap();
    assert_eq!(kept_pages(&kb.run(&["build"]).ok()), 0);
    assert_eq!(kept_pages(&kb.run(&["build"]).ok()), all);
}

#[test]
fn every_input_of_a_page_renders_it_again_when_it_changes() {
    let kb = built_fixture();
    kb.run(&["build"]).ok();

    // A layout template: every document page.
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let page = std::fs::read_to_string(templates.join("page.html")).unwrap();
    kb.write(
        "templates/page.html",
        &page.replace(
            "<div class=\"prose doc-body\">",
            "<div class=\"prose doc-body\">TEMPLATE-MARK",
        ),
    );
    assert_eq!(kept_pages(&kb.run(&["build"]).ok()), 0);
    for doc in [
        "guides/alpha.html",
        "guides/deep/delta.html",
        "faq/gamma.html",
    ] {
        assert!(kb.read_output(doc).contains("TEMPLATE-MARK"), "{doc}");
    }

    // A document's title: the pages whose nav, pager or listing shows it.
    kb.replace(
        "content/guides/alpha.md",
        "title: Alpha guide",
        "title: Alpha renamed",
    );
    kb.run(&["build"]).ok();
    for page in ["guides/beta.html", "guides/index.html"] {
        assert!(kb.read_output(page).contains("Alpha renamed"), "{page}");
    }

    // The configuration: the site title is on every page.
    kb.replace("kbpub.toml", "Test KB", "Renamed KB");
    kb.run(&["build"]).ok();
    for page in ["guides/beta.html", "faq/gamma.html", "index.html"] {
        assert!(kb.read_output(page).contains("Renamed KB"), "{page}");
    }
}

#[test]
fn a_data_change_renders_the_pages_that_show_data_again() {
    let kb = Kb::new();
    kb.write("kbpub.toml", "[site]\ntitle = \"T\"\n\n[[data.sources]]\nname = \"p\"\nkind = \"file\"\npath = \"exports/partners.json\"\nrecords = \"partners\"\n");
    let partners = |name: &str| {
        format!(
            r#"{{"schema_version": "1.2", "as_of": "2026-11-03T00:00:00Z", "data": [{{"id": "P1", "name": "{name}", "edi_qualifier": "ZZ", "edi_id": "P1", "status": "active", "onboarded_at": null, "segment": "retail"}}]}}"#
        )
    };
    kb.write("exports/partners.json", &partners("Partner One"));
    kb.write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n");
    kb.write(
        "content/f.md",
        "+++\ntitle = \"F\"\ntype = \"faq\"\n+++\n\n{% set p = partner(id=\"P1\") %}NAME {{ p.name }}\n",
    );
    kb.run(&["data", "pull"]).ok();
    kb.run(&["build"]).ok();
    kb.run(&["build"]).ok();
    assert!(kb.read_output("f.html").contains("NAME Partner One"));

    kb.write("exports/partners.json", &partners("Partner Two"));
    kb.run(&["data", "pull"]).ok();
    kb.run(&["build"]).ok();
    assert!(kb.read_output("f.html").contains("NAME Partner Two"));
}

#[test]
fn a_killed_build_leaves_the_previous_output_and_the_next_build_cleans_up() {
    let kb = Kb::new();
    for i in 0..600 {
        kb.write(
            &format!("content/many/doc-{i:04}.md"),
            &format!("+++\ntitle = \"Document {i}\"\ntype = \"faq\"\n+++\n\n## Question {i}\n\nAn answer long enough to render.\n"),
        );
    }
    kb.run(&["build"]).ok();
    let out = kb.path().join("output");
    let before = snapshot(&out);
    kb.write(
        "kbpub.toml",
        "[site]\ntitle = \"Renamed KB\"\nbase_url = \"https://kb.test/\"\n",
    );
    let mut build = kbpub()
        .arg("build")
        .current_dir(kb.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staged_pages = |dir: &std::path::Path| files_under(dir).len();
    loop {
        let staging = std::fs::read_dir(kb.path()).unwrap().flatten().find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".output.staging-")
        });
        if staging.is_some_and(|s| staged_pages(&s.path()) > 10) {
            break;
        }
        assert!(
            build.try_wait().unwrap().is_none(),
            "the build ended before it could be killed"
        );
    }
    build.kill().unwrap();
    build.wait().unwrap();
    assert!(
        before == snapshot(&out),
        "the killed build changed the previous output"
    );

    kb.run(&["build"]).ok();
    assert!(kb.read_output("many/doc-0001.html").contains("Renamed KB"));
    assert_no_staging_left(&kb);
}

#[test]
fn without_hard_links_the_build_writes_every_file_in_full() {
    // The previous output on another file system (tmpfs) than the staging folder: linking its
    // files is impossible (EXDEV), so the build writes each of them anew.
    let shm = std::path::Path::new("/dev/shm");
    let kb = built_fixture();
    if !shm.is_dir() || device(shm) == device(kb.path()) {
        eprintln!(
            "skipped: no /dev/shm on another file system than {}",
            kb.path().display()
        );
        return;
    }
    let out = kb.path().join("output");
    let elsewhere = tempfile::tempdir_in(shm).unwrap();
    let moved = elsewhere.path().join("output");
    copy_dir(&out, &moved);
    std::fs::remove_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&moved, &out).unwrap();
    let before = snapshot(&moved);

    kb.run(&["build"]).ok();
    assert!(
        !out.is_symlink(),
        "the staged build took the output's place"
    );
    let contents = |files: Vec<(String, u64, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        files.into_iter().map(|(f, _, bytes)| (f, bytes)).collect()
    };
    assert!(
        contents(snapshot(&out)) == contents(before.clone()),
        "every file, in full"
    );
    for (file, _, _) in &before {
        assert_ne!(
            device(&out.join(file)),
            device(shm),
            "{file} is written, not linked"
        );
    }
    assert!(
        before == snapshot(&moved),
        "the previous output was only read"
    );
}

fn device(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().dev()
}

#[test]
fn files_of_deleted_documents_do_not_linger() {
    let kb = built_fixture();
    assert!(kb.output_file("guides/deep/delta.html").is_file());
    kb.remove("content/guides/deep/delta.md");
    kb.write(
        "content/guides/beta.md",
        "+++\ntitle = \"Beta guide\"\ntype = \"playbook\"\n+++\n\nNo links now.\n",
    );
    kb.run(&["build"]).ok();
    assert!(!kb.output_file("guides/deep/delta.html").exists());
    assert!(kb.output_file("guides/alpha.html").is_file());
}

#[test]
fn builds_are_deterministic() {
    let kb = built_fixture();
    let first = kb.read_output("guides/beta.html") + &kb.read_output("search-index.js");
    kb.run(&["build"]).ok();
    assert_eq!(
        first,
        kb.read_output("guides/beta.html") + &kb.read_output("search-index.js")
    );
}

#[test]
fn missing_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = kbpub()
        .arg("build")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1));
    assert_contains(&stderr, "no kbpub.toml");
    assert_contains(&stderr, "kbpub init");
}

#[test]
fn every_subcommand_has_help() {
    let help = kbpub().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.contains(&"build".to_string()), "{text}");
    for command in commands {
        let out = kbpub().args([command.as_str(), "--help"]).output().unwrap();
        assert!(out.status.success(), "{command} --help failed");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: kbpub"),
            "{command} --help"
        );
    }
}

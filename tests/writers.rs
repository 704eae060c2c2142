//! What a writer meets (issue 15): template syntax only outside code, heading text never dropped,
//! every problem reported at once, at the construct that opened it, in the writer's file.

mod common;

use common::*;

fn doc(title: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ntype = \"sop\"\n+++\n{body}")
}

const EDI_BODY: &str = "Written for {{ page.title }}.\n\n\
Map `{{ISA06}}` and `{% x %}` and `{#y#}` inline.\n\n\
```text\nISA*00*{{ISA06}}*{% if %}*{# note #}\n```\n\n    indented {{ISA08}} {% endfor %}\n\n\
## GET /v1/partners/{id}\n\n## Setup {#setup-edi}\n\nNUL here: \u{0}.\n";

#[test]
fn template_syntax_in_code_is_literal_and_heading_braces_stay_text() {
    let kb = Kb::new();
    kb.write("content/guides/edi.md", &doc("EDI map", EDI_BODY));
    kb.write(
        "content/guides/plain.md",
        &doc(
            "Plain",
            "Only code: `{{ISA06}}` and `{% x %}`.\n\n## GET /v1/partners/{id}\n",
        ),
    );
    kb.run(&["build"]).ok();
    for page in ["guides/edi.html", "guides/plain.html"] {
        let html = kb.html(page);
        let content = text(&html, "main");
        assert!(
            content.contains("{{ISA06}}") && content.contains("{% x %}"),
            "{page}: {content}"
        );
        let headings: Vec<(String, String)> = select(&html, "main h2")
            .iter()
            .map(|h| {
                (
                    h.text().collect::<String>(),
                    h.value().attr("id").unwrap_or("").to_string(),
                )
            })
            .collect();
        assert!(
            headings
                .iter()
                .any(|(t, id)| t.contains("GET /v1/partners/{id}") && id == "get-v1partnersid"),
            "{page}: {headings:?}"
        );
    }
    let edi = kb.html("guides/edi.html");
    let content = text(&edi, "main");
    assert_contains(&content, "Written for EDI map.");
    assert_contains(&content, "{#y#}");
    assert_contains(&content, "{# note #}");
    assert_contains(&content, "{% if %}");
    assert_contains(&content, "indented {{ISA08}} {% endfor %}");
    assert_eq!(text(&edi, "pre code").matches("{{ISA06}}").count(), 1);
    assert!(
        content.contains("NUL here: \u{FFFD}.") && !content.contains('\u{0}'),
        "{content}"
    );
    let setup = select(&edi, "h2#setup-edi");
    assert_eq!(setup.len(), 1);
    let setup_text = setup[0].text().collect::<String>();
    assert!(
        setup_text.contains("Setup") && !setup_text.contains('{'),
        "{setup_text}"
    );
}

#[test]
fn a_template_error_hides_no_other_problem_and_points_at_the_open_tag() {
    let kb = Kb::new();
    kb.write(
        "content/guides/broken.md",
        &doc(
            "Broken",
            "Intro.\n\n{% if page.title %}\nAlways.\n\nSee [missing](nowhere.md).\n",
        ),
    );
    kb.write(
        "content/guides/other.md",
        &doc("Other", "![chart](img/none.png)\n\n{{ nope( }}\n"),
    );
    kb.write(
        "content/guides/third.md",
        &doc("Third", "[gone](gone.md)\n"),
    );
    let run = kb.run(&["build"]).fails_with(1);
    let err = run.stderr();
    // The unclosed `{% if` is at line 7 (front matter is 4 lines + the body's blank line).
    assert_contains(&err, "content/guides/broken.md:7:1");
    assert_contains(&err, "`{% if %}` is never closed");
    assert_contains(&err, "{% endif %}");
    assert_contains(&err, "nowhere.md");
    assert_contains(&err, "img/none.png");
    assert_contains(&err, "content/guides/other.md:7:");
    assert_contains(&err, "gone.md");
    assert!(!err.contains("__body"), "{err}");
    assert_contains(&err, "Literal braces");
}

#[test]
fn a_clean_check_on_a_fresh_init_is_quiet_unless_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Run {
        output: kbpub().args(args).current_dir(dir.path()).output().unwrap(),
    };
    run(&["init"]).ok();
    git(dir.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    git(dir.path(), "wes@example.com", &["add", "-A"]);
    git(dir.path(), "wes@example.com", &["commit", "-qm", "init"]);

    let human = run(&["check"]).ok();
    let lines: Vec<String> = human.stderr().lines().map(String::from).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with("Checked ")
            && lines[0].contains("notes (")
            && lines[0].contains("--verbose"),
        "{}",
        lines[0]
    );

    let github = run(&["check", "--format", "github"]).ok();
    let annotations: Vec<String> = github.stdout().lines().map(String::from).collect();
    assert_eq!(annotations.len(), 1, "{annotations:#?}");
    assert!(
        annotations[0].starts_with("::notice title=kbpub check::"),
        "{}",
        annotations[0]
    );

    let verbose = run(&["check", "--verbose"]).ok();
    assert!(
        verbose.stderr().matches("note[").count() > 1,
        "{}",
        verbose.stderr()
    );
    let json = run(&["check", "--format", "json"]).ok().json();
    assert!(
        json.to_string().contains("\"note\""),
        "json lists every note: {json}"
    );
}

#[test]
fn bidi_and_control_characters_show_as_markers_in_the_facts_card_and_partner_line() {
    let kb = Kb::new();
    kb.write(
        "content/partners/acme.md",
        "+++\ntitle = \"ACME\"\ntype = \"partner\"\npartners = [\"AC\\u202EME\"]\n[extra]\nisa_id = \"ZZ\\u200BACME\\u0007\"\n+++\nGuide.\n",
    );
    kb.run(&["build"]).ok();
    let page = kb.read_output("partners/acme.html");
    for raw in ['\u{202E}', '\u{200B}', '\u{7}'] {
        assert!(
            !page.contains(raw),
            "U+{:04X} reached the HTML raw",
            raw as u32
        );
    }
    let html = kb.html("partners/acme.html");
    let facts = text(&html, ".doc-facts");
    assert_contains(&facts, "ZZ[U+200B]ACME\u{2407}");
    let meta = text(&html, ".doc-meta");
    assert_contains(&meta, "AC[U+202E]ME");
}

//! The Confluence storage-format writer, fed by the same prepared Markdown events as the site:
//! its output for each construct, and a property test that parses the output of random Markdown
//! with a strict XML parser.

mod common;

use std::sync::OnceLock;

use common::assert_contains;
use kbpub::config::Config;
use kbpub::content::Site;
use kbpub::render::markdown::{View, prepare};
use kbpub::render::storage::{self, AttachmentData, PageRef};
use proptest::prelude::*;

/// A tiny site to resolve links against: `guides/a.md` (page for rendering) and `guides/b.md`.
fn site() -> &'static Site {
    static SITE: OnceLock<(tempfile::TempDir, Site)> = OnceLock::new();
    &SITE
        .get_or_init(|| {
            let kb = common::Kb::new();
            kb.write(
                "content/guides/a.md",
                "+++\ntitle = \"A\"\ntype = \"sop\"\n+++\n",
            );
            kb.write(
                "content/guides/b.md",
                "+++\ntitle = \"B & <b>\"\ntype = \"faq\"\n+++\n\n## Setup\n",
            );
            kb.write("content/guides/img/flow.png", "png");
            kb.write("content/other/img/flow.png", "another png");
            let config = Config::load(kb.path()).unwrap();
            let site = kbpub::content::load_valid(&config).unwrap();
            (kb.dir, site)
        })
        .1
}

fn render(markdown: &str) -> storage::StorageOutput {
    let site = site();
    let page = site.page_by_rel_path("guides/a.md").unwrap();
    let prepared = prepare(markdown, site, page, View::Internal);
    let resolve = |p: usize| {
        Some(PageRef {
            space_key: "OPS".into(),
            title: site.pages[p].meta.title.clone(),
        })
    };
    storage::write(&prepared.events, &resolve)
}

/// Parses storage format as XML (with the `ac:`/`ri:` namespaces declared) or panics.
fn assert_well_formed(xhtml: &str) {
    let document = format!(
        "<root xmlns:ac=\"http://atlassian.com/content\" xmlns:ri=\"http://atlassian.com/resource/identifier\">{xhtml}</root>"
    );
    if let Err(e) = roxmltree::Document::parse(&document) {
        panic!("not well-formed XML: {e}\n{xhtml}");
    }
    let mut outside_cdata = String::new();
    let mut rest = xhtml;
    while let Some(start) = rest.find("<![CDATA[") {
        outside_cdata.push_str(&rest[..start]);
        rest = rest[start..]
            .find("]]>")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    outside_cdata.push_str(rest);
    for named in ["&nbsp;", "&amp;", "&lt;", "&gt;", "&quot;"] {
        assert!(
            !outside_cdata.contains(named),
            "named entity {named} in {xhtml}"
        );
    }
}

#[test]
fn nested_lists_stay_inside_their_parent_item() {
    let out = render("- one\n  - inner\n- two\n");
    assert_eq!(
        out.xhtml,
        "<ul><li>one<ul><li>inner</li></ul></li><li>two</li></ul>"
    );
}

#[test]
fn headings_carry_anchor_macros() {
    let out = render("## Setup steps\n");
    assert!(out.xhtml.starts_with("<h2><ac:structured-macro ac:name=\"anchor\"><ac:parameter ac:name=\"\">setup-steps</ac:parameter>"), "{}", out.xhtml);
}

#[test]
fn code_blocks_become_code_macros_with_split_cdata() {
    let out = render("```sh\necho ']]>' && ls\n```\n");
    assert_eq!(
        out.xhtml,
        "<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"language\">bash</ac:parameter><ac:plain-text-body><![CDATA[echo ']]]]><![CDATA[>' && ls]]></ac:plain-text-body></ac:structured-macro>"
    );
    assert_well_formed(&out.xhtml);
}

#[test]
fn a_code_title_becomes_the_code_macros_title_and_a_process_map_its_source_under_a_note() {
    let out = render("```yaml title=\"partner <a>.yaml\" {2}\nid: acme\nname: x\n```\n");
    assert_eq!(
        out.xhtml,
        "<ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"title\">partner &#60;a&#62;.yaml</ac:parameter><ac:parameter ac:name=\"language\">yaml</ac:parameter><ac:plain-text-body><![CDATA[id: acme\nname: x]]></ac:plain-text-body></ac:structured-macro>"
    );
    assert_well_formed(&out.xhtml);

    let out = render("```mermaid\ngraph TD\n  A --> B\n```\n");
    assert!(
        out.xhtml.starts_with("<ac:structured-macro ac:name=\"info\"><ac:parameter ac:name=\"title\">Process map</ac:parameter><ac:rich-text-body><p>This process map is drawn as a diagram on the knowledge-base site; its Mermaid source follows.</p><ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"title\">Process map (Mermaid source)</ac:parameter>"),
        "{}",
        out.xhtml
    );
    assert!(
        out.xhtml.contains("<![CDATA[graph TD\n  A --> B]]>"),
        "{}",
        out.xhtml
    );
    assert_well_formed(&out.xhtml);
}

#[test]
fn alerts_become_panel_macros() {
    for (alert, name) in [
        ("NOTE", "info"),
        ("TIP", "tip"),
        ("IMPORTANT", "note"),
        ("WARNING", "warning"),
        ("CAUTION", "warning"),
    ] {
        let out = render(&format!("> [!{alert}]\n> Body\n"));
        assert!(
            out.xhtml
                .starts_with(&format!("<ac:structured-macro ac:name=\"{name}\">")),
            "{alert}: {}",
            out.xhtml
        );
        assert!(
            out.xhtml
                .contains("<ac:rich-text-body><p>Body</p></ac:rich-text-body>")
        );
    }
}

#[test]
fn task_lists_get_unique_ids_and_statuses() {
    let out = render("- [x] done\n- [ ] open\n\nBetween.\n\n- [ ] later\n");
    assert_eq!(out.xhtml.matches("<ac:task-list>").count(), 2);
    assert!(out.xhtml.contains("<ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>done</ac:task-body></ac:task>"), "{}", out.xhtml);
    assert!(
        out.xhtml
            .contains("<ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status>")
    );
    assert!(out.xhtml.contains("<ac:task-id>3</ac:task-id>"));
}

#[test]
fn links_between_documents_use_ri_page_with_space_and_anchor() {
    let out = render("See [setup](b.md#setup) and [site](https://x12.org/a?b=1&c=2).\n");
    assert!(out.xhtml.contains(
        "<ac:link ac:anchor=\"setup\"><ri:page ri:space-key=\"OPS\" ri:content-title=\"B &#38; &#60;b&#62;\"/><ac:link-body>setup</ac:link-body></ac:link>"
    ), "{}", out.xhtml);
    assert!(
        out.xhtml
            .contains("<a href=\"https://x12.org/a?b=1&#38;c=2\">site</a>")
    );
    assert_well_formed(&out.xhtml);
}

#[test]
fn images_become_attachments_with_unique_names() {
    let out =
        render("![Flow](img/flow.png) ![Again](img/flow.png) ![Other](../other/img/flow.png)\n");
    assert!(
        out.xhtml.contains(
            "<ac:image ac:alt=\"Flow\"><ri:attachment ri:filename=\"flow.png\"/></ac:image>"
        ),
        "{}",
        out.xhtml
    );
    assert!(
        out.xhtml
            .contains("<ri:attachment ri:filename=\"flow-2.png\"/>"),
        "{}",
        out.xhtml
    );
    let sources: Vec<&AttachmentData> = out.attachments.iter().map(|a| &a.data).collect();
    assert_eq!(
        sources,
        [
            &AttachmentData::Asset("guides/img/flow.png".into()),
            &AttachmentData::Asset("other/img/flow.png".into())
        ]
    );
}

#[test]
fn tables_footnotes_and_emphasis() {
    let out = render("| A | B |\n|:-|-:|\n| *x* | ~~y~~ |\n\nText[^n].\n\n[^n]: Note.\n");
    assert!(out.xhtml.contains("<table><tbody><tr><th style=\"text-align: left;\">A</th><th style=\"text-align: right;\">B</th></tr><tr><td style=\"text-align: left;\"><em>x</em></td><td style=\"text-align: right;\"><s>y</s></td></tr></tbody></table>"), "{}", out.xhtml);
    assert!(out.xhtml.contains("<sup><ac:link ac:anchor=\"fn-n\"><ac:plain-text-link-body><![CDATA[1]]></ac:plain-text-link-body></ac:link></sup>"));
    assert!(out.xhtml.contains(
        "<ac:parameter ac:name=\"\">fn-n</ac:parameter></ac:structured-macro><sup>1</sup>"
    ));
    assert_well_formed(&out.xhtml);
}

#[test]
fn raw_html_is_kept_as_visible_text_with_a_warning() {
    let out = render("<div onclick=\"x()\">hi &nbsp;</div>\n");
    assert!(
        out.xhtml
            .contains("<code>&#60;div onclick=\"x()\"&#62;hi &#38;nbsp;&#60;/div&#62;</code>"),
        "{}",
        out.xhtml
    );
    assert_eq!(out.warnings.len(), 1);
    assert_well_formed(&out.xhtml);
}

#[test]
fn charts_become_attached_images() {
    let out = render(
        "<figure class=\"kb-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\"><title>Rejections &#60;856&#62; &amp; 997</title></svg></figure>\n",
    );
    assert_eq!(
        out.xhtml,
        "<p><ac:image ac:alt=\"Rejections &#60;856&#62; &#38; 997\"><ri:attachment ri:filename=\"chart-1.png\"/></ac:image></p>"
    );
    assert!(
        matches!(&out.attachments[0].data, AttachmentData::Svg(svg) if svg.starts_with("<svg"))
    );
}

#[test]
fn the_managed_by_panel_names_the_source_and_is_well_formed() {
    let panel = storage::managed_panel(Some("content/sops/a & <b>.md"));
    assert_contains(
        &panel,
        "edit the source in git: <code>content/sops/a &#38; &#60;b&#62;.md</code>",
    );
    assert_well_formed(&panel);
    assert!(storage::managed_panel(None).contains("kbpub generates this page"));
    assert_well_formed(storage::CHILDREN_MACRO);
}

#[test]
fn internal_passages_are_marked() {
    let out = render("<!-- internal -->\nSecret.\n<!-- /internal -->\n");
    assert!(out.xhtml.starts_with("<ac:structured-macro ac:name=\"note\"><ac:parameter ac:name=\"title\">Internal only</ac:parameter>"), "{}", out.xhtml);
    assert_well_formed(&out.xhtml);
}

/// Pieces of Markdown, combined at random with random text.
fn fragment() -> impl Strategy<Value = String> {
    let constructs = prop::sample::select(vec![
        "# ",
        "## ",
        "- ",
        "  - ",
        "1. ",
        "> ",
        "> [!NOTE]\n> ",
        "> [!WARNING]\n> ",
        "- [ ] ",
        "- [x] ",
        "```\n",
        "```bash\n",
        "~~~xml\n",
        "`",
        "*",
        "**",
        "~~",
        "_",
        "[",
        "](b.md#setup)",
        "](https://a.b/?x=1&y=2)",
        "![img](img/flow.png)",
        "![x](nope.png)",
        "](#h)",
        "<b>",
        "</b>",
        "<div>",
        "<!-- internal -->\n",
        "<!-- /internal -->\n",
        "| a | b |\n|---|---|\n| ",
        " | ",
        "[^1]",
        "\n\n[^1]: ",
        "\n",
        "\n\n",
        "&nbsp;",
        "&amp;",
        "&#0;",
        "]]>",
        "<![CDATA[",
        "https://example.com/x",
        "\\",
        "    code\n",
        "***\n",
        "<br>",
        "{#id}",
        "\u{202e}",
        "\u{0}",
        "\u{1b}",
        "\u{fffe}",
    ]);
    prop_oneof![
        3 => constructs.prop_map(String::from),
        2 => "[a-zA-Z0-9 <>&\"'\\]\\[(){}|*_~`#!-]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn any_markdown_gives_well_formed_storage_format(pieces in prop::collection::vec(fragment(), 0..40)) {
        let markdown: String = pieces.concat();
        let out = render(&markdown);
        assert_well_formed(&out.xhtml);
    }
}

#[test]
fn details_become_expand_macros_and_sub_sup_kbd_carry_over() {
    let out = render(
        "<details>\n<summary>Older codes</summary>\n\nAK5 **R**.\n\n</details>\n\nH<sub>2</sub>O, x<sup>2</sup>, <kbd>Ctrl</kbd>.\n",
    );
    assert_well_formed(&out.xhtml);
    assert!(
        out.xhtml.contains("<ac:structured-macro ac:name=\"expand\"><ac:parameter ac:name=\"title\">Older codes</ac:parameter><ac:rich-text-body><p>AK5 <strong>R</strong>.</p></ac:rich-text-body></ac:structured-macro>"),
        "{}",
        out.xhtml
    );
    assert!(
        out.xhtml
            .contains("H<sub>2</sub>O, x<sup>2</sup>, <kbd>Ctrl</kbd>."),
        "{}",
        out.xhtml
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // An expand left open inside a list item closes with it, so the body stays well-formed.
    let open = render("- <details>\n\n  inside\n- next\n");
    assert_well_formed(&open.xhtml);
}

#[test]
fn abbreviations_keep_their_text_in_confluence() {
    let out = render(
        "| <abbr title=\"Rejection rate\">Rejected</abbr> |\n|---:|\n| 1.0% |\n\nAn <abbr>EDI</abbr> term.\n",
    );
    assert_well_formed(&out.xhtml);
    assert!(out.xhtml.contains(">Rejected</th>"), "{}", out.xhtml);
    assert!(out.xhtml.contains("An EDI term."), "{}", out.xhtml);
    assert!(!out.xhtml.contains("abbr"), "{}", out.xhtml);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn template_like_braces_and_heading_brace_groups_reach_confluence_as_text() {
    let out = render(
        "## GET /v1/partners/{id}\n\n`{{ISA06}}`\n\n```\n{% if %}{# x #}\n```\n\nNUL \u{0}\n",
    );
    assert_well_formed(&out.xhtml);
    for text in [
        "GET /v1/partners/{id}",
        "<code>{{ISA06}}</code>",
        "{% if %}{# x #}",
        "NUL \u{FFFD}",
    ] {
        assert!(out.xhtml.contains(text), "{text} in {}", out.xhtml);
    }
}

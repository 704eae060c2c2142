//! `kbpub check` end to end: the real binary on knowledge bases in temp folders (git repositories
//! where approvals are involved), one test per kind of problem with its exact position and code,
//! one per output format, the exit codes, and that check writes nothing. External links are
//! checked against a loopback HTTP server in this process; nothing here touches the network.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;

const NOW: &str = "2030-01-10T12:00:00Z";

fn doc(title: &str, body: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ntype = \"sop\"\n+++\n\n{body}\n")
}

/// `kbpub check --format json` (with the clock at [`NOW`]) and its exit code.
fn check_json(kb: &Kb, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["check", "--format", "json"];
    args.extend(extra);
    let run = kb.run_env(&args, &[("KBPUB_NOW", NOW)]);
    (run.code(), run.json())
}

/// The JSON report of `kbpub check` on `kb`, which must find errors (exit code 1).
#[track_caller]
fn check_fails(kb: &Kb) -> Value {
    let (code, report) = check_json(kb, &[]);
    assert_eq!(code, 1, "{report:#}");
    report
}

/// Every diagnostic as `severity code file:line:col`.
fn found(report: &Value) -> Vec<String> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            let position = match (d["line"].as_u64(), d["column"].as_u64()) {
                (Some(line), Some(col)) => {
                    format!("{}:{line}:{col}", d["file"].as_str().unwrap_or(""))
                }
                _ => d["file"].as_str().unwrap_or("").to_string(),
            };
            format!(
                "{} {} {position}",
                d["severity"].as_str().unwrap(),
                d["code"].as_str().unwrap()
            )
        })
        .collect()
}

fn assert_found(report: &Value, expected: &str) {
    let all = found(report);
    assert!(
        all.iter().any(|d| d == expected),
        "expected `{expected}` among:\n{}",
        all.join("\n")
    );
}

/// The message of the first diagnostic with `code`.
fn message(report: &Value, code: &str) -> String {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no `{code}` in {report:#}"))["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A knowledge base whose data comes from a file source (partners ACME-RETAIL and BIGBOX-STORES),
/// pulled into its snapshot with the real `kbpub data pull` (no network).
fn data_kb() -> Kb {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        "[site]\ntitle = \"Test KB\"\n\n[[data.sources]]\nname = \"partners\"\nkind = \"file\"\npath = \"exports/partners.csv\"\nrecords = \"partners\"\n\n[data.pages]\nsection = \"\"\n",
    );
    kb.write(
        "exports/partners.csv",
        "id,name,edi_qualifier,edi_id,status,onboarded_at,segment\nACME-RETAIL,Acme Retail,ZZ,ACME,active,2024-01-01T00:00:00Z,retail\nBIGBOX-STORES,BigBox Stores,ZZ,BIGBOX,active,2024-02-01T00:00:00Z,retail\n",
    );
    kb.run(&["data", "pull"]).ok();
    kb
}

// ---- one test per kind of problem, each at its exact position --------------------------------

#[test]
fn front_matter_errors_point_at_the_key() {
    let kb = Kb::new();
    kb.write(
        "content/a.md",
        "+++\ntitle = \"A\"\ntype = \"sop\"\ntitel = \"x\"\n+++\n",
    );
    kb.write(
        "content/b.md",
        "+++\ntitle = \"B\"\ntype = \"recipe\"\n+++\n",
    );
    let report = check_fails(&kb);
    assert_found(&report, "error front-matter content/a.md:4:1");
    assert_found(&report, "error front-matter content/b.md:3:8");
}

#[test]
fn broken_links_anchors_and_missing_images_point_at_the_link() {
    let kb = Kb::new();
    kb.write("content/sops/target.md", &doc("Target", "## Real heading"));
    kb.write(
        "content/sops/a.md",
        &doc(
            "A",
            "Intro.\n\nSee [gone](missing.md) or\n[the target](target.md#nope).\n\n  ![flow](images/flow.png)",
        ),
    );
    let report = check_fails(&kb);
    assert_found(&report, "error broken-link content/sops/a.md:8:5");
    assert_found(&report, "error broken-anchor content/sops/a.md:9:1");
    assert_found(&report, "error missing-image content/sops/a.md:11:3");
    assert!(message(&report, "broken-anchor").contains("#nope"));
}

#[test]
fn template_syntax_errors_point_into_the_document() {
    let kb = Kb::new();
    kb.write(
        "content/a.md",
        &doc("A", "Line one.\n\nTitle: {{ page.title }"),
    );
    let report = check_fails(&kb);
    let all = found(&report);
    assert!(
        all.iter()
            .any(|d| d.starts_with("error template content/a.md:8:")),
        "{all:?}"
    );
}

#[test]
fn a_template_call_with_an_unknown_partner_points_at_the_call() {
    let kb = data_kb();
    kb.write(
        "content/a.md",
        &doc(
            "A",
            "The partner programme.\n\n{% set a = partner(id=\"ACME-RETAIL\") %}We serve {{ a.name }} and\n{% set b = partner(id=\"NOPE\") %}{{ b.name }}.",
        ),
    );
    let report = check_fails(&kb);
    assert_found(&report, "error template content/a.md:9:12");
    assert!(
        message(&report, "template").contains("no partner `NOPE` in the data snapshot"),
        "{report:#}"
    );
}

#[test]
fn front_matter_partners_must_be_in_the_data_snapshot() {
    let kb = data_kb();
    kb.write(
        "content/a.md",
        "+++\ntitle = \"A\"\ntype = \"sop\"\npartners = [\n  \"ACME-RETAIL\",\n  \"BIGBOX-STORE\",\n]\n+++\n\nBody.\n",
    );
    kb.write(
        "content/b.md",
        "---\ntitle: B\ntype: faq\npartners: [ACME-RETAIL, NOPE]\n---\n\nBody.\n",
    );
    let report = check_fails(&kb);
    assert_found(&report, "error unknown-partner content/a.md:6:4");
    assert_found(&report, "error unknown-partner content/b.md:4:25");
    let help = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["file"] == "content/a.md")
        .unwrap()["help"]
        .clone();
    assert!(
        help.as_str()
            .unwrap()
            .contains("did you mean `BIGBOX-STORES`?"),
        "{help}"
    );
    // Build renders these pages (the ids are labels to it); check is where they are caught.
    kb.run(&["build"]).ok();
}

#[test]
fn review_dates_passed_are_warnings_and_close_ones_notes() {
    let kb = Kb::new();
    kb.write(
        "content/old.md",
        "+++\ntitle = \"Old\"\ntype = \"sop\"\nreview_by = 2030-01-09\n+++\n",
    );
    kb.write(
        "content/soon.md",
        "+++\ntitle = \"Soon\"\ntype = \"sop\"\nreview_by = 2030-01-20\n+++\n",
    );
    kb.write(
        "content/later.md",
        "+++\ntitle = \"Later\"\ntype = \"sop\"\nreview_by = 2030-06-01\n+++\n",
    );
    let (code, report) = check_json(&kb, &[]);
    assert_eq!(code, 0, "warnings do not fail the check: {report:#}");
    assert_eq!(
        found(&report),
        [
            "warning review-overdue content/old.md:4:13",
            "note review-due content/soon.md:4:13"
        ]
    );
    assert!(message(&report, "review-due").contains("in 10 days"));
}

/// One rule for every page: one approval from `ops` (Ana).
const POLICY: &str =
    "[[rule]]\nname = \"all\"\napprovals = 1\ngroups = [\"ops\"]\nexclude_authors = false\n";

/// `.kb/` with Ana Ops as the one approver and `policy`.
fn with_policy(kb: &Kb, policy: &str) {
    kb.write(
        ".kb/people.toml",
        "[[person]]\nemail = \"ana@example.com\"\nname = \"Ana Ops\"\n\n[groups]\nops = [\"ana@example.com\"]\n",
    );
    kb.write(".kb/policy.toml", policy);
}

/// Makes the knowledge base a git repository with everything committed by Wes.
fn commit_all(kb: &Kb) {
    kb.write(".gitignore", "output/\n.kbpub-cache/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    git(kb.path(), "wes@example.com", &["add", "-A"]);
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-q", "-m", "Initial"],
    );
}

/// `kbpub approve --as ana@example.com <args>`, committed by Ana.
fn approve_as_ana(kb: &Kb, args: &[&str]) {
    let ana = git_env("ana@example.com");
    let ana: Vec<(&str, &str)> = ana.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["approve", "--as", "ana@example.com"];
    all.extend(args);
    kb.run_env(&all, &ana).ok();
}

/// A knowledge base in a git repository with [`POLICY`], `toml` as its `kbpub.toml` (`None`:
/// the default one) and `docs` (path under `content/`, text).
fn committed_kb(toml: Option<&str>, docs: &[(&str, &str)]) -> Kb {
    let kb = Kb::new();
    if let Some(toml) = toml {
        kb.write("kbpub.toml", toml);
    }
    with_policy(&kb, POLICY);
    for (path, text) in docs {
        kb.write(&format!("content/{path}"), text);
    }
    commit_all(&kb);
    kb
}

/// A knowledge base in a git repository with [`POLICY`] and two documents.
fn approval_kb() -> Kb {
    committed_kb(
        None,
        &[
            ("a.md", &doc("Alpha", "Alpha procedure.")),
            ("b.md", &doc("Beta", "Beta procedure.")),
        ],
    )
}

#[test]
fn pages_waiting_for_approval_are_notes_and_never_fail_the_check() {
    let kb = approval_kb();
    approve_as_ana(&kb, &["content/a.md"]);
    let report = succeeded(check_at(&kb, None, &[]));
    assert_eq!(found(&report), ["note approval content/b.md:2:9"]);
    assert!(message(&report, "approval").starts_with("draft: not approved"));
    let (code, _) = check_at(&kb, None, &["--deny", "warnings"]);
    assert_eq!(code, 0, "notes never fail, not even with --deny warnings");
}

/// `kbpub check --format json <extra>` at the real clock (approvals are dated now) or at `now`.
fn check_at(kb: &Kb, now: Option<&str>, extra: &[&str]) -> (i32, Value) {
    let env: Vec<(&str, &str)> = now.map(|n| ("KBPUB_NOW", n)).into_iter().collect();
    let mut args = vec!["check", "--format", "json"];
    args.extend(extra);
    let run = kb.run_env(&args, &env);
    (run.code(), run.json())
}

#[test]
fn a_page_no_policy_rule_matches_is_a_warning() {
    let kb = approval_kb();
    kb.write(
        ".kb/policy.toml",
        "[[rule]]\nname = \"sops\"\npaths = [\"sops/**\"]\napprovals = 1\ngroups = [\"ops\"]\n",
    );
    kb.write("content/sops/c.md", &doc("Gamma", "Gamma procedure."));
    git(kb.path(), "wes@example.com", &["add", "-A"]);
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-qm", "Rules by path"],
    );
    let report = succeeded(check_at(&kb, None, &[]));
    assert_eq!(
        found(&report),
        [
            "warning no-approval-rule content/a.md:2:9",
            "warning no-approval-rule content/b.md:2:9",
            "note approval content/sops/c.md:2:9"
        ]
    );
}

#[test]
fn a_page_out_under_an_emergency_approval_is_a_warning() {
    let kb = approval_kb();
    kb.write(
        ".kb/policy.toml",
        &format!("{POLICY}\n[emergency]\ngroups = [\"ops\"]\n"),
    );
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-qam", "Emergencies"],
    );
    approve_as_ana(
        &kb,
        &["content/a.md", "--emergency", "--reason", "AS2 outage"],
    );
    let report = succeeded(check_at(&kb, None, &[]));
    assert_found(&report, "warning emergency-approval content/a.md:2:9");
    assert!(
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "emergency-approval"
                && d["help"].as_str().unwrap().contains("AS2 outage")),
        "{report:#}"
    );
}

#[test]
fn an_expired_approval_is_a_warning() {
    let kb = approval_kb();
    kb.write(
        ".kb/policy.toml",
        "[[rule]]\nname = \"all\"\napprovals = 1\ngroups = [\"ops\"]\nexclude_authors = false\nmax_age = \"1d\"\n",
    );
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-qam", "Short approvals"],
    );
    approve_as_ana(&kb, &["content/a.md", "content/b.md"]);
    let later = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let (code, report) = check_at(&kb, Some(&later), &[]);
    assert_eq!(code, 0);
    assert_found(&report, "warning approval-expired content/a.md:2:9");
    assert_found(&report, "warning approval-expired content/b.md:2:9");
}

#[test]
fn a_broken_policy_is_an_error_at_its_position() {
    let kb = approval_kb();
    kb.write(
        ".kb/policy.toml",
        "[[rule]]\nname = \"all\"\napprovals = 1\ngroups = [\"opz\"]\n",
    );
    let report = check_fails(&kb);
    let all = found(&report);
    assert!(
        all.iter()
            .any(|d| d.starts_with("error ") && d.ends_with(" .kb/policy.toml:4:11")),
        "{all:?}"
    );
}

#[test]
fn without_git_history_approval_states_are_unknown_and_that_is_an_error() {
    let kb = Kb::new();
    with_policy(&kb, POLICY);
    kb.write("content/a.md", &doc("A", "Body."));
    let report = check_fails(&kb);
    let d = &report["diagnostics"][0];
    assert_eq!(d["code"], "no-history", "{report:#}");
    assert!(
        d["help"]
            .as_str()
            .unwrap()
            .contains("`kbpub publish` publishes nothing"),
        "{d}"
    );
}

#[test]
fn every_page_is_reachable_through_the_nav_even_in_windowed_sections() {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        "[site]\ntitle = \"T\"\n[nav]\nmax_section_pages = 3\n",
    );
    for i in 0..12 {
        kb.write(
            &format!("content/long/p{i:02}.md"),
            &doc(&format!("Page {i:02}"), "Body."),
        );
    }
    kb.write("content/deep/er/x.md", &doc("Deep", "Body."));
    let report = succeeded(check_json(&kb, &["--deny", "warnings"]));
    assert_eq!(found(&report), Vec::<String>::new());
}

#[test]
fn pages_no_navigation_reaches_are_warnings() {
    let kb = Kb::new();
    kb.write(
        "content/guides/_index.md",
        "+++\ntitle = \"Guides\"\n+++\n\nStart with [the intro](intro.md).\n",
    );
    kb.write("content/guides/intro.md", &doc("Intro", "Hello."));
    kb.write("content/guides/hidden.md", &doc("Hidden", "Hello."));
    // A theme without the nav tree whose section pages list only subsections.
    kb.write(
        "templates/base.html",
        "<!DOCTYPE html><html><body>{% block main %}{% endblock main %}{% block pager %}{% if next %}<a href=\"{{ next.href }}\" rel=\"next\">Next</a>{% endif %}{% endblock pager %}</body></html>\n",
    );
    kb.write(
        "templates/section.html",
        "{% extends \"base.html\" %}{% block main %}{{ section.content | safe }}<ul>{% for s in section.subsections %}<li><a href=\"{{ s.href }}\">{{ s.title }}</a></li>{% endfor %}</ul>{% endblock main %}\n",
    );
    let report = succeeded(check_json(&kb, &[]));
    // The intro is linked only from the section's own text, the hidden page by nothing but
    // the pager: neither counts as navigation.
    assert_eq!(
        found(&report),
        [
            "warning unreachable-page content/guides/hidden.md:2:9",
            "warning unreachable-page content/guides/intro.md:2:9"
        ]
    );
    let (code, _) = check_json(&kb, &["--deny", "warnings"]);
    assert_eq!(code, 1, "--deny warnings fails on warnings");
}

#[test]
fn the_partner_leak_check_runs_on_partner_documents() {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        "[site]\ntitle = \"T\"\n\n[partner]\ninternal_domains = [\"ops.example.com\"]\n",
    );
    let partner = "+++\ntitle = \"Connecting\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\nWrite to us.\n\n<!-- internal -->\nPage edi-oncall@ops.example.com at night.\n<!-- /internal -->\n\nOr ask tg-gw01.ops.example.com directly.\n";
    kb.write("content/partners/connect.md", partner);
    // The same text in an internal document is fine.
    kb.write(
        "content/sops/a.md",
        &doc("A", "Ask tg-gw01.ops.example.com."),
    );
    let report = check_fails(&kb);
    assert_eq!(
        found(&report),
        ["error leak content/partners/connect.md:13:8"]
    );
    assert!(
        message(&report, "leak").contains("tg-gw01.ops.example.com"),
        "{report:#}"
    );
}

const CONFLUENCE: &str = "[site]\ntitle = \"T\"\n\n[confluence]\nbase_url = \"https://example.atlassian.net/wiki\"\nemail_env = \"CONFLUENCE_EMAIL\"\ntoken_env = \"CONFLUENCE_TOKEN\"\ndefault_space = \"OPS\"\n";

#[test]
fn raw_html_that_confluence_shows_as_text_is_a_warning_at_the_html() {
    let kb = committed_kb(
        Some(CONFLUENCE),
        &[(
            "a.md",
            &doc(
                "A",
                "Fine <br> and <!-- a comment -->.\n\nPress <kbd>Ctrl</kbd> now.\n\n<div class=\"box\">\nboxed\n</div>",
            ),
        )],
    );
    let report = succeeded(check_json(&kb, &[]));
    let html: Vec<String> = found(&report)
        .into_iter()
        .filter(|d| d.contains("confluence-html"))
        .collect();
    assert_eq!(
        html,
        // `<kbd>` carries over to Confluence (issue 15); the `<div>` does not.
        ["warning confluence-html content/a.md:10:1"]
    );
}

#[test]
fn titles_that_would_collide_in_a_confluence_space_are_errors() {
    let kb = committed_kb(
        Some(CONFLUENCE),
        &[
            ("sops/a.md", &doc("Rotating certificates", "One.")),
            ("playbooks/b.md", &doc("Rotating Certificates", "Two.")),
        ],
    );
    let report = check_fails(&kb);
    assert_found(&report, "error title-collision content/sops/a.md:2:9");
    assert!(
        message(&report, "title-collision").contains("content/playbooks/b.md"),
        "{report:#}"
    );
    // Build is not concerned: the site has no such rule.
    kb.run(&["build"]).ok();
}

#[test]
fn a_confluence_section_that_cannot_work_is_an_error_at_its_value_in_kbpub_toml() {
    let toml = CONFLUENCE.replace(
        "https://example.atlassian.net/wiki",
        "ftp://confluence.example.com",
    );
    let kb = committed_kb(Some(&toml), &[("a.md", &doc("A", "Body."))]);
    let report = check_fails(&kb);
    assert_eq!(
        found(&report),
        [
            "note approval content/a.md:2:9",
            "error confluence-config kbpub.toml:5:12"
        ]
    );
    assert!(message(&report, "confluence-config").contains("must be an http(s) URL"));
}

/// `[community]`, `[salesforce]` and `[amplience]`, each with one value that cannot work: an
/// unknown document type as a `[community.types]` key (line 11), a body field that is not a
/// custom field (line 20, column 14), a repository id with a space (line 25, column 14).
const BROKEN_TARGETS: &str = r#"[site]
title = "T"

[community]
base_url = "https://community.example.com/api"
token_env = "COMMUNITY_TOKEN"
article_url = "https://community.example.com/kb/{external_id}"
default_category = "guides"
[community.types]
notice = "notices"
faqs = "edi-faq"

[salesforce]
login_url = "https://acme.my.salesforce.com"
flow = "client-credentials"
client_id_env = "SF_ID"
client_secret_env = "SF_SECRET"
username = "kbpub@acme.example"
article_url = "https://partners.example.com/s/article/{url_name}"
body_field = "Body"
hash_field = "Kbpub_Hash__c"

[amplience]
hub = "kb-hub"
repository = "kb repo"
client_id_env = "AMP_ID"
client_secret_env = "AMP_SECRET"
article_url = "https://partners.example.com/onboarding/{delivery_key}"
"#;

#[test]
fn a_target_value_that_cannot_work_is_an_error_at_its_line_and_column() {
    let kb = committed_kb(Some(BROKEN_TARGETS), &[("a.md", &doc("A", "Body."))]);
    let report = check_fails(&kb);
    assert_found(&report, "error community-config kbpub.toml:11:1");
    assert_found(&report, "error salesforce-config kbpub.toml:20:14");
    assert_found(&report, "error amplience-config kbpub.toml:25:14");
    let community = message(&report, "community-config");
    assert_contains(&community, "`community.types`");
    assert_contains(&community, "`faqs`");
    assert!(
        message(&report, "salesforce-config").contains("`salesforce.body_field`"),
        "{report:#}"
    );
    assert!(
        message(&report, "amplience-config").contains("`amplience.repository`"),
        "{report:#}"
    );
    // The human form shows the place and the value under it.
    let run = kb.run_env(&["check"], &[("KBPUB_NOW", NOW)]);
    run.assert_stderr_has("kbpub.toml:20:14");
    run.assert_stderr_has("body_field = \"Body\"");
    // A target that cannot work stops only what uses it: the site still builds.
    kb.run(&["build"]).ok();
}

#[test]
fn with_a_confluence_target_a_missing_policy_is_an_error() {
    let kb = Kb::new();
    kb.write("kbpub.toml", CONFLUENCE);
    kb.write("content/a.md", &doc("A", "Body."));
    let report = check_fails(&kb);
    assert_found(&report, "error no-policy ");
}

// ---- external links, against a loopback server --------------------------------------------------

/// A loopback HTTP server with the answers link checking must tell apart, counting requests.
struct LinkServer {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    max_in_flight: Arc<Mutex<usize>>,
    _runtime: tokio::runtime::Runtime,
}

impl LinkServer {
    /// `/hold/*`: the first `hold_group` requests are held until more than `hold_group` are in
    /// flight at once (a client that does not keep its bound) or for an observation window of
    /// 3 seconds; the others are answered at once. A client bounded at `hold_group` that sends
    /// concurrently has exactly `hold_group` in flight; a sequential one has 1.
    fn start(hold_group: usize) -> LinkServer {
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let max_in_flight: Arc<Mutex<usize>> = Arc::default();
        let (in_flight, _) = tokio::sync::watch::channel((0usize, 0usize)); // (in flight, arrived)
        let held = move |arrived: usize| arrived <= hold_group;
        let in_flight = Arc::new(in_flight);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = {
            let hits = hits.clone();
            let max_in_flight = max_in_flight.clone();
            axum::Router::new().fallback(move |uri: axum::http::Uri| {
                let hits = hits.clone();
                let max_in_flight = max_in_flight.clone();
                let in_flight = in_flight.clone();
                async move {
                    let path = uri.path().to_string();
                    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
                    match path.as_str() {
                        "/ok" | "/ok-too" => StatusCode::OK.into_response(),
                        "/missing" => StatusCode::NOT_FOUND.into_response(),
                        "/gone" => StatusCode::GONE.into_response(),
                        "/error" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                        "/moved" => (
                            StatusCode::MOVED_PERMANENTLY,
                            [(header::LOCATION, "/ok-too")],
                        )
                            .into_response(),
                        "/elsewhere" => {
                            (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response()
                        }
                        "/slow" => std::future::pending().await,
                        p if p.starts_with("/hold/") => {
                            let mut arrived = 0;
                            in_flight.send_modify(|(n, total)| {
                                *n += 1;
                                *total += 1;
                                arrived = *total;
                                let mut max = max_in_flight.lock().unwrap();
                                *max = (*max).max(*n);
                            });
                            if held(arrived) {
                                let mut rx = in_flight.subscribe();
                                let _ = tokio::time::timeout(
                                    Duration::from_secs(3),
                                    rx.wait_for(|(n, _)| *n > hold_group),
                                )
                                .await;
                            }
                            in_flight.send_modify(|(n, _)| *n -= 1);
                            StatusCode::OK.into_response()
                        }
                        _ => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            })
        };
        runtime.spawn(async move { axum::serve(listener, app).await });
        LinkServer {
            base: format!("http://{addr}"),
            hits,
            max_in_flight,
            _runtime: runtime,
        }
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A knowledge base whose one document links to `paths` on `server`, one link per line (line
/// 6 onwards), checked with `timeout` and `concurrency`.
fn links_kb(server: &LinkServer, paths: &[&str], timeout: &str, concurrency: usize) -> Kb {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        &format!("[site]\ntitle = \"T\"\n\n[check.external]\ntimeout = \"{timeout}\"\nconcurrency = {concurrency}\nskip = [\"{}/skipped\"]\n", server.base),
    );
    let body: Vec<String> = paths
        .iter()
        .map(|p| format!("- [{p}]({}{p})", server.base))
        .collect();
    kb.write(
        "content/links.md",
        &format!(
            "+++\ntitle = \"Links\"\ntype = \"faq\"\n+++\n\n{}\n",
            body.join("\n")
        ),
    );
    kb
}

#[test]
fn external_links_are_checked_with_a_timeout_and_each_answer_reported_at_the_link() {
    let server = LinkServer::start(0);
    let kb = links_kb(
        &server,
        &[
            "/ok",
            "/missing",
            "/gone",
            "/moved",
            "/elsewhere",
            "/error",
            "/slow",
            "/skipped",
        ],
        "1s",
        8,
    );
    // A closed port: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/x", closed.local_addr().unwrap());
    drop(closed);
    let text = kb.read("content/links.md");
    kb.write(
        "content/links.md",
        &format!("{text}\nAlso {closed_url} bare.\n"),
    );

    let (code, offline) = check_json(&kb, &[]);
    assert_eq!(
        (code, found(&offline)),
        (0, vec![]),
        "without --external nothing is requested"
    );
    assert_eq!(server.hits("/ok"), 0);

    let (code, report) = check_json(&kb, &["--external"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        found(&report),
        [
            "error broken-external-link content/links.md:7:3",
            "error broken-external-link content/links.md:8:3",
            "warning moved-link content/links.md:9:3",
            "warning external-link-unverified content/links.md:11:3",
            "warning external-link-timeout content/links.md:12:3",
            "error broken-external-link content/links.md:15:6",
        ]
    );
    assert!(
        message(&report, "moved-link").ends_with("/ok-too`"),
        "{report:#}"
    );
    assert_eq!(
        server.hits("/skipped"),
        0,
        "skipped prefixes are never requested"
    );
    assert_eq!(
        server.hits("/ok"),
        2,
        "/ok, and /elsewhere's temporary redirect to it"
    );
}

#[test]
fn links_that_worked_are_cached_until_the_cache_expires() {
    let server = LinkServer::start(0);
    let kb = links_kb(&server, &["/ok", "/missing"], "10s", 4);
    let at = |now: &str| {
        kb.run_env(
            &["check", "--external", "--format", "json"],
            &[("KBPUB_NOW", now)],
        )
    };
    at("2030-01-10T12:00:00Z").fails_with(1);
    assert_eq!((server.hits("/ok"), server.hits("/missing")), (1, 1));
    assert!(kb.path().join(".kbpub-cache/external-links.json").is_file());

    at("2030-01-11T11:00:00Z").fails_with(1);
    assert_eq!(
        (server.hits("/ok"), server.hits("/missing")),
        (1, 2),
        "a link that worked is not asked again within a day; a broken one is"
    );

    at("2030-01-11T12:30:00Z").fails_with(1);
    assert_eq!(server.hits("/ok"), 2, "asked again once the cache expired");
}

#[test]
fn external_links_are_checked_concurrently_within_the_bound() {
    let server = LinkServer::start(2);
    let paths: Vec<String> = (1..=6).map(|i| format!("/hold/{i}")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let kb = links_kb(&server, &paths, "20s", 2);
    succeeded(check_json(&kb, &["--external"]));
    assert_eq!(*server.max_in_flight.lock().unwrap(), 2);
}

// ---- output formats ----------------------------------------------------------------------------

fn broken_kb() -> Kb {
    let kb = Kb::new();
    kb.write(
        "content/a,b.md",
        &doc("A", "See [gone](missing.md).\n\nreview soon"),
    );
    kb.write(
        "content/c.md",
        "+++\ntitle = \"C\"\ntype = \"sop\"\nreview_by = 2030-01-01\n+++\n",
    );
    kb.write(
        "content/d.md",
        "+++\ntitle = \"D\"\ntype = \"sop\"\nreview_by = 2030-01-15\n+++\n",
    );
    kb
}

#[test]
fn human_output_has_code_frames_and_colour_only_on_a_terminal() {
    let kb = broken_kb();
    let run = kb.run_env(&["check"], &[("KBPUB_NOW", NOW)]).fails_with(1);
    let stderr = run.stderr();
    for expected in [
        "error[broken-link]: no document at `missing.md`",
        "┌─ content/a,b.md:6:5",
        "6 │ See [gone](missing.md).",
        "warning[review-overdue]: review date 2030-01-01 has passed",
        "┌─ content/c.md:4:13",
        "Checked 4 pages: 1 error, 1 warning, 1 note (1 review-due); run with --verbose to list them",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("note["),
        "notes are counted, not listed: {stderr}"
    );
    let verbose = kb
        .run_env(&["check", "--verbose"], &[("KBPUB_NOW", NOW)])
        .fails_with(1);
    assert!(
        verbose
            .stderr()
            .contains("note[review-due]: review due by 2030-01-15 (in 5 days)"),
        "{}",
        verbose.stderr()
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour when not on a terminal: {stderr:?}"
    );
    assert!(run.stdout().is_empty());

    // `script` (util-linux) runs check on a pseudo-terminal.
    let command = format!("{} check", env!("CARGO_BIN_EXE_kbpub"));
    let output = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(kb.path())
        .env("KBPUB_NOW", NOW)
        .output()
        .expect("run script(1)");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("\u{1b}["), "colour on a terminal: {shown:?}");
    assert!(shown.contains("broken-link"), "{shown:?}");
}

#[test]
fn json_output_is_one_document_with_counts_and_positions() {
    let kb = broken_kb();
    let report = check_fails(&kb);
    assert_eq!(
        (&report["errors"], &report["warnings"], &report["notes"]),
        (&Value::from(1), &Value::from(1), &Value::from(1))
    );
    let link = &report["diagnostics"][0];
    assert_eq!(link["severity"], "error");
    assert_eq!(link["code"], "broken-link");
    assert_eq!(
        link["message"],
        "no document at `missing.md` (looked for `content/missing.md`)"
    );
    assert_eq!(link["file"], "content/a,b.md");
    assert_eq!(
        (&link["line"], &link["column"]),
        (&Value::from(6), &Value::from(5))
    );
    assert_eq!(
        (&link["end_line"], &link["end_column"]),
        (&Value::from(6), &Value::from(23))
    );
    assert!(
        link["help"]
            .as_str()
            .unwrap()
            .contains("relative to this file")
    );
}

#[test]
fn github_output_is_workflow_commands_with_escaped_properties() {
    let kb = broken_kb();
    let run = kb
        .run_env(&["check", "--format", "github"], &[("KBPUB_NOW", NOW)])
        .fails_with(1);
    let lines: Vec<String> = run.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("::error file=content/a%2Cb.md,line=6,col=5,title=kbpub broken-link::no document at `missing.md` (looked for `content/missing.md`)%0Ahelp: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("::warning file=content/c.md,line=4,col=13,title=kbpub review-overdue::review date 2030-01-01 has passed"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[2],
        "::notice title=kbpub check::1 note (1 review-due); run with --verbose to list them"
    );
    let verbose = kb
        .run_env(
            &["check", "--format", "github", "--verbose"],
            &[("KBPUB_NOW", NOW)],
        )
        .fails_with(1);
    verbose.assert_stdout_has("::notice file=content/d.md,line=4,col=13,title=kbpub review-due::review due by 2030-01-15 (in 5 days)");
    assert!(run.stderr().contains("1 error, 1 warning, 1 note"));
}

#[test]
fn github_annotations_name_files_from_the_repository_root() {
    let repo = tempfile::tempdir().unwrap();
    let kb_dir = repo.path().join("docs/kb");
    std::fs::create_dir_all(kb_dir.join("content")).unwrap();
    std::fs::write(kb_dir.join("kbpub.toml"), "[site]\ntitle = \"T\"\n").unwrap();
    std::fs::write(kb_dir.join("content/a.md"), doc("A", "[x](nope.md)")).unwrap();
    git(
        repo.path(),
        "wes@example.com",
        &["init", "-q", "-b", "main"],
    );
    let run = kbpub()
        .args(["check", "--format", "github"])
        .current_dir(&kb_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.starts_with("::error file=docs/kb/content/a.md,line=6,col=1,"),
        "{stdout}"
    );
}

// ---- exit codes, and nothing written -------------------------------------------------------------

#[test]
fn exit_codes() {
    let kb = Kb::new();
    kb.write("content/a.md", &doc("A", "Fine."));
    kb.run(&["check"]).ok();
    kb.write(
        "content/b.md",
        "+++\ntitle = \"B\"\ntype = \"sop\"\nreview_by = 2000-01-01\n+++\n",
    );
    kb.run(&["check"]).ok();
    kb.run(&["check", "--deny", "warnings"]).fails_with(1);
    kb.run(&["check", "--deny", "errors"]).fails_with(2);
    kb.run(&["check", "--format", "xml"]).fails_with(2);
    kb.write("content/c.md", &doc("C", "[x](nope.md)"));
    kb.run(&["check"]).fails_with(1);
    let empty = tempfile::tempdir().unwrap();
    let run = kbpub()
        .arg("check")
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "no knowledge base to check");
    let help = kbpub().args(["check", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert_contains(&help, "Exit codes:");
    assert_contains(&help, "--deny warnings");
}

#[test]
fn check_writes_nothing() {
    let kb = Kb::sample();
    commit_all(&kb);
    // Every file with its bytes, git's own folder aside (`git status`, which approval
    // verification runs, may refresh git's index).
    let files = || -> Vec<(String, Vec<u8>)> {
        files_under(kb.path())
            .into_iter()
            .filter(|f| !f.starts_with(".git/"))
            .map(|f| {
                let bytes = std::fs::read(kb.path().join(&f)).unwrap();
                (f, bytes)
            })
            .collect()
    };
    let before = files();
    let run = kb.run(&["check"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(before == files(), "check changed files");
    assert!(!kb.path().join("output").exists());
}

#[test]
fn check_finds_what_build_finds() {
    let kb = Kb::fixture("invalid");
    let build = kb.run(&["build", "--format", "json"]).fails_with(1).json();
    let (code, check) = check_json(&kb, &[]);
    assert_eq!(code, 1);
    assert_eq!(found(&check), found(&build));
}

// ---- [[notify]] entries, checked offline ----------------------------------------------------

/// A knowledge base with two notices (one with a long title) and `notify` appended to its
/// configuration.
fn notify_kb(notify: &str) -> Kb {
    let kb = Kb::new();
    kb.write(
        "kbpub.toml",
        &format!("[site]\ntitle = \"Test KB\"\nbase_url = \"https://kb.test/\"\n\n{notify}"),
    );
    kb.write(
        "content/short.md",
        "+++\ntitle = \"Short\"\ntype = \"notice\"\n+++\n\nText.\n",
    );
    kb.write(
        "content/long.md",
        &format!(
            "+++\ntitle = \"{}\"\ntype = \"notice\"\n+++\n\nText.\n",
            "Maintenance ".repeat(20).trim()
        ),
    );
    kb.write("content/guide.md", &doc("Guide", "Text."));
    kb
}

fn check_env(kb: &Kb, env: &[(&str, &str)]) -> (i32, Value) {
    let mut all = vec![("KBPUB_NOW", NOW)];
    all.extend(env);
    let run = kb.run_env(&["check", "--format", "json"], &all);
    (run.code(), run.json())
}

#[test]
fn notify_entries_name_their_filters_and_credentials() {
    let kb = notify_kb(
        "[[notify]]\nname = \"hooks\"\nkind = \"webhook\"\nurl = \"https://hooks.test/kb\"\nsecret_env = \"KB_TEST_HOOK_SECRET\"\ntargets = [\"sharepoint\"]\ntypes = [\"notices\"]\n",
    );
    let (code, report) = check_env(&kb, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_found(&report, "error notify-config kbpub.toml");
    let text = report.to_string();
    assert!(text.contains("unknown target `sharepoint`"), "{report:#}");
    assert!(
        text.contains("unknown document type `notices`"),
        "{report:#}"
    );
    assert_found(&report, "warning notify-env kbpub.toml");
    assert!(message(&report, "notify-env").contains("`KB_TEST_HOOK_SECRET`"));

    let kb = notify_kb(
        "[[notify]]\nname = \"hooks\"\nkind = \"webhook\"\nurl = \"https://hooks.test/kb\"\nsecret_env = \"KB_TEST_HOOK_SECRET\"\n",
    );
    let (code, report) = check_env(&kb, &[("KB_TEST_HOOK_SECRET", "not base64!")]);
    assert_eq!(code, 1, "{report:#}");
    assert_found(&report, "error notify-secret kbpub.toml");
    assert!(
        !report.to_string().contains("not base64!"),
        "the value is never shown"
    );
    let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let report = succeeded(check_env(&kb, &[("KB_TEST_HOOK_SECRET", secret)]));
    assert!(!report.to_string().contains("notify"), "{report:#}");
}

#[test]
fn x_templates_must_fit_the_weighted_280_for_every_document_they_post_about() {
    let fits =
        "[[notify]]\nname = \"x\"\nkind = \"x\"\ntoken_env = \"KB_TEST_X\"\ntypes = [\"notice\"]\n";
    let kb = notify_kb(fits);
    let (code, report) = check_env(&kb, &[("KB_TEST_X", "token")]);
    assert_eq!(code, 0, "a cut title is a warning: {report:#}");
    assert_found(&report, "warning notify-x-text content/long.md");
    assert_eq!(
        found(&report)
            .iter()
            .filter(|d| d.contains("notify"))
            .count(),
        1,
        "only the long title, not the short one or the sop: {report:#}"
    );

    // 100 CJK characters weigh 200, the URL 23, the rest more than 57: no title can fit.
    let heavy = format!(
        "{fits}template = \"{} {{{{ title }}}} {{{{ url }}}} {}\"\n",
        "通知".repeat(50),
        "x".repeat(60)
    );
    let kb = notify_kb(&heavy);
    let (code, report) = check_env(&kb, &[("KB_TEST_X", "token")]);
    assert_eq!(code, 1, "{report:#}");
    assert_found(&report, "error notify-x-text kbpub.toml");
    assert!(message(&report, "notify-x-text").contains("shorten `template`"));
}

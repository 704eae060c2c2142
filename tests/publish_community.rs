//! `kbpub publish` to the partner community end to end: the real binary against `kbpub sim`'s
//! community server (`community-v1`) over loopback — partner documents only, drafts published as
//! exact versions, zero-write re-runs, drift, faults without duplicates, archiving, the leak
//! check, gating, dry runs, the JSON report and receipts; and `kbpub build --audience partner`.

mod common;

use common::community::*;
use common::report_page as page;
use common::*;
use serde_json::{Value, json};

const CHART: &str = "<figure class=\"kb-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"60\" height=\"30\"><title>Rejection rate</title><polyline points=\"0,30 30,10 60,20\" stroke=\"#c00\" fill=\"none\"/></svg></figure>";

/// A knowledge base with two partner documents, an obsolete one, an internal runbook, a policy
/// with every document approved, publishing to the simulator's community.
fn kb_for(sim: &Sim) -> Kb {
    let kb = Kb::new();
    kb.append(
        "kbpub.toml",
        &format!(
            "[partner]\ninternal_domains = [\"ops.example.com\"]\ninternal_hostnames = [\"edi-archive.corp\"]\n\n[community]\nbase_url = \"{}/community\"\ntoken_env = \"KB_TEST_COMMUNITY\"\narticle_url = \"https://community.test/kb/{{external_id}}\"\ndefault_category = \"guides\"\n[community.sections]\nfaq = \"edi-faq\"\n",
            sim.base
        ),
    );
    kb.write(
        "content/guides/_index.md",
        "+++\ntitle = \"Guides\"\n+++\nInternal section text.\n",
    );
    kb.write(
        "content/guides/connect.md",
        &format!("+++\nid = \"connect\"\ntitle = \"Connecting\"\ntype = \"partner\"\naudience = \"partner\"\ntags = [\"AS2\", \"sftp\"]\n+++\n\nSee [setup](setup.md#steps) and the [runbook](../ops/runbook.md). Write to <edi-support@example.com>.\n\n> [!WARNING]\n> Rotate certificates.\n\n- [x] exchange certificates\n- [ ] send a test file\n\n```x12\nISA*00*<x>~\n```\n\n![Flow](img/flow.png)\n\n{CHART}\n\n<!-- internal -->\nGateways tg-gw01.ops.example.com; on-call <edi-oncall@ops.example.com>. SECRET-PASSAGE\n<!-- /internal -->\n\nDone.\n"),
    );
    std::fs::create_dir_all(kb.path().join("content/guides/img")).unwrap();
    std::fs::write(
        kb.path().join("content/guides/img/flow.png"),
        b"\x89PNG\r\n\x1a\nnot-really-a-png",
    )
    .unwrap();
    edit_setup(&kb, "Setup", "One.");
    kb.write(
        "content/faq/old.md",
        "+++\nid = \"old-notice\"\ntitle = \"Old notice\"\ntype = \"notice\"\naudience = \"partner\"\nstatus = \"obsolete\"\nsuperseded_by = \"setup\"\n+++\n\nOld.\n",
    );
    kb.write(
        "content/ops/runbook.md",
        "+++\nid = \"runbook\"\ntitle = \"Runbook\"\ntype = \"sop\"\n+++\n\nInternal only.\n",
    );
    init_approved(&kb, "output/\noutput-partner/\n.kb/receipts/\ndata/\n");
    kb
}

/// The knowledge base on a fresh simulator that will inject `queued` faults.
fn kb_with_faults(queued: Value) -> (Sim, Kb) {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    faults(&sim, queued);
    (sim, kb)
}

/// Writes the partner document `content/<path>` with `id`, `title` and Markdown `body`.
fn partner_doc(kb: &Kb, path: &str, id: &str, title: &str, body: &str) {
    kb.write(
        &format!("content/{path}"),
        &format!("+++\nid = \"{id}\"\ntitle = \"{title}\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\n{body}\n"),
    );
}

/// Rewrites the `setup` document with `title` and `text` under its `## Steps` heading.
fn edit_setup(kb: &Kb, title: &str, text: &str) {
    partner_doc(
        kb,
        "guides/setup.md",
        "setup",
        title,
        &format!("## Steps\n\n{text}"),
    );
}

fn publish(kb: &Kb, args: &[&str]) -> Run {
    let run = kb.run_env(
        &[&["publish", "--target", "community"], args].concat(),
        &[("KB_TEST_COMMUNITY", TOKEN)],
    );
    assert!(
        !run.stdout().contains(TOKEN) && !run.stderr().contains(TOKEN),
        "the token leaked into output"
    );
    run
}

fn json_publish(kb: &Kb, args: &[&str]) -> (i32, Value) {
    let run = publish(kb, &[&["--format", "json"], args].concat());
    (run.code(), run.json())
}

#[test]
fn partner_documents_are_created_as_drafts_published_exactly_and_rerun_writes_nothing() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let report = succeeded(json_publish(&kb, &[]));
    assert_eq!(page(&report, "connect")["action"], "create");
    assert_eq!(page(&report, "old-notice")["action"], "unchanged");
    let all = articles(&sim);
    let ids: Vec<&str> = all
        .iter()
        .map(|a| a["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "only current partner documents: {ids:?}");
    let connect = article(&sim, "connect");
    assert_eq!(
        (
            &connect["status"],
            &connect["version"],
            &connect["published_version"]
        ),
        (&json!("published"), &json!(1), &json!(1))
    );
    assert_eq!(connect["category"], "guides");
    assert_eq!(connect["labels"], json!(["as2", "sftp"]));
    assert_eq!(connect["locale"], "en");
    let body = connect["body"].as_str().unwrap();
    for internal in ["SECRET-PASSAGE", "ops.example.com", "Internal only"] {
        assert!(
            !body.contains(internal),
            "{internal} reached partners: {body}"
        );
    }
    assert_contains(
        body,
        "<a href=\"https://community.test/kb/setup#steps\">setup</a>",
    );
    assert!(
        body.contains("the runbook."),
        "internal link as plain text: {body}"
    );
    assert!(
        !body.contains("runbook.html") && !body.contains("kb.test"),
        "{body}"
    );
    assert_contains(body, "<a href=\"mailto:edi-support@example.com\">");
    assert_contains(body, "<div class=\"callout callout-warning\">");
    assert!(
        body.contains("\u{2611} exchange certificates")
            && body.contains("\u{2610} send a test file"),
        "{body}"
    );
    assert_contains(
        body,
        "<pre><code class=\"language-x12\">ISA*00*&lt;x&gt;~\n</code></pre>",
    );
    assert!(
        body.contains("<img src=\"data:image/png;base64,iVBORw0KGgo"),
        "image inside: {body}"
    );
    assert!(
        body.contains("alt=\"Rejection rate\""),
        "the chart travels as a PNG data: image: {body}"
    );
    assert!(
        !body.contains("<svg") && !body.contains("<figure"),
        "{body}"
    );
    let receipt: Value =
        serde_json::from_str(&kb.read(".kb/receipts/community/connect.json")).unwrap();
    assert_eq!(receipt["remote_id"], connect["id"]);
    assert_eq!(receipt["version"], 1);
    assert_eq!(receipt["content_hash"], connect["content_hash"]);
    assert_eq!(receipt["approval_state"], "approved");
    assert!(
        receipt["approvals_used"][0]
            .as_str()
            .unwrap()
            .contains("ana@example.com")
    );

    let before = writes(&sim);
    let run = publish(&kb, &[]).ok();
    assert_eq!(writes(&sim), before, "an unchanged re-run writes nothing");
    assert!(run.stdout().contains("0 writes"), "{}", run.stdout());
    run.assert_stdout_has("unchanged  guides   Connecting");
}

#[test]
fn an_edit_writes_the_next_draft_with_if_match_and_publishes_that_version() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    publish(&kb, &[]).ok();
    edit_setup(&kb, "Setup, revised", "Two.");
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, &[]));
    assert_eq!(page(&report, "setup")["action"], "update");
    assert_eq!(
        page(&report, "connect")["action"],
        "unchanged",
        "links go to the article URL, which is by external id: a new title changes nothing there"
    );
    let setup = article(&sim, "setup");
    assert_eq!(
        (
            &setup["title"],
            &setup["version"],
            &setup["published_version"]
        ),
        (&json!("Setup, revised"), &json!(2), &json!(2))
    );
    assert!(setup["body"].as_str().unwrap().contains("Two."));
}

/// The simulator as the contract leaves it, and as a platform that copies kbpub's content hash
/// (and every field the editor omits) into a moderator's version.
const PLATFORMS: [&[&str]; 2] = [&[], &["--community-carry-over"]];

/// The knowledge base published on `platform`, then a moderator's draft of `setup` with `body`
/// (what a moderator's editor sends: no content hash).
fn published_then_drafted(platform: &[&str], body: &str) -> (Sim, Kb) {
    let sim = Sim::start_with(platform);
    let kb = kb_for(&sim);
    publish(&kb, &[]).ok();
    let fields = json!({"title": "Setup", "body": body, "category": "guides"});
    moderator_draft(&sim, "setup", fields);
    (sim, kb)
}

/// A publish that fails (exit 1) because `setup` drifted, naming the moderator's `version`.
fn publish_drifted(kb: &Kb, version: &str) {
    let (code, report) = json_publish(kb, &[]);
    assert_eq!(code, 1, "drift is not success: {report:#}");
    let drifted = page(&report, "setup");
    assert_eq!(drifted["action"], "drifted", "{drifted}");
    let note = drifted["note"].as_str().unwrap();
    assert!(
        note.contains("edited in the community by a moderator")
            && note.contains(version)
            && note.contains("re-run with --force to publish the approved text"),
        "{drifted}"
    );
}

/// `--force` restores kbpub's text as a new version (`version`) and publishes that version.
fn assert_forced_back(sim: &Sim, kb: &Kb, version: u64) {
    let report = succeeded(json_publish(kb, &["--force"]));
    assert_eq!(page(&report, "setup")["outcome"], "done", "{report:#}");
    let setup = article(sim, "setup");
    assert_eq!(
        (&setup["version"], &setup["published_version"]),
        (&json!(version), &json!(version))
    );
    assert!(setup["body"].as_str().unwrap().contains("One."), "{setup}");
    assert_eq!(setup["versions"][version as usize - 1]["by"], "kbpub");
    let receipt: Value =
        serde_json::from_str(&kb.read(".kb/receipts/community/setup.json")).unwrap();
    assert_eq!(receipt["version"], version);
    let report = succeeded(json_publish(kb, &[]));
    assert_eq!(page(&report, "setup")["action"], "unchanged");
}

#[test]
fn a_moderators_published_edit_is_drift_even_with_kbpubs_hash_carried_over_and_force_restores() {
    for platform in PLATFORMS {
        let (sim, kb) = published_then_drafted(platform, "<p>Fixed by a moderator</p>");
        moderator_publish(&sim, "setup");

        let before = writes(&sim);
        publish_drifted(&kb, "version 2");
        assert_eq!(
            writes(&sim),
            before,
            "nothing written over a moderator's edit"
        );
        assert!(
            article(&sim, "setup")["body"]
                .as_str()
                .unwrap()
                .contains("Fixed by a moderator")
        );
        assert_forced_back(&sim, &kb, 3);
    }
}

#[test]
fn a_moderators_unpublished_draft_is_never_published_by_kbpub() {
    for platform in PLATFORMS {
        let (sim, kb) = published_then_drafted(platform, "<p>Moderator's draft</p>");

        publish_drifted(&kb, "version 2, an unpublished draft");
        let setup = article(&sim, "setup");
        assert_eq!(
            (&setup["version"], &setup["published_version"]),
            (&json!(2), &json!(1)),
            "the draft stays a draft ({platform:?})"
        );

        // A changed document does not publish it either: drift first.
        edit_setup(&kb, "Setup", "One.\n\nAnd more.");
        approve_all(&kb);
        publish_drifted(&kb, "version 2, an unpublished draft");

        assert_forced_back(&sim, &kb, 3);
        let setup = article(&sim, "setup");
        assert!(setup["body"].as_str().unwrap().contains("And more."));
        assert_eq!(
            setup["versions"][1]["published_at"],
            Value::Null,
            "the moderator's draft was never published"
        );
    }
}

#[test]
fn rate_limits_server_errors_and_commit_then_fail_never_duplicate_an_article() {
    let (sim, kb) = kb_with_faults(json!([
        {"method": "GET", "path": "/v1/articles", "status": 429, "times": 1, "retry_after": "1"},
        {"method": "POST", "path": "/v1/articles", "status": 500, "times": 2, "commit": true},
        {"method": "POST", "path": "/publish", "status": 503, "times": 1},
    ]));
    succeeded(json_publish(&kb, &[]));
    assert_eq!(
        articles(&sim).len(),
        2,
        "each create committed before its 500: found, not repeated"
    );
    for id in ["connect", "setup"] {
        assert_eq!(article(&sim, id)["status"], "published");
    }
    // An update whose draft commits and then fails is recognised as ours after the 412.
    edit_setup(&kb, "Setup", "Three.");
    approve_all(&kb);
    faults(
        &sim,
        json!([{"method": "PUT", "path": "/draft", "status": 502, "times": 1, "commit": true}]),
    );
    succeeded(json_publish(&kb, &[]));
    let setup = article(&sim, "setup");
    assert_eq!(
        (&setup["version"], &setup["published_version"]),
        (&json!(2), &json!(2)),
        "one new version, not two"
    );
}

#[test]
fn a_create_answered_409_finds_the_article_instead_of_duplicating_it() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    // An article someone else made with kbpub's external id.
    moderator_create(
        &sim,
        json!({"external_id": "connect", "title": "Theirs", "body": "<p>theirs</p>", "category": "elsewhere"}),
    );
    // An article kbpub wrote under another category (the config changed since): the scan of the
    // configured categories does not see it, so the create meets the unique external id.
    let toml = kb.read("kbpub.toml");
    kb.replace(
        "kbpub.toml",
        "default_category = \"guides\"",
        "default_category = \"retired-category\"",
    );
    publish(&kb, &[]).fails_with(1);
    assert_eq!(article(&sim, "setup")["category"], "retired-category");
    kb.write("kbpub.toml", &toml);
    let (code, report) = json_publish(&kb, &[]);
    assert_eq!(code, 1, "{report:#}");
    let setup = article(&sim, "setup");
    assert_eq!(
        (&setup["category"], &setup["status"]),
        (&json!("guides"), &json!("published"))
    );
    // Someone else's version under kbpub's external id, outside the scanned categories: drift.
    let connect = page(&report, "connect");
    assert_eq!(connect["action"], "drifted", "{connect}");
    let note = connect["note"].as_str().unwrap();
    assert!(
        note.contains("category `elsewhere` (not scanned)") && note.contains("--force"),
        "{connect}"
    );
    assert_eq!(
        article(&sim, "connect")["title"],
        "Theirs",
        "someone else's article is left alone"
    );
    let (code, report) = json_publish(&kb, &["--force"]);
    assert_eq!(code, 0, "--force restores the approved text: {report:#}");
    let connect = article(&sim, "connect");
    assert_eq!(
        (&connect["category"], &connect["status"]),
        (&json!("guides"), &json!("published"))
    );
    assert_ne!(connect["title"], "Theirs");
    assert_eq!(json_publish(&kb, &[]).0, 0, "a re-run finds nothing to do");
}

#[test]
fn an_article_a_moderator_archived_is_drift_and_restored_only_with_force() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    publish(&kb, &[]).ok();
    moderator_archive(&sim, "setup");
    let before = writes(&sim);
    let (code, report) = json_publish(&kb, &[]);
    assert_eq!(code, 1, "drift is not success: {report:#}");
    let setup = page(&report, "setup");
    assert_eq!(setup["action"], "drifted", "{setup}");
    assert!(
        setup["note"]
            .as_str()
            .unwrap()
            .contains("archived in the community"),
        "{setup}"
    );
    assert_eq!(writes(&sim), before, "the moderator's archive stands");
    assert_eq!(article(&sim, "setup")["status"], "archived");

    let report = succeeded(json_publish(&kb, &["--force"]));
    assert!(
        page(&report, "setup")["note"]
            .as_str()
            .unwrap()
            .contains("restoring"),
        "{report:#}"
    );
    assert_eq!(article(&sim, "setup")["status"], "published");
    assert_eq!(json_publish(&kb, &[]).0, 0);
}

#[test]
fn hostile_data_strings_are_escaped_so_the_sanitiser_never_refuses_a_body() {
    let sim = Sim::start_with(&["--hostile"]);
    let kb = kb_for(&sim);
    kb.append(
        "kbpub.toml",
        &format!("[[data.sources]]\nname = \"trading-grid\"\nkind = \"trading-grid\"\nurl = \"{}\"\ntoken_env = \"KB_TEST_TG_TOKEN\"\n", sim.base),
    );
    kb.run_env(&["data", "pull"], &[("KB_TEST_TG_TOKEN", "sim-token")])
        .ok();
    kb.write(
        "content/guides/live-figures.md",
        "+++\nid = \"live-figures\"\ntitle = \"Live\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\n{{ metrics_table(partner=\"ACME-RETAIL\", doc_type=\"856\", direction=\"outbound\", by=\"partner\", days=30) }}\n\n{{ incident_list(partner=\"ACME-RETAIL\", status=\"all\", detail=true) }}\n",
    );
    approve_all(&kb);
    let (code, report) = json_publish(&kb, &[]);
    assert_eq!(
        code, 0,
        "the community's sanitiser accepted every body: {report:#}"
    );
    let body = article(&sim, "live-figures")["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !body.contains("<script") && !body.contains("<img src=x"),
        "{body}"
    );
    assert!(
        body.contains("&lt;script&gt;"),
        "hostile markup shows as text: {body}"
    );
    assert!(!body.contains("<a href=\"javascript:"), "{body}");
    // The sanitiser it passed names the first offence of a body outside the subset.
    let (status, error) = api(
        &sim,
        reqwest::Method::POST,
        "/v1/articles",
        TOKEN,
        &[],
        json!({"external_id": "x", "title": "X", "body": "<p>ok</p><img src=\"https://x/y.png\" onerror=alert(1)>", "category": "guides"}),
    );
    assert_eq!(status, 422);
    assert_eq!(
        error["error"]["message"],
        "attribute `onerror` on `img` is not allowed"
    );
    let big = "x".repeat((1 << 20) + 1);
    let (status, _) = api(
        &sim,
        reqwest::Method::POST,
        "/v1/articles",
        TOKEN,
        &[],
        json!({"external_id": "y", "title": "Y", "body": big, "category": "guides"}),
    );
    assert_eq!(status, 413);
}

#[test]
fn an_obsolete_document_is_archived_with_its_successor() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    kb.write(
        "content/faq/old.md",
        "+++\nid = \"old-notice\"\ntitle = \"Old notice\"\ntype = \"notice\"\naudience = \"partner\"\n+++\n\nOld.\n",
    );
    approve_all(&kb);
    publish(&kb, &[]).ok();
    assert_eq!(article(&sim, "old-notice")["category"], "edi-faq");
    kb.write(
        "content/faq/old.md",
        "+++\nid = \"old-notice\"\ntitle = \"Old notice\"\ntype = \"notice\"\naudience = \"partner\"\nstatus = \"obsolete\"\nsuperseded_by = \"setup\"\n+++\n\nOld.\n",
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, &[]));
    assert_eq!(page(&report, "old-notice")["action"], "archive");
    let old = article(&sim, "old-notice");
    assert_eq!(old["status"], "archived");
    assert_eq!(old["archive"]["superseded_by"], "setup");
    let (_, report) = json_publish(&kb, &[]);
    assert_eq!(page(&report, "old-notice")["action"], "unchanged");
    assert_eq!(page(&report, "old-notice")["note"], "archived");
}

/// Publishes `doc` (a partner document body) and expects the leak check to refuse it.
fn refused(body: &str) -> (Run, Sim, Kb) {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    kb.write(
        "content/guides/leaky.md",
        &format!("+++\nid = \"leaky\"\ntitle = \"Leaky\"\ntype = \"partner\"\naudience = \"partner\"\n+++\n\nIntro.\n\n{body}\n"),
    );
    approve_all(&kb);
    let run = publish(&kb, &[]).fails_with(1);
    assert_eq!(
        articles(&sim).len(),
        0,
        "nothing is published when a rendering leaks"
    );
    (run, sim, kb)
}

#[test]
fn the_leak_check_refuses_every_kind_of_leak_naming_the_document_and_the_text() {
    for (body, named, position) in [
        (
            "Partners see this <!-- internal --> but not this <!-- /internal --> one.",
            "an internal-only marker `<!-- internal -->`",
            "content/guides/leaky.md:10:24",
        ),
        (
            "Our gateway is tg-gw01.ops.example.com.",
            "the internal host `tg-gw01.ops.example.com`",
            "content/guides/leaky.md:10:16",
        ),
        (
            "Write to Edi-Oncall@Ops.Example.com.",
            "the internal e-mail address `Edi-Oncall@Ops.Example.com`",
            "content/guides/leaky.md:10:10",
        ),
        (
            "The raw file is on edi-archive.corp.",
            "the internal host `edi-archive.corp`",
            "content/guides/leaky.md:10:20",
        ),
        (
            "See [the runbook](https://kb.test/ops/runbook.html).",
            "a link to the internal site's page of `runbook`: `https://kb.test/ops/runbook.html`",
            "content/guides/leaky.md:10:19",
        ),
    ] {
        let (run, _sim, kb) = refused(body);
        let stderr = run.stderr();
        assert_contains(&stderr, "the partner rendering of `leaky` holds");
        assert!(stderr.contains(named), "{named}: {stderr}");
        assert!(stderr.contains(position), "{position}: {stderr}");
        assert_contains(&stderr, "nothing was published");
        let build = kb.run(&["build", "--audience", "partner"]).fails_with(1);
        assert!(build.stderr().contains(named), "{}", build.stderr());
        assert!(!kb.path().join("output-partner").exists());
    }
}

#[test]
fn leaks_from_live_data_name_the_document() {
    let (run, _sim, _kb) =
        refused("{% set host = \"sftp01.\" ~ \"ops.example.com\" %}Host: {{ host }}");
    let stderr = run.stderr();
    assert_contains(&stderr, "the internal host `sftp01.ops.example.com`");
    assert_contains(&stderr, "content/guides/leaky.md");
}

#[test]
fn only_approved_documents_go_out_and_links_to_gated_ones_are_plain_text() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    edit_setup(&kb, "Setup", "Unapproved.");
    git(kb.path(), "wes@example.com", &["commit", "-qam", "edit"]);
    let report = succeeded(json_publish(&kb, &[]));
    let setup = page(&report, "setup");
    assert_eq!(setup["action"], "gated");
    assert!(
        setup["note"].as_str().unwrap().starts_with("stale"),
        "{setup}"
    );
    assert_eq!(articles(&sim).len(), 1);
    let body = article(&sim, "connect")["body"]
        .as_str()
        .unwrap()
        .to_string();
    assert_contains(&body, "See setup and");
}

#[test]
fn dry_run_plans_without_writing_and_the_json_report_has_a_stable_shape() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let report = succeeded(json_publish(&kb, &["--dry-run"]));
    assert_eq!(writes(&sim), 0);
    assert!(articles(&sim).is_empty());
    let target = &report["targets"][0];
    assert_eq!(target["target"], "community");
    assert_eq!(target["dry_run"], true);
    assert_eq!(target["summary"], json!({"create": 2, "unchanged": 1}));
    let connect = page(&report, "connect");
    for key in [
        "doc_id", "source", "title", "scope", "action", "outcome", "approval",
    ] {
        assert!(!connect[key].is_null(), "{key} in {connect}");
    }
    assert_eq!(connect["outcome"], "planned");
    assert_eq!(connect["scope"], "guides");
}

#[test]
fn without_a_target_every_configured_target_is_published() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    kb.append(
        "kbpub.toml",
        &format!("[confluence]\nbase_url = \"{}/confluence\"\ntoken_env = \"KB_TEST_DC\"\ndefault_space = \"OPS\"\n", sim.base),
    );
    let run = kb
        .run_env(
            &["publish", "--format", "json"],
            &[("KB_TEST_COMMUNITY", TOKEN), ("KB_TEST_DC", "dc-pat")],
        )
        .ok();
    let report = run.json();
    let targets: Vec<&str> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["confluence", "community"]);
    assert_eq!(articles(&sim).len(), 2);
    assert!(
        sim.pages("dc").iter().any(|p| p["title"] == "Runbook"),
        "internal documents go to Confluence"
    );
    let missing = kb
        .run_env(
            &["publish", "--target", "community"],
            &[("KB_TEST_DC", "dc-pat")],
        )
        .fails_with(1);
    missing.assert_stdout_has("export KB_TEST_COMMUNITY");
}

#[test]
fn the_partner_build_shows_exactly_what_partners_get() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    kb.run(&["build"]).ok();
    let run = kb.run(&["build", "--audience", "partner"]).ok();
    run.assert_stderr_has("into output-partner/");
    let files = files_under(&kb.path().join("output-partner"));
    let pages: Vec<&String> = files
        .iter()
        .filter(|f| f.ends_with(".html") && !f.starts_with("tags/"))
        .collect();
    assert_eq!(
        pages,
        [
            "404.html",
            "guides/connect.html",
            "guides/index.html",
            "guides/setup.html",
            "index.html"
        ],
        "only current partner documents and their sections"
    );
    assert!(
        !files.iter().any(|f| f.ends_with(".png")),
        "images travel inside the pages"
    );
    let connect = kb.read_output("../output-partner/guides/connect.html");
    for internal in [
        "SECRET-PASSAGE",
        "ops.example.com",
        "Internal only",
        "runbook.html",
        "Internal section text",
    ] {
        assert!(
            !connect.contains(internal),
            "{internal} in the partner view"
        );
    }
    let html = Html::parse_document(&connect);
    let body = text(&html, "main");
    assert_contains(&body, "the runbook.");
    assert_contains(&connect, "<a href=\"setup.html#steps\">setup</a>");
    assert!(connect.contains("src=\"data:image/png;base64,"));
    assert!(connect.contains("Partner view"));
    let section = kb.read_output("../output-partner/guides/index.html");
    assert!(
        !section.contains("Internal section text"),
        "a section's own text is internal"
    );
    assert!(
        kb.read_output("ops/runbook.html")
            .contains("Internal only."),
        "output/ is untouched"
    );
}

/// Requests by method the simulator has seen so far.
fn count(sim: &Sim, method: &str) -> u64 {
    control(sim, "stats")[method].as_u64().unwrap_or(0)
}

fn receipt_version(kb: &Kb, doc_id: &str) -> Value {
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(
            kb.path()
                .join(format!(".kb/receipts/community/{doc_id}.json")),
        )
        .unwrap(),
    )
    .unwrap();
    receipt["version"].clone()
}

#[test]
fn every_list_is_read_to_the_end_one_article_per_page() {
    let sim = Sim::start_with(&["--community-page-size", "1"]);
    let kb = kb_for(&sim);
    partner_doc(&kb, "guides/third.md", "third", "Third", "Three.");
    approve_all(&kb);
    succeeded(json_publish(&kb, &[]));
    assert_eq!(articles(&sim).len(), 3);

    let before = writes(&sim);
    let report = succeeded(json_publish(&kb, &[]));
    for id in ["connect", "setup", "third"] {
        assert_eq!(page(&report, id)["action"], "unchanged", "{report:#}");
    }
    assert_eq!(writes(&sim), before, "every page of the scan was read");

    kb.remove("content/guides/third.md");
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, &["--prune"]));
    assert_eq!(page(&report, "third")["action"], "prune");
    assert_eq!(article(&sim, "third")["status"], "archived");
}

/// Each of `ids` is at version 1, published, with its receipt: written once, not twice.
fn published_once(sim: &Sim, kb: &Kb, ids: &[&str]) {
    for id in ids {
        let a = article(sim, id);
        assert_eq!(
            (&a["version"], &a["published_version"]),
            (&json!(1), &json!(1)),
            "{id}"
        );
        assert_eq!(receipt_version(kb, id), 1, "{id} has its receipt");
    }
}

#[test]
fn a_write_that_commits_and_then_fails_is_read_back_and_counts_as_done() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let current_notice = "+++\nid = \"old-notice\"\ntitle = \"Old notice\"\ntype = \"notice\"\naudience = \"partner\"\n+++\n\nOld.\n";
    kb.write("content/faq/old.md", current_notice);
    approve_all(&kb);
    let commit_then_fail = |method: &str, path: &str| json!({"method": method, "path": path, "status": 502, "commit": true});
    // Creates and publishes that land and answer 502, and a publish that fails outright.
    faults(
        &sim,
        json!([
            commit_then_fail("POST", "/v1/articles"),
            commit_then_fail("POST", "/publish"),
            {"method": "POST", "path": "/publish", "status": 503},
        ]),
    );
    succeeded(json_publish(&kb, &["--concurrency", "1"]));
    published_once(&sim, &kb, &["connect", "setup", "old-notice"]);
    assert_eq!(
        count(&sim, "POST"),
        3 + 3 + 1,
        "three creates, three publishes, and one publish again after the 503: nothing landed twice"
    );

    // A new draft, its publish and an archive, each landing and answering 502.
    edit_setup(&kb, "Setup", "Two.");
    kb.write(
        "content/faq/old.md",
        &current_notice.replace("+++\n\nOld.", "status = \"obsolete\"\n+++\n\nOld."),
    );
    approve_all(&kb);
    faults(
        &sim,
        json!([
            commit_then_fail("PUT", "/draft"),
            commit_then_fail("POST", "/publish"),
            commit_then_fail("POST", "/archive"),
        ]),
    );
    let before = writes(&sim);
    let report = succeeded(json_publish(&kb, &[]));
    assert_eq!(
        writes(&sim) - before,
        3,
        "one draft, one publish, one archive"
    );
    let setup = article(&sim, "setup");
    assert_eq!(
        (&setup["version"], &setup["published_version"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(receipt_version(&kb, "setup"), 2);
    assert_eq!(article(&sim, "old-notice")["status"], "archived");
    assert_eq!(page(&report, "old-notice")["outcome"], "done");

    // A prune whose archive lands and answers 502.
    kb.remove("content/guides/connect.md");
    approve_all(&kb);
    faults(&sim, json!([commit_then_fail("POST", "/archive")]));
    let before = writes(&sim);
    succeeded(json_publish(&kb, &["--prune"]));
    assert_eq!(writes(&sim) - before, 1);
    assert_eq!(article(&sim, "connect")["status"], "archived");

    let before = writes(&sim);
    publish(&kb, &[]).ok();
    assert_eq!(writes(&sim), before, "a re-run writes nothing");
}

#[test]
fn a_write_that_commits_and_then_goes_unanswered_is_read_back_and_counts_as_done() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    // A create and a publish that land, their answers held past kbpub's timeout.
    let hung = |path: &str| json!({"method": "POST", "path": path, "status": 502, "commit": true, "hang": 5});
    faults(&sim, json!([hung("/v1/articles"), hung("/publish")]));
    let run = kb.run_env(
        &[
            "publish",
            "--target",
            "community",
            "--format",
            "json",
            "--concurrency",
            "1",
        ],
        &[("KB_TEST_COMMUNITY", TOKEN), ("KBPUB_HTTP_TIMEOUT", "2")],
    );
    let report = run.json();
    assert_eq!(run.code(), 0, "{report:#}");
    assert_eq!(articles(&sim).len(), 2, "no duplicate: {report:#}");
    published_once(&sim, &kb, &["connect", "setup"]);
    let before = writes(&sim);
    publish(&kb, &[]).ok();
    assert_eq!(writes(&sim), before, "a re-run writes nothing");
}

#[test]
fn a_conflict_on_create_is_read_back_and_tried_once_more() {
    let (sim, kb) =
        kb_with_faults(json!([{"method": "POST", "path": "/v1/articles", "status": 409}]));
    let (code, report) = json_publish(&kb, &["--concurrency", "1"]);
    assert_eq!(code, 0, "a transient conflict: {report:#}");
    assert_eq!(articles(&sim).len(), 2);

    partner_doc(&kb, "guides/third.md", "third", "Third", "Three.");
    approve_all(&kb);
    faults(
        &sim,
        json!([{"method": "POST", "path": "/v1/articles", "status": 409, "times": 2}]),
    );
    let (code, report) = json_publish(&kb, &[]);
    assert_eq!(
        code, 1,
        "a conflict that persists fails the page: {report:#}"
    );
    let third = page(&report, "third");
    assert_eq!(third["outcome"], "failed");
    assert_eq!(third["reason"]["code"], "kept-changing", "{third}");
    assert!(
        third["error"]
            .as_str()
            .unwrap()
            .contains("still reports a conflict"),
        "{third}"
    );
    assert_eq!(articles(&sim).len(), 2, "nothing was created");
}

/// A seeded queue of `n` faults over every kind of request: rate limits with `Retry-After`,
/// server errors, writes that land and then answer 5xx, and transient conflicts on create.
fn seeded_faults(seed: u64, n: usize) -> Value {
    let kinds = [
        json!({"method": "GET", "path": "/v1/articles", "status": 429, "retry_after": "1"}),
        json!({"method": "GET", "path": "/v1/articles", "status": 500}),
        json!({"method": "POST", "path": "/v1/articles", "status": 502, "commit": true}),
        json!({"method": "POST", "path": "/v1/articles", "status": 503}),
        json!({"method": "PUT", "path": "/draft", "status": 500, "commit": true}),
        json!({"method": "PUT", "path": "/draft", "status": 429, "retry_after": "1"}),
        json!({"method": "POST", "path": "/publish", "status": 504, "commit": true}),
        json!({"method": "POST", "path": "/v1/articles", "status": 409}),
    ];
    let mut state = seed;
    let faults: Vec<Value> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            kinds[(state >> 33) as usize % kinds.len()].clone()
        })
        .collect();
    Value::Array(faults)
}

/// Publishes (concurrency 4, `--prune`) until every page but `drifted` is done or unchanged, at
/// most three runs; returns the last report.
fn publish_until_settled(kb: &Kb, drifted: Option<&str>) -> Value {
    let mut report = Value::Null;
    for _ in 0..3 {
        (_, report) = json_publish(kb, &["--concurrency", "4", "--prune"]);
        let target = &report["targets"][0];
        let settled = target["error"].is_null()
            && target["pages"].as_array().unwrap().iter().all(|p| {
                Some(p["doc_id"].as_str().unwrap()) == drifted
                    || p["outcome"] == "done"
                    || p["action"] == "unchanged"
            });
        if settled {
            return report;
        }
    }
    panic!("not settled after three runs: {report:#}");
}

#[test]
fn a_fault_soak_never_duplicates_never_touches_others_articles_and_ends_with_zero_writes() {
    let sim = Sim::start_with(&["--community-carry-over", "--community-page-size", "2"]);
    let kb = kb_for(&sim);
    let doc = |n: usize, text: &str| {
        let id = format!("soak-{n}");
        partner_doc(
            &kb,
            &format!("guides/{id}.md"),
            &id,
            &format!("Soak {n}"),
            text,
        );
    };
    for n in 0..10 {
        doc(n, "First.");
    }
    approve_all(&kb);
    // Someone else's article in kbpub's category, carrying a hash kbpub did not compute.
    moderator_create(
        &sim,
        json!({"external_id": "partner-faq", "title": "Partner FAQ", "body": "<p>theirs</p>", "category": "guides", "content_hash": "sha256:theirs"}),
    );
    let foreign = article(&sim, "partner-faq");

    faults(&sim, seeded_faults(11, 40));
    publish_until_settled(&kb, None);
    faults(&sim, json!([]));
    let all = articles(&sim);
    assert_eq!(
        all.len(),
        13,
        "12 documents and the foreign article, no duplicates"
    );
    for a in all.iter().filter(|a| a["external_id"] != "partner-faq") {
        assert_eq!(
            (&a["version"], &a["published_version"]),
            (&json!(1), &json!(1)),
            "one version each: {a:#}"
        );
    }

    // Half the documents change; a moderator drafts over one of them meanwhile.
    for n in 0..5 {
        doc(n, "Second.");
    }
    approve_all(&kb);
    moderator_draft(&sim, "soak-0", json!({"body": "<p>moderated</p>"}));
    faults(&sim, seeded_faults(29, 40));
    let report = publish_until_settled(&kb, Some("soak-0"));
    faults(&sim, json!([]));
    assert_eq!(page(&report, "soak-0")["action"], "drifted");
    for n in 1..5 {
        let a = article(&sim, &format!("soak-{n}"));
        assert_eq!(
            (&a["version"], &a["published_version"]),
            (&json!(2), &json!(2)),
            "{a:#}"
        );
    }
    let moderated = article(&sim, "soak-0");
    assert_eq!(
        (&moderated["version"], &moderated["published_version"]),
        (&json!(2), &json!(1)),
        "the moderator's draft is neither published nor overwritten"
    );
    assert_eq!(
        article(&sim, "partner-faq"),
        foreign,
        "someone else's article is untouched, even under --prune"
    );

    let before = writes(&sim);
    let (code, report) = json_publish(&kb, &["--concurrency", "4", "--prune"]);
    assert_eq!(code, 1, "the drift is still reported: {report:#}");
    assert_eq!(writes(&sim), before, "a final re-run writes nothing");
}

#[test]
fn a_stale_etag_re_reads_the_article_and_writes_once_more_over_kbpubs_own_version() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    publish(&kb, &[]).ok();
    edit_setup(&kb, "Setup", "Two.");
    approve_all(&kb);
    faults(
        &sim,
        json!([{"method": "PUT", "path": "/draft", "status": 412}]),
    );
    succeeded(json_publish(&kb, &[]));
    let setup = article(&sim, "setup");
    assert_eq!(
        (&setup["version"], &setup["published_version"]),
        (&json!(2), &json!(2))
    );

    edit_setup(&kb, "Setup", "Three.");
    approve_all(&kb);
    faults(
        &sim,
        json!([{"method": "PUT", "path": "/draft", "status": 412, "times": 2}]),
    );
    let (code, report) = json_publish(&kb, &[]);
    assert_eq!(code, 1, "{report:#}");
    let failed = page(&report, "setup");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("kept changing while publishing; re-run"),
        "{failed}"
    );
    assert_eq!(article(&sim, "setup")["version"], 2, "nothing written");
}

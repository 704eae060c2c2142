//! `kbpub publish --target salesforce` end to end: the real binary against `kbpub sim`'s
//! Salesforce org over loopback — partner documents become published Knowledge articles with
//! kbpub's hash, channels, record types and data categories, images and charts inside the body
//! (kept by the org as its own); a re-run writes nothing; an edit updates through a
//! new draft; a person's edit is drift until `--force`; obsolete documents are archived;
//! commit-then-fail faults leave no duplicate article; 403 `REQUEST_LIMIT_EXCEEDED` stops the run
//! cleanly; and `kbpub check` preflights UrlNames and body sizes offline.

mod common;

use common::report_page as page;
use common::salesforce::*;
use common::*;
use serde_json::{Value, json};

const ENV: [(&str, &str); 2] = [
    ("KB_TEST_SF_ID", CONSUMER_KEY),
    ("KB_TEST_SF_SECRET", CONSUMER_SECRET),
];

/// Three partner documents, an obsolete one, an internal runbook, every document approved,
/// publishing to the simulator's org by client credentials.
fn kb_for(sim: &Sim) -> Kb {
    let kb = Kb::new();
    kb.append(
        "kbpub.toml",
        &format!(
            "[salesforce]\nlogin_url = \"{}/salesforce/mydomain\"\nflow = \"client-credentials\"\nclient_id_env = \"KB_TEST_SF_ID\"\nclient_secret_env = \"KB_TEST_SF_SECRET\"\nusername = \"{USER}\"\narticle_url = \"https://partners.test/s/article/{{url_name}}\"\nbody_field = \"Body__c\"\nhash_field = \"Kbpub_Hash__c\"\ndata_categories = [\"Partners:EDI\"]\n[salesforce.types.notice]\nchannels = [\"IsVisibleInPrm\", \"IsVisibleInCsp\"]\n",
            sim.base
        ),
    );
    partner_doc(
        &kb,
        "guides/alpha.md",
        "alpha",
        "Alpha",
        "partner",
        "See [bravo](bravo.md). One.",
    );
    partner_doc(&kb, "guides/bravo.md", "bravo", "Bravo", "partner", "Two.");
    partner_doc(
        &kb,
        "guides/charlie.md",
        "charlie",
        "Charlie",
        "notice",
        "Three.",
    );
    kb.write(
        "content/guides/old.md",
        "+++\nid = \"old\"\ntitle = \"Old\"\ntype = \"notice\"\naudience = \"partner\"\n+++\n\nOld.\n",
    );
    kb.write(
        "content/ops/runbook.md",
        "+++\nid = \"runbook\"\ntitle = \"Runbook\"\ntype = \"sop\"\n+++\n\nInternal only.\n",
    );
    init_approved(&kb, "output/\n.kb/receipts/\n.kb/journal/\ndata/\n");
    kb
}

fn partner_doc(kb: &Kb, path: &str, id: &str, title: &str, kind: &str, body: &str) {
    kb.write(
        &format!("content/{path}"),
        &format!("+++\nid = \"{id}\"\ntitle = \"{title}\"\ntype = \"{kind}\"\naudience = \"partner\"\n+++\n\n{body}\n"),
    );
}

fn publish(kb: &Kb, args: &[&str]) -> (i32, Value) {
    publish_env(kb, args, &[])
}

/// `publish` with more environment variables than the credentials.
fn publish_env(kb: &Kb, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let run = kb.run_env(
        &[
            &["publish", "--target", "salesforce", "--format", "json"],
            args,
        ]
        .concat(),
        &[&ENV[..], env].concat(),
    );
    assert!(
        !run.stdout().contains(CONSUMER_SECRET) && !run.stderr().contains(CONSUMER_SECRET),
        "the secret leaked into output"
    );
    (run.code(), run.json())
}

/// Every version the org holds of the article named `url_name`.
fn versions(sim: &Sim, url_name: &str) -> Vec<Value> {
    inspect(sim, "articles")
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["UrlName"] == url_name)
        .cloned()
        .collect()
}

/// The body of the online version of `url_name`.
fn online_body(sim: &Sim, url_name: &str) -> String {
    online(sim, url_name)["Body__c"]
        .as_str()
        .expect("a body")
        .to_string()
}

fn online(sim: &Sim, url_name: &str) -> Value {
    let online: Vec<Value> = versions(sim, url_name)
        .into_iter()
        .filter(|v| v["PublishStatus"] == "Online")
        .collect();
    assert_eq!(online.len(), 1, "{url_name}: {online:#?}");
    online[0].clone()
}

/// Distinct articles (`KnowledgeArticleId`) holding `url_name`.
fn articles_named(sim: &Sim, url_name: &str) -> usize {
    let ids: std::collections::HashSet<String> = versions(sim, url_name)
        .iter()
        .map(|v| v["KnowledgeArticleId"].as_str().unwrap().to_string())
        .collect();
    ids.len()
}

#[test]
fn publishes_then_rerun_writes_nothing_then_updates_and_archives() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let report = succeeded(publish(&kb, &[]));
    assert_done(&report, "create", &["alpha", "bravo", "charlie", "old"]);
    let alpha = online(&sim, "alpha");
    assert_eq!(alpha["Title"], "Alpha");
    assert_eq!(alpha["IsVisibleInPrm"], true);
    assert_eq!(alpha["IsVisibleInCsp"], false);
    assert_eq!(
        alpha["DataCategories"],
        json!([{"group": "Partners", "name": "EDI"}])
    );
    assert!(
        alpha["Kbpub_Hash__c"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let body = alpha["Body__c"].as_str().unwrap();
    assert_contains(body, "https://partners.test/s/article/bravo");
    assert_eq!(online(&sim, "charlie")["IsVisibleInCsp"], true);
    let partner_view = inspect(&sim, "partner-view").to_string();
    assert!(!partner_view.contains("runbook") && !partner_view.contains("Internal only"));
    assert!(
        kb.path()
            .join(".kb/receipts/salesforce/alpha.json")
            .exists()
    );

    // The org rewrote the rich text on save, but the hash field says what kbpub wrote.
    let report = succeeded(publish(&kb, &[]));
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
    assert_eq!(page(&report, "alpha")["action"], "unchanged");

    partner_doc(
        &kb,
        "guides/bravo.md",
        "bravo",
        "Bravo",
        "partner",
        "Two, revised.",
    );
    kb.write(
        "content/guides/old.md",
        "+++\nid = \"old\"\ntitle = \"Old\"\ntype = \"notice\"\naudience = \"partner\"\nstatus = \"obsolete\"\n+++\n\nOld.\n",
    );
    approve_all(&kb);
    let report = succeeded(publish(&kb, &[]));
    assert_eq!(page(&report, "bravo")["action"], "update");
    assert_eq!(page(&report, "old")["action"], "archive");
    assert_eq!(page(&report, "alpha")["action"], "unchanged");
    assert!(online_body(&sim, "bravo").contains("revised"));
    assert_eq!(articles_named(&sim, "bravo"), 1);
    let old = versions(&sim, "old");
    assert!(
        old.iter().all(|v| v["PublishStatus"] == "Archived"),
        "{old:#?}"
    );
    let (_, report) = publish(&kb, &[]);
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
}

#[test]
fn images_and_charts_travel_inside_the_body_and_salesforce_keeps_them_as_its_own() {
    const CHART: &str = "<figure class=\"kb-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"60\" height=\"30\"><title>Rejection rate</title><polyline points=\"0,30 30,10 60,20\" stroke=\"#c00\" fill=\"none\"/></svg></figure>";
    const FLOW: &[u8] = b"\x89PNG\r\n\x1a\nnot-really-a-png";
    let sim = Sim::start();
    let kb = kb_for(&sim);
    std::fs::create_dir_all(kb.path().join("content/guides/img")).unwrap();
    std::fs::write(kb.path().join("content/guides/img/flow.png"), FLOW).unwrap();
    partner_doc(
        &kb,
        "guides/echo.md",
        "echo",
        "Echo",
        "partner",
        &format!("The flow:\n\n![Flow](img/flow.png)\n\n{CHART}\n"),
    );
    approve_all(&kb);
    succeeded(publish(&kb, &[]));
    // Sent as `data:` images (reference §1.6 (c)); the org keeps each under its own URL.
    let echo = online(&sim, "echo");
    let body = echo["Body__c"].as_str().unwrap();
    assert!(!body.contains("data:") && !body.contains("<svg"), "{body}");
    let refids: Vec<&str> = body
        .split("/servlet/rtaImage?")
        .skip(1)
        .map(|rest| {
            let refid = rest.split("refid=").nth(1).unwrap();
            &refid[..refid.find(['"', '&']).unwrap_or(refid.len())]
        })
        .collect();
    assert_eq!(refids.len(), 2, "the image and the chart: {body}");
    let org = Org::connect(&sim);
    let image = |refid: &str| {
        let url = format!(
            "{}/sobjects/Knowledge__kav/{}/richTextImageFields/Body__c/{refid}",
            org.base,
            echo["Id"].as_str().unwrap()
        );
        let reply = sim
            .client()
            .get(url)
            .bearer_auth(&org.token)
            .send()
            .unwrap();
        assert_eq!(reply.status(), 200);
        reply.bytes().unwrap().to_vec()
    };
    assert_eq!(image(refids[0]), FLOW, "the content image, byte for byte");
    let chart = image(refids[1]);
    assert!(chart.starts_with(b"\x89PNG"), "the chart, as a PNG");
    assert!(chart.len() > 8);

    // The stored body is not the body sent; the hash field says what kbpub wrote.
    let report = succeeded(publish(&kb, &[]));
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
}

#[test]
fn an_article_a_person_edited_is_drift_until_forced() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    assert_eq!(publish(&kb, &[]).0, 0);
    assert_eq!(
        control(
            &sim,
            "edit",
            json!({"UrlName": "alpha", "fields": {"Body__c": "<p>A person's words.</p>"}, "publish": true}),
        ),
        204
    );
    partner_doc(
        &kb,
        "guides/alpha.md",
        "alpha",
        "Alpha",
        "partner",
        "One, revised.",
    );
    approve_all(&kb);
    let (code, report) = publish(&kb, &[]);
    assert_ne!(code, 0, "drift fails the run: {report:#}");
    assert_eq!(page(&report, "alpha")["action"], "drifted");
    assert!(online_body(&sim, "alpha").contains("A person"));

    let report = succeeded(publish(&kb, &["--force"]));
    assert_eq!(page(&report, "alpha")["outcome"], "done");
    assert!(online_body(&sim, "alpha").contains("revised"));
    assert_eq!(articles_named(&sim, "alpha"), 1);
}

/// Makes the org answer the next matching requests with the given faults.
fn inject_faults(sim: &Sim, faults: Value) {
    assert_eq!(control(sim, "faults", faults), 204);
}

#[test]
fn writes_that_land_but_fail_leave_no_duplicate_article() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    inject_faults(
        &sim,
        json!([
            {"method": "POST", "path": "sobjects/Knowledge__kav", "status": 500, "commit": true, "times": 2},
            {"method": "PATCH", "path": "masterVersions", "status": 503, "commit": true, "times": 2},
        ]),
    );
    succeeded(publish(&kb, &[]));
    for name in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(articles_named(&sim, name), 1, "{name}");
        assert!(online(&sim, name)["Kbpub_Hash__c"].is_string());
        let drafts = versions(&sim, name)
            .into_iter()
            .filter(|v| v["PublishStatus"] == "Draft")
            .count();
        assert_eq!(drafts, 0, "{name}: no draft left behind");
    }
    let (_, report) = publish(&kb, &[]);
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
}

#[test]
fn a_session_that_ends_mid_run_is_granted_again_and_the_write_replayed_once() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    // The org ends the session on the first create and on a later publish: each answer is 401
    // INVALID_SESSION_ID, nothing was written.
    inject_faults(
        &sim,
        json!([
            {"method": "POST", "path": "sobjects/Knowledge__kav", "status": 401},
            {"method": "PATCH", "path": "masterVersions", "status": 401},
        ]),
    );
    let report = succeeded(publish(&kb, &["--concurrency", "1"]));
    assert_done(&report, "create", &["alpha", "bravo", "charlie", "old"]);
    for name in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(articles_named(&sim, name), 1, "{name}");
    }
    let (_, report) = publish(&kb, &[]);
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
}

/// The knowledge base published one article at a time to an org that allows `max` requests.
fn publish_with_allowance(max: u64) -> (Sim, Kb, i32, Value) {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    assert_eq!(control(&sim, "limits", json!({"used": 0, "max": max})), 204);
    let (code, report) = publish(&kb, &["--concurrency", "1"]);
    (sim, kb, code, report)
}

#[test]
fn a_spent_allowance_stops_the_run_and_reports_what_was_done() {
    // The scan and one article (create, data category, publish, read back) fit; the next
    // request is refused.
    let (sim, kb, code, report) = publish_with_allowance(5);
    assert_ne!(code, 0, "{report:#}");
    let pages = report["targets"][0]["pages"].as_array().unwrap();
    let with = |outcome: &str| pages.iter().filter(|p| p["outcome"] == outcome).count();
    assert_eq!(with("done"), 1, "{report:#}");
    assert_eq!(with("failed"), 1, "{report:#}");
    assert_eq!(with("skipped"), 2, "{report:#}");
    let failed = pages.iter().find(|p| p["outcome"] == "failed").unwrap();
    assert_eq!(failed["reason"]["code"], "allowance-spent", "{failed:#}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("REQUEST_LIMIT_EXCEEDED")
    );
    let skipped = pages.iter().find(|p| p["outcome"] == "skipped").unwrap();
    assert_eq!(skipped["reason"]["code"], "run-stopped", "{skipped:#}");
    let warnings = report["targets"][0]["warnings"].to_string();
    assert!(warnings.contains("5 of its 5 API requests"), "{report:#}");
    // Five requests counted, one refused, and nothing sent after the refusal.
    let stats = inspect(&sim, "stats");
    let sent: u64 = stats
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sent, 6, "{stats}");

    // Once the allowance recovers, a re-run finishes without duplicates.
    assert_eq!(
        control(&sim, "limits", json!({"used": 0, "max": 100000})),
        204
    );
    succeeded(publish(&kb, &[]));
    for name in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(articles_named(&sim, name), 1, "{name}");
    }
}

#[test]
fn an_allowance_spent_right_after_the_last_publish_still_reports_every_article_done() {
    // The scan, then four articles of four requests each (create, data category, publish,
    // read back): the last read-back is the 17th request, one over the allowance.
    let (sim, kb, code, report) = publish_with_allowance(16);
    assert_eq!(code, 0, "{report:#}");
    for name in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(page(&report, name)["outcome"], "done", "{name}: {report:#}");
        assert!(
            kb.path()
                .join(format!(".kb/receipts/salesforce/{name}.json"))
                .exists(),
            "{name}"
        );
        assert_eq!(articles_named(&sim, name), 1, "{name}");
    }
    let warnings = report["targets"][0]["warnings"].to_string();
    assert_contains(&warnings, "16 of its 16 API requests");
    assert_contains(
        &warnings,
        "1 article(s) were published, but the org's API allowance ran out",
    );
    assert!(report["targets"][0]["error"].is_null(), "{report:#}");

    // The next run confirms it from its scan, and warns while the allowance runs low.
    assert_eq!(control(&sim, "limits", json!({"used": 8, "max": 10})), 204);
    let report = succeeded(publish(&kb, &[]));
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
    let warnings = report["targets"][0]["warnings"].to_string();
    assert_contains(&warnings, "9 of its 10 API requests");
}

#[test]
fn check_preflights_url_names_body_size_and_images_offline() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    partner_doc(
        &kb,
        "guides/alpha-2.md",
        "Alpha_",
        "Alpha two",
        "partner",
        "Same name.",
    );
    let big = "word ".repeat(8000);
    partner_doc(&kb, "guides/big.md", "big", "Big", "partner", &big);
    kb.write("content/guides/scan.bmp", "BM");
    partner_doc(
        &kb,
        "guides/scan.md",
        "scan",
        "Scan",
        "partner",
        "![Scan](scan.bmp)",
    );
    let run = kb.run(&["check", "--format", "json"]);
    assert_ne!(run.code(), 0);
    let out = run.stdout();
    assert_contains(&out, "salesforce-url-name");
    assert_contains(&out, "`alpha`");
    assert_contains(&out, "too-large");
    assert_contains(&out, "Body__c");
    assert!(
        out.contains("partner-image") && out.contains("scan.md"),
        "an image that cannot travel inside the body: {out}"
    );
    let usage = inspect(&sim, "limits");
    assert_eq!(usage["used"], 0, "check is offline: {usage}");
}

#[test]
fn record_types_by_section_then_type_then_default_reach_the_articles() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    partner_doc(&kb, "special/delta.md", "delta", "Delta", "notice", "Four.");
    approve_all(&kb);
    // Set from the environment (`KBPUB_SALESFORCE_*`), as a CI job would per org.
    let placement = [
        ("KBPUB_SALESFORCE_RECORD_TYPE", "012000000000001AAA"),
        (
            "KBPUB_SALESFORCE_TYPES__NOTICE__RECORD_TYPE",
            "012000000000002AAA",
        ),
        (
            "KBPUB_SALESFORCE_SECTIONS__SPECIAL__RECORD_TYPE",
            "012000000000003AAA",
        ),
    ];
    succeeded(publish_env(&kb, &[], &placement));
    let record_type = |name: &str| online(&sim, name)["RecordTypeId"].clone();
    assert_eq!(record_type("alpha"), "012000000000001AAA", "the default");
    assert_eq!(record_type("charlie"), "012000000000002AAA", "by type");
    assert_eq!(
        record_type("delta"),
        "012000000000003AAA",
        "the section before the type"
    );

    // Another type for notices: those articles are written again, the rest left alone.
    let moved = [
        placement[0],
        placement[2],
        (
            "KBPUB_SALESFORCE_TYPES__NOTICE__RECORD_TYPE",
            "012000000000001AAA",
        ),
    ];
    let report = succeeded(publish_env(&kb, &[], &moved));
    assert_eq!(page(&report, "charlie")["action"], "update");
    assert_eq!(page(&report, "alpha")["action"], "unchanged");
    assert_eq!(page(&report, "delta")["action"], "unchanged");
    assert_eq!(record_type("charlie"), "012000000000001AAA");

    // A record type the org does not have is Salesforce's refusal, named on the page.
    let unknown = [(
        "KBPUB_SALESFORCE_TYPES__NOTICE__RECORD_TYPE",
        "012000000000009AAA",
    )];
    let (code, report) = publish_env(&kb, &[], &unknown);
    assert_ne!(code, 0, "{report:#}");
    let charlie = page(&report, "charlie");
    assert_eq!(charlie["outcome"], "failed", "{charlie:#}");
    assert!(
        charlie["error"]
            .as_str()
            .unwrap()
            .contains("INVALID_CROSS_REFERENCE_KEY"),
        "{charlie:#}"
    );
    assert_eq!(record_type("charlie"), "012000000000001AAA");
}

#[test]
fn prune_archives_kbpubs_articles_whose_documents_are_gone_never_a_persons() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    assert_eq!(publish(&kb, &[]).0, 0);
    // A person's own article in the org, and a person's edit of kbpub's `old`.
    let org = Org::connect(&sim);
    let own = org.create(json!({"Title": "Holiday hours", "UrlName": "holiday-hours",
        "IsVisibleInPrm": true, "Body__c": "<p>Closed on the 25th.</p>"}));
    assert_eq!(
        org.set_status(&own, json!({"publishStatus": "Online"}))
            .status,
        204
    );
    assert_eq!(
        control(
            &sim,
            "edit",
            json!({"UrlName": "old", "fields": {"Summary": "Kept by a person."}, "publish": true}),
        ),
        204
    );
    std::fs::remove_file(kb.path().join("content/guides/charlie.md")).unwrap();
    std::fs::remove_file(kb.path().join("content/guides/old.md")).unwrap();
    approve_all(&kb);

    let report = succeeded(publish(&kb, &[]));
    assert_eq!(page(&report, "charlie")["action"], "orphan", "{report:#}");
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
    online(&sim, "charlie");

    let report = succeeded(publish(&kb, &["--prune"]));
    assert_eq!(page(&report, "charlie")["action"], "prune", "{report:#}");
    assert_eq!(page(&report, "charlie")["outcome"], "done", "{report:#}");
    let charlie = versions(&sim, "charlie");
    assert!(
        charlie.iter().all(|v| v["PublishStatus"] == "Archived"),
        "{charlie:#?}"
    );
    let pages = report["targets"][0]["pages"].to_string();
    assert!(
        !pages.contains("\"old\"") && !pages.contains("holiday-hours"),
        "a person's articles are not kbpub's to prune: {report:#}"
    );
    assert_eq!(
        online(&sim, "old")["Summary"],
        "Kept by a person.",
        "the article a person edited stays online"
    );
    online(&sim, "holiday-hours");
    online(&sim, "alpha");

    let (_, report) = publish(&kb, &["--prune"]);
    assert_eq!(report["targets"][0]["writes"], 0, "{report:#}");
}

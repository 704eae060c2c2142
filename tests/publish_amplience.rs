//! `kbpub publish --target amplience` end to end: the real binary against `kbpub sim`'s Amplience
//! hub over loopback — selected partner documents become published content items of kbpub's
//! content type, keyed by delivery key; a re-run writes nothing; an edit updates with the current
//! version; a CMS user's edit is drift until `--force`; obsolete documents are unpublished, their
//! key released and archived; commit-then-fail, 429, a token that expires mid-run and a new item
//! that is invisible for a moment leave no duplicate; `--dry-run` sends no write; and `kbpub check`
//! preflights delivery keys and body sizes offline.

mod common;

use common::*;
use serde_json::{Value, json};

const ENV: [(&str, &str); 2] = [
    ("KB_TEST_AMP_ID", "kbpub-client"),
    ("KB_TEST_AMP_SECRET", "amplience-secret"),
];
const PREFIX: &str = "partners/onboarding";

/// Three selected partner documents (one links to another), an obsolete one, a partner FAQ the
/// selection leaves out, an internal runbook; every document approved; publishing to the
/// simulator's hub by client credentials.
fn kb_for(sim: &Sim) -> Kb {
    let kb = Kb::new();
    kb.append(
        "kbpub.toml",
        &format!(
            "[amplience]\napi_url = \"{base}/amplience/v2/content\"\nauth_url = \"{base}/amplience/oauth/token\"\nhub = \"kb-hub\"\nrepository = \"kb-repo\"\nclient_id_env = \"KB_TEST_AMP_ID\"\nclient_secret_env = \"KB_TEST_AMP_SECRET\"\ndelivery_key_prefix = \"{PREFIX}\"\narticle_url = \"https://partners.test/{{delivery_key}}\"\npublish_timeout = 30\n[amplience.select]\ntypes = [\"sop\", \"notice\"]\n",
            base = sim.base
        ),
    );
    doc(
        &kb,
        "guides/alpha.md",
        "alpha",
        "sop",
        "See [bravo](bravo.md). One.",
    );
    doc(&kb, "guides/bravo.md", "bravo", "sop", "Two.");
    doc(&kb, "guides/charlie.md", "charlie", "notice", "Three.");
    doc(&kb, "guides/old.md", "old", "notice", "Old.");
    doc(&kb, "guides/faq.md", "faq", "faq", "Not selected.");
    kb.write(
        "content/ops/runbook.md",
        "+++\nid = \"runbook\"\ntitle = \"Runbook\"\ntype = \"sop\"\n+++\n\nInternal only.\n",
    );
    init_approved(&kb, "output/\n.kb/receipts/\n.kb/journal/\ndata/\n");
    kb
}

fn doc(kb: &Kb, path: &str, id: &str, kind: &str, body: &str) {
    doc_with(kb, path, id, kind, "", body);
}

fn doc_with(kb: &Kb, path: &str, id: &str, kind: &str, extra: &str, body: &str) {
    let title = id[..1].to_uppercase() + &id[1..];
    kb.write(
        &format!("content/{path}"),
        &format!("+++\nid = \"{id}\"\ntitle = \"{title}\"\ntype = \"{kind}\"\naudience = \"partner\"\n{extra}+++\n\n{body}\n"),
    );
}

fn publish(kb: &Kb, args: &[&str]) -> (i32, Value) {
    let run = kb.run_env(
        &[
            &["publish", "--target", "amplience", "--format", "json"],
            args,
        ]
        .concat(),
        &ENV,
    );
    assert!(
        !run.stdout().contains("amplience-secret") && !run.stderr().contains("amplience-secret"),
        "the secret leaked into output"
    );
    (run.code(), run.json())
}

fn writes(report: &Value) -> u64 {
    report["targets"][0]["writes"].as_u64().unwrap()
}

fn sim_get(sim: &Sim, path: &str) -> Value {
    sim.client()
        .get(format!("{}{path}", sim.base))
        .send()
        .and_then(|r| r.json())
        .expect("sim answers JSON")
}

fn sim_post(sim: &Sim, path: &str, body: Value) {
    let response = sim
        .client()
        .post(format!("{}{path}", sim.base))
        .json(&body)
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

/// Every item of the hub, with what is published.
fn items(sim: &Sim) -> Vec<Value> {
    sim_get(sim, "/__sim/amplience/items")
        .as_array()
        .unwrap()
        .clone()
}

/// Items kbpub recorded for document `doc_id`.
fn items_of(sim: &Sim, doc_id: &str) -> Vec<Value> {
    items(sim)
        .into_iter()
        .filter(|i| i["body"]["kbpub"]["docId"] == doc_id)
        .collect()
}

/// The one item of `doc_id`.
fn item(sim: &Sim, doc_id: &str) -> Value {
    let found = items_of(sim, doc_id);
    assert_eq!(found.len(), 1, "{doc_id}: {found:#?}");
    found[0].clone()
}

/// What the delivery API serves for `doc_id`'s key: (status, content).
fn delivered(sim: &Sim, doc_id: &str) -> (u16, Value) {
    let response = sim
        .client()
        .get(format!(
            "{}/amplience/cdn/content/key/{PREFIX}/{doc_id}",
            sim.base
        ))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn faults(sim: &Sim, faults: Value) {
    sim_post(sim, "/__sim/amplience/faults", faults);
}

/// Requests that write (everything but GET) the hub has seen.
fn sim_writes(sim: &Sim) -> u64 {
    let stats = sim_get(sim, "/__sim/amplience/stats");
    stats
        .as_object()
        .unwrap()
        .iter()
        .filter(|(method, _)| method.as_str() != "GET")
        .map(|(_, n)| n.as_u64().unwrap())
        .sum()
}

/// A CMS user's edit of `doc_id`'s item body (with the PAT, at the current version).
fn cms_edit(sim: &Sim, doc_id: &str, text: &str) {
    let current = item(sim, doc_id);
    let mut body = current["body"].clone();
    body["body"] = json!(text);
    let response = sim
        .client()
        .patch(format!(
            "{}/amplience/v2/content/content-items/{}",
            sim.base,
            current["id"].as_str().unwrap()
        ))
        .bearer_auth("amplience-pat")
        .json(&json!({"body": body, "version": current["version"]}))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[test]
fn publishes_then_rerun_writes_nothing_then_updates_and_archives() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let report = succeeded(publish(&kb, &[]));
    assert_done(&report, "create", &["alpha", "bravo", "charlie", "old"]);
    let alpha = item(&sim, "alpha");
    assert_eq!(alpha["publishingStatus"], "LATEST");
    assert_eq!(
        alpha["body"]["_meta"]["deliveryKey"],
        "partners/onboarding/alpha"
    );
    assert_eq!(
        alpha["body"]["_meta"]["schema"],
        "https://kbpub.example/schemas/kb-onboarding-article.json"
    );
    assert!(
        alpha["body"]["kbpub"]["contentHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let text = alpha["body"]["body"].as_str().unwrap();
    assert_contains(text, "https://partners.test/partners/onboarding/bravo");
    let (status, content) = delivered(&sim, "charlie");
    assert_eq!(status, 200);
    assert_eq!(content["content"]["title"], "Charlie");
    let everything = serde_json::to_string(&items(&sim)).unwrap();
    assert!(!everything.contains("Internal only") && !everything.contains("Not selected"));
    assert!(kb.path().join(".kb/receipts/amplience/alpha.json").exists());

    let report = succeeded(publish(&kb, &[]));
    assert_eq!(writes(&report), 0, "{report:#}");
    assert_eq!(report_page(&report, "alpha")["action"], "unchanged");

    let version = item(&sim, "bravo")["version"].as_u64().unwrap();
    doc(&kb, "guides/bravo.md", "bravo", "sop", "Two, revised.");
    doc_with(
        &kb,
        "guides/old.md",
        "old",
        "notice",
        "status = \"obsolete\"\n",
        "Old.",
    );
    approve_all(&kb);
    let report = succeeded(publish(&kb, &[]));
    assert_eq!(report_page(&report, "bravo")["action"], "update");
    assert_eq!(report_page(&report, "old")["action"], "archive");
    assert_eq!(report_page(&report, "alpha")["action"], "unchanged");
    let bravo = item(&sim, "bravo");
    assert_eq!(
        bravo["version"],
        version + 1,
        "one update, with the version"
    );
    assert_eq!(bravo["publishingStatus"], "LATEST");
    assert!(
        delivered(&sim, "bravo").1["content"]["body"]
            .as_str()
            .unwrap()
            .contains("revised")
    );
    let old = item(&sim, "old");
    assert_eq!(old["status"], "ARCHIVED");
    assert!(
        old["body"]["_meta"]["deliveryKey"].is_null(),
        "the key is released: {old:#}"
    );
    assert_eq!(delivered(&sim, "old").0, 404, "no longer served");
    let (_, report) = publish(&kb, &[]);
    assert_eq!(writes(&report), 0, "{report:#}");
}

#[test]
fn an_item_a_cms_user_edited_is_drift_until_forced() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    assert_eq!(publish(&kb, &[]).0, 0);
    cms_edit(&sim, "alpha", "A CMS user's words.");
    doc(&kb, "guides/alpha.md", "alpha", "sop", "One, revised.");
    approve_all(&kb);
    let (code, report) = publish(&kb, &[]);
    assert_ne!(code, 0, "drift fails the run: {report:#}");
    assert_eq!(report_page(&report, "alpha")["action"], "drifted");
    assert_eq!(item(&sim, "alpha")["body"]["body"], "A CMS user's words.");

    let report = succeeded(publish(&kb, &["--force"]));
    assert_eq!(report_page(&report, "alpha")["outcome"], "done");
    let alpha = item(&sim, "alpha");
    assert!(alpha["body"]["body"].as_str().unwrap().contains("revised"));
    assert_eq!(alpha["publishingStatus"], "LATEST");
}

#[test]
fn writes_that_land_but_fail_leave_no_duplicate_item() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    faults(
        &sim,
        json!([
            {"method": "POST", "path": "content-repositories", "status": 500, "commit": true, "times": 2},
            {"method": "POST", "path": "/publish", "status": 503, "commit": true, "times": 2},
        ]),
    );
    succeeded(publish(&kb, &[]));
    for id in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(item(&sim, id)["publishingStatus"], "LATEST", "{id}");
    }
    doc(&kb, "guides/bravo.md", "bravo", "sop", "Two, revised.");
    approve_all(&kb);
    faults(
        &sim,
        json!([{"method": "PATCH", "path": "content-items", "status": 500, "commit": true, "times": 1}]),
    );
    succeeded(publish(&kb, &[]));
    let bravo = item(&sim, "bravo");
    assert!(bravo["body"]["body"].as_str().unwrap().contains("revised"));
    assert_eq!(bravo["publishingStatus"], "LATEST");
    let (_, report) = publish(&kb, &[]);
    assert_eq!(writes(&report), 0, "{report:#}");
}

#[test]
fn rate_limits_expiring_tokens_and_invisible_new_items_are_waited_out() {
    // Tokens live 3 s (kbpub renews them before they run out); a new item answers 404 for
    // 400 ms; publishing and other requests meet 429s.
    let sim = Sim::start_with(&[
        "--amplience-token-expiry",
        "3",
        "--amplience-read-lag-ms",
        "400",
    ]);
    let kb = kb_for(&sim);
    faults(
        &sim,
        json!([
            {"method": "POST", "path": "/publish", "status": 429, "times": 2},
            {"method": "*", "path": "content-items", "status": 429, "times": 2},
        ]),
    );
    succeeded(publish(&kb, &["--concurrency", "1"]));
    for id in ["alpha", "bravo", "charlie", "old"] {
        assert_eq!(item(&sim, id)["publishingStatus"], "LATEST", "{id}");
    }
    let (_, report) = publish(&kb, &[]);
    assert_eq!(writes(&report), 0, "{report:#}");
}

#[test]
fn dry_run_sends_no_write() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let report = succeeded(publish(&kb, &["--dry-run"]));
    assert_eq!(report_page(&report, "alpha")["action"], "create");
    assert_eq!(sim_writes(&sim), 0);
    assert!(items(&sim).is_empty());
    assert!(!kb.path().join(".kb/receipts/amplience").exists());
}

#[test]
fn a_value_that_cannot_work_stops_the_target_naming_its_place() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let toml = kb.replace("kbpub.toml", "publish_timeout = 30", "publish_timeout = 0");
    let line = 1 + toml
        .lines()
        .position(|l| l == "publish_timeout = 0")
        .unwrap();
    let (code, report) = publish(&kb, &[]);
    assert_eq!(code, 1, "{report:#}");
    let error = report["targets"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "kbpub.toml:{line}:19: `amplience.publish_timeout` must be at least 1"
        )),
        "{error}"
    );
    assert_eq!(sim_writes(&sim), 0);
}

#[test]
fn check_preflights_delivery_keys_and_body_size_offline() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    doc(
        &kb,
        "guides/alpha-2.md",
        "alpha.",
        "sop",
        "Same key once made safe.",
    );
    doc(&kb, "guides/alpha-3.md", "alpha-", "sop", "Same key.");
    let big = "word ".repeat(45_000);
    doc(&kb, "guides/big.md", "big", "sop", &big);
    let run = kb.run(&["check", "--format", "json"]);
    assert_ne!(run.code(), 0);
    let out = run.stdout();
    assert_contains(&out, "amplience-delivery-key");
    assert_contains(&out, "partners/onboarding/alpha-");
    assert_contains(&out, "too-large");
    assert_contains(&out, "200 KB");
    assert_eq!(
        sim_get(&sim, "/__sim/amplience/stats"),
        json!({}),
        "check is offline"
    );

    let (code, report) = publish(&kb, &[]);
    assert_ne!(code, 0);
    assert!(
        report.to_string().contains("amplience-delivery-key"),
        "{report:#}"
    );
    assert!(items(&sim).is_empty(), "nothing written");
}

#[test]
fn init_prints_the_content_type_schema_the_items_use() {
    let run = kbpub()
        .args(["init", "--amplience-schema"])
        .output()
        .expect("run kbpub");
    assert!(run.status.success());
    let schema: Value = serde_json::from_slice(&run.stdout).expect("the schema is JSON");
    assert_eq!(
        schema["$id"],
        "https://kbpub.example/schemas/kb-onboarding-article.json"
    );
    let required = schema["required"].as_array().unwrap();
    for field in ["_meta", "title", "body", "kbpub"] {
        assert!(required.contains(&json!(field)), "{field}");
    }

    // Registered on the hub, the schema validates every item kbpub writes.
    let sim = Sim::start();
    let registered = sim
        .client()
        .post(format!(
            "{}/amplience/v2/content/hubs/kb-hub/content-type-schemas",
            sim.base
        ))
        .bearer_auth("amplience-pat")
        .json(&json!({"schemaId": schema["$id"], "body": String::from_utf8(run.stdout).unwrap(), "validationLevel": "CONTENT_TYPE"}))
        .send()
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let kb = kb_for(&sim);
    succeeded(publish(&kb, &[]));
    for item in items(&sim) {
        let body = &item["body"];
        assert_eq!(body["_meta"]["schema"], schema["$id"]);
        for field in required {
            assert!(
                !body[field.as_str().unwrap()].is_null(),
                "{field}: {body:#}"
            );
        }
        let title = body["title"].as_str().unwrap().chars().count() as u64;
        assert!(title <= schema["properties"]["title"]["maxLength"].as_u64().unwrap());
    }
}

#[test]
fn a_delivery_key_held_by_someone_elses_item_is_left_alone() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    let theirs = json!({"label": "Theirs", "body": {"_meta": {"schema": "https://kbpub.example/schemas/kb-onboarding-article.json", "deliveryKey": "partners/onboarding/bravo"}, "title": "Theirs", "body": "A CMS user's item."}});
    let response = sim
        .client()
        .post(format!(
            "{}/amplience/v2/content/content-repositories/kb-repo/content-items",
            sim.base
        ))
        .bearer_auth("amplience-pat")
        .json(&theirs)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let (code, report) = publish(&kb, &[]);
    assert_ne!(code, 0, "{report:#}");
    let bravo = report_page(&report, "bravo");
    assert_eq!(bravo["outcome"], "skipped", "{bravo:#}");
    assert_eq!(bravo["reason"]["code"], "foreign-page", "{bravo:#}");
    assert_eq!(report_page(&report, "alpha")["outcome"], "done");
    let held: Vec<Value> = items(&sim)
        .into_iter()
        .filter(|i| i["body"]["_meta"]["deliveryKey"] == "partners/onboarding/bravo")
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["body"]["body"], "A CMS user's item.", "untouched");
    assert!(items_of(&sim, "bravo").is_empty(), "no second item");
}

#[test]
fn notify_hears_what_the_amplience_run_changed_with_the_items_urls() {
    let sim = Sim::start();
    let kb = kb_for(&sim);
    kb.append(
        "kbpub.toml",
        &format!(
            "[[notify]]\nname = \"onboarding\"\nkind = \"webhook\"\nurl = \"{}/webhooks/onboarding\"\nsecret_env = \"KB_TEST_HOOK\"\ntargets = [\"amplience\"]\n",
            sim.base
        ),
    );
    let run = kb.run_env(
        &["publish", "--target", "amplience", "--format", "json"],
        &[
            ENV[0],
            ENV[1],
            ("KB_TEST_HOOK", common::notify::WEBHOOK_SECRET),
        ],
    );
    assert_eq!(run.code(), 0, "{}", run.stdout());
    let delivered = common::notify::deliveries(&sim);
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert_eq!(delivered[0]["verified"], true);
    let changes = delivered[0]["body"]["data"]["changes"].as_array().unwrap();
    let alpha = changes.iter().find(|c| c["doc_id"] == "alpha").unwrap();
    assert_eq!(alpha["target"], "amplience");
    assert_eq!(alpha["change"], "created");
    assert_eq!(
        alpha["url"],
        "https://partners.test/partners/onboarding/alpha"
    );
    assert_eq!(alpha["remote_id"], item(&sim, "alpha")["id"]);
}

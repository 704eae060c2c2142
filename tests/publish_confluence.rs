//! `kbpub publish` to Confluence end to end: the real binary against `kbpub sim` (Cloud and Data
//! Center) over loopback — creates, updates, zero-write re-runs, moves, drift, faults, prune,
//! collisions, dry runs, the JSON report, and credentials kept out of every output; pages people
//! created, paging down to one item per request, commit-then-fail on every kind of write,
//! transient conflicts, a lagging search index, Data Center strictness and Cloud's removed v1
//! endpoints. Tests named `the_test_server_*` check the simulator itself over raw HTTP.

mod common;

use common::*;
use serde_json::{Value, json};

const CLOUD_TOKEN: &str = "cloud-token";

/// A copy of the fixture site in a git repository, every document approved, configured to
/// publish to the simulator's `instance`.
fn kb_for(sim: &Sim, instance: &str, extra: &str) -> Kb {
    let kb = Kb::fixture("valid");
    let config = match instance {
        "cloud" => format!(
            "base_url = \"{}/wiki\"\nemail_env = \"KB_TEST_EMAIL\"\ntoken_env = \"KB_TEST_TOKEN\"\n",
            sim.base
        ),
        _ => format!(
            "base_url = \"{}/confluence\"\ntoken_env = \"KB_TEST_TOKEN\"\n",
            sim.base
        ),
    };
    kb.append(
        "kbpub.toml",
        &format!("[confluence]\n{config}default_space = \"OPS\"\npage_size = 3\n{extra}\n[confluence.sections]\nfaq = \"PARTNERS\"\n"),
    );
    kb.write(".kb/people.toml", PEOPLE);
    kb.write(".kb/policy.toml", POLICY);
    kb.write(".gitignore", "output/\n.kb/receipts/\n");
    git(kb.path(), "wes@example.com", &["init", "-q", "-b", "main"]);
    approve_all(&kb);
    kb
}

/// A simulator and a knowledge base publishing to its `instance`.
fn started(instance: &str) -> (Sim, Kb) {
    let sim = Sim::start();
    let kb = kb_for(&sim, instance, "");
    (sim, kb)
}

/// `cloud` on the Cloud instance, `dc` on Data Center.
fn on(instance: &str, cloud: &'static str, dc: &'static str) -> &'static str {
    if instance == "cloud" { cloud } else { dc }
}

/// Publishing to `instance` again succeeds (`why` says what that shows).
fn assert_republishes(kb: &Kb, instance: &str, why: &str) {
    assert_eq!(json_publish(kb, instance, &[]).0, 0, "{why}");
}

/// Adds the simulator's Trading Grid API as the knowledge base's data source.
fn add_trading_grid_source(kb: &Kb, sim: &Sim) {
    kb.append(
        "kbpub.toml",
        &format!("[[data.sources]]\nname = \"trading-grid\"\nkind = \"trading-grid\"\nurl = \"{}\"\ntoken_env = \"KB_TEST_TG_TOKEN\"\n", sim.base),
    );
}

/// Runs `kbpub publish <args>` with the simulator's credentials for `instance`.
fn publish(kb: &Kb, instance: &str, args: &[&str]) -> Run {
    publish_with(kb, instance, args, &[])
}

/// `publish` with extra environment variables.
fn publish_with(kb: &Kb, instance: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = kbpub();
    command
        .arg("publish")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(kb.path());
    match instance {
        "cloud" => command
            .env("KB_TEST_EMAIL", "kbpub@example.com")
            .env("KB_TEST_TOKEN", CLOUD_TOKEN),
        _ => command
            .env_remove("KB_TEST_EMAIL")
            .env("KB_TEST_TOKEN", "dc-pat"),
    };
    let run = Run {
        output: command.output().expect("run kbpub publish"),
    };
    for secret in [
        CLOUD_TOKEN,
        "dc-pat",
        "a2JwdWJAZXhhbXBsZS5jb206Y2xvdWQtdG9rZW4",
    ] {
        assert!(
            !run.stdout().contains(secret) && !run.stderr().contains(secret),
            "secret in output"
        );
    }
    run
}

fn json_publish(kb: &Kb, instance: &str, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let run = publish(kb, instance, &all);
    (run.code(), run.json())
}

/// Pages of the instance managed by kbpub (with a `kbpub` property), by doc id.
fn managed(sim: &Sim, instance: &str) -> Vec<Value> {
    sim.pages(instance)
        .into_iter()
        .filter(|p| p["properties"]["kbpub"].is_object())
        .collect()
}

fn page_of<'a>(pages: &'a [Value], doc_id: &str) -> &'a Value {
    pages
        .iter()
        .find(|p| p["properties"]["kbpub"]["doc_id"] == doc_id)
        .unwrap_or_else(|| panic!("no page for {doc_id}"))
}

/// The storage body of kbpub's page for `doc_id`.
fn body_of<'a>(pages: &'a [Value], doc_id: &str) -> &'a str {
    page_of(pages, doc_id)["body"].as_str().unwrap()
}

fn actions(report: &Value) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = report["targets"][0]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["doc_id"].as_str().unwrap().to_string(),
                p["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort();
    list
}

fn action_of(report: &Value, doc_id: &str) -> Value {
    report["targets"][0]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["doc_id"] == doc_id)
        .cloned()
        .unwrap_or_else(|| panic!("{doc_id} not in report"))
}

/// Edits a page as Dana would in the Confluence editor (REST v2, her own credentials).
fn edit_as_dana(sim: &Sim, page: &Value, body: &str) {
    let response = sim
        .client()
        .put(format!(
            "{}/wiki/api/v2/pages/{}",
            sim.base,
            page["id"].as_str().unwrap()
        ))
        .basic_auth("dana@example.com", Some("dana-token"))
        .json(&json!({
            "id": page["id"], "status": "current", "title": page["title"],
            "body": {"representation": "storage", "value": body},
            "version": {"number": page["version"].as_u64().unwrap() + 1, "message": "fixed a typo"},
        }))
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
}

#[test]
fn first_publish_creates_the_tree_with_properties_labels_panel_and_attachments() {
    let (sim, kb) = started("cloud");
    kb.write(
        "content/guides/epsilon.md",
        "+++\ntitle = \"Epsilon\"\ntype = \"sop\"\n[confluence]\nspace = \"EDIOPS\"\ntitle = \"SOP - Epsilon\"\n+++\nText.\n",
    );
    kb.write(
        "content/guides/chart.md",
        "+++\ntitle = \"Trend\"\ntype = \"sop\"\n+++\n\n<figure class=\"kb-chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"60\" height=\"30\"><title>Rejection rate</title><polyline points=\"0,30 30,10 60,20\" stroke=\"#c00\" fill=\"none\"/></svg></figure>\n",
    );
    approve_all(&kb);
    let run = publish(&kb, "cloud", &[]).ok();
    run.assert_stdout_has("created    OPS      Alpha guide");
    assert!(
        run.stderr().contains("created OPS/Alpha guide ("),
        "plain progress lines when not a terminal: {}",
        run.stderr()
    );
    let pages = managed(&sim, "cloud");
    assert_eq!(pages.len(), 9, "6 documents and 3 sections: {pages:#?}");
    let chart = page_of(&pages, "guides-chart");
    assert!(chart["body"].as_str().unwrap().contains(
        "<ac:image ac:alt=\"Rejection rate\"><ri:attachment ri:filename=\"chart-1.png\"/></ac:image>"
    ));
    assert_eq!(
        chart["attachments"][0]["type"], "image/png",
        "the SVG chart is attached as PNG"
    );
    let epsilon = page_of(&pages, "guides-epsilon");
    let edi_home = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "EDIOPS Home")
        .unwrap();
    assert_eq!(
        (&epsilon["space"], &epsilon["title"]),
        (&json!("EDIOPS"), &json!("SOP - Epsilon"))
    );
    assert_eq!(
        epsilon["parent"], edi_home["id"],
        "front matter space wins; no section page in EDIOPS"
    );
    let guides = page_of(&pages, "guides");
    let alpha = page_of(&pages, "guide-alpha");
    let delta = page_of(&pages, "guides-deep-delta");
    let deep = page_of(&pages, "guides-deep");
    let ops_home = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "OPS Home")
        .unwrap();
    assert_eq!(
        guides["parent"], ops_home["id"],
        "top sections hang under the space home"
    );
    assert_eq!(alpha["parent"], guides["id"]);
    assert_eq!(delta["parent"], deep["id"]);
    assert_eq!(deep["parent"], guides["id"]);
    assert_eq!(page_of(&pages, "faq-gamma")["space"], "PARTNERS");
    assert_eq!(alpha["labels"], json!(["as2", "onboarding"]));
    let body = alpha["body"].as_str().unwrap();
    assert!(
        body.starts_with("<ac:structured-macro ac:name=\"note\">"),
        "{body}"
    );
    assert!(body.contains("edit the source in git: <code>content/guides/alpha.md</code>"));
    let beta = page_of(&pages, "guides-beta");
    assert!(
        beta["body"]
            .as_str()
            .unwrap()
            .contains("<ri:page ri:space-key=\"OPS\" ri:content-title=\"Alpha guide\"/>")
    );
    assert_eq!(beta["attachments"][0]["filename"], "diagram.png");
    let property = &alpha["properties"]["kbpub"];
    assert_eq!(property["source"], "content/guides/alpha.md");
    assert_eq!(property["version"], 1);
    assert!(
        property["content_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(property["receipt"]["doc_id"], "guide-alpha");
    assert_eq!(property["receipt"]["remote_id"], alpha["id"]);
    let receipt: Value =
        serde_json::from_str(&kb.read(".kb/receipts/confluence/guide-alpha.json")).unwrap();
    assert_eq!(receipt, property["receipt"]);
    for key in [
        "version",
        "content_hash",
        "data_as_of",
        "approvals_used",
        "approval_state",
        "published_at",
    ] {
        assert!(receipt.get(key).is_some(), "receipt lacks {key}");
    }
}

#[test]
fn rerunning_without_change_writes_nothing_and_reads_one_scan() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let (writes, reads) = (sim.writes("cloud"), sim.count("cloud", "GET"));
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        sim.writes("cloud"),
        writes,
        "an unchanged re-run must not write"
    );
    let reads_now = sim.count("cloud", "GET") - reads;
    // One spaces lookup plus ceil(7 / 3) pages of the scan.
    assert!(reads_now <= 1 + 3, "{reads_now} reads");
    assert!(
        actions(&report).iter().all(|(_, a)| a == "unchanged"),
        "{report:#}"
    );
    assert_eq!(report["targets"][0]["writes"], 0);
}

#[test]
fn an_edit_updates_only_that_page_and_attachments_upload_only_when_changed() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    kb.replace(
        "content/guides/alpha.md",
        "Intro paragraph.",
        "Intro paragraph, revised.",
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &[]));
    let changed: Vec<_> = actions(&report)
        .into_iter()
        .filter(|(_, a)| a != "unchanged")
        .collect();
    assert_eq!(changed, [("guide-alpha".to_string(), "update".to_string())]);
    let pages = managed(&sim, "cloud");
    let alpha = page_of(&pages, "guide-alpha");
    assert_eq!(alpha["version"], 2);
    assert_eq!(alpha["properties"]["kbpub"]["version"], 2);
    assert!(alpha["body"].as_str().unwrap().contains("revised"));
    let beta_before = page_of(&pages, "guides-beta")["attachments"][0]["version"].clone();
    // New bytes for the image: beta is updated and its attachment gets a new version, once.
    kb.write("content/guides/img/diagram.png", "new png bytes");
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(action_of(&report, "guides-beta")["action"], "update");
    let pages = managed(&sim, "cloud");
    let attachment = &page_of(&pages, "guides-beta")["attachments"][0];
    assert_eq!(attachment["version"], beta_before.as_u64().unwrap() + 1);
    assert_eq!(attachment["bytes"], 13);
}

#[test]
fn the_test_server_keeps_the_comment_of_each_attachment_upload() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let beta = page_of(&managed(&sim, "cloud"), "guides-beta").clone();
    let id = beta["id"].as_str().unwrap();
    let upload = |comment: Option<&str>| {
        let mut form = reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::bytes(b"other".to_vec()).file_name("other.png"),
        );
        if let Some(comment) = comment {
            form = form.text("comment", comment.to_string());
        }
        sim.client()
            .post(format!(
                "{}/wiki/rest/api/content/{id}/child/attachment",
                sim.base
            ))
            .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
            .header("X-Atlassian-Token", "no-check")
            .multipart(form)
            .send()
            .unwrap()
    };
    let created: Value = upload(Some("made by hand")).json().unwrap();
    assert_eq!(created["results"][0]["metadata"]["comment"], "made by hand");
    assert_eq!(
        created["results"][0]["extensions"]["comment"],
        "made by hand"
    );
    let listed: Value = sim
        .client()
        .get(format!(
            "{}/wiki/rest/api/content/{id}/child/attachment?filename=other.png",
            sim.base
        ))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["results"][0]["metadata"]["comment"], "made by hand");
}

#[test]
fn a_failed_upload_counts_as_done_only_when_the_attachment_holds_the_bytes_sent() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let before = page_of(&managed(&sim, "cloud"), "guides-beta")["attachments"][0].clone();
    assert!(
        before["comment"]
            .as_str()
            .unwrap()
            .starts_with("kbpub sha256:"),
        "{before}"
    );
    // New bytes of the same size: name and size alone cannot tell the upload did not land.
    let path = kb.path().join("content/guides/img/diagram.png");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.reverse();
    bytes[0] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    approve_all(&kb);
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/data", "status": 500}]),
    );
    succeeded(json_publish(&kb, "cloud", &[]));
    let after = page_of(&managed(&sim, "cloud"), "guides-beta")["attachments"][0].clone();
    assert_eq!(after["bytes"], before["bytes"], "same size");
    assert_eq!(
        after["version"],
        before["version"].as_u64().unwrap() + 1,
        "the new bytes were sent again after the failure: {after}"
    );
    assert_ne!(after["comment"], before["comment"], "{after}");
}

#[test]
fn a_renamed_and_moved_document_updates_its_page_never_duplicates_it() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let before = page_of(&managed(&sim, "cloud"), "guide-alpha")["id"].clone();
    let text = kb.read("content/guides/alpha.md");
    kb.remove("content/guides/alpha.md");
    kb.write(
        "content/guides/deep/alpha-moved.md",
        &text.replace("title: Alpha guide", "title: Alpha guide, renamed"),
    );
    kb.replace(
        "content/guides/beta.md",
        "(alpha.md#setup)",
        "(deep/alpha-moved.md#setup)",
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(action_of(&report, "guide-alpha")["action"], "move");
    let pages = managed(&sim, "cloud");
    let alpha: Vec<&Value> = pages
        .iter()
        .filter(|p| p["properties"]["kbpub"]["doc_id"] == "guide-alpha")
        .collect();
    assert_eq!(alpha.len(), 1);
    assert_eq!(alpha[0]["id"], before);
    assert_eq!(alpha[0]["title"], "Alpha guide, renamed");
    assert_eq!(alpha[0]["parent"], page_of(&pages, "guides-deep")["id"]);
    assert_eq!(
        alpha[0]["properties"]["kbpub"]["source"],
        "content/guides/deep/alpha-moved.md"
    );
    assert!(body_of(&pages, "guides-beta").contains("ri:content-title=\"Alpha guide, renamed\""));
}

#[test]
fn a_page_edited_in_confluence_is_reported_as_drifted_and_kept_until_forced() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let alpha = page_of(&managed(&sim, "cloud"), "guide-alpha").clone();
    edit_as_dana(&sim, &alpha, "<p>Dana's fix</p>");
    kb.replace(
        "content/guides/alpha.md",
        "Intro paragraph.",
        "Intro, from git.",
    );
    let writes = sim.writes("cloud");
    approve_all(&kb);
    let run = publish(&kb, "cloud", &[]).fails_with(1);
    run.assert_stdout_has("drifted");
    run.assert_stdout_has("Dana Editor");
    assert_eq!(sim.writes("cloud"), writes);
    assert_eq!(
        page_of(&managed(&sim, "cloud"), "guide-alpha")["body"],
        "<p>Dana's fix</p>"
    );
    let report = succeeded(json_publish(&kb, "cloud", &["--force"]));
    assert!(
        action_of(&report, "guide-alpha")["note"]
            .as_str()
            .unwrap()
            .contains("overwriting")
    );
    let alpha = page_of(&managed(&sim, "cloud"), "guide-alpha").clone();
    assert!(alpha["body"].as_str().unwrap().contains("Intro, from git."));
    assert_eq!(alpha["version"], 3);
    assert_republishes(&kb, "cloud", "after --force the page is in sync");
}

#[test]
fn a_version_conflict_rereads_and_retries_once_then_reports() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    for doc in ["guides/alpha.md", "faq/gamma.md"] {
        let text = std::fs::read_to_string(kb.path().join("content").join(doc)).unwrap();
        kb.write(
            &format!("content/{doc}"),
            &format!("{text}\nOne more line.\n"),
        );
    }
    approve_all(&kb);
    let alpha_id = page_of(&managed(&sim, "cloud"), "guide-alpha")["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "PUT", "path": format!("/api/v2/pages/{alpha_id}"), "status": 409}]),
    );
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 0, "one 409 is settled by re-reading: {report:#}");
    assert_eq!(action_of(&report, "guide-alpha")["outcome"], "done");
    kb.write(
        "content/guides/alpha.md",
        "---\nid: guide-alpha\ntitle: Alpha guide\ntype: sop\n---\n\nShort now.\n",
    );
    sim.set("cloud", "faults", json!([{"method": "PUT", "path": format!("/api/v2/pages/{alpha_id}"), "status": 409, "times": 2}]));
    approve_all(&kb);
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 1);
    let alpha = action_of(&report, "guide-alpha");
    assert_eq!(alpha["outcome"], "failed");
    assert!(alpha["error"].as_str().unwrap().contains("409"), "{alpha}");
    assert_eq!(alpha["reason"]["code"], "kept-changing", "{alpha}");
    assert_eq!(alpha["reason"]["message"], alpha["error"]);
    assert!(
        alpha["reason"]["help"].as_str().unwrap().contains("re-run"),
        "{alpha}"
    );
    assert_republishes(&kb, "cloud", "re-running finishes the job");
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let (sim, kb) = started("cloud");
    sim.set(
        "cloud",
        "faults",
        json!([
            {"method": "GET", "path": "/api/v2/spaces", "status": 429, "retry_after": "1"},
            {"method": "GET", "path": "/rest/api/content/search", "status": 429,
             "retry_after": httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(1))},
            {"method": "POST", "path": "/label", "status": 503, "times": 2},
            {"method": "POST", "path": "/properties", "status": 502},
        ]),
    );
    succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(managed(&sim, "cloud").len(), 7);
    assert!(
        sim.count("cloud", "GET") >= 4,
        "both rate-limited reads were sent again"
    );
}

#[test]
fn a_create_that_commits_then_fails_is_found_not_duplicated() {
    for instance in ["cloud", "dc"] {
        let (sim, kb) = started(instance);
        let create_path = on(instance, "/api/v2/pages", "/rest/api/content");
        sim.set(instance, "faults", json!([{"method": "POST", "path": create_path, "status": 500, "commit": true, "times": 3}]));
        let (code, report) = json_publish(&kb, instance, &[]);
        assert_eq!(code, 0, "{instance}: {report:#}");
        let pages = managed(&sim, instance);
        assert_eq!(pages.len(), 7, "{instance}");
        let titles: Vec<String> = sim
            .pages(instance)
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_lowercase())
            .collect();
        let unique: std::collections::HashSet<&String> = titles.iter().collect();
        assert_eq!(
            unique.len(),
            titles.len(),
            "{instance}: duplicate pages {titles:?}"
        );
    }
}

#[test]
fn an_update_that_commits_then_fails_is_recognised_as_ours() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    let text = kb.read("content/guides/alpha.md");
    kb.write("content/guides/alpha.md", &format!("{text}\nAmended.\n"));
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "PUT", "path": "/api/v2/pages/", "status": 500, "commit": true}]),
    );
    approve_all(&kb);
    succeeded(json_publish(&kb, "cloud", &[]));
    let alpha = page_of(&managed(&sim, "cloud"), "guide-alpha").clone();
    assert_eq!(alpha["version"], 2, "written once, not twice");
    assert_eq!(alpha["properties"]["kbpub"]["version"], 2);
    assert_eq!(json_publish(&kb, "cloud", &[]).0, 0);
    assert_eq!(
        page_of(&managed(&sim, "cloud"), "guide-alpha")["version"],
        2
    );
}

#[test]
fn the_test_server_can_commit_a_write_and_hold_its_answer_past_the_clients_timeout() {
    let sim = Sim::start();
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/api/v2/pages", "status": 500, "commit": true, "hang": 5}]),
    );
    let impatient = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let spaces: Value = sim
        .client()
        .get(format!("{}/wiki/api/v2/spaces?keys=OPS", sim.base))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ops = &spaces["results"][0];
    let sent = impatient
        .post(format!("{}/wiki/api/v2/pages", sim.base))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .json(&json!({"spaceId": ops["id"], "status": "current", "title": "Hung", "parentId": ops["homepageId"],
                      "body": {"representation": "storage", "value": "<p>hung</p>"}}))
        .send();
    assert!(
        sent.as_ref().is_err_and(|e| e.is_timeout()),
        "no answer in time: {sent:?}"
    );
    assert!(
        sim.pages("cloud").iter().any(|p| p["title"] == "Hung"),
        "the create landed"
    );
}

#[test]
fn a_create_that_commits_and_then_goes_unanswered_is_read_back_not_duplicated() {
    let (sim, kb) = started("cloud");
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/api/v2/pages", "status": 500, "commit": true, "hang": 5}]),
    );
    let run = publish_with(
        &kb,
        "cloud",
        &["--format", "json", "--concurrency", "1"],
        &[("KBPUB_HTTP_TIMEOUT", "2")],
    );
    let report = run.json();
    assert_eq!(run.code(), 0, "{report:#}");
    let pages = managed(&sim, "cloud");
    assert_eq!(pages.len(), 7, "{report:#}");
    let all = sim.pages("cloud");
    for page in &pages {
        let same = all.iter().filter(|p| p["title"] == page["title"]).count();
        assert_eq!(same, 1, "no duplicate of {}", page["title"]);
    }
    let before = sim.writes("cloud");
    assert_eq!(json_publish(&kb, "cloud", &[]).0, 0);
    assert_eq!(sim.writes("cloud"), before, "a re-run writes nothing");
}

#[test]
fn a_failed_page_does_not_stop_the_others_and_rerunning_finishes() {
    let (sim, kb) = started("cloud");
    // The first create fails without committing on each of its three attempts (each looked up
    // before the next); its children are skipped, the rest go through.
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/api/v2/pages", "status": 500, "times": 3}]),
    );
    let (code, report) = json_publish(&kb, "cloud", &["--concurrency", "1"]);
    assert_eq!(code, 1);
    let failed = report["targets"][0]["summary"]["failed"]
        .as_u64()
        .unwrap_or(0)
        + report["targets"][0]["summary"]["skipped"]
            .as_u64()
            .unwrap_or(0);
    assert!(
        failed >= 1 && managed(&sim, "cloud").len() >= 4,
        "{report:#}"
    );
    succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(managed(&sim, "cloud").len(), 7);
}

#[test]
fn a_spent_retry_budget_fails_the_page_with_a_typed_reason_and_what_to_do() {
    let (sim, kb) = started("cloud");
    // Every create is refused with 429 (and no wait) until the request's attempts are spent.
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/api/v2/pages", "status": 429, "retry_after": "0", "times": 100}]),
    );
    let run = publish(&kb, "cloud", &["--concurrency", "1"]).fails_with(1);
    run.assert_stdout_has("FAILED");
    run.assert_stdout_has("retry budget was spent");
    let (code, report) = json_publish(&kb, "cloud", &["--concurrency", "1"]);
    assert_eq!(code, 1);
    let failed: Vec<&Value> = report["targets"][0]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{report:#}");
    for page in failed {
        assert_eq!(page["reason"]["code"], "retry-budget-spent", "{page}");
        assert!(
            page["error"].as_str().unwrap().contains("HTTP 429"),
            "{page}"
        );
        assert!(
            page["reason"]["help"]
                .as_str()
                .unwrap()
                .contains("lower --concurrency"),
            "{page}"
        );
    }
    sim.set("cloud", "faults", json!([]));
    assert_republishes(&kb, "cloud", "re-running finishes");
    assert_eq!(managed(&sim, "cloud").len(), 7);
}

#[test]
fn prune_archives_on_cloud_and_trashes_on_data_center_never_after_a_failure() {
    for (instance, status) in [("cloud", "archived"), ("dc", "trashed")] {
        let (sim, kb) = started(instance);
        publish(&kb, instance, &[]).ok();
        remove_delta(&kb);
        let report = succeeded(json_publish(&kb, instance, &[]));
        assert_eq!(action_of(&report, "guides-deep-delta")["action"], "orphan");
        // With a failure in the same run, nothing is pruned.
        let text = kb.read("content/guides/alpha.md");
        kb.write("content/guides/alpha.md", &format!("{text}\nChanged.\n"));
        let update = on(instance, "/api/v2/pages/", "/rest/api/content/");
        sim.set(
            instance,
            "faults",
            json!([{"method": "PUT", "path": update, "status": 400}]),
        );
        approve_all(&kb);
        let (code, report) = json_publish(&kb, instance, &["--prune"]);
        assert_eq!(code, 1, "{report:#}");
        assert_eq!(
            action_of(&report, "guides-deep-delta")["outcome"],
            "skipped"
        );
        let delta = sim
            .pages(instance)
            .into_iter()
            .find(|p| p["title"] == "Delta")
            .unwrap();
        assert_eq!(delta["status"], "current");
        succeeded(json_publish(&kb, instance, &["--prune"]));
        let delta = sim
            .pages(instance)
            .into_iter()
            .find(|p| p["title"] == "Delta")
            .unwrap();
        assert_eq!(delta["status"], status, "{instance}");
    }
}

#[test]
fn colliding_titles_are_reported_before_anything_is_written() {
    let (sim, kb) = started("cloud");
    kb.write(
        "content/guides/other.md",
        "+++\ntitle = \"ALPHA GUIDE\"\ntype = \"faq\"\n+++\nx\n",
    );
    approve_all(&kb);
    let run = publish(&kb, "cloud", &[]).fails_with(1);
    assert!(
        run.stdout().contains("content/guides/alpha.md")
            && run.stdout().contains("content/guides/other.md"),
        "{}",
        run.stdout()
    );
    assert_eq!(sim.writes("cloud"), 0);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let (sim, kb) = started("cloud");
    let run = publish(&kb, "cloud", &["--dry-run"]).ok();
    run.assert_stdout_has("dry run, nothing written");
    run.assert_stdout_has("create     OPS      Alpha guide");
    assert_eq!(sim.writes("cloud"), 0);
    assert!(!kb.path().join(".kb/receipts").exists());
}

#[test]
fn the_json_report_has_a_stable_shape() {
    let (_sim, kb) = started("cloud");
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["ok"], true);
    let target = &report["targets"][0];
    assert_eq!(target["target"], "confluence");
    assert_eq!(target["api"], "v2 (Cloud)");
    assert_eq!(target["summary"]["create"], 7);
    for key in [
        "endpoint",
        "dry_run",
        "error",
        "collisions",
        "pages",
        "reads",
        "writes",
        "data_as_of",
    ] {
        assert!(target.get(key).is_some(), "no {key}");
    }
    let page = action_of(&report, "guide-alpha");
    for key in [
        "doc_id",
        "source",
        "title",
        "scope",
        "action",
        "outcome",
        "remote_id",
        "version",
        "approval",
        "note",
        "error",
        "receipt",
    ] {
        assert!(page.get(key).is_some(), "page has no {key}");
    }
    assert_eq!(page["outcome"], "done");
    assert_eq!(page["version"], 1);
}

#[test]
fn data_center_publishes_with_a_bearer_token_under_the_context_path() {
    let (sim, kb) = started("dc");
    let report = succeeded(json_publish(&kb, "dc", &[]));
    assert_eq!(report["targets"][0]["api"], "v1 (Data Center)");
    assert_eq!(managed(&sim, "dc").len(), 7);
    assert!(
        sim.pages("cloud")
            .iter()
            .all(|p| p["properties"]["kbpub"].is_null())
    );
    let writes = sim.writes("dc");
    assert_eq!(json_publish(&kb, "dc", &[]).0, 0);
    assert_eq!(sim.writes("dc"), writes);
}

#[test]
fn credentials_come_from_env_and_never_show() {
    let (sim, kb) = started("cloud");
    let mut command = kbpub();
    command
        .args(["publish"])
        .current_dir(kb.path())
        .env_remove("KB_TEST_TOKEN")
        .env("KB_TEST_EMAIL", "kbpub@example.com");
    let run = Run {
        output: command.output().unwrap(),
    }
    .fails_with(1);
    run.assert_stdout_has("export KB_TEST_TOKEN");
    let mut command = kbpub();
    command
        .args(["publish", "--format", "json"])
        .current_dir(kb.path())
        .env("KB_TEST_EMAIL", "kbpub@example.com")
        .env("KB_TEST_TOKEN", "wrong-secret-value");
    let run = Run {
        output: command.output().unwrap(),
    }
    .fails_with(1);
    let error = run.json()["targets"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_contains(&error, "401");
    assert!(
        !run.stdout().contains("wrong-secret-value")
            && !run.stderr().contains("wrong-secret-value")
    );
    let url_secret = kb_for(&sim, "cloud", "");
    url_secret.replace("kbpub.toml", "http://", "http://user:pass@");
    let run = publish(&url_secret, "cloud", &[]).fails_with(1);
    run.assert_stdout_has("must not hold credentials");
}

#[test]
fn the_test_server_enforces_confluences_rules() {
    let sim = Sim::start();
    let http = sim.client();
    let api = |path: &str| format!("{}/wiki{path}", sim.base);
    let ops = &http
        .get(api("/api/v2/spaces?keys=OPS"))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["results"][0];
    let create = |title: &str, body: &str| {
        http.post(api("/api/v2/pages"))
            .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
            .json(&json!({"spaceId": ops["id"], "status": "current", "title": title, "parentId": ops["homepageId"],
                          "body": {"representation": "storage", "value": body}}))
            .send()
            .unwrap()
    };
    let bad = create("Broken", "<p>unclosed &nbsp;");
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("Error parsing xhtml"));
    let page: Value = create("Setup", "<p>ok</p>").json().unwrap();
    assert_eq!(
        create("SETUP", "<p>again</p>").status(),
        400,
        "titles are unique per space, ignoring case"
    );
    let stale = http
        .put(api(&format!("/api/v2/pages/{}", page["id"].as_str().unwrap())))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .json(&json!({"id": page["id"], "status": "current", "title": "Setup",
                      "body": {"representation": "storage", "value": "<p>x</p>"}, "version": {"number": 3}}))
        .send()
        .unwrap();
    assert_eq!(
        stale.status(),
        409,
        "the version must be the current one + 1"
    );
    let upload = |token: bool| {
        let form = reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::bytes(b"png".to_vec()).file_name("a.png"),
        );
        let mut request = http
            .post(api(&format!(
                "/rest/api/content/{}/child/attachment",
                page["id"].as_str().unwrap()
            )))
            .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
            .multipart(form);
        if token {
            request = request.header("X-Atlassian-Token", "no-check");
        }
        request.send().unwrap().status()
    };
    assert_eq!(
        upload(false),
        403,
        "uploads need X-Atlassian-Token: no-check"
    );
    assert_eq!(upload(true), 200);
    assert_eq!(upload(true), 400, "a duplicate attachment name is refused");
    create("Second", "<p>2</p>");
    let cql = format!(
        "type = page and (ancestor = {})",
        ops["homepageId"].as_str().unwrap()
    );
    let first: Value = http
        .get(api("/rest/api/content/search"))
        .query(&[("cql", cql.as_str()), ("limit", "1")])
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    assert!(
        first["_links"]["next"]
            .as_str()
            .unwrap()
            .contains("cursor="),
        "CQL search pages with a cursor: {first}"
    );
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "GET", "path": "/api/v2/spaces", "status": 429, "retry_after": "7"}]),
    );
    let limited = http
        .get(api("/api/v2/spaces"))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .send()
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let unauthenticated = http
        .get(api("/api/v2/spaces"))
        .bearer_auth("dc-pat")
        .send()
        .unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "Cloud takes Basic e-mail + token only"
    );
}

#[test]
fn an_obsolete_document_is_treated_like_a_removed_one() {
    let (sim, kb) = started("cloud");
    publish(&kb, "cloud", &[]).ok();
    kb.write(
        "content/guides/deep/delta.md",
        "+++\ntitle = \"Delta\"\ntype = \"notice\"\nstatus = \"obsolete\"\nsuperseded_by = \"guide-alpha\"\n+++\nGone.\n",
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &["--dry-run"]));
    assert_eq!(action_of(&report, "guides-deep-delta")["action"], "orphan");
    let report = succeeded(json_publish(&kb, "cloud", &["--prune"]));
    assert_eq!(action_of(&report, "guides-deep-delta")["outcome"], "done");
    let delta = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "Delta")
        .unwrap();
    assert_eq!(delta["status"], "archived");
}

#[test]
fn only_approved_pages_are_published_and_the_rest_are_listed_as_gated_with_the_reason() {
    let (sim, kb) = started("cloud");
    kb.write(
        "content/guides/draft.md",
        "+++\ntitle = \"Draft\"\ntype = \"sop\"\n+++\nNot yet.\n",
    );
    let alpha = kb.read("content/guides/alpha.md");
    kb.write(
        "content/guides/alpha.md",
        &format!("{alpha}\nUnreviewed change.\n"),
    );
    kb.replace(
        "content/guides/_index.md",
        "All guides.",
        "All guides, unreviewed.",
    );
    git(kb.path(), "wes@example.com", &["add", "-A"]);
    git(
        kb.path(),
        "wes@example.com",
        &["commit", "-q", "-m", "unreviewed edits"],
    );
    let run = publish(&kb, "cloud", &[]).ok();
    run.assert_stdout_has("gated      OPS      Draft");
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 0, "gated pages are not failures: {report:#}");
    let draft = action_of(&report, "guides-draft");
    assert_eq!(
        (&draft["action"], &draft["approval"]),
        (&json!("gated"), &json!("draft"))
    );
    assert!(!draft["note"].as_str().unwrap().is_empty());
    let alpha = action_of(&report, "guide-alpha");
    assert_eq!(
        (&alpha["action"], &alpha["approval"]),
        (&json!("gated"), &json!("stale"))
    );
    assert!(
        alpha["note"].as_str().unwrap().starts_with("stale"),
        "{alpha}"
    );
    let pages = managed(&sim, "cloud");
    assert!(
        pages
            .iter()
            .all(|p| p["title"] != "Draft" && p["title"] != "Alpha guide")
    );
    let beta = body_of(&pages, "guides-beta").to_string();
    assert!(
        !beta.contains("ri:content-title=\"Alpha guide\""),
        "no link to an unpublished page: {beta}"
    );
    // A section page is gated like a document: its unapproved title and text are never sent,
    // and its approved pages wait under the nearest published ancestor.
    assert!(
        pages
            .iter()
            .all(|p| p["properties"]["kbpub"]["doc_id"] != "guides")
    );
    assert_eq!(
        (
            &action_of(&report, "guides")["action"],
            &action_of(&report, "guides")["approval"]
        ),
        (&json!("gated"), &json!("stale"))
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(action_of(&report, "guide-alpha")["action"], "create");
    let receipt =
        page_of(&managed(&sim, "cloud"), "guide-alpha")["properties"]["kbpub"]["receipt"].clone();
    assert_eq!(receipt["approval_state"], "approved");
    assert!(
        receipt["approvals_used"][0]
            .as_str()
            .unwrap()
            .contains("ana@example.com"),
        "{receipt}"
    );
}

#[test]
fn a_broken_policy_publishes_nothing() {
    let (sim, kb) = started("cloud");
    kb.write(
        ".kb/policy.toml",
        "[[rule]]\nname = \"everything\"\napprovals = 1\ngroups = [\"nobody\"]\n",
    );
    let run = publish(&kb, "cloud", &[]).fails_with(1);
    run.assert_stderr_has("policy");
    run.assert_stderr_has("nothing was published");
    assert_eq!(
        sim.count("cloud", "GET") + sim.writes("cloud"),
        0,
        "not even a read"
    );
}

#[test]
fn live_data_reaches_confluence_with_its_chart_as_png_and_its_as_of_in_receipts() {
    let (sim, kb) = started("cloud");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let snapshot = std::fs::read_to_string(repo.join("data/trading-grid.json")).unwrap();
    let as_of = serde_json::from_str::<Value>(&snapshot).unwrap()["as_of"]
        .as_str()
        .unwrap()
        .to_string();
    kb.write("data/trading-grid.json", &snapshot);
    add_trading_grid_source(&kb, &sim);
    kb.write(
        "content/guides/acme.md",
        "+++\ntitle = \"ACME trend\"\ntype = \"sop\"\n+++\n\n{{ trend_chart(partner=\"ACME-RETAIL\", doc_type=\"856\", direction=\"outbound\", days=30) }}\n",
    );
    approve_all(&kb);
    let report = succeeded(json_publish(&kb, "cloud", &[]));
    assert_eq!(report["targets"][0]["data_as_of"], as_of.as_str());
    let pages = managed(&sim, "cloud");
    let acme = page_of(&pages, "guides-acme");
    assert!(
        acme["body"]
            .as_str()
            .unwrap()
            .contains("<ri:attachment ri:filename=\"chart-1.png\"/>"),
        "{}",
        acme["body"]
    );
    assert_eq!(acme["attachments"][0]["type"], "image/png");
    assert_eq!(
        acme["properties"]["kbpub"]["receipt"]["data_as_of"],
        as_of.as_str()
    );
    let writes = sim.writes("cloud");
    assert_eq!(json_publish(&kb, "cloud", &[]).0, 0);
    assert_eq!(
        sim.writes("cloud"),
        writes,
        "the same snapshot renders the same pages: no writes"
    );
}

#[test]
fn hostile_data_strings_reach_confluence_as_text_in_well_formed_storage() {
    let sim = Sim::start_with(&["--hostile"]);
    let kb = kb_for(&sim, "cloud", "");
    add_trading_grid_source(&kb, &sim);
    let pull = kbpub()
        .args(["data", "pull"])
        .current_dir(kb.path())
        .env("KB_TEST_TG_TOKEN", "sim-token")
        .output()
        .unwrap();
    assert!(
        pull.status.success(),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    kb.write(
        "content/guides/incidents.md",
        "+++\ntitle = \"Incidents\"\ntype = \"sop\"\n+++\n\n{{ metrics_table(partner=\"ACME-RETAIL\", doc_type=\"856\", direction=\"outbound\", by=\"partner\", days=30) }}\n\n{{ incident_list(status=\"live\") }}\n",
    );
    approve_all(&kb);
    // The test server answers 400 "Error parsing xhtml" to a body that is not well-formed XML.
    succeeded(json_publish(&kb, "cloud", &[]));
    let body = body_of(&managed(&sim, "cloud"), "guides-incidents").to_string();
    assert!(!body.contains("<script"), "{body}");
    assert!(
        body.contains("&#60;script"),
        "hostile markup shows as text: {body}"
    );
}

/// `kbpub publish --format json <args>`, which must succeed: its report.
fn published(kb: &Kb, instance: &str, args: &[&str]) -> Value {
    let (code, report) = json_publish(kb, instance, args);
    assert_eq!(code, 0, "{instance}: {report:#}");
    report
}

/// Appends a paragraph to `content/<doc>`.
fn append(kb: &Kb, doc: &str, line: &str) {
    let text = std::fs::read_to_string(kb.path().join("content").join(doc)).unwrap();
    kb.write(&format!("content/{doc}"), &format!("{text}\n{line}\n"));
}

/// Removes the `guides-deep-delta` document (and beta's link to it), approved.
fn remove_delta(kb: &Kb) {
    kb.remove("content/guides/deep/delta.md");
    kb.replace("content/guides/beta.md", " and [deep](deep/delta.md)", "");
    approve_all(kb);
}

/// Creates a page as Dana (a person, not kbpub) under the space's home page; returns it.
fn create_as_dana(sim: &Sim, space: &str, title: &str, body: &str) -> Value {
    let http = sim.client();
    let found: Value = http
        .get(format!("{}/wiki/api/v2/spaces?keys={space}", sim.base))
        .basic_auth("dana@example.com", Some("dana-token"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let space = &found["results"][0];
    let response = http
        .post(format!("{}/wiki/api/v2/pages", sim.base))
        .basic_auth("dana@example.com", Some("dana-token"))
        .json(&json!({"spaceId": space["id"], "status": "current", "title": title, "parentId": space["homepageId"],
                      "body": {"representation": "storage", "value": body}}))
        .send()
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().unwrap()
}

fn page_by_id(sim: &Sim, instance: &str, id: &Value) -> Value {
    sim.pages(instance)
        .into_iter()
        .find(|p| &p["id"] == id)
        .expect("page exists")
}

#[test]
fn a_page_a_person_created_with_a_wanted_title_is_left_alone_and_fails_the_run_until_adopted() {
    let (sim, kb) = started("cloud");
    // Dana made "guides" (any case) and "Alpha guide" herself, in the place kbpub would use.
    let guides = create_as_dana(&sim, "OPS", "GUIDES", "<p>Dana's own guides page</p>");
    let alpha = create_as_dana(&sim, "OPS", "Alpha guide", "<p>Dana's alpha</p>");
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 1, "a skipped page fails the run: {report:#}");
    for (doc, page) in [("guides", &guides), ("guide-alpha", &alpha)] {
        let entry = action_of(&report, doc);
        assert_eq!(entry["outcome"], "skipped", "{entry}");
        assert_eq!(entry["reason"]["code"], "foreign-page", "{entry}");
        assert_eq!(entry["reason"]["page"], page["id"]);
        assert!(
            entry["reason"]["message"]
                .as_str()
                .unwrap()
                .contains("a page kbpub does not manage holds this title"),
            "{entry}"
        );
        assert!(
            entry["reason"]["help"]
                .as_str()
                .unwrap()
                .contains("--adopt")
        );
    }
    // Beta lives under the guides page that was not written: skipped, saying so.
    let beta = action_of(&report, "guides-beta");
    assert_eq!(beta["outcome"], "skipped");
    assert_eq!(beta["reason"]["code"], "parent-not-written", "{beta}");
    assert_eq!(beta["reason"]["parent"], "guides");
    // Dana's pages are untouched; pages elsewhere were published.
    for (page, body) in [
        (&guides, "<p>Dana's own guides page</p>"),
        (&alpha, "<p>Dana's alpha</p>"),
    ] {
        let now = page_by_id(&sim, "cloud", &page["id"]);
        assert_eq!(
            (now["version"].as_u64(), now["body"].as_str()),
            (Some(1), Some(body))
        );
        assert!(now["properties"]["kbpub"].is_null());
    }
    assert_eq!(page_of(&managed(&sim, "cloud"), "faq-gamma")["version"], 1);
    let human = publish(&kb, "cloud", &[]).fails_with(1);
    assert!(
        human
            .stdout()
            .contains("a page kbpub does not manage holds this title")
            && human.stdout().contains("to fix:"),
        "{}",
        human.stdout()
    );
    // --adopt takes them over explicitly; then everything is kbpub's and in sync.
    let report = published(&kb, "cloud", &["--adopt"]);
    assert!(
        action_of(&report, "guide-alpha")["note"]
            .as_str()
            .unwrap()
            .contains("--adopt")
    );
    let now = page_by_id(&sim, "cloud", &alpha["id"]);
    assert_eq!(now["properties"]["kbpub"]["doc_id"], "guide-alpha");
    assert_eq!(managed(&sim, "cloud").len(), 7);
    assert_eq!(json_publish(&kb, "cloud", &[]).0, 0);
}

#[test]
fn an_interrupted_create_is_proven_by_the_journal_or_by_kbpubs_account_and_body() {
    for proof in ["journal", "account and body"] {
        let (sim, kb) = started("cloud");
        // Every create lands and answers 500, and the look-up after it fails too: the run
        // ends with unrecorded pages of its own.
        sim.set(
            "cloud",
            "faults",
            json!([
                {"method": "POST", "path": "/api/v2/pages", "status": 500, "commit": true, "times": 1},
                {"method": "GET", "path": "/api/v2/pages", "status": 500, "times": 8},
            ]),
        );
        let (code, report) = json_publish(&kb, "cloud", &["--concurrency", "1"]);
        assert_eq!(code, 1, "{report:#}");
        let orphan = sim
            .pages("cloud")
            .into_iter()
            .find(|p| p["author"] == "557058:kbpub-bot" && p["properties"]["kbpub"].is_null())
            .expect("an unrecorded page kbpub created");
        if proof == "journal" {
            // The source changed since: only the journal can prove the page is kbpub's.
            assert!(
                kb.path()
                    .join(".kb/journal/confluence")
                    .read_dir()
                    .unwrap()
                    .next()
                    .is_some()
            );
            for doc in [
                "guides/_index.md",
                "faq/_index.md",
                "guides/alpha.md",
                "faq/gamma.md",
            ] {
                let path = kb.path().join("content").join(doc);
                let text = std::fs::read_to_string(&path).unwrap();
                kb.write(&format!("content/{doc}"), &format!("{text}\nRevised.\n"));
            }
            approve_all(&kb);
        } else {
            std::fs::remove_dir_all(kb.path().join(".kb/journal")).unwrap();
        }
        published(&kb, "cloud", &[]);
        let now = page_by_id(&sim, "cloud", &orphan["id"]);
        assert!(now["properties"]["kbpub"].is_object(), "{proof}: {now:#}");
        assert_eq!(managed(&sim, "cloud").len(), 7, "{proof}: no duplicate");
        assert!(
            kb.path()
                .join(".kb/journal/confluence")
                .read_dir()
                .map_or(true, |mut d| d.next().is_none()),
            "{proof}: settled creates leave the journal"
        );
    }
}

#[test]
fn every_list_is_read_to_its_end_when_the_server_pages_by_one() {
    for instance in ["cloud", "dc"] {
        let sim = Sim::start_with(&["--confluence-page-size", "1"]);
        let kb = kb_for(&sim, instance, "");
        published(&kb, instance, &[]);
        assert_eq!(managed(&sim, instance).len(), 7, "{instance}");
        // Labels and attachments are listed to their end when a write is read back.
        sim.set(
            instance,
            "faults",
            json!([{"method": "POST", "path": "/label", "status": 500, "commit": true}]),
        );
        append(&kb, "guides/beta.md", "More.");
        approve_all(&kb);
        published(&kb, instance, &[]);
        let writes = sim.writes(instance);
        let report = published(&kb, instance, &[]);
        assert!(
            actions(&report).iter().all(|(_, a)| a == "unchanged"),
            "{instance}: every page was found: {report:#}"
        );
        assert_eq!(sim.writes(instance), writes, "{instance}");
    }
}

#[test]
fn v2_lists_are_followed_by_their_link_header_when_the_body_names_no_next_page() {
    let sim = Sim::start();
    sim.set(
        "cloud",
        "rules",
        json!({"page_size": 1, "v2_link_only": true}),
    );
    // The simulator's rule: the next page only in `Link`.
    let (status, headers, first) =
        cloud_request(&sim, reqwest::Method::GET, "/api/v2/spaces?limit=50", None);
    assert_eq!(status, 200);
    assert!(first["_links"]["next"].is_null(), "{first}");
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.starts_with("</wiki/api/v2/spaces?") && link.ends_with(">; rel=\"next\""),
        "{link}"
    );
    // kbpub finds every space and page through it: a re-run writes nothing.
    let kb = kb_for(&sim, "cloud", "");
    published(&kb, "cloud", &[]);
    assert_eq!(managed(&sim, "cloud").len(), 7);
    let writes = sim.writes("cloud");
    let report = published(&kb, "cloud", &[]);
    assert!(
        actions(&report).iter().all(|(_, a)| a == "unchanged"),
        "every page was found: {report:#}"
    );
    assert_eq!(sim.writes("cloud"), writes);
}

#[test]
fn writes_that_commit_then_fail_are_read_back_and_count_as_done_with_their_receipt() {
    for instance in ["cloud", "dc"] {
        let (sim, kb) = started(instance);
        let property = on(instance, "/properties", "/property");
        sim.set(
            instance,
            "faults",
            json!([
                {"method": "POST", "path": property, "status": 500, "commit": true, "times": 2},
                {"method": "POST", "path": "/label", "status": 502, "commit": true},
                {"method": "POST", "path": "/child/attachment", "status": 503, "commit": true},
            ]),
        );
        let report = published(&kb, instance, &[]);
        for page in report["targets"][0]["pages"].as_array().unwrap() {
            assert_eq!(page["outcome"], "done", "{instance}: {page}");
            assert!(page["receipt"].is_string(), "{instance}: {page}");
        }
        let pages = managed(&sim, instance);
        assert_eq!(pages.len(), 7);
        let beta = page_of(&pages, "guides-beta");
        assert_eq!(
            beta["attachments"].as_array().unwrap().len(),
            1,
            "{instance}: uploaded once"
        );
        assert_eq!(beta["attachments"][0]["version"], 1, "{instance}");
        assert_eq!(json_publish(&kb, instance, &[]).0, 0);
    }
}

#[test]
fn transient_conflicts_on_create_labels_and_attachments_are_reread_and_retried_once() {
    let (sim, kb) = started("cloud");
    sim.set(
        "cloud",
        "faults",
        json!([
            {"method": "POST", "path": "/api/v2/pages", "status": 409},
            {"method": "POST", "path": "/label", "status": 409},
            {"method": "POST", "path": "/child/attachment", "status": 409},
        ]),
    );
    published(&kb, "cloud", &[]);
    assert_eq!(managed(&sim, "cloud").len(), 7);
    assert_eq!(
        page_of(&managed(&sim, "cloud"), "guides-beta")["attachments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn an_immediate_rerun_plans_no_creates_while_the_search_index_lags() {
    for instance in ["cloud", "dc"] {
        let sim = Sim::start();
        sim.set(instance, "rules", json!({"search_lag": true}));
        let kb = kb_for(&sim, instance, "");
        publish(&kb, instance, &[]).ok();
        let writes = sim.writes(instance);
        let report = published(&kb, instance, &[]);
        assert!(
            actions(&report).iter().all(|(_, a)| a == "unchanged"),
            "{instance}: {report:#}"
        );
        assert_eq!(sim.writes(instance), writes, "{instance}");
        // Without receipts (a fresh CI checkout), a create into a taken title finds the page
        // kbpub recorded and updates it: never a duplicate.
        std::fs::remove_dir_all(kb.path().join(".kb/receipts")).unwrap();
        append(&kb, "guides/alpha.md", "Later.");
        approve_all(&kb);
        published(&kb, instance, &[]);
        let pages = managed(&sim, instance);
        assert_eq!(pages.len(), 7, "{instance}");
        assert!(body_of(&pages, "guide-alpha").contains("Later."));
    }
}

#[test]
fn data_center_gets_content_type_on_every_request_and_cloud_works_without_removed_v1_endpoints() {
    let sim = Sim::start();
    sim.set("dc", "rules", json!({"content_type_required": true}));
    sim.set("cloud", "rules", json!({"v1_removed": true}));
    for instance in ["dc", "cloud"] {
        let kb = kb_for(&sim, instance, "");
        published(&kb, instance, &[]);
        assert_eq!(managed(&sim, instance).len(), 7, "{instance}");
        remove_delta(&kb);
        let report = published(&kb, instance, &["--prune"]);
        let delta = action_of(&report, "guides-deep-delta");
        assert_eq!(
            (delta["action"].as_str(), delta["outcome"].as_str()),
            (Some("prune"), Some("done")),
            "{instance}"
        );
    }
}

#[test]
fn a_removed_v1_endpoint_is_named_with_what_to_do() {
    let sim = Sim::start();
    sim.set("cloud", "rules", json!({"v1_removed": true}));
    let kb = kb_for(&sim, "cloud", "api = \"v1\"\n");
    let (code, report) = json_publish(&kb, "cloud", &[]);
    assert_eq!(code, 1, "{report:#}");
    let failed: Vec<&Value> = report["targets"][0]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{report:#}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("POST /rest/api/content")
            && error.contains("HTTP 410")
            && error.contains("Confluence has removed this REST v1 endpoint")
            && error.contains("api = \"auto\""),
        "{error}"
    );
    assert_eq!(sim.pages("cloud").len(), 3, "nothing was created");
}

/// `METHOD path` on the simulator as kbpub's Cloud account: (status, headers, JSON body).
fn cloud_request(
    sim: &Sim,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = sim
        .client()
        .request(method, format!("{}/wiki{path}", sim.base))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().unwrap_or(Value::Null))
}

#[test]
fn the_test_server_pages_every_list_down_to_one_item() {
    let sim = Sim::start_with(&["--confluence-page-size", "1"]);
    let (status, headers, first) =
        cloud_request(&sim, reqwest::Method::GET, "/api/v2/spaces?limit=50", None);
    assert_eq!(status, 200);
    assert_eq!(
        first["results"].as_array().unwrap().len(),
        1,
        "the server clamps limit"
    );
    let next = first["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("/wiki/api/v2/spaces?") && next.contains("cursor="),
        "{next}"
    );
    assert!(headers["link"].to_str().unwrap().contains("rel=\"next\""));
    let mut keys = vec![first["results"][0]["key"].clone()];
    let mut next = Some(next.to_string());
    while let Some(link) = next {
        let (_, _, page) = cloud_request(
            &sim,
            reqwest::Method::GET,
            link.trim_start_matches("/wiki"),
            None,
        );
        keys.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["key"].clone()),
        );
        next = page["_links"]["next"].as_str().map(String::from);
    }
    assert_eq!(keys, [json!("OPS"), json!("EDIOPS"), json!("PARTNERS")]);
    // v1 lists page by offset, links relative to the context path.
    let (_, _, content) = cloud_request(
        &sim,
        reqwest::Method::GET,
        "/rest/api/content?spaceKey=OPS&type=page",
        None,
    );
    assert_eq!(content["size"], 1);
    let (_, _, labels) = cloud_request(
        &sim,
        reqwest::Method::GET,
        &format!(
            "/rest/api/content/{}/label",
            content["results"][0]["id"].as_str().unwrap()
        ),
        None,
    );
    assert!(labels["results"].as_array().unwrap().is_empty() && labels["_links"]["next"].is_null());
    let (status, _, _) = cloud_request(
        &sim,
        reqwest::Method::GET,
        "/rest/api/content/search?cql=type%3Dpage%20and%20(ancestor%3D1)&cursor=%%%",
        None,
    );
    assert_eq!(status, 400, "a cursor the server did not issue is refused");
}

#[test]
fn the_test_server_takes_archive_ids_as_numbers_only_and_v1_property_keys_once() {
    let sim = Sim::start();
    let (_, _, spaces) = cloud_request(&sim, reqwest::Method::GET, "/api/v2/spaces?keys=OPS", None);
    let ops = &spaces["results"][0];
    let (_, _, page) = cloud_request(
        &sim,
        reqwest::Method::POST,
        "/api/v2/pages",
        Some(
            json!({"spaceId": ops["id"], "status": "current", "title": "T", "parentId": ops["homepageId"],
                    "body": {"representation": "storage", "value": "<p>t</p>"}}),
        ),
    );
    let id = page["id"].as_str().unwrap();
    let property = json!({"key": "k", "value": {"a": 1}});
    let path = format!("/rest/api/content/{id}/property");
    assert_eq!(
        cloud_request(&sim, reqwest::Method::POST, &path, Some(property.clone())).0,
        200
    );
    let (status, _, again) = cloud_request(&sim, reqwest::Method::POST, &path, Some(property));
    assert_eq!(status, 400, "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("already has a property")
    );
    let archive = |id: Value| {
        cloud_request(
            &sim,
            reqwest::Method::POST,
            "/rest/api/content/archive",
            Some(json!({"pages": [{"id": id}]})),
        )
        .0
    };
    assert_eq!(archive(json!(id)), 400, "a quoted id is refused");
    assert_eq!(archive(json!(id.parse::<u64>().unwrap())), 202);
}

#[test]
fn the_test_server_lags_its_search_index_and_knows_who_wrote_each_page() {
    let sim = Sim::start();
    sim.set("cloud", "rules", json!({"search_lag": true}));
    let dana = create_as_dana(&sim, "OPS", "Dana's page", "<p>d</p>");
    assert_eq!(dana["version"]["authorId"], "557058:dana-editor");
    let (_, _, me) = cloud_request(&sim, reqwest::Method::GET, "/rest/api/user/current", None);
    assert_eq!(me["accountId"], "557058:kbpub-bot");
    let (_, _, spaces) = cloud_request(&sim, reqwest::Method::GET, "/api/v2/spaces?keys=OPS", None);
    let cql = format!(
        "/rest/api/content/search?cql=type%20%3D%20page%20and%20(ancestor%20%3D%20{})&expand=version",
        spaces["results"][0]["homepageId"].as_str().unwrap()
    );
    let (_, _, before) = cloud_request(&sim, reqwest::Method::GET, &cql, None);
    assert!(
        before["results"].as_array().unwrap().is_empty(),
        "not indexed yet: {before}"
    );
    let (_, _, direct) = cloud_request(
        &sim,
        reqwest::Method::GET,
        &format!("/api/v2/pages/{}", dana["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(direct["title"], "Dana's page", "a direct read never lags");
    sim.set("cloud", "reindex", json!({}));
    let (_, _, after) = cloud_request(&sim, reqwest::Method::GET, &cql, None);
    assert_eq!(
        after["results"][0]["version"]["by"]["accountId"],
        "557058:dana-editor"
    );
}

#[test]
fn the_test_server_commits_then_fails_every_kind_of_write_and_answers_transient_conflicts() {
    let sim = Sim::start();
    let (_, _, spaces) = cloud_request(&sim, reqwest::Method::GET, "/api/v2/spaces?keys=OPS", None);
    let ops = &spaces["results"][0];
    let create = json!({"spaceId": ops["id"], "status": "current", "title": "C", "parentId": ops["homepageId"],
                        "body": {"representation": "storage", "value": "<p>c</p>"}});
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/api/v2/pages", "status": 500, "commit": true}]),
    );
    assert_eq!(
        cloud_request(&sim, reqwest::Method::POST, "/api/v2/pages", Some(create)).0,
        500
    );
    let page = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "C")
        .expect("the create landed");
    let id = page["id"].as_str().unwrap().to_string();
    for (path, body) in [
        (
            format!("/api/v2/pages/{id}/properties"),
            json!({"key": "k", "value": 1}),
        ),
        (
            format!("/rest/api/content/{id}/label"),
            json!([{"prefix": "global", "name": "l"}]),
        ),
    ] {
        sim.set(
            "cloud",
            "faults",
            json!([{"method": "POST", "path": path, "status": 503, "commit": true}]),
        );
        assert_eq!(
            cloud_request(&sim, reqwest::Method::POST, &path, Some(body)).0,
            503
        );
    }
    let upload = format!("/rest/api/content/{id}/child/attachment");
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": upload, "status": 500, "commit": true}]),
    );
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(b"png".to_vec()).file_name("a.png"),
    );
    let uploaded = sim
        .client()
        .post(format!("{}/wiki{upload}", sim.base))
        .basic_auth("kbpub@example.com", Some(CLOUD_TOKEN))
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(uploaded.status(), 500);
    let page = page_by_id(&sim, "cloud", &json!(id));
    assert_eq!(page["properties"]["k"], 1);
    assert_eq!(page["labels"], json!(["l"]));
    assert_eq!(page["attachments"][0]["filename"], "a.png");
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/label", "status": 409}]),
    );
    let (status, _, conflict) = cloud_request(
        &sim,
        reqwest::Method::POST,
        &format!("/rest/api/content/{id}/label"),
        Some(json!([{"name": "m"}])),
    );
    assert_eq!(status, 409);
    assert!(
        conflict["message"]
            .as_str()
            .unwrap()
            .contains("OptimisticLockException")
    );
    assert_eq!(
        page_by_id(&sim, "cloud", &json!(id))["labels"],
        json!(["l"]),
        "not applied"
    );
}

#[test]
fn the_test_server_is_strict_about_content_type_on_data_center_and_removes_v1_on_cloud_when_asked()
{
    let sim = Sim::start();
    let http = sim.client();
    let dc = |content_type: bool| {
        let mut request = http
            .get(format!("{}/confluence/rest/api/space/OPS", sim.base))
            .bearer_auth("dc-pat");
        if content_type {
            request = request.header("Content-Type", "application/json");
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(dc(false), 200, "lenient by default");
    sim.set("dc", "rules", json!({"content_type_required": true}));
    assert_eq!(dc(false), 415);
    assert_eq!(dc(true), 200);
    let home = sim.pages("cloud")[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        cloud_request(
            &sim,
            reqwest::Method::GET,
            &format!("/rest/api/content/{home}"),
            None
        )
        .0,
        200
    );
    sim.set("cloud", "rules", json!({"v1_removed": true}));
    let (status, _, gone) = cloud_request(
        &sim,
        reqwest::Method::GET,
        &format!("/rest/api/content/{home}"),
        None,
    );
    assert_eq!(status, 410);
    assert!(
        gone["message"]
            .as_str()
            .unwrap()
            .contains("deprecated endpoint has been removed")
    );
    assert_eq!(
        cloud_request(
            &sim,
            reqwest::Method::GET,
            &format!("/api/v2/pages/{home}"),
            None
        )
        .0,
        200
    );
    assert_eq!(
        cloud_request(&sim, reqwest::Method::GET, "/rest/api/space/OPS", None).0,
        200
    );
}

//! `kbpub sim`'s partner community, tested on its own over raw HTTP (no kbpub client code): each
//! rule of `community-v1` it enforces — cursor paging down to one article per page, unique
//! external ids, `If-Match` drafts, exact-version publishing — the faults it injects on every kind
//! of write, and the platform behaviour the contract leaves open (`--community-carry-over`).

mod common;

use common::Sim;
use common::community::*;
use reqwest::Method;
use serde_json::{Value, json};

/// kbpub's `POST /v1/articles` with `fields`.
fn post_article(sim: &Sim, fields: Value) -> (u16, Value) {
    api(sim, Method::POST, "/v1/articles", TOKEN, &[], fields)
}

/// kbpub creates an article (a draft at version 1); returns it.
fn create(sim: &Sim, external_id: &str, category: &str) -> Value {
    let (status, created) = post_article(
        sim,
        json!({"external_id": external_id, "title": external_id, "body": "<p>kbpub</p>", "category": category, "labels": ["asn"], "locale": "en", "content_hash": format!("sha256:{external_id}")}),
    );
    assert_eq!(status, 201, "{created}");
    created
}

#[test]
fn lists_are_paged_by_cursor_down_to_one_article_per_page() {
    let sim = Sim::start_with(&["--community-page-size", "1"]);
    for id in ["a", "b", "c"] {
        create(&sim, id, "guides");
    }
    create(&sim, "elsewhere", "faq");
    let mut seen = Vec::new();
    let mut query = "/v1/articles?category=guides".to_string();
    loop {
        let (status, page) = api(&sim, Method::GET, &query, TOKEN, &[], Value::Null);
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "one article per page: {page}");
        seen.push(data[0]["external_id"].as_str().unwrap().to_string());
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("/v1/articles?category=guides&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c"]);
    let (_, found) = api(
        &sim,
        Method::GET,
        "/v1/articles?external_id=c",
        TOKEN,
        &[],
        Value::Null,
    );
    assert_eq!(found["data"][0]["external_id"], "c");
    let (status, _) = api(
        &sim,
        Method::GET,
        "/v1/articles?cursor=nonsense",
        TOKEN,
        &[],
        Value::Null,
    );
    assert_eq!(status, 400, "an unknown cursor is invalid");
}

#[test]
fn external_ids_are_unique_drafts_need_the_current_etag_and_only_the_latest_version_publishes() {
    let sim = Sim::start();
    let created = create(&sim, "faq", "guides");
    assert_eq!(
        (&created["status"], &created["version"]),
        (&json!("draft"), &json!(1))
    );
    let (status, error) = post_article(
        &sim,
        json!({"external_id": "faq", "title": "Again", "body": "", "category": "guides"}),
    );
    assert_eq!(status, 409, "{error}");
    assert_eq!(error["error"]["code"], "conflict");
    let (status, _) = publish_version(&sim, TOKEN, &created, 2);
    assert_eq!(status, 409, "version 2 does not exist yet");
    let (status, published) = publish_version(&sim, TOKEN, &created, 1);
    assert_eq!(status, 200);
    assert_eq!(published["published_version"], 1);
    let fields = json!({"title": "FAQ", "body": "<p>two</p>", "category": "guides"});
    let (status, _) = draft(&sim, TOKEN, &created, "\"stale\"", fields.clone());
    assert_eq!(status, 412);
    let etag = published["etag"].as_str().unwrap();
    let (status, answer) = draft(&sim, TOKEN, &created, etag, fields);
    assert_eq!(status, 200);
    assert_eq!(
        (
            &answer["version"],
            &answer["published_version"],
            &answer["status"]
        ),
        (&json!(2), &json!(1), &json!("published")),
        "partners keep the published version until the draft is published"
    );
    let (status, _) = publish_version(&sim, TOKEN, &created, 1);
    assert_eq!(status, 409, "version 1 is no longer the latest");
}

#[test]
fn every_kind_of_write_can_commit_and_then_answer_a_server_error() {
    let sim = Sim::start();
    let commit = |method: &str, path: &str| {
        faults(
            &sim,
            json!([{"method": method, "path": path, "status": 502, "commit": true}]),
        );
    };
    commit("POST", "/v1/articles");
    let (status, _) = post_article(
        &sim,
        json!({"external_id": "x", "title": "X", "body": "<p>x</p>", "category": "guides", "content_hash": "sha256:x"}),
    );
    assert_eq!(status, 502);
    let x = article(&sim, "x");
    assert_eq!(x["version"], 1, "the create landed");

    commit("PUT", "/draft");
    let fields = json!({"title": "X", "body": "<p>x2</p>", "category": "guides"});
    let (status, _) = draft(&sim, TOKEN, &x, x["etag"].as_str().unwrap(), fields);
    assert_eq!(status, 502);
    assert_eq!(article(&sim, "x")["version"], 2, "the draft landed");

    commit("POST", "/publish");
    let (status, _) = publish_version(&sim, TOKEN, &x, 2);
    assert_eq!(status, 502);
    assert_eq!(
        article(&sim, "x")["published_version"],
        2,
        "the publish landed"
    );

    commit("POST", "/archive");
    let (status, _) = api(
        &sim,
        Method::POST,
        &format!("/v1/articles/{}/archive", x["id"].as_str().unwrap()),
        TOKEN,
        &[],
        json!({"reason": "old", "superseded_by": null}),
    );
    assert_eq!(status, 502);
    assert_eq!(
        article(&sim, "x")["status"],
        "archived",
        "the archive landed"
    );

    faults(
        &sim,
        json!([{"method": "POST", "path": "/v1/articles", "status": 409}]),
    );
    let (status, _) = post_article(
        &sim,
        json!({"external_id": "y", "title": "Y", "body": "", "category": "guides"}),
    );
    assert_eq!(status, 409, "an injected conflict");
    assert_eq!(articles(&sim).len(), 1, "without commit, nothing landed");
}

#[test]
fn a_write_can_commit_and_then_hang_past_the_clients_timeout() {
    let sim = Sim::start();
    faults(
        &sim,
        json!([{"method": "POST", "path": "/v1/articles", "status": 502, "commit": true, "hang": 5}]),
    );
    let impatient = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/community/v1/articles", sim.base))
        .bearer_auth(TOKEN)
        .json(&json!({"external_id": "z", "title": "Z", "body": "<p>z</p>", "category": "guides", "content_hash": "sha256:z"}))
        .send();
    assert!(
        sent.as_ref().is_err_and(|e| e.is_timeout()),
        "no answer in time: {sent:?}"
    );
    assert_eq!(article(&sim, "z")["version"], 1, "the create landed");
}

#[test]
fn a_draft_that_omits_fields_keeps_them_empty_by_contract_and_carries_them_over_under_the_flag() {
    // By the contract `content_hash` is stored as given: an edit without one has none.
    let sim = Sim::start();
    create(&sim, "faq", "guides");
    let faq = article(&sim, "faq");
    let etag = faq["etag"].as_str().unwrap();
    let (status, _) = draft(&sim, MODERATOR, &faq, etag, json!({"body": "<p>m</p>"}));
    assert_eq!(status, 400, "title and category are required");
    let fields = json!({"title": "faq", "body": "", "category": "guides", "labels": "asn"});
    let (status, _) = draft(&sim, MODERATOR, &faq, etag, fields);
    assert_eq!(status, 400, "labels are a list of strings");
    moderator_draft(
        &sim,
        "faq",
        json!({"title": "faq", "body": "<p>moderated</p>", "category": "guides"}),
    );
    let faq = article(&sim, "faq");
    assert_eq!(faq["content_hash"], Value::Null);
    assert_eq!(faq["labels"], json!([]));

    // A platform that copies the previous version's fields into an edit.
    let sim = Sim::start_with(&["--community-carry-over"]);
    create(&sim, "faq", "guides");
    let version = moderator_draft(&sim, "faq", json!({"body": "<p>moderated</p>"}));
    assert_eq!(version, 2);
    let faq = article(&sim, "faq");
    assert_eq!(
        (
            &faq["content_hash"],
            &faq["title"],
            &faq["labels"],
            &faq["body"]
        ),
        (
            &json!("sha256:faq"),
            &json!("faq"),
            &json!(["asn"]),
            &json!("<p>moderated</p>")
        ),
        "everything but the body carried over, kbpub's hash included"
    );
    assert_eq!(faq["versions"][1]["by"], "Mia Moderator");
    assert_eq!(
        faq["status"], "draft",
        "a moderator's draft is not published"
    );
}

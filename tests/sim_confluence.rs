//! `kbpub sim`'s Confluence, tested on its own over raw HTTP (no kbpub client code), rule by rule
//! as `/work/shared/reference/confluence-api.md` states them: an update carries the current
//! version + 1 (409 otherwise), titles are unique per space ignoring case, every list pages (v1
//! `start`/`limit` and `_links.next`, v2 cursors with `_links.next` and a `Link` header) down to one
//! result per page, the CQL index lags until `reindex`, Cloud can remove the v1 content endpoints
//! (410), Data Center can insist on `Content-Type` (415), archive ids are JSON numbers; and the
//! shared fault layer: a write that commits and then fails, and `Retry-After` windows per client.

mod common;

use common::Sim;
use reqwest::Method;
use serde_json::{Value, json};

/// A response as tests read it.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// kbpub's request to `instance` (`cloud` under `/wiki`, `dc` under `/confluence`) at `path`
/// (after the context path), with kbpub's credentials.
fn call(sim: &Sim, instance: &str, method: Method, path: &str, body: Value) -> Answer {
    call_as(sim, instance, "kbpub", method, path, body, &[])
}

/// A request as `who` (`kbpub` or `dana`), with extra `headers`.
fn call_as(
    sim: &Sim,
    instance: &str,
    who: &str,
    method: Method,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> Answer {
    let context = if instance == "cloud" {
        "/wiki"
    } else {
        "/confluence"
    };
    let mut request = sim
        .client()
        .request(method, format!("{}{context}{path}", sim.base));
    request = match (instance, who) {
        ("cloud", "kbpub") => request.basic_auth("kbpub@example.com", Some("cloud-token")),
        ("cloud", _) => request.basic_auth("dana@example.com", Some("dana-token")),
        (_, "kbpub") => request.bearer_auth("dc-pat"),
        _ => request.bearer_auth("dana-pat"),
    };
    if !body.is_null() {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("the simulator answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// Creates a page through v1 in `space` (under the space's home page, or `parent`); returns its id.
fn create(sim: &Sim, instance: &str, space: &str, title: &str, parent: Option<&str>) -> String {
    let mut page = json!({"type": "page", "title": title, "space": {"key": space},
                          "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}});
    if let Some(parent) = parent {
        page["ancestors"] = json!([{"id": parent}]);
    }
    let answer = call(sim, instance, Method::POST, "/rest/api/content", page);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_string()
}

/// The v1 update of page `id` to `title` at version `number`.
fn update(sim: &Sim, id: &str, title: &str, number: u64) -> Answer {
    let page = json!({"type": "page", "title": title, "version": {"number": number},
                      "body": {"storage": {"value": "<p>y</p>", "representation": "storage"}}});
    call(
        sim,
        "cloud",
        Method::PUT,
        &format!("/rest/api/content/{id}"),
        page,
    )
}

fn home_of(sim: &Sim, instance: &str, space: &str) -> String {
    let answer = call(
        sim,
        instance,
        Method::GET,
        &format!("/rest/api/space/{space}"),
        Value::Null,
    );
    answer.body["homepage"]["id"].as_str().unwrap().to_string()
}

#[test]
fn an_update_must_carry_the_current_version_plus_one() {
    let sim = Sim::start();
    let id = create(&sim, "cloud", "OPS", "Runbook", None);
    for stale_or_skipping in [1, 3] {
        let answer = update(&sim, &id, "Runbook", stale_or_skipping);
        assert_eq!(answer.status, 409, "version {stale_or_skipping}");
        assert_eq!(
            answer.body["message"],
            "Version must be incremented on update. Current version is: 1"
        );
    }
    assert_eq!(update(&sim, &id, "Runbook", 2).status, 200);
    let page = &sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        (page["version"].as_u64(), page["body"].as_str()),
        (Some(2), Some("<p>y</p>"))
    );
    assert_eq!(
        update(&sim, &id, "Runbook", 2).status,
        409,
        "2 is now current"
    );
}

#[test]
fn titles_are_unique_in_a_space_ignoring_case() {
    let sim = Sim::start();
    let first = create(&sim, "cloud", "OPS", "Restart the API", None);
    let clash = json!({"type": "page", "title": "RESTART the api", "space": {"key": "OPS"},
                       "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}});
    let answer = call(&sim, "cloud", Method::POST, "/rest/api/content", clash);
    assert_eq!(answer.status, 400);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .starts_with("A page with this title already exists"),
        "{}",
        answer.body
    );
    create(&sim, "cloud", "EDIOPS", "Restart the API", None);
    let second = create(&sim, "cloud", "OPS", "Another page", None);
    assert_eq!(
        update(&sim, &second, "restart the API", 2).status,
        400,
        "no rename into a taken title"
    );
    assert_eq!(
        update(&sim, &first, "Restart the api", 2).status,
        200,
        "a page keeps its own title"
    );
}

/// Follows v1 `_links.next` (relative to the context path) from `first`; every title seen.
fn v1_titles(sim: &Sim, instance: &str, first: &str) -> Vec<String> {
    let mut titles = Vec::new();
    let mut path = first.to_string();
    loop {
        let answer = call(sim, instance, Method::GET, &path, Value::Null);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let results = answer.body["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "one per page: {}", answer.body);
        assert_eq!(answer.body["size"], 1);
        titles.extend(
            results
                .iter()
                .map(|r| r["title"].as_str().unwrap().to_string()),
        );
        match answer.body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with("/rest/api/"),
                    "v1 next is after the context path: {next}"
                );
                path = next.to_string();
            }
            None => return titles,
        }
    }
}

#[test]
fn lists_page_down_to_one_result_per_page_on_v1_v2_and_cql() {
    let sim = Sim::start_with(&["--confluence-page-size", "1"]);
    let home = home_of(&sim, "cloud", "OPS");
    for title in ["A", "B", "C"] {
        create(&sim, "cloud", "OPS", title, None);
    }
    // v1 offset paging: `limit` is clamped to the page size, `start` moves on.
    let titles = v1_titles(&sim, "cloud", "/rest/api/content?spaceKey=OPS&limit=25");
    assert_eq!(titles, ["OPS Home", "A", "B", "C"]);
    let second = call(
        &sim,
        "cloud",
        Method::GET,
        "/rest/api/content?spaceKey=OPS&start=1",
        Value::Null,
    );
    assert_eq!(
        (second.body["start"].as_u64(), second.body["limit"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(second.body["results"][0]["title"], "A");
    // CQL: cursors, next relative to the context path as well.
    let cql = format!("/rest/api/content/search?cql=type%3Dpage%20and%20(ancestor%3D{home})");
    assert_eq!(v1_titles(&sim, "cloud", &cql), ["A", "B", "C"]);
    // v2: `_links.next` and the `Link` header both name the next page, from the context path on.
    let spaces = call(
        &sim,
        "cloud",
        Method::GET,
        "/api/v2/spaces?keys=OPS",
        Value::Null,
    );
    let space_id = spaces.body["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut path = format!("/api/v2/pages?space-id={space_id}");
    let mut titles = Vec::new();
    loop {
        let answer = call(&sim, "cloud", Method::GET, &path, Value::Null);
        let results = answer.body["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{}", answer.body);
        titles.push(results[0]["title"].as_str().unwrap().to_string());
        let link = answer
            .headers
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let Some(next) = answer.body["_links"]["next"].as_str() else {
            assert_eq!(link, None, "no Link header on the last page");
            break;
        };
        assert!(next.starts_with("/wiki/api/v2/pages?"), "{next}");
        assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
        path = next.trim_start_matches("/wiki").to_string();
    }
    assert_eq!(titles, ["OPS Home", "A", "B", "C"]);
    // With `v2_link_only` the next page is named in the header alone.
    sim.set("cloud", "rules", json!({"v2_link_only": true}));
    let answer = call(
        &sim,
        "cloud",
        Method::GET,
        &format!("/api/v2/pages?space-id={space_id}"),
        Value::Null,
    );
    assert!(
        answer.body["_links"].get("next").is_none(),
        "{}",
        answer.body
    );
    assert!(answer.headers.contains_key("link"));
}

#[test]
fn the_cql_index_lags_until_reindex_when_switched_on() {
    let sim = Sim::start();
    sim.set("cloud", "rules", json!({"search_lag": true}));
    let home = home_of(&sim, "cloud", "OPS");
    let id = create(&sim, "cloud", "OPS", "Fresh page", Some(&home));
    let search =
        format!("/rest/api/content/search?cql=type%20%3D%20page%20and%20(ancestor%20%3D%20{home})");
    let before = call(&sim, "cloud", Method::GET, &search, Value::Null);
    assert_eq!(before.body["results"], json!([]), "not indexed yet");
    let by_id = call(
        &sim,
        "cloud",
        Method::GET,
        &format!("/rest/api/content/{id}"),
        Value::Null,
    );
    assert_eq!(by_id.status, 200, "reads by id do not wait for the index");
    sim.set("cloud", "reindex", Value::Null);
    let after = call(&sim, "cloud", Method::GET, &search, Value::Null);
    assert_eq!(after.body["results"][0]["id"], id.as_str());
    let unparsed = call(
        &sim,
        "cloud",
        Method::GET,
        "/rest/api/content/search?cql=title~x",
        Value::Null,
    );
    assert_eq!(unparsed.status, 400);
}

#[test]
fn cloud_can_remove_the_v1_content_endpoints() {
    let sim = Sim::start();
    let id = create(&sim, "cloud", "OPS", "Before removal", None);
    sim.set("cloud", "rules", json!({"v1_removed": true}));
    for (method, path) in [
        (Method::GET, "/rest/api/content?spaceKey=OPS".to_string()),
        (Method::POST, "/rest/api/content".to_string()),
        (Method::GET, format!("/rest/api/content/{id}")),
        (Method::PUT, format!("/rest/api/content/{id}")),
        (Method::DELETE, format!("/rest/api/content/{id}")),
    ] {
        let answer = call(&sim, "cloud", method.clone(), &path, json!({}));
        assert_eq!(answer.status, 410, "{method} {path}");
        assert_eq!(
            answer.body["message"],
            "This deprecated endpoint has been removed"
        );
    }
    let labels = call(
        &sim,
        "cloud",
        Method::GET,
        &format!("/rest/api/content/{id}/label"),
        Value::Null,
    );
    assert_eq!(labels.status, 200, "the rest of v1 stays");
    let v2 = call(
        &sim,
        "cloud",
        Method::GET,
        &format!("/api/v2/pages/{id}"),
        Value::Null,
    );
    assert_eq!(v2.status, 200);
    sim.set("dc", "rules", json!({"v1_removed": true}));
    let dc = call(
        &sim,
        "dc",
        Method::GET,
        "/rest/api/content?spaceKey=OPS",
        Value::Null,
    );
    assert_eq!(dc.status, 200, "Data Center keeps v1");
}

#[test]
fn data_center_can_insist_on_content_type_for_get_and_delete() {
    let sim = Sim::start();
    let id = create(&sim, "dc", "OPS", "Strict", None);
    let path = format!("/rest/api/content/{id}");
    assert_eq!(
        call(&sim, "dc", Method::GET, &path, Value::Null).status,
        200
    );
    sim.set("dc", "rules", json!({"content_type_required": true}));
    assert_eq!(
        call(&sim, "dc", Method::GET, &path, Value::Null).status,
        415
    );
    assert_eq!(
        call(&sim, "dc", Method::DELETE, &path, Value::Null).status,
        415
    );
    let typed = [("Content-Type", "application/json")];
    let get = call_as(&sim, "dc", "kbpub", Method::GET, &path, Value::Null, &typed);
    assert_eq!(get.status, 200);
    assert_eq!(
        call(
            &sim,
            "cloud",
            Method::GET,
            "/rest/api/space/OPS",
            Value::Null
        )
        .status,
        200
    );
    // Data Center has no v2.
    let v2 = call_as(
        &sim,
        "dc",
        "kbpub",
        Method::GET,
        "/api/v2/spaces",
        Value::Null,
        &typed,
    );
    assert_eq!(v2.status, 404);
}

#[test]
fn archive_takes_page_ids_as_json_numbers() {
    let sim = Sim::start();
    let id = create(&sim, "cloud", "OPS", "Old page", None);
    let archive = |instance: &str, id: Value| {
        let pages = json!({"pages": [{"id": id}]});
        call(
            &sim,
            instance,
            Method::POST,
            "/rest/api/content/archive",
            pages,
        )
    };
    let quoted = archive("cloud", json!(id));
    assert_eq!(quoted.status, 400, "{}", quoted.body);
    let number: u64 = id.parse().unwrap();
    let archived = archive("cloud", json!(number));
    assert_eq!(archived.status, 202, "{}", archived.body);
    assert!(
        archived.body["links"]["status"]
            .as_str()
            .unwrap()
            .starts_with("/rest/api/longtask/")
    );
    let page = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["id"] == id.as_str())
        .unwrap();
    assert_eq!(page["status"], "archived");
    let dc = archive("dc", json!(number));
    assert_eq!(dc.status, 404, "Data Center cannot archive");
}

#[test]
fn unknown_credentials_are_refused_and_counted() {
    let sim = Sim::start();
    let answer = sim
        .client()
        .get(format!("{}/wiki/rest/api/space/OPS", sim.base))
        .basic_auth("kbpub@example.com", Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert_eq!(sim.count("cloud", "GET"), 1);
    assert_eq!(sim.count("dc", "GET"), 0, "instances count apart");
}

#[test]
fn a_write_can_commit_and_then_answer_an_error() {
    let sim = Sim::start();
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "POST", "path": "/rest/api/content", "status": 500, "commit": true}]),
    );
    let page = json!({"type": "page", "title": "Landed", "space": {"key": "OPS"},
                      "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}});
    let answer = call(
        &sim,
        "cloud",
        Method::POST,
        "/rest/api/content",
        page.clone(),
    );
    assert_eq!(answer.status, 500);
    assert_eq!(answer.body["message"], "injected fault 500");
    assert!(
        sim.pages("cloud").iter().any(|p| p["title"] == "Landed"),
        "the write landed"
    );
    let again = call(&sim, "cloud", Method::POST, "/rest/api/content", page);
    assert_eq!(
        again.status, 400,
        "a blind retry meets its own page: {}",
        again.body
    );
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "PUT", "path": "/rest/api/content/", "status": 409}]),
    );
    let id = sim
        .pages("cloud")
        .into_iter()
        .find(|p| p["title"] == "Landed")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let conflict = update(&sim, &id, "Landed", 2);
    assert_eq!(conflict.status, 409);
    assert!(
        conflict.body["message"]
            .as_str()
            .unwrap()
            .contains("OptimisticLockException")
    );
    assert_eq!(
        update(&sim, &id, "Landed", 2).status,
        200,
        "the conflict did not run the update"
    );
    assert_eq!(sim.count("cloud", "POST"), 2);
}

#[test]
fn retry_after_holds_the_client_that_was_told_and_no_other() {
    let sim = Sim::start();
    sim.set(
        "cloud",
        "faults",
        json!([{"method": "*", "path": "/rest/api/space", "status": 429, "retry_after": "30"}]),
    );
    let path = "/rest/api/space/OPS";
    let limited = call(&sim, "cloud", Method::GET, path, Value::Null);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "30");
    let again = call(&sim, "cloud", Method::GET, path, Value::Null);
    assert_eq!(again.status, 429, "still inside the window");
    let left: u64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&left), "the time still left: {left}");
    let dana = call_as(&sim, "cloud", "dana", Method::GET, path, Value::Null, &[]);
    assert_eq!(dana.status, 200, "another client is not held");
    let stats = sim.control("cloud", "rate-limits");
    assert_eq!(stats["windows"], 2, "{stats}");
    let inside = stats["early"].as_u64().unwrap() + stats["in_flight"].as_u64().unwrap();
    assert_eq!(inside, 1, "{stats}");
}

//! Raw HTTP to `kbpub sim`'s partner community (`community-v1` under `/community`) and its control
//! endpoints, for tests that act as kbpub's counterpart or as a moderator: no kbpub client code.

use serde_json::Value;

use super::Sim;

/// kbpub's token and a moderator's, as the simulator knows them.
pub const TOKEN: &str = "community-token";
pub const MODERATOR: &str = "moderator-token";

/// GET a control endpoint (`stats`, `articles`).
pub fn control(sim: &Sim, what: &str) -> Value {
    sim.client()
        .get(format!("{}/__sim/community/{what}", sim.base))
        .send()
        .and_then(|r| r.json())
        .expect("community control endpoint")
}

/// Every article, bodies and versions included.
pub fn articles(sim: &Sim) -> Vec<Value> {
    control(sim, "articles").as_array().unwrap().clone()
}

/// The one article with `external_id`.
pub fn article(sim: &Sim, external_id: &str) -> Value {
    let all = articles(sim);
    let matching: Vec<&Value> = all
        .iter()
        .filter(|a| a["external_id"] == external_id)
        .collect();
    assert_eq!(matching.len(), 1, "one article for {external_id}: {all:#?}");
    matching[0].clone()
}

/// Requests that write (POST and PUT) so far.
pub fn writes(sim: &Sim) -> u64 {
    let stats = control(sim, "stats");
    ["POST", "PUT"]
        .iter()
        .map(|m| stats[m].as_u64().unwrap_or(0))
        .sum()
}

/// Queues injected faults.
pub fn faults(sim: &Sim, faults: Value) {
    let response = sim
        .client()
        .post(format!("{}/__sim/community/faults", sim.base))
        .json(&faults)
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

/// A request to the community API as `token`: (status, JSON answer or null).
pub fn api(
    sim: &Sim,
    method: reqwest::Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let mut request = sim
        .client()
        .request(method, format!("{}/community{path}", sim.base))
        .bearer_auth(token);
    if !body.is_null() {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// `token` writes a new draft of `article` over the version whose etag is `etag`.
pub fn draft(sim: &Sim, token: &str, article: &Value, etag: &str, fields: Value) -> (u16, Value) {
    let path = format!("/v1/articles/{}/draft", article["id"].as_str().unwrap());
    api(
        sim,
        reqwest::Method::PUT,
        &path,
        token,
        &[("If-Match", etag)],
        fields,
    )
}

/// `token` publishes `version` of `article`.
pub fn publish_version(sim: &Sim, token: &str, article: &Value, version: u64) -> (u16, Value) {
    let path = format!("/v1/articles/{}/publish", article["id"].as_str().unwrap());
    let body = serde_json::json!({"version": version});
    api(sim, reqwest::Method::POST, &path, token, &[], body)
}

/// A moderator creates an article with `fields` (201 expected); returns it.
pub fn moderator_create(sim: &Sim, fields: Value) -> Value {
    let (status, created) = api(
        sim,
        reqwest::Method::POST,
        "/v1/articles",
        MODERATOR,
        &[],
        fields,
    );
    assert_eq!(status, 201, "{created}");
    created
}

/// A moderator writes a new draft over `external_id`'s latest version with `fields` (what the
/// platform's editor sends: here without `content_hash`); returns the draft's version.
pub fn moderator_draft(sim: &Sim, external_id: &str, fields: Value) -> u64 {
    let current = article(sim, external_id);
    let etag = current["etag"].as_str().unwrap();
    let (status, answer) = draft(sim, MODERATOR, &current, etag, fields);
    assert_eq!(status, 200, "{answer}");
    answer["version"].as_u64().unwrap()
}

/// A moderator archives `external_id`'s article.
pub fn moderator_archive(sim: &Sim, external_id: &str) {
    let id = article(sim, external_id)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, answer) = api(
        sim,
        reqwest::Method::POST,
        &format!("/v1/articles/{id}/archive"),
        MODERATOR,
        &[],
        serde_json::json!({"reason": "outdated", "superseded_by": null}),
    );
    assert_eq!(status, 200, "{answer}");
}

/// A moderator publishes `external_id`'s latest version.
pub fn moderator_publish(sim: &Sim, external_id: &str) {
    let current = article(sim, external_id);
    let latest = current["version"].as_u64().unwrap();
    let (status, answer) = publish_version(sim, MODERATOR, &current, latest);
    assert_eq!(status, 200, "{answer}");
}

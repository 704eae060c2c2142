//! The Amplience hub of `kbpub sim` on its own, over raw HTTP: every rule it enforces
//! (reference §5.2), and the unverified ones both ways through their flags.

mod common;

use common::*;
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

const SCHEMA: &str = "https://kbpub.example/schemas/kb-onboarding-article.json";
const API: &str = "/amplience/v2/content";

/// The client-credentials grant with `secret`.
fn grant(sim: &Sim, secret: &str) -> reqwest::blocking::Response {
    sim.client()
        .post(format!("{}/amplience/oauth/token", sim.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "kbpub-client"),
            ("client_secret", secret),
        ])
        .send()
        .unwrap()
}

/// A bearer token from the client-credentials grant.
fn token(sim: &Sim) -> String {
    let response = grant(sim, "amplience-secret");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Sends `request` with the PAT: (status, JSON or null, Location).
fn call(request: RequestBuilder) -> (u16, Value, Option<String>) {
    let response = request.bearer_auth("amplience-pat").send().unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, response.json().unwrap_or(Value::Null), location)
}

fn post(sim: &Sim, path: &str, body: Value) -> (u16, Value, Option<String>) {
    call(
        sim.client()
            .post(format!("{}{API}{path}", sim.base))
            .json(&body),
    )
}

fn get(sim: &Sim, path: &str) -> (u16, Value) {
    let (status, body, _) = call(sim.client().get(format!("{}{path}", sim.base)));
    (status, body)
}

fn patch(sim: &Sim, id: &str, body: Value) -> (u16, Value) {
    let (status, body, _) = call(
        sim.client()
            .patch(format!("{}{API}/content-items/{id}", sim.base))
            .json(&body),
    );
    (status, body)
}

/// Creates an item with delivery key `key`: (status, answer).
fn create(sim: &Sim, key: &str) -> (u16, Value) {
    let body = json!({"label": key, "body": {"_meta": {"schema": SCHEMA, "name": key, "deliveryKey": key}, "title": key, "body": "Text."}});
    let (status, body, _) = post(sim, "/content-repositories/kb-repo/content-items", body);
    (status, body)
}

#[test]
fn tokens_come_from_client_credentials_expire_and_a_pat_also_works() {
    let sim = Sim::start();
    let bad = grant(&sim, "wrong");
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(
        bad.json::<Value>().unwrap()["error_description"],
        "client id or secret are not valid"
    );
    let granted: Value = grant(&sim, "amplience-secret").json().unwrap();
    assert_eq!(granted["expires_in"], 300);
    let list = |token: &str| {
        sim.client()
            .get(format!(
                "{}{API}/hubs/kb-hub/content-repositories",
                sim.base
            ))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(list(&token(&sim)), 200);
    assert_eq!(list("amplience-pat"), 200);
    assert_eq!(list("made-up"), 401);
    let expired = Sim::start_with(&["--amplience-token-expiry", "0"]);
    let t = token(&expired);
    let status = expired
        .client()
        .get(format!(
            "{}{API}/hubs/kb-hub/content-repositories",
            expired.base
        ))
        .bearer_auth(&t)
        .send()
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401, "an expired token");
}

#[test]
fn items_start_at_version_1_with_hal_links_and_updates_need_the_current_version() {
    let sim = Sim::start();
    let (status, item) = create(&sim, "partners/onboarding/as2-setup");
    assert_eq!(status, 201);
    assert_eq!(
        (&item["version"], &item["status"], &item["publishingStatus"]),
        (&json!(1), &json!("ACTIVE"), &json!("NONE"))
    );
    for link in [
        "self",
        "update",
        "publish",
        "archive",
        "unarchive",
        "content-item-versions",
    ] {
        assert!(item["_links"][link]["href"].is_string(), "{link}");
    }
    assert_eq!(item["_links"]["content-item-versions"]["templated"], true);
    let id = item["id"].as_str().unwrap();
    let (status, error) = patch(&sim, id, json!({"version": 2, "body": item["body"]}));
    assert_eq!(status, 409);
    assert_eq!(error["errors"][0]["code"], "CONTENT_ITEM_VERSION_MISMATCH");
    let (status, updated) = patch(&sim, id, json!({"version": 1, "label": "new label"}));
    assert_eq!(
        (status, &updated["version"], &updated["label"]),
        (200, &json!(2), &json!("new label"))
    );
    let sim = Sim::start_with(&[
        "--amplience-version-conflict-code",
        "STALE",
        "--amplience-create-status",
        "200",
    ]);
    let (status, item) = create(&sim, "k");
    assert_eq!(status, 200);
    assert_eq!(
        patch(&sim, item["id"].as_str().unwrap(), json!({"version": 9})).1["errors"][0]["code"],
        "STALE"
    );
}

#[test]
fn delivery_keys_are_validated_and_unique_on_the_hub_even_when_archived() {
    let sim = Sim::start();
    for bad in [
        "/leading",
        "trailing/",
        "has space",
        &"k".repeat(151),
        "dots.not.allowed",
    ] {
        let (status, error) = create(&sim, bad);
        assert_eq!(
            (status, &error["errors"][0]["code"]),
            (400, &json!("CONTENT_ITEM_DELIVERY_KEY_INVALID")),
            "{bad}"
        );
    }
    let (_, first) = create(&sim, "guides/setup");
    let (status, error) = create(&sim, "guides/setup");
    assert_eq!(status, 409);
    assert_eq!(
        error,
        json!({"errors": [{"level": "ERROR", "code": "CONTENT_ITEM_DELIVERY_KEY_DUPLICATE", "message": "Required delivery key already exists on this hub", "property": "body._meta.deliveryKey", "entity": "ContentItem", "invalidValue": "guides/setup"}]})
    );
    let id = first["id"].as_str().unwrap();
    let (status, archived, _) = post(
        &sim,
        &format!("/content-items/{id}/archive"),
        json!({"version": 1}),
    );
    assert_eq!(
        (status, &archived["status"], &archived["version"]),
        (200, &json!("ARCHIVED"), &json!(2))
    );
    assert_eq!(
        create(&sim, "guides/setup").0,
        409,
        "an archived item keeps its key"
    );
    let (status, _) = patch(&sim, id, json!({"version": 2, "label": "x"}));
    assert_eq!(status, 400, "an archived item cannot be edited");
    assert_eq!(
        post(&sim, &format!("/content-items/{id}/publish"), json!({})).0,
        400
    );
    let (status, _, _) = post(
        &sim,
        &format!("/content-items/{id}/unarchive"),
        json!({"version": 1}),
    );
    assert_eq!(status, 409, "unarchive needs the current version too");
    let (status, active, _) = post(
        &sim,
        &format!("/content-items/{id}/unarchive"),
        json!({"version": 2}),
    );
    assert_eq!(
        (status, &active["status"], &active["version"]),
        (200, &json!("ACTIVE"), &json!(3))
    );
    // The key released with a PATCH (as dc-cli does before archiving) is free again.
    let mut body = active["body"].clone();
    body["_meta"]["deliveryKey"] = Value::Null;
    assert_eq!(patch(&sim, id, json!({"version": 3, "body": body})).0, 200);
    assert_eq!(create(&sim, "guides/setup").0, 201);
    let sim = Sim::start_with(&["--amplience-archive-keeps-version"]);
    let (_, item) = create(&sim, "k");
    let (_, archived, _) = post(
        &sim,
        &format!("/content-items/{}/archive", item["id"].as_str().unwrap()),
        json!({"version": 1}),
    );
    assert_eq!(archived["version"], 1);
}

#[test]
fn publishing_is_a_job_polled_to_completion_and_delivery_serves_the_published_version() {
    let sim = Sim::start();
    let (_, item) = create(&sim, "notices/as2");
    let id = item["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&sim, "/amplience/cdn/content/key/notices/as2").0,
        404,
        "nothing published yet"
    );
    let (status, _, location) = post(&sim, &format!("/content-items/{id}/publish"), json!({}));
    assert_eq!(status, 202);
    let location = location.expect("Location of the publishing job");
    let states: Vec<String> = (0..5)
        .map(|_| {
            get(&sim, &location).1["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        states,
        [
            "CREATED",
            "PREPARING",
            "PUBLISHING",
            "COMPLETED",
            "COMPLETED"
        ]
    );
    let (_, now) = get(&sim, &format!("{API}/content-items/{id}"));
    assert_eq!(
        (&now["publishingStatus"], &now["lastPublishedVersion"]),
        (&json!("LATEST"), &json!(1))
    );
    let (_, delivered) = get(&sim, "/amplience/cdn/content/key/notices/as2");
    assert_eq!(delivered["content"]["title"], "notices/as2");
    let mut body = now["body"].clone();
    body["title"] = json!("Edited");
    body["_meta"]["deliveryKey"] = json!("notices/as2-renamed");
    assert_eq!(patch(&sim, &id, json!({"version": 1, "body": body})).0, 200);
    let (_, edited) = get(&sim, &format!("{API}/content-items/{id}"));
    assert_eq!(edited["publishingStatus"], "EARLY");
    let (status, delivered) = get(&sim, "/amplience/cdn/content/key/notices/as2");
    assert_eq!(
        (status, &delivered["content"]["title"]),
        (200, &json!("notices/as2")),
        "the old key serves the published version"
    );
    assert_eq!(
        get(&sim, "/amplience/cdn/content/key/notices/as2-renamed").0,
        404,
        "until republished"
    );

    let failing = Sim::start_with(&[
        "--amplience-fail-publish",
        "--amplience-job-polls",
        "1",
        "--amplience-publish-status",
        "204",
    ]);
    let (_, item) = create(&failing, "k");
    let (status, _, location) = post(
        &failing,
        &format!("/content-items/{}/publish", item["id"].as_str().unwrap()),
        json!({}),
    );
    assert_eq!(status, 204);
    let location = location.unwrap();
    assert_eq!(get(&failing, &location).1["state"], "CREATED");
    let (_, ended) = get(&failing, &location);
    assert_eq!(
        (&ended["state"], &ended["publishErrorStatus"]),
        (&json!("FAILED"), &json!("FAILED_TO_PUBLISH"))
    );
}

#[test]
fn bodies_over_200_kb_and_unknown_schemas_are_refused() {
    let sim = Sim::start();
    let big = json!({"label": "big", "body": {"_meta": {"schema": SCHEMA, "deliveryKey": "big"}, "body": "x".repeat(210 * 1024)}});
    assert_eq!(
        post(
            &sim,
            "/content-repositories/kb-repo/content-items",
            big.clone()
        )
        .0,
        413
    );
    let other = json!({"label": "o", "body": {"_meta": {"schema": "https://example.com/other.json", "deliveryKey": "o"}}});
    let (status, error, _) = post(&sim, "/content-repositories/kb-repo/content-items", other);
    assert_eq!(
        (status, &error["errors"][0]["property"]),
        (400, &json!("body._meta.schema"))
    );
    assert_eq!(
        post(
            &sim,
            "/content-repositories/no-such-repo/content-items",
            json!({})
        )
        .0,
        404
    );
    let sim = Sim::start_with(&["--amplience-too-large-status", "400"]);
    assert_eq!(
        post(&sim, "/content-repositories/kb-repo/content-items", big).0,
        400
    );
}

#[test]
fn lists_are_0_based_hal_pages_with_a_maximum_size() {
    let sim = Sim::start_with(&["--amplience-max-page-size", "2"]);
    for key in ["a", "b", "c"] {
        create(&sim, key);
    }
    let (status, page) = get(
        &sim,
        &format!("{API}/content-repositories/kb-repo/content-items?page=0&size=50"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        page["page"],
        json!({"size": 2, "totalElements": 3, "totalPages": 2, "number": 0})
    );
    assert_eq!(
        page["_embedded"]["content-items"].as_array().unwrap().len(),
        2
    );
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .contains("page=1")
    );
    let (_, last) = get(
        &sim,
        &format!("{API}/content-repositories/kb-repo/content-items?page=1&size=2"),
    );
    assert_eq!(
        last["_embedded"]["content-items"][0]["body"]["_meta"]["deliveryKey"],
        "c"
    );
    assert!(last["_links"].get("next").is_none());
    let strict = Sim::start_with(&[
        "--amplience-max-page-size",
        "2",
        "--amplience-reject-page-size",
    ]);
    assert_eq!(
        get(
            &strict,
            &format!("{API}/content-repositories/kb-repo/content-items?size=3")
        )
        .0,
        400
    );
}

#[test]
fn publishing_over_the_per_minute_limit_is_a_429_without_retry_after_unless_asked() {
    let sim = Sim::start_with(&["--amplience-publish-limit", "2"]);
    let (_, item) = create(&sim, "k");
    let publish = |sim: &Sim| {
        let response = sim
            .client()
            .post(format!(
                "{}{API}/content-items/{}/publish",
                sim.base,
                item["id"].as_str().unwrap()
            ))
            .bearer_auth("amplience-pat")
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.headers().get("retry-after").cloned(),
        )
    };
    assert_eq!(publish(&sim).0, 202);
    assert_eq!(publish(&sim).0, 202);
    assert_eq!(publish(&sim), (429, None));
    assert_eq!(
        get(
            &sim,
            &format!("{API}/content-items/{}", item["id"].as_str().unwrap())
        )
        .0,
        200,
        "other requests pass"
    );
    let sim = Sim::start_with(&[
        "--amplience-publish-limit",
        "0",
        "--amplience-retry-after",
        "5",
    ]);
    let (status, retry_after) = publish(&sim);
    assert_eq!((status, retry_after.unwrap().to_str().unwrap()), (429, "5"));
    let sim = Sim::start_with(&["--amplience-request-limit", "2"]);
    let repositories = format!("{API}/hubs/kb-hub/content-repositories");
    assert_eq!(get(&sim, &repositories).0, 200);
    assert_eq!(get(&sim, &repositories).0, 200);
    let (status, error) = get(&sim, &repositories);
    assert_eq!(
        (status, &error["errors"][0]["message"]),
        (429, &json!("Too many requests - Please try again later."))
    );
}

#[test]
fn a_new_item_can_be_invisible_for_a_while_and_a_create_can_land_and_answer_500() {
    let sim = Sim::start_with(&["--amplience-read-lag-ms", "600000"]);
    let (status, item) = create(&sim, "lagging");
    assert_eq!(status, 201);
    let id = item["id"].as_str().unwrap();
    assert_eq!(get(&sim, &format!("{API}/content-items/{id}")).0, 404);
    assert_eq!(patch(&sim, id, json!({"version": 1})).0, 404);
    assert_eq!(create(&sim, "lagging").0, 409, "but it exists");

    let sim = Sim::start();
    let response = sim
        .client()
        .post(format!("{}/__sim/amplience/faults", sim.base))
        .json(&json!([{"method": "POST", "path": "content-items", "status": 500, "commit": true}]))
        .send()
        .unwrap();
    assert!(response.status().is_success());
    assert_eq!(create(&sim, "landed").0, 500);
    let items: Vec<Value> = sim
        .client()
        .get(format!("{}/__sim/amplience/items", sim.base))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(items.len(), 1, "the create landed");
    assert_eq!(
        create(&sim, "landed").0,
        409,
        "and its retry meets the delivery key"
    );
}

#[test]
fn bodies_are_validated_against_a_registered_schema_unless_asked_not_to() {
    let sim = Sim::start();
    let schema = json!({
        "type": "object",
        "required": ["title", "body"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 10},
            "tags": {"type": "array", "maxItems": 1},
        },
    });
    let (status, _, _) = post(
        &sim,
        "/hubs/kb-hub/content-type-schemas",
        json!({"schemaId": SCHEMA, "body": schema.to_string(), "validationLevel": "CONTENT_TYPE"}),
    );
    assert_eq!(status, 201);
    let item = |key: &str, title: &str| json!({"label": key, "body": {"_meta": {"schema": SCHEMA, "deliveryKey": key}, "title": title, "body": "Text."}});
    let items = "/content-repositories/kb-repo/content-items";
    let (status, error, _) = post(&sim, items, item("long", "far too long a title"));
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["errors"][0]["property"], "body.title");
    let mut untitled = item("untitled", "x");
    untitled["body"].as_object_mut().unwrap().remove("title");
    let (status, error, _) = post(&sim, items, untitled);
    assert_eq!(
        (status, &error["errors"][0]["property"]),
        (400, &json!("body.title"))
    );
    let (status, _, _) = post(
        &sim,
        &format!("{items}?ignoreSchemaValidation=true"),
        item("long", "far too long a title"),
    );
    assert_eq!(status, 201, "validation skipped when asked");
    let (status, created, _) = post(&sim, items, item("fits", "Fits"));
    assert_eq!(status, 201);
    let mut body = created["body"].clone();
    body["tags"] = json!(["a", "b"]);
    let (status, error) = patch(
        &sim,
        created["id"].as_str().unwrap(),
        json!({"body": body, "version": 1}),
    );
    assert_eq!(
        (status, &error["errors"][0]["property"]),
        (400, &json!("body.tags"))
    );
}

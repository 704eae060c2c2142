//! `kbpub sim`'s Trading Grid, tested on its own over raw HTTP (no kbpub client code), rule by rule
//! as `/work/shared/contracts/trading-grid-v1.md` states them: a Bearer token is required (401),
//! lists page by an opaque `next_cursor` with `limit` 1 to 500 (400 outside), an `ETag` answers a
//! matching `If-None-Match` with 304, errors are the contract's JSON; and the shared fault layer
//! in front of the data endpoints (queued faults, request counts), never in front of health.

mod common;

use common::sim::Sim;
use serde_json::Value;

const BEARER: (&str, &str) = ("Authorization", "Bearer any-token");

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The value of header `name` in a raw response head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// POSTs JSON to the Trading Grid's control endpoint `what`.
fn control_post(sim: &Sim, what: &str, body: &str) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/__sim/trading-grid/{what}", sim.url))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .expect("control endpoint");
    assert!(response.status().is_success(), "{}", response.status());
}

#[test]
fn data_needs_a_bearer_token_and_errors_are_the_contract_json() {
    let sim = Sim::start(&[]);
    let (status, _, body) = sim.get("/v1/partners", &[]);
    assert_eq!(status, 401);
    assert_eq!(json(&body)["error"]["code"], "unauthorized");
    let (status, _, _) = sim.get("/v1/health", &[]);
    assert_eq!(status, 200, "health needs no token");
    let (status, _, body) = sim.get("/v1/partners?limit=501", &[BEARER]);
    assert_eq!(status, 400);
    assert_eq!(json(&body)["error"]["code"], "bad_request");
    let (status, _, _) = sim.get("/v1/partners?limit=0", &[BEARER]);
    assert_eq!(status, 400);
}

#[test]
fn lists_page_by_cursor_and_an_etag_answers_304() {
    let sim = Sim::start(&["--partners", "5"]);
    let mut ids = Vec::new();
    let mut path = "/v1/partners?limit=2".to_string();
    loop {
        let (status, _, body) = sim.get(&path, &[BEARER]);
        assert_eq!(status, 200, "{body}");
        let page = json(&body);
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2, "{body}");
        ids.extend(data.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/partners?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 5, "{ids:?}");
    let (_, head, _) = sim.get("/v1/partners", &[BEARER]);
    let etag = header(&head, "etag").expect("an ETag");
    let (status, _, body) = sim.get("/v1/partners", &[BEARER, ("If-None-Match", &etag)]);
    assert_eq!((status, body.as_str()), (304, ""));
    let (status, _, _) = sim.get("/v1/partners?cursor=nonsense", &[BEARER]);
    assert_eq!(status, 400);
}

#[test]
fn the_shared_layer_faults_and_counts_data_requests_but_not_health() {
    let sim = Sim::start(&[]);
    control_post(
        &sim,
        "faults",
        r#"[{"method": "GET", "path": "/v1/", "status": 503, "retry_after": "7", "times": 2}]"#,
    );
    let (status, _, _) = sim.get("/v1/health", &[]);
    assert_eq!(status, 200, "health is never faulted");
    let (status, head, body) = sim.get("/v1/incidents", &[BEARER]);
    assert_eq!(status, 503);
    assert_eq!(header(&head, "retry-after").as_deref(), Some("7"));
    assert_eq!(json(&body)["error"]["code"], "injected");
    let (_, _, stats) = sim.get("/__sim/trading-grid/stats", &[]);
    assert_eq!(json(&stats)["GET"], 1, "health is not counted");
}

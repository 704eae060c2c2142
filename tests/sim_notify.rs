//! The webhook receiver and the X endpoint of `kbpub sim` on their own, over raw HTTP: every rule
//! they enforce (reference §5.3 and §5.4), each shown to hold and, where a flag switches it, both
//! ways.

mod common;

use common::notify::*;
use common::*;
use reqwest::blocking::Response;
use serde_json::{Value, json};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// POSTs `body` to the receiver's endpoint `hooks` as event `id` sent at `timestamp`, signed
/// with `signature`.
fn deliver(sim: &Sim, id: &str, timestamp: i64, signature: &str, body: &str) -> u16 {
    sim.client()
        .post(format!("{}/webhooks/hooks", sim.base))
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Delivers `body` as event `id` now, correctly signed.
fn signed(sim: &Sim, id: &str, body: &str) -> u16 {
    let t = now();
    deliver(sim, id, t, &sign(WEBHOOK_SECRET, id, t, body), body)
}

const EVENT: &str = r#"{"type":"kb.publish.completed","data":{"changes":[]}}"#;

#[test]
fn the_receiver_accepts_only_valid_signatures_within_the_tolerance() {
    let sim = Sim::start();
    assert_eq!(signed(&sim, "msg_1", EVENT), 204);
    let t = now();
    let good = sign(WEBHOOK_SECRET, "msg_2", t, EVENT);
    assert_eq!(
        deliver(&sim, "msg_2", t, &format!("v1,bm90IGl0 {good}"), EVENT),
        204,
        "any listed signature may match"
    );
    assert_eq!(
        deliver(&sim, "msg_3", t, &good, EVENT),
        401,
        "signed for another id"
    );
    let other_secret = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_4", t, EVENT);
    assert_eq!(deliver(&sim, "msg_4", t, &other_secret, EVENT), 401);
    let old = t - 400;
    assert_eq!(
        deliver(
            &sim,
            "msg_5",
            old,
            &sign(WEBHOOK_SECRET, "msg_5", old, EVENT),
            EVENT
        ),
        401,
        "5 minutes is the limit"
    );
    let ahead = t + 400;
    assert_eq!(
        deliver(
            &sim,
            "msg_6",
            ahead,
            &sign(WEBHOOK_SECRET, "msg_6", ahead, EVENT),
            EVENT
        ),
        401,
        "either way"
    );
    let unsigned = sim
        .client()
        .post(format!("{}/webhooks/hooks", sim.base))
        .body(EVENT)
        .send()
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 400);
    let seen = deliveries(&sim);
    let verified: Vec<bool> = seen
        .iter()
        .map(|d| d["verified"].as_bool().unwrap())
        .collect();
    assert_eq!(verified, [true, true, false, false, true, true, false]);
    assert!(
        seen[4]["refused"]
            .as_str()
            .unwrap()
            .contains("400s from now")
    );
}

#[test]
fn the_tolerance_is_a_flag() {
    let sim = Sim::start_with(&["--webhook-tolerance", "1000"]);
    let old = now() - 400;
    assert_eq!(
        deliver(
            &sim,
            "msg_1",
            old,
            &sign(WEBHOOK_SECRET, "msg_1", old, EVENT),
            EVENT
        ),
        204
    );
}

#[test]
fn the_receiver_checks_the_payload_and_records_repeated_ids_as_duplicates() {
    let sim = Sim::start();
    assert_eq!(signed(&sim, "msg_a", "not json"), 400);
    assert_eq!(
        signed(&sim, "msg_b", r#"{"type":"kb.something.else"}"#),
        400
    );
    let big =
        json!({"type": "kb.publish.completed", "data": {"pad": "x".repeat(20_000)}}).to_string();
    assert_eq!(signed(&sim, "msg_c", &big), 400);
    assert_eq!(signed(&sim, "msg_d", EVENT), 204);
    assert_eq!(
        signed(&sim, "msg_d", EVENT),
        204,
        "a repeated id is acknowledged again"
    );
    let seen = deliveries(&sim);
    assert_eq!(seen.len(), 5);
    assert!(
        seen[1]["refused"]
            .as_str()
            .unwrap()
            .contains("unknown event type")
    );
    assert!(
        seen[2]["refused"]
            .as_str()
            .unwrap()
            .contains("not under 20 KB")
    );
    assert_eq!(seen[3]["duplicate"], false);
    assert_eq!(seen[4]["duplicate"], true);
    let sim = Sim::start_with(&["--webhook-types", "kb.publish.completed,kb.something.else"]);
    assert_eq!(
        signed(&sim, "msg_b", r#"{"type":"kb.something.else"}"#),
        204,
        "the vocabulary is a flag"
    );
}

#[test]
fn injected_faults_answer_after_the_signature_check() {
    let sim = Sim::start();
    faults(
        &sim,
        "webhook",
        json!([
            {"method": "POST", "path": "hooks", "status": 503, "times": 2},
            {"method": "POST", "path": "hooks", "status": 429, "retry_after": "7"},
        ]),
    );
    assert_eq!(signed(&sim, "msg_1", EVENT), 503);
    assert_eq!(signed(&sim, "msg_1", EVENT), 503);
    let limited = {
        let t = now();
        sim.client()
            .post(format!("{}/webhooks/hooks", sim.base))
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", t.to_string())
            .header("webhook-signature", sign(WEBHOOK_SECRET, "msg_1", t, EVENT))
            .body(EVENT)
            .send()
            .unwrap()
    };
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    let statuses: Vec<u64> = deliveries(&sim)
        .iter()
        .map(|d| d["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 429]);
    assert!(
        deliveries(&sim)
            .iter()
            .all(|d| d["verified"] == true && d["id"] == "msg_1")
    );
}

/// POSTs `{"text": text}` to the X endpoint as `token`.
fn tweet(sim: &Sim, token: &str, text: &str) -> Response {
    sim.client()
        .post(format!("{}/x/2/tweets", sim.base))
        .bearer_auth(token)
        .json(&json!({ "text": text }))
        .send()
        .unwrap()
}

fn answer(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn x_posts_only_with_a_user_context_token() {
    let sim = Sim::start();
    let response = tweet(&sim, X_USER, "Hello partners");
    for header in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        assert!(response.headers().contains_key(header), "{header}");
    }
    assert_eq!(response.headers()["x-rate-limit-remaining"], "199");
    let (status, body) = answer(response);
    assert_eq!(status, 201);
    assert_eq!(body["data"]["text"], "Hello partners");
    assert!(body["data"]["id"].is_string());
    let (status, body) = answer(tweet(&sim, X_APP, "From the app"));
    assert_eq!(status, 403);
    assert_eq!(
        body["type"],
        "https://api.twitter.com/2/problems/unsupported-authentication"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Application-Only is forbidden")
    );
    assert_eq!(answer(tweet(&sim, "who-knows", "x")).0, 401);
    assert_eq!(posts(&sim).len(), 1);
}

#[test]
fn x_weighs_text_with_urls_at_23_and_wide_characters_at_2() {
    let sim = Sim::start();
    let url = "https://community.example.com/kb/a-very-long-article-address-indeed";
    let fits = format!("{} {url}", "a".repeat(256));
    assert_eq!(
        answer(tweet(&sim, X_USER, &fits)).0,
        201,
        "256 + 1 + 23 = 280"
    );
    let over = format!("{} {url}", "b".repeat(257));
    let (status, body) = answer(tweet(&sim, X_USER, &over));
    assert_eq!(
        (status, body["title"].as_str()),
        (400, Some("Invalid Request"))
    );
    assert_eq!(answer(tweet(&sim, X_USER, &"通".repeat(140))).0, 201);
    assert_eq!(answer(tweet(&sim, X_USER, &"知".repeat(141))).0, 400);
    assert_eq!(answer(tweet(&sim, X_USER, "")).0, 400);
    let recorded: Vec<u64> = posts(&sim)
        .iter()
        .map(|p| p["weight"].as_u64().unwrap())
        .collect();
    assert_eq!(recorded, [280, 280]);
    let cost = control(&sim, "x", "posts")["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 0.215).abs() < 1e-9,
        "one post with a URL, one without: {cost}"
    );
}

#[test]
fn the_same_text_twice_is_a_duplicate_unless_the_window_is_zero() {
    let sim = Sim::start();
    assert_eq!(answer(tweet(&sim, X_USER, "Notice: AS2 rotation")).0, 201);
    let (status, body) = answer(tweet(&sim, X_USER, "Notice: AS2 rotation"));
    assert_eq!(status, 403);
    assert_eq!(
        body["detail"],
        "You are not allowed to create a Tweet with duplicate content."
    );
    assert!(
        body.get("data").is_none() && !body.to_string().contains("1860"),
        "no id of the existing post: {body}"
    );
    assert_eq!(posts(&sim).len(), 1);
    let sim = Sim::start_with(&["--x-duplicate-window", "0"]);
    assert_eq!(answer(tweet(&sim, X_USER, "Again")).0, 201);
    assert_eq!(answer(tweet(&sim, X_USER, "Again")).0, 201);
}

#[test]
fn x_limits_posts_per_user_with_429_and_rate_limit_headers() {
    let sim = Sim::start_with(&["--x-post-limit", "2"]);
    assert_eq!(answer(tweet(&sim, X_USER, "one")).0, 201);
    let second = tweet(&sim, X_USER, "two");
    assert_eq!(second.headers()["x-rate-limit-remaining"], "0");
    let limited = tweet(&sim, X_USER, "three");
    assert!(
        limited.headers().get("retry-after").is_none(),
        "X sends no Retry-After"
    );
    let reset: i64 = limited.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > now() && reset <= now() + 15 * 60 + 1, "{reset}");
    let (status, body) = answer(limited);
    assert_eq!((status, &body["errors"][0]["code"]), (429, &json!(88)));
    assert_eq!(posts(&sim).len(), 2);
}

#[test]
fn an_injected_429_announces_its_reset_and_counts_posts_sent_before_it() {
    let sim = Sim::start();
    faults(
        &sim,
        "x",
        json!([{"method": "POST", "path": "/2/tweets", "status": 429, "retry_after": "30"}]),
    );
    let limited = tweet(&sim, X_USER, "first");
    assert_eq!(limited.status().as_u16(), 429);
    let reset: i64 = limited.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((now() + 29..=now() + 31).contains(&reset), "{reset}");
    std::thread::sleep(std::time::Duration::from_millis(300)); // past the in-flight allowance, not synchronisation
    assert_eq!(answer(tweet(&sim, X_USER, "too soon")).0, 429);
    assert_eq!(control(&sim, "x", "rate-limits")["early"], 1);
}

#[test]
fn a_post_that_lands_and_answers_500_is_there_and_its_retry_is_a_duplicate() {
    let sim2 = Sim::start();
    faults(
        &sim2,
        "x",
        json!([{"method": "POST", "path": "/2/tweets", "status": 500, "commit": true}]),
    );
    assert_eq!(answer(tweet(&sim2, X_USER, "landed")).0, 500);
    assert_eq!(posts(&sim2).len(), 1, "commit-then-fail: the post exists");
    assert_eq!(
        answer(tweet(&sim2, X_USER, "landed")).0,
        403,
        "and a retry is a duplicate"
    );
}

//! Raw HTTP to `kbpub sim`'s webhook receiver (`/webhooks/...`) and X endpoint (`/x/2/tweets`)
//! and their control endpoints, for tests that act as a sender or read what arrived: no kbpub
//! client code. Signatures are made here with the `hmac` crate, as the Standard Webhooks spec says.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

use super::Sim;

/// The secret `kbpub sim` verifies webhooks with by default (the spec's example secret).
pub const WEBHOOK_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// The simulator's X tokens: a user-context one and an app-only one.
pub const X_USER: &str = "x-user-token";
pub const X_APP: &str = "x-app-token";

/// GETs `/__sim/<service>/<what>` (`webhook`, `x`).
pub fn control(sim: &Sim, service: &str, what: &str) -> Value {
    sim.client()
        .get(format!("{}/__sim/{service}/{what}", sim.base))
        .send()
        .and_then(|r| r.json())
        .expect("sim control endpoint")
}

/// Queues injected faults for `service`.
pub fn faults(sim: &Sim, service: &str, faults: Value) {
    let response = sim
        .client()
        .post(format!("{}/__sim/{service}/faults", sim.base))
        .json(&faults)
        .send()
        .unwrap();
    assert!(response.status().is_success());
}

/// Every attempt the webhook receiver saw.
pub fn deliveries(sim: &Sim) -> Vec<Value> {
    control(sim, "webhook", "deliveries")
        .as_array()
        .unwrap()
        .clone()
}

/// Every post the X endpoint accepted.
pub fn posts(sim: &Sim) -> Vec<Value> {
    control(sim, "x", "posts")["posts"]
        .as_array()
        .unwrap()
        .clone()
}

/// `v1,<base64>` over `<id>.<timestamp>.<body>` with the decoded `whsec_` secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

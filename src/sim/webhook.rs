//! A webhook receiver (reference §5.3), the test server for `[[notify]] kind = "webhook"`,
//! written from the Standard Webhooks spec as the reference gives it, sharing no code with
//! kbpub's sender: `POST /webhooks/{endpoint}` verifies `webhook-signature` (HMAC-SHA256 over
//! `<webhook-id>.<webhook-timestamp>.<body>` with the base64-decoded `whsec_` secret, base64,
//! any of the space-separated `v1,` signatures may match, compared in constant time) and refuses
//! a timestamp more than `--webhook-tolerance` seconds from now (401); a body of 20 KB or more,
//! not JSON, or whose `type` is outside the vocabulary is refused (400); a `webhook-id` already
//! accepted is acknowledged again and recorded as a duplicate. Every attempt is recorded —
//! id, timestamp, whether the signature verified, what was answered — for tests to assert that
//! retries carry the same id. Request counts and injected faults come from the shared
//! [`super::layer`], which hands each fault (`POST /__sim/webhook/faults`: 5xx N times, 410,
//! 429 with `Retry-After`, a redirect) to the receiver: it answers after the signature check.
//! Control endpoints under `/__sim/webhook/` (not counted): `deliveries`, and the layer's
//! `faults`, `stats`, `random-faults`, `rate-limits`, `latency`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::{Value, json};

use super::layer::{Injected, TrafficLayer};
use super::traffic::Fault;

/// The test secret `kbpub sim` verifies with unless `--webhook-secret` says otherwise (the
/// Standard Webhooks spec's example secret).
pub const TEST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// Bodies this large or larger are refused (reference §5.3: payload < 20 KB).
const MAX_PAYLOAD: usize = 20_000;

/// `kbpub sim` options for the webhook receiver.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// The `whsec_<base64>` secret deliveries must be signed with
    #[arg(long, default_value = TEST_SECRET, value_name = "SECRET")]
    pub webhook_secret: String,
    /// Seconds a `webhook-timestamp` may be from now, either way
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub webhook_tolerance: i64,
    /// Event types a body's `type` may name (comma-separated)
    #[arg(
        long,
        default_value = "kb.publish.completed",
        value_delimiter = ',',
        value_name = "TYPES"
    )]
    pub webhook_types: Vec<String>,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Webhook receiver:       http://{bound}/webhooks/<endpoint>  (Standard Webhooks, secret from --webhook-secret)"
    )
}

/// One attempt, as received.
#[derive(Debug, Clone, Serialize)]
struct Attempt {
    endpoint: String,
    id: Option<String>,
    timestamp: Option<i64>,
    signature: Option<String>,
    verified: bool,
    /// The status answered.
    status: u16,
    /// Why it was refused, when it was.
    refused: Option<String>,
    /// An id accepted before.
    duplicate: bool,
    received_at: String,
    body: Option<Value>,
}

#[derive(Default)]
struct Store {
    attempts: Vec<Attempt>,
    accepted: BTreeSet<String>,
}

struct Shared {
    store: Mutex<Store>,
    key: Option<Vec<u8>>,
    tolerance: i64,
    types: Vec<String>,
}

type St = Arc<Shared>;

/// The router serving the receiver and its control endpoints.
pub fn router(args: &WebhookArgs) -> Router {
    let encoded = args
        .webhook_secret
        .strip_prefix("whsec_")
        .unwrap_or(&args.webhook_secret);
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::default()),
        key: base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok(),
        tolerance: args.webhook_tolerance,
        types: args.webhook_types.clone(),
    });
    // Every request is admitted: the receiver itself verifies signatures, then answers faults.
    let traffic =
        TrafficLayer::new(|_| Ok(()), |status, _| status.into_response()).handing_faults_over();
    let control = Router::new()
        .route("/deliveries", get(deliveries))
        .with_state(shared.clone());
    let api = Router::new().route("/webhooks/{endpoint}", post(receive));
    Router::new()
        .merge(traffic.wrap(api).with_state(shared))
        .nest("/__sim/webhook", traffic.control().merge(control))
}

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether any `v1,` signature in `header` is the HMAC of `<id>.<timestamp>.<body>` under `key`.
fn verifies(key: &[u8], id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    header.split(' ').any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({"error": why}))).into_response()
}

async fn receive(
    State(shared): State<St>,
    Path(endpoint): Path<String>,
    injected: Option<Extension<Injected>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = injected.map(|Extension(Injected(fault))| fault);
    let (response, fault) = answer(&shared, endpoint, &headers, &body, fault);
    if let Some(fault) = fault {
        fault.hold().await;
    }
    response
}

/// The answer to one delivery, given the injected `fault` it carries, and that fault when it
/// was answered (to hold, when it says so).
fn answer(
    shared: &St,
    endpoint: String,
    headers: &HeaderMap,
    body: &Bytes,
    fault: Option<Fault>,
) -> (Response, Option<Fault>) {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (id, timestamp, signature) = (
        text("webhook-id"),
        text("webhook-timestamp"),
        text("webhook-signature"),
    );
    let verified = match (&shared.key, &id, &timestamp, &signature) {
        (Some(key), Some(id), Some(ts), Some(sig)) => verifies(key, id, ts, body, sig),
        _ => false,
    };
    let seconds = timestamp.as_deref().and_then(|t| t.parse::<i64>().ok());
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let mut store = lock(shared);
    let skew = seconds.map(|t| (chrono::Utc::now().timestamp() - t).abs());
    let refused: Option<(StatusCode, String)> = if id.is_none() || seconds.is_none() {
        Some((
            StatusCode::BAD_REQUEST,
            "webhook-id and webhook-timestamp are required".into(),
        ))
    } else if !verified {
        Some((StatusCode::UNAUTHORIZED, "no signature verifies".into()))
    } else if skew.is_some_and(|s| s > shared.tolerance) {
        Some((
            StatusCode::UNAUTHORIZED,
            format!(
                "webhook-timestamp is {}s from now",
                skew.unwrap_or_default()
            ),
        ))
    } else if let Some(f) = &fault {
        Some((
            StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            format!("injected fault {}", f.status),
        ))
    } else if body.len() >= MAX_PAYLOAD {
        Some((
            StatusCode::BAD_REQUEST,
            format!("the body is {} bytes, not under 20 KB", body.len()),
        ))
    } else {
        match parsed
            .as_ref()
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
        {
            None => Some((
                StatusCode::BAD_REQUEST,
                "the body is not JSON with a `type`".into(),
            )),
            Some(t) if !shared.types.iter().any(|known| known == t) => {
                Some((StatusCode::BAD_REQUEST, format!("unknown event type `{t}`")))
            }
            Some(_) => None,
        }
    };
    let status = refused.as_ref().map_or(StatusCode::NO_CONTENT, |r| r.0);
    let duplicate = refused.is_none() && id.as_ref().is_some_and(|i| store.accepted.contains(i));
    if refused.is_none()
        && let Some(id) = &id
    {
        store.accepted.insert(id.clone());
    }
    store.attempts.push(Attempt {
        endpoint,
        id,
        timestamp: seconds,
        signature,
        verified,
        status: status.as_u16(),
        refused: refused.as_ref().map(|r| r.1.clone()),
        duplicate,
        received_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        body: parsed,
    });
    drop(store);
    let Some((status, why)) = refused else {
        return (status.into_response(), None);
    };
    let mut response = refuse(status, &why);
    let fault = fault.filter(|f| f.status == status.as_u16());
    if let Some(f) = &fault {
        if let Some(value) = f.retry_after.as_deref().and_then(|v| v.parse().ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if (300..400).contains(&f.status) {
            response.headers_mut().insert(
                header::LOCATION,
                "/webhooks/moved".parse().expect("a header value"),
            );
        }
    }
    (response, fault)
}

async fn deliveries(State(shared): State<St>) -> Response {
    Json(json!(lock(&shared).attempts)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_test_vector_verifies_and_a_changed_byte_does_not() {
        let key = base64::engine::general_purpose::STANDARD
            .decode(TEST_SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        let id = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let signature = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert!(verifies(&key, id, "1649367553", body, signature));
        assert!(verifies(
            &key,
            id,
            "1649367553",
            body,
            &format!("v1,bm9wZQ== {signature}")
        ));
        assert!(!verifies(&key, id, "1649367554", body, signature));
        assert!(!verifies(&key, id, "1649367553", b"{}", signature));
        assert!(!verifies(
            &key,
            id,
            "1649367553",
            body,
            "v1a,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        ));
    }
}

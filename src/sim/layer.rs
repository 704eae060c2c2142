//! The one middleware every simulator mounts in front of its API: latency, the request count by
//! method, the simulator's own admission (authentication and its switchable rules), and the
//! faults of [`super::traffic`] — queued ones (including a write that commits and then fails, and
//! an answer that hangs), seeded random ones and per-client `Retry-After` windows — plus the
//! control endpoints that steer them.
//!
//! A request goes through, in this order: the latency wait; counting and choosing its fault (so a
//! refused request is counted too); the simulator's admission, whose refusal is the answer; then,
//! with a fault, either the request runs and the fault's status is answered anyway (`commit`) or
//! it does not run at all; `hang` holds the answer; `Retry-After` is sent when the fault has one.
//!
//! How a simulator mounts it (Confluence does it once per instance):
//!
//! ```ignore
//! let traffic = TrafficLayer::new(admit, answer_fault).with_latency_ms(args.latency_ms);
//! Router::new()
//!     .nest("/service", traffic.wrap(api_routes))           // the API, behind the layer
//!     .nest("/__sim/service", traffic.control().merge(own)) // stats, faults, ... + its own
//! ```
//!
//! `admit` is `Fn(&mut Request) -> Result<(), Response>`: it authenticates (putting the caller in
//! the request's extensions for handlers) and applies rules that refuse before any handler runs;
//! `answer_fault` writes an injected fault (with its status) in the service's own error format.
//! A service whose faults come after checks only its handler can make (a webhook receiver
//! verifies the body's signature first; X announces a 429's reset in its own headers) mounts
//! the layer [`TrafficLayer::handing_faults_over`]: the fault chosen for a request goes to the
//! handler in the request's extensions ([`Injected`]), and the handler answers it. The control
//! endpoints (no auth, not counted) are `GET stats` (requests by method), `POST faults` (a list of
//! [`Fault`]), `POST random-faults` ([`RandomFaults`]), `GET rate-limits` ([`RateLimitStats`])
//! and `POST latency` (`{"ms": N}`).
//!
//! [`RateLimitStats`]: super::traffic::RateLimitStats

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::traffic::{Fault, RandomFaults, Traffic, client_of};

/// A simulator's check of a request before its handlers; `Err` is the answer instead.
pub type Admit = dyn Fn(&mut Request) -> Result<(), Response> + Send + Sync;
/// A simulator's answer to an injected fault, with the fault's status (500 if it is not one).
pub type AnswerFault = fn(StatusCode, &Fault) -> Response;

/// The fault the layer chose for a request, for a handler that answers it itself (see
/// [`TrafficLayer::handing_faults_over`]).
#[derive(Debug, Clone)]
pub struct Injected(pub Fault);

/// One simulator's (or instance's) traffic rules, shared by its middleware and its control
/// endpoints. Cloning shares the state.
#[derive(Clone)]
pub struct TrafficLayer {
    traffic: Arc<Mutex<Traffic>>,
    latency_ms: Arc<AtomicU64>,
    admit: Arc<Admit>,
    answer_fault: AnswerFault,
    /// Handlers answer injected faults ([`Injected`]).
    hand_over: bool,
}

impl TrafficLayer {
    /// A layer that admits requests with `admit` and writes injected faults with `answer_fault`.
    pub fn new(
        admit: impl Fn(&mut Request) -> Result<(), Response> + Send + Sync + 'static,
        answer_fault: AnswerFault,
    ) -> TrafficLayer {
        TrafficLayer {
            traffic: Arc::default(),
            latency_ms: Arc::default(),
            admit: Arc::new(admit),
            answer_fault,
            hand_over: false,
        }
    }

    /// A layer that hands each request's injected fault to its handler (as [`Injected`] in the
    /// request's extensions) instead of answering it: the handler answers it after its own
    /// checks, in its own way, and holds a `hang` itself.
    pub fn handing_faults_over(self) -> TrafficLayer {
        TrafficLayer {
            hand_over: true,
            ..self
        }
    }

    /// Delays every request by `ms` milliseconds (changeable later through `POST latency`).
    pub fn with_latency_ms(self, ms: u64) -> TrafficLayer {
        self.latency_ms.store(ms, Ordering::Relaxed);
        self
    }

    /// `api` with every one of its routes behind this layer.
    pub fn wrap<S: Clone + Send + Sync + 'static>(&self, api: Router<S>) -> Router<S> {
        api.layer(middleware::from_fn_with_state(self.clone(), gatekeeper))
    }

    /// The control endpoints, to nest under the simulator's `/__sim/...` prefix.
    pub fn control(&self) -> Router {
        Router::new()
            .route("/stats", get(stats))
            .route("/faults", post(set_faults))
            .route("/random-faults", post(set_random_faults))
            .route("/rate-limits", get(rate_limits))
            .route("/latency", post(set_latency))
            .with_state(self.clone())
    }

    fn traffic(&self) -> MutexGuard<'_, Traffic> {
        self.traffic.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn gatekeeper(
    State(layer): State<TrafficLayer>,
    mut request: Request,
    next: Next,
) -> Response {
    let latency = layer.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let client = client_of(request.headers());
    let fault = layer.traffic().record_from(&client, &method, &path);
    if let Err(refusal) = (layer.admit)(&mut request) {
        drain(request).await;
        return refusal;
    }
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if layer.hand_over {
        request.extensions_mut().insert(Injected(fault));
        return next.run(request).await;
    }
    if fault.commit {
        let _ = next.run(request).await;
    } else {
        drain(request).await;
    }
    fault.hold().await;
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (layer.answer_fault)(status, &fault);
    if let Some(retry_after) = fault.retry_after.as_deref().and_then(|v| v.parse().ok()) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after);
    }
    response
}

/// Reads a request's body before answering without it, so the connection stays usable.
async fn drain(request: Request) {
    let _ = axum::body::to_bytes(request.into_body(), 64 << 20).await;
}

async fn stats(State(layer): State<TrafficLayer>) -> Response {
    Json(json!(layer.traffic().counts)).into_response()
}

async fn set_faults(State(layer): State<TrafficLayer>, Json(faults): Json<Vec<Fault>>) -> Response {
    layer.traffic().set_faults(faults);
    StatusCode::NO_CONTENT.into_response()
}

async fn set_random_faults(
    State(layer): State<TrafficLayer>,
    Json(spec): Json<RandomFaults>,
) -> Response {
    layer.traffic().set_random_faults(spec);
    StatusCode::NO_CONTENT.into_response()
}

async fn rate_limits(State(layer): State<TrafficLayer>) -> Response {
    Json(json!(layer.traffic().rate_limits())).into_response()
}

async fn set_latency(State(layer): State<TrafficLayer>, Json(body): Json<Value>) -> Response {
    let ms = body.get("ms").and_then(Value::as_u64).unwrap_or(0);
    layer.latency_ms.store(ms, Ordering::Relaxed);
    StatusCode::NO_CONTENT.into_response()
}

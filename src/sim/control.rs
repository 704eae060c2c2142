//! The control endpoints every simulator built on [`Traffic`] mounts next to its own: `GET
//! stats` (requests by method), `POST faults` (queued faults), `POST random-faults` and `GET
//! rate-limits` — one implementation for any server state that can lend its `Traffic`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::traffic::{Fault, RandomFaults, Traffic};

/// A simulator's state that holds a [`Traffic`] (behind its own lock).
pub trait HasTraffic: Send + Sync + 'static {
    fn with_traffic<R>(&self, f: impl FnOnce(&mut Traffic) -> R) -> R;
}

/// `stats`, `faults`, `random-faults` and `rate-limits` for `T`'s traffic.
pub fn routes<T: HasTraffic>() -> Router<Arc<T>> {
    Router::new()
        .route("/stats", get(stats::<T>))
        .route("/faults", post(set_faults::<T>))
        .route("/random-faults", post(set_random_faults::<T>))
        .route("/rate-limits", get(rate_limits::<T>))
}

async fn stats<T: HasTraffic>(State(shared): State<Arc<T>>) -> Response {
    Json(json!(shared.with_traffic(|t| t.counts.clone()))).into_response()
}

async fn set_faults<T: HasTraffic>(
    State(shared): State<Arc<T>>,
    Json(faults): Json<Vec<Fault>>,
) -> Response {
    shared.with_traffic(|t| t.set_faults(faults));
    StatusCode::NO_CONTENT.into_response()
}

async fn set_random_faults<T: HasTraffic>(
    State(shared): State<Arc<T>>,
    Json(spec): Json<RandomFaults>,
) -> Response {
    shared.with_traffic(|t| t.set_random_faults(spec));
    StatusCode::NO_CONTENT.into_response()
}

async fn rate_limits<T: HasTraffic>(State(shared): State<Arc<T>>) -> Response {
    Json(json!(shared.with_traffic(|t| t.rate_limits()))).into_response()
}

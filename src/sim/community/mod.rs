//! The partner-community test server (`community-v1`, under `/community`), written from the
//! contract alone (it imports nothing of kbpub's client or writer): articles in memory, Bearer
//! tokens (`community-token` for kbpub, `moderator-token` for a person editing on the community),
//! and the contract's rules enforced — an external id is unique (409), a new draft needs the
//! current `If-Match` etag (412 when stale), only the latest version can be published (409),
//! bodies over 1 MiB get 413, a sanitiser with the contract's own allowlist answers 422 naming the
//! first element, attribute or URL outside the subset, and lists are paged by `next_cursor`
//! (`--community-page-size`, down to 1). What the contract leaves open is a flag:
//! `--community-carry-over` copies the fields a new draft omits (`content_hash` included) from
//! the previous version, as platforms do for an edit made in their editor.
//!
//! By concern: [`model`] (articles and their versions), [`articles`] (the API's endpoints and
//! rules), [`sanitiser`] (the contract's HTML subset); this module routes and authenticates.
//! Request counts and injected faults (429 with `Retry-After`, 5xx or 409, any write — create,
//! draft, publish, archive — that commits and then answers 5xx, a hang) are the shared
//! [`super::layer`]. Control endpoints under `/__sim/community/` (no auth, not counted): the
//! layer's `stats`, `faults`, `random-faults`, `rate-limits`, `latency`, and `articles`
//! (everything, bodies included).

mod articles;
mod model;
mod sanitiser;

pub use sanitiser::first_offence;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::layer::TrafficLayer;
use super::traffic::Fault;
use model::Store;

/// Bearer tokens and who they are.
pub const TOKENS: &[(&str, &str)] = &[
    ("community-token", "kbpub"),
    ("moderator-token", "Mia Moderator"),
];

const MAX_BODY: usize = 1 << 20;

/// `kbpub sim` options for the community test server.
#[derive(Debug, Clone, clap::Args)]
pub struct CommunityArgs {
    /// Articles per page of `GET /community/v1/articles`
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub community_page_size: usize,
    /// A new draft that omits a field keeps the previous version's value, `content_hash`
    /// included, as platforms do for an edit made in their editor (not in the contract, which
    /// stores `content_hash` "as given": without this flag an omitted hash stays empty)
    #[arg(long)]
    pub community_carry_over: bool,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Partner community:      http://{bound}/community  (Bearer community-token; moderator-token edits as a moderator)"
    )
}

struct Shared {
    store: Mutex<Store>,
    page_size: usize,
    carry_over: bool,
}

type St = Arc<Shared>;

#[derive(Clone)]
struct User(String);

/// The router serving the contract under `/community` and its control endpoints.
pub fn router(args: &CommunityArgs) -> Router {
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::default()),
        page_size: args.community_page_size.max(1),
        carry_over: args.community_carry_over,
    });
    let traffic = TrafficLayer::new(admit, answer_fault);
    let api = Router::new()
        .route("/v1/articles", get(articles::list).post(articles::create))
        .route("/v1/articles/{id}", get(articles::read))
        .route("/v1/articles/{id}/draft", put(articles::draft))
        .route("/v1/articles/{id}/publish", post(articles::publish))
        .route("/v1/articles/{id}/archive", post(articles::archive))
        .route("/v1/articles/{id}/revisions", get(articles::revisions));
    let control = Router::new()
        .route("/articles", get(dump))
        .with_state(shared.clone());
    Router::new()
        .nest("/community", traffic.wrap(api).with_state(shared))
        .nest("/__sim/community", traffic.control().merge(control))
        .layer(DefaultBodyLimit::max(16 << 20))
}

/// The caller, from a known Bearer token (401 without one), put in the request for handlers.
fn admit(request: &mut Request) -> Result<(), Response> {
    let user = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| TOKENS.iter().find(|t| t.0 == token));
    let Some(user) = user else {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid Bearer token is required",
        ));
    };
    request.extensions_mut().insert(User(user.1.to_string()));
    Ok(())
}

/// An injected fault in the contract's error format.
fn answer_fault(status: StatusCode, fault: &Fault) -> Response {
    fail(
        status,
        "injected",
        format!("injected fault {}", fault.status),
    )
}

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The contract's error body.
fn fail(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

type Answer = Result<Response, Response>;

type Q = Query<BTreeMap<String, String>>;

/// Every article with what tests assert on: each version's author, hash and body.
async fn dump(State(shared): State<St>) -> Response {
    let store = lock(&shared);
    let articles: Vec<Value> = store
        .articles
        .values()
        .map(|a| {
            let mut value = a.json(true);
            value["versions"] = a
                .versions
                .iter()
                .map(|v| json!({"by": v.by, "content_hash": v.content_hash, "created_at": v.created_at, "published_at": v.published_at}))
                .collect();
            value["archive"] = match &a.archived {
                Some((reason, superseded_by)) => json!({"reason": reason, "superseded_by": superseded_by}),
                None => Value::Null,
            };
            value
        })
        .collect();
    Json(Value::Array(articles)).into_response()
}

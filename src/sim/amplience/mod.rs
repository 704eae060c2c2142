//! An Amplience Dynamic Content hub (reference §2 and §5.2), the test server for the Amplience
//! target, written from the reference alone: an OAuth client-credentials token endpoint at
//! `/amplience/oauth/token` (bad credentials 400; tokens expire after `--amplience-token-expiry`
//! seconds, 300 by default, then 401) or a personal access token; the management API under
//! `/amplience/v2/content` ([`items`]: content items with HAL links, versions, delivery keys,
//! archive, asynchronous publishing jobs, 0-based pages); the delivery API at
//! `/amplience/cdn/content/key/{key}` (published content only). Limits: publish and unpublish
//! over `--amplience-publish-limit` a minute (100) and any request over
//! `--amplience-request-limit` a minute (5,000) get 429, with no `Retry-After` unless
//! `--amplience-retry-after` gives one. What the reference leaves unverified is a flag: the status
//! of a create (201) and of a publish (202), the body-too-large status (413), the stale-version
//! code, whether archive and unarchive count a version, the page size over the maximum (clamped
//! or 400) and a read-after-create lag (404 for a new item's first milliseconds). Latency, request
//! counts and faults (429, 5xx, commit-then-fail) are the shared [`super::layer`], in front of the
//! management API, whose admission authenticates and applies the per-minute limits. Control
//! endpoints under `/__sim/amplience/` (no auth, not counted): `items`, and the layer's `stats`,
//! `faults`, `random-faults`, `rate-limits`, `latency`.

mod items;
mod schema;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use super::layer::TrafficLayer;
use super::traffic::Fault;

/// `kbpub sim` options for the Amplience hub.
#[derive(Debug, Clone, clap::Args)]
pub struct AmplienceArgs {
    /// OAuth client id kbpub authenticates with
    #[arg(long, default_value = "kbpub-client", value_name = "ID")]
    pub amplience_client_id: String,
    /// OAuth client secret
    #[arg(long, default_value = "amplience-secret", value_name = "SECRET")]
    pub amplience_client_secret: String,
    /// A personal access token accepted as a bearer token
    #[arg(long, default_value = "amplience-pat", value_name = "TOKEN")]
    pub amplience_pat: String,
    /// Seconds an OAuth token lives (`expires_in`)
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub amplience_token_expiry: u64,
    /// The hub's id
    #[arg(long, default_value = "kb-hub", value_name = "ID")]
    pub amplience_hub: String,
    /// Content repositories of the hub (comma-separated)
    #[arg(
        long,
        default_value = "kb-repo",
        value_delimiter = ',',
        value_name = "IDS"
    )]
    pub amplience_repositories: Vec<String>,
    /// Content type schemas registered and assigned to every repository (comma-separated)
    #[arg(
        long,
        default_value = "https://kbpub.example/schemas/kb-onboarding-article.json",
        value_delimiter = ',',
        value_name = "URIS"
    )]
    pub amplience_schemas: Vec<String>,
    /// Publish and unpublish requests a minute before 429
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub amplience_publish_limit: usize,
    /// Management requests a minute before 429
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub amplience_request_limit: usize,
    /// `Retry-After` seconds on a rate-limit 429 (none by default: undocumented)
    #[arg(long, value_name = "SECONDS")]
    pub amplience_retry_after: Option<u64>,
    /// Status of a successful create (unverified: 201)
    #[arg(long, default_value_t = 201, value_name = "STATUS")]
    pub amplience_create_status: u16,
    /// Status of an accepted publish (unverified: 202 or 204)
    #[arg(long, default_value_t = 202, value_name = "STATUS")]
    pub amplience_publish_status: u16,
    /// Status for a body over 200 KB (unverified: 413 or 400)
    #[arg(long, default_value_t = 413, value_name = "STATUS")]
    pub amplience_too_large_status: u16,
    /// Error code of a stale `version` (409; the code is unverified)
    #[arg(
        long,
        default_value = "CONTENT_ITEM_VERSION_MISMATCH",
        value_name = "CODE"
    )]
    pub amplience_version_conflict_code: String,
    /// Archive and unarchive leave the version as it is (by default they add one)
    #[arg(long)]
    pub amplience_archive_keeps_version: bool,
    /// The largest page size; larger asks are clamped (or refused with --amplience-reject-page-size)
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub amplience_max_page_size: usize,
    /// A page size over the maximum is a 400 instead of being clamped
    #[arg(long)]
    pub amplience_reject_page_size: bool,
    /// A new item answers 404 to reads and updates for this many milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub amplience_read_lag_ms: u64,
    /// Polls a publishing job takes to finish (CREATED, PREPARING, PUBLISHING, then the end)
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub amplience_job_polls: u32,
    /// Publishing jobs end FAILED with a publishErrorStatus
    #[arg(long)]
    pub amplience_fail_publish: bool,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Amplience hub:          http://{bound}/amplience/v2/content  (token: POST /amplience/oauth/token with kbpub-client / amplience-secret; PAT amplience-pat)"
    )
}

/// The management API's error envelope (reference §2.4).
fn errors(status: StatusCode, code: &str, message: &str, property: Option<&str>) -> Response {
    let mut error = json!({"level": "ERROR", "code": code, "message": message});
    if let Some(property) = property {
        error["property"] = json!(property);
    }
    (status, Json(json!({"errors": [error]}))).into_response()
}

#[derive(Default)]
struct Store {
    tokens: BTreeMap<String, Instant>,
    items: items::Items,
    schemas: schema::Schemas,
    /// When recent requests arrived, for the per-minute limits: all, and publishes.
    requests: VecDeque<Instant>,
    publishes: VecDeque<Instant>,
}

struct Shared {
    store: Mutex<Store>,
    args: AmplienceArgs,
}

type St = Arc<Shared>;

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(|e| e.into_inner())
}

/// The router serving the token endpoint, the management and delivery APIs, and the control
/// endpoints.
pub fn router(args: &AmplienceArgs) -> Router {
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::default()),
        args: args.clone(),
    });
    let admitting = shared.clone();
    let traffic = TrafficLayer::new(move |request| admit(&admitting, request), answer_fault);
    let api = traffic.wrap(items::routes()).with_state(shared.clone());
    let control = Router::new()
        .route("/items", get(dump))
        .with_state(shared.clone());
    Router::new()
        .route("/amplience/oauth/token", post(token))
        .route("/amplience/cdn/content/key/{*key}", get(items::delivery))
        .with_state(shared)
        .nest("/amplience/v2/content", api)
        .nest("/__sim/amplience", traffic.control().merge(control))
        .layer(DefaultBodyLimit::max(4 << 20))
}

/// `POST /oauth/token`, `grant_type=client_credentials` with the client id and secret.
async fn token(State(shared): State<St>, Form(form): Form<BTreeMap<String, String>>) -> Response {
    let args = &shared.args;
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("client_credentials") {
        let body = json!({"error": "unsupported_grant_type"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    if field("client_id") != Some(&args.amplience_client_id)
        || field("client_secret") != Some(&args.amplience_client_secret)
    {
        let body = json!({"error": "invalid_client", "error_description": "client id or secret are not valid"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let mut store = lock(&shared);
    let token = format!("amp-{:08x}", rand::random::<u32>());
    let expires = Instant::now() + Duration::from_secs(args.amplience_token_expiry);
    store.tokens.insert(token.clone(), expires);
    Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": args.amplience_token_expiry,
    }))
    .into_response()
}

/// A known, unexpired bearer token (or the PAT), then the per-minute limits, before any
/// management handler.
fn admit(shared: &St, request: &mut Request) -> Result<(), Response> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default();
    let mut store = lock(shared);
    let valid = bearer == shared.args.amplience_pat
        || store
            .tokens
            .get(bearer)
            .is_some_and(|expires| Instant::now() < *expires);
    if !valid {
        return Err(errors(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the bearer token is missing, unknown or expired",
            None,
        ));
    }
    match over_limit(&mut store, &shared.args, request.uri().path()) {
        Some(refused) => Err(refused),
        None => Ok(()),
    }
}

/// An injected fault in the management API's error envelope.
fn answer_fault(status: StatusCode, fault: &Fault) -> Response {
    errors(
        status,
        "INJECTED",
        &format!("injected fault {}", fault.status),
        None,
    )
}

/// A 429 when this request is over a per-minute limit (publish and unpublish, or all).
fn over_limit(store: &mut Store, args: &AmplienceArgs, path: &str) -> Option<Response> {
    let now = Instant::now();
    let minute = Duration::from_secs(60);
    let publishing = path.ends_with("/publish") || path.ends_with("/unpublish");
    let mut limited = false;
    for (log, limit, counts) in [
        (&mut store.requests, args.amplience_request_limit, true),
        (
            &mut store.publishes,
            args.amplience_publish_limit,
            publishing,
        ),
    ] {
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            log.pop_front();
        }
        if counts {
            limited |= log.len() >= limit;
            log.push_back(now);
        }
    }
    if !limited {
        return None;
    }
    let mut response = errors(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "Too many requests - Please try again later.",
        None,
    );
    if let Some(seconds) = args.amplience_retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    Some(response)
}

/// Every item with its versions and what is published, for tests.
async fn dump(State(shared): State<St>) -> Response {
    let store = lock(&shared);
    let all: Vec<Value> = store.items.all().map(items::Item::dump).collect();
    Json(json!(all)).into_response()
}

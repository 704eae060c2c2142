//! A Confluence test server: Cloud (REST v2 + v1 under `/wiki`, Basic e-mail + API token) and
//! Data Center (REST v1 under the `/confluence` context path, personal access token as Bearer),
//! each an independent in-memory instance seeded with the spaces `OPS`, `EDIOPS` and `PARTNERS`. It
//! enforces the rules that break real publishers, as `/work/shared/reference/confluence-api.md`
//! documents them: titles unique per space ignoring case, a version must be the current one + 1
//! (else 409), storage bodies must parse as XML (else 400 "Error parsing xhtml"), a duplicate
//! attachment name is a 400, a duplicate v1 property key is a 400, uploads need
//! `X-Atlassian-Token: no-check`, archive ids must be JSON numbers, and every list is paged
//! (v1 `start`/`limit`, CQL and v2 cursors with `_links.next`, v2 also a `Link` header) with a
//! server page size that can be as small as 1. Pages have authors (kbpub's account or a
//! person's). Rules the reference leaves to configuration are switches (`rules`): a lagging CQL
//! search index (new pages are found only after `reindex`), Data Center's `Content-Type`
//! strictness (415), and Cloud's removed v1 content endpoints (410).
//!
//! By concern: [`model`] (spaces, pages, versions, properties, labels, attachments, authors, the
//! CQL index), [`pages`] (the write rules both APIs share), [`paging`], the surfaces [`v1`] and
//! [`v2`], and [`admin`] (`rules`, `reindex`, `pages`). Latency, request counts and injected faults
//! (429 with Retry-After, 5xx, 409, a write that commits and then answers 500, a hang) are the
//! shared [`super::layer`], mounted once per instance; this module routes, authenticates and
//! applies the rules that refuse before any handler. Control endpoints under
//! `/__sim/confluence/{cloud|dc}/` (no auth, not counted): the layer's `stats`, `faults`,
//! `random-faults`, `rate-limits`, `latency`, and [`admin`]'s.

mod admin;
mod model;
mod pages;
mod paging;
mod v1;
mod v2;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Query, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

use super::layer::TrafficLayer;
use super::traffic::Fault;
use model::{Instance, Kind, MAX_PAGE, PageRec, St, User, lock};
use paging::{Paging, paged};

/// Fake accounts: (e-mail, API token, display name, account id) for Cloud.
pub const CLOUD_USERS: &[(&str, &str, &str, &str)] = &[
    (
        "kbpub@example.com",
        "cloud-token",
        "kbpub bot",
        "557058:kbpub-bot",
    ),
    (
        "dana@example.com",
        "dana-token",
        "Dana Editor",
        "557058:dana-editor",
    ),
];

/// Fake personal access tokens for Data Center: (token, display name, user name).
pub const DC_TOKENS: &[(&str, &str, &str)] = &[
    ("dc-pat", "kbpub bot", "kbpub"),
    ("dana-pat", "Dana Editor", "dana"),
];

/// `kbpub sim` options for the Confluence test server.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfluenceArgs {
    /// Delay every Confluence request by this many milliseconds
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub confluence_latency_ms: u64,
    /// The most results per list request (down to 1, to exercise clients' paging)
    #[arg(long, default_value_t = MAX_PAGE as u64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_PAGE as u64))]
    pub confluence_page_size: u64,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Confluence Cloud:       http://{bound}/wiki        (Basic kbpub@example.com / cloud-token)\n  Confluence Data Center: http://{bound}/confluence  (Bearer dc-pat)"
    )
}

/// The router serving both instances and their control endpoints.
pub fn router(args: &ConfluenceArgs) -> Router {
    let mut routes = Router::new().route("/__sim/health", get(|| async { "ok" }));
    for (kind, context, name) in [
        (Kind::Cloud, "/wiki", "cloud"),
        (Kind::DataCenter, "/confluence", "dc"),
    ] {
        let mut instance = Instance::new(kind);
        instance.rules.page_size = args.confluence_page_size as usize;
        let shared: St = Arc::new(Mutex::new(instance));
        let admission = shared.clone();
        let traffic = TrafficLayer::new(move |request| admit(&admission, request), answer_fault)
            .with_latency_ms(args.confluence_latency_ms);
        routes = routes
            .nest(context, traffic.wrap(api()).with_state(shared.clone()))
            .nest(
                &format!("/__sim/confluence/{name}"),
                traffic.control().merge(admin::router(shared)),
            );
    }
    routes.layer(DefaultBodyLimit::max(64 << 20))
}

fn api() -> Router<St> {
    Router::new()
        .route("/api/v2/spaces", get(v2::v2_spaces))
        .route("/api/v2/pages", get(v2::v2_find).post(v2::v2_create))
        .route("/api/v2/pages/{id}", get(v2::v2_get).put(v2::v2_update))
        .route(
            "/api/v2/pages/{id}/properties",
            get(v2::v2_properties).post(v2::v2_property_create),
        )
        .route(
            "/api/v2/pages/{id}/properties/{pid}",
            put(v2::v2_property_update),
        )
        .route("/rest/api/space/{key}", get(v1::v1_space))
        .route("/rest/api/user/current", get(v1::v1_current_user))
        .route("/rest/api/content", get(v1::v1_find).post(v1::v1_create))
        .route("/rest/api/content/search", get(v1::v1_search))
        .route("/rest/api/content/archive", post(v1::v1_archive))
        .route(
            "/rest/api/content/{id}",
            get(v1::v1_get).put(v1::v1_update).delete(v1::v1_delete),
        )
        .route(
            "/rest/api/content/{id}/property",
            post(v1::v1_property_create),
        )
        .route(
            "/rest/api/content/{id}/property/{key}",
            get(v1::v1_property_get).put(v1::v1_property_update),
        )
        .route(
            "/rest/api/content/{id}/label",
            get(v1::v1_labels)
                .post(v1::v1_labels_add)
                .delete(v1::v1_label_remove),
        )
        .route(
            "/rest/api/content/{id}/child/attachment",
            get(v1::v1_attachments).post(v1::v1_attachment_create),
        )
        .route(
            "/rest/api/content/{id}/child/attachment/{att}/data",
            post(v1::v1_attachment_data),
        )
        .route(
            "/rest/api/content/{id}/move/{position}/{target}",
            put(v1::v1_move),
        )
}

/// What an instance checks before any handler: the caller (401 without a known one, put in the
/// request for handlers), Data Center's `Content-Type` strictness when on, Data Center's missing
/// v2 (404), and Cloud's removed v1 endpoints when that rule is on.
fn admit(shared: &St, request: &mut Request) -> Result<(), Response> {
    let (kind, rules) = {
        let instance = lock(shared);
        (instance.kind, instance.rules.clone())
    };
    let method = request.method().as_str();
    let path = request.uri().path();
    let Some(user) = authenticate(kind, request.headers()) else {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized; scope does not match",
        ));
    };
    if kind == Kind::DataCenter
        && rules.content_type_required
        && matches!(method, "GET" | "DELETE")
        && !request.headers().contains_key(header::CONTENT_TYPE)
    {
        return Err(fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: this server requires a Content-Type header",
        ));
    }
    if kind == Kind::DataCenter && path.starts_with("/api/v2/") {
        return Err(fail(StatusCode::NOT_FOUND, "Not found"));
    }
    if kind == Kind::Cloud && rules.v1_removed && removed_v1(method, path) {
        return Err(fail(
            StatusCode::GONE,
            "This deprecated endpoint has been removed",
        ));
    }
    request.extensions_mut().insert(user);
    Ok(())
}

/// An injected fault in Confluence's error format.
fn answer_fault(status: StatusCode, fault: &Fault) -> Response {
    let message = match fault.status {
        // The transient conflict Cloud answers under load (reference §2.4).
        409 => "com.atlassian.confluence.api.service.exceptions.ConflictException: javax.persistence.OptimisticLockException: Batch update returned unexpected row count from update [0]; actual row count: 0; expected: 1".to_string(),
        other => format!("injected fault {other}"),
    };
    fail(status, message)
}

/// The deprecated v1 content endpoints Cloud removes (reference §2.1): `GET`/`POST /content`
/// and `GET`/`PUT`/`DELETE /content/{id}`.
fn removed_v1(method: &str, path: &str) -> bool {
    match path.strip_prefix("/rest/api/content") {
        Some("") | Some("/") => matches!(method, "GET" | "POST"),
        Some(rest) => {
            let id = rest.trim_start_matches('/');
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && matches!(method, "GET" | "PUT" | "DELETE")
        }
        None => false,
    }
}

fn authenticate(kind: Kind, headers: &HeaderMap) -> Option<User> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    match kind {
        Kind::Cloud => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.strip_prefix("Basic ")?)
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (email, token) = decoded.split_once(':')?;
            CLOUD_USERS
                .iter()
                .find(|u| u.0 == email && u.1 == token)
                .map(|u| User {
                    name: u.2.to_string(),
                    account: u.3.to_string(),
                })
        }
        Kind::DataCenter => {
            let token = value.strip_prefix("Bearer ")?;
            DC_TOKENS.iter().find(|t| t.0 == token).map(|t| User {
                name: t.1.to_string(),
                account: t.2.to_string(),
            })
        }
    }
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = json!({
        "statusCode": status.as_u16(), "message": message,
        "errors": [{"status": status.as_u16(), "code": status.canonical_reason().unwrap_or(""), "title": message}],
    });
    (status, Json(body)).into_response()
}

fn ok(value: Value) -> Response {
    Json(value).into_response()
}

type Q = Query<HashMap<String, String>>;

fn parse_id(id: &str) -> Result<u64, Response> {
    id.parse().map_err(|_| {
        fail(
            StatusCode::NOT_FOUND,
            format!("No content found with id: {id}"),
        )
    })
}

fn page_mut<'a>(instance: &'a mut Instance, id: &str) -> Result<&'a mut PageRec, Response> {
    let id = parse_id(id)?;
    instance
        .pages
        .get_mut(&id)
        .filter(|p| p.status == "current")
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("No content found with id: {id}"),
            )
        })
}

/// Answers with `f` applied to current page `id`, or 404.
fn with_page(shared: &St, id: &str, f: impl FnOnce(&mut PageRec) -> Response) -> Response {
    let mut instance = lock(shared);
    match page_mut(&mut instance, id) {
        Ok(page) => f(page),
        Err(response) => response,
    }
}

/// One page as `show` writes it, with its storage body when `with_body`.
fn one_page(
    shared: &St,
    id: &str,
    show: fn(&Instance, &PageRec) -> Value,
    with_body: bool,
) -> Response {
    let mut instance = lock(shared);
    match page_mut(&mut instance, id).map(|p| p.clone()) {
        Ok(page) => {
            let mut reply = show(&instance, &page);
            if with_body {
                reply["body"] =
                    json!({"storage": {"value": page.body, "representation": "storage"}});
            }
            ok(reply)
        }
        Err(r) => r,
    }
}

/// The current pages `keep` accepts, each as `show` writes it, as the list at `path` (after the
/// context path) pages them with `paging` (25 by default).
fn current_pages(
    instance: &Instance,
    q: &HashMap<String, String>,
    keep: impl Fn(&PageRec) -> bool,
    show: fn(&Instance, &PageRec) -> Value,
    (path, paging): (&str, Paging),
) -> Response {
    let results: Vec<Value> = instance
        .pages
        .values()
        .filter(|p| p.status == "current" && keep(p))
        .map(|p| show(instance, p))
        .collect();
    paged(instance, results, q, path, paging, 25)
}

/// A list that belongs to current page `id` (its properties, labels, attachments), paged.
fn page_list(
    shared: &St,
    id: &str,
    q: &HashMap<String, String>,
    (path, paging, default_limit): (String, Paging, usize),
    items: impl FnOnce(&PageRec) -> Vec<Value>,
) -> Response {
    let mut instance = lock(shared);
    let results = match page_mut(&mut instance, id) {
        Ok(page) => items(page),
        Err(r) => return r,
    };
    paged(&instance, results, q, &path, paging, default_limit)
}

fn cloud_only(shared: &St) -> Result<(), Response> {
    if lock(shared).kind == Kind::Cloud {
        Ok(())
    } else {
        Err(fail(StatusCode::NOT_FOUND, "Not found"))
    }
}

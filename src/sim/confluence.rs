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
//! strictness (415), and Cloud's removed v1 content endpoints (410). Faults are injected per
//! request (429 with Retry-After, 5xx, 409, or a write that commits and then answers 500),
//! latency is configurable, and requests are counted by method. Control endpoints under
//! `/__sim/confluence/{cloud|dc}/` (no auth, not counted): `stats`, `faults`, `latency`,
//! `rules`, `reindex`, `pages`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::traffic::Traffic;
use super::traffic::{Fault, RandomFaults};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

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
/// The most results any list returns (v2's documented maximum).
const MAX_PAGE: usize = 250;

/// The behaviours the reference leaves open, switchable per instance (`POST .../rules`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
struct Rules {
    /// The most results per list request, whatever `limit` asks (servers clamp it).
    page_size: usize,
    /// New pages are not found by CQL search until `reindex` (Cloud's index lags).
    search_lag: bool,
    /// Data Center: GET and DELETE without `Content-Type` are refused with 415.
    content_type_required: bool,
    /// Cloud: the deprecated v1 content endpoints answer 410 Gone.
    v1_removed: bool,
    /// v2 lists name their next page only in the `Link` header (reference §1.4 documents it
    /// beside `_links.next`), so a client reading one of the two is tested on the other.
    v2_link_only: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            page_size: MAX_PAGE,
            search_lag: false,
            content_type_required: false,
            v1_removed: false,
            v2_link_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cloud,
    DataCenter,
}

#[derive(Debug, Clone)]
struct Space {
    id: u64,
    key: String,
    home: u64,
}

#[derive(Debug, Clone)]
struct Property {
    id: u64,
    value: Value,
    version: u64,
}

#[derive(Debug, Clone)]
struct Attachment {
    id: u64,
    filename: String,
    bytes: usize,
    /// The media type, sniffed from the bytes for the formats tests care about.
    media_type: &'static str,
    version: u64,
    /// The `comment` part of the upload that wrote this version (reference §2.9), or "".
    comment: String,
}

fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"<svg") || bytes.starts_with(b"<?xml") {
        "image/svg+xml"
    } else {
        "application/octet-stream"
    }
}

#[derive(Debug, Clone)]
struct PageRec {
    id: u64,
    space: String,
    title: String,
    parent: Option<u64>,
    /// `current`, `archived` or `trashed`.
    status: &'static str,
    body: String,
    version: u64,
    message: String,
    /// The last version's author: display name and account (Cloud account id, DC user name).
    by: String,
    author: String,
    when: String,
    labels: BTreeSet<String>,
    properties: BTreeMap<String, Property>,
    attachments: Vec<Attachment>,
    /// Found by CQL search (false until `reindex` while the index lags).
    indexed: bool,
}

struct Instance {
    kind: Kind,
    rules: Rules,
    spaces: Vec<Space>,
    pages: BTreeMap<u64, PageRec>,
    next_id: u64,
    traffic: Traffic,
}

struct Shared {
    instance: Mutex<Instance>,
    latency_ms: AtomicU64,
}

type St = Arc<Shared>;

/// The authenticated caller: display name and account.
#[derive(Clone)]
struct User {
    name: String,
    account: String,
}

impl Instance {
    fn new(kind: Kind) -> Instance {
        let mut instance = Instance {
            kind,
            rules: Rules::default(),
            spaces: Vec::new(),
            pages: BTreeMap::new(),
            next_id: 65_537,
            traffic: Traffic::default(),
        };
        for key in ["OPS", "EDIOPS", "PARTNERS"] {
            instance.add_space(key);
        }
        instance
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn add_space(&mut self, key: &str) {
        let id = self.id();
        let home = self.id();
        self.pages.insert(
            home,
            PageRec {
                id: home,
                space: key.to_string(),
                title: format!("{key} Home"),
                parent: None,
                status: "current",
                body: "<p>Home</p>".into(),
                version: 1,
                message: String::new(),
                by: "Space Admin".into(),
                author: "space-admin".into(),
                when: now(),
                labels: BTreeSet::new(),
                properties: BTreeMap::new(),
                attachments: Vec::new(),
                indexed: true,
            },
        );
        self.spaces.push(Space {
            id,
            key: key.to_string(),
            home,
        });
    }

    fn space_by_key(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    fn title_taken(&self, space: &str, title: &str, except: Option<u64>) -> bool {
        let lower = title.to_lowercase();
        self.pages.values().any(|p| {
            p.status == "current"
                && p.space == space
                && Some(p.id) != except
                && p.title.to_lowercase() == lower
        })
    }

    fn ancestors(&self, page: &PageRec) -> Vec<u64> {
        let mut chain = Vec::new();
        let mut parent = page.parent;
        while let Some(id) = parent {
            chain.push(id);
            parent = self.pages.get(&id).and_then(|p| p.parent);
        }
        chain.reverse();
        chain
    }

    fn v1(&self, page: &PageRec) -> Value {
        let ancestors: Vec<Value> = self
            .ancestors(page)
            .iter()
            .map(|id| json!({"id": id.to_string(), "type": "page", "title": self.pages[id].title}))
            .collect();
        let properties: serde_json::Map<String, Value> = page
            .properties
            .iter()
            .map(|(k, p)| (k.clone(), property_json(k, p)))
            .collect();
        json!({
            "id": page.id.to_string(), "type": "page", "status": page.status, "title": page.title,
            "space": {"key": page.space},
            "version": {"number": page.version, "message": page.message, "when": page.when,
                        "by": self.person(page)},
            "ancestors": ancestors,
            "metadata": {"properties": properties},
            "_links": {"webui": format!("/spaces/{}/pages/{}", page.space, page.id)},
        })
    }

    fn v2(&self, page: &PageRec) -> Value {
        let space_id = self.space_by_key(&page.space).map_or(0, |s| s.id);
        json!({
            "id": page.id.to_string(), "status": page.status, "title": page.title,
            "spaceId": space_id.to_string(), "parentId": page.parent.map(|p| p.to_string()),
            "version": {"number": page.version, "message": page.message, "createdAt": page.when, "authorId": page.author},
        })
    }

    /// A v1 user object: Cloud names the account id, Data Center the user name.
    fn person(&self, page: &PageRec) -> Value {
        match self.kind {
            Kind::Cloud => {
                json!({"type": "known", "displayName": page.by, "accountId": page.author})
            }
            Kind::DataCenter => {
                json!({"type": "known", "displayName": page.by, "username": page.author})
            }
        }
    }

    /// The context path this instance is served under.
    fn context(&self) -> &'static str {
        match self.kind {
            Kind::Cloud => "/wiki",
            Kind::DataCenter => "/confluence",
        }
    }
}

fn property_json(key: &str, p: &Property) -> Value {
    json!({"id": p.id.to_string(), "key": key, "value": p.value, "version": {"number": p.version}})
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

/// How a list pages (reference §1.1 and §1.4).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Paging {
    /// v1: `start` and `limit`; `_links.next` is relative to the context path.
    Offset,
    /// CQL search: an opaque `cursor`; `_links.next` relative to the context path.
    CqlCursor,
    /// v2: an opaque `cursor`; `_links.next` starts with the context path, and a `Link`
    /// header carries it too.
    V2Cursor,
}

/// One page of `items` as the list at `path` (after the context path) answers it: at most
/// `limit` (default `default_limit`) items, never more than the server's page size, with a
/// `next` link, built from the request's own query, only while items remain.
fn paged(
    instance: &Instance,
    items: Vec<Value>,
    q: &HashMap<String, String>,
    path: &str,
    paging: Paging,
    default_limit: usize,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default_limit)
        .clamp(1, instance.rules.page_size.max(1));
    let start = match (paging, q.get("start"), q.get("cursor")) {
        (Paging::Offset, Some(start), _) => match start.parse() {
            Ok(start) => start,
            Err(_) => return fail(StatusCode::BAD_REQUEST, "start must be a number"),
        },
        (Paging::CqlCursor | Paging::V2Cursor, _, Some(cursor)) => match decode_cursor(cursor) {
            Some(start) => start,
            None => return fail(StatusCode::BAD_REQUEST, format!("Invalid cursor: {cursor}")),
        },
        _ => 0usize,
    };
    let total = items.len();
    let results: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| {
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "start" | "cursor" | "limit"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("limit".into(), limit.to_string()));
        pairs.push(match paging {
            Paging::Offset => ("start".into(), (start + limit).to_string()),
            _ => ("cursor".into(), encode_cursor(start + limit)),
        });
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        let prefix = if paging == Paging::V2Cursor {
            instance.context()
        } else {
            ""
        };
        format!("{prefix}{path}?{}", query.join("&"))
    });
    let mut links = json!({"context": instance.context()});
    if let Some(next) = next
        .as_ref()
        .filter(|_| !(paging == Paging::V2Cursor && instance.rules.v2_link_only))
    {
        links["next"] = json!(next);
    }
    let body = match paging {
        Paging::V2Cursor => json!({"results": results, "_links": links}),
        _ => {
            json!({"results": results, "start": start, "limit": limit, "size": results.len(), "_links": links})
        }
    };
    let mut response = ok(body);
    if paging == Paging::V2Cursor
        && let Some(link) = next.and_then(|n| format!("<{n}>; rel=\"next\"").parse().ok())
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// An opaque cursor for position `start`.
fn encode_cursor(start: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{start}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")?
        .parse()
        .ok()
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
fn escape(text: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// Checks a storage body the way Confluence does: it must parse as XML.
fn check_xhtml(body: &str) -> Result<(), Response> {
    let document = format!(
        "<ac:root xmlns:ac=\"http://atlassian.com/content\" xmlns:ri=\"http://atlassian.com/resource/identifier\" xmlns=\"http://www.w3.org/1999/xhtml\">{body}</ac:root>"
    );
    roxmltree::Document::parse(&document)
        .map(|_| ())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("Error parsing xhtml: {e}")))
}

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
    let shared = |kind| {
        let mut instance = Instance::new(kind);
        instance.rules.page_size = args.confluence_page_size as usize;
        Arc::new(Shared {
            instance: Mutex::new(instance),
            latency_ms: AtomicU64::new(args.confluence_latency_ms),
        })
    };
    let (cloud, dc) = (shared(Kind::Cloud), shared(Kind::DataCenter));
    let instances: Arc<HashMap<&'static str, St>> = Arc::new(HashMap::from([
        ("cloud", cloud.clone()),
        ("dc", dc.clone()),
    ]));
    Router::new()
        .nest("/wiki", api(cloud))
        .nest("/confluence", api(dc))
        .nest(
            "/__sim/confluence/{instance}",
            control().with_state(instances),
        )
        .route("/__sim/health", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(64 << 20))
}

fn api(shared: St) -> Router {
    Router::new()
        .route("/api/v2/spaces", get(v2_spaces))
        .route("/api/v2/pages", get(v2_find).post(v2_create))
        .route("/api/v2/pages/{id}", get(v2_get).put(v2_update))
        .route(
            "/api/v2/pages/{id}/properties",
            get(v2_properties).post(v2_property_create),
        )
        .route(
            "/api/v2/pages/{id}/properties/{pid}",
            put(v2_property_update),
        )
        .route("/rest/api/space/{key}", get(v1_space))
        .route("/rest/api/user/current", get(v1_current_user))
        .route("/rest/api/content", get(v1_find).post(v1_create))
        .route("/rest/api/content/search", get(v1_search))
        .route("/rest/api/content/archive", post(v1_archive))
        .route(
            "/rest/api/content/{id}",
            get(v1_get).put(v1_update).delete(v1_delete),
        )
        .route("/rest/api/content/{id}/property", post(v1_property_create))
        .route(
            "/rest/api/content/{id}/property/{key}",
            get(v1_property_get).put(v1_property_update),
        )
        .route(
            "/rest/api/content/{id}/label",
            get(v1_labels).post(v1_labels_add).delete(v1_label_remove),
        )
        .route(
            "/rest/api/content/{id}/child/attachment",
            get(v1_attachments).post(v1_attachment_create),
        )
        .route(
            "/rest/api/content/{id}/child/attachment/{att}/data",
            post(v1_attachment_data),
        )
        .route(
            "/rest/api/content/{id}/move/{position}/{target}",
            put(v1_move),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), gatekeeper))
        .with_state(shared)
}

/// Latency, counting, authentication and injected faults, before any handler.
async fn gatekeeper(State(shared): State<St>, mut request: Request, next: Next) -> Response {
    let latency = shared.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let client = super::traffic::client_of(request.headers());
    let (kind, rules, fault) = {
        let mut instance = shared.instance.lock().unwrap_or_else(|e| e.into_inner());
        let fault = instance.traffic.record_from(&client, &method, &path);
        (instance.kind, instance.rules.clone(), fault)
    };
    let user = match authenticate(kind, request.headers()) {
        Some(user) => user,
        None => {
            drain(request).await;
            return fail(
                StatusCode::UNAUTHORIZED,
                "Unauthorized; scope does not match",
            );
        }
    };
    request.extensions_mut().insert(user);
    if kind == Kind::DataCenter
        && rules.content_type_required
        && matches!(method.as_str(), "GET" | "DELETE")
        && !request.headers().contains_key(header::CONTENT_TYPE)
    {
        return fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: this server requires a Content-Type header",
        );
    }
    if kind == Kind::Cloud && rules.v1_removed && removed_v1(&method, &path) {
        drain(request).await;
        return fail(
            StatusCode::GONE,
            "This deprecated endpoint has been removed",
        );
    }
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if fault.commit {
        let _ = next.run(request).await;
    } else {
        drain(request).await;
    }
    fault.hold().await;
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match fault.status {
        // The transient conflict Cloud answers under load (reference §2.4).
        409 => "com.atlassian.confluence.api.service.exceptions.ConflictException: javax.persistence.OptimisticLockException: Batch update returned unexpected row count from update [0]; actual row count: 0; expected: 1".to_string(),
        other => format!("injected fault {other}"),
    };
    let mut response = fail(status, message);
    if let Some(retry_after) = fault.retry_after.as_deref().and_then(|v| v.parse().ok()) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after);
    }
    response
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

/// Reads a request's body before answering without it, so the connection stays usable.
async fn drain(request: Request) {
    let _ = axum::body::to_bytes(request.into_body(), 64 << 20).await;
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

type Q = Query<HashMap<String, String>>;

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Instance> {
    shared.instance.lock().unwrap_or_else(|e| e.into_inner())
}

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

/// What a create or update asks for, from either API's JSON.
struct PageInput {
    space: String,
    title: String,
    parent: Option<u64>,
    body: String,
    version: Option<(u64, String)>,
}

fn input(instance: &Instance, body: &Value, v2: bool) -> Result<PageInput, Response> {
    let str_at = |p: &str| body.pointer(p).and_then(Value::as_str).map(String::from);
    let id_at = |p: &str| -> Option<u64> {
        body.pointer(p)
            .and_then(|v| {
                v.as_str()
                    .map(String::from)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .and_then(|s| s.parse().ok())
    };
    let space = if v2 {
        let id = id_at("/spaceId");
        id.and_then(|id| instance.spaces.iter().find(|s| s.id == id))
            .map(|s| s.key.clone())
            .unwrap_or_default()
    } else {
        str_at("/space/key").unwrap_or_default()
    };
    let title = str_at("/title").unwrap_or_default();
    if title.trim().is_empty() {
        return Err(fail(StatusCode::BAD_REQUEST, "A page must have a title"));
    }
    let parent = if v2 {
        id_at("/parentId")
    } else {
        body.pointer("/ancestors")
            .and_then(Value::as_array)
            .and_then(|a| a.last())
            .and_then(|a| {
                a.get("id")
                    .and_then(|v| {
                        v.as_str()
                            .map(String::from)
                            .or_else(|| v.as_u64().map(|n| n.to_string()))
                    })
                    .and_then(|s| s.parse().ok())
            })
    };
    let body_text = if v2 {
        str_at("/body/value")
    } else {
        str_at("/body/storage/value")
    }
    .unwrap_or_default();
    let version = body
        .pointer("/version/number")
        .and_then(Value::as_u64)
        .map(|n| (n, str_at("/version/message").unwrap_or_default()));
    Ok(PageInput {
        space,
        title,
        parent,
        body: body_text,
        version,
    })
}

fn create(shared: &St, user: User, body: &Value, v2: bool) -> Response {
    let mut instance = lock(shared);
    let page = match input(&instance, body, v2) {
        Ok(page) => page,
        Err(response) => return response,
    };
    if instance.space_by_key(&page.space).is_none() {
        return fail(
            StatusCode::NOT_FOUND,
            format!("No space with key : {}", page.space),
        );
    }
    if let Err(response) = check_xhtml(&page.body) {
        return response;
    }
    let parent = page
        .parent
        .unwrap_or_else(|| instance.space_by_key(&page.space).map_or(0, |s| s.home));
    match instance.pages.get(&parent) {
        Some(p) if p.status == "current" && p.space == page.space => {}
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("Parent page {parent} not found in space {}", page.space),
            );
        }
    }
    if instance.title_taken(&page.space, &page.title, None) {
        return fail(
            StatusCode::BAD_REQUEST,
            "A page with this title already exists: A page already exists with the same TITLE in this space",
        );
    }
    let id = instance.id();
    let record = PageRec {
        id,
        space: page.space,
        title: page.title,
        parent: Some(parent),
        status: "current",
        body: page.body,
        version: 1,
        message: String::new(),
        by: user.name,
        author: user.account,
        when: now(),
        labels: BTreeSet::new(),
        properties: BTreeMap::new(),
        attachments: Vec::new(),
        indexed: !instance.rules.search_lag,
    };
    let reply = if v2 {
        instance.v2(&record)
    } else {
        instance.v1(&record)
    };
    instance.pages.insert(id, record);
    ok(reply)
}

fn update(shared: &St, user: User, id: &str, body: &Value, v2: bool) -> Response {
    let mut instance = lock(shared);
    let mut page = match input(&instance, body, v2) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let current = match page_mut(&mut instance, id) {
        Ok(p) => p.clone(),
        Err(response) => return response,
    };
    if page.space.is_empty() {
        page.space = current.space.clone();
    }
    let Some((version, message)) = page.version.clone() else {
        return fail(StatusCode::BAD_REQUEST, "Version number is required");
    };
    if version != current.version + 1 {
        return fail(
            StatusCode::CONFLICT,
            format!(
                "Version must be incremented on update. Current version is: {}",
                current.version
            ),
        );
    }
    if page.space != current.space {
        return fail(
            StatusCode::BAD_REQUEST,
            "Cannot change the space of a page by updating it; move it",
        );
    }
    if let Err(response) = check_xhtml(&page.body) {
        return response;
    }
    if let Some(parent) = page.parent {
        let valid = instance
            .pages
            .get(&parent)
            .is_some_and(|p| p.status == "current" && p.space == current.space)
            && !instance
                .ancestors(&instance.pages[&parent])
                .contains(&current.id)
            && parent != current.id;
        if !valid {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("Parent page {parent} not found in space {}", current.space),
            );
        }
    }
    if instance.title_taken(&current.space, &page.title, Some(current.id)) {
        return fail(
            StatusCode::BAD_REQUEST,
            "A page with this title already exists: A page already exists with the same TITLE in this space",
        );
    }
    let record = instance.pages.get_mut(&current.id).expect("checked above");
    record.title = page.title;
    record.body = page.body;
    if page.parent.is_some() {
        record.parent = page.parent;
    }
    record.version = version;
    record.message = message;
    record.by = user.name;
    record.author = user.account;
    record.when = now();
    let record = record.clone();
    ok(if v2 {
        instance.v2(&record)
    } else {
        instance.v1(&record)
    })
}

async fn v2_spaces(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    if instance.kind != Kind::Cloud {
        return fail(StatusCode::NOT_FOUND, "Not found");
    }
    let keys: Vec<&str> = q
        .get("keys")
        .map(|k| k.split(',').collect())
        .unwrap_or_default();
    let results: Vec<Value> = instance
        .spaces
        .iter()
        .filter(|s| keys.is_empty() || keys.contains(&s.key.as_str()))
        .map(|s| json!({"id": s.id.to_string(), "key": s.key, "name": s.key, "homepageId": s.home.to_string()}))
        .collect();
    paged(
        &instance,
        results,
        &q,
        "/api/v2/spaces",
        Paging::V2Cursor,
        25,
    )
}

fn cloud_only(shared: &St) -> Result<(), Response> {
    if lock(shared).kind == Kind::Cloud {
        Ok(())
    } else {
        Err(fail(StatusCode::NOT_FOUND, "Not found"))
    }
}

async fn v2_find(State(shared): State<St>, Query(q): Q) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    let instance = lock(&shared);
    let space_id: Option<u64> = q.get("space-id").and_then(|s| s.parse().ok());
    let space = space_id
        .and_then(|id| instance.spaces.iter().find(|s| s.id == id))
        .map(|s| s.key.clone());
    let results: Vec<Value> = instance
        .pages
        .values()
        .filter(|p| p.status == "current")
        .filter(|p| space.as_ref().is_none_or(|s| &p.space == s))
        .filter(|p| q.get("title").is_none_or(|t| &p.title == t))
        .map(|p| instance.v2(p))
        .collect();
    paged(
        &instance,
        results,
        &q,
        "/api/v2/pages",
        Paging::V2Cursor,
        25,
    )
}

async fn v2_create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    create(&shared, user, &body, true)
}

async fn v2_get(State(shared): State<St>, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    let mut instance = lock(&shared);
    match page_mut(&mut instance, &id).map(|p| p.clone()) {
        Ok(page) => {
            let mut reply = instance.v2(&page);
            if q.get("body-format").map(String::as_str) == Some("storage") {
                reply["body"] =
                    json!({"storage": {"representation": "storage", "value": page.body}});
            }
            ok(reply)
        }
        Err(r) => r,
    }
}

async fn v2_update(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    update(&shared, user, &id, &body, true)
}

async fn v2_properties(State(shared): State<St>, Path(id): Path<String>, Query(q): Q) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    let list = (
        format!("/api/v2/pages/{id}/properties"),
        Paging::V2Cursor,
        25,
    );
    page_list(&shared, &id, &q, list, |page| {
        page.properties
            .iter()
            .filter(|(k, _)| q.get("key").is_none_or(|key| key == *k))
            .map(|(k, p)| property_json(k, p))
            .collect()
    })
}

/// Creates a property; a key the page already has is a 400 on v1 (reference §2.10), a 409 on v2.
fn property_create(shared: &St, id: &str, body: &Value, v2: bool) -> Response {
    let mut instance = lock(shared);
    let property_id = instance.id();
    let page = match page_mut(&mut instance, id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(key) = body.get("key").and_then(Value::as_str) else {
        return fail(StatusCode::BAD_REQUEST, "A property needs a key");
    };
    if page.properties.contains_key(key) {
        return match v2 {
            true => fail(
                StatusCode::CONFLICT,
                format!("A property with key '{key}' already exists"),
            ),
            false => fail(
                StatusCode::BAD_REQUEST,
                "Cannot add a property: content already has a property with the given key",
            ),
        };
    }
    let property = Property {
        id: property_id,
        value: body.get("value").cloned().unwrap_or(Value::Null),
        version: 1,
    };
    let reply = property_json(key, &property);
    page.properties.insert(key.to_string(), property);
    ok(reply)
}

fn property_update(
    shared: &St,
    id: &str,
    matches: &dyn Fn(&str, &Property) -> bool,
    body: &Value,
) -> Response {
    let mut instance = lock(shared);
    let page = match page_mut(&mut instance, id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some((key, property)) = page.properties.iter_mut().find(|(k, p)| matches(k, p)) else {
        return fail(StatusCode::NOT_FOUND, "No such property");
    };
    let version = body
        .pointer("/version/number")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if version != property.version + 1 {
        return fail(
            StatusCode::CONFLICT,
            format!(
                "Version must be incremented on update. Current version is: {}",
                property.version
            ),
        );
    }
    property.version = version;
    property.value = body.get("value").cloned().unwrap_or(Value::Null);
    ok(property_json(key, property))
}

async fn v2_property_create(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    property_create(&shared, &id, &body, true)
}

async fn v2_property_update(
    State(shared): State<St>,
    Path((id, pid)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    property_update(&shared, &id, &|_, p| p.id.to_string() == pid, &body)
}

async fn v1_space(State(shared): State<St>, Path(key): Path<String>) -> Response {
    let instance = lock(&shared);
    match instance.space_by_key(&key) {
        Some(s) => ok(json!({"key": s.key, "name": s.key, "homepage": {"id": s.home.to_string()}})),
        None => fail(StatusCode::NOT_FOUND, format!("No space with key : {key}")),
    }
}

async fn v1_current_user(Extension(user): Extension<User>, State(shared): State<St>) -> Response {
    match lock(&shared).kind {
        Kind::Cloud => {
            ok(json!({"type": "known", "accountId": user.account, "displayName": user.name}))
        }
        Kind::DataCenter => ok(
            json!({"type": "known", "username": user.account, "userKey": user.account, "displayName": user.name}),
        ),
    }
}

async fn v1_find(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    let results: Vec<Value> = instance
        .pages
        .values()
        .filter(|p| p.status == "current")
        .filter(|p| q.get("spaceKey").is_none_or(|s| &p.space == s))
        .filter(|p| q.get("title").is_none_or(|t| &p.title == t))
        .map(|p| instance.v1(p))
        .collect();
    paged(
        &instance,
        results,
        &q,
        "/rest/api/content",
        Paging::Offset,
        25,
    )
}

async fn v1_create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Json(body): Json<Value>,
) -> Response {
    create(&shared, user, &body, false)
}

/// The CQL this server understands: `type = page and (ancestor = 1 or ancestor = 2 ...)`
/// (CQL keywords and operators are case-insensitive; spaces around `=` optional).
fn parse_cql(cql: &str) -> Option<Vec<u64>> {
    let lower = cql.trim().to_lowercase();
    let rest = lower
        .strip_prefix("type")?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let rest = rest
        .strip_prefix("page")?
        .trim_start()
        .strip_prefix("and")?
        .trim_start();
    let rest = rest.strip_prefix('(')?.strip_suffix(')')?;
    rest.split(" or ")
        .map(|term| {
            let value = term
                .trim()
                .strip_prefix("ancestor")?
                .trim_start()
                .strip_prefix('=')?;
            value.trim().trim_matches('"').parse().ok()
        })
        .collect()
}

async fn v1_search(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    let cql = q.get("cql").cloned().unwrap_or_default();
    let Some(roots) = parse_cql(&cql) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("Could not parse cql : {cql}"),
        );
    };
    let results: Vec<Value> = instance
        .pages
        .values()
        .filter(|p| p.status == "current" && p.indexed)
        .filter(|p| instance.ancestors(p).iter().any(|a| roots.contains(a)))
        .map(|p| instance.v1(p))
        .collect();
    paged(
        &instance,
        results,
        &q,
        "/rest/api/content/search",
        Paging::CqlCursor,
        25,
    )
}

async fn v1_get(State(shared): State<St>, Path(id): Path<String>, Query(q): Q) -> Response {
    let mut instance = lock(&shared);
    match page_mut(&mut instance, &id).map(|p| p.clone()) {
        Ok(page) => {
            let mut reply = instance.v1(&page);
            let expand = q.get("expand").map(String::as_str).unwrap_or("");
            if expand.split(',').any(|e| e == "body.storage") {
                reply["body"] =
                    json!({"storage": {"value": page.body, "representation": "storage"}});
            }
            ok(reply)
        }
        Err(r) => r,
    }
}

async fn v1_update(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    update(&shared, user, &id, &body, false)
}

async fn v1_delete(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut instance = lock(&shared);
    match page_mut(&mut instance, &id) {
        Ok(page) => {
            page.status = "trashed";
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

async fn v1_archive(State(shared): State<St>, Json(body): Json<Value>) -> Response {
    if let Err(r) = cloud_only(&shared) {
        return r;
    }
    let mut instance = lock(&shared);
    let mut ids = Vec::new();
    for entry in body
        .get("pages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // The documented request takes ids as JSON numbers; a quoted id is refused.
        match entry.get("id").and_then(Value::as_u64) {
            Some(id) => ids.push(id.to_string()),
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Invalid page id {}: ids must be numbers",
                        entry.get("id").unwrap_or(&Value::Null)
                    ),
                );
            }
        }
    }
    if ids.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "No pages to archive");
    }
    for id in &ids {
        match page_mut(&mut instance, id) {
            Ok(page) => page.status = "archived",
            Err(r) => return r,
        }
    }
    let task = instance.id();
    (StatusCode::ACCEPTED, Json(json!({"id": task.to_string(), "links": {"status": format!("/rest/api/longtask/{task}")}}))).into_response()
}

async fn v1_property_create(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    property_create(&shared, &id, &body, false)
}

async fn v1_property_get(
    State(shared): State<St>,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    with_page(&shared, &id, |page| match page.properties.get(&key) {
        Some(p) => ok(property_json(&key, p)),
        None => fail(
            StatusCode::NOT_FOUND,
            format!("No property found with key: {key}"),
        ),
    })
}

async fn v1_property_update(
    State(shared): State<St>,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    property_update(&shared, &id, &|k, _| k == key, &body)
}

async fn v1_labels(State(shared): State<St>, Path(id): Path<String>, Query(q): Q) -> Response {
    let list = (format!("/rest/api/content/{id}/label"), Paging::Offset, 200);
    page_list(&shared, &id, &q, list, |page| {
        page.labels
            .iter()
            .map(|l| json!({"prefix": "global", "name": l, "label": l}))
            .collect()
    })
}

async fn v1_labels_add(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    with_page(&shared, &id, |page| {
        for label in body.as_array().into_iter().flatten() {
            match label.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                    page.labels.insert(name.to_string());
                }
                _ => return fail(StatusCode::BAD_REQUEST, format!("Invalid label: {label}")),
            }
        }
        let results: Vec<Value> = page
            .labels
            .iter()
            .map(|l| json!({"prefix": "global", "name": l}))
            .collect();
        ok(json!({"results": results}))
    })
}

async fn v1_label_remove(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    with_page(&shared, &id, |page| match q.get("name") {
        Some(name) if page.labels.remove(name) => StatusCode::NO_CONTENT.into_response(),
        _ => fail(StatusCode::NOT_FOUND, "No such label on this content"),
    })
}

fn attachment_json(a: &Attachment) -> Value {
    json!({"id": format!("att{}", a.id), "type": "attachment", "title": a.filename, "version": {"number": a.version},
           "metadata": {"comment": a.comment, "mediaType": a.media_type},
           "extensions": {"fileSize": a.bytes, "mediaType": a.media_type, "comment": a.comment}})
}

async fn v1_attachments(State(shared): State<St>, Path(id): Path<String>, Query(q): Q) -> Response {
    let list = (
        format!("/rest/api/content/{id}/child/attachment"),
        Paging::Offset,
        25,
    );
    page_list(&shared, &id, &q, list, |page| {
        page.attachments
            .iter()
            .filter(|a| q.get("filename").is_none_or(|f| &a.filename == f))
            .map(attachment_json)
            .collect()
    })
}

/// An uploaded file as the simulator keeps it.
struct Upload {
    filename: String,
    size: usize,
    media_type: &'static str,
    /// The optional `comment` part (reference §2.9), "" without one.
    comment: String,
}

/// The uploaded file's name, size, sniffed type and comment, after the XSRF header check.
async fn upload(headers: &HeaderMap, mut multipart: Multipart) -> Result<Upload, Response> {
    // Read the whole request before judging it: answering with a body unread makes the server
    // drop a kept-alive connection under the client's next request.
    let mut file = None;
    let mut comment = String::new();
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("comment") {
            comment = field.text().await.unwrap_or_default();
        } else if field.name() == Some("file") && file.is_none() {
            let filename = field.file_name().unwrap_or("").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| fail(StatusCode::BAD_REQUEST, e.to_string()))?;
            file = Some((filename, bytes));
        }
    }
    if headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        != Some("no-check")
    {
        return Err(fail(StatusCode::FORBIDDEN, "XSRF check failed"));
    }
    match file {
        Some((filename, _)) if filename.is_empty() => {
            Err(fail(StatusCode::BAD_REQUEST, "The file has no name"))
        }
        Some((filename, bytes)) => Ok(Upload {
            filename,
            size: bytes.len(),
            media_type: sniff(&bytes),
            comment,
        }),
        None => Err(fail(
            StatusCode::BAD_REQUEST,
            "No file in the request (multipart field `file`)",
        )),
    }
}

async fn v1_attachment_create(
    State(shared): State<St>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let file = match upload(&headers, multipart).await {
        Ok(file) => file,
        Err(r) => return r,
    };
    let filename = file.filename;
    let mut instance = lock(&shared);
    let attachment_id = instance.id();
    let page = match page_mut(&mut instance, &id) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if page.attachments.iter().any(|a| a.filename == filename) {
        return fail(
            StatusCode::BAD_REQUEST,
            format!(
                "Cannot add a new attachment with same file name as an existing attachment: {filename}"
            ),
        );
    }
    let attachment = Attachment {
        id: attachment_id,
        filename,
        bytes: file.size,
        media_type: file.media_type,
        version: 1,
        comment: file.comment,
    };
    let reply = json!({"results": [attachment_json(&attachment)], "size": 1});
    page.attachments.push(attachment);
    ok(reply)
}

async fn v1_attachment_data(
    State(shared): State<St>,
    Path((id, att)): Path<(String, String)>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let file = match upload(&headers, multipart).await {
        Ok(file) => file,
        Err(r) => return r,
    };
    with_page(&shared, &id, |page| {
        match page
            .attachments
            .iter_mut()
            .find(|a| a.id.to_string() == att.trim_start_matches("att"))
        {
            Some(a) => {
                a.bytes = file.size;
                a.media_type = file.media_type;
                a.comment = file.comment.clone();
                a.version += 1;
                ok(attachment_json(a))
            }
            None => fail(
                StatusCode::NOT_FOUND,
                format!("No attachment with id {att}"),
            ),
        }
    })
}

async fn v1_move(
    State(shared): State<St>,
    Path((id, position, target)): Path<(String, String, String)>,
) -> Response {
    if position != "append" {
        return fail(
            StatusCode::BAD_REQUEST,
            "Only `append` is supported by this test server",
        );
    }
    let mut instance = lock(&shared);
    let target = match page_mut(&mut instance, &target) {
        Ok(t) => t.clone(),
        Err(r) => return r,
    };
    let page = match page_mut(&mut instance, &id) {
        Ok(p) => p.clone(),
        Err(r) => return r,
    };
    if target.id == page.id || instance.ancestors(&target).contains(&page.id) {
        return fail(StatusCode::BAD_REQUEST, "Cannot move a page under itself");
    }
    if target.space != page.space && instance.title_taken(&target.space, &page.title, Some(page.id))
    {
        return fail(
            StatusCode::BAD_REQUEST,
            "A page with this title already exists in the target space",
        );
    }
    let moved: Vec<u64> = std::iter::once(page.id)
        .chain(
            instance
                .pages
                .values()
                .filter(|p| instance.ancestors(p).contains(&page.id))
                .map(|p| p.id),
        )
        .collect();
    for m in moved {
        if let Some(p) = instance.pages.get_mut(&m) {
            p.space = target.space.clone();
        }
    }
    if let Some(p) = instance.pages.get_mut(&page.id) {
        p.parent = Some(target.id);
    }
    ok(json!({"pageId": page.id.to_string()}))
}

// --- control endpoints for tests and demos ---

type Instances = Arc<HashMap<&'static str, St>>;

fn control() -> Router<Instances> {
    Router::new()
        .route("/stats", get(stats))
        .route("/faults", post(set_faults))
        .route("/random-faults", post(set_random_faults))
        .route("/rate-limits", get(rate_limits))
        .route("/latency", post(set_latency))
        .route("/rules", post(set_rules))
        .route("/reindex", post(reindex))
        .route("/pages", get(dump_pages))
}

fn pick(instances: &Instances, name: &str) -> Result<St, Response> {
    instances
        .get(name)
        .cloned()
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "instances are `cloud` and `dc`"))
}

async fn stats(State(instances): State<Instances>, Path(name): Path<String>) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => ok(json!(lock(&shared).traffic.counts)),
        Err(r) => r,
    }
}

async fn set_faults(
    State(instances): State<Instances>,
    Path(name): Path<String>,
    Json(faults): Json<Vec<Fault>>,
) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => {
            lock(&shared).traffic.set_faults(faults);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

async fn set_random_faults(
    State(instances): State<Instances>,
    Path(name): Path<String>,
    Json(spec): Json<RandomFaults>,
) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => {
            lock(&shared).traffic.set_random_faults(spec);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

async fn rate_limits(State(instances): State<Instances>, Path(name): Path<String>) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => ok(json!(lock(&shared).traffic.rate_limits())),
        Err(r) => r,
    }
}

async fn set_latency(
    State(instances): State<Instances>,
    Path(name): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => {
            shared.latency_ms.store(
                body.get("ms").and_then(Value::as_u64).unwrap_or(0),
                Ordering::Relaxed,
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

/// Changes the named rules (a partial `Rules` object); answers all of them.
async fn set_rules(
    State(instances): State<Instances>,
    Path(name): Path<String>,
    Json(changes): Json<serde_json::Map<String, Value>>,
) -> Response {
    let shared = match pick(&instances, &name) {
        Ok(shared) => shared,
        Err(r) => return r,
    };
    let mut instance = lock(&shared);
    let mut rules = serde_json::to_value(&instance.rules).unwrap_or_default();
    for (key, value) in changes {
        rules[key] = value;
    }
    match serde_json::from_value::<Rules>(rules) {
        Ok(rules) if rules.page_size >= 1 => {
            instance.rules = rules;
            ok(json!(instance.rules))
        }
        Ok(_) => fail(StatusCode::BAD_REQUEST, "page_size must be at least 1"),
        Err(e) => fail(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The search index catches up: every page is found by CQL.
async fn reindex(State(instances): State<Instances>, Path(name): Path<String>) -> Response {
    match pick(&instances, &name) {
        Ok(shared) => {
            lock(&shared)
                .pages
                .values_mut()
                .for_each(|p| p.indexed = true);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

/// Every page (home pages included) with what tests assert on.
async fn dump_pages(State(instances): State<Instances>, Path(name): Path<String>) -> Response {
    let shared = match pick(&instances, &name) {
        Ok(shared) => shared,
        Err(r) => return r,
    };
    let instance = lock(&shared);
    let pages: Vec<Value> = instance
        .pages
        .values()
        .map(|p| {
            json!({
                "id": p.id.to_string(), "space": p.space, "title": p.title,
                "parent": p.parent.map(|x| x.to_string()), "status": p.status, "version": p.version,
                "by": p.by, "author": p.author, "body": p.body, "labels": p.labels,
                "properties": p.properties.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect::<BTreeMap<_, _>>(),
                "attachments": p.attachments.iter().map(|a| json!({"filename": a.filename, "bytes": a.bytes, "type": a.media_type, "version": a.version, "comment": a.comment})).collect::<Vec<_>>(),
            })
        })
        .collect();
    ok(Value::Array(pages))
}

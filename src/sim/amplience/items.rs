//! The hub's content items (reference §2.2-§2.4, §5.2 rules 2-9): create with a registered
//! schema and a valid, hub-unique delivery key (archived items keep theirs: 409
//! `CONTENT_ITEM_DELIVERY_KEY_DUPLICATE`); every update, archive and unarchive carries the current
//! `version` (else 409) and adds one; archived items refuse updates and publishing (400);
//! publishing is a job that advances one state per poll, after which the item is LATEST (EARLY
//! once edited again) and the delivery API serves the published body by its delivery key (the
//! key it had when published); lists are HAL pages, 0-based; a body over 200 KB is refused; a
//! body is validated against its schema when one was registered ([`super::schema`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{AmplienceArgs, St, errors, lock};

/// The content item body limit (reference §2.4: 200 KB).
const MAX_BODY: usize = 200 * 1024;
/// The states a publishing job passes through before it ends.
const JOB_STATES: [&str; 3] = ["CREATED", "PREPARING", "PUBLISHING"];

#[derive(Debug, Clone)]
struct Published {
    version: u64,
    body: Value,
    date: String,
}

#[derive(Debug, Clone)]
pub struct Item {
    id: String,
    repo: String,
    label: String,
    locale: Option<String>,
    body: Value,
    version: u64,
    archived: bool,
    created: Instant,
    created_date: String,
    modified_date: String,
    published: Option<Published>,
    unpublished: bool,
}

#[derive(Debug, Clone)]
struct Job {
    item: String,
    version: u64,
    body: Value,
    polls: u32,
}

#[derive(Default)]
pub struct Items {
    by_id: BTreeMap<String, Item>,
    jobs: BTreeMap<String, Job>,
    next: u64,
}

impl Items {
    pub fn all(&self) -> impl Iterator<Item = &Item> {
        self.by_id.values()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn key_of(body: &Value) -> Option<&str> {
    body.pointer("/_meta/deliveryKey").and_then(Value::as_str)
}

impl Item {
    fn publishing_status(&self) -> &'static str {
        match (&self.published, self.unpublished) {
            (_, true) => "UNPUBLISHED",
            (None, _) => "NONE",
            (Some(p), _) if p.version == self.version => "LATEST",
            (Some(_), _) => "EARLY",
        }
    }

    /// The resource as the management API returns it, with its HAL links.
    fn json(&self) -> Value {
        let me = format!("/amplience/v2/content/content-items/{}", self.id);
        let link = |suffix: &str| json!({"href": format!("{me}{suffix}")});
        json!({
            "id": self.id,
            "contentRepositoryId": self.repo,
            "label": self.label,
            "locale": self.locale,
            "body": self.body,
            "version": self.version,
            "status": if self.archived { "ARCHIVED" } else { "ACTIVE" },
            "createdDate": self.created_date,
            "lastModifiedDate": self.modified_date,
            "lastPublishedVersion": self.published.as_ref().map(|p| p.version),
            "lastPublishedDate": self.published.as_ref().map(|p| p.date.clone()),
            "publishingStatus": self.publishing_status(),
            "validationState": "VALID",
            "_links": {
                "self": link(""), "content-item": link(""), "update": link(""),
                "publish": link("/publish"), "unpublish": link("/unpublish"),
                "archive": link("/archive"), "unarchive": link("/unarchive"),
                "content-item-versions": {"href": format!("{me}/versions{{?page,size,sort}}"), "templated": true},
                "content-item-version": {"href": format!("{me}/versions{{/version}}"), "templated": true},
            },
        })
    }

    /// Everything, for `/__sim/amplience/items`.
    pub fn dump(&self) -> Value {
        let mut value = self.json();
        value["published"] = json!(
            self.published
                .as_ref()
                .map(|p| json!({"version": p.version, "body": p.body}))
        );
        value
    }
}

pub fn routes() -> Router<St> {
    Router::new()
        .route("/hubs/{hub}/content-repositories", get(repositories))
        .route("/hubs/{hub}/content-type-schemas", post(register_schema))
        .route(
            "/content-repositories/{repo}/content-items",
            get(list).post(create),
        )
        .route("/content-items/{id}", get(read).patch(update))
        .route("/content-items/{id}/{action}", post(act))
        .route("/publishing-jobs/{id}", get(job))
}

async fn repositories(State(shared): State<St>, Path(hub): Path<String>) -> Response {
    let args = &shared.args;
    if hub != args.amplience_hub {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no hub {hub}"),
            None,
        );
    }
    let repos: Vec<Value> = args
        .amplience_repositories
        .iter()
        .map(|r| json!({"id": r, "name": r, "contentTypes": args.amplience_schemas.iter().map(|s| json!({"contentTypeUri": s})).collect::<Vec<_>>()}))
        .collect();
    let n = repos.len();
    Json(json!({"_embedded": {"content-repositories": repos}, "page": {"size": n, "totalElements": n, "totalPages": 1, "number": 0}})).into_response()
}

/// `POST /hubs/{hub}/content-type-schemas`: registers a schema's body (a JSON string) under its
/// `schemaId`, so items naming it are validated against it.
async fn register_schema(
    State(shared): State<St>,
    Path(hub): Path<String>,
    Json(request): Json<Value>,
) -> Response {
    if hub != shared.args.amplience_hub {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no hub {hub}"),
            None,
        );
    }
    let id = request["schemaId"].as_str().unwrap_or_default().to_string();
    let body = request["body"]
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    let Some(body) = body.filter(|_| !id.is_empty()) else {
        return errors(
            StatusCode::BAD_REQUEST,
            "INVALID_SCHEMA",
            "`schemaId` and `body` (the schema as a JSON string) are required",
            Some("body"),
        );
    };
    lock(&shared).schemas.register(&id, body.clone());
    let reply = json!({"id": id, "schemaId": id, "body": body.to_string(), "validationLevel": request["validationLevel"], "version": 1});
    (StatusCode::CREATED, Json(reply)).into_response()
}

/// The body breaks its registered schema, unless `ignoreSchemaValidation=true` was asked.
fn check_schema(
    store: &super::Store,
    body: &Value,
    query: &BTreeMap<String, String>,
) -> Result<(), Response> {
    if query.get("ignoreSchemaValidation").map(String::as_str) == Some("true") {
        return Ok(());
    }
    let schema = body.pointer("/_meta/schema").and_then(Value::as_str);
    match schema.and_then(|id| store.schemas.violation(id, body)) {
        None => Ok(()),
        Some((property, what)) => Err(errors(
            StatusCode::BAD_REQUEST,
            "SCHEMA_VALIDATION_FAILED",
            &format!("{property} {what}"),
            Some(&property),
        )),
    }
}

/// A request body as JSON, refused over 200 KB and when it is not JSON.
fn parse(args: &AmplienceArgs, bytes: &Bytes) -> Result<Value, Response> {
    if bytes.len() > MAX_BODY {
        let status = StatusCode::from_u16(args.amplience_too_large_status)
            .unwrap_or(StatusCode::PAYLOAD_TOO_LARGE);
        let message = format!("the body is {} bytes, over the 200 KB limit", bytes.len());
        return Err(errors(status, "BODY_TOO_LARGE", &message, None));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        errors(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            &format!("not JSON: {e}"),
            None,
        )
    })
}

/// The delivery-key rules: 1-150 of `A-Z a-z 0-9 - _ /`, no `/` at either end, unique on the
/// hub among every other item, archived ones included.
fn check_key(items: &Items, body: &Value, except: Option<&str>) -> Result<(), Response> {
    let Some(key) = key_of(body) else {
        return Ok(());
    };
    let valid = (1..=150).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
        && !key.starts_with('/')
        && !key.ends_with('/');
    if !valid {
        return Err(errors(
            StatusCode::BAD_REQUEST,
            "CONTENT_ITEM_DELIVERY_KEY_INVALID",
            "A delivery key is 1 to 150 of A-Z a-z 0-9 - _ / without a leading or trailing /",
            Some("body._meta.deliveryKey"),
        ));
    }
    let taken = items
        .by_id
        .values()
        .any(|i| Some(i.id.as_str()) != except && key_of(&i.body) == Some(key));
    if taken {
        let body = json!({"errors": [{
            "level": "ERROR", "code": "CONTENT_ITEM_DELIVERY_KEY_DUPLICATE",
            "message": "Required delivery key already exists on this hub",
            "property": "body._meta.deliveryKey", "entity": "ContentItem", "invalidValue": key,
        }]});
        return Err((StatusCode::CONFLICT, Json(body)).into_response());
    }
    Ok(())
}

async fn create(
    State(shared): State<St>,
    Path(repo): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    bytes: Bytes,
) -> Response {
    let args = &shared.args;
    if !args.amplience_repositories.contains(&repo) {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no content repository {repo}"),
            None,
        );
    }
    let request = match parse(args, &bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let body = request.get("body").cloned().unwrap_or(Value::Null);
    let schema = body.pointer("/_meta/schema").and_then(Value::as_str);
    if !schema.is_some_and(|s| args.amplience_schemas.iter().any(|known| known == s)) {
        return errors(
            StatusCode::BAD_REQUEST,
            "CONTENT_TYPE_NOT_ASSIGNED",
            "body._meta.schema must name a content type schema registered on the hub and assigned to the repository",
            Some("body._meta.schema"),
        );
    }
    let mut store = lock(&shared);
    if let Err(r) = check_key(&store.items, &body, None) {
        return r;
    }
    if let Err(r) = check_schema(&store, &body, &query) {
        return r;
    }
    store.items.next += 1;
    let id = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        0xa1e0_0000u32 + store.items.next as u32,
        store.items.next
    );
    let item = Item {
        id: id.clone(),
        repo,
        label: request
            .get("label")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        locale: request
            .get("locale")
            .and_then(Value::as_str)
            .map(str::to_string),
        body,
        version: 1,
        archived: false,
        created: Instant::now(),
        created_date: now(),
        modified_date: now(),
        published: None,
        unpublished: false,
    };
    let reply = item.json();
    store.items.by_id.insert(id, item);
    let status = StatusCode::from_u16(args.amplience_create_status).unwrap_or(StatusCode::CREATED);
    (status, Json(reply)).into_response()
}

async fn list(
    State(shared): State<St>,
    Path(repo): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let args = &shared.args;
    let number: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut size: usize = q
        .get("size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    if size > args.amplience_max_page_size {
        if args.amplience_reject_page_size {
            let message = format!("size must be at most {}", args.amplience_max_page_size);
            return errors(
                StatusCode::BAD_REQUEST,
                "INVALID_PAGE_SIZE",
                &message,
                Some("size"),
            );
        }
        size = args.amplience_max_page_size;
    }
    let store = lock(&shared);
    let all: Vec<&Item> = store
        .items
        .by_id
        .values()
        .filter(|i| i.repo == repo)
        .collect();
    let pages = all.len().div_ceil(size);
    let page: Vec<Value> = all
        .iter()
        .skip(number * size)
        .take(size)
        .map(|i| i.json())
        .collect();
    let me = format!("/amplience/v2/content/content-repositories/{repo}/content-items");
    let at = |n: usize| json!({"href": format!("{me}?page={n}&size={size}")});
    let mut links =
        json!({"self": at(number), "first": at(0), "last": at(pages.saturating_sub(1))});
    if number + 1 < pages {
        links["next"] = at(number + 1);
    }
    Json(json!({
        "_embedded": {"content-items": page},
        "_links": links,
        "page": {"size": size, "totalElements": all.len(), "totalPages": pages, "number": number},
    }))
    .into_response()
}

/// The item `id`, unless it does not exist or is too new to be seen (the read-after-create lag).
fn visible<'s>(
    items: &'s mut Items,
    args: &AmplienceArgs,
    id: &str,
) -> Result<&'s mut Item, Response> {
    let lag = Duration::from_millis(args.amplience_read_lag_ms);
    match items.by_id.get_mut(id) {
        Some(item) if item.created.elapsed() >= lag => Ok(item),
        _ => Err(errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Content Item not found: {id}"),
            None,
        )),
    }
}

async fn read(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared);
    match visible(&mut store.items, &shared.args, &id) {
        Ok(item) => Json(item.json()).into_response(),
        Err(r) => r,
    }
}

/// The request's `version` must be the item's current one.
fn check_version(args: &AmplienceArgs, item: &Item, request: &Value) -> Result<(), Response> {
    let given = request.get("version").and_then(Value::as_u64);
    if given == Some(item.version) {
        return Ok(());
    }
    let message = format!(
        "version {} is not the current version {} of the content item",
        given.map_or("(none)".to_string(), |v| v.to_string()),
        item.version
    );
    Err(errors(
        StatusCode::CONFLICT,
        &args.amplience_version_conflict_code,
        &message,
        Some("version"),
    ))
}

fn archived_error() -> Response {
    errors(
        StatusCode::BAD_REQUEST,
        "CONTENT_ITEM_ARCHIVED",
        "the content item is archived",
        None,
    )
}

async fn update(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    bytes: Bytes,
) -> Response {
    let args = &shared.args;
    let request = match parse(args, &bytes) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut store = lock(&shared);
    let new_body = request.get("body").cloned();
    if let Some(body) = &new_body
        && let Err(r) = check_key(&store.items, body, Some(&id))
            .and_then(|()| check_schema(&store, body, &query))
    {
        return r;
    }
    let item = match visible(&mut store.items, args, &id) {
        Ok(item) => item,
        Err(r) => return r,
    };
    if let Err(r) = check_version(args, item, &request) {
        return r;
    }
    if item.archived {
        return archived_error();
    }
    if let Some(body) = new_body {
        item.body = body;
    }
    if let Some(label) = request.get("label").and_then(Value::as_str) {
        item.label = label.to_string();
    }
    item.version += 1;
    item.modified_date = now();
    Json(item.json()).into_response()
}

async fn act(
    State(shared): State<St>,
    Path((id, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let args = &shared.args;
    let mut store = lock(&shared);
    let items = &mut store.items;
    let item = match visible(items, args, &id) {
        Ok(item) => item,
        Err(r) => return r,
    };
    let step = u64::from(!args.amplience_archive_keeps_version);
    match action.as_str() {
        "archive" | "unarchive" => {
            let request = match parse(args, &bytes) {
                Ok(r) => r,
                Err(r) => return r,
            };
            if let Err(r) = check_version(args, item, &request) {
                return r;
            }
            let archiving = action == "archive";
            if item.archived == archiving {
                let state = if archiving {
                    "already archived"
                } else {
                    "not archived"
                };
                return errors(
                    StatusCode::BAD_REQUEST,
                    "INVALID_STATE",
                    &format!("the content item is {state}"),
                    None,
                );
            }
            item.archived = archiving;
            item.version += step;
            item.modified_date = now();
            Json(item.json()).into_response()
        }
        "publish" => {
            if item.archived {
                return archived_error();
            }
            let job = Job {
                item: id.clone(),
                version: item.version,
                body: item.body.clone(),
                polls: 0,
            };
            items.next += 1;
            let job_id = format!("job-{:06}", items.next);
            items.jobs.insert(job_id.clone(), job);
            let status =
                StatusCode::from_u16(args.amplience_publish_status).unwrap_or(StatusCode::ACCEPTED);
            let location = format!("/amplience/v2/content/publishing-jobs/{job_id}");
            (status, [(header::LOCATION, location)]).into_response()
        }
        "unpublish" => {
            item.unpublished = true;
            StatusCode::NO_CONTENT.into_response()
        }
        other => errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no action {other}"),
            None,
        ),
    }
}

/// A poll of a publishing job: one state further each time; at the end the item is published
/// (or the job FAILED, with `--amplience-fail-publish`).
async fn job(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let args = &shared.args;
    let mut store = lock(&shared);
    let items = &mut store.items;
    let Some(job) = items.jobs.get_mut(&id) else {
        return errors(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("no publishing job {id}"),
            None,
        );
    };
    let polls = args.amplience_job_polls.max(1);
    let state = if job.polls < polls {
        JOB_STATES[(job.polls as usize * JOB_STATES.len()) / polls as usize]
    } else if args.amplience_fail_publish {
        "FAILED"
    } else {
        "COMPLETED"
    };
    job.polls += 1;
    let finished_now = job.polls == polls + 1 && state == "COMPLETED";
    let (item_id, version, body) = (job.item.clone(), job.version, job.body.clone());
    if finished_now && let Some(item) = items.by_id.get_mut(&item_id) {
        item.published = Some(Published {
            version,
            body,
            date: now(),
        });
        item.unpublished = false;
    }
    let mut reply = json!({"id": id, "state": state, "contentItemId": item_id, "version": version});
    if state == "FAILED" {
        reply["publishErrorStatus"] = json!("FAILED_TO_PUBLISH");
    }
    Json(reply).into_response()
}

/// The delivery API: the published body of the item whose published version had `key`.
pub async fn delivery(State(shared): State<St>, Path(key): Path<String>) -> Response {
    let store = lock(&shared);
    let found = store.items.all().find_map(|i| {
        let p = i.published.as_ref().filter(|_| !i.unpublished)?;
        (key_of(&p.body) == Some(key.as_str())).then(|| p.body.clone())
    });
    match found {
        Some(body) => Json(json!({"content": body})).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
    }
}

//! The `community-v1` article endpoints and the rules they enforce: cursor paging, unique
//! external ids (409), `If-Match` drafts (412 when stale), publishing only the latest version
//! (409), archiving, the 1 MiB body limit (413) and the sanitiser (422).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::model::{Article, Store, Version};
use super::sanitiser::first_offence;
use super::{Answer, MAX_BODY, Q, St, User, fail, lock, now};

pub(super) async fn list(State(shared): State<St>, Query(q): Q) -> Response {
    let store = lock(&shared);
    let matches = |a: &&Article| {
        let latest = a.latest();
        q.get("external_id").is_none_or(|e| &a.external_id == e)
            && q.get("category").is_none_or(|c| &latest.category == c)
            && q.get("status").is_none_or(|s| a.status == s)
    };
    let start: usize = match q
        .get("cursor")
        .map(|c| c.strip_prefix('c').and_then(|n| n.parse().ok()))
    {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => return fail(StatusCode::BAD_REQUEST, "invalid", "unknown cursor"),
    };
    let all: Vec<&Article> = store.articles.values().filter(matches).collect();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(shared.page_size)
        .map(|a| a.json(false))
        .collect();
    let next = start + shared.page_size;
    let next_cursor = (next < all.len()).then(|| format!("c{next}"));
    Json(json!({"data": page, "next_cursor": next_cursor})).into_response()
}

pub(super) fn find<'s>(store: &'s mut Store, id: &str) -> Result<&'s mut Article, Response> {
    store.articles.get_mut(id).ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no article {id}"),
        )
    })
}

pub(super) async fn read(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared);
    find(&mut store, &id).map_or_else(|r| r, |a| Json(a.json(true)).into_response())
}

pub(super) async fn revisions(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared);
    match find(&mut store, &id) {
        Ok(a) => {
            let data: Vec<Value> = a
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = i as u64 + 1;
                    let status = match (a.published_version, a.status) {
                        (Some(p), _) if p == n => "published",
                        (_, "archived") if n == a.version() => "archived",
                        _ => "draft",
                    };
                    json!({"version": n, "status": status, "content_hash": v.content_hash, "published_at": v.published_at})
                })
                .collect();
            Json(json!({"data": data})).into_response()
        }
        Err(r) => r,
    }
}

/// A create or draft request, checked as the contract says: size (413), fields (400), then the
/// sanitiser (422). Fields the request omits are taken from `previous` when given (the
/// `--community-carry-over` platform behaviour).
pub(super) fn version_from(
    bytes: &Bytes,
    user: &User,
    previous: Option<&Version>,
) -> Result<(Option<String>, Version), Response> {
    if bytes.len() > MAX_BODY {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request is {} bytes, over the 1 MiB limit", bytes.len()),
        ));
    }
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, "invalid", format!("not JSON: {e}")))?;
    let given = |key: &str| body.get(key).and_then(Value::as_str).map(String::from);
    let carried = |key: &str| {
        previous.and_then(|p| match key {
            "title" => Some(p.title.clone()),
            "body" => Some(p.body.clone()),
            "category" => Some(p.category.clone()),
            "locale" => Some(p.locale.clone()),
            "content_hash" => p.content_hash.clone(),
            _ => None,
        })
    };
    let text = |key: &str| match body.get(key) {
        None => carried(key),
        Some(_) => given(key),
    };
    let required = |key: &str| {
        text(key).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("`{key}` is required"),
            )
        })
    };
    let version = Version {
        title: required("title")?,
        body: text("body").unwrap_or_default(),
        category: required("category")?,
        labels: match body.get("labels") {
            None => previous.map(|p| p.labels.clone()).unwrap_or_default(),
            Some(labels) => serde_json::from_value(labels.clone()).map_err(|_| {
                fail(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "`labels` must be a list of strings",
                )
            })?,
        },
        locale: text("locale").unwrap_or_else(|| "en".into()),
        content_hash: text("content_hash").filter(|h| !h.is_empty()),
        by: user.0.clone(),
        created_at: now(),
        published_at: None,
    };
    if let Some(problem) = first_offence(&version.body) {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected_by_sanitiser",
            problem,
        ));
    }
    Ok((given("external_id"), version))
}

pub(super) async fn create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    bytes: Bytes,
) -> Response {
    let (external_id, version) = match version_from(&bytes, &user, None) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(external_id) = external_id.filter(|e| !e.trim().is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid",
            "`external_id` is required",
        );
    };
    let mut store = lock(&shared);
    if let Some(taken) = store
        .articles
        .values()
        .find(|a| a.external_id == external_id)
    {
        return fail(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "external_id `{external_id}` is used by article {}",
                taken.id
            ),
        );
    }
    store.next_id += 1;
    let id = format!("art_{:04x}", 0x81f0 + store.next_id);
    let article = Article {
        id: id.clone(),
        external_id,
        status: "draft",
        versions: vec![version],
        published_version: None,
        archived: None,
        updated_at: now(),
    };
    let reply = article.json(false);
    store.articles.insert(id, article);
    (StatusCode::CREATED, Json(reply)).into_response()
}

pub(super) async fn draft(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let answer = (|| -> Answer {
        let if_match = headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "invalid", "If-Match is required"))?;
        let mut store = lock(&shared);
        let article = find(&mut store, &id)?;
        let previous = shared.carry_over.then(|| article.latest().clone());
        let (_, version) = version_from(&bytes, &user, previous.as_ref())?;
        if if_match != article.etag() {
            return Err(fail(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                format!(
                    "If-Match {if_match} is stale: the article is at {}",
                    article.etag()
                ),
            ));
        }
        article.versions.push(version);
        article.updated_at = now();
        if article.status == "archived" {
            article.status = "draft";
            article.archived = None;
        }
        Ok(Json(article.json(false)).into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

pub(super) async fn publish(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let answer = (|| -> Answer {
        let mut store = lock(&shared);
        let article = find(&mut store, &id)?;
        let version = body.get("version").and_then(Value::as_u64);
        if version != Some(article.version()) {
            return Err(fail(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "version {version:?} is not the latest version ({})",
                    article.version()
                ),
            ));
        }
        if article.published_version != version || article.status != "published" {
            let at = now();
            article.versions.last_mut().expect("a version").published_at = Some(at.clone());
            article.published_version = version;
            article.status = "published";
            article.archived = None;
            article.updated_at = at;
        }
        Ok(Json(article.json(false)).into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

pub(super) async fn archive(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = lock(&shared);
    match find(&mut store, &id) {
        Ok(article) => {
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(String::from);
            article.status = "archived";
            article.archived = Some((text("reason").unwrap_or_default(), text("superseded_by")));
            article.updated_at = now();
            Json(article.json(false)).into_response()
        }
        Err(r) => r,
    }
}

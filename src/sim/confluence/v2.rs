//! The REST v2 surface (Cloud only: Data Center's admission answers 404): spaces, pages and their
//! properties, with cursor paging.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::model::{Instance, PageRec, St, User, lock, property_json};
use super::pages::{create, property_create, property_update, update};
use super::paging::{Paging, paged};
use super::{Q, current_pages, one_page, page_list};

pub(super) async fn v2_spaces(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
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

pub(super) async fn v2_find(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    let space_id: Option<u64> = q.get("space-id").and_then(|s| s.parse().ok());
    let space = space_id
        .and_then(|id| instance.spaces.iter().find(|s| s.id == id))
        .map(|s| s.key.clone());
    let keep = |p: &PageRec| {
        space.as_ref().is_none_or(|s| &p.space == s) && q.get("title").is_none_or(|t| &p.title == t)
    };
    let list = ("/api/v2/pages", Paging::V2Cursor);
    current_pages(&instance, &q, keep, Instance::v2, list)
}

pub(super) async fn v2_create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Json(body): Json<Value>,
) -> Response {
    create(&shared, user, &body, true)
}

pub(super) async fn v2_get(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let with_body = q.get("body-format").map(String::as_str) == Some("storage");
    one_page(&shared, &id, Instance::v2, with_body)
}

pub(super) async fn v2_update(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    update(&shared, user, &id, &body, true)
}

pub(super) async fn v2_properties(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
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

pub(super) async fn v2_property_create(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    property_create(&shared, &id, &body, true)
}

pub(super) async fn v2_property_update(
    State(shared): State<St>,
    Path((id, pid)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    property_update(&shared, &id, &|_, p| p.id.to_string() == pid, &body)
}

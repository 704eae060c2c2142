//! An instance's own control endpoints, beside the shared layer's (no auth, not counted): `POST
//! rules` switches the behaviours the reference leaves open, `POST reindex` lets the lagging CQL
//! index catch up, `GET pages` shows every page with what tests assert on.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::model::{Rules, St, lock};
use super::{fail, ok};

/// `rules`, `reindex` and `pages` of the instance `shared`.
pub(super) fn router(shared: St) -> Router {
    Router::new()
        .route("/rules", post(set_rules))
        .route("/reindex", post(reindex))
        .route("/pages", get(dump_pages))
        .with_state(shared)
}

/// Changes the named rules (a partial `Rules` object); answers all of them.
async fn set_rules(
    State(shared): State<St>,
    Json(changes): Json<serde_json::Map<String, Value>>,
) -> Response {
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
async fn reindex(State(shared): State<St>) -> Response {
    lock(&shared)
        .pages
        .values_mut()
        .for_each(|p| p.indexed = true);
    StatusCode::NO_CONTENT.into_response()
}

/// Every page (home pages included) with what tests assert on.
async fn dump_pages(State(shared): State<St>) -> Response {
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

//! The Salesforce simulator's own control endpoints under `/__sim/salesforce/` (no auth, not
//! counted), beside the shared layer's `stats`, `faults`, `random-faults`, `rate-limits` and
//! `latency` (an injected 400 answers `UNABLE_TO_LOCK_ROW`, 403 `REQUEST_LIMIT_EXCEEDED`, 5xx a
//! server error; `commit` runs the write first): `articles` (every `Knowledge__kav` version,
//! bodies and data categories included), `partner-view` (what a partner site shows: online
//! versions visible in the partner or customer channel), `seed` (replace the CRM rows of the
//! objects given), `edit` (a person edits an article in Salesforce, through the same REST
//! handlers kbpub calls), `expire` (end every session and query locator now), `limits` (GET the
//! API usage and allocation, POST to set them).

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::knowledge;
use super::model::{Org, Status};
use super::{NEWEST_VERSION, St};

/// The user a person's edit runs as.
pub const PERSON: &str = "person@kbpub.test";

pub fn router(shared: St) -> Router {
    Router::new()
        .route("/articles", get(articles))
        .route("/partner-view", get(partner_view))
        .route("/seed", post(seed))
        .route("/edit", post(edit))
        .route("/expire", post(expire))
        .route("/limits", get(usage).post(limits))
        .with_state(shared)
}

/// The CRM rows the simulator starts with: the sample knowledge base's partners.
pub fn seed_default(org: &mut Org) {
    let rows: Map<String, Value> =
        serde_json::from_str(include_str!("seed.json")).expect("seed.json is valid");
    replace_rows(org, rows);
}

/// Replaces the rows of each object in `rows`, giving rows without an `Id` one.
fn replace_rows(org: &mut Org, rows: Map<String, Value>) {
    for (object, list) in rows {
        let prefix = match object.as_str() {
            "Account" => "001",
            "Contact" => "003",
            "Case" => "500",
            _ => "005",
        };
        let mut kept = Vec::new();
        for row in list.as_array().into_iter().flatten() {
            let Some(mut row) = row.as_object().cloned() else {
                continue;
            };
            if !row.contains_key("Id") {
                row.insert("Id".into(), json!(org.new_id(prefix)));
            }
            kept.push(row);
        }
        org.rows.insert(object, kept);
    }
}

fn version_json(org: &Org, version: &super::model::Version) -> Value {
    let mut row = knowledge::row(version, NEWEST_VERSION);
    row.remove("attributes");
    let categories: Vec<Value> = org
        .categories
        .values()
        .filter(|c| c.parent_id == version.id)
        .map(|c| json!({"group": c.group, "name": c.name}))
        .collect();
    row.insert("DataCategories".into(), Value::Array(categories));
    Value::Object(row)
}

async fn articles(State(shared): State<St>) -> Response {
    let org = shared.lock();
    let all: Vec<Value> = org
        .versions
        .values()
        .map(|v| version_json(&org, v))
        .collect();
    Json(all).into_response()
}

async fn partner_view(State(shared): State<St>) -> Response {
    let org = shared.lock();
    let visible: Vec<Value> = org
        .versions
        .values()
        .filter(|v| v.status == Status::Online)
        .filter(|v| {
            ["IsVisibleInPrm", "IsVisibleInCsp"]
                .iter()
                .any(|flag| v.fields.get(*flag) == Some(&json!(true)))
        })
        .map(|v| version_json(&org, v))
        .collect();
    Json(visible).into_response()
}

async fn seed(State(shared): State<St>, Json(rows): Json<Map<String, Value>>) -> Response {
    replace_rows(&mut shared.lock(), rows);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    #[serde(rename = "UrlName")]
    url_name: String,
    fields: Map<String, Value>,
    #[serde(default)]
    publish: bool,
}

/// A person edits the article with `UrlName` in Salesforce: its draft, or a new draft from the
/// online version; then, with `publish`, publishes it (minor). Answers what the REST call that
/// failed answered, or 204.
async fn edit(State(shared): State<St>, Json(request): Json<Edit>) -> Response {
    let version = format!("v{NEWEST_VERSION}.0");
    let person = || Extension(Caller(PERSON.to_string()));
    let found = {
        let org = shared.lock();
        org.versions
            .values()
            .find(|v| {
                v.status != Status::Archived
                    && v.fields.get("UrlName").and_then(Value::as_str) == Some(&request.url_name)
            })
            .map(|v| {
                let draft = org
                    .in_status(&v.article_id, Status::Draft)
                    .map(|d| d.id.clone());
                (v.article_id.clone(), draft)
            })
    };
    let Some((article_id, draft)) = found else {
        return super::model::not_found();
    };
    let draft = match draft {
        Some(draft) => draft,
        None => {
            let body = Bytes::from(json!({"articleId": article_id}).to_string());
            let created = knowledge::new_draft(State(shared.clone()), person(), body).await;
            if created.status() != StatusCode::CREATED {
                return created;
            }
            let org = shared.lock();
            match org.in_status(&article_id, Status::Draft) {
                Some(d) => d.id.clone(),
                None => return super::model::not_found(),
            }
        }
    };
    let body = Bytes::from(Value::Object(request.fields).to_string());
    let path = || Path((version.clone(), draft.clone()));
    let updated = knowledge::update(
        State(shared.clone()),
        person(),
        path(),
        HeaderMap::new(),
        body,
    )
    .await;
    if updated.status() != StatusCode::NO_CONTENT || !request.publish {
        return updated;
    }
    let body = Bytes::from(json!({"publishStatus": "Online"}).to_string());
    knowledge::change_status(State(shared.clone()), path(), body).await
}

async fn expire(State(shared): State<St>) -> Response {
    let mut org = shared.lock();
    org.sessions.clear();
    org.locators.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    used: Option<u64>,
    max: Option<u64>,
}

async fn usage(State(shared): State<St>) -> Response {
    let org = shared.lock();
    Json(json!({"used": org.api_used, "max": org.api_max})).into_response()
}

async fn limits(State(shared): State<St>, Json(limits): Json<Limits>) -> Response {
    let mut org = shared.lock();
    if let Some(used) = limits.used {
        org.api_used = used;
    }
    if let Some(max) = limits.max {
        org.api_max = max;
    }
    StatusCode::NO_CONTENT.into_response()
}

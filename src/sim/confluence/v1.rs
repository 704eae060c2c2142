//! The REST v1 surface (Cloud under `/wiki`, Data Center under `/confluence`): spaces, the
//! current user, content find/create/get/update/delete, CQL search, archive, properties, labels,
//! attachments (multipart, `X-Atlassian-Token: no-check`) and moves.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::model::{
    Attachment, Instance, Kind, PageRec, St, User, attachment_json, lock, parse_cql, property_json,
    sniff,
};
use super::pages::{create, property_create, property_update, update};
use super::paging::Paging;
use super::{Q, cloud_only, current_pages, fail, ok, one_page, page_list, page_mut, with_page};

pub(super) async fn v1_space(State(shared): State<St>, Path(key): Path<String>) -> Response {
    let instance = lock(&shared);
    match instance.space_by_key(&key) {
        Some(s) => ok(json!({"key": s.key, "name": s.key, "homepage": {"id": s.home.to_string()}})),
        None => fail(StatusCode::NOT_FOUND, format!("No space with key : {key}")),
    }
}

pub(super) async fn v1_current_user(
    Extension(user): Extension<User>,
    State(shared): State<St>,
) -> Response {
    match lock(&shared).kind {
        Kind::Cloud => {
            ok(json!({"type": "known", "accountId": user.account, "displayName": user.name}))
        }
        Kind::DataCenter => ok(
            json!({"type": "known", "username": user.account, "userKey": user.account, "displayName": user.name}),
        ),
    }
}

pub(super) async fn v1_find(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    let keep = |p: &PageRec| {
        q.get("spaceKey").is_none_or(|s| &p.space == s)
            && q.get("title").is_none_or(|t| &p.title == t)
    };
    let list = ("/rest/api/content", Paging::Offset);
    current_pages(&instance, &q, keep, Instance::v1, list)
}

pub(super) async fn v1_create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Json(body): Json<Value>,
) -> Response {
    create(&shared, user, &body, false)
}

pub(super) async fn v1_search(State(shared): State<St>, Query(q): Q) -> Response {
    let instance = lock(&shared);
    let cql = q.get("cql").cloned().unwrap_or_default();
    let Some(roots) = parse_cql(&cql) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("Could not parse cql : {cql}"),
        );
    };
    let keep = |p: &PageRec| p.indexed && instance.ancestors(p).iter().any(|a| roots.contains(a));
    let list = ("/rest/api/content/search", Paging::CqlCursor);
    current_pages(&instance, &q, keep, Instance::v1, list)
}

pub(super) async fn v1_get(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let expand = q.get("expand").map(String::as_str).unwrap_or("");
    let with_body = expand.split(',').any(|e| e == "body.storage");
    one_page(&shared, &id, Instance::v1, with_body)
}

pub(super) async fn v1_update(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    update(&shared, user, &id, &body, false)
}

pub(super) async fn v1_delete(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut instance = lock(&shared);
    match page_mut(&mut instance, &id) {
        Ok(page) => {
            page.status = "trashed";
            StatusCode::NO_CONTENT.into_response()
        }
        Err(r) => r,
    }
}

pub(super) async fn v1_archive(State(shared): State<St>, Json(body): Json<Value>) -> Response {
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

pub(super) async fn v1_property_create(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    property_create(&shared, &id, &body, false)
}

pub(super) async fn v1_property_get(
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

pub(super) async fn v1_property_update(
    State(shared): State<St>,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    property_update(&shared, &id, &|k, _| k == key, &body)
}

pub(super) async fn v1_labels(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let list = (format!("/rest/api/content/{id}/label"), Paging::Offset, 200);
    page_list(&shared, &id, &q, list, |page| {
        page.labels
            .iter()
            .map(|l| json!({"prefix": "global", "name": l, "label": l}))
            .collect()
    })
}

pub(super) async fn v1_labels_add(
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

pub(super) async fn v1_label_remove(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    with_page(&shared, &id, |page| match q.get("name") {
        Some(name) if page.labels.remove(name) => StatusCode::NO_CONTENT.into_response(),
        _ => fail(StatusCode::NOT_FOUND, "No such label on this content"),
    })
}

pub(super) async fn v1_attachments(
    State(shared): State<St>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
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
pub(super) struct Upload {
    filename: String,
    size: usize,
    media_type: &'static str,
    /// The optional `comment` part (reference §2.9), "" without one.
    comment: String,
}

/// The uploaded file's name, size, sniffed type and comment, after the XSRF header check.
pub(super) async fn upload(
    headers: &HeaderMap,
    mut multipart: Multipart,
) -> Result<Upload, Response> {
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

pub(super) async fn v1_attachment_create(
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

pub(super) async fn v1_attachment_data(
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

pub(super) async fn v1_move(
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

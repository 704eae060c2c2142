//! The write rules both APIs share, over either one's JSON: a page needs a title, a known space
//! and a current parent in it; titles are unique per space ignoring case; an update carries the
//! current version + 1 (else 409) and cannot change the space; storage bodies must parse as XML;
//! a property's version also goes up by one, and a duplicate key is refused (400 on v1, 409 on v2).

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::model::{Instance, PageRec, Property, St, User, lock, now, property_json};
use super::{fail, ok, page_mut};

/// Checks a storage body the way Confluence does: it must parse as XML.
pub(super) fn check_xhtml(body: &str) -> Result<(), Response> {
    let document = format!(
        "<ac:root xmlns:ac=\"http://atlassian.com/content\" xmlns:ri=\"http://atlassian.com/resource/identifier\" xmlns=\"http://www.w3.org/1999/xhtml\">{body}</ac:root>"
    );
    roxmltree::Document::parse(&document)
        .map(|_| ())
        .map_err(|e| fail(StatusCode::BAD_REQUEST, format!("Error parsing xhtml: {e}")))
}

/// What a create or update asks for, from either API's JSON.
pub(super) struct PageInput {
    space: String,
    title: String,
    parent: Option<u64>,
    body: String,
    version: Option<(u64, String)>,
}

pub(super) fn input(instance: &Instance, body: &Value, v2: bool) -> Result<PageInput, Response> {
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
        // The last ancestor is the parent (reference §1.2).
        let ancestors = body
            .pointer("/ancestors")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        ancestors
            .checked_sub(1)
            .and_then(|last| id_at(&format!("/ancestors/{last}/id")))
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

pub(super) fn create(shared: &St, user: User, body: &Value, v2: bool) -> Response {
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

pub(super) fn update(shared: &St, user: User, id: &str, body: &Value, v2: bool) -> Response {
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
        return version_conflict(current.version);
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

/// Creates a property; a key the page already has is a 400 on v1 (reference §2.10), a 409 on v2.
pub(super) fn property_create(shared: &St, id: &str, body: &Value, v2: bool) -> Response {
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

pub(super) fn property_update(
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
        return version_conflict(property.version);
    }
    property.version = version;
    property.value = body.get("value").cloned().unwrap_or(Value::Null);
    ok(property_json(key, property))
}

/// The 409 for a version that is not the current one + 1 (reference §2.4, §2.10).
fn version_conflict(current: u64) -> Response {
    fail(
        StatusCode::CONFLICT,
        format!("Version must be incremented on update. Current version is: {current}"),
    )
}

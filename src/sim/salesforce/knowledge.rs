//! The `Knowledge__kav` lifecycle (reference §1.2–1.3, emulator rules 7–8 and 12): create a
//! draft (K2), read and update a draft (K3, `If-Unmodified-Since`), a new draft from the online
//! version (K5), publish minor or major (K4), archive (K6), unpublish (K7), delete a draft (K8),
//! data-category selections on drafts (K9), the images of a rich-text body
//! (`richTextImageFields`), and the object's `describe`. Field rules: `Title`,
//! `UrlName` (format, uniqueness across articles), `Summary`, the body field's size, read-only
//! fields refused, `RecordTypeId` one of the org's article types (reference §1.2: article types
//! are record types; a create without one gets the org's default).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::{ApiVersion, Caller};
use super::model::{
    CategorySelection, INTEGRATION_USER_ID, Org, PERSON_USER_ID, Status, Version, not_found,
    sf_error, sf_time,
};
use super::{Rules, St, richtext};

type Answer = Result<Response, Response>;

/// Fields of `Knowledge__kav` no client may write (rule 7).
const READ_ONLY: &[&str] = &[
    "Id",
    "PublishStatus",
    "IsVisibleInApp",
    "VersionNumber",
    "KnowledgeArticleId",
    "ArticleNumber",
    "IsLatestVersion",
    "FirstPublishedDate",
    "LastPublishedDate",
    "LastModifiedDate",
    "LastModifiedById",
    "CreatedDate",
    "CreatedById",
    "SystemModstamp",
];
const CHANNELS: &[&str] = &["IsVisibleInPrm", "IsVisibleInCsp", "IsVisibleInPkb"];

/// The user id of a caller's user name.
pub fn user_id(rules: &Rules, user: &str) -> &'static str {
    if user == rules.user {
        INTEGRATION_USER_ID
    } else {
        PERSON_USER_ID
    }
}

/// Every field name `Knowledge__kav` has, in `describe` order.
pub fn field_names(rules: &Rules) -> Vec<String> {
    let standard = [
        "Id",
        "KnowledgeArticleId",
        "ArticleNumber",
        "PublishStatus",
        "VersionNumber",
        "IsLatestVersion",
        "Title",
        "UrlName",
        "Summary",
        "Language",
        "RecordTypeId",
        "IsVisibleInApp",
        "IsVisibleInPrm",
        "IsVisibleInCsp",
        "IsVisibleInPkb",
        "FirstPublishedDate",
        "LastPublishedDate",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
    ];
    let mut names: Vec<String> = standard.iter().map(|s| s.to_string()).collect();
    names.push(rules.body_field.clone());
    names.extend(rules.text_fields.iter().cloned());
    names
}

/// A version as a query row or a retrieve answer.
pub fn row(version: &Version, api: u32) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert(
        "attributes".into(),
        json!({"type": "Knowledge__kav", "url": format!("/services/data/v{api}.0/sobjects/Knowledge__kav/{}", version.id)}),
    );
    row.insert("Id".into(), json!(version.id));
    row.insert("KnowledgeArticleId".into(), json!(version.article_id));
    row.insert("ArticleNumber".into(), json!(version.article_number));
    row.insert("PublishStatus".into(), json!(version.status.name()));
    row.insert("VersionNumber".into(), json!(version.version_number));
    row.insert(
        "IsLatestVersion".into(),
        json!(version.status != Status::Archived),
    );
    row.insert("IsVisibleInApp".into(), json!(true));
    for channel in CHANNELS {
        row.insert(channel.to_string(), json!(false));
    }
    for (key, value) in &version.fields {
        row.insert(key.clone(), value.clone());
    }
    row.insert("FirstPublishedDate".into(), json!(version.first_published));
    row.insert("LastPublishedDate".into(), json!(version.last_published));
    row.insert("CreatedById".into(), json!(version.created_by));
    row.insert("LastModifiedById".into(), json!(version.last_modified_by));
    let modified = sf_time(version.last_modified);
    row.insert("LastModifiedDate".into(), json!(modified));
    row.insert("SystemModstamp".into(), json!(modified));
    row
}

fn state_error(rules: &Rules, message: &str) -> Response {
    sf_error(StatusCode::BAD_REQUEST, &rules.state_error, message, &[])
}

/// The message Salesforce gives for an action invalid in the article's state (reference §5.1
/// rule 9).
const INVALID_STATE: &str = "You can't perform this action. Be sure the action is valid for the current state of the article, and that you have permission to perform it.";

fn too_long(field: &str, max: usize) -> Response {
    sf_error(
        StatusCode::BAD_REQUEST,
        "STRING_TOO_LONG",
        format!("{field}: data value too large (max length={max})"),
        &[field],
    )
}

/// Whether `name` is a valid `UrlName`: alphanumerics and hyphens, not starting or ending with
/// a hyphen, at most 255 characters.
pub fn urlname_is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 255
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A request body that must be a JSON object (else 400 `JSON_PARSER_ERROR`).
fn json_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    serde_json::from_slice(body).map_err(|e| {
        sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!("The request body is not a JSON object: {e}"),
            &[],
        )
    })
}

/// The fields of a create (`creating`) or update body, checked: read-only and unknown fields,
/// types, required fields, lengths, `UrlName`'s format and uniqueness (against articles other
/// than `own_article`). The body field comes back as sent; [`richtext::store`] runs on save.
fn checked_fields(
    rules: &Rules,
    org: &Org,
    body: &Bytes,
    creating: bool,
    own_article: Option<&str>,
) -> Result<Map<String, Value>, Response> {
    let fields = json_object(body)?;
    for (key, value) in &fields {
        let read_only = READ_ONLY.contains(&key.as_str()) || (!creating && key == "Language");
        if read_only {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {key}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."
                ),
                &[key],
            ));
        }
        let text = ["Title", "UrlName", "Summary", "Language"].contains(&key.as_str())
            || key == &rules.body_field
            || rules.text_fields.contains(key);
        let well_typed = if CHANNELS.contains(&key.as_str()) {
            value.is_boolean()
        } else if key == "RecordTypeId" {
            value.is_string()
        } else if text {
            value.is_string() || value.is_null()
        } else {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                format!("No such column '{key}' on sobject of type Knowledge__kav"),
                &[],
            ));
        };
        if !well_typed {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                format!("Cannot deserialize the value of {key}"),
                &[key],
            ));
        }
    }
    let text = |key: &str| fields.get(key).and_then(Value::as_str);
    let mut required = vec!["Title", "UrlName"];
    if rules.multilingual {
        required.push("Language");
    }
    for key in required {
        let missing = match fields.get(key) {
            None => creating,
            Some(value) => value.as_str().is_none_or(str::is_empty),
        };
        if missing {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{key}]"),
                &[key],
            ));
        }
    }
    let mut limits: Vec<(&str, usize)> = vec![("Title", 255), ("Summary", 1000)];
    limits.push((&rules.body_field, rules.body_limit));
    limits.extend(rules.text_fields.iter().map(|f| (f.as_str(), 255)));
    for (key, max) in limits {
        if text(key).is_some_and(|v| v.chars().count() > max) {
            return Err(too_long(key, max));
        }
    }
    if let Some(record_type) = text("RecordTypeId")
        && !is_record_type(rules, record_type)
    {
        return Err(sf_error(
            StatusCode::BAD_REQUEST,
            &rules.record_type_error,
            format!("Record Type ID: this ID value isn't valid for the user: {record_type}"),
            &["RecordTypeId"],
        ));
    }
    if let Some(name) = text("UrlName") {
        if !urlname_is_valid(name) {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                &rules.urlname_error,
                "URL Name: Invalid URL name. Use only alphanumerics and hyphens; don't begin or end with a hyphen.",
                &["UrlName"],
            ));
        }
        let same = |other: &str| match rules.urlname_case_insensitive {
            true => other.eq_ignore_ascii_case(name),
            false => other == name,
        };
        let taken = org.versions.values().find(|v| {
            Some(v.article_id.as_str()) != own_article
                && v.fields
                    .get("UrlName")
                    .and_then(Value::as_str)
                    .is_some_and(same)
        });
        if let Some(taken) = taken {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: UrlName duplicates value on record with id: {}",
                    taken.id
                ),
                &["UrlName"],
            ));
        }
    }
    Ok(fields)
}

/// Whether `id` names one of the org's article types, in its 15- or 18-character form.
fn is_record_type(rules: &Rules, id: &str) -> bool {
    let short = |id: &str| id.get(..15).map(str::to_string);
    (id.len() == 15 || id.len() == 18)
        && rules
            .record_types
            .iter()
            .any(|known| short(known) == short(id))
}

/// Stores `fields` into `version`, the body through the rich-text field's rules; the images
/// taken out of the body.
fn apply(
    rules: &Rules,
    version: &mut Version,
    fields: Map<String, Value>,
    user: &str,
) -> Vec<richtext::Image> {
    let mut images = Vec::new();
    for (key, value) in fields {
        let value = match value.as_str() {
            Some(html) if key == rules.body_field => {
                let stored = richtext::store(html, &version.id);
                images.extend(stored.images);
                json!(stored.html)
            }
            _ => value,
        };
        version.fields.insert(key, value);
    }
    version.last_modified = chrono::Utc::now();
    version.last_modified_by = user_id(rules, user).to_string();
    images
}

/// Keeps `images` for `richTextImageFields`.
fn keep(org: &mut Org, images: Vec<richtext::Image>) {
    org.images
        .extend(images.into_iter().map(|i| (i.refid.clone(), i)));
}

/// `GET /sobjects/Knowledge__kav/{id}/richTextImageFields/{field}/{refid}`: an image of the
/// version's rich-text body (reference §1.6), as the bytes sent; 404 when the version's body
/// does not show it.
pub async fn rich_text_image(
    State(shared): State<St>,
    Path((_, id, field, refid)): Path<(String, String, String, String)>,
) -> Response {
    let org = shared.lock();
    let shown = org
        .versions
        .get(&id)
        .filter(|_| field == shared.rules.body_field)
        .and_then(|v| v.fields.get(&field))
        .and_then(Value::as_str)
        .is_some_and(|body| body.contains(&format!("refid={refid}")));
    match org.images.get(&refid) {
        Some(image) if shown => (
            [(header::CONTENT_TYPE, image.content_type.clone())],
            image.bytes.clone(),
        )
            .into_response(),
        _ => not_found(),
    }
}

/// K2: a new article, its first version a Draft.
pub async fn create(
    State(shared): State<St>,
    Extension(Caller(user)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let rules = &shared.rules;
    let mut org = shared.lock();
    let fields = match checked_fields(rules, &org, &body, true, None) {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let id = org.new_id("ka0");
    let article_id = org.new_id("kA0");
    let number = format!("{:09}", org.versions.len() + 1000);
    let mut version = Version {
        id: id.clone(),
        article_id,
        article_number: number,
        status: Status::Draft,
        version_number: 1,
        fields: Map::new(),
        created_by: user_id(rules, &user).to_string(),
        last_modified_by: String::new(),
        last_modified: chrono::Utc::now(),
        first_published: None,
        last_published: None,
    };
    version.fields.insert("Language".into(), json!("en_US"));
    version
        .fields
        .insert("RecordTypeId".into(), json!(rules.record_types[0]));
    let images = apply(rules, &mut version, fields, &user);
    keep(&mut org, images);
    org.versions.insert(id.clone(), version);
    let answer = json!({"id": id, "success": true, "errors": []});
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub async fn describe(State(shared): State<St>) -> Response {
    let rules = &shared.rules;
    let fields: Vec<Value> = field_names(rules)
        .into_iter()
        .map(|name| {
            let (kind, length) = if name == rules.body_field {
                ("textarea", rules.body_limit)
            } else if CHANNELS.contains(&name.as_str()) || name == "IsVisibleInApp" {
                ("boolean", 0)
            } else if name == "Summary" {
                ("textarea", 1000)
            } else if name == "RecordTypeId" {
                ("reference", 18)
            } else {
                ("string", 255)
            };
            let writable = !READ_ONLY.contains(&name.as_str());
            json!({"name": name, "type": kind, "length": length, "createable": writable, "updateable": writable && name != "Language", "extraTypeInfo": (name == rules.body_field).then_some("richtextarea")})
        })
        .collect();
    Json(json!({"name": "Knowledge__kav", "fields": fields})).into_response()
}

pub async fn retrieve(
    State(shared): State<St>,
    Extension(ApiVersion(api)): Extension<ApiVersion>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let org = shared.lock();
    match org.versions.get(&id) {
        Some(version) => Json(row(version, api)).into_response(),
        None => not_found(),
    }
}

/// K3: only drafts change; `If-Unmodified-Since` is honoured (412 when the version changed
/// after that second, 400 when the header is no HTTP date).
pub async fn update(
    State(shared): State<St>,
    Extension(Caller(user)): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = (|| -> Answer {
        let rules = &shared.rules;
        let mut org = shared.lock();
        let version = org.versions.get(&id).ok_or_else(not_found)?;
        if version.status != Status::Draft {
            return Err(state_error(rules, "You can only update draft versions."));
        }
        if let Some(since) = headers.get(header::IF_UNMODIFIED_SINCE) {
            let since = since
                .to_str()
                .ok()
                .and_then(|s| httpdate::parse_http_date(s).ok())
                .ok_or_else(|| {
                    sf_error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_HEADER_TYPE",
                        "If-Unmodified-Since is not an HTTP date",
                        &[],
                    )
                })?;
            let since: chrono::DateTime<chrono::Utc> = since.into();
            if version.last_modified.timestamp() > since.timestamp() {
                return Err(sf_error(
                    StatusCode::PRECONDITION_FAILED,
                    "PRECONDITION_FAILED",
                    "The entity has been modified since the specified date",
                    &[],
                ));
            }
        }
        let article = version.article_id.clone();
        let fields = checked_fields(rules, &org, &body, false, Some(&article))?;
        let version = org.versions.get_mut(&id).ok_or_else(not_found)?;
        let images = apply(rules, version, fields, &user);
        keep(&mut org, images);
        Ok(StatusCode::NO_CONTENT.into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

/// K5: a new Draft copied from the Online version (fields and data categories), which stays
/// online.
pub async fn new_draft(
    State(shared): State<St>,
    Extension(Caller(user)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let answer = (|| -> Answer {
        let rules = &shared.rules;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let article_id = request
            .get("articleId")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                sf_error(
                    StatusCode::BAD_REQUEST,
                    "REQUIRED_FIELD_MISSING",
                    "articleId is required",
                    &["articleId"],
                )
            })?;
        let mut org = shared.lock();
        if org.article(article_id).next().is_none() {
            return Err(not_found());
        }
        if org.in_status(article_id, Status::Draft).is_some() {
            return Err(state_error(rules, INVALID_STATE));
        }
        let online = org
            .in_status(article_id, Status::Online)
            .cloned()
            .ok_or_else(|| state_error(rules, INVALID_STATE))?;
        let id = org.new_id("ka0");
        let copied: Vec<CategorySelection> = org
            .categories
            .values()
            .filter(|c| c.parent_id == online.id)
            .cloned()
            .collect();
        for category in copied {
            let category_id = org.new_id("02o");
            org.categories.insert(
                category_id.clone(),
                CategorySelection {
                    id: category_id,
                    parent_id: id.clone(),
                    ..category
                },
            );
        }
        let by = user_id(rules, &user).to_string();
        let draft = Version {
            id: id.clone(),
            status: Status::Draft,
            version_number: online.version_number + 1,
            created_by: by.clone(),
            last_modified_by: by,
            last_modified: chrono::Utc::now(),
            ..online
        };
        org.versions.insert(id.clone(), draft);
        let answer = json!({"id": id, "articleId": article_id});
        Ok((StatusCode::CREATED, Json(answer)).into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

/// K4 (`Online`, minor or `"versionNumber":"NextVersion"` major), K6 (`Archived`), K7
/// (`Draft`).
pub async fn change_status(
    State(shared): State<St>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let answer = (|| -> Answer {
        let rules = &shared.rules;
        let request = json_object(&body)?;
        if let Some(other) = request
            .keys()
            .find(|k| *k != "publishStatus" && *k != "versionNumber")
        {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                format!("The simulator does not support '{other}'"),
                &[],
            ));
        }
        let wanted = request
            .get("publishStatus")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let major = request.get("versionNumber").and_then(Value::as_str) == Some("NextVersion");
        let mut org = shared.lock();
        let version = org.versions.get(&id).cloned().ok_or_else(not_found)?;
        let article = version.article_id.clone();
        let now = sf_time(chrono::Utc::now());
        match wanted.as_deref() {
            Some("online") => {
                if version.status != Status::Draft {
                    return Err(state_error(rules, INVALID_STATE));
                }
                let previous = org.in_status(&article, Status::Online).cloned();
                let mut number = version.version_number;
                let mut first_published = None;
                if let Some(previous) = previous {
                    first_published = previous.first_published.clone();
                    if major || rules.minor_archives {
                        org.versions.get_mut(&previous.id).expect("found").status =
                            Status::Archived;
                    } else {
                        number = previous.version_number;
                        org.versions.remove(&previous.id);
                        org.categories.retain(|_, c| c.parent_id != previous.id);
                    }
                }
                let published = org.versions.get_mut(&id).expect("found");
                published.status = Status::Online;
                published.version_number = number;
                published.first_published = first_published.or_else(|| Some(now.clone()));
                published.last_published = Some(now);
            }
            Some("archived") => {
                let draft_open = org.in_status(&article, Status::Draft).is_some();
                if version.status != Status::Online || (draft_open && !rules.archive_with_draft) {
                    return Err(state_error(rules, INVALID_STATE));
                }
                org.versions.get_mut(&id).expect("found").status = Status::Archived;
            }
            Some("draft") => {
                let draft_open = org.in_status(&article, Status::Draft).is_some();
                if version.status != Status::Online || draft_open {
                    return Err(state_error(rules, INVALID_STATE));
                }
                org.versions.get_mut(&id).expect("found").status = Status::Draft;
            }
            _ => {
                return Err(sf_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_FIELD",
                    "publishStatus must be Online, Archived or Draft",
                    &["publishStatus"],
                ));
            }
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

/// K8: only drafts are deleted.
pub async fn delete_draft(
    State(shared): State<St>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let mut org = shared.lock();
    match org.versions.get(&id).map(|v| v.status) {
        None => not_found(),
        Some(Status::Draft) => {
            org.versions.remove(&id);
            org.categories.retain(|_, c| c.parent_id != id);
            StatusCode::NO_CONTENT.into_response()
        }
        Some(_) => state_error(&shared.rules, INVALID_STATE),
    }
}

/// K9: a data-category selection, only on a draft.
pub async fn add_category(State(shared): State<St>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |key: &str| request.get(key).and_then(Value::as_str).map(String::from);
    let (Some(parent), Some(group), Some(name)) = (
        text("ParentId"),
        text("DataCategoryGroupName"),
        text("DataCategoryName"),
    ) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [ParentId, DataCategoryGroupName, DataCategoryName]",
            &[],
        );
    };
    let mut org = shared.lock();
    match org.versions.get(&parent).map(|v| v.status) {
        None => {
            return sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &["ParentId"],
            );
        }
        Some(Status::Draft) => {}
        Some(_) => return state_error(&shared.rules, INVALID_STATE),
    }
    let id = org.new_id("02o");
    org.categories.insert(
        id.clone(),
        CategorySelection {
            id: id.clone(),
            parent_id: parent,
            group,
            name,
        },
    );
    let answer = json!({"id": id, "success": true, "errors": []});
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub async fn remove_category(
    State(shared): State<St>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let mut org = shared.lock();
    let Some(category) = org.categories.get(&id) else {
        return not_found();
    };
    let on_draft = org
        .versions
        .get(&category.parent_id)
        .is_some_and(|v| v.status == Status::Draft);
    if !on_draft {
        return state_error(&shared.rules, INVALID_STATE);
    }
    org.categories.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

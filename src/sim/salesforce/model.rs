//! The org's data as the Salesforce simulator keeps it: Knowledge article versions
//! (`Knowledge__kav`, reference §1.2) with their data-category selections and rich-text images, CRM rows (Account,
//! Contact, Case, User), sessions, query locators and the API allocation. Ids look like
//! Salesforce's (a key prefix, 15 then 18 characters). The error array of every REST failure
//! (reference §1.5) is built here too.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// `PublishStatus` of a `Knowledge__kav` version (restricted picklist, never written by clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Online,
    Archived,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::Online => "Online",
            Status::Archived => "Archived",
        }
    }
}

/// One version of a Knowledge article (a `Knowledge__kav` row).
#[derive(Debug, Clone)]
pub struct Version {
    pub id: String,
    pub article_id: String,
    pub article_number: String,
    pub status: Status,
    pub version_number: u32,
    /// Writable fields as stored: `Title`, `UrlName`, `Summary`, `Language`, channel flags and
    /// the custom fields.
    pub fields: Map<String, Value>,
    pub created_by: String,
    pub last_modified_by: String,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    pub first_published: Option<String>,
    pub last_published: Option<String>,
}

/// A `Knowledge__DataCategorySelection` row.
#[derive(Debug, Clone)]
pub struct CategorySelection {
    pub id: String,
    pub parent_id: String,
    pub group: String,
    pub name: String,
}

/// A live session (an access token): its user and when it was last used.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub last_used: Instant,
}

/// A query's remaining rows behind a `nextRecordsUrl`.
#[derive(Debug, Clone)]
pub struct Locator {
    pub rows: Vec<Value>,
    pub total: usize,
}

/// Everything the simulated org holds.
#[derive(Debug, Default)]
pub struct Org {
    pub versions: BTreeMap<String, Version>,
    pub categories: BTreeMap<String, CategorySelection>,
    /// Images taken out of rich-text bodies, by `refid`.
    pub images: HashMap<String, super::richtext::Image>,
    /// CRM rows by object name (`Account`, `Contact`, `Case`, `User`), each a JSON object with
    /// an `Id`.
    pub rows: BTreeMap<String, Vec<Map<String, Value>>>,
    pub sessions: HashMap<String, Session>,
    pub locators: HashMap<String, Locator>,
    /// API requests counted against the allocation, and the allocation.
    pub api_used: u64,
    pub api_max: u64,
    next_id: u64,
}

impl Org {
    /// A new 18-character id with the object's key prefix (`ka0`, `kA0`, `001`, ...).
    pub fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:012}AAA", 0x5f00 + self.next_id)
    }

    /// The versions of article `article_id`.
    pub fn article(&self, article_id: &str) -> impl Iterator<Item = &Version> {
        self.versions
            .values()
            .filter(move |v| v.article_id == article_id)
    }

    /// The version of `article_id` in `status` (at most one Draft and one Online per article).
    pub fn in_status(&self, article_id: &str, status: Status) -> Option<&Version> {
        self.article(article_id).find(|v| v.status == status)
    }

    /// The rows of a CRM object, empty when none were seeded.
    pub fn crm(&self, object: &str) -> &[Map<String, Value>] {
        self.rows.get(object).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The user names behind the simulator's user ids, for `LastModifiedById` and `Owner`.
pub const INTEGRATION_USER_ID: &str = "005000000000001AAA";
pub const PERSON_USER_ID: &str = "005000000000002AAA";

/// The REST error body: always a JSON array of `{message, errorCode, fields}` (reference §1.5).
pub fn sf_error(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    fields: &[&str],
) -> Response {
    let body = json!([{"message": message.into(), "errorCode": code, "fields": fields}]);
    (status, Json(body)).into_response()
}

/// `NOT_FOUND` as the errorcodes page words it.
pub fn not_found() -> Response {
    sf_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
        &[],
    )
}

/// `2026-11-20T06:00:00.000+0000`, the form Salesforce writes date-times in.
pub fn sf_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

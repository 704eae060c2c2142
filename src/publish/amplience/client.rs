//! The content management calls the Amplience target makes (reference §2.3), over `net::oauth`
//! (a client-credentials token renewed before it expires, or a personal access token): list a
//! repository's items page by page (0-based, 100 a page) — the only way to find an item by its
//! delivery key, which has no lookup of its own — read, create, update with the current
//! `version`, archive, unpublish, publish (an asynchronous job) and poll the job. A just-created
//! item may answer 404 for a moment (read-after-create lag): requests to one item retry a 404 a
//! few times before giving up.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::mapping;
use crate::net::oauth::{ApiRequest, OAuth};
use crate::net::{Answer, Body, ErrorKind, HttpError};
use crate::publish::http::{OAuthHttp, json_of};

/// Items a page of the repository list holds (the most the API gives).
const PAGE_SIZE: &str = "100";
/// Tries of a request to one item while it answers 404 (read-after-create lag), and the first
/// wait between them (doubling).
const LAG_TRIES: u32 = 6;
const LAG_WAIT: Duration = Duration::from_millis(250);

/// A content item, as far as kbpub cares.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub version: u64,
    pub archived: bool,
    pub body: Value,
    /// `NONE`, `EARLY`, `LATEST` or `UNPUBLISHED`.
    pub publishing_status: String,
    pub modified_by: String,
    pub modified_at: String,
}

impl Item {
    fn from(json: &Value) -> Item {
        let text = |key: &str| json[key].as_str().unwrap_or_default().to_string();
        Item {
            id: text("id"),
            version: json["version"].as_u64().unwrap_or(0),
            archived: json["status"] == "ARCHIVED",
            body: json["body"].clone(),
            publishing_status: text("publishingStatus"),
            modified_by: json["lastModifiedBy"]
                .as_str()
                .unwrap_or("a CMS user")
                .to_string(),
            modified_at: text("lastModifiedDate"),
        }
    }

    pub fn delivery_key(&self) -> Option<&str> {
        self.body
            .pointer("/_meta/deliveryKey")
            .and_then(Value::as_str)
    }

    /// The doc id kbpub recorded on the item.
    pub fn doc_id(&self) -> Option<&str> {
        self.body.pointer("/kbpub/docId").and_then(Value::as_str)
    }

    /// The body still holds what kbpub wrote: it carries kbpub's hash, and that hash is its
    /// fingerprint (nobody changed a field since).
    pub fn is_kbpubs(&self) -> bool {
        mapping::stamp(&self.body) == Some(mapping::fingerprint(&self.body).as_str())
    }

    /// The body kbpub wrote is the body with hash `hash`.
    pub fn holds(&self, hash: &str) -> bool {
        self.is_kbpubs() && mapping::stamp(&self.body) == Some(hash)
    }

    /// Its current version is the published one.
    pub fn is_published(&self) -> bool {
        self.publishing_status == "LATEST"
    }
}

/// Where a publishing job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running(String),
    Completed,
    Failed(String),
}

pub struct Client {
    http: OAuthHttp,
    hub: String,
    repository: String,
}

impl Client {
    pub fn new(oauth: OAuth, hub: &str, repository: &str) -> Client {
        Client {
            http: OAuthHttp::new(oauth),
            hub: hub.to_string(),
            repository: repository.to_string(),
        }
    }

    /// Requests sent so far (every attempt): (reads, writes).
    pub fn counts(&self) -> (u64, u64) {
        self.http.counts()
    }

    /// Sends one request; `safe`: it may be repeated after a 5xx or a lost answer. Requests to
    /// one item (`content-items/...`) retry a 404 while a new item may still be invisible.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
        safe: bool,
    ) -> Result<(Value, Option<String>), HttpError> {
        let accept = |answer: Answer| {
            let location = answer.header(reqwest::header::LOCATION).map(str::to_string);
            Ok((json_of(&answer.text)?, location))
        };
        let api = ApiRequest {
            method,
            path,
            query,
            body,
            safe,
        };
        let mut wait = LAG_WAIT;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.http.send(&api, accept).await {
                Err(e) if e.is(404) && path.starts_with("content-items/") && tries < LAG_TRIES => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                result => return result,
            }
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, HttpError> {
        Ok(self
            .send(Method::GET, path, query, Body::Empty, true)
            .await?
            .0)
    }

    /// Checks the repository is the hub's (a wrong hub or repository is named before anything
    /// else is sent).
    pub async fn check_repository(&self) -> Result<(), String> {
        let path = format!("hubs/{}/content-repositories", self.hub);
        let listed = self
            .get(&path, &[("size", PAGE_SIZE)])
            .await
            .map_err(|e| e.to_string())?;
        let repositories = listed["_embedded"]["content-repositories"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match repositories
            .iter()
            .any(|r| r["id"] == self.repository.as_str())
        {
            true => Ok(()),
            false => Err(format!(
                "hub `{}` has no content repository `{}` (check `amplience.repository`)",
                self.hub, self.repository
            )),
        }
    }

    /// Every item of the repository, archived ones included.
    pub async fn items(&self) -> Result<Vec<Item>, HttpError> {
        let path = format!("content-repositories/{}/content-items", self.repository);
        let mut items = Vec::new();
        let mut number = 0u64;
        loop {
            let page_number = number.to_string();
            let page = self
                .get(&path, &[("page", &page_number), ("size", PAGE_SIZE)])
                .await?;
            if let Some(listed) = page["_embedded"]["content-items"].as_array() {
                items.extend(listed.iter().map(Item::from));
            }
            let pages = page["page"]["totalPages"].as_u64().unwrap_or(0);
            number += 1;
            if number >= pages {
                return Ok(items);
            }
        }
    }

    /// The item holding delivery key `key`, if any.
    pub async fn by_key(&self, key: &str) -> Result<Option<Item>, HttpError> {
        let items = self.items().await?;
        Ok(items.into_iter().find(|i| i.delivery_key() == Some(key)))
    }

    pub async fn read(&self, id: &str) -> Result<Item, HttpError> {
        Ok(Item::from(
            &self.get(&format!("content-items/{id}"), &[]).await?,
        ))
    }

    /// Creates an item labelled `label` with `body` (not safe to repeat: a retry could make a
    /// second item, so the caller looks it up by key first).
    pub async fn create(
        &self,
        label: &str,
        locale: Option<&str>,
        body: &Value,
    ) -> Result<Item, HttpError> {
        let path = format!("content-repositories/{}/content-items", self.repository);
        let mut request = json!({"label": label, "body": body});
        if let Some(locale) = locale {
            request["locale"] = json!(locale);
        }
        self.write(Method::POST, &path, request, false).await
    }

    /// Sends `request` to `path` and reads the item answered.
    async fn write(
        &self,
        method: Method,
        path: &str,
        request: Value,
        safe: bool,
    ) -> Result<Item, HttpError> {
        let (item, _) = self
            .send(method, path, &[], Body::Json(request), safe)
            .await?;
        Ok(Item::from(&item))
    }

    /// Replaces the body (and label) of item `id` at version `version` (safe: a repeat after
    /// it landed meets a newer version, 409).
    pub async fn update(
        &self,
        id: &str,
        version: u64,
        label: &str,
        body: &Value,
    ) -> Result<Item, HttpError> {
        let request = json!({"label": label, "body": body, "version": version});
        let path = format!("content-items/{id}");
        self.write(Method::PATCH, &path, request, true).await
    }

    /// `archive` or `unarchive` item `id` at version `version`.
    pub async fn set_archived(
        &self,
        id: &str,
        version: u64,
        archive: bool,
    ) -> Result<Item, HttpError> {
        let action = if archive { "archive" } else { "unarchive" };
        let path = format!("content-items/{id}/{action}");
        self.write(Method::POST, &path, json!({"version": version}), true)
            .await
    }

    /// Stops the delivery API serving item `id`.
    pub async fn unpublish(&self, id: &str) -> Result<(), HttpError> {
        let path = format!("content-items/{id}/unpublish");
        self.send(Method::POST, &path, &[], Body::Empty, true)
            .await
            .map(drop)
    }

    /// Starts publishing item `id` (safe: publishing again publishes the same version); where to
    /// poll the job.
    pub async fn publish(&self, id: &str) -> Result<String, HttpError> {
        let path = format!("content-items/{id}/publish");
        let (_, location) = self
            .send(Method::POST, &path, &[], Body::Empty, true)
            .await?;
        location.ok_or_else(|| HttpError {
            method: "POST".into(),
            path,
            kind: ErrorKind::Malformed,
            status: None,
            message: "the publish answer has no Location of its publishing job".into(),
            attempts: 1,
        })
    }

    /// Where the publishing job at `location` stands.
    pub async fn job(&self, location: &str) -> Result<JobState, HttpError> {
        let job = self.get(location, &[]).await?;
        let state = job["state"].as_str().unwrap_or_default().to_string();
        Ok(match state.as_str() {
            "COMPLETED" => JobState::Completed,
            "FAILED" | "CANCELLED" => JobState::Failed(match job["publishErrorStatus"].as_str() {
                Some(why) => format!("{state}: {why}"),
                None => state,
            }),
            _ => JobState::Running(state),
        })
    }
}

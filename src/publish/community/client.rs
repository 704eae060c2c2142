//! The partner-community client (`community-v1`): each method is one operation of the contract —
//! list articles by category or find one by external id (every page, by `next_cursor`), read one
//! with its body, create a draft, write a new draft version with `If-Match`, publish an exact
//! version, archive. Writes are sent once (never repeated by the HTTP layer after a 5xx or a lost
//! answer): the target reads back before it tries again. The JSON shapes stay inside this file.

use reqwest::Method;
use serde_json::{Value, json};

use crate::publish::confluence::client::query;
use crate::publish::http::{Body, Http, HttpError};

/// An article as the community returns it: its latest version's fields, and that version's body
/// when it was read by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    pub id: String,
    pub external_id: String,
    pub title: String,
    pub category: String,
    pub labels: Vec<String>,
    pub locale: String,
    /// `Some` only for an article read by id (lists leave bodies out).
    pub body: Option<String>,
    pub status: String,
    /// The latest version (draft or published).
    pub version: u64,
    pub published_version: Option<u64>,
    pub etag: String,
    /// The content hash the latest version carries. It proves nothing by itself: a platform may
    /// copy it into a version someone else wrote.
    pub content_hash: Option<String>,
    pub updated_at: String,
}

impl Article {
    fn from_json(v: &Value) -> Article {
        let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
        Article {
            id: text("id"),
            external_id: text("external_id"),
            title: text("title"),
            category: text("category"),
            labels: serde_json::from_value(v["labels"].clone()).unwrap_or_default(),
            locale: text("locale"),
            body: v.get("body").and_then(Value::as_str).map(String::from),
            status: text("status"),
            version: v.get("version").and_then(Value::as_u64).unwrap_or(0),
            published_version: v.get("published_version").and_then(Value::as_u64),
            etag: text("etag"),
            content_hash: v
                .get("content_hash")
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(String::from),
            updated_at: text("updated_at"),
        }
    }

    /// Partners see exactly its latest version.
    pub fn latest_is_published(&self) -> bool {
        self.status == "published" && self.published_version == Some(self.version)
    }
}

/// What kbpub writes to an article.
pub struct Content<'a> {
    pub external_id: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub category: &'a str,
    pub labels: &'a [String],
    pub locale: &'a str,
    pub content_hash: &'a str,
}

impl Content<'_> {
    fn json(&self) -> Value {
        json!({
            "external_id": self.external_id, "title": self.title, "body": self.body,
            "category": self.category, "labels": self.labels, "locale": self.locale,
            "content_hash": self.content_hash,
        })
    }
}

pub struct Client {
    pub http: std::sync::Arc<Http>,
}

impl Client {
    async fn get(&self, path: &str) -> Result<Value, HttpError> {
        self.http.get(path).await
    }

    /// POSTs once: a 5xx or a lost answer is the caller's to settle by reading back.
    async fn post(&self, path: &str, body: Value) -> Result<Article, HttpError> {
        let reply = self
            .http
            .send(Method::POST, path, Body::Json(body), false, &[])
            .await?;
        Ok(Article::from_json(&reply.json))
    }

    /// Every article matching `filter` (`category`, `external_id`), following `next_cursor` to
    /// the last page.
    async fn list(&self, filter: (&str, &str)) -> Result<Vec<Article>, HttpError> {
        let mut articles = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = vec![filter];
            if let Some(c) = &cursor {
                params.push(("cursor", c));
            }
            let reply = self
                .get(&format!("/v1/articles?{}", query(&params)))
                .await?;
            let page = reply
                .get("data")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            articles.extend(page.iter().map(Article::from_json));
            cursor = reply
                .get("next_cursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty() && !page.is_empty())
                .map(String::from);
            if cursor.is_none() {
                return Ok(articles);
            }
        }
    }

    /// Every article in `category`.
    pub async fn in_category(&self, category: &str) -> Result<Vec<Article>, HttpError> {
        self.list(("category", category)).await
    }

    /// The article with `external_id`, if any.
    pub async fn find(&self, external_id: &str) -> Result<Option<Article>, HttpError> {
        Ok(self
            .list(("external_id", external_id))
            .await?
            .into_iter()
            .find(|a| a.external_id == external_id))
    }

    /// The article with its latest version's body.
    pub async fn article(&self, id: &str) -> Result<Article, HttpError> {
        Ok(Article::from_json(
            &self.get(&format!("/v1/articles/{id}")).await?,
        ))
    }

    /// Creates a draft at version 1.
    pub async fn create(&self, content: &Content<'_>) -> Result<Article, HttpError> {
        self.post("/v1/articles", content.json()).await
    }

    /// Writes a new draft version over the version whose etag is `etag` (412 when stale).
    pub async fn update(
        &self,
        id: &str,
        etag: &str,
        content: &Content<'_>,
    ) -> Result<Article, HttpError> {
        let reply = self
            .http
            .send(
                Method::PUT,
                &format!("/v1/articles/{id}/draft"),
                Body::Json(content.json()),
                false,
                &[("If-Match", etag)],
            )
            .await?;
        Ok(Article::from_json(&reply.json))
    }

    /// Publishes exactly `version` (409 when it is not the latest).
    pub async fn publish(
        &self,
        id: &str,
        version: u64,
        message: &str,
    ) -> Result<Article, HttpError> {
        self.post(
            &format!("/v1/articles/{id}/publish"),
            json!({"version": version, "message": message}),
        )
        .await
    }

    pub async fn archive(
        &self,
        id: &str,
        reason: &str,
        superseded_by: Option<&str>,
    ) -> Result<Article, HttpError> {
        self.post(
            &format!("/v1/articles/{id}/archive"),
            json!({"reason": reason, "superseded_by": superseded_by}),
        )
        .await
    }
}

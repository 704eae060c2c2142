//! The Knowledge REST calls the Salesforce target makes (reference §1.3), over `net::oauth`
//! (tokens, the instance URL, one re-grant on an expired session): SOQL queries on
//! `Knowledge__kav` that always filter on `PublishStatus` (drafts go missing otherwise), paged by
//! `nextRecordsUrl`; create and update a draft, a new draft from the online version, publish,
//! archive, delete a draft, and data category selections. Every answer's `Sforce-Limit-Info`
//! is kept, so the target can warn before the org's daily allowance runs out.

use std::sync::Mutex;

use reqwest::Method;
use serde_json::{Value, json};

use crate::config::salesforce::{Publish, SalesforceConfig};
use crate::net::oauth::{ApiRequest, OAuth};
use crate::net::{Answer, Body, HttpError};
use crate::publish::http::{OAuthHttp, json_of};

/// One version of an article (`Knowledge__kav` row).
#[derive(Debug, Clone)]
pub struct Version {
    pub id: String,
    pub article_id: String,
    /// `Draft` or `Online`.
    pub status: String,
    pub version_number: u64,
    pub url_name: String,
    pub title: String,
    /// kbpub's hash field; `None` when empty.
    pub hash: Option<String>,
    /// The user name of the version's last editor.
    pub modified_by: String,
    pub modified_at: String,
}

impl Version {
    pub fn is_draft(&self) -> bool {
        self.status == "Draft"
    }
}

pub struct Client {
    http: OAuthHttp,
    hash_field: String,
    language: String,
    publish: Publish,
    /// The last `Sforce-Limit-Info` `api-usage`: (used, allowed).
    usage: Mutex<Option<(u64, u64)>>,
}

/// Escapes a SOQL string literal's quote and backslash.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Client {
    pub fn new(oauth: OAuth, config: &SalesforceConfig) -> Client {
        Client {
            http: OAuthHttp::new(oauth),
            hash_field: config.hash_field.clone(),
            language: config.language.clone(),
            publish: config.publish,
            usage: Mutex::new(None),
        }
    }

    /// Requests sent so far (every attempt): (reads, writes).
    pub fn counts(&self) -> (u64, u64) {
        self.http.counts()
    }

    /// The org's API usage as last reported: (used, allowed).
    pub fn usage(&self) -> Option<(u64, u64)> {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<Value, HttpError> {
        let accept = |answer: Answer| {
            if let Some(usage) = answer.header("sforce-limit-info").and_then(api_usage) {
                *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = Some(usage);
            }
            json_of(&answer.text)
        };
        let safe = method == Method::GET;
        let api = ApiRequest {
            method,
            path,
            query,
            body,
            safe,
        };
        self.http.send(&api, accept).await
    }

    /// Every row of a SOQL query, following `nextRecordsUrl`.
    async fn query(&self, soql: &str) -> Result<Vec<Value>, HttpError> {
        let mut page = self
            .send(Method::GET, "query", &[("q", soql)], Body::Empty)
            .await?;
        let mut rows = Vec::new();
        loop {
            if let Some(records) = page["records"].as_array() {
                rows.extend(records.iter().cloned());
            }
            match page["nextRecordsUrl"].as_str() {
                Some(next) if page["done"] == json!(false) => {
                    page = self.send(Method::GET, next, &[], Body::Empty).await?;
                }
                _ => return Ok(rows),
            }
        }
    }

    fn select(&self) -> String {
        format!(
            "SELECT Id, KnowledgeArticleId, PublishStatus, VersionNumber, UrlName, Title, LastModifiedDate, LastModifiedBy.Username, {} FROM Knowledge__kav WHERE PublishStatus IN ('Draft','Online') AND Language = {}",
            self.hash_field,
            literal(&self.language)
        )
    }

    /// The draft and online versions of every article carrying kbpub's hash field.
    pub async fn managed(&self) -> Result<Vec<Version>, HttpError> {
        let soql = format!("{} AND {} != null", self.select(), self.hash_field);
        self.versions(&soql).await
    }

    /// The draft and online versions of the article named `url_name` (whoever wrote it).
    pub async fn by_url_name(&self, url_name: &str) -> Result<Vec<Version>, HttpError> {
        let soql = format!("{} AND UrlName = {}", self.select(), literal(url_name));
        self.versions(&soql).await
    }

    async fn versions(&self, soql: &str) -> Result<Vec<Version>, HttpError> {
        let rows = self.query(soql).await?;
        Ok(rows.iter().map(|r| self.version(r)).collect())
    }

    fn version(&self, row: &Value) -> Version {
        let text = |key: &str| row[key].as_str().unwrap_or_default().to_string();
        Version {
            id: text("Id"),
            article_id: text("KnowledgeArticleId"),
            status: text("PublishStatus"),
            version_number: row["VersionNumber"].as_u64().unwrap_or(0),
            url_name: text("UrlName"),
            title: text("Title"),
            hash: row[&self.hash_field]
                .as_str()
                .filter(|h| !h.is_empty())
                .map(String::from),
            modified_by: row["LastModifiedBy"]["Username"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            modified_at: text("LastModifiedDate"),
        }
    }

    /// Creates a new article's draft from `fields`; its version id.
    pub async fn create(&self, fields: Value) -> Result<String, HttpError> {
        let created = self
            .send(
                Method::POST,
                "sobjects/Knowledge__kav",
                &[],
                Body::Json(fields),
            )
            .await?;
        Ok(created["id"].as_str().unwrap_or_default().to_string())
    }

    /// Writes `fields` to the draft `id`.
    pub async fn update(&self, id: &str, fields: Value) -> Result<(), HttpError> {
        let path = format!("sobjects/Knowledge__kav/{id}");
        self.send(Method::PATCH, &path, &[], Body::Json(fields))
            .await
            .map(drop)
    }

    /// A new draft of the online article `article_id`; its version id.
    pub async fn new_draft(&self, article_id: &str) -> Result<String, HttpError> {
        let body = Body::Json(json!({ "articleId": article_id }));
        let path = "knowledgeManagement/articleVersions/masterVersions";
        let created = self.send(Method::POST, path, &[], body).await?;
        Ok(created["id"].as_str().unwrap_or_default().to_string())
    }

    /// Publishes the draft `id` as a minor or major version (config).
    pub async fn publish(&self, id: &str) -> Result<(), HttpError> {
        let body = match self.publish {
            Publish::Minor => json!({"publishStatus": "Online"}),
            Publish::Major => json!({"publishStatus": "Online", "versionNumber": "NextVersion"}),
        };
        self.master_version(Method::PATCH, id, Body::Json(body))
            .await
    }

    /// Archives the online version `id`.
    pub async fn archive(&self, id: &str) -> Result<(), HttpError> {
        let body = Body::Json(json!({"publishStatus": "Archived"}));
        self.master_version(Method::PATCH, id, body).await
    }

    /// Deletes the draft version `id`.
    pub async fn delete_draft(&self, id: &str) -> Result<(), HttpError> {
        self.master_version(Method::DELETE, id, Body::Empty).await
    }

    async fn master_version(&self, method: Method, id: &str, body: Body) -> Result<(), HttpError> {
        let path = format!("knowledgeManagement/articleVersions/masterVersions/{id}");
        self.send(method, &path, &[], body).await.map(drop)
    }

    /// The data categories selected on draft `id`: (selection id, `Group:Category`).
    pub async fn categories(&self, id: &str) -> Result<Vec<(String, String)>, HttpError> {
        let soql = format!(
            "SELECT Id, DataCategoryGroupName, DataCategoryName FROM Knowledge__DataCategorySelection WHERE ParentId = {}",
            literal(id)
        );
        let rows = self.query(&soql).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let text = |key: &str| r[key].as_str().unwrap_or_default();
                (
                    text("Id").to_string(),
                    format!(
                        "{}:{}",
                        text("DataCategoryGroupName"),
                        text("DataCategoryName")
                    ),
                )
            })
            .collect())
    }

    pub async fn add_category(&self, id: &str, group: &str, name: &str) -> Result<(), HttpError> {
        let body =
            json!({"ParentId": id, "DataCategoryGroupName": group, "DataCategoryName": name});
        self.send(
            Method::POST,
            "sobjects/Knowledge__DataCategorySelection",
            &[],
            Body::Json(body),
        )
        .await
        .map(drop)
    }

    pub async fn remove_category(&self, selection: &str) -> Result<(), HttpError> {
        let path = format!("sobjects/Knowledge__DataCategorySelection/{selection}");
        self.send(Method::DELETE, &path, &[], Body::Empty)
            .await
            .map(drop)
    }
}

/// `api-usage=18/5000` in a `Sforce-Limit-Info` header: (used, allowed).
fn api_usage(header: &str) -> Option<(u64, u64)> {
    let usage = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, allowed) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, allowed.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_and_literals() {
        assert_eq!(api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(api_usage("api-bursts=1/750; api-usage=7/10"), Some((7, 10)));
        assert_eq!(api_usage("nothing"), None);
        assert_eq!(literal("o'k\\"), "'o\\'k\\\\'");
    }
}

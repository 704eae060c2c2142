//! The community's articles as the contract describes them: an external id, a status, versions
//! (each with its own title, body, category, labels, locale, content hash and author), the
//! published version and the archive reason; shown as the contract's JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub(super) struct Version {
    pub(super) title: String,
    pub(super) body: String,
    pub(super) category: String,
    pub(super) labels: Vec<String>,
    pub(super) locale: String,
    pub(super) content_hash: Option<String>,
    pub(super) by: String,
    pub(super) created_at: String,
    pub(super) published_at: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Article {
    pub(super) id: String,
    pub(super) external_id: String,
    pub(super) status: &'static str,
    pub(super) versions: Vec<Version>,
    pub(super) published_version: Option<u64>,
    pub(super) archived: Option<(String, Option<String>)>,
    pub(super) updated_at: String,
}

impl Article {
    pub(super) fn latest(&self) -> &Version {
        self.versions.last().expect("an article has a version")
    }

    pub(super) fn version(&self) -> u64 {
        self.versions.len() as u64
    }

    pub(super) fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version())
    }

    pub(super) fn json(&self, with_body: bool) -> Value {
        let latest = self.latest();
        let published_at = self
            .published_version
            .and_then(|v| self.versions[v as usize - 1].published_at.clone());
        let mut value = json!({
            "id": self.id, "external_id": self.external_id, "title": latest.title,
            "category": latest.category, "labels": latest.labels, "locale": latest.locale,
            "status": self.status, "version": self.version(), "published_version": self.published_version,
            "etag": self.etag(), "content_hash": latest.content_hash,
            "updated_at": self.updated_at, "published_at": published_at,
        });
        if with_body {
            value["body"] = json!(latest.body);
        }
        value
    }
}

#[derive(Default)]
pub(super) struct Store {
    pub(super) articles: BTreeMap<String, Article>,
    pub(super) next_id: u64,
}

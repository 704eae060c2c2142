//! The Confluence REST client: Cloud (REST v2 for pages and properties, v1 for labels,
//! attachments, CQL search and archiving) and Data Center (REST v1 under the context path).
//! Each method is one operation of the publish flow, in Confluence's own terms; the JSON shapes
//! of both APIs stay inside this file.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use super::config::Api;
use crate::publish::http::{Body, Http, HttpError};

/// The content property kbpub keeps on every page it manages.
pub const PROPERTY_KEY: &str = "kbpub";
/// Version messages kbpub writes start with this, so a later run can tell its own versions
/// from people's edits.
pub const VERSION_MESSAGE_PREFIX: &str = "kbpub ";

/// The API actually spoken (after `auto` was resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Data Center / Server: REST v1 only.
    V1,
    /// Cloud: REST v2 plus v1 where v2 has no equivalent.
    V2,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::V1 => "v1 (Data Center)",
            Flavour::V2 => "v2 (Cloud)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Space {
    pub key: String,
    /// The v2 space id (Cloud); the key on v1.
    pub id: String,
    pub home: String,
}

/// What kbpub writes to a page: where it goes, its title and its storage body.
pub struct Content<'a> {
    pub space: &'a Space,
    pub parent: &'a str,
    pub title: &'a str,
    pub body: &'a str,
}

impl Content<'_> {
    /// The create (no `update`) or update (`(id, version, message)`) request in `flavour`'s JSON.
    fn request(&self, flavour: Flavour, update: Option<(&str, u64, &str)>) -> Value {
        let mut request = match flavour {
            Flavour::V1 => json!({
                "type": "page", "title": self.title, "space": {"key": self.space.key},
                "ancestors": [{"id": self.parent}],
                "body": {"storage": {"value": self.body, "representation": "storage"}},
            }),
            Flavour::V2 => json!({
                "spaceId": self.space.id, "status": "current", "title": self.title, "parentId": self.parent,
                "body": {"representation": "storage", "value": self.body},
            }),
        };
        if let Some((id, version, message)) = update {
            request["id"] = json!(id);
            request["version"] = json!({"number": version, "message": message});
        }
        request
    }
}

#[derive(Debug, Clone)]
pub struct Property {
    pub id: String,
    pub version: u64,
    pub value: Value,
}

/// A page as a read returned it.
#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub space: String,
    pub parent: Option<String>,
    pub version: u64,
    pub message: String,
    pub by: String,
    pub when: String,
    pub property: Option<Property>,
}

pub struct Client {
    pub http: Http,
    pub flavour: Flavour,
    page_size: usize,
}

const EXPAND: &str = "version,ancestors,space,metadata.properties.kbpub";

impl Client {
    /// Resolves `api` (asking the server when `auto`) and looks up `keys`: one request on Cloud.
    pub async fn connect(
        http: Http,
        api: Api,
        page_size: usize,
        keys: &[String],
    ) -> Result<(Client, HashMap<String, Space>), HttpError> {
        let mut client = Client {
            http,
            flavour: Flavour::V2,
            page_size,
        };
        if api != Api::V1 {
            let path = format!(
                "/api/v2/spaces?{}",
                query(&[("keys", &keys.join(",")), ("limit", "250")])
            );
            match client.get(&path).await {
                Ok(reply) => {
                    let spaces = results(&reply)
                        .iter()
                        .map(|s| {
                            let key = text(s, "key");
                            (
                                key.clone(),
                                Space {
                                    key,
                                    id: text(s, "id"),
                                    home: text(s, "homepageId"),
                                },
                            )
                        })
                        .collect();
                    return Ok((client, spaces));
                }
                Err(e) if api == Api::Auto && (e.is(404) || e.is(405)) => {}
                Err(e) => return Err(e),
            }
        }
        client.flavour = Flavour::V1;
        let mut spaces = HashMap::new();
        for key in keys {
            let path = format!("/rest/api/space/{}?expand=homepage", segment(key));
            match client.get(&path).await {
                Ok(s) => {
                    let home = s.pointer("/homepage/id").map(id_text).unwrap_or_default();
                    spaces.insert(
                        key.clone(),
                        Space {
                            key: key.clone(),
                            id: key.clone(),
                            home,
                        },
                    );
                }
                Err(e) if e.is(404) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((client, spaces))
    }

    async fn get(&self, path: &str) -> Result<Value, HttpError> {
        self.http.get(path).await
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        body: Value,
        safe: bool,
    ) -> Result<Value, HttpError> {
        Ok(self
            .http
            .send(method, path, Body::Json(body), safe, &[])
            .await?
            .json)
    }

    /// Every page under `roots`, with version, parent and kbpub's property: one paginated CQL
    /// search (`ceil(pages / page size)` requests).
    pub async fn scan(&self, roots: &[String]) -> Result<Vec<Page>, HttpError> {
        if roots.is_empty() {
            return Ok(Vec::new());
        }
        let ancestors: Vec<String> = roots.iter().map(|r| format!("ancestor = {r}")).collect();
        let cql = format!("type = page and ({})", ancestors.join(" or "));
        let mut next = Some(format!(
            "/rest/api/content/search?{}",
            query(&[
                ("cql", &cql),
                ("limit", &self.page_size.to_string()),
                ("expand", EXPAND)
            ])
        ));
        let mut pages = Vec::new();
        while let Some(path) = next.take() {
            let reply = self.get(&path).await?;
            pages.extend(results(&reply).iter().map(page_v1));
            next = reply
                .pointer("/_links/next")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty() && !results(&reply).is_empty())
                .map(String::from);
        }
        Ok(pages)
    }

    /// The page titled `title` in `space`, with its property (after a create failed mid-way).
    pub async fn find_by_title(
        &self,
        space: &Space,
        title: &str,
    ) -> Result<Option<Page>, HttpError> {
        match self.flavour {
            Flavour::V1 => {
                let path = format!(
                    "/rest/api/content?{}",
                    query(&[
                        ("spaceKey", &space.key),
                        ("title", title),
                        ("type", "page"),
                        ("expand", EXPAND)
                    ])
                );
                Ok(results(&self.get(&path).await?).first().map(page_v1))
            }
            Flavour::V2 => {
                let path = format!(
                    "/api/v2/pages?{}",
                    query(&[("space-id", &space.id), ("title", title)])
                );
                let reply = self.get(&path).await?;
                let Some(found) = results(&reply).first() else {
                    return Ok(None);
                };
                let mut page = page_v2(found, &space.key);
                page.property = self.property(&page.id).await?;
                Ok(Some(page))
            }
        }
    }

    /// The page's current version (to settle a 409).
    pub async fn current(&self, id: &str, space: &str) -> Result<Page, HttpError> {
        match self.flavour {
            Flavour::V1 => Ok(page_v1(
                &self
                    .get(&format!("/rest/api/content/{id}?expand={EXPAND}"))
                    .await?,
            )),
            Flavour::V2 => Ok(page_v2(
                &self.get(&format!("/api/v2/pages/{id}")).await?,
                space,
            )),
        }
    }

    /// Creates a page (version 1). Not retried on 5xx: the caller looks it up first.
    pub async fn create(&self, content: &Content<'_>) -> Result<Page, HttpError> {
        let request = content.request(self.flavour, None);
        Ok(match self.flavour {
            Flavour::V1 => page_v1(
                &self
                    .write(Method::POST, "/rest/api/content", request, false)
                    .await?,
            ),
            Flavour::V2 => page_v2(
                &self
                    .write(Method::POST, "/api/v2/pages", request, false)
                    .await?,
                &content.space.key,
            ),
        })
    }

    /// Writes version `version` of page `id`. Safe to repeat: a repeat of a write that landed
    /// gets 409, which the caller settles.
    pub async fn update(
        &self,
        id: &str,
        content: &Content<'_>,
        version: u64,
        message: &str,
    ) -> Result<(), HttpError> {
        let request = content.request(self.flavour, Some((id, version, message)));
        let path = match self.flavour {
            Flavour::V1 => format!("/rest/api/content/{id}"),
            Flavour::V2 => format!("/api/v2/pages/{id}"),
        };
        self.write(Method::PUT, &path, request, true).await?;
        Ok(())
    }

    /// Moves a page under `parent`, which may be in another space.
    pub async fn move_under(&self, id: &str, parent: &str) -> Result<(), HttpError> {
        let path = format!("/rest/api/content/{id}/move/append/{parent}");
        self.http
            .send(Method::PUT, &path, Body::Empty, true, &[])
            .await?;
        Ok(())
    }

    pub async fn add_labels(&self, id: &str, labels: &[String]) -> Result<(), HttpError> {
        let body: Vec<Value> = labels
            .iter()
            .map(|l| json!({"prefix": "global", "name": l}))
            .collect();
        self.write(
            Method::POST,
            &format!("/rest/api/content/{id}/label"),
            Value::Array(body),
            true,
        )
        .await?;
        Ok(())
    }

    pub async fn remove_label(&self, id: &str, label: &str) -> Result<(), HttpError> {
        let path = format!("/rest/api/content/{id}/label?{}", query(&[("name", label)]));
        match self
            .http
            .send(Method::DELETE, &path, Body::Empty, true, &[])
            .await
        {
            Err(e) if e.is(404) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Uploads `bytes` as attachment `filename`: new data for `known` (the id kbpub recorded),
    /// else a new attachment; when the name is already taken, new data for that attachment.
    pub async fn upload(
        &self,
        page: &str,
        filename: &str,
        bytes: Arc<Vec<u8>>,
        mime: &'static str,
        known: Option<&str>,
    ) -> Result<String, HttpError> {
        let file = Body::File {
            filename: filename.to_string(),
            bytes,
            mime,
        };
        let nocheck = [("X-Atlassian-Token", "no-check")];
        let base = format!("/rest/api/content/{page}/child/attachment");
        if let Some(id) = known {
            match self
                .http
                .send(
                    Method::POST,
                    &format!("{base}/{id}/data"),
                    file.clone(),
                    true,
                    &nocheck,
                )
                .await
            {
                Ok(_) => return Ok(id.to_string()),
                Err(e) if e.is(404) => {}
                Err(e) => return Err(e),
            }
        }
        match self
            .http
            .send(Method::POST, &base, file.clone(), true, &nocheck)
            .await
        {
            Ok(reply) => Ok(results(&reply.json)
                .first()
                .map(|a| text(a, "id"))
                .unwrap_or_default()),
            Err(e) if e.is(400) => {
                let listing = self
                    .get(&format!("{base}?{}", query(&[("filename", filename)])))
                    .await?;
                let Some(id) = results(&listing).first().map(|a| text(a, "id")) else {
                    return Err(e);
                };
                self.http
                    .send(
                        Method::POST,
                        &format!("{base}/{id}/data"),
                        file,
                        true,
                        &nocheck,
                    )
                    .await?;
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// kbpub's property on a page, if any.
    pub async fn property(&self, page: &str) -> Result<Option<Property>, HttpError> {
        let result = match self.flavour {
            Flavour::V1 => {
                self.get(&format!("/rest/api/content/{page}/property/{PROPERTY_KEY}"))
                    .await
            }
            Flavour::V2 => self
                .get(&format!(
                    "/api/v2/pages/{page}/properties?key={PROPERTY_KEY}"
                ))
                .await
                .map(|r| results(&r).first().cloned().unwrap_or(Value::Null)),
        };
        match result {
            Ok(Value::Null) => Ok(None),
            Ok(p) => Ok(Some(property(&p))),
            Err(e) if e.is(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes kbpub's property: creates it, or writes the next version of `existing`. A 409
    /// (someone else's write, or a repeat of ours that landed) re-reads it and tries once more.
    pub async fn write_property(
        &self,
        page: &str,
        existing: Option<&Property>,
        value: &Value,
    ) -> Result<(), HttpError> {
        match self.try_write_property(page, existing, value).await {
            Err(e) if e.is(409) => {
                let current = self.property(page).await?;
                self.try_write_property(page, current.as_ref(), value).await
            }
            other => other,
        }
    }

    async fn try_write_property(
        &self,
        page: &str,
        existing: Option<&Property>,
        value: &Value,
    ) -> Result<(), HttpError> {
        let (method, path, body) = match (self.flavour, existing) {
            (Flavour::V1, None) => (
                Method::POST,
                format!("/rest/api/content/{page}/property"),
                json!({"key": PROPERTY_KEY, "value": value}),
            ),
            (Flavour::V1, Some(p)) => (
                Method::PUT,
                format!("/rest/api/content/{page}/property/{PROPERTY_KEY}"),
                json!({"key": PROPERTY_KEY, "value": value, "version": {"number": p.version + 1}}),
            ),
            (Flavour::V2, None) => (
                Method::POST,
                format!("/api/v2/pages/{page}/properties"),
                json!({"key": PROPERTY_KEY, "value": value}),
            ),
            (Flavour::V2, Some(p)) => (
                Method::PUT,
                format!("/api/v2/pages/{page}/properties/{}", p.id),
                json!({"key": PROPERTY_KEY, "value": value, "version": {"number": p.version + 1}}),
            ),
        };
        self.write(method, &path, body, true).await.map(|_| ())
    }

    /// Removes a page whose source is gone: archived on Cloud, moved to the trash on Data Center.
    pub async fn prune(&self, id: &str) -> Result<(), HttpError> {
        let result = match self.flavour {
            Flavour::V2 => self
                .write(
                    Method::POST,
                    "/rest/api/content/archive",
                    json!({"pages": [{"id": id}]}),
                    true,
                )
                .await
                .map(|_| ()),
            Flavour::V1 => self
                .http
                .send(
                    Method::DELETE,
                    &format!("/rest/api/content/{id}"),
                    Body::Empty,
                    true,
                    &[],
                )
                .await
                .map(|_| ()),
        };
        match result {
            Err(e) if e.is(404) => Ok(()),
            other => other,
        }
    }
}

fn results(reply: &Value) -> &[Value] {
    reply
        .get("results")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Ids are strings in v2 and v1 JSON, but tolerate numbers.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).map(id_text).unwrap_or_default()
}

fn number(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

fn property(p: &Value) -> Property {
    Property {
        id: text(p, "id"),
        version: number(p, "/version/number"),
        value: p.get("value").cloned().unwrap_or(Value::Null),
    }
}

/// The string at `pointer`, or "".
fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A v1 content object (search results, content reads and creates).
fn page_v1(v: &Value) -> Page {
    Page {
        id: text(v, "id"),
        title: text(v, "title"),
        space: str_at(v, "/space/key"),
        parent: v
            .get("ancestors")
            .and_then(Value::as_array)
            .and_then(|a| a.last())
            .map(|a| text(a, "id")),
        version: number(v, "/version/number"),
        message: str_at(v, "/version/message"),
        by: v
            .pointer("/version/by/displayName")
            .or_else(|| v.pointer("/version/by/username"))
            .and_then(Value::as_str)
            .unwrap_or("someone")
            .to_string(),
        when: str_at(v, "/version/when"),
        property: v
            .pointer(&format!("/metadata/properties/{PROPERTY_KEY}"))
            .filter(|p| p.is_object())
            .map(property),
    }
}

/// A v2 page object.
fn page_v2(v: &Value, space: &str) -> Page {
    Page {
        id: text(v, "id"),
        title: text(v, "title"),
        space: space.to_string(),
        parent: v.get("parentId").map(id_text).filter(|p| !p.is_empty()),
        version: number(v, "/version/number"),
        message: str_at(v, "/version/message"),
        by: v
            .pointer("/version/authorId")
            .map(id_text)
            .unwrap_or_else(|| "someone".into()),
        when: str_at(v, "/version/createdAt"),
        property: None,
    }
}

/// `a=b&c=d` with RFC 3986 percent-encoding.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", segment(k), segment(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

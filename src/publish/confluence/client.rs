//! The Confluence REST client: Cloud (REST v2 for pages and properties, v1 for labels,
//! attachments, CQL search and archiving) and Data Center (REST v1 under the context path).
//! Each method is one operation of the publish flow, in Confluence's own terms; the JSON shapes
//! of both APIs stay inside this file. Every list is read to its end (`_links.next`: v1 offsets,
//! CQL and v2 cursors). Writes that must not be repeated blindly go through [`Client::settle`]:
//! after a 5xx or no answer, and after a 409, the write is read back before it is sent again, and
//! a write found applied counts as done. GETs and DELETEs carry `Content-Type` (Data Center
//! versions require it); a v1 endpoint Cloud has removed (410) is named in the error.

use std::collections::HashMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use crate::config::confluence::Api;
use crate::publish::http::{Body, Http, HttpError, Reply};

/// The content property kbpub keeps on every page it manages.
pub const PROPERTY_KEY: &str = "kbpub";
/// Version messages kbpub writes start with this, so a later run can tell its own versions
/// from people's edits.
pub const VERSION_MESSAGE_PREFIX: &str = "kbpub ";
/// The comment of every attachment version kbpub uploads, before the SHA-256 of its bytes.
const ATTACHMENT_COMMENT_PREFIX: &str = "kbpub sha256:";

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
    /// The account of the last version's author (Cloud account id, Data Center user name).
    pub author: String,
    pub when: String,
    pub property: Option<Property>,
}

pub struct Client {
    pub http: std::sync::Arc<Http>,
    pub flavour: Flavour,
    page_size: usize,
    /// The base URL's path (`/wiki`, `/confluence`): v2 `next` links start with it.
    context: String,
    /// Space key by v2 space id (Cloud).
    space_keys: HashMap<String, String>,
}

use crate::net::retry::WRITE_ATTEMPTS;

/// Every request carries this, GETs and DELETEs included: Data Center versions refuse those
/// without it (415).
const JSON_TYPE: (&str, &str) = ("Content-Type", "application/json");

const EXPAND: &str = "version,ancestors,space,metadata.properties.kbpub";

impl Client {
    /// Resolves `api` (asking the server when `auto`) and looks up `keys`: one request on Cloud
    /// (more when the server pages small).
    pub async fn connect(
        http: std::sync::Arc<Http>,
        base_url: &str,
        api: Api,
        page_size: usize,
        keys: &[String],
    ) -> Result<(Client, HashMap<String, Space>), HttpError> {
        let context = base_url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(_, path)| format!("/{}", path.trim_end_matches('/')))
            .unwrap_or_default();
        let mut client = Client {
            http,
            flavour: Flavour::V2,
            page_size,
            context,
            space_keys: HashMap::new(),
        };
        if api != Api::V1 {
            let path = format!(
                "/api/v2/spaces?{}",
                query(&[("keys", &keys.join(",")), ("limit", "250")])
            );
            match client.all(path).await {
                Ok(found) => {
                    let spaces: HashMap<String, Space> = found
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
                    client.space_keys = spaces
                        .values()
                        .map(|s| (s.id.clone(), s.key.clone()))
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
        self.send(Method::GET, path, Body::Empty, true, &[]).await
    }

    /// One request's JSON answer.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        safe: bool,
        headers: &[(&str, &str)],
    ) -> Result<Value, HttpError> {
        Ok(self.reply(method, path, body, safe, headers).await?.json)
    }

    /// One request; the error names a v1 endpoint Cloud has removed (410 Gone).
    async fn reply(
        &self,
        method: Method,
        path: &str,
        body: Body,
        safe: bool,
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        let mut all = headers.to_vec();
        if matches!(body, Body::Empty) {
            all.push(JSON_TYPE);
        }
        match self.http.send(method, path, body, safe, &all).await {
            Ok(reply) => Ok(reply),
            Err(mut e) if e.is(410) => {
                let what = match self.flavour {
                    Flavour::V1 => {
                        "this is Confluence Cloud: set `api = \"auto\"` (or \"v2\") in [confluence] and kbpub uses REST v2 instead"
                    }
                    Flavour::V2 => {
                        "kbpub has no REST v2 equivalent for it: report this to the kbpub maintainers"
                    }
                };
                e.message = format!(
                    "{}; Confluence has removed this REST v1 endpoint, {what}",
                    e.message
                );
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        body: Value,
        safe: bool,
    ) -> Result<Value, HttpError> {
        self.send(method, path, Body::Json(body), safe, &[]).await
    }

    /// Every item of a list, following `_links.next` (or v2's `Link` header) to the end (v1 `start`, CQL and v2
    /// cursors; v2 links start with the context path, v1 links do not).
    async fn all(&self, first: String) -> Result<Vec<Value>, HttpError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        while let Some(path) = next.take() {
            let reply = self
                .reply(Method::GET, &path, Body::Empty, true, &[])
                .await?;
            let page = &reply.json;
            items.extend(results(page).iter().cloned());
            let link = link_next(&reply.headers);
            next = page
                .pointer("/_links/next")
                .and_then(Value::as_str)
                .or(link.as_deref())
                .filter(|n| !n.is_empty() && !results(page).is_empty())
                .map(|n| self.relative(n));
        }
        Ok(items)
    }

    /// A `next` link as a path under the base URL.
    fn relative(&self, link: &str) -> String {
        let path = link
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or(link);
        match path.strip_prefix(self.context.as_str()) {
            Some(rest) if !self.context.is_empty() && rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        }
    }

    /// Sends a write that must not be repeated blindly. After a 5xx or no answer, `applied`
    /// reads back whether it landed (then it is done) before it is sent again; a 409 (a
    /// transient conflict, or a repeat of ours) is read back the same way and retried once.
    async fn settle<T>(
        &self,
        write: impl AsyncFn() -> Result<T, HttpError>,
        applied: impl AsyncFn() -> Result<Option<T>, HttpError>,
    ) -> Result<T, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match write().await {
                Err(e)
                    if (e.is_server_error() && attempt < WRITE_ATTEMPTS)
                        || (e.is(409) && attempt == 1) =>
                {
                    if let Some(done) = applied().await? {
                        return Ok(done);
                    }
                }
                other => return other,
            }
        }
    }

    /// The account kbpub publishes as: Cloud account id, or Data Center user name.
    pub async fn me(&self) -> Result<String, HttpError> {
        let me = self.get("/rest/api/user/current").await?;
        Ok(me
            .get("accountId")
            .or_else(|| me.get("username"))
            .map(id_text)
            .unwrap_or_default())
    }

    /// The storage body of page `id`.
    pub async fn body(&self, id: &str) -> Result<String, HttpError> {
        Ok(match self.flavour {
            Flavour::V1 => str_at(
                &self
                    .get(&format!("/rest/api/content/{id}?expand=body.storage"))
                    .await?,
                "/body/storage/value",
            ),
            Flavour::V2 => str_at(
                &self
                    .get(&format!("/api/v2/pages/{id}?body-format=storage"))
                    .await?,
                "/body/storage/value",
            ),
        })
    }

    /// Page `id` with kbpub's property, or `None` when it is gone (a direct read: unlike the
    /// search, it never lags).
    pub async fn read(&self, id: &str) -> Result<Option<Page>, HttpError> {
        let path = match self.flavour {
            Flavour::V1 => format!("/rest/api/content/{id}?expand={EXPAND}"),
            Flavour::V2 => format!("/api/v2/pages/{id}"),
        };
        let reply = match self.get(&path).await {
            // Archived and trashed pages are not published pages.
            Ok(reply)
                if text(&reply, "status").is_empty() || text(&reply, "status") == "current" =>
            {
                reply
            }
            Ok(_) => return Ok(None),
            Err(e) if e.is(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(match self.flavour {
            Flavour::V1 => page_v1(&reply),
            Flavour::V2 => {
                let space = self
                    .space_keys
                    .get(&text(&reply, "spaceId"))
                    .cloned()
                    .unwrap_or_default();
                let mut page = page_v2(&reply, &space);
                page.property = self.property(id).await?;
                page
            }
        }))
    }

    /// Every page under `roots`, with version, parent and kbpub's property: one paginated CQL
    /// search (`ceil(pages / page size)` requests).
    pub async fn scan(&self, roots: &[String]) -> Result<Vec<Page>, HttpError> {
        if roots.is_empty() {
            return Ok(Vec::new());
        }
        let ancestors: Vec<String> = roots.iter().map(|r| format!("ancestor = {r}")).collect();
        let cql = format!("type = page and ({})", ancestors.join(" or "));
        let first = format!(
            "/rest/api/content/search?{}",
            query(&[
                ("cql", &cql),
                ("limit", &self.page_size.to_string()),
                ("expand", EXPAND)
            ])
        );
        Ok(self.all(first).await?.iter().map(page_v1).collect())
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
                Ok(self.all(path).await?.first().map(page_v1))
            }
            Flavour::V2 => {
                let path = format!(
                    "/api/v2/pages?{}",
                    query(&[("space-id", &space.id), ("title", title)])
                );
                let Some(found) = self.all(path).await?.into_iter().next() else {
                    return Ok(None);
                };
                let mut page = page_v2(&found, &space.key);
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
        self.send(Method::PUT, &path, Body::Empty, true, &[])
            .await?;
        Ok(())
    }

    /// The page's labels (every page of the list).
    pub async fn labels(&self, id: &str) -> Result<Vec<String>, HttpError> {
        let first = format!(
            "/rest/api/content/{id}/label?{}",
            query(&[("limit", &self.page_size.to_string())])
        );
        Ok(self
            .all(first)
            .await?
            .iter()
            .map(|l| text(l, "name"))
            .collect())
    }

    pub async fn add_labels(&self, id: &str, labels: &[String]) -> Result<(), HttpError> {
        let body: Vec<Value> = labels
            .iter()
            .map(|l| json!({"prefix": "global", "name": l}))
            .collect();
        let path = format!("/rest/api/content/{id}/label");
        self.settle(
            async || {
                self.write(Method::POST, &path, Value::Array(body.clone()), false)
                    .await
                    .map(|_| ())
            },
            async || {
                let now = self.labels(id).await?;
                Ok(labels.iter().all(|l| now.contains(l)).then_some(()))
            },
        )
        .await
    }

    pub async fn remove_label(&self, id: &str, label: &str) -> Result<(), HttpError> {
        let path = format!("/rest/api/content/{id}/label?{}", query(&[("name", label)]));
        self.settle(
            async || match self
                .send(Method::DELETE, &path, Body::Empty, false, &[])
                .await
            {
                Err(e) if e.is(404) => Ok(()),
                other => other.map(|_| ()),
            },
            async || {
                let now = self.labels(id).await?;
                Ok((!now.iter().any(|l| l == label)).then_some(()))
            },
        )
        .await
    }

    /// The page's attachments named `filename`: (id, size in bytes).
    async fn attachments(
        &self,
        page: &str,
        filename: &str,
    ) -> Result<Vec<(String, u64, String)>, HttpError> {
        let first = format!(
            "/rest/api/content/{page}/child/attachment?{}",
            query(&[
                ("filename", filename),
                ("limit", &self.page_size.to_string())
            ])
        );
        Ok(self
            .all(first)
            .await?
            .iter()
            .filter(|a| text(a, "title") == filename)
            .map(|a| {
                let comment = a
                    .pointer("/metadata/comment")
                    .or_else(|| a.pointer("/extensions/comment"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (
                    attachment_id(a),
                    number(a, "/extensions/fileSize"),
                    comment.to_string(),
                )
            })
            .collect())
    }

    /// Uploads `bytes` (recorded by kbpub with hash `sha256`) as attachment `filename`: new data for
    /// `known` (the id kbpub recorded), else a new attachment; when the name is already taken,
    /// new data for that attachment. Each upload carries the bytes' hash in its comment, so after
    /// a 5xx or a 409 the upload counts as done only when the attachment is there with the size
    /// and the hash sent.
    pub async fn upload(
        &self,
        page: &str,
        filename: &str,
        bytes: Arc<Vec<u8>>,
        sha256: &str,
        mime: &'static str,
        known: Option<&str>,
    ) -> Result<String, HttpError> {
        let size = bytes.len() as u64;
        let comment = format!("{ATTACHMENT_COMMENT_PREFIX}{sha256}");
        let file = Body::File {
            filename: filename.to_string(),
            bytes,
            mime,
            comment: Some(comment.clone()),
        };
        let nocheck = [("X-Atlassian-Token", "no-check")];
        let base = format!("/rest/api/content/{page}/child/attachment");
        let landed = async |id: Option<&str>| -> Result<Option<String>, HttpError> {
            Ok(self
                .attachments(page, filename)
                .await?
                .into_iter()
                .find(|(found, found_size, found_comment)| {
                    *found_size == size
                        && *found_comment == comment
                        && id.is_none_or(|id| id == found)
                })
                .map(|(found, _, _)| found))
        };
        let new_data = async |id: &str| -> Result<String, HttpError> {
            self.settle(
                async || {
                    self.send(
                        Method::POST,
                        &format!("{base}/{id}/data"),
                        file.clone(),
                        false,
                        &nocheck,
                    )
                    .await
                    .map(|_| id.to_string())
                },
                async || landed(Some(id)).await,
            )
            .await
        };
        if let Some(id) = known {
            match new_data(id).await {
                Err(e) if e.is(404) => {}
                other => return other,
            }
        }
        let created = self
            .settle(
                async || {
                    let reply = self
                        .send(Method::POST, &base, file.clone(), false, &nocheck)
                        .await?;
                    Ok(results(&reply)
                        .first()
                        .map(attachment_id)
                        .unwrap_or_default())
                },
                async || landed(None).await,
            )
            .await;
        match created {
            Err(e) if e.is(400) => {
                let Some((id, _, _)) = self.attachments(page, filename).await?.into_iter().next()
                else {
                    return Err(e);
                };
                new_data(&id).await
            }
            other => other,
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
                .all(format!(
                    "/api/v2/pages/{page}/properties?key={PROPERTY_KEY}"
                ))
                .await
                .map(|found| {
                    found
                        .into_iter()
                        .find(|p| text(p, "key") == PROPERTY_KEY)
                        .unwrap_or(Value::Null)
                }),
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
        let current = std::sync::Mutex::new(existing.cloned());
        self.settle(
            async || {
                let existing = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match self
                    .try_write_property(page, existing.as_ref(), value)
                    .await
                {
                    // v1 answers a create of a key that exists with 400: someone (or a
                    // create of ours that landed) was first; read it back like a 409.
                    Err(mut e) if e.is(400) && existing.is_none() => {
                        e.status = Some(409);
                        Err(e)
                    }
                    other => other,
                }
            },
            async || {
                let now = self.property(page).await?;
                let done = now.as_ref().is_some_and(|p| &p.value == value);
                *current.lock().unwrap_or_else(|e| e.into_inner()) = now;
                Ok(done.then_some(()))
            },
        )
        .await
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
        self.write(method, &path, body, false).await.map(|_| ())
    }

    /// Removes a page whose source is gone: archived on Cloud, moved to the trash on Data Center.
    pub async fn prune(&self, id: &str) -> Result<(), HttpError> {
        let result = match self.flavour {
            // The archive request takes ids as JSON numbers; a quoted id is a 400.
            Flavour::V2 => {
                let number: u64 = id.parse().map_err(|_| HttpError {
                    method: "POST".into(),
                    path: "/rest/api/content/archive".into(),
                    kind: crate::net::ErrorKind::Malformed,
                    status: None,
                    message: format!("page id `{id}` is not a number: cannot archive it"),
                    attempts: 0,
                })?;
                self.write(
                    Method::POST,
                    "/rest/api/content/archive",
                    json!({"pages": [{"id": number}]}),
                    true,
                )
                .await
                .map(|_| ())
            }
            Flavour::V1 => self
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

/// An attachment's id as the paths take it: the number, without v1's `att` prefix.
fn attachment_id(a: &Value) -> String {
    let id = text(a, "id");
    id.strip_prefix("att").map(String::from).unwrap_or(id)
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

/// The `rel="next"` target of a `Link` header (RFC 8288), which v2 lists send beside
/// `_links.next` (reference §1.4).
fn link_next(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|link| {
            link.split(';')
                .skip(1)
                .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
        })
        .and_then(|link| {
            let target = link.split(';').next()?.trim();
            Some(target.strip_prefix('<')?.strip_suffix('>')?.to_string())
        })
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
        author: v
            .pointer("/version/by/accountId")
            .or_else(|| v.pointer("/version/by/username"))
            .map(id_text)
            .unwrap_or_default(),
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
        author: v
            .pointer("/version/authorId")
            .map(id_text)
            .unwrap_or_default(),
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

//! The Confluence model an instance keeps in memory, as the reference describes it: spaces with
//! their home pages, pages (title, parent, status, storage body, version with message and
//! author), content properties, labels and attachments, the rules an instance is switched to,
//! and the CQL search index (which pages are found, and the one query shape the server parses).
//! No HTTP here beyond the JSON each API shows a page as.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The most results any list returns (v2's documented maximum).
pub(super) const MAX_PAGE: usize = 250;

/// The behaviours the reference leaves open, switchable per instance (`POST .../rules`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Rules {
    /// The most results per list request, whatever `limit` asks (servers clamp it).
    pub(super) page_size: usize,
    /// New pages are not found by CQL search until `reindex` (Cloud's index lags).
    pub(super) search_lag: bool,
    /// Data Center: GET and DELETE without `Content-Type` are refused with 415.
    pub(super) content_type_required: bool,
    /// Cloud: the deprecated v1 content endpoints answer 410 Gone.
    pub(super) v1_removed: bool,
    /// v2 lists name their next page only in the `Link` header (reference §1.4 documents it
    /// beside `_links.next`), so a client reading one of the two is tested on the other.
    pub(super) v2_link_only: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            page_size: MAX_PAGE,
            search_lag: false,
            content_type_required: false,
            v1_removed: false,
            v2_link_only: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Cloud,
    DataCenter,
}

#[derive(Debug, Clone)]
pub(super) struct Space {
    pub(super) id: u64,
    pub(super) key: String,
    pub(super) home: u64,
}

#[derive(Debug, Clone)]
pub(super) struct Property {
    pub(super) id: u64,
    pub(super) value: Value,
    pub(super) version: u64,
}

#[derive(Debug, Clone)]
pub(super) struct Attachment {
    pub(super) id: u64,
    pub(super) filename: String,
    pub(super) bytes: usize,
    /// The media type, sniffed from the bytes for the formats tests care about.
    pub(super) media_type: &'static str,
    pub(super) version: u64,
    /// The `comment` part of the upload that wrote this version (reference §2.9), or "".
    pub(super) comment: String,
}

pub(super) fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(b"<svg") || bytes.starts_with(b"<?xml") {
        "image/svg+xml"
    } else {
        "application/octet-stream"
    }
}

#[derive(Debug, Clone)]
pub(super) struct PageRec {
    pub(super) id: u64,
    pub(super) space: String,
    pub(super) title: String,
    pub(super) parent: Option<u64>,
    /// `current`, `archived` or `trashed`.
    pub(super) status: &'static str,
    pub(super) body: String,
    pub(super) version: u64,
    pub(super) message: String,
    /// The last version's author: display name and account (Cloud account id, DC user name).
    pub(super) by: String,
    pub(super) author: String,
    pub(super) when: String,
    pub(super) labels: BTreeSet<String>,
    pub(super) properties: BTreeMap<String, Property>,
    pub(super) attachments: Vec<Attachment>,
    /// Found by CQL search (false until `reindex` while the index lags).
    pub(super) indexed: bool,
}

pub(super) struct Instance {
    pub(super) kind: Kind,
    pub(super) rules: Rules,
    pub(super) spaces: Vec<Space>,
    pub(super) pages: BTreeMap<u64, PageRec>,
    next_id: u64,
}

impl Instance {
    pub(super) fn new(kind: Kind) -> Instance {
        let mut instance = Instance {
            kind,
            rules: Rules::default(),
            spaces: Vec::new(),
            pages: BTreeMap::new(),
            next_id: 65_537,
        };
        for key in ["OPS", "EDIOPS", "PARTNERS"] {
            instance.add_space(key);
        }
        instance
    }

    pub(super) fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn add_space(&mut self, key: &str) {
        let id = self.id();
        let home = self.id();
        self.pages.insert(
            home,
            PageRec {
                id: home,
                space: key.to_string(),
                title: format!("{key} Home"),
                parent: None,
                status: "current",
                body: "<p>Home</p>".into(),
                version: 1,
                message: String::new(),
                by: "Space Admin".into(),
                author: "space-admin".into(),
                when: now(),
                labels: BTreeSet::new(),
                properties: BTreeMap::new(),
                attachments: Vec::new(),
                indexed: true,
            },
        );
        self.spaces.push(Space {
            id,
            key: key.to_string(),
            home,
        });
    }

    pub(super) fn space_by_key(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    pub(super) fn title_taken(&self, space: &str, title: &str, except: Option<u64>) -> bool {
        let lower = title.to_lowercase();
        self.pages.values().any(|p| {
            p.status == "current"
                && p.space == space
                && Some(p.id) != except
                && p.title.to_lowercase() == lower
        })
    }

    pub(super) fn ancestors(&self, page: &PageRec) -> Vec<u64> {
        let mut chain = Vec::new();
        let mut parent = page.parent;
        while let Some(id) = parent {
            chain.push(id);
            parent = self.pages.get(&id).and_then(|p| p.parent);
        }
        chain.reverse();
        chain
    }

    pub(super) fn v1(&self, page: &PageRec) -> Value {
        let ancestors: Vec<Value> = self
            .ancestors(page)
            .iter()
            .map(|id| json!({"id": id.to_string(), "type": "page", "title": self.pages[id].title}))
            .collect();
        let properties: serde_json::Map<String, Value> = page
            .properties
            .iter()
            .map(|(k, p)| (k.clone(), property_json(k, p)))
            .collect();
        json!({
            "id": page.id.to_string(), "type": "page", "status": page.status, "title": page.title,
            "space": {"key": page.space},
            "version": {"number": page.version, "message": page.message, "when": page.when,
                        "by": self.person(page)},
            "ancestors": ancestors,
            "metadata": {"properties": properties},
            "_links": {"webui": format!("/spaces/{}/pages/{}", page.space, page.id)},
        })
    }

    pub(super) fn v2(&self, page: &PageRec) -> Value {
        let space_id = self.space_by_key(&page.space).map_or(0, |s| s.id);
        json!({
            "id": page.id.to_string(), "status": page.status, "title": page.title,
            "spaceId": space_id.to_string(), "parentId": page.parent.map(|p| p.to_string()),
            "version": {"number": page.version, "message": page.message, "createdAt": page.when, "authorId": page.author},
        })
    }

    /// A v1 user object: Cloud names the account id, Data Center the user name.
    pub(super) fn person(&self, page: &PageRec) -> Value {
        match self.kind {
            Kind::Cloud => {
                json!({"type": "known", "displayName": page.by, "accountId": page.author})
            }
            Kind::DataCenter => {
                json!({"type": "known", "displayName": page.by, "username": page.author})
            }
        }
    }

    /// The context path this instance is served under.
    pub(super) fn context(&self) -> &'static str {
        match self.kind {
            Kind::Cloud => "/wiki",
            Kind::DataCenter => "/confluence",
        }
    }
}

/// One instance, shared by its handlers and its control endpoints.
pub(super) type St = Arc<Mutex<Instance>>;

/// The authenticated caller: display name and account.
#[derive(Clone)]
pub(super) struct User {
    pub(super) name: String,
    pub(super) account: String,
}

pub(super) fn property_json(key: &str, p: &Property) -> Value {
    json!({"id": p.id.to_string(), "key": key, "value": p.value, "version": {"number": p.version}})
}

pub(super) fn attachment_json(a: &Attachment) -> Value {
    json!({"id": format!("att{}", a.id), "type": "attachment", "title": a.filename, "version": {"number": a.version},
           "metadata": {"comment": a.comment, "mediaType": a.media_type},
           "extensions": {"fileSize": a.bytes, "mediaType": a.media_type, "comment": a.comment}})
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The CQL this server understands: `type = page and (ancestor = 1 or ancestor = 2 ...)`
/// (CQL keywords and operators are case-insensitive; spaces around `=` optional).
pub(super) fn parse_cql(cql: &str) -> Option<Vec<u64>> {
    let lower = cql.trim().to_lowercase();
    let rest = lower
        .strip_prefix("type")?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let rest = rest
        .strip_prefix("page")?
        .trim_start()
        .strip_prefix("and")?
        .trim_start();
    let rest = rest.strip_prefix('(')?.strip_suffix(')')?;
    rest.split(" or ")
        .map(|term| {
            let value = term
                .trim()
                .strip_prefix("ancestor")?
                .trim_start()
                .strip_prefix('=')?;
            value.trim().trim_matches('"').parse().ok()
        })
        .collect()
}

/// The instance, even after a handler panicked holding it.
pub(super) fn lock(shared: &St) -> std::sync::MutexGuard<'_, Instance> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

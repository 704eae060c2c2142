//! The Trading Grid contract client over [`crate::net`]: the token sent only as an
//! `Authorization` header (and over plain HTTP only to this machine); connect and request
//! timeouts and a deadline for the whole pull; retries per the shared policy (429, 5xx, timeouts,
//! connection errors, and a 200 whose body is not a contract envelope, such as a proxy's HTML
//! error page), honouring `Retry-After` and the host's rate-limit gate; cursor pagination;
//! `ETag` / `If-None-Match` reuse from a local cache; refusal of another major `schema_version`.
//! Errors name the URL and HTTP status and never hold the token.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::contract::{self, Envelope, RecordError, Validate};
use crate::config::data::RecordKind;
pub use crate::net::Secret;
use crate::net::retry::{Budget, RetryPolicy};
use crate::net::{Answer, Auth, Body, HttpError, Request, Retry, Settings};

/// Limits for one pull.
#[derive(Debug, Clone)]
pub struct Limits {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retries: u32,
    /// Nothing is sent, and no wait starts, that would end after this.
    pub deadline: Instant,
}

/// What the client reports while it works (for the progress bar and `--verbose`).
#[derive(Debug, Clone)]
pub enum Event {
    /// A page of `kind` (`partners`, `accounts`, ...) arrived: records and pages so far, and
    /// whether it was the last page.
    Page {
        kind: &'static str,
        records: usize,
        pages: usize,
        not_modified: usize,
        done: bool,
    },
    Retry {
        url: String,
        reason: String,
        wait: Duration,
        attempt: u32,
    },
}

/// Why a fetch failed. Every variant names the URL; none holds the token.
#[derive(Debug)]
pub enum FetchError {
    /// The request failed: an error status, no answer, a body that is not an envelope, or the
    /// time budget ran out (after any retries).
    Http(HttpError),
    /// The envelopes do not page properly.
    Malformed { url: String, detail: String },
    /// Another major schema version.
    Schema { url: String, detail: String },
    /// A record does not fit the contract.
    Record { url: String, error: RecordError },
    /// Refused before sending anything.
    Refused { url: String, detail: String },
}

impl FetchError {
    /// Wrong or missing credentials: no fallback policy makes that right.
    pub fn is_auth(&self) -> bool {
        matches!(self, FetchError::Http(e) if e.is_auth())
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Http(e) => e.fmt(f),
            FetchError::Malformed { url, detail } => write!(
                f,
                "GET {url} returned a body that is not a contract v1 envelope: {detail}"
            ),
            FetchError::Schema { url, detail } => write!(f, "GET {url}: {detail}"),
            FetchError::Record { url, error } => write!(f, "GET {url}: invalid record {error}"),
            FetchError::Refused { url, detail } => write!(f, "{url}: {detail}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Records fetched from one endpoint, all pages.
#[derive(Debug)]
pub struct Fetched<T> {
    pub records: Vec<T>,
    pub schema_version: String,
    pub as_of: DateTime<Utc>,
    pub is_partial: bool,
    pub pages: usize,
    pub not_modified: usize,
}

pub struct Client<'a> {
    http: crate::net::Client,
    base: Url,
    cache: EtagCache,
    events: &'a (dyn Fn(Event) + Sync),
}

impl<'a> Client<'a> {
    /// A client for the API at `base_url`. The token goes over plain HTTP only to loopback hosts.
    pub fn new(
        base_url: &str,
        token: Secret,
        limits: Limits,
        cache_dir: PathBuf,
        events: &'a (dyn Fn(Event) + Sync),
    ) -> Result<Client<'a>, FetchError> {
        let refused = |detail: String| FetchError::Refused {
            url: base_url.to_string(),
            detail,
        };
        let base = Url::parse(base_url).map_err(|e| refused(format!("not a URL: {e}")))?;
        if !base.username().is_empty() || base.password().is_some() || base.query().is_some() {
            return Err(refused(
                "the URL must not hold credentials or a query; the token is sent as a header"
                    .into(),
            ));
        }
        let loopback = matches!(base.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(refused(
                    "use https: the token is only sent over plain http to this machine (localhost)"
                        .into(),
                ));
            }
        }
        let settings = Settings {
            connect_timeout: limits.connect_timeout,
            request_timeout: limits.request_timeout,
            policy: RetryPolicy {
                max_attempts: limits.retries + 1,
                ..RetryPolicy::default()
            },
            budget: Arc::new(Budget::until(limits.deadline)),
        };
        let http = crate::net::Client::new(&Auth::Bearer(token.expose().to_string()), settings)
            .map_err(refused)?;
        Ok(Client {
            http,
            base,
            cache: EtagCache { dir: cache_dir },
            events,
        })
    }

    /// Fetches every page of `kind` with `query`, validating each record.
    pub async fn fetch_all<T: serde::de::DeserializeOwned + Validate>(
        &self,
        kind: RecordKind,
        query: &[(&str, String)],
        page_size: u32,
    ) -> Result<Fetched<T>, FetchError> {
        let mut cursor: Option<String> = None;
        let mut fetched = Fetched {
            records: Vec::new(),
            schema_version: String::new(),
            as_of: DateTime::<Utc>::MIN_UTC,
            is_partial: false,
            pages: 0,
            not_modified: 0,
        };
        loop {
            let mut url =
                self.base
                    .join(contract::endpoint(kind))
                    .map_err(|e| FetchError::Refused {
                        url: self.base.to_string(),
                        detail: e.to_string(),
                    })?;
            {
                let mut pairs = url.query_pairs_mut();
                for (key, value) in query {
                    pairs.append_pair(key, value);
                }
                pairs.append_pair("limit", &page_size.to_string());
                if let Some(cursor) = &cursor {
                    pairs.append_pair("cursor", cursor);
                }
            }
            let shown = url.to_string();
            let (envelope, not_modified) = self.get(url).await.map_err(FetchError::Http)?;
            contract::check_schema_version(&envelope.schema_version).map_err(|detail| {
                FetchError::Schema {
                    url: shown.clone(),
                    detail,
                }
            })?;
            let records = contract::parse_records::<T>(kind, fetched.records.len(), envelope.data)
                .map_err(|mut error| {
                    error.message = self.http.redact(&error.message);
                    error.id = error.id.map(|id| self.http.redact(&id));
                    FetchError::Record {
                        url: shown.clone(),
                        error,
                    }
                })?;
            if fetched.pages == 0 {
                fetched.schema_version = envelope.schema_version;
                fetched.as_of = envelope.as_of;
            }
            fetched.pages += 1;
            fetched.not_modified += usize::from(not_modified);
            fetched.is_partial |= envelope.is_partial;
            fetched.records.extend(records);
            let next = envelope.next_cursor.filter(|c| !c.is_empty());
            (self.events)(Event::Page {
                kind: kind.name(),
                records: fetched.records.len(),
                pages: fetched.pages,
                not_modified: fetched.not_modified,
                done: next.is_none(),
            });
            match next {
                Some(next) => {
                    if cursor.as_deref() == Some(next.as_str()) {
                        return Err(FetchError::Malformed {
                            url: shown,
                            detail: "`next_cursor` repeats the cursor just used".into(),
                        });
                    }
                    cursor = Some(next);
                }
                _ => return Ok(fetched),
            }
        }
    }

    /// GETs one page, conditional on the cached ETag: its envelope, and whether it came from the
    /// cache (304). A body that is not an envelope is retried like a 5xx, then reported.
    async fn get(&self, url: Url) -> Result<(Envelope<Vec<serde_json::Value>>, bool), HttpError> {
        let shown = url.to_string();
        let cached = self.cache.get(&shown);
        let condition = cached
            .as_ref()
            .map(|entry| (IF_NONE_MATCH.as_str(), entry.etag.as_str()));
        let headers: Vec<(&str, &str)> = condition.into_iter().collect();
        let request = Request {
            method: Method::GET,
            url,
            shown: shown.clone(),
            body: Body::Empty,
            safe: true,
            headers: &headers,
        };
        let accept = |answer: Answer| {
            let (body, not_modified) = match (answer.status, &cached) {
                (304, Some(entry)) => (entry.body.clone(), true),
                (304, None) => {
                    return Err("304 Not Modified to a request that named no ETag".into());
                }
                _ => (answer.text, false),
            };
            let envelope: Envelope<Vec<serde_json::Value>> = serde_json::from_str(&body)
                .map_err(|e| format!("a body that is not a contract v1 envelope: {e}"))?;
            if let Some(etag) = answer.headers.get(ETAG).and_then(|v| v.to_str().ok())
                && !not_modified
            {
                self.cache.put(&shown, etag, &body);
            }
            Ok((envelope, not_modified))
        };
        let on_retry = |retry: &Retry| {
            (self.events)(Event::Retry {
                url: shown.clone(),
                reason: retry.reason.clone(),
                wait: retry.wait,
                attempt: retry.attempt,
            })
        };
        self.http.send(&request, accept, &on_retry).await
    }
}

/// Response bodies kept with their ETag, one file per URL, so an unchanged page is answered by
/// `304 Not Modified` and read from here. Only successful bodies are cached.
struct EtagCache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    url: String,
    etag: String,
    body: String,
}

impl EtagCache {
    fn file(&self, url: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.json",
            hex::encode(&Sha256::digest(url.as_bytes())[..16])
        ))
    }

    fn get(&self, url: &str) -> Option<CacheEntry> {
        let text = std::fs::read_to_string(self.file(url)).ok()?;
        serde_json::from_str::<CacheEntry>(&text)
            .ok()
            .filter(|e| e.url == url)
    }

    /// Best effort: a cache that cannot be written only costs a full download next time.
    fn put(&self, url: &str, etag: &str, body: &str) {
        let entry = CacheEntry {
            url: url.to_string(),
            etag: etag.to_string(),
            body: body.to_string(),
        };
        if let Ok(text) = serde_json::to_string(&entry) {
            let _ = super::snapshot::write_atomically(&self.file(url), &text);
        }
    }
}

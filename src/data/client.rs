//! The HTTP client for the Trading Grid contract: the token sent only as an `Authorization`
//! header; connect and request timeouts and a deadline for the whole pull; retries with
//! exponential backoff and jitter on 429, 502, 503, 504, timeouts and connection errors, honouring
//! `Retry-After` (seconds or an HTTP date); cursor pagination; `ETag` / `If-None-Match` reuse from
//! a local cache; refusal of another major `schema_version`. Errors name the URL and HTTP status
//! and never hold the token: server text is redacted before it is kept.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::header::{ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::contract::{self, Envelope, ErrorBody, RecordError, RecordKind, Validate};
use super::display_safe;

/// A token that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// Replaces every occurrence of the secret in `text` (as sent, and JSON-escaped).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_string();
        }
        let escaped = serde_json::to_string(&self.0).unwrap_or_default();
        let escaped = escaped.trim_matches('"');
        text.replace(&self.0, "[redacted]")
            .replace(escaped, "[redacted]")
    }

    /// Whether `text` holds the secret. Secrets shorter than 8 characters are not looked for:
    /// they cannot be told apart from ordinary text (and are too weak to be real tokens).
    pub fn appears_in(&self, text: &str) -> bool {
        self.0.chars().count() >= 8 && self.redact(text) != text
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

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
    /// A page of `kind` arrived: records and pages so far, and whether it was the last page.
    Page {
        kind: RecordKind,
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
    /// The server answered with an error status that is not worth retrying (or retries ran out).
    Status {
        url: String,
        status: u16,
        detail: String,
        attempts: u32,
    },
    /// Connection failure or timeout, after every retry.
    Network {
        url: String,
        detail: String,
        attempts: u32,
    },
    /// The time budget ran out (or the server asked to wait past it).
    Budget { url: String, detail: String },
    /// The body is not the contract's JSON envelope.
    Malformed { url: String, detail: String },
    /// Another major schema version.
    Schema { url: String, detail: String },
    /// A record does not fit the contract.
    Record { url: String, error: RecordError },
    /// Refused before sending anything.
    Refused { url: String, detail: String },
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tries = |n: &u32| {
            if *n > 1 {
                format!(" (after {n} attempts)")
            } else {
                String::new()
            }
        };
        match self {
            FetchError::Status {
                url,
                status,
                detail,
                attempts,
            } => write!(
                f,
                "GET {url} answered HTTP {status}{}: {detail}",
                tries(attempts)
            ),
            FetchError::Network {
                url,
                detail,
                attempts,
            } => write!(f, "GET {url} failed{}: {detail}", tries(attempts)),
            FetchError::Budget { url, detail } => write!(f, "GET {url}: {detail}"),
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
    http: reqwest::Client,
    base: Url,
    token: Secret,
    limits: Limits,
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
        let http = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("kbpub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| refused(format!("cannot start the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            token,
            limits,
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
            let mut url = self
                .base
                .join(kind.path())
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
            let (body, not_modified) = self.get(&url).await?;
            let shown = url.to_string();
            let envelope: Envelope<Vec<serde_json::Value>> =
                serde_json::from_str(&body).map_err(|e| FetchError::Malformed {
                    url: shown.clone(),
                    detail: self.token.redact(&e.to_string()),
                })?;
            contract::check_schema_version(&envelope.schema_version).map_err(|detail| {
                FetchError::Schema {
                    url: shown.clone(),
                    detail,
                }
            })?;
            let records = contract::parse_records::<T>(kind, fetched.records.len(), envelope.data)
                .map_err(|mut error| {
                    error.message = self.token.redact(&error.message);
                    error.id = error.id.map(|id| self.token.redact(&id));
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
                kind,
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

    /// GET with retries; returns the body and whether it came from the ETag cache (304).
    async fn get(&self, url: &Url) -> Result<(String, bool), FetchError> {
        let shown = url.to_string();
        let cached = self.cache.get(&shown);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let left = self
                .limits
                .deadline
                .saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(FetchError::Budget {
                    url: shown,
                    detail: "the time budget for the pull ran out (`[data] budget` in kbpub.toml)"
                        .into(),
                });
            }
            let mut request = self
                .http
                .get(url.clone())
                .bearer_auth(&self.token.0)
                .timeout(self.limits.request_timeout.min(left));
            if let Some(entry) = &cached {
                request = request.header(IF_NONE_MATCH, &entry.etag);
            }
            let (reason, server_wait) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::NOT_MODIFIED
                        && let Some(entry) = cached
                    {
                        return Ok((entry.body, true));
                    }
                    if status.is_success() {
                        let etag = response
                            .headers()
                            .get(ETAG)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        match response.text().await {
                            Ok(body) => {
                                if let Some(etag) = etag {
                                    self.cache.put(&shown, &etag, &body);
                                }
                                return Ok((body, false));
                            }
                            Err(e) if attempt <= self.limits.retries => (
                                format!("reading the body failed: {}", network_detail(&e)),
                                None,
                            ),
                            Err(e) => {
                                return Err(FetchError::Network {
                                    url: shown,
                                    detail: network_detail(&e),
                                    attempts: attempt,
                                });
                            }
                        }
                    } else {
                        let retry_after = response
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(parse_retry_after);
                        let detail = self.error_detail(response.text().await.unwrap_or_default());
                        let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                        if !retryable || attempt > self.limits.retries {
                            return Err(FetchError::Status {
                                url: shown,
                                status: status.as_u16(),
                                detail,
                                attempts: attempt,
                            });
                        }
                        (format!("HTTP {}", status.as_u16()), retry_after)
                    }
                }
                Err(e) => {
                    let detail = network_detail(&e);
                    if !(e.is_timeout() || e.is_connect() || e.is_request() || e.is_body())
                        || attempt > self.limits.retries
                    {
                        return Err(FetchError::Network {
                            url: shown,
                            detail,
                            attempts: attempt,
                        });
                    }
                    (detail, None)
                }
            };
            let wait = server_wait.unwrap_or_else(|| backoff(attempt));
            let left = self
                .limits
                .deadline
                .saturating_duration_since(Instant::now());
            if wait >= left {
                return Err(FetchError::Budget {
                    url: shown,
                    detail: format!(
                        "{reason}; the next attempt would wait {} but only {} of the time budget is left",
                        human(wait),
                        human(left)
                    ),
                });
            }
            (self.events)(Event::Retry {
                url: shown.clone(),
                reason,
                wait,
                attempt,
            });
            tokio::time::sleep(wait).await;
        }
    }

    /// The server's error message (contract error body, or the start of the text), redacted.
    fn error_detail(&self, body: String) -> String {
        let text = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => format!("{}: {}", e.error.code, e.error.message),
            Err(_) if body.trim().is_empty() => "no error details".into(),
            Err(_) => body,
        };
        display_safe(&self.token.redact(&text), 300)
    }
}

/// What went wrong with a request that got no answer, for people (shared with publish targets).
pub fn network_detail(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    };
    // The innermost cause says why (e.g. "Connection refused (os error 111)"); the URL is
    // already part of the message around this detail.
    let mut cause = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(c) = cause {
        innermost = Some(c.to_string());
        cause = c.source();
    }
    match innermost {
        Some(why) if !e.is_timeout() => format!("{what}: {why}"),
        _ => what.to_string(),
    }
}

/// Exponential backoff with equal jitter: 0.25 s, 0.5 s, 1 s ... capped at 10 s, each drawn
/// from the upper half of its step so retries of many clients spread out.
pub fn backoff(attempt: u32) -> Duration {
    let step = Duration::from_millis(250)
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(10));
    let half = step / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// `Retry-After`: delay seconds or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let in_two_minutes = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&in_two_minutes).unwrap();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for attempt in 1..20 {
            let step = Duration::from_millis(250)
                .saturating_mul(1 << (attempt - 1).min(6))
                .min(Duration::from_secs(10));
            let wait = backoff(attempt);
            assert!(
                wait >= step / 2 && wait <= step,
                "attempt {attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn secrets_are_redacted_raw_and_json_escaped() {
        let secret = Secret::new("tok\"en-123".into());
        assert_eq!(
            secret.redact("Bearer tok\"en-123 and {\"a\":\"tok\\\"en-123\"}"),
            "Bearer [redacted] and {\"a\":\"[redacted]\"}"
        );
        assert!(secret.appears_in("xx tok\"en-123"));
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    }
}

//! The publish targets' view of [`crate::net`]: a client bound to one service's base URL that
//! sends JSON (or a file) and reads JSON answers. Credentials, retries, the shared rate-limit
//! gate, counters and the typed [`HttpError`] all come from `net`. [`OAuthHttp`] is the same for
//! the targets whose tokens come from `net::oauth`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::net::oauth::{ApiRequest, OAuth, OAuthError};
use crate::net::{Answer, Client, ErrorKind, Request, Settings};
pub use crate::net::{Auth, Body, HttpError};

use super::retry::{Budget, RetryPolicy};

/// A successful answer (2xx).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub json: Value,
}

pub struct Http {
    client: Client,
    base: String,
}

impl Http {
    pub fn new(
        base_url: &str,
        auth: Auth,
        policy: RetryPolicy,
        budget: Arc<Budget>,
    ) -> Result<Http, String> {
        let settings = Settings {
            connect_timeout: Duration::from_secs(10),
            request_timeout: request_timeout()?,
            policy,
            budget,
        };
        let base = base_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base).map_err(|e| format!("`{base}` is not a URL: {e}"))?;
        Ok(Http {
            client: Client::new(&auth, settings)?,
            base,
        })
    }

    /// Requests sent so far: (reads, writes). Every attempt counts.
    pub fn counts(&self) -> (u64, u64) {
        self.client.counts()
    }

    /// Sends `method path` (relative to the base URL), retrying per policy. `safe`: the request
    /// may be repeated after a 5xx or a lost answer without doing anything twice.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        safe: bool,
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        let shown = path.split('?').next().unwrap_or(path).to_string();
        let url = format!("{}{path}", self.base);
        let url = reqwest::Url::parse(&url).map_err(|e| HttpError {
            method: method.to_string(),
            path: shown.clone(),
            kind: crate::net::ErrorKind::Transport,
            status: None,
            message: format!("not a URL: {e}"),
            attempts: 0,
        })?;
        let request = Request {
            method,
            url,
            shown,
            body,
            safe,
            headers,
        };
        self.client.send(&request, json_reply, &|_| {}).await
    }

    /// GETs `path` (retried per policy) and returns its JSON.
    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        Ok(self
            .send(Method::GET, path, Body::Empty, true, &[])
            .await?
            .json)
    }
}

/// How long one request may take: `KBPUB_HTTP_TIMEOUT` seconds, 60 when unset.
pub fn request_timeout() -> Result<Duration, String> {
    match std::env::var("KBPUB_HTTP_TIMEOUT") {
        Err(_) => Ok(Duration::from_secs(60)),
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
            _ => Err(format!(
                "KBPUB_HTTP_TIMEOUT is `{value}`: set it to a whole number of seconds, or unset it for 60"
            )),
        },
    }
}

/// A success whose body is JSON (or empty).
fn json_reply(answer: Answer) -> Result<Reply, String> {
    let json = if answer.text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&answer.text).map_err(|e| {
            let start: String = answer.text.trim().chars().take(60).collect();
            format!("a body that is not JSON ({e}): {start}")
        })?
    };
    Ok(Reply {
        status: answer.status,
        headers: answer.headers,
        json,
    })
}

/// A target's client over [`OAuth`] (Salesforce, Amplience): every attempt counted as a read
/// (GET) or a write, errors that are not HTTP answers (no token, a bad URL) turned into a
/// transport [`HttpError`] naming the request.
pub struct OAuthHttp {
    oauth: OAuth,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl OAuthHttp {
    pub fn new(oauth: OAuth) -> OAuthHttp {
        OAuthHttp {
            oauth,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// Requests sent so far (every attempt): (reads, writes).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }

    /// Sends `api`, reading a successful answer with `accept`.
    pub async fn send<T>(
        &self,
        api: &ApiRequest<'_>,
        accept: impl Fn(Answer) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        let counter = match api.method {
            Method::GET => &self.reads,
            _ => &self.writes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let on_retry = |_: &crate::net::Retry| {
            counter.fetch_add(1, Ordering::Relaxed);
        };
        self.oauth
            .send(api, accept, &on_retry)
            .await
            .map_err(|e| match e {
                OAuthError::Http(e) => e,
                other => HttpError {
                    method: api.method.to_string(),
                    path: api.path.to_string(),
                    kind: ErrorKind::Transport,
                    status: None,
                    message: other.to_string(),
                    attempts: 0,
                },
            })
    }
}

/// An answer's body as JSON (`null` when empty).
pub fn json_of(text: &str) -> Result<Value, String> {
    match text.trim() {
        "" => Ok(Value::Null),
        text => serde_json::from_str(text).map_err(|e| format!("a body that is not JSON ({e})")),
    }
}

//! The HTTP edge shared by publish targets: one reqwest client (rustls, timeouts), the credential
//! header, retries per [`RetryPolicy`] paid from the run's [`Budget`], counters of reads and
//! writes, and errors that name method, path and status — never a credential: secrets go only
//! into the `Authorization` header and are scrubbed from any text a server sends back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::Value;

use super::retry::{Budget, Failure, RetryPolicy, Verdict};
use crate::data::client::{network_detail, parse_retry_after};

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// HTTP Basic with a user (e-mail) and an API token.
    Basic { user: String, token: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl Auth {
    fn header(&self) -> String {
        match self {
            Auth::Basic { user, token } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"))
            ),
            Auth::Bearer(token) => format!("Bearer {token}"),
        }
    }
}

/// A request body. Files are shared so a retry can send them again.
#[derive(Clone)]
pub enum Body {
    Empty,
    Json(Value),
    /// A multipart upload of one file in the form field `file`.
    File {
        filename: String,
        bytes: Arc<Vec<u8>>,
        mime: &'static str,
    },
}

/// A successful answer (2xx).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
}

/// A request that did not succeed, after any retries.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub method: String,
    pub path: String,
    /// The last HTTP status, `None` when the server never answered.
    pub status: Option<u16>,
    /// What the server said (scrubbed of secrets), and why kbpub stopped retrying.
    pub message: String,
}

impl HttpError {
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    pub fn is_server_error(&self) -> bool {
        self.status.is_none_or(|s| s >= 500)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(
                f,
                "{} {}: HTTP {status}: {}",
                self.method, self.path, self.message
            ),
            None => write!(f, "{} {}: {}", self.method, self.path, self.message),
        }
    }
}

pub struct Http {
    client: reqwest::Client,
    base: String,
    authorization: String,
    secrets: Vec<String>,
    policy: RetryPolicy,
    budget: Arc<Budget>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Http {
    pub fn new(
        base_url: &str,
        auth: Auth,
        policy: RetryPolicy,
        budget: Arc<Budget>,
    ) -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("kbpub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let authorization = auth.header();
        let mut secrets = vec![authorization.clone()];
        match &auth {
            Auth::Basic { token, .. } | Auth::Bearer(token) => secrets.push(token.clone()),
        }
        if let Some(encoded) = authorization.split(' ').nth(1) {
            secrets.push(encoded.to_string());
        }
        secrets.retain(|s| s.len() >= 4);
        Ok(Http {
            client,
            base: base_url.trim_end_matches('/').to_string(),
            authorization,
            secrets,
            policy,
            budget,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }

    /// Requests sent so far: (reads, writes). Every attempt counts.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
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
        let url = format!("{}{path}", self.base);
        let error = |status: Option<u16>, message: String| HttpError {
            method: method.to_string(),
            path: path.split('?').next().unwrap_or(path).to_string(),
            status,
            message: self.scrub(&message),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let counter = if method == Method::GET {
                &self.reads
            } else {
                &self.writes
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .client
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, &self.authorization)
                .header(reqwest::header::ACCEPT, "application/json");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request = match &body {
                Body::Empty => request,
                Body::Json(value) => request.json(value),
                Body::File {
                    filename,
                    bytes,
                    mime,
                } => {
                    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                        .file_name(filename.clone())
                        .mime_str(mime)
                        .map_err(|e| error(None, format!("bad file type: {e}")))?;
                    request.multipart(reqwest::multipart::Form::new().part("file", part))
                }
            };
            let (failure, status, message) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    let text = response.text().await.unwrap_or_default();
                    if (200..300).contains(&status) {
                        let json = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| {
                                error(Some(status), format!("the answer is not JSON ({e})"))
                            })?
                        };
                        return Ok(Reply { status, json });
                    }
                    (
                        Failure::Status(status, retry_after),
                        Some(status),
                        server_message(&text),
                    )
                }
                Err(e) => (Failure::Transport, None, network_detail(&e)),
            };
            match self.policy.verdict(attempt, failure, safe) {
                Verdict::Wait(wait) if self.budget.take(wait) => tokio::time::sleep(wait).await,
                Verdict::Wait(_) => {
                    return Err(error(
                        status,
                        format!("{message} (the run's retry budget is spent)"),
                    ));
                }
                Verdict::GiveUp(why) => return Err(error(status, format!("{message} ({why})"))),
            }
        }
    }

    /// GETs `path` (retried per policy) and returns its JSON.
    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        Ok(self
            .send(Method::GET, path, Body::Empty, true, &[])
            .await?
            .json)
    }

    fn scrub(&self, text: &str) -> String {
        self.secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
    }
}

/// The human part of an error body: Confluence's `message`, v2's `errors[0].title`, or the
/// contract's `error.message`; else the start of the text.
fn server_message(text: &str) -> String {
    let json: Option<Value> = serde_json::from_str(text).ok();
    let found = json.as_ref().and_then(|j| {
        j.get("message")
            .or_else(|| j.pointer("/errors/0/title"))
            .or_else(|| j.pointer("/error/message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let message = found.unwrap_or_else(|| text.trim().to_string());
    if message.is_empty() {
        return "no details".into();
    }
    message.chars().take(300).collect()
}

//! The one HTTP layer under `data pull` and every publish target: one reqwest client per service
//! (rustls, timeouts), the credential sent only as the `Authorization` header, the retry policy
//! of [`retry`] with the shared rate-limit [`gate`] of each host, counters of reads and writes,
//! and one typed error, [`HttpError`], that names method, target and status and never holds a
//! credential: secrets are [`redact`]ed from any text a server sends back. [`oauth`] gets and
//! renews OAuth 2.0 access tokens (Salesforce's JWT bearer and client-credentials flows).

pub mod gate;
pub mod oauth;
pub mod redact;
pub mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Url};
use serde_json::Value;

pub use redact::Secret;
use retry::{Budget, Failure, RetryPolicy, Verdict};

use crate::text::display_safe;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// HTTP Basic with a user (e-mail) and an API token.
    Basic { user: String, token: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// No `Authorization` header (an OAuth token endpoint, whose credentials are in the form; a
    /// webhook, which proves itself by its signature).
    None,
}

impl Auth {
    /// The header value and every form of the credential that must never be shown.
    fn header_and_secrets(&self) -> (Option<Secret>, Vec<Secret>) {
        let (header, token, encoded) = match self {
            Auth::None => return (None, Vec::new()),
            Auth::Basic { user, token } => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
                (format!("Basic {encoded}"), token, Some(encoded))
            }
            Auth::Bearer(token) => (format!("Bearer {token}"), token, None),
        };
        let mut secrets = vec![Secret::new(token.clone())];
        secrets.extend(encoded.map(Secret::new));
        (Some(Secret::new(header)), secrets)
    }
}

/// Headers made from a body's bytes for one attempt (a signature over a fresh timestamp).
pub type Stamp = Arc<dyn Fn(&[u8]) -> Vec<(String, String)> + Send + Sync>;

/// A request body. Files are shared so a retry can send them again.
#[derive(Clone)]
pub enum Body {
    Empty,
    Json(Value),
    /// An `application/x-www-form-urlencoded` form.
    Form(Vec<(&'static str, Secret)>),
    /// A multipart upload of one file in the form field `file`, with an optional `comment`.
    File {
        filename: String,
        bytes: Arc<Vec<u8>>,
        mime: &'static str,
        comment: Option<String>,
    },
    /// Exact JSON bytes, sent as they are, with headers made afresh for every attempt from
    /// those bytes (a signature over a new timestamp, Standard Webhooks).
    Signed {
        bytes: Arc<Vec<u8>>,
        headers: Stamp,
    },
}

/// One request to send (and maybe repeat).
pub struct Request<'a> {
    pub method: Method,
    pub url: Url,
    /// What errors name: the path, or the whole URL (never a credential; `Client::new` refuses
    /// URLs that hold one).
    pub shown: String,
    pub body: Body,
    /// Repeating it cannot do anything twice (reads, versioned updates, idempotent writes).
    pub safe: bool,
    pub headers: &'a [(&'a str, &'a str)],
}

/// A successful answer (2xx, or 304 to a conditional request), for the caller to accept.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// The value of header `name`, when it is there and text.
    pub fn header(&self, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A retry about to happen, for progress output.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Why: `HTTP 429`, the transport error, or what was wrong with the body.
    pub reason: String,
    pub wait: Duration,
    /// The attempt that failed (1-based).
    pub attempt: u32,
}

/// What kind of failure an [`HttpError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server answered an error status.
    Status,
    /// No answer (connection refused or reset, timeout).
    Transport,
    /// A success whose body is not what the endpoint answers.
    Malformed,
    /// The run's retry budget, the request's attempts, the page's retries or the deadline ran
    /// out.
    Budget,
}

/// A request that did not succeed, after any retries.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub method: String,
    /// The path or URL shown (see [`Request::shown`]).
    pub path: String,
    pub kind: ErrorKind,
    /// The last HTTP status, `None` when the server never answered.
    pub status: Option<u16>,
    /// What the server said or what went wrong (redacted), and why kbpub stopped retrying.
    pub message: String,
    pub attempts: u32,
}

impl HttpError {
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    /// 5xx or no answer: the request may have been applied.
    pub fn is_server_error(&self) -> bool {
        match self.kind {
            ErrorKind::Status => self.status.is_some_and(|s| s >= 500),
            ErrorKind::Transport => true,
            // Out of retries after 5xx or lost answers: the last attempt may have been applied.
            ErrorKind::Budget => self.attempts > 0 && self.status.is_none_or(|s| s >= 500),
            ErrorKind::Malformed => false,
        }
    }

    /// Wrong or missing credentials (401, 403).
    pub fn is_auth(&self) -> bool {
        self.kind == ErrorKind::Status && matches!(self.status, Some(401 | 403))
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let HttpError {
            method,
            path,
            message,
            ..
        } = self;
        let tries = if self.attempts > 1 {
            format!(" (after {} attempts)", self.attempts)
        } else {
            String::new()
        };
        match (self.kind, self.status) {
            (ErrorKind::Status | ErrorKind::Budget, Some(status)) => {
                write!(
                    f,
                    "{method} {path} answered HTTP {status}{tries}: {message}"
                )
            }
            (ErrorKind::Malformed, _) => write!(f, "{method} {path} returned {message}{tries}"),
            (ErrorKind::Budget, _) => write!(f, "{method} {path}{tries}: {message}"),
            _ => write!(f, "{method} {path} failed{tries}: {message}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// Timeouts, retries and the budget of a client.
#[derive(Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub policy: RetryPolicy,
    pub budget: Arc<Budget>,
}

pub struct Client {
    http: reqwest::Client,
    authorization: Option<Secret>,
    secrets: Vec<Secret>,
    request_timeout: Duration,
    policy: RetryPolicy,
    budget: Arc<Budget>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Client {
    pub fn new(auth: &Auth, settings: Settings) -> Result<Client, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("kbpub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let (authorization, secrets) = auth.header_and_secrets();
        Ok(Client {
            http,
            authorization,
            secrets,
            request_timeout: settings.request_timeout,
            policy: settings.policy,
            budget: settings.budget,
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

    /// `text` with every credential replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        redact::redact_all(&self.secrets, text)
    }

    /// Sends `request` through its host's gate, retrying per policy until `accept` takes a
    /// successful answer (its `Err` is a body the endpoint would not send: retried when safe,
    /// then reported). `on_retry` hears of each retry before its wait.
    pub async fn send<T>(
        &self,
        request: &Request<'_>,
        accept: impl Fn(Answer) -> Result<T, String>,
        on_retry: &(dyn Fn(&Retry) + Sync),
    ) -> Result<T, HttpError> {
        let gate = gate::for_url(&request.url);
        let error = |kind, status, message: &str, attempts| HttpError {
            method: request.method.to_string(),
            path: request.shown.clone(),
            kind,
            status,
            message: display_safe(&self.redact(message), 400),
            attempts,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(closed) = gate.closed_for() {
                let affordable = closed <= self.policy.cap
                    && self.budget.time_left().is_none_or(|left| closed < left);
                if !affordable {
                    let why = format!(
                        "the server asked for no requests to this host for {}, longer than kbpub waits",
                        retry::human(closed)
                    );
                    return Err(error(ErrorKind::Budget, None, &why, attempt - 1));
                }
            }
            gate.pass().await;
            let timeout = match self.budget.time_left() {
                Some(left) if left.is_zero() => {
                    return Err(error(
                        ErrorKind::Budget,
                        None,
                        &self.budget.spent(),
                        attempt - 1,
                    ));
                }
                Some(left) => self.request_timeout.min(left),
                None => self.request_timeout,
            };
            let counter = if request.method == Method::GET {
                &self.reads
            } else {
                &self.writes
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .build(request, timeout)
                .map_err(|e| error(ErrorKind::Transport, None, &e, attempt))?
                .send()
                .await;
            let (failure, status, message) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    match response.text().await {
                        Err(e) => (Failure::Transport, Some(status), network_detail(&e)),
                        Ok(text) if (200..300).contains(&status) || status == 304 => {
                            match accept(Answer {
                                status,
                                headers,
                                text,
                            }) {
                                Ok(accepted) => return Ok(accepted),
                                Err(why) => (Failure::BadBody, Some(status), why),
                            }
                        }
                        Ok(text) => {
                            let retry_after = headers
                                .get(RETRY_AFTER)
                                .and_then(|v| v.to_str().ok())
                                .and_then(retry::parse_retry_after)
                                .or_else(|| retry::rate_limit_reset(&headers));
                            if let (429 | 503, Some(wait)) = (status, retry_after) {
                                // The whole wait, even past the cap: the window is the server's.
                                gate.close_for(wait);
                            }
                            (
                                Failure::Status(status, retry_after),
                                Some(status),
                                server_message(&text),
                            )
                        }
                    }
                }
                Err(e) => (Failure::Transport, None, network_detail(&e)),
            };
            let kind = match failure {
                Failure::Status(..) => ErrorKind::Status,
                Failure::Transport => ErrorKind::Transport,
                Failure::BadBody => ErrorKind::Malformed,
            };
            let wait = match self.policy.verdict(attempt, failure, request.safe) {
                Verdict::Wait(wait) => wait,
                Verdict::GiveUp(why) => {
                    let message = match why {
                        Some(why) => format!("{message} ({why})"),
                        None => message,
                    };
                    return Err(error(kind, status, &message, attempt));
                }
                Verdict::Spent => {
                    let why = format!("{message}; the request's attempts are spent");
                    return Err(error(spent(kind), status, &why, attempt));
                }
            };
            if let Err(why) = self.budget.take(wait) {
                let why = format!("{message}; {why}");
                return Err(error(spent(kind), status, &why, attempt));
            }
            if !retry::take_page_retry() {
                let why = format!(
                    "{message}; the page's {} retries are spent",
                    retry::PAGE_RETRIES_MAX
                );
                return Err(error(ErrorKind::Budget, status, &why, attempt));
            }
            let reason = match (failure, status) {
                (Failure::Transport, _) | (_, None) => message.clone(),
                (Failure::BadBody, _) => "the body is not what the endpoint answers".into(),
                (_, Some(status)) => format!("HTTP {status}"),
            };
            on_retry(&Retry {
                reason: display_safe(&self.redact(&reason), 200),
                wait,
                attempt,
            });
            tokio::time::sleep(wait).await;
        }
    }

    fn build(
        &self,
        request: &Request<'_>,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, String> {
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.clone())
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(authorization) = &self.authorization {
            builder = builder.header(reqwest::header::AUTHORIZATION, authorization.expose());
        }
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        Ok(match &request.body {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(fields) => {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.expose())).collect();
                builder.form(&fields)
            }
            Body::Signed { bytes, headers } => {
                for (name, value) in headers(bytes) {
                    builder = builder.header(name, value);
                }
                builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.to_vec())
            }
            Body::File {
                filename,
                bytes,
                mime,
                comment,
            } => {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name(filename.clone())
                    .mime_str(mime)
                    .map_err(|e| format!("bad file type: {e}"))?;
                let form = reqwest::multipart::Form::new().part("file", part);
                builder.multipart(match comment {
                    Some(comment) => form.text("comment", comment.clone()),
                    None => form,
                })
            }
        })
    }
}

/// The kind of a failure whose retries ran out: a spent budget, except a body that is not what
/// the endpoint answers, which stays malformed (the server's fault, not the rate).
fn spent(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Malformed => kind,
        _ => ErrorKind::Budget,
    }
}

/// What went wrong with a request that got no answer, for people.
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

/// The human part of an error body: Confluence's `message`, v2's `errors[0].title`, the
/// contracts' `error.code: error.message`, Salesforce's error array (`errorCode: message` of its
/// first entry) or an OAuth error (`error: error_description`); else the start of the text.
pub fn server_message(text: &str) -> String {
    let json: Option<Value> = serde_json::from_str(text).ok();
    let field = |pointer: &str| {
        json.as_ref()
            .and_then(|j| j.pointer(pointer))
            .and_then(Value::as_str)
    };
    let found = match (field("/error/code"), field("/error/message")) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (_, Some(message)) => Some(message.to_string()),
        _ if field("/0/errorCode").is_some() => Some(format!(
            "{}: {}",
            field("/0/errorCode").unwrap_or_default(),
            field("/0/message").unwrap_or_default()
        )),
        _ if field("/error").is_some() => Some(format!(
            "{}: {}",
            field("/error").unwrap_or_default(),
            field("/error_description").unwrap_or_default()
        )),
        _ => field("/message")
            .or_else(|| field("/errors/0/title"))
            .map(str::to_string),
    };
    let message = found.unwrap_or_else(|| text.trim().to_string());
    if message.is_empty() {
        return "no details".into();
    }
    message.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_of_each_service() {
        assert_eq!(server_message(r#"{"message":"No space"}"#), "No space");
        assert_eq!(
            server_message(r#"{"errors":[{"title":"Bad id"}]}"#),
            "Bad id"
        );
        assert_eq!(
            server_message(r#"{"error":{"code":"unauthorized","message":"no"}}"#),
            "unauthorized: no"
        );
        assert_eq!(server_message("  "), "no details");
        assert_eq!(
            server_message(
                r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#
            ),
            "INVALID_SESSION_ID: Session expired or invalid"
        );
        assert_eq!(
            server_message(
                r#"{"error":"invalid_grant","error_description":"audience is invalid"}"#
            ),
            "invalid_grant: audience is invalid"
        );
        assert_eq!(
            server_message("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
    }

    #[test]
    fn basic_credentials_are_secrets_in_every_form() {
        let auth = Auth::Basic {
            user: "a@example.com".into(),
            token: "tok-123456".into(),
        };
        let (header, secrets) = auth.header_and_secrets();
        let header = header.unwrap();
        let encoded = header.expose().strip_prefix("Basic ").unwrap().to_string();
        let text = format!("{} {encoded} tok-123456", header.expose());
        assert_eq!(
            redact::redact_all(&secrets, &text),
            "Basic [redacted] [redacted] [redacted]"
        );
    }
}

//! An X API v2 endpoint (reference §3.2 and §5.4), the test server for `[[notify]] kind = "x"`,
//! written from the reference alone: `POST /x/2/tweets` posts only with a user-context bearer
//! token (`--x-user-token`); the app-only token (`--x-app-token`) gets X's 403
//! `unsupported-authentication` problem, anything else 401. The text must weigh 1 to 280 (code
//! points outside the Latin-and-punctuation ranges weigh 2, each URL 23) or it is a 400; the same
//! text from the same user within `--x-duplicate-window` seconds is X's 403 duplicate-content
//! problem, without the id of the post it repeats. At most `--x-post-limit` posts per user per 15
//! minutes, then 429 `{"errors":[{"code":88,...}]}`; every answer carries `x-rate-limit-limit`,
//! `-remaining` and `-reset` (epoch seconds). An injected 429 (`POST /__sim/x/faults`, with
//! `retry_after` seconds) answers with `x-rate-limit-reset` that far ahead and no `Retry-After`,
//! as X does; a post before the reset is counted as early (`/__sim/x/rate-limits`); a fault with
//! `commit` posts and then answers its status. Success is
//! 201 `{"data":{"id","text"}}`; every post is kept with its cost ($0.015, $0.200 with a URL).
//! Request counts and the choice of faults are the shared [`super::layer`], which hands each
//! fault to the endpoint to answer as X would. Control endpoints under `/__sim/x/`: `posts`,
//! and the layer's `faults`, `stats`, `random-faults`, `rate-limits`, `latency`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use super::layer::{Injected, TrafficLayer};
use super::traffic::Fault;

/// The per-user window of the post limit (reference: 200 requests / 15 min per user).
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// `kbpub sim` options for the X endpoint.
#[derive(Debug, Clone, clap::Args)]
pub struct XArgs {
    /// A user-context OAuth 2.0 token that may post
    #[arg(long, default_value = "x-user-token", value_name = "TOKEN")]
    pub x_user_token: String,
    /// An app-only bearer token (refused: posting needs user context)
    #[arg(long, default_value = "x-app-token", value_name = "TOKEN")]
    pub x_app_token: String,
    /// Posts per user per 15 minutes
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub x_post_limit: u32,
    /// Seconds within which the same text from the same user is a duplicate
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    pub x_duplicate_window: u64,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  X API v2:               http://{bound}/x/2/tweets  (Bearer x-user-token; x-app-token is app-only and refused)"
    )
}

#[derive(Debug, Clone, Serialize)]
struct Post {
    id: String,
    text: String,
    weight: usize,
    cost_usd: f64,
    #[serde(skip)]
    at: std::time::Instant,
}

#[derive(Default)]
struct Store {
    posts: Vec<Post>,
}

struct Shared {
    store: Mutex<Store>,
    args: XArgs,
}

type St = Arc<Shared>;

/// The router serving `/x/2/tweets` and its control endpoints.
pub fn router(args: &XArgs) -> Router {
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::default()),
        args: args.clone(),
    });
    // Every request is admitted: the endpoint authenticates, then answers faults as X does.
    let traffic =
        TrafficLayer::new(|_| Ok(()), |status, _| status.into_response()).handing_faults_over();
    let control = Router::new()
        .route("/posts", get(posts))
        .with_state(shared.clone());
    let api = Router::new().route("/x/2/tweets", post(create));
    Router::new()
        .merge(traffic.wrap(api).with_state(shared))
        .nest("/__sim/x", traffic.control().merge(control))
}

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Code point ranges X counts as 1; everything else counts 2.
const SINGLE: &[std::ops::RangeInclusive<u32>] = &[
    0..=0x10FF,
    0x2000..=0x200D,
    0x2010..=0x201F,
    0x2032..=0x2037,
];

/// The text's weight: URLs (http or https, up to the next whitespace) 23 each, other code points
/// 1 or 2.
fn weigh(text: &str) -> usize {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let bare = word.trim_end();
            if bare.starts_with("http://") || bare.starts_with("https://") {
                23 + (word.len() - bare.len())
            } else {
                word.chars()
                    .map(|c| 1 + usize::from(!SINGLE.iter().any(|r| r.contains(&(c as u32)))))
                    .sum()
            }
        })
        .sum()
}

/// X's problem body (RFC 7807-ish, reference §3.2).
fn problem(status: StatusCode, title: &str, detail: &str, kind: &str) -> Response {
    let body = json!({"title": title, "detail": detail, "type": kind, "status": status.as_u16()});
    (status, Json(body)).into_response()
}

/// The `x-rate-limit-*` headers for `limit`, `remaining`, and a reset `seconds` from now.
fn limit_headers(response: &mut Response, limit: u32, remaining: u32, seconds: u64) {
    // Rounded up, so that the reset is never before the window's real end.
    let reset = (chrono::Utc::now().timestamp_millis() as u64 + seconds * 1000).div_ceil(1000);
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-rate-limit-limit", limit as u64),
        ("x-rate-limit-remaining", remaining as u64),
        ("x-rate-limit-reset", reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

async fn create(
    State(shared): State<St>,
    injected: Option<Extension<Injected>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = injected.map(|Extension(Injected(fault))| fault);
    let (response, fault) = answer(&shared, &headers, &body, fault);
    if let Some(fault) = fault {
        fault.hold().await;
    }
    response
}

/// The answer to one post, given the injected `fault` it carries, and that fault when it was
/// answered (to hold, when it says so).
fn answer(
    shared: &St,
    headers: &HeaderMap,
    body: &Bytes,
    fault: Option<Fault>,
) -> (Response, Option<Fault>) {
    let args = &shared.args;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut store = lock(shared);
    if token == args.x_app_token {
        let refused = problem(
            StatusCode::FORBIDDEN,
            "Unsupported Authentication",
            "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
            "https://api.twitter.com/2/problems/unsupported-authentication",
        );
        return (refused, None);
    }
    if token != args.x_user_token {
        let refused = problem(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            "about:blank",
        );
        return (refused, None);
    }
    let now = std::time::Instant::now();
    let in_window: Vec<&Post> = store
        .posts
        .iter()
        .filter(|p| now.duration_since(p.at) < WINDOW)
        .collect();
    let used = in_window.len() as u32;
    let reset_in = in_window
        .first()
        .map_or(WINDOW, |p| WINDOW.saturating_sub(now.duration_since(p.at)))
        .as_secs()
        .max(1);
    if let Some(f) = fault.as_ref().filter(|f| !f.commit) {
        return (injected(args, f), fault);
    }
    if used >= args.x_post_limit {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"errors": [{"code": 88, "message": "Rate limit exceeded"}]})),
        )
            .into_response();
        limit_headers(&mut response, args.x_post_limit, 0, reset_in);
        return (response, None);
    }
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.get("text").and_then(Value::as_str).map(str::to_string));
    let weight = text.as_deref().map_or(0, weigh);
    let mut response = match text {
        Some(text) if (1..=280).contains(&weight) => {
            let window = Duration::from_secs(args.x_duplicate_window);
            let repeated = store
                .posts
                .iter()
                .any(|p| p.text == text && now.duration_since(p.at) < window);
            if repeated {
                problem(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                    "about:blank",
                )
            } else {
                let id = format!("{}", 1_860_000_000_000_000_000u64 + store.posts.len() as u64);
                let has_url = text.contains("http://") || text.contains("https://");
                store.posts.push(Post {
                    id: id.clone(),
                    text: text.clone(),
                    weight,
                    cost_usd: if has_url { 0.2 } else { 0.015 },
                    at: now,
                });
                (StatusCode::CREATED, Json(json!({"data": {"id": id, "text": text}}))).into_response()
            }
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "errors": [{"message": format!("text must weigh 1 to 280 characters, it weighs {weight}")}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            })),
        )
            .into_response(),
    };
    let posted = u32::from(response.status() == StatusCode::CREATED);
    let remaining = args.x_post_limit.saturating_sub(used + posted);
    limit_headers(&mut response, args.x_post_limit, remaining, reset_in);
    match fault {
        // Posted, and then answered with the fault (commit-then-fail).
        Some(f) => (injected(args, &f), Some(f)),
        None => (response, None),
    }
}

/// The answer an injected fault gives: a 429 as X sends it (`x-rate-limit-reset` `retry_after`
/// seconds ahead, no `Retry-After`), any other status as a problem body.
fn injected(args: &XArgs, fault: &Fault) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if fault.status != 429 {
        let detail = format!("injected fault {}", fault.status);
        return problem(status, "Injected", &detail, "about:blank");
    }
    let seconds = fault
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let body = json!({"errors": [{"code": 88, "message": "Rate limit exceeded"}]});
    let mut response = (status, Json(body)).into_response();
    limit_headers(&mut response, args.x_post_limit, 0, seconds);
    response
}

async fn posts(State(shared): State<St>) -> Response {
    let store = lock(&shared);
    let total: f64 = store.posts.iter().map(|p| p.cost_usd).sum();
    Json(json!({"posts": store.posts, "cost_usd": total})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_weigh_23_and_wide_code_points_2() {
        assert_eq!(weigh("hello world"), 11);
        assert_eq!(
            weigh("read https://example.com/a/long/path now"),
            5 + 23 + 4
        );
        assert_eq!(weigh("注意"), 4);
        assert_eq!(weigh("“quoted” – ok"), 13);
    }
}

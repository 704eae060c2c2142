//! The HTTP side of `kbpub serve` (axum): site files from the [`Store`] with the live-reload
//! client added to every HTML page, the server-sent events stream, the client script, reviewer
//! views (`?view=partner`) and the reviewer panel's data.
//!
//! Request paths are resolved strictly ([`site_path`]): anything that could step outside the site
//! (`..` or `.` segments, also percent-encoded; encoded slashes or backslashes; backslashes; NUL)
//! is 404, and only files the build produced exist — a symlink in `content/` is not part of a
//! build, so nothing it points to is served. Unless remote access was allowed, a request must name
//! a loopback host, so that a web page cannot read the preview through DNS rebinding.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use percent_encoding::percent_decode_str;
use tokio::sync::{oneshot, watch};
use tokio_stream::wrappers::WatchStream;
use tokio_stream::{Stream, StreamExt};

use super::preview::{Job, ViewReply};
use super::reload::{self, CLIENT_JS, CLIENT_PATH, EVENTS_PATH};
use super::review::ReviewView;
use super::store::Store;
use crate::text::escape_html;

const REVIEW_PATH: &str = "/_kbpub/review";

/// What the request handlers share.
#[derive(Clone)]
pub struct App {
    pub store: Arc<Store>,
    pub status: watch::Receiver<Arc<str>>,
    pub jobs: Sender<Job>,
    pub allow_remote: bool,
}

pub fn router(app: App) -> Router {
    Router::new()
        .route(EVENTS_PATH, get(events))
        .route(CLIENT_PATH, get(client_script))
        .route(REVIEW_PATH, get(review))
        .fallback(site_file)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            only_loopback_hosts,
        ))
        .with_state(app)
}

/// The store key a request path names (`/sops/` -> `sops/index.html`), or `None` for a path that
/// could step outside the site. The path is percent-decoded exactly once, so a double-encoded
/// `%252e%252e` stays the literal name `%2e%2e`, which the site does not have.
pub fn site_path(raw: &str) -> Option<String> {
    let raw = raw.strip_prefix('/')?;
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return None;
    }
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let (dir, file) = decoded
        .rsplit_once('/')
        .map_or(("", decoded.as_ref()), |(dir, file)| (dir, file));
    let dir_ok = dir.is_empty() || dir.split('/').all(|part| !matches!(part, "" | "." | ".."));
    if !dir_ok || matches!(file, "." | "..") {
        return None;
    }
    Some(match (dir, file) {
        ("", "") => "index.html".to_string(),
        (dir, "") => format!("{dir}/index.html"),
        ("", file) => file.to_string(),
        (dir, file) => format!("{dir}/{file}"),
    })
}

async fn only_loopback_hosts(State(app): State<App>, request: Request, next: Next) -> Response {
    if app.allow_remote || host_is_loopback(request.headers().get(header::HOST)) {
        return next.run(request).await;
    }
    let text = "kbpub serve answers only requests addressed to localhost or a loopback address; \
                start it with --allow-remote to serve other hosts\n";
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn host_is_loopback(host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = WatchStream::new(app.status).map(|status| Ok(Event::default().data(&*status)));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn client_script() -> Response {
    respond(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        Body::from(CLIENT_JS),
    )
}

async fn review(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(url) = query.get("page").and_then(|p| site_path(&format!("/{p}"))) else {
        return plain(StatusCode::NOT_FOUND, "no such page\n");
    };
    match ask(&app, |reply| Job::Review { url, reply })
        .await
        .flatten()
    {
        Some(info) => {
            let json = serde_json::to_string(&info).expect("review info serialises");
            respond(StatusCode::OK, "application/json", Body::from(json))
        }
        None => plain(StatusCode::NOT_FOUND, "no reviewer panel for this page\n"),
    }
}

async fn site_file(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "kbpub serve only reads\n");
    }
    let Some(path) = site_path(uri.path()) else {
        return not_found(&app);
    };
    let view = match query.get("view").map(|name| ReviewView::from_name(name)) {
        None => ReviewView::Internal,
        Some(Some(view)) => view,
        Some(None) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "unknown view: use ?view=internal, ?view=partner or ?view=confluence\n",
            );
        }
    };
    if view != ReviewView::Internal {
        return view_page(&app, path, view).await;
    }
    match app.store.get(&path) {
        (Some(bytes), generation) => file_response(StatusCode::OK, &path, bytes, generation, view),
        (None, _) if app.store.contains(&format!("{path}/index.html")) => {
            Redirect::permanent(&format!("/{path}/")).into_response()
        }
        (None, _) => not_found(&app),
    }
}

/// A page rendered by the preview thread in a reviewer view.
async fn view_page(app: &App, path: String, view: ReviewView) -> Response {
    let generation = app.store.generation();
    let reply = ask(app, |reply| Job::View {
        url: path.clone(),
        view,
        reply,
    })
    .await;
    match reply {
        Some(ViewReply::Html(html)) => {
            file_response(StatusCode::OK, &path, Bytes::from(html), generation, view)
        }
        Some(ViewReply::Xhtml(xhtml)) => {
            let body = reload::inject(xhtml.as_bytes(), generation, &path, view);
            respond(
                StatusCode::OK,
                "application/xhtml+xml; charset=utf-8",
                Body::from(body),
            )
        }
        Some(ViewReply::NotFound) | None => not_found(app),
        Some(ViewReply::Problems(problems)) => {
            let list: String = problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| {
                    format!(
                        "<li><code>{}</code>: {}</li>\n",
                        escape_html(&p.position()),
                        escape_html(&p.message)
                    )
                })
                .collect();
            let html = format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Cannot render this view</title></head>\n<body>\n\
                 <h1>This page cannot be rendered in the {} view</h1>\n<ul>\n{list}</ul>\n</body>\n</html>\n",
                view.name()
            );
            file_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &path,
                Bytes::from(html),
                generation,
                view,
            )
        }
    }
}

/// Sends a job to the preview thread and waits for its answer (`None` if the thread is gone).
async fn ask<T>(app: &App, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    app.jobs.send(job(reply)).ok()?;
    answer.await.ok()
}

/// The site's own 404 page, or a bare one before any build succeeded; both reload once the
/// site changes (a page that is about to be created appears by itself).
fn not_found(app: &App) -> Response {
    match app.store.get("404.html") {
        (Some(bytes), generation) => file_response(
            StatusCode::NOT_FOUND,
            "404.html",
            bytes,
            generation,
            ReviewView::Internal,
        ),
        (None, generation) => {
            let html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Not found</title></head>\n\
                        <body>\n<h1>Not found</h1>\n<p>No page here, or the site has not built without errors yet.</p>\n</body>\n</html>\n";
            file_response(
                StatusCode::NOT_FOUND,
                "404.html",
                Bytes::from(html),
                generation,
                ReviewView::Internal,
            )
        }
    }
}

fn file_response(
    status: StatusCode,
    path: &str,
    bytes: Bytes,
    generation: u64,
    view: ReviewView,
) -> Response {
    let content_type = content_type(path);
    let body = if content_type.starts_with("text/html") {
        Body::from(reload::inject(&bytes, generation, path, view))
    } else {
        Body::from(bytes)
    };
    respond(status, content_type, body)
}

fn respond(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        // Always ask again: a reload must show the new render.
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    (status, headers, body).into_response()
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    respond(status, "text/plain; charset=utf-8", Body::from(text))
}

fn content_type(path: &str) -> &'static str {
    let extension = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "txt" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_site_files() {
        assert_eq!(site_path("/").as_deref(), Some("index.html"));
        assert_eq!(site_path("/sops/").as_deref(), Some("sops/index.html"));
        assert_eq!(site_path("/sops/x.html").as_deref(), Some("sops/x.html"));
        assert_eq!(
            site_path("/tags/caf%C3%A9.html").as_deref(),
            Some("tags/café.html")
        );
        assert_eq!(site_path("/a%20b.html").as_deref(), Some("a b.html"));
    }

    #[test]
    fn paths_that_could_leave_the_site_are_refused() {
        for raw in [
            "/../kbpub.toml",
            "/sops/../../kbpub.toml",
            "/%2e%2e/kbpub.toml",
            "/%2E%2E/kbpub.toml",
            "/sops/%2e%2e/%2e%2e/kbpub.toml",
            "/..%2fkbpub.toml",
            "/..%2Fkbpub.toml",
            "/..%5ckbpub.toml",
            "/..\\kbpub.toml",
            "/sops\\..\\..\\kbpub.toml",
            "/./index.html",
            "//etc/passwd",
            "/a//b.html",
            "/..",
            "/%00.html",
            "relative.html",
        ] {
            assert_eq!(site_path(raw), None, "{raw}");
        }
        // Decoded once: what was double-encoded stays a literal name, which no site file has.
        assert_eq!(
            site_path("/%252e%252e/kbpub.toml").as_deref(),
            Some("%2e%2e/kbpub.toml")
        );
    }

    #[test]
    fn only_loopback_hosts_are_answered() {
        let host = |h: &str| host_is_loopback(Some(&HeaderValue::from_str(h).unwrap()));
        for ok in [
            "localhost:4000",
            "LOCALHOST",
            "127.0.0.1:4000",
            "127.0.0.2",
            "[::1]:4000",
            "[::1]",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example:4000",
            "192.168.1.10:4000",
            "[::2]:80",
            "localhost.evil.example",
            "",
        ] {
            assert!(!host(bad), "{bad}");
        }
        assert!(!host_is_loopback(None));
    }
}

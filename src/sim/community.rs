//! The partner-community test server (`community-v1`, under `/community`), written from the
//! contract alone (it imports nothing of kbpub's client or writer): articles in memory, Bearer
//! tokens (`community-token` for kbpub, `moderator-token` for a person editing on the community),
//! and the contract's rules enforced — an external id is unique (409), a new draft needs the
//! current `If-Match` etag (412 when stale), only the latest version can be published (409),
//! bodies over 1 MiB get 413, a sanitiser with the contract's own allowlist answers 422 naming the
//! first element, attribute or URL outside the subset, and lists are paged by `next_cursor`
//! (`--community-page-size`, down to 1). What the contract leaves open is a flag:
//! `--community-carry-over` copies the fields a new draft omits (`content_hash` included) from
//! the previous version, as platforms do for an edit made in their editor. Faults are injected
//! per request (429 with `Retry-After`, 5xx or 409, or any write — create, draft, publish,
//! archive — that commits and then answers 5xx) and requests are counted by method. Control
//! endpoints under `/__sim/community/` (no auth, not counted): `stats`, `faults`, `articles`
//! (everything, bodies included).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use serde_json::{Value, json};

use super::traffic::{Fault, RandomFaults, Traffic};

/// Bearer tokens and who they are.
pub const TOKENS: &[(&str, &str)] = &[
    ("community-token", "kbpub"),
    ("moderator-token", "Mia Moderator"),
];
const MAX_BODY: usize = 1 << 20;

/// The contract's HTML subset, copied from `community-v1` ("Article bodies are HTML of a
/// restricted subset"), not from kbpub's writer: the two must agree because both follow the
/// contract, never because they share a list.
const CONTRACT_ELEMENTS: &str = "p h1 h2 h3 h4 h5 h6 ul ol li table thead tbody tr th td a strong em code pre blockquote img hr br span div";
const CONTRACT_ATTRIBUTES: &str = "href src alt title class id";
/// `data:` image types the contract names for `src`.
const CONTRACT_DATA_IMAGES: &str = "png jpeg gif webp";

/// `kbpub sim` options for the community test server.
#[derive(Debug, Clone, clap::Args)]
pub struct CommunityArgs {
    /// Articles per page of `GET /community/v1/articles`
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub community_page_size: usize,
    /// A new draft that omits a field keeps the previous version's value, `content_hash`
    /// included, as platforms do for an edit made in their editor (not in the contract, which
    /// stores `content_hash` "as given": without this flag an omitted hash stays empty)
    #[arg(long)]
    pub community_carry_over: bool,
}

/// What `kbpub sim` prints about this server, for the address `bound`.
pub fn describe(bound: &str) -> String {
    format!(
        "  Partner community:      http://{bound}/community  (Bearer community-token; moderator-token edits as a moderator)"
    )
}

#[derive(Debug, Clone)]
struct Version {
    title: String,
    body: String,
    category: String,
    labels: Vec<String>,
    locale: String,
    content_hash: Option<String>,
    by: String,
    created_at: String,
    published_at: Option<String>,
}

#[derive(Debug, Clone)]
struct Article {
    id: String,
    external_id: String,
    status: &'static str,
    versions: Vec<Version>,
    published_version: Option<u64>,
    archived: Option<(String, Option<String>)>,
    updated_at: String,
}

impl Article {
    fn latest(&self) -> &Version {
        self.versions.last().expect("an article has a version")
    }

    fn version(&self) -> u64 {
        self.versions.len() as u64
    }

    fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version())
    }

    fn json(&self, with_body: bool) -> Value {
        let latest = self.latest();
        let published_at = self
            .published_version
            .and_then(|v| self.versions[v as usize - 1].published_at.clone());
        let mut value = json!({
            "id": self.id, "external_id": self.external_id, "title": latest.title,
            "category": latest.category, "labels": latest.labels, "locale": latest.locale,
            "status": self.status, "version": self.version(), "published_version": self.published_version,
            "etag": self.etag(), "content_hash": latest.content_hash,
            "updated_at": self.updated_at, "published_at": published_at,
        });
        if with_body {
            value["body"] = json!(latest.body);
        }
        value
    }
}

#[derive(Default)]
struct Store {
    articles: BTreeMap<String, Article>,
    next_id: u64,
    traffic: Traffic,
}

struct Shared {
    store: Mutex<Store>,
    page_size: usize,
    carry_over: bool,
}

type St = Arc<Shared>;

#[derive(Clone)]
struct User(String);

/// The router serving the contract under `/community` and its control endpoints.
pub fn router(args: &CommunityArgs) -> Router {
    let shared = Arc::new(Shared {
        store: Mutex::new(Store::default()),
        page_size: args.community_page_size.max(1),
        carry_over: args.community_carry_over,
    });
    let api = Router::new()
        .route("/v1/articles", get(list).post(create))
        .route("/v1/articles/{id}", get(read))
        .route("/v1/articles/{id}/draft", put(draft))
        .route("/v1/articles/{id}/publish", post(publish))
        .route("/v1/articles/{id}/archive", post(archive))
        .route("/v1/articles/{id}/revisions", get(revisions))
        .layer(middleware::from_fn_with_state(shared.clone(), gatekeeper))
        .with_state(shared.clone());
    let control = Router::new()
        .route("/stats", get(stats))
        .route("/faults", post(set_faults))
        .route("/random-faults", post(set_random_faults))
        .route("/rate-limits", get(rate_limits))
        .route("/articles", get(dump))
        .with_state(shared);
    Router::new()
        .nest("/community", api)
        .nest("/__sim/community", control)
        .layer(DefaultBodyLimit::max(16 << 20))
}

fn lock(shared: &St) -> std::sync::MutexGuard<'_, Store> {
    shared.store.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The contract's error body.
fn fail(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

type Answer = Result<Response, Response>;

/// Counting, authentication and injected faults, before any handler.
async fn gatekeeper(State(shared): State<St>, mut request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let client = super::traffic::client_of(request.headers());
    let fault = {
        let mut store = lock(&shared);
        store.traffic.record_from(&client, &method, &path)
    };
    let user = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| TOKENS.iter().find(|t| t.0 == token));
    let Some(user) = user else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid Bearer token is required",
        );
    };
    request.extensions_mut().insert(User(user.1.to_string()));
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if fault.commit {
        let _ = next.run(request).await;
    }
    fault.hold().await;
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = fail(
        status,
        "injected",
        format!("injected fault {}", fault.status),
    );
    if let Some(retry_after) = fault.retry_after.as_deref().and_then(|v| v.parse().ok()) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after);
    }
    response
}

type Q = Query<BTreeMap<String, String>>;

async fn list(State(shared): State<St>, Query(q): Q) -> Response {
    let store = lock(&shared);
    let matches = |a: &&Article| {
        let latest = a.latest();
        q.get("external_id").is_none_or(|e| &a.external_id == e)
            && q.get("category").is_none_or(|c| &latest.category == c)
            && q.get("status").is_none_or(|s| a.status == s)
    };
    let start: usize = match q
        .get("cursor")
        .map(|c| c.strip_prefix('c').and_then(|n| n.parse().ok()))
    {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => return fail(StatusCode::BAD_REQUEST, "invalid", "unknown cursor"),
    };
    let all: Vec<&Article> = store.articles.values().filter(matches).collect();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(shared.page_size)
        .map(|a| a.json(false))
        .collect();
    let next = start + shared.page_size;
    let next_cursor = (next < all.len()).then(|| format!("c{next}"));
    Json(json!({"data": page, "next_cursor": next_cursor})).into_response()
}

fn find<'s>(store: &'s mut Store, id: &str) -> Result<&'s mut Article, Response> {
    store.articles.get_mut(id).ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no article {id}"),
        )
    })
}

async fn read(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared);
    find(&mut store, &id).map_or_else(|r| r, |a| Json(a.json(true)).into_response())
}

async fn revisions(State(shared): State<St>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared);
    match find(&mut store, &id) {
        Ok(a) => {
            let data: Vec<Value> = a
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = i as u64 + 1;
                    let status = match (a.published_version, a.status) {
                        (Some(p), _) if p == n => "published",
                        (_, "archived") if n == a.version() => "archived",
                        _ => "draft",
                    };
                    json!({"version": n, "status": status, "content_hash": v.content_hash, "published_at": v.published_at})
                })
                .collect();
            Json(json!({"data": data})).into_response()
        }
        Err(r) => r,
    }
}

/// A create or draft request, checked as the contract says: size (413), fields (400), then the
/// sanitiser (422). Fields the request omits are taken from `previous` when given (the
/// `--community-carry-over` platform behaviour).
fn version_from(
    bytes: &Bytes,
    user: &User,
    previous: Option<&Version>,
) -> Result<(Option<String>, Version), Response> {
    if bytes.len() > MAX_BODY {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request is {} bytes, over the 1 MiB limit", bytes.len()),
        ));
    }
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| fail(StatusCode::BAD_REQUEST, "invalid", format!("not JSON: {e}")))?;
    let given = |key: &str| body.get(key).and_then(Value::as_str).map(String::from);
    let carried = |key: &str| {
        previous.and_then(|p| match key {
            "title" => Some(p.title.clone()),
            "body" => Some(p.body.clone()),
            "category" => Some(p.category.clone()),
            "locale" => Some(p.locale.clone()),
            "content_hash" => p.content_hash.clone(),
            _ => None,
        })
    };
    let text = |key: &str| match body.get(key) {
        None => carried(key),
        Some(_) => given(key),
    };
    let required = |key: &str| {
        text(key).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("`{key}` is required"),
            )
        })
    };
    let version = Version {
        title: required("title")?,
        body: text("body").unwrap_or_default(),
        category: required("category")?,
        labels: match body.get("labels") {
            None => previous.map(|p| p.labels.clone()).unwrap_or_default(),
            Some(labels) => serde_json::from_value(labels.clone()).map_err(|_| {
                fail(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "`labels` must be a list of strings",
                )
            })?,
        },
        locale: text("locale").unwrap_or_else(|| "en".into()),
        content_hash: text("content_hash").filter(|h| !h.is_empty()),
        by: user.0.clone(),
        created_at: now(),
        published_at: None,
    };
    if let Some(problem) = first_offence(&version.body) {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected_by_sanitiser",
            problem,
        ));
    }
    Ok((given("external_id"), version))
}

async fn create(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    bytes: Bytes,
) -> Response {
    let (external_id, version) = match version_from(&bytes, &user, None) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(external_id) = external_id.filter(|e| !e.trim().is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid",
            "`external_id` is required",
        );
    };
    let mut store = lock(&shared);
    if let Some(taken) = store
        .articles
        .values()
        .find(|a| a.external_id == external_id)
    {
        return fail(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "external_id `{external_id}` is used by article {}",
                taken.id
            ),
        );
    }
    store.next_id += 1;
    let id = format!("art_{:04x}", 0x81f0 + store.next_id);
    let article = Article {
        id: id.clone(),
        external_id,
        status: "draft",
        versions: vec![version],
        published_version: None,
        archived: None,
        updated_at: now(),
    };
    let reply = article.json(false);
    store.articles.insert(id, article);
    (StatusCode::CREATED, Json(reply)).into_response()
}

async fn draft(
    State(shared): State<St>,
    Extension(user): Extension<User>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let answer = (|| -> Answer {
        let if_match = headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "invalid", "If-Match is required"))?;
        let mut store = lock(&shared);
        let article = find(&mut store, &id)?;
        let previous = shared.carry_over.then(|| article.latest().clone());
        let (_, version) = version_from(&bytes, &user, previous.as_ref())?;
        if if_match != article.etag() {
            return Err(fail(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                format!(
                    "If-Match {if_match} is stale: the article is at {}",
                    article.etag()
                ),
            ));
        }
        article.versions.push(version);
        article.updated_at = now();
        if article.status == "archived" {
            article.status = "draft";
            article.archived = None;
        }
        Ok(Json(article.json(false)).into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

async fn publish(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let answer = (|| -> Answer {
        let mut store = lock(&shared);
        let article = find(&mut store, &id)?;
        let version = body.get("version").and_then(Value::as_u64);
        if version != Some(article.version()) {
            return Err(fail(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "version {version:?} is not the latest version ({})",
                    article.version()
                ),
            ));
        }
        if article.published_version != version || article.status != "published" {
            let at = now();
            article.versions.last_mut().expect("a version").published_at = Some(at.clone());
            article.published_version = version;
            article.status = "published";
            article.archived = None;
            article.updated_at = at;
        }
        Ok(Json(article.json(false)).into_response())
    })();
    answer.unwrap_or_else(|r| r)
}

async fn archive(
    State(shared): State<St>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut store = lock(&shared);
    match find(&mut store, &id) {
        Ok(article) => {
            let text = |k: &str| body.get(k).and_then(Value::as_str).map(String::from);
            article.status = "archived";
            article.archived = Some((text("reason").unwrap_or_default(), text("superseded_by")));
            article.updated_at = now();
            Json(article.json(false)).into_response()
        }
        Err(r) => r,
    }
}

/// The sanitiser: the first element, attribute or URL outside the contract's subset, in words.
pub fn first_offence(body: &str) -> Option<String> {
    struct Sink(RefCell<Option<String>>);
    impl TokenSink for Sink {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            if self.0.borrow().is_none() {
                *self.0.borrow_mut() = offence(&token);
            }
            TokenSinkResult::Continue
        }
    }
    let tokenizer = Tokenizer::new(Sink(RefCell::new(None)), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(body));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.take()
}

fn offence(token: &Token) -> Option<String> {
    let tag = match token {
        Token::TagToken(tag) => tag,
        Token::DoctypeToken(_) => return Some("element `!DOCTYPE` is not allowed".into()),
        _ => return None,
    };
    let name: &str = &tag.name;
    if !CONTRACT_ELEMENTS.split(' ').any(|allowed| allowed == name) {
        return Some(format!("element `{name}` is not allowed"));
    }
    if tag.kind == TagKind::EndTag {
        return None;
    }
    for attribute in &tag.attrs {
        let attr: &str = &attribute.name.local;
        if !CONTRACT_ATTRIBUTES
            .split(' ')
            .any(|allowed| allowed == attr)
        {
            return Some(format!("attribute `{attr}` on `{name}` is not allowed"));
        }
        let value = attribute.value.trim();
        let bad_url = match attr {
            "src" => !(scheme_is(value, "https:") || is_contract_data_image(value)),
            "href" => scheme_is(value, "javascript:"),
            _ => false,
        };
        if bad_url {
            let shown: String = value.chars().take(60).collect();
            return Some(format!(
                "URL `{shown}` in `{attr}` on `{name}` is not allowed"
            ));
        }
    }
    None
}

/// Whether URL `value` starts with `scheme` as a browser reads it: case-insensitive, ignoring
/// the tabs, newlines and control characters browsers strip (`java\tscript:` is `javascript:`).
fn scheme_is(value: &str, scheme: &str) -> bool {
    let read: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .take(scheme.len())
        .collect();
    read.eq_ignore_ascii_case(scheme)
}

/// `data:image/<png|jpeg|gif|webp>;base64,...`, the only `data:` URLs the contract allows.
fn is_contract_data_image(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    CONTRACT_DATA_IMAGES
        .split(' ')
        .any(|kind| lower.starts_with(&format!("data:image/{kind};base64,")))
}

async fn stats(State(shared): State<St>) -> Response {
    Json(json!(lock(&shared).traffic.counts)).into_response()
}

async fn set_faults(State(shared): State<St>, Json(faults): Json<Vec<Fault>>) -> Response {
    lock(&shared).traffic.set_faults(faults);
    StatusCode::NO_CONTENT.into_response()
}

async fn set_random_faults(State(shared): State<St>, Json(spec): Json<RandomFaults>) -> Response {
    lock(&shared).traffic.set_random_faults(spec);
    StatusCode::NO_CONTENT.into_response()
}

async fn rate_limits(State(shared): State<St>) -> Response {
    Json(json!(lock(&shared).traffic.rate_limits())).into_response()
}

/// Every article with what tests assert on: each version's author, hash and body.
async fn dump(State(shared): State<St>) -> Response {
    let store = lock(&shared);
    let articles: Vec<Value> = store
        .articles
        .values()
        .map(|a| {
            let mut value = a.json(true);
            value["versions"] = a
                .versions
                .iter()
                .map(|v| json!({"by": v.by, "content_hash": v.content_hash, "created_at": v.created_at, "published_at": v.published_at}))
                .collect();
            value["archive"] = match &a.archived {
                Some((reason, superseded_by)) => json!({"reason": reason, "superseded_by": superseded_by}),
                None => Value::Null,
            };
            value
        })
        .collect();
    Json(Value::Array(articles)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sanitiser_names_the_first_offence() {
        assert_eq!(
            first_offence(
                "<p class=\"x\">ok <a href=\"https://x\">a</a></p><img src=\"data:image/png;base64,AA\">"
            ),
            None
        );
        assert_eq!(
            first_offence("<p>a</p><script>x</script><iframe>"),
            Some("element `script` is not allowed".into())
        );
        assert_eq!(
            first_offence("<p onclick=\"x\">"),
            Some("attribute `onclick` on `p` is not allowed".into())
        );
        assert_eq!(
            first_offence("<a href=\" JavaScript:alert(1)\">"),
            Some("URL `JavaScript:alert(1)` in `href` on `a` is not allowed".into())
        );
        assert_eq!(
            first_offence("<img src=\"http://x/y.png\">"),
            Some("URL `http://x/y.png` in `src` on `img` is not allowed".into())
        );
        assert_eq!(first_offence("&lt;script&gt; is text"), None);
        assert_eq!(
            first_offence("<a href=\"java\tscript:alert(1)\">"),
            Some("URL `java\tscript:alert(1)` in `href` on `a` is not allowed".into())
        );
        assert_eq!(
            first_offence("<img src=\"data:image/svg+xml;base64,AA\">"),
            Some("URL `data:image/svg+xml;base64,AA` in `src` on `img` is not allowed".into())
        );
        assert_eq!(
            first_offence("<figure><del>x</del></figure>"),
            Some("element `figure` is not allowed".into())
        );
        assert_eq!(
            first_offence("<a href=\"mailto:x@example.com\" title=\"t\" id=\"i\">"),
            None
        );
    }
}

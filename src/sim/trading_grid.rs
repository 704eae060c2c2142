//! The Trading Grid contract v1 served over HTTP (`kbpub sim`): health, partners, metrics and
//! incidents with the contract's envelope, bearer-token check, cursor pagination and ETags, over
//! the seeded data of [`super::trading_grid_data`]. Fault flags make it misbehave for tests:
//! latency, 429 with `Retry-After` (seconds or an HTTP date), 5xx, a `200` HTML page where the
//! envelope should be (a proxy's error page), 403 for a valid token, malformed JSON, schema major
//! 2, hostile strings, an invalid record, extra fields, and echoing the `Authorization` header back
//! in an error body. The shared [`super::layer`] counts data requests and injects queued faults
//! (control endpoints under `/__sim/trading-grid/`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::layer::TrafficLayer;
use super::trading_grid_data::{self, Generated, Spec};
use super::traffic::Fault;
use crate::data::contract::{Direction, Envelope, ErrorBody, ErrorDetail, IncidentStatus};

/// `kbpub sim` options for the Trading Grid contract.
#[derive(Debug, Clone, clap::Args)]
pub struct TradingGridArgs {
    /// Seed of the generated data: the same seed gives the same data, byte for byte
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// End of the measurement window (RFC 3339), or `now` (this hour)
    #[arg(long, default_value = "2026-11-20T06:00:00Z", value_name = "TIME")]
    pub as_of: String,
    /// Number of partners (the first eight are the sample knowledge base's)
    #[arg(long, default_value_t = 8)]
    pub partners: usize,
    /// Days of daily metrics
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Document types with metrics, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "810,850,855,856,997")]
    pub doc_types: Vec<String>,
    /// Number of incidents
    #[arg(long, default_value_t = 48)]
    pub incidents: usize,
    /// Accept only this bearer token (default: any non-empty token)
    #[arg(long, env = "KBPUB_SIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Fault: delay every data response by this long (e.g. 200ms)
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub latency: Option<Duration>,
    /// Fault: answer the first N data requests with 429 Too Many Requests
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub throttle: u64,
    /// Retry-After sent with 429 and 503: seconds, or `date` for an HTTP date 2 s ahead
    #[arg(long, default_value = "1", value_name = "SECONDS|date")]
    pub retry_after: String,
    /// Fault: answer the next N data requests (after any throttled ones) with --fail-status
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fail: u64,
    /// Status for --fail: 500, 502, 503 or 504
    #[arg(long, default_value_t = 503, value_name = "STATUS")]
    pub fail_status: u16,
    /// Fault: answer the next N data requests (after any failed ones) with 200 and an HTML page,
    /// as a proxy in front of the API does
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub html_error: u64,
    /// Fault: every data request with an accepted token answers 403 (the token lacks access)
    #[arg(long)]
    pub forbidden: bool,
    /// Fault: data responses are truncated, malformed JSON
    #[arg(long)]
    pub malformed: bool,
    /// Fault: envelopes carry this major schema version (2 to test refusal)
    #[arg(long, default_value_t = 1, value_name = "MAJOR")]
    pub schema_major: u32,
    /// Fault: every free-text field carries hostile strings (HTML, script, macros, template syntax, ...)
    #[arg(long)]
    pub hostile: bool,
    /// Fault: one partner has a status outside the contract
    #[arg(long)]
    pub invalid_record: bool,
    /// Records carry fields outside the contract (clients must drop them)
    #[arg(long)]
    pub extra_fields: bool,
    /// Fault: every data request answers 401 with the Authorization header echoed in the body
    #[arg(long)]
    pub echo_auth: bool,
}

impl TradingGridArgs {
    pub fn spec(&self) -> Result<Spec, String> {
        let as_of = if self.as_of == "now" {
            let now = Utc::now();
            now.date_naive()
                .and_hms_opt(chrono::Timelike::hour(&now), 0, 0)
                .expect("hour")
                .and_utc()
        } else {
            DateTime::parse_from_rfc3339(&self.as_of)
                .map_err(|e| format!("--as-of `{}`: {e}", self.as_of))?
                .with_timezone(&Utc)
        };
        if !matches!(self.fail_status, 500 | 502 | 503 | 504) {
            return Err(format!(
                "--fail-status {} is not 500, 502, 503 or 504",
                self.fail_status
            ));
        }
        if self.retry_after != "date" && self.retry_after.parse::<u64>().is_err() {
            return Err(format!(
                "--retry-after `{}` is neither seconds nor `date`",
                self.retry_after
            ));
        }
        Ok(Spec {
            seed: self.seed,
            as_of,
            partners: self.partners,
            days: self.days,
            doc_types: self.doc_types.clone(),
            incidents: self.incidents,
            hostile: self.hostile,
        })
    }
}

struct Sim {
    options: TradingGridArgs,
    as_of: DateTime<Utc>,
    data: Generated,
    /// Data requests seen so far (health checks are not counted), for the fault counters.
    requests: AtomicU64,
}

/// The router for `/v1/...`, with data generated from `options`.
pub fn router(options: TradingGridArgs) -> Result<Router, String> {
    let spec = options.spec()?;
    let data = trading_grid_data::generate(&spec);
    let sim = Arc::new(Sim {
        options,
        as_of: spec.as_of,
        data,
        requests: AtomicU64::new(0),
    });
    // Its own flags (above) fault the data endpoints by request number; the shared layer adds
    // counts and queued faults, steered under `/__sim/trading-grid/`. Health is never faulted.
    let traffic = TrafficLayer::new(|_| Ok(()), answer_fault);
    let data = Router::new()
        .route("/v1/partners", get(partners))
        .route("/v1/metrics", get(metrics))
        .route("/v1/incidents", get(incidents))
        .route("/v1/incidents/{id}", get(incident));
    Ok(traffic
        .wrap(data)
        .route("/v1/health", get(health))
        .with_state(sim)
        .nest("/__sim/trading-grid", traffic.control()))
}

/// An injected fault in the contract's error envelope.
fn answer_fault(status: StatusCode, fault: &Fault) -> Response {
    error(
        status,
        "injected",
        format!("injected fault {}", fault.status),
    )
}

type Params = Query<HashMap<String, String>>;

async fn health(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(serde_json::json!({"status": "ok", "as_of": sim.as_of})).into_response()
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.into(),
            message,
        },
    };
    (status, axum::Json(body)).into_response()
}

/// Auth and faults shared by every data endpoint; `Some` is the response to send instead.
async fn gate(sim: &Sim, headers: &HeaderMap) -> Option<Response> {
    let n = sim.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(latency) = sim.options.latency {
        tokio::time::sleep(latency).await;
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if sim.options.echo_auth {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("token rejected: {auth}"),
        ));
    }
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    let accepted = match &sim.options.token {
        Some(expected) => token == expected,
        None => !token.is_empty(),
    };
    if !accepted {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token".into(),
        ));
    }
    let o = &sim.options;
    if o.forbidden {
        return Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may not read this data".into(),
        ));
    }
    if n <= o.throttle {
        return Some(with_retry_after(
            sim,
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "slow down".into(),
            ),
        ));
    }
    if n <= o.throttle + o.fail {
        let status = StatusCode::from_u16(o.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let response = error(
            status,
            "unavailable",
            format!("simulated {} failure", o.fail_status),
        );
        return Some(if status == StatusCode::SERVICE_UNAVAILABLE {
            with_retry_after(sim, response)
        } else {
            response
        });
    }
    if n <= o.throttle + o.fail + o.html_error {
        return Some(
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>The upstream server is not available.</p></body></html>",
            )
                .into_response(),
        );
    }
    None
}

fn with_retry_after(sim: &Sim, mut response: Response) -> Response {
    let value = match sim.options.retry_after.as_str() {
        "date" => httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2)),
        seconds => seconds.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The JSON of an envelope, with the faults that change bodies applied, and its ETag.
fn envelope_response<T: Serialize>(
    sim: &Sim,
    headers: &HeaderMap,
    data: T,
    next_cursor: Option<String>,
) -> Response {
    let envelope = Envelope {
        schema_version: format!("{}.0", sim.options.schema_major),
        as_of: sim.as_of,
        is_partial: false,
        data,
        next_cursor,
    };
    let mut value = serde_json::to_value(&envelope).expect("envelope serialises");
    if sim.options.extra_fields {
        add_extra_fields(&mut value);
    }
    if sim.options.invalid_record
        && let Some(status) = value.pointer_mut("/data/3/status")
    {
        *status = "paused".into();
    }
    let mut body = serde_json::to_string(&value).expect("json");
    if sim.options.malformed {
        body.truncate(body.len() / 2);
    }
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..12])
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response()
}

fn add_extra_fields(value: &mut serde_json::Value) {
    value["x_sim_generated"] = true.into();
    if let Some(records) = value.get_mut("data").and_then(|d| d.as_array_mut()) {
        for record in records {
            record["x_internal_score"] = 97.into();
            record["x_notes"] = serde_json::json!({"owner": "sim"});
        }
    }
}

/// Auth and faults, then the page asked for: `Err` is the response to send instead.
async fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(usize, usize), Response> {
    match gate(sim, headers).await {
        Some(response) => Err(response),
        None => page_params(params),
    }
}

/// `limit` (default 100, at most 500) and the resume position encoded in `cursor`.
fn page_params(params: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let bad = |what: String| Err(error(StatusCode::BAD_REQUEST, "bad_request", what));
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=500).contains(&l) => l,
        Some(_) => return bad("`limit` must be 1 to 500".into()),
    };
    let start = match params.get("cursor") {
        None => 0,
        Some(c) => match c
            .strip_prefix("pos-")
            .and_then(|p| usize::from_str_radix(p, 16).ok())
        {
            Some(p) => p,
            None => return bad(format!("unknown cursor `{c}`")),
        },
    };
    Ok((limit, start))
}

/// Up to `limit` items of `all` from index `start` that `keep` accepts, and the next cursor.
fn page<T>(
    all: &[T],
    start: usize,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> (Vec<&T>, Option<String>) {
    let mut items = Vec::with_capacity(limit);
    let mut i = start;
    while i < all.len() {
        if keep(&all[i]) {
            if items.len() == limit {
                return (items, Some(format!("pos-{i:x}")));
            }
            items.push(&all[i]);
        }
        i += 1;
    }
    (items, None)
}

async fn partners(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let (limit, start) = admit(&sim, &headers, &params).await?;
    let (items, next) = page(&sim.data.partners, start, limit, |_| true);
    Ok(envelope_response(&sim, &headers, items, next))
}

fn time_param(
    params: &HashMap<String, String>,
    key: &str,
) -> Result<Option<DateTime<Utc>>, Response> {
    match params.get(key) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("`{key}` is not an RFC 3339 time"),
                )
            }),
    }
}

async fn metrics(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let (limit, start) = admit(&sim, &headers, &params).await?;
    if params.get("granularity").is_some_and(|g| g != "day") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "unsupported",
            "the simulator serves `granularity=day` only".into(),
        ));
    }
    let (from, to) = (time_param(&params, "from")?, time_param(&params, "to")?);
    let direction = match params.get("direction").map(String::as_str) {
        None => None,
        Some("inbound") => Some(Direction::Inbound),
        Some("outbound") => Some(Direction::Outbound),
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("unknown direction `{other}`"),
            ));
        }
    };
    let (items, next) = page(&sim.data.metrics, start, limit, |row| {
        from.is_none_or(|f| row.period.start >= f)
            && to.is_none_or(|t| row.period.end <= t)
            && params
                .get("partner_id")
                .is_none_or(|p| &row.partner_id == p)
            && params.get("doc_type").is_none_or(|d| &row.doc_type == d)
            && direction.is_none_or(|d| row.direction == d)
    });
    Ok(envelope_response(&sim, &headers, items, next))
}

async fn incidents(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, Response> {
    let (limit, start) = admit(&sim, &headers, &params).await?;
    let statuses: Option<Vec<IncidentStatus>> = match params.get("status") {
        None => None,
        Some(list) => match list
            .split(',')
            .map(|s| IncidentStatus::parse(s.trim()).ok_or(s))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(s) => Some(s),
            Err(bad) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("unknown status `{bad}`"),
                ));
            }
        },
    };
    let updated_since = time_param(&params, "updated_since")?;
    let (items, next) = page(&sim.data.incidents, start, limit, |i| {
        statuses.as_ref().is_none_or(|s| s.contains(&i.status))
            && params.get("partner_id").is_none_or(|p| &i.partner_id == p)
            && params.get("doc_type").is_none_or(|d| &i.doc_type == d)
            && updated_since.is_none_or(|t| i.updated_at >= t)
    });
    Ok(envelope_response(&sim, &headers, items, next))
}

async fn incident(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(response) = gate(&sim, &headers).await {
        return response;
    }
    match sim.data.incidents.iter().find(|i| i.id == id) {
        Some(found) => envelope_response(&sim, &headers, found, None),
        None => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no incident `{id}`"),
        ),
    }
}

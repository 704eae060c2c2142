//! Who may call the simulated org (reference §1.1, emulator rules 2–6 and 13): the token
//! endpoint's JWT bearer grant (RS256 verified against the configured public key; `iss`, `sub`,
//! `aud`, `exp` checked) and client-credentials grant (My Domain only), the token response (no
//! `expires_in`, no `refresh_token`), idle session expiry, [`admit`], which every REST request
//! passes behind the shared traffic layer (API version in the path, a live session, the API
//! allocation: 403 `REQUEST_LIMIT_EXCEEDED`), the `Sforce-Limit-Info` header on every answer,
//! and the Salesforce error array of an injected fault.

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use serde_json::json;

use super::model::{INTEGRATION_USER_ID, Session, not_found, sf_error};
use super::{NEWEST_VERSION, OLDEST_VERSION, St};

/// The host a token request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Login,
    MyDomain,
}

/// An OAuth error as the token endpoint answers it: 400 `{"error","error_description"}`.
fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

type TokenForm = Result<Form<HashMap<String, String>>, FormRejection>;

pub async fn token_on_login(
    State(shared): State<St>,
    headers: HeaderMap,
    form: TokenForm,
) -> Response {
    token(&shared, Host::Login, &headers, form)
}

pub async fn token_on_my_domain(
    State(shared): State<St>,
    headers: HeaderMap,
    form: TokenForm,
) -> Response {
    token(&shared, Host::MyDomain, &headers, form)
}

fn token(shared: &St, host: Host, headers: &HeaderMap, form: TokenForm) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let user = match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => jwt_grant(shared, &form),
        Some("client_credentials") if host == Host::Login => {
            return oauth_error("invalid_grant", "request not supported on this domain");
        }
        Some("client_credentials") => client_credentials_grant(shared, headers, &form),
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    match user {
        Ok(user) => issue(shared, headers, user),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
}

/// The JWT bearer grant (rule 2): the run-as user, or the OAuth error.
fn jwt_grant(shared: &St, form: &HashMap<String, String>) -> Result<String, Response> {
    let rules = &shared.rules;
    let invalid = || oauth_error("invalid_grant", "invalid assertion");
    let assertion = form.get("assertion").ok_or_else(invalid)?;
    let key = rules.jwt_key.as_ref().ok_or_else(invalid)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(assertion, key, &validation)
        .map_err(|_| invalid())?
        .claims;
    if claims.iss.as_deref() != Some(rules.consumer_key.as_str()) {
        return Err(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        ));
    }
    let audience_ok = match &claims.aud {
        Some(serde_json::Value::String(aud)) => rules.audiences.contains(aud),
        _ => false,
    };
    if !audience_ok {
        return Err(oauth_error("invalid_grant", "audience is invalid"));
    }
    let now = chrono::Utc::now().timestamp();
    match claims.exp {
        Some(exp) if exp > now => {
            if exp > now + rules.jwt_max_ahead.as_secs() as i64 {
                return Err(oauth_error(
                    "invalid_grant",
                    "invalid assertion: exp is too far in the future",
                ));
            }
        }
        _ => return Err(oauth_error("invalid_grant", "expired authorization code")),
    }
    if claims.sub.as_deref() != Some(rules.user.as_str()) {
        return Err(oauth_error(
            "invalid_grant",
            "user hasn't approved this consumer",
        ));
    }
    Ok(rules.user.clone())
}

/// The client-credentials grant (rule 3), from the form or, with the flag, HTTP Basic.
fn client_credentials_grant(
    shared: &St,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Response> {
    let rules = &shared.rules;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .filter(|_| rules.basic_credentials)
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    let (id, secret) = match (form.get("client_id"), form.get("client_secret"), basic) {
        (Some(id), Some(secret), _) => (id.clone(), secret.clone()),
        (_, _, Some(pair)) => pair,
        _ => return Err(oauth_error("invalid_client", "invalid client credentials")),
    };
    if id != rules.consumer_key || secret != rules.consumer_secret {
        return Err(oauth_error("invalid_client", "invalid client credentials"));
    }
    Ok(rules.user.clone())
}

/// A new session for `user`, and the token response of rule 4.
fn issue(shared: &St, headers: &HeaderMap, user: String) -> Response {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let token = format!("00D000000000001!{random}");
    shared.lock().sessions.insert(
        token.clone(),
        Session {
            user,
            last_used: Instant::now(),
        },
    );
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let signature = base64::engine::general_purpose::STANDARD.encode(&random.as_bytes()[..24]);
    Json(json!({
        "access_token": token,
        "instance_url": format!("http://{host}/salesforce/instance"),
        "id": format!("http://{host}/salesforce/login/id/00D000000000001AAA/{INTEGRATION_USER_ID}"),
        "token_type": "Bearer",
        "issued_at": chrono::Utc::now().timestamp_millis().to_string(),
        "signature": signature,
        "scope": "api",
    }))
    .into_response()
}

/// `GET /services/data/`: the versions served (no `Sforce-Limit-Info` here).
pub async fn versions() -> Response {
    let list: Vec<_> = (OLDEST_VERSION..=NEWEST_VERSION)
        .map(|v| json!({"version": format!("{v}.0"), "url": format!("/services/data/v{v}.0")}))
        .collect();
    Json(list).into_response()
}

/// The API version a REST request names (`/services/data/v62.0/...`), as its major number.
#[derive(Debug, Clone, Copy)]
pub struct ApiVersion(pub u32);

/// The caller of a REST request: the session's user.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

fn api_version(path: &str) -> Option<u32> {
    let segment = path.split("/services/data/").nth(1)?.split('/').next()?;
    let (major, minor) = segment.strip_prefix('v')?.split_once('.')?;
    (minor == "0").then_some(())?;
    major.parse().ok()
}

/// Admission of every REST request, behind the shared [`crate::sim::layer`] (which counts it
/// and injects faults first): the version checked (410 retired, 404 unknown), the session
/// checked (401), the allocation taken (403 once spent). Puts the [`ApiVersion`] and the
/// [`Caller`] in the request for handlers.
pub fn admit(shared: &St, request: &mut Request) -> Result<(), Response> {
    let path = request.uri().path().to_string();
    let bearer = crate::sim::traffic::client_of(request.headers())
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .to_string();
    let version = match api_version(&path) {
        Some(v) if v < OLDEST_VERSION => {
            return Err(sf_error(
                StatusCode::GONE,
                "API_VERSION_RETIRED",
                format!("API version {v}.0 is retired"),
                &[],
            ));
        }
        Some(v) if v <= NEWEST_VERSION => v,
        _ => return Err(not_found()),
    };
    let mut org = shared.lock();
    let timeout = shared.rules.session_timeout;
    let user = match org.sessions.get_mut(&bearer) {
        Some(session) if session.last_used.elapsed() <= timeout => {
            session.last_used = Instant::now();
            Some(session.user.clone())
        }
        _ => None,
    };
    let Some(user) = user else {
        org.sessions.remove(&bearer);
        return Err(sf_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
            &[],
        ));
    };
    if org.api_used >= org.api_max {
        return Err(limit_exceeded());
    }
    org.api_used += 1;
    request.extensions_mut().insert(ApiVersion(version));
    request.extensions_mut().insert(Caller(user));
    Ok(())
}

/// Every REST answer, injected faults and refusals included, carries the org's API usage in
/// `Sforce-Limit-Info`.
pub async fn limit_info(State(shared): State<St>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let usage = {
        let org = shared.lock();
        format!("api-usage={}/{}", org.api_used, org.api_max)
    };
    if let Ok(value) = HeaderValue::from_str(&usage) {
        response.headers_mut().insert("Sforce-Limit-Info", value);
    }
    response
}

fn limit_exceeded() -> Response {
    sf_error(
        StatusCode::FORBIDDEN,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
        &[],
    )
}

/// The error array an injected fault answers with, by status.
pub fn answer_fault(status: StatusCode, _: &crate::sim::traffic::Fault) -> Response {
    match status.as_u16() {
        400 => sf_error(
            status,
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record",
            &[],
        ),
        401 => sf_error(
            status,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
            &[],
        ),
        403 => limit_exceeded(),
        other => sf_error(
            status,
            "SERVER_ERROR",
            format!("injected fault {other}"),
            &[],
        ),
    }
}

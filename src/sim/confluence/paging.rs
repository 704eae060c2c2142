//! How Confluence lists page (reference §1.1 and §1.4): v1 `start`/`limit`, CQL and v2 opaque
//! cursors, `_links.next` built from the request's own query (v2 also a `Link` header), every
//! page clamped to the instance's page size.

use std::collections::HashMap;

use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::model::Instance;
use super::{fail, ok};

/// How a list pages (reference §1.1 and §1.4).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Paging {
    /// v1: `start` and `limit`; `_links.next` is relative to the context path.
    Offset,
    /// CQL search: an opaque `cursor`; `_links.next` relative to the context path.
    CqlCursor,
    /// v2: an opaque `cursor`; `_links.next` starts with the context path, and a `Link`
    /// header carries it too.
    V2Cursor,
}

/// One page of `items` as the list at `path` (after the context path) answers it: at most
/// `limit` (default `default_limit`) items, never more than the server's page size, with a
/// `next` link, built from the request's own query, only while items remain.
pub(super) fn paged(
    instance: &Instance,
    items: Vec<Value>,
    q: &HashMap<String, String>,
    path: &str,
    paging: Paging,
    default_limit: usize,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default_limit)
        .clamp(1, instance.rules.page_size.max(1));
    let start = match (paging, q.get("start"), q.get("cursor")) {
        (Paging::Offset, Some(start), _) => match start.parse() {
            Ok(start) => start,
            Err(_) => return fail(StatusCode::BAD_REQUEST, "start must be a number"),
        },
        (Paging::CqlCursor | Paging::V2Cursor, _, Some(cursor)) => match decode_cursor(cursor) {
            Some(start) => start,
            None => return fail(StatusCode::BAD_REQUEST, format!("Invalid cursor: {cursor}")),
        },
        _ => 0usize,
    };
    let total = items.len();
    let results: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + limit < total).then(|| {
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "start" | "cursor" | "limit"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.sort();
        pairs.push(("limit".into(), limit.to_string()));
        pairs.push(match paging {
            Paging::Offset => ("start".into(), (start + limit).to_string()),
            _ => ("cursor".into(), encode_cursor(start + limit)),
        });
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        let prefix = if paging == Paging::V2Cursor {
            instance.context()
        } else {
            ""
        };
        format!("{prefix}{path}?{}", query.join("&"))
    });
    let mut links = json!({"context": instance.context()});
    if let Some(next) = next
        .as_ref()
        .filter(|_| !(paging == Paging::V2Cursor && instance.rules.v2_link_only))
    {
        links["next"] = json!(next);
    }
    let body = match paging {
        Paging::V2Cursor => json!({"results": results, "_links": links}),
        _ => {
            json!({"results": results, "start": start, "limit": limit, "size": results.len(), "_links": links})
        }
    };
    let mut response = ok(body);
    if paging == Paging::V2Cursor
        && let Some(link) = next.and_then(|n| format!("<{n}>; rel=\"next\"").parse().ok())
    {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// An opaque cursor for position `start`.
pub(super) fn encode_cursor(start: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{start}"))
}

pub(super) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")?
        .parse()
        .ok()
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
pub(super) fn escape(text: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

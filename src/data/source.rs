//! Sources: turns one `[[data.sources]]` entry into a validated [`Snapshot`]. A `trading-grid`
//! source is fetched over HTTP (partners, then the last `days` of daily metrics ending at the
//! source's `as_of`, then incidents); a `file` source is a local JSON file (a contract envelope)
//! or CSV file (one record per line, nested fields as dotted column names such as
//! `acks.expected`) holding one kind of record.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as Days, DurationRound, Utc};

use super::Snapshot;
use super::client::{Client, Event, FetchError, Limits, Secret};
use super::contract::{self, Envelope, Incident, MetricRow, Partner, RecordError, Validate};
use crate::config::data::{RecordKind, SourceConfig, SourceKind};

/// Why a source could not be read. Never holds the token.
#[derive(Debug)]
pub enum SourceError {
    /// The token's environment variable is not set.
    Token {
        env: String,
    },
    Fetch(FetchError),
    File {
        path: String,
        detail: String,
    },
    Salesforce(super::crm::CrmError),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::Token { env } => write!(
                f,
                "environment variable `{env}` is not set (it holds the access token)"
            ),
            SourceError::Fetch(e) => e.fmt(f),
            SourceError::File { path, detail } => write!(f, "{path}: {detail}"),
            SourceError::Salesforce(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SourceError {}

impl SourceError {
    /// Wrong or missing credentials (no token, 401, 403): waiting or falling back cannot fix it.
    pub fn is_credentials(&self) -> bool {
        match self {
            SourceError::Token { .. } => true,
            SourceError::Fetch(e) => e.is_auth(),
            SourceError::File { .. } => false,
            SourceError::Salesforce(super::crm::CrmError::OAuth(e)) => e.is_credentials(),
            SourceError::Salesforce(super::crm::CrmError::Record(_)) => false,
        }
    }
}

impl From<FetchError> for SourceError {
    fn from(e: FetchError) -> Self {
        SourceError::Fetch(e)
    }
}

/// A fetched snapshot, the credentials used (to check none ended up in the data), and how many
/// pages the ETag cache answered.
pub struct Fetched {
    pub snapshot: Snapshot,
    pub tokens: Vec<Secret>,
    pub pages: usize,
    pub not_modified: usize,
}

/// Reads `source`. `root` is the site root (file paths are relative to it).
pub async fn fetch(
    source: &SourceConfig,
    root: &Path,
    limits: Limits,
    cache_dir: PathBuf,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Fetched, SourceError> {
    match source.kind {
        SourceKind::TradingGrid => fetch_trading_grid(source, limits, cache_dir, events).await,
        SourceKind::Salesforce => fetch_salesforce(source, limits, events).await,
        SourceKind::File => {
            let path = root.join(
                source
                    .path
                    .as_ref()
                    .expect("checked: file sources have a path"),
            );
            let kind = source
                .records
                .expect("checked: file sources name their records");
            let snapshot =
                read_file(&source.name, &path, kind).map_err(|detail| SourceError::File {
                    path: path.display().to_string(),
                    detail,
                })?;
            Ok(Fetched {
                snapshot,
                tokens: Vec::new(),
                pages: 1,
                not_modified: 0,
            })
        }
    }
}

async fn fetch_trading_grid(
    source: &SourceConfig,
    limits: Limits,
    cache_dir: PathBuf,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Fetched, SourceError> {
    let env = source
        .token_env
        .clone()
        .expect("checked: trading-grid sources name their token variable");
    let token = match std::env::var(&env) {
        Ok(token) if !token.is_empty() => Secret::new(token),
        _ => return Err(SourceError::Token { env }),
    };
    let url = source
        .url
        .as_deref()
        .expect("checked: trading-grid sources have a url");
    let client = Client::new(url, token.clone(), limits, cache_dir, events)?;
    let size = source.page_size;
    let partners = client
        .fetch_all::<Partner>(RecordKind::Partners, &[], size)
        .await?;
    let as_of = partners.as_of;
    let from = (as_of - Days::days(i64::from(source.days)))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let window = [
        ("from", rfc3339(from)),
        ("to", rfc3339(as_of)),
        ("granularity", "day".to_string()),
    ];
    let metrics = client
        .fetch_all::<MetricRow>(RecordKind::Metrics, &window, size)
        .await?;
    let incidents = client
        .fetch_all::<Incident>(RecordKind::Incidents, &[], size)
        .await?;
    let is_partial = partners.is_partial || metrics.is_partial || incidents.is_partial;
    let pages = partners.pages + metrics.pages + incidents.pages;
    let not_modified = partners.not_modified + metrics.not_modified + incidents.not_modified;
    let snapshot = Snapshot::from_records(
        &source.name,
        &partners.schema_version,
        as_of,
        is_partial,
        partners.records,
        metrics.records,
        incidents.records,
    );
    Ok(Fetched {
        snapshot,
        tokens: vec![token],
        pages,
        not_modified,
    })
}

/// A Salesforce source: the CRM records as of now (a query answers with the current state).
async fn fetch_salesforce(
    source: &SourceConfig,
    limits: Limits,
    events: &(dyn Fn(Event) + Sync),
) -> Result<Fetched, SourceError> {
    let crm_source = super::crm_source(source).expect("checked: salesforce sources are complete");
    let settings = crate::net::Settings {
        connect_timeout: limits.connect_timeout,
        request_timeout: limits.request_timeout,
        policy: crate::net::retry::RetryPolicy {
            max_attempts: limits.retries + 1,
            ..Default::default()
        },
        budget: std::sync::Arc::new(crate::net::retry::Budget::until(limits.deadline)),
    };
    let pulled = super::crm::pull(&crm_source, settings, events)
        .await
        .map_err(SourceError::Salesforce)?;
    let as_of = Utc::now()
        .duration_trunc(chrono::TimeDelta::seconds(1))
        .unwrap_or_else(|_| Utc::now());
    let snapshot = Snapshot {
        crm: pulled.crm,
        ..Snapshot::from_records(&source.name, "1.0", as_of, false, vec![], vec![], vec![])
    };
    let secret = source
        .secret_env
        .as_deref()
        .and_then(|env| std::env::var(env).ok())
        .map(Secret::new);
    Ok(Fetched {
        snapshot,
        tokens: pulled.tokens.into_iter().chain(secret).collect(),
        pages: pulled.pages,
        not_modified: 0,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A JSON file (a contract envelope whose `data` is a list) or a CSV file of `kind` records.
pub fn read_file(name: &str, path: &Path, kind: RecordKind) -> Result<Snapshot, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (values, schema_version, as_of, is_partial) = if is_csv {
        (
            csv_values(&text)?,
            contract::SCHEMA_VERSION.to_string(),
            None,
            false,
        )
    } else {
        let envelope: Envelope<Vec<serde_json::Value>> = serde_json::from_str(&text)
            .map_err(|e| format!("not a contract v1 envelope ({{\"schema_version\", \"as_of\", \"data\": [...]}}): {e}"))?;
        contract::check_schema_version(&envelope.schema_version)?;
        (
            envelope.data,
            envelope.schema_version,
            Some(envelope.as_of),
            envelope.is_partial,
        )
    };
    let describe = |e: RecordError| {
        if is_csv {
            format!("line {}: {e}", e.index + 2)
        } else {
            e.to_string()
        }
    };
    let (mut partners, mut metrics, mut incidents) = (Vec::new(), Vec::new(), Vec::new());
    match kind {
        RecordKind::Partners => partners = parse::<Partner>(kind, values).map_err(describe)?,
        RecordKind::Metrics => metrics = parse::<MetricRow>(kind, values).map_err(describe)?,
        RecordKind::Incidents => incidents = parse::<Incident>(kind, values).map_err(describe)?,
    }
    // A CSV file has no envelope: its `as_of` is the latest time its records speak of.
    let latest = partners
        .iter()
        .filter_map(|p| p.onboarded_at)
        .chain(metrics.iter().map(|m| m.period.end))
        .chain(incidents.iter().map(|i| i.updated_at))
        .max();
    let as_of = as_of
        .or(latest)
        .ok_or("the file holds no records, so it has no `as_of`")?;
    Ok(Snapshot::from_records(
        name,
        &schema_version,
        as_of,
        is_partial,
        partners,
        metrics,
        incidents,
    ))
}

fn parse<T: serde::de::DeserializeOwned + Validate>(
    kind: RecordKind,
    values: Vec<serde_json::Value>,
) -> Result<Vec<T>, RecordError> {
    contract::parse_records(kind, 0, values)
}

/// Count fields of the contract: CSV cells under these column names are integers.
const INTEGER_FIELDS: &[&str] = &[
    "documents",
    "interchanges",
    "expected",
    "received",
    "accepted",
    "accepted_with_errors",
    "rejected",
    "overdue",
    "delivered",
    "failed",
    "resent",
    "p50",
    "p90",
    "sla",
    "within_sla",
    "measured",
    "on_time",
    "total",
    "documents_affected",
];

/// CSV rows as nested JSON objects: `acks.expected` becomes `{"acks": {"expected": ...}}`; empty
/// cells are null; `related_kb` is split on `;`.
fn csv_values(text: &str) -> Result<Vec<serde_json::Value>, String> {
    use serde_json::{Map, Value};
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("CSV header: {e}"))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut values = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("CSV: {e}"))?;
        let mut object = Value::Object(Map::new());
        for (column, cell) in headers.iter().zip(record.iter()) {
            let leaf = column.rsplit('.').next().unwrap_or(column);
            let value = if cell.is_empty() {
                Value::Null
            } else if leaf == "related_kb" {
                Value::Array(
                    cell.split(';')
                        .map(|s| Value::String(s.trim().to_string()))
                        .collect(),
                )
            } else if INTEGER_FIELDS.contains(&leaf) {
                Value::from(cell.trim().parse::<u64>().map_err(|_| {
                    format!("line {}: `{column}` is `{cell}`, not a whole number", i + 2)
                })?)
            } else {
                Value::String(cell.to_string())
            };
            let mut target = &mut object;
            let parts: Vec<&str> = column.split('.').collect();
            for part in &parts[..parts.len() - 1] {
                target = target
                    .as_object_mut()
                    .expect("objects all the way down")
                    .entry(part.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            if let Some(map) = target.as_object_mut() {
                map.insert(parts[parts.len() - 1].to_string(), value);
            }
        }
        values.push(object);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_metrics_with_dotted_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "partner_id,doc_type,doc_name,direction,period.start,period.end,volume.documents,volume.interchanges,acks.expected,acks.received,acks.accepted,acks.accepted_with_errors,acks.rejected,acks.overdue,delivery.delivered,delivery.failed,delivery.resent,on_time.on_time,on_time.total,extra_column\n\
            ACME-RETAIL,856,ASN,outbound,2026-11-19T00:00:00Z,2026-11-20T00:00:00Z,10,1,10,10,9,0,1,0,10,0,0,9,10,dropped\n").unwrap();
        let snapshot = read_file("f", &path, RecordKind::Metrics).unwrap();
        assert_eq!(snapshot.as_of.to_rfc3339(), "2026-11-20T00:00:00+00:00");
        assert_eq!(snapshot.metrics["ACME-RETAIL"][0].counts.rejected, 1);
        std::fs::write(&path, "partner_id,doc_type\nACME,x\n").unwrap();
        let err = read_file("f", &path, RecordKind::Metrics).unwrap_err();
        assert!(
            err.starts_with("line 2: metrics[0] (`ACME x`): missing field"),
            "{err}"
        );
    }

    #[test]
    fn json_files_are_envelopes_with_major_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            r#"{"schema_version": "2.0", "as_of": "2026-11-20T06:00:00Z", "data": []}"#,
        )
        .unwrap();
        assert!(
            read_file("f", &path, RecordKind::Partners)
                .unwrap_err()
                .contains("major 2")
        );
        std::fs::write(&path, r#"{"schema_version": "1.1", "as_of": "2026-11-20T06:00:00Z", "data": [{"id": "X", "name": "X Co", "edi_qualifier": "ZZ", "edi_id": "X", "status": "active", "onboarded_at": null, "segment": "retail"}]}"#).unwrap();
        assert_eq!(
            read_file("f", &path, RecordKind::Partners)
                .unwrap()
                .partners[0]
                .name,
            "X Co"
        );
    }
}

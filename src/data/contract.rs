//! The Trading Grid data contract v1 (`../shared/contracts/trading-grid-v1.md`) as Rust types:
//! the response envelope, partners, metric rows and incidents. Deserialising into these types is
//! the sanitiser: fields outside the contract are dropped, enumerations are checked, and a record
//! that does not fit is reported with its index and id. The simulator serialises the same types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::data::RecordKind;

/// The major schema version kbpub understands.
pub const SCHEMA_MAJOR: u32 = 1;
pub const SCHEMA_VERSION: &str = "1.0";

/// Every response: `{"schema_version", "as_of", "is_partial", "data", "next_cursor"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub schema_version: String,
    pub as_of: DateTime<Utc>,
    #[serde(default)]
    pub is_partial: bool,
    pub data: T,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Checks `schema_version` is `1.x`; the error says which version was found.
pub fn check_schema_version(version: &str) -> Result<(), String> {
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    match major {
        Some(SCHEMA_MAJOR) => Ok(()),
        Some(other) => Err(format!(
            "the source speaks schema version {version} (major {other}); kbpub understands major {SCHEMA_MAJOR} only"
        )),
        None => Err(format!(
            "`schema_version` `{version}` is not a version number"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerStatus {
    Onboarding,
    Active,
    Suspended,
    Offboarded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub edi_qualifier: String,
    pub edi_id: String,
    pub status: PartnerStatus,
    pub onboarded_at: Option<DateTime<Utc>>,
    pub segment: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub documents: u64,
    pub interchanges: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acks {
    pub expected: u64,
    pub received: u64,
    pub accepted: u64,
    pub accepted_with_errors: u64,
    pub rejected: u64,
    pub overdue: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivered: u64,
    pub failed: u64,
    pub resent: u64,
}

/// One turnaround measure (e.g. `doc_to_997`): percentiles in minutes, the SLA and how many
/// documents were measured and within it. Percentiles are absent when nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turnaround {
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub sla: u64,
    pub within_sla: u64,
    pub measured: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnTime {
    pub on_time: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// A decimal string (`"1200.00"`), never a float.
    pub value: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chargeback {
    pub reason: String,
    pub count: u64,
    pub amount: Money,
}

/// One row per partner x document type x direction x period: raw counts only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub partner_id: String,
    pub doc_type: String,
    pub doc_name: String,
    pub direction: Direction,
    pub period: Period,
    pub volume: Volume,
    pub acks: Acks,
    pub delivery: Delivery,
    #[serde(default)]
    pub turnaround_minutes: BTreeMap<String, Turnaround>,
    pub on_time: OnTime,
    #[serde(default)]
    pub chargebacks: Vec<Chargeback>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Open,
    Investigating,
    AwaitingPartner,
    Resolved,
    Closed,
}

impl IncidentStatus {
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Open,
        IncidentStatus::Investigating,
        IncidentStatus::AwaitingPartner,
        IncidentStatus::Resolved,
        IncidentStatus::Closed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::AwaitingPartner => "awaiting_partner",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Open => "Open",
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::AwaitingPartner => "Awaiting partner",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Closed => "Closed",
        }
    }

    /// Not yet resolved: open, investigating or awaiting the partner.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            IncidentStatus::Open | IncidentStatus::Investigating | IncidentStatus::AwaitingPartner
        )
    }

    pub fn parse(name: &str) -> Option<IncidentStatus> {
        IncidentStatus::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorSource {
    #[serde(rename = "997")]
    Ack997,
    #[serde(rename = "999")]
    Ack999,
    #[serde(rename = "824")]
    Advice824,
    Translation,
    Network,
    Mailbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCategory {
    Syntax,
    BusinessRule,
    Delivery,
    Translation,
    Duplicate,
    Connectivity,
    Timing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentError {
    pub source: ErrorSource,
    pub code: String,
    pub category: ErrorCategory,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootCauseCategory {
    PartnerData,
    Mapping,
    MasterData,
    Connectivity,
    Process,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCause {
    pub category: RootCauseCategory,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionAction {
    Resend,
    Remap,
    PartnerFix,
    ConfigChange,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub action: ResolutionAction,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub partner_id: String,
    pub doc_type: String,
    pub direction: Direction,
    #[serde(default)]
    pub control: BTreeMap<String, String>,
    #[serde(default)]
    pub references: BTreeMap<String, String>,
    pub error: IncidentError,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub tg_status: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub root_cause: Option<RootCause>,
    pub resolution: Option<Resolution>,
    #[serde(default)]
    pub documents_affected: u64,
    #[serde(default)]
    pub related_kb: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// The endpoint serving records of `kind`.
pub fn endpoint(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Partners => "/v1/partners",
        RecordKind::Metrics => "/v1/metrics",
        RecordKind::Incidents => "/v1/incidents",
    }
}

/// A record that does not fit the contract: which list, its index and id, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub kind: RecordKind,
    pub index: usize,
    pub id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.kind.name(), self.index)?;
        if let Some(id) = &self.id {
            write!(f, " (`{}`)", crate::text::display_safe(id, 80))?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Validates and sanitises one record: fields outside the contract are dropped by deserialising
/// into `T`; a value that does not fit names the record. `offset` is the record's index in the
/// whole list (pages are validated one at a time).
pub fn parse_records<T: serde::de::DeserializeOwned + Validate>(
    kind: RecordKind,
    offset: usize,
    values: Vec<serde_json::Value>,
) -> Result<Vec<T>, RecordError> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let id = record_id(kind, &value);
            let error = |message: String| RecordError {
                kind,
                index: offset + i,
                id: id.clone(),
                message,
            };
            let record: T = serde_json::from_value(value).map_err(|e| error(e.to_string()))?;
            record.validate().map_err(error)?;
            Ok(record)
        })
        .collect()
}

fn record_id(kind: RecordKind, value: &serde_json::Value) -> Option<String> {
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
    match kind {
        RecordKind::Partners | RecordKind::Incidents => text("id"),
        RecordKind::Metrics => {
            let parts = [text("partner_id"), text("doc_type"), text("direction")];
            let start = value
                .pointer("/period/start")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let parts: Vec<String> = parts.into_iter().chain([start]).flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
    }
}

/// Checks beyond what the types enforce.
pub trait Validate {
    fn validate(&self) -> Result<(), String>;
}

fn non_empty(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("`{field}` is empty"))
    } else {
        Ok(())
    }
}

impl Validate for Partner {
    fn validate(&self) -> Result<(), String> {
        non_empty("id", &self.id)
    }
}

impl Validate for MetricRow {
    fn validate(&self) -> Result<(), String> {
        non_empty("partner_id", &self.partner_id)?;
        non_empty("doc_type", &self.doc_type)?;
        if self.period.end <= self.period.start {
            return Err("`period.end` is not after `period.start`".into());
        }
        let a = &self.acks;
        if a.accepted + a.accepted_with_errors + a.rejected > a.received {
            return Err(
                "`acks`: accepted + accepted_with_errors + rejected exceeds received".into(),
            );
        }
        for (name, t) in &self.turnaround_minutes {
            if t.within_sla > t.measured {
                return Err(format!(
                    "`turnaround_minutes.{name}`: within_sla exceeds measured"
                ));
            }
        }
        if self.on_time.on_time > self.on_time.total {
            return Err("`on_time`: on_time exceeds total".into());
        }
        for c in &self.chargebacks {
            parse_decimal(&c.amount.value).ok_or_else(|| {
                format!(
                    "chargeback amount `{}` is not a decimal string",
                    crate::text::display_safe(&c.amount.value, 40)
                )
            })?;
        }
        Ok(())
    }
}

impl Validate for Incident {
    fn validate(&self) -> Result<(), String> {
        non_empty("id", &self.id)?;
        non_empty("partner_id", &self.partner_id)
    }
}

/// Parses a decimal string (`"1200.00"`, `"-3.5"`) into ten-thousandths, exactly.
pub fn parse_decimal(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > 4
        || whole.len() > 30
    {
        return None;
    }
    let value: i128 =
        whole.parse::<i128>().ok()? * 10_000 + format!("{fraction:0<4}").parse::<i128>().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_major_versions() {
        assert!(check_schema_version("1.0").is_ok());
        assert!(check_schema_version("1.7").is_ok());
        let err = check_schema_version("2.0").unwrap_err();
        assert!(err.contains("2.0") && err.contains("major 1"), "{err}");
        assert!(check_schema_version("x").is_err());
    }

    #[test]
    fn unknown_fields_are_dropped_and_bad_records_named() {
        let good = serde_json::json!({"id": "ACME-RETAIL", "name": "Acme", "edi_qualifier": "ZZ", "edi_id": "ACME",
            "status": "active", "onboarded_at": "2024-02-01T00:00:00Z", "segment": "retail", "secret_note": "x"});
        let mut bad = good.clone();
        bad["id"] = "BIGBOX".into();
        bad["status"] = "paused".into();
        let parsed: Vec<Partner> =
            parse_records(RecordKind::Partners, 0, vec![good.clone()]).unwrap();
        let back = serde_json::to_value(&parsed[0]).unwrap();
        assert!(back.get("secret_note").is_none());
        let err = parse_records::<Partner>(RecordKind::Partners, 10, vec![good, bad]).unwrap_err();
        assert_eq!(err.index, 11);
        let text = err.to_string();
        assert!(
            text.starts_with("partners[11] (`BIGBOX`): unknown variant `paused`"),
            "{text}"
        );
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("1200.00"), Some(12_000_000));
        assert_eq!(parse_decimal("-3.5"), Some(-35_000));
        assert_eq!(parse_decimal("7"), Some(70_000));
        assert_eq!(parse_decimal("1e3"), None);
        assert_eq!(parse_decimal("1.23456"), None);
        assert_eq!(parse_decimal(""), None);
    }
}

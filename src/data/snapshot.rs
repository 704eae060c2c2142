//! Snapshots: one source's validated data as of one moment, stored as `data/<source>.json` and
//! read by every build. The file carries `as_of` and the sha256 of its data, so a hand-edited or
//! truncated snapshot is refused. Metric rows (the bulk: 200 partners x 6 types x 2 directions x 90
//! days is 216,000 rows) are stored compactly, one JSON array per row, grouped by partner, so a
//! build parses them in parallel and finds a partner's rows without scanning. Writes are atomic
//! (temp file, fsync, rename): a failed pull never leaves a half-written snapshot.
//!
//! A pull that failed under `on_failure = "stale"` leaves the snapshot byte-for-byte intact and
//! writes `data/<source>.stale.json` next to it; builds show a stale banner while it exists.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::contract::{Chargeback, Direction, Incident, MetricRow, Money, Partner, Turnaround};
use super::crm::Crm;
use super::metrics::Counts;

/// Version of the file layout (not of the contract).
const LAYOUT: u32 = 1;
/// How metric rows are laid out in the file (stored in the file, checked on reading): per
/// partner a list of series, one per document type and direction, each column by column.
fn columns() -> serde_json::Value {
    serde_json::json!({
        "start": "period starts: the first in Unix seconds, then the difference to the previous",
        "length": "period lengths in seconds",
        "counts": ["documents", "interchanges", "expected", "received", "accepted", "accepted_with_errors",
                   "rejected", "overdue", "delivered", "failed", "resent", "on_time", "total"],
        "turnaround": [["measure (index into measures)", ["p50", "p90", "sla (null: not measured)", "within_sla", "measured"]]],
        "chargebacks": [["row", "reason", "count", "amount.value", "amount.currency"]]
    })
}

/// One metric row as kept in memory: the counts, the period as Unix seconds, and indexes into
/// the snapshot's document-type and measure tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub doc_type: u16,
    pub direction: Direction,
    pub start: i64,
    pub end: i64,
    pub counts: Counts,
    pub turnaround: Box<[(u16, Turnaround)]>,
    pub chargebacks: Box<[Chargeback]>,
}

/// One source's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub source: String,
    pub schema_version: String,
    pub as_of: DateTime<Utc>,
    pub is_partial: bool,
    /// Sorted by id.
    pub partners: Vec<Partner>,
    /// Document type code and name (`"856"`, `"Advance Ship Notice"`), sorted by code.
    pub doc_types: Vec<(String, String)>,
    /// Turnaround measure names (`doc_to_997`), sorted.
    pub measures: Vec<String>,
    /// By partner id; each partner's rows sorted by document type, direction and period start.
    pub metrics: BTreeMap<String, Vec<Row>>,
    /// Sorted by id.
    pub incidents: Vec<Incident>,
    /// A Salesforce source's records (empty for the others, and then not written).
    pub crm: Crm,
}

impl Snapshot {
    /// Builds a snapshot from contract records (already validated). A document type's name is
    /// the first one seen for its code, in row order.
    pub fn from_records(
        source: &str,
        schema_version: &str,
        as_of: DateTime<Utc>,
        is_partial: bool,
        mut partners: Vec<Partner>,
        rows: Vec<MetricRow>,
        mut incidents: Vec<Incident>,
    ) -> Snapshot {
        partners.sort_by(|a, b| a.id.cmp(&b.id));
        incidents.sort_by(|a, b| a.id.cmp(&b.id));
        let mut doc_names: BTreeMap<String, String> = BTreeMap::new();
        let mut measure_names: BTreeMap<String, ()> = BTreeMap::new();
        for row in &rows {
            doc_names
                .entry(row.doc_type.clone())
                .or_insert_with(|| row.doc_name.clone());
            for name in row.turnaround_minutes.keys() {
                measure_names.insert(name.clone(), ());
            }
        }
        let doc_types: Vec<(String, String)> = doc_names.into_iter().collect();
        let measures: Vec<String> = measure_names.into_keys().collect();
        let doc_index: HashMap<&str, u16> = doc_types
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (c.as_str(), i as u16))
            .collect();
        let measure_index: HashMap<&str, u16> = measures
            .iter()
            .enumerate()
            .map(|(i, m)| (m.as_str(), i as u16))
            .collect();
        let mut metrics: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        for row in &rows {
            let stored = Row {
                doc_type: doc_index[row.doc_type.as_str()],
                direction: row.direction,
                start: row.period.start.timestamp(),
                end: row.period.end.timestamp(),
                counts: Counts::of_row(row),
                turnaround: row
                    .turnaround_minutes
                    .iter()
                    .map(|(m, t)| (measure_index[m.as_str()], *t))
                    .collect(),
                chargebacks: row.chargebacks.clone().into_boxed_slice(),
            };
            metrics
                .entry(row.partner_id.clone())
                .or_default()
                .push(stored);
        }
        for rows in metrics.values_mut() {
            sort_rows(rows, &doc_types);
        }
        Snapshot {
            source: source.to_string(),
            schema_version: schema_version.to_string(),
            as_of,
            is_partial,
            partners,
            doc_types,
            measures,
            metrics,
            incidents,
            crm: Crm::default(),
        }
    }

    pub fn metric_row_count(&self) -> usize {
        self.metrics.values().map(Vec::len).sum()
    }
}

fn sort_rows(rows: &mut [Row], doc_types: &[(String, String)]) {
    rows.sort_by(|a, b| {
        (&doc_types[a.doc_type as usize].0, a.direction, a.start).cmp(&(
            &doc_types[b.doc_type as usize].0,
            b.direction,
            b.start,
        ))
    });
}

/// Why a snapshot file cannot be used.
#[derive(Debug)]
pub enum SnapshotError {
    Missing(PathBuf),
    Io(PathBuf, std::io::Error),
    Invalid(PathBuf, String),
    Checksum(PathBuf),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Missing(p) => write!(f, "no snapshot at {}", p.display()),
            SnapshotError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            SnapshotError::Invalid(p, why) => {
                write!(f, "{} is not a valid snapshot: {why}", p.display())
            }
            SnapshotError::Checksum(p) => {
                write!(
                    f,
                    "{} does not match its sha256: it was edited or damaged after it was pulled",
                    p.display()
                )
            }
        }
    }
}

impl std::error::Error for SnapshotError {}

/// `dir/<source>.json`.
pub fn path(dir: &Path, source: &str) -> PathBuf {
    dir.join(format!("{source}.json"))
}

/// `dir/<source>.stale.json`.
pub fn stale_path(dir: &Path, source: &str) -> PathBuf {
    dir.join(format!("{source}.stale.json"))
}

// ---- file layout ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Header<'a> {
    kbpub_snapshot: u32,
    source: Cow<'a, str>,
    schema_version: Cow<'a, str>,
    as_of: DateTime<Utc>,
    is_partial: bool,
    sha256: Cow<'a, str>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Data<'a> {
    partners: Vec<Partner>,
    incidents: Vec<Incident>,
    #[serde(borrow)]
    metrics: Metrics<'a>,
    #[serde(default)]
    crm: Crm,
}

#[derive(Deserialize)]
struct Metrics<'a> {
    columns: serde_json::Value,
    doc_types: BTreeMap<String, String>,
    measures: Vec<String>,
    #[serde(borrow)]
    series: BTreeMap<String, &'a RawValue>,
}

/// One partner's rows of one document type and direction, column by column: columns of small
/// integers are short to store and several times faster to parse than the same rows as arrays.
#[derive(Serialize, Deserialize)]
struct Series<'a> {
    #[serde(borrow)]
    doc_type: Cow<'a, str>,
    direction: Direction,
    start: Vec<i64>,
    length: Vec<i64>,
    counts: [Vec<u64>; 13],
    turnaround: Vec<(u16, [Vec<Option<u64>>; 5])>,
    #[serde(borrow)]
    chargebacks: Vec<FileChargeback<'a>>,
}

/// A chargeback in a series: its row, reason, count, amount and currency.
type FileChargeback<'a> = (usize, Cow<'a, str>, u64, Cow<'a, str>, Cow<'a, str>);

/// The file text of `snapshot`: deterministic (same data, same bytes), one metric row per line.
pub fn to_file_text(snapshot: &Snapshot) -> String {
    let data = data_text(snapshot);
    let header = Header {
        kbpub_snapshot: LAYOUT,
        source: Cow::Borrowed(&snapshot.source),
        schema_version: Cow::Borrowed(&snapshot.schema_version),
        as_of: snapshot.as_of,
        is_partial: snapshot.is_partial,
        sha256: Cow::Owned(hex::encode(Sha256::digest(data.as_bytes()))),
        data: &RawValue::from_string(data).expect("snapshot data is JSON"),
    };
    let mut text = serde_json::to_string_pretty(&header).expect("snapshot header serialises");
    text.push('\n');
    text
}

fn data_text(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(snapshot.metric_row_count() * 90 + 4096);
    out.push_str("{\n\"partners\": ");
    out.push_str(&pretty(&snapshot.partners));
    out.push_str(",\n\"incidents\": ");
    out.push_str(&pretty(&snapshot.incidents));
    if !snapshot.crm.is_empty() {
        out.push_str(",\n\"crm\": ");
        out.push_str(&pretty(&snapshot.crm));
    }
    out.push_str(",\n\"metrics\": {\n\"columns\": ");
    out.push_str(&columns().to_string());
    out.push_str(",\n\"doc_types\": ");
    let doc_types: BTreeMap<&str, &str> = snapshot
        .doc_types
        .iter()
        .map(|(c, n)| (c.as_str(), n.as_str()))
        .collect();
    out.push_str(&serde_json::to_string(&doc_types).expect("doc types"));
    out.push_str(",\n\"measures\": ");
    out.push_str(&serde_json::to_string(&snapshot.measures).expect("measures"));
    out.push_str(",\n\"series\": {");
    for (i, (partner, rows)) in snapshot.metrics.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&serde_json::to_string(partner).expect("partner id"));
        out.push_str(": [");
        for (j, series) in rows
            .chunk_by(|a, b| a.doc_type == b.doc_type && a.direction == b.direction)
            .enumerate()
        {
            out.push_str(if j == 0 { "\n" } else { ",\n" });
            out.push_str(
                &serde_json::to_string(&file_series(snapshot, series)).expect("metric series"),
            );
        }
        out.push_str("\n]");
    }
    out.push_str("\n}\n}\n}");
    out
}

/// Pretty JSON for the small record lists, so their diffs read well.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("records serialise")
}

fn file_series<'a>(snapshot: &'a Snapshot, rows: &'a [Row]) -> Series<'a> {
    let column = |f: fn(&Counts) -> u64| rows.iter().map(|r| f(&r.counts)).collect::<Vec<u64>>();
    let mut previous = 0;
    let start = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let value = if i == 0 { r.start } else { r.start - previous };
            previous = r.start;
            value
        })
        .collect();
    let mut measures: Vec<u16> = rows
        .iter()
        .flat_map(|r| r.turnaround.iter().map(|(m, _)| *m))
        .collect();
    measures.sort_unstable();
    measures.dedup();
    let turnaround = measures
        .into_iter()
        .map(|m| {
            let find = |r: &Row| r.turnaround.iter().find(|(k, _)| *k == m).map(|(_, t)| *t);
            let col = |f: fn(Turnaround) -> Option<u64>| {
                rows.iter().map(|r| find(r).and_then(f)).collect::<Vec<_>>()
            };
            (
                m,
                [
                    col(|t| t.p50),
                    col(|t| t.p90),
                    col(|t| Some(t.sla)),
                    col(|t| Some(t.within_sla)),
                    col(|t| Some(t.measured)),
                ],
            )
        })
        .collect();
    Series {
        doc_type: Cow::Borrowed(&snapshot.doc_types[rows[0].doc_type as usize].0),
        direction: rows[0].direction,
        start,
        length: rows.iter().map(|r| r.end - r.start).collect(),
        counts: [
            column(|c| c.documents),
            column(|c| c.interchanges),
            column(|c| c.expected),
            column(|c| c.received),
            column(|c| c.accepted),
            column(|c| c.accepted_with_errors),
            column(|c| c.rejected),
            column(|c| c.overdue),
            column(|c| c.delivered),
            column(|c| c.failed),
            column(|c| c.resent),
            column(|c| c.on_time),
            column(|c| c.on_time_total),
        ],
        turnaround,
        chargebacks: rows
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.chargebacks.iter().map(move |c| {
                    (
                        i,
                        Cow::Borrowed(c.reason.as_str()),
                        c.count,
                        Cow::Borrowed(c.amount.value.as_str()),
                        Cow::Borrowed(c.amount.currency.as_str()),
                    )
                })
            })
            .collect(),
    }
}

/// Reads and verifies a snapshot file.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SnapshotError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(SnapshotError::Io(path.to_path_buf(), e)),
    };
    parse(&text).map_err(|e| match e {
        ParseError::Checksum => SnapshotError::Checksum(path.to_path_buf()),
        ParseError::Invalid(why) => SnapshotError::Invalid(path.to_path_buf(), why),
    })
}

enum ParseError {
    Checksum,
    Invalid(String),
}

fn parse(text: &str) -> Result<Snapshot, ParseError> {
    let invalid = |e: serde_json::Error| ParseError::Invalid(e.to_string());
    let header: Header = serde_json::from_str(text).map_err(invalid)?;
    if header.kbpub_snapshot != LAYOUT {
        return Err(ParseError::Invalid(format!(
            "layout {} (this kbpub reads layout {LAYOUT})",
            header.kbpub_snapshot
        )));
    }
    if hex::encode(Sha256::digest(header.data.get().as_bytes())) != header.sha256 {
        return Err(ParseError::Checksum);
    }
    let data: Data = serde_json::from_str(header.data.get()).map_err(invalid)?;
    if data.metrics.columns != columns() {
        return Err(ParseError::Invalid("unknown metric columns".into()));
    }
    let doc_types: Vec<(String, String)> = data.metrics.doc_types.into_iter().collect();
    let doc_index: HashMap<&str, u16> = doc_types
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (c.as_str(), i as u16))
        .collect();
    let measures = data.metrics.measures;
    // Partners are parsed in parallel, each straight into memory rows.
    let metrics: BTreeMap<String, Vec<Row>> = data
        .metrics
        .series
        .into_par_iter()
        .map(|(partner, raw)| {
            let series: Vec<Series> = serde_json::from_str(raw.get()).map_err(invalid)?;
            let mut rows = Vec::with_capacity(series.iter().map(|s| s.start.len()).sum());
            for s in series {
                stored_rows(s, &doc_index, measures.len(), &mut rows)
                    .map_err(|why| ParseError::Invalid(format!("metrics of `{partner}`: {why}")))?;
            }
            Ok((partner, rows))
        })
        .collect::<Result<_, ParseError>>()?;
    Ok(Snapshot {
        source: header.source.into_owned(),
        schema_version: header.schema_version.into_owned(),
        as_of: header.as_of,
        is_partial: header.is_partial,
        partners: data.partners,
        doc_types,
        measures,
        metrics,
        incidents: data.incidents,
        crm: data.crm,
    })
}

/// Appends the rows of one series to `rows`, checking every column has one value per row.
fn stored_rows(
    s: Series,
    doc_index: &HashMap<&str, u16>,
    measures: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let doc_type = *doc_index
        .get(s.doc_type.as_ref())
        .ok_or_else(|| format!("unknown document type `{}`", s.doc_type))?;
    let n = s.start.len();
    let lengths = s.counts.iter().map(Vec::len).chain([s.length.len()]).chain(
        s.turnaround
            .iter()
            .flat_map(|(_, t)| t.iter().map(Vec::len)),
    );
    if let Some(bad) = lengths.into_iter().find(|&len| len != n) {
        return Err(format!(
            "a {} {} column has {bad} values for {n} periods",
            s.doc_type,
            s.direction.name()
        ));
    }
    if let Some((m, _)) = s
        .turnaround
        .iter()
        .find(|(m, _)| usize::from(*m) >= measures)
    {
        return Err(format!("unknown turnaround measure {m}"));
    }
    if let Some(c) = s.chargebacks.iter().find(|c| c.0 >= n) {
        return Err(format!("a chargeback names row {} of {n}", c.0));
    }
    let first = rows.len();
    let mut start = 0;
    for i in 0..n {
        start = if i == 0 {
            s.start[0]
        } else {
            start + s.start[i]
        };
        let c = |k: usize| s.counts[k][i];
        let turnaround: Box<[(u16, Turnaround)]> = s
            .turnaround
            .iter()
            .filter(|(_, t)| t[2][i].is_some())
            .map(|(m, t)| {
                (
                    *m,
                    Turnaround {
                        p50: t[0][i],
                        p90: t[1][i],
                        sla: t[2][i].unwrap_or(0),
                        within_sla: t[3][i].unwrap_or(0),
                        measured: t[4][i].unwrap_or(0),
                    },
                )
            })
            .collect();
        rows.push(Row {
            doc_type,
            direction: s.direction,
            start,
            end: start + s.length[i],
            counts: Counts {
                documents: c(0),
                interchanges: c(1),
                expected: c(2),
                received: c(3),
                accepted: c(4),
                accepted_with_errors: c(5),
                rejected: c(6),
                overdue: c(7),
                delivered: c(8),
                failed: c(9),
                resent: c(10),
                on_time: c(11),
                on_time_total: c(12),
                sla_within: turnaround.iter().map(|(_, t)| t.within_sla).sum(),
                sla_measured: turnaround.iter().map(|(_, t)| t.measured).sum(),
                chargebacks: 0,
            },
            turnaround,
            chargebacks: Box::new([]),
        });
    }
    let mut by_row: BTreeMap<usize, Vec<Chargeback>> = BTreeMap::new();
    for (row, reason, count, value, currency) in s.chargebacks {
        by_row.entry(row).or_default().push(Chargeback {
            reason: reason.into_owned(),
            count,
            amount: Money {
                value: value.into_owned(),
                currency: currency.into_owned(),
            },
        });
    }
    for (row, list) in by_row {
        let stored = &mut rows[first + row];
        stored.counts.chargebacks = list.iter().map(|c| c.count).sum();
        stored.chargebacks = list.into_boxed_slice();
    }
    Ok(())
}

/// Writes `text` to `path` atomically: a temp file in the same folder, synced, renamed over it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".kbpub-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    {
        // Snapshots are committed and read by everyone: not the temp file's private 0600.
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Written next to a snapshot when a pull failed under `on_failure = "stale"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleMarker {
    pub source: String,
    pub failed_at: DateTime<Utc>,
    /// Why the pull failed (never holds a secret).
    pub reason: String,
    pub snapshot_as_of: DateTime<Utc>,
}

pub fn read_stale_marker(dir: &Path, source: &str) -> Result<Option<StaleMarker>, SnapshotError> {
    let path = stale_path(dir, source);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SnapshotError::Invalid(path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SnapshotError::Io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::contract::*;

    fn sample() -> Snapshot {
        let partner: Partner = serde_json::from_value(serde_json::json!({"id": "ACME-RETAIL", "name": "Acme <b>", "edi_qualifier": "ZZ",
            "edi_id": "ACMERET", "status": "active", "onboarded_at": "2024-02-01T00:00:00Z", "segment": "retail"})).unwrap();
        let row = |doc: &str, day: u32, rejected: u64| -> MetricRow {
            serde_json::from_value(serde_json::json!({
                "partner_id": "ACME-RETAIL", "doc_type": doc, "doc_name": format!("Doc {doc}"), "direction": "outbound",
                "period": {"start": format!("2026-11-{day:02}T00:00:00Z"), "end": format!("2026-11-{:02}T00:00:00Z", day + 1)},
                "volume": {"documents": 10, "interchanges": 1},
                "acks": {"expected": 10, "received": 10, "accepted": 10 - rejected, "accepted_with_errors": 0, "rejected": rejected, "overdue": 0},
                "delivery": {"delivered": 10, "failed": 0, "resent": 0},
                "turnaround_minutes": {"doc_to_997": {"p50": 14, "p90": null, "sla": 1440, "within_sla": 9, "measured": 10}},
                "on_time": {"on_time": 9, "total": 10},
                "chargebacks": [{"reason": "asn_late", "count": 1, "amount": {"value": "12.50", "currency": "USD"}}]
            })).unwrap()
        };
        let as_of = "2026-11-20T06:00:00Z".parse().unwrap();
        Snapshot::from_records(
            "tg",
            "1.0",
            as_of,
            false,
            vec![partner],
            vec![row("856", 2, 1), row("810", 1, 0), row("856", 1, 2)],
            vec![],
        )
    }

    #[test]
    fn round_trips_byte_for_byte() {
        let snapshot = sample();
        let text = to_file_text(&snapshot);
        let back = parse(&text).ok().expect("parses");
        assert_eq!(back, snapshot);
        assert_eq!(to_file_text(&back), text);
        let rows = &back.metrics["ACME-RETAIL"];
        assert_eq!(
            rows.iter()
                .map(|r| (
                    back.doc_types[r.doc_type as usize].0.as_str(),
                    r.counts.rejected
                ))
                .collect::<Vec<_>>(),
            [("810", 0), ("856", 2), ("856", 1)],
            "sorted by type then day"
        );
        assert_eq!(rows[1].counts.sla_within, 9);
    }

    #[test]
    fn edits_break_the_checksum() {
        let text = to_file_text(&sample()).replace("Acme <b>", "Acme <i>");
        assert!(matches!(parse(&text), Err(ParseError::Checksum)));
    }

    #[test]
    fn atomic_write_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), "tg");
        write_atomically(&p, "one").unwrap();
        write_atomically(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}

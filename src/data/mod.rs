//! Operational data: the Trading Grid contract types, the sources in `kbpub.toml` (the Trading
//! Grid API over HTTP, or local JSON/CSV files), `kbpub data pull` writing validated snapshots
//! under `data/`, and the [`Dataset`] a build renders from. Render reads snapshots only, never
//! the network, so a preview equals CI's output for the same snapshot.

pub mod client;
pub mod contract;
pub mod crm;
pub mod metrics;
pub mod pages;
pub mod pull;
pub mod snapshot;
pub mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::config::Config;
use crate::diag::Diagnostic;
use contract::{Incident, Partner, RecordKind};
pub use snapshot::{Row, Snapshot, StaleMarker};

/// The `[data]` section of `kbpub.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Where snapshots live, relative to the site root.
    pub dir: PathBuf,
    /// Time to open a connection.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// Time for one request, body included.
    #[serde(deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// Time for the whole pull, retries and waits included.
    #[serde(deserialize_with = "duration")]
    pub budget: Duration,
    /// Retries of one request after a 429, 502, 503, 504, timeout or connection error.
    pub retries: u32,
    pub sources: Vec<SourceConfig>,
    pub pages: PagesConfig,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: PathBuf::from("data"),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            budget: Duration::from_secs(300),
            retries: 5,
            sources: Vec::new(),
            pages: PagesConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// The Trading Grid data API (contract v1).
    TradingGrid,
    /// A local JSON or CSV file holding one kind of record.
    File,
    /// Salesforce CRM: partner accounts, escalation contacts, open exception cases.
    Salesforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The pull fails; the previous snapshot stays as it was.
    #[default]
    Fail,
    /// Keep the previous snapshot if it is younger than `max_age`; pages show a stale banner.
    Stale,
}

/// One `[[data.sources]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Names the snapshot file: `data/<name>.json`.
    pub name: String,
    pub kind: SourceKind,
    /// Trading Grid: the API's base URL (`https://tg-data.example.com`).
    pub url: Option<String>,
    /// Trading Grid: the environment variable holding the access token (sent as a header only).
    pub token_env: Option<String>,
    /// File: path of the JSON or CSV file, relative to the site root.
    pub path: Option<PathBuf>,
    /// File: which records it holds.
    pub records: Option<RecordKind>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// With `on_failure = "stale"`: how old (by `as_of`) the previous snapshot may be.
    #[serde(default, deserialize_with = "optional_duration")]
    pub max_age: Option<Duration>,
    /// Trading Grid: days of daily metrics to fetch, ending at the source's `as_of`.
    #[serde(default = "default_days")]
    pub days: u32,
    /// Trading Grid: records per page (`?limit=`, at most 500).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Salesforce: the org's My Domain (`https://acme.my.salesforce.com`).
    pub my_domain: Option<String>,
    /// Salesforce: the connected app's consumer key.
    pub consumer_key: Option<String>,
    /// Salesforce, JWT bearer flow: the environment variable holding the private key's path.
    pub key_file_env: Option<String>,
    /// Salesforce, JWT bearer flow: the user to run as.
    pub username: Option<String>,
    /// Salesforce, JWT bearer flow: the assertion's audience (default the login URL).
    pub audience: Option<String>,
    /// Salesforce, client-credentials flow: the environment variable holding the consumer secret.
    pub secret_env: Option<String>,
    /// Salesforce: REST API version.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Salesforce: the Account field holding the Trading Grid partner id.
    #[serde(default = "default_partner_id_field")]
    pub partner_id_field: String,
    /// Salesforce: the Contact field naming the escalation role.
    #[serde(default = "default_role_field")]
    pub role_field: String,
    /// Salesforce: the Case `Type` of exception cases.
    #[serde(default = "default_case_type")]
    pub case_type: String,
}

fn default_api_version() -> String {
    "62.0".into()
}

fn default_partner_id_field() -> String {
    "Partner_Id__c".into()
}

fn default_role_field() -> String {
    "Escalation_Role__c".into()
}

fn default_case_type() -> String {
    "Exception".into()
}

impl SourceConfig {
    /// The Salesforce settings of a `kind = "salesforce"` source, checked.
    pub fn crm(&self) -> Result<crm::CrmSource, String> {
        let (Some(my_domain), Some(consumer_key)) = (&self.my_domain, &self.consumer_key) else {
            return Err(
                "`my_domain` and `consumer_key` are required for kind \"salesforce\"".into(),
            );
        };
        let grant = crm::grant(
            consumer_key,
            self.username.as_deref(),
            self.audience.as_deref(),
            self.key_file_env.as_deref(),
            self.secret_env.as_deref(),
        )?;
        for (key, value) in [
            ("partner_id_field", &self.partner_id_field),
            ("role_field", &self.role_field),
            ("case_type", &self.case_type),
        ] {
            if !crm::is_api_name(value) {
                return Err(format!(
                    "`{key}` must be a Salesforce API name (letters, digits, `_`), not `{}`",
                    display_safe(value, 60)
                ));
            }
        }
        Ok(crm::CrmSource {
            oauth: crate::net::oauth::OAuthConfig {
                my_domain: my_domain.clone(),
                grant,
                api_version: self.api_version.clone(),
            },
            partner_id_field: self.partner_id_field.clone(),
            role_field: self.role_field.clone(),
            case_type: self.case_type.clone(),
        })
    }
}

fn default_days() -> u32 {
    90
}

fn default_page_size() -> u32 {
    500
}

/// `[data.pages]`: the data-driven pages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagesConfig {
    /// Folder (under the site root) of the generated section; `""` turns data pages off.
    pub section: String,
    /// Title of the generated section.
    pub title: String,
}

impl Default for PagesConfig {
    fn default() -> Self {
        PagesConfig {
            section: "live".into(),
            title: "Live operations data".into(),
        }
    }
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write e.g. \"30s\" or \"48h\""
        ))
    })
}

fn optional_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

impl DataConfig {
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.dir)
    }

    /// Checks what the types cannot: unique, file-safe names and each kind's required keys.
    pub fn check(&self) -> Result<(), Diagnostic> {
        let problem = |name: &str, what: String| {
            Err(Diagnostic::error(
                "config",
                format!("data source `{}`: {what}", display_safe(name, 60)),
            )
            .in_file(crate::config::CONFIG_FILE))
        };
        let mut seen = std::collections::HashSet::new();
        for s in &self.sources {
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return problem(
                    &s.name,
                    "`name` must be letters, digits, `-` or `_` (it names the snapshot file)"
                        .into(),
                );
            }
            if !seen.insert(&s.name) {
                return problem(&s.name, "two sources have this name".into());
            }
            match s.kind {
                SourceKind::TradingGrid if s.url.is_none() => {
                    return problem(
                        &s.name,
                        "`url` is required for kind \"trading-grid\"".into(),
                    );
                }
                SourceKind::TradingGrid if s.token_env.is_none() => {
                    return problem(&s.name, "`token_env` (the environment variable holding the token) is required for kind \"trading-grid\"".into());
                }
                SourceKind::File if s.path.is_none() || s.records.is_none() => {
                    return problem(&s.name, "`path` and `records` (\"partners\", \"metrics\" or \"incidents\") are required for kind \"file\"".into());
                }
                SourceKind::Salesforce => {
                    if let Err(why) = s.crm() {
                        return problem(&s.name, why);
                    }
                }
                _ => {}
            }
            if s.on_failure == OnFailure::Stale && s.max_age.is_none() {
                return problem(
                    &s.name,
                    "`on_failure = \"stale\"` needs `max_age` (e.g. \"48h\")".into(),
                );
            }
            if !(1..=500).contains(&s.page_size) {
                return problem(&s.name, "`page_size` must be between 1 and 500".into());
            }
        }
        Ok(())
    }
}

pub use crate::net::display_safe;

/// A source as a build sees it.
#[derive(Debug, Clone)]
pub struct SourceState {
    pub name: String,
    pub as_of: DateTime<Utc>,
    pub is_partial: bool,
    /// Set when the last pull failed and this snapshot was kept under `on_failure = "stale"`.
    pub stale: Option<StaleMarker>,
}

/// Every configured source's snapshot, merged: what templates see.
#[derive(Debug, Default)]
pub struct Dataset {
    pub sources: Vec<SourceState>,
    /// Sorted by id.
    pub partners: Vec<Partner>,
    partner_index: HashMap<String, usize>,
    /// Document type code and name, sorted by code; rows index into it.
    pub doc_types: Vec<(String, String)>,
    pub measures: Vec<String>,
    /// Metric rows by partner id, sorted by document type, direction and period start.
    pub metrics: HashMap<String, Vec<Row>>,
    /// Sorted by id.
    pub incidents: Vec<Incident>,
    /// CRM accounts, contacts and cases of every Salesforce source.
    pub crm: crm::Crm,
}

impl Dataset {
    /// Merges snapshots (one per source). A partner or incident id served by two sources is an
    /// error naming both.
    pub fn from_snapshots(
        snapshots: Vec<(Snapshot, Option<StaleMarker>)>,
    ) -> Result<Dataset, String> {
        let mut data = Dataset::default();
        let mut partner_source: HashMap<String, String> = HashMap::new();
        let mut incident_source: HashMap<String, String> = HashMap::new();
        for (snapshot, stale) in snapshots {
            let name = snapshot.source.clone();
            data.sources.push(SourceState {
                name: name.clone(),
                as_of: snapshot.as_of,
                is_partial: snapshot.is_partial,
                stale,
            });
            for p in &snapshot.partners {
                if let Some(first) = partner_source.insert(p.id.clone(), name.clone()) {
                    return Err(format!(
                        "partner `{}` is served by both `{first}` and `{name}`",
                        display_safe(&p.id, 80)
                    ));
                }
            }
            for i in &snapshot.incidents {
                if let Some(first) = incident_source.insert(i.id.clone(), name.clone()) {
                    return Err(format!(
                        "incident `{}` is served by both `{first}` and `{name}`",
                        display_safe(&i.id, 80)
                    ));
                }
            }
            data.add(snapshot);
        }
        data.partners.sort_by(|a, b| a.id.cmp(&b.id));
        data.incidents.sort_by(|a, b| a.id.cmp(&b.id));
        data.partner_index = data
            .partners
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Ok(data)
    }

    fn add(&mut self, snapshot: Snapshot) {
        let doc_map: Vec<u16> = snapshot
            .doc_types
            .iter()
            .map(|(code, name)| intern(&mut self.doc_types, code, name))
            .collect();
        let measure_map: Vec<u16> = snapshot
            .measures
            .iter()
            .map(|m| intern_name(&mut self.measures, m))
            .collect();
        let identity = doc_map.iter().enumerate().all(|(i, &m)| i == m as usize)
            && measure_map
                .iter()
                .enumerate()
                .all(|(i, &m)| i == m as usize);
        for (partner, mut rows) in snapshot.metrics {
            if !identity {
                for row in &mut rows {
                    row.doc_type = doc_map[row.doc_type as usize];
                    for (m, _) in row.turnaround.iter_mut() {
                        *m = measure_map[*m as usize];
                    }
                }
            }
            let entry = match self.metrics.entry(partner) {
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(rows);
                    continue;
                }
                std::collections::hash_map::Entry::Occupied(occupied) => occupied.into_mut(),
            };
            entry.extend(rows);
            {
                let doc_types = &self.doc_types;
                entry.sort_by(|a, b| {
                    (&doc_types[a.doc_type as usize].0, a.direction, a.start).cmp(&(
                        &doc_types[b.doc_type as usize].0,
                        b.direction,
                        b.start,
                    ))
                });
            }
        }
        self.partners.extend(snapshot.partners);
        self.incidents.extend(snapshot.incidents);
        self.crm.extend(snapshot.crm);
    }

    /// True when `kbpub.toml` configures at least one source.
    pub fn is_configured(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The data's `as_of`: the earliest of the sources' (a page is only as fresh as its oldest data).
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.sources.iter().map(|s| s.as_of).min()
    }

    pub fn stale_sources(&self) -> impl Iterator<Item = &SourceState> {
        self.sources.iter().filter(|s| s.stale.is_some())
    }

    pub fn is_stale(&self) -> bool {
        self.stale_sources().next().is_some()
    }

    pub fn partner(&self, id: &str) -> Option<&Partner> {
        self.partner_index.get(id).map(|&i| &self.partners[i])
    }

    /// A partner's metric rows (empty when it has none).
    pub fn rows(&self, partner: &str) -> &[Row] {
        self.metrics.get(partner).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn intern(table: &mut Vec<(String, String)>, code: &str, name: &str) -> u16 {
    match table.iter().position(|(c, _)| c == code) {
        Some(i) => i as u16,
        None => {
            table.push((code.to_string(), name.to_string()));
            (table.len() - 1) as u16
        }
    }
}

fn intern_name(table: &mut Vec<String>, name: &str) -> u16 {
    match table.iter().position(|m| m == name) {
        Some(i) => i as u16,
        None => {
            table.push(name.to_string());
            (table.len() - 1) as u16
        }
    }
}

/// Loads every configured source's snapshot for a build: a missing, damaged or edited snapshot
/// is an error naming the file and what to do. No sources configured gives an empty dataset.
pub fn load(config: &Config) -> Result<Dataset, Vec<Diagnostic>> {
    let data_config = &config.data;
    data_config.check().map_err(|d| vec![d])?;
    let dir = data_config.dir(&config.root);
    let mut snapshots = Vec::new();
    let mut errors = Vec::new();
    for source in &data_config.sources {
        let path = snapshot::path(&dir, &source.name);
        let shown = shown_path(config, &path);
        let read = snapshot::read(&path)
            .and_then(|s| Ok((s, snapshot::read_stale_marker(&dir, &source.name)?)));
        match read {
            Ok((snapshot, _)) if snapshot.source != source.name => errors.push(
                Diagnostic::error(
                    "snapshot",
                    format!(
                        "{shown} holds source `{}`, not `{}`",
                        display_safe(&snapshot.source, 60),
                        source.name
                    ),
                )
                .in_file(shown.clone())
                .help(format!(
                    "run `kbpub data pull` to fetch `{}` again",
                    source.name
                )),
            ),
            Ok(pair) => snapshots.push(pair),
            Err(e) => {
                let help = match e {
                    snapshot::SnapshotError::Missing(_) => format!(
                        "run `kbpub data pull` to fetch `{}`, or remove the source from kbpub.toml",
                        source.name
                    ),
                    _ => format!(
                        "run `kbpub data pull` to fetch `{}` again (or restore the file from git)",
                        source.name
                    ),
                };
                errors.push(
                    Diagnostic::error(
                        "snapshot",
                        e.to_string().replace(&path.display().to_string(), &shown),
                    )
                    .in_file(shown)
                    .help(help),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Dataset::from_snapshots(snapshots).map_err(|why| {
        vec![
            Diagnostic::error("snapshot", why)
                .in_file(crate::config::CONFIG_FILE)
                .help("give each source its own partners and incidents"),
        ]
    })
}

/// A path as shown to writers: relative to the site root when inside it.
pub fn shown_path(config: &Config, path: &Path) -> String {
    path.strip_prefix(&config.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

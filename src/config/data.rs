//! `[data]` in `kbpub.toml`: the live data sources (`[[data.sources]]`), their limits, where
//! snapshots live and the data-driven pages (`[data.pages]`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::problem::{Key, Problem};
use crate::text::display_safe;

/// The `[data]` section of `kbpub.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Where snapshots live, relative to the site root.
    pub dir: PathBuf,
    /// Time to open a connection.
    #[serde(deserialize_with = "super::duration")]
    pub connect_timeout: Duration,
    /// Time for one request, body included.
    #[serde(deserialize_with = "super::duration")]
    pub request_timeout: Duration,
    /// Time for the whole pull, retries and waits included.
    #[serde(deserialize_with = "super::duration")]
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
    #[serde(default, deserialize_with = "super::optional_duration")]
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

/// Whether `name` is a plain Salesforce API name (`Partner_Id__c`): safe inside SOQL.
pub fn is_api_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 80
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

impl DataConfig {
    pub fn dir(&self, root: &Path) -> PathBuf {
        root.join(&self.dir)
    }

    /// Checks what the types cannot: unique, file-safe names and each kind's required keys.
    /// `Config` runs it when it parses the file, so every loaded configuration has passed it.
    pub(super) fn check(&self) -> Result<(), Problem> {
        let mut seen = std::collections::HashSet::new();
        for (index, s) in self.sources.iter().enumerate() {
            let problem = |key: &str, what: &str| {
                Err(Problem::value(
                    [
                        Key::from("data"),
                        "sources".into(),
                        index.into(),
                        key.into(),
                    ],
                    format!("data source `{}`: {what}", display_safe(&s.name, 60)),
                ))
            };
            if s.name.is_empty()
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return problem(
                    "name",
                    "`name` must be letters, digits, `-` or `_` (it names the snapshot file)",
                );
            }
            if !seen.insert(&s.name) {
                return problem("name", "two sources have this name");
            }
            match s.kind {
                SourceKind::TradingGrid if s.url.is_none() => {
                    return problem("kind", "`url` is required for kind \"trading-grid\"");
                }
                SourceKind::TradingGrid if s.token_env.is_none() => {
                    return problem(
                        "kind",
                        "`token_env` (the environment variable holding the token) is required for kind \"trading-grid\"",
                    );
                }
                SourceKind::File if s.path.is_none() || s.records.is_none() => {
                    return problem(
                        "kind",
                        "`path` and `records` (\"partners\", \"metrics\" or \"incidents\") are required for kind \"file\"",
                    );
                }
                SourceKind::Salesforce => {
                    if s.my_domain.is_none() || s.consumer_key.is_none() {
                        return problem(
                            "kind",
                            "`my_domain` and `consumer_key` are required for kind \"salesforce\"",
                        );
                    }
                    match (&s.key_file_env, &s.secret_env) {
                        (Some(_), None) if s.username.is_none() => {
                            return problem(
                                "key_file_env",
                                "`username` (the user to run as) is required with `key_file_env`",
                            );
                        }
                        (Some(_), None) | (None, Some(_)) => {}
                        _ => {
                            return problem(
                                "kind",
                                "set exactly one of `key_file_env` (JWT bearer flow) and `secret_env` (client-credentials flow)",
                            );
                        }
                    }
                    for (key, value) in [
                        ("partner_id_field", &s.partner_id_field),
                        ("role_field", &s.role_field),
                        ("case_type", &s.case_type),
                    ] {
                        if !is_api_name(value) {
                            return problem(
                                key,
                                &format!(
                                    "`{key}` must be a Salesforce API name (letters, digits, `_`), not `{}`",
                                    display_safe(value, 60)
                                ),
                            );
                        }
                    }
                }
                _ => {}
            }
            if s.on_failure == OnFailure::Stale && s.max_age.is_none() {
                return problem(
                    "on_failure",
                    "`on_failure = \"stale\"` needs `max_age` (e.g. \"48h\")",
                );
            }
            if !(1..=500).contains(&s.page_size) {
                return problem("page_size", "`page_size` must be between 1 and 500");
            }
        }
        Ok(())
    }
}

/// What kind of record a list holds, for messages (`partners[3]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Partners,
    Metrics,
    Incidents,
}

impl RecordKind {
    pub const ALL: [RecordKind; 3] = [
        RecordKind::Partners,
        RecordKind::Metrics,
        RecordKind::Incidents,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Partners => "partners",
            RecordKind::Metrics => "metrics",
            RecordKind::Incidents => "incidents",
        }
    }
}

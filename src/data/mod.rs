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
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::config::data::SourceConfig;
use crate::diag::Diagnostic;
use crate::text::display_safe;
use contract::{Incident, Partner};
pub use snapshot::{Row, Snapshot, StaleMarker};

/// The Salesforce settings of a `kind = "salesforce"` source (`Config` checked its keys when it
/// parsed the file).
pub fn crm_source(s: &SourceConfig) -> Result<crm::CrmSource, String> {
    let (Some(my_domain), Some(consumer_key)) = (&s.my_domain, &s.consumer_key) else {
        return Err("`my_domain` and `consumer_key` are required for kind \"salesforce\"".into());
    };
    let grant = crm::grant(
        consumer_key,
        s.username.as_deref(),
        s.audience.as_deref(),
        s.key_file_env.as_deref(),
        s.secret_env.as_deref(),
    )?;
    Ok(crm::CrmSource {
        oauth: crate::net::oauth::OAuthConfig {
            my_domain: my_domain.clone(),
            grant,
            api_version: s.api_version.clone(),
        },
        partner_id_field: s.partner_id_field.clone(),
        role_field: s.role_field.clone(),
        case_type: s.case_type.clone(),
    })
}

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

    /// Everything templates can read of the data, in a stable order: what `site::reuse` keys
    /// pages by. Every field is named, so a new one cannot be left out.
    pub fn stable_view(&self) -> impl std::fmt::Debug + '_ {
        let Dataset {
            sources,
            partners,
            partner_index: _,
            doc_types,
            measures,
            metrics,
            incidents,
            crm,
        } = self;
        let metrics: std::collections::BTreeMap<&String, &Vec<Row>> = metrics.iter().collect();
        (
            sources, partners, doc_types, measures, metrics, incidents, crm,
        )
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

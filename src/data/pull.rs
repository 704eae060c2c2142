//! `kbpub data pull`: fetches every configured source within one time budget and writes each
//! source's snapshot atomically. A source that fails follows its policy: `fail` leaves the
//! previous snapshot untouched and fails the pull; `stale` keeps the previous snapshot when it is
//! younger than `max_age` and marks it stale (pages then carry a banner). Wrong or missing
//! credentials (no token, 401, 403) fail the pull under either policy, the snapshot untouched:
//! a stale page is no answer to a revoked token. A snapshot that would
//! contain the access token is never written. Progress goes to a bar on a terminal and to plain
//! lines otherwise.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::client::{Event, Limits};
use super::snapshot::{self, StaleMarker};
use super::{shown_path, source};
use crate::config::Config;
use crate::config::data::{OnFailure, SourceConfig};
use crate::diag::Diagnostic;
use crate::net::retry::human;
use crate::text::display_safe;

/// How one source's pull ended; serialised as in `kbpub data pull --format json` (`result`:
/// `pulled`, `stale` or `failed`).
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Pulled {
        as_of: DateTime<Utc>,
        partners: usize,
        metric_rows: usize,
        incidents: usize,
        pages: usize,
        not_modified: usize,
        #[serde(rename = "snapshot")]
        path: String,
    },
    /// The pull failed; the previous snapshot is kept and marked stale.
    #[serde(rename = "stale")]
    KeptStale {
        reason: String,
        as_of: DateTime<Utc>,
    },
    /// The pull failed; the previous snapshot (if any) is untouched.
    Failed { reason: String },
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    #[serde(rename = "source")]
    pub name: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl SourceReport {
    pub fn is_pulled(&self) -> bool {
        matches!(self.outcome, Outcome::Pulled { .. })
    }

    /// One line (or two) for people: what was pulled, or why not and what was kept.
    pub fn summary(&self) -> String {
        let name = &self.name;
        match &self.outcome {
            Outcome::Pulled {
                as_of,
                partners,
                metric_rows,
                incidents,
                pages,
                not_modified,
                path,
            } => {
                let cached = if *not_modified > 0 {
                    format!(", {not_modified} unchanged since the last pull (ETag)")
                } else {
                    String::new()
                };
                format!(
                    "{name}: {partners} partners, {metric_rows} metric rows, {incidents} incidents as of {} ({pages} pages{cached}) -> {path}",
                    as_of.to_rfc3339()
                )
            }
            Outcome::KeptStale { reason, as_of } => format!(
                "warning: {name}: pull failed: {reason}\n  kept the previous snapshot (as of {}) under on_failure = \"stale\"; pages using it show a stale banner",
                as_of.to_rfc3339()
            ),
            Outcome::Failed { reason } => format!(
                "error: {name}: pull failed: {reason}\n  the previous snapshot, if any, was left as it was"
            ),
        }
    }
}

/// Whether any source failed (a source kept stale did not).
pub fn any_failed(reports: &[SourceReport]) -> bool {
    reports
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Failed { .. }))
}

/// `kbpub data pull --format json`: whether every source was pulled (or kept stale) and each
/// source's result.
pub fn json_report(reports: &[SourceReport]) -> serde_json::Value {
    serde_json::json!({ "ok": !any_failed(reports), "sources": reports })
}

/// Pulls the sources named in `only` (every source when empty). `progress` hears each source's
/// events. The outer error is for a pull that cannot start (bad config, unknown source name).
pub fn pull(
    config: &Config,
    only: &[String],
    progress: &(dyn Fn(&str, &Event) + Sync),
) -> Result<Vec<SourceReport>, Diagnostic> {
    let data = &config.data;
    if data.sources.is_empty() {
        return Err(
            Diagnostic::error("config", "no data sources are configured")
                .in_file(crate::config::CONFIG_FILE)
                .help("add a `[[data.sources]]` table to kbpub.toml (see README, \"Live data\")"),
        );
    }
    for name in only {
        if !data.sources.iter().any(|s| &s.name == name) {
            let known: Vec<&str> = data.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(
                Diagnostic::error("usage", format!("no data source named `{name}`"))
                    .help(format!("configured sources: {}", known.join(", "))),
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Diagnostic::error("io", format!("cannot start the async runtime: {e}")))?;
    let deadline = Instant::now() + data.budget;
    let mut reports = Vec::new();
    for source in data
        .sources
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
    {
        let limits = Limits {
            connect_timeout: data.connect_timeout,
            request_timeout: data.request_timeout,
            retries: data.retries,
            deadline,
        };
        let events = |event: Event| progress(&source.name, &event);
        let outcome = runtime.block_on(pull_one(config, source, limits, &events));
        reports.push(SourceReport {
            name: source.name.clone(),
            outcome,
        });
    }
    Ok(reports)
}

async fn pull_one(
    config: &Config,
    source: &SourceConfig,
    limits: Limits,
    events: &(dyn Fn(Event) + Sync),
) -> Outcome {
    let dir = config.data.dir(&config.root);
    let cache_dir = cache_dir(config, &source.name);
    let path = snapshot::path(&dir, &source.name);
    let fetched = match source::fetch(source, &config.root, limits, cache_dir, events).await {
        Ok(fetched) => fetched,
        Err(e) if e.is_credentials() => {
            return Outcome::Failed {
                reason: format!(
                    "{e}\n  wrong or missing credentials fail the pull whatever `on_failure` says: check the credential in `{}`",
                    [&source.token_env, &source.key_file_env, &source.secret_env]
                        .into_iter()
                        .flatten()
                        .next()
                        .map(String::as_str)
                        .unwrap_or_default()
                ),
            };
        }
        Err(e) => return failed(config, source, e.to_string()),
    };
    let text = snapshot::to_file_text(&fetched.snapshot);
    if fetched.tokens.iter().any(|t| t.appears_in(&text)) {
        return failed(
            config,
            source,
            "the data holds the access token itself; refusing to store it in a snapshot".into(),
        );
    }
    if let Err(e) = snapshot::write_atomically(&path, &text) {
        return failed(
            config,
            source,
            format!("cannot write {}: {e}", shown_path(config, &path)),
        );
    }
    match std::fs::remove_file(snapshot::stale_path(&dir, &source.name)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Outcome::Failed {
                reason: format!("wrote the snapshot but cannot remove the stale marker: {e}"),
            };
        }
    }
    let s = &fetched.snapshot;
    Outcome::Pulled {
        as_of: s.as_of,
        partners: s.partners.len(),
        metric_rows: s.metric_row_count(),
        incidents: s.incidents.len(),
        pages: fetched.pages,
        not_modified: fetched.not_modified,
        path: shown_path(config, &path),
    }
}

/// ETag cache of a source: `.kbpub-cache/http/<source>/` under the site root (not committed).
fn cache_dir(config: &Config, source: &str) -> PathBuf {
    config.cache_dir().join("http").join(source)
}

/// Applies the source's `on_failure` policy. The snapshot file itself is never touched here.
fn failed(config: &Config, source: &SourceConfig, reason: String) -> Outcome {
    if source.on_failure == OnFailure::Fail {
        return Outcome::Failed { reason };
    }
    let dir = config.data.dir(&config.root);
    let max_age = source
        .max_age
        .expect("checked: stale sources have a max_age");
    let previous = match snapshot::read(&snapshot::path(&dir, &source.name)) {
        Ok(previous) => previous,
        Err(e) => {
            let why = e
                .to_string()
                .replace(&dir.display().to_string(), &shown_path(config, &dir));
            return Outcome::Failed {
                reason: format!("{reason}; no previous snapshot to fall back on ({why})"),
            };
        }
    };
    let now = Utc::now();
    let age = (now - previous.as_of).to_std().unwrap_or(Duration::ZERO);
    if age > max_age {
        return Outcome::Failed {
            reason: format!(
                "{reason}; the previous snapshot (as of {}) is {} old, more than max_age {}",
                previous.as_of.to_rfc3339(),
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                humantime::format_duration(max_age)
            ),
        };
    }
    let marker = StaleMarker {
        source: source.name.clone(),
        failed_at: now,
        reason: reason.clone(),
        snapshot_as_of: previous.as_of,
    };
    let text = serde_json::to_string_pretty(&marker).expect("marker serialises") + "\n";
    match snapshot::write_atomically(&snapshot::stale_path(&dir, &source.name), &text) {
        Ok(()) => Outcome::KeptStale {
            reason,
            as_of: previous.as_of,
        },
        Err(e) => Outcome::Failed {
            reason: format!("{reason}; and cannot mark the previous snapshot stale: {e}"),
        },
    }
}

/// Shows pull progress: a spinner line per source on a terminal, plain lines otherwise
/// (one per finished endpoint and one per retry).
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    lines: Mutex<()>,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("progress template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            quiet,
            lines: Mutex::new(()),
        }
    }

    pub fn event(&self, source: &str, event: &Event) {
        let line = match event {
            Event::Page {
                kind,
                records,
                pages,
                not_modified,
                done,
            } => {
                let cached = if *not_modified > 0 {
                    format!(", {not_modified} unchanged (ETag)")
                } else {
                    String::new()
                };
                let text = format!(
                    "{source}: {kind} {records} records, {pages} page{}{cached}",
                    if *pages == 1 { "" } else { "s" }
                );
                if let Some(bar) = &self.bar {
                    bar.set_message(text);
                    return;
                }
                if !done {
                    return;
                }
                text
            }
            Event::Retry {
                url,
                reason,
                wait,
                attempt,
            } => {
                format!(
                    "{source}: {} ({}); retry {attempt} in {}",
                    display_safe(url, 200),
                    display_safe(reason, 200),
                    human(*wait)
                )
            }
        };
        self.println(&line);
    }

    pub fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        let _guard = self.lines.lock().expect("progress lock");
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

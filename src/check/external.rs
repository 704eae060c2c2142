//! `kbpub check --external`: links from documents to other sites (`http`/`https`), each distinct
//! URL requested once, `[check.external] concurrency` at a time, each within `timeout`.
//! Redirects are followed by hand (at most 10) so that a permanent one (301, 308) can be reported
//! with its new address. Links that worked are cached in `.kbpub-cache/external-links.json` for
//! `cache_for` (24 hours) and not requested again until then; anything else is asked again on
//! every run, so a fixed link clears at once.
//!
//! What a result means:
//! - 404 or 410, or no server at that address (DNS, connection refused, TLS): error
//!   `broken-external-link`;
//! - a permanent redirect to a page that works: warning `moved-link`, with the new address;
//! - a timeout: warning `external-link-timeout`; 401, 403, 429, other 4xx and 5xx: warning
//!   `external-link-unverified` (the link may be fine; the server would not say).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::check::ExternalConfig;
use crate::diag::{Diagnostic, Location};
use crate::render::Engine;
use crate::render::markdown::{self, View};

const CACHE_FILE: &str = "external-links.json";
const MAX_REDIRECTS: usize = 10;

/// What one URL answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Moved { to: String },
    Broken(String),
    TimedOut,
    Unverified(u16),
}

/// Checks every external link of the site's documents; returns how many distinct URLs were
/// checked (from the cache or over the network) and the problems, one per place a URL is used.
pub fn check(
    engine: &Engine,
    config: &ExternalConfig,
    now: DateTime<Utc>,
) -> (usize, Vec<Diagnostic>) {
    let mut uses: BTreeMap<String, Vec<Location>> = BTreeMap::new();
    for (url, location) in links(engine) {
        if !config
            .skip
            .iter()
            .any(|prefix| url.starts_with(prefix.as_str()))
        {
            uses.entry(url).or_default().push(location);
        }
    }
    let cache_path = engine.site.config.cache_dir().join(CACHE_FILE);
    let mut cache = Cache::read(&cache_path);
    let fresh_for = chrono::Duration::from_std(config.cache_for).unwrap_or(chrono::Duration::MAX);
    cache
        .links
        .retain(|_, entry| entry.is_fresh(now, fresh_for));
    let to_ask: Vec<&str> = uses
        .keys()
        .filter(|url| !cache.links.contains_key(*url))
        .map(String::as_str)
        .collect();
    let mut diagnostics = Vec::new();
    let outcomes = match ask_all(&to_ask, config) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                "io",
                format!("cannot check external links: {e}"),
            ));
            return (0, diagnostics);
        }
    };
    for (url, outcome) in &outcomes {
        if *outcome == Outcome::Ok {
            cache
                .links
                .insert(url.to_string(), CacheEntry { checked_at: now });
        }
        for location in &uses[*url] {
            diagnostics.extend(diagnostic(url, outcome, config).map(|d| d.at(location.clone())));
        }
    }
    if !outcomes.is_empty()
        && let Err(e) = cache.write(&cache_path)
    {
        diagnostics.push(
            Diagnostic::warning("io", format!("cannot write {}: {e}", cache_path.display()))
                .help("links that worked will be asked again next time"),
        );
    }
    (uses.len(), diagnostics)
}

/// Every `http(s)` link in the documents' bodies (as the internal site shows them), with where
/// it is written.
fn links(engine: &Engine) -> Vec<(String, Location)> {
    let per_page: Vec<Vec<(String, Location)>> = (0..engine.site.pages.len())
        .into_par_iter()
        .map(|page| {
            // A link needs `http` in the body, or template syntax that may produce one.
            let body = engine.site.pages[page].body();
            if !body.contains("http") && !body.contains('{') {
                return Vec::new();
            }
            let Ok(markdown) = engine.body_markdown(page, View::Internal) else {
                return Vec::new(); // a template error, reported by the render
            };
            let prepared = markdown::prepare(&markdown, engine.site, page, View::Internal);
            prepared
                .external_links
                .into_iter()
                .map(|link| {
                    let location = engine.source_location(page, &markdown, link.span);
                    (link.url, location)
                })
                .collect()
        })
        .collect();
    per_page.into_iter().flatten().collect()
}

fn diagnostic(url: &str, outcome: &Outcome, config: &ExternalConfig) -> Option<Diagnostic> {
    let d = match outcome {
        Outcome::Ok => return None,
        Outcome::Moved { to } => Diagnostic::warning(
            "moved-link",
            format!("`{url}` has moved permanently to `{to}`"),
        )
        .label("moved")
        .help(format!("link to `{to}`")),
        Outcome::Broken(why) => Diagnostic::error(
            "broken-external-link",
            format!("`{url}` is broken: {why}"),
        )
        .label("broken link")
        .help("fix or remove the link (an archived copy, e.g. on web.archive.org, can stand in)"),
        Outcome::TimedOut => Diagnostic::warning(
            "external-link-timeout",
            format!(
                "`{url}` did not answer within {}",
                humantime::format_duration(config.timeout)
            ),
        )
        .label("no answer")
        .help("the site may be slow or down; raise `[check.external] timeout`, or list the URL's prefix in `skip` if CI cannot reach it"),
        Outcome::Unverified(status) => Diagnostic::warning(
            "external-link-unverified",
            format!("`{url}` answered HTTP {status}: the link could not be verified"),
        )
        .label(format!("HTTP {status}"))
        .help("the page may need a login or refuse automated requests; open it in a browser, and list its prefix in `[check.external] skip` if it is fine"),
    };
    Some(d)
}

/// Asks every URL, `concurrency` at a time.
fn ask_all<'u>(
    urls: &[&'u str],
    config: &ExternalConfig,
) -> Result<Vec<(&'u str, Outcome)>, String> {
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .user_agent(concat!("kbpub-check/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("async runtime: {e}"))?;
    let client = &client;
    Ok(runtime.block_on(
        stream::iter(urls.iter().copied())
            .map(|url| async move { (url, ask(client, url).await) })
            .buffer_unordered(config.concurrency.max(1))
            .collect(),
    ))
}

/// One URL, following redirects.
async fn ask(client: &reqwest::Client, url: &str) -> Outcome {
    let mut current = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Outcome::Broken(format!("not a valid URL ({e})")),
    };
    let mut moved_to: Option<String> = None;
    for _ in 0..=MAX_REDIRECTS {
        let response = match client.get(current.clone()).send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Outcome::TimedOut,
            Err(e) => return Outcome::Broken(format!("cannot connect ({})", root_cause(&e))),
        };
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok());
            let Some(next) = next else {
                return Outcome::Broken(format!(
                    "HTTP {} without a valid Location",
                    status.as_u16()
                ));
            };
            let permanent = matches!(status.as_u16(), 301 | 308);
            if permanent && moved_to.is_none() {
                moved_to = Some(next.to_string());
            }
            current = next;
            continue;
        }
        return match status.as_u16() {
            200..=299 => match moved_to {
                Some(to) => Outcome::Moved { to },
                None => Outcome::Ok,
            },
            404 | 410 => Outcome::Broken(format!("HTTP {}", status.as_u16())),
            other => Outcome::Unverified(other),
        };
    }
    Outcome::Broken(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The innermost cause of an HTTP error (e.g. "Connection refused"), without the URL.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `.kbpub-cache/external-links.json`: when each link last worked.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    links: HashMap<String, CacheEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    checked_at: DateTime<Utc>,
}

impl CacheEntry {
    /// Checked no longer than `fresh_for` ago (and not in the future: a clock set back).
    fn is_fresh(&self, now: DateTime<Utc>, fresh_for: chrono::Duration) -> bool {
        self.checked_at <= now
            && self
                .checked_at
                .checked_add_signed(fresh_for)
                .is_none_or(|until| now < until)
    }
}

impl Cache {
    /// The cache, or an empty one when it is missing or unreadable (it only saves requests).
    fn read(path: &Path) -> Cache {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Writes the cache atomically (a temp file renamed over the old one).
    fn write(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().expect("the cache file is in a folder");
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut file, self)?;
        file.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

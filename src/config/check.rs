//! `[check]` in `kbpub.toml`: what `kbpub check` looks for and how it checks external links.

use std::time::Duration;

use serde::Deserialize;

/// `[check]` in `kbpub.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// `review_by` dates this close are reported as notes (`30d`).
    #[serde(deserialize_with = "super::duration")]
    pub review_due_within: Duration,
    pub external: ExternalConfig,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            review_due_within: Duration::from_secs(30 * 86_400),
            external: ExternalConfig::default(),
        }
    }
}

/// `[check.external]` in `kbpub.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalConfig {
    /// Time for one request (connecting and the response head).
    #[serde(deserialize_with = "super::duration")]
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How long a link that worked is trusted without asking again.
    #[serde(deserialize_with = "super::duration")]
    pub cache_for: Duration,
    /// URL prefixes never requested (e.g. intranet hosts CI cannot reach).
    pub skip: Vec<String>,
}

impl Default for ExternalConfig {
    fn default() -> Self {
        ExternalConfig {
            timeout: Duration::from_secs(10),
            concurrency: 8,
            cache_for: Duration::from_secs(24 * 3600),
            skip: Vec::new(),
        }
    }
}

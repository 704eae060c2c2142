//! `[build]` in `kbpub.toml`: where `kbpub build` writes the site and whether code is highlighted.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// Where `kbpub build` writes the site, relative to the site root.
    pub output: PathBuf,
    /// Syntax-highlight fenced code blocks (CSS classes, no inline styles).
    pub highlight: bool,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            output: PathBuf::from("output"),
            highlight: true,
        }
    }
}

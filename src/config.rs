//! `kbpub.toml`: the site's configuration, found by walking up from the working directory (like
//! Cargo finds `Cargo.toml`) and parsed strictly, so a misspelt key is an error with its position,
//! not a silently ignored setting.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Location};

pub const CONFIG_FILE: &str = "kbpub.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub site: SiteConfig,
    #[serde(default)]
    pub build: BuildConfig,
    #[serde(default)]
    pub nav: NavConfig,
    /// The Confluence publish target; absent: not configured.
    pub confluence: Option<crate::publish::confluence::ConfluenceConfig>,
    /// The partner-community publish target; absent: not configured.
    pub community: Option<crate::publish::community::config::CommunityConfig>,
    /// `[partner]`: what counts as internal (the leak check), where the partner view is built.
    #[serde(default)]
    pub partner: crate::render::partner::PartnerConfig,
    /// `[data]`: live data sources, snapshots and data-driven pages.
    #[serde(default)]
    pub data: crate::data::DataConfig,
    /// `[check]`: what `kbpub check` looks for and how it checks external links.
    #[serde(default)]
    pub check: crate::check::CheckConfig,
    /// The folder that holds the site; set after parsing, not read from the file.
    #[serde(skip)]
    pub root: PathBuf,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    pub title: String,
    pub description: String,
    /// Absolute URL the site is served from; used for `sitemap.xml` and the 404 page.
    pub base_url: String,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "Knowledge base".into(),
            description: String::new(),
            base_url: "http://localhost/".into(),
        }
    }
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NavConfig {
    /// The nav lists at most this many pages of the current section (a window around the current
    /// page); the section's index page lists them all. Keeps page size and build time linear.
    pub max_section_pages: usize,
}

impl Default for NavConfig {
    fn default() -> Self {
        NavConfig {
            max_section_pages: 15,
        }
    }
}

impl Config {
    /// Finds `kbpub.toml` in `start` or its parents and parses it.
    pub fn discover(start: &Path) -> Result<Config, Diagnostic> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        for dir in start.ancestors() {
            let candidate = dir.join(CONFIG_FILE);
            if candidate.is_file() {
                return Config::load(dir);
            }
        }
        Err(Diagnostic::error(
            "no-config",
            format!(
                "no {CONFIG_FILE} in {} or any parent folder",
                start.display()
            ),
        )
        .help("run `kbpub init` to create a knowledge base, or pass `--root DIR`"))
    }

    /// Parses `root/kbpub.toml`.
    pub fn load(root: &Path) -> Result<Config, Diagnostic> {
        let path = root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::error("no-config", format!("cannot read {}: {e}", path.display()))
                .in_file(CONFIG_FILE)
                .help("run `kbpub init` to create a knowledge base, or pass `--root DIR`")
        })?;
        let mut config = Config::parse(&text)?;
        config.root = root.to_path_buf();
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, Diagnostic> {
        toml::from_str::<Config>(text).map_err(|e| toml_diagnostic("config", CONFIG_FILE, text, &e))
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.build.output)
    }

    pub fn partner_output_dir(&self) -> PathBuf {
        self.root.join(&self.partner.output)
    }

    pub fn content_dir(&self) -> PathBuf {
        self.root.join("content")
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }

    /// `.kbpub-cache/`: what kbpub keeps between runs to save requests (not committed).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(".kbpub-cache")
    }
}

/// Turns a `toml` parse/deserialize error into a diagnostic pointing at its span in `text`.
pub fn toml_diagnostic(
    code: &'static str,
    file: &str,
    text: &str,
    error: &toml::de::Error,
) -> Diagnostic {
    let message = error.message().to_string();
    let diagnostic = Diagnostic::error(code, message);
    match error.span() {
        Some(span) => diagnostic.at(Location::new(file, Arc::from(text), span)),
        None => diagnostic.in_file(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_uses_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.build.output, PathBuf::from("output"));
        assert_eq!(c.nav.max_section_pages, 15);
    }

    #[test]
    fn unknown_key_is_an_error_with_position() {
        let err = Config::parse("[site]\ntitel = \"x\"\n").unwrap_err();
        assert_eq!(err.position(), "kbpub.toml:2:1");
        assert!(
            err.message.contains("unknown field `titel`"),
            "{}",
            err.message
        );
    }
}

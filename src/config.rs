//! `kbpub.toml`: the site's configuration, found by walking up from the working directory (like
//! Cargo finds `Cargo.toml`) and parsed strictly, so a misspelt key is an error with its position,
//! not a silently ignored setting. Environment variables override `[confluence]`, `[community]`
//! and `[data]` settings ([`overrides`]), so one file serves staging and production.

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
    /// `[[notify]]`: who hears what a publish run changed (webhooks, X).
    #[serde(default)]
    pub notify: Vec<crate::notify::config::NotifyConfig>,
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
        let mut config = Config::parse_with(&text, std::env::vars())?;
        config.root = root.to_path_buf();
        Ok(config)
    }

    /// Parses `text` as it is, without environment overrides.
    pub fn parse(text: &str) -> Result<Config, Diagnostic> {
        Config::parse_with(text, std::iter::empty())
    }

    /// Parses `text` with the overrides among the environment variables `vars` applied.
    fn parse_with(
        text: &str,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, Diagnostic> {
        let in_file = |e: toml::de::Error| toml_diagnostic("config", CONFIG_FILE, text, &e);
        let overrides = overrides::from_vars(vars);
        if overrides.is_empty() {
            return toml::from_str::<Config>(text).map_err(in_file);
        }
        let table: toml::Table = toml::from_str(text).map_err(in_file)?;
        overrides::apply(table, &overrides, || {
            toml::from_str::<Config>(text).map_err(in_file)
        })
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

/// `KBPUB_<SECTION>_<KEY>`: environment variables that override settings of `[confluence]`,
/// `[community]` and `[data]` before the file is checked. `__` goes one table deeper; in an array
/// of tables (`[[data.sources]]`) the segment is the entry's `name`. Keys and names match without
/// regard to case, `_` standing for `-`: `KBPUB_CONFLUENCE_BASE_URL`,
/// `KBPUB_DATA_SOURCES__TRADING_GRID__URL`. A value replacing a string is a string; any other
/// value is a TOML literal (`8`, `true`, `["a", "b"]`). Variables the file names as credentials
/// (`token_env`, `email_env`) are never read as overrides.
pub mod overrides {
    use super::{Config, Diagnostic};
    use serde::Deserialize;

    const PREFIX: &str = "KBPUB_";
    const SECTIONS: [&str; 3] = ["confluence", "community", "data"];

    #[derive(Debug, Clone)]
    pub struct Override {
        pub var: String,
        section: &'static str,
        path: Vec<String>,
        value: String,
    }

    /// The overrides among `vars`, sorted by variable name.
    pub fn from_vars(vars: impl Iterator<Item = (String, String)>) -> Vec<Override> {
        let mut found: Vec<Override> = vars
            .filter_map(|(var, value)| {
                let rest = var.strip_prefix(PREFIX)?;
                let section = SECTIONS.iter().find(|s| {
                    rest.len() > s.len() + 1
                        && rest[..s.len()].eq_ignore_ascii_case(s)
                        && rest.as_bytes()[s.len()] == b'_'
                })?;
                let path = rest[section.len() + 1..]
                    .split("__")
                    .map(str::to_string)
                    .collect();
                Some(Override {
                    var,
                    section,
                    path,
                    value,
                })
            })
            .collect();
        found.sort_by(|a, b| a.var.cmp(&b.var));
        found
    }

    /// Applies `overrides` to the parsed file `table` and checks the result. On an error that the
    /// file alone has too, `file_error` gives it with its position; else the error names the
    /// variable that brought it in.
    pub fn apply(
        table: toml::Table,
        overrides: &[Override],
        file_error: impl FnOnce() -> Result<Config, Diagnostic>,
    ) -> Result<Config, Diagnostic> {
        let credentials = credential_vars(&table);
        let overrides: Vec<&Override> = overrides
            .iter()
            .filter(|o| !credentials.contains(&o.var))
            .collect();
        let mut steps = vec![table];
        for o in &overrides {
            let mut next = steps.last().expect("the file").clone();
            set(&mut next, o).map_err(|e| problem(o, e))?;
            steps.push(next);
        }
        let check = |t: &toml::Table| Config::deserialize(toml::Value::Table(t.clone()));
        let final_error = match check(steps.last().expect("the file")) {
            Ok(config) => return Ok(config),
            Err(e) => e.message().to_string(),
        };
        let errors: Vec<Option<String>> = steps
            .iter()
            .map(|t| check(t).err().map(|e| e.message().to_string()))
            .collect();
        if errors[0].as_deref() == Some(final_error.as_str()) {
            return file_error();
        }
        let blamed = (1..steps.len())
            .rev()
            .find(|&k| {
                errors[k].as_deref() == Some(final_error.as_str())
                    && errors[k - 1].as_deref() != Some(final_error.as_str())
            })
            .unwrap_or(steps.len() - 1);
        Err(problem(overrides[blamed - 1], final_error))
    }

    fn problem(o: &Override, message: String) -> Diagnostic {
        Diagnostic::error(
            "config",
            format!("environment variable `{}`: {message}", o.var),
        )
        .help("see README, \"Overriding settings from the environment\"")
    }

    /// The environment variables the file names in `*_env` keys of the overridable sections.
    fn credential_vars(table: &toml::Table) -> Vec<String> {
        fn walk(value: &toml::Value, out: &mut Vec<String>) {
            match value {
                toml::Value::Table(t) => {
                    for (key, v) in t {
                        match v {
                            toml::Value::String(name) if key.ends_with("_env") => {
                                out.push(name.clone())
                            }
                            _ => walk(v, out),
                        }
                    }
                }
                toml::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for section in SECTIONS {
            if let Some(v) = table.get(section) {
                walk(v, &mut out);
            }
        }
        out
    }

    /// The key of `table` that `segment` names: an existing one matched without regard to case
    /// (`_` for `-`), else the segment in lower case.
    fn key_for(table: &toml::Table, segment: &str) -> String {
        let same = |key: &str| key.replace('-', "_").eq_ignore_ascii_case(segment);
        table
            .keys()
            .find(|k| same(k))
            .cloned()
            .unwrap_or_else(|| segment.to_ascii_lowercase())
    }

    fn set(root: &mut toml::Table, o: &Override) -> Result<(), String> {
        let mut table = root
            .entry(o.section)
            .or_insert_with(|| toml::Value::Table(Default::default()));
        let (last, parents) = o.path.split_last().expect("split gives one segment");
        for segment in parents {
            table = match table {
                toml::Value::Table(t) => {
                    let key = key_for(t, segment);
                    t.entry(key)
                        .or_insert_with(|| toml::Value::Table(Default::default()))
                }
                toml::Value::Array(items) => items
                    .iter_mut()
                    .find(|item| {
                        item.get("name")
                            .and_then(toml::Value::as_str)
                            .is_some_and(|name| {
                                name.replace('-', "_").eq_ignore_ascii_case(segment)
                            })
                    })
                    .ok_or_else(|| format!("no entry is named `{segment}`"))?,
                _ => return Err(format!("`{segment}` is inside a value, not a table")),
            };
        }
        let toml::Value::Table(table) = table else {
            return Err("it names a value, not a table of settings".into());
        };
        let key = key_for(table, last);
        let literal = || {
            toml::from_str::<toml::Table>(&format!("v = {}", o.value))
                .ok()
                .and_then(|mut t| t.remove("v"))
        };
        let value = match table.get(&key) {
            Some(toml::Value::String(_)) => toml::Value::String(o.value.clone()),
            Some(_) => literal().ok_or_else(|| {
                format!(
                    "`{}` is not a TOML value for `{key}`",
                    o.value.escape_debug()
                )
            })?,
            None => literal()
                .filter(|v| !v.is_str())
                .unwrap_or_else(|| toml::Value::String(o.value.clone())),
        };
        table.insert(key, value);
        Ok(())
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

    fn with_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, Diagnostic> {
        Config::parse_with(
            text,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    const PUBLISHING: &str = "[confluence]\nbase_url = \"https://staging.example.com/wiki\"\ntoken_env = \"KBPUB_CONFLUENCE_TOKEN\"\ndefault_space = \"OPS\"\n\n[confluence.spaces.OPS]\nparent = \"1\"\n\n[[data.sources]]\nname = \"trading-grid\"\nkind = \"trading-grid\"\nurl = \"https://tg.staging\"\ntoken_env = \"TG\"\n";

    #[test]
    fn environment_variables_override_settings_by_name() {
        let c = with_env(
            PUBLISHING,
            &[
                ("KBPUB_CONFLUENCE_BASE_URL", "https://prod.example.com/wiki"),
                ("KBPUB_CONFLUENCE_CONCURRENCY", "8"),
                ("KBPUB_CONFLUENCE_SPACES__OPS__PARENT", "42"),
                ("KBPUB_DATA_SOURCES__TRADING_GRID__URL", "https://tg.prod"),
                ("KBPUB_DATA_BUDGET", "10s"),
                ("KBPUB_COMMUNITY_BASE_URL", "https://c.example.com"),
                ("KBPUB_COMMUNITY_TOKEN_ENV", "C_TOKEN"),
                (
                    "KBPUB_COMMUNITY_ARTICLE_URL",
                    "https://c.example.com/a/{id}",
                ),
                ("KBPUB_COMMUNITY_DEFAULT_CATEGORY", "guides"),
                (
                    "KBPUB_CONFLUENCE_TOKEN",
                    "a credential, never read as a setting",
                ),
                ("KBPUB_NOW", "2026-01-01T00:00:00Z"),
                ("PATH", "/bin"),
            ],
        )
        .unwrap();
        let confluence = c.confluence.unwrap();
        assert_eq!(confluence.base_url, "https://prod.example.com/wiki");
        assert_eq!(confluence.concurrency, 8);
        assert_eq!(
            confluence.spaces["OPS"].parent.as_deref(),
            Some("42"),
            "a string stays a string"
        );
        assert_eq!(c.data.sources[0].url.as_deref(), Some("https://tg.prod"));
        assert_eq!(c.data.budget, std::time::Duration::from_secs(10));
        assert_eq!(c.community.unwrap().base_url, "https://c.example.com");
    }

    #[test]
    fn a_bad_override_names_its_variable_and_a_bad_file_its_position() {
        let e = with_env(PUBLISHING, &[("KBPUB_CONFLUENCE_CONCURENCY", "8")]).unwrap_err();
        assert!(
            e.message.contains("KBPUB_CONFLUENCE_CONCURENCY")
                && e.message.contains("unknown field `concurency`"),
            "{}",
            e.message
        );
        let e = with_env(PUBLISHING, &[("KBPUB_CONFLUENCE_CONCURRENCY", "many")]).unwrap_err();
        assert!(
            e.message.contains("`KBPUB_CONFLUENCE_CONCURRENCY`"),
            "{}",
            e.message
        );
        let e = with_env(
            PUBLISHING,
            &[("KBPUB_DATA_SOURCES__OTHER__URL", "https://x")],
        )
        .unwrap_err();
        assert!(
            e.message.contains("no entry is named `OTHER`"),
            "{}",
            e.message
        );
        let broken = PUBLISHING.replace("default_space", "default_spaec");
        let e = with_env(&broken, &[("KBPUB_CONFLUENCE_BASE_URL", "https://x")]).unwrap_err();
        assert_eq!(e.position(), "kbpub.toml:4:1", "{}", e.message);
    }
}

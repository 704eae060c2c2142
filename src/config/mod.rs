//! `kbpub.toml`: the site's configuration, found by walking up from the working directory (like
//! Cargo finds `Cargo.toml`) and parsed strictly, so a misspelt key is an error with its position,
//! not a silently ignored setting. Environment variables override `[confluence]`, `[community]`
//! and `[data]` settings ([`overrides`]), so one file serves staging and production.
//! Every section's type lives here, one file per section, so every layer reads its settings from
//! the layer below it; the checks a type cannot express are each section's `check`, run when the
//! file is loaded and reported at the value they refuse ([`problem`]).

pub mod amplience;
pub mod build;
pub mod check;
pub mod community;
pub mod confluence;
pub mod data;
pub mod nav;
pub mod notify;
pub mod overrides;
pub mod partner;
pub mod problem;
pub mod salesforce;
pub mod site;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::diag::{Diagnostic, Location};
pub use build::BuildConfig;
pub use check::CheckConfig;
pub use community::CommunityConfig;
pub use confluence::ConfluenceConfig;
pub use data::DataConfig;
pub use nav::NavConfig;
pub use partner::PartnerConfig;
pub use site::SiteConfig;

pub const CONFIG_FILE: &str = "kbpub.toml";

/// The document types front matter knows (`type = "sop"`), as written; `content::DocType` names
/// each by its place here. Settings that place documents by type may name only these.
pub const DOC_TYPES: [&str; 6] = [
    "sop",
    "playbook",
    "faq",
    "partner",
    "incident-review",
    "notice",
];

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
    pub confluence: Option<ConfluenceConfig>,
    /// The partner-community publish target; absent: not configured.
    pub community: Option<CommunityConfig>,
    /// The Salesforce Knowledge publish target; absent: not configured.
    pub salesforce: Option<salesforce::SalesforceConfig>,
    /// The Amplience Dynamic Content publish target; absent: not configured.
    pub amplience: Option<amplience::AmplienceConfig>,
    /// `[[notify]]`: who hears what a publish run changed (webhooks, X).
    #[serde(default)]
    pub notify: Vec<notify::NotifyConfig>,
    /// `[partner]`: what counts as internal (the leak check), where the partner view is built.
    #[serde(default)]
    pub partner: PartnerConfig,
    /// `[data]`: live data sources, snapshots and data-driven pages.
    #[serde(default)]
    pub data: DataConfig,
    /// `[check]`: what `kbpub check` looks for and how it checks external links.
    #[serde(default)]
    pub check: CheckConfig,
    /// The folder that holds the site; set after parsing, not read from the file.
    #[serde(skip)]
    pub root: PathBuf,
    /// The publish targets whose sections cannot work; found when the file is parsed.
    #[serde(skip)]
    pub refused: Refused,
}

/// Each publish target section that cannot work, as an error at the value its `check` refuses.
/// Only what uses the section reports it (`kbpub check`, a publish to that target), so a broken
/// target stops neither a build nor the other targets.
#[derive(Debug, Clone, Default)]
pub struct Refused {
    pub confluence: Option<Diagnostic>,
    pub community: Option<Diagnostic>,
    pub salesforce: Option<Diagnostic>,
    pub amplience: Option<Diagnostic>,
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
        let (mut config, applied) = if overrides.is_empty() {
            (toml::from_str::<Config>(text).map_err(in_file)?, Vec::new())
        } else {
            let table: toml::Table = toml::from_str(text).map_err(in_file)?;
            let applied = overrides::applicable(&table, overrides);
            let config = overrides::apply(table, &applied, || {
                toml::from_str::<Config>(text).map_err(in_file)
            })?;
            (config, applied)
        };
        let at_value = |code, problem: problem::Problem| problem.diagnostic(code, text, &applied);
        config.data.check().map_err(|p| at_value("config", p))?;
        let refused = |code, check: Option<Result<(), problem::Problem>>, help: &str| {
            check?.err().map(|p| at_value(code, p).help(help))
        };
        config.refused = Refused {
            confluence: refused(
                "confluence-config",
                config.confluence.as_ref().map(ConfluenceConfig::check),
                "fix `[confluence]` in kbpub.toml (see the README, \"Publishing to Confluence\")",
            ),
            community: refused(
                "community-config",
                config.community.as_ref().map(CommunityConfig::check),
                "fix `[community]` in kbpub.toml (see the README)",
            ),
            salesforce: refused(
                "salesforce-config",
                config
                    .salesforce
                    .as_ref()
                    .map(salesforce::SalesforceConfig::check),
                "fix `[salesforce]` in kbpub.toml (see the README, \"Publishing to Salesforce Knowledge\")",
            ),
            amplience: refused(
                "amplience-config",
                config
                    .amplience
                    .as_ref()
                    .map(amplience::AmplienceConfig::check),
                "fix `[amplience]` in kbpub.toml (see the README, \"Publishing to Amplience\")",
            ),
        };
        Ok(config)
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

/// Refuses `section.article_url` unless it is an https URL holding `placeholder` (where the
/// target's id of an article goes).
fn article_url(section: &str, url: &str, placeholder: &str) -> Result<(), problem::Problem> {
    if url.starts_with("https://") && url.contains(placeholder) {
        return Ok(());
    }
    Err(problem::Problem::value(
        [section, "article_url"],
        format!(
            "`{section}.article_url` must be an https URL holding `{placeholder}`, got `{url}`"
        ),
    ))
}

/// Refuses `section.base_url` unless it is an http(s) URL without credentials in it (`secrets`
/// names where they go instead).
fn http_base_url(section: &str, url: &str, secrets: &str) -> Result<(), problem::Problem> {
    let refuse = |message: String| Err(problem::Problem::value([section, "base_url"], message));
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return refuse(format!(
            "`{section}.base_url` must be an http(s) URL, got `{url}`"
        ));
    }
    if url.contains('@') {
        return refuse(format!(
            "`{section}.base_url` must not hold credentials; name {secrets}"
        ));
    }
    Ok(())
}

/// Refuses a `section.concurrency` of 0.
fn concurrency(section: &str, concurrency: usize) -> Result<(), problem::Problem> {
    if concurrency > 0 {
        return Ok(());
    }
    Err(problem::Problem::value(
        [section, "concurrency"],
        format!("`{section}.concurrency` must be at least 1"),
    ))
}

/// Refuses the first key of `section.types` (`community`, `salesforce`) that names no document
/// type.
fn known_type_keys<'k>(
    section: &str,
    mut keys: impl Iterator<Item = &'k String>,
) -> Result<(), problem::Problem> {
    match keys.find(|k| !DOC_TYPES.contains(&k.as_str())) {
        Some(unknown) => Err(problem::Problem::key(
            [section, "types", unknown.as_str()],
            format!(
                "`{section}.types` names unknown document type `{unknown}` ({})",
                DOC_TYPES.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// The value for the folder `dir` in a per-section map (`"partners" = ...`): the entry of the
/// longest folder that is `dir` or contains it.
pub fn by_section<'m, V>(
    sections: &'m std::collections::BTreeMap<String, V>,
    dir: &str,
) -> Option<&'m V> {
    sections
        .iter()
        .filter(|(folder, _)| {
            dir == folder.as_str()
                || dir
                    .strip_prefix(folder.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
        .max_by_key(|(folder, _)| folder.len())
        .map(|(_, value)| value)
}

/// Deserializes a duration written as text (`"30s"`, `"48h"`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_uses_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.build.output, PathBuf::from("output"));
        assert_eq!(c.nav.max_section_pages, 7);
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

    const PUBLISHING: &str = "[confluence]\nbase_url = \"https://staging.example.com/wiki\"\ntoken_env = \"KBPUB_CONFLUENCE_TOKEN\"\ndefault_space = \"OPS\"\n\n[confluence.spaces.OPS]\nparent = \"1\"\n\n[[data.sources]]\nname = \"trading-grid\"\nkind = \"trading-grid\"\nurl = \"https://tg.staging\"\ntoken_env = \"TG\"\n\n[salesforce]\nlogin_url = \"https://staging.my.salesforce.com\"\nflow = \"client-credentials\"\nclient_id_env = \"KBPUB_SALESFORCE_CLIENT_ID\"\nclient_secret_env = \"SF_SECRET\"\nusername = \"kbpub@acme.example\"\narticle_url = \"https://partners.example.com/s/article/{url_name}\"\nbody_field = \"Body__c\"\nhash_field = \"Kbpub_Hash__c\"\n";

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
                    "KBPUB_SALESFORCE_LOGIN_URL",
                    "https://prod.my.salesforce.com",
                ),
                ("KBPUB_SALESFORCE_API_VERSION", "66.0"),
                (
                    "KBPUB_SALESFORCE_TYPES__FAQ__RECORD_TYPE",
                    "012000000000FAQ",
                ),
                (
                    "KBPUB_SALESFORCE_CLIENT_ID",
                    "a credential, never read as a setting",
                ),
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
        let salesforce = c.salesforce.unwrap();
        assert_eq!(salesforce.login_url, "https://prod.my.salesforce.com");
        assert_eq!(salesforce.api_version, "66.0", "a string stays a string");
        assert_eq!(
            salesforce.types["faq"].record_type.as_deref(),
            Some("012000000000FAQ")
        );
        assert_eq!(salesforce.client_id_env, "KBPUB_SALESFORCE_CLIENT_ID");
    }

    #[test]
    fn a_data_source_kbpub_cannot_use_is_an_error_at_its_key() {
        let e = Config::parse(
            "[[data.sources]]\nname = \"a\"\nkind = \"file\"\npath = \"a.csv\"\nrecords = \"metrics\"\n\n[[data.sources]]\nname = \"b\"\nkind = \"file\"\npath = \"b.csv\"\nrecords = \"metrics\"\npage_size = 900\n",
        )
        .unwrap_err();
        assert_eq!(e.position(), "kbpub.toml:12:13");
        assert_eq!(
            e.message,
            "data source `b`: `page_size` must be between 1 and 500"
        );
        let e =
            Config::parse("[[data.sources]]\nname = \"a\"\nkind = \"trading-grid\"\n").unwrap_err();
        assert_eq!(e.position(), "kbpub.toml:3:8", "{}", e.message);
        let e = Config::parse("[[data.sources]]\nname = \"a b\"\nkind = \"file\"\n").unwrap_err();
        assert_eq!(e.position(), "kbpub.toml:2:8", "{}", e.message);
    }

    #[test]
    fn a_target_section_that_cannot_work_is_refused_at_its_value_and_the_load_goes_on() {
        let c = Config::parse(&PUBLISHING.replace("\"Body__c\"", "\"Body\"")).unwrap();
        let refused = c.refused.salesforce.expect("refused");
        assert_eq!(refused.code, "salesforce-config");
        assert_eq!(refused.position(), "kbpub.toml:22:14");
        assert!(
            refused
                .message
                .starts_with("`salesforce.body_field` must name a custom field"),
            "{}",
            refused.message
        );
        assert!(c.refused.community.is_none() && c.refused.amplience.is_none());
        // Set from the environment, the value is named by its variable, not by the file's line.
        let c = with_env(PUBLISHING, &[("KBPUB_SALESFORCE_BODY_FIELD", "Body")]).unwrap();
        let refused = c.refused.salesforce.expect("refused");
        assert_eq!(refused.position(), "kbpub");
        assert!(
            refused.message.starts_with(
                "environment variable `KBPUB_SALESFORCE_BODY_FIELD`: `salesforce.body_field`"
            ),
            "{}",
            refused.message
        );
        // A key the file leaves to its default: the section's header.
        let c =
            Config::parse(&PUBLISHING.replace("username = \"kbpub@acme.example\"\n", "")).unwrap();
        assert_eq!(
            c.refused.salesforce.expect("refused").position(),
            "kbpub.toml:15:2"
        );
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

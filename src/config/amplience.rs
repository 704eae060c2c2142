//! `[amplience]` in `kbpub.toml`: where the Amplience Dynamic Content target publishes (the
//! management API and token URLs, the hub and content repository), how kbpub authenticates (OAuth
//! client credentials or a personal access token, by environment-variable name), the content
//! type schema its items use, how delivery keys are made from doc ids, how long a publishing job
//! may take, and which partner documents go (`[amplience.select]`: by type, section folder or
//! tag).

use serde::Deserialize;

use super::DOC_TYPES;
use super::problem::{Key, Problem};

/// The id of the content type schema kbpub ships (`kbpub init --amplience-schema` prints it).
pub const SCHEMA_ID: &str = "https://kbpub.example/schemas/kb-onboarding-article.json";
/// The placeholder in `article_url` that becomes an item's delivery key.
pub const DELIVERY_KEY: &str = "{delivery_key}";
/// The longest delivery key (reference §2.3).
pub const MAX_DELIVERY_KEY: usize = 150;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmplienceConfig {
    /// The content management API, e.g. `https://api.amplience.net/v2/content`.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// The OAuth token endpoint, e.g. `https://auth.amplience.net/oauth/token`.
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    /// The hub's id.
    pub hub: String,
    /// The content repository items are created in.
    pub repository: String,
    /// Env var holding the OAuth client id (with `client_secret_env`).
    pub client_id_env: Option<String>,
    /// Env var holding the OAuth client secret.
    pub client_secret_env: Option<String>,
    /// Env var holding a personal access token (instead of the client credentials).
    pub pat_env: Option<String>,
    /// The content type schema of kbpub's items (registered on the hub and assigned to the
    /// repository).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Put before every delivery key, e.g. `partners/onboarding`.
    #[serde(default)]
    pub delivery_key_prefix: String,
    /// Where readers find an item: links between selected documents point here, e.g.
    /// `https://partners.example.com/onboarding/{delivery_key}`.
    pub article_url: String,
    /// The items' locale, e.g. `en-GB`.
    pub locale: Option<String>,
    /// Seconds a publishing job may take before kbpub gives up waiting.
    #[serde(default = "default_publish_timeout")]
    pub publish_timeout: u64,
    /// Items written at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Which partner documents become items.
    #[serde(default)]
    pub select: Select,
}

/// Which documents go to Amplience: partner documents matching every list given (an empty list
/// matches all).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// Audiences; only `partner` can be sent (internal documents never leave kbpub).
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
    /// Document types, e.g. `["sop", "notice"]`.
    #[serde(default)]
    pub types: Vec<String>,
    /// Section folders under `content/`, e.g. `["partners/onboarding"]` (and below).
    #[serde(default)]
    pub sections: Vec<String>,
    /// Tags, any of which selects a document.
    #[serde(default)]
    pub tags: Vec<String>,
}

fn default_api_url() -> String {
    "https://api.amplience.net/v2/content".into()
}

fn default_auth_url() -> String {
    "https://auth.amplience.net/oauth/token".into()
}

fn default_schema() -> String {
    SCHEMA_ID.into()
}

fn default_publish_timeout() -> u64 {
    120
}

fn default_concurrency() -> usize {
    2
}

fn default_audiences() -> Vec<String> {
    vec!["partner".into()]
}

/// How kbpub authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials<'c> {
    /// OAuth client credentials: the env vars holding the client id and secret.
    Client {
        id_env: &'c str,
        secret_env: &'c str,
    },
    /// A personal access token: the env var holding it.
    Pat(&'c str),
}

impl AmplienceConfig {
    /// The credentials configured (`check` makes sure there is exactly one kind).
    pub fn credentials(&self) -> Credentials<'_> {
        match (&self.pat_env, &self.client_id_env, &self.client_secret_env) {
            (Some(pat), _, _) => Credentials::Pat(pat),
            (None, id, secret) => Credentials::Client {
                id_env: id.as_deref().unwrap_or_default(),
                secret_env: secret.as_deref().unwrap_or_default(),
            },
        }
    }

    /// Where readers find the item of delivery key `key`.
    pub fn article_url(&self, key: &str) -> String {
        self.article_url.replace(DELIVERY_KEY, key)
    }

    /// Whether a partner document of type `doc_type`, in folder `dir`, tagged `tags`, is
    /// selected.
    pub fn selects(&self, dir: &str, doc_type: Option<&str>, tags: &[String]) -> bool {
        let s = &self.select;
        let in_section = |folder: &String| {
            dir == folder
                || dir
                    .strip_prefix(folder.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        };
        s.audiences.iter().any(|a| a == "partner")
            && (s.types.is_empty() || doc_type.is_some_and(|t| s.types.iter().any(|x| x == t)))
            && (s.sections.is_empty() || s.sections.iter().any(in_section))
            && (s.tags.is_empty() || tags.iter().any(|t| s.tags.contains(t)))
    }

    /// Problems a writer must fix before anything is sent, each at the value it refuses.
    /// `Config` runs it when it parses the file.
    pub fn check(&self) -> Result<(), Problem> {
        let at = |key: &str, message: String| Err(Problem::value(["amplience", key], message));
        for (key, url) in [("api_url", &self.api_url), ("auth_url", &self.auth_url)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('@') {
                return at(
                    key,
                    format!(
                        "`amplience.{key}` must be an http(s) URL without credentials; got `{url}`"
                    ),
                );
            }
        }
        let id = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        for (key, value) in [("hub", &self.hub), ("repository", &self.repository)] {
            if !id(value) {
                return at(
                    key,
                    format!(
                        "`amplience.{key}` must be the {key}'s id (letters, digits, `-`, `_`); got `{value}`"
                    ),
                );
            }
        }
        match (&self.pat_env, &self.client_id_env, &self.client_secret_env) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            (Some(_), _, _) => {
                return at(
                    "pat_env",
                    "`amplience`: name either `pat_env` or `client_id_env` and `client_secret_env`, not both".into(),
                );
            }
            (None, id, _) => {
                return at(
                    if id.is_some() { "client_id_env" } else { "client_secret_env" },
                    "`amplience` needs `client_id_env` and `client_secret_env` (OAuth client credentials), or `pat_env` (a personal access token)".into(),
                );
            }
        }
        if !self.schema.starts_with("http://") && !self.schema.starts_with("https://") {
            return at(
                "schema",
                format!(
                    "`amplience.schema` must be the content type schema's id, a URL; got `{}`",
                    self.schema
                ),
            );
        }
        let prefix = &self.delivery_key_prefix;
        if !prefix.is_empty() && !is_delivery_key(prefix) {
            return at(
                "delivery_key_prefix",
                format!(
                    "`amplience.delivery_key_prefix` must be letters, digits, `-`, `_` and `/`, without a `/` at either end; got `{prefix}`"
                ),
            );
        }
        super::article_url("amplience", &self.article_url, DELIVERY_KEY)?;
        if self.publish_timeout == 0 {
            return at(
                "publish_timeout",
                "`amplience.publish_timeout` must be at least 1 (seconds)".into(),
            );
        }
        super::concurrency("amplience", self.concurrency)?;
        select_entries(
            "audiences",
            &self.select.audiences,
            |a| a == "partner",
            |a| {
                format!(
                    "`amplience.select.audiences`: `{a}` cannot be sent; Amplience gets partner documents only (internal documents never leave kbpub)"
                )
            },
        )?;
        select_entries(
            "types",
            &self.select.types,
            |t| DOC_TYPES.contains(&t),
            |t| {
                format!(
                    "`amplience.select.types` names unknown document type `{t}` ({})",
                    DOC_TYPES.join(", ")
                )
            },
        )?;
        Ok(())
    }
}

/// The first entry of `[amplience.select] list` (`values`) that `fits` refuses, at that entry.
fn select_entries(
    list: &str,
    values: &[String],
    fits: impl Fn(&str) -> bool,
    why: impl Fn(&str) -> String,
) -> Result<(), Problem> {
    match values.iter().position(|v| !fits(v)) {
        Some(index) => Err(Problem::value(
            [
                Key::from("amplience"),
                "select".into(),
                list.into(),
                index.into(),
            ],
            why(&values[index]),
        )),
        None => Ok(()),
    }
}

/// A valid delivery key (reference §2.3): 1 to 150 of `A-Z a-z 0-9 - _ /`, no `/` at either
/// end.
pub fn is_delivery_key(key: &str) -> bool {
    (1..=MAX_DELIVERY_KEY).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
        && !key.starts_with('/')
        && !key.ends_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
hub = "kb-hub"
repository = "kb-repo"
client_id_env = "AMP_ID"
client_secret_env = "AMP_SECRET"
delivery_key_prefix = "partners/onboarding"
article_url = "https://partners.example.com/onboarding/{delivery_key}"
[select]
types = ["sop", "notice"]
sections = ["partners"]
"#;

    #[test]
    fn selection_needs_every_list_given() {
        let c: AmplienceConfig = toml::from_str(CONFIG).unwrap();
        assert_eq!(c.check(), Ok(()));
        assert!(c.selects("partners/acme", Some("sop"), &[]));
        assert!(c.selects("partners", Some("notice"), &[]));
        assert!(
            !c.selects("partnersx", Some("sop"), &[]),
            "a folder, not a prefix"
        );
        assert!(!c.selects("partners", Some("faq"), &[]));
        assert!(!c.selects("guides", Some("sop"), &[]));
        let tagged: AmplienceConfig =
            toml::from_str(&CONFIG.replace("sections = [\"partners\"]", "tags = [\"onboarding\"]"))
                .unwrap();
        assert!(tagged.selects("x", Some("sop"), &["onboarding".into()]));
        assert!(!tagged.selects("x", Some("sop"), &["other".into()]));
        assert_eq!(
            c.credentials(),
            Credentials::Client {
                id_env: "AMP_ID",
                secret_env: "AMP_SECRET"
            }
        );
        assert_eq!(c.api_url, "https://api.amplience.net/v2/content");
        assert_eq!(
            c.article_url("partners/onboarding/x"),
            "https://partners.example.com/onboarding/partners/onboarding/x"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |from: &str, to: &str| {
            let c: AmplienceConfig = toml::from_str(&CONFIG.replace(from, to)).unwrap();
            c.check().unwrap_err().message
        };
        assert!(bad("\"partners/onboarding\"", "\"/x/\"").contains("delivery_key_prefix"));
        assert!(bad("{delivery_key}", "x").contains("article_url"));
        assert!(bad("client_secret_env = \"AMP_SECRET\"", "").contains("pat_env"));
        assert!(bad("client_id_env", "pat_env = \"AMP_PAT\"\nclient_id_env").contains("not both"));
        assert!(bad("\"sop\", \"notice\"", "\"sops\"").contains("sops"));
        assert!(
            bad("[select]", "[select]\naudiences = [\"internal\"]")
                .contains("partner documents only")
        );
        assert!(bad("\"kb-repo\"", "\"kb repo\"").contains("repository"));
        assert!(is_delivery_key("a/b-c_d"));
        assert!(!is_delivery_key("a b") && !is_delivery_key("a/") && !is_delivery_key(""));
        assert!(!is_delivery_key(&"k".repeat(151)));
    }
}

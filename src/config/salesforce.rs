//! `[salesforce]` in `kbpub.toml`: where the Salesforce Knowledge target publishes (the org's My
//! Domain, the OAuth flow and its credentials by environment-variable name, the API version), the
//! article fields kbpub writes (the rich-text body field and its size limit, the kbpub hash
//! field, the language), how an article is published (minor or major version), and where each
//! document goes: record type, data categories and channels by section folder, then by document
//! type, then the defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::problem::{Key, Problem};

/// The placeholder in `article_url` that becomes an article's `UrlName`.
pub const URL_NAME: &str = "{url_name}";
/// The most characters a rich text area field holds, markup included (reference §1.6).
pub const MAX_BODY_LIMIT: usize = 131_072;
/// The channel fields an article may be made visible in (reference §1.2).
pub const CHANNELS: &[&str] = &["IsVisibleInPrm", "IsVisibleInCsp", "IsVisibleInPkb"];

/// How kbpub gets its access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// OAuth 2.0 JWT bearer: a certificate's private key signs the assertion (recommended for CI).
    Jwt,
    /// OAuth 2.0 client credentials: consumer key and secret, run as the app's integration user.
    ClientCredentials,
}

/// What a new version of an article becomes when published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Publish {
    /// The new version replaces the online one (same version number).
    #[default]
    Minor,
    /// A new version number; the previous online version is archived.
    Major,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// The org's My Domain, e.g. `https://acme.my.salesforce.com`: the token endpoint. API calls
    /// go to the `instance_url` the token response names.
    pub login_url: String,
    pub flow: Flow,
    /// Env var holding the connected app's consumer key.
    pub client_id_env: String,
    /// Env var holding the consumer secret (client credentials flow).
    pub client_secret_env: Option<String>,
    /// Env var holding the path of the PEM private key that signs the JWT (JWT bearer flow).
    pub private_key_env: Option<String>,
    /// The user kbpub runs as: the JWT bearer flow's `sub`, the client-credentials app's run-as
    /// user. Versions another user last edited are people's edits (drift).
    pub username: Option<String>,
    /// The JWT's `aud`; default `https://login.salesforce.com`.
    pub audience: Option<String>,
    /// REST API version, e.g. `"62.0"` (a number such as `66.0`, as an environment override
    /// gives it, is read as that version).
    #[serde(default = "default_api_version", deserialize_with = "api_version_text")]
    pub api_version: String,
    /// Where partners read an article: links between partner documents point here, e.g.
    /// `https://partners.example.com/s/article/{url_name}`.
    pub article_url: String,
    /// The rich text area field that holds the body, e.g. `Body__c`.
    pub body_field: String,
    /// That field's length limit in characters, markup included.
    #[serde(default = "default_body_limit")]
    pub body_limit: usize,
    /// The text field kbpub writes its content hash to, e.g. `Kbpub_Hash__c`.
    pub hash_field: String,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default)]
    pub publish: Publish,
    /// Record type, data categories and channels of documents no section or type places.
    #[serde(flatten)]
    pub default: Placement,
    /// Placement per section folder (`[salesforce.sections.partners]`); the longest folder wins.
    #[serde(default)]
    pub sections: BTreeMap<String, Placement>,
    /// Placement per document type (`[salesforce.types.faq]`), after `sections`.
    #[serde(default)]
    pub types: BTreeMap<String, Placement>,
    /// Articles written at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

/// Where an article goes in Knowledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `RecordTypeId` of the article type.
    pub record_type: Option<String>,
    /// `Group:Category` pairs, e.g. `"Partners:EDI"`.
    #[serde(default)]
    pub data_categories: Vec<String>,
    /// Channel fields set true, e.g. `["IsVisibleInPrm"]`; default: the partner channel.
    pub channels: Option<Vec<String>>,
}

fn api_version_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Version {
        Text(String),
        Number(f64),
    }
    Ok(match Version::deserialize(d)? {
        Version::Text(text) => text,
        Version::Number(n) => format!("{n:.1}"),
    })
}

fn default_api_version() -> String {
    "62.0".into()
}

fn default_body_limit() -> usize {
    32_768
}

fn default_language() -> String {
    "en_US".into()
}

fn default_concurrency() -> usize {
    2
}

impl SalesforceConfig {
    /// The placement of a document of type `doc_type` in folder `dir`: the longest section
    /// folder that holds it, then its type, then the defaults; each setting falls back on its
    /// own.
    pub fn placement(&self, dir: &str, doc_type: Option<&str>) -> Placement {
        let section = super::by_section(&self.sections, dir);
        let by_type = doc_type.and_then(|t| self.types.get(t));
        let chain: Vec<&Placement> = [section, by_type, Some(&self.default)]
            .into_iter()
            .flatten()
            .collect();
        Placement {
            record_type: chain.iter().find_map(|p| p.record_type.clone()),
            data_categories: chain
                .iter()
                .map(|p| &p.data_categories)
                .find(|c| !c.is_empty())
                .cloned()
                .unwrap_or_default(),
            channels: Some(
                chain
                    .iter()
                    .find_map(|p| p.channels.clone())
                    .unwrap_or_else(|| vec!["IsVisibleInPrm".into()]),
            ),
        }
    }

    /// Where partners read the article named `url_name`.
    pub fn article_url(&self, url_name: &str) -> String {
        self.article_url.replace(URL_NAME, url_name)
    }

    /// The REST base of the org at `instance_url`.
    pub fn api_base(&self, instance_url: &str) -> String {
        format!(
            "{}/services/data/v{}",
            instance_url.trim_end_matches('/'),
            self.api_version
        )
    }

    /// Problems a writer must fix before anything is sent, each at the value it refuses.
    /// `Config` runs it when it parses the file.
    pub fn check(&self) -> Result<(), Problem> {
        let at = |key: &str, message: String| Err(Problem::value(["salesforce", key], message));
        let url = &self.login_url;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains('@') {
            return at(
                "login_url",
                format!(
                    "`salesforce.login_url` must be the org's My Domain URL (https://…my.salesforce.com), without credentials; got `{url}`"
                ),
            );
        }
        if self.username.as_deref().is_none_or(str::is_empty) {
            return at(
                "username",
                "`salesforce.username` must name the user kbpub runs as (the JWT's `sub`, or the client-credentials app's run-as user): versions anyone else edited are left alone".into(),
            );
        }
        match self.flow {
            Flow::Jwt if self.private_key_env.is_none() => {
                return at(
                    "flow",
                    "`salesforce.flow = \"jwt\"` needs `private_key_env` (the env var holding the key file's path)".into(),
                );
            }
            Flow::ClientCredentials if self.client_secret_env.is_none() => {
                return at(
                    "flow",
                    "`salesforce.flow = \"client-credentials\"` needs `client_secret_env`".into(),
                );
            }
            _ => {}
        }
        let version_ok = self
            .api_version
            .split_once('.')
            .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor == "0")))
            .is_some_and(|(major, minor)| minor && major >= 45);
        if !version_ok {
            return at(
                "api_version",
                format!(
                    "`salesforce.api_version` must be a version like \"62.0\", at least 45.0 (Knowledge publishing); got `{}`",
                    self.api_version
                ),
            );
        }
        super::article_url("salesforce", &self.article_url, URL_NAME)?;
        for (key, field) in [
            ("body_field", &self.body_field),
            ("hash_field", &self.hash_field),
        ] {
            if !is_custom_field(field) {
                return at(
                    key,
                    format!(
                        "`salesforce.{key}` must name a custom field like `Body__c`, got `{field}`"
                    ),
                );
            }
        }
        if !(256..=MAX_BODY_LIMIT).contains(&self.body_limit) {
            return at(
                "body_limit",
                format!(
                    "`salesforce.body_limit` must be between 256 and {MAX_BODY_LIMIT} (a rich text area field's limits), got {}",
                    self.body_limit
                ),
            );
        }
        super::known_type_keys("salesforce", self.types.keys())?;
        let placements = std::iter::once((vec!["salesforce"], &self.default))
            .chain(
                self.sections
                    .iter()
                    .map(|(k, p)| (vec!["salesforce", "sections", k.as_str()], p)),
            )
            .chain(
                self.types
                    .iter()
                    .map(|(k, p)| (vec!["salesforce", "types", k.as_str()], p)),
            );
        for (path, placement) in placements {
            placement.check(&path)?;
        }
        super::concurrency("salesforce", self.concurrency)?;
        Ok(())
    }
}

impl Placement {
    /// Checks the placement at `path` (`salesforce`, or a section's or type's table).
    fn check(&self, path: &[&str]) -> Result<(), Problem> {
        let table = path.join(".");
        let at = |key: &str, index: usize, message: String| {
            let mut keys: Vec<Key> = path.iter().map(|k| Key::from(*k)).collect();
            keys.extend([Key::from(key), Key::Index(index)]);
            Err(Problem::value(keys, message))
        };
        if let Some((index, channel)) = self
            .channels
            .iter()
            .flatten()
            .enumerate()
            .find(|(_, c)| !CHANNELS.contains(&c.as_str()))
        {
            return at(
                "channels",
                index,
                format!(
                    "`{table}.channels`: unknown channel `{channel}` (one of {})",
                    CHANNELS.join(", ")
                ),
            );
        }
        if let Some((index, category)) = self
            .data_categories
            .iter()
            .enumerate()
            .find(|(_, c)| data_category(c).is_none())
        {
            return at(
                "data_categories",
                index,
                format!(
                    "`{table}.data_categories`: data category `{category}` must be `Group:Category` (API names)"
                ),
            );
        }
        Ok(())
    }
}

/// A `Group:Category` pair of API names.
pub fn data_category(pair: &str) -> Option<(&str, &str)> {
    let (group, category) = pair.split_once(':')?;
    let api_name =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (api_name(group) && api_name(category)).then_some((group, category))
}

/// A custom field's API name: letters, digits and underscores, ending in `__c`.
fn is_custom_field(name: &str) -> bool {
    name.len() > 3
        && name.ends_with("__c")
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
login_url = "https://acme.my.salesforce.com"
flow = "client-credentials"
client_id_env = "SF_ID"
client_secret_env = "SF_SECRET"
username = "integration@acme.example"
article_url = "https://partners.example.com/s/article/{url_name}"
body_field = "Body__c"
hash_field = "Kbpub_Hash__c"
record_type = "012000000000001"
data_categories = ["Partners:All"]
[sections.partners]
data_categories = ["Partners:Onboarding"]
[sections."partners/acme"]
channels = ["IsVisibleInPrm", "IsVisibleInCsp"]
[types.faq]
record_type = "012000000000FAQ"
"#;

    #[test]
    fn placement_by_section_then_type_then_default() {
        let c: SalesforceConfig = toml::from_str(CONFIG).unwrap();
        assert_eq!(c.check(), Ok(()));
        // The longest folder wins; what it leaves unset comes from the type, then the defaults.
        let p = c.placement("partners/acme/x", Some("faq"));
        assert_eq!(p.record_type.as_deref(), Some("012000000000FAQ"));
        assert_eq!(p.data_categories, ["Partners:All"]);
        assert_eq!(p.channels.unwrap(), ["IsVisibleInPrm", "IsVisibleInCsp"]);
        let p = c.placement("partners/other", Some("faq"));
        assert_eq!(p.data_categories, ["Partners:Onboarding"]);
        let p = c.placement("guides", Some("sop"));
        assert_eq!(p.record_type.as_deref(), Some("012000000000001"));
        assert_eq!(p.data_categories, ["Partners:All"]);
        assert_eq!(p.channels.unwrap(), ["IsVisibleInPrm"]);
        assert_eq!(
            c.api_base("https://x.my.salesforce.com/"),
            "https://x.my.salesforce.com/services/data/v62.0"
        );
        assert_eq!(c.publish, Publish::Minor);
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |from: &str, to: &str| {
            let c: SalesforceConfig = toml::from_str(&CONFIG.replace(from, to)).unwrap();
            c.check().unwrap_err().message
        };
        assert!(bad("body_field", "api_version = \"30.0\"\nbody_field").contains("at least 45.0"));
        assert!(bad("Body__c", "Body").contains("body_field"));
        assert!(bad("{url_name}", "x").contains("article_url"));
        assert!(bad("IsVisibleInCsp", "IsVisibleInApp").contains("unknown channel"));
        assert!(bad("Partners:All", "Partners").contains("Group:Category"));
        assert!(bad("client_secret_env = \"SF_SECRET\"", "").contains("client_secret_env"));
        assert!(bad("[types.faq]", "[types.faqs]").contains("faqs"));
    }
}

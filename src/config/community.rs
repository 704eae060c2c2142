//! `[community]` in `kbpub.toml`: where the partner-community target publishes (the contract's
//! base URL, the token by environment-variable name), which category each document goes to (by
//! section folder, then by document type, then the default), the locale, how links between
//! partner documents are written (the article URL pattern), and how hard it may push.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::problem::Problem;

/// The placeholder in `article_url` that becomes a document's id (its external id).
pub const EXTERNAL_ID: &str = "{external_id}";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityConfig {
    /// The article API (`community-v1`), e.g. `https://community.example.com/api`.
    pub base_url: String,
    /// Env var holding the API token, sent as `Authorization: Bearer`.
    pub token_env: String,
    /// Where partners read an article: links between partner documents point here, e.g.
    /// `https://community.example.com/kb/{external_id}`.
    pub article_url: String,
    /// Category of documents that neither `sections` nor `types` place.
    pub default_category: String,
    /// Category per section folder (`faqs = "edi-faq"`); the longest matching folder wins.
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    /// Category per document type (`notice = "change-notices"`), after `sections`.
    #[serde(default)]
    pub types: BTreeMap<String, String>,
    #[serde(default = "default_locale")]
    pub locale: String,
    /// Articles written at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
}

fn default_locale() -> String {
    "en".into()
}

fn default_concurrency() -> usize {
    4
}

impl CommunityConfig {
    /// The category of a document of type `doc_type` (its name, `"sop"`) in folder `dir`.
    pub fn category(&self, dir: &str, doc_type: Option<&str>) -> &str {
        let by_section = super::by_section(&self.sections, dir).map(String::as_str);
        let by_type = || Some(self.types.get(doc_type?)?.as_str());
        by_section
            .or_else(by_type)
            .unwrap_or(self.default_category.as_str())
    }

    /// Where partners read the article of document `id`.
    pub fn article_url(&self, id: &str) -> String {
        self.article_url.replace(EXTERNAL_ID, &url_segment(id))
    }

    /// Problems a writer must fix before anything is sent, each at the value it refuses.
    /// `Config` runs it when it parses the file.
    pub fn check(&self) -> Result<(), Problem> {
        super::http_base_url("community", &self.base_url, "an env var in `token_env`")?;
        super::article_url("community", &self.article_url, EXTERNAL_ID)?;
        super::known_type_keys("community", self.types.keys())?;
        super::concurrency("community", self.concurrency)?;
        Ok(())
    }
}

/// Percent-encodes everything but unreserved characters.
fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_then_types_then_the_default() {
        let c: CommunityConfig = toml::from_str(
            "base_url = \"http://x\"\ntoken_env = \"T\"\narticle_url = \"https://c.example/kb/{external_id}\"\ndefault_category = \"guides\"\n[sections]\nfaqs = \"faq\"\n\"faqs/x12\" = \"x12\"\n[types]\nnotice = \"notices\"\nincident-review = \"reviews\"\n",
        )
        .unwrap();
        assert_eq!(c.category("faqs", Some("notice")), "faq");
        assert_eq!(c.category("faqs/x12/deep", None), "x12");
        assert_eq!(c.category("notices", Some("notice")), "notices");
        assert_eq!(c.category("x", Some("incident-review")), "reviews");
        assert_eq!(c.category("partners", Some("partner")), "guides");
        assert_eq!(c.article_url("a b"), "https://c.example/kb/a%20b");
        assert_eq!(c.locale, "en");
        assert!(c.check().is_ok());
    }
}

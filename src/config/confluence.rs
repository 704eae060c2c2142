//! `[confluence]` in `kbpub.toml`: where the Confluence target publishes (site URL, API flavour,
//! credentials by environment-variable name), how documents map to spaces and parent pages, and
//! how hard it may push (concurrency, page size).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::problem::Problem;

/// Which REST API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Ask the server: REST v2 when it answers the v2 spaces endpoint (Cloud), else v1.
    #[default]
    Auto,
    /// Data Center (or Server): REST v1 under the context path.
    V1,
    /// Cloud: REST v2 for pages and properties, v1 for labels, attachments and search.
    V2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceConfig {
    /// `https://example.atlassian.net/wiki` (Cloud) or `https://confluence.example.com/confluence`
    /// (Data Center, with its context path).
    pub base_url: String,
    #[serde(default)]
    pub api: Api,
    /// Env var holding the account e-mail: set for Cloud (Basic e-mail + API token). Without it
    /// the token is sent as a Bearer personal access token (Data Center).
    pub email_env: Option<String>,
    /// Env var holding the API token (Cloud) or personal access token (Data Center).
    pub token_env: String,
    /// Space for documents that neither front matter nor `sections` place elsewhere.
    pub default_space: String,
    /// Space per section folder (`"partners" = "PARTNERS"`); the longest matching folder wins.
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    /// Per space: the page the published tree hangs under (default: the space's home page).
    #[serde(default)]
    pub spaces: BTreeMap<String, SpaceConfig>,
    /// Pages written at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Results per request when scanning the managed tree.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceConfig {
    /// Page id of the parent of the published tree in this space.
    pub parent: Option<String>,
}

fn default_concurrency() -> usize {
    4
}

fn default_page_size() -> usize {
    100
}

impl ConfluenceConfig {
    /// The space a document in folder `dir` goes to, unless its front matter names one.
    pub fn space_for_dir(&self, dir: &str) -> &str {
        super::by_section(&self.sections, dir).map_or(self.default_space.as_str(), String::as_str)
    }

    /// Problems a writer must fix before anything is sent.
    pub fn check(&self) -> Result<(), Problem> {
        super::http_base_url(
            "confluence",
            &self.base_url,
            "env vars in `email_env` and `token_env`",
        )?;
        super::concurrency("confluence", self.concurrency)?;
        if self.page_size == 0 {
            return Err(Problem::value(
                ["confluence", "page_size"],
                "`confluence.page_size` must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_section_folder_wins() {
        let c: ConfluenceConfig = toml::from_str(
            "base_url = \"http://x\"\ntoken_env = \"T\"\ndefault_space = \"OPS\"\n[sections]\npartners = \"PART\"\n\"partners/emea\" = \"EMEA\"\n",
        )
        .unwrap();
        assert_eq!(c.space_for_dir("sops"), "OPS");
        assert_eq!(c.space_for_dir("partners"), "PART");
        assert_eq!(c.space_for_dir("partners/emea/x"), "EMEA");
        assert_eq!(c.space_for_dir("partnersx"), "OPS");
        assert_eq!(c.concurrency, 4);
    }
}

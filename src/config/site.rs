//! `[site]` in `kbpub.toml`: the site's title, description the URL it is served from and where its sources are edited.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    pub title: String,
    pub description: String,
    /// Absolute URL the site is served from; used for `sitemap.xml`, `feed.xml` and the 404 page.
    pub base_url: String,
    /// Where a document's source can be edited: "Edit this page" links to `<repo_url>/<file>`
    /// (`https://github.com/acme/kb/edit/main` + `/content/sops/x.md`); empty for none.
    pub repo_url: String,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "Knowledge base".into(),
            description: String::new(),
            base_url: "http://localhost/".into(),
            repo_url: String::new(),
        }
    }
}

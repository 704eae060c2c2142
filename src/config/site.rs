//! `[site]` in `kbpub.toml`: the site's title, description and the URL it is served from.

use serde::{Deserialize, Serialize};

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

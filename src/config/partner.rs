//! `[partner]` in `kbpub.toml`: what counts as internal (the leak check) and where the partner
//! view of the site is built.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartnerConfig {
    /// Domains whose hosts and e-mail addresses must never reach partners (`ops.example.com`
    /// covers `tg-gw01.ops.example.com` and `edi-oncall@ops.example.com`).
    pub internal_domains: Vec<String>,
    /// Single hosts that must never reach partners.
    pub internal_hostnames: Vec<String>,
    /// Where `kbpub build --audience partner` writes the partner view of the site.
    pub output: PathBuf,
}

impl Default for PartnerConfig {
    fn default() -> Self {
        PartnerConfig {
            internal_domains: Vec::new(),
            internal_hostnames: Vec::new(),
            output: PathBuf::from("output-partner"),
        }
    }
}

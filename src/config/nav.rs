//! `[nav]` in `kbpub.toml`: how much of the current section the navigation lists.

use serde::Deserialize;

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
            max_section_pages: 7,
        }
    }
}

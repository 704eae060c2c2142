//! Data-driven pages: one generated document per partner (from `templates/data/partner.md`) and
//! one per error code of the incident knowledge base (from `templates/data/error-code.md`), with
//! section pages for both, under `[data.pages] section` (default `live/`). Each generated document
//! is ordinary Markdown with TOML front matter whose body includes its template, so it goes
//! through the same load, nav, search, sitemap, link checks and writers as a written one. Record
//! keys travel in `[extra]` (`partner_id`, `error_code`); no data text is ever placed in a body.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::Dataset;
use crate::config::data::PagesConfig;
use crate::content::{Badge, Generated};
use crate::text::display_safe;

/// Where each data-driven page goes (content-relative `.md` paths).
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// The section folder (`live`), empty when data pages are off.
    pub section: String,
    /// Partner id -> page path.
    pub partners: BTreeMap<String, String>,
    /// Error code -> page path.
    pub error_codes: BTreeMap<String, String>,
}

impl Plan {
    pub fn partners_index(&self) -> String {
        format!("{}/partners/_index.md", self.section)
    }

    pub fn incidents_index(&self) -> String {
        format!("{}/incidents/_index.md", self.section)
    }
}

/// The badges of generated pages: they say what each page is, not a written document's type.
const LIVE_DATA: Badge = Badge::new("live-data", "Live data");
const SCORECARD_INDEX: Badge = Badge::new("scorecard-index", "Scorecard index");
const INCIDENT_INDEX: Badge = Badge::new("incident-index", "Incident index");
const PARTNER_SCORECARD: Badge = Badge::new("scorecard", "Partner scorecard");
const ERROR_CODE: Badge = Badge::new("error-code", "Error code");

/// Longest title a generated page gets from data (the full text stays in the body).
const MAX_TITLE: usize = 120;

/// Paths for every partner and error code in `data`: stable slugs, de-duplicated in id order.
pub fn plan(data: &Dataset, config: &PagesConfig) -> Plan {
    let section = config.section.trim_matches('/').to_string();
    if section.is_empty() || !data.is_configured() {
        return Plan::default();
    }
    let mut used = HashSet::new();
    let mut partners = BTreeMap::new();
    for p in &data.partners {
        let slug = unique(&mut used, &slug(&p.id, "partner"));
        partners.insert(p.id.clone(), format!("{section}/partners/{slug}.md"));
    }
    let codes: std::collections::BTreeSet<&str> = data
        .incidents
        .iter()
        .map(|i| i.error.code.as_str())
        .collect();
    let mut error_codes = BTreeMap::new();
    for code in codes {
        let slug = unique(&mut used, &slug(code, "error"));
        error_codes.insert(code.to_string(), format!("{section}/incidents/{slug}.md"));
    }
    Plan {
        section,
        partners,
        error_codes,
    }
}

/// Lowercase ASCII letters and digits, other runs as one `-`, at most 60 characters.
fn slug(text: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        fallback.to_string()
    } else {
        out.to_string()
    }
}

fn unique(used: &mut HashSet<String>, base: &str) -> String {
    let mut candidate = base.to_string();
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    candidate
}

/// A title from data: invisible and control characters made visible, cut to [`MAX_TITLE`].
fn title_from(text: &str) -> String {
    display_safe(text, MAX_TITLE)
}

#[derive(Serialize)]
struct Front<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    title: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    doc_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    partners: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<toml::value::Datetime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<&'a str, String>,
}

fn document(rel_path: String, front: Front, template: &str, badge: Badge) -> Generated {
    let header = toml::to_string(&front).expect("front matter serialises");
    Generated {
        rel_path,
        badge,
        text: format!("+++\n{header}+++\n\n{{% include \"{template}\" %}}\n"),
    }
}

/// The generated documents for `data` (none when data pages are off).
pub fn documents(data: &Dataset, config: &PagesConfig) -> Vec<Generated> {
    let plan = plan(data, config);
    if plan.section.is_empty() {
        return Vec::new();
    }
    let updated = data.as_of().and_then(|t| {
        t.date_naive()
            .to_string()
            .parse::<toml::value::Datetime>()
            .ok()
    });
    let section = |title: &str, description: &str, weight: i64| Front {
        id: None,
        title: title.to_string(),
        doc_type: None,
        description: Some(description.to_string()),
        partners: Vec::new(),
        updated: None,
        weight: Some(weight),
        extra: BTreeMap::new(),
    };
    let mut docs = vec![
        document(
            format!("{}/_index.md", plan.section),
            section(
                &config.title,
                "Partner scorecards and the incident knowledge base, generated from the Trading Grid snapshot.",
                1000,
            ),
            "data/index.md",
            LIVE_DATA,
        ),
        document(
            plan.partners_index(),
            section(
                "Partner scorecards",
                "One page per trading partner: onboarding facts, 30-day scorecard, open incidents and trend.",
                1,
            ),
            "data/partners-index.md",
            SCORECARD_INDEX,
        ),
        document(
            plan.incidents_index(),
            section(
                "Incident knowledge base",
                "Incidents grouped by error code, with the playbooks that cover them.",
                2,
            ),
            "data/incidents-index.md",
            INCIDENT_INDEX,
        ),
    ];
    for p in &data.partners {
        let rel = plan.partners[&p.id].clone();
        let id = format!("live-partner-{}", crate::content::url::file_stem(&rel));
        docs.push(document(
            rel,
            Front {
                id: Some(id),
                title: title_from(&p.name),
                doc_type: Some("partner"),
                description: Some(format!(
                    "Onboarding facts, 30-day scorecard, open incidents and trend for {}.",
                    title_from(&p.id)
                )),
                partners: vec![p.id.clone()],
                updated,
                weight: None,
                extra: [("partner_id", p.id.clone())].into(),
            },
            "data/partner.md",
            PARTNER_SCORECARD,
        ));
    }
    for (code, rel) in &plan.error_codes {
        let id = format!("live-error-{}", crate::content::url::file_stem(rel));
        docs.push(document(rel.clone(), Front {
            id: Some(id),
            title: title_from(&format!("Error {code}")),
            doc_type: Some("incident-review"),
            description: Some("Incidents with this error code, their causes and fixes, and the playbooks that cover them.".into()),
            partners: Vec::new(),
            updated,
            weight: None,
            extra: [("error_code", code.clone())].into(),
        }, "data/error-code.md", ERROR_CODE));
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii_and_unique() {
        assert_eq!(slug("AK5:R AK304:3", "x"), "ak5-r-ak304-3");
        assert_eq!(slug("<script>", "x"), "script");
        assert_eq!(slug("\u{202e}", "error"), "error");
        let mut used = HashSet::new();
        assert_eq!(unique(&mut used, "a"), "a");
        assert_eq!(unique(&mut used, "a"), "a-2");
    }

    #[test]
    fn titles_show_hidden_characters_and_are_cut() {
        assert_eq!(title_from("a\u{202e}b"), "a[U+202E]b");
        assert_eq!(title_from(&"x".repeat(500)).chars().count(), MAX_TITLE + 1);
    }
}

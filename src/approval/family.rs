//! Data-driven page families: every page kbpub generates from the data snapshot includes one
//! template (`{% include "data/partner.md" %}`), and the pages generated from one template are a
//! family. A family is approved once, as one subject (`family-data-partner`): its hash covers the
//! template and everything the pages render through, never the data values, and its state is
//! the state of every page in it.

use std::collections::BTreeMap;

use crate::content::Site;

/// The pages generated from one template.
#[derive(Debug, Clone)]
pub struct Family {
    /// `family-data-partner` for `data/partner.md`: how records and `kbpub approve` name it.
    pub id: String,
    /// The template the pages include.
    pub template: String,
    /// Page indices, in nav order.
    pub pages: Vec<usize>,
}

/// Every family of `site`, by template name.
pub fn families(site: &Site) -> Vec<Family> {
    let mut by_template: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in site.nav_order() {
        let page = &site.pages[i];
        if page.is_generated() {
            // A generated page that includes nothing is still a family of its own, by path.
            let template = included_template(page.body()).unwrap_or_else(|| page.rel_path.clone());
            by_template.entry(template).or_default().push(i);
        }
    }
    by_template
        .into_iter()
        .map(|(template, pages)| Family {
            id: family_id(&template),
            template,
            pages,
        })
        .collect()
}

/// `data/partner.md` -> `family-data-partner`.
pub fn family_id(template: &str) -> String {
    let stem = template.strip_suffix(".md").unwrap_or(template);
    let slug: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("family-{slug}")
}

/// The template named by the body's `{% include "..." %}`.
fn included_template(body: &str) -> Option<String> {
    let rest = &body[body.find("{% include \"")? + "{% include \"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_named_by_its_template() {
        assert_eq!(family_id("data/error-code.md"), "family-data-error-code");
        assert_eq!(
            included_template("\n{% include \"data/partner.md\" %}\n").as_deref(),
            Some("data/partner.md")
        );
        assert_eq!(included_template("text"), None);
    }
}

//! Navigation for one page: the nav tree (every top-level section, with the sections that lead to
//! the current page open), breadcrumbs, and prev/next in reading order. A page's nav is bounded:
//! an open section lists at most `nav.max_section_pages` pages, as a window around the current
//! page, and links to its index for the rest. Full nav trees in every page grow the site with the
//! square of its size (mdBook's 10,000-page problem). Obsolete documents are left out of the nav's
//! lists (their section pages still list them, marked); they stay in the reading order.

use std::collections::HashMap;

use serde::Serialize;

use crate::content::{PageKind, Site, url};
use crate::text::{escape_html, escape_visible};

#[derive(Debug)]
pub struct NavItem {
    pub title: String,
    pub href: String,
    pub current: bool,
    pub open: bool,
    pub children: Vec<NavItem>,
    pub more: Option<More>,
}

#[derive(Debug)]
pub struct More {
    pub count: usize,
    pub href: String,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub title: String,
    pub href: String,
}

/// Reading order of the site, computed once and shared by every page.
pub struct Nav<'s> {
    site: &'s Site,
    order: Vec<usize>,
    position: HashMap<usize, usize>,
    /// Per section, the documents the nav lists: the section's pages that are not obsolete.
    listed: Vec<Vec<usize>>,
    max_pages: usize,
}

impl<'s> Nav<'s> {
    pub fn new(site: &'s Site) -> Nav<'s> {
        let order = site.nav_order();
        let position = order
            .iter()
            .enumerate()
            .map(|(pos, &page)| (page, pos))
            .collect();
        let listed = site
            .sections
            .iter()
            .map(|s| {
                s.pages
                    .iter()
                    .copied()
                    .filter(|&p| !site.pages[p].is_obsolete())
                    .collect()
            })
            .collect();
        Nav {
            site,
            order,
            position,
            listed,
            max_pages: site.config.nav.max_section_pages.max(1),
        }
    }

    /// Pages in reading order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    fn link(&self, from: &str, page: usize) -> Link {
        let p = &self.site.pages[page];
        Link {
            title: p.meta.title.clone(),
            href: url::relative_href(from, &p.url),
        }
    }

    /// The nav tree as seen from `page`.
    pub fn tree(&self, page: usize) -> Vec<NavItem> {
        let p = &self.site.pages[page];
        self.top_level(&p.url, page, &self.site.ancestors(p.section))
    }

    /// The nav tree for a generated page (tag pages) in folder `dir` (`tags/`): every section
    /// closed, nothing current.
    pub fn tree_outside_content(&self, dir: &str) -> Vec<NavItem> {
        self.top_level(&format!("{dir}x.html"), usize::MAX, &[])
    }

    fn top_level(&self, from: &str, current: usize, open_sections: &[usize]) -> Vec<NavItem> {
        let root = self.site.root_section();
        let mut items: Vec<NavItem> = self.listed[0]
            .iter()
            .map(|&p| self.page_item(from, p, current))
            .collect();
        items.extend(
            root.subsections
                .iter()
                .map(|&s| self.section_item(from, s, current, open_sections)),
        );
        items
    }

    fn page_item(&self, from: &str, p: usize, current: usize) -> NavItem {
        let link = self.link(from, p);
        NavItem {
            title: link.title,
            href: link.href,
            current: p == current,
            open: false,
            children: Vec::new(),
            more: None,
        }
    }

    fn section_item(
        &self,
        from: &str,
        section: usize,
        current: usize,
        open_sections: &[usize],
    ) -> NavItem {
        let s = &self.site.sections[section];
        let link = self.link(from, s.page);
        let open = open_sections.contains(&section);
        let mut item = NavItem {
            title: link.title,
            href: link.href.clone(),
            current: s.page == current,
            open,
            children: Vec::new(),
            more: None,
        };
        if open {
            let pages = &self.listed[section];
            let window = window(pages, current, self.max_pages);
            item.children.extend(
                pages[window.clone()]
                    .iter()
                    .map(|&p| self.page_item(from, p, current)),
            );
            if window.len() < pages.len() {
                item.more = Some(More {
                    count: pages.len(),
                    href: link.href,
                });
            }
            item.children.extend(
                s.subsections
                    .iter()
                    .map(|&sub| self.section_item(from, sub, current, open_sections)),
            );
        }
        item
    }

    /// Home, then each section above `page` (not the page itself).
    pub fn breadcrumbs(&self, page: usize) -> Vec<Link> {
        let site = self.site;
        let p = &site.pages[page];
        let mut sections = site.ancestors(p.section);
        if matches!(p.kind, PageKind::Section(_)) {
            sections.pop();
        }
        sections
            .iter()
            .map(|&s| self.link(&p.url, site.sections[s].page))
            .collect()
    }

    pub fn prev_next(&self, page: usize) -> (Option<Link>, Option<Link>) {
        let from = &self.site.pages[page].url;
        let Some(&pos) = self.position.get(&page) else {
            return (None, None);
        };
        let prev = pos.checked_sub(1).map(|p| self.link(from, self.order[p]));
        let next = self.order.get(pos + 1).map(|&p| self.link(from, p));
        (prev, next)
    }
}

/// The nav tree as HTML: nested lists in `nav`, open sections in `<details open>`, the current
/// page marked with `aria-current`. Built in Rust rather than a recursive template macro: it is
/// on every page, and a Tera macro per item was a third of the build time at 10,000 pages. It is
/// also the largest part of a page, so its markup is bare: `kbpub.css` styles it by position
/// (`.nav li`, `.nav a`), and only the root list, open sections and the "All N pages" link carry
/// a class.
pub fn to_html(items: &[NavItem]) -> String {
    let mut out = String::with_capacity(items.len() * 80);
    write_list(items, None, " class=\"nav-root\"", &mut out);
    out
}

fn write_list(items: &[NavItem], more: Option<&More>, class: &str, out: &mut String) {
    out.push_str(&format!("<ul{class}>"));
    for item in items {
        out.push_str(if item.open {
            "\n<li class=\"is-open\">"
        } else {
            "\n<li>"
        });
        let title = escape_visible(&item.title);
        let current = if item.current {
            " aria-current=\"page\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<a href=\"{}\"{current}>{title}</a>",
            escape_html(&item.href)
        ));
        if !item.children.is_empty() || item.more.is_some() {
            let open = if item.open || item.current {
                " open"
            } else {
                ""
            };
            out.push_str(&format!(
                "<details{open}><summary aria-label=\"{title}: show or hide pages\"></summary>"
            ));
            write_list(&item.children, item.more.as_ref(), "", out);
            out.push_str("</details>");
        }
        out.push_str("</li>");
    }
    if let Some(more) = more {
        out.push_str(&format!(
            "\n<li class=\"nav-more\"><a href=\"{}\">All {} pages →</a></li>",
            escape_html(&more.href),
            more.count
        ));
    }
    out.push_str("</ul>");
}

/// The range of at most `max` entries of `pages` around `current` (the start when absent).
fn window(pages: &[usize], current: usize, max: usize) -> std::ops::Range<usize> {
    if pages.len() <= max {
        return 0..pages.len();
    }
    let center = pages.iter().position(|&p| p == current).unwrap_or(0);
    let start = center.saturating_sub(max / 2).min(pages.len() - max);
    start..start + max
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn window_is_bounded_and_contains_current() {
        let pages: Vec<usize> = (0..100).collect();
        assert_eq!(window(&pages, 50, 10), 45..55);
        assert_eq!(window(&pages, 1, 10), 0..10);
        assert_eq!(window(&pages, 99, 10), 90..100);
        assert_eq!(window(&pages[..5], 3, 10), 0..5);
    }
}

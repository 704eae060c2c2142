//! The site's URL layout: where a content file is written, the id derived from its path, and the
//! relative href from one page to another. Output mirrors `content/` (`sops/x.md` ->
//! `sops/x.html`), so relative asset paths in documents keep working, and every link is relative
//! and ends in a file name, so the site works from a web server and from disk.

use std::path::Path;

/// `sops/x.md` -> `sops/x.html`; `sops/_index.md` -> `sops/index.html`.
pub fn page_url(rel_path: &str) -> String {
    let stem = rel_path.strip_suffix(".md").unwrap_or(rel_path);
    match stem.strip_suffix("_index") {
        Some(dir) => format!("{dir}index.html"),
        None => format!("{stem}.html"),
    }
}

/// `sops/asn.md` -> `sops-asn`; `sops/_index.md` -> `sops`; `_index.md` -> `home`.
pub fn derived_id(rel_path: &str) -> String {
    let stem = rel_path.strip_suffix(".md").unwrap_or(rel_path);
    let stem = stem
        .strip_suffix("_index")
        .unwrap_or(stem)
        .trim_end_matches('/');
    if stem.is_empty() {
        return "home".to_string();
    }
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The folder part of a slash path: `a/b/c.md` -> `a/b`; `c.md` -> `""`.
pub fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// `sops/asn-rejects.md` -> `asn-rejects`.
pub fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".md").unwrap_or(name)
}

/// `incident-reviews` -> `Incident reviews`.
pub fn title_from_slug(slug: &str) -> String {
    let words = slug.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A base URL that paths can be appended to: `https://kb.example.com/docs` ->
/// `https://kb.example.com/docs/`.
pub fn base_with_slash(base_url: &str) -> String {
    if base_url.ends_with('/') {
        base_url.to_string()
    } else {
        format!("{base_url}/")
    }
}

/// A relative path with `/` separators on every platform.
pub fn to_slash(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves `link` (relative, with `..`) against the folder `base`; `None` if it escapes the root.
pub fn join(base: &str, link: &str) -> Option<String> {
    let mut parts: Vec<&str> = if base.is_empty() {
        Vec::new()
    } else {
        base.split('/').collect()
    };
    for part in link.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The href that leads from the page at `from` to the file at `to` (both root-relative).
pub fn relative_href(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = parent_dir(from)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut href = "../".repeat(from_dir.len() - common);
    href.push_str(&to_parts[common..].join("/"));
    href
}

/// `href` with `#anchor` appended when there is one.
pub fn with_anchor(mut href: String, anchor: Option<&str>) -> String {
    if let Some(anchor) = anchor {
        href.push('#');
        href.push_str(anchor);
    }
    href
}

/// The prefix that leads from the page at `from` to the site root: `""`, `"../"`, ...
pub fn root_prefix(from: &str) -> String {
    "../".repeat(from.matches('/').count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_ids() {
        assert_eq!(page_url("sops/x.md"), "sops/x.html");
        assert_eq!(page_url("sops/_index.md"), "sops/index.html");
        assert_eq!(page_url("_index.md"), "index.html");
        assert_eq!(derived_id("sops/Asn Rejects.md"), "sops-asn-rejects");
        assert_eq!(derived_id("sops/deep/_index.md"), "sops-deep");
        assert_eq!(derived_id("_index.md"), "home");
    }

    #[test]
    fn relative_hrefs() {
        assert_eq!(relative_href("sops/x.html", "sops/y.html"), "y.html");
        assert_eq!(
            relative_href("sops/x.html", "faqs/y.html"),
            "../faqs/y.html"
        );
        assert_eq!(relative_href("index.html", "faqs/y.html"), "faqs/y.html");
        assert_eq!(
            relative_href("a/b/c.html", "index.html"),
            "../../index.html"
        );
        assert_eq!(relative_href("a/b/c.html", "a/d.html"), "../d.html");
        assert_eq!(root_prefix("a/b/c.html"), "../../");
    }

    #[test]
    fn join_resolves_dots_and_refuses_escapes() {
        assert_eq!(join("sops", "../faqs/x.md").as_deref(), Some("faqs/x.md"));
        assert_eq!(join("", "./x.md").as_deref(), Some("x.md"));
        assert_eq!(join("", "../x.md"), None);
    }
}

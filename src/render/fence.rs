//! A fenced code block's info string, read once for every writer: the language (first word), a
//! `title="..."` shown above the code, and highlighted lines (`{2,4-5}`), as in
//! ```` ```yaml title="partner.yaml" {2,4-5} ````. A `mermaid` block is a diagram, not code.

use std::ops::RangeInclusive;

use pulldown_cmark::CodeBlockKind;

/// What a code block's fence says about it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The language, empty when none was given (and for indented code).
    pub lang: String,
    /// The block's title (`title="partner.yaml"`), as written.
    pub title: Option<String>,
    /// Highlighted lines, 1-based and inclusive.
    pub lines: Vec<RangeInclusive<usize>>,
}

/// The language of process maps: their source becomes a diagram on the site.
pub const MERMAID: &str = "mermaid";

impl Fence {
    pub fn of(kind: &CodeBlockKind<'_>) -> Fence {
        match kind {
            CodeBlockKind::Fenced(info) => Fence::parse(info),
            CodeBlockKind::Indented => Fence::default(),
        }
    }

    /// Reads an info string: the language up to the first space, comma or `{`, then any
    /// `title="..."` (or `title='...'`) and one `{...}` line list, in either order. Anything else
    /// is ignored, as CommonMark leaves the rest of an info string to the renderer.
    pub fn parse(info: &str) -> Fence {
        let info = info.trim();
        let lang_end = info.find([' ', ',', '{']).unwrap_or(info.len());
        let mut fence = Fence {
            lang: info[..lang_end].to_string(),
            ..Fence::default()
        };
        let mut rest = &info[lang_end..];
        while let Some(start) = rest.find(['t', '{']) {
            rest = &rest[start..];
            if let Some(after) = rest.strip_prefix("title=") {
                let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
                let (title, next) = match quote {
                    Some(q) => match after[1..].find(q) {
                        Some(end) => (&after[1..1 + end], &after[end + 2..]),
                        None => (&after[1..], ""),
                    },
                    None => {
                        let end = after.find(' ').unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                fence.title = Some(title.to_string()).filter(|t| !t.is_empty());
                rest = next;
            } else if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').unwrap_or(after.len());
                fence.lines = line_ranges(&after[..end]);
                rest = after.get(end + 1..).unwrap_or("");
            } else {
                rest = &rest[1..];
            }
        }
        fence
    }

    pub fn is_mermaid(&self) -> bool {
        self.lang.eq_ignore_ascii_case(MERMAID)
    }

    /// Whether 1-based line `line` is highlighted.
    pub fn highlights(&self, line: usize) -> bool {
        self.lines.iter().any(|r| r.contains(&line))
    }
}

/// `2,4-5` -> `[2..=2, 4..=5]`; parts that are not numbers or ranges are skipped.
fn line_ranges(list: &str) -> Vec<RangeInclusive<usize>> {
    list.split(',')
        .filter_map(|part| {
            let part = part.trim();
            let (start, end) = part.split_once('-').unwrap_or((part, part));
            let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
            (start >= 1 && start <= end).then_some(start..=end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_title_and_lines() {
        let f = Fence::parse("yaml title=\"partner.yaml\" {2,4-5}");
        assert_eq!(f.lang, "yaml");
        assert_eq!(f.title.as_deref(), Some("partner.yaml"));
        assert_eq!(f.lines, vec![2..=2, 4..=5]);
        assert!(f.highlights(4) && f.highlights(5) && !f.highlights(3));
    }

    #[test]
    fn lines_before_the_title_and_other_forms() {
        let f = Fence::parse("json{1} title='a b.json'");
        assert_eq!(
            (f.lang.as_str(), f.title.as_deref(), f.lines),
            ("json", Some("a b.json"), vec![1..=1])
        );
        assert_eq!(
            Fence::parse("sh title=run.sh").title.as_deref(),
            Some("run.sh")
        );
        assert_eq!(Fence::parse("rust,ignore").lang, "rust");
        assert_eq!(Fence::parse("text {x,3-1,7}").lines, vec![7..=7]);
        assert_eq!(Fence::parse("").lang, "");
        assert!(Fence::parse("Mermaid").is_mermaid());
        assert_eq!(
            Fence::parse("text title=\"unclosed").title.as_deref(),
            Some("unclosed")
        );
    }
}

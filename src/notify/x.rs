//! X posts (reference §3.2): the text of a notice from the destination's Tera template, counted
//! as X counts it — weighted characters (most of Latin, Greek, Cyrillic and common punctuation
//! weigh 1, everything else 2; twitter-text's ranges), every URL 23, at most 280 — and shortened
//! by cutting the title when it does not fit; and what X's answers mean for the delivery.

use super::event::Change;
use crate::config::notify::X_TEMPLATE;

/// The most an X post may weigh.
pub const MAX_WEIGHT: usize = 280;
/// What any URL weighs (t.co wrapping).
const URL_WEIGHT: usize = 23;
/// Code points weighing 1; all others weigh 2.
const LIGHT: [(u32, u32); 4] = [
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
];

/// The weighted length of `text` as X counts it.
pub fn weight(text: &str) -> usize {
    let chars = |s: &str| -> usize {
        s.chars()
            .map(|c| {
                let light = LIGHT
                    .iter()
                    .any(|&(lo, hi)| (lo..=hi).contains(&(c as u32)));
                if light { 1 } else { 2 }
            })
            .sum()
    };
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    let mut total = 0;
    let mut last = 0;
    for link in finder.links(text) {
        total += chars(&text[last..link.start()]) + URL_WEIGHT;
        last = link.end();
    }
    total + chars(&text[last..])
}

/// The post for `change` from `template` (default [`X_TEMPLATE`]), its title cut (with `…`)
/// until the text fits in [`MAX_WEIGHT`]. `Err`: the template fails, or even without a title
/// the text is too long.
pub fn text(template: Option<&str>, change: &Change, date: &str) -> Result<String, String> {
    let template = template.unwrap_or(X_TEMPLATE);
    let render = |title: &str| {
        let mut context = tera::Context::new();
        context.insert("title", title);
        context.insert("url", &change.url);
        context.insert("doc_id", &change.doc_id);
        context.insert("doc_type", &change.doc_type);
        context.insert("change", &change.change);
        context.insert("date", date);
        tera::Tera::one_off(template, &context, false)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("the X template failed for {}: {e}", change.doc_id))
    };
    let mut title: Vec<char> = change.title.chars().collect();
    let full = render(&change.title)?;
    if weight(&full) <= MAX_WEIGHT && !full.is_empty() {
        return Ok(full);
    }
    while !title.is_empty() {
        title.pop();
        let cut: String = title.iter().collect::<String>().trim_end().to_string() + "…";
        let text = render(&cut)?;
        if weight(&text) <= MAX_WEIGHT {
            return Ok(text);
        }
    }
    Err(format!(
        "the X post for {} is empty or weighs over {MAX_WEIGHT} even without its title: shorten `template`",
        change.doc_id
    ))
}

/// X's 403 for a text it already has (reference §3.2): the post exists, so the notice is done.
pub fn is_duplicate(status: Option<u16>, message: &str) -> bool {
    status == Some(403) && message.contains("duplicate content")
}

/// What to do about a 403 that is not a duplicate.
pub fn forbidden_help(message: &str) -> Option<&'static str> {
    message.contains("unsupported-authentication").then_some(
        "X posts need an OAuth 2.0 user-context token (or OAuth 1.0a user tokens); an app-only bearer token cannot post",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::notify::ChangeKind;

    fn change(title: &str) -> Change {
        Change {
            target: "community".into(),
            change: ChangeKind::Created,
            doc_id: "notice-x".into(),
            title: title.into(),
            doc_type: Some("notice".into()),
            audience: "partner".into(),
            source: "content/notices/x.md".into(),
            url: "https://community.example.com/kb/notice-x?with=a-very-long-query-string-that-x-shortens".into(),
            site_url: "https://kb.example.com/notices/x.html".into(),
            remote_id: None,
            version: None,
            content_hash: None,
            approved_hash: None,
            approval_state: None,
            approvals: Vec::new(),
        }
    }

    #[test]
    fn urls_weigh_23_and_wide_characters_2() {
        assert_eq!(weight("hello"), 5);
        assert_eq!(
            weight("see https://example.com/a/very/long/path/indeed"),
            4 + 23
        );
        assert_eq!(weight("日本"), 4);
        assert_eq!(weight("café – naïve"), 12);
        assert_eq!(weight("🚚"), 2);
    }

    #[test]
    fn a_long_title_is_cut_to_fit_and_keeps_the_url() {
        let long = "Change notice: ".to_string() + &"word ".repeat(80);
        let text = text(None, &change(&long), "2026-12-02").unwrap();
        assert!(weight(&text) <= MAX_WEIGHT, "{}", weight(&text));
        assert!(
            text.ends_with("with=a-very-long-query-string-that-x-shortens"),
            "{text}"
        );
        assert!(text.contains("…"));
        let wide = "通知".repeat(200);
        assert!(weight(&text_of(&wide)) <= MAX_WEIGHT);
    }

    fn text_of(title: &str) -> String {
        text(
            Some("{{ title }} ({{ change }} {{ date }}) {{ url }}"),
            &change(title),
            "2026-12-02",
        )
        .unwrap()
    }

    #[test]
    fn the_template_sees_the_change() {
        assert_eq!(
            text_of("AS2 certificate rotation"),
            "AS2 certificate rotation (created 2026-12-02) https://community.example.com/kb/notice-x?with=a-very-long-query-string-that-x-shortens"
        );
        let too_long = "x".repeat(300);
        assert!(
            text(Some(&too_long), &change("t"), "d")
                .unwrap_err()
                .contains("shorten `template`")
        );
    }
}

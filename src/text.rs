//! Text helpers at the bottom of the crate, for every layer: escaping that keeps data from ever
//! becoming markup, visible markers for invisible and control characters, and display-safe strings
//! for terminals and logs. One function serves HTML layouts and Markdown bodies alike: HTML and
//! Markdown metacharacters become numeric character references, which both HTML and CommonMark
//! show as the literal character and never parse as syntax. Control characters and invisible
//! bidi / zero-width characters are made visible, so hostile text cannot reorder or hide what a
//! reader sees.

/// Escapes `input` for use in HTML and Markdown (Tera's autoescape function for kbpub).
pub fn escape_markup(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 4);
    for c in input.chars() {
        match c {
            // HTML, Markdown and autolink metacharacters: numeric references are literal text.
            '&' | '<' | '>' | '"' | '\'' | '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '('
            | ')' | '#' | '+' | '-' | '.' | '!' | '|' | '~' | ':' | '@' | '=' | '^' | '$' => {
                out.push_str("&#");
                out.push_str(&(c as u32).to_string());
                out.push(';');
            }
            c => match visible_form(c) {
                Some(shown) => out.push_str(&escape_markup(&shown)),
                None => out.push(c),
            },
        }
    }
    out
}

/// `input` with every character that is invisible or changes how text around it is shown
/// replaced by a visible form (see [`visible_form`]); for plain-text places such as page titles.
/// The one function that decides how such characters look: Markdown bodies ([`escape_markup`]),
/// layouts, the nav, the feed and search ([`escape_visible`]), and terminal and banner text
/// ([`display_safe`]) all show them through it.
pub fn visible(input: &str) -> String {
    // Printable ASCII has nothing to show differently (the common case, checked byte-wise).
    let printable_ascii = input.bytes().all(|b| (b' '..=b'~').contains(&b));
    if printable_ascii || !input.chars().any(|c| visible_form(c).is_some()) {
        return input.to_string();
    }
    input
        .chars()
        .fold(String::with_capacity(input.len() + 16), |mut out, c| {
            match visible_form(c) {
                Some(shown) => out.push_str(&shown),
                None => out.push(c),
            }
            out
        })
}

/// Line breaks and tabs become a space (in Markdown a newline could start a heading or a list);
/// other C0 controls and DEL their Unicode "control pictures"; bidi and zero-width characters
/// `[U+202E]`. `None` for characters shown as they are.
fn visible_form(c: char) -> Option<String> {
    match c {
        '\n' | '\r' | '\t' => Some(" ".into()),
        '\u{0}'..='\u{1f}' => Some(
            char::from_u32(0x2400 + c as u32)
                .unwrap_or('\u{fffd}')
                .to_string(),
        ),
        '\u{7f}' => Some('\u{2421}'.to_string()),
        c if is_invisible_format(c) => Some(format!("[U+{:04X}]", c as u32)),
        _ => None,
    }
}

/// Bidirectional overrides and isolates, zero-width characters and the BOM: characters that
/// change or hide what is displayed without being visible themselves.
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Text as readers must see it, for an HTML text node or attribute: [`visible`], then
/// [`escape_html`].
pub fn escape_visible(input: &str) -> String {
    escape_html(&visible(input))
}

/// Text from outside (a server's message, a data value) for a terminal, a log line or a banner:
/// [`visible`], cut to `max` characters (then `…`).
pub fn display_safe(text: &str, max: usize) -> String {
    let shown = visible(text);
    match shown.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
    }
}

/// Escapes text for an HTML text node or a double-quoted attribute (no Markdown concerns).
pub fn escape_html(input: &str) -> String {
    if !input
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        return input.to_string();
    }
    let mut out = String::with_capacity(input.len() + 16);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markdown_to_html(md: &str) -> String {
        let mut html = String::new();
        pulldown_cmark::html::push_html(
            &mut html,
            pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::all()),
        );
        html
    }

    #[test]
    fn html_metacharacters_are_references() {
        assert_eq!(escape_markup("<script>"), "&#60;script&#62;");
    }

    #[test]
    fn markdown_link_to_javascript_stays_text() {
        let hostile = "[x](javascript:alert(1)) **b** `c` | d";
        let html = markdown_to_html(&format!("before {} after", escape_markup(hostile)));
        assert!(!html.contains("<a"), "{html}");
        assert!(!html.contains("<strong>"), "{html}");
        assert!(!html.contains("<code>"), "{html}");
        assert!(
            html.contains("[x](javascript:alert(1)) **b** `c` | d"),
            "{html}"
        );
    }

    #[test]
    fn newlines_cannot_start_blocks() {
        let html = markdown_to_html(&format!(
            "a {}",
            escape_markup("x\n# heading\n- item\n1. one")
        ));
        assert!(!html.contains("<h1"), "{html}");
        assert!(!html.contains("<li"), "{html}");
    }

    #[test]
    fn bidi_and_zero_width_become_visible() {
        assert_eq!(
            escape_markup("a\u{202e}b\u{200b}c"),
            "a&#91;U&#43;202E&#93;b&#91;U&#43;200B&#93;c"
        );
        assert_eq!(escape_markup("\u{1b}[31m"), "\u{241b}&#91;31m");
    }
}

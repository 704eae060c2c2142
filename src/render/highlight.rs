//! Syntax highlighting of fenced code blocks with syntect, as CSS classes, so the colours live in
//! one stylesheet with a light and a dark theme instead of inline styles in every page. Code is
//! parsed once and styled by both themes; each run of text gets the index of its colour in each
//! theme's palette (`l3 d7`) and its font style (`lb`, `di`, ...), and adjacent runs styled alike
//! are one span. Classes named after syntect's scopes (`hl-meta hl-function hl-python ...`, nested)
//! were most of a page's bytes. Highlighted blocks are memoised by content: documentation repeats
//! the same snippets often, and highlighting is the most expensive step of rendering a page.

use std::collections::HashMap;
use std::fmt::Write;
use std::hash::{BuildHasher, RandomState};
use std::sync::{LazyLock, Mutex};

use syntect::highlighting::{
    Color, FontStyle, HighlightState, Highlighter, RangedHighlightIterator, Style, Theme, ThemeSet,
};
use syntect::parsing::{ParseState, ScopeStack, SyntaxSet};
use syntect::util::LinesWithEndings;

use crate::text::escape_html;

const LIGHT_THEME: &str = "InspiredGitHub";
const DARK_THEME: &str = "base16-ocean.dark";
/// Enough for every distinct snippet of a large site; bounds memory on pathological input.
const CACHE_LIMIT: usize = 4096;

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);
static CACHE: LazyLock<Mutex<HashMap<u64, String>>> = LazyLock::new(Default::default);
static HASHER: LazyLock<RandomState> = LazyLock::new(RandomState::new);
static THEMES: LazyLock<[Palette; 2]> = LazyLock::new(|| {
    let mut themes = ThemeSet::load_defaults().themes;
    let mut take = |name: &str| Palette::new(themes.remove(name).expect("a syntect default theme"));
    [take(LIGHT_THEME), take(DARK_THEME)]
});

/// A theme and the distinct foreground colours its rules can give text, in a fixed order: a
/// colour's class is its index. Every style the highlighter resolves takes its foreground from a
/// rule or the default, so the stylesheet can list them all before any page is rendered.
struct Palette {
    theme: Theme,
    colours: Vec<Color>,
}

impl Palette {
    fn new(theme: Theme) -> Palette {
        let mut colours: Vec<Color> = theme
            .settings
            .foreground
            .into_iter()
            .chain(theme.scopes.iter().filter_map(|item| item.style.foreground))
            .collect();
        colours.sort_by_key(|c| (c.r, c.g, c.b, c.a));
        colours.dedup();
        Palette { theme, colours }
    }

    /// The classes of `style` in this theme (`prefix` `l` or `d`): colour index and font style.
    fn classes(&self, style: &Style, prefix: char, out: &mut String) {
        if let Some(index) = self.colours.iter().position(|c| *c == style.foreground) {
            let _ = write!(out, " {prefix}{index}");
        }
        for (flag, letter) in FONT_STYLES {
            if style.font_style.contains(flag) {
                let _ = write!(out, " {prefix}{letter}");
            }
        }
    }

    /// The rules for this theme's classes under `scope`.
    fn rules(&self, scope: &str, prefix: char) -> String {
        let mut css = String::new();
        let settings = &self.theme.settings;
        let _ = write!(css, "{scope} pre.code {{");
        if let Some(fg) = settings.foreground {
            let _ = write!(css, " color: {};", hex(fg));
        }
        if let Some(bg) = settings.background {
            let _ = write!(css, " background-color: {};", hex(bg));
        }
        css.push_str(" }\n");
        for (index, colour) in self.colours.iter().enumerate() {
            let _ = writeln!(
                css,
                "{scope} pre.code .{prefix}{index} {{ color: {} }}",
                hex(*colour)
            );
        }
        for (_, letter) in FONT_STYLES {
            let _ = writeln!(
                css,
                "{scope} pre.code .{prefix}{letter} {{ {} }}",
                font_rule(letter, true)
            );
        }
        css
    }
}

const FONT_STYLES: [(FontStyle, char); 3] = [
    (FontStyle::BOLD, 'b'),
    (FontStyle::ITALIC, 'i'),
    (FontStyle::UNDERLINE, 'u'),
];

fn font_rule(letter: char, on: bool) -> &'static str {
    match (letter, on) {
        ('b', true) => "font-weight: bold",
        ('b', false) => "font-weight: normal",
        ('i', true) => "font-style: italic",
        ('i', false) => "font-style: normal",
        (_, true) => "text-decoration: underline",
        (_, false) => "text-decoration: none",
    }
}

fn hex(c: Color) -> String {
    if c.a == 0xff {
        format!("#{:02x}{:02x}{:02x}", c.r, c.g, c.b)
    } else {
        format!("#{:02x}{:02x}{:02x}{:02x}", c.r, c.g, c.b, c.a)
    }
}

/// The inner HTML of `<code>` for `code` in language `lang` (escaped text when unknown).
pub fn highlight(code: &str, lang: &str) -> String {
    let Some(syntax) = SYNTAXES.find_syntax_by_token(lang) else {
        return escape_html(code);
    };
    let key = HASHER.hash_one((code, lang));
    if let Some(html) = CACHE.lock().expect("cache lock").get(&key) {
        return html.clone();
    }
    let Some(html) = styled_html(code, syntax) else {
        return escape_html(code);
    };
    let mut cache = CACHE.lock().expect("cache lock");
    if cache.len() < CACHE_LIMIT {
        cache.insert(key, html.clone());
    }
    html
}

/// `code` parsed once and styled by both themes, as spans of palette classes; `None` when the
/// syntax definition fails on it.
fn styled_html(code: &str, syntax: &syntect::parsing::SyntaxReference) -> Option<String> {
    let [light, dark] = &*THEMES;
    let highlighters = [
        Highlighter::new(&light.theme),
        Highlighter::new(&dark.theme),
    ];
    let mut states = highlighters
        .each_ref()
        .map(|h| HighlightState::new(h, ScopeStack::new()));
    let mut parser = ParseState::new(syntax);
    let mut html = String::with_capacity(code.len() * 2);
    let mut run = Run::default();
    for line in LinesWithEndings::from(code) {
        let ops = parser.parse_line(line, &SYNTAXES).ok()?;
        let [light_state, dark_state] = &mut states;
        let light_runs: Vec<_> =
            RangedHighlightIterator::new(light_state, &ops, line, &highlighters[0]).collect();
        let dark_runs: Vec<_> =
            RangedHighlightIterator::new(dark_state, &ops, line, &highlighters[1]).collect();
        // Both themes see the same scope changes; split at the union of their boundaries anyway.
        let (mut l, mut d, mut at) = (0, 0, 0);
        while l < light_runs.len() && d < dark_runs.len() {
            let end = light_runs[l].2.end.min(dark_runs[d].2.end);
            let mut classes = String::new();
            if !(light.is_plain(&light_runs[l].0) && dark.is_plain(&dark_runs[d].0)) {
                light.classes(&light_runs[l].0, 'l', &mut classes);
                dark.classes(&dark_runs[d].0, 'd', &mut classes);
            }
            run.push(classes, &line[at..end], &mut html);
            at = end;
            l += usize::from(light_runs[l].2.end == end);
            d += usize::from(dark_runs[d].2.end == end);
        }
    }
    run.finish(&mut html);
    Some(html)
}

impl Palette {
    /// Whether `style` is the theme's default: such text needs no span.
    fn is_plain(&self, style: &Style) -> bool {
        Some(style.foreground) == self.theme.settings.foreground && style.font_style.is_empty()
    }
}

/// Text styled alike, held until the style changes, so adjacent runs make one span.
#[derive(Default)]
struct Run {
    classes: String,
    text: String,
}

impl Run {
    fn push(&mut self, classes: String, text: &str, html: &mut String) {
        if classes != self.classes {
            self.finish(html);
            self.classes = classes;
        }
        self.text.push_str(text);
    }

    fn finish(&mut self, html: &mut String) {
        if self.text.is_empty() {
            return;
        }
        let text = escape_html(&std::mem::take(&mut self.text));
        if self.classes.is_empty() {
            html.push_str(&text);
        } else {
            let _ = write!(html, "<span class=\"{}\">{text}</span>", &self.classes[1..]);
        }
    }
}

/// True when `lang` names a language the highlighter knows.
pub fn knows(lang: &str) -> bool {
    SYNTAXES.find_syntax_by_token(lang).is_some()
}

/// The stylesheet for the palette classes: light by default, dark under `data-theme="dark"` or
/// when the reader's system prefers dark and no theme was chosen. The dark rules are more
/// specific than the light ones, and first undo the light theme's font styles.
pub fn stylesheet() -> String {
    let [light, dark] = &*THEMES;
    let dark_rules = |scope: &str| {
        let mut css = String::new();
        for (_, letter) in FONT_STYLES {
            let _ = writeln!(
                css,
                "{scope} pre.code .l{letter} {{ {} }}",
                font_rule(letter, false)
            );
        }
        css + &dark.rules(scope, 'd')
    };
    let mut css = String::from("/* generated by kbpub from syntect themes */\n");
    css.push_str(&light.rules(":root", 'l'));
    css.push_str(&dark_rules(":root[data-theme=\"dark\"]"));
    css.push_str("@media (prefers-color-scheme: dark) {\n");
    css.push_str(&dark_rules(":root:not([data-theme=\"light\"])"));
    css.push_str("}\n");
    css
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_language_gets_palette_classes_in_few_spans() {
        let html = highlight("fn main() { let x = \"hi\"; }\n", "rust");
        assert!(html.contains("<span class=\"l"), "{html}");
        assert!(
            html.contains(" d"),
            "every styled span names its dark colour too: {html}"
        );
        assert!(!html.contains("hl-"), "{html}");
        let text: String = html
            .split('<')
            .map(|part| part.split_once('>').map_or(part, |(_, text)| text))
            .collect();
        assert_eq!(text, "fn main() { let x = &quot;hi&quot;; }\n");
    }

    #[test]
    fn unknown_language_is_escaped_text() {
        assert_eq!(highlight("ISA*00*<x>~", "x12"), "ISA*00*&lt;x&gt;~");
    }

    #[test]
    fn stylesheet_has_every_class_a_page_can_use() {
        let css = stylesheet();
        let html = highlight("#!/bin/sh\n# comment\necho \"hi\" && ls -l $HOME\n", "bash");
        for class in html
            .split("class=\"")
            .skip(1)
            .flat_map(|rest| rest.split('"').next().unwrap().split(' '))
        {
            assert!(
                css.contains(&format!(":root pre.code .{class} "))
                    || css.contains(&format!("] pre.code .{class} ")),
                "{class}"
            );
        }
        assert!(css.contains(":root[data-theme=\"dark\"] pre.code .d0 {"));
        assert!(
            css.contains(":root pre.code {"),
            "the base rule styles code blocks"
        );
        assert!(css.contains("prefers-color-scheme: dark"));
    }
}

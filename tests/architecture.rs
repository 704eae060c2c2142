//! The house runs one way: every `crate::` path (and every `super::` path that climbs to the crate
//! root) in `src/` is read from the source and checked against the layer table below. A module may
//! use the modules of any layer below its own, the modules of its own layer that `SAME_LAYER`
//! allows, and nothing above; `ISOLATED` modules may use only what they list. A failure names
//! the file and line of each edge that breaks the rule. ARCHITECTURE.md draws the same table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, top first; each names the top-level modules of `src/` it holds (`main` is
/// `src/main.rs`).
const LAYERS: &[(&str, &[&str])] = &[
    ("command line", &["main", "cli"]),
    ("commands", &["serve", "check", "init", "audit", "sim"]),
    ("publishing", &["publish", "notify"]),
    ("approval", &["approval"]),
    ("site", &["site"]),
    ("render", &["render"]),
    ("load", &["data", "content"]),
    ("settings and HTTP", &["config", "net"]),
    ("bottom", &["text", "diag"]),
];

/// Edges allowed between two modules of the same layer (user, used).
const SAME_LAYER: &[(&str, &str)] = &[
    // Data-driven pages are generated documents (`content::Generated`).
    ("data", "content"),
    // A publish run fires its notifications, whose events are built from the run's report.
    ("publish", "notify"),
    ("notify", "publish"),
];

/// Modules that may use only the modules listed, whatever their layer. The simulators stand in
/// for the services our clients talk to: they share no code with those clients, only the bottom.
const ISOLATED: &[(&str, &[&str])] = &[("sim", &["text", "diag"])];

/// Edges that break the rules today, each with the file that holds it and why it is still there.
/// The test fails when one of them is no longer needed, so the list only ever shrinks.
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "src/sim/trading_grid.rs",
        "data",
        "the Trading Grid simulator serves the client's contract types; it needs its own",
    ),
    (
        "src/sim/trading_grid_data.rs",
        "data",
        "the Trading Grid simulator generates the client's contract types; it needs its own",
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Why `user` may not use `used`, or `None` when it may.
fn refusal(user: &str, used: &str) -> Option<String> {
    if let Some((_, allowed)) = ISOLATED.iter().find(|(m, _)| *m == user) {
        return (!allowed.contains(&used))
            .then(|| format!("`{user}` may use only {}", allowed.join(", ")));
    }
    let (Some(from), Some(to)) = (layer_of(user), layer_of(used)) else {
        return Some(format!("`{used}` is not in the layer table"));
    };
    if from < to {
        return None;
    }
    if from == to && SAME_LAYER.contains(&(user, used)) {
        return None;
    }
    let (name, _) = LAYERS[to];
    Some(if from == to {
        format!("`{used}` is in the same layer ({name}) and SAME_LAYER does not allow it")
    } else {
        format!(
            "`{used}` is in a layer above (`{name}` is above `{}`)",
            LAYERS[from].0
        )
    })
}

/// One use of another top-level module: the line and the module used.
#[derive(Debug, PartialEq)]
struct Edge {
    line: usize,
    used: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/<module>/...` or `src/<module>.rs`: the top-level module and how many `super::` reach
/// the crate root from the file (`src/a.rs` and `src/a/mod.rs`: 1; `src/a/b.rs`: 2).
fn module_of(relative: &Path) -> (String, usize) {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let top = parts[0].trim_end_matches(".rs").to_string();
    let depth = match parts.last().map(String::as_str) {
        Some("mod.rs") => parts.len() - 1,
        _ => parts.len(),
    };
    (top, depth)
}

/// `source` with comments and string and character literals blanked out (line breaks kept), so
/// only code is read.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize, k: usize| chars.get(i + k).copied();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if at(i, 1) == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i, 1) == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i, 1) == Some('*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i, 1) == Some('/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(blank(chars[i]));
                        i += 1;
                    }
                }
            }
            'r' if matches!(at(i, 1), Some('"') | Some('#'))
                && !chars[..i]
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_') =>
            {
                let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
                if at(i, 1 + hashes) != Some('"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                i += 2 + hashes;
                while i < chars.len() && !chars[i..].iter().collect::<String>().starts_with(&close)
                {
                    out.push(blank(chars[i]));
                    i += 1;
                }
                i += close.len();
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(&c) = chars.get(i) {
                        out.push(blank(c));
                    }
                    i += 1;
                }
                i += 1;
            }
            // A character literal ('x', '\n', '\u{1f}'), not a lifetime ('a).
            '\'' if at(i, 1) == Some('\\') || at(i, 2) == Some('\'') => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The identifier at the start of `text` (after spaces and line breaks).
fn leading_ident(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// The spans of inline modules (`mod tests { ... }`) in `code`, which a `super::` must climb too.
fn inline_modules(code: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + 4..];
        let Some(name) = leading_ident(rest) else {
            continue;
        };
        let after_name = &rest[rest.find(name).unwrap() + name.len()..];
        if !after_name.trim_start().starts_with('{') {
            continue;
        }
        let open = code.len() - after_name.trim_start().len();
        let mut level = 0;
        for (k, c) in code[open..].char_indices() {
            match c {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        spans.push((open, open + k));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    spans
}

/// Every other top-level module that `code` (of top-level module `own`, `depth` from the root)
/// names through `crate::`, `super::` climbing to the root, or a `use crate::{a, b}` group.
fn edges(code: &str, own: &str, depth: usize) -> Vec<Edge> {
    let line_at = |offset: usize| code[..offset].matches('\n').count() + 1;
    let inline = inline_modules(code);
    let mut roots = Vec::new();
    for prefix in ["crate::", "super::"] {
        for (at, _) in code.match_indices(prefix) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut end = at + prefix.len();
            if prefix == "super::" {
                let mut climbed = 1;
                while code[end..].starts_with("super::") {
                    climbed += 1;
                    end += "super::".len();
                }
                let nested = inline.iter().filter(|(a, b)| *a < at && at < *b).count();
                if climbed != depth + nested {
                    continue;
                }
            }
            roots.push((at, end));
        }
    }
    let mut found = Vec::new();
    for (at, end) in roots {
        let after = &code[end..];
        if let Some(group) = after.strip_prefix('{') {
            let mut level = 0;
            let mut item_start = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => level += 1,
                    '}' if level == 0 => {
                        found.extend(item(group, item_start, k, end + 1, &line_at));
                        break;
                    }
                    '}' => level -= 1,
                    ',' if level == 0 => {
                        found.extend(item(group, item_start, k, end + 1, &line_at));
                        item_start = k + 1;
                    }
                    _ => {}
                }
            }
        } else if let Some(used) = leading_ident(after) {
            found.push(Edge {
                line: line_at(at),
                used: used.to_string(),
            });
        }
    }
    found.retain(|e| e.used != own && e.used != "self");
    found.sort_by_key(|e| e.line);
    found
}

/// The module an item of a `use crate::{...}` group names.
fn item(
    group: &str,
    start: usize,
    end: usize,
    offset: usize,
    line_at: &dyn Fn(usize) -> usize,
) -> Option<Edge> {
    let text = &group[start..end];
    let used = leading_ident(text)?;
    let at = start + text.find(used)?;
    Some(Edge {
        line: line_at(offset + at),
        used: used.to_string(),
    })
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut excepted = BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let shown = format!("src/{}", relative.display());
        let (own, depth) = module_of(relative);
        if layer_of(&own).is_none() {
            broken.push(format!("{shown}: module `{own}` is not in the layer table"));
            continue;
        }
        let code = code_only(&std::fs::read_to_string(path).unwrap());
        for edge in edges(&code, &own, depth) {
            let Some(why) = refusal(&own, &edge.used) else {
                continue;
            };
            if KNOWN_EXCEPTIONS
                .iter()
                .any(|(file, used, _)| *file == shown && *used == edge.used)
            {
                excepted.insert((shown.clone(), edge.used.clone()));
                continue;
            }
            broken.push(format!(
                "{shown}:{}: `{own}` uses `{}`: {why}",
                edge.line, edge.used
            ));
        }
    }
    for (file, used, _) in KNOWN_EXCEPTIONS {
        if !excepted.contains(&(file.to_string(), used.to_string())) {
            broken.push(format!(
                "{file}: no longer uses `{used}`; remove it from KNOWN_EXCEPTIONS"
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "dependencies must run one way (see ARCHITECTURE.md, \"Layers\"):\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_module_of_the_table_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (_, modules) in LAYERS {
        for module in *modules {
            assert!(
                src.join(format!("{module}.rs")).is_file() || src.join(module).is_dir(),
                "the layer table names `{module}`, which src/ does not hold"
            );
        }
    }
}

#[test]
fn the_reader_finds_grouped_and_climbing_paths_and_skips_comments_and_strings() {
    let code = code_only(
        "use crate::{a::B, c::{d, e}};\n\
         // crate::f in a comment\n\
         let s = \"crate::g in a string\"; let r = r#\"crate::h\"#; let q = '\"';\n\
         use super::i::J;\n\
         fn k<'l>(x: &'l str) { crate::m::n(x) }\n\
         mod tests { use super::o; use super::super::p; }\n",
    );
    let used: Vec<(usize, String)> = edges(&code, "own", 1)
        .into_iter()
        .map(|e| (e.line, e.used))
        .collect();
    assert_eq!(
        used,
        [
            (1, "a".to_string()),
            (1, "c".to_string()),
            (4, "i".to_string()),
            (5, "m".to_string()),
            (6, "p".to_string())
        ]
    );
    assert!(edges("use super::x;", "own", 2).is_empty());
    assert_eq!(
        refusal("site", "publish").as_deref(),
        Some("`publish` is in a layer above (`publishing` is above `site`)")
    );
    assert_eq!(
        refusal("content", "data").as_deref(),
        Some("`data` is in the same layer (load) and SAME_LAYER does not allow it")
    );
    assert!(refusal("data", "content").is_none());
    assert!(refusal("sim", "data").is_some());
    assert!(refusal("publish", "site").is_none());
}

//! `KBPUB_<SECTION>_<KEY>`: environment variables that override settings of `[confluence]`,
//! `[community]`, `[salesforce]` and `[data]` before the file is checked. `__` goes one table deeper; in an array
//! of tables (`[[data.sources]]`) the segment is the entry's `name`. Keys and names match without
//! regard to case, `_` standing for `-`: `KBPUB_CONFLUENCE_BASE_URL`,
//! `KBPUB_DATA_SOURCES__TRADING_GRID__URL`. A value replacing a string is a string; any other
//! value is a TOML literal (`8`, `true`, `["a", "b"]`). Variables the file names as credentials
//! (`token_env`, `email_env`) are never read as overrides.
use super::Config;
use super::problem::{Key, value_at};
use crate::diag::Diagnostic;
use serde::Deserialize;

const PREFIX: &str = "KBPUB_";
const SECTIONS: [&str; 4] = ["confluence", "community", "salesforce", "data"];

#[derive(Debug, Clone)]
pub struct Override {
    pub var: String,
    section: &'static str,
    path: Vec<String>,
    value: String,
}

/// The overrides among `vars`, sorted by variable name.
pub fn from_vars(vars: impl Iterator<Item = (String, String)>) -> Vec<Override> {
    let mut found: Vec<Override> = vars
        .filter_map(|(var, value)| {
            let rest = var.strip_prefix(PREFIX)?;
            let section = SECTIONS.iter().find(|s| {
                rest.len() > s.len() + 1
                    && rest[..s.len()].eq_ignore_ascii_case(s)
                    && rest.as_bytes()[s.len()] == b'_'
            })?;
            let path = rest[section.len() + 1..]
                .split("__")
                .map(str::to_string)
                .collect();
            Some(Override {
                var,
                section,
                path,
                value,
            })
        })
        .collect();
    found.sort_by(|a, b| a.var.cmp(&b.var));
    found
}

/// The overrides that apply to the parsed file `table`: all but the variables the file names as
/// credentials.
pub fn applicable(table: &toml::Table, overrides: Vec<Override>) -> Vec<Override> {
    let credentials = credential_vars(table);
    overrides
        .into_iter()
        .filter(|o| !credentials.contains(&o.var))
        .collect()
}

/// Applies `overrides` (the [`applicable`] ones) to the parsed file `table` and checks the
/// result. On an error that the file alone has too, `file_error` gives it with its position;
/// else the error names the variable that brought it in.
pub fn apply(
    table: toml::Table,
    overrides: &[Override],
    file_error: impl FnOnce() -> Result<Config, Diagnostic>,
) -> Result<Config, Diagnostic> {
    let mut steps = vec![table];
    for o in overrides {
        let mut next = steps.last().expect("the file").clone();
        set(&mut next, o).map_err(|e| problem(o, e))?;
        steps.push(next);
    }
    let check = |t: &toml::Table| Config::deserialize(toml::Value::Table(t.clone()));
    let final_error = match check(steps.last().expect("the file")) {
        Ok(config) => return Ok(config),
        Err(e) => e.message().to_string(),
    };
    let errors: Vec<Option<String>> = steps
        .iter()
        .map(|t| check(t).err().map(|e| e.message().to_string()))
        .collect();
    if errors[0].as_deref() == Some(final_error.as_str()) {
        return file_error();
    }
    let blamed = (1..steps.len())
        .rev()
        .find(|&k| {
            errors[k].as_deref() == Some(final_error.as_str())
                && errors[k - 1].as_deref() != Some(final_error.as_str())
        })
        .unwrap_or(steps.len() - 1);
    Err(problem(&overrides[blamed - 1], final_error))
}

/// The override among `applied` that set the value at `path`, if one did: the last whose
/// change alone makes it differ from the value in the file's `text`.
pub fn setter<'o>(text: &str, applied: &'o [Override], path: &[Key]) -> Option<&'o Override> {
    if applied.is_empty() {
        return None;
    }
    let file: toml::Table = toml::from_str(text).ok()?;
    let written = value_at(&file, path);
    applied.iter().rev().find(|o| {
        let mut table = file.clone();
        set(&mut table, o).is_ok() && value_at(&table, path) != written
    })
}

fn problem(o: &Override, message: String) -> Diagnostic {
    Diagnostic::error(
        "config",
        format!("environment variable `{}`: {message}", o.var),
    )
    .help("see README, \"Overriding settings from the environment\"")
}

/// The environment variables the file names in `*_env` keys of the overridable sections.
fn credential_vars(table: &toml::Table) -> Vec<String> {
    fn walk(value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(t) => {
                for (key, v) in t {
                    match v {
                        toml::Value::String(name) if key.ends_with("_env") => {
                            out.push(name.clone())
                        }
                        _ => walk(v, out),
                    }
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for section in SECTIONS {
        if let Some(v) = table.get(section) {
            walk(v, &mut out);
        }
    }
    out
}

/// The key of `table` that `segment` names: an existing one matched without regard to case
/// (`_` for `-`), else the segment in lower case.
fn key_for(table: &toml::Table, segment: &str) -> String {
    let same = |key: &str| key.replace('-', "_").eq_ignore_ascii_case(segment);
    table
        .keys()
        .find(|k| same(k))
        .cloned()
        .unwrap_or_else(|| segment.to_ascii_lowercase())
}

fn set(root: &mut toml::Table, o: &Override) -> Result<(), String> {
    let mut table = root
        .entry(o.section)
        .or_insert_with(|| toml::Value::Table(Default::default()));
    let (last, parents) = o.path.split_last().expect("split gives one segment");
    for segment in parents {
        table = match table {
            toml::Value::Table(t) => {
                let key = key_for(t, segment);
                t.entry(key)
                    .or_insert_with(|| toml::Value::Table(Default::default()))
            }
            toml::Value::Array(items) => items
                .iter_mut()
                .find(|item| {
                    item.get("name")
                        .and_then(toml::Value::as_str)
                        .is_some_and(|name| name.replace('-', "_").eq_ignore_ascii_case(segment))
                })
                .ok_or_else(|| format!("no entry is named `{segment}`"))?,
            _ => return Err(format!("`{segment}` is inside a value, not a table")),
        };
    }
    let toml::Value::Table(table) = table else {
        return Err("it names a value, not a table of settings".into());
    };
    let key = key_for(table, last);
    let literal = || {
        toml::from_str::<toml::Table>(&format!("v = {}", o.value))
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    let value = match table.get(&key) {
        Some(toml::Value::String(_)) => toml::Value::String(o.value.clone()),
        Some(_) => literal().ok_or_else(|| {
            format!(
                "`{}` is not a TOML value for `{key}`",
                o.value.escape_debug()
            )
        })?,
        None => literal()
            .filter(|v| !v.is_str())
            .unwrap_or_else(|| toml::Value::String(o.value.clone())),
    };
    table.insert(key, value);
    Ok(())
}

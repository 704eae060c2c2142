//! A value a section's `check` refuses, named by its key path (`amplience.select.types[1]`), and
//! how `Config` turns it into a diagnostic at that value in `kbpub.toml`: the one way every
//! section points at what it refuses.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::CONFIG_FILE;
use super::overrides::{self, Override};
use crate::diag::{Diagnostic, Location};

/// One step of a key path: a key of a table or an element of an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Name(String),
    Index(usize),
}

impl From<&str> for Key {
    fn from(name: &str) -> Key {
        Key::Name(name.to_string())
    }
}

impl From<usize> for Key {
    fn from(index: usize) -> Key {
        Key::Index(index)
    }
}

/// What a check refuses: the path of the value from the file's root, whether the key itself is
/// at fault (a table key naming something unknown) rather than its value, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: Vec<Key>,
    pub key_itself: bool,
    pub message: String,
}

impl Problem {
    /// The value at `path` is refused.
    pub fn value<K: Into<Key>>(
        path: impl IntoIterator<Item = K>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            path: path.into_iter().map(Into::into).collect(),
            key_itself: false,
            message: message.into(),
        }
    }

    /// The last key of `path` is refused (it names something that does not exist).
    pub fn key<K: Into<Key>>(
        path: impl IntoIterator<Item = K>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            key_itself: true,
            ..Problem::value(path, message)
        }
    }

    /// The problem as an error `code` in `text`, the file as written: when an environment
    /// variable among `applied` set the value, naming it; else at the value (or, when the file
    /// leaves it to its default, at the nearest table around it that the file writes).
    pub(super) fn diagnostic(
        &self,
        code: &'static str,
        text: &str,
        applied: &[Override],
    ) -> Diagnostic {
        if let Some(o) = overrides::setter(text, applied, &self.path) {
            return Diagnostic::error(
                code,
                format!("environment variable `{}`: {}", o.var, self.message),
            );
        }
        let diagnostic = Diagnostic::error(code, self.message.clone());
        match span(text, &self.path, self.key_itself) {
            Some(span) => diagnostic.at(Location::new(CONFIG_FILE, Arc::from(text), span)),
            None => diagnostic.in_file(CONFIG_FILE),
        }
    }
}

/// Where `path` is written in `text`: the value's span, or its key's when the value is a table
/// (whose header names it) or `key_itself` asks for it; the deepest part of the path the file
/// writes when the rest is not written; `None` when not even the first key is.
fn span(text: &str, path: &[Key], key_itself: bool) -> Option<Range<usize>> {
    let root = DeTable::parse(text).ok()?.into_inner();
    let mut node = DeValue::Table(root);
    let mut found = None;
    for (step, key) in path.iter().enumerate() {
        let (key_span, value): (Option<Range<usize>>, &Spanned<DeValue>) = match (&node, key) {
            (DeValue::Table(table), Key::Name(name)) => {
                match table.iter().find(|(k, _)| k.get_ref().as_ref() == name) {
                    Some((k, v)) => (Some(k.span()), v),
                    None => break,
                }
            }
            (DeValue::Array(items), Key::Index(index)) => match items.get(*index) {
                Some(v) => (None, v),
                None => break,
            },
            _ => break,
        };
        let use_key =
            matches!(value.get_ref(), DeValue::Table(_)) || (key_itself && step + 1 == path.len());
        found = match key_span {
            Some(key_span) if use_key => Some(key_span),
            _ => Some(value.span()),
        };
        node = value.get_ref().clone();
    }
    found
}

/// The value at `path` in `table`, if the table holds it.
pub(super) fn value_at<'t>(table: &'t toml::Table, path: &[Key]) -> Option<&'t toml::Value> {
    let (first, rest) = path.split_first()?;
    let Key::Name(name) = first else {
        return None;
    };
    rest.iter()
        .try_fold(table.get(name)?, |value, key| match (value, key) {
            (toml::Value::Table(t), Key::Name(name)) => t.get(name),
            (toml::Value::Array(items), Key::Index(index)) => items.get(*index),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[amplience]\nhub = \"kb hub\"\n[amplience.select]\ntypes = [\"sop\", \"sops\"]\n\n[salesforce.types.faqs]\nrecord_type = \"x\"\n";

    fn position(path: &[Key], key_itself: bool) -> Option<(usize, usize)> {
        let span = span(TEXT, path, key_itself)?;
        Some(Location::new(CONFIG_FILE, Arc::from(TEXT), span).line_col())
    }

    fn path(keys: &[&str]) -> Vec<Key> {
        keys.iter().map(|k| Key::from(*k)).collect()
    }

    #[test]
    fn a_path_points_at_its_value_a_table_at_its_key_a_default_at_its_table() {
        assert_eq!(position(&path(&["amplience", "hub"]), false), Some((2, 7)));
        let mut element = path(&["amplience", "select", "types"]);
        element.push(Key::Index(1));
        assert_eq!(position(&element, false), Some((4, 17)));
        assert_eq!(
            position(&path(&["salesforce", "types", "faqs"]), true),
            Some((6, 19))
        );
        assert_eq!(
            position(&path(&["amplience", "select", "tags"]), false),
            Some((3, 12)),
            "not written: the table around it"
        );
        assert_eq!(position(&path(&["community", "base_url"]), false), None);
    }
}

//! Front matter: splits a document into its TOML (`+++`) or YAML (`---`) header and its body, and
//! validates the header strictly into [`FrontMatter`]. Every error points at the offending key or
//! value in the file.

use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::DOC_TYPES;
use crate::diag::{Diagnostic, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocType {
    Sop,
    Playbook,
    Faq,
    Partner,
    IncidentReview,
    Notice,
}

impl DocType {
    pub const ALL: [DocType; 6] = [
        DocType::Sop,
        DocType::Playbook,
        DocType::Faq,
        DocType::Partner,
        DocType::IncidentReview,
        DocType::Notice,
    ];

    /// The names of every type, as front matter writes them.
    pub fn names() -> [&'static str; 6] {
        DOC_TYPES
    }

    /// The type's name, as front matter writes it: its place in [`DOC_TYPES`], which `ALL`
    /// follows.
    pub fn name(self) -> &'static str {
        DOC_TYPES[self as usize]
    }

    pub fn label(self) -> &'static str {
        match self {
            DocType::Sop => "SOP",
            DocType::Playbook => "Playbook",
            DocType::Faq => "FAQ",
            DocType::Partner => "Partner guide",
            DocType::IncidentReview => "Incident review",
            DocType::Notice => "Notice",
        }
    }

    /// The Tera template a document of this type renders through.
    pub fn template(self) -> String {
        format!("{}.html", self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    #[default]
    Internal,
    Partner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Current,
    Obsolete,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfluenceMeta {
    pub space: Option<String>,
    pub title: Option<String>,
}

/// Validated front matter of a document or section index.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FrontMatter {
    pub id: Option<String>,
    pub title: String,
    #[serde(rename = "type")]
    pub doc_type: Option<DocType>,
    pub owner: Option<String>,
    pub audience: Audience,
    pub partners: Vec<String>,
    pub review_by: Option<NaiveDate>,
    pub updated: Option<NaiveDate>,
    pub tags: Vec<String>,
    pub weight: Option<i64>,
    pub description: Option<String>,
    pub status: Status,
    pub superseded_by: Option<String>,
    /// In a section's `_index.md`: the type of documents below it that name none (plain Markdown).
    /// Left out of the serialised form when unset, so approval hashes of other pages stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_type: Option<DocType>,
    pub confluence: ConfluenceMeta,
    pub extra: serde_json::Value,
}

/// The keys front matter may hold, for "did you mean" hints.
const KEYS: &[&str] = &[
    "id",
    "title",
    "type",
    "owner",
    "audience",
    "partners",
    "review_by",
    "updated",
    "tags",
    "weight",
    "description",
    "status",
    "superseded_by",
    "default_type",
    "confluence",
    "extra",
];

/// As written: strings are checked after parsing so that errors can name the allowed values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    id: Option<String>,
    title: Option<String>,
    #[serde(rename = "type")]
    doc_type: Option<String>,
    owner: Option<String>,
    audience: Option<String>,
    #[serde(default)]
    partners: Vec<String>,
    review_by: Option<DateInput>,
    updated: Option<DateInput>,
    #[serde(default)]
    tags: Vec<String>,
    weight: Option<i64>,
    description: Option<String>,
    status: Option<String>,
    superseded_by: Option<String>,
    default_type: Option<String>,
    #[serde(default)]
    confluence: ConfluenceMeta,
    extra: Option<serde_json::Value>,
}

/// A date written as a TOML date (`2027-05-01`) or a string (YAML, quoted TOML).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateInput {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateInput {
    fn text(&self) -> String {
        match self {
            DateInput::Toml(d) => d.to_string(),
            DateInput::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
}

/// A document split into header and body, with byte offsets into the whole file.
#[derive(Debug)]
pub struct Split {
    pub format: Format,
    /// Byte range of the header text (between the fences).
    pub header: Range<usize>,
    /// Byte offset where the body starts.
    pub body_start: usize,
}

/// Finds the front matter fences; `None` for plain Markdown (no front matter).
pub fn split(source: &str) -> Option<Split> {
    let (fence, format) = opening_fence(source)?;
    let source_no_bom = source.strip_prefix('\u{feff}').unwrap_or(source);
    let bom = source.len() - source_no_bom.len();
    let first_line_end = source_no_bom.find('\n')?;
    let header_start = bom + first_line_end + 1;
    let mut offset = header_start;
    for line in source[header_start..].split_inclusive('\n') {
        if line.trim_end() == fence {
            return Some(Split {
                format,
                header: header_start..offset,
                body_start: offset + line.len(),
            });
        }
        offset += line.len();
    }
    None
}

/// The fence a document's first line opens front matter with (`+++` or `---`, alone on the line),
/// whether or not it is closed.
pub fn opening_fence(source: &str) -> Option<(&'static str, Format)> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let first_line = source.split('\n').next().unwrap_or("").trim_end();
    [("+++", Format::Toml), ("---", Format::Yaml)]
        .into_iter()
        .find(|(fence, _)| first_line == *fence)
}

/// Parses and validates the header of `source` (display path `file`).
pub fn parse(file: &str, source: &Arc<str>, split: &Split) -> Result<FrontMatter, Vec<Diagnostic>> {
    let header = &source[split.header.clone()];
    let at = |span: Range<usize>| {
        Location::new(
            file,
            source.clone(),
            split.header.start + span.start..split.header.start + span.end,
        )
    };
    let raw: RawFrontMatter = match split.format {
        Format::Toml => toml::from_str(header).map_err(|e| {
            let d = unknown_key_hint(Diagnostic::error("front-matter", e.message().to_string()));
            vec![match e.span() {
                Some(span) => d.at(at(span)),
                None => d.in_file(file),
            }]
        })?,
        Format::Yaml => serde_yaml_ng::from_str(header).map_err(|e| {
            let message = strip_yaml_position(&e.to_string());
            let d = unknown_key_hint(Diagnostic::error("front-matter", message));
            vec![match e.location() {
                Some(loc) => {
                    let offset = line_col_offset(header, loc.line(), loc.column());
                    d.at(at(offset..offset + 1))
                }
                None => d.in_file(file),
            }]
        })?,
    };
    validate(raw, header, &at)
}

fn validate(
    raw: RawFrontMatter,
    header: &str,
    at: &dyn Fn(Range<usize>) -> Location,
) -> Result<FrontMatter, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let value_at = |key: &str| at(value_span(header, key).unwrap_or(0..0));
    let mut choice = |key: &str, value: Option<&str>, allowed: &[&str]| -> Option<usize> {
        let value = value?;
        let found = allowed.iter().position(|a| *a == value);
        if found.is_none() {
            errors.push(
                Diagnostic::error("front-matter", format!("unknown {key} `{value}`"))
                    .at(value_at(key))
                    .label(format!("expected one of: {}", allowed.join(", ")))
                    .help(format!("set `{key}` to one of: {}", allowed.join(", "))),
            );
        }
        found
    };
    let type_names: Vec<&str> = DocType::ALL.iter().map(|t| t.name()).collect();
    let doc_type = choice("type", raw.doc_type.as_deref(), &type_names).map(|i| DocType::ALL[i]);
    let default_type =
        choice("default_type", raw.default_type.as_deref(), &type_names).map(|i| DocType::ALL[i]);
    let audience = choice(
        "audience",
        raw.audience.as_deref(),
        &["internal", "partner"],
    )
    .map_or(Audience::Internal, |i| {
        [Audience::Internal, Audience::Partner][i]
    });
    let status = choice("status", raw.status.as_deref(), &["current", "obsolete"])
        .map_or(Status::Current, |i| [Status::Current, Status::Obsolete][i]);
    let mut date = |key: &str, value: Option<DateInput>| -> Option<NaiveDate> {
        let text = value?.text();
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(
                    Diagnostic::error(
                        "front-matter",
                        format!("`{key}` is not a valid date: `{text}` ({e})"),
                    )
                    .at(value_at(key))
                    .label("expected a date like 2027-05-01"),
                );
                None
            }
        }
    };
    let review_by = date("review_by", raw.review_by);
    let updated = date("updated", raw.updated);
    let title = match raw.title {
        Some(t) if !t.trim().is_empty() => t,
        _ => {
            errors.push(
                Diagnostic::error("front-matter", "missing `title`")
                    .at(at(0..0))
                    .help("add `title = \"...\"` to the front matter"),
            );
            String::new()
        }
    };
    if let Some(id) = &raw.id
        && !is_valid_id(id)
    {
        errors.push(
            Diagnostic::error("front-matter", format!("invalid id `{id}`"))
                .at(value_at("id"))
                .help(
                    "ids use letters, digits, `-`, `_` and `.`, and start with a letter or digit",
                ),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(FrontMatter {
        id: raw.id,
        title,
        doc_type,
        owner: raw.owner,
        audience,
        partners: raw.partners,
        review_by,
        updated,
        tags: raw.tags,
        weight: raw.weight,
        description: raw.description,
        status,
        superseded_by: raw.superseded_by,
        default_type,
        confluence: raw.confluence,
        extra: raw
            .extra
            .unwrap_or(serde_json::Value::Object(Default::default())),
    })
}

/// Ids travel into file names (`.kb/approvals/<id>/`) and URLs, so they are kept simple.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Byte span of the value of top-level `key` in a TOML or YAML header (the text after `=`/`:`).
pub fn value_span(header: &str, key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in header.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(rest) = trimmed.strip_prefix(key) {
            let after_key = rest.trim_start();
            if let Some(value) = after_key
                .strip_prefix('=')
                .or_else(|| after_key.strip_prefix(':'))
            {
                let value_trimmed = value.trim();
                let value_start = offset
                    + indent
                    + key.len()
                    + (rest.len() - after_key.len())
                    + 1
                    + (value.len() - value.trim_start().len());
                return Some(value_start..value_start + value_trimmed.len());
            }
        }
        offset += line.len();
    }
    None
}

fn line_col_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let col_bytes: usize = line_text
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    line_start + col_bytes
}

/// serde_yaml appends " at line L column C" to messages; the diagnostic shows the position itself.
fn strip_yaml_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Adds "did you mean `x`?" to an unknown-key error when a known key is close.
fn unknown_key_hint(diagnostic: Diagnostic) -> Diagnostic {
    let Some(rest) = diagnostic.message.strip_prefix("unknown field `") else {
        return diagnostic;
    };
    let unknown = rest.split('`').next().unwrap_or("").to_string();
    let closest = KEYS
        .iter()
        .map(|k| (strsim::levenshtein(k, &unknown), *k))
        .min()
        .filter(|(distance, _)| *distance <= 2);
    match closest {
        Some((_, key)) => diagnostic
            .label(format!("did you mean `{key}`?"))
            .help(format!(
                "rename `{unknown}` to `{key}`; see ARCHITECTURE.md, Document model, for the keys"
            )),
        None => diagnostic.help(format!("remove `{unknown}` or move it under `[extra]`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_named_by_its_place_in_config_doc_types_as_serde_names_it() {
        for (index, doc_type) in DocType::ALL.into_iter().enumerate() {
            assert_eq!(doc_type as usize, index);
            assert_eq!(
                serde_json::to_value(doc_type).unwrap(),
                serde_json::json!(DOC_TYPES[index])
            );
        }
    }

    fn parse_str(src: &str) -> Result<FrontMatter, Vec<Diagnostic>> {
        let source: Arc<str> = Arc::from(src);
        let split = split(&source).expect("front matter");
        parse("content/x.md", &source, &split)
    }

    #[test]
    fn toml_and_yaml_give_the_same_result() {
        let t = parse_str(
            "+++\ntitle = \"A\"\ntype = \"sop\"\nreview_by = 2027-05-01\ntags = [\"x\"]\n+++\nbody",
        )
        .unwrap();
        let y = parse_str("---\ntitle: A\ntype: sop\nreview_by: 2027-05-01\ntags: [x]\n---\nbody")
            .unwrap();
        assert_eq!(t.title, y.title);
        assert_eq!(t.doc_type, Some(DocType::Sop));
        assert_eq!(y.doc_type, Some(DocType::Sop));
        assert_eq!(t.review_by, y.review_by);
        assert_eq!(t.tags, y.tags);
    }

    #[test]
    fn unknown_type_points_at_the_value() {
        let errs = parse_str("+++\ntitle = \"A\"\ntype = \"recipe\"\n+++\n").unwrap_err();
        assert_eq!(errs[0].position(), "content/x.md:3:8");
        assert!(errs[0].message.contains("unknown type `recipe`"));
    }

    #[test]
    fn bad_date_and_bad_audience_are_both_reported() {
        let errs = parse_str("---\ntitle: A\naudience: everyone\nreview_by: 2027-13-01\n---\n")
            .unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].position(), "content/x.md:3:11");
        assert_eq!(errs[1].position(), "content/x.md:4:12");
    }

    #[test]
    fn misspelt_key_gets_a_hint() {
        let errs = parse_str("+++\ntitle = \"A\"\nreveiw_by = 2027-01-01\n+++\n").unwrap_err();
        assert_eq!(errs[0].position(), "content/x.md:3:1");
        assert_eq!(errs[0].label.as_deref(), Some("did you mean `review_by`?"));
    }

    #[test]
    fn yaml_syntax_error_has_a_position() {
        let errs = parse_str("---\ntitle: A\ntags: [x\n---\n").unwrap_err();
        assert!(
            errs[0].position().starts_with("content/x.md:"),
            "{}",
            errs[0].position()
        );
    }

    #[test]
    fn missing_closing_fence_is_not_front_matter() {
        assert!(split("+++\ntitle = \"A\"\n").is_none());
    }
}

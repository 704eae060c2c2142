//! The SOQL subset the simulator answers (reference §1.3 K1/K11, §1.4, emulator rule 10):
//! `SELECT fields FROM object [WHERE ...] [ORDER BY field [ASC|DESC]] [LIMIT n]`, with parent
//! paths (`Account.Name`, `Owner.Email`), `=`, `!=`, `<`, `<=`, `>`, `>=`, `IN`, `NOT IN`,
//! `LIKE`, `AND`, `OR` and parentheses. String comparisons ignore case, as SOQL's do. Results
//! come in batches (`--salesforce-batch-size`) with a relative `nextRecordsUrl`. The Knowledge
//! rule: a `Knowledge__kav` query needs `PublishStatus` or `Id` in WHERE (or, with
//! `--salesforce-unfiltered-kav by-version`, returns online versions only up to 46.0 and every
//! version from 47.0); below 47.0 it also needs `Language`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::auth::ApiVersion;
use super::knowledge;
use super::model::{Locator, Org, sf_error};
use super::{St, UnfilteredKav};

/// Standard fields of the CRM objects; custom fields are those the seeded rows carry.
const STANDARD: &[(&str, &str)] = &[
    (
        "Account",
        "Id Name AccountNumber Type Industry Phone Website OwnerId CreatedDate LastModifiedDate",
    ),
    (
        "Contact",
        "Id AccountId FirstName LastName Name Email Phone Title OwnerId CreatedDate LastModifiedDate",
    ),
    (
        "Case",
        "Id CaseNumber Subject Description Status Priority Origin Type AccountId ContactId OwnerId IsClosed CreatedDate ClosedDate LastModifiedDate",
    ),
    ("User", "Id Name Email Username"),
    (
        "Knowledge__DataCategorySelection",
        "Id ParentId DataCategoryGroupName DataCategoryName",
    ),
];

fn malformed(message: impl Into<String>) -> Response {
    sf_error(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message, &[])
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(&'static str),
}

fn tokens(soql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = soql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('\\') => {
                        let escaped = chars.get(i + 1).ok_or("unterminated string literal")?;
                        text.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            other => *other,
                        });
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        text.push(*other);
                        i += 1;
                    }
                }
            }
            out.push(Token::Text(text));
        } else if let Some(symbol) = ["<=", ">=", "!=", "=", "<", ">", ",", "(", ")"]
            .into_iter()
            .find(|s| soql[byte_at(&chars, i)..].starts_with(s))
        {
            out.push(Token::Symbol(symbol));
            i += symbol.chars().count();
        } else if c.is_alphanumeric() || c == '_' || c == '-' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_alphanumeric() || "_.-:+".contains(*c))
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(out)
}

fn byte_at(chars: &[char], i: usize) -> usize {
    chars[..i].iter().map(|c| c.len_utf8()).sum()
}

#[derive(Debug, Clone)]
enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Compare(String, &'static str, Literal),
    In(String, bool, Vec<Literal>),
    Like(String, String),
}

#[derive(Debug)]
struct Soql {
    fields: Vec<String>,
    object: String,
    filter: Option<Condition>,
    order: Option<(String, bool)>,
    limit: Option<usize>,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        if self.peek_word(word) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expecting {word} at {}", self.shown()))
        }
    }

    fn symbol(&mut self, symbol: &str) -> bool {
        let found = matches!(self.tokens.get(self.at), Some(Token::Symbol(s)) if *s == symbol);
        self.at += usize::from(found);
        found
    }

    fn name(&mut self) -> Result<String, String> {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) => {
                self.at += 1;
                Ok(w.clone())
            }
            _ => Err(format!(
                "expecting a field or object name at {}",
                self.shown()
            )),
        }
    }

    fn shown(&self) -> String {
        match self.tokens.get(self.at) {
            None => "the end".into(),
            Some(Token::Word(w)) => format!("'{w}'"),
            Some(Token::Text(t)) => format!("'{t}'"),
            Some(Token::Symbol(s)) => format!("'{s}'"),
        }
    }

    fn parse(mut self) -> Result<Soql, String> {
        self.word("SELECT")?;
        let mut fields = vec![self.name()?];
        while self.symbol(",") {
            fields.push(self.name()?);
        }
        self.word("FROM")?;
        let object = self.name()?;
        let filter = if self.peek_word("WHERE") {
            self.at += 1;
            Some(self.or()?)
        } else {
            None
        };
        let mut order = None;
        if self.peek_word("ORDER") {
            self.at += 1;
            self.word("BY")?;
            let field = self.name()?;
            let descending = self.peek_word("DESC");
            if descending || self.peek_word("ASC") {
                self.at += 1;
            }
            order = Some((field, descending));
        }
        let mut limit = None;
        if self.peek_word("LIMIT") {
            self.at += 1;
            let n = self.name()?;
            limit = Some(
                n.parse()
                    .map_err(|_| format!("LIMIT {n} is not a number"))?,
            );
        }
        if self.at < self.tokens.len() {
            return Err(format!("unexpected token: {}", self.shown()));
        }
        Ok(Soql {
            fields,
            object,
            filter,
            order,
            limit,
        })
    }

    fn or(&mut self) -> Result<Condition, String> {
        let mut left = self.and()?;
        while self.peek_word("OR") {
            self.at += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, String> {
        let mut left = self.term()?;
        while self.peek_word("AND") {
            self.at += 1;
            left = Condition::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Condition, String> {
        if self.symbol("(") {
            let inner = self.or()?;
            if !self.symbol(")") {
                return Err(format!("expecting ')' at {}", self.shown()));
            }
            return Ok(inner);
        }
        let field = self.name()?;
        let negated = self.peek_word("NOT");
        if negated {
            self.at += 1;
        }
        if self.peek_word("IN") {
            self.at += 1;
            if !self.symbol("(") {
                return Err(format!("expecting '(' at {}", self.shown()));
            }
            let mut values = vec![self.literal()?];
            while self.symbol(",") {
                values.push(self.literal()?);
            }
            if !self.symbol(")") {
                return Err(format!("expecting ')' at {}", self.shown()));
            }
            return Ok(Condition::In(field, negated, values));
        }
        if negated {
            return Err(format!("expecting IN at {}", self.shown()));
        }
        if self.peek_word("LIKE") {
            self.at += 1;
            return match self.literal()? {
                Literal::Text(pattern) => Ok(Condition::Like(field, pattern)),
                _ => Err("LIKE needs a string".into()),
            };
        }
        let op = ["=", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| self.symbol(op))
            .ok_or_else(|| format!("expecting an operator at {}", self.shown()))?;
        Ok(Condition::Compare(field, op, self.literal()?))
    }

    fn literal(&mut self) -> Result<Literal, String> {
        let literal = match self.tokens.get(self.at) {
            Some(Token::Text(t)) => Literal::Text(t.clone()),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
                match w.parse() {
                    Ok(n) => Literal::Number(n),
                    // A date or date-time literal, compared as text (ISO 8601 sorts).
                    Err(_) => Literal::Text(w.clone()),
                }
            }
            _ => return Err(format!("expecting a value at {}", self.shown())),
        };
        self.at += 1;
        Ok(literal)
    }
}

fn parse(soql: &str) -> Result<Soql, String> {
    Parser {
        tokens: tokens(soql)?,
        at: 0,
    }
    .parse()
}

/// Every field of the object the query reads (canonical spelling), or `None` for an object the
/// simulator does not hold.
fn known_fields(shared: &St, org: &Org, object: &str) -> Option<Vec<String>> {
    if object == "Knowledge__kav" {
        return Some(knowledge::field_names(&shared.rules));
    }
    let standard = STANDARD.iter().find(|(o, _)| *o == object)?.1;
    let mut fields: Vec<String> = standard.split(' ').map(String::from).collect();
    for row in org.crm(object) {
        for key in row.keys() {
            if !fields.contains(key) {
                fields.push(key.clone());
            }
        }
    }
    Some(fields)
}

/// The object a relationship name points at (`Account`, `Owner` -> `User`).
fn parent_object(relationship: &str) -> &str {
    match relationship {
        "Owner" | "CreatedBy" | "LastModifiedBy" => "User",
        "Parent" => "Knowledge__kav",
        other => other,
    }
}

/// A field path resolved to its canonical spelling: `["Account", "Partner_Id__c"]`.
fn resolve(shared: &St, org: &Org, object: &str, path: &str) -> Result<Vec<String>, Response> {
    let no_such = |field: &str, on: &str| {
        sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_FIELD",
            format!(
                "No such column '{field}' on entity '{on}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name."
            ),
            &[],
        )
    };
    let find = |fields: &[String], name: &str| {
        fields
            .iter()
            .find(|f| f.eq_ignore_ascii_case(name))
            .cloned()
    };
    let own = known_fields(shared, org, object).unwrap_or_default();
    match path.split_once('.') {
        None => Ok(vec![find(&own, path).ok_or_else(|| no_such(path, object))?]),
        Some((relationship, field)) => {
            let id_field = format!("{relationship}Id");
            let relationship = find(&own, &id_field)
                .map(|f| f.trim_end_matches("Id").to_string())
                .ok_or_else(|| no_such(relationship, object))?;
            let target = parent_object(&relationship);
            let theirs = known_fields(shared, org, target).unwrap_or_default();
            let field = find(&theirs, field).ok_or_else(|| no_such(field, target))?;
            Ok(vec![relationship, field])
        }
    }
}

/// The rows of `object`, unfiltered, with parent rows reachable through `Id` lookups.
fn rows_of(org: &Org, object: &str, api: u32) -> Vec<Map<String, Value>> {
    match object {
        "Knowledge__kav" => org
            .versions
            .values()
            .map(|v| knowledge::row(v, api))
            .collect(),
        "Knowledge__DataCategorySelection" => org
            .categories
            .values()
            .map(|c| {
                let mut row = Map::new();
                row.insert("Id".into(), json!(c.id));
                row.insert("ParentId".into(), json!(c.parent_id));
                row.insert("DataCategoryGroupName".into(), json!(c.group));
                row.insert("DataCategoryName".into(), json!(c.name));
                row
            })
            .collect(),
        _ => org.crm(object).to_vec(),
    }
}

fn value_at<'r>(
    row: &'r Map<String, Value>,
    path: &[String],
    parents: &'r BTreeMap<(String, String), Map<String, Value>>,
) -> Option<&'r Value> {
    match path {
        [field] => row.get(field),
        [relationship, field] => {
            let id = row.get(&format!("{relationship}Id"))?.as_str()?;
            parents
                .get(&(parent_object(relationship).to_string(), id.to_string()))?
                .get(field)
        }
        _ => None,
    }
}

fn compare(value: Option<&Value>, literal: &Literal) -> Option<Ordering> {
    match (value.unwrap_or(&Value::Null), literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::String(s), Literal::Text(t)) => Some(s.to_lowercase().cmp(&t.to_lowercase())),
        (Value::Number(n), Literal::Number(m)) => n.as_f64()?.partial_cmp(m),
        (Value::Bool(b), Literal::Bool(c)) => Some(b.cmp(c)),
        _ => None,
    }
}

fn like(value: Option<&Value>, pattern: &str) -> bool {
    let Some(text) = value.and_then(Value::as_str) else {
        return false;
    };
    let (text, pattern) = (text.to_lowercase(), pattern.to_lowercase());
    let parts: Vec<&str> = pattern.split('%').collect();
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if i == parts.len() - 1 {
            return part.is_empty() || rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

struct Resolved {
    condition: Condition,
    paths: BTreeMap<String, Vec<String>>,
}

fn matches(
    condition: &Condition,
    row: &Map<String, Value>,
    resolved: &Resolved,
    parents: &BTreeMap<(String, String), Map<String, Value>>,
) -> bool {
    let at = |field: &String| value_at(row, &resolved.paths[field], parents);
    match condition {
        Condition::And(a, b) => {
            matches(a, row, resolved, parents) && matches(b, row, resolved, parents)
        }
        Condition::Or(a, b) => {
            matches(a, row, resolved, parents) || matches(b, row, resolved, parents)
        }
        Condition::Compare(field, op, literal) => {
            let ordering = compare(at(field), literal);
            match *op {
                "=" => ordering == Some(Ordering::Equal),
                "!=" => ordering != Some(Ordering::Equal),
                "<" => ordering == Some(Ordering::Less),
                "<=" => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                ">" => ordering == Some(Ordering::Greater),
                _ => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
            }
        }
        Condition::In(field, negated, values) => {
            let found = values
                .iter()
                .any(|v| compare(at(field), v) == Some(Ordering::Equal));
            found != *negated
        }
        Condition::Like(field, pattern) => like(at(field), pattern),
    }
}

fn fields_in(condition: &Condition, out: &mut Vec<String>) {
    match condition {
        Condition::And(a, b) | Condition::Or(a, b) => {
            fields_in(a, out);
            fields_in(b, out);
        }
        Condition::Compare(f, ..) | Condition::In(f, ..) | Condition::Like(f, _) => {
            out.push(f.clone())
        }
    }
}

/// The query's rows, shaped as Salesforce answers them, or the error response.
fn run(shared: &St, org: &Org, soql: &str, api: u32) -> Result<Vec<Value>, Response> {
    let query = parse(soql).map_err(malformed)?;
    let object = known_fields(shared, org, &query.object)
        .map(|_| query.object.clone())
        .ok_or_else(|| {
            sf_error(
                StatusCode::BAD_REQUEST,
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported.", query.object),
                &[],
            )
        })?;
    let mut filtered = Vec::new();
    if let Some(filter) = &query.filter {
        fields_in(filter, &mut filtered);
    }
    let mut paths = BTreeMap::new();
    let mentioned = query
        .fields
        .iter()
        .chain(&filtered)
        .chain(query.order.iter().map(|(f, _)| f));
    for field in mentioned {
        paths.insert(field.clone(), resolve(shared, org, &object, field)?);
    }
    let names: Vec<&str> = filtered
        .iter()
        .map(|f| paths[f].last().map(String::as_str).unwrap_or_default())
        .collect();
    let mut only_online = false;
    if object == "Knowledge__kav" {
        let filtered_by_state = names.contains(&"PublishStatus") || names.contains(&"Id");
        if !filtered_by_state {
            match shared.rules.unfiltered_kav {
                UnfilteredKav::Reject => {
                    return Err(malformed(
                        "Implementation restriction: When querying the Knowledge__kav object, you must filter using the following syntax: Id = [single ID], Id IN [list of ID's], or PublishStatus = [status].",
                    ));
                }
                UnfilteredKav::ByVersion => only_online = api <= 46,
            }
        }
        if api < 47 && !names.contains(&"Language") {
            return Err(malformed(
                "Implementation restriction: When querying Knowledge__kav below API 47.0, you must filter by Language.",
            ));
        }
    }
    let mut parents = BTreeMap::new();
    for parent in ["Account", "User", "Contact"] {
        for row in org.crm(parent) {
            if let Some(id) = row.get("Id").and_then(Value::as_str) {
                parents.insert((parent.to_string(), id.to_string()), row.clone());
            }
        }
    }
    let resolved = Resolved {
        condition: query.filter.clone().unwrap_or(Condition::Compare(
            "Id".into(),
            "!=",
            Literal::Null,
        )),
        paths,
    };
    let mut rows: Vec<Map<String, Value>> = rows_of(org, &object, api)
        .into_iter()
        .filter(|row| {
            !only_online || row.get("PublishStatus").and_then(Value::as_str) == Some("Online")
        })
        .filter(|row| {
            query.filter.is_none() || matches(&resolved.condition, row, &resolved, &parents)
        })
        .collect();
    if let Some((field, descending)) = &query.order {
        let path = &resolved.paths[field];
        rows.sort_by(|a, b| {
            let (x, y) = (value_at(a, path, &parents), value_at(b, path, &parents));
            let ordering = match (x, y) {
                (Some(Value::Number(m)), Some(Value::Number(n))) => m
                    .as_f64()
                    .partial_cmp(&n.as_f64())
                    .unwrap_or(Ordering::Equal),
                (Some(Value::String(s)), Some(Value::String(t))) => {
                    s.to_lowercase().cmp(&t.to_lowercase())
                }
                (None | Some(Value::Null), Some(v)) if !v.is_null() => Ordering::Less,
                (Some(v), None | Some(Value::Null)) if !v.is_null() => Ordering::Greater,
                _ => Ordering::Equal,
            };
            if *descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
    }
    rows.truncate(query.limit.unwrap_or(usize::MAX));
    Ok(rows
        .iter()
        .map(|row| shape(row, &object, &query.fields, &resolved.paths, &parents, api))
        .collect())
}

fn attributes(object: &str, id: Option<&Value>, api: u32) -> Value {
    let id = id.and_then(Value::as_str).unwrap_or_default();
    json!({"type": object, "url": format!("/services/data/v{api}.0/sobjects/{object}/{id}")})
}

/// One result record: `attributes`, then the selected fields, parent paths as nested objects.
fn shape(
    row: &Map<String, Value>,
    object: &str,
    fields: &[String],
    paths: &BTreeMap<String, Vec<String>>,
    parents: &BTreeMap<(String, String), Map<String, Value>>,
    api: u32,
) -> Value {
    let mut record = Map::new();
    record.insert("attributes".into(), attributes(object, row.get("Id"), api));
    for field in fields {
        match paths[field].as_slice() {
            [name] => {
                record.insert(name.clone(), row.get(name).cloned().unwrap_or(Value::Null));
            }
            [relationship, name] => {
                let target = parent_object(relationship);
                let parent = row
                    .get(&format!("{relationship}Id"))
                    .and_then(Value::as_str)
                    .and_then(|id| parents.get(&(target.to_string(), id.to_string())));
                let Some(parent) = parent else {
                    record.insert(relationship.clone(), Value::Null);
                    continue;
                };
                let entry = record.entry(relationship.clone()).or_insert_with(
                    || json!({"attributes": attributes(target, parent.get("Id"), api)}),
                );
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert(
                        name.clone(),
                        parent.get(name).cloned().unwrap_or(Value::Null),
                    );
                }
            }
            _ => {}
        }
    }
    Value::Object(record)
}

/// One batch of `rows` (of `total`), keeping the rest behind a new locator.
fn batch(shared: &St, org: &mut Org, mut rows: Vec<Value>, total: usize, api: u32) -> Response {
    let size = shared.rules.batch_size;
    let mut answer = json!({"totalSize": total, "done": true});
    if rows.len() > size {
        let rest = rows.split_off(size);
        let locator = org.new_id("01g");
        let offset = total - rest.len();
        let key = format!("{locator}-{offset}");
        answer["done"] = json!(false);
        answer["nextRecordsUrl"] = json!(format!("/services/data/v{api}.0/query/{key}"));
        org.locators.insert(key, Locator { rows: rest, total });
    }
    answer["records"] = Value::Array(rows);
    Json(answer).into_response()
}

/// `GET /query?q=...`: the first batch.
pub async fn first(
    State(shared): State<St>,
    Extension(ApiVersion(api)): Extension<ApiVersion>,
    headers: axum::http::HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(soql) = params.get("q") else {
        return malformed("the q parameter is required");
    };
    let mut org = shared.lock();
    match run(&shared, &org, soql, api) {
        Ok(mut rows) => {
            if shared.rules.echo_token {
                let caller = crate::sim::traffic::client_of(&headers);
                let token = caller.strip_prefix("Bearer ").unwrap_or_default();
                for row in rows.iter_mut().filter(|r| r.get("Name").is_some()) {
                    row["Name"] = json!(token);
                }
            }
            let total = rows.len();
            batch(&shared, &mut org, rows, total, api)
        }
        Err(response) => response,
    }
}

/// `GET /query/{locator}`: the next batch (404 `INVALID_QUERY_LOCATOR` once it expired).
pub async fn next(
    State(shared): State<St>,
    Extension(ApiVersion(api)): Extension<ApiVersion>,
    Path((_, locator)): Path<(String, String)>,
) -> Response {
    let mut org = shared.lock();
    match org.locators.remove(&locator) {
        Some(Locator { rows, total }) => batch(&shared, &mut org, rows, total, api),
        None => sf_error(
            StatusCode::NOT_FOUND,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
            &[],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_subset_and_refuses_an_unescaped_quote() {
        let query = parse("SELECT Id, Account.Name FROM Case WHERE (Status = 'New' OR Status IN ('Open','x\\'y')) AND IsClosed = false ORDER BY CreatedDate DESC LIMIT 5").unwrap();
        assert_eq!(query.fields, ["Id", "Account.Name"]);
        assert_eq!(query.order, Some(("CreatedDate".into(), true)));
        assert_eq!(query.limit, Some(5));
        assert!(parse("SELECT Id FROM Account WHERE Name = 'O'Brien'").is_err());
        assert!(parse("SELECT Id FROM").is_err());
    }

    #[test]
    fn like_patterns() {
        let v = json!("Acme Retail");
        assert!(like(Some(&v), "acme%"));
        assert!(like(Some(&v), "%retail"));
        assert!(like(Some(&v), "%me r%"));
        assert!(!like(Some(&v), "retail%"));
        assert!(like(Some(&v), "acme retail"));
    }
}

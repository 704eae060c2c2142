//! The hub's content type schemas (reference §2.3 A9, §5.2 rule 3): a schema registered with
//! `POST /hubs/{hub}/content-type-schemas` (`{"body": "<schema JSON as a string>", "schemaId",
//! "validationLevel"}`) and an item body validated against it on create and update, unless
//! `ignoreSchemaValidation=true`: the JSON Schema keywords the reference lists — `required`,
//! `type`, `minLength`, `maxLength`, `pattern`, `maxItems` — through `properties` and `items`.
//! Other keywords (`$ref`, `allOf`, `format`, ...) are not checked.

use std::collections::BTreeMap;

use serde_json::Value;

/// Registered schema bodies by schema id.
#[derive(Default)]
pub struct Schemas {
    by_id: BTreeMap<String, Value>,
}

impl Schemas {
    pub fn register(&mut self, id: &str, body: Value) {
        self.by_id.insert(id.to_string(), body);
    }

    /// The first way `item` breaks the schema registered as `id` (none registered: nothing to
    /// check): the property (`body.title`) and what is wrong.
    pub fn violation(&self, id: &str, item: &Value) -> Option<(String, String)> {
        violation(self.by_id.get(id)?, item, "body")
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn violation(schema: &Value, value: &Value, at: &str) -> Option<(String, String)> {
    let found = |what: String| Some((at.to_string(), what));
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        return found(format!("must be of type {}", types.join(" or ")));
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(min) = schema["minLength"].as_u64().filter(|&min| length < min) {
            return found(format!("must be at least {min} characters"));
        }
        if let Some(max) = schema["maxLength"].as_u64().filter(|&max| length > max) {
            return found(format!("must be at most {max} characters"));
        }
        if let Some(pattern) = schema["pattern"].as_str() {
            let matches = regex::Regex::new(pattern).map(|re| re.is_match(text));
            if matches != Ok(true) {
                return found(format!("must match the pattern {pattern}"));
            }
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = schema["maxItems"]
            .as_u64()
            .filter(|&max| items.len() as u64 > max)
        {
            return found(format!("must hold at most {max} items"));
        }
        for (i, item) in items.iter().enumerate() {
            if let Some(v) = violation(&schema["items"], item, &format!("{at}[{i}]")) {
                return Some(v);
            }
        }
    }
    if let Some(object) = value.as_object() {
        let required = schema["required"].as_array().into_iter().flatten();
        if let Some(missing) = required
            .filter_map(Value::as_str)
            .find(|name| !object.contains_key(*name))
        {
            return Some((format!("{at}.{missing}"), "is required".into()));
        }
        let properties = schema["properties"].as_object().into_iter().flatten();
        for (name, property) in properties {
            if let Some(v) = object
                .get(name)
                .and_then(|child| violation(property, child, &format!("{at}.{name}")))
            {
                return Some(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_listed_keywords_are_checked_through_properties_and_items() {
        let schema = json!({
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "minLength": 1, "maxLength": 5},
                "key": {"type": "string", "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
            },
        });
        let check = |item: Value| violation(&schema, &item, "body").map(|(at, _)| at);
        assert_eq!(check(json!({"title": "ok", "tags": ["a"]})), None);
        assert_eq!(check(json!({})).as_deref(), Some("body.title"));
        assert_eq!(
            check(json!({"title": "too long"})).as_deref(),
            Some("body.title")
        );
        assert_eq!(check(json!({"title": ""})).as_deref(), Some("body.title"));
        assert_eq!(check(json!({"title": 5})).as_deref(), Some("body.title"));
        assert_eq!(
            check(json!({"title": "a", "key": "A1"})).as_deref(),
            Some("body.key")
        );
        assert_eq!(
            check(json!({"title": "a", "tags": [1]})).as_deref(),
            Some("body.tags[0]")
        );
        assert_eq!(
            check(json!({"title": "a", "tags": ["a", "b", "c"]})).as_deref(),
            Some("body.tags")
        );
    }
}

//! The JSON Schema of the policy, built from the key lists of its parent module (`vetted schema`,
//! `schema/vetted.schema.json`).

use serde_json::{Map, Value, json};

use super::*;
use crate::policy::rules;

/// The JSON Schema (draft 2020-12) of the policy, as `vetted schema` prints it: deterministic,
/// keys sorted, ending in a newline.
pub fn json_schema() -> String {
    let mut schema = table(TOP, &[], &[]);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("title".into(), json!("vetted policy"));
        map.insert(
            "description".into(),
            json!("A vetted policy (vetted.toml). Reference: docs/policy.md. `vetted validate` is the authority: it also checks what a schema cannot (grants to defined teams, included files)."),
        );
    }
    sort(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Keys sorted at every level, whichever map type serde_json was built with.
fn sort(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort);
        }
        Value::Array(items) => items.iter_mut().for_each(sort),
        _ => {}
    }
}

fn table(keys: &[Key], exclusive: &[[&str; 2]], together: &[&[&str]]) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let mut value = of(&key.ty);
        if let Value::Object(map) = &mut value {
            map.insert("description".into(), json!(key.doc));
        }
        properties.insert(key.name.into(), value);
    }
    let required: Vec<&str> = keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    let mut out = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties,
    });
    if let Value::Object(map) = &mut out {
        if !required.is_empty() {
            map.insert("required".into(), json!(required));
        }
        if !exclusive.is_empty() {
            let not: Vec<Value> = exclusive
                .iter()
                .map(|pair| json!({ "not": { "required": pair } }))
                .collect();
            map.insert("allOf".into(), Value::Array(not));
        }
        if !together.is_empty() {
            let mut deps = Map::new();
            for group in together {
                for key in *group {
                    let rest: Vec<&str> = group.iter().copied().filter(|k| k != key).collect();
                    deps.insert((*key).into(), json!(rest));
                }
            }
            map.insert("dependentRequired".into(), Value::Object(deps));
        }
    }
    out
}

fn of(ty: &Type) -> Value {
    match ty {
        Type::Bool { default } => match default {
            Some(d) => json!({ "type": "boolean", "default": d }),
            None => json!({ "type": "boolean" }),
        },
        Type::Str(text) => string(*text),
        Type::Strings { item, min_items } => {
            let mut list = json!({ "type": "array", "items": string(*item) });
            if let Value::Object(map) = &mut list {
                if *min_items > 0 {
                    map.insert("minItems".into(), json!(min_items));
                }
                if matches!(item, Text::DockerId | Text::Platform) {
                    map.insert("uniqueItems".into(), json!(true));
                }
            }
            list
        }
        Type::Fraction { default } => json!({
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": default,
        }),
        Type::OneOf(values) => json!({ "type": "string", "enum": values }),
        Type::OneOfs(values) => json!({
            "type": "array",
            "items": { "type": "string", "enum": values },
            "uniqueItems": true,
        }),
        Type::Table {
            keys,
            exclusive,
            together,
        } => table(keys, exclusive, together),
        Type::Tables { keys, max_items } => json!({
            "type": "array",
            "maxItems": max_items,
            "items": table(keys, &[], &[]),
        }),
        Type::Map { name, value } => json!({
            "type": "object",
            "propertyNames": string(*name),
            "additionalProperties": of(value),
        }),
    }
}

/// A string of this syntax, its limits taken from `rules`.
pub fn string(text: Text) -> Value {
    let range = |r: &std::ops::RangeInclusive<usize>| format!("{{{},{}}}", r.start(), r.end());
    match text {
        Text::Any => json!({ "type": "string" }),
        Text::MaxChars(max) => json!({ "type": "string", "maxLength": max }),
        Text::OrgName => json!({
            "type": "string",
            "pattern": format!("^[a-z0-9]{}$", range(&rules::ORG_LEN)),
        }),
        Text::DockerId => json!({
            "type": "string",
            "pattern": format!("^[A-Za-z0-9]{}$", range(&rules::DOCKER_ID_LEN)),
        }),
        Text::TeamName => {
            let len = &rules::TEAM_NAME_RULE.1;
            let rest = (len.start().saturating_sub(1))..=(len.end().saturating_sub(1));
            json!({
                "type": "string",
                "pattern": format!("^[A-Za-z0-9][A-Za-z0-9_-]{}$", range(&rest)),
            })
        }
        Text::RepoName => json!({
            "type": "string",
            "pattern": "^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
            "minLength": rules::REPO_NAME_LEN.start(),
            "maxLength": rules::REPO_NAME_LEN.end(),
        }),
        // The full grammar (host, path components) is the walker's; no tag or digest here.
        Text::ImageReference => json!({
            "type": "string",
            "pattern": "^[^:@]+(?::[0-9]+/[^:@]+)?$",
            "minLength": 1,
            "maxLength": 255,
        }),
        Text::PinnedTag => json!({
            "type": "string",
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[0-9a-f]{64})?$",
        }),
        Text::Platform => json!({
            "type": "string",
            "pattern": "^[a-z0-9_.-]+/[a-z0-9_.-]+(?:/[a-z0-9_.-]+)?$",
        }),
    }
}

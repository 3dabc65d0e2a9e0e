//! The published JSON documents: a snapshot of each, and their shape (every field path with its JSON
//! types) pinned per format version in docs/json-shapes/. This file owns the shape check both
//! documents share; plan_document.rs holds the plan's tests, apply_report.rs the apply report's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use std::path::Path;

use super::*;
use crate::apply::{ApplyReport, ChangeResult, CopyTotals, Status};
use crate::model::{CustomRegistry, ImageAccess, Permission, RegistryAccess, Role, Username};
use crate::plan::access::{Level, Outside, Subject};
use crate::plan::{
    AccessChange, Action, Change, Delta, Drift, Note, Plan, RepoFields, ResourceKind,
};

mod apply_report;
pub(crate) mod plan_document;

/// Every field path of a document with the JSON types seen there: `changes[type=grant].team:
/// string`. Array elements share the path `[]`, or `[type=...]` for changes.
pub(crate) fn shape(docs: &[String]) -> BTreeSet<String> {
    fn walk(path: &str, v: &Value, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
        let ty = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.entry(path.to_string()).or_default().insert(ty);
        match v {
            Value::Array(items) => {
                for item in items {
                    let seg = match item.get("type").and_then(Value::as_str) {
                        Some(t) => format!("{path}[type={t}]"),
                        None => format!("{path}[]"),
                    };
                    walk(&seg, item, out);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for doc in docs {
        let v: Value = serde_json::from_str(doc).unwrap();
        walk("", &v, &mut out);
    }
    out.into_iter()
        .filter(|(p, _)| !p.is_empty())
        .map(|(p, t)| format!("{p}: {}", t.into_iter().collect::<Vec<_>>().join("|")))
        .collect()
}

/// The shape recorded for `name` at `version` (docs/json-shapes/NAME-vVERSION.txt).
fn recorded(name: &str, version: &str) -> Option<&'static str> {
    match (name, version) {
        ("plan", "1") => Some(include_str!("../../../../docs/json-shapes/plan-v1.txt")),
        ("apply", "1") => Some(include_str!("../../../../docs/json-shapes/apply-v1.txt")),
        ("snapshot", "1") => Some(include_str!("../../../../docs/json-shapes/snapshot-v1.txt")),
        ("saved-plan", "3") => Some(include_str!(
            "../../../../docs/json-shapes/saved-plan-v3.txt"
        )),
        _ => None,
    }
}

/// Fails when the document's shape differs from the one recorded for its format version: a field
/// gone or retyped is incompatible (bump the version), a new field is compatible but must be
/// recorded (and documented).
pub(crate) fn assert_shape(name: &str, version: &str, docs: &[String]) {
    let file = format!("docs/json-shapes/{name}-v{version}.txt");
    let Some(recorded) = recorded(name, version) else {
        panic!(
            "format_version {version} of the {name} document has no recorded shape: write {file} (one `path: types` line each, as this test prints)\n{}",
            shape(docs).into_iter().collect::<Vec<_>>().join("\n")
        );
    };
    let recorded: BTreeSet<String> = recorded
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let now = shape(docs);
    let gone: Vec<&String> = recorded.difference(&now).collect();
    let new: Vec<&String> = now.difference(&recorded).collect();
    assert!(
        gone.is_empty(),
        "the {name} document changed incompatibly without a format_version bump: {file} has {gone:#?}, the document now has {new:#?}. Removing, renaming or retyping a field needs a new format_version (and its shape file and docs)"
    );
    assert!(
        new.is_empty(),
        "the {name} document gained {new:#?}: additions keep format_version {version}, but record them in {file} and document them"
    );
}

//! The JSON documents vetted publishes for machines, with their own output types: the plan
//! (`plan --format json`, `show --format json`; docs/plan-json.md) and the apply report
//! (`apply --format json`; docs/apply-json.md).
//!
//! The internal [`Plan`](crate::plan::Plan), [`Change`](crate::plan::Change) and
//! [`ApplyReport`](crate::apply::ApplyReport) are never serialized as a published
//! format: each document here is plain data built from them by a pure function ([`plan_document`],
//! [`apply_document`]), so renaming an internal field or variant is a compile error here, not a
//! silent change of `format_version` 1. A change to these types is a change to the format: the
//! unit tests pin every field path and JSON type of each version (docs/json-shapes/), so a removed
//! or retyped field fails until the version is bumped, and an added one until it is recorded.
//!
//! Object keys print in alphabetical order (the documents go through [`serde_json::Value`], whose
//! maps are sorted), arrays in the order each document's page gives. Remote text (names,
//! descriptions, error bodies) keeps its value in the plan document, as JSON escapes it; messages
//! in the apply report are escaped as on stderr ([`untrusted_lines`](crate::render::untrusted_lines)).
//!
//! `plan.rs` holds the plan document, `apply.rs` the apply report.

use serde::Serialize;

use crate::plan::{Action, ResourceKind};

mod apply;
mod plan;

pub use apply::*;
pub use plan::*;

/// Version of the plan document. Bump on incompatible changes (a field removed, renamed, retyped
/// or given another meaning); additions keep it.
pub const PLAN_FORMAT_VERSION: &str = "1";

/// Version of the apply report, under the same rule.
pub const APPLY_FORMAT_VERSION: &str = "1";

fn to_json<T: Serialize>(doc: &T) -> String {
    // Through `Value`: its maps are sorted, so keys print in alphabetical order. Serializing these
    // types cannot fail (string keys, no maps with other keys).
    serde_json::to_value(doc)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_default()
}

pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}

pub fn kind_name(k: ResourceKind) -> &'static str {
    match k {
        ResourceKind::ImageAccess => "image_access",
        ResourceKind::RegistryAccess => "registry_access",
        ResourceKind::AllowedRepository => "allowed_repository",
        ResourceKind::Member => "member",
        ResourceKind::Invite => "invite",
        ResourceKind::Team => "team",
        ResourceKind::TeamMember => "team_member",
        ResourceKind::Repository => "repository",
        ResourceKind::Grant => "grant",
        ResourceKind::Image => "image",
    }
}

#[cfg(test)]
pub(crate) mod tests;

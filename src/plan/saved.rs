//! Saved plans (`vetted plan --out plan.json`, `vetted apply plan.json`, `vetted show plan.json`):
//! the plan as pure data together with fingerprints of everything it was computed from, so apply can
//! refuse a plan whose inputs moved on. This module owns the file format (docs/saved-plans.md), its
//! parsing and the fingerprints; it holds no credentials, makes no request and touches no file
//! (src/commands/saved.rs reads and writes the files).
//!
//! The file has its own versioned types (format 3, [`v3`]): the internal [`Plan`] is converted to
//! and from them, never serialized itself.
//!
//! Fingerprints are `sha256:` digests of canonical JSON (object keys sorted, no whitespace):
//! - `policy`: the policy file's bytes and the desired state it means (which includes the README
//!   files it references), and a partial plan's targets ([`Fingerprints::with_targets`]; the
//!   targets themselves travel in the plan, `plan.targets`);
//! - `lock`: vetted.lock's bytes, or `null` when there was none;
//! - `live`: the live organization as read with the policy's scope, its repositories' tags (as read
//!   from the registry and the hub's tag listing) included. `live_parts` holds one digest per
//!   section (image access, members, each team, each repository, each tag of a mirrored
//!   repository the policy lists or the organization holds), so a stale plan says what moved.
//!
//! Fingerprints are plain hashes anyone who can read the inputs can recompute, so they only say
//! that the inputs did not move. What a saved plan may change is decided by [`first_difference`]:
//! apply recomputes the plan from the same inputs and applies it only when its changes equal the
//! saved ones, [display-only fields](decisive) aside.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use std::borrow::Cow;

use crate::untrusted::untrusted;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{OrgState, PolicySettings, Repository};
use crate::plan::{Change, Plan};

mod v3;

/// What the `kind` field of a saved plan says.
pub const KIND: &str = "vetted-saved-plan";
/// Version of the saved-plan file format. Bump on incompatible changes (a field removed, renamed,
/// retyped or given another meaning); an older version is refused, never converted. 2: the `live`
/// fingerprint is the digest of the live state with its repositories' tags inside (1 hashed them
/// beside it). 3: the file's own types ([`v3`]); the plan inside has neither `format_version` nor
/// `org`.
pub const SAVED_FORMAT_VERSION: &str = "3";

/// A saved plan file, read or to be written (its file form: [`v3::FileV3`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlan {
    /// Always [`KIND`].
    pub kind: String,
    /// [`SAVED_FORMAT_VERSION`].
    pub format_version: String,
    /// The vetted version that wrote the file (information).
    pub vetted_version: String,
    pub org: String,
    /// The Docker Hub API base URL the live state was read from (never with credentials).
    pub hub_url: String,
    /// The policy file as given to `plan` (relative paths resolve against the working directory).
    pub policy: PathBuf,
    pub fingerprints: Fingerprints,
    pub plan: Plan,
}

/// What apply re-computes and compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub policy: String,
    /// `None`: there was no vetted.lock beside the policy.
    pub lock: Option<String>,
    pub live: String,
    /// One digest per live section, keyed like plan addresses (`team developers`,
    /// `repository acme/redis`, `image acme/redis:7.2`, `image_access`, `members`).
    pub live_parts: BTreeMap<String, String>,
}

/// A saved plan file could not be read or is not one this version understands.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SavedPlanError {
    pub path: String,
    pub message: String,
}

/// Writes `value` as JSON with object keys sorted and no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            // Sorted here, whatever order `serde_json::Map` keeps (a dependency enabling
            // serde_json's `preserve_order` would otherwise change every fingerprint).
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The digest of a value's canonical JSON.
fn digest_of<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(Value::Null);
    sha256(canonical_json(&v).as_bytes())
}

/// The policy fingerprint: the file's bytes and the desired state and settings they mean
/// (`desired` as the policy gives it, before its images are resolved).
pub fn policy_fingerprint(source: &[u8], desired: &OrgState, settings: &PolicySettings) -> String {
    let meaning = serde_json::json!({
        "file": sha256(source),
        "desired": digest_of(desired),
        "prune": settings.prune,
        "delete_threshold": settings.delete_threshold,
    });
    sha256(canonical_json(&meaning).as_bytes())
}

/// The lock fingerprint: its bytes, or `None` when there is no lock.
pub fn lock_fingerprint(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(sha256)
}

/// Per-section digests of the live state: a repository without its tags, and each tag of a
/// mirrored repository on its own, keyed like plan addresses. `desired` names the mirrored tags:
/// one the organization lacks has a section too (`null`), so its appearance is named.
pub fn live_parts(live: &OrgState, desired: &OrgState) -> BTreeMap<String, String> {
    let org = &live.org;
    let mut parts = BTreeMap::new();
    parts.insert("image_access".to_string(), digest_of(&live.image_access));
    parts.insert("members".to_string(), digest_of(&live.members));
    if live.allowlist.is_some() {
        parts.insert("allowlist".to_string(), digest_of(&live.allowlist));
    }
    if live.registry_access.is_some() {
        parts.insert(
            "registry_access".to_string(),
            digest_of(&live.registry_access),
        );
    }
    match &live.teams {
        None => {
            parts.insert("teams".to_string(), digest_of(&Value::Null));
        }
        Some(teams) => {
            for (name, team) in teams {
                parts.insert(format!("team {name}"), digest_of(team));
            }
        }
    }
    let mut tags: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (name, repo) in &desired.repositories {
        for tag in repo.mirror.iter().flat_map(|m| m.tags.keys()) {
            tags.insert((name, tag));
        }
    }
    for (name, repo) in &live.repositories {
        tags.extend(
            repo.tags
                .iter()
                .flat_map(|t| t.keys())
                .map(|t| (name.as_str(), t.as_str())),
        );
        let bare = Repository {
            tags: None,
            ..repo.clone()
        };
        parts.insert(format!("repository {org}/{name}"), digest_of(&bare));
    }
    // A tag's section keeps format 1's value: its digest, or `null` when the tag is missing.
    for (repo, tag) in tags {
        let digest = live.repositories.get(repo).and_then(|r| r.tag_digest(tag));
        parts.insert(
            crate::plan::image_address(org, repo, tag),
            digest_of(&digest),
        );
    }
    parts
}

/// The live fingerprint: the whole live state, its repositories' tags included.
pub fn live_fingerprint(live: &OrgState) -> String {
    digest_of(live)
}

impl Fingerprints {
    /// `desired` and `settings` as the policy gives them (before images are resolved).
    pub fn compute(
        policy_source: &[u8],
        desired: &OrgState,
        settings: &PolicySettings,
        lock: Option<&[u8]>,
        live: &OrgState,
    ) -> Fingerprints {
        Fingerprints {
            policy: policy_fingerprint(policy_source, desired, settings),
            lock: lock_fingerprint(lock),
            live: live_fingerprint(live),
            live_parts: live_parts(live, desired),
        }
    }

    /// Folds a partial plan's targets into the policy fingerprint: the same policy planned for
    /// other targets (or for none) gives another plan. Unchanged without targets.
    pub fn with_targets(mut self, targets: &[String]) -> Fingerprints {
        if !targets.is_empty() {
            let meaning = serde_json::json!({ "policy": self.policy, "targets": targets });
            self.policy = sha256(canonical_json(&meaning).as_bytes());
        }
        self
    }

    /// What differs between the fingerprints a plan was made from (`self`) and `now`, in words;
    /// empty when nothing did. `policy` and `lock` name the files.
    pub fn changes_since(&self, now: &Fingerprints, policy: &Path, lock: &Path) -> Vec<String> {
        let mut out = Vec::new();
        if self.policy != now.policy {
            out.push(format!(
                "the policy {} (or a file it references) changed",
                policy.display()
            ));
        }
        match (&self.lock, &now.lock) {
            (Some(_), None) => out.push(format!("{} was removed", lock.display())),
            (None, Some(_)) => out.push(format!("{} was created", lock.display())),
            (Some(a), Some(b)) if a != b => out.push(format!("{} changed", lock.display())),
            _ => {}
        }
        if self.live != now.live {
            let mut moved = Vec::new();
            for (key, digest) in &now.live_parts {
                match self.live_parts.get(key) {
                    None => moved.push(format!("{key} (new)")),
                    Some(old) if old != digest => moved.push(key.clone()),
                    Some(_) => {}
                }
            }
            for key in self.live_parts.keys() {
                if !now.live_parts.contains_key(key) {
                    moved.push(format!("{key} (gone)"));
                }
            }
            if moved.is_empty() {
                out.push("the live organization changed".to_string());
            } else {
                out.push(format!(
                    "the live organization changed: {}",
                    moved.join(", ")
                ));
            }
        }
        out
    }
}

/// A change without its display-only fields, as compared by [`first_difference`].
///
/// Display-only, and so not compared: a copy row's `bytes` and `manifests` (estimates read from
/// the source manifests, shown to people and used for the early pull-limit check); and, of the
/// whole plan, `notes`, `access` (derived from the changes and the live state) and `api_calls`.
/// Everything else is compared, the `old` sides of updates included: they come from the same
/// live state the fingerprints cover, so a plan its inputs give always has the same ones.
fn decisive(change: &Change) -> Value {
    let mut c = change.clone();
    if let Change::CopyImage {
        bytes, manifests, ..
    } = &mut c
    {
        *bytes = 0;
        *manifests = 0;
    }
    serde_json::to_value(v3::ChangeV3::from(&c)).unwrap_or(Value::Null)
}

/// `+ invite mallory`: a change as the plan shows it. The address comes from the saved file
/// (input): `escape` makes it safe to show.
fn shown(change: &Change, org: &str, escape: &dyn Fn(&str) -> String) -> String {
    format!(
        "`{} {}`",
        change.action().marker(),
        escape(&change.address(org))
    )
}

/// The first way `saved`'s changes differ from `now`'s (the plan its inputs give), in words;
/// `None` when they are the same set of changes ([`decisive`] fields; order aside: apply orders
/// changes itself). The one comparison `apply PLAN` makes. `escape` is applied to everything
/// the message quotes from the saved file (the caller's escaping of text from outside).
pub fn first_difference(
    saved: &Plan,
    now: &Plan,
    escape: &dyn Fn(&str) -> String,
) -> Option<String> {
    if saved.org != now.org {
        return Some(format!(
            "the saved plan is for organization {}, its inputs for {}",
            escape(&saved.org),
            now.org
        ));
    }
    let org = &now.org;
    // The recomputed changes by address (unique within a plan its inputs give).
    let mut given: BTreeMap<String, Vec<(Value, &Change)>> = BTreeMap::new();
    for c in &now.changes {
        given
            .entry(c.address(org))
            .or_default()
            .push((decisive(c), c));
    }
    for c in &saved.changes {
        let address = c.address(org);
        let wanted = decisive(c);
        let Some(candidates) = given.get_mut(&address) else {
            return Some(format!(
                "the saved plan has {}, which its inputs do not give",
                shown(c, org, escape)
            ));
        };
        if let Some(i) = candidates.iter().position(|(v, _)| *v == wanted) {
            candidates.remove(i);
            continue;
        }
        let Some((theirs, _)) = candidates.first() else {
            return Some(format!(
                "the saved plan has {} more often than its inputs give it",
                shown(c, org, escape)
            ));
        };
        let field = first_field(&wanted, theirs);
        return Some(format!("{} differs in `{field}`", shown(c, org, escape)));
    }
    for c in &now.changes {
        let address = c.address(org);
        if given.get(&address).is_some_and(|left| !left.is_empty()) {
            return Some(format!(
                "its inputs give {}, which the saved plan lacks",
                shown(c, org, escape)
            ));
        }
    }
    None
}

/// The first field (in key order) where two serialized changes differ.
fn first_field(a: &Value, b: &Value) -> String {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return "type".into();
    };
    if a.get("type") != b.get("type") {
        return "type".into();
    }
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .find(|k| a.get(*k) != b.get(*k))
        .map_or_else(|| "type".into(), |k| k.to_string())
}

/// Fills the display-only estimates (`bytes`, `manifests`) of the copy rows of `copies` (other
/// changes are left as they are) from `saved`'s copy rows
/// with the same address: `apply PLAN` shows the estimates that were reviewed without reading
/// every source manifest again (Docker Hub counts manifest GETs as pulls).
pub fn take_estimates(copies: &mut [Change], saved: &Plan) {
    let org = &saved.org;
    let reviewed: BTreeMap<String, (u64, u64)> = saved
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::CopyImage {
                bytes, manifests, ..
            } => Some((c.address(org), (*bytes, *manifests))),
            _ => None,
        })
        .collect();
    for c in copies.iter_mut() {
        let address = c.address(org);
        if let Change::CopyImage {
            bytes, manifests, ..
        } = c
            && let Some((b, m)) = reviewed.get(&address)
        {
            *bytes = *b;
            *manifests = *m;
        }
    }
}

/// `url` without user name, password, query or fragment: what a saved plan records.
pub fn recorded_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.as_str().trim_end_matches('/').to_string()
}

impl SavedPlan {
    pub fn new(
        plan: Plan,
        hub_url: &url::Url,
        policy: &Path,
        fingerprints: Fingerprints,
    ) -> SavedPlan {
        SavedPlan {
            kind: KIND.to_string(),
            format_version: SAVED_FORMAT_VERSION.to_string(),
            vetted_version: env!("CARGO_PKG_VERSION").to_string(),
            org: plan.org.clone(),
            hub_url: recorded_url(hub_url),
            policy: policy.to_path_buf(),
            fingerprints,
            plan,
        }
    }

    /// The file's text: pretty JSON, keys in a fixed order, a trailing newline.
    pub fn to_json(&self) -> String {
        let file = v3::FileV3 {
            kind: self.kind.clone(),
            format_version: self.format_version.clone(),
            vetted_version: self.vetted_version.clone(),
            org: self.org.clone(),
            hub_url: self.hub_url.clone(),
            policy: self.policy.to_string_lossy().into_owned(),
            fingerprints: (&self.fingerprints).into(),
            plan: (&self.plan).into(),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Parses a saved plan, checking its kind and versions before its shape so that a file from
    /// another version says so rather than failing on a field.
    pub fn parse(path: &Path, text: &str) -> Result<SavedPlan, SavedPlanError> {
        let shown = path.display().to_string();
        let err = |message: String| SavedPlanError {
            path: shown.clone(),
            message,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "not a saved plan: invalid JSON at line {} column {}: {e}; write one with `vetted plan --out {shown}`",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(map) = &value else {
            return Err(err(
                "not a saved plan: the file is not a JSON object; write one with `vetted plan --out`"
                    .into(),
            ));
        };
        match map.get("kind").and_then(Value::as_str) {
            Some(KIND) => {}
            Some(other) => {
                return Err(err(format!(
                    "not a saved plan: `kind` is {other:?}, expected {KIND:?} (a `plan --format json` document cannot be applied; write one with `vetted plan --out`)"
                )));
            }
            None => {
                return Err(err(format!(
                    "not a saved plan: no `kind` field (expected {KIND:?}); a `plan --format json` document cannot be applied; write one with `vetted plan --out`"
                )));
            }
        }
        let version = map.get("format_version").and_then(Value::as_str);
        if version != Some(SAVED_FORMAT_VERSION) {
            let written_by = map
                .get("vetted_version")
                .and_then(Value::as_str)
                .map_or(Cow::Borrowed("an unknown version"), untrusted);
            return Err(err(format!(
                "saved plan format {} (written by vetted {written_by}) is not supported: this vetted {} reads format {SAVED_FORMAT_VERSION}; run `vetted plan --out` again with this version",
                version.map_or_else(|| "(missing)".to_string(), |v| format!("{v:?}")),
                env!("CARGO_PKG_VERSION"),
            )));
        }
        // serde names an unknown field or variant as written in the file: escaped to one line.
        let file: v3::FileV3 = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "corrupt saved plan at line {} column {}: {}; run `vetted plan --out` again",
                e.line(),
                e.column(),
                untrusted(&e.to_string())
            ))
        })?;
        let saved = SavedPlan {
            plan: file.plan.into_plan(&file.org),
            kind: file.kind,
            format_version: file.format_version,
            vetted_version: file.vetted_version,
            org: file.org,
            hub_url: file.hub_url,
            policy: PathBuf::from(file.policy),
            fingerprints: file.fingerprints.into(),
        };
        Ok(saved)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod compare_tests;

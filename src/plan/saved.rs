//! Saved plans (`vetted plan --out plan.json`, `vetted apply plan.json`, `vetted show plan.json`):
//! the plan as pure data together with fingerprints of everything it was computed from, so apply can
//! refuse a plan whose inputs moved on. This module owns the file format (docs/saved-plans.md), its
//! parsing and the fingerprints; it holds no credentials, makes no request and touches no file
//! (src/commands/saved.rs reads and writes the files).
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

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{OrgState, PolicySettings, Repository};
use crate::plan::{Change, FORMAT_VERSION, Plan};

/// What the `kind` field of a saved plan says.
pub const KIND: &str = "vetted-saved-plan";
/// Version of the saved-plan file format. Bump on incompatible changes. 2: the `live` fingerprint
/// is the digest of the live state with its repositories' tags inside (1 hashed them beside it).
pub const SAVED_FORMAT_VERSION: &str = "2";

/// A saved plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    serde_json::to_value(&c).unwrap_or(Value::Null)
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
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
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
                .unwrap_or("an unknown version");
            return Err(err(format!(
                "saved plan format {} (written by vetted {written_by}) is not supported: this vetted {} reads format {SAVED_FORMAT_VERSION}; run `vetted plan --out` again with this version",
                version.map_or_else(|| "(missing)".to_string(), |v| format!("{v:?}")),
                env!("CARGO_PKG_VERSION"),
            )));
        }
        let saved: SavedPlan = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "corrupt saved plan at line {} column {}: {e}; run `vetted plan --out` again",
                e.line(),
                e.column()
            ))
        })?;
        if saved.plan.format_version != FORMAT_VERSION {
            return Err(err(format!(
                "the plan inside has format {:?}; this vetted reads {FORMAT_VERSION:?}; run `vetted plan --out` again",
                saved.plan.format_version
            )));
        }
        if saved.plan.org != saved.org {
            return Err(err(format!(
                "corrupt saved plan: `org` is {:?} but the plan is for {:?}",
                saved.org, saved.plan.org
            )));
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Permission, Repository, Team, Username};
    use crate::plan::Change;

    fn live() -> OrgState {
        let mut s = OrgState::empty("acme");
        let mut team = Team::default();
        team.members.insert(Username::new("bob"));
        s.teams = Some(BTreeMap::from([("devs".to_string(), team)]));
        s.repositories.insert(
            "redis".into(),
            Repository {
                private: true,
                description: Some("d".into()),
                full_description: Some(String::new()),
                grants: Some(BTreeMap::from([("devs".to_string(), Permission::Read)])),
                mirror: None,
                tags: None,
            },
        );
        s
    }

    fn desired() -> OrgState {
        OrgState::empty("acme")
    }
    const SETTINGS: PolicySettings = PolicySettings {
        prune: false,
        delete_threshold: 0.25,
    };

    fn saved() -> SavedPlan {
        let plan = Plan {
            targets: Vec::new(),
            format_version: FORMAT_VERSION.into(),
            org: "acme".into(),
            changes: vec![Change::DeleteRepository {
                repository: "legacy".into(),
            }],
            notes: vec![],
            access: vec![],
            snapshot: None,
            drift: Default::default(),
            api_calls: 3,
        };
        let fp = Fingerprints::compute(b"org = \"acme\"\n", &desired(), &SETTINGS, None, &live());
        let url = url::Url::parse("http://user:pw@127.0.0.1:5080/?q=1").unwrap();
        SavedPlan::new(plan, &url, Path::new("vetted.toml"), fp)
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v = serde_json::json!({"b": [{"z": 1, "a": null}], "a": "x\"y"});
        assert_eq!(canonical_json(&v), r#"{"a":"x\"y","b":[{"a":null,"z":1}]}"#);
        // Arrays keep their order, one comma between items; objects sort by key bytes.
        let v = serde_json::json!({"k": [3, 1, [true, "s"], {}], "B": {"y": 2, "x": 1}, "a": []});
        assert_eq!(
            canonical_json(&v),
            r#"{"B":{"x":1,"y":2},"a":[],"k":[3,1,[true,"s"],{}]}"#
        );
        // Keys inserted out of order (as a `preserve_order` map would keep them) come out sorted.
        let mut map = serde_json::Map::new();
        for k in ["zeta", "alpha", "mid"] {
            map.insert(k.to_string(), Value::from(k.len()));
        }
        assert_eq!(
            canonical_json(&Value::Object(map)),
            r#"{"alpha":5,"mid":3,"zeta":4}"#
        );
    }

    #[test]
    fn round_trip_and_no_credentials_in_the_url() {
        let s = saved();
        assert_eq!(s.hub_url, "http://127.0.0.1:5080");
        let text = s.to_json();
        assert!(!text.contains("pw") && !text.contains("user"), "{text}");
        let back = SavedPlan::parse(Path::new("plan.json"), &text).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let p = Path::new("plan.json");
        let e = SavedPlan::parse(p, "{\"kind\": ").unwrap_err().to_string();
        assert!(
            e.starts_with("plan.json: not a saved plan: invalid JSON at line 1"),
            "{e}"
        );
        let e = SavedPlan::parse(p, r#"{"format_version":"1","org":"acme","changes":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `kind` field"), "{e}");
        let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
        v["format_version"] = "3".into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(e.contains("saved plan format \"3\""), "{e}");
        assert!(e.contains("run `vetted plan --out` again"), "{e}");
        // Format 1 (its live fingerprint hashed the tags beside the state): refused, not stale.
        v["format_version"] = "1".into();
        v["vetted_version"] = "0.1.0".into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(
            e.contains("saved plan format \"1\" (written by vetted 0.1.0) is not supported"),
            "{e}"
        );
        let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
        v["plan"]["changes"][0]["type"] = "explode".into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(e.contains("corrupt saved plan at line"), "{e}");
        let mut v: Value = serde_json::from_str(&saved().to_json()).unwrap();
        v["org"] = "other".into();
        let e = SavedPlan::parse(p, &v.to_string()).unwrap_err().to_string();
        assert!(e.contains("corrupt saved plan: `org`"), "{e}");
    }

    #[test]
    fn changes_since_names_what_moved() {
        // The policy mirrors redis:7.2; the organization lacks the tag when the plan is made.
        let mut want = desired();
        want.repositories.insert(
            "redis".into(),
            Repository {
                mirror: Some(crate::model::Mirror {
                    from: "bitnami/redis".into(),
                    tags: BTreeMap::from([("7.2".to_string(), None)]),
                    platforms: None,
                    signatures: false,
                    verify: None,
                }),
                ..live().repositories["redis"].clone()
            },
        );
        let mut old = live();
        old.repositories
            .insert("old".into(), old.repositories["redis"].clone());
        let fp = |src: &[u8], lock: Option<&[u8]>, live: &OrgState| {
            Fingerprints::compute(src, &want, &SETTINGS, lock, live)
        };
        let before = fp(b"a", Some(b"lock"), &old);
        assert!(
            before.live_parts.contains_key("image acme/redis:7.2"),
            "{before:?}"
        );
        let same = fp(b"a", Some(b"lock"), &old);
        let (p, l) = (Path::new("vetted.toml"), Path::new("vetted.lock"));
        assert!(before.changes_since(&same, p, l).is_empty());

        let mut drifted = old.clone();
        drifted
            .teams
            .as_mut()
            .unwrap()
            .get_mut("devs")
            .unwrap()
            .members
            .insert(Username::new("mallory"));
        drifted.repositories.remove("old");
        // The tag appears: its own section moves, not its repository's.
        drifted.repositories.get_mut("redis").unwrap().tags = Some(BTreeMap::from([(
            "7.2".to_string(),
            crate::model::Image {
                digest: format!("sha256:{}", "1".repeat(64)),
                source: None,
            },
        )]));
        // A lock that appears after the plan, or whose bytes change, is a change too.
        let unlocked = fp(b"a", None, &old);
        assert_eq!(
            unlocked.changes_since(&before, p, l),
            vec!["vetted.lock was created".to_string()]
        );
        let relocked = fp(b"a", Some(b"lock2"), &old);
        assert_eq!(
            before.changes_since(&relocked, p, l),
            vec!["vetted.lock changed".to_string()]
        );
        assert!(unlocked.changes_since(&unlocked, p, l).is_empty());

        let now = fp(b"b", None, &drifted);
        let said = before.changes_since(&now, p, l);
        assert_eq!(
            said,
            vec![
                "the policy vetted.toml (or a file it references) changed".to_string(),
                "vetted.lock was removed".to_string(),
                "the live organization changed: image acme/redis:7.2, team devs, repository acme/old (gone)"
                    .to_string(),
            ]
        );

        // A hand-pushed tag of a mirrored repository is a section of its own too, and the whole
        // live fingerprint covers every tag.
        let mut pushed = drifted.clone();
        pushed
            .repositories
            .get_mut("redis")
            .unwrap()
            .tags
            .as_mut()
            .unwrap()
            .insert(
                "hand".into(),
                crate::model::Image {
                    digest: String::new(),
                    source: None,
                },
            );
        let after = fp(b"b", None, &pushed);
        assert_ne!(after.live, now.live);
        assert_eq!(
            now.changes_since(&after, p, l),
            vec!["the live organization changed: image acme/redis:hand (new)".to_string()]
        );
    }
}

#[cfg(test)]
mod compare_tests {
    use super::*;
    use crate::model::{Permission, Role, Username};
    use crate::plan::{Delta, Note, ResourceKind};

    fn copy(tag: &str, bytes: u64, manifests: u64) -> Change {
        Change::CopyImage {
            repository: "redis".into(),
            tag: tag.into(),
            source: format!("docker.io/bitnami/redis:{tag}@sha256:{}", "a".repeat(64)),
            digest: format!("sha256:{}", "a".repeat(64)),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes,
            manifests,
        }
    }
    fn grant(team: &str, permission: Permission) -> Change {
        Change::Grant {
            repository: "api".into(),
            team: team.into(),
            permission,
        }
    }
    /// No escaping: the messages as written.
    fn same(s: &str) -> String {
        s.to_string()
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            targets: Vec::new(),
            format_version: FORMAT_VERSION.into(),
            org: "acme".into(),
            changes,
            notes: vec![],
            api_calls: 0,
            access: vec![],
            snapshot: None,
            drift: Default::default(),
        }
    }

    #[test]
    fn display_only_fields_and_order_are_not_compared() {
        let now = plan(vec![grant("devs", Permission::Read), copy("7.2", 10, 2)]);
        let mut saved = plan(vec![copy("7.2", 999, 0), grant("devs", Permission::Read)]);
        saved.api_calls = 42;
        saved.notes.push(Note {
            kind: ResourceKind::Image,
            address: "docker.io".into(),
            message: "anything".into(),
        });
        assert_eq!(first_difference(&saved, &now, &same), None);
        assert_eq!(first_difference(&now, &now, &same), None);
    }

    #[test]
    fn every_other_difference_is_named() {
        let now = plan(vec![grant("devs", Permission::Read)]);
        let owner = Change::Invite {
            invitee: Username::new("mallory"),
            role: Role::Owner,
            team: None,
        };
        let extra = plan(vec![grant("devs", Permission::Read), owner]);
        assert_eq!(
            first_difference(&extra, &now, &same).as_deref(),
            Some("the saved plan has `+ invite mallory`, which its inputs do not give")
        );
        let missing = plan(vec![]);
        assert_eq!(
            first_difference(&missing, &now, &same).as_deref(),
            Some("its inputs give `+ grant acme/api:devs`, which the saved plan lacks")
        );
        let admin = plan(vec![grant("devs", Permission::Admin)]);
        assert_eq!(
            first_difference(&admin, &now, &same).as_deref(),
            Some("`+ grant acme/api:devs` differs in `permission`")
        );
        let twice = plan(vec![
            grant("devs", Permission::Read),
            grant("devs", Permission::Read),
        ]);
        assert_eq!(
            first_difference(&twice, &now, &same).as_deref(),
            Some("the saved plan has `+ grant acme/api:devs` more often than its inputs give it")
        );
        let other_type = plan(vec![Change::UpdateGrant {
            repository: "api".into(),
            team: "devs".into(),
            permission: Delta {
                old: Permission::Read,
                new: Permission::Read,
            },
        }]);
        assert_eq!(
            first_difference(&other_type, &now, &same).as_deref(),
            Some("`~ grant acme/api:devs` differs in `type`")
        );
        // The `old` side is compared too: it comes from the live state the fingerprints cover.
        let now = plan(vec![copy("7.2", 0, 0)]);
        let mut moved = copy("7.2", 0, 0);
        if let Change::CopyImage { old_digest, .. } = &mut moved {
            *old_digest = Some(format!("sha256:{}", "b".repeat(64)));
        }
        assert_eq!(
            first_difference(&plan(vec![moved]), &now, &same).as_deref(),
            Some("`~ image acme/redis:7.2` differs in `old_digest`")
        );
        let mut elsewhere = plan(vec![]);
        elsewhere.org = "other".into();
        assert!(
            first_difference(&elsewhere, &plan(vec![]), &same)
                .is_some_and(|d| d.contains("organization other"))
        );
    }

    #[test]
    fn what_the_message_quotes_from_the_file_goes_through_the_escape() {
        let now = plan(vec![grant("devs", Permission::Read)]);
        let forged = plan(vec![grant("devs\u{1b}[2J", Permission::Read)]);
        let marked = |s: &str| format!("<{}>", s.replace('\u{1b}', "ESC"));
        assert_eq!(
            first_difference(&forged, &now, &marked).as_deref(),
            Some(
                "the saved plan has `+ <grant acme/api:devsESC[2J>`, which its inputs do not give"
            )
        );
        let mut elsewhere = plan(vec![]);
        elsewhere.org = "o\u{1b}".into();
        assert!(
            first_difference(&elsewhere, &plan(vec![]), &marked)
                .is_some_and(|d| d.contains("organization <oESC>"))
        );
    }

    #[test]
    fn estimates_come_from_the_saved_rows_with_the_same_address() {
        let saved = plan(vec![copy("7.2", 100, 3), grant("devs", Permission::Read)]);
        let mut copies = vec![copy("7.2", 0, 0), copy("7.4", 0, 0)];
        take_estimates(&mut copies, &saved);
        assert_eq!(copies, vec![copy("7.2", 100, 3), copy("7.4", 0, 0)]);
    }
}

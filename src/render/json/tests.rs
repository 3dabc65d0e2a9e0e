//! The published JSON documents: a snapshot of each, and their shape (every field path with its JSON
//! types) pinned per format version in docs/json-shapes/.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use std::path::Path;

use super::*;
use crate::apply::{ApplyReport, ChangeResult, CopyTotals, Status};
use crate::model::{CustomRegistry, ImageAccess, Permission, RegistryAccess, Role, Username};
use crate::plan::access::{Level, Outside, Subject};
use crate::plan::{
    AccessChange, Action, Change, Delta, Drift, FORMAT_VERSION, Note, Plan, RepoFields,
    ResourceKind,
};

fn d<T>(old: T, new: T) -> Delta<T> {
    Delta { old, new }
}

fn ia(enabled: bool) -> ImageAccess {
    ImageAccess {
        enabled,
        allow_official_images: true,
        allow_verified_publishers: false,
    }
}

fn ra(enabled: bool, custom: Vec<CustomRegistry>) -> RegistryAccess {
    RegistryAccess {
        enabled,
        docker_hub: true,
        custom,
    }
}

/// One change of every type, optional fields both set and unset.
fn every_change() -> Vec<Change> {
    let u = Username::new;
    let ghcr = CustomRegistry {
        address: "ghcr.io".into(),
        friendly_name: "GitHub".into(),
        allowed: true,
    };
    vec![
        Change::SetImageAccess {
            old: Some(ia(false)),
            new: ia(true),
        },
        Change::SetRegistryAccess {
            old: None,
            new: ra(true, vec![ghcr]),
        },
        Change::AllowRepository {
            repository: "bitnami/redis".into(),
        },
        Change::DisallowRepository {
            repository: "library/busybox".into(),
        },
        Change::SetRole {
            user: u("ed"),
            old: Role::Member,
            new: Role::Editor,
        },
        Change::RemoveMember {
            user: u("old"),
            role: Role::Owner,
        },
        Change::Invite {
            invitee: u("fay"),
            role: Role::Member,
            team: Some("devs".into()),
        },
        Change::Invite {
            invitee: u("gus"),
            role: Role::Editor,
            team: None,
        },
        Change::CancelInvite {
            id: "inv-1".into(),
            invitee: "hal@example.com".into(),
            team: None,
        },
        Change::CreateTeam {
            team: "devs".into(),
            description: "Developers".into(),
        },
        Change::UpdateTeam {
            team: "ops".into(),
            description: d("Ops".into(), "Operations".into()),
        },
        Change::DeleteTeam {
            team: "legacy".into(),
        },
        Change::AddTeamMember {
            team: "devs".into(),
            user: u("fay"),
        },
        Change::RemoveTeamMember {
            team: "ops".into(),
            user: u("ivy"),
        },
        Change::CreateRepository {
            repository: "nginx".into(),
            fields: RepoFields {
                private: true,
                description: "Vetted nginx".into(),
                full_description: String::new(),
            },
        },
        Change::UpdateRepository {
            repository: "redis".into(),
            private: Some(d(true, false)),
            description: None,
            full_description: Some(d("old".into(), "new".into())),
        },
        Change::UpdateRepository {
            repository: "api".into(),
            private: None,
            description: Some(d("a".into(), "b".into())),
            full_description: None,
        },
        Change::DeleteRepository {
            repository: "old-tool".into(),
        },
        Change::Grant {
            repository: "nginx".into(),
            team: "devs".into(),
            permission: Permission::Write,
        },
        Change::UpdateGrant {
            repository: "redis".into(),
            team: "ops".into(),
            permission: d(Permission::Read, Permission::Admin),
        },
        Change::Revoke {
            repository: "redis".into(),
            team: "qa".into(),
            permission: Permission::Read,
        },
        Change::CopyImage {
            repository: "nginx".into(),
            tag: "1.27".into(),
            source: format!("docker.io/library/nginx:1.27@sha256:{}", "ab".repeat(32)),
            digest: format!("sha256:{}", "ab".repeat(32)),
            old_digest: None,
            platforms: None,
            signatures: false,
            bytes: 3 * 1024 * 1024,
            manifests: 3,
        },
        Change::CopyImage {
            repository: "redis".into(),
            tag: "7.2".into(),
            source: format!("docker.io/bitnami/redis:7.2@sha256:{}", "cd".repeat(32)),
            digest: format!("sha256:{}", "ef".repeat(32)),
            old_digest: Some(format!("sha256:{}", "01".repeat(32))),
            platforms: Some(vec!["linux/amd64".into()]),
            signatures: true,
            bytes: 512,
            manifests: 2,
        },
        Change::DeleteTag {
            repository: "redis".into(),
            tag: "hand".into(),
            digest: format!("sha256:{}", "99".repeat(32)),
        },
    ]
}

fn access_changes() -> Vec<AccessChange> {
    let a = |subject, repository: &str, old, new, pending, outside| AccessChange {
        subject,
        repository: repository.into(),
        old,
        new,
        pending,
        outside,
    };
    vec![
        a(
            Subject::Everyone,
            "nginx",
            None,
            Some(Level::Pull),
            false,
            None,
        ),
        a(
            Subject::Members,
            "docker.io/bitnami/redis",
            None,
            Some(Level::Pull),
            false,
            Some(Outside::Allowlist {
                mirrored_as: vec!["redis".into()],
            }),
        ),
        a(
            Subject::Members,
            "every registry",
            Some(Level::Pull),
            None,
            false,
            Some(Outside::RegistryAccess {
                except: vec!["docker.io".into()],
            }),
        ),
        a(
            Subject::Members,
            "quay.io",
            Some(Level::Pull),
            None,
            false,
            Some(Outside::RegistryAccess { except: vec![] }),
        ),
        a(
            Subject::Team("ops".into()),
            "redis",
            Some(Level::Pull),
            Some(Level::Admin),
            false,
            None,
        ),
        a(
            Subject::Person("erin".into()),
            "redis",
            None,
            Some(Level::Push),
            true,
            None,
        ),
    ]
}

/// A plan with every change type, notes, access changes and drift.
fn every_kind() -> Plan {
    let mut changes = every_change();
    crate::plan::diff::sort_changes(&mut changes, "acme");
    Plan {
        targets: Vec::new(),
        format_version: FORMAT_VERSION.into(),
        org: "acme".into(),
        changes,
        notes: vec![Note {
            kind: ResourceKind::Member,
            address: "member old".into(),
            message: "member not in the policy (left alone)".into(),
        }],
        api_calls: 12,
        access: access_changes(),
        snapshot: None,
        drift: Drift {
            changes: vec![Change::Revoke {
                repository: "api".into(),
                team: "qa".into(),
                permission: Permission::Write,
            }],
            access: vec![AccessChange {
                subject: Subject::Team("qa".into()),
                repository: "api".into(),
                old: None,
                new: Some(Level::Push),
                pending: false,
                outside: None,
            }],
        },
    }
}

/// The optional fields every_kind() leaves unset (or sets), set (or unset): the shapes of both
/// plans together hold every type a field can have.
fn alternatives() -> Plan {
    let mut changes = vec![
        Change::SetImageAccess {
            old: None,
            new: ia(true),
        },
        Change::SetRegistryAccess {
            old: Some(ra(false, vec![])),
            new: ra(true, vec![]),
        },
        Change::CancelInvite {
            id: "inv-2".into(),
            invitee: "jo".into(),
            team: Some("ops".into()),
        },
    ];
    crate::plan::diff::sort_changes(&mut changes, "acme");
    Plan {
        changes,
        notes: vec![],
        access: vec![],
        // A partial plan (`--target`).
        targets: vec!["repositories.api".into(), "teams.ops".into()],
        snapshot: Some(crate::plan::SnapshotBasis {
            taken_at: "2026-12-02T12:00:00Z".into(),
            age_seconds: 10_800,
            fingerprint: format!("sha256:{}", "ab".repeat(32)),
            vetted_version: "0.1.0".into(),
        }),
        drift: Drift {
            changes: vec![],
            access: vec![AccessChange {
                subject: Subject::Person("kim".into()),
                repository: "api".into(),
                old: Some(Level::Pull),
                new: None,
                pending: false,
                outside: None,
            }],
        },
        ..every_kind()
    }
}

fn plan_documents() -> Vec<String> {
    vec![json(&every_kind()), json(&alternatives())]
}

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
        ("plan", "1") => Some(include_str!("../../../docs/json-shapes/plan-v1.txt")),
        ("apply", "1") => Some(include_str!("../../../docs/json-shapes/apply-v1.txt")),
        ("snapshot", "1") => Some(include_str!("../../../docs/json-shapes/snapshot-v1.txt")),
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

#[test]
fn the_plan_document_of_every_change_type() {
    let doc = json(&every_kind());
    insta::assert_snapshot!("plan_every_change_type", doc);
    let v: Value = serde_json::from_str(&doc).unwrap();
    let types: BTreeSet<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    let all = [
        "set_image_access",
        "set_registry_access",
        "allow_repository",
        "disallow_repository",
        "set_role",
        "remove_member",
        "invite",
        "cancel_invite",
        "create_team",
        "update_team",
        "delete_team",
        "add_team_member",
        "remove_team_member",
        "create_repository",
        "update_repository",
        "delete_repository",
        "grant",
        "update_grant",
        "revoke",
        "copy_image",
        "delete_tag",
    ];
    assert_eq!(types, all.into_iter().collect(), "every change type");
    assert_eq!(v["format_version"], PLAN_FORMAT_VERSION);
    assert_eq!(v["summary"]["images"], 2);
    assert_eq!(v["drift"]["changes"][0]["type"], "revoke");
}

#[test]
fn the_plan_document_keeps_the_shape_of_its_format_version() {
    assert_shape("plan", PLAN_FORMAT_VERSION, &plan_documents());
}

#[test]
fn the_shape_check_sees_a_renamed_or_missing_field() {
    let docs = plan_documents();
    let renamed: Vec<String> = docs
        .iter()
        .map(|d| d.replace("\"old_digest\"", "\"previous_digest\""))
        .collect();
    let r = std::panic::catch_unwind(|| assert_shape("plan", "1", &renamed));
    assert!(r.is_err(), "a renamed field must fail the shape check");
    let retyped: Vec<String> = docs
        .iter()
        .map(|d| d.replace("\"api_calls\": 12", "\"api_calls\": \"12\""))
        .collect();
    let r = std::panic::catch_unwind(|| assert_shape("plan", "1", &retyped));
    assert!(r.is_err(), "a retyped field must fail the shape check");
    let r = std::panic::catch_unwind(|| assert_shape("plan", "2", &docs));
    assert!(r.is_err(), "an unrecorded format version must fail");
}

fn report() -> ApplyReport {
    let r = |address: &str, action, status| ChangeResult {
        address: address.into(),
        action,
        status,
    };
    ApplyReport {
        results: vec![
            r("team acme/devs", Action::Create, Status::Done),
            r("repository acme/nginx", Action::Create, Status::Done),
            r(
                "image acme/nginx:1.27",
                Action::Create,
                Status::Failed(
                    "copying docker.io/library/nginx:1.27: HTTP 500: boom\u{1b}[2J\u{202e}\n  hint: retry"
                        .into(),
                ),
            ),
            r(
                "image acme/redis:7.2",
                Action::Update,
                Status::Skipped("its repository could not be created".into()),
            ),
            r("grant acme/redis:qa", Action::Delete, Status::Done),
            r("member ed", Action::Update, Status::Done),
        ],
    }
}

fn copy() -> CopyTotals {
    CopyTotals {
        images: 1,
        blobs_copied: 3,
        blobs_mounted: 1,
        blobs_skipped: 2,
        bytes: 4096,
    }
}

fn incomplete(plan: &Plan) -> String {
    apply_json(&ApplyFacts {
        end: ApplyEnd::Incomplete,
        exit_code: 1,
        plan: Some(plan),
        file: Some(Path::new("plan.json")),
        report: Some(&report()),
        copy: &copy(),
    })
}

#[test]
fn the_apply_report_lists_what_was_done_failed_and_skipped() {
    let plan = every_kind();
    let doc = incomplete(&plan);
    insta::assert_snapshot!("apply_incomplete", doc);
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["summary"]["add"], 2);
    assert_eq!(v["summary"]["change"], 1);
    assert_eq!(v["summary"]["destroy"], 1);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["skipped"], 1);
    assert_eq!(v["results"][2]["kind"], "image");
    // The error quotes a registry: escaped as on stderr (its own hint line kept).
    assert_eq!(
        v["results"][2]["message"],
        "copying docker.io/library/nginx:1.27: HTTP 500: boom\\u{1b}[2J\\u{202e}\n  hint: retry"
    );
    assert_eq!(v["copy"]["blobs_mounted"], 1);
    assert_eq!(
        v["plan"]["changes"].as_array().map(Vec::len),
        Some(plan.changes.len())
    );
}

#[test]
fn the_apply_report_of_a_refusal_and_of_an_error_before_the_plan() {
    let plan = every_kind();
    let refused = apply_document(&ApplyFacts {
        end: ApplyEnd::Refused("the plan is stale: team devs changed\u{1b}]8;;"),
        exit_code: 1,
        plan: Some(&plan),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!(refused.status, "refused");
    assert_eq!(
        refused.message.as_deref(),
        Some("the plan is stale: team devs changed\\u{1b}]8;;")
    );
    assert!(refused.results.is_empty());
    let error = apply_document(&ApplyFacts {
        end: ApplyEnd::Error("vetted.toml:3: unknown key"),
        exit_code: 1,
        plan: None,
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!((error.status, error.org, error.plan), ("error", None, None));
    let empty = Plan {
        changes: vec![],
        access: vec![],
        drift: Drift::default(),
        ..plan
    };
    let none = apply_document(&ApplyFacts {
        end: ApplyEnd::Ok,
        exit_code: 0,
        plan: Some(&empty),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    assert_eq!(none.status, "no_changes");
}

/// An incomplete apply, a refusal and an error before the plan: every field set and unset.
fn apply_documents() -> Vec<String> {
    let plan = every_kind();
    let refused = apply_json(&ApplyFacts {
        end: ApplyEnd::Refused("the plan was refused"),
        exit_code: 1,
        plan: Some(&plan),
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    let error = apply_json(&ApplyFacts {
        end: ApplyEnd::Error("vetted.toml:3: unknown key"),
        exit_code: 1,
        plan: None,
        file: None,
        report: None,
        copy: &CopyTotals::default(),
    });
    vec![incomplete(&plan), refused, error]
}

#[test]
fn the_apply_report_keeps_the_shape_of_its_format_version() {
    assert_shape("apply", APPLY_FORMAT_VERSION, &apply_documents());
}

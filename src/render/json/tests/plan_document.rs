//! The JSON plan: a plan holding every kind of change (and each way it can go), its snapshot, and
//! its shape against docs/json-shapes/.

use super::*;

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
pub(crate) fn every_kind() -> Plan {
    let mut changes = every_change();
    crate::plan::diff::sort_changes(&mut changes, "acme");
    Plan {
        targets: Vec::new(),
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
pub(crate) fn alternatives() -> Plan {
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

//! The classifier's table: every kind of change, each way it can go, and its class.

use super::*;
use crate::model::{CustomRegistry, Permission, Role, Username};
use crate::plan::{Delta, RepoFields};

fn ia(enabled: bool, official: bool, verified: bool) -> ImageAccess {
    ImageAccess {
        enabled,
        allow_official_images: official,
        allow_verified_publishers: verified,
    }
}

fn ra(enabled: bool, docker_hub: bool, allowed: &[(&str, bool)]) -> RegistryAccess {
    RegistryAccess {
        enabled,
        docker_hub,
        custom: allowed
            .iter()
            .map(|(a, ok)| CustomRegistry {
                address: (*a).into(),
                friendly_name: a.to_uppercase(),
                allowed: *ok,
            })
            .collect(),
    }
}

fn d<T>(old: T, new: T) -> Delta<T> {
    Delta { old, new }
}

fn copy(old: Option<&str>, new: &str) -> Change {
    Change::CopyImage {
        repository: "redis".into(),
        tag: "7.2".into(),
        source: format!("docker.io/bitnami/redis:7.2@{new}"),
        digest: new.into(),
        old_digest: old.map(str::to_string),
        platforms: None,
        signatures: false,
        bytes: 0,
        manifests: 1,
    }
}

/// Every kind of change, each way it can go, and its class.
fn table() -> Vec<(&'static str, Change, Risk)> {
    use Risk::*;
    let u = Username::new;
    let repo = |private| RepoFields {
        private,
        description: String::new(),
        full_description: String::new(),
    };
    let update = |private: Option<Delta<bool>>, description: Option<Delta<String>>| {
        Change::UpdateRepository {
            repository: "api".into(),
            private,
            description,
            full_description: None,
        }
    };
    vec![
        (
            "image access turned off",
            Change::SetImageAccess {
                old: Some(ia(true, false, false)),
                new: ia(false, false, false),
            },
            Exposure,
        ),
        (
            "image access allows official images",
            Change::SetImageAccess {
                old: Some(ia(true, false, false)),
                new: ia(true, true, false),
            },
            Exposure,
        ),
        (
            "image access allows verified publishers",
            Change::SetImageAccess {
                old: Some(ia(true, true, false)),
                new: ia(true, true, true),
            },
            Exposure,
        ),
        (
            "image access turned on",
            Change::SetImageAccess {
                old: Some(ia(false, true, true)),
                new: ia(true, true, true),
            },
            Routine,
        ),
        (
            "image access tightened",
            Change::SetImageAccess {
                old: Some(ia(true, true, true)),
                new: ia(true, false, true),
            },
            Routine,
        ),
        (
            "image access flags while off",
            Change::SetImageAccess {
                old: Some(ia(false, false, false)),
                new: ia(false, true, true),
            },
            Routine,
        ),
        (
            "image access set for the first time",
            Change::SetImageAccess {
                old: None,
                new: ia(true, true, true),
            },
            Routine,
        ),
        (
            "registry access turned off",
            Change::SetRegistryAccess {
                old: Some(ra(true, true, &[])),
                new: ra(false, true, &[]),
            },
            Exposure,
        ),
        (
            "registry access allows a new registry",
            Change::SetRegistryAccess {
                old: Some(ra(true, true, &[("ghcr.io", true)])),
                new: ra(true, true, &[("ghcr.io", true), ("quay.io", true)]),
            },
            Exposure,
        ),
        (
            "registry access allows a listed registry",
            Change::SetRegistryAccess {
                old: Some(ra(true, true, &[("quay.io", false)])),
                new: ra(true, true, &[("quay.io", true)]),
            },
            Exposure,
        ),
        (
            "registry access allows Docker Hub",
            Change::SetRegistryAccess {
                old: Some(ra(true, false, &[])),
                new: ra(true, true, &[]),
            },
            Exposure,
        ),
        (
            "registry access renames and removes",
            Change::SetRegistryAccess {
                old: Some(ra(true, true, &[("ghcr.io", true), ("quay.io", true)])),
                new: RegistryAccess {
                    custom: vec![CustomRegistry {
                        address: "ghcr.io".into(),
                        friendly_name: "GitHub".into(),
                        allowed: true,
                    }],
                    ..ra(true, true, &[])
                },
            },
            Routine,
        ),
        (
            "registry access turned on",
            Change::SetRegistryAccess {
                old: Some(ra(false, true, &[])),
                new: ra(true, true, &[("ghcr.io", true)]),
            },
            Routine,
        ),
        (
            "registry access set for the first time",
            Change::SetRegistryAccess {
                old: None,
                new: ra(true, true, &[]),
            },
            Routine,
        ),
        (
            "allowlist entry added",
            Change::AllowRepository {
                repository: "bitnami/redis".into(),
            },
            Exposure,
        ),
        (
            "allowlist entry removed",
            Change::DisallowRepository {
                repository: "library/busybox".into(),
            },
            Destruction,
        ),
        (
            "role raised to owner",
            Change::SetRole {
                user: u("bob"),
                old: Role::Editor,
                new: Role::Owner,
            },
            Privilege,
        ),
        (
            "role raised to editor",
            Change::SetRole {
                user: u("bob"),
                old: Role::Member,
                new: Role::Editor,
            },
            Privilege,
        ),
        (
            "role lowered",
            Change::SetRole {
                user: u("bob"),
                old: Role::Owner,
                new: Role::Member,
            },
            Routine,
        ),
        (
            "member removed",
            Change::RemoveMember {
                user: u("old"),
                role: Role::Member,
            },
            Destruction,
        ),
        (
            "invite as member",
            Change::Invite {
                invitee: u("fay"),
                role: Role::Member,
                team: None,
            },
            Privilege,
        ),
        (
            "invite as owner to a team",
            Change::Invite {
                invitee: u("fay"),
                role: Role::Owner,
                team: Some("ci".into()),
            },
            Privilege,
        ),
        (
            "invite cancelled",
            Change::CancelInvite {
                id: "i1".into(),
                invitee: "fay".into(),
                team: None,
            },
            Destruction,
        ),
        (
            "team created",
            Change::CreateTeam {
                team: "ci".into(),
                description: "CI".into(),
            },
            Routine,
        ),
        (
            "team description",
            Change::UpdateTeam {
                team: "ci".into(),
                description: d("a".into(), "b".into()),
            },
            Routine,
        ),
        (
            "team deleted",
            Change::DeleteTeam { team: "old".into() },
            Destruction,
        ),
        (
            "team member added",
            Change::AddTeamMember {
                team: "ci".into(),
                user: u("bob"),
            },
            Privilege,
        ),
        (
            "team member removed",
            Change::RemoveTeamMember {
                team: "ci".into(),
                user: u("bob"),
            },
            Destruction,
        ),
        (
            "public repository created",
            Change::CreateRepository {
                repository: "api".into(),
                fields: repo(false),
            },
            Exposure,
        ),
        (
            "private repository created",
            Change::CreateRepository {
                repository: "api".into(),
                fields: repo(true),
            },
            Routine,
        ),
        (
            "repository made public",
            update(Some(d(true, false)), None),
            Exposure,
        ),
        (
            "repository made private",
            update(Some(d(false, true)), None),
            Routine,
        ),
        (
            "repository description",
            update(None, Some(d("a".into(), "b".into()))),
            Routine,
        ),
        (
            "repository deleted",
            Change::DeleteRepository {
                repository: "old-api".into(),
            },
            Destruction,
        ),
        (
            "grant added",
            Change::Grant {
                repository: "api".into(),
                team: "ci".into(),
                permission: Permission::Read,
            },
            Privilege,
        ),
        (
            "grant raised",
            Change::UpdateGrant {
                repository: "api".into(),
                team: "ci".into(),
                permission: d(Permission::Read, Permission::Write),
            },
            Privilege,
        ),
        (
            "grant lowered",
            Change::UpdateGrant {
                repository: "api".into(),
                team: "ci".into(),
                permission: d(Permission::Admin, Permission::Write),
            },
            Routine,
        ),
        (
            "grant revoked",
            Change::Revoke {
                repository: "api".into(),
                team: "qa".into(),
                permission: Permission::Read,
            },
            Destruction,
        ),
        ("new tag copied", copy(None, "sha256:ab"), Routine),
        (
            "tag moved to another digest",
            copy(Some("sha256:01"), "sha256:ab"),
            Destruction,
        ),
        (
            "tag rewritten with its digest",
            copy(Some("sha256:ab"), "sha256:ab"),
            Routine,
        ),
        (
            "hand-pushed tag deleted",
            Change::DeleteTag {
                repository: "redis".into(),
                tag: "hand".into(),
                digest: "sha256:cd".into(),
            },
            Destruction,
        ),
    ]
}

#[test]
fn every_kind_of_change_has_its_class() {
    for (what, change, class) in table() {
        assert_eq!(risk(&change), class, "{what}: {change:?}");
    }
    // The table holds every kind of change (the match in `risk` is exhaustive; this keeps the
    // table in step with it).
    let kinds: BTreeSet<String> = table()
        .iter()
        .map(|(_, c, _)| {
            format!("{c:?}")
                .split([' ', '{'])
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds.len(), 21, "{kinds:?}");
}

#[test]
fn counts_and_what_is_left_unacknowledged() {
    let changes: Vec<Change> = table().into_iter().map(|(_, c, _)| c).collect();
    let n = Counts::of(&changes);
    let expect = |r: Risk| table().iter().filter(|(_, _, c)| *c == r).count();
    for r in Risk::ALL {
        assert_eq!(n.get(r), expect(r), "{r}");
    }
    assert_eq!(n.needing_attention() + n.routine, changes.len());
    let set = |r: &[Risk]| r.iter().copied().collect::<BTreeSet<Risk>>();
    let required = set(&[Risk::Privilege, Risk::Destruction]);
    assert_eq!(
        unacknowledged(&changes, &required, &set(&[Risk::Destruction])),
        vec![(Risk::Privilege, expect(Risk::Privilege))]
    );
    assert!(unacknowledged(&changes, &required, &required).is_empty());
    // A class the plan does not hold needs no acknowledgement.
    let routine_only = [Change::CreateTeam {
        team: "ci".into(),
        description: String::new(),
    }];
    assert!(unacknowledged(&routine_only, &required, &BTreeSet::new()).is_empty());
    for r in Risk::ALL {
        assert_eq!(Risk::from_name(r.as_str()), Some(r));
    }
    assert_eq!(Risk::from_name("Privilege"), None);
}

#[test]
fn what_a_registry_change_newly_reaches() {
    let old = ra(true, false, &[("ghcr.io", true), ("quay.io", false)]);
    let new = ra(true, true, &[("ghcr.io", true), ("quay.io", true)]);
    assert_eq!(
        newly_reachable(Some(&old), &new),
        Reachable::Some(["docker.io".to_string(), "quay.io".to_string()].into())
    );
    assert_eq!(
        newly_reachable(Some(&old), &ra(false, true, &[])),
        Reachable::Everything
    );
    assert!(newly_reachable(None, &new).is_empty());
}

//! Tests of [`super::diff`]: the changes, drift and notes one diff of desired and live state yields.

use super::*;
use crate::model::{ImageAccess, Invite, Permission, Repository};

fn u(s: &str) -> Username {
    Username::new(s)
}
fn members(roles: &[(&str, Role)], invites: Vec<Invite>) -> Members {
    Members {
        roles: roles.iter().map(|(n, r)| (u(n), *r)).collect(),
        invites,
    }
}
fn invite(who: &str, role: Role, team: Option<&str>) -> Invite {
    Invite {
        id: Some(format!("id-{who}")),
        invitee: who.into(),
        role,
        team: team.map(Into::into),
    }
}
fn team(desc: Option<&str>, users: &[&str]) -> Team {
    Team {
        description: desc.map(Into::into),
        members: users.iter().map(|n| u(n)).collect(),
    }
}
fn repo(private: bool, desc: Option<&str>, grants: Option<&[(&str, Permission)]>) -> Repository {
    Repository {
        private,
        description: desc.map(Into::into),
        full_description: None,
        grants: grants.map(|g| g.iter().map(|(t, p)| (t.to_string(), *p)).collect()),
        mirror: None,
        tags: None,
    }
}
fn prune() -> DiffOptions {
    DiffOptions { prune: true }
}
fn addrs(p: &Plan) -> Vec<String> {
    p.changes.iter().map(|c| c.address(&p.org)).collect()
}

#[test]
fn unmanaged_nones_produce_nothing() {
    let desired = OrgState::empty("acme");
    let mut live = OrgState::empty("acme");
    live.image_access = Some(ImageAccess {
        enabled: true,
        allow_official_images: true,
        allow_verified_publishers: false,
    });
    live.members = Some(members(&[("a", Role::Owner)], vec![]));
    live.teams = Some([("t".to_string(), team(Some("x"), &["a"]))].into());
    let p = diff(&desired, &live, &prune());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    assert!(p.notes.is_empty());
    assert_eq!(p.format_version, FORMAT_VERSION);
}

#[test]
fn image_access_set_when_different() {
    let ia = ImageAccess {
        enabled: true,
        allow_official_images: true,
        allow_verified_publishers: true,
    };
    let mut desired = OrgState::empty("acme");
    desired.image_access = Some(ia);
    let live = OrgState::empty("acme");
    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(
        p.changes,
        vec![Change::SetImageAccess { old: None, new: ia }]
    );
    let mut live2 = OrgState::empty("acme");
    live2.image_access = Some(ia);
    assert!(
        diff(&desired, &live2, &DiffOptions::default())
            .changes
            .is_empty()
    );
}

#[test]
fn members_roles_invites_and_prune() {
    let mut desired = OrgState::empty("acme");
    desired.members = Some(members(
        &[
            ("boss", Role::Owner),
            ("ed", Role::Editor),
            ("new", Role::Member),
            ("pend", Role::Editor),
        ],
        vec![],
    ));
    let mut live = OrgState::empty("acme");
    live.members = Some(members(
        &[
            ("boss", Role::Owner),
            ("ed", Role::Member),
            ("old", Role::Member),
        ],
        vec![
            invite("pend", Role::Member, None),
            invite("stale", Role::Member, None),
        ],
    ));
    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(
        p.changes,
        vec![
            Change::SetRole {
                user: u("ed"),
                old: Role::Member,
                new: Role::Editor
            },
            Change::Invite {
                invitee: u("new"),
                role: Role::Member,
                team: None
            },
        ]
    );
    let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(
        notes,
        vec!["member old", "invite pend", "invite stale"],
        "sorted by kind, address"
    );
    assert!(p.notes[1].message.contains("after the invite is accepted"));

    let p = diff(&desired, &live, &prune());
    assert_eq!(
        addrs(&p),
        vec!["invite stale", "member old", "member ed", "invite new"],
        "deletions first (invite before member), then creates"
    );
    assert!(matches!(&p.changes[0], Change::CancelInvite { id, .. } if id == "id-stale"));
}

#[test]
fn member_removals_do_not_depend_on_who_runs_the_diff() {
    let mut desired = OrgState::empty("acme");
    desired.members = Some(members(&[("ed", Role::Editor)], vec![]));
    let mut live = OrgState::empty("acme");
    live.members = Some(members(
        &[
            ("ed", Role::Editor),
            ("o1", Role::Owner),
            ("o2", Role::Owner),
            ("me", Role::Member),
        ],
        vec![],
    ));
    // Every extra member goes, the last owners and whoever runs apply included: apply's
    // safety checks refuse those (src/plan/safety.rs), not the diff.
    let p = diff(&desired, &live, &prune());
    assert_eq!(addrs(&p), vec!["member me", "member o1", "member o2"]);
    assert!(p.notes.is_empty(), "{:?}", p.notes);
    assert_eq!(
        crate::plan::safety::check(&p, &live, 1.0),
        vec![crate::plan::safety::Violation::LastOwner { user: "o2".into() }]
    );
    // Without prune, they are drift left alone.
    let p = diff(&desired, &live, &DiffOptions::default());
    assert!(p.changes.is_empty());
    let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(notes, vec!["member me", "member o1", "member o2"]);
}

#[test]
fn teams_create_update_delete_and_membership() {
    let mut desired = OrgState::empty("acme");
    desired.members = Some(members(&[("a", Role::Member), ("b", Role::Editor)], vec![]));
    desired.teams = Some(
        [
            (
                "devs".to_string(),
                team(Some("Developers"), &["a", "b", "c", "d"]),
            ),
            ("ops".to_string(), team(None, &[])),
            ("new".to_string(), team(None, &["a"])),
        ]
        .into(),
    );
    let mut live = OrgState::empty("acme");
    live.members = Some(members(
        &[("a", Role::Member), ("x", Role::Member)],
        vec![invite("d", Role::Member, Some("devs"))],
    ));
    live.teams = Some(
        [
            ("devs".to_string(), team(Some("old"), &["x"])),
            ("ops".to_string(), team(Some("keep"), &[])),
            ("gone".to_string(), team(None, &[])),
        ]
        .into(),
    );
    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(
        p.changes,
        vec![
            Change::Invite {
                invitee: u("b"),
                role: Role::Editor,
                team: Some("devs".into())
            },
            Change::Invite {
                invitee: u("c"),
                role: Role::Member,
                team: Some("devs".into())
            },
            Change::UpdateTeam {
                team: "devs".into(),
                description: Delta {
                    old: "old".into(),
                    new: "Developers".into()
                }
            },
            Change::CreateTeam {
                team: "new".into(),
                description: String::new()
            },
            Change::AddTeamMember {
                team: "devs".into(),
                user: u("a")
            },
            Change::AddTeamMember {
                team: "new".into(),
                user: u("a")
            },
        ]
    );
    let notes: Vec<_> = p.notes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(notes, vec!["member x", "team gone", "team_member devs/x"]);

    let p = diff(&desired, &live, &prune());
    assert_eq!(
        &addrs(&p)[..3],
        ["team_member devs/x", "team gone", "member x"]
    );
}

#[test]
fn teams_managed_without_members_uses_live_members() {
    let mut desired = OrgState::empty("acme");
    desired.teams = Some([("t".to_string(), team(None, &["in", "out"]))].into());
    let mut live = OrgState::empty("acme");
    live.members = Some(members(
        &[("in", Role::Member)],
        vec![invite("old", Role::Member, Some("t"))],
    ));
    live.teams = Some([("t".to_string(), team(None, &[]))].into());
    let p = diff(&desired, &live, &prune());
    assert_eq!(
        p.changes,
        vec![
            Change::CancelInvite {
                id: "id-old".into(),
                invitee: "old".into(),
                team: Some("t".into())
            },
            Change::Invite {
                invitee: u("out"),
                role: Role::Member,
                team: Some("t".into())
            },
            Change::AddTeamMember {
                team: "t".into(),
                user: u("in")
            },
        ]
    );
}

#[test]
fn new_user_in_a_team_gets_one_team_invite_with_the_org_role() {
    let mut desired = OrgState::empty("acme");
    desired.members = Some(members(&[("c", Role::Editor)], vec![]));
    desired.teams = Some([("t".to_string(), team(None, &["c"]))].into());
    let mut live = OrgState::empty("acme");
    live.members = Some(members(&[], vec![]));
    live.teams = Some([("t".to_string(), team(None, &[]))].into());
    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(
        p.changes,
        vec![Change::Invite {
            invitee: u("c"),
            role: Role::Editor,
            team: Some("t".into())
        }]
    );
    // Already invited to the team: nothing to do, and the invite is not drift.
    live.members = Some(members(&[], vec![invite("c", Role::Editor, Some("t"))]));
    let p = diff(&desired, &live, &prune());
    assert!(p.changes.is_empty() && p.notes.is_empty(), "{p:?}");
}

#[test]
fn drift_left_alone_is_what_prune_would_change_and_who_gains_by_it() {
    let mut desired = OrgState::empty("acme");
    desired.teams = Some([("devs".to_string(), team(None, &["bob"]))].into());
    desired.repositories.insert(
        "api".into(),
        repo(true, None, Some(&[("devs", Permission::Write)])),
    );
    let mut live = desired.clone();
    live.members = Some(members(
        &[("bob", Role::Member), ("eve", Role::Member)],
        vec![],
    ));
    // A team given admin by hand on a repository whose grants the policy manages.
    live.teams
        .as_mut()
        .unwrap()
        .insert("ops".into(), team(None, &["eve"]));
    live.repositories.get_mut("api").unwrap().grants = Some(
        [
            ("devs".to_string(), Permission::Write),
            ("ops".to_string(), Permission::Admin),
        ]
        .into(),
    );
    let p = diff(&desired, &live, &DiffOptions::default());
    assert!(p.changes.is_empty(), "{:?}", p.changes);
    let drift: Vec<_> = p.drift.changes.iter().map(|c| c.address("acme")).collect();
    assert_eq!(drift, vec!["grant acme/api:ops", "team ops"]);
    assert_eq!(
        p.drift.access,
        vec![crate::plan::AccessChange {
            subject: crate::plan::access::Subject::Person("eve".into()),
            repository: "api".into(),
            old: None,
            new: Some(crate::plan::access::Level::Admin),
            pending: false,
            outside: None,
        }]
    );
    assert_eq!(
        p.drift.access[0].sentence("acme"),
        "eve gains admin on acme/api"
    );
    // With prune they are the plan's changes, and no drift is left.
    let p = diff(&desired, &live, &prune());
    assert_eq!(addrs(&p), vec!["grant acme/api:ops", "team ops"]);
    assert!(p.drift.is_empty() && p.drift.access.is_empty());
    assert!(
        p.access
            .iter()
            .any(|a| a.sentence("acme") == "eve loses admin on acme/api")
    );
}

#[test]
fn repositories_and_grants() {
    let mut desired = OrgState::empty("acme");
    desired.repositories.insert(
        "fresh".into(),
        repo(true, None, Some(&[("devs", Permission::Read)])),
    );
    desired.repositories.insert(
        "redis".into(),
        repo(
            false,
            Some("Redis"),
            Some(&[("devs", Permission::Write), ("ops", Permission::Admin)]),
        ),
    );
    desired
        .repositories
        .insert("same".into(), repo(false, None, None));
    let mut live = OrgState::empty("acme");
    live.repositories.insert(
        "redis".into(),
        repo(
            true,
            Some("old"),
            Some(&[("devs", Permission::Read), ("qa", Permission::Read)]),
        ),
    );
    let mut same = repo(false, Some("whatever"), Some(&[("x", Permission::Read)]));
    same.full_description = Some("long".into());
    live.repositories.insert("same".into(), same);
    live.repositories
        .insert("legacy".into(), repo(false, None, Some(&[])));

    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(
        p.changes,
        vec![
            Change::CreateRepository {
                repository: "fresh".into(),
                fields: RepoFields {
                    private: true,
                    description: String::new(),
                    full_description: String::new()
                }
            },
            Change::UpdateRepository {
                repository: "redis".into(),
                private: Some(Delta {
                    old: true,
                    new: false
                }),
                description: Some(Delta {
                    old: "old".into(),
                    new: "Redis".into()
                }),
                full_description: None,
            },
            Change::Grant {
                repository: "fresh".into(),
                team: "devs".into(),
                permission: Permission::Read
            },
            Change::UpdateGrant {
                repository: "redis".into(),
                team: "devs".into(),
                permission: Delta {
                    old: Permission::Read,
                    new: Permission::Write
                }
            },
            Change::Grant {
                repository: "redis".into(),
                team: "ops".into(),
                permission: Permission::Admin
            },
        ]
    );
    let notes: Vec<_> = p
        .notes
        .iter()
        .map(|n| (n.address.as_str(), n.message.as_str()))
        .collect();
    assert_eq!(
        notes[1],
        (
            "grant acme/redis:qa",
            "read grant not in the policy (left alone; set prune = true in [settings] to revoke)"
        )
    );
    assert_eq!(
        notes[0],
        (
            "repository acme/legacy",
            "unmanaged repository (left alone; set prune = true in [settings] to delete)"
        )
    );

    let p = diff(&desired, &live, &prune());
    assert_eq!(
        &addrs(&p)[..2],
        ["grant acme/redis:qa", "repository acme/legacy"]
    );
    assert_eq!(p.summary().destroy, 2);
}

#[test]
fn allowlist_rows_notes_and_access() {
    use crate::model::Mirror;
    use crate::plan::access::{Outside, Subject};
    let mut desired = OrgState::empty("acme");
    desired.allowlist = Some(
        ["bitnami/redis", "library/nginx", "acme/api"]
            .map(String::from)
            .into(),
    );
    let mut mirrored = repo(true, None, None);
    mirrored.mirror = Some(Mirror {
        from: "docker.io/bitnami/redis".into(),
        tags: BTreeMap::new(),
        platforms: None,
        signatures: false,
    });
    desired.repositories.insert("redis".into(), mirrored);
    let mut live = OrgState::empty("acme");
    live.allowlist = Some(["library/nginx", "grafana/loki"].map(String::from).into());
    live.image_access = Some(ImageAccess {
        enabled: true,
        allow_official_images: true,
        allow_verified_publishers: true,
    });
    let p = diff(&desired, &live, &DiffOptions::default());
    let allow: Vec<&Change> = p
        .changes
        .iter()
        .filter(|c| c.kind() == ResourceKind::AllowedRepository)
        .collect();
    assert_eq!(
        allow,
        [
            &Change::AllowRepository {
                repository: "acme/api".into()
            },
            &Change::AllowRepository {
                repository: "bitnami/redis".into()
            },
        ]
    );
    let note = |addr: &str, text: &str| {
        p.notes
            .iter()
            .any(|n| n.address == addr && n.message.contains(text))
    };
    assert!(note(
        "allowed_repository docker.io/bitnami/redis",
        "also mirrored as acme/redis"
    ));
    assert!(note(
        "allowed_repository docker.io/acme/api",
        "a repository of the organization"
    ));
    assert!(note(
        "allowed_repository docker.io/grafana/loki",
        "left alone"
    ));
    assert_eq!(
        p.drift.changes,
        [Change::DisallowRepository {
            repository: "grafana/loki".into()
        }]
    );
    let redis = p
        .access
        .iter()
        .find(|a| a.repository == "docker.io/bitnami/redis")
        .expect("an access row");
    assert_eq!(redis.subject, Subject::Members);
    assert_eq!(
        redis.outside,
        Some(Outside::Allowlist {
            mirrored_as: vec!["redis".into()]
        })
    );
    assert!(
        redis
            .sentence("acme")
            .ends_with("unreviewed; also mirrored as acme/redis)")
    );

    // Image Access Management off: the list changes nothing for members, and the plan says so.
    live.image_access = live.image_access.map(|ia| ImageAccess {
        enabled: false,
        ..ia
    });
    let p = diff(&desired, &live, &DiffOptions::default());
    assert!(p.access.is_empty(), "{:?}", p.access);
    assert!(
        p.notes
            .iter()
            .any(|n| n.message.contains("Image Access Management is off"))
    );

    // Applied: nothing left to do.
    live.allowlist = desired.allowlist.clone();
    let p = diff(&desired, &live, &prune());
    assert!(
        p.changes
            .iter()
            .all(|c| c.kind() != ResourceKind::AllowedRepository),
        "{:?}",
        p.changes
    );
}

#[test]
fn registry_access_set_when_different_and_access_compared() {
    use crate::model::{CustomRegistry, RegistryAccess};
    let on = RegistryAccess {
        enabled: true,
        docker_hub: true,
        custom: vec![CustomRegistry {
            address: "ghcr.io".into(),
            friendly_name: "GitHub".into(),
            allowed: true,
        }],
    };
    let mut desired = OrgState::empty("acme");
    desired.registry_access = Some(on.clone());
    let mut live = OrgState::empty("acme");
    live.registry_access = Some(RegistryAccess {
        enabled: true,
        docker_hub: true,
        custom: vec![],
    });
    let p = diff(&desired, &live, &DiffOptions::default());
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].action(), Action::Update);
    let lines: Vec<String> = p.access.iter().map(|a| a.sentence("acme")).collect();
    assert_eq!(
        lines,
        ["members gain pull from registry ghcr.io (Registry Access Management)"]
    );
    // Turning it off gives every registry.
    desired.registry_access = Some(RegistryAccess {
        enabled: false,
        ..on.clone()
    });
    live.registry_access = Some(on.clone());
    let p = diff(&desired, &live, &DiffOptions::default());
    let lines: Vec<String> = p.access.iter().map(|a| a.sentence("acme")).collect();
    assert_eq!(
        lines,
        [
            "members gain pull from every registry except docker.io, ghcr.io (Registry Access Management off)"
        ]
    );
    live.registry_access = desired.registry_access.clone();
    assert!(
        diff(&desired, &live, &DiffOptions::default())
            .changes
            .is_empty()
    );
}

#[test]
fn a_partial_grant_read_is_said_in_one_plain_sentence() {
    let mut live = OrgState::empty("acme");
    live.partial_grants = ["api".to_string(), "web".to_string()].into();
    let note = partial_grants_note(&live).expect("a note");
    assert_eq!(note.address, "repository acme/api");
    assert_eq!(
        note.message,
        "effective access rests on a partial read: Docker Hub offered no grant listing per \
         repository, and vetted read the grants of 2 repositories (this one first) for the teams \
         the policy grants there and as many other teams as its call budget allowed; access \
         through the teams left unread is not shown"
    );
    assert!(!note.message.contains("  "), "{}", note.message);
}

//! Tests of the diff of repositories and their grants and of the organization's access settings
//! (the allowlist, Registry Access Management), with the effective access each change gives.

use super::*;

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
        verify: None,
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

//! Tests of the parent module.

use super::*;
use crate::model::{Permission, Repository, Team};

fn t(list: &[&str]) -> Targets {
    let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    Targets::parse(&v, "acme").unwrap()
}

#[test]
fn both_spellings_give_the_same_targets() {
    assert_eq!(
        t(&["repositories.redis", "teams.devs", "members.Bob"]).names(),
        ["members.bob", "repositories.redis", "teams.devs"]
    );
    assert_eq!(
        t(&["repository acme/redis", "team devs", "member bob"]),
        t(&["repositories.redis", "teams.devs", "members.bob"])
    );
    assert_eq!(
        t(&["settings"]).names(),
        ["image_access", "registry_access"]
    );
    assert_eq!(
        t(&["settings.image_access", "image_access acme"]).names(),
        ["image_access"]
    );
}

#[test]
fn part_of_a_resource_names_the_resource_to_target() {
    let e = Targets::parse(&["grant acme/redis:devs".into()], "acme").unwrap_err();
    assert!(e.0.contains("`repositories.redis`"), "{e}");
    let e = Targets::parse(&["image acme/redis:7.2".into()], "acme").unwrap_err();
    assert!(e.0.contains("`repositories.redis`"), "{e}");
    let e = Targets::parse(&["repos.redis".into()], "acme").unwrap_err();
    assert!(e.0.contains("repositories.NAME"), "{e}");
    let e = Targets::parse(&["repositories.".into()], "acme").unwrap_err();
    assert!(e.0.contains("empty"), "{e}");
}

fn repo(grants: &[(&str, Permission)]) -> Repository {
    Repository {
        private: true,
        description: None,
        full_description: None,
        grants: Some(grants.iter().map(|(t, p)| (t.to_string(), *p)).collect()),
        mirror: None,
        tags: None,
    }
}

fn desired() -> OrgState {
    let mut d = OrgState::empty("acme");
    d.teams = Some(
        [
            ("devs".to_string(), Team::default()),
            ("ops".to_string(), Team::default()),
        ]
        .into(),
    );
    d.repositories
        .insert("redis".into(), repo(&[("devs", Permission::Read)]));
    d.repositories
        .insert("nginx".into(), repo(&[("ops", Permission::Read)]));
    d
}

#[test]
fn restrict_keeps_the_targets_and_the_teams_they_grant() {
    let r = t(&["repositories.redis"]).restrict(&desired());
    assert_eq!(r.repositories.keys().collect::<Vec<_>>(), ["redis"]);
    assert_eq!(
        r.teams.unwrap().keys().collect::<Vec<_>>(),
        ["devs"],
        "the granted team, not the others"
    );
    assert_eq!(t(&[]).restrict(&desired()), desired());
}

#[test]
fn retain_follows_dependencies_not_dependents() {
    let mut changes = vec![
        Change::CreateTeam {
            team: "devs".into(),
            description: String::new(),
        },
        Change::AddTeamMember {
            team: "devs".into(),
            user: Username::new("bob"),
        },
        Change::Grant {
            repository: "redis".into(),
            team: "devs".into(),
            permission: Permission::Read,
        },
        Change::Grant {
            repository: "nginx".into(),
            team: "devs".into(),
            permission: Permission::Read,
        },
        Change::DeleteRepository {
            repository: "old".into(),
        },
    ];
    let mut notes = vec![
        Note {
            kind: crate::plan::ResourceKind::Repository,
            address: "repository acme/other".into(),
            message: "unmanaged repository".into(),
        },
        Note {
            kind: crate::plan::ResourceKind::Image,
            address: "image acme/redis:7.2".into(),
            message: "x".into(),
        },
    ];
    t(&["repositories.redis"]).retain(&mut changes, &mut notes, "acme");
    let addrs: Vec<String> = changes.iter().map(|c| c.address("acme")).collect();
    assert_eq!(addrs, ["team devs", "grant acme/redis:devs"]);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].address, "image acme/redis:7.2");
}

#[test]
fn an_unknown_target_names_close_matches() {
    let live = OrgState::empty("acme");
    let e = t(&["repositories.rediss"])
        .check_known(&desired(), &live)
        .unwrap_err();
    assert!(e.0.contains("unknown target `repositories.rediss`"), "{e}");
    assert!(e.0.contains("close matches: `repositories.redis`"), "{e}");
    let e = t(&["members.bob"])
        .check_known(&desired(), &live)
        .unwrap_err();
    assert!(e.0.contains("no [members] table"), "{e}");
    let mut live = OrgState::empty("acme");
    live.repositories.insert("old".into(), repo(&[]));
    assert!(
        t(&["repositories.old"])
            .check_known(&desired(), &live)
            .is_ok()
    );
}

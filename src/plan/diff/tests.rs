//! Tests of [`super::diff`]: the changes, drift and notes one diff of desired and live state yields
//! (organization settings, members, teams, drift and notes here; repositories and access settings
//! in `access`).

mod access;

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
    DiffOptions {
        prune: true,
        ..DiffOptions::default()
    }
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

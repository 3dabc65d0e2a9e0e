//! Tests of the effective-access computation.

use super::*;
use crate::plan::{Delta, RepoFields};

fn u(s: &str) -> Username {
    Username::new(s)
}

fn repo(private: bool, grants: &[(&str, Permission)]) -> Repository {
    Repository {
        private,
        description: Some(String::new()),
        full_description: Some(String::new()),
        grants: Some(grants.iter().map(|(t, p)| (t.to_string(), *p)).collect()),
        mirror: None,
        tags: None,
    }
}

/// alice owner, bob editor, carol and dave members; team devs = {carol}, team ops = {dave};
/// redis private (devs read, ops write), api private (ops admin), site public (no grants);
/// erin invited to devs.
fn live() -> OrgState {
    let mut s = OrgState::empty("acme");
    let mut m = Members::default();
    m.roles.insert(u("alice"), Role::Owner);
    m.roles.insert(u("bob"), Role::Editor);
    m.roles.insert(u("carol"), Role::Member);
    m.roles.insert(u("dave"), Role::Member);
    m.invites.push(Invite {
        id: Some("i1".into()),
        invitee: "erin".into(),
        role: Role::Member,
        team: Some("devs".into()),
    });
    s.members = Some(m);
    let team = |names: &[&str]| Team {
        description: Some(String::new()),
        members: names.iter().map(|n| u(n)).collect(),
    };
    s.teams = Some(BTreeMap::from([
        ("devs".to_string(), team(&["carol"])),
        ("ops".to_string(), team(&["dave"])),
    ]));
    s.repositories.insert(
        "redis".into(),
        repo(
            true,
            &[("devs", Permission::Read), ("ops", Permission::Write)],
        ),
    );
    s.repositories
        .insert("api".into(), repo(true, &[("ops", Permission::Admin)]));
    s.repositories.insert("site".into(), repo(false, &[]));
    s
}

fn get(m: &AccessMap, who: Subject, repo: &str) -> Option<Holding> {
    m.get(&(who, repo.to_string())).copied()
}

fn p(name: &str) -> Subject {
    Subject::Person(name.into())
}

#[test]
fn expansion_rules() {
    let m = effective(&live());
    let held = |h: Option<Holding>| h.map(|h| (h.level, h.pending));
    // Owners and editors administer everything.
    for repo in ["redis", "api", "site"] {
        assert_eq!(held(get(&m, p("alice"), repo)), Some((Level::Admin, false)));
        assert_eq!(held(get(&m, p("bob"), repo)), Some((Level::Admin, false)));
    }
    // Members through team grants: read = pull, write = push, admin = admin.
    assert_eq!(
        held(get(&m, p("carol"), "redis")),
        Some((Level::Pull, false))
    );
    assert_eq!(
        held(get(&m, p("dave"), "redis")),
        Some((Level::Push, false))
    );
    assert_eq!(held(get(&m, p("dave"), "api")), Some((Level::Admin, false)));
    assert_eq!(get(&m, p("carol"), "api"), None);
    // Public: everyone pulls; not listed per person.
    assert_eq!(
        held(get(&m, Subject::Everyone, "site")),
        Some((Level::Pull, false))
    );
    assert_eq!(get(&m, Subject::Everyone, "redis"), None);
    assert_eq!(get(&m, p("carol"), "site"), None);
    // The pending invitee gets the team's access on acceptance.
    assert_eq!(held(get(&m, p("erin"), "redis")), Some((Level::Pull, true)));
}

#[test]
fn highest_grant_wins_and_unknown_membership_is_a_team_subject() {
    let mut s = live();
    s.teams
        .as_mut()
        .unwrap()
        .get_mut("devs")
        .unwrap()
        .members
        .insert(u("dave"));
    let m = effective(&s);
    assert_eq!(get(&m, p("dave"), "redis").unwrap().level, Level::Push);
    s.teams = None;
    let m = effective(&s);
    assert_eq!(get(&m, p("dave"), "redis"), None);
    assert_eq!(
        get(&m, Subject::Team("ops".into()), "redis").unwrap().level,
        Level::Push
    );
}

#[test]
fn gains_and_losses_per_person() {
    let live = live();
    let changes = vec![
        Change::AddTeamMember {
            team: "ops".into(),
            user: u("carol"),
        },
        Change::SetRole {
            user: u("bob"),
            old: Role::Editor,
            new: Role::Member,
        },
        Change::Invite {
            invitee: u("frank"),
            role: Role::Member,
            team: Some("ops".into()),
        },
    ];
    let got: Vec<String> = super::changes(&live, &changes)
        .iter()
        .map(|c| c.sentence("acme"))
        .collect();
    assert_eq!(
        got,
        vec![
            "bob loses admin on acme/api",
            "bob loses admin on acme/redis",
            "bob loses admin on acme/site (keeps pull)",
            "carol gains admin on acme/api",
            "carol gains push on acme/redis (had pull)",
            "frank (invited) will gain admin on acme/api",
            "frank (invited) will gain push on acme/redis",
        ]
    );
}

#[test]
fn visibility_is_reported_once_for_everyone() {
    let live = live();
    let changes = vec![Change::UpdateRepository {
        repository: "redis".into(),
        private: Some(Delta {
            old: true,
            new: false,
        }),
        description: None,
        full_description: None,
    }];
    let got = super::changes(&live, &changes);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].sentence("acme"), "everyone gains pull on acme/redis");
}

#[test]
fn repositories_teams_and_grants_created_and_deleted() {
    let live = live();
    let changes = vec![
        Change::CreateTeam {
            team: "qa".into(),
            description: String::new(),
        },
        Change::AddTeamMember {
            team: "qa".into(),
            user: u("carol"),
        },
        Change::CreateRepository {
            repository: "nginx".into(),
            fields: RepoFields {
                private: true,
                description: String::new(),
                full_description: String::new(),
            },
        },
        Change::Grant {
            repository: "nginx".into(),
            team: "qa".into(),
            permission: Permission::Write,
        },
        Change::DeleteTeam { team: "ops".into() },
        Change::Revoke {
            repository: "redis".into(),
            team: "devs".into(),
            permission: Permission::Read,
        },
        Change::CancelInvite {
            id: "i1".into(),
            invitee: "erin".into(),
            team: Some("devs".into()),
        },
    ];
    let got: Vec<String> = super::changes(&live, &changes)
        .iter()
        .map(|c| c.sentence("acme"))
        .collect();
    assert_eq!(
        got,
        vec![
            "alice gains admin on acme/nginx",
            "bob gains admin on acme/nginx",
            "carol gains push on acme/nginx",
            "carol loses pull on acme/redis",
            "dave loses admin on acme/api",
            "dave loses push on acme/redis",
            "erin (invited) will lose pull on acme/redis",
        ]
    );
}

#[test]
fn no_changes_no_access_changes() {
    assert!(super::changes(&live(), &[]).is_empty());
}

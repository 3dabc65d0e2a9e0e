//! Tests of the preflight's assessment: which checks pass, fail or stay unconfirmed for each kind of credential and role.

use super::*;

fn facts(identity: &str, role: Option<Role>) -> Facts {
    Facts {
        org: "acme".into(),
        hub: "http://127.0.0.1:9".into(),
        identity: identity.into(),
        org_source: "`org` in vetted.toml".into(),
        login: Some(Ok(())),
        role: Some(Ok(role)),
        invites: Some(Ok(0)),
        teams: Some(Ok(vec!["dev".into()])),
        team_members: Some(Ok(Some("dev".into()))),
        repositories: Some(Ok(vec!["app".into()])),
        omitted: Some(Ok(vec![])),
        listing_doubt: None,
        grants: Some(Ok(Some("app".into()))),
        image_access: Some(Ok(false)),
        allowlist: Some(Ok(0)),
        registry_access: Some(Ok(false)),
        hub_budget: Some(RateLimit {
            limit: Some(600),
            remaining: 590,
            reset: Some(60),
        }),
        now: None,
        pulls: None,
        push: None,
        push_target_exists: true,
    }
}

const ALL: Needs = Needs {
    image_access: true,
    allowlist: true,
    registry_access: true,
    members: true,
    teams: true,
    repositories: true,
    grants: true,
    mirrors: false,
    prune: false,
};

fn status(r: &Report, check: &str) -> Status {
    r.checks.iter().find(|c| c.check == check).unwrap().status
}

#[test]
fn an_owner_passes_and_an_editor_fails_where_owners_are_needed() {
    let r = assess(&facts("alice", Some(Role::Owner)), &ALL);
    assert!(r.ok, "{r:#?}");
    let r = assess(&facts("bob", Some(Role::Editor)), &ALL);
    assert!(!r.ok);
    assert_eq!(status(&r, "teams"), Status::Fail);
    assert_eq!(status(&r, "repositories"), Status::Ok);
    assert_eq!(status(&r, "grants"), Status::Ok);
    // The same editor with a policy of repositories only.
    let repos = Needs {
        repositories: true,
        ..Needs::default()
    };
    let r = assess(&facts("bob", Some(Role::Editor)), &repos);
    assert!(r.ok, "{r:#?}");
    assert_eq!(status(&r, "teams"), Status::Warn);
}

#[test]
fn an_organization_token_has_no_role_and_unconfirmed_writes() {
    let mut f = facts("acme", None);
    f.grants = Some(Err(Failure {
        status: Some(403),
        text: "403 Forbidden".into(),
        pat: false,
    }));
    let r = assess(&f, &ALL);
    assert_eq!(r.credential, Kind::OrganizationAccessToken);
    assert_eq!(status(&r, "role"), Status::Ok);
    assert_eq!(status(&r, "teams"), Status::Warn);
    assert_eq!(status(&r, "image access"), Status::Fail);
    let grants = r.checks.iter().find(|c| c.check == "grants").unwrap();
    assert_eq!(grants.status, Status::Fail);
    assert!(
        grants
            .fix
            .as_deref()
            .unwrap()
            .contains("scope-repo-group-read")
    );
    f.omitted = Some(Ok(vec!["secret".into()]));
    let r = assess(&f, &ALL);
    let repos = r.checks.iter().find(|c| c.check == "repositories").unwrap();
    assert_eq!(repos.status, Status::Fail);
    assert!(
        repos
            .fix
            .as_deref()
            .unwrap()
            .contains("scope-repository-list")
    );
}

#[test]
fn a_failed_login_skips_the_rest() {
    let f = Facts {
        org: "acme".into(),
        identity: "alice".into(),
        login: Some(Err(Failure {
            status: None,
            text: "could not connect".into(),
            pat: false,
        })),
        ..Facts::default()
    };
    let r = assess(&f, &ALL);
    assert!(!r.ok);
    assert_eq!(r.checks[0].status, Status::Fail);
    assert!(
        r.checks[1..].iter().all(|c| c.status == Status::Skip),
        "{r:#?}"
    );
}

//! Reading the live state: pagination and its bounds, members, invites and team members parsed
//! strictly, and repository listings that fall short of what the policy names.

use super::*;

#[tokio::test]
async fn read_state_paginates_and_reads_everything_in_scope() {
    let (base, fake) = serve(|s, _| {
        let q = s.query.as_str();
        let p2 = q.contains("page=2");
        match s.path.as_str() {
            "/v2/orgs/acme/members" if !p2 => page(
                &[r#"{"username":"Alice","role":"Owner"}"#],
                Some(
                    "http://elsewhere.invalid/v2/orgs/acme/members?type=all&page=2&page_size=100"
                        .into(),
                ),
            ),
            "/v2/orgs/acme/members" => page(&[r#"{"username":"bob","role":"Editor"}"#], None),
            "/v2/orgs/acme/invites" => {
                ok(
                    r#"{"data":[{"id":"inv1","invitee":"carol@example.com","role":"Member","team":"dev"}]}"#,
                )
            }
            "/v2/orgs/acme/groups" => page(
                &[
                    r#"{"id":7,"name":"dev","description":"Developers"}"#,
                    r#"{"id":8,"name":"ops","description":""}"#,
                ],
                None,
            ),
            "/v2/orgs/acme/groups/dev/members/" => page(&[r#"{"username":"Bob"}"#], None),
            "/v2/orgs/acme/groups/ops/members/" => page(&[], None),
            // Page 2 of the repositories is past the end: 404 ends the listing.
            "/v2/namespaces/acme/repositories" if !p2 => page(
                &[
                    r#"{"name":"redis","is_private":true,"description":"Redis"}"#,
                    r#"{"name":"nginx","is_private":false,"description":""}"#,
                ],
                Some("/v2/namespaces/acme/repositories?page=2&page_size=100".into()),
            ),
            "/v2/namespaces/acme/repositories" => {
                (404, vec![], r#"{"detail":"page not found"}"#.into())
            }
            "/v2/namespaces/acme/repositories/redis" => ok(r##"{"full_description":"# Redis"}"##),
            "/v2/namespaces/acme/repositories/nginx" => ok(r#"{"full_description":null}"#),
            "/v2/repositories/acme/redis/groups/" => {
                (404, vec![], r#"{"detail":"not found"}"#.into())
            }
            "/v2/repositories/acme/redis/groups/7/" => {
                ok(r#"{"group_id":7,"group_name":"dev","permission":"write"}"#)
            }
            "/v2/repositories/acme/redis/groups/8/" => (404, vec![], "{}".into()),
            "/v2/repositories/acme/nginx/groups/" => page(
                &[r#"{"group_id":8,"group_name":"ops","permission":"admin"}"#],
                None,
            ),
            _ => (
                418,
                vec![],
                format!(r#"{{"detail":"unexpected {}"}}"#, s.path),
            ),
        }
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        image_access: false,
        members: true,
        teams: true,
        grant_repositories: [
            "redis".to_string(),
            "nginx".to_string(),
            "absent".to_string(),
        ]
        .into(),
        grant_teams: ["dev".to_string(), "ops".to_string(), "qa".to_string()].into(),
        all_grants: false,
        full_descriptions: ["redis".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    let members = state.members.unwrap();
    assert_eq!(
        members.roles.get(&Username::new("alice")),
        Some(&Role::Owner)
    );
    assert_eq!(
        members.roles.get(&Username::new("bob")),
        Some(&Role::Editor)
    );
    assert_eq!(members.invites[0].id.as_deref(), Some("inv1"));
    assert_eq!(members.invites[0].team.as_deref(), Some("dev"));
    let teams = state.teams.unwrap();
    assert_eq!(teams["dev"].description.as_deref(), Some("Developers"));
    assert!(teams["dev"].members.contains(&Username::new("bob")));
    assert_eq!(state.repositories.len(), 2);
    let redis = &state.repositories["redis"];
    assert!(redis.private);
    assert_eq!(redis.full_description.as_deref(), Some("# Redis"));
    assert_eq!(
        redis.grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Write)]))
    );
    assert_eq!(
        state.repositories["nginx"].grants,
        Some(BTreeMap::from([("ops".to_string(), Permission::Admin)]))
    );
    assert!(state.image_access.is_none());
    let log = requests(&fake);
    // The listing carries privacy and description: a repository is read on its own only for a
    // full description the policy manages.
    assert_eq!(state.repositories["nginx"].full_description, None);
    assert!(
        !log.iter()
            .any(|s| s.path == "/v2/namespaces/acme/repositories/nginx"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|s| s.path == "/v2/namespaces/acme/repositories/redis")
    );
    assert!(
        log.iter()
            .all(|s| !s.path.trim_end_matches('/').ends_with("/settings"))
    );
    assert!(
        log.iter()
            .filter(|s| {
                let p = s.path.trim_end_matches('/');
                p.ends_with("/members") || p.ends_with("/repositories")
            })
            .all(|s| s.query.contains("page_size=100"))
    );
    assert!(
        log.iter()
            .any(|s| s.path == "/v2/orgs/acme/members" && s.query.contains("page=2"))
    );
}

#[tokio::test]
async fn endless_pagination_is_bounded() {
    let (base, fake) = serve(|s, nth| {
        page(
            &[r#"{"name":"x"}"#],
            Some(format!("{}?page={}&page_size=100", s.path, nth + 1)),
        )
    })
    .await;
    let client = HubClient::login(config(base.clone())).await.unwrap();
    let url = client
        .url(&["v2", "orgs", "acme", "groups"], false)
        .unwrap();
    let err = client.list_pages(url, 3, false).await.unwrap_err();
    assert!(err.to_string().contains("listing exceeds 3 pages"), "{err}");
    assert_eq!(requests(&fake).len(), 3);
}

#[tokio::test]
async fn first_page_404_is_an_error_not_an_empty_list() {
    let (base, _fake) =
        serve(|_, _| (404, vec![], r#"{"detail":"object not found"}"#.into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v2/namespaces/acme/repositories: 404 Not Found: object not found"
    );
}

/// Team member listings may answer a bare JSON array instead of a page.
#[tokio::test]
async fn team_members_may_be_a_bare_array() {
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => page(&[r#"{"username":"bob","role":"Member"}"#], None),
        "/v2/orgs/acme/invites" => ok(r#"{"data":[]}"#),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/orgs/acme/groups/dev/members/" => ok(r#"[{"username":"bob"}]"#),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert!(
        state.teams.unwrap()["dev"]
            .members
            .contains(&Username::new("bob"))
    );
}

/// A members listing, an invites answer and empty repositories; `teams` adds one team "dev" whose
/// members listing answers `team_members`.
fn members_script(
    members: &'static str,
    invites: &'static str,
    team_members: &'static str,
) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => ok(members),
        "/v2/orgs/acme/invites" => ok(invites),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/orgs/acme/groups/dev/members/" => ok(team_members),
        _ => (418, vec![], "{}".into()),
    }
}

fn members_scope() -> Scope {
    Scope {
        members: true,
        ..Scope::default()
    }
}

#[tokio::test]
async fn an_unknown_or_missing_member_role_is_an_error_naming_user_and_value() {
    let no_invites = r#"{"data":[]}"#;
    for (members, want) in [
        (
            r#"{"count":1,"next":null,"results":[{"username":"bob","role":"Admin"}]}"#,
            "Docker Hub answered role \"Admin\" for bob, which vetted does not know",
        ),
        (
            r#"{"count":1,"next":null,"results":[{"username":"bob"}]}"#,
            "Docker Hub answered no role for bob",
        ),
    ] {
        let (base, _) = serve(members_script(members, no_invites, "[]")).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &members_scope())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    // Capitalised roles are Docker Hub's spelling.
    let (base, _) = serve(members_script(
        r#"{"count":2,"next":null,"results":[{"username":"bob","role":"Owner"},{"username":"eve","role":"EDITOR"}]}"#,
        no_invites,
        "[]",
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &members_scope()).await.unwrap();
    let roles = state.members.unwrap().roles;
    assert_eq!(roles[&Username::new("bob")], Role::Owner);
    assert_eq!(roles[&Username::new("eve")], Role::Editor);
}

#[tokio::test]
async fn an_unknown_or_missing_invite_role_is_an_error() {
    let members = r#"{"count":0,"next":null,"results":[]}"#;
    for (invites, want) in [
        (
            r#"{"data":[{"id":"1","invitee":"carol@example.com","role":"Admin"}]}"#,
            "Docker Hub answered role \"Admin\" for the invite of carol@example.com, which vetted does not know",
        ),
        (
            r#"{"data":[{"id":"1","invitee":"carol@example.com"}]}"#,
            "Docker Hub answered no role for the invite of carol@example.com",
        ),
    ] {
        let (base, _) = serve(members_script(members, invites, "[]")).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &members_scope())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[tokio::test]
async fn a_bare_array_is_a_listing_only_for_team_members() {
    // The members listing answering an array (the OpenAPI's "array of pages") is not a listing.
    let (base, _) = serve(members_script(
        r#"[{"count":1,"next":null,"results":[{"username":"bob","role":"Owner"}]}]"#,
        r#"{"data":[]}"#,
        "[]",
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &members_scope())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/v2/orgs/acme/members") && err.contains("no results list"),
        "{err}"
    );
    // Nor is the teams listing.
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => page(&[], None),
        "/v2/orgs/acme/invites" => ok(r#"{"data":[]}"#),
        "/v2/orgs/acme/groups" => ok(r#"[{"id":5,"name":"dev"}]"#),
        _ => ok("[]"),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let err = client.read_state("acme", &scope).await.unwrap_err();
    assert!(err.to_string().contains("no results list"), "{err}");
}

#[tokio::test]
async fn a_team_member_without_username_is_an_error() {
    let (base, _) = serve(members_script(
        r#"{"count":0,"next":null,"results":[]}"#,
        r#"{"data":[]}"#,
        r#"[{"username":"bob"},{"email":"x@example.com"}]"#,
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let err = client
        .read_state("acme", &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/v2/orgs/acme/groups/dev/members/") && err.contains("without username"),
        "{err}"
    );
}

/// Repositories listed over two pages (`count` as the first page says, one item on it); page 2
/// answers 404 its first `fail` times, then a page with item "b".
fn second_page_404(
    count: u64,
    fail: usize,
) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    let page2 = std::sync::atomic::AtomicUsize::new(0);
    move |s, _| {
        if s.path != "/v2/namespaces/acme/repositories" {
            return ok(r#"{"full_description":""}"#);
        }
        if !s.query.contains("page=2") {
            return ok(&format!(
                r#"{{"count":{count},"next":"/v2/namespaces/acme/repositories?page=2&page_size=100","results":[{{"name":"a"}}]}}"#
            ));
        }
        if page2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail {
            (404, vec![], r#"{"detail":"page not found"}"#.into())
        } else {
            page(&[r#"{"name":"b"}"#], None)
        }
    }
}

fn page2_requests(fake: &Fake) -> usize {
    requests(fake)
        .iter()
        .filter(|s| s.query.contains("page=2"))
        .count()
}

#[tokio::test]
async fn a_404_on_a_page_next_pointed_at_is_an_error_unless_count_is_reached() {
    // count 2, one item read: the listing would be partial.
    let (base, fake) = serve(second_page_404(2, usize::MAX)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains("next") && err.contains("partial"),
        "{err}"
    );
    // Page 2 was asked for twice (one retry), then given up.
    assert_eq!(page2_requests(&fake), 2);
    // count 1, one item read: the listing is whole, the 404 ends it.
    let (base, fake) = serve(second_page_404(1, usize::MAX)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &Scope::default()).await.unwrap();
    assert_eq!(state.repositories.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(page2_requests(&fake), 1);
}

#[tokio::test]
async fn a_404_on_a_later_page_is_retried_once() {
    let (base, fake) = serve(second_page_404(2, 1)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &Scope::default()).await.unwrap();
    assert_eq!(state.repositories.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(page2_requests(&fake), 2);
}

/// A listing of `acme` holding `public` only (an organization access token without
/// scope-repository-list), whatever else exists.
fn public_only_listing(s: &Seen) -> Option<Reply> {
    match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => Some(ok(
            r#"{"count":1,"next":null,"results":[{"name":"public","is_private":false}]}"#,
        )),
        "/v2/namespaces/acme/repositories/public" => Some(ok(r#"{"full_description":""}"#)),
        _ => None,
    }
}

fn repos_scope(names: &[&str]) -> Scope {
    Scope {
        repositories: names.iter().map(|n| n.to_string()).collect(),
        ..Scope::default()
    }
}

#[tokio::test]
async fn a_policy_repository_the_listing_lacks_but_that_exists_stops_the_read() {
    let (base, fake) = serve(|s, _| {
        public_only_listing(s).unwrap_or_else(|| match s.path.as_str() {
            // Exists privately: its own read answers.
            "/v2/namespaces/acme/repositories/secret" => ok(r#"{"name":"secret"}"#),
            _ => (404, vec![], r#"{"detail":"Not found."}"#.into()),
        })
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &repos_scope(&["public", "secret", "fresh"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("acme/secret exist"), "{err}");
    assert!(!err.contains("acme/fresh"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    assert!(err.contains("personal credentials"), "{err}");
    // One read per policy repository the listing lacks; none for the listed one beyond its detail.
    let paths: Vec<String> = requests(&fake).into_iter().map(|s| s.path).collect();
    assert!(paths.contains(&"/v2/namespaces/acme/repositories/fresh".to_string()));
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.as_str() == "/v2/namespaces/acme/repositories/secret")
            .count(),
        1
    );
}

#[tokio::test]
async fn absent_policy_repositories_are_read_once_and_planned_normally() {
    let (base, _) = serve(|s, _| {
        public_only_listing(s).unwrap_or((404, vec![], r#"{"detail":"Not found."}"#.into()))
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let live = client
        .read_state("acme", &repos_scope(&["public", "fresh"]))
        .await
        .unwrap();
    assert_eq!(live.repositories.keys().collect::<Vec<_>>(), ["public"]);
    // Without a use that needs the whole listing, the doubt is not an error; it is still known.
    let doubt = client.repository_listing_doubt("acme").await.unwrap();
    let text = doubt.unwrap().to_string();
    assert!(
        text.starts_with("the repository listing of acme may be partial because"),
        "{text}"
    );
}

#[tokio::test]
async fn prune_and_export_refuse_an_org_token_listing_without_private_repositories() {
    let (base, _) = serve(|s, _| {
        public_only_listing(s).unwrap_or((404, vec![], r#"{"detail":"Not found."}"#.into()))
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let mut scope = repos_scope(&["public"]);
    scope.whole_listing_for = Some(crate::model::WHOLE_LISTING_FOR_PRUNE);
    let err = client
        .read_state("acme", &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may be partial"), "{err}");
    assert!(err.contains("prune = true"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    // A private repository in the listing proves the token holds the scope.
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            ok(r#"{"count":1,"next":null,"results":[{"name":"secret","is_private":true}]}"#)
        }
        _ => ok(r#"{"full_description":""}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    scope.repositories = ["secret".to_string()].into();
    assert!(client.read_state("acme", &scope).await.is_ok());
    assert_eq!(client.repository_listing_doubt("acme").await.unwrap(), None);
}

#[tokio::test]
async fn a_listing_short_of_its_count_is_refused() {
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            ok(r#"{"count":3,"next":null,"results":[{"name":"public","is_private":false}]}"#)
        }
        _ => ok(r#"{"full_description":""}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("announced 3 repositories but its pages held 1"),
        "{err}"
    );
}

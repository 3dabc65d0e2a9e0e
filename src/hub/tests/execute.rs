//! Applying changes: the request every kind of change sends, and how its answer is judged (a
//! create must answer the created object, a DELETE answered 404 is done).

use super::*;

/// Method, path and JSON body of one expected request.
type Expected = (&'static str, &'static str, serde_json::Value);

#[tokio::test]
async fn execute_sends_the_right_request_for_every_change() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" if s.method == "GET" => {
            page(&[r#"{"id":42,"name":"dev","description":""}"#], None)
        }
        "/v2/invites/bulk" => (
            202,
            vec![],
            r#"{"invitees":[{"invitee":"zed","status":"invited"}]}"#.into(),
        ),
        // Each create answers the created object, as Docker Hub does.
        "/v2/orgs/acme/groups/" => ok(r#"{"id":42,"name":"dev","description":"Devs"}"#),
        "/v2/orgs/acme/groups/dev/members/" => ok(r#"{"username":"bob"}"#),
        "/v2/namespaces/acme/repositories" => (201, vec![], r#"{"name":"redis"}"#.into()),
        "/v2/repositories/acme/redis/groups/" => {
            ok(r#"{"group_id":42,"group_name":"dev","permission":"read"}"#)
        }
        _ => ok("{}"),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let u = Username::new;
    let fields = RepoFields {
        private: true,
        description: "d".into(),
        full_description: "f".into(),
    };
    let d = |a: &str, b: &str| Delta {
        old: a.to_string(),
        new: b.to_string(),
    };
    let ia = ImageAccess {
        enabled: true,
        allow_official_images: false,
        allow_verified_publishers: true,
    };
    let cases: Vec<(Change, Vec<Expected>)> = vec![
        (
            Change::SetImageAccess { old: None, new: ia },
            vec![(
                "PUT",
                "/v2/orgs/acme/settings",
                serde_json::json!({"restricted_images":{"enabled":true,"allow_official_images":false,"allow_verified_publishers":true}}),
            )],
        ),
        (
            Change::SetRole {
                user: u("bob"),
                old: Role::Member,
                new: Role::Editor,
            },
            vec![(
                "PUT",
                "/v2/orgs/acme/members/bob/",
                serde_json::json!({"role":"editor"}),
            )],
        ),
        (
            Change::RemoveMember {
                user: u("bob"),
                role: Role::Member,
            },
            vec![(
                "DELETE",
                "/v2/orgs/acme/members/bob/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::Invite {
                invitee: u("zed"),
                role: Role::Member,
                team: Some("dev".into()),
            },
            vec![(
                "POST",
                "/v2/invites/bulk",
                serde_json::json!({"org":"acme","team":"dev","role":"member","invitees":["zed"]}),
            )],
        ),
        (
            Change::CancelInvite {
                id: "i-1".into(),
                invitee: "zed".into(),
                team: None,
            },
            vec![("DELETE", "/v2/invites/i-1", serde_json::Value::Null)],
        ),
        (
            Change::CreateTeam {
                team: "dev".into(),
                description: "Devs".into(),
            },
            vec![(
                "POST",
                "/v2/orgs/acme/groups/",
                serde_json::json!({"name":"dev","description":"Devs"}),
            )],
        ),
        (
            Change::UpdateTeam {
                team: "dev".into(),
                description: d("a", "b"),
            },
            vec![(
                "PATCH",
                "/v2/orgs/acme/groups/dev/",
                serde_json::json!({"description":"b"}),
            )],
        ),
        (
            Change::AddTeamMember {
                team: "dev".into(),
                user: u("bob"),
            },
            vec![(
                "POST",
                "/v2/orgs/acme/groups/dev/members/",
                serde_json::json!({"member":"bob"}),
            )],
        ),
        (
            Change::RemoveTeamMember {
                team: "dev".into(),
                user: u("bob"),
            },
            vec![(
                "DELETE",
                "/v2/orgs/acme/groups/dev/members/bob",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::CreateRepository {
                repository: "redis".into(),
                fields,
            },
            vec![(
                "POST",
                "/v2/namespaces/acme/repositories",
                serde_json::json!({"name":"redis","namespace":"acme","description":"d","full_description":"f","registry":"docker.io","is_private":true}),
            )],
        ),
        (
            Change::UpdateRepository {
                repository: "redis".into(),
                private: Some(Delta {
                    old: true,
                    new: false,
                }),
                description: Some(d("a", "b")),
                full_description: None,
            },
            vec![
                (
                    "PATCH",
                    "/v2/repositories/acme/redis/",
                    serde_json::json!({"description":"b"}),
                ),
                (
                    "POST",
                    "/v2/repositories/acme/redis/privacy",
                    serde_json::json!({"is_private":false}),
                ),
            ],
        ),
        (
            Change::UpdateRepository {
                repository: "redis".into(),
                private: None,
                description: None,
                full_description: Some(d("a", "c")),
            },
            vec![(
                "PATCH",
                "/v2/repositories/acme/redis/",
                serde_json::json!({"full_description":"c"}),
            )],
        ),
        (
            Change::Grant {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Permission::Read,
            },
            vec![
                ("GET", "/v2/orgs/acme/groups", serde_json::Value::Null),
                (
                    "POST",
                    "/v2/repositories/acme/redis/groups/",
                    serde_json::json!({"group_id":42,"permission":"read"}),
                ),
            ],
        ),
        (
            Change::UpdateGrant {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Delta {
                    old: Permission::Read,
                    new: Permission::Admin,
                },
            },
            vec![(
                "PATCH",
                "/v2/repositories/acme/redis/groups/42/",
                serde_json::json!({"permission":"admin"}),
            )],
        ),
        (
            Change::Revoke {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Permission::Admin,
            },
            vec![(
                "DELETE",
                "/v2/repositories/acme/redis/groups/42/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::DeleteTeam { team: "dev".into() },
            vec![(
                "DELETE",
                "/v2/orgs/acme/groups/dev/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::DeleteRepository {
                repository: "redis".into(),
            },
            vec![(
                "DELETE",
                "/v2/repositories/acme/redis/",
                serde_json::Value::Null,
            )],
        ),
    ];
    for (change, expected) in cases {
        let before = requests(&fake).len();
        client.execute("acme", &change).await.unwrap();
        let got = requests(&fake)[before..].to_vec();
        assert_eq!(got.len(), expected.len(), "{change:?}: {got:?}");
        for (seen, (method, path, body)) in got.iter().zip(expected) {
            assert_eq!(
                (seen.method.as_str(), seen.path.as_str()),
                (method, path),
                "{change:?}"
            );
            let sent: serde_json::Value = if seen.body.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&seen.body).unwrap()
            };
            assert_eq!(sent, body, "{change:?}");
        }
    }
}

#[tokio::test]
async fn invite_rejected_and_unknown_team_are_errors() {
    let (base, _fake) = serve(|s, _| match s.path.as_str() {
        "/v2/invites/bulk" => (
            202,
            vec![],
            r#"{"invitees":[{"invitee":"x","status":"invalid_email_or_docker_id"}]}"#.into(),
        ),
        _ => page(&[], None),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .execute(
            "acme",
            &Change::Invite {
                invitee: Username::new("x"),
                role: Role::Member,
                team: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid_email_or_docker_id"),
        "{err}"
    );
    let err = client
        .execute(
            "acme",
            &Change::Grant {
                repository: "r".into(),
                team: "ghost".into(),
                permission: Permission::Read,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("team \"ghost\" does not exist"),
        "{err}"
    );
}

/// A create answered 200 with something other than the created object (a listing, an empty body,
/// another team) is an error, not "done".
#[tokio::test]
async fn a_create_must_answer_the_created_object() {
    for body in [
        r#"{"count":1,"next":null,"results":[{"id":1,"name":"dev"}]}"#,
        "",
        r#"{"id":7,"name":"other"}"#,
        r#"{"name":"dev"}"#,
    ] {
        let (base, _) = serve(move |_, _| ok(body)).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client.execute("acme", &create_team()).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Docker Hub answered success but not with a team {id, name: \"dev\"}"),
            "{body}: {text}"
        );
    }
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" => page(&[r#"{"id":42,"name":"dev"}"#], None),
        _ => ok(r#"{"group_id":42,"permission":"write"}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let grant = Change::Grant {
        repository: "redis".into(),
        team: "dev".into(),
        permission: Permission::Read,
    };
    let text = client
        .execute("acme", &grant)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("not with a grant {group_id: 42"), "{text}");
    for body in [
        r#"{"username":"carol"}"#,
        r#"{"count":0,"next":null,"results":[]}"#,
    ] {
        let (base, _) = serve(move |_, _| ok(body)).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let add = Change::AddTeamMember {
            team: "dev".into(),
            user: Username::new("bob"),
        };
        let text = client.execute("acme", &add).await.unwrap_err().to_string();
        assert!(text.contains("not with the added member \"bob\""), "{text}");
    }
    // The provider reads nothing from a member add: an empty answer is accepted.
    let (base, _) = serve(|_, _| (201, vec![], String::new())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let add = Change::AddTeamMember {
        team: "dev".into(),
        user: Username::new("bob"),
    };
    client.execute("acme", &add).await.unwrap();
}

/// A DELETE answered 404 is done (already gone); other errors still fail.
#[tokio::test]
async fn delete_404_means_already_gone() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" => page(&[r#"{"id":42,"name":"dev"}"#], None),
        _ if s.method == "DELETE" && s.path.contains("boom") => (403, vec![], "{}".into()),
        _ => (404, vec![], r#"{"detail":"Not found."}"#.into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let u = Username::new;
    for change in [
        Change::DeleteTeam { team: "dev".into() },
        Change::RemoveTeamMember {
            team: "dev".into(),
            user: u("bob"),
        },
        Change::RemoveMember {
            user: u("bob"),
            role: Role::Member,
        },
        Change::CancelInvite {
            id: "i-1".into(),
            invitee: "zed".into(),
            team: None,
        },
        Change::DeleteRepository {
            repository: "redis".into(),
        },
        Change::Revoke {
            repository: "redis".into(),
            team: "dev".into(),
            permission: Permission::Read,
        },
    ] {
        client.execute("acme", &change).await.unwrap();
    }
    let err = client
        .execute(
            "acme",
            &Change::DeleteRepository {
                repository: "boom".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        requests(&fake)
            .iter()
            .filter(|s| s.method == "DELETE")
            .count()
            >= 7
    );
}

#[tokio::test]
async fn a_create_answered_already_exists_names_the_partial_listing() {
    let (base, fake) = serve(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/v2/namespaces/acme/repositories") => (
            400,
            vec![],
            r#"{"message":"Repository with this Name and Namespace already exists."}"#.into(),
        ),
        _ => (404, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let change = Change::CreateRepository {
        repository: "secret".into(),
        fields: RepoFields {
            private: true,
            description: String::new(),
            full_description: String::new(),
        },
    };
    let err = client
        .execute("acme", &change)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("acme/secret already exists"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    // Not retried: a 400 is an answer.
    assert_eq!(
        requests(&fake)
            .iter()
            .filter(|s| s.method == "POST")
            .count(),
        1
    );
}

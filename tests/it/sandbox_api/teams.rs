//! Teams (groups): created, read, changed and deleted, a name taken once and following the rules,
//! only owners managing them, concurrent writes all kept, and team members (org members only)
//! added, listed and removed.

use super::*;

#[tokio::test]
async fn teams_crud() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": "platform", "description": "Platform engineers"})),
        )
        .await;
    assert_eq!(a.status, 201);
    let id = a.body["id"].as_u64().unwrap();
    assert_eq!(a.body["member_count"], 0);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/platform", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"].as_u64(), Some(id));
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/platform",
            Some(&t),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["description"], "changed");
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/groups/platform",
            Some(&t),
            Some(json!({"name": "platform-eng", "description": "renamed"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"].as_u64(), Some(id));
    let a = hub
        .raw(
            "PUT",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(a.status, 400, "PUT needs a name");
    let a = hub
        .raw(
            "PATCH",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"name": "legacy"})),
        )
        .await;
    assert_eq!(a.status, 400, "renaming onto another team");
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"name": "Platform-Eng"})),
        )
        .await;
    assert_eq!(a.status, 200, "a change of case is not a clash with itself");
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/Platform-Eng",
            Some(&t),
            Some(json!({"name": "platform-eng"})),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups", Some(&t), None)
        .await;
    let names: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["legacy", "platform-eng"]);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups?username=carol", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/platform-eng", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call("GET", "/v2/orgs/other/groups", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn a_team_name_is_taken_once_and_follows_the_rules() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let create = |name: &'static str| {
        let (hub, t) = (&hub, &t);
        async move {
            hub.call(
                "POST",
                "/v2/orgs/acme/groups/",
                Some(t),
                Some(json!({"name": name})),
            )
            .await
            .status
        }
    };
    assert_eq!(create("platform").await, 201);
    assert_eq!(create("platform").await, 400);
    assert_eq!(create("legacy").await, 400, "a team of the seed");
    assert_eq!(create("bad name!").await, 400);
    hub.stop().await;
}

#[tokio::test]
async fn members_only_editors_and_members_cannot_manage_teams() {
    let hub = Hub::start().await;
    let team = |n: &str| Some(json!({"name": n}));
    let mut cases = Vec::new();
    for who in [BOB, CAROL] {
        cases.push(case(who, "POST", "/v2/orgs/acme/groups/", team("x"), 403));
        // They can read.
        cases.push(case(who, "GET", "/v2/orgs/acme/groups", None, 200));
    }
    // Organization access tokens manage teams.
    cases.push(case(
        ORG_TOKEN,
        "POST",
        "/v2/orgs/acme/groups/",
        team("bots"),
        201,
    ));
    run_cases(&hub, cases).await;
    hub.stop().await;
}

#[tokio::test]
async fn concurrent_writes_are_all_kept() {
    let hub = Hub::start_with(SEED, Faults::default(), true).await;
    let t = hub.owner().await;
    let creates = (0..20).map(|i| {
        hub.call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": format!("team-{i:02}")})),
        )
    });
    let answers = futures::future::join_all(creates).await;
    let mut ids: Vec<u64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "{}", a.body);
            a.body["id"].as_u64().unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "unique ids");
    let a = hub
        .call("GET", "/v2/orgs/acme/groups?page_size=100", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 21);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(hub._dir.path().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(
        saved["teams"].as_object().unwrap().len(),
        21,
        "the file has the last write"
    );
    hub.stop().await;
}

#[tokio::test]
async fn team_members_must_be_org_members() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let add = |who: &str| json!({"member": who});
    // dave exists on the hub but is not in the org.
    let a = hub
        .raw(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(add("dave")),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(detail(&a).contains("not a member"), "{}", a.body);
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(add("nobody")),
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/nope/members/",
            Some(&t),
            Some(add("bob")),
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn team_members_are_added_listed_and_removed() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(json!({"member": "Bob"})),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/legacy/members", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let names: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let a = hub
        .call(
            "GET",
            "/v2/orgs/acme/groups/legacy/members?search=ali",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/legacy/members/bob",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/legacy/members/bob",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

//! Members and invites: members listed with their roles, the last owner neither demoted nor
//! removed, a removed member leaving every team, and invites (a status each, dry runs, unknown
//! teams or orgs, cancelled once, not listed to members, auto-accepted ones becoming members).

use super::*;

#[tokio::test]
async fn members_are_listed_with_their_roles() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call("GET", "/v2/orgs/acme/members", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let roles: Vec<(String, String)> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alice".to_string(), "Owner".to_string()),
            ("bob".to_string(), "Editor".to_string()),
            ("carol".to_string(), "Member".to_string())
        ]
    );
    assert_eq!(a.body["results"][2]["groups"], json!(["legacy"]));
    let a = hub
        .call("GET", "/v2/orgs/acme/members?role=owner", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=bogus", Some(&t), None)
        .await;
    assert_eq!(a.status, 400);
    hub.stop().await;
}

#[tokio::test]
async fn the_last_owner_is_neither_demoted_nor_removed_and_roles_are_checked() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/alice",
            Some(&t),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/alice", Some(&t), None)
        .await;
    assert_eq!(a.status, 400);
    assert!(detail(&a).contains("last owner"), "{}", a.body);
    // Promote carol, then alice may step down.
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/carol",
            Some(&t),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["role"], "Owner");
    let a = hub
        .raw(
            "PUT",
            "/v2/orgs/acme/members/carol",
            Some(&t),
            Some(json!({"role": "boss"})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/dave",
            Some(&t),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(a.status, 404, "not a member");
    hub.stop().await;
}

#[tokio::test]
async fn removing_a_member_removes_them_from_every_team() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/carol", Some(&t), None)
        .await;
    assert_eq!(a.status, 204);
    let s = hub.state().await;
    assert!(s["members"].get("carol").is_none());
    assert_eq!(s["teams"]["legacy"]["members"], json!(["alice"]));
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/carol", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn invites_get_a_status_each_and_are_listed_once() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "legacy", "role": "editor",
                        "invitees": ["bob", "ghost-user", "dave", "new@people.example"]})),
        )
        .await;
    assert_eq!(a.status, 202);
    let statuses: Vec<&str> = a.body["invitees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "existing_org_member",
            "invalid_email_or_docker_id",
            "invited",
            "invited"
        ]
    );
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let data = a.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["invitee"], "dave");
    assert_eq!(data[0]["team"], "legacy");
    assert_eq!(data[0]["role"], "editor");
    assert_eq!(data[0]["inviter_username"], "alice");
    // Inviting again does not duplicate; the invitee is not a member yet.
    hub.call(
        "POST",
        "/v2/invites/bulk",
        Some(&t),
        Some(json!({"org": "acme", "invitees": ["dave"]})),
    )
    .await;
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=invitee", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 2);
    assert_eq!(a.body["results"][0]["role"], "Invitee");
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=all", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 5);
    hub.stop().await;
}

#[tokio::test]
async fn a_dry_run_or_an_unknown_team_or_org_invites_nobody() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "invitees": ["erin"], "dry_run": true})),
        )
        .await;
    assert_eq!(a.body["invitees"][0]["status"], "invited");
    assert_eq!(hub.state().await["invites"].as_array().unwrap().len(), 0);
    // Unknown team, unknown org.
    let a = hub
        .raw(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "nope", "invitees": ["erin"]})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .raw(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "other", "invitees": ["erin"]})),
        )
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(hub.state().await["invites"].as_array().unwrap().len(), 0);
    hub.stop().await;
}

#[tokio::test]
async fn an_invite_is_cancelled_once() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "invitees": ["dave", "erin"]})),
        )
        .await;
    assert_eq!(a.status, 202);
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    let id = a.body["data"][0]["id"].as_str().unwrap().to_string();
    let a = hub
        .call("DELETE", &format!("/v2/invites/{id}"), Some(&t), None)
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call("DELETE", &format!("/v2/invites/{id}"), Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn members_cannot_list_invites() {
    let hub = Hub::start().await;
    let carol = hub.token("carol", "carol-pw").await;
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&carol), None)
        .await;
    assert_eq!(a.status, 403);
    hub.stop().await;
}

#[tokio::test]
async fn auto_accepted_invites_become_members() {
    let seed = SEED.replacen(
        "org = \"acme\"",
        "org = \"acme\"\nauto_accept_invites = true",
        1,
    );
    let hub = Hub::start_with(&seed, Faults::default(), false).await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "legacy", "role": "editor", "invitees": ["dave@acme.example"]})),
        )
        .await;
    assert_eq!(a.body["invitees"][0]["status"], "invited");
    let s = hub.state().await;
    assert_eq!(s["members"]["dave"], "editor");
    assert!(
        s["teams"]["legacy"]["members"]
            .as_array()
            .unwrap()
            .contains(&json!("dave"))
    );
    assert_eq!(s["invites"], json!([]));
    hub.stop().await;
}

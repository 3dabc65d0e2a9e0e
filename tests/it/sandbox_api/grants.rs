//! Team permissions on repositories (grants): they need an existing team, are created, read,
//! changed and deleted, and go with the team deleted.

use super::*;

#[tokio::test]
async fn grants_need_an_existing_team() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .raw(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": 999_999, "permission": "write"})),
        )
        .await;
    assert_eq!(a.status, 400);
    validate_response(
        "POST",
        "/v2/repositories/acme/old-tool/groups/",
        400,
        &a.body,
    )
    .unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn grants_are_created_read_changed_and_deleted() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": "platform"})),
        )
        .await;
    let id = a.body["id"].as_u64().unwrap();
    let a = hub
        .call(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": id, "permission": "write"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"group_id": id, "group_name": "platform", "permission": "write"})
    );
    let a = hub
        .raw(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": id, "permission": "owner"})),
        )
        .await;
    assert_eq!(a.status, 400, "invalid permission");
    let one = format!("/v2/repositories/acme/old-tool/groups/{id}/");
    let a = hub.call("GET", &one, Some(&t), None).await;
    assert_eq!(a.body["permission"], "write");
    let a = hub
        .call(
            "PATCH",
            &one,
            Some(&t),
            Some(json!({"permission": "admin"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["permission"], "admin");
    let a = hub
        .call(
            "GET",
            "/v2/repositories/acme/old-tool/groups",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 2);
    assert_eq!(a.body["results"][1]["group_name"], "platform");
    let a = hub.call("DELETE", &one, Some(&t), None).await;
    assert_eq!(a.status, 204);
    let a = hub.call("GET", &one, Some(&t), None).await;
    assert_eq!(a.status, 404, "404 = no grant");
    let a = hub.call("DELETE", &one, Some(&t), None).await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn deleting_a_team_drops_its_grants() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let legacy = hub.state().await["teams"]["legacy"]["id"].as_u64().unwrap();
    hub.call("DELETE", "/v2/orgs/acme/groups/legacy", Some(&t), None)
        .await;
    let a = hub
        .call(
            "GET",
            &format!("/v2/repositories/acme/old-tool/groups/{legacy}/"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

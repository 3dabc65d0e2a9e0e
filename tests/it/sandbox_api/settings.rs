//! The organization's settings: image access (owners only), registry access management and the
//! repository allowlist.

use super::*;

#[tokio::test]
async fn image_access_settings_are_owner_only() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call("GET", "/v2/orgs/acme/settings", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["restricted_images"]["enabled"], false);
    let on = json!({"restricted_images": {"enabled": true, "allow_official_images": true, "allow_verified_publishers": false}});
    let a = hub
        .call("PUT", "/v2/orgs/acme/settings", Some(&t), Some(on.clone()))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, on);
    assert_eq!(
        hub.call("GET", "/v2/orgs/acme/settings", Some(&t), None)
            .await
            .body,
        on
    );
    let off = json!({"restricted_images": {"enabled": false, "allow_official_images": true, "allow_verified_publishers": true}});
    let put = |who, body: &Value, status| {
        case(
            who,
            "PUT",
            "/v2/orgs/acme/settings",
            Some(body.clone()),
            status,
        )
    };
    run_cases(
        &hub,
        vec![
            // All three fields are required.
            put(
                ALICE,
                &json!({"restricted_images": {"enabled": false}}),
                400,
            )
            .raw(),
            put(ORG_TOKEN, &off, 403).detail("organization access tokens"),
            // Editors are not owners.
            put(BOB, &off, 403),
        ],
    )
    .await;
    assert_eq!(
        hub.state().await["image_access"]["enabled"],
        true,
        "unchanged"
    );
    hub.stop().await;
}

#[tokio::test]
async fn registry_access_management() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let path = "/v2/orgs/acme/settings/registry-access-management";
    let a = hub.call("GET", path, Some(&t), None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["standard_registries"][0]["id"], "DockerHub");
    let want = json!({"enabled": true, "standard_registries": [{"id": "DockerHub", "allowed": true}],
                      "custom_registries": [{"address": "ghcr.io", "friendly_name": "GitHub", "allowed": true}]});
    let a = hub.call("PUT", path, Some(&t), Some(want.clone())).await;
    assert_eq!(a.status, 200);
    assert_eq!(hub.call("GET", path, Some(&t), None).await.body, want);
    // An organization access token changes it with scope-ram-write (this one holds every scope);
    // one without it is refused.
    let oat = hub.token("acme", "dckr_oat_acme").await;
    assert_eq!(
        hub.call("PUT", path, Some(&oat), Some(want.clone()))
            .await
            .status,
        200
    );
    let readonly = hub.token("acme", "dckr_oat_readonly").await;
    assert_eq!(
        hub.call("PUT", path, Some(&readonly), Some(want.clone()))
            .await
            .status,
        403
    );
    let a = hub
        .call("PUT", path, Some(&t), Some(json!({"enabled": true})))
        .await;
    assert_eq!(a.status, 400);
    hub.stop().await;
}

#[tokio::test]
async fn repository_allowlist() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let path = "/v2/orgs/acme/settings/repository-allowlist";
    let names = |a: &Answer| -> Vec<String> {
        a.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["repository_name"].as_str().unwrap().to_string())
            .collect()
    };
    let a = hub.call("GET", path, Some(&t), None).await;
    assert_eq!((a.status, a.body["count"].as_u64()), (200, Some(0)));
    let add = json!({"repositories": ["bitnami/redis", "library/nginx"]});
    assert_eq!(
        hub.call("POST", path, Some(&t), Some(add.clone()))
            .await
            .status,
        201
    );
    assert_eq!(
        names(&hub.call("GET", path, Some(&t), None).await),
        ["bitnami/redis", "library/nginx"]
    );
    assert_eq!(
        hub.call("POST", path, Some(&t), Some(add)).await.status,
        409,
        "already listed"
    );
    let bad = json!({"repositories": ["Not A Repo"]});
    assert_eq!(
        hub.call("POST", path, Some(&t), Some(bad)).await.status,
        400
    );
    let oat = hub.token("acme", "dckr_oat_acme").await;
    let one = json!({"repositories": ["bitnami/redis"]});
    assert_eq!(
        hub.call("DELETE", path, Some(&oat), Some(one.clone()))
            .await
            .status,
        403
    );
    assert_eq!(
        hub.call("DELETE", path, Some(&t), Some(one.clone()))
            .await
            .status,
        204
    );
    assert_eq!(
        hub.call("DELETE", path, Some(&t), Some(one)).await.status,
        404,
        "already gone"
    );
    assert_eq!(
        names(&hub.call("GET", path, Some(&t), None).await),
        ["library/nginx"]
    );
    // Only the slash-less form is served (the form vetted sends).
    assert_eq!(
        hub.raw("GET", &format!("{path}/"), Some(&t), None)
            .await
            .status,
        404
    );
    hub.stop().await;
}

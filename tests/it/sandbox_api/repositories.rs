//! Repositories: created, read, updated (privacy too) and deleted, the name and description rules,
//! who may change them, private repositories hidden from outsiders, and their tags listed.

use super::*;

#[tokio::test]
async fn repositories_create_get_update_privacy_delete() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let body = json!({
        "name": "redis", "namespace": "acme", "description": "Vetted mirror",
        "full_description": "# redis", "registry": "docker.io", "is_private": true
    });
    let a = hub
        .call(
            "POST",
            "/v2/namespaces/acme/repositories",
            Some(&t),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["name"], "redis");
    assert_eq!(a.body["is_private"], true);
    // Duplicate.
    let a = hub
        .call(
            "POST",
            "/v2/namespaces/acme/repositories",
            Some(&t),
            Some(body),
        )
        .await;
    assert_eq!(a.status, 400);
    // GET and HEAD.
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/redis",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["full_description"], "# redis");
    assert_eq!(a.body["permissions"]["admin"], true);
    let a = hub
        .call(
            "HEAD",
            "/v2/namespaces/acme/repositories/redis",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, Value::Null);
    let a = hub
        .call(
            "HEAD",
            "/v2/namespaces/acme/repositories/nope",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    // PATCH (undocumented, trailing slash).
    let a = hub
        .call(
            "PATCH",
            "/v2/repositories/acme/redis/",
            Some(&t),
            Some(json!({"description": "new", "full_description": "long"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["description"], "new");
    assert_eq!(a.body["full_description"], "long");
    let a = hub
        .call(
            "PATCH",
            "/v2/repositories/acme/redis/",
            Some(&t),
            Some(json!({"description": "x".repeat(101)})),
        )
        .await;
    assert_eq!(a.status, 400);
    // Docker Hub has this path only with the trailing slash: without it, a 301 to the slash form
    // (Django's APPEND_SLASH), which a redirect-following client turns into a GET.
    let a = hub
        .raw(
            "PATCH",
            "/v2/repositories/acme/redis",
            Some(&t),
            Some(json!({})),
        )
        .await;
    assert_eq!(a.status, 301);
    assert_eq!(a.headers["location"], "/v2/repositories/acme/redis/");
    // Privacy.
    let a = hub
        .call(
            "POST",
            "/v2/repositories/acme/redis/privacy",
            Some(&t),
            Some(json!({"is_private": false})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["is_private"], false);
    // Delete.
    let a = hub
        .call("DELETE", "/v2/repositories/acme/redis/", Some(&t), None)
        .await;
    assert_eq!(a.status, 202);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/redis",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call("DELETE", "/v2/repositories/acme/redis/", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn repository_name_and_description_rules() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let create = |body: Value| {
        let hub = &hub;
        let t = &t;
        async move {
            hub.raw(
                "POST",
                "/v2/namespaces/acme/repositories",
                Some(t),
                Some(body),
            )
            .await
        }
    };
    for name in [
        "A",
        "a",
        "Upper",
        "-lead",
        "trail-",
        "a__b",
        "a/b",
        &"x".repeat(256),
    ] {
        let a = create(json!({"name": name, "namespace": "acme"})).await;
        assert_eq!(a.status, 400, "{name}");
        assert!(a.body["errinfo"]["name"].is_array(), "{}", a.body);
        validate_response("POST", "/v2/namespaces/acme/repositories", 400, &a.body).unwrap();
    }
    let a =
        create(json!({"name": "ok", "namespace": "acme", "description": "x".repeat(101)})).await;
    assert_eq!(a.status, 400);
    assert!(detail(&a).contains("100"), "{}", a.body);
    let a =
        create(json!({"name": "ok", "namespace": "acme", "full_description": "x".repeat(25_001)}))
            .await;
    assert_eq!(a.status, 400);
    let a = create(json!({"name": "ok", "namespace": "other"})).await;
    assert_eq!(a.status, 400);
    let a = hub
        .raw(
            "POST",
            "/v2/namespaces/other/repositories",
            Some(&t),
            Some(json!({"name": "ok", "namespace": "other"})),
        )
        .await;
    assert_eq!(a.status, 404);
    // The limits themselves are accepted.
    let a = create(json!({"name": "a.b_c-d", "namespace": "acme", "description": "x".repeat(100), "full_description": "y".repeat(25_000)})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    hub.stop().await;
}

#[tokio::test]
async fn who_may_change_repositories() {
    let hub = Hub::start().await;
    let body = |n: &str| Some(json!({"name": n, "namespace": "acme"}));
    let create = "/v2/namespaces/acme/repositories";
    run_cases(
        &hub,
        vec![
            case(CAROL, "POST", create, body("c1"), 403),
            case(BOB, "POST", create, body("b1"), 201),
            case(ALICE_PAT, "POST", create, body("p1"), 201),
            case(ORG_TOKEN, "POST", create, body("o1"), 201),
            case(
                CAROL,
                "DELETE",
                "/v2/repositories/acme/old-tool/",
                None,
                403,
            ),
            case(Who::Nobody, "POST", create, body("x1"), 401),
        ],
    )
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn private_repositories_are_hidden_from_outsiders() {
    let hub = Hub::start().await;
    let owner = hub.owner().await;
    let dave = hub.token("dave", "dave-pw").await; // not a member
    let carol = hub.token("carol", "carol-pw").await; // member without a grant on secret-tool
    for t in [None, Some(dave.as_str()), Some(carol.as_str())] {
        let a = hub
            .call("GET", "/v2/namespaces/acme/repositories", t, None)
            .await;
        assert_eq!(a.status, 200);
        let names: Vec<&str> = a.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["old-tool"]);
        let a = hub
            .call(
                "GET",
                "/v2/namespaces/acme/repositories/secret-tool",
                t,
                None,
            )
            .await;
        assert_eq!(a.status, 404);
    }
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 2);
    // carol reads old-tool through team legacy: read, not write.
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/old-tool",
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(
        a.body["permissions"],
        json!({"read": true, "write": false, "admin": false})
    );
    hub.stop().await;
}

#[tokio::test]
async fn tags_are_listed() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/old-tool/tags?page_size=100",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["count"], 2);
    let latest = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "latest")
        .unwrap();
    assert_eq!(
        latest["digest"],
        "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    );
    assert_eq!(latest["images"][0]["os"], "linux");
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/old-tool/tags/1.0",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body["digest"],
        "sha256:1111111111111111111111111111111111111111111111111111111111111111"
    );
    let a = hub
        .call(
            "HEAD",
            "/v2/namespaces/acme/repositories/old-tool/tags/1.0",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/old-tool/tags/nope",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories/secret-tool/tags",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

//! Who gets in and with what: `/v2/auth/token` and the deprecated login, access tokens expiring
//! after ten minutes, authentication required and raw secrets refused as bearer tokens, personal
//! access tokens kept from managing the org, organization access tokens' scopes, and their 403 on
//! the legacy reads.

use super::*;

#[tokio::test]
async fn auth_token_and_login() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    assert!(!t.is_empty());
    let a = hub
        .call(
            "POST",
            "/v2/auth/token",
            None,
            Some(json!({"identifier": "alice", "secret": "wrong"})),
        )
        .await;
    assert_eq!(a.status, 401);
    assert!(!detail(&a).is_empty());
    // Identifiers are case-insensitive; org tokens use the org name.
    hub.token("ALICE", "alice-pw").await;
    hub.token("acme", "dckr_oat_acme").await;
    assert_eq!(
        hub.raw(
            "POST",
            "/v2/auth/token",
            None,
            Some(json!({"identifier": "alice", "secret": "dckr_oat_acme"}))
        )
        .await
        .status,
        401
    );
    // Deprecated login: works for a password, refuses an org token.
    let a = hub
        .call(
            "POST",
            "/v2/users/login",
            None,
            Some(json!({"username": "alice", "password": "alice-pw"})),
        )
        .await;
    assert_eq!(a.status, 200);
    let login_token = a.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        hub.call("GET", "/v2/orgs/acme/groups", Some(&login_token), None)
            .await
            .status,
        200
    );
    let a = hub
        .call(
            "POST",
            "/v2/users/login",
            None,
            Some(json!({"username": "acme", "password": "dckr_oat_acme"})),
        )
        .await;
    assert_eq!(a.status, 401);
    // Malformed body.
    let a = hub
        .raw(
            "POST",
            "/v2/auth/token",
            None,
            Some(json!({"identifier": "alice"})),
        )
        .await;
    assert_eq!(a.status, 400);
    hub.stop().await;
}

#[tokio::test]
async fn access_tokens_expire_after_ten_minutes() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let advance = |secs: u64| {
        hub.raw(
            "POST",
            "/_sandbox/clock",
            None,
            Some(json!({"advance_secs": secs})),
        )
    };
    assert_eq!(advance(599).await.body["offset_secs"], 599);
    assert_eq!(
        hub.call("GET", "/v2/orgs/acme/groups", Some(&t), None)
            .await
            .status,
        200
    );
    advance(1).await;
    let a = hub
        .call("GET", "/v2/orgs/acme/groups", Some(&t), None)
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(detail(&a), "access token has expired");
    // A fresh token works again.
    let t2 = hub.owner().await;
    assert_eq!(
        hub.call("GET", "/v2/orgs/acme/groups", Some(&t2), None)
            .await
            .status,
        200
    );
    assert_eq!(advance(0).await.body["offset_secs"], 600);
    assert_eq!(
        hub.raw(
            "POST",
            "/_sandbox/clock",
            None,
            Some(json!({"advance_secs": -1}))
        )
        .await
        .status,
        400
    );
    hub.stop().await;
}

#[tokio::test]
async fn auth_is_required_and_raw_secrets_are_not_bearer_tokens() {
    let hub = Hub::start().await;
    let repo = json!({"name": "nope", "namespace": "acme"});
    run_cases(
        &hub,
        vec![
            case(Who::Nobody, "GET", "/v2/orgs/acme/groups", None, 401)
                .detail("Authentication credentials were not provided."),
            case(
                Who::Bearer("alice-pw"),
                "GET",
                "/v2/orgs/acme/groups",
                None,
                401,
            ),
            case(
                Who::Bearer("dckr_pat_alice"),
                "POST",
                "/v2/namespaces/acme/repositories",
                Some(repo),
                401,
            )
            .raw(),
            // Non-members cannot read the org.
            case(DAVE, "GET", "/v2/orgs/acme/members", None, 403),
        ],
    )
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn personal_access_tokens_cannot_manage_the_org() {
    let hub = Hub::start().await;
    let refused = |method, path, body| {
        case(ALICE_PAT, method, path, body, 403)
            .detail("token issued from personal access token is not allowed")
            .raw()
    };
    run_cases(
        &hub,
        vec![
            refused("POST", "/v2/orgs/acme/groups/", Some(json!({"name": "x"}))),
            refused("GET", "/v2/orgs/acme/groups", None),
            refused("DELETE", "/v2/orgs/acme/groups/legacy", None),
            refused(
                "POST",
                "/v2/orgs/acme/groups/legacy/members/",
                Some(json!({"member": "alice"})),
            ),
            refused(
                "PUT",
                "/v2/orgs/acme/members/carol",
                Some(json!({"role": "editor"})),
            ),
            refused("DELETE", "/v2/orgs/acme/members/carol", None),
            refused("GET", "/v2/orgs/acme/invites", None),
            refused(
                "POST",
                "/v2/invites/bulk",
                Some(json!({"org": "acme", "invitees": ["dave"]})),
            ),
            refused(
                "POST",
                "/v2/repositories/acme/old-tool/groups/",
                Some(json!({"group_id": 1, "permission": "read"})),
            ),
            refused(
                "PUT",
                "/v2/orgs/acme/settings",
                Some(
                    json!({"restricted_images": {"enabled": true, "allow_official_images": true, "allow_verified_publishers": true}}),
                ),
            ),
        ],
    )
    .await;
    // Nothing changed.
    let s = hub.state().await;
    assert!(s["teams"].get("x").is_none());
    assert_eq!(s["members"]["carol"], "member");
    hub.stop().await;
}

#[tokio::test]
async fn org_token_scopes_are_enforced() {
    let hub = Hub::start().await;
    let ro = ORG_TOKEN_READONLY;
    let denied = |method, path, body| case(ro, method, path, body, 403).detail("scope").raw();
    run_cases(
        &hub,
        vec![
            case(ro, "GET", "/v2/orgs/acme/groups", None, 200),
            case(
                ro,
                "GET",
                "/v2/repositories/acme/old-tool/groups",
                None,
                200,
            ),
            denied("POST", "/v2/orgs/acme/groups/", Some(json!({"name": "x"}))),
            denied("GET", "/v2/orgs/acme/members", None),
            denied("GET", "/v2/orgs/acme/invites", None),
            denied(
                "POST",
                "/v2/invites/bulk",
                Some(json!({"org": "acme", "invitees": ["dave"]})),
            ),
            denied(
                "POST",
                "/v2/namespaces/acme/repositories",
                Some(json!({"name": "xy", "namespace": "acme"})),
            ),
            denied(
                "POST",
                "/v2/repositories/acme/old-tool/groups/",
                Some(json!({"group_id": 1, "permission": "read"})),
            ),
        ],
    )
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn org_tokens_get_403_on_legacy_reads_and_list_private_repositories_only_with_the_scope() {
    let seed = format!(
        "{SEED}\n[[credentials]]\nidentifier = \"acme\"\nsecret = \"dckr_oat_grants\"\nkind = \"org_token\"\nscopes = [\"scope-repo-group-edit\", \"scope-repository-read\", \"scope-repository-list\"]\n"
    );
    let hub = Hub::start_with(&seed, Faults::default(), false).await;
    let alice = hub.owner().await;
    let full = hub.token("acme", "dckr_oat_acme").await;
    let ro = hub.token("acme", "dckr_oat_readonly").await;
    let grants = hub.token("acme", "dckr_oat_grants").await;
    // Docker's access-token reference: these legacy reads refuse every organization access token,
    // whatever its scopes; users still read them.
    for path in [
        "/v2/repositories/acme/",
        "/v2/repositories/acme/old-tool/",
        "/v2/users/acme/repositories",
    ] {
        for t in [&full, &ro] {
            let a = hub.raw("GET", path, Some(t), None).await;
            assert_eq!(a.status, 403, "{path}");
            assert_eq!(
                detail(&a),
                "token issued from organization access token is not allowed"
            );
        }
        assert_eq!(
            hub.raw("GET", path, Some(&alice), None).await.status,
            200,
            "{path}"
        );
    }
    // The documented listing: private repositories only with scope-repository-list (a token seeded
    // without scopes holds them all), silently: a normal page whose count is the public ones.
    let names = |a: &Answer| -> Vec<String> {
        a.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let path = "/v2/namespaces/acme/repositories";
    for t in [&alice, &full, &grants] {
        let a = hub.call("GET", path, Some(t), None).await;
        assert_eq!(names(&a), ["old-tool", "secret-tool"]);
        assert_eq!(a.body["count"], 2);
    }
    let a = hub.call("GET", path, Some(&ro), None).await;
    assert_eq!(a.status, 200);
    assert_eq!(names(&a), ["old-tool"]);
    assert_eq!(a.body["count"], 1);
    // Reading a private repository's metadata and tags needs scope-repository-read and
    // scope-tag-read; public ones are readable by anyone.
    for p in [
        "/v2/namespaces/acme/repositories/secret-tool",
        "/v2/namespaces/acme/repositories/secret-tool/tags",
    ] {
        let a = hub.raw("GET", p, Some(&ro), None).await;
        assert_eq!(a.status, 403, "{p}");
        assert!(detail(&a).contains("scope"), "{p}: {}", a.body);
    }
    assert_eq!(
        hub.call(
            "GET",
            "/v2/namespaces/acme/repositories/secret-tool",
            Some(&grants),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        hub.call(
            "GET",
            "/v2/namespaces/acme/repositories/old-tool/tags",
            Some(&ro),
            None
        )
        .await
        .status,
        200
    );
    // Changing needs scope-repository-edit, deleting scope-repository-admin, revoking a team's
    // access scope-repo-group-admin.
    let writes = [
        (
            "PATCH",
            "/v2/repositories/acme/old-tool/",
            Some(json!({"description": "x"})),
        ),
        (
            "POST",
            "/v2/repositories/acme/old-tool/privacy",
            Some(json!({"is_private": true})),
        ),
        ("DELETE", "/v2/repositories/acme/old-tool/", None),
        ("DELETE", "/v2/repositories/acme/old-tool/tags/1.0/", None),
    ];
    for (method, p, body) in writes {
        let a = hub.raw(method, p, Some(&grants), body).await;
        assert_eq!(a.status, 403, "{method} {p}");
        assert!(detail(&a).contains("scope"), "{method} {p}: {}", a.body);
    }
    let state = hub.state().await;
    let legacy = state["teams"]["legacy"]["id"].as_u64().unwrap();
    let grant = format!("/v2/repositories/acme/old-tool/groups/{legacy}/");
    assert_eq!(
        hub.raw(
            "PATCH",
            &grant,
            Some(&grants),
            Some(json!({"permission": "write"}))
        )
        .await
        .status,
        200
    );
    let a = hub.raw("DELETE", &grant, Some(&grants), None).await;
    assert_eq!(a.status, 403);
    assert!(detail(&a).contains("scope-repo-group-admin"), "{}", a.body);
    assert_eq!(
        hub.raw("DELETE", &grant, Some(&full), None).await.status,
        204
    );
    hub.stop().await;
}

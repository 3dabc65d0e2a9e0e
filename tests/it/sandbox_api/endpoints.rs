//! Around the endpoints: every undocumented call vetted makes is served, unknown paths and methods
//! answer as Docker Hub does, and the rate-limit headers count down.

use super::*;

/// Every undocumented call vetted makes is served by the sandbox.
#[tokio::test]
async fn every_undocumented_call_is_served() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    for (method, path, source) in crate::openapi::UNDOCUMENTED {
        let a = hub.raw(method, path, Some(&t), Some(json!({}))).await;
        assert!(
            !matches!(a.status, 404 | 405),
            "{method} {path} ({source}) answered {}",
            a.status
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_like_docker_hub() {
    let hub = Hub::start().await;
    let a = hub.raw("GET", "/v2/nothing/here", None, None).await;
    assert_eq!(a.status, 404);
    assert_eq!(detail(&a), "Not found.");
    let a = hub.raw("DELETE", "/v2/auth/token", None, None).await;
    assert_eq!(a.status, 405);
    assert!(detail(&a).contains("DELETE"));
    assert!(a.headers.contains_key("x-ratelimit-limit"));
    let a = hub
        .raw("POST", "/v2/orgs/acme/groups/", Some("x"), None)
        .await;
    assert_eq!(a.status, 401);
    hub.stop().await;
}

#[tokio::test]
async fn rate_limit_headers_count_down() {
    let hub = Hub::start().await;
    let a = hub
        .raw("GET", "/v2/namespaces/acme/repositories", None, None)
        .await;
    let b = hub
        .raw("GET", "/v2/namespaces/acme/repositories", None, None)
        .await;
    let rem = |a: &Answer| {
        a.headers["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rem(&b) < rem(&a));
    let reset: u64 = a.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_600_000_000);
    hub.stop().await;
}

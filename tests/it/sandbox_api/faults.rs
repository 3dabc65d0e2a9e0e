//! The fault knobs: an error rate answering 5xx with some HTML, rate limits answering 429 with
//! Retry-After, dropped connections, faults on the next requests only, their settings validated and
//! readable, and faults from the config applying from the start.

use super::*;

#[tokio::test]
async fn fault_error_rate_gives_5xx_some_html() {
    let hub = Hub::start().await;
    let a = hub.set_faults(json!({"error_rate": 1.0, "seed": 3})).await;
    assert_eq!(a.status, 200);
    let mut seen = std::collections::BTreeSet::new();
    let mut html = false;
    for _ in 0..30 {
        let a = hub
            .raw("GET", "/v2/namespaces/acme/repositories", None, None)
            .await;
        assert!([500, 502, 503].contains(&a.status), "{}", a.status);
        seen.insert(a.status);
        let ct = a.headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        if ct.starts_with("text/html") {
            html = true;
            assert!(a.body.as_str().unwrap().contains("<html>"));
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(html);
    // Control endpoints are never faulted.
    assert_eq!(
        hub.raw("GET", "/_sandbox/state", None, None).await.status,
        200
    );
    hub.set_faults(json!({})).await;
    assert_eq!(
        hub.raw("GET", "/v2/namespaces/acme/repositories", None, None)
            .await
            .status,
        200
    );
    hub.stop().await;
}

#[tokio::test]
async fn fault_rate_limit_gives_429_with_retry_after() {
    let hub = Hub::start().await;
    hub.set_faults(json!({"rate_limit_rate": 1.0, "retry_after_secs": 7}))
        .await;
    let a = hub
        .raw("GET", "/v2/namespaces/acme/repositories", None, None)
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(a.body, json!({"detail": "Rate limit exceeded"}));
    assert_eq!(a.headers["retry-after"], "7");
    assert_eq!(a.headers["x-ratelimit-remaining"], "0");
    // Retry-After as a unix timestamp, as Docker Hub has also been seen to send.
    hub.set_faults(
        json!({"rate_limit_rate": 1.0, "retry_after_secs": 7, "retry_after_unix": true}),
    )
    .await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let a = hub
        .raw("GET", "/v2/namespaces/acme/repositories", None, None)
        .await;
    assert_eq!(a.status, 429);
    let at: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        at >= before + 7,
        "a unix time 7 s ahead, got {at} (before: {before})"
    );
    assert_eq!(
        hub.raw("GET", "/_sandbox/faults", None, None).await.body["retry_after_unix"],
        true
    );
    hub.stop().await;
}

#[tokio::test]
async fn fault_reset_drops_the_connection() {
    let hub = Hub::start().await;
    hub.set_faults(json!({"reset_rate": 1.0})).await;
    let url = hub.base.join("/v2/namespaces/acme/repositories").unwrap();
    for _ in 0..3 {
        let outcome = match hub.http.get(url.clone()).send().await {
            Err(e) => Err(e),
            Ok(resp) => resp.bytes().await.map(|_| ()),
        };
        assert!(outcome.is_err(), "the client must see a failed exchange");
    }
    let log = hub.raw("GET", "/_sandbox/requests", None, None).await.body;
    assert!(log.as_array().unwrap().iter().all(|e| e["status"] == 0));
    hub.stop().await;
}

#[tokio::test]
async fn faults_can_hit_only_the_next_requests() {
    let hub = Hub::start().await;
    let a = hub
        .set_faults(json!({"rate_limit_rate": 1.0, "retry_after_secs": 1, "only_next": 2}))
        .await;
    assert_eq!(a.body["only_next"], 2);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            hub.raw("GET", "/v2/namespaces/acme/repositories", None, None)
                .await
                .status,
        );
    }
    assert_eq!(statuses, [429, 429, 200, 200]);
    assert_eq!(
        hub.raw("GET", "/_sandbox/faults", None, None).await.body["only_next"],
        0
    );
    hub.stop().await;
}

#[tokio::test]
async fn fault_settings_are_validated_and_readable() {
    let hub = Hub::start().await;
    assert_eq!(hub.set_faults(json!({"error_rate": 1.5})).await.status, 400);
    assert_eq!(
        hub.set_faults(json!({"error_rate": 0.6, "reset_rate": 0.6}))
            .await
            .status,
        400
    );
    assert_eq!(hub.set_faults(json!({"bogus": 1})).await.status, 400);
    let a = hub
        .set_faults(json!({"latency_ms": 5, "error_rate": 0.25, "seed": 9}))
        .await;
    assert_eq!(a.status, 200);
    let a = hub.raw("GET", "/_sandbox/faults", None, None).await;
    assert_eq!(a.body["latency_ms"], 5);
    assert_eq!(a.body["error_rate"], 0.25);
    // The same seed gives the same sequence of outcomes.
    let mut runs = Vec::new();
    for _ in 0..2 {
        hub.set_faults(json!({"error_rate": 0.5, "seed": 42})).await;
        let mut statuses = Vec::new();
        for _ in 0..12 {
            statuses.push(
                hub.raw("GET", "/v2/namespaces/acme/repositories", None, None)
                    .await
                    .status,
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500));
    hub.stop().await;
}

#[tokio::test]
async fn faults_from_the_config_apply_from_the_start() {
    let faults = Faults {
        rate_limit_rate: 1.0,
        retry_after: Duration::from_secs(2),
        ..Faults::default()
    };
    let hub = Hub::start_with(SEED, faults, false).await;
    let a = hub
        .raw("GET", "/v2/namespaces/acme/repositories", None, None)
        .await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "2");
    hub.stop().await;
    let bad = Faults {
        error_rate: -0.1,
        ..Faults::default()
    };
    let config = SandboxConfig {
        faults: bad,
        ..SandboxConfig::default()
    };
    assert!(Sandbox::start(config).await.is_err());
}

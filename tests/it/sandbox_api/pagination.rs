//! Pagination of the lists (repositories, members): absolute `next` links followed to the end, page
//! numbers and sizes out of range, and the ordering.

use super::*;

#[tokio::test]
async fn pagination_follows_absolute_next_links() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    for i in 0..10 {
        let a = hub
            .call(
                "POST",
                "/v2/namespaces/acme/repositories",
                Some(&t),
                Some(json!({"name": format!("repo-{i:02}"), "namespace": "acme"})),
            )
            .await;
        assert_eq!(a.status, 201);
    }
    // 12 repositories, 5 per page: 3 pages.
    let mut url = hub
        .base
        .join("/v2/namespaces/acme/repositories?page_size=5&ordering=name")
        .unwrap()
        .to_string();
    let mut names = Vec::new();
    let mut pages = 0;
    for _ in 0..10 {
        pages += 1;
        let path = url
            .strip_prefix(hub.base.as_str().trim_end_matches('/'))
            .unwrap()
            .to_string();
        let a = hub.call("GET", &path, Some(&t), None).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body["count"], 12);
        for r in a.body["results"].as_array().unwrap() {
            names.push(r["name"].as_str().unwrap().to_string());
        }
        if pages == 1 {
            assert_eq!(a.body["previous"], Value::Null);
        } else {
            assert!(
                a.body["previous"]
                    .as_str()
                    .unwrap()
                    .starts_with(hub.base.as_str())
            );
        }
        match a.body["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(hub.base.as_str()), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "ordered by name, no duplicates");
    assert_eq!(names.len(), 12);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories?page=4&page_size=5",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories?page_size=101",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories?ordering=stars",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call(
            "GET",
            "/v2/namespaces/acme/repositories?page_size=100",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.body["results"].as_array().unwrap().len(), 12);
    assert_eq!(a.body["next"], Value::Null);
    // Other lists paginate the same way.
    let a = hub
        .call("GET", "/v2/orgs/acme/members?page_size=2", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 3);
    assert!(a.body["next"].as_str().unwrap().contains("page=2"));
    let a = hub
        .call(
            "GET",
            "/v2/orgs/acme/members?page_size=2&page=3",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

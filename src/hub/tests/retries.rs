//! Retries and limits: dropped connections, 5xx, 429 with `Retry-After`, request timeouts, HTML
//! error pages, and redirects refused rather than followed.

use super::*;

#[tokio::test]
async fn retries_through_dropped_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(raw_server_opt(listener, |i, path| {
        if path == "/v2/auth/token" {
            Some((200, r#"{"access_token":"t"}"#.into()))
        } else if i == 1 {
            None
        } else if path.starts_with("/v2/namespaces/") {
            Some((200, r#"{"count":0,"next":null,"results":[]}"#.into()))
        } else {
            Some((200, settings_body().into()))
        }
    }));
    let client = HubClient::login(config(url::Url::parse(&format!("http://{addr}")).unwrap()))
        .await
        .unwrap();
    let state = client.read_state("acme", &only_settings()).await.unwrap();
    assert!(state.image_access.is_some());
    // login + dropped attempt + retried settings + repository listing
    assert_eq!(client.api_calls(), 4);
}

#[tokio::test]
async fn retries_through_500s_then_gives_up() {
    let (base, fake) = serve(|s, nth| {
        if let Some(r) = empty_repos(s) {
            return r;
        }
        if nth <= 2 {
            (500, vec![], "{}".into())
        } else {
            ok(settings_body())
        }
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    client.read_state("acme", &only_settings()).await.unwrap();
    assert_eq!(
        requests(&fake)
            .iter()
            .filter(|s| s.path.ends_with("/settings/"))
            .count(),
        3
    );

    let (base, fake) = serve(|_, _| (500, vec![], "{}".into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &only_settings())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    // max_retries = 3: one try plus three retries.
    assert_eq!(requests(&fake).len(), 4);
}

#[tokio::test]
async fn post_retried_on_5xx_and_conflict_after_retry_is_success() {
    let (base, fake) = serve(|_, _| (500, vec![], r#"{"message":"boom"}"#.into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let change = Change::CreateTeam {
        team: "dev".into(),
        description: "d".into(),
    };
    let err = client.execute("acme", &change).await.unwrap_err();
    // Retried (a create that landed answers "already exists" next time), then reported.
    assert!(requests(&fake).len() > 1);
    assert!(
        err.to_string().contains("500 Internal Server Error: boom"),
        "{err}"
    );

    let (base, fake) = serve(|_, nth| {
        if nth == 1 {
            (503, vec![], "{}".into())
        } else {
            (409, vec![], r#"{"detail":"group already exists"}"#.into())
        }
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    client.execute("acme", &change).await.unwrap();
    assert_eq!(requests(&fake).len(), 2);

    // A 409 on the first attempt is a real conflict.
    let (base, _fake) =
        serve(|_, _| (409, vec![], r#"{"detail":"group already exists"}"#.into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    assert!(client.execute("acme", &change).await.is_err());
}

#[tokio::test]
async fn rate_limit_retry_after_seconds_and_epoch() {
    for header in ["retry-after", "retry-after-epoch", "x-ratelimit-reset"] {
        let (base, fake) = serve(move |s, nth| {
            if let Some(r) = empty_repos(s) {
                return r;
            }
            if nth == 1 {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                let h = match header {
                    "retry-after" => vec![("retry-after", "1".to_string())],
                    "retry-after-epoch" => vec![("retry-after", (now + 1).to_string())],
                    _ => vec![("x-ratelimit-reset", (now + 1).to_string())],
                };
                (429, h, r#"{"detail":"slow down"}"#.into())
            } else {
                ok(settings_body())
            }
        })
        .await;
        let client = HubClient::login(config(base)).await.unwrap();
        client.read_state("acme", &only_settings()).await.unwrap();
        assert_eq!(
            requests(&fake)
                .iter()
                .filter(|s| s.path.ends_with("/settings/"))
                .count(),
            2,
            "{header}"
        );
    }
}

#[test]
fn rate_limit_wait_parsing() {
    let cap = Duration::from_secs(60);
    let mut h = reqwest::header::HeaderMap::new();
    assert_eq!(http::rate_limit_wait(&h, cap), None);
    h.insert("retry-after", "7".parse().unwrap());
    assert_eq!(http::rate_limit_wait(&h, cap), Some(Duration::from_secs(7)));
    h.insert("retry-after", "3600".parse().unwrap());
    assert_eq!(http::rate_limit_wait(&h, cap), Some(cap));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    h.insert("retry-after", (now + 30).to_string().parse().unwrap());
    let w = http::rate_limit_wait(&h, cap).unwrap();
    assert!(
        w <= Duration::from_secs(31) && w >= Duration::from_secs(28),
        "{w:?}"
    );
    h.insert("retry-after", (now - 30).to_string().parse().unwrap());
    assert_eq!(http::rate_limit_wait(&h, cap), Some(Duration::ZERO));
    h.insert("retry-after", "soon".parse().unwrap());
    h.insert("x-ratelimit-reset", (now + 10).to_string().parse().unwrap());
    let w = http::rate_limit_wait(&h, cap).unwrap();
    assert!(
        w <= Duration::from_secs(11) && w >= Duration::from_secs(8),
        "{w:?}"
    );
}

#[tokio::test]
async fn html_502_gives_clean_error() {
    let (base, _fake) = serve(|_, _| {
        (
            502,
            vec![("content-type", "text/html".to_string())],
            "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>".into(),
        )
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &only_settings())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("GET /v2/orgs/acme/settings/: 502 Bad Gateway: non-JSON body (text/html): an HTML page titled \"502 Bad Gateway\""), "{text}");
    assert!(!text.contains('<'), "{text}");
}

// Two workers: the scripted handler blocks one while the client times out on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_is_retried() {
    let (base, fake) = serve(|s, nth| {
        if let Some(r) = empty_repos(s) {
            return r;
        }
        if nth == 1 {
            // Longer than the client's timeout: the first attempt times out.
            std::thread::sleep(Duration::from_millis(600));
        }
        ok(settings_body())
    })
    .await;
    let mut cfg = config(base);
    cfg.timeout = Duration::from_millis(200);
    let client = HubClient::login(cfg).await.unwrap();
    let state = client.read_state("acme", &only_settings()).await.unwrap();
    assert!(state.image_access.is_some());
    assert_eq!(
        requests(&fake)
            .iter()
            .filter(|s| s.path.ends_with("/settings/"))
            .count(),
        2
    );
}

/// A 301 (what Docker Hub's framework answers a POST on the wrong path form) is an error with the
/// hint, never followed: no GET of the listing is sent, so nothing counts as done.
#[tokio::test]
async fn a_redirect_is_an_error_and_is_not_followed() {
    let (base, fake) = serve(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/v2/orgs/acme/groups/") => (
            301,
            vec![("location", "/v2/orgs/acme/groups/x/".to_string())],
            String::new(),
        ),
        _ => page(&[r#"{"id":1,"name":"dev"}"#], None),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client.execute("acme", &create_team()).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(301), "{text}");
    assert!(
        text.contains("Docker Hub answered 301 to POST /v2/orgs/acme/groups/: the path form is wrong; this is a bug in vetted, please report it"),
        "{text}"
    );
    assert!(
        text.contains("redirected to /v2/orgs/acme/groups/x/"),
        "{text}"
    );
    let log = requests(&fake);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, "POST");
}

#[test]
fn retry_after_reads_seconds_unix_time_and_http_date() {
    use crate::transport::parse_retry_after;
    // Wed, 21 Oct 2015 07:28:00 GMT (RFC 9110's example) is 1445412480.
    let now = 1_445_412_470u64;
    assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
    assert_eq!(
        parse_retry_after("1445412480", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
    // The hub client reads the date form too.
    let mut h = reqwest::header::HeaderMap::new();
    let in_20s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
    h.insert("retry-after", in_20s.parse().unwrap());
    let w = http::rate_limit_wait(&h, Duration::from_secs(60)).unwrap();
    assert!(
        w <= Duration::from_secs(21) && w >= Duration::from_secs(15),
        "{w:?}"
    );
}

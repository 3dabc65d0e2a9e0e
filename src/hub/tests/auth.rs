//! Logging in and the bearer token: the identifier and secret sent, renewal on 401 and before
//! expiry, the hints for a personal token or a settings trap, and secrets never reaching an error.

use super::*;

#[tokio::test]
async fn login_sends_identifier_and_secret_and_uses_bearer() {
    let (base, fake) = serve(|s, _| empty_repos(s).unwrap_or_else(|| ok(settings_body()))).await;
    let client = HubClient::login(config(base)).await.unwrap();
    assert_eq!(client.identity(), "acme");
    let state = client.read_state("acme", &only_settings()).await.unwrap();
    assert_eq!(
        state.image_access,
        Some(ImageAccess {
            enabled: true,
            allow_official_images: true,
            allow_verified_publishers: false
        })
    );
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log[0].path, "/v2/auth/token");
    let login: serde_json::Value = serde_json::from_str(&log[0].body).unwrap();
    assert_eq!(login["identifier"], "acme");
    assert_eq!(login["secret"], SECRET);
    assert!(log[1..].iter().all(|s| s.auth == "Bearer tok-1"));
    assert_eq!(client.api_calls(), log.len() as u64);
}

#[tokio::test]
async fn token_renewed_on_401_and_request_retried() {
    let (base, fake) = serve(|s, _| {
        if s.auth == "Bearer tok-1" {
            (401, vec![], r#"{"detail":"token expired"}"#.into())
        } else {
            empty_repos(s).unwrap_or_else(|| ok(settings_body()))
        }
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    client.read_state("acme", &only_settings()).await.unwrap();
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|s| s.path == "/v2/auth/token").count(), 2);
    assert_eq!(log.last().unwrap().auth, "Bearer tok-2");
}

#[tokio::test]
async fn token_renewed_before_expiry() {
    let (base, fake) = serve(|s, _| empty_repos(s).unwrap_or_else(|| ok(settings_body()))).await;
    let client = HubClient::login(config(base)).await.unwrap();
    // Age the token past the renewal point.
    {
        let mut tok = client.inner.token.lock().await;
        let aged = std::time::Instant::now().checked_sub(Duration::from_secs(9 * 60));
        if let (Some((_, at)), Some(aged)) = (tok.as_mut(), aged) {
            *at = aged;
        }
    }
    client.read_state("acme", &only_settings()).await.unwrap();
    let log = fake.log.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|s| s.path == "/v2/auth/token").count(), 2);
    assert!(
        log.iter()
            .filter(|s| s.path != "/v2/auth/token")
            .all(|s| s.auth == "Bearer tok-2")
    );
}

#[tokio::test]
async fn login_401_hint_and_secret_never_printed() {
    // Point at a server where every path 401s, including login (handled by raw server below).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(raw_server(listener, |_, _| {
        (
            401,
            r#"{"detail":"incorrect username or password"}"#.to_string(),
        )
    }));
    let err = HubClient::login(config(url::Url::parse(&format!("http://{addr}")).unwrap()))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth());
    assert!(
        text.starts_with("POST /v2/auth/token: 401 Unauthorized: incorrect username or password"),
        "{text}"
    );
    assert!(
        text.contains("hint: check DOCKERHUB_USERNAME and DOCKERHUB_TOKEN"),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !format!("{err:?}").contains(SECRET));
    let creds = Credentials {
        username: "acme".into(),
        secret: Secret::new(SECRET),
    };
    assert!(!format!("{creds:?}").contains(SECRET));
    assert_eq!(format!("{}", creds.secret), "***");
    let cfg = config(url::Url::parse("http://127.0.0.1:9").unwrap());
    assert!(!format!("{cfg:?}").contains(SECRET));
}

/// A raw HTTP/1.1 server: `respond(connection_index, path)` -> Some((status, body)), or None to close
/// the connection without answering. Every response closes the connection.
async fn raw_server(
    listener: tokio::net::TcpListener,
    respond: impl Fn(usize, &str) -> (u16, String) + Send + Sync + 'static,
) {
    raw_server_opt(listener, move |i, p| Some(respond(i, p))).await
}

#[tokio::test]
async fn pat_trap_and_settings_trap_hints() {
    let (base, _fake) = serve(|_, _| {
        (
            403,
            vec![],
            r#"{"detail":"token issued from personal access token is not allowed"}"#.into(),
        )
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .execute(
            "acme",
            &Change::CreateTeam {
                team: "dev".into(),
                description: String::new(),
            },
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(err.is_auth());
    assert!(
        text.starts_with("POST /v2/orgs/acme/groups/: 403 Forbidden: token issued"),
        "{text}"
    );
    assert!(
        text.contains("hint: a personal access token cannot manage organizations, their teams"),
        "{text}"
    );
    assert!(!text.contains(SECRET));

    let (base, _fake) = serve(|_, _| (403, vec![], r#"{"detail":"forbidden"}"#.into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let ia = ImageAccess {
        enabled: true,
        allow_official_images: true,
        allow_verified_publishers: true,
    };
    let err = client
        .execute("acme", &Change::SetImageAccess { old: None, new: ia })
        .await
        .unwrap_err();
    let ctx = |identity| Explain {
        org: "acme",
        hub: "https://hub.docker.com",
        identity,
        org_source: "`org` in vetted.toml",
    };
    let as_user = err.clone().explain(&ctx("bob")).to_string();
    assert!(
        as_user.contains(
            "hint: changing Image Access Management needs the owner role in acme: bob is not a \
             member, or has a lower role"
        ),
        "{as_user}"
    );
    assert!(!as_user.contains("organization access token"), "{as_user}");
    let as_oat = err.explain(&ctx("acme")).to_string();
    assert!(
        as_oat.contains("the organization access token for acme lacks the scope"),
        "{as_oat}"
    );
    // Elsewhere the hint names the scope the call needs.
    for (method, path, scope) in [
        ("GET", "/v2/orgs/acme/members", "scope-member-read"),
        ("GET", "/v2/orgs/acme/invites", "scope-invite-read"),
        ("POST", "/v2/invites/bulk", "scope-invite-edit"),
        ("POST", "/v2/orgs/acme/groups/", "scope-group-edit"),
        (
            "POST",
            "/v2/namespaces/acme/repositories",
            "scope-repository-create",
        ),
        (
            "GET",
            "/v2/namespaces/acme/repositories/x",
            "scope-repository-read",
        ),
        (
            "GET",
            "/v2/namespaces/acme/repositories/x/tags",
            "scope-tag-read",
        ),
        ("PATCH", "/v2/repositories/acme/x/", "scope-repository-edit"),
        (
            "POST",
            "/v2/repositories/acme/x/privacy",
            "scope-repository-edit",
        ),
        (
            "DELETE",
            "/v2/repositories/acme/x/",
            "scope-repository-admin",
        ),
        (
            "DELETE",
            "/v2/repositories/acme/x/tags/1/",
            "scope-tag-admin",
        ),
        (
            "POST",
            "/v2/repositories/acme/x/groups/",
            "scope-repo-group-edit",
        ),
        (
            "DELETE",
            "/v2/repositories/acme/x/groups/5/",
            "scope-repo-group-admin",
        ),
    ] {
        let e = HubError::new(method, path, Some(403), "forbidden".into());
        let text = e.explain(&ctx("acme")).to_string();
        assert!(
            text.contains(&format!("needs ({scope}, or a scope")),
            "{path}: {text}"
        );
        let e = HubError::new(method, path, Some(403), "forbidden".into());
        assert!(
            !e.explain(&ctx("bob")).to_string().contains("scope-"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn login_error_echoing_the_secret_is_redacted() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(raw_server(listener, |_, _| {
        (400, format!(r#"{{"detail":"bad secret {SECRET}"}}"#))
    }));
    let err = HubClient::login(config(url::Url::parse(&format!("http://{addr}")).unwrap()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad secret ***"), "{err}");
    assert!(!err.to_string().contains(SECRET) && !format!("{err:?}").contains(SECRET));
}

/// The login POST answered 307 to another origin (another loopback port): nothing reaches that
/// origin (a followed 307 would resend the body, secret included).
#[tokio::test]
async fn login_307_to_another_origin_sends_nothing_there() {
    let (elsewhere, elsewhere_fake) = serve(|_, _| ok("{}")).await;
    let target = format!("{elsewhere}v2/auth/token");
    let app = Router::new().fallback(move || {
        let target = target.clone();
        async move {
            Response::builder()
                .status(307)
                .header("location", target)
                .body(Body::empty())
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let err = HubClient::login(config(base)).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.status(), Some(307), "{text}");
    assert!(text.contains("POST /v2/auth/token"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        elsewhere_fake.log.lock().unwrap().is_empty(),
        "the redirect target was contacted"
    );
}

/// A secret with characters every JSON escaping style treats differently.
const ODD_SECRET: &str = "pa\"ss\\w\u{f6}rd/<&>-9a8b7c6d5e";

/// The first run of 4 or more characters of `secret` found in `text`.
fn leaked_run(text: &str, secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .find(|w| text.contains(w.as_str()))
}

/// Error bodies that echo the request (its JSON body, escaped once or twice, Python-style, as text,
/// or its Authorization header), with the secret placed across the message truncation boundary,
/// never show a 4-character run of the password or of the bearer token.
#[tokio::test]
async fn echoed_secrets_are_redacted_before_truncation() {
    let request = serde_json::json!({"identifier": "acme", "secret": ODD_SECRET}).to_string();
    let python = request.replace('\u{f6}', "\\u00f6");
    for pad in [150usize, 185, 190, 195, 199, 200, 205] {
        let p = "~".repeat(pad);
        let bodies: Vec<(&str, String)> = vec![
            (
                "application/json",
                serde_json::json!({"detail": format!("{p}{request}")}).to_string(),
            ),
            (
                "application/json",
                format!(
                    r#"{{"detail": "{p}{}"}}"#,
                    python.replace('\\', "\\\\").replace('"', "\\\"")
                ),
            ),
            (
                "application/json",
                format!(r#"{{"echo": {request}, "pad": "{p}"}}"#),
            ),
            ("text/plain", format!("{p}{request}")),
            ("text/html", format!("<p>{p}</p><pre>{python}</pre>")),
            (
                "text/html",
                format!(
                    "<p>{p}</p><pre>{}</pre>",
                    request
                        .replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                        .replace('"', "&quot;")
                ),
            ),
        ];
        for (ct, body) in bodies {
            let login_body = body.clone();
            // The scripted fake answers logins itself: a dedicated router echoes this one.
            let app = Router::new().fallback(move || {
                let b = login_body.clone();
                async move {
                    Response::builder()
                        .status(400)
                        .header("content-type", ct)
                        .body(Body::from(b))
                        .unwrap()
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let mut cfg = config(url::Url::parse(&format!("http://{addr}")).unwrap());
            cfg.credentials.secret = Secret::new(ODD_SECRET);
            let text = HubClient::login(cfg).await.unwrap_err().to_string();
            assert!(text.contains("400 Bad Request"), "{text}");
            assert_eq!(
                leaked_run(&text, ODD_SECRET),
                None,
                "pad {pad} {ct}: {text}"
            );
        }
    }
    // The bearer token, echoed in a header dump on an authenticated call.
    for pad in [150usize, 180, 190, 195, 199] {
        let (base, _) = serve(move |s, _| {
            let p = "~".repeat(pad);
            let body = serde_json::json!({"detail": format!("{p}Authorization: {}", s.auth)});
            (403, vec![], body.to_string())
        })
        .await;
        let client = HubClient::login(config(base)).await.unwrap();
        let text = client
            .read_state("acme", &only_settings())
            .await
            .unwrap_err()
            .to_string();
        if pad < 170 {
            assert!(text.contains("Authorization: Bearer ***"), "{text}");
        }
        assert_eq!(leaked_run(&text, "tok-1"), None, "{text}");
    }
}

//! Unit tests against minimal scripted HTTP servers on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::model::{ImageAccess, Permission, Role, Username};
use crate::plan::{Delta, RepoFields};

const SECRET: &str = "s3cr3t-do-not-print";

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: String,
    auth: String,
}

/// Method, path and JSON body of one expected request.
type Expected = (&'static str, &'static str, serde_json::Value);
type Reply = (u16, Vec<(&'static str, String)>, String);
type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Fake {
    log: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        body: String::from_utf8_lossy(&body).to_string(),
        auth: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    };
    let nth = {
        let mut log = fake.log.lock().unwrap();
        log.push(seen.clone());
        log.iter()
            .filter(|s| s.path == seen.path && s.method == seen.method)
            .count()
    };
    let (status, headers, body) = if seen.path == "/v2/auth/token" {
        (200, vec![], format!(r#"{{"access_token":"tok-{nth}"}}"#))
    } else {
        (fake.script)(&seen, nth)
    };
    let mut resp = Response::builder().status(StatusCode::from_u16(status).unwrap());
    let mut has_ct = false;
    for (k, v) in headers {
        has_ct |= k.eq_ignore_ascii_case("content-type");
        resp = resp.header(k, v);
    }
    if !has_ct {
        resp = resp.header("content-type", "application/json");
    }
    resp.body(Body::from(body)).unwrap()
}

async fn serve(
    script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> (url::Url, Arc<Fake>) {
    let fake = Arc::new(Fake {
        log: Mutex::new(Vec::new()),
        script: Box::new(script),
    });
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url::Url::parse(&format!("http://{addr}")).unwrap(), fake)
}

fn config(base: url::Url) -> HubConfig {
    let mut c = HubConfig::new(
        base,
        Credentials {
            username: "acme".into(),
            secret: Secret::new(SECRET),
        },
    );
    c.timeout = Duration::from_secs(5);
    c.max_retries = 3;
    c.max_retry_wait = Duration::from_secs(1);
    c
}

fn ok(body: &str) -> Reply {
    (200, vec![], body.to_string())
}

fn requests(fake: &Fake) -> Vec<Seen> {
    fake.log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path != "/v2/auth/token")
        .cloned()
        .collect()
}

fn settings_body() -> &'static str {
    r#"{"restricted_images":{"enabled":true,"allow_official_images":true,"allow_verified_publishers":false}}"#
}

fn only_settings() -> Scope {
    Scope {
        image_access: true,
        ..Scope::default()
    }
}

fn empty_repos(s: &Seen) -> Option<Reply> {
    (s.path == "/v2/namespaces/acme/repositories")
        .then(|| ok(r#"{"count":0,"next":null,"results":[]}"#))
}

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

async fn raw_server_opt(
    listener: tokio::net::TcpListener,
    respond: impl Fn(usize, &str) -> Option<(u16, String)> + Send + Sync + 'static,
) {
    for i in 0..50usize {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the head and the body (by Content-Length).
        loop {
            let n = match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&buf).to_string();
        let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
        if let Some((status, body)) = respond(i, &path) {
            let resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
        drop(sock);
    }
}

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

fn page(items: &[&str], next: Option<String>) -> Reply {
    let next = next
        .map(|n| format!("\"{n}\""))
        .unwrap_or_else(|| "null".into());
    ok(&format!(
        r#"{{"count":{},"next":{next},"results":[{}]}}"#,
        items.len(),
        items.join(",")
    ))
}

#[tokio::test]
async fn read_state_paginates_and_reads_everything_in_scope() {
    let (base, fake) = serve(|s, _| {
        let q = s.query.as_str();
        let p2 = q.contains("page=2");
        match s.path.as_str() {
            "/v2/orgs/acme/members" if !p2 => page(
                &[r#"{"username":"Alice","role":"Owner"}"#],
                Some(
                    "http://elsewhere.invalid/v2/orgs/acme/members?type=all&page=2&page_size=100"
                        .into(),
                ),
            ),
            "/v2/orgs/acme/members" => page(&[r#"{"username":"bob","role":"Editor"}"#], None),
            "/v2/orgs/acme/invites" => {
                ok(
                    r#"{"data":[{"id":"inv1","invitee":"carol@example.com","role":"Member","team":"dev"}]}"#,
                )
            }
            "/v2/orgs/acme/groups" => page(
                &[
                    r#"{"id":7,"name":"dev","description":"Developers"}"#,
                    r#"{"id":8,"name":"ops","description":""}"#,
                ],
                None,
            ),
            "/v2/orgs/acme/groups/dev/members/" => page(&[r#"{"username":"Bob"}"#], None),
            "/v2/orgs/acme/groups/ops/members/" => page(&[], None),
            // Page 2 of the repositories is past the end: 404 ends the listing.
            "/v2/namespaces/acme/repositories" if !p2 => page(
                &[
                    r#"{"name":"redis","is_private":true,"description":"Redis"}"#,
                    r#"{"name":"nginx","is_private":false,"description":""}"#,
                ],
                Some("/v2/namespaces/acme/repositories?page=2&page_size=100".into()),
            ),
            "/v2/namespaces/acme/repositories" => {
                (404, vec![], r#"{"detail":"page not found"}"#.into())
            }
            "/v2/namespaces/acme/repositories/redis" => ok(r##"{"full_description":"# Redis"}"##),
            "/v2/namespaces/acme/repositories/nginx" => ok(r#"{"full_description":null}"#),
            "/v2/repositories/acme/redis/groups/" => {
                (404, vec![], r#"{"detail":"not found"}"#.into())
            }
            "/v2/repositories/acme/redis/groups/7/" => {
                ok(r#"{"group_id":7,"group_name":"dev","permission":"write"}"#)
            }
            "/v2/repositories/acme/redis/groups/8/" => (404, vec![], "{}".into()),
            "/v2/repositories/acme/nginx/groups/" => page(
                &[r#"{"group_id":8,"group_name":"ops","permission":"admin"}"#],
                None,
            ),
            _ => (
                418,
                vec![],
                format!(r#"{{"detail":"unexpected {}"}}"#, s.path),
            ),
        }
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        image_access: false,
        members: true,
        teams: true,
        grant_repositories: [
            "redis".to_string(),
            "nginx".to_string(),
            "absent".to_string(),
        ]
        .into(),
        grant_teams: ["dev".to_string(), "ops".to_string(), "qa".to_string()].into(),
        all_grants: false,
        full_descriptions: ["redis".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    let members = state.members.unwrap();
    assert_eq!(
        members.roles.get(&Username::new("alice")),
        Some(&Role::Owner)
    );
    assert_eq!(
        members.roles.get(&Username::new("bob")),
        Some(&Role::Editor)
    );
    assert_eq!(members.invites[0].id.as_deref(), Some("inv1"));
    assert_eq!(members.invites[0].team.as_deref(), Some("dev"));
    let teams = state.teams.unwrap();
    assert_eq!(teams["dev"].description.as_deref(), Some("Developers"));
    assert!(teams["dev"].members.contains(&Username::new("bob")));
    assert_eq!(state.repositories.len(), 2);
    let redis = &state.repositories["redis"];
    assert!(redis.private);
    assert_eq!(redis.full_description.as_deref(), Some("# Redis"));
    assert_eq!(
        redis.grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Write)]))
    );
    assert_eq!(
        state.repositories["nginx"].grants,
        Some(BTreeMap::from([("ops".to_string(), Permission::Admin)]))
    );
    assert!(state.image_access.is_none());
    let log = requests(&fake);
    // The listing carries privacy and description: a repository is read on its own only for a
    // full description the policy manages.
    assert_eq!(state.repositories["nginx"].full_description, None);
    assert!(
        !log.iter()
            .any(|s| s.path == "/v2/namespaces/acme/repositories/nginx"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|s| s.path == "/v2/namespaces/acme/repositories/redis")
    );
    assert!(
        log.iter()
            .all(|s| !s.path.trim_end_matches('/').ends_with("/settings"))
    );
    assert!(
        log.iter()
            .filter(|s| {
                let p = s.path.trim_end_matches('/');
                p.ends_with("/members") || p.ends_with("/repositories")
            })
            .all(|s| s.query.contains("page_size=100"))
    );
    assert!(
        log.iter()
            .any(|s| s.path == "/v2/orgs/acme/members" && s.query.contains("page=2"))
    );
}

#[tokio::test]
async fn execute_sends_the_right_request_for_every_change() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" if s.method == "GET" => {
            page(&[r#"{"id":42,"name":"dev","description":""}"#], None)
        }
        "/v2/invites/bulk" => (
            202,
            vec![],
            r#"{"invitees":[{"invitee":"zed","status":"invited"}]}"#.into(),
        ),
        // Each create answers the created object, as Docker Hub does.
        "/v2/orgs/acme/groups/" => ok(r#"{"id":42,"name":"dev","description":"Devs"}"#),
        "/v2/orgs/acme/groups/dev/members/" => ok(r#"{"username":"bob"}"#),
        "/v2/namespaces/acme/repositories" => (201, vec![], r#"{"name":"redis"}"#.into()),
        "/v2/repositories/acme/redis/groups/" => {
            ok(r#"{"group_id":42,"group_name":"dev","permission":"read"}"#)
        }
        _ => ok("{}"),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let u = Username::new;
    let fields = RepoFields {
        private: true,
        description: "d".into(),
        full_description: "f".into(),
    };
    let d = |a: &str, b: &str| Delta {
        old: a.to_string(),
        new: b.to_string(),
    };
    let ia = ImageAccess {
        enabled: true,
        allow_official_images: false,
        allow_verified_publishers: true,
    };
    let cases: Vec<(Change, Vec<Expected>)> = vec![
        (
            Change::SetImageAccess { old: None, new: ia },
            vec![(
                "PUT",
                "/v2/orgs/acme/settings",
                serde_json::json!({"restricted_images":{"enabled":true,"allow_official_images":false,"allow_verified_publishers":true}}),
            )],
        ),
        (
            Change::SetRole {
                user: u("bob"),
                old: Role::Member,
                new: Role::Editor,
            },
            vec![(
                "PUT",
                "/v2/orgs/acme/members/bob/",
                serde_json::json!({"role":"editor"}),
            )],
        ),
        (
            Change::RemoveMember {
                user: u("bob"),
                role: Role::Member,
            },
            vec![(
                "DELETE",
                "/v2/orgs/acme/members/bob/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::Invite {
                invitee: u("zed"),
                role: Role::Member,
                team: Some("dev".into()),
            },
            vec![(
                "POST",
                "/v2/invites/bulk",
                serde_json::json!({"org":"acme","team":"dev","role":"member","invitees":["zed"]}),
            )],
        ),
        (
            Change::CancelInvite {
                id: "i-1".into(),
                invitee: "zed".into(),
                team: None,
            },
            vec![("DELETE", "/v2/invites/i-1", serde_json::Value::Null)],
        ),
        (
            Change::CreateTeam {
                team: "dev".into(),
                description: "Devs".into(),
            },
            vec![(
                "POST",
                "/v2/orgs/acme/groups/",
                serde_json::json!({"name":"dev","description":"Devs"}),
            )],
        ),
        (
            Change::UpdateTeam {
                team: "dev".into(),
                description: d("a", "b"),
            },
            vec![(
                "PATCH",
                "/v2/orgs/acme/groups/dev/",
                serde_json::json!({"description":"b"}),
            )],
        ),
        (
            Change::AddTeamMember {
                team: "dev".into(),
                user: u("bob"),
            },
            vec![(
                "POST",
                "/v2/orgs/acme/groups/dev/members/",
                serde_json::json!({"member":"bob"}),
            )],
        ),
        (
            Change::RemoveTeamMember {
                team: "dev".into(),
                user: u("bob"),
            },
            vec![(
                "DELETE",
                "/v2/orgs/acme/groups/dev/members/bob",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::CreateRepository {
                repository: "redis".into(),
                fields,
            },
            vec![(
                "POST",
                "/v2/namespaces/acme/repositories",
                serde_json::json!({"name":"redis","namespace":"acme","description":"d","full_description":"f","registry":"docker.io","is_private":true}),
            )],
        ),
        (
            Change::UpdateRepository {
                repository: "redis".into(),
                private: Some(Delta {
                    old: true,
                    new: false,
                }),
                description: Some(d("a", "b")),
                full_description: None,
            },
            vec![
                (
                    "PATCH",
                    "/v2/repositories/acme/redis/",
                    serde_json::json!({"description":"b"}),
                ),
                (
                    "POST",
                    "/v2/repositories/acme/redis/privacy",
                    serde_json::json!({"is_private":false}),
                ),
            ],
        ),
        (
            Change::UpdateRepository {
                repository: "redis".into(),
                private: None,
                description: None,
                full_description: Some(d("a", "c")),
            },
            vec![(
                "PATCH",
                "/v2/repositories/acme/redis/",
                serde_json::json!({"full_description":"c"}),
            )],
        ),
        (
            Change::Grant {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Permission::Read,
            },
            vec![
                ("GET", "/v2/orgs/acme/groups", serde_json::Value::Null),
                (
                    "POST",
                    "/v2/repositories/acme/redis/groups/",
                    serde_json::json!({"group_id":42,"permission":"read"}),
                ),
            ],
        ),
        (
            Change::UpdateGrant {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Delta {
                    old: Permission::Read,
                    new: Permission::Admin,
                },
            },
            vec![(
                "PATCH",
                "/v2/repositories/acme/redis/groups/42/",
                serde_json::json!({"permission":"admin"}),
            )],
        ),
        (
            Change::Revoke {
                repository: "redis".into(),
                team: "dev".into(),
                permission: Permission::Admin,
            },
            vec![(
                "DELETE",
                "/v2/repositories/acme/redis/groups/42/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::DeleteTeam { team: "dev".into() },
            vec![(
                "DELETE",
                "/v2/orgs/acme/groups/dev/",
                serde_json::Value::Null,
            )],
        ),
        (
            Change::DeleteRepository {
                repository: "redis".into(),
            },
            vec![(
                "DELETE",
                "/v2/repositories/acme/redis/",
                serde_json::Value::Null,
            )],
        ),
    ];
    for (change, expected) in cases {
        let before = requests(&fake).len();
        client.execute("acme", &change).await.unwrap();
        let got = requests(&fake)[before..].to_vec();
        assert_eq!(got.len(), expected.len(), "{change:?}: {got:?}");
        for (seen, (method, path, body)) in got.iter().zip(expected) {
            assert_eq!(
                (seen.method.as_str(), seen.path.as_str()),
                (method, path),
                "{change:?}"
            );
            let sent: serde_json::Value = if seen.body.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&seen.body).unwrap()
            };
            assert_eq!(sent, body, "{change:?}");
        }
    }
}

#[tokio::test]
async fn invite_rejected_and_unknown_team_are_errors() {
    let (base, _fake) = serve(|s, _| match s.path.as_str() {
        "/v2/invites/bulk" => (
            202,
            vec![],
            r#"{"invitees":[{"invitee":"x","status":"invalid_email_or_docker_id"}]}"#.into(),
        ),
        _ => page(&[], None),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .execute(
            "acme",
            &Change::Invite {
                invitee: Username::new("x"),
                role: Role::Member,
                team: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid_email_or_docker_id"),
        "{err}"
    );
    let err = client
        .execute(
            "acme",
            &Change::Grant {
                repository: "r".into(),
                team: "ghost".into(),
                permission: Permission::Read,
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("team \"ghost\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn endless_pagination_is_bounded() {
    let (base, fake) = serve(|s, nth| {
        page(
            &[r#"{"name":"x"}"#],
            Some(format!("{}?page={}&page_size=100", s.path, nth + 1)),
        )
    })
    .await;
    let client = HubClient::login(config(base.clone())).await.unwrap();
    let url = client
        .url(&["v2", "orgs", "acme", "groups"], false)
        .unwrap();
    let err = client.list_pages(url, 3, false).await.unwrap_err();
    assert!(err.to_string().contains("listing exceeds 3 pages"), "{err}");
    assert_eq!(requests(&fake).len(), 3);
}

#[tokio::test]
async fn first_page_404_is_an_error_not_an_empty_list() {
    let (base, _fake) =
        serve(|_, _| (404, vec![], r#"{"detail":"object not found"}"#.into())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /v2/namespaces/acme/repositories: 404 Not Found: object not found"
    );
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

#[tokio::test]
async fn grant_listing_405_falls_back_to_pairs() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            page(&[r#"{"name":"redis","is_private":false}"#], None)
        }
        "/v2/namespaces/acme/repositories/redis" => ok("{}"),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/redis/groups/" => (405, vec![], "{}".into()),
        "/v2/repositories/acme/redis/groups/5/" => ok(r#"{"permission":"read"}"#),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        grant_repositories: ["redis".to_string()].into(),
        grant_teams: ["dev".to_string(), "missing".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Read)]))
    );
    assert!(state.teams.is_none() && state.members.is_none());
    assert!(
        requests(&fake)
            .iter()
            .any(|s| s.path == "/v2/repositories/acme/redis/groups/5/")
    );
}

#[tokio::test]
async fn all_grants_reads_every_repository_and_falls_back_to_every_team() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(
            &[
                r#"{"name":"redis","is_private":true}"#,
                r#"{"name":"api","is_private":false}"#,
            ],
            None,
        ),
        "/v2/namespaces/acme/repositories/redis" | "/v2/namespaces/acme/repositories/api" => {
            ok("{}")
        }
        "/v2/orgs/acme/groups" => page(
            &[r#"{"id":5,"name":"dev"}"#, r#"{"id":6,"name":"ops"}"#],
            None,
        ),
        // redis lists its grants; api does not offer the listing: one call per team.
        "/v2/repositories/acme/redis/groups/" => page(
            &[r#"{"group_id":6,"group_name":"ops","permission":"admin"}"#],
            None,
        ),
        "/v2/repositories/acme/api/groups/" => (404, vec![], "{}".into()),
        "/v2/repositories/acme/api/groups/5/" => ok(r#"{"permission":"write"}"#),
        "/v2/repositories/acme/api/groups/6/" => (404, vec![], "{}".into()),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        all_grants: true,
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("ops".to_string(), Permission::Admin)]))
    );
    assert_eq!(
        state.repositories["api"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Write)]))
    );
    let paths: Vec<String> = requests(&fake).iter().map(|s| s.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "/v2/repositories/acme/api/groups/6/"),
        "{paths:?}"
    );
}

fn create_team() -> Change {
    Change::CreateTeam {
        team: "dev".into(),
        description: String::new(),
    }
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

/// A create answered 200 with something other than the created object (a listing, an empty body,
/// another team) is an error, not "done".
#[tokio::test]
async fn a_create_must_answer_the_created_object() {
    for body in [
        r#"{"count":1,"next":null,"results":[{"id":1,"name":"dev"}]}"#,
        "",
        r#"{"id":7,"name":"other"}"#,
        r#"{"name":"dev"}"#,
    ] {
        let (base, _) = serve(move |_, _| ok(body)).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client.execute("acme", &create_team()).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Docker Hub answered success but not with a team {id, name: \"dev\"}"),
            "{body}: {text}"
        );
    }
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" => page(&[r#"{"id":42,"name":"dev"}"#], None),
        _ => ok(r#"{"group_id":42,"permission":"write"}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let grant = Change::Grant {
        repository: "redis".into(),
        team: "dev".into(),
        permission: Permission::Read,
    };
    let text = client
        .execute("acme", &grant)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("not with a grant {group_id: 42"), "{text}");
    for body in [
        r#"{"username":"carol"}"#,
        r#"{"count":0,"next":null,"results":[]}"#,
    ] {
        let (base, _) = serve(move |_, _| ok(body)).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let add = Change::AddTeamMember {
            team: "dev".into(),
            user: Username::new("bob"),
        };
        let text = client.execute("acme", &add).await.unwrap_err().to_string();
        assert!(text.contains("not with the added member \"bob\""), "{text}");
    }
    // The provider reads nothing from a member add: an empty answer is accepted.
    let (base, _) = serve(|_, _| (201, vec![], String::new())).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let add = Change::AddTeamMember {
        team: "dev".into(),
        user: Username::new("bob"),
    };
    client.execute("acme", &add).await.unwrap();
}

/// A DELETE answered 404 is done (already gone); other errors still fail.
#[tokio::test]
async fn delete_404_means_already_gone() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/orgs/acme/groups" => page(&[r#"{"id":42,"name":"dev"}"#], None),
        _ if s.method == "DELETE" && s.path.contains("boom") => (403, vec![], "{}".into()),
        _ => (404, vec![], r#"{"detail":"Not found."}"#.into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let u = Username::new;
    for change in [
        Change::DeleteTeam { team: "dev".into() },
        Change::RemoveTeamMember {
            team: "dev".into(),
            user: u("bob"),
        },
        Change::RemoveMember {
            user: u("bob"),
            role: Role::Member,
        },
        Change::CancelInvite {
            id: "i-1".into(),
            invitee: "zed".into(),
            team: None,
        },
        Change::DeleteRepository {
            repository: "redis".into(),
        },
        Change::Revoke {
            repository: "redis".into(),
            team: "dev".into(),
            permission: Permission::Read,
        },
    ] {
        client.execute("acme", &change).await.unwrap();
    }
    let err = client
        .execute(
            "acme",
            &Change::DeleteRepository {
                repository: "boom".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        requests(&fake)
            .iter()
            .filter(|s| s.method == "DELETE")
            .count()
            >= 7
    );
}

fn one_repo_grants(listing: Reply) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            page(&[r#"{"name":"redis","is_private":false}"#], None)
        }
        "/v2/namespaces/acme/repositories/redis" => ok("{}"),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/redis/groups/" => listing.clone(),
        "/v2/repositories/acme/redis/groups/5/" => ok(r#"{"permission":"admin"}"#),
        _ => (418, vec![], "{}".into()),
    }
}

fn grants_scope() -> Scope {
    Scope {
        grant_repositories: ["redis".to_string()].into(),
        grant_teams: ["dev".to_string()].into(),
        ..Scope::default()
    }
}

/// A 403 on the grant listing falls back to the per-team reads instead of aborting.
#[tokio::test]
async fn grant_listing_403_falls_back_to_pairs() {
    let listing = (403, vec![], r#"{"detail":"missing scope"}"#.to_string());
    let (base, _) = serve(one_repo_grants(listing)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &grants_scope()).await.unwrap();
    assert_eq!(
        state.repositories["redis"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Admin)]))
    );
}

/// A listed grant whose permission vetted cannot read is an error naming it, never dropped.
#[tokio::test]
async fn a_grant_with_an_unknown_permission_is_an_error() {
    for item in [
        r#"{"group_id":5,"group_name":"dev","permission":"owner"}"#,
        r#"{"group_id":5,"group_name":"dev"}"#,
        r#"{"group_id":99,"permission":"admin"}"#,
    ] {
        let (base, _) = serve(one_repo_grants(page(&[item], None))).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &grants_scope())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("GET /v2/repositories/acme/redis/groups/: unexpected response shape"),
            "{item}: {text}"
        );
    }
}

/// Team member listings may answer a bare JSON array instead of a page.
#[tokio::test]
async fn team_members_may_be_a_bare_array() {
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => page(&[r#"{"username":"bob","role":"Member"}"#], None),
        "/v2/orgs/acme/invites" => ok(r#"{"data":[]}"#),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/orgs/acme/groups/dev/members/" => ok(r#"[{"username":"bob"}]"#),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert!(
        state.teams.unwrap()["dev"]
            .members
            .contains(&Username::new("bob"))
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

/// A members listing, an invites answer and empty repositories; `teams` adds one team "dev" whose
/// members listing answers `team_members`.
fn members_script(
    members: &'static str,
    invites: &'static str,
    team_members: &'static str,
) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => ok(members),
        "/v2/orgs/acme/invites" => ok(invites),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/orgs/acme/groups/dev/members/" => ok(team_members),
        _ => (418, vec![], "{}".into()),
    }
}

fn members_scope() -> Scope {
    Scope {
        members: true,
        ..Scope::default()
    }
}

#[tokio::test]
async fn an_unknown_or_missing_member_role_is_an_error_naming_user_and_value() {
    let no_invites = r#"{"data":[]}"#;
    for (members, want) in [
        (
            r#"{"count":1,"next":null,"results":[{"username":"bob","role":"Admin"}]}"#,
            "Docker Hub answered role \"Admin\" for bob, which vetted does not know",
        ),
        (
            r#"{"count":1,"next":null,"results":[{"username":"bob"}]}"#,
            "Docker Hub answered no role for bob",
        ),
    ] {
        let (base, _) = serve(members_script(members, no_invites, "[]")).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &members_scope())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    // Capitalised roles are Docker Hub's spelling.
    let (base, _) = serve(members_script(
        r#"{"count":2,"next":null,"results":[{"username":"bob","role":"Owner"},{"username":"eve","role":"EDITOR"}]}"#,
        no_invites,
        "[]",
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &members_scope()).await.unwrap();
    let roles = state.members.unwrap().roles;
    assert_eq!(roles[&Username::new("bob")], Role::Owner);
    assert_eq!(roles[&Username::new("eve")], Role::Editor);
}

#[tokio::test]
async fn an_unknown_or_missing_invite_role_is_an_error() {
    let members = r#"{"count":0,"next":null,"results":[]}"#;
    for (invites, want) in [
        (
            r#"{"data":[{"id":"1","invitee":"carol@example.com","role":"Admin"}]}"#,
            "Docker Hub answered role \"Admin\" for the invite of carol@example.com, which vetted does not know",
        ),
        (
            r#"{"data":[{"id":"1","invitee":"carol@example.com"}]}"#,
            "Docker Hub answered no role for the invite of carol@example.com",
        ),
    ] {
        let (base, _) = serve(members_script(members, invites, "[]")).await;
        let client = HubClient::login(config(base)).await.unwrap();
        let err = client
            .read_state("acme", &members_scope())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[tokio::test]
async fn a_bare_array_is_a_listing_only_for_team_members() {
    // The members listing answering an array (the OpenAPI's "array of pages") is not a listing.
    let (base, _) = serve(members_script(
        r#"[{"count":1,"next":null,"results":[{"username":"bob","role":"Owner"}]}]"#,
        r#"{"data":[]}"#,
        "[]",
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &members_scope())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/v2/orgs/acme/members") && err.contains("no results list"),
        "{err}"
    );
    // Nor is the teams listing.
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(&[], None),
        "/v2/orgs/acme/members" => page(&[], None),
        "/v2/orgs/acme/invites" => ok(r#"{"data":[]}"#),
        "/v2/orgs/acme/groups" => ok(r#"[{"id":5,"name":"dev"}]"#),
        _ => ok("[]"),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let err = client.read_state("acme", &scope).await.unwrap_err();
    assert!(err.to_string().contains("no results list"), "{err}");
}

#[tokio::test]
async fn a_team_member_without_username_is_an_error() {
    let (base, _) = serve(members_script(
        r#"{"count":0,"next":null,"results":[]}"#,
        r#"{"data":[]}"#,
        r#"[{"username":"bob"},{"email":"x@example.com"}]"#,
    ))
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let scope = Scope {
        teams: true,
        ..Scope::default()
    };
    let err = client
        .read_state("acme", &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/v2/orgs/acme/groups/dev/members/") && err.contains("without username"),
        "{err}"
    );
}

/// Repositories listed over two pages (`count` as the first page says, one item on it); page 2
/// answers 404 its first `fail` times, then a page with item "b".
fn second_page_404(
    count: u64,
    fail: usize,
) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    let page2 = std::sync::atomic::AtomicUsize::new(0);
    move |s, _| {
        if s.path != "/v2/namespaces/acme/repositories" {
            return ok(r#"{"full_description":""}"#);
        }
        if !s.query.contains("page=2") {
            return ok(&format!(
                r#"{{"count":{count},"next":"/v2/namespaces/acme/repositories?page=2&page_size=100","results":[{{"name":"a"}}]}}"#
            ));
        }
        if page2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail {
            (404, vec![], r#"{"detail":"page not found"}"#.into())
        } else {
            page(&[r#"{"name":"b"}"#], None)
        }
    }
}

fn page2_requests(fake: &Fake) -> usize {
    requests(fake)
        .iter()
        .filter(|s| s.query.contains("page=2"))
        .count()
}

#[tokio::test]
async fn a_404_on_a_page_next_pointed_at_is_an_error_unless_count_is_reached() {
    // count 2, one item read: the listing would be partial.
    let (base, fake) = serve(second_page_404(2, usize::MAX)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains("next") && err.contains("partial"),
        "{err}"
    );
    // Page 2 was asked for twice (one retry), then given up.
    assert_eq!(page2_requests(&fake), 2);
    // count 1, one item read: the listing is whole, the 404 ends it.
    let (base, fake) = serve(second_page_404(1, usize::MAX)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &Scope::default()).await.unwrap();
    assert_eq!(state.repositories.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(page2_requests(&fake), 1);
}

#[tokio::test]
async fn a_404_on_a_later_page_is_retried_once() {
    let (base, fake) = serve(second_page_404(2, 1)).await;
    let client = HubClient::login(config(base)).await.unwrap();
    let state = client.read_state("acme", &Scope::default()).await.unwrap();
    assert_eq!(state.repositories.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(page2_requests(&fake), 2);
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

/// A listing of `acme` holding `public` only (an organization access token without
/// scope-repository-list), whatever else exists.
fn public_only_listing(s: &Seen) -> Option<Reply> {
    match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => Some(ok(
            r#"{"count":1,"next":null,"results":[{"name":"public","is_private":false}]}"#,
        )),
        "/v2/namespaces/acme/repositories/public" => Some(ok(r#"{"full_description":""}"#)),
        _ => None,
    }
}

fn repos_scope(names: &[&str]) -> Scope {
    Scope {
        repositories: names.iter().map(|n| n.to_string()).collect(),
        ..Scope::default()
    }
}

#[tokio::test]
async fn a_policy_repository_the_listing_lacks_but_that_exists_stops_the_read() {
    let (base, fake) = serve(|s, _| {
        public_only_listing(s).unwrap_or_else(|| match s.path.as_str() {
            // Exists privately: its own read answers.
            "/v2/namespaces/acme/repositories/secret" => ok(r#"{"name":"secret"}"#),
            _ => (404, vec![], r#"{"detail":"Not found."}"#.into()),
        })
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &repos_scope(&["public", "secret", "fresh"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("acme/secret exist"), "{err}");
    assert!(!err.contains("acme/fresh"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    assert!(err.contains("personal credentials"), "{err}");
    // One read per policy repository the listing lacks; none for the listed one beyond its detail.
    let paths: Vec<String> = requests(&fake).into_iter().map(|s| s.path).collect();
    assert!(paths.contains(&"/v2/namespaces/acme/repositories/fresh".to_string()));
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.as_str() == "/v2/namespaces/acme/repositories/secret")
            .count(),
        1
    );
}

#[tokio::test]
async fn absent_policy_repositories_are_read_once_and_planned_normally() {
    let (base, _) = serve(|s, _| {
        public_only_listing(s).unwrap_or((404, vec![], r#"{"detail":"Not found."}"#.into()))
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let live = client
        .read_state("acme", &repos_scope(&["public", "fresh"]))
        .await
        .unwrap();
    assert_eq!(live.repositories.keys().collect::<Vec<_>>(), ["public"]);
    // Without a use that needs the whole listing, the doubt is not an error; it is still known.
    let doubt = client.repository_listing_doubt("acme").await.unwrap();
    let text = doubt.unwrap().to_string();
    assert!(
        text.starts_with("the repository listing of acme may be partial because"),
        "{text}"
    );
}

#[tokio::test]
async fn prune_and_export_refuse_an_org_token_listing_without_private_repositories() {
    let (base, _) = serve(|s, _| {
        public_only_listing(s).unwrap_or((404, vec![], r#"{"detail":"Not found."}"#.into()))
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let mut scope = repos_scope(&["public"]);
    scope.whole_listing_for = Some(crate::model::WHOLE_LISTING_FOR_PRUNE);
    let err = client
        .read_state("acme", &scope)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may be partial"), "{err}");
    assert!(err.contains("prune = true"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    // A private repository in the listing proves the token holds the scope.
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            ok(r#"{"count":1,"next":null,"results":[{"name":"secret","is_private":true}]}"#)
        }
        _ => ok(r#"{"full_description":""}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    scope.repositories = ["secret".to_string()].into();
    assert!(client.read_state("acme", &scope).await.is_ok());
    assert_eq!(client.repository_listing_doubt("acme").await.unwrap(), None);
}

#[tokio::test]
async fn a_listing_short_of_its_count_is_refused() {
    let (base, _) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => {
            ok(r#"{"count":3,"next":null,"results":[{"name":"public","is_private":false}]}"#)
        }
        _ => ok(r#"{"full_description":""}"#),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let err = client
        .read_state("acme", &Scope::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("announced 3 repositories but its pages held 1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_create_answered_already_exists_names_the_partial_listing() {
    let (base, fake) = serve(|s, _| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/v2/namespaces/acme/repositories") => (
            400,
            vec![],
            r#"{"message":"Repository with this Name and Namespace already exists."}"#.into(),
        ),
        _ => (404, vec![], "{}".into()),
    })
    .await;
    let client = HubClient::login(config(base)).await.unwrap();
    let change = Change::CreateRepository {
        repository: "secret".into(),
        fields: RepoFields {
            private: true,
            description: String::new(),
            full_description: String::new(),
        },
    };
    let err = client
        .execute("acme", &change)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("acme/secret already exists"), "{err}");
    assert!(err.contains("scope-repository-list"), "{err}");
    // Not retried: a 400 is an answer.
    assert_eq!(
        requests(&fake)
            .iter()
            .filter(|s| s.method == "POST")
            .count(),
        1
    );
}

/// Without a grant listing, the per-(repository, team) reads beyond the policy's own grants are
/// allotted within a budget: the managed teams on every repository first, then the others, in
/// name order, so which repositories are partly read does not depend on timing.
#[test]
fn the_pair_fallback_reads_managed_teams_first_within_its_budget() {
    use super::read::fallback_allotment;
    use std::collections::BTreeSet;
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    let repos: Vec<String> = ["r3", "r1", "r2"].iter().map(|s| s.to_string()).collect();
    let required = BTreeMap::from([("r1".to_string(), set(&["a"]))]);
    let (managed, others) = (set(&["a", "b"]), set(&["c", "d"]));
    let five = fallback_allotment(&repos, &required, &managed, &others, 5);
    assert_eq!(
        five,
        BTreeMap::from([
            ("r1".to_string(), set(&["b"])),
            ("r2".to_string(), set(&["a", "b"])),
            ("r3".to_string(), set(&["a", "b"])),
        ])
    );
    let seven = fallback_allotment(&repos, &required, &managed, &others, 7);
    assert_eq!(seven["r1"], set(&["b", "c", "d"]));
    assert_eq!(seven["r2"], set(&["a", "b"]), "the budget ends there");
    assert!(fallback_allotment(&repos, &required, &managed, &others, 0).is_empty());
}

/// A 404 on the grant listing is asked once: the other repositories go straight to the pairs, and
/// a plan says when effective access rests on a partial read.
#[tokio::test]
async fn a_missing_grant_listing_is_asked_once_and_a_partial_read_is_said() {
    let (base, fake) = serve(|s, _| match s.path.as_str() {
        "/v2/namespaces/acme/repositories" => page(
            &[
                r#"{"name":"a","is_private":true,"description":""}"#,
                r#"{"name":"b","is_private":true,"description":""}"#,
            ],
            None,
        ),
        "/v2/orgs/acme/groups" => page(&[r#"{"id":5,"name":"dev"}"#], None),
        "/v2/repositories/acme/a/groups/5/" => ok(r#"{"group_id":5,"permission":"read"}"#),
        "/v2/repositories/acme/b/groups/5/" => (404, vec![], "{}".into()),
        p if p.ends_with("/groups/") => (404, vec![], r#"{"detail":"Not Found"}"#.into()),
        _ => (418, vec![], "{}".into()),
    })
    .await;
    let mut cfg = config(base);
    cfg.concurrency = 1;
    let client = HubClient::login(cfg).await.unwrap();
    let scope = Scope {
        grant_repositories: ["a".to_string(), "b".to_string()].into(),
        grant_teams: ["dev".to_string()].into(),
        ..Scope::default()
    };
    let state = client.read_state("acme", &scope).await.unwrap();
    assert_eq!(
        state.repositories["a"].grants,
        Some(BTreeMap::from([("dev".to_string(), Permission::Read)]))
    );
    assert_eq!(state.repositories["b"].grants, Some(BTreeMap::new()));
    assert!(state.partial_grants.is_empty(), "the budget covered both");
    let listings = requests(&fake)
        .iter()
        .filter(|s| s.path.ends_with("/groups/") && s.path.starts_with("/v2/repositories/"))
        .filter(|s| !s.path.ends_with("/5/"))
        .count();
    assert_eq!(
        listings, 1,
        "the missing listing is not asked per repository"
    );

    let mut live = state.clone();
    live.partial_grants.insert("b".into());
    let plan = crate::plan::diff(&OrgState::empty("acme"), &live, &Default::default());
    let note = plan
        .notes
        .iter()
        .find(|n| n.message.contains("partial read"))
        .expect("a note on the partial read");
    assert_eq!(note.address, "repository acme/b");
}

//! Unit tests of the Docker Hub client against minimal scripted HTTP servers on 127.0.0.1. This
//! file owns the scripted server ([`Fake`], [`raw_server`]) and the helpers several families share;
//! one file per family of tests: auth.rs (login, tokens, secrets never shown), retries.rs (retries,
//! rate limits, timeouts, redirects), read.rs (listings and pages read into the live state),
//! grants.rs (the grant listing and its per-team fallbacks), execute.rs (the request each change
//! sends and how its answer is judged).

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

mod auth;
mod execute;
mod grants;
mod read;
mod retries;

const SECRET: &str = "s3cr3t-do-not-print";

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    body: String,
    auth: String,
}
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

fn create_team() -> Change {
    Change::CreateTeam {
        team: "dev".into(),
        description: String::new(),
    }
}

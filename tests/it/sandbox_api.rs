//! The sandbox hub API, in process on an ephemeral loopback port, driven with reqwest: every
//! endpoint, responses and request bodies validated against Docker's OpenAPI spec where it documents
//! the operation, the rules Docker Hub enforces, pagination, fault knobs and the state file. Who
//! may do what is written as tables of [`Case`]s (identity, request, expected status and detail)
//! run in order by [`run_cases`]. Each test starts its own sandbox from the seed and checks one
//! behaviour, so no test depends on what another left behind and nextest runs them in parallel.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use vetted_sandbox::{Faults, Sandbox, SandboxConfig};

use crate::openapi::{validate_request, validate_response};

const SEED: &str = r#"
org = "acme"

[users.alice]
full_name = "Alice"
email = "alice@acme.example"
[users.bob]
[users.carol]
[users.dave]
email = "dave@acme.example"
[users.erin]

[[credentials]]
identifier = "alice"
secret = "alice-pw"
kind = "password"
[[credentials]]
identifier = "alice"
secret = "dckr_pat_alice"
kind = "pat"
[[credentials]]
identifier = "bob"
secret = "bob-pw"
kind = "password"
[[credentials]]
identifier = "carol"
secret = "carol-pw"
kind = "password"
[[credentials]]
identifier = "dave"
secret = "dave-pw"
kind = "password"
[[credentials]]
identifier = "acme"
secret = "dckr_oat_acme"
kind = "org_token"
[[credentials]]
identifier = "acme"
secret = "dckr_oat_readonly"
kind = "org_token"
scopes = ["scope-group-read", "scope-repo-group-read"]

[members]
alice = "owner"
bob = "editor"
carol = "member"

[teams.legacy]
description = "old"
members = ["alice", "carol"]

[repositories.old-tool]
description = "public tool"
grants = { legacy = "read" }
tags = { latest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270", "1.0" = "sha256:1111111111111111111111111111111111111111111111111111111111111111" }

[repositories.secret-tool]
private = true
"#;

struct Hub {
    sandbox: Option<Sandbox>,
    base: url::Url,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Hub {
    async fn start_with(seed: &str, faults: Faults, state_file: bool) -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.toml");
        std::fs::write(&seed_path, seed).unwrap();
        let config = SandboxConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed_path),
            state_file: state_file.then(|| dir.path().join("state.json")),
            faults,
            api_budget: Default::default(),
            registry: false,
        };
        let sandbox = Sandbox::start(config).await.unwrap();
        let base = sandbox.url();
        assert_eq!(base.host_str(), Some("127.0.0.1"));
        Hub {
            sandbox: Some(sandbox),
            base,
            // Redirects are answers to check, never followed (a followed 301 turns a POST into a
            // GET of the listing that answers 200).
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    async fn start() -> Hub {
        Hub::start_with(SEED, Faults::default(), false).await
    }

    /// Sends a request; no spec check.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.base.join(path).unwrap());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends a request whose body and answer must conform to the spec where it documents them.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        if let Some(b) = &body {
            if let Err(e) = validate_request(method, path, b) {
                panic!("request not per spec: {e}");
            }
        }
        let a = self.raw(method, path, token, body).await;
        let spec_path = path.split('?').next().unwrap_or(path);
        if let Err(e) = validate_response(method, spec_path, a.status, &a.body) {
            panic!("response not per spec: {e}\nbody: {}", a.body);
        }
        for h in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ] {
            assert!(a.headers.contains_key(h), "{method} {path}: missing {h}");
        }
        a
    }

    async fn token(&self, identifier: &str, secret: &str) -> String {
        let a = self
            .call(
                "POST",
                "/v2/auth/token",
                None,
                Some(json!({"identifier": identifier, "secret": secret})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["access_token"].as_str().unwrap().to_string()
    }

    async fn owner(&self) -> String {
        self.token("alice", "alice-pw").await
    }

    async fn state(&self) -> Value {
        self.raw("GET", "/_sandbox/state", None, None).await.body
    }

    async fn set_faults(&self, faults: Value) -> Answer {
        self.raw("PUT", "/_sandbox/faults", None, Some(faults))
            .await
    }

    async fn stop(mut self) {
        if let Some(s) = self.sandbox.take() {
            s.shutdown().await.unwrap();
        }
    }
}

fn detail(a: &Answer) -> String {
    a.body["detail"].as_str().unwrap_or_default().to_string()
}

/// Who sends the request of a [`Case`].
#[derive(Clone, Copy, Debug)]
enum Who {
    /// No Authorization header.
    Nobody,
    /// This string as the bearer token (a raw secret, which is not a token).
    Bearer(&'static str),
    /// A token from `POST /v2/auth/token` with this identifier and secret.
    Login(&'static str, &'static str),
}

const ALICE: Who = Who::Login("alice", "alice-pw"); // owner
const ALICE_PAT: Who = Who::Login("alice", "dckr_pat_alice");
const BOB: Who = Who::Login("bob", "bob-pw"); // editor
const CAROL: Who = Who::Login("carol", "carol-pw"); // member
const DAVE: Who = Who::Login("dave", "dave-pw"); // not a member
const ORG_TOKEN: Who = Who::Login("acme", "dckr_oat_acme"); // every scope
const ORG_TOKEN_READONLY: Who = Who::Login("acme", "dckr_oat_readonly");

/// One request and the answer Docker Hub gives it: one row of a table-driven test.
struct Case {
    who: Who,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    status: u16,
    /// The answer's `detail` contains this.
    detail: Option<&'static str>,
    /// Checked against the spec ([`Hub::call`]); off ([`Hub::raw`]) for requests the spec does
    /// not describe as sent (a refused token kind, a body it rejects).
    spec: bool,
}

fn case(
    who: Who,
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    status: u16,
) -> Case {
    Case {
        who,
        method,
        path,
        body,
        status,
        detail: None,
        spec: true,
    }
}

impl Case {
    fn detail(self, detail: &'static str) -> Case {
        Case {
            detail: Some(detail),
            ..self
        }
    }

    fn raw(self) -> Case {
        Case {
            spec: false,
            ..self
        }
    }
}

/// Runs the cases in order on `hub` (one login per identity), checking each status and detail.
async fn run_cases(hub: &Hub, cases: Vec<Case>) {
    let mut tokens: std::collections::HashMap<(&str, &str), String> = Default::default();
    for c in cases {
        let token = match c.who {
            Who::Nobody => None,
            Who::Bearer(t) => Some(t.to_string()),
            Who::Login(id, secret) => {
                if let std::collections::hash_map::Entry::Vacant(e) = tokens.entry((id, secret)) {
                    e.insert(hub.token(id, secret).await);
                }
                tokens.get(&(id, secret)).cloned()
            }
        };
        let what = format!("{:?} {} {}", c.who, c.method, c.path);
        let a = if c.spec {
            hub.call(c.method, c.path, token.as_deref(), c.body).await
        } else {
            hub.raw(c.method, c.path, token.as_deref(), c.body).await
        };
        assert_eq!(a.status, c.status, "{what}: {}", a.body);
        if let Some(d) = c.detail {
            assert!(detail(&a).contains(d), "{what}: {d:?} not in {}", a.body);
        }
    }
}

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

#[tokio::test]
async fn teams_crud() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": "platform", "description": "Platform engineers"})),
        )
        .await;
    assert_eq!(a.status, 201);
    let id = a.body["id"].as_u64().unwrap();
    assert_eq!(a.body["member_count"], 0);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/platform", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"].as_u64(), Some(id));
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/platform",
            Some(&t),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["description"], "changed");
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/groups/platform",
            Some(&t),
            Some(json!({"name": "platform-eng", "description": "renamed"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"].as_u64(), Some(id));
    let a = hub
        .raw(
            "PUT",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(a.status, 400, "PUT needs a name");
    let a = hub
        .raw(
            "PATCH",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"name": "legacy"})),
        )
        .await;
    assert_eq!(a.status, 400, "renaming onto another team");
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            Some(json!({"name": "Platform-Eng"})),
        )
        .await;
    assert_eq!(a.status, 200, "a change of case is not a clash with itself");
    let a = hub
        .call(
            "PATCH",
            "/v2/orgs/acme/groups/Platform-Eng",
            Some(&t),
            Some(json!({"name": "platform-eng"})),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups", Some(&t), None)
        .await;
    let names: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["legacy", "platform-eng"]);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups?username=carol", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/platform-eng", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/platform-eng",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call("GET", "/v2/orgs/other/groups", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn a_team_name_is_taken_once_and_follows_the_rules() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let create = |name: &'static str| {
        let (hub, t) = (&hub, &t);
        async move {
            hub.call(
                "POST",
                "/v2/orgs/acme/groups/",
                Some(t),
                Some(json!({"name": name})),
            )
            .await
            .status
        }
    };
    assert_eq!(create("platform").await, 201);
    assert_eq!(create("platform").await, 400);
    assert_eq!(create("legacy").await, 400, "a team of the seed");
    assert_eq!(create("bad name!").await, 400);
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
async fn members_only_editors_and_members_cannot_manage_teams() {
    let hub = Hub::start().await;
    let team = |n: &str| Some(json!({"name": n}));
    let mut cases = Vec::new();
    for who in [BOB, CAROL] {
        cases.push(case(who, "POST", "/v2/orgs/acme/groups/", team("x"), 403));
        // They can read.
        cases.push(case(who, "GET", "/v2/orgs/acme/groups", None, 200));
    }
    // Organization access tokens manage teams.
    cases.push(case(
        ORG_TOKEN,
        "POST",
        "/v2/orgs/acme/groups/",
        team("bots"),
        201,
    ));
    run_cases(&hub, cases).await;
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
async fn concurrent_writes_are_all_kept() {
    let hub = Hub::start_with(SEED, Faults::default(), true).await;
    let t = hub.owner().await;
    let creates = (0..20).map(|i| {
        hub.call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": format!("team-{i:02}")})),
        )
    });
    let answers = futures::future::join_all(creates).await;
    let mut ids: Vec<u64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "{}", a.body);
            a.body["id"].as_u64().unwrap()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "unique ids");
    let a = hub
        .call("GET", "/v2/orgs/acme/groups?page_size=100", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 21);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(hub._dir.path().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(
        saved["teams"].as_object().unwrap().len(),
        21,
        "the file has the last write"
    );
    hub.stop().await;
}

#[tokio::test]
async fn team_members_must_be_org_members() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let add = |who: &str| json!({"member": who});
    // dave exists on the hub but is not in the org.
    let a = hub
        .raw(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(add("dave")),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(detail(&a).contains("not a member"), "{}", a.body);
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(add("nobody")),
        )
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/nope/members/",
            Some(&t),
            Some(add("bob")),
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn team_members_are_added_listed_and_removed() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/legacy/members/",
            Some(&t),
            Some(json!({"member": "Bob"})),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = hub
        .call("GET", "/v2/orgs/acme/groups/legacy/members", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let names: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let a = hub
        .call(
            "GET",
            "/v2/orgs/acme/groups/legacy/members?search=ali",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/legacy/members/bob",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call(
            "DELETE",
            "/v2/orgs/acme/groups/legacy/members/bob",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn grants_need_an_existing_team() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .raw(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": 999_999, "permission": "write"})),
        )
        .await;
    assert_eq!(a.status, 400);
    validate_response(
        "POST",
        "/v2/repositories/acme/old-tool/groups/",
        400,
        &a.body,
    )
    .unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn grants_are_created_read_changed_and_deleted() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/orgs/acme/groups/",
            Some(&t),
            Some(json!({"name": "platform"})),
        )
        .await;
    let id = a.body["id"].as_u64().unwrap();
    let a = hub
        .call(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": id, "permission": "write"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"group_id": id, "group_name": "platform", "permission": "write"})
    );
    let a = hub
        .raw(
            "POST",
            "/v2/repositories/acme/old-tool/groups/",
            Some(&t),
            Some(json!({"group_id": id, "permission": "owner"})),
        )
        .await;
    assert_eq!(a.status, 400, "invalid permission");
    let one = format!("/v2/repositories/acme/old-tool/groups/{id}/");
    let a = hub.call("GET", &one, Some(&t), None).await;
    assert_eq!(a.body["permission"], "write");
    let a = hub
        .call(
            "PATCH",
            &one,
            Some(&t),
            Some(json!({"permission": "admin"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["permission"], "admin");
    let a = hub
        .call(
            "GET",
            "/v2/repositories/acme/old-tool/groups",
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.body["count"], 2);
    assert_eq!(a.body["results"][1]["group_name"], "platform");
    let a = hub.call("DELETE", &one, Some(&t), None).await;
    assert_eq!(a.status, 204);
    let a = hub.call("GET", &one, Some(&t), None).await;
    assert_eq!(a.status, 404, "404 = no grant");
    let a = hub.call("DELETE", &one, Some(&t), None).await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn deleting_a_team_drops_its_grants() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let legacy = hub.state().await["teams"]["legacy"]["id"].as_u64().unwrap();
    hub.call("DELETE", "/v2/orgs/acme/groups/legacy", Some(&t), None)
        .await;
    let a = hub
        .call(
            "GET",
            &format!("/v2/repositories/acme/old-tool/groups/{legacy}/"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn members_are_listed_with_their_roles() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call("GET", "/v2/orgs/acme/members", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let roles: Vec<(String, String)> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("alice".to_string(), "Owner".to_string()),
            ("bob".to_string(), "Editor".to_string()),
            ("carol".to_string(), "Member".to_string())
        ]
    );
    assert_eq!(a.body["results"][2]["groups"], json!(["legacy"]));
    let a = hub
        .call("GET", "/v2/orgs/acme/members?role=owner", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 1);
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=bogus", Some(&t), None)
        .await;
    assert_eq!(a.status, 400);
    hub.stop().await;
}

#[tokio::test]
async fn the_last_owner_is_neither_demoted_nor_removed_and_roles_are_checked() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/alice",
            Some(&t),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/alice", Some(&t), None)
        .await;
    assert_eq!(a.status, 400);
    assert!(detail(&a).contains("last owner"), "{}", a.body);
    // Promote carol, then alice may step down.
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/carol",
            Some(&t),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["role"], "Owner");
    let a = hub
        .raw(
            "PUT",
            "/v2/orgs/acme/members/carol",
            Some(&t),
            Some(json!({"role": "boss"})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .call(
            "PUT",
            "/v2/orgs/acme/members/dave",
            Some(&t),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(a.status, 404, "not a member");
    hub.stop().await;
}

#[tokio::test]
async fn removing_a_member_removes_them_from_every_team() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/carol", Some(&t), None)
        .await;
    assert_eq!(a.status, 204);
    let s = hub.state().await;
    assert!(s["members"].get("carol").is_none());
    assert_eq!(s["teams"]["legacy"]["members"], json!(["alice"]));
    let a = hub
        .call("DELETE", "/v2/orgs/acme/members/carol", Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    hub.stop().await;
}

#[tokio::test]
async fn invites_get_a_status_each_and_are_listed_once() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "legacy", "role": "editor",
                        "invitees": ["bob", "ghost-user", "dave", "new@people.example"]})),
        )
        .await;
    assert_eq!(a.status, 202);
    let statuses: Vec<&str> = a.body["invitees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "existing_org_member",
            "invalid_email_or_docker_id",
            "invited",
            "invited"
        ]
    );
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.status, 200);
    let data = a.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["invitee"], "dave");
    assert_eq!(data[0]["team"], "legacy");
    assert_eq!(data[0]["role"], "editor");
    assert_eq!(data[0]["inviter_username"], "alice");
    // Inviting again does not duplicate; the invitee is not a member yet.
    hub.call(
        "POST",
        "/v2/invites/bulk",
        Some(&t),
        Some(json!({"org": "acme", "invitees": ["dave"]})),
    )
    .await;
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 2);
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=invitee", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 2);
    assert_eq!(a.body["results"][0]["role"], "Invitee");
    let a = hub
        .call("GET", "/v2/orgs/acme/members?type=all", Some(&t), None)
        .await;
    assert_eq!(a.body["count"], 5);
    hub.stop().await;
}

#[tokio::test]
async fn a_dry_run_or_an_unknown_team_or_org_invites_nobody() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "invitees": ["erin"], "dry_run": true})),
        )
        .await;
    assert_eq!(a.body["invitees"][0]["status"], "invited");
    assert_eq!(hub.state().await["invites"].as_array().unwrap().len(), 0);
    // Unknown team, unknown org.
    let a = hub
        .raw(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "nope", "invitees": ["erin"]})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = hub
        .raw(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "other", "invitees": ["erin"]})),
        )
        .await;
    assert_eq!(a.status, 404);
    assert_eq!(hub.state().await["invites"].as_array().unwrap().len(), 0);
    hub.stop().await;
}

#[tokio::test]
async fn an_invite_is_cancelled_once() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "invitees": ["dave", "erin"]})),
        )
        .await;
    assert_eq!(a.status, 202);
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    let id = a.body["data"][0]["id"].as_str().unwrap().to_string();
    let a = hub
        .call("DELETE", &format!("/v2/invites/{id}"), Some(&t), None)
        .await;
    assert_eq!(a.status, 204);
    let a = hub
        .call("DELETE", &format!("/v2/invites/{id}"), Some(&t), None)
        .await;
    assert_eq!(a.status, 404);
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&t), None)
        .await;
    assert_eq!(a.body["data"].as_array().unwrap().len(), 1);
    hub.stop().await;
}

#[tokio::test]
async fn members_cannot_list_invites() {
    let hub = Hub::start().await;
    let carol = hub.token("carol", "carol-pw").await;
    let a = hub
        .call("GET", "/v2/orgs/acme/invites", Some(&carol), None)
        .await;
    assert_eq!(a.status, 403);
    hub.stop().await;
}

#[tokio::test]
async fn auto_accepted_invites_become_members() {
    let seed = SEED.replacen(
        "org = \"acme\"",
        "org = \"acme\"\nauto_accept_invites = true",
        1,
    );
    let hub = Hub::start_with(&seed, Faults::default(), false).await;
    let t = hub.owner().await;
    let a = hub
        .call(
            "POST",
            "/v2/invites/bulk",
            Some(&t),
            Some(json!({"org": "acme", "team": "legacy", "role": "editor", "invitees": ["dave@acme.example"]})),
        )
        .await;
    assert_eq!(a.body["invitees"][0]["status"], "invited");
    let s = hub.state().await;
    assert_eq!(s["members"]["dave"], "editor");
    assert!(
        s["teams"]["legacy"]["members"]
            .as_array()
            .unwrap()
            .contains(&json!("dave"))
    );
    assert_eq!(s["invites"], json!([]));
    hub.stop().await;
}

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

#[tokio::test]
async fn only_loopback_binds_are_allowed() {
    let config = SandboxConfig {
        bind: "0.0.0.0:0".parse().unwrap(),
        ..SandboxConfig::default()
    };
    let err = Sandbox::start(config).await.unwrap_err();
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[tokio::test]
async fn request_log_records_and_redacts() {
    let hub = Hub::start().await;
    let t = hub.owner().await;
    hub.call(
        "POST",
        "/v2/orgs/acme/groups/?x=1",
        Some(&t),
        Some(json!({"name": "platform"})),
    )
    .await;
    let log = hub.raw("GET", "/_sandbox/requests", None, None).await.body;
    let entries = log.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["path"], "/v2/auth/token");
    assert_eq!(entries[0]["request_body"]["identifier"], "alice");
    assert_eq!(entries[0]["request_body"]["secret"], "<redacted>");
    assert_eq!(entries[0]["response_body"]["access_token"], "<redacted>");
    assert!(!log.to_string().contains("alice-pw"));
    assert!(!log.to_string().contains(&t));
    assert_eq!(entries[1]["method"], "POST");
    assert_eq!(entries[1]["query"], "x=1");
    assert_eq!(entries[1]["status"], 201);
    assert_eq!(entries[1]["request_body"], json!({"name": "platform"}));
    assert_eq!(entries[1]["response_body"]["name"], "platform");
    assert_eq!(
        hub.raw("DELETE", "/_sandbox/requests", None, None)
            .await
            .status,
        204
    );
    let log = hub.raw("GET", "/_sandbox/requests", None, None).await.body;
    assert_eq!(log, json!([]));
    hub.stop().await;
}

#[tokio::test]
async fn state_endpoint_omits_secrets() {
    let hub = Hub::start().await;
    let s = hub.state().await;
    assert_eq!(s["org"], "acme");
    assert!(
        s["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["identifier"] == "acme" && c["kind"] == "org_token")
    );
    let text = s.to_string();
    for secret in ["alice-pw", "dckr_pat_alice", "dckr_oat_acme", "bob-pw"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    hub.stop().await;
}

#[tokio::test]
async fn state_file_round_trip() {
    let hub = Hub::start_with(SEED, Faults::default(), true).await;
    let path = hub._dir.path().join("state.json");
    let seed_path = hub._dir.path().join("seed.toml");
    let t = hub.owner().await;
    hub.call(
        "POST",
        "/v2/orgs/acme/groups/",
        Some(&t),
        Some(json!({"name": "platform"})),
    )
    .await;
    // Saved after every write, before shutdown.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(saved["teams"].get("platform").is_some());
    hub.call(
        "POST",
        "/v2/namespaces/acme/repositories",
        Some(&t),
        Some(json!({"name": "kept", "namespace": "acme", "is_private": true})),
    )
    .await;
    hub.call("DELETE", "/v2/orgs/acme/members/carol", Some(&t), None)
        .await;
    let before = hub.state().await;
    let dir = tempfile::tempdir().unwrap();
    // Keep the files: move them out of the first hub's directory before it is dropped.
    let path2 = dir.path().join("state.json");
    let seed2 = dir.path().join("seed.toml");
    let mut hub = hub;
    if let Some(s) = hub.sandbox.take() {
        s.shutdown().await.unwrap();
    }
    std::fs::copy(&path, &path2).unwrap();
    std::fs::copy(&seed_path, &seed2).unwrap();
    let text = std::fs::read_to_string(&path2).unwrap();
    assert!(
        !text.contains("alice-pw") && !text.contains("dckr_"),
        "no secrets in the state file"
    );
    let sandbox = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        seed: Some(seed2),
        state_file: Some(path2.clone()),
        faults: Faults::default(),
        api_budget: Default::default(),
        registry: false,
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let after: Value = http
        .get(sandbox.url().join("/_sandbox/state").unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "teams",
        "repositories",
        "members",
        "invites",
        "image_access",
        "users",
    ] {
        assert_eq!(after[key], before[key], "{key}");
    }
    assert!(after["members"].get("carol").is_none());
    sandbox.shutdown().await.unwrap();
    // A corrupt state file is a clear error, not a panic.
    std::fs::write(&path2, "{not json").unwrap();
    let err = Sandbox::start(SandboxConfig {
        state_file: Some(path2.clone()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("state.json"), "{err}");
}

#[tokio::test]
async fn demo_seed_is_the_default() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(sandbox.url().join("/v2/auth/token").unwrap())
        .json(&json!({"identifier": "alice", "secret": "sandbox-alice-token"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap();
    let groups: Value = http
        .get(sandbox.url().join("/v2/orgs/acme/groups").unwrap())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(groups["count"], 1);
    assert_eq!(groups["results"][0]["name"], "legacy");
    sandbox.shutdown().await.unwrap();
}

/// Env var naming the state file of the child process below.
const CHILD_STATE: &str = "VETTED_IT_SANDBOX_CHILD_STATE";

/// Run only as a child process of `serve_until_signal_prints_url_and_saves_on_sigterm`.
#[test]
#[ignore = "runs as a child process of serve_until_signal_prints_url_and_saves_on_sigterm"]
fn sandbox_child_process() {
    // A helper, not a test of its own: without the parent's variable (e.g. `--include-ignored`)
    // there is nothing to serve.
    let Ok(state) = std::env::var(CHILD_STATE) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(vetted_sandbox::serve_until_signal(SandboxConfig {
        state_file: Some(state.into()),
        ..SandboxConfig::default()
    }))
    .unwrap();
}

#[tokio::test]
async fn serve_until_signal_prints_url_and_saves_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox_api::sandbox_child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STATE, &state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        for _ in 0..100 {
            match lines.next_line().await.unwrap() {
                // libtest prints "test <name> ... " before the test's own output, on the same line.
                Some(l) if l.contains("http://") => {
                    return l[l.find("http://").unwrap_or(0)..].to_string();
                }
                Some(_) => continue,
                None => break,
            }
        }
        panic!("the sandbox printed no URL");
    })
    .await
    .unwrap();
    let port = url.strip_prefix("http://127.0.0.1:").unwrap();
    assert!(
        port.parse::<u16>().is_ok(),
        "exactly http://127.0.0.1:PORT, got {url:?}"
    );
    // The default seed is the demo seed.
    let http = reqwest::Client::new();
    let tok: Value = http
        .post(format!("{url}/v2/auth/token"))
        .json(&json!({"identifier": "alice", "secret": "sandbox-alice-token"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!("{url}/v2/orgs/acme/groups/"))
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .json(&json!({"name": "from-child"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = Vec::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        rest.push(l);
    }
    assert!(
        rest.iter().all(|l| !l.contains("http://")),
        "one URL line only: {rest:?}"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("sandbox: stopping"), "{stderr}");
    assert!(!stderr.contains("sandbox-alice-token"));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved["teams"].get("from-child").is_some());
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

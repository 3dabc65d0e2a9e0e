//! The sandbox hub API, in process on an ephemeral loopback port, driven with reqwest: every
//! endpoint, responses and request bodies validated against Docker's OpenAPI spec where it documents
//! the operation, the rules Docker Hub enforces, pagination, fault knobs and the state file. Who
//! may do what is written as tables of [`Case`]s (identity, request, expected status and detail)
//! run in order by [`run_cases`]. Each test starts its own sandbox from the seed and checks one
//! behaviour, so no test depends on what another left behind and nextest runs them in parallel.

mod auth;
mod endpoints;
mod faults;
mod grants;
mod members;
mod pagination;
mod repositories;
mod settings;
mod state;
mod teams;

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

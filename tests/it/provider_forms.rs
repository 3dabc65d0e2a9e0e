//! The sandbox answers Docker Hub's API in the forms Docker's own Terraform provider sends
//! (github.com/docker/terraform-provider-docker, internal/hubclient/*.go, proven against Docker Hub):
//! every call of that client that the sandbox models, with the provider's method, exact path
//! (trailing slash or not) and body, must succeed and answer the shape the provider reads. And where
//! Docker Hub needs the trailing slash on a POST, the slash-less form answers 301 as Docker Hub's
//! framework does (a client that follows it sends a GET and sees a 200 listing: hub-feedback#976).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use vetted_sandbox::{Faults, Sandbox, SandboxConfig};

const SEED: &str = r#"
org = "acme"

[users.alice]
[users.bob]
[users.carol]
[users.erin]

[[credentials]]
identifier = "alice"
secret = "alice-pw"
kind = "password"

[members]
alice = "owner"
bob = "member"
carol = "member"

[teams.legacy]
description = "old"
members = ["alice"]

[repositories.old-tool]
description = "public tool"
grants = { legacy = "read" }
tags = { latest = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270" }
"#;

struct Hub {
    sandbox: Sandbox,
    base: url::Url,
    http: reqwest::Client,
    token: String,
    _dir: tempfile::TempDir,
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: Value,
}

impl Hub {
    async fn start() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.toml");
        std::fs::write(&seed_path, SEED).unwrap();
        let sandbox = Sandbox::start(SandboxConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            seed: Some(seed_path),
            state_file: None,
            faults: Faults::default(),
            api_budget: Default::default(),
            registry: false,
        })
        .await
        .unwrap();
        let base = sandbox.url();
        // The provider's client follows redirects (Go's default); this one must not, to see them.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut hub = Hub {
            sandbox,
            base,
            http,
            token: String::new(),
            _dir: dir,
        };
        let a = hub
            .send(
                "POST",
                "/v2/auth/token",
                Some(json!({"identifier": "alice", "secret": "alice-pw"})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        hub.token = a.body["access_token"].as_str().unwrap().to_string();
        hub
    }

    /// One request as the provider's `sendRequest` makes it: JSON content type and accept, bearer.
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, self.base.join(path).unwrap())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            req = req.body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            location,
            body,
        }
    }
}

/// What the provider reads from a successful answer (its Go struct's fields that matter).
#[derive(Clone, Copy)]
enum Reads {
    Nothing,
    /// An object with these fields.
    Fields(&'static [&'static str]),
    /// A `{count, next, results}` page.
    Page,
    /// `{data: [...]}` (the invites listing).
    Data,
}

struct Call {
    /// The provider's function (internal/hubclient).
    func: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    reads: Reads,
}

fn call(
    func: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    reads: Reads,
) -> Call {
    Call {
        func,
        method,
        path: path.into(),
        body,
        reads,
    }
}

/// Calls made and the ones that failed (all are made, to report the count).
#[derive(Default)]
struct Record {
    total: usize,
    failures: Vec<String>,
}

impl Record {
    async fn step(&mut self, hub: &Hub, c: Call) -> Value {
        let a = hub.send(c.method, &c.path, c.body.clone()).await;
        self.total += 1;
        if !((200..300).contains(&a.status) && shape_ok(c.reads, &a.body)) {
            self.failures.push(format!(
                "{} {} {} {} -> {} {}",
                c.func,
                c.method,
                c.path,
                c.body.as_ref().map(Value::to_string).unwrap_or_default(),
                a.status,
                a.body
            ));
        }
        a.body
    }
}

fn shape_ok(reads: Reads, body: &Value) -> bool {
    match reads {
        Reads::Nothing => true,
        Reads::Fields(fields) => fields.iter().all(|f| body.get(*f).is_some()),
        Reads::Page => body.get("results").is_some_and(Value::is_array),
        Reads::Data => body.get("data").is_some_and(Value::is_array),
    }
}

/// Every hub call of the provider's client that the sandbox models, in an order where each has
/// something to act on. Ids created on the way (team id, invite id) are filled in as they come.
#[tokio::test]
async fn every_provider_call_form_succeeds() {
    let hub = Hub::start().await;
    let mut rec = Record::default();
    macro_rules! step {
        ($c:expr) => {
            rec.step(&hub, $c).await
        };
    }

    let iam = json!({"restricted_images": {"enabled": true, "allow_official_images": true, "allow_verified_publishers": false}});
    let ram = json!({"enabled": true, "standard_registries": [{"id": "DockerHub", "allowed": true}], "custom_registries": []});
    let org_fields: &[&str] = &["orgname"];
    step!(call(
        "GetOrg",
        "GET",
        "/v2/orgs/acme/",
        None,
        Reads::Fields(org_fields)
    ));
    step!(call(
        "GetOrgSettings",
        "GET",
        "/v2/orgs/acme/settings/",
        None,
        Reads::Fields(&["restricted_images"])
    ));
    step!(call(
        "SetOrgSettingImageAccessManagement",
        "PUT",
        "/v2/orgs/acme/settings",
        Some(iam),
        Reads::Nothing
    ));
    step!(call(
        "GetOrgSettingRegistryAccessManagement",
        "GET",
        "/v2/orgs/acme/settings/registry-access-management",
        None,
        Reads::Fields(&["enabled", "standard_registries", "custom_registries"])
    ));
    step!(call(
        "SetOrgSettingRegistryAccessManagement",
        "PUT",
        "/v2/orgs/acme/settings/registry-access-management",
        Some(ram),
        Reads::Nothing
    ));
    step!(call(
        "ListOrgMembers",
        "GET",
        "/v2/orgs/acme/members",
        None,
        Reads::Page
    ));
    step!(call(
        "UpdateOrgMember",
        "PUT",
        "/v2/orgs/acme/members/carol/",
        Some(json!({"role": "editor"})),
        Reads::Nothing
    ));
    let invited = step!(call(
        "InviteOrgMember",
        "POST",
        "/v2/invites/bulk",
        Some(
            json!({"org": "acme", "team": "", "invitees": ["erin"], "role": "member", "dry_run": false})
        ),
        Reads::Fields(&["invitees"]),
    ));
    step!(call(
        "ListOrgInvites",
        "GET",
        "/v2/orgs/acme/invites",
        None,
        Reads::Data
    ));
    let invite_id = invited["invitees"][0]["invite"]["id"]
        .as_str()
        .unwrap_or("missing")
        .to_string();
    step!(call(
        "DeleteOrgInvite",
        "DELETE",
        format!("/v2/invites/{invite_id}"),
        None,
        Reads::Nothing
    ));
    let team_fields: &[&str] = &["id", "uuid", "name", "description", "member_count"];
    let team = step!(call(
        "CreateOrgTeam",
        "POST",
        "/v2/orgs/acme/groups/",
        Some(
            json!({"id": 0, "uuid": "", "name": "builders", "description": "ci", "member_count": 0})
        ),
        Reads::Fields(team_fields),
    ));
    let team_id = team["id"].as_i64().unwrap_or(0);
    step!(call(
        "GetOrgTeam",
        "GET",
        "/v2/orgs/acme/groups/builders/",
        None,
        Reads::Fields(team_fields)
    ));
    step!(call(
        "UpdateOrgTeam",
        "PATCH",
        "/v2/orgs/acme/groups/builders/",
        Some(
            json!({"id": 0, "uuid": "", "name": "builders", "description": "ci bots", "member_count": 0})
        ),
        Reads::Fields(team_fields),
    ));
    step!(call(
        "AddOrgTeamMember",
        "POST",
        "/v2/orgs/acme/groups/builders/members/",
        Some(json!({"member": "bob"})),
        Reads::Nothing
    ));
    step!(call(
        "ListOrgTeamMembers",
        "GET",
        "/v2/orgs/acme/groups/builders/members/",
        None,
        Reads::Page
    ));
    step!(call(
        "DeleteOrgTeamMember",
        "DELETE",
        "/v2/orgs/acme/groups/builders/members/bob",
        None,
        Reads::Nothing
    ));
    let repo_fields: &[&str] = &[
        "name",
        "namespace",
        "is_private",
        "description",
        "full_description",
    ];
    step!(call(
        "CreateRepository",
        "POST",
        "/v2/namespaces/acme/repositories",
        Some(
            json!({"name": "tool", "description": "d", "full_description": "f", "registry": "docker.io", "is_private": false})
        ),
        Reads::Fields(repo_fields),
    ));
    step!(call(
        "GetRepository",
        "GET",
        "/v2/repositories/acme/tool/",
        None,
        Reads::Fields(repo_fields)
    ));
    step!(call(
        "UpdateRepository",
        "PATCH",
        "/v2/repositories/acme/tool/",
        Some(json!({"description": "d2", "full_description": "f2", "immutable_tags": false})),
        Reads::Fields(repo_fields),
    ));
    step!(call(
        "SetRepositoryPrivacy",
        "POST",
        "/v2/repositories/acme/tool/privacy",
        Some(json!({"is_private": true})),
        Reads::Nothing
    ));
    step!(call(
        "GetRepositories",
        "GET",
        "/v2/repositories/acme/",
        None,
        Reads::Page
    ));
    step!(call(
        "GetRepositoryTags",
        "GET",
        "/v2/namespaces/acme/repositories/old-tool/tags",
        None,
        Reads::Page
    ));
    step!(call(
        "GetRepositoryTag",
        "GET",
        "/v2/repositories/acme/old-tool/tags/latest",
        None,
        Reads::Fields(&["name", "digest"])
    ));
    let grant_fields: &[&str] = &["group_id", "group_name", "permission"];
    step!(call(
        "CreatePermissionForTeamAndRepo",
        "POST",
        "/v2/repositories/acme/tool/groups/",
        Some(json!({"group_id": team_id, "group_name": "", "permission": "read"})),
        Reads::Fields(grant_fields),
    ));
    let grant = format!("/v2/repositories/acme/tool/groups/{team_id}/");
    step!(call(
        "GetPermissionForTeamAndRepo",
        "GET",
        grant.clone(),
        None,
        Reads::Fields(grant_fields)
    ));
    step!(call(
        "UpdatePermissionForTeamAndRepo",
        "PATCH",
        grant.clone(),
        Some(json!({"group_id": 0, "group_name": "", "permission": "write"})),
        Reads::Fields(grant_fields),
    ));
    step!(call(
        "DeletePermissionForTeamAndRepo",
        "DELETE",
        grant,
        None,
        Reads::Nothing
    ));
    step!(call(
        "DeleteRepository",
        "DELETE",
        "/v2/repositories/acme/tool/",
        None,
        Reads::Nothing
    ));
    step!(call(
        "DeleteOrgTeam",
        "DELETE",
        "/v2/orgs/acme/groups/builders/",
        None,
        Reads::Nothing
    ));
    step!(call(
        "DeleteOrgMember",
        "DELETE",
        "/v2/orgs/acme/members/carol/",
        None,
        Reads::Nothing
    ));

    let passed = rec.total - rec.failures.len();
    assert!(
        rec.failures.is_empty(),
        "the sandbox answers {passed} of {} provider calls; failing:\n{}",
        rec.total,
        rec.failures.join("\n")
    );
    hub.sandbox.shutdown().await.unwrap();
}

/// Where Docker Hub needs the trailing slash on a POST (grants: hub-feedback#976; teams and team
/// members: the provider's form), the slash-less POST answers 301 to the slash form and changes
/// nothing; the slash-less GET of the same listing (the form Docker's OpenAPI documents) answers 200.
#[tokio::test]
async fn slash_less_posts_are_redirected_and_change_nothing() {
    let hub = Hub::start().await;
    let before = hub.send("GET", "/_sandbox/state", None).await.body;
    for (path, body) in [
        (
            "/v2/orgs/acme/groups",
            json!({"name": "builders", "description": ""}),
        ),
        (
            "/v2/orgs/acme/groups/legacy/members",
            json!({"member": "bob"}),
        ),
        (
            "/v2/repositories/acme/old-tool/groups",
            json!({"group_id": 1, "permission": "admin"}),
        ),
    ] {
        let a = hub.send("POST", path, Some(body)).await;
        assert_eq!(a.status, 301, "POST {path}: {}", a.body);
        let want = format!("{path}/");
        assert!(
            a.location.as_deref().is_some_and(|l| l.ends_with(&want)),
            "POST {path}: Location {:?}",
            a.location
        );
        let a = hub.send("GET", path, None).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        let a = hub.send("GET", &format!("{path}/"), None).await;
        assert_eq!(a.status, 200, "GET {path}/: {}", a.body);
    }
    let after = hub.send("GET", "/_sandbox/state", None).await.body;
    assert_eq!(before, after, "a redirected POST changed the organization");
    hub.sandbox.shutdown().await.unwrap();
}

/// A repository create without `namespace` in the body (the provider's CreateRepositoryRequest has
/// none: the URL names it) is accepted; one naming another namespace is still refused.
#[tokio::test]
async fn repository_create_takes_the_namespace_from_the_url() {
    let hub = Hub::start().await;
    let a = hub
        .send(
            "POST",
            "/v2/namespaces/acme/repositories",
            Some(json!({"name": "tool", "registry": "docker.io", "is_private": false})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["namespace"], "acme");
    let a = hub
        .send(
            "POST",
            "/v2/namespaces/acme/repositories",
            Some(json!({"name": "tool2", "namespace": "other"})),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    hub.sandbox.shutdown().await.unwrap();
}

//! `vetted sandbox` with its registry: the real `docker-registry` behind the sandbox token service,
//! exercised with skopeo (an independent client) and the hub API's tags and delete endpoints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

const SEED: &str = r#"
org = "acme"
[users.alice]
full_name = "Alice"
email = "alice@acme.example"
[users.bob]
full_name = "Bob"
email = "bob@acme.example"
[users.mallory]
full_name = "Mallory"
email = "mallory@elsewhere.example"
[[credentials]]
identifier = "alice"
secret = "alice-registry-secret-1"
kind = "password"
[[credentials]]
identifier = "bob"
secret = "bob-registry-secret-2"
kind = "password"
[[credentials]]
identifier = "mallory"
secret = "mallory-registry-secret-3"
kind = "password"
[[credentials]]
identifier = "acme"
secret = "acme-read-only-oat-4"
kind = "org_token"
scopes = ["scope-image-pull", "scope-repository-list"]
[members]
alice = "owner"
bob = "member"
[teams.readers]
description = "pull only"
members = ["bob"]
[repositories.redis]
private = true
[repositories.secret]
private = true
grants = { readers = "read" }
"#;

const ALICE: &str = "alice:alice-registry-secret-1";
const BOB: &str = "bob:bob-registry-secret-2";
const MALLORY: &str = "mallory:mallory-registry-secret-3";
/// An organization access token with read-only scopes.
const READ_ONLY_OAT: &str = "acme:acme-read-only-oat-4";

struct Running {
    child: Child,
    hub: String,
    registry: String,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vetted sandbox --port 0` (registry on by default) and reads its two stdout lines.
fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vetted"))
        .args(["sandbox", "--port", "0", "--seed"])
        .arg(&seed)
        .arg("--state")
        .arg(dir.path().join("state.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        for _ in 0..2 {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    for _ in 0..2 {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.starts_with("http://127.0.0.1:") => {
                lines.push(line.trim().to_string())
            }
            other => {
                let _ = child.kill();
                panic!("sandbox did not print its URLs: {lines:?} then {other:?}");
            }
        }
    }
    let registry = lines[1].trim_start_matches("http://").to_string();
    Running {
        child,
        hub: lines[0].clone(),
        registry,
        _dir: dir,
    }
}

fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl Running {
    fn image(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.registry)
    }

    /// `skopeo inspect --raw` with `creds` (`None`: anonymous); the manifest's digest on success.
    fn inspect(&self, name: &str, creds: Option<&str>) -> Result<String, String> {
        let image = self.image(name);
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        match creds {
            Some(c) => args.extend(["--creds", c]),
            None => args.push("--no-creds"),
        }
        args.push(&image);
        let out = skopeo(&args);
        if out.status.success() {
            Ok(sha256(&out.stdout))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `skopeo copy --all` from `src` (anonymous) to `dest` with `creds` (`None`: anonymous).
    fn copy(&self, src: &str, dest: &str, creds: Option<&str>) -> Output {
        let (s, d) = (self.image(src), self.image(dest));
        let mut args = vec![
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-no-creds",
        ];
        match creds {
            Some(c) => args.extend(["--dest-creds", c]),
            None => args.push("--dest-no-creds"),
        }
        args.extend([s.as_str(), d.as_str()]);
        skopeo(&args)
    }

    fn hub_token(&self, creds: &str) -> String {
        let (user, secret) = creds.split_once(':').unwrap();
        let body: Value = reqwest::blocking::Client::new()
            .post(format!("{}/v2/auth/token", self.hub))
            .json(&serde_json::json!({"identifier": user, "secret": secret}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    fn hub_get(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.hub))
            .bearer_auth(token)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }
}

#[test]
fn community_images_and_owner_push_show_in_the_hub_tags() {
    let sbx = start();
    // Anyone pulls a community image.
    let source = sbx.inspect("bitnami/redis:7.2", None).unwrap();
    // The owner copies it into the org; the hub's tags endpoint reads the registry.
    let out = sbx.copy("bitnami/redis:7.2", "acme/redis:7.2", Some(ALICE));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sbx.inspect("acme/redis:7.2", Some(ALICE)).unwrap(), source);
    let token = sbx.hub_token(ALICE);
    let (status, list) = sbx.hub_get("/v2/namespaces/acme/repositories/redis/tags", &token);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["results"][0]["name"], "7.2");
    assert_eq!(list["results"][0]["digest"], source.as_str());
    assert!(
        list["results"][0]["images"].as_array().unwrap().len() >= 2,
        "{list}"
    );
    let (status, one) = sbx.hub_get("/v2/namespaces/acme/repositories/redis/tags/7.2", &token);
    assert_eq!(status, 200);
    assert_eq!(one["digest"], source.as_str());
    let (status, _) = sbx.hub_get("/v2/namespaces/acme/repositories/redis/tags/7.4", &token);
    assert_eq!(status, 404);

    // Anonymous pushes into the org and owner pushes into community namespaces are refused.
    assert!(
        !sbx.copy("bitnami/redis:7.2", "acme/redis:anon", None)
            .status
            .success()
    );
    assert!(
        !sbx.copy("bitnami/redis:7.2", "bitnami/redis:mine", Some(ALICE))
            .status
            .success()
    );
    // A private org repository is not readable anonymously.
    assert!(sbx.inspect("acme/redis:7.2", None).is_err());

    // Deleting the repository on the hub deletes its manifests in the registry.
    let resp = reqwest::blocking::Client::new()
        .delete(format!("{}/v2/repositories/acme/redis/", sbx.hub))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    assert!(sbx.inspect("acme/redis:7.2", Some(ALICE)).is_err());
}

#[test]
fn team_grants_and_non_members_on_a_private_repository() {
    let sbx = start();
    let out = sbx.copy("library/alpine:3.20", "acme/secret:1", Some(ALICE));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = sbx.inspect("acme/secret:1", Some(ALICE)).unwrap();
    // bob's team has a read grant: pull yes, push no.
    assert_eq!(sbx.inspect("acme/secret:1", Some(BOB)).unwrap(), digest);
    assert!(
        !sbx.copy("library/alpine:3.20", "acme/secret:2", Some(BOB))
            .status
            .success()
    );
    // A non-member and anonymous cannot pull; a wrong password is refused.
    assert!(sbx.inspect("acme/secret:1", Some(MALLORY)).is_err());
    assert!(sbx.inspect("acme/secret:1", None).is_err());
    assert!(sbx.inspect("acme/secret:1", Some("alice:wrong")).is_err());
    // The refused push left nothing behind.
    let token = sbx.hub_token(ALICE);
    let (_, list) = sbx.hub_get("/v2/namespaces/acme/repositories/secret/tags", &token);
    let names: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["1"]);
}

#[test]
fn a_read_only_organization_access_token_pulls_but_cannot_push() {
    let sbx = start();
    let out = sbx.copy("library/alpine:3.20", "acme/redis:1", Some(ALICE));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = sbx.inspect("acme/redis:1", Some(ALICE)).unwrap();
    // scope-image-pull: the private repository can be read ...
    assert_eq!(
        sbx.inspect("acme/redis:1", Some(READ_ONLY_OAT)).unwrap(),
        digest
    );
    // ... but no scope allows push, whatever the token's organization may do.
    assert!(
        !sbx.copy("library/alpine:3.20", "acme/redis:2", Some(READ_ONLY_OAT))
            .status
            .success()
    );
    assert!(sbx.inspect("acme/redis:2", Some(ALICE)).is_err());
}

#[test]
fn a_user_publishes_community_images_in_their_own_namespace() {
    let sbx = start();
    // mallory (no member of the org) pushes into the namespace of her own name, as on Docker Hub.
    let out = sbx.copy("library/alpine:3.20", "mallory/tool:1", Some(MALLORY));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = sbx.inspect("library/alpine:3.20", None).unwrap();
    // A community image: anyone pulls it, the org's owner can mirror it into the org.
    assert_eq!(sbx.inspect("mallory/tool:1", None).unwrap(), digest);
    let out = sbx.copy("mallory/tool:1", "acme/tool:1", Some(ALICE));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sbx.inspect("acme/tool:1", Some(ALICE)).unwrap(), digest);
    // Nobody else pushes there: not the org's owner, not another user, not anonymous; and
    // mallory cannot push into another user's namespace or the org.
    for creds in [Some(ALICE), Some(BOB), None] {
        assert!(
            !sbx.copy("library/alpine:3.20", "mallory/tool:2", creds)
                .status
                .success(),
            "{creds:?}"
        );
    }
    assert!(
        !sbx.copy("library/alpine:3.20", "bob/tool:1", Some(MALLORY))
            .status
            .success()
    );
    assert!(
        !sbx.copy("library/alpine:3.20", "acme/tool:2", Some(MALLORY))
            .status
            .success()
    );
    assert!(sbx.inspect("mallory/tool:2", None).is_err());
}

#[tokio::test]
async fn in_process_sandbox_seeds_the_registry_and_shutdown_stops_it() {
    use vetted_sandbox::{Sandbox, SandboxConfig};
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    let state = dir.path().join("state.json");
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Some(seed),
        state_file: Some(state.clone()),
        registry: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let registry = sandbox.registry_url().unwrap();
    assert_eq!(registry.host_str(), Some("127.0.0.1"));
    let seeded: Vec<String> = sandbox
        .seeded_images()
        .iter()
        .map(|i| format!("{}:{}", i.repository, i.tag))
        .collect();
    assert!(
        seeded.contains(&"bitnami/redis:7.2".to_string()),
        "{seeded:?}"
    );
    let client = reqwest::Client::new();
    let probe = registry.join("v2/").unwrap();
    assert_eq!(
        client.get(probe.clone()).send().await.unwrap().status(),
        401
    );
    let work_dirs = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".vetted-sandbox-registry-")
            })
            .count()
    };
    assert_eq!(work_dirs(), 1, "work dir beside the state file");
    sandbox.shutdown().await.unwrap();
    assert_eq!(work_dirs(), 0, "work dir removed at shutdown");
    assert!(
        client.get(probe).send().await.is_err(),
        "registry still answers"
    );
    // The state file holds org data only: no seed secret, no internal identity.
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(!text.contains("alice-registry-secret-1"));
    assert!(!text.contains("vetted-sandbox-internal"));
}

#[test]
fn no_registry_prints_only_the_hub_line() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("vetted"))
        .args(["sandbox", "--port", "0", "--no-registry", "--seed"])
        .arg(&seed)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // The last startup status line comes after stdout is written.
        for line in BufReader::new(stderr).lines().take(10) {
            let Ok(line) = line else { break };
            let done = line.contains("Ctrl-C");
            let _ = tx.send(line);
            if done {
                break;
            }
        }
    });
    let mut status = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let done = line.contains("Ctrl-C");
        status.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with("http://127.0.0.1:"));
    assert!(!status.iter().any(|l| l.contains("registry")), "{status:?}");
}

//! The sandbox process and its state: loopback binds only, the request log (redacted), the state
//! endpoint without secrets, the state file's round trip, the demo seed as the default, and
//! `serve_until_signal` printing its URL and saving on SIGTERM (in a child process of the test
//! binary).

use super::*;

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
            "sandbox_api::state::sandbox_child_process",
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

//! Hostile registries against the real `vetted` binary: credentials go only to the registry they
//! belong to (and its own token realm), and a registry cannot exhaust memory, time or requests
//! (endless and drip-fed manifests, a 20,000-child index, sizes whose sum would wrap). The hostile
//! servers are small loopback servers (`support::hostile`) that record what they see.
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};
use crate::support::hostile::Hostile;
use crate::support::registry_proc::{BASIC_PASSWORD, BASIC_USER, RegistryProc};

const SECRET: &str = "org-registry-secret-7d2e";

fn write_policy(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("vetted.toml");
    std::fs::write(&path, format!("org = \"acme\"\n{body}")).unwrap();
    path
}

fn mirror_policy(dir: &Path, host: &str, repo: &str) -> PathBuf {
    write_policy(
        dir,
        &format!("[repositories.app]\nmirror = {{ from = \"{host}/{repo}\", tags = [\"1.0\"] }}\n"),
    )
}

/// `vetted lock --upgrade` with the org's registry credentials in the environment; every run is
/// bounded (killed after 90 s).
fn lock(policy: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = vetted();
    cmd.args(["lock", "--upgrade", "--policy"])
        .arg(policy)
        .env("VETTED_REGISTRY_USERNAME", "org-bot")
        .env("VETTED_REGISTRY_PASSWORD", SECRET)
        .timeout(Duration::from_secs(90));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

const DIGEST: &str = "sha256:4c7b7dc5a0e2b3c9d9a4d4f2b7e1f0a6c3d8e9f1a2b3c4d5e6f708192a3b4c5d";

/// A registry that answers `/v2/` and manifest HEADs with a digest, behind `challenge` unless the
/// request carries `accept` as its Authorization.
fn registry_behind(challenge: String, accept: &'static str) -> Hostile {
    Hostile::start(move |req, s, _| {
        if req.header("authorization") != Some(accept) {
            Hostile::respond(
                s,
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge)],
                b"{}",
            );
            return;
        }
        let headers = [
            ("Docker-Content-Digest", DIGEST),
            ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
        ];
        Hostile::respond(s, "200 OK", &headers, b"");
    })
}

#[test]
fn the_org_credentials_never_reach_another_registry_a_policy_names() {
    // A pull request names its own registry; it asks for a Basic login.
    let evil = registry_behind(r#"Basic realm="evil""#.into(), "never");
    let dir = tempfile::tempdir().unwrap();
    let policy = mirror_policy(dir.path(), &evil.host(), "x/app");
    let out = lock(&policy, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        evil.authorizations().is_empty(),
        "the hostile registry saw {:?}",
        evil.authorizations()
    );
    assert!(!evil.seen().is_empty(), "vetted never asked the registry");
    let err = stderr(&out);
    assert!(err.contains("no credentials are configured for"), "{err}");
    assert!(!err.contains(SECRET) && !stdout(&out).contains(SECRET));
}

#[test]
fn a_token_realm_on_another_port_gets_no_credentials_unless_configured() {
    let realm = Hostile::start(|_, s, _| {
        Hostile::respond(s, "200 OK", &[], br#"{"token":"t0k3n","expires_in":300}"#)
    });
    let registry = registry_behind(
        format!(
            r#"Bearer realm="http://127.0.0.1:{}/token",service="reg""#,
            realm.port
        ),
        "Bearer t0k3n",
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = mirror_policy(dir.path(), &registry.host(), "x/app");
    // The credentials belong to the registry, not to the realm on another port.
    let hosts = registry.host();
    let out = lock(&policy, &[("VETTED_REGISTRY_HOSTS", &hosts)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!realm.seen().is_empty(), "no token request");
    assert!(
        realm.authorizations().is_empty(),
        "the realm saw {:?}",
        realm.authorizations()
    );

    // Vouched for in VETTED_REGISTRY_TOKEN_REALMS: the realm gets the registry's credentials.
    let trusted = format!("{}=http://127.0.0.1:{}", registry.host(), realm.port);
    let out = lock(
        &policy,
        &[
            ("VETTED_REGISTRY_HOSTS", &hosts),
            ("VETTED_REGISTRY_TOKEN_REALMS", &trusted),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("org-bot:{SECRET}"))
    );
    assert_eq!(realm.authorizations(), [basic]);
    assert!(!stderr(&out).contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_env_credentials_go_to_the_registries_of_vetted_registry_hosts_only() {
    let upstream = RegistryProc::start_basic_auth().await;
    upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let policy = mirror_policy(dir.path(), &upstream.host(), "community/app");
    let env = |cmd: &mut assert_cmd::Command| {
        cmd.env("VETTED_REGISTRY_USERNAME", BASIC_USER)
            .env("VETTED_REGISTRY_PASSWORD", BASIC_PASSWORD);
    };
    // By default the pair is the organization's (docker.io): the upstream registry gets none.
    let mut cmd = vetted();
    cmd.args(["lock", "--upgrade", "--policy"]).arg(&policy);
    env(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Named in VETTED_REGISTRY_HOSTS, it does.
    let mut cmd = vetted();
    cmd.args(["lock", "--upgrade", "--policy"])
        .arg(&policy)
        .env("VETTED_REGISTRY_HOSTS", upstream.host());
    env(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(BASIC_PASSWORD));
}

/// A registry whose manifest HEAD has no digest (so vetted reads the manifest) and whose GET is
/// `get`; counts nothing itself (see [`Hostile::seen`]).
fn manifest_server(
    get: impl Fn(&mut std::net::TcpStream, &std::sync::atomic::AtomicBool) + Send + Sync + 'static,
) -> Hostile {
    Hostile::start(move |req, s, stop| {
        if req.method == "GET" && req.path.contains("/manifests/") {
            get(s, stop);
        } else if req.path.contains("/manifests/") {
            let ct = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];
            Hostile::respond(s, "200 OK", &ct, b"");
        } else {
            Hostile::respond(s, "200 OK", &[], b"{}");
        }
    })
}

fn manifest_gets(server: &Hostile) -> usize {
    server
        .seen()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/manifests/"))
        .count()
}

#[test]
fn an_endless_manifest_is_cut_at_4_mib() {
    // Up to 256 MiB (the test's own bound), without a length.
    let server = manifest_server(|s, stop| {
        let ct = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];
        Hostile::endless(s, &ct, &[b'{'; 64 * 1024], 256 << 20, stop)
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = mirror_policy(dir.path(), &server.host(), "x/app");
    let out = lock(&policy, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("larger than 4 MiB"), "{err}");
    // Too large is not a transient failure: read once.
    assert_eq!(manifest_gets(&server), 1, "{:?}", server.seen());
    // A length announced above the cap is refused without reading the body.
    let announced = manifest_server(|s, _| {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\nConnection: close\r\n\r\n";
        let _ = std::io::Write::write_all(s, head.as_bytes());
    });
    let policy = mirror_policy(dir.path(), &announced.host(), "x/app");
    let out = lock(&policy, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 4 MiB"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_drip_fed_manifest_ends_at_the_request_deadline_and_the_retry_budget() {
    // One byte every 200 ms of a 100,000-byte manifest (at most 100 s per connection).
    let server = manifest_server(|s, stop| {
        let ct = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];
        Hostile::drip(
            s,
            &ct,
            100_000,
            Duration::from_millis(200),
            Duration::from_secs(100),
            stop,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let policy = mirror_policy(dir.path(), &server.host(), "x/app");
    // A 1-second deadline per request, so 5 seconds for all its retries.
    let out = lock(&policy, &[("VETTED_REGISTRY_TIMEOUT", "1")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("retry budget"), "{err}");
    let gets = manifest_gets(&server);
    assert!((1..=6).contains(&gets), "{gets} manifest GETs");
}

fn sandbox() -> Sandbox {
    let seed = format!(
        "org = \"acme\"\n\n[users.alice]\n\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n\n[members]\nalice = \"owner\"\n"
    );
    Sandbox::start_with_registry(&seed, &[])
}

/// A registry serving `manifest` (by HEAD with its digest, and by GET) for every manifest path;
/// anything else 404.
fn serving(manifest: Vec<u8>, media_type: &'static str) -> Hostile {
    let digest = crate::support::registry_proc::digest_of(&manifest);
    Hostile::start(move |req, s, _| {
        if req.path.contains("/manifests/") {
            let headers = [
                ("Content-Type", media_type),
                ("Docker-Content-Digest", digest.as_str()),
            ];
            if req.method == "HEAD" {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: {media_type}\r\nDocker-Content-Digest: {digest}\r\nConnection: close\r\n\r\n",
                    manifest.len()
                );
                let _ = std::io::Write::write_all(s, head.as_bytes());
            } else {
                Hostile::respond(s, "200 OK", &headers, &manifest);
            }
        } else if req.path == "/v2/" {
            Hostile::respond(s, "200 OK", &[], b"{}");
        } else {
            Hostile::respond(s, "404 Not Found", &[], b"{}");
        }
    })
}

fn d(i: usize) -> String {
    format!("sha256:{i:064x}")
}

#[test]
fn an_index_of_20000_children_is_refused_not_fanned_out() {
    let children: Vec<_> = (0..20_000)
        .map(|i| {
            serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": d(i), "size": 100,
                "platform": {"os": "linux", "architecture": format!("a{i}")}})
        })
        .collect();
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}))
    .unwrap();
    let server = serving(index, "application/vnd.oci.image.index.v1+json");
    let sb = sandbox();
    let policy = mirror_policy(sb.dir.path(), &server.host(), "x/app");
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.seen().len();
    assert!(requests <= 10, "{requests} requests to the registry");
}

#[test]
fn sizes_that_would_wrap_say_more_than_instead() {
    let layer = |i: usize| {
        serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d(i + 1), "size": 1u64 << 63})
    };
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(100), "size": 2},
        "layers": [layer(1), layer(2), layer(3)]}))
    .unwrap();
    let server = serving(manifest, "application/vnd.oci.image.manifest.v1+json");
    let sb = sandbox();
    let policy = mirror_policy(sb.dir.path(), &server.host(), "x/app");
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("more than 16.00 EiB"), "{text}");
    assert!(!text.contains("8.00 EiB"), "{text}");
}

/// `vetted plan` of an empty policy against a hostile hub at `hub` (killed after 90 s).
fn plan_against_hub(hub: &Hostile, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), "");
    vetted()
        .args(["plan", "--policy"])
        .arg(&policy)
        .args(extra)
        .env("VETTED_HUB_URL", format!("http://{}", hub.host()))
        .env("DOCKERHUB_USERNAME", "alice")
        .env("DOCKERHUB_TOKEN", OWNER_TOKEN)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap()
}

#[test]
fn a_hub_sending_an_endless_body_is_cut_at_the_cap() {
    let hub = Hostile::start(|_, s, stop| {
        let ct = [("Content-Type", "application/json")];
        Hostile::endless(s, &ct, &[b' '; 64 * 1024], 256 << 20, stop)
    });
    let out = plan_against_hub(&hub, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("larger than 16 MiB"), "{err}");
    assert_eq!(hub.seen().len(), 1, "{:?}", hub.seen());
    assert!(!err.contains(OWNER_TOKEN));
}

#[test]
fn a_drip_fed_hub_stops_retrying_at_the_budget() {
    let hub = Hostile::start(|_, s, stop| {
        let ct = [("Content-Type", "application/json")];
        Hostile::drip(
            s,
            &ct,
            10_000,
            Duration::from_millis(200),
            Duration::from_secs(100),
            stop,
        )
    });
    // 1 s per attempt and up to 20 retries: the budget (5 timeouts) ends it first.
    let out = plan_against_hub(&hub, &["--timeout", "1", "--max-retries", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let requests = hub.seen().len();
    assert!((1..=7).contains(&requests), "{requests} requests");
}

//! Docker Hub behaviours beyond the registry and Hub API specifications, as the sandbox models
//! them: blob GETs redirected to a CDN origin that must not receive `Authorization`, redirects
//! bounded and never downgraded, 429s with an HTML (Cloudflare) body from the hub API and from a
//! registry, Docker Hub's `ratelimit-*` headers, and pulls counted once per platform, which apply's
//! up-front budget check estimates the same way.
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use vetted::registry::client::{Scope, parse_ratelimit};
use vetted::registry::{ClientConfig, Reference, RegistryClient};
use vetted_sandbox::proxy::{FaultKind, Proxy, ProxyOptions};

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};
use crate::support::registry_proc::{RegistryProc, digest_of};

fn seed(extra: &str) -> String {
    format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
{extra}
"#
    )
}

/// The manifest digest skopeo (an independent client) reads for `image` on the sandbox registry.
fn skopeo_digest(sb: &Sandbox, image: &str) -> Option<String> {
    let out = Command::new("/usr/bin/skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("alice:{OWNER_TOKEN}"))
        .arg(format!("docker://{}/{image}", sb.registry_host()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status.success().then(|| digest_of(&out.stdout))
}

fn apply(sb: &Sandbox, policy: &std::path::Path) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(policy)
        .output()
        .unwrap()
}

#[test]
fn blob_gets_follow_the_cdn_redirect_without_authorization() {
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let path = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[repositories.nginx]\nmirror = { from = \"nginx\", tags = [\"1.27\"] }\n",
    );
    let before = sb.registry_counters()["cdn"].clone();
    let out = apply(&sb, &path);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Copied 1 image(s)"), "{err}");
    // Within one registry the copy mounts blobs (no blob GET); the seeding's blob HEADs were
    // redirected to the CDN, and not one request there carried a registry token (the CDN refuses
    // those 400, as an object store does). Blob GETs across registries: the in-process test below.
    assert!(before["served"].as_u64().unwrap() > 0, "{before}");
    let cdn = sb.registry_counters()["cdn"].clone();
    assert_eq!(cdn["with_authorization"], 0, "{cdn}");
    let cdn_url = cdn["url"].as_str().unwrap().to_string();
    assert!(!cdn_url.contains(&sb.registry_host()), "{cdn_url}");
    // The copy verified every blob by digest: skopeo reads the source's digest in the org.
    let want = skopeo_digest(&sb, "library/nginx:1.27").unwrap();
    assert_eq!(skopeo_digest(&sb, "acme/nginx:1.27"), Some(want));

    // The check can fail: a request that carries Authorization is refused and counted.
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "{cdn_url}/docker/registry/v2/blobs/sha256/00/{}/data",
            "0".repeat(64)
        ))
        .header("authorization", "Bearer not-for-the-cdn")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .unwrap()
            .contains("Only one auth mechanism allowed")
    );
    assert_eq!(sb.registry_counters()["cdn"]["with_authorization"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_out_of_the_sandbox_fetches_blobs_from_the_cdn_without_the_token() {
    use vetted::registry::{CopyOptions, NoProgress, copy_image};
    use vetted_sandbox::{Sandbox as InProcess, SandboxConfig};
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.toml");
    std::fs::write(&seed_path, seed("")).unwrap();
    let sandbox = InProcess::start(SandboxConfig {
        seed: Some(seed_path),
        registry: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let registry = sandbox.registry_url().unwrap();
    let host = format!(
        "{}:{}",
        registry.host_str().unwrap(),
        registry.port().unwrap()
    );
    let dst = RegistryProc::start().await;
    let client = RegistryClient::new(ClientConfig::default()).unwrap();
    let source = Reference::parse(&format!("{host}/library/nginx:1.27")).unwrap();
    let digest = client.resolve(&source).await.unwrap().digest;
    let target = Reference::parse(&format!("{}/org/nginx:1.27", dst.host())).unwrap();
    let report = copy_image(
        &client,
        &source.with_digest(&digest),
        &target,
        &CopyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(report.blobs_copied >= 4, "{report:?}");
    let cdn = sandbox.app().registry_observers().unwrap().to_json()["cdn"].clone();
    // Every blob came from the CDN origin (a bearer token was needed at the registry), each
    // verified by digest while streaming; none of those requests carried the token.
    assert!(cdn["bytes"].as_u64().unwrap() > 0, "{cdn}");
    assert!(
        cdn["served"].as_u64().unwrap() >= report.blobs_copied,
        "{cdn}"
    );
    assert_eq!(cdn["with_authorization"], 0, "{cdn}");
    // An independent client reads the same digest at the target.
    assert_eq!(dst.skopeo_digest("org/nginx", "1.27"), Some(digest));
    sandbox.shutdown().await.unwrap();
}

/// A registry on 127.0.0.1 whose blob GETs redirect: `/v2/loop/...` to itself forever,
/// `/v2/ftp/...` to an ftp:// URL. Counts the requests it answers.
async fn redirecting_registry() -> (String, Arc<AtomicU64>) {
    use axum::extract::Path;
    use axum::http::{StatusCode, header};
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/v2/{repo}/app/blobs/{digest}",
        axum::routing::get(move |Path((repo, digest)): Path<(String, String)>| {
            let h = h.clone();
            async move {
                let n = h.fetch_add(1, Ordering::SeqCst);
                let to = if repo == "loop" {
                    format!("/v2/loop/app/blobs/{digest}?hop={n}")
                } else {
                    "ftp://127.0.0.1/blob".to_string()
                };
                (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)])
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr.to_string(), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_bounded_and_other_schemes_refused_without_retries() {
    let (host, hits) = redirecting_registry().await;
    let client = RegistryClient::new(ClientConfig::default()).unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    for (repo, want, requests) in [
        ("loop", "more than 5 redirects", 6),
        ("ftp", "unsupported scheme \"ftp\"", 1),
    ] {
        hits.store(0, Ordering::SeqCst);
        let r = Reference::parse(&format!("{host}/{repo}/app:1")).unwrap();
        let url = client.blob_url(&r, &digest);
        let err = client
            .send(
                &r,
                &[Scope::pull(&r.repository)],
                reqwest::Method::GET,
                &url,
                |rb| rb,
                |s| s.is_success(),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{repo}: {err}");
        // Refused at once: the registry's answer, not a fault to retry.
        assert_eq!(hits.load(Ordering::SeqCst), requests, "{repo}: {err}");
    }
}

fn put_faults(sb: &Sandbox, faults: Value) {
    let r = reqwest::blocking::Client::new()
        .put(format!("{}/_sandbox/faults", sb.url.trim_end_matches('/')))
        .json(&faults)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text());
}

#[test]
fn an_html_429_from_the_hub_is_reported_by_status_and_title_and_waits_retry_after() {
    let sb = Sandbox::start(&seed(""), &[]);
    let path = sb.write_policy("vetted.toml", "org = \"acme\"\n");
    put_faults(
        &sb,
        json!({"rate_limit_rate": 1.0, "retry_after_secs": 1, "rate_limit_html": true}),
    );
    let out = sb
        .vetted()
        .args(["plan", "-v", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("429"), "{err}");
    assert!(
        err.contains(
            "an HTML page titled \"Access denied | hub.docker.com used Cloudflare to restrict access\""
        ),
        "{err}"
    );
    for page in ["<style", "cf-wrapper", "_cf_chl_opt", "Ray ID", "<html"] {
        assert!(!err.contains(page), "{page}: {err}");
    }
    // Every retry waited the Retry-After the page came with (1 s), not a backoff.
    let retries: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("Docker Hub answered 429; retrying"))
        .collect();
    assert_eq!(retries.len(), 5, "{err}");
    assert!(retries.iter().all(|l| l.contains("wait=1s")), "{err}");

    // Two such answers, then the hub answers: the plan goes through.
    put_faults(
        &sb,
        json!({"rate_limit_rate": 1.0, "retry_after_secs": 1, "rate_limit_html": true, "only_next": 2}),
    );
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_429_from_a_registry_is_reported_by_status_and_title_and_waits_retry_after() {
    let reg = RegistryProc::start().await;
    reg.push_image("lib/app", Some("1"), false, "amd64", &[], 1)
        .await;
    let proxy = Proxy::start(
        &reg.base(),
        ProxyOptions {
            fault_rate: 1.0,
            kinds: vec![FaultKind::TooManyRequests],
            html_429: true,
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    // A backoff of 10 minutes: only the page's `Retry-After: 1` lets the three attempts finish
    // within the test's bound.
    let client = RegistryClient::new(ClientConfig {
        max_attempts: 3,
        base_backoff: Duration::from_secs(600),
        max_backoff: Duration::from_secs(600),
        retry_budget: Duration::from_secs(3600),
        ..ClientConfig::default()
    })
    .unwrap();
    let r = Reference::parse(&format!("{}/lib/app:1", proxy.host())).unwrap();
    let scopes = [Scope::pull(&r.repository)];
    let err = tokio::time::timeout(
        Duration::from_secs(120),
        client.get_manifest_raw(&r, &scopes),
    )
    .await
    .expect("Retry-After honoured (a 10-minute backoff would not finish)")
    .unwrap_err()
    .to_string();
    assert!(err.contains("HTTP 429"), "{err}");
    assert!(
        err.contains(
            "an HTML page titled \"Access denied | registry-1.docker.io used Cloudflare to restrict access\""
        ),
        "{err}"
    );
    assert!(!err.contains('<') && !err.contains("Ray ID"), "{err}");
    assert_eq!(proxy.stats().too_many_requests, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_count_once_per_platform_with_docker_hubs_headers() {
    let reg = RegistryProc::start().await;
    let (index, children, _) = reg.push_index("lib/multi", "1", false).await;
    let proxy = Proxy::start(
        &reg.base(),
        ProxyOptions {
            ratelimit: Some(3),
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let c = reqwest::Client::new();
    let accept = "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
    let get = |reference: String, head: bool| {
        let url = format!("{}/v2/lib/multi/manifests/{reference}", proxy.url());
        let rb = if head { c.head(url) } else { c.get(url) };
        rb.header("accept", accept).send()
    };
    let remaining = |r: &reqwest::Response| {
        let h = |n: &str| r.headers()[n].to_str().unwrap().to_string();
        (
            h("ratelimit-remaining"),
            h("ratelimit-limit"),
            h("docker-ratelimit-source"),
        )
    };
    // Docker's documented forms, which vetted's parser reads.
    let h = get("1".into(), true).await.unwrap();
    let (rem, lim, source) = remaining(&h);
    assert_eq!((rem.as_str(), lim.as_str()), ("3;w=21600", "3;w=21600"));
    assert_eq!(source, "127.0.0.1");
    assert_eq!(
        (parse_ratelimit(&rem), parse_ratelimit(&lim)),
        (Some(3), Some(3))
    );
    // The index: no pull. Each platform manifest: one.
    let g = get("1".into(), false).await.unwrap();
    assert_eq!(g.headers()["docker-content-digest"], index.as_str());
    assert_eq!(remaining(&g).0, "3;w=21600");
    for (child, left) in children.iter().zip(["2;w=21600", "1;w=21600"]) {
        let g = get(child.clone(), false).await.unwrap();
        assert_eq!(g.status().as_u16(), 200);
        assert_eq!(remaining(&g).0, left);
    }
    let g = get(children[0].clone(), false).await.unwrap();
    assert_eq!(
        remaining(&g).0,
        "0;w=21600",
        "third platform pull fits the 3rd slot"
    );
    // None left: a platform manifest is refused 429 TOOMANYREQUESTS; HEAD still answers.
    let g = get(children[1].clone(), false).await.unwrap();
    assert_eq!(g.status().as_u16(), 429);
    assert!(g.text().await.unwrap().contains("TOOMANYREQUESTS"));
    let h = get(children[1].clone(), true).await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    let s = proxy.stats();
    assert_eq!((s.pulls, s.pull_limited), (3, 1));
}

const BUDGET_POLICY: &str = r#"org = "acme"
[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"] }
[repositories.alpine]
mirror = { from = "alpine", tags = ["3.20"] }
[repositories.edge]
mirror = { from = "nginx", tags = ["1.27-alpine"], platforms = ["linux/amd64"] }
"#;

/// 3 + 2 platforms, and 1 of a filtered index: the copies need 6 pulls.
const BUDGET_PULLS: u64 = 6;

/// `Docker Hub pulls remaining: R; the copies need about N` from a plan's output.
fn budget_note(text: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.contains("Docker Hub pulls remaining: "))
        .unwrap_or_else(|| panic!("no pull note: {text}"));
    let rest = line.split("Docker Hub pulls remaining: ").nth(1).unwrap();
    let (r, n) = rest.split_once("; the copies need about ").unwrap();
    (r.trim().parse().unwrap(), n.trim().parse().unwrap())
}

#[test]
fn an_apply_within_the_pull_budget_reads_each_manifest_once() {
    let sb = Sandbox::start_with_registry(&seed("[registry]\npull_limit = 100\n"), &[]);
    let path = sb.write_policy("vetted.toml", BUDGET_POLICY);
    let out = apply(&sb, &path);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let (remaining, needed) = budget_note(&stdout(&out));
    assert_eq!(needed, BUDGET_PULLS);
    // The plan's own estimate read each platform manifest once: one pull each.
    assert_eq!(remaining, 100 - BUDGET_PULLS);
    // The copies used the manifests the estimate read: no pull more.
    let pulls = sb.registry_counters()["pulls"].clone();
    assert_eq!(pulls["remaining"], remaining, "{pulls}");
    assert_eq!(pulls["refused"], 0, "{pulls}");
    for (image, source) in [
        ("acme/nginx:1.27", "library/nginx:1.27"),
        ("acme/alpine:3.20", "library/alpine:3.20"),
    ] {
        assert_eq!(
            skopeo_digest(&sb, image),
            skopeo_digest(&sb, source),
            "{image}"
        );
    }
    assert!(skopeo_digest(&sb, "acme/edge:1.27-alpine").is_some());
}

#[test]
fn an_apply_whose_copies_exceed_the_pull_budget_refuses_up_front() {
    // The plan's estimate spends 6 of 11; the saved plan's apply reads no estimate, so its copies
    // read every manifest themselves: 6 needed, 5 remain.
    let sb = Sandbox::start_with_registry(&seed("[registry]\npull_limit = 11\n"), &[]);
    let path = sb.write_policy("vetted.toml", BUDGET_POLICY);
    let saved = sb.path().join("plan.json");
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&path)
        .arg("--out")
        .arg(&saved)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(budget_note(&stdout(&out)), (5, BUDGET_PULLS));
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(&path)
        .arg(&saved)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("need about 6 Docker Hub pull(s) but only 5 remain"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    let pulls = sb.registry_counters()["pulls"].clone();
    assert_eq!(pulls["remaining"], 5, "{pulls}");
    let state = sb.state().to_string();
    assert!(!state.contains("\"nginx\""), "{state}");
    assert_eq!(skopeo_digest(&sb, "acme/nginx:1.27"), None);
}

//! The copy engine against real `docker-registry` processes, checked with skopeo.
use vetted::registry::{
    ClientConfig, CopyError, CopyOptions, NoProgress, Reference, RegistryClient, copy_image,
    copy_images,
};

use std::collections::BTreeMap;
use std::sync::Mutex;

use vetted::registry::{Progress, RegistryCredentials};

use crate::support::registry_proc::{BASIC_PASSWORD, BASIC_USER, RegistryProc};

fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig::default()).unwrap()
}

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_arch_copy_between_registries_then_recopy_skips() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, _, blobs) = src
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 2)
        .await;
    let c = client();
    let source = r(&format!("{}/community/app:1.0", src.host()));
    let resolved = c.resolve(&source).await.unwrap();
    assert_eq!(resolved.digest, digest);
    let source = source.with_digest(&digest);
    let target = r(&format!("{}/org/app:1.0", dst.host()));
    let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.digest, digest);
    assert_eq!(rep.blobs_copied, blobs.len() as u64);
    assert_eq!(rep.blobs_mounted, 0);
    assert_eq!(rep.manifests_pushed, 1);
    assert!(rep.tag_updated && rep.bytes_copied > 0);
    assert_eq!(
        dst.skopeo_digest("org/app", "1.0").as_deref(),
        Some(digest.as_str())
    );

    let again = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        (again.blobs_copied, again.blobs_mounted, again.bytes_copied),
        (0, 0, 0)
    );
    assert_eq!(again.manifests_pushed, 0);
    assert!(!again.tag_updated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_arch_index_copy_preserves_digest_and_updates_stale_tag() {
    for oci in [false, true] {
        let src = RegistryProc::start().await;
        let dst = RegistryProc::start().await;
        let (digest, children, unique) = src.push_index("lib/multi", "2", oci).await;
        // A stale tag in the target pointing at some other image.
        let (stale, _, _) = dst
            .push_image("org/multi", Some("2"), oci, "amd64", &[], 1)
            .await;
        assert_eq!(
            dst.skopeo_digest("org/multi", "2").as_deref(),
            Some(stale.as_str())
        );
        let c = client();
        let source = r(&format!("{}/lib/multi@{digest}", src.host()));
        let target = r(&format!("{}/org/multi:2", dst.host()));
        let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
            .await
            .unwrap();
        assert_eq!(rep.digest, digest);
        assert_eq!(
            rep.blobs_copied, unique as u64,
            "shared base layer copied once (oci={oci})"
        );
        assert_eq!(rep.manifests_pushed, 3);
        assert!(rep.tag_updated);
        assert_eq!(
            dst.skopeo_digest("org/multi", "2").as_deref(),
            Some(digest.as_str())
        );
        for child in &children {
            assert!(dst.skopeo_digest("org/multi", "2").is_some());
            c.resolve(&r(&format!("{}/org/multi@{child}", dst.host())))
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_filter_builds_a_new_index() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, children, _) = src.push_index("lib/multi", "1", true).await;
    let c = client();
    let opts = CopyOptions {
        platforms: Some(vec!["linux/arm64".into()]),
        ..CopyOptions::default()
    };
    let source = r(&format!("{}/lib/multi:1", src.host()));
    let target = r(&format!("{}/org/multi:1", dst.host()));
    let rep = copy_image(&c, &source, &target, &opts, &NoProgress)
        .await
        .unwrap();
    assert_ne!(rep.digest, digest);
    assert_eq!(
        dst.skopeo_digest("org/multi", "1").as_deref(),
        Some(rep.digest.as_str())
    );
    let amd = c
        .resolve(&r(&format!("{}/org/multi@{}", dst.host(), children[0])))
        .await;
    assert_eq!(
        amd.unwrap_err().status(),
        Some(404),
        "amd64 child must not be copied"
    );
    c.resolve(&r(&format!("{}/org/multi@{}", dst.host(), children[1])))
        .await
        .unwrap();

    let none = CopyOptions {
        platforms: Some(vec!["windows/amd64".into()]),
        ..CopyOptions::default()
    };
    let err = copy_image(&c, &source, &target.with_tag("w"), &none, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, CopyError::Invalid(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_registry_copy_mounts_blobs() {
    let reg = RegistryProc::start().await;
    let (digest, _, blobs) = reg
        .push_image("community/tool", Some("v1"), true, "amd64", &[], 3)
        .await;
    let c = client();
    let source = r(&format!("{}/community/tool@{digest}", reg.host()));
    let target = r(&format!("{}/myorg/tool:v1", reg.host()));
    let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.blobs_mounted, blobs.len() as u64);
    assert_eq!((rep.blobs_copied, rep.bytes_copied), (0, 0));
    assert_eq!(
        reg.skopeo_digest("myorg/tool", "v1").as_deref(),
        Some(digest.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_source_blob_is_refused_and_nothing_tagged() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, _, blobs) = src
        .push_image("lib/bad", Some("1"), false, "amd64", &[], 2)
        .await;
    // Replace the last layer's stored bytes with other bytes of the same length.
    let path = src.blob_path(&blobs[2]);
    let mut data = std::fs::read(&path).unwrap();
    for b in data.iter_mut().take(64) {
        *b = !*b;
    }
    std::fs::write(&path, &data).unwrap();
    let c = client();
    let source = r(&format!("{}/lib/bad@{digest}", src.host()));
    let target = r(&format!("{}/org/bad:1", dst.host()));
    let err = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    match &err {
        CopyError::DigestMismatch { expected, .. } => assert_eq!(expected, &blobs[2]),
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(err.to_string().contains("nothing was tagged"));
    assert_eq!(dst.skopeo_digest("org/bad", "1"), None);
    let missing = c.resolve(&target).await.unwrap_err();
    assert_eq!(missing.status(), Some(404));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_source_tag_is_a_clear_error() {
    let src = RegistryProc::start().await;
    let c = client();
    let err = c
        .resolve(&r(&format!("{}/lib/none:1", src.host())))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(src.storage().exists());
}

#[derive(Default)]
struct Recorder {
    bytes: Mutex<BTreeMap<String, u64>>,
    totals: Mutex<BTreeMap<String, u64>>,
}

impl Progress for Recorder {
    fn add_total(&self, image: &str, n: u64) {
        *self
            .totals
            .lock()
            .unwrap()
            .entry(image.to_string())
            .or_default() += n;
    }

    fn bytes(&self, image: &str, n: u64) {
        *self
            .bytes
            .lock()
            .unwrap()
            .entry(image.to_string())
            .or_default() += n;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_registries_need_credentials() {
    let src = RegistryProc::start_basic_auth().await;
    let dst = RegistryProc::start_basic_auth().await;
    let (digest, _, _) = src
        .push_image("lib/private", Some("1"), true, "amd64", &[], 2)
        .await;
    let source = r(&format!("{}/lib/private:1", src.host()));
    let target = r(&format!("{}/org/private:1", dst.host()));

    let anon = client();
    let err = anon.resolve(&source).await.unwrap_err();
    assert!(
        matches!(err, vetted::registry::RegistryError::Auth { .. }),
        "{err}"
    );

    let creds = RegistryCredentials {
        username: BASIC_USER.into(),
        password: BASIC_PASSWORD.into(),
    };
    let mut cfg = ClientConfig::default();
    cfg.credentials.insert(src.host(), creds.clone());
    cfg.credentials.insert(dst.host(), creds);
    let c = RegistryClient::new(cfg).unwrap();
    let progress = Recorder::default();
    let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &progress)
        .await
        .unwrap();
    assert_eq!(rep.digest, digest);
    assert_eq!(
        progress.bytes.lock().unwrap()[&target.to_string()],
        rep.bytes_copied
    );
    assert_eq!(
        dst.skopeo_digest("org/private", "1").as_deref(),
        Some(digest.as_str())
    );

    let mut wrong = ClientConfig::default();
    wrong.credentials.insert(
        src.host(),
        RegistryCredentials {
            username: BASIC_USER.into(),
            password: "not-the-password".into(),
        },
    );
    let err = RegistryClient::new(wrong)
        .unwrap()
        .resolve(&source)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_through_fault_injecting_proxies_retries_and_completes() {
    use crate::support::registry_proc::FaultProxy;
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, _, _) = src.push_index("lib/flaky", "3", false).await;
    let src_proxy = FaultProxy::start(&src).await;
    let dst_proxy = FaultProxy::start(&dst).await;
    let cfg = ClientConfig {
        base_backoff: std::time::Duration::from_millis(5),
        ..ClientConfig::default()
    };
    let c = RegistryClient::new(cfg).unwrap();
    let source = r(&format!("{}/lib/flaky:3", src_proxy.host()));
    let target = r(&format!("{}/org/flaky:3", dst_proxy.host()));
    let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.digest, digest);
    let injected = src_proxy.faults.load(std::sync::atomic::Ordering::Relaxed)
        + dst_proxy.faults.load(std::sync::atomic::Ordering::Relaxed);
    assert!(injected >= 10, "faults injected: {injected}");
    assert_eq!(
        dst.skopeo_digest("org/flaky", "3").as_deref(),
        Some(digest.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_images_in_one_call_report_in_order() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (a, _, _) = src
        .push_image("lib/a", Some("1"), false, "amd64", &[], 1)
        .await;
    let (b, _, _) = src
        .push_image("lib/b", Some("1"), true, "amd64", &[], 1)
        .await;
    let pairs = vec![
        (
            r(&format!("{}/lib/a:1", src.host())),
            r(&format!("{}/org/a:1", dst.host())),
        ),
        (
            r(&format!("{}/lib/missing:1", src.host())),
            r(&format!("{}/org/m:1", dst.host())),
        ),
        (
            r(&format!("{}/lib/b:1", src.host())),
            r(&format!("{}/org/b:1", dst.host())),
        ),
    ];
    let results = copy_images(&client(), &pairs, &CopyOptions::default(), &NoProgress).await;
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().digest, a);
    assert!(results[1].is_err());
    assert_eq!(results[2].as_ref().unwrap().digest, b);
    assert_eq!(dst.skopeo_digest("org/b", "1").as_deref(), Some(b.as_str()));
    assert_eq!(dst.skopeo_digest("org/m", "1"), None);
}

/// A registry stand-in with Bearer token auth: records each token request's query.
async fn bearer_registry() -> (
    String,
    std::sync::Arc<Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    use base64::Engine;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let queries: std::sync::Arc<Mutex<Vec<String>>> = std::sync::Arc::default();
    let q = queries.clone();
    let realm = format!("http://{host}/token");
    let expected_basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("robot:tok-secret")
    );
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::get(move |uri: Uri, headers: HeaderMap| {
                let q = q.clone();
                let expected_basic = expected_basic.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some(expected_basic.as_str())
                    {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    q.lock()
                        .unwrap()
                        .push(uri.query().unwrap_or("").to_string());
                    axum::Json(serde_json::json!({"token": "bearer-abc", "expires_in": 300}))
                        .into_response()
                }
            }),
        )
        .fallback(move |headers: HeaderMap| {
            let realm = realm.clone();
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some("Bearer bearer-abc")
                {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(
                            "www-authenticate",
                            format!(r#"Bearer realm="{realm}",service="fake.test""#),
                        )],
                    )
                        .into_response();
                }
                (
                    StatusCode::OK,
                    [
                        (
                            "docker-content-digest",
                            format!("sha256:{}", "a".repeat(64)),
                        ),
                        (
                            "content-type",
                            "application/vnd.oci.image.index.v1+json".to_string(),
                        ),
                        ("ratelimit-remaining", "42;w=21600".to_string()),
                    ],
                )
                    .into_response()
            }
        });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (host, queries, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_auth_requests_one_token_with_all_scopes_push_first() {
    use vetted::registry::Scope;
    let (host, queries, task) = bearer_registry().await;
    let source = r(&format!("{host}/lib/src:1"));
    let scopes = [Scope::pull("lib/src"), Scope::push("org/dst")];

    let err = client().resolve_scoped(&source, &scopes).await.unwrap_err();
    assert!(
        matches!(err, vetted::registry::RegistryError::Auth { .. }),
        "{err}"
    );

    let mut cfg = ClientConfig::default();
    cfg.credentials.insert(
        host.clone(),
        RegistryCredentials {
            username: "robot".into(),
            password: "tok-secret".into(),
        },
    );
    let c = RegistryClient::new(cfg).unwrap();
    let res = c.resolve_scoped(&source, &scopes).await.unwrap();
    assert_eq!(res.digest, format!("sha256:{}", "a".repeat(64)));
    assert_eq!(c.ratelimit_remaining(), Some(42));
    c.resolve_scoped(&source, &scopes).await.unwrap();
    let q = queries.lock().unwrap().clone();
    assert_eq!(q.len(), 1, "the token is cached per scope set: {q:?}");
    assert_eq!(
        q[0],
        "service=fake.test&scope=repository%3Aorg%2Fdst%3Apull%2Cpush&scope=repository%3Alib%2Fsrc%3Apull"
    );
    assert!(!format!("{c:?}").contains("tok-secret"));
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_target_from_an_interrupted_run_converges() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let base: Vec<u8> = (0..30_000).map(|_| rand::random::<u8>()).collect();
    let (digest, _, blobs) = src
        .push_image(
            "lib/part",
            Some("1"),
            false,
            "amd64",
            std::slice::from_ref(&base),
            2,
        )
        .await;
    // What a run killed after its first blob leaves behind: one blob, no manifest, no tag.
    dst.push_blob("org/part", &base).await;
    let target = r(&format!("{}/org/part:1", dst.host()));
    let c = client();
    assert_eq!(c.resolve(&target).await.unwrap_err().status(), Some(404));
    let source = r(&format!("{}/lib/part:1", src.host()));
    let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.blobs_skipped, 1);
    assert_eq!(rep.blobs_copied, blobs.len() as u64 - 1);
    assert_eq!(
        dst.skopeo_digest("org/part", "1").as_deref(),
        Some(digest.as_str())
    );
}

//! The copy engine under faults: real `docker-registry` processes behind the fault proxy
//! (`vetted_sandbox::proxy`), results checked with skopeo; skopeo's own copy through the same
//! proxies for comparison; size mismatches; mounts and resumed copies measured by proxy counters.
use std::process::Command;
use std::time::Duration;

use vetted::registry::{
    ClientConfig, CopyError, CopyOptions, NoProgress, Reference, RegistryClient, copy_image,
    copy_images,
};
use vetted_sandbox::proxy::{FaultKind, Proxy, ProxyOptions};

use crate::support::registry_proc::{
    DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, RegistryProc,
};

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn fast_client() -> RegistryClient {
    RegistryClient::new(ClientConfig {
        base_backoff: Duration::from_millis(5),
        ..ClientConfig::default()
    })
    .unwrap()
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// A 3-platform index with a shared 1.5 MiB base layer and 2 own layers per platform (some up to
/// 1 MiB): several MiB in all. Returns (index digest, unique blob count).
async fn push_big_index(reg: &RegistryProc, repo: &str, tag: &str, oci: bool) -> (String, usize) {
    let shared = [random_bytes(1_536 * 1024)];
    let mut descs = Vec::new();
    let mut blobs = Vec::new();
    for arch in ["amd64", "arm64", "s390x"] {
        let mut own = vec![random_bytes(1024 * 1024)];
        own.extend(shared.iter().cloned());
        let (d, m, b) = reg.push_image(repo, None, oci, arch, &own, 1).await;
        blobs.extend(b);
        descs.push(serde_json::json!({
            "mediaType": if oci { OCI_MANIFEST } else { DOCKER_MANIFEST },
            "digest": d, "size": m.len(),
            "platform": {"os": "linux", "architecture": arch}
        }));
    }
    let media = if oci { OCI_INDEX } else { DOCKER_LIST };
    let index = serde_json::to_vec(
        &serde_json::json!({"schemaVersion": 2, "mediaType": media, "manifests": descs}),
    )
    .unwrap();
    let d = reg.push_manifest(repo, tag, media, &index).await;
    blobs.sort();
    blobs.dedup();
    (d, blobs.len())
}

fn faulty(seed: u64) -> ProxyOptions {
    ProxyOptions {
        fault_rate: 0.10,
        seed,
        kinds: FaultKind::ALL.to_vec(),
        ..ProxyOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_through_ten_percent_faults_completes_for_several_seeds() {
    let src = RegistryProc::start().await;
    let (docker_digest, blobs_a) = push_big_index(&src, "lib/big", "1", false).await;
    let (oci_digest, blobs_b) = push_big_index(&src, "lib/big-oci", "1", true).await;
    let mut faults = 0;
    let mut cut = 0;
    for seed in [1u64, 2, 3, 4] {
        let dst = RegistryProc::start().await;
        let sp = Proxy::start(&src.base(), faulty(seed)).await.unwrap();
        let dp = Proxy::start(&dst.base(), faulty(seed + 100)).await.unwrap();
        let c = fast_client();
        for (repo, digest, blobs) in [
            ("big", &docker_digest, blobs_a),
            ("big-oci", &oci_digest, blobs_b),
        ] {
            let source = r(&format!("{}/lib/{repo}:1", sp.host()));
            let target = r(&format!("{}/org/{repo}:1", dp.host()));
            let rep = copy_image(&c, &source, &target, &CopyOptions::default(), &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("seed {seed}, {repo}: {e}"));
            assert_eq!(&rep.digest, digest);
            assert!(
                rep.blobs_copied + rep.blobs_skipped >= blobs as u64,
                "{rep:?}"
            );
            assert_eq!(
                dst.skopeo_digest(&format!("org/{repo}"), "1").as_deref(),
                Some(digest.as_str()),
                "seed {seed}, {repo}"
            );
        }
        let (s, d) = (sp.stats(), dp.stats());
        println!(
            "seed {seed}: source proxy {} requests, {} faults (503 {}, 429 {}, reset {}, cut {}); target proxy {} requests, {} faults",
            s.requests,
            s.faults(),
            s.server_errors,
            s.too_many_requests,
            s.resets,
            s.cut_short,
            d.requests,
            d.faults()
        );
        faults += s.faults() + d.faults();
        cut += s.cut_short + d.cut_short;
    }
    assert!(faults >= 10, "faults injected: {faults}");
    assert!(cut >= 1, "no body was cut short");
}

/// skopeo (`copy --all --retry-times 5`) through the same kind of proxies: how many runs fail is
/// printed, not asserted (it is the comparison point, not the subject).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_through_the_same_faults_for_comparison() {
    let src = RegistryProc::start().await;
    let (digest, _) = push_big_index(&src, "lib/big", "1", false).await;
    let runs = 4u64;
    let mut failed = 0;
    for seed in 1..=runs {
        let dst = RegistryProc::start().await;
        let sp = Proxy::start(&src.base(), faulty(seed)).await.unwrap();
        let dp = Proxy::start(&dst.base(), faulty(seed + 100)).await.unwrap();
        let (from, to) = (
            format!("docker://{}/lib/big:1", sp.host()),
            format!("docker://{}/org/big:1", dp.host()),
        );
        let out = tokio::task::spawn_blocking(move || {
            Command::new("/usr/bin/skopeo")
                .args([
                    "--command-timeout",
                    "120s",
                    "copy",
                    "--all",
                    "--retry-times",
                    "5",
                ])
                .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
                .args([from, to])
                .output()
                .expect("run skopeo")
        })
        .await
        .unwrap();
        let ok = out.status.success()
            && dst.skopeo_digest("org/big", "1").as_deref() == Some(digest.as_str());
        if !ok {
            failed += 1;
            let err = String::from_utf8_lossy(&out.stderr);
            println!(
                "skopeo seed {seed} failed: {}",
                err.lines().last().unwrap_or("")
            );
        }
    }
    println!("skopeo copy --all --retry-times 5 at 10% faults: {failed} of {runs} runs failed");
}

/// Pushes an image whose manifest gives its one layer the wrong size (`delta` bytes off).
async fn push_lying_image(reg: &RegistryProc, repo: &str, tag: &str, delta: i64) {
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = random_bytes(64 * 1024);
    let cfg = reg.push_blob(repo, config).await;
    let l = reg.push_blob(repo, &layer).await;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cfg, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": l,
                    "size": layer.len() as i64 + delta}]
    }))
    .unwrap();
    reg.push_manifest(repo, tag, DOCKER_MANIFEST, &manifest)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_mismatch_is_refused_and_nothing_tagged() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    for (tag, delta) in [("short", 100i64), ("long", -100)] {
        push_lying_image(&src, "lib/liar", tag, delta).await;
        let c = fast_client();
        let err = copy_image(
            &c,
            &r(&format!("{}/lib/liar:{tag}", src.host())),
            &r(&format!("{}/org/liar:{tag}", dst.host())),
            &CopyOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, CopyError::SizeMismatch { .. }),
            "{tag}: {err:?}"
        );
        assert!(err.to_string().contains("nothing was tagged"), "{err}");
        assert_eq!(dst.skopeo_digest("org/liar", tag), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_registry_copy_mounts_without_moving_blob_bytes() {
    let reg = RegistryProc::start().await;
    let (digest, unique) = push_big_index(&reg, "lib/big", "1", false).await;
    let p = Proxy::start(&reg.base(), ProxyOptions::default())
        .await
        .unwrap();
    let c = fast_client();
    let rep = copy_image(
        &c,
        &r(&format!("{}/lib/big:1", p.host())),
        &r(&format!("{}/org/big:1", p.host())),
        &CopyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(rep.digest, digest);
    assert_eq!(rep.blobs_mounted, unique as u64);
    assert_eq!((rep.blobs_copied, rep.bytes_copied), (0, 0));
    let s = p.stats();
    assert_eq!(s.mount_requests, unique as u64);
    assert_eq!(
        (s.blob_gets, s.blob_bytes_down, s.upload_bytes_up),
        (0, 0, 0)
    );
    assert_eq!(
        reg.skopeo_digest("org/big", "1").as_deref(),
        Some(digest.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_layer_from_another_registry_is_uploaded_once_then_mounted() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let shared = [random_bytes(4 * 1024 * 1024)];
    let names = ["one", "two", "three"];
    let mut digests = Vec::new();
    for name in names {
        let (d, _, _) = src
            .push_image(&format!("lib/{name}"), Some("1"), true, "amd64", &shared, 1)
            .await;
        digests.push(d);
    }
    let sp = Proxy::start(&src.base(), ProxyOptions::default())
        .await
        .unwrap();
    let dp = Proxy::start(&dst.base(), ProxyOptions::default())
        .await
        .unwrap();
    let pairs: Vec<(Reference, Reference)> = names
        .iter()
        .map(|n| {
            (
                r(&format!("{}/lib/{n}:1", sp.host())),
                r(&format!("{}/org/{n}:1", dp.host())),
            )
        })
        .collect();
    // Images at once, so later ones wait for the first upload of the shared layer.
    let opts = CopyOptions {
        image_concurrency: 3,
        ..CopyOptions::default()
    };
    let reports: Vec<_> = copy_images(&fast_client(), &pairs, &opts, &NoProgress)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mounted: u64 = reports.iter().map(|r| r.blobs_mounted).sum();
    let copied: u64 = reports.iter().map(|r| r.blobs_copied).sum();
    // Each image: the shared layer, its own layer, its config.
    assert_eq!((mounted, copied), (2, 7), "{reports:?}");
    assert!(reports.iter().all(|r| r.blobs_skipped == 0), "{reports:?}");
    let shared_len = shared[0].len() as u64;
    let (s, d) = (sp.stats(), dp.stats());
    assert_eq!(d.mount_requests, 2);
    // The shared layer went up once (the rest are the small own layers and configs).
    assert!(
        d.upload_bytes_up >= shared_len && d.upload_bytes_up < shared_len + 1024 * 1024,
        "{d:?}"
    );
    assert!(s.blob_bytes_down < shared_len + 1024 * 1024, "{s:?}");
    for (name, digest) in names.iter().zip(&digests) {
        assert_eq!(
            dst.skopeo_digest(&format!("org/{name}"), "1").as_deref(),
            Some(digest.as_str())
        );
    }

    // Without a shared ledger each image uploads the layer itself.
    let dst2 = RegistryProc::start().await;
    let dp2 = Proxy::start(&dst2.base(), ProxyOptions::default())
        .await
        .unwrap();
    let c = fast_client();
    for (src_ref, dst_ref) in &pairs {
        let target = r(&format!("{}/{}:1", dp2.host(), dst_ref.repository));
        copy_image(&c, src_ref, &target, &opts, &NoProgress)
            .await
            .unwrap();
    }
    let d2 = dp2.stats();
    assert_eq!(d2.mount_requests, 0);
    assert!(d2.upload_bytes_up >= 3 * shared_len, "{d2:?}");

    // A later image into a repository the ledger knows has the layer: neither sent nor mounted.
    let (four, _, _) = src
        .push_image("lib/four", Some("1"), true, "amd64", &shared, 1)
        .await;
    let ledger = Some(std::sync::Arc::new(vetted::registry::BlobLedger::default()));
    let shared_opts = CopyOptions { ledger, ..opts };
    let c = fast_client();
    let five = r(&format!("{}/org/five:1", dp.host()));
    let rep = copy_image(&c, &pairs[1].0, &five, &shared_opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.blobs_skipped, 0, "{rep:?}");
    let before = dp.stats();
    let target = r(&format!("{}/org/five:4", dp.host()));
    let rep = copy_image(
        &c,
        &r(&format!("{}/lib/four:1", sp.host())),
        &target,
        &shared_opts,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(
        (rep.blobs_copied, rep.blobs_mounted, rep.blobs_skipped),
        (2, 0, 1),
        "{rep:?}"
    );
    let after = dp.stats();
    assert_eq!(after.mount_requests, before.mount_requests);
    assert!(after.upload_bytes_up - before.upload_bytes_up < shared_len);
    assert_eq!(
        dst.skopeo_digest("org/five", "4").as_deref(),
        Some(four.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_copy_resumes_without_re_transferring_blobs() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, unique) = push_big_index(&src, "lib/big", "1", false).await;
    let slow = ProxyOptions {
        latency: Duration::from_millis(60),
        ..ProxyOptions::default()
    };
    let sp = Proxy::start(&src.base(), slow.clone()).await.unwrap();
    let dp = Proxy::start(&dst.base(), slow).await.unwrap();
    let source = r(&format!("{}/lib/big:1", sp.host()));
    let target = r(&format!("{}/org/big:1", dp.host()));
    let one_at_a_time = CopyOptions {
        blob_concurrency: 1,
        image_concurrency: 1,
        ..CopyOptions::default()
    };
    let task = {
        let (source, target, opts) = (source.clone(), target.clone(), one_at_a_time.clone());
        tokio::spawn(async move {
            copy_image(&fast_client(), &source, &target, &opts, &NoProgress).await
        })
    };
    // Abort once two blobs have landed in the target (bounded wait).
    let landed = || sp.stats().blob_gets;
    for _ in 0..600 {
        if landed() >= 3 || task.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let _ = task.await;
    assert_eq!(
        dst.skopeo_digest("org/big", "1"),
        None,
        "aborted before the tag"
    );
    let before = sp.stats();
    assert!(
        before.blob_gets >= 2 && before.blob_gets < unique as u64,
        "{before:?}"
    );

    let rep = copy_image(
        &fast_client(),
        &source,
        &target,
        &one_at_a_time,
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(rep.digest, digest);
    let after = sp.stats();
    let regets = after.blob_gets - before.blob_gets;
    // Blobs completed before the abort are skipped by HEAD; at most the one in flight repeats.
    assert!(
        regets + before.blob_gets <= unique as u64 + 1,
        "re-fetched {regets} of {unique} blobs after {} before",
        before.blob_gets
    );
    assert!(rep.blobs_skipped >= before.blob_gets - 1, "{rep:?}");
    assert_eq!(
        dst.skopeo_digest("org/big", "1").as_deref(),
        Some(digest.as_str())
    );
}

/// Pushes a cosign-style signature (an OCI manifest with one payload layer) under `tag`.
async fn push_signature(reg: &RegistryProc, repo: &str, tag: &str, signed: &str) -> String {
    let payload = serde_json::to_vec(&serde_json::json!({
        "critical": {"image": {"docker-manifest-digest": signed}, "type": "cosign container image signature"}
    }))
    .unwrap();
    let config = br#"{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cfg = reg.push_blob(repo, config).await;
    let layer = reg.push_blob(repo, &payload).await;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": layer,
                    "size": payload.len(), "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}]
    }))
    .unwrap();
    reg.push_manifest(repo, tag, OCI_MANIFEST, &manifest).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_of_the_index_and_its_children_are_copied_when_asked() {
    let src = RegistryProc::start().await;
    let dst = RegistryProc::start().await;
    let (digest, children, _) = src.push_index("lib/signed", "1", true).await;
    let sig_tag = |d: &str| format!("{}.sig", d.replace(':', "-"));
    let att_tag = |d: &str| format!("{}.att", d.replace(':', "-"));
    let top_sig = push_signature(&src, "lib/signed", &sig_tag(&digest), &digest).await;
    let child_att = push_signature(&src, "lib/signed", &att_tag(&children[1]), &children[1]).await;
    // A referrer of child 0 in the referrers tag schema (docker-registry 2.8 has no referrers
    // API): an artifact pushed by digest, listed by an index tagged `sha256-<hex>`.
    let artifact = push_signature(&src, "lib/signed", "scratch", &children[0]).await;
    let artifact_len = manifest_len(&src, "lib/signed", &artifact).await;
    let schema_tag = children[0].replace(':', "-");
    let referrers = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": artifact, "size": artifact_len,
                       "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json"}]
    }))
    .unwrap();
    let referrers_digest = src
        .push_manifest("lib/signed", &schema_tag, OCI_INDEX, &referrers)
        .await;
    let c = fast_client();
    let source = r(&format!("{}/lib/signed:1", src.host()));

    // Not asked: no signature copied.
    let plain = copy_image(
        &c,
        &source,
        &r(&format!("{}/org/plain:1", dst.host())),
        &CopyOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(plain.signatures_copied, 0);
    assert_eq!(dst.skopeo_digest("org/plain", &sig_tag(&digest)), None);

    let opts = CopyOptions {
        signatures: true,
        ..CopyOptions::default()
    };
    let target = r(&format!("{}/org/signed:1", dst.host()));
    let rep = copy_image(&c, &source, &target, &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!(rep.digest, digest);
    assert_eq!(rep.signatures_copied, 3);
    assert_eq!(
        dst.skopeo_digest("org/signed", &schema_tag).as_deref(),
        Some(referrers_digest.as_str())
    );
    assert!(has_manifest(&dst, "org/signed", &artifact).await);
    assert_eq!(
        dst.skopeo_digest("org/signed", &sig_tag(&digest))
            .as_deref(),
        Some(top_sig.as_str())
    );
    assert_eq!(
        dst.skopeo_digest("org/signed", &att_tag(&children[1]))
            .as_deref(),
        Some(child_att.as_str())
    );
    assert_eq!(
        dst.skopeo_digest("org/signed", &sig_tag(&children[0])),
        None
    );
    // Converged: nothing more to copy.
    let again = copy_image(&c, &source, &target, &opts, &NoProgress)
        .await
        .unwrap();
    assert_eq!((again.signatures_copied, again.tag_updated), (0, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_signed_image_copied_with_its_signature_through_faults() {
    use vetted::registry::RegistryCredentials;
    use vetted_sandbox::{Sandbox, SandboxConfig};
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(
        &seed,
        r#"
org = "acme"
[users.alice]
full_name = "Alice"
email = "alice@acme.example"
[[credentials]]
identifier = "alice"
secret = "alice-registry-secret-1"
kind = "password"
[members]
alice = "owner"
[repositories.redis]
private = true
"#,
    )
    .unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Some(seed),
        registry: true,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let registry = sandbox.registry_url().unwrap();
    let upstream = registry.as_str().trim_end_matches('/').to_string();
    // Faults on the registry and on its token service (another origin, reached through the proxy).
    let proxy = Proxy::start(&upstream, faulty(9)).await.unwrap();
    let mut config = ClientConfig {
        base_backoff: Duration::from_millis(5),
        ..ClientConfig::default()
    };
    config.credentials.insert(
        proxy.host(),
        RegistryCredentials {
            username: "alice".into(),
            password: "alice-registry-secret-1".into(),
        },
    );
    let c = RegistryClient::new(config).unwrap();
    let source = r(&format!("{}/bitnami/redis:7.2", proxy.host()));
    let target = r(&format!("{}/acme/redis:7.2", proxy.host()));
    let opts = CopyOptions {
        signatures: true,
        ..CopyOptions::default()
    };
    let rep = copy_image(&c, &source, &target, &opts, &NoProgress)
        .await
        .unwrap();
    assert!(rep.signatures_copied >= 1, "{rep:?}");
    let sig = format!("{}.sig", rep.digest.replace(':', "-"));
    let want = c.resolve(&source.with_tag(&sig)).await.unwrap().digest;
    let got = c.resolve(&target.with_tag(&sig)).await.unwrap().digest;
    assert_eq!(got, want);
    assert_eq!(
        c.resolve(&target).await.unwrap().digest,
        c.resolve(&source).await.unwrap().digest
    );
    println!("sandbox copy through the proxy: {:?}", proxy.stats());
    sandbox.shutdown().await.unwrap();
}

/// The byte length of a manifest in a registry.
async fn manifest_len(reg: &RegistryProc, repo: &str, digest: &str) -> usize {
    reqwest::Client::new()
        .get(format!("{}/v2/{repo}/manifests/{digest}", reg.base()))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len()
}

async fn has_manifest(reg: &RegistryProc, repo: &str, digest: &str) -> bool {
    reqwest::Client::new()
        .head(format!("{}/v2/{repo}/manifests/{digest}", reg.base()))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

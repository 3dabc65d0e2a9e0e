//! Signatures copied with their images: those of an index and its children when asked, and a
//! sandbox-signed image with its signature through faults.

use super::*;

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

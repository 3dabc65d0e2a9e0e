//! Copies through the fault proxy: ten percent faults for several seeds, skopeo through the same
//! faults for comparison, a size mismatch refused with nothing tagged, and an aborted copy resuming
//! without re-transferring blobs.

use super::*;

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

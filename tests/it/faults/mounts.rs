//! Blob mounts measured by the proxy counters: a copy within one registry mounts without moving
//! blob bytes, and a layer shared with another registry is uploaded once, then mounted.

use super::*;

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

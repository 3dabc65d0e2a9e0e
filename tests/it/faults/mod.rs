//! The copy engine under faults: real `docker-registry` processes behind the fault proxy
//! (`vetted_sandbox::proxy`), results checked with skopeo; skopeo's own copy through the same
//! proxies for comparison; size mismatches; mounts and resumed copies measured by proxy counters.

mod copy;
mod mounts;
mod signatures;

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

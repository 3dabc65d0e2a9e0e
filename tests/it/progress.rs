//! What the copy progress lines say, through real `docker-registry` processes: a blob re-sent after
//! a fault counts once (the fault proxy cuts blob bodies short, so blobs are retried), and an image
//! whose blobs were all mounted (a same-registry mirror) says `mounted`, not `copied`.
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::HumanBytes;
use vetted::registry::{ClientConfig, CopyOptions, Reference, RegistryClient, copy_image};
use vetted::render::progress::CopyProgress;
use vetted_sandbox::proxy::{FaultKind, Proxy, ProxyOptions};

use crate::support::registry_proc::RegistryProc;

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

/// The lines a [`CopyProgress`] writes.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Pushes `repo:1`, one platform with three 2 MiB layers; returns the bytes of its blobs.
async fn push_six_mib(reg: &RegistryProc, repo: &str) -> u64 {
    let layers: Vec<Vec<u8>> = (0..3)
        .map(|_| (0..2 * 1024 * 1024).map(|_| rand::random::<u8>()).collect())
        .collect();
    let (_, manifest, _) = reg
        .push_image(repo, Some("1"), false, "amd64", &layers, 0)
        .await;
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let sizes = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap());
    m["config"]["size"].as_u64().unwrap() + sizes.sum::<u64>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_sent_again_after_a_fault_counts_once() {
    let src = RegistryProc::start().await;
    let total = push_six_mib(&src, "lib/big").await;
    let mut retried = 0;
    for seed in 1u64..=8 {
        let dst = RegistryProc::start().await;
        // Only the source is faulted, with bodies cut short: blobs are streamed again, and the
        // target never receives a blob twice (so nothing is "already there").
        let sp = Proxy::start(
            &src.base(),
            ProxyOptions {
                fault_rate: 0.3,
                seed,
                kinds: vec![FaultKind::CutShort],
                ..ProxyOptions::default()
            },
        )
        .await
        .unwrap();
        let source = r(&format!("{}/lib/big:1", sp.host()));
        let target = r(&format!("{}/org/big:1", dst.host()));
        let lines = Lines::default();
        let progress = CopyProgress::lines_to(Box::new(lines.clone()));
        let options = CopyOptions {
            blob_attempts: 10,
            ..CopyOptions::default()
        };
        let rep = copy_image(&fast_client(), &source, &target, &options, &progress)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let text = lines.text();
        assert_eq!(rep.bytes_copied, total, "seed {seed}: {rep:?}");
        assert_eq!(
            text.lines().last(),
            Some(format!("copied {target} ({})", HumanBytes(total)).as_str()),
            "seed {seed}:\n{text}"
        );
        let s = sp.stats();
        if s.blob_bytes_down > total {
            retried += 1;
            println!(
                "seed {seed}: {} blob GET(s), {} bytes down for {total} bytes of blobs: {text}",
                s.blob_gets, s.blob_bytes_down
            );
        }
        if retried >= 2 {
            break;
        }
    }
    assert!(retried >= 1, "no seed made a blob go twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_whose_blobs_all_mount_says_mounted() {
    let reg = RegistryProc::start().await;
    let total = push_six_mib(&reg, "lib/big").await;
    let p = Proxy::start(&reg.base(), ProxyOptions::default())
        .await
        .unwrap();
    let target = r(&format!("{}/org/big:1", p.host()));
    let lines = Lines::default();
    let progress = CopyProgress::lines_to(Box::new(lines.clone()));
    let rep = copy_image(
        &fast_client(),
        &r(&format!("{}/lib/big:1", p.host())),
        &target,
        &CopyOptions::default(),
        &progress,
    )
    .await
    .unwrap();
    assert_eq!((rep.blobs_mounted, rep.bytes_copied), (4, 0), "{rep:?}");
    assert_eq!(p.stats().blob_bytes_down, 0);
    let text = lines.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&format!("copying {target} ...").as_str())
    );
    assert_eq!(
        lines.last(),
        Some(
            &format!(
                "mounted {target} ({} already in the registry, nothing transferred)",
                HumanBytes(total)
            )
            .as_str()
        ),
        "{text}"
    );
    assert!(!text.contains("copied"), "{text}");
}

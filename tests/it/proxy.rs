//! The fault and latency proxy (`vetted_sandbox::proxy`, `vetted sandbox proxy`) in front of a real
//! `docker-registry`: transparent forwarding with rewritten upload locations, counters, seeded
//! determinism, cut-short bodies a client detects, and the emulated pull limit.
use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Duration;

use vetted_sandbox::proxy::{FaultKind, Proxy, ProxyOptions};

use crate::support::registry_proc::{DOCKER_MANIFEST, RegistryProc, digest_of};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transparent_proxy_streams_uploads_and_pulls_and_counts_bytes() {
    let reg = RegistryProc::start().await;
    let proxy = Proxy::start(&reg.base(), ProxyOptions::default())
        .await
        .unwrap();
    let c = http();
    // Upload through the proxy: the Location the registry returns must lead back to the proxy.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let d = digest_of(&data);
    let r = c
        .post(format!("{}/v2/lib/x/blobs/uploads/", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let mut url = url::Url::parse(&proxy.url()).unwrap().join(&loc).unwrap();
    assert_eq!(url.port(), Some(proxy.addr().port()), "location {loc}");
    url.query_pairs_mut().append_pair("digest", &d);
    let r = c.put(url).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // Pull it back through the proxy, and directly: same bytes.
    let got = c
        .get(format!("{}/v2/lib/x/blobs/{d}", proxy.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), data.as_slice());
    assert!(reg.blob_path(&d).exists());
    let s = proxy.stats();
    assert_eq!(s.requests, 3);
    assert_eq!((s.upload_starts, s.blob_gets, s.mount_requests), (1, 1, 0));
    assert_eq!(s.upload_bytes_up, data.len() as u64);
    assert_eq!(s.blob_bytes_down, data.len() as u64);
    assert_eq!(s.faults(), 0);
}

/// The outcome of each of `n` sequential requests: a status, or "reset"/"cut".
async fn outcomes(upstream: &str, blob: &str, seed: u64, n: usize) -> (Vec<String>, u64) {
    let proxy = Proxy::start(
        upstream,
        ProxyOptions {
            fault_rate: 0.5,
            seed,
            kinds: vec![
                FaultKind::ServerError,
                FaultKind::Reset,
                FaultKind::CutShort,
            ],
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    // A fresh connection per request: a pooled connection the proxy dropped could otherwise be
    // retried by the client on its own, spending an extra draw.
    let c = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let o = match c
            .get(format!("{}/v2/lib/x/blobs/{}", proxy.url(), blob))
            .send()
            .await
        {
            Err(_) => "reset".to_string(),
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(_) => status.to_string(),
                    Err(_) => "cut".to_string(),
                }
            }
        };
        out.push(o);
    }
    (out, proxy.stats().faults())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_reproducible_by_seed_and_counted() {
    let reg = RegistryProc::start().await;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 13) as u8).collect();
    let d = reg.push_blob("lib/x", &data).await;
    let (a, fa) = outcomes(&reg.base(), &d, 42, 40).await;
    let (b, fb) = outcomes(&reg.base(), &d, 42, 40).await;
    let (other, _) = outcomes(&reg.base(), &d, 43, 40).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, other, "another seed, other faults");
    assert_eq!(fa, fb);
    let count = |k: &str| a.iter().filter(|o| *o == k).count() as u64;
    // Every kind shows up in 40 draws at 50% (fixed seed), each seen by the client as injected.
    assert!(
        count("503") > 0 && count("reset") > 0 && count("cut") > 0,
        "{a:?}"
    );
    assert_eq!(count("503") + count("reset") + count("cut"), fa);
    assert_eq!(count("200") + fa, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_short_body_keeps_the_full_length_header_and_fails_the_reader() {
    let reg = RegistryProc::start().await;
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    let d = reg.push_blob("lib/x", &data).await;
    let proxy = Proxy::start(
        &reg.base(),
        ProxyOptions {
            fault_rate: 1.0,
            kinds: vec![FaultKind::CutShort],
            seed: 5,
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let c = http();
    for _ in 0..5 {
        let r = c
            .get(format!("{}/v2/lib/x/blobs/{d}", proxy.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.content_length(), Some(data.len() as u64));
        assert!(r.bytes().await.is_err(), "a short body must fail the read");
    }
    // A body-less answer (HEAD) is lost after the upstream handled it: the connection drops.
    assert!(
        c.head(format!("{}/v2/lib/x/blobs/{d}", proxy.url()))
            .send()
            .await
            .is_err()
    );
    assert_eq!(proxy.stats().cut_short, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_html_and_429_carries_retry_after() {
    let reg = RegistryProc::start().await;
    let c = http();
    let p503 = Proxy::start(
        &reg.base(),
        ProxyOptions {
            fault_rate: 1.0,
            kinds: vec![FaultKind::ServerError],
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let r = c.get(format!("{}/v2/", p503.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.text().await.unwrap().contains("<html>"));
    let p429 = Proxy::start(
        &reg.base(),
        ProxyOptions {
            fault_rate: 1.0,
            kinds: vec![FaultKind::TooManyRequests],
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let r = c.get(format!("{}/v2/", p429.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(
        (p503.stats().server_errors, p429.stats().too_many_requests),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_limit_counts_manifest_gets_not_heads() {
    let reg = RegistryProc::start().await;
    let (digest, _, _) = reg
        .push_image("lib/app", Some("1"), false, "amd64", &[], 1)
        .await;
    let proxy = Proxy::start(
        &reg.base(),
        ProxyOptions {
            ratelimit: Some(2),
            ..ProxyOptions::default()
        },
    )
    .await
    .unwrap();
    let c = http();
    let url = format!("{}/v2/lib/app/manifests/1", proxy.url());
    let remaining = |r: &reqwest::Response| {
        r.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .to_string()
    };
    let h = c
        .head(&url)
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(h.headers()["ratelimit-limit"], "2;w=21600");
    assert_eq!(remaining(&h), "2;w=21600");
    for left in ["1;w=21600", "0;w=21600"] {
        let g = c
            .get(&url)
            .header("accept", DOCKER_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(g.status().as_u16(), 200);
        assert_eq!(remaining(&g), left);
        assert_eq!(g.headers()["docker-content-digest"], digest.as_str());
    }
    let g = c
        .get(&url)
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status().as_u16(), 429);
    assert_eq!(remaining(&g), "0;w=21600");
    assert!(g.text().await.unwrap().contains("TOOMANYREQUESTS"));
    // HEAD still answers (it does not count against the limit).
    let h = c
        .head(&url)
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(h.status().as_u16(), 200);
    let s = proxy.stats();
    assert_eq!((s.manifest_gets, s.pull_limited), (2, 1));
    assert_eq!(proxy.remaining_pulls(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_proxy_prints_its_url_and_forwards() {
    let reg = RegistryProc::start().await;
    let mut child = std::process::Command::new(crate::harness::bin())
        .args([
            "sandbox",
            "proxy",
            "--upstream",
            &reg.base(),
            "--latency",
            "5ms",
        ])
        .args(["--pull-limit", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(20), line)
        .await
        .expect("proxy URL within 20 s")
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    let r = http().get(format!("{url}/v2/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["ratelimit-limit"], "10;w=21600");
    let _ = child.kill();
    let _ = child.wait();

    let out = crate::harness::vetted()
        .args(["sandbox", "proxy", "--upstream", "not a url"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("upstream"));
    let out = crate::harness::vetted()
        .args([
            "sandbox",
            "proxy",
            "--upstream",
            &reg.base(),
            "--faults",
            "boom",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault kind"));
}

/// The peak resident memory of a process, in KiB (`VmHWM` of /proc/PID/status).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_blob_streams_through_the_cli_proxy_in_bounded_memory() {
    use futures::StreamExt as _;
    use sha2::{Digest as _, Sha256};
    const CHUNK: usize = 1024 * 1024;
    const CHUNKS: usize = 192; // 192 MiB each way
    let chunk = |i: usize| bytes::Bytes::from(vec![(i * 31 % 251) as u8; CHUNK]);
    let mut h = Sha256::new();
    for i in 0..CHUNKS {
        h.update(chunk(i));
    }
    let digest = format!("sha256:{}", hex::encode(h.finalize()));

    let reg = RegistryProc::start().await;
    let mut child = std::process::Command::new(crate::harness::bin())
        .args(["sandbox", "proxy", "--upstream", &reg.base()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let url = tokio::time::timeout(Duration::from_secs(20), line)
        .await
        .expect("proxy URL within 20 s")
        .unwrap()
        .trim()
        .to_string();
    let baseline = peak_rss_kib(child.id());
    let c = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let r = c
        .post(format!("{url}/v2/big/blob/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let mut put = url::Url::parse(&url).unwrap().join(&loc).unwrap();
    put.query_pairs_mut().append_pair("digest", &digest);
    let body = futures::stream::iter(0..CHUNKS).map(move |i| Ok::<_, std::io::Error>(chunk(i)));
    let r = c
        .put(put)
        .header("content-length", (CHUNK * CHUNKS).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let mut stream = c
        .get(format!("{url}/v2/big/blob/blobs/{digest}"))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut h = Sha256::new();
    let mut n = 0usize;
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        n += b.len();
        h.update(&b);
    }
    assert_eq!(n, CHUNK * CHUNKS);
    assert_eq!(format!("sha256:{}", hex::encode(h.finalize())), digest);
    let peak = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    println!("proxy peak RSS: {baseline} KiB at start, {peak} KiB after 2 x 192 MiB");
    assert!(
        peak < baseline + 48 * 1024,
        "the proxy grew from {baseline} KiB to {peak} KiB passing 192 MiB each way"
    );
}

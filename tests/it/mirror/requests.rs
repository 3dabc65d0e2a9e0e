//! What a first mirror asks of the registries, read from the proxy's request trace in front of the
//! sandbox registry: nothing of a repository apply has just created (no HEAD), one manifest PUT
//! per image (by tag) and one per platform (by digest), one 401 in the whole run (the first
//! contact; the requests that start with it wait for its challenge instead of each spending a
//! 401), one token request per scope set, and no manifest read twice (the copies reuse what the
//! plan's estimate read).

use std::collections::BTreeMap;

use vetted_sandbox::proxy::{Proxy, ProxyOptions, TraceEntry};

use super::*;

const POLICY: &str = r#"
[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"] }
[repositories.alpine]
mirror = { from = "alpine", tags = ["3.20"] }
[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2", "7.4.1"] }
[repositories.edge]
mirror = { from = "nginx", tags = ["1.27-alpine"], platforms = ["linux/amd64"] }
"#;

fn count(trace: &[TraceEntry], f: impl Fn(&TraceEntry) -> bool) -> usize {
    trace.iter().filter(|e| f(e)).count()
}

#[test]
fn a_first_mirror_asks_nothing_of_new_repositories_and_reads_each_manifest_once() {
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let registry = format!("http://{}", sb.registry_host());
    let proxy = rt
        .block_on(Proxy::start(
            &registry,
            ProxyOptions {
                kinds: Vec::new(),
                trace_limit: 100_000,
                ..ProxyOptions::default()
            },
        ))
        .unwrap();
    let path = sb.write_policy("vetted.toml", &policy(POLICY));
    let out = sb
        .vetted()
        .env("VETTED_DOCKER_IO_REGISTRY", proxy.url())
        .args(["apply", "--yes", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let trace = proxy.trace();
    let shown = || {
        trace
            .iter()
            .map(|e| format!("{} {} {}", e.status, e.method, e.path))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Each mirrored tag equals its source, as skopeo reads them.
    let mut tagged = Vec::new();
    for (image, source) in [
        ("acme/nginx:1.27", "library/nginx:1.27"),
        ("acme/alpine:3.20", "library/alpine:3.20"),
        ("acme/redis:7.2", "bitnami/redis:7.2"),
        ("acme/redis:7.4.1", "bitnami/redis:7.4.1"),
        ("acme/edge:1.27-alpine", ""),
    ] {
        let digest = skopeo_digest(&sb, image).unwrap_or_else(|| panic!("{image} missing"));
        if !source.is_empty() {
            assert_eq!(
                Some(&digest),
                skopeo_digest(&sb, source).as_ref(),
                "{image}"
            );
        }
        tagged.push(format!(
            "{}/manifests/{digest}",
            image.split(':').next().unwrap()
        ));
    }

    let into_org = |e: &TraceEntry| e.path.starts_with("/v2/acme/");
    assert_eq!(
        count(&trace, |e| into_org(e) && e.method == "HEAD"),
        0,
        "{}",
        shown()
    );
    // By tag, once per image; by digest only a platform of an index.
    let tags = ["1.27", "3.20", "7.2", "7.4.1", "1.27-alpine"];
    let by_tag = count(&trace, |e| {
        into_org(e)
            && e.method == "PUT"
            && tags
                .iter()
                .any(|t| e.path.ends_with(&format!("/manifests/{t}")))
    });
    assert_eq!(by_tag, tags.len(), "{}", shown());
    let by_digest: Vec<&TraceEntry> = trace
        .iter()
        .filter(|e| into_org(e) && e.method == "PUT" && e.path.contains("/manifests/sha256:"))
        .collect();
    assert!(!by_digest.is_empty(), "{}", shown());
    for e in &by_digest {
        assert!(
            !tagged.iter().any(|t| e.path.ends_with(t.as_str())),
            "a tagged manifest was PUT by digest too: {}",
            e.path
        );
    }

    assert_eq!(count(&trace, |e| e.status == 401), 1, "{}", shown());
    // No manifest of a source read twice by digest.
    let mut reads: BTreeMap<&str, usize> = BTreeMap::new();
    for e in trace
        .iter()
        .filter(|e| e.method == "GET" && !into_org(e) && e.path.contains("/manifests/sha256:"))
    {
        *reads.entry(e.path.as_str()).or_default() += 1;
    }
    assert!(!reads.is_empty(), "{}", shown());
    assert!(reads.values().all(|n| *n == 1), "{reads:#?}");
    // One token request per scope set: never two at once for the same one.
    let tokens = count(&trace, |e| e.path.contains("/token"));
    assert!(tokens > 0, "{}", shown());
    assert!(
        tokens <= 2 * tags.len() + 3,
        "{tokens} token requests:\n{}",
        shown()
    );
    drop(proxy);
}

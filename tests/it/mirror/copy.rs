//! Copies: plan and apply mirror by digest (Docker and OCI, multi-arch), a clean re-plan and a
//! stale tag fixed; a platform filter building a new index; a layer shared by images from another
//! registry uploaded once per apply.

use super::*;

#[test]
fn plan_apply_mirror_by_digest_then_replan_clean_and_fix_a_stale_tag() {
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let path = sb.write_policy(
        "vetted.toml",
        &policy(
            r#"
[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2"] }
[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"] }
[repositories.loki]
mirror = { from = "grafana/loki", tags = ["3.1"] }
"#,
        ),
    );
    let sources = [
        ("redis:7.2", "bitnami/redis:7.2"),
        ("nginx:1.27", "library/nginx:1.27"),
        ("loki:3.1", "grafana/loki:3.1"),
    ];

    // The plan: one copy row per tag with the upstream digest, and a byte estimate.
    let out = sb
        .vetted()
        .arg("plan")
        .arg("--policy")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (target, _) in sources {
        assert!(text.contains(&format!("image acme/{target}")), "{text}");
    }
    assert!(text.contains("Images: 3 to copy, about"), "{text}");
    assert!(text.contains("vetted.lock is missing"), "{text}");
    let plan = plan_json(&sb, &path, &[]);
    assert_eq!(plan["summary"]["images"], 3);
    assert!(
        plan["summary"]["bytes"].as_u64().unwrap() > 100_000,
        "{plan}"
    );
    for c in copies(&plan) {
        let source = c["source"].as_str().unwrap();
        let repo_tag = source
            .trim_start_matches("docker.io/")
            .split('@')
            .next()
            .unwrap();
        assert_eq!(
            Some(c["digest"].as_str().unwrap().to_string()),
            skopeo_digest(&sb, repo_tag),
            "{c}"
        );
        assert_eq!(c["action"], "create");
        assert!(c["bytes"].as_u64().unwrap() > 0 || c["repository"] != "redis");
    }

    // Apply copies them; skopeo reads the source's digest from the organization's tags (a Docker
    // manifest list, a 3-platform OCI index and a single OCI manifest).
    let out = apply(&sb, &path, &["--verbose"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Registry docker.io: credentials from DOCKERHUB_USERNAME/DOCKERHUB_TOKEN"),
        "{err}"
    );
    assert!(!err.contains(OWNER_TOKEN) && !stdout(&out).contains(OWNER_TOKEN));
    assert!(err.contains("+ image acme/redis:7.2: done"), "{err}");
    assert!(err.contains("Copied 3 image(s)"), "{err}");
    assert!(err.contains("mounted"), "{err}");
    for (target, source) in sources {
        let want = skopeo_digest(&sb, source).unwrap();
        assert_eq!(
            skopeo_digest(&sb, &format!("acme/{target}")),
            Some(want),
            "{target}"
        );
    }
    let (code, text, err) = plan_exit(&sb, &path, &[]);
    assert_eq!(code, Some(0), "{text}\n{err}");
    assert!(text.contains("No changes"), "{text}");

    // Someone pushes another image over acme/redis:7.2: the plan updates it back.
    let registry = sb.registry_host();
    let creds = format!("{ALICE}:{OWNER_TOKEN}");
    let copy = Command::new("/usr/bin/skopeo")
        .args([
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("--src-creds={creds}"))
        .arg(format!("--dest-creds={creds}"))
        .arg(format!("docker://{registry}/library/alpine:3.20"))
        .arg(format!("docker://{registry}/acme/redis:7.2"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(copy.status.success(), "{}", stderr(&copy));
    let stale = skopeo_digest(&sb, "acme/redis:7.2").unwrap();
    let want = skopeo_digest(&sb, "bitnami/redis:7.2").unwrap();
    assert_ne!(stale, want);
    let (code, text, _) = plan_exit(&sb, &path, &[]);
    assert_eq!(code, Some(2), "{text}");
    let short = |d: &str| d[..19].to_string();
    assert!(
        text.contains(&format!("{} -> {}", short(&stale), short(&want))),
        "{text}"
    );
    let plan = plan_json(&sb, &path, &[]);
    let rows = copies(&plan);
    assert_eq!(rows.len(), 1, "{plan}");
    assert_eq!(rows[0]["action"], "update");
    assert_eq!(rows[0]["old_digest"], Value::String(stale));
    let out = apply(&sb, &path, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/redis:7.2"), Some(want));
    assert_eq!(plan_exit(&sb, &path, &[]).0, Some(0));
}

#[test]
fn a_platform_filter_builds_a_new_index_and_the_plan_says_so() {
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let path = sb.write_policy(
        "vetted.toml",
        &policy(
            r#"
[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"], platforms = ["linux/arm64/v8"] }
"#,
        ),
    );
    let out = sb
        .vetted()
        .arg("plan")
        .arg("--policy")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("platforms filtered: the mirror is a new index"),
        "{text}"
    );
    assert!(text.contains("(new index)"), "{text}");
    let plan = plan_json(&sb, &path, &[]);
    let planned = copies(&plan)[0]["digest"].as_str().unwrap().to_string();
    let upstream = skopeo_digest(&sb, "library/nginx:1.27").unwrap();
    assert_ne!(planned, upstream);

    let out = apply(&sb, &path, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let raw = skopeo_raw(&sb, "acme/nginx:1.27").unwrap();
    assert_eq!(digest_of(&raw), planned);
    let index: Value = serde_json::from_slice(&raw).unwrap();
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 1, "{index}");
    assert_eq!(children[0]["platform"]["architecture"], "arm64");
    // The child itself is upstream's, byte for byte.
    let child = children[0]["digest"].as_str().unwrap();
    let source: Value =
        serde_json::from_slice(&skopeo_raw(&sb, "library/nginx:1.27").unwrap()).unwrap();
    assert!(
        source["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["digest"] == child)
    );
    assert_eq!(
        skopeo_digest(&sb, &format!("acme/nginx@{child}")),
        Some(child.to_string())
    );
    assert_eq!(plan_exit(&sb, &path, &[]).0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_shared_by_images_from_another_registry_is_uploaded_once_per_apply() {
    let upstream = RegistryProc::start().await;
    let base: Vec<u8> = (0..3_000_000u32).map(|_| rand::random::<u8>()).collect();
    let shared = [base];
    let mut digests = Vec::new();
    let mut body = String::new();
    let host = upstream.host();
    for i in 0..3 {
        let (d, _, _) = upstream
            .push_image(
                &format!("community/app{i}"),
                Some("1.0"),
                i % 2 == 0,
                "amd64",
                &shared,
                1,
            )
            .await;
        digests.push(d);
        body.push_str(&format!(
            "[repositories.app{i}]\nmirror = {{ from = \"{host}/community/app{i}\", tags = [\"1.0\"] }}\n"
        ));
    }
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let path = sb.write_policy("vetted.toml", &policy(&body));
    // The sandbox registry checks the token: a mount from a sibling needs pull on it.
    let out = apply(&sb, &path, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // 3 images x (shared layer, own layer, config): the shared layer once, mounted twice.
    assert!(
        err.contains("Copied 3 image(s): 7 blob(s) copied, 2 mounted"),
        "{err}"
    );
    for (i, d) in digests.iter().enumerate() {
        assert_eq!(
            skopeo_digest(&sb, &format!("acme/app{i}:1.0")).as_ref(),
            Some(d),
            "app{i}"
        );
    }
    assert_eq!(plan_exit(&sb, &path, &[]).0, Some(0));
}

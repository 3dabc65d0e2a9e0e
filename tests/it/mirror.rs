//! Mirroring with the real binary: `vetted plan` and `vetted apply` against `vetted sandbox` and its
//! real registry (docker.io pointed at it), plus separate real `docker-registry` processes as other
//! upstreams. skopeo, an independent client, checks every digest. Covers copy rows and byte
//! estimates, multi-arch Docker and OCI images, a clean re-plan, a stale tag updated, a platform
//! filter, an apply killed mid-copy then re-run, the pull-limit refusal, vetted.lock in plan/apply
//! (`--locked`, "update available") and registry credentials from Docker's config.json.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, bin, stderr, stdout, vetted};
use crate::support::registry_proc::{BASIC_PASSWORD, BASIC_USER, RegistryProc, digest_of};

const ALICE: &str = "alice";

fn seed(extra: &str) -> String {
    format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
{extra}
"#
    )
}

fn policy(body: &str) -> String {
    format!("org = \"acme\"\n{body}")
}

/// `skopeo inspect --raw` of `image` (`repo:tag` or `repo@digest`) on the sandbox registry as
/// alice: the manifest bytes.
fn skopeo_raw(sb: &Sandbox, image: &str) -> Option<Vec<u8>> {
    let out = Command::new("/usr/bin/skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("{ALICE}:{OWNER_TOKEN}"))
        .arg(format!("docker://{}/{image}", sb.registry_host()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status.success().then_some(out.stdout)
}

fn skopeo_digest(sb: &Sandbox, image: &str) -> Option<String> {
    skopeo_raw(sb, image).map(|b| digest_of(&b))
}

fn plan_json(sb: &Sandbox, policy: &Path, extra: &[&str]) -> Value {
    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn copies(plan: &Value) -> Vec<&Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "copy_image")
        .collect()
}

fn apply(sb: &Sandbox, policy: &Path, extra: &[&str]) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap()
}

fn plan_exit(sb: &Sandbox, policy: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy"])
        .arg(policy)
        .args(extra)
        .output()
        .unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

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

#[test]
fn one_failing_image_does_not_stop_the_others() {
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    // 7.4.1 is pinned to a digest upstream does not have: its copy fails, 7.2's still runs.
    let missing = format!("sha256:{}", "0".repeat(64));
    let path = sb.write_policy(
        "vetted.toml",
        &policy(&format!(
            "[repositories.redis]\nmirror = {{ from = \"bitnami/redis\", tags = [\"7.2\", \"7.4.1@{missing}\"] }}\n"
        )),
    );
    let out = apply(&sb, &path, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("+ image acme/redis:7.4.1: FAILED"), "{err}");
    assert!(err.contains("+ image acme/redis:7.2: done"), "{err}");
    assert!(err.contains("Apply incomplete"), "{err}");
    assert_eq!(
        skopeo_digest(&sb, "acme/redis:7.2"),
        skopeo_digest(&sb, "bitnami/redis:7.2")
    );
    assert_eq!(skopeo_digest(&sb, "acme/redis:7.4.1"), None);
    // The next plan holds only what is left.
    let plan = plan_json(&sb, &path, &[]);
    let rows = copies(&plan);
    assert_eq!(rows.len(), 1, "{plan}");
    assert_eq!(rows[0]["tag"], "7.4.1");
}

/// `vetted` as a plain child process pointed at the sandbox (to read stderr while it runs).
fn spawn_vetted(sb: &Sandbox, args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .env_remove("VETTED_REGISTRY_USERNAME")
        .env_remove("VETTED_REGISTRY_PASSWORD")
        .env("VETTED_HUB_URL", &sb.url)
        .env("VETTED_DOCKER_IO_REGISTRY", sb.registry.as_deref().unwrap())
        .env("DOCKERHUB_USERNAME", ALICE)
        .env("DOCKERHUB_TOKEN", OWNER_TOKEN)
        .env("DOCKER_CONFIG", "/nonexistent/vetted-tests-docker-config")
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .current_dir(sb.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_mid_copy_converges_when_run_again() {
    // Upstream on another registry (streamed copies, not mounts), with large layers.
    let upstream = RegistryProc::start().await;
    let mut digests = Vec::new();
    for i in 0..4 {
        let big: Vec<u8> = (0..6_000_000u32).map(|_| rand::random::<u8>()).collect();
        let (d, _, _) = upstream
            .push_image(
                &format!("community/big{i}"),
                Some("1.0"),
                i % 2 == 0,
                "amd64",
                &[big],
                1,
            )
            .await;
        digests.push(d);
    }
    let host = upstream.host();
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let mut body = String::new();
    for i in 0..4 {
        body.push_str(&format!(
            "[repositories.big{i}]\nmirror = {{ from = \"{host}/community/big{i}\", tags = [\"1.0\"] }}\n"
        ));
    }
    let path = sb.write_policy("vetted.toml", &policy(&body));
    let policy_arg = path.display().to_string();

    // Kill apply as soon as the first image starts copying.
    let mut child = spawn_vetted(
        &sb,
        &[
            "apply",
            "--yes",
            "--copy-parallelism",
            "1",
            "--policy",
            &policy_arg,
        ],
    );
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            let started = line.starts_with("copying ");
            let _ = tx.send(line);
            if started {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => {
                let started = line.starts_with("copying ");
                seen.push(line);
                if started {
                    break;
                }
            }
            Err(e) => {
                let _ = child.kill();
                panic!("apply printed no progress line ({e}): {seen:?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    // Run again: everything converges to the upstream digests.
    let out = apply(&sb, &path, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (i, d) in digests.iter().enumerate() {
        assert_eq!(
            skopeo_digest(&sb, &format!("acme/big{i}:1.0")).as_ref(),
            Some(d),
            "big{i}"
        );
    }
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

#[test]
fn apply_refuses_before_changing_anything_when_pulls_run_short() {
    // The sandbox counts pulls as Docker Hub does: one per platform manifest GET. Two images of
    // two platforms each: plan's estimate spends 4 of the 5, leaving 1 for copies that need 4.
    let sb = Sandbox::start_with_registry(&seed("[registry]\npull_limit = 5\n"), &[]);
    let path = sb.write_policy(
        "vetted.toml",
        &policy(
            r#"
[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2", "7.4.1"] }
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
        text.contains("Docker Hub pulls remaining: 1; the copies need about 4"),
        "{text}"
    );
    assert!(text.contains("repository acme/redis"), "{text}");

    // Apply's own estimate spends the last pull and meets the limit (refused at once, not
    // retried): it refuses before changing anything.
    let out = apply(&sb, &path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("only 0 remain"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(!err.contains("done"), "{err}");
    // Nothing changed: the repository was not created, no tag exists.
    let state = sb.state().to_string();
    assert!(!state.contains("\"redis\""), "{state}");
    assert_eq!(skopeo_digest(&sb, "acme/redis:7.2"), None);
    let pulls = &sb.registry_counters()["pulls"];
    assert_eq!(pulls["remaining"], 0, "{pulls}");
    assert_eq!(pulls["spent"], 5, "{pulls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_apply_follow_the_lock_and_report_updates() {
    let upstream = RegistryProc::start().await;
    let (old, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let host = upstream.host();
    let sb = Sandbox::start_with_registry(&seed(""), &[]);
    let body = format!(
        "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n"
    );
    let path = sb.write_policy("vetted.toml", &policy(&body));

    let run = |args: Vec<String>| {
        let mut cmd = sb.vetted();
        cmd.args(&args);
        cmd.output().unwrap()
    };
    let p = path.display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // --locked without a lock: an error before anything is read.
    let out = run(s(&["plan", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("vetted.lock does not exist"),
        "{}",
        stderr(&out)
    );
    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));

    let out = run(s(&["lock", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));

    // Upstream moves the tag.
    let (new, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    assert_ne!(old, new);
    let out = run(s(&["plan", "--locked", "--format", "json", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(copies(&plan)[0]["digest"], Value::String(old.clone()));
    let notes = plan["notes"].to_string();
    let short = |d: &str| d[..19].to_string();
    assert!(
        notes.contains(&format!(
            "update available: app:1.0 {} -> {}",
            short(&old),
            short(&new)
        )),
        "{notes}"
    );

    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/app:1.0"), Some(old.clone()));
    let out = run(s(&[
        "plan",
        "--locked",
        "--detailed-exitcode",
        "--policy",
        &p,
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("update available"),
        "{}",
        stdout(&out)
    );

    // A tag the lock does not cover: --locked refuses, a plain plan notes it and follows upstream.
    let body = format!(
        "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\", \"2.0\"] }}\n"
    );
    upstream
        .push_image("community/app", Some("2.0"), true, "amd64", &[], 1)
        .await;
    std::fs::write(&path, policy(&body)).unwrap();
    let out = run(s(&["plan", "--locked", "--policy", &p]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("out of date"), "{}", stderr(&out));
    let out = run(s(&["plan", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("vetted.lock is outdated"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("image acme/app:2.0"),
        "{}",
        stdout(&out)
    );

    // `vetted lock --upgrade` then apply: the new digest.
    let out = run(s(&["lock", "--upgrade", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(s(&["apply", "--yes", "--locked", "--policy", &p]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(skopeo_digest(&sb, "acme/app:1.0"), Some(new));
}

fn lock_with_config(
    policy: &Path,
    docker_config: &Path,
    path_env: Option<&str>,
) -> std::process::Output {
    let mut cmd = vetted();
    cmd.args(["lock", "--upgrade", "--policy"])
        .arg(policy)
        .env("DOCKER_CONFIG", docker_config);
    if let Some(p) = path_env {
        cmd.env("PATH", p);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_come_from_docker_config_auths_and_helpers() {
    use base64::Engine;
    let upstream = RegistryProc::start_basic_auth().await;
    let (digest, _, _) = upstream
        .push_image("community/app", Some("1.0"), false, "amd64", &[], 1)
        .await;
    let host = upstream.host();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vetted.toml");
    std::fs::write(
        &path,
        policy(&format!(
            "[repositories.app]\nmirror = {{ from = \"{host}/community/app\", tags = [\"1.0\"] }}\n"
        )),
    )
    .unwrap();
    let config_dir = dir.path().join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();

    // No credentials: the registry refuses.
    let out = lock_with_config(&path, &config_dir, None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // An `auths` entry, as `docker login` writes it.
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let out = lock_with_config(&path, &config_dir, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = std::fs::read_to_string(dir.path().join("vetted.lock")).unwrap();
    assert!(lock.contains(&digest), "{lock}");
    assert!(!stderr(&out).contains(BASIC_PASSWORD));

    // A credential helper named in `credHelpers`: docker-credential-fake on PATH.
    std::fs::remove_file(dir.path().join("vetted.lock")).unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let called = dir.path().join("helper-called");
    let helper = bin_dir.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n[ \"$server\" = \"{host}\" ] || exit 1\necho \"$server\" > \"{}\"\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{BASIC_USER}\",\"Secret\":\"{BASIC_PASSWORD}\"}}' \"$server\"\n",
            called.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        config_dir.join("config.json"),
        format!(r#"{{"credHelpers": {{"{host}": "fake"}}}}"#),
    )
    .unwrap();
    let path_env = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = lock_with_config(&path, &config_dir, Some(&path_env));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&called).unwrap().trim(),
        host,
        "the helper was asked for the registry"
    );
    let lock = std::fs::read_to_string(dir.path().join("vetted.lock")).unwrap();
    assert!(lock.contains(&digest), "{lock}");
    assert!(!stderr(&out).contains(BASIC_PASSWORD));
}

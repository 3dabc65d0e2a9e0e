//! When copies fail or cannot start: one failing image does not stop the others, an apply killed
//! mid-copy converges when run again, and apply refuses before changing anything when pulls run
//! short.

use super::*;

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

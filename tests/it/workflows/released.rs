//! The action end to end with the released `vetted` (installed by the action's install step from a
//! fake GitHub release) against the sandbox's hub API and registry: plan, apply once, drift left
//! alone.

use super::*;

/// Runs the action's install step (install: release) against the fake GitHub serving a release of
/// the tested binary (packaged by scripts/release/package.sh, with its SHA256SUMS); returns the
/// directory it put on PATH.
fn install_released_vetted(a: &Action) -> PathBuf {
    let version = env!("CARGO_PKG_VERSION");
    let target = "x86_64-unknown-linux-musl";
    let dist = a.dir.path().join("dist");
    let out = run(Command::new("bash")
        .arg(repo_root().join("scripts/release/package.sh"))
        .arg(crate::harness::bin())
        .args([version, target])
        .arg(&dist));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = format!("vetted-{version}-{target}.tar.gz");
    let bytes = fs::read(dist.join(&name)).unwrap();
    let sums = {
        use sha2::{Digest, Sha256};
        format!("{}  {name}\n", hex::encode(Sha256::digest(&bytes)))
    };
    a.github.add_release(
        &format!("v{version}"),
        false,
        &[("SHA256SUMS", sums.into_bytes()), (&name, bytes)],
    );
    let d = a.dir.path();
    fs::write(d.join("github_path"), "").unwrap();
    let out = run(Command::new("bash")
        .arg(repo_root().join(".github/actions/vetted/install.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", d)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", d.join("tmp"))
        .env("RUNNER_TOOL_CACHE", d.join("toolcache"))
        .env("GITHUB_PATH", d.join("github_path"))
        .env("GITHUB_API_URL", &a.github.url)
        .env("GITHUB_TOKEN", GITHUB_SECRET)
        .env("ACTION_REPOSITORY", "OWNER/vetted")
        .env("ACTION_REF", format!("v{version}"))
        .env("INSTALL", "release"));
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{log}");
    assert!(!log.contains(GITHUB_SECRET), "{log}");
    assert!(
        log.contains(&format!("installed vetted {version} ({target})")),
        "{log}"
    );
    let dir = fs::read_to_string(d.join("github_path")).unwrap();
    PathBuf::from(dir.trim())
}

/// The action end to end with the released `vetted` (installed by the action's install step from a
/// fake GitHub release) against the sandbox (hub API and registry): the
/// plan step posts vetted's own markdown as the sticky comment; after the merge, the apply step
/// fetches that step's artifact and applies the reviewed plan (mirroring the images); a second
/// apply of the same plan is refused as stale; the drift check then finds the organization in sync.
#[test]
fn the_action_with_the_real_vetted_applies_the_reviewed_plan_once_and_reports_drift_left_alone() {
    use crate::harness::Sandbox;
    // alice's fake credential in sandbox/demo-seed.toml.
    const OWNER_TOKEN: &str = "sandbox-alice-token";
    let root = repo_root();
    let seed = fs::read_to_string(root.join("sandbox/demo-seed.toml")).unwrap();
    let sb = Sandbox::start_with_registry(&seed, &[]);
    let a = Action::new();
    fs::copy(root.join("policy.example.toml"), a.ws().join("vetted.toml")).unwrap();
    let registry = sb.registry.clone().unwrap();
    // vetted comes as the action installs it: the release binary, checked against SHA256SUMS.
    let installed = install_released_vetted(&a);
    let path = format!(
        "{}:{}",
        installed.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let real = installed.join("vetted").display().to_string();
    let env: [(&str, &str); 5] = [
        ("PATH", path.as_str()),
        ("VETTED_HUB_URL", sb.url.as_str()),
        ("VETTED_DOCKER_IO_REGISTRY", registry.as_str()),
        ("DOCKERHUB_USERNAME", "alice"),
        ("NO_COLOR", "1"),
    ];
    // The policy repository commits its lock, as `lock --locked` in the plan step demands.
    let lock = run(Command::new(&real)
        .args(["lock", "--policy", "vetted.toml"])
        .current_dir(a.ws())
        .env_clear()
        .env("HOME", a.dir.path())
        .envs(env.iter().copied())
        .env("DOCKERHUB_TOKEN", OWNER_TOKEN));
    assert!(lock.status.success(), "{}", text(&lock.stderr));

    a.event(&pr_event(false));
    let r = a.run_with("plan", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
        let body = &s.comments[0].2;
        assert!(
            body.starts_with("<!-- vetted:plan org=acme -->\n"),
            "{body}"
        );
        assert!(
            body.contains("to add") && body.contains("to copy"),
            "{body}"
        );
        assert!(body.contains("Access changes"), "{body}");
    }
    assert!(r.summary.contains("to copy"), "{}", r.summary);

    // The plan job's upload: the files it left, under the name it gave.
    let name = r
        .output
        .lines()
        .find_map(|l| l.strip_prefix("artifact-name="))
        .expect("artifact-name output")
        .to_string();
    assert_eq!(name, format!("vetted-plan-{HEAD_SHA}"));
    let work = a.dir.path().join("tmp/vetted");
    let files: Vec<(&str, Vec<u8>)> = ["plan.json", "plan.md", "plan.txt", "plan-report.json"]
        .into_iter()
        .map(|f| (f, fs::read(work.join(f)).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(f, b)| (*f, b.as_slice())).collect();
    a.artifact(
        31,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        zip_of(&refs),
    );

    // The pull request merges: the push to main applies the plan that was reviewed.
    a.merged_pull_request();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    let r = a.run_with("apply", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.summary.contains("Apply: done") && r.summary.contains("reviewed on pull request #7"),
        "{}",
        r.summary
    );
    // From the real vetted's report: the counts and the image copy totals.
    assert!(output_has(&r, "apply-status=applied"), "{}", r.output);
    let report: Value =
        serde_json::from_str(&fs::read_to_string(work.join("apply.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "applied", "{report:#}");
    assert_eq!(report["summary"]["failed"], 0, "{report:#}");
    let images = report["copy"]["images"].as_u64().unwrap();
    assert!(images > 0, "{report:#}");
    assert!(
        r.summary.contains("0 failed, 0 skipped.")
            && r.summary.contains(&format!("Images: {images} copied")),
        "{}",
        r.summary
    );
    assert!(
        a.apply_comments()[0]
            .2
            .contains("Applied the plan reviewed")
    );

    // The same job run again: the organization is no longer what the plan was computed from, so
    // vetted refuses the plan and changes nothing.
    let r = a.run_with("apply", OWNER_TOKEN, &env);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.summary.contains("the plan is stale"), "{}", r.summary);
    assert!(output_has(&r, "apply-status=refused"), "{}", r.output);
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].2.contains("**Not applied**") && comments[0].2.contains("the plan is stale"),
        "{}",
        comments[0].2
    );

    // The policy leaves the demo's team legacy and repository old-tool alone (prune = false): that
    // drift is pending for the drift workflow (`plan --drift`), which opens its issue naming it.
    let r = a.run_with("drift", OWNER_TOKEN, &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(output_has(&r, "drifted=true"), "{}", r.output);
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.issues.len(), 1, "{:?}", s.issues);
    let body = s.issues[0]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("team legacy")
            && body.contains("acme/old-tool")
            && body.contains("drift left alone"),
        "{body}"
    );
    drop(s);

    // The drift job saved a snapshot with the real vetted; a fork's pull request plans against it
    // with the sandbox gone and no Docker Hub token, and gets a real plan in its comment.
    assert!(
        output_has(
            &r,
            &format!("snapshot-file={}", work.join("snapshot.json").display())
        ),
        "{}",
        r.output
    );
    let snapshot = fs::read_to_string(work.join("snapshot.json")).unwrap();
    assert!(!snapshot.contains(OWNER_TOKEN));
    a.snapshot_artifact(
        80,
        "2026-12-02T08:00:00Z",
        Origin::ThisRepository,
        ".github/workflows/vetted-drift.yml",
        "schedule",
        "main",
        &snapshot,
    );
    fs::write(
        a.ws().join("vetted.toml"),
        fs::read_to_string(a.ws().join("vetted.toml"))
            .unwrap()
            .replacen(
                "[teams.platform]",
                "[teams.contractors]\ndescription = \"From the fork\"\nmembers = []\n\n[teams.platform]",
                1,
            ),
    )
    .unwrap();
    a.event(&pr_event(true));
    // Docker Hub and the registry unreachable: nothing is read from them.
    let offline: [(&str, &str); 4] = [
        ("PATH", path.as_str()),
        ("VETTED_HUB_URL", "http://127.0.0.1:9"),
        ("VETTED_DOCKER_IO_REGISTRY", "http://127.0.0.1:9"),
        ("NO_COLOR", "1"),
    ];
    let r = a.run_with("plan", "", &offline);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(output_has(&r, "mode=plan-from-snapshot"), "{}", r.output);
    let s = a.github.state.lock().unwrap();
    let comment = s
        .comments
        .iter()
        .find(|c| c.2.contains("comes from a fork"))
        .map(|c| c.2.clone())
        .unwrap_or_default();
    assert!(
        comment.contains("**Offline plan**: based on a snapshot of acme taken")
            && comment.contains("team contractors"),
        "{comment}"
    );
}

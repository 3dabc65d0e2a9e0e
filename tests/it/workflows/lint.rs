//! actionlint on every workflow (the project's CI and the documented user workflows, pointed at the
//! local action so their inputs are checked against action.yml), shellcheck on the action's and
//! CI's scripts, and a missing lint tool failing with the install hint.

use super::*;

/// A tool the tests need: a missing one fails the test with how to install it.
fn tool(name: &str, env_var: Option<&str>, fallback: Option<PathBuf>) -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(v) = env_var.and_then(std::env::var_os) {
        candidates.push(PathBuf::from(v));
    }
    candidates.extend(fallback);
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{name} is not installed: run `bash scripts/install-deps.sh` (or `bash .ci/run`, which does)")
    })
}

fn actionlint() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    tool(
        "actionlint",
        Some("ACTIONLINT"),
        Some(home.join(".cache/vetted-tools/actionlint/bin/actionlint")),
    )
}

/// A scratch git repository holding the action and `workflows` under .github/workflows, the user
/// workflows pointing at the local action so actionlint checks their inputs against action.yml.
fn lint_repo(workflows: &[(String, String)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    let action = dir.path().join(".github/actions/vetted");
    fs::create_dir_all(&action).unwrap();
    for entry in fs::read_dir(repo_root().join(".github/actions/vetted")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), action.join(entry.file_name())).unwrap();
    }
    let wf = dir.path().join(".github/workflows");
    fs::create_dir_all(&wf).unwrap();
    for (name, body) in workflows {
        fs::write(
            wf.join(name),
            body.replace(ACTION_REF, "./.github/actions/vetted"),
        )
        .unwrap();
    }
    dir
}

fn all_workflows() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["docs/workflows", ".github/workflows"] {
        for entry in fs::read_dir(repo_root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yml") {
                let name = format!(
                    "{}-{}",
                    dir.replace(['/', '.'], "_"),
                    path.file_name().unwrap().to_string_lossy()
                );
                files.push((name, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    // The copy-paste examples in docs/ci.md are linted as the workflows they are.
    let guide = fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    for (i, block) in guide.split("```yaml\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap_or_default();
        if body.starts_with("on:") {
            files.push((format!("ci_md-{i}.yml"), body.to_string()));
        }
    }
    files.sort();
    files
}

#[test]
fn actionlint_passes_every_workflow_and_checks_the_action_inputs() {
    let workflows = all_workflows();
    let names: Vec<&str> = workflows.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().filter(|n| n.starts_with("ci_md-")).count() >= 2,
        "docs/ci.md's plan and apply examples: {names:?}"
    );
    for expected in [
        "plan.yml",
        "apply.yml",
        "drift.yml",
        "update.yml",
        "ci.yml",
        "release.yml",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(expected)),
            "{expected} missing from {names:?}"
        );
    }
    for (name, body) in &workflows {
        if name.starts_with("docs") || name.starts_with("ci_md") {
            assert!(
                body.contains(ACTION_REF),
                "{name} must use the action as {ACTION_REF}"
            );
            // Every use pins the release it installs.
            let pinned = body
                .lines()
                .filter(|l| {
                    l.trim_start()
                        .strip_prefix("version: v")
                        .and_then(|v| v.split_whitespace().next())
                        .is_some_and(|v| {
                            let parts: Vec<&str> = v.split('.').collect();
                            parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok())
                        })
                })
                .count();
            assert_eq!(
                pinned,
                body.matches(ACTION_REF).count(),
                "{name}: every use of the action sets version: vX.Y.Z"
            );
        }
    }
    let repo = lint_repo(&workflows);
    let out = run(Command::new(actionlint())
        .current_dir(repo.path())
        .arg("-no-color"));
    assert!(
        out.status.success(),
        "actionlint:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // The same lint rejects a workflow passing an input the action does not have.
    let bad = vec![(
        "bad.yml".to_string(),
        format!(
            "on: push\njobs:\n  p:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: {ACTION_REF}\n        with:\n          command: plan\n          polciy: vetted.toml\n"
        ),
    )];
    let repo = lint_repo(&bad);
    let out = run(Command::new(actionlint())
        .current_dir(repo.path())
        .arg("-no-color"));
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("polciy"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn shellcheck_passes_the_action_and_ci_scripts() {
    let root = repo_root();
    let mut files: Vec<PathBuf> = fs::read_dir(root.join(".github/actions/vetted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(files.len() >= 3, "{files:?}");
    let release: Vec<PathBuf> = fs::read_dir(root.join("scripts/release"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(release.len() >= 6, "{release:?}");
    files.extend(release);
    files.push(root.join("scripts/install-deps.sh"));
    files.push(root.join("scripts/mutants.sh"));
    files.push(root.join(".ci/run"));
    let out = run(Command::new(tool("shellcheck", None, None))
        .current_dir(&root)
        .arg("-x")
        .args(&files));
    assert!(out.status.success(), "shellcheck:\n{}", text(&out.stdout));
}

#[test]
#[should_panic(expected = "is not installed: run `bash scripts/install-deps.sh`")]
fn a_missing_lint_tool_fails_with_the_install_hint() {
    tool("vetted-no-such-linter", Some("VETTED_NO_SUCH_LINTER"), None);
}

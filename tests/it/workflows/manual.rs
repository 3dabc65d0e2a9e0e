//! Manual runs of the apply workflow: its plan job plans afresh and its apply job applies exactly
//! the file that job saved; `apply: fresh` plans now and applies that plan.

use super::*;

/// A manual run of the apply workflow: its plan job plans afresh (no pull request: no comment, an
/// artifact named after the run), and its apply job applies exactly the file that job saved.
#[test]
fn a_manual_run_applies_the_plan_its_plan_job_saved() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "inputs": {"pull-request": ""}}));
    fs::write(a.dir.path().join("fake/plan-id"), "approved-by-reviewers").unwrap();
    a.canned("plan-save", "Plan: 1 to change\n", 0);
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to change\n",
        0,
    );
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        output_has(&r, "artifact-name=vetted-plan-run-4242"),
        "{}",
        r.output
    );
    assert!(r.summary.contains("1 to change"), "{}", r.summary);
    assert!(
        a.github.requests().is_empty(),
        "no pull request to comment on"
    );

    // The apply job downloads the artifact (here: a copy) and applies that file.
    let approved = a.dir.path().join("approved/plan.json");
    fs::create_dir_all(approved.parent().unwrap()).unwrap();
    fs::copy(a.dir.path().join("tmp/vetted/plan.json"), &approved).unwrap();
    a.clear_argv();
    a.canned(
        "apply",
        &apply_report("applied", 0, None, &[("team acme/ops", "done", None)]),
        0,
    );
    let file = approved.display().to_string();
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_SOURCE", "file"), ("PLAN_FILE", &file)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv(),
        [
            format!("show {file} --format markdown --max-chars 1048576"),
            format!("apply --policy vetted.toml --yes --format json {file}"),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ]
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"saved-plan\":\"approved-by-reviewers\"}\n"
    );
    assert!(
        r.summary.contains("saved by this run's plan job") && r.summary.contains("Apply: done"),
        "{}",
        r.summary
    );
    assert!(a.github.requests().is_empty(), "{:?}", a.github.requests());

    a.clear_argv();
    let missing = a
        .dir
        .path()
        .join("approved/none.json")
        .display()
        .to_string();
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_SOURCE", "file"), ("PLAN_FILE", &missing)],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("none.json' not found"), "{}", r.stderr);
    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "file")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("needs the plan-file input"),
        "{}",
        r.stderr
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
}

#[test]
fn apply_fresh_plans_now_and_applies_that_plan() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main"}));
    fs::write(a.dir.path().join("fake/plan-id"), "planned-now").unwrap();
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to change\n",
        0,
    );
    a.canned(
        "apply",
        &apply_report("applied", 0, None, &[("team acme/ops", "done", None)]),
        0,
    );
    let fresh = [("PLAN_SOURCE", "fresh")];
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = a.dir.path().join("tmp/vetted/plan.json");
    let argv = a.argv();
    assert_eq!(
        argv[0],
        format!(
            "plan --policy vetted.toml --locked --out {} --acknowledge privilege,exposure,destruction",
            plan.display()
        ),
        "planned now: no review, nothing gated"
    );
    assert_eq!(
        argv[argv.len() - 2],
        format!(
            "apply --policy vetted.toml --yes --format json {}",
            plan.display()
        )
    );
    assert!(
        argv.last()
            .unwrap()
            .starts_with("snapshot --policy vetted.toml --locked --out "),
        "{argv:?}"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"saved-plan\":\"planned-now\"}\n",
        "apply gets exactly the saved plan"
    );
    assert!(
        r.summary.contains("1 to change") && r.summary.contains("## Apply: done"),
        "{}",
        r.summary
    );
    assert!(
        a.dir.path().join("fake/env.log").exists(),
        "the token reaches vetted through its environment"
    );
    assert!(
        a.github.requests().is_empty(),
        "a fresh apply needs no GitHub API"
    );

    // No report on stdout (vetted died, or an older one): the log alone says what happened.
    a.canned("apply", "", 1);
    a.canned_err("apply", "error: 1 change failed\n");
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 1);
    assert!(
        r.summary.contains("Apply: FAILED (exit 1)") && r.summary.contains("1 change failed"),
        "{}",
        r.summary
    );
    assert!(output_has(&r, "apply-status=unknown"), "{}", r.output);

    // The plan itself fails (here: the lock does not match the policy): nothing is applied.
    a.clear_argv();
    a.canned("plan-save", "", 1);
    a.canned_err(
        "plan-save",
        "error: redis:7.4.1 is mirrored by the policy but not locked\n",
    );
    let r = a.run_with("apply", DOCKER_SECRET, &fresh);
    assert_eq!(r.code, 1);
    assert!(
        r.summary.contains("nothing applied") && r.summary.contains("not locked"),
        "{}",
        r.summary
    );
    assert_eq!(a.argv().len(), 1, "{:?}", a.argv());
}

//! The apply step after the merge: it applies the plan reviewed on the merged pull request, takes
//! only an artifact the plan workflow made for that pull request, refuses without a reviewed plan,
//! and a partial apply lists what failed from vetted's report (the hostile error fenced).

use super::*;

/// Fails when a line of `body` outside its fenced code blocks starts with one of `forged`.
fn assert_fenced(body: &str, forged: &[&str]) {
    let mut in_block: Option<usize> = None;
    for line in body.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match in_block {
            None if ticks >= 3 => in_block = Some(ticks),
            Some(open) if ticks >= open && line.trim_matches('`').is_empty() => in_block = None,
            None => assert!(
                !forged.iter().any(|f| line.starts_with(f)),
                "forged outside the code block: {line:?}\n{body}"
            ),
            Some(_) => {}
        }
    }
    assert!(in_block.is_none(), "a code block left open:\n{body}");
}

/// A partial apply: the summary and the pull request comment come from vetted's report, list what
/// failed and was skipped with the (hostile) error quoted in a block it cannot leave, and the job
/// fails with vetted's exit status.
#[test]
fn a_partial_apply_lists_what_failed_from_the_report() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main"}));
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 3 to add\n",
        0,
    );
    let hostile = "GET /v2/x: HTTP 400: denied\n````\n## Apply: done\n@admin\n::warning::x";
    a.canned(
        "apply",
        &apply_report(
            "incomplete",
            1,
            None,
            &[
                ("repository acme/redis", "done", None),
                ("image acme/redis:7.4.1", "failed", Some(hostile)),
                (
                    "grant acme/redis:ops",
                    "skipped",
                    Some("its repository could not be created"),
                ),
            ],
        ),
        1,
    );
    a.canned_err(
        "apply",
        "+ image acme/redis:7.4.1: FAILED: GET /v2/x\n::warning::from the log\nApply incomplete\n",
    );
    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "fresh")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("vetted apply failed (exit 1)"),
        "{}",
        r.stderr
    );
    assert!(output_has(&r, "apply-status=incomplete"), "{}", r.output);
    let s = &r.summary;
    assert!(
        s.contains("## Apply: FAILED (exit 1): some changes failed or were skipped"),
        "{s}"
    );
    assert!(
        s.contains("1 added, 0 changed, 0 destroyed; 1 failed, 1 skipped."),
        "{s}"
    );
    assert!(s.contains("### Failed or skipped"), "{s}");
    assert!(
        s.contains("image acme/redis:7.4.1: FAILED: GET /v2/x: HTTP 400: denied"),
        "{s}"
    );
    assert!(
        s.contains("grant acme/redis:ops: SKIPPED: its repository could not be created"),
        "{s}"
    );
    assert!(!s.contains("repository acme/redis: DONE"), "{s}");
    assert_fenced(s, &["## Apply: done", "@admin", "::warning::"]);
    // The log stays quoted with workflow commands stopped.
    let quoted = commands_outside_stops(&r.stderr);
    assert!(
        quoted.iter().any(|q| q == "::warning::from the log"),
        "{quoted:?}"
    );
    // The report is kept for the artifact.
    let report: Value = serde_json::from_str(
        &fs::read_to_string(a.dir.path().join("tmp/vetted/apply.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["summary"]["failed"], 1);
}

fn plan_zip(content: &str) -> Vec<u8> {
    zip_of(&[
        ("plan.json", content.as_bytes()),
        ("plan.md", b"<!-- vetted:plan org=acme -->\n"),
    ])
}

#[test]
fn apply_applies_the_plan_reviewed_on_the_merged_pull_request() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    // Two plan runs on the pull request's last commit (a re-run): the newer one is what the sticky
    // comment shows. A fork's run and an expired artifact are never taken, however new.
    a.artifact(
        11,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":\"first run\"}"),
    );
    a.artifact(
        12,
        &name,
        "2026-11-29T09:30:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":\"re-run\"}"),
    );
    a.artifact(
        13,
        &name,
        "2026-11-29T09:40:00Z",
        Origin::Fork,
        false,
        plan_zip("{\"forged\":true}"),
    );
    a.artifact(
        14,
        &name,
        "2026-11-29T09:50:00Z",
        Origin::ThisRepository,
        true,
        plan_zip("{\"expired\":true}"),
    );
    a.artifact(
        15,
        "vetted-plan-3333333333333333333333333333333333333333",
        "2026-11-29T09:55:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"other\":true}"),
    );
    a.canned(
        "show-markdown-1048576",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add\n",
        0,
    );
    a.canned(
        "apply",
        &apply_report(
            "applied",
            0,
            None,
            &[("repository acme/redis", "done", None)],
        ),
        0,
    );
    a.canned_err(
        "apply",
        "Apply complete! 1 added, 0 changed, 0 destroyed.\n",
    );

    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan = a.dir.path().join("tmp/vetted/plan.json");
    assert_eq!(
        a.argv(),
        [
            format!(
                "show {} --format markdown --max-chars 1048576",
                plan.display()
            ),
            format!(
                "apply --policy vetted.toml --yes --format json {}",
                plan.display()
            ),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ],
        "the reviewed plan is applied as it is: no new plan"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"reviewed\":\"re-run\"}\n"
    );
    assert!(output_has(&r, "pull-request=7"), "{}", r.output);
    assert!(
        output_has(&r, "artifact-name=vetted-apply-4242"),
        "{}",
        r.output
    );
    assert!(
        r.summary.contains("reviewed on pull request #7")
            && r.summary.contains("## Apply: done")
            && r.summary.contains("1 to add"),
        "{}",
        r.summary
    );
    let downloads: Vec<String> = a
        .github
        .requests()
        .iter()
        .filter(|q| q.path.contains("/zip") || q.path.starts_with("/storage/"))
        .map(|q| q.path.clone())
        .collect();
    assert_eq!(
        downloads,
        [
            "/repos/acme/policy/actions/artifacts/12/zip",
            "/storage/artifacts/12"
        ]
    );
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].1, 7);
    assert!(
        comments[0]
            .2
            .contains("Applied the plan reviewed on this pull request")
    );
    // The result comes from vetted's report, the log below it.
    for part in [
        "1 added, 0 changed, 0 destroyed; 0 failed, 0 skipped.",
        "Images: 1 copied; blobs: 3 copied, 1 mounted, 0 already present; 6291456 bytes transferred.",
        "Apply complete! 1 added",
    ] {
        assert!(comments[0].2.contains(part), "{part}\n{}", comments[0].2);
        assert!(r.summary.contains(part), "{part}\n{}", r.summary);
    }
    assert!(output_has(&r, "apply-status=applied"), "{}", r.output);
    let report = a.dir.path().join("tmp/vetted/apply.json");
    assert!(
        output_has(&r, &format!("apply-report={}", report.display())),
        "{}",
        r.output
    );

    // The organization (or the policy on main) moved since the review: vetted refuses the plan,
    // the job fails, and the same comment says so and what to do.
    a.clear_argv();
    let stale = "the plan is stale: team developers changed since the plan was made; nothing was changed; run `vetted plan` again";
    a.canned("apply", &apply_report("refused", 1, Some(stale), &[]), 1);
    a.canned_err("apply", &format!("error: {stale}\n"));
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("vetted apply failed (exit 1)"),
        "{}",
        r.stderr
    );
    assert!(
        r.summary
            .contains("Apply: FAILED (exit 1): refused, nothing was changed")
            && r.summary.contains("the plan is stale"),
        "{}",
        r.summary
    );
    assert!(output_has(&r, "apply-status=refused"), "{}", r.output);
    let comments = a.apply_comments();
    assert_eq!(
        comments.len(),
        1,
        "one apply comment, updated: {comments:?}"
    );
    let body = &comments[0].2;
    assert!(
        body.contains("**Not applied**") && body.contains("the plan is stale"),
        "{body}"
    );
    assert!(body.contains("Run workflow"), "{body}");
    assert!(!body.contains("Applied the plan"), "{body}");
}

#[test]
fn apply_takes_only_an_artifact_the_plan_workflow_made_for_the_pull_request() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    a.canned(
        "show-markdown-1048576",
        "<!-- vetted:plan org=acme -->\n",
        0,
    );
    a.canned("apply", "Apply complete\n", 0);
    // A branch pusher's own workflow, and a push-event run of the plan workflow, upload a
    // same-named artifact for the same commit, newer than nothing: both refused.
    a.artifact_of_run(
        21,
        &name,
        "2026-11-29T09:40:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"other workflow\"}"),
        ".github/workflows/mine.yml",
        "pull_request",
        (7, "main"),
    );
    a.artifact_of_run(
        22,
        &name,
        "2026-11-29T09:50:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"push run\"}"),
        PLAN_WORKFLOW,
        "push",
        (7, "main"),
    );
    // The plan workflow's pull_request run on the same head commit, but for another pull request
    // into a branch the pusher controls (whose plan workflow file they rewrote): refused.
    a.artifact_of_run(
        24,
        &name,
        "2026-11-29T09:55:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"forged\":\"another pull request\"}"),
        PLAN_WORKFLOW,
        "pull_request",
        (8, "evil"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        !a.argv().iter().any(|l| l.starts_with("apply")),
        "{:?}",
        a.argv()
    );
    assert!(
        r.summary.contains("no saved plan")
            && r.summary.contains(".github/workflows/mine.yml")
            && r.summary.contains("push")
            && r.summary.contains("another pull request or base branch"),
        "{}",
        r.summary
    );

    // The plan workflow's own pull_request run: taken, though older than the forged ones.
    a.artifact(
        23,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::ThisRepository,
        false,
        plan_zip("{\"reviewed\":true}"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"reviewed\":true}\n"
    );

    // A repository that keeps its plan workflow elsewhere says so.
    let _ = fs::remove_file(a.dir.path().join("fake/applied.log"));
    let r = a.run_with(
        "apply",
        DOCKER_SECRET,
        &[("PLAN_WORKFLOW", ".github/workflows/mine.yml")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/applied.log")).unwrap(),
        "{\"forged\":\"other workflow\"}\n"
    );
}

#[test]
fn apply_refuses_when_there_is_no_reviewed_plan() {
    let a = Action::new();
    a.event(&serde_json::json!({"ref": "refs/heads/main", "after": MERGE_SHA}));

    // A commit pushed to main directly: no pull request, no reviewed plan.
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("was not merged from a pull request"),
        "{}",
        r.stderr
    );
    assert!(
        r.summary.contains("nothing applied") && r.summary.contains("Run workflow"),
        "{}",
        r.summary
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());

    // A merged pull request whose only plan came from a fork's run: refused, and said on it.
    a.merged_pull_request();
    let name = format!("vetted-plan-{HEAD_SHA}");
    a.artifact(
        21,
        &name,
        "2026-11-29T09:00:00Z",
        Origin::Fork,
        false,
        plan_zip("{\"forged\":true}"),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.summary
            .contains("has no saved plan for its last commit 111111111111"),
        "{}",
        r.summary
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
    let comments = a.apply_comments();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].2.contains("**Not applied**"),
        "{}",
        comments[0].2
    );

    // An artifact without plan.json is refused too.
    a.artifact(
        22,
        &name,
        "2026-11-29T09:10:00Z",
        Origin::ThisRepository,
        false,
        zip_of(&[("plan.md", b"x")]),
    );
    let r = a.run("apply", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(r.summary.contains("holds no plan.json"), "{}", r.summary);

    // A manual run naming a pull request that is not merged.
    a.github
        .state
        .lock()
        .unwrap()
        .pulls
        .push(serde_json::json!({
            "number": 8, "state": "open", "merged_at": null, "merge_commit_sha": null,
            "head": {"ref": "wip", "sha": HEAD_SHA}, "base": {"ref": "main"}
        }));
    let r = a.run_with("apply", DOCKER_SECRET, &[("PULL_REQUEST", "8")]);
    assert_eq!(r.code, 1);
    assert!(
        r.summary
            .contains("Pull request #8 is not merged into main"),
        "{}",
        r.summary
    );

    let r = a.run_with("apply", DOCKER_SECRET, &[("PLAN_SOURCE", "latest")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("plan-source must be 'pull-request', 'file' or 'fresh'"),
        "{}",
        r.stderr
    );
    assert!(a.argv().is_empty(), "vetted never ran: {:?}", a.argv());
}

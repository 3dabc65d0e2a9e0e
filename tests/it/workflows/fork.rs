//! Snapshots: drift and apply save one (a failed save fails nothing), and a pull request from a
//! fork plans against the newest snapshot of the drift or apply workflow, or without one (or with
//! one vetted refuses) gets the offline checks only.

use super::*;

const DRIFT_WORKFLOW: &str = ".github/workflows/vetted-drift.yml";
const APPLY_WORKFLOW: &str = ".github/workflows/vetted-apply.yml";

#[test]
fn plan_on_a_fork_without_a_snapshot_runs_the_offline_checks_only() {
    let a = Action::new();
    a.event(&pr_event(true));
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv(),
        [
            "validate --policy vetted.toml",
            "lock --policy vetted.toml --locked"
        ]
    );
    assert!(output_has(&r, "mode=validate-only"), "{}", r.output);
    assert!(
        r.summary.contains("comes from a fork")
            && r.summary.contains("no plan was computed")
            && r.summary
                .contains("no unexpired `vetted-snapshot` artifact"),
        "{}",
        r.summary
    );
    let requests: Vec<String> = a
        .github
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        requests,
        ["GET /repos/acme/policy/actions/artifacts?name=vetted-snapshot&per_page=100"],
        "a fork's run only looks for a snapshot"
    );
    assert!(
        !a.dir.path().join("fake/env.log").exists(),
        "no Docker Hub token on forks"
    );

    // A fork with an invalid policy fails, with the errors in the summary.
    a.clear_argv();
    a.canned("validate", "", 1);
    a.canned_err(
        "validate",
        "vetted.toml:3:1: unknown key `membrs` (did you mean `members`?)\n",
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 1);
    assert!(r.summary.contains("unknown key `membrs`"), "{}", r.summary);
    assert_eq!(a.argv(), ["validate --policy vetted.toml"]);
}

#[test]
fn drift_and_apply_save_a_snapshot_and_a_failed_one_fails_nothing() {
    let a = Action::new();
    a.event(&serde_json::json!({"schedule": "17 6 * * *"}));
    a.canned("plan-drift", "No changes.\n", 0);
    fs::write(a.dir.path().join("fake/snapshot-id"), "from-drift").unwrap();
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap = a.dir.path().join("tmp/vetted/snapshot.json");
    assert!(
        output_has(&r, &format!("snapshot-file={}", snap.display()))
            && output_has(&r, "snapshot-artifact=vetted-snapshot"),
        "{}",
        r.output
    );
    assert_eq!(
        fs::read_to_string(&snap).unwrap(),
        "{\"snapshot\":\"from-drift\"}\n"
    );
    assert!(
        a.dir.path().join("fake/env.log").exists(),
        "the snapshot reads with the token"
    );

    // vetted snapshot fails: the drift check still succeeds, and nothing is uploaded.
    a.canned("snapshot", "", 1);
    a.canned_err("snapshot", "error: HTTP 503\n::warning::forged\n");
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.output.contains("snapshot-file="), "{}", r.output);
    assert!(!snap.exists());
    assert!(
        r.stderr
            .contains("could not save a snapshot of the organization"),
        "{}",
        r.stderr
    );
    let quoted = commands_outside_stops(&r.stderr);
    assert!(
        quoted.iter().any(|q| q == "::warning::forged"),
        "{quoted:?}"
    );
}

#[test]
fn a_fork_plans_against_the_newest_snapshot_of_the_drift_or_apply_workflow() {
    let a = Action::new();
    a.event(&pr_event(true));
    // Newest first: a fork's run uploading a "snapshot", the plan workflow's, a push to another
    // branch, a pull request run of the drift workflow (its file comes from the pull request):
    // all refused. Then the apply workflow's on main (taken), and an older drift one.
    let t = |h: u32| format!("2026-12-02T{h:02}:00:00Z");
    a.snapshot_artifact(
        61,
        &t(12),
        Origin::Fork,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{\"forged\":1}",
    );
    a.snapshot_artifact(
        62,
        &t(11),
        Origin::ThisRepository,
        PLAN_WORKFLOW,
        "pull_request",
        "feature",
        "{\"plan\":1}",
    );
    a.snapshot_artifact(
        63,
        &t(10),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "push",
        "feature",
        "{\"branch\":1}",
    );
    a.snapshot_artifact(
        64,
        &t(9),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "pull_request",
        "main",
        "{\"pr\":1}",
    );
    a.snapshot_artifact(
        65,
        &t(8),
        Origin::ThisRepository,
        APPLY_WORKFLOW,
        "push",
        "main",
        "{\"applied\":1}",
    );
    a.snapshot_artifact(
        66,
        &t(6),
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{\"older\":1}",
    );
    a.canned(
        "plan-snapshot",
        "<!-- vetted:plan org=acme -->\n### vetted plan for `acme`\n\n> **Offline plan**: based on a snapshot of acme taken 3 h ago (2026-12-02T08:00:00Z), not on the live organization; it cannot be applied.\n\n**Plan: 1 to add, 0 to change, 0 to destroy.**\n",
        0,
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let snap = a.dir.path().join("tmp/vetted/snapshot.json");
    assert_eq!(
        a.argv(),
        [
            "validate --policy vetted.toml".to_string(),
            "lock --policy vetted.toml --locked".to_string(),
            format!(
                "plan --policy vetted.toml --locked --format markdown --snapshot {}",
                snap.display()
            )
        ],
        "never --out: a plan from a snapshot is not saved for apply"
    );
    assert_eq!(
        fs::read_to_string(a.dir.path().join("fake/planned-snapshot.json")).unwrap(),
        "{\"applied\":1}",
        "the apply workflow's snapshot on main, the newest acceptable one"
    );
    assert!(output_has(&r, "mode=plan-from-snapshot"), "{}", r.output);
    assert!(output_has(&r, "snapshot-artifact=65"), "{}", r.output);
    assert!(
        !r.output.contains("artifact-name="),
        "no plan artifact: {}",
        r.output
    );
    assert!(
        !a.dir.path().join("fake/env.log").exists(),
        "no Docker Hub token on forks"
    );
    // The fork's own artifact is left out by the listing's filter; the others by their run.
    for refused in ["62", "63", "64"] {
        assert!(
            r.stderr
                .contains(&format!("snapshot artifact {refused} refused")),
            "{refused}: {}",
            r.stderr
        );
    }
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
    let body = &s.comments[0].2;
    assert!(
        body.starts_with("<!-- vetted:plan org=acme -->\n> This pull request comes from a fork"),
        "{body}"
    );
    assert!(
        body.contains("taken 3 h ago")
            && body.contains("artifact 65")
            && body.contains("never applied"),
        "{body}"
    );
    assert!(r.summary.contains("taken 3 h ago"), "{}", r.summary);
    let writes: Vec<String> = s
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, ["POST /repos/acme/policy/issues/7/comments"]);
    // The fork's artifact was never downloaded, nor any refused one.
    assert!(
        s.requests
            .iter()
            .filter(|r| r.path.contains("/zip"))
            .all(|r| r.path.contains("/artifacts/65/zip")),
        "{:?}",
        s.requests
    );
}

#[test]
fn a_fork_whose_snapshot_vetted_refuses_gets_the_offline_checks() {
    let a = Action::new();
    a.event(&pr_event(true));
    a.snapshot_artifact(
        70,
        "2026-12-02T08:00:00Z",
        Origin::ThisRepository,
        DRIFT_WORKFLOW,
        "schedule",
        "main",
        "{}",
    );
    a.canned("plan-snapshot", "", 1);
    a.canned_err(
        "plan-snapshot",
        "error: the snapshot `snapshot.json` was changed after it was written\n",
    );
    let r = a.run("plan", "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(output_has(&r, "mode=validate-only"), "{}", r.output);
    assert!(
        r.summary.contains("vetted could not plan against it"),
        "{}",
        r.summary
    );
    assert!(
        r.stderr.contains("was changed after it was written"),
        "{}",
        r.stderr
    );
    assert!(a.github.state.lock().unwrap().comments.is_empty());
}

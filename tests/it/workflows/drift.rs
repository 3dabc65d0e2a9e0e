//! The drift check: one issue opened, updated and closed; a plan comment without vetted's marker
//! gets the action's own, a custom drift label is honoured, and fail-on-drift fails the job with
//! the issue still updated.

use super::*;

#[test]
fn drift_opens_updates_and_closes_one_issue() {
    let a = Action::new();
    a.event(&serde_json::json!({"schedule": "17 6 * * *"}));
    let issues = |a: &Action| a.github.state.lock().unwrap().issues.clone();

    // In sync, no issue: nothing is written.
    a.canned("plan-drift", "No changes.\n", 0);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(output_has(&r, "drifted=false"));
    assert!(issues(&a).is_empty());
    assert_eq!(
        a.argv(),
        [
            "plan --policy vetted.toml --locked --format markdown --detailed-exitcode --drift --acknowledge privilege,exposure,destruction"
                .to_string(),
            format!(
                "snapshot --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/snapshot.json").display()
            )
        ]
    );

    // Drifted: one issue opened, labelled, with the plan.
    a.canned(
        "plan-drift",
        "## 1 to change\nteam dev: member bob removed out of band\n",
        2,
    );
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        output_has(&r, "drifted=true") && output_has(&r, "issue=1"),
        "{}",
        r.output
    );
    let list = issues(&a);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["labels"][0]["name"], "vetted-drift");
    assert!(
        list[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("<!-- vetted:drift org=acme -->")
    );
    assert!(
        list[0]["body"]
            .as_str()
            .unwrap()
            .contains("member bob removed")
    );

    // Still drifted, differently: the same issue is updated.
    a.canned(
        "plan-drift",
        "## 2 to change\nrepository acme/tool made public\n",
        2,
    );
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = issues(&a);
    assert_eq!(list.len(), 1);
    assert!(list[0]["body"].as_str().unwrap().contains("made public"));
    assert!(!list[0]["body"].as_str().unwrap().contains("member bob"));

    // Back in sync: closed with a comment.
    a.canned("plan-drift", "No changes.\n", 0);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = issues(&a);
    assert_eq!(list[0]["state"], "closed");
    let comments = a.github.state.lock().unwrap().comments.clone();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].2.contains("Back in sync") && comments[0].2.contains("/actions/runs/4242"));

    // Drifted again later: a fresh issue (the closed one stays closed).
    a.canned("plan-drift", "## 1 to change\n", 2);
    a.run("drift", DOCKER_SECRET);
    let list = issues(&a);
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["state"], "open");

    // vetted fails: the job fails and the issue is left alone.
    let before = a.github.requests().len();
    a.canned("plan-drift", "", 1);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert_eq!(a.github.requests().len(), before);
}

#[test]
fn plan_without_a_marker_gets_one_and_drift_honours_a_custom_label() {
    let a = Action::new();
    a.event(&pr_event(false));
    // Output without vetted's marker line: the action adds its own, still one comment per push.
    a.canned("show-markdown", "## vetted plan: no changes\n", 0);
    for _ in 0..2 {
        let r = a.run("plan", DOCKER_SECRET);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 1, "{:?}", s.comments);
        assert_eq!(
            s.comments[0].2,
            "<!-- vetted:plan org=acme -->\n## vetted plan: no changes\n"
        );
    }
    assert!(
        a.argv()
            .iter()
            .any(|l| l.starts_with("show ") && l.ends_with("--format json"))
    );
    assert!(a.dir.path().join("tmp/vetted/plan-report.json").is_file());

    a.canned("plan-drift", "## 1 to change\n", 2);
    let label = [("DRIFT_LABEL", "policy drift/vetted")];
    for _ in 0..2 {
        let r = a.run_with("drift", DOCKER_SECRET, &label);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let s = a.github.state.lock().unwrap();
    assert_eq!(
        s.issues.len(),
        1,
        "found again by its label: {:?}",
        s.issues
    );
    assert_eq!(s.issues[0]["labels"][0]["name"], "policy drift/vetted");

    // fail-on-drift turns the drifted state into a failed job, the issue still updated.
    drop(s);
    let r = a.run_with(
        "drift",
        DOCKER_SECRET,
        &[label[0], ("FAIL_ON_DRIFT", "true")],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("drifted from the policy (issue #1)"),
        "{}",
        r.stderr
    );
    assert_eq!(a.github.state.lock().unwrap().issues.len(), 1);
}

//! The plan job and the policy's `[review]`: the `ack_label` on the pull request (read from the fake
//! GitHub API) becomes `--acknowledge`; without it a refused plan is still commented, opened by an
//! "Acknowledgement required" note, and the job fails. The drift check acknowledges every class.

use super::*;

const GATED_POLICY: &str = "org = \"acme\"\n\n[members]\nowners = [\"alice\"]\n\n[review]\nrequire_acknowledgement = [\"privilege\"]\nack_label = \"vetted:acknowledged\"\n";

const ALL: &str = "--acknowledge privilege,exposure,destruction";

fn gated_action(labels: &[&str]) -> Action {
    let a = Action::new();
    fs::write(a.ws().join("vetted.toml"), GATED_POLICY).unwrap();
    a.event(&pr_event(false));
    let labels: Vec<Value> = labels
        .iter()
        .map(|l| serde_json::json!({"name": l}))
        .collect();
    a.github
        .state
        .lock()
        .unwrap()
        .pulls
        .push(serde_json::json!({
            "number": 7, "state": "open", "labels": labels,
            "head": {"ref": "feature", "sha": HEAD_SHA}, "base": {"ref": "main"}
        }));
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n### vetted plan for `acme`\n\n> [!WARNING]\n> **Needs attention: 1 change(s) (privilege 1)**\n",
        0,
    );
    a
}

fn plan_call(a: &Action) -> String {
    a.argv()
        .into_iter()
        .find(|l| l.starts_with("plan "))
        .unwrap_or_default()
}

#[test]
fn the_ack_label_on_the_pull_request_acknowledges_the_plan() {
    let a = gated_action(&["bug", "vetted:acknowledged"]);
    a.canned("plan-save", "Plan: 1 to change\n", 0);
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        plan_call(&a),
        format!(
            "plan --policy vetted.toml --locked --out {} {ALL}",
            a.dir.path().join("tmp/vetted/plan.json").display()
        )
    );
    let s = a.github.state.lock().unwrap();
    assert!(
        s.requests
            .iter()
            .any(|r| r.method == "GET" && r.path == "/repos/acme/policy/pulls/7"),
        "labels read from the API"
    );
    assert!(!s.comments[0].2.contains("Acknowledgement required"));
}

#[test]
fn new_commits_take_the_label_off() {
    let a = gated_action(&["vetted:acknowledged"]);
    let mut event = pr_event(false);
    event["action"] = "synchronize".into();
    a.event(&event);
    a.canned("plan-save", "", 0);
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !plan_call(&a).contains("--acknowledge"),
        "{}",
        plan_call(&a)
    );
    let s = a.github.state.lock().unwrap();
    assert!(
        s.requests.iter().any(|r| r.method == "DELETE"
            && r.path == "/repos/acme/policy/issues/7/labels/vetted%3Aacknowledged"),
        "{:?}",
        s.requests
    );
    assert_eq!(s.pulls[0]["labels"], serde_json::json!([]));
}

#[test]
fn without_the_label_the_plan_is_commented_and_the_job_fails() {
    let a = gated_action(&["vetted:acknowledged-not"]);
    a.canned("plan-save", "Plan: 1 to change\n", 1);
    a.canned_err(
        "plan-save",
        "Saved the plan to plan.json\nerror: this plan needs acknowledgement: it holds 1 privilege change(s) (listed under \"Needs attention\"), a class the policy's [review] require_acknowledgement lists. After review, acknowledge with `vetted plan --acknowledge privilege`, or on a pull request the label `vetted:acknowledged` (the vetted action checks it). apply is not gated.\n",
    );
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("::error::the plan holds changes"),
        "{}",
        r.stderr
    );
    assert!(
        !plan_call(&a).contains("--acknowledge"),
        "{}",
        plan_call(&a)
    );
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 1);
    let body = &s.comments[0].2;
    assert!(
        body.starts_with("<!-- vetted:plan org=acme -->\n"),
        "{body}"
    );
    let notice = body.find("**Acknowledgement required.**").expect(body);
    let plan = body.find("Needs attention").expect(body);
    assert!(notice < plan, "{body}");
    assert!(
        body.contains("```\nerror: this plan needs acknowledgement"),
        "vetted's reason, fenced: {body}"
    );
    // The saved plan is still offered as the artifact (apply is not gated).
    assert!(
        output_has(&r, &format!("artifact-name=vetted-plan-{HEAD_SHA}")),
        "{}",
        r.output
    );
    assert!(
        r.summary.contains("Acknowledgement required"),
        "{}",
        r.summary
    );
}

#[test]
fn a_plan_that_fails_otherwise_is_still_a_failure() {
    let a = gated_action(&[]);
    a.canned("plan-save", "", 1);
    a.canned_err("plan-save", "error: Docker Hub answered 503\n");
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("vetted plan failed"), "{}", r.stderr);
    let s = a.github.state.lock().unwrap();
    assert!(s.comments[0].2.contains("# vetted plan failed"));
}

#[test]
fn no_label_setting_no_label_lookup_and_drift_acknowledges_everything() {
    let a = Action::new();
    a.event(&pr_event(false));
    a.canned("plan-save", "", 0);
    a.canned("show-markdown", "<!-- vetted:plan org=acme -->\nok\n", 0);
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!plan_call(&a).contains("--acknowledge"));
    assert!(
        !a.github
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/repos/acme/policy/pulls")),
        "labels are read only for an ack_label"
    );

    a.clear_argv();
    a.event(&serde_json::json!({"repository": {"full_name": "acme/policy"}}));
    a.canned("plan-drift", "", 0);
    let r = a.run("drift", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(plan_call(&a).ends_with(ALL), "{:?}", a.argv());
}

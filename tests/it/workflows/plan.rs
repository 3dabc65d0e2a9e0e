//! The plan step on a pull request: one sticky comment, updated; validation errors failing the job
//! and said in the comment; the summary and the comment truncated at their limits; and vetted's
//! output unable to start a workflow command or leave its code block.

use super::*;

#[test]
fn plan_posts_one_sticky_comment_and_updates_it() {
    let a = Action::new();
    a.event(&pr_event(false));
    // A reviewer's comment is there already and must stay untouched.
    a.github
        .state
        .lock()
        .unwrap()
        .comments
        .push((1, 7, "LGTM once the plan is green".into()));
    a.canned("plan-save", "Plan: 1 to add\n", 0);
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add\n\n+ team dev\n",
        0,
    );

    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        a.argv()[..3],
        [
            "validate --policy vetted.toml",
            "lock --policy vetted.toml --locked",
            &format!(
                "plan --policy vetted.toml --locked --out {}",
                a.dir.path().join("tmp/vetted/plan.json").display()
            )
        ]
    );
    assert!(
        a.argv()[3].starts_with("show ") && a.argv()[3].ends_with("--format markdown"),
        "{:?}",
        a.argv()
    );
    assert_eq!(
        a.argv()[4],
        format!(
            "show {} --format markdown --max-chars 1048576",
            a.dir.path().join("tmp/vetted/plan.json").display()
        ),
        "the job summary gets the plan rendered for its 1 MiB"
    );
    assert!(output_has(&r, "mode=plan"), "{}", r.output);
    assert!(
        output_has(&r, &format!("artifact-name=vetted-plan-{HEAD_SHA}")),
        "{}",
        r.output
    );
    assert!(
        r.summary.contains("+ team dev") && r.summary.contains("Plan: 1 to add"),
        "{}",
        r.summary
    );
    assert!(a.dir.path().join("tmp/vetted/plan.json").is_file());
    {
        let s = a.github.state.lock().unwrap();
        assert_eq!(s.comments.len(), 2);
        assert!(
            s.comments[1]
                .2
                .starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 1 to add")
        );
        assert!(
            output_has(&r, &format!("comment-id={}", s.comments[1].0)),
            "{}",
            r.output
        );
    }

    // A new push: the same comment is edited, none added.
    a.canned(
        "show-markdown",
        "<!-- vetted:plan org=acme -->\n## vetted plan: 2 to add\n",
        0,
    );
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 2, "{:?}", s.comments);
    assert_eq!(s.comments[0].2, "LGTM once the plan is green");
    assert!(s.comments[1].2.contains("2 to add") && !s.comments[1].2.contains("1 to add"));
    let writes: Vec<String> = s
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let id = s.comments[1].0;
    assert_eq!(
        writes,
        [
            "POST /repos/acme/policy/issues/7/comments".to_string(),
            format!("PATCH /repos/acme/policy/issues/comments/{id}")
        ]
    );
}

#[test]
fn plan_fails_on_validation_errors_and_says_so_in_the_comment() {
    let a = Action::new();
    a.event(&pr_event(false));
    a.canned("validate", "", 1);
    a.canned_err("validate", "vetted.toml:2:1: unknown key `membrs`\n");
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("validation failed"), "{}", r.stderr);
    assert_eq!(
        a.argv(),
        ["validate --policy vetted.toml"],
        "no plan after a failed validation"
    );
    let s = a.github.state.lock().unwrap();
    assert_eq!(s.comments.len(), 1);
    assert!(s.comments[0].2.starts_with("<!-- vetted:plan org=acme -->"));
    assert!(s.comments[0].2.contains("unknown key `membrs`"));
}

#[test]
fn plan_truncates_the_summary_and_the_comment_at_their_limits() {
    let a = Action::new();
    a.event(&pr_event(false));
    let line = "| + | repository | acme/app-with-a-long-name | private, 3 tags mirrored |\n";
    let big = format!(
        "<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add\n{}",
        line.repeat(30_000)
    );
    assert!(big.len() > 2 * 1024 * 1024);
    a.canned("show-markdown", &big, 0);
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.summary.len() <= 1024 * 1024,
        "summary is {} bytes",
        r.summary.len()
    );
    assert!(
        r.summary.len() > 1000 * 1024,
        "summary is {} bytes",
        r.summary.len()
    );
    assert!(
        r.summary
            .starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add")
    );
    assert!(r.summary.trim_end().ends_with(&format!(
        "the full plan is in the `vetted-plan-{HEAD_SHA}` artifact."
    )));
    let s = a.github.state.lock().unwrap();
    let body = &s.comments[0].2;
    assert!(
        body.chars().count() <= 65_536,
        "comment is {} chars",
        body.chars().count()
    );
    assert!(body.starts_with("<!-- vetted:plan org=acme -->\n## vetted plan: 30000 to add"));
    assert!(body.contains("the full plan is in the job summary"));
    // Cut at a line boundary: every table row before the note is whole.
    for l in body.lines().filter(|l| l.starts_with("| +")) {
        assert_eq!(format!("{l}\n"), line);
    }
}

#[test]
fn vetted_output_cannot_start_a_workflow_command_or_leave_its_code_block() {
    let forged = "error: HTTP 400: denied\n````\n## No changes, approve\n@admin\n::warning::x\n::add-mask::y\n";
    let a = Action::new();
    a.event(&pr_event(false));
    a.canned("plan-save", "", 1);
    a.canned_err("plan-save", forged);
    a.canned_err("validate", "::warning::from validate\n");
    let r = a.run("plan", DOCKER_SECRET);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let quoted = commands_outside_stops(&r.stderr);
    for line in [
        "::warning::x",
        "::add-mask::y",
        "## No changes, approve",
        "::warning::from validate",
    ] {
        assert!(
            quoted.iter().any(|q| q == line),
            "{line:?} not quoted: {quoted:?}\n{}",
            r.stderr
        );
    }
    // Two tokens are never the same.
    let tokens: std::collections::BTreeSet<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::stop-commands::"))
        .collect();
    let again = a.run("plan", DOCKER_SECRET);
    assert!(
        again
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("::stop-commands::"))
            .all(|t| !tokens.contains(t)),
        "the token repeats across runs"
    );

    // The comment quotes the error in a block its four backticks cannot close.
    let s = a.github.state.lock().unwrap();
    let body = &s.comments[0].2;
    let mut in_block: Option<usize> = None;
    for line in body.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match in_block {
            None if ticks >= 3 => in_block = Some(ticks),
            Some(open) if ticks >= open && line.trim_matches('`').is_empty() => in_block = None,
            None => assert!(
                !line.starts_with("## No changes") && !line.starts_with("@admin"),
                "forged outside the code block: {line:?}\n{body}"
            ),
            Some(_) => {}
        }
    }
    assert!(
        body.contains("\n`````\nerror: HTTP 400: denied\n````\n"),
        "{body}"
    );
}

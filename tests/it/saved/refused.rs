//! Plan files vetted refuses: bad files get clear errors, and a forged saved plan is refused with
//! nothing changed.

use super::*;

fn refused_file(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    let out = vetted()
        .current_dir(dir)
        .args(["apply", "--yes", name])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let show = vetted()
        .current_dir(dir)
        .args(["show", name])
        .output()
        .unwrap();
    assert_eq!(code(&show), 1);
    assert_eq!(stderr(&show), stderr(&out));
    stderr(&out)
}

#[test]
fn bad_plan_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = refused_file(d, "garbage.json", "{ not json");
    assert!(
        err.starts_with("error: garbage.json: not a saved plan: invalid JSON at line 1 column 3"),
        "{err}"
    );
    let err = refused_file(
        d,
        "plan-format.json",
        r#"{"format_version": "1", "org": "acme", "changes": [], "notes": [], "api_calls": 0}"#,
    );
    assert!(err.contains("no `kind` field"), "{err}");
    assert!(err.contains("write one with `vetted plan --out`"), "{err}");
    let err = refused_file(
        d,
        "future.json",
        r#"{"kind": "vetted-saved-plan", "format_version": "7", "vetted_version": "9.0.0"}"#,
    );
    assert!(
        err.contains("saved plan format \"7\" (written by vetted 9.0.0) is not supported"),
        "{err}"
    );
    let err = refused_file(
        d,
        "truncated.json",
        r#"{"kind": "vetted-saved-plan", "format_version": "3", "org": "acme"}"#,
    );
    assert!(err.contains("corrupt saved plan at line 1"), "{err}");
    assert!(err.contains("missing field"), "{err}");
    let out = vetted()
        .current_dir(d)
        .args(["show", "missing.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("missing.json: cannot read the saved plan"),
        "{}",
        stderr(&out)
    );
}

/// An organization where a one-line plan is reviewed: the API's description changes.
fn forge_seed() -> String {
    format!(
        r#"{}
[users.mallory]

[teams.developers]
description = "Application developers"
members = ["bob", "carol"]

[repositories.api]
private = true
description = "Our API"
grants = {{ developers = "write" }}

[repositories.beta]
private = true
"#,
        seed()
    )
}

/// Writes `plan.json` with `edit` applied to its `plan.changes`, fingerprints kept.
fn forge(sb: &Sandbox, reviewed: &Value, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut forged = reviewed.clone();
    let changes = forged["plan"]["changes"].as_array_mut().unwrap();
    edit(changes);
    std::fs::write(
        sb.path().join("plan.json"),
        serde_json::to_string_pretty(&forged).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_forged_saved_plan_is_refused_and_changes_nothing() {
    let sb = Sandbox::start(&forge_seed(), &[]);
    sb.write_policy(
        "vetted.toml",
        &POLICY.replace("\"Our API\"", "\"Our API, version 2\""),
    );
    plan_out(&sb, "vetted.toml", &[]);
    let reviewed: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(
        reviewed["plan"]["changes"].as_array().unwrap().len(),
        1,
        "a one-line plan: {reviewed}"
    );
    let before = org_state(&sb);

    let owner_invite = serde_json::json!({
        "type": "invite", "invitee": "mallory", "role": "owner", "team": null
    });
    let beta_public = serde_json::json!({
        "type": "update_repository", "repository": "beta",
        "private": {"old": true, "new": false}, "description": null, "full_description": null
    });
    let admin_grant = serde_json::json!({
        "type": "grant", "repository": "api", "team": "legacy", "permission": "admin"
    });
    let refusal = |sb: &Sandbox, names: &str| {
        let out = apply_saved(sb);
        assert_eq!(code(&out), 1, "{}\n{}", stdout(&out), stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("error: the plan does not match what its inputs give: ")
                && err.contains("; nothing was changed"),
            "{err}"
        );
        assert!(err.contains(names), "{names} not named: {err}");
        assert!(!err.contains("Apply complete"), "{err}");
        assert_eq!(
            org_state(sb),
            before,
            "a forged plan changed the organization"
        );
    };

    // All three added at once, fingerprints kept.
    forge(&sb, &reviewed, |c| {
        c.push(owner_invite.clone());
        c.push(beta_public.clone());
        c.push(admin_grant.clone());
    });
    refusal(&sb, "invite mallory");
    // Each on its own.
    for (extra, names) in [
        (&owner_invite, "`+ invite mallory`"),
        (&beta_public, "`~ repository acme/beta`"),
        (&admin_grant, "`+ grant acme/api:legacy`"),
    ] {
        forge(&sb, &reviewed, |c| c.push(extra.clone()));
        refusal(&sb, names);
    }
    // The reviewed change altered in place.
    forge(&sb, &reviewed, |c| {
        c[0]["description"]["new"] = "Owned".into();
    });
    refusal(&sb, "`~ repository acme/api` differs in `description`");
    // The reviewed change dropped: an empty plan is not the plan either.
    forge(&sb, &reviewed, |c| c.clear());
    refusal(&sb, "which the saved plan lacks");
    // The reviewed change duplicated.
    forge(&sb, &reviewed, |c| {
        let first = c[0].clone();
        c.push(first);
    });
    refusal(&sb, "`~ repository acme/api`");

    // The file as written applies: exactly its one change.
    forge(&sb, &reviewed, |_| {});
    let out = ok(apply_saved(&sb));
    assert!(
        stderr(&out).contains("Apply complete! 0 added, 1 changed, 0 destroyed."),
        "{}",
        stderr(&out)
    );
    let state = sb.state();
    assert_eq!(
        state["repositories"]["api"]["description"], "Our API, version 2",
        "{state}"
    );
    assert_eq!(state["repositories"]["beta"]["is_private"], true, "{state}");
}

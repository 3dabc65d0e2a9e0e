//! `vetted doctor` by role: an owner with a password can apply the policy, an editor can manage
//! repositories but not teams or members, a non-member is told to get invited, and a wrong
//! organization points at the policy's.

use super::*;

#[test]
fn an_owner_with_a_password_can_apply_the_policy() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "alice", OWNER_TOKEN, POLICY, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.out, run.err);
    for check in [
        "hub",
        "credential",
        "role",
        "members",
        "invites",
        "teams",
        "team members",
        "repositories",
        "grants",
        "allowlist",
        "registries",
        "hub budget",
        "pull budget",
        "push token",
    ] {
        assert!(
            starts(&line(&run.out, check), "ok"),
            "{check}:\n{}",
            run.out
        );
    }
    assert!(run.out.contains("owner of acme"), "{}", run.out);
    assert!(
        run.out
            .contains("77 pulls left (read with a HEAD of docker.io/bitnami/redis:7.2"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("the registry grants push on acme/redis"),
        "{}",
        run.out
    );
    let budget = line(&run.out, "hub budget").0;
    assert!(
        budget.contains("Docker Hub API requests of 600 left"),
        "{budget}"
    );
    assert!(run.out.contains("Apply can succeed"), "{}", run.out);
    // Read-only: every hub request was a GET (and the login).
    for r in sb.requests() {
        let method = r["method"].as_str().unwrap_or("");
        let path = r["path"].as_str().unwrap_or("");
        assert!(
            method == "GET" || (method == "POST" && path == "/v2/auth/token"),
            "{method} {path}"
        );
    }

    // The same as JSON.
    let run = doctor(&sb, "alice", OWNER_TOKEN, POLICY, &["--format", "json"]);
    assert_eq!(run.code, 0);
    let v: Value = serde_json::from_str(&run.out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["credential"], "user");
    let checks = v["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{v:#}");
}

#[test]
fn an_editor_can_manage_repositories_but_not_teams_or_members() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let run = doctor(&sb, "bob", EDITOR, POLICY, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    assert!(
        line(&run.out, "role").0.contains("editor of acme"),
        "{}",
        run.out
    );
    for check in ["members", "invites", "teams", "team members"] {
        let l = line(&run.out, check);
        if check == "invites" {
            // Listing invites is for owners too.
            assert!(starts(&l, "FAIL") && l.0.contains("cannot read"), "{l:?}");
            continue;
        }
        assert!(starts(&l, "FAIL"), "{check}: {l:?}");
        assert!(
            l.0.contains("write: no: needs the owner role (bob is editor)"),
            "{l:?}"
        );
        assert!(
            l.1.is_some_and(|f| f.contains("run apply as a user with the owner role")),
            "{l:?}"
        );
    }
    assert!(starts(&line(&run.out, "repositories"), "ok"), "{}", run.out);
    assert!(starts(&line(&run.out, "grants"), "ok"), "{}", run.out);

    // With a policy of repositories only, the editor passes.
    let run = doctor(
        &sb,
        "bob",
        EDITOR,
        "org = \"acme\"\n[repositories.secret]\nprivate = true\n",
        &[],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.out, run.err);
    let teams = line(&run.out, "teams");
    assert!(
        starts(&teams, "warn") && teams.0.contains("not managed by this policy"),
        "{teams:?}"
    );
}

#[test]
fn a_non_member_is_told_to_get_invited() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let run = doctor(
        &sb,
        "carol",
        OUTSIDER,
        "org = \"acme\"\n[teams.dev]\nmembers = []\n",
        &[],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let role = line(&run.out, "role");
    assert!(starts(&role, "FAIL"), "{role:?}");
    assert!(
        role.1
            .is_some_and(|f| f.contains("ask an owner of acme to add carol")
                || f.contains("ask an owner of acme to invite carol")),
        "{role:?}"
    );
    let teams = line(&run.out, "teams");
    assert!(
        starts(&teams, "FAIL") && teams.0.contains("cannot read"),
        "{teams:?}"
    );
}

#[test]
fn a_wrong_org_points_at_the_policy_org() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let run = doctor(&sb, "alice", OWNER_TOKEN, "org = \"acmee\"\n", &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.out, run.err);
    let role = line(&run.out, "role");
    assert!(starts(&role, "FAIL"), "{role:?}");
    assert!(
        role.0.contains("no organization acmee on ")
            && role.1.is_some_and(|f| f.contains("check `org` in ")),
        "{role:?}"
    );
}

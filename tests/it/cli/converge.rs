//! Plan, apply and re-plan converging against the sandbox: every resource kind created, updated and
//! deleted (prune too, never the identity), the deletion guard refusing before changing anything,
//! apply without `--yes` off a terminal changing nothing, and convergence through injected faults
//! without the secret printed.

use super::*;

#[test]
fn plan_apply_replan_converges() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);

    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("to add"), "{out}");
    // Prune is off: the legacy team and old-tool are drift, not deletions.
    assert!(out.contains("0 to destroy"), "{out}");
    assert!(out.contains("legacy"), "{out}");
    assert!(out.contains("old-tool"), "{out}");

    apply_converges(&sb, "vetted.toml");

    let state = sb.state();
    let s = state.to_string();
    assert!(s.contains("platform") && s.contains("developers"), "{s}");
    // carol was not in the org: she is invited (to the developers team), never re-invited.
    let invites = sb
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v2/invites/bulk")
        .count();
    assert_eq!(invites, 1);
    apply_ok(&sb, "vetted.toml");
    let invites = sb
        .requests()
        .iter()
        .filter(|r| r["path"] == "/v2/invites/bulk")
        .count();
    assert_eq!(invites, 1, "a second apply re-invited");
}

#[test]
fn updates_and_prune_deletions_converge() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    apply_ok(&sb, "vetted.toml");

    // Change every kind: settings, a role, a team description and membership, privacy, description,
    // a permission, a removed grant; prune removes what the policy no longer lists.
    let changed = POLICY
        .replace(
            "allow_verified_publishers = false",
            "allow_verified_publishers = true",
        )
        .replace("editors = [\"Bob\"]", "editors = []")
        .replace("\"Platform engineers\"", "\"Platform team\"")
        .replace("members = [\"alice\", \"bob\"]", "members = [\"alice\"]")
        .replace("private = false", "private = true")
        .replace("\"Our API\"", "\"Our API service\"")
        .replace(
            "teams = { developers = \"write\", platform = \"admin\" }",
            "teams = { platform = \"read\" }",
        )
        + "\n[settings]\nprune = true\ndelete_threshold = 1.0\n";
    sb.write_policy("vetted.toml", &changed);
    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("to change"), "{out}");
    assert!(!out.contains("0 to destroy"), "{out}");
    apply_converges(&sb, "vetted.toml");

    let state = sb.state().to_string();
    assert!(
        !state.contains("old-tool"),
        "pruned repository still there: {state}"
    );
    assert!(
        !state.contains("legacy"),
        "pruned team still there: {state}"
    );
    assert!(state.contains("Our API service"), "{state}");
}

#[test]
fn deletion_guard_refuses_before_changing_anything() {
    let extra: String = (1..=6)
        .map(|i| format!("\n[repositories.tool{i}]\nprivate = true\n"))
        .collect();
    let sb = Sandbox::start(&seed(&extra), &[]);
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[repositories.tool1]\n[settings]\nprune = true\n",
    );
    let before = sb.state();
    let out = apply(&sb, "vetted.toml");
    assert_eq!(code(&out), 1);
    // The plan is rendered before the refusal.
    assert!(stdout(&out).contains("to destroy"), "{}", stdout(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(sb.state(), before, "a refused plan changed something");

    let out = sb
        .vetted()
        .args(["apply", "--yes", "--force", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, _) = plan(&sb, "vetted.toml");
    assert_eq!(c, 0);
}

#[test]
fn apply_without_yes_off_a_terminal_changes_nothing() {
    let sb = Sandbox::start(&seed(""), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let before = sb.state();
    let out = sb
        .vetted()
        .args(["apply", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(sb.state(), before);
}

#[test]
fn converges_through_injected_faults_and_never_prints_the_secret() {
    let sb = Sandbox::start(
        &seed(""),
        &[
            "--error-rate",
            "0.15",
            "--rate-limit-rate",
            "0.1",
            "--retry-after",
            "1",
            "--reset-rate",
            "0.05",
            "--fault-seed",
            "7",
        ],
    );
    sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args([
            "apply",
            "--yes",
            "-v",
            "--policy",
            "vetted.toml",
            "--max-retries",
            "8",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(OWNER_TOKEN), "secret printed:\n{text}");
    }
    let statuses: Vec<u64> = sb
        .requests()
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert!(statuses.contains(&429), "no 429 was injected: {statuses:?}");
    assert!(statuses.iter().any(|s| *s >= 500), "no 5xx was injected");

    let out = sb
        .vetted()
        .args([
            "plan",
            "--detailed-exitcode",
            "--policy",
            "vetted.toml",
            "--max-retries",
            "8",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn prune_removes_members_and_cancels_invites_but_never_the_identity() {
    let sb = Sandbox::start(
        &seed("\n[[invites]]\ninvitee = \"erin\"\nrole = \"member\"\n"),
        &[],
    );
    let policy = "org = \"acme\"\n[members]\nowners = [\"alice\"]\n[settings]\nprune = true\ndelete_threshold = 1.0\n";
    sb.write_policy("vetted.toml", policy);
    let (c, out) = plan(&sb, "vetted.toml");
    assert_eq!(c, 2, "{out}");
    assert!(out.contains("member bob"), "{out}");
    assert!(out.contains("invite erin"), "{out}");
    assert!(out.contains("3 to destroy"), "{out}"); // bob, erin's invite, old-tool
    apply_converges(&sb, "vetted.toml");
    let state = sb.state().to_string();
    assert!(
        !state.contains("erin\",\"role"),
        "invite still pending: {state}"
    );

    // A policy without the identity running apply: the plan (the same whoever runs it) shows the
    // removal and says apply will refuse it; apply refuses it, changing nothing.
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[members]\nowners = [\"carol\"]\n[settings]\nprune = true\ndelete_threshold = 1.0\n",
    );
    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("- ┆ member alice"), "{text}");
    assert!(
        text.contains("member alice: apply refuses to remove the identity it runs as"),
        "{text}"
    );
    assert!(
        text.contains(
            "member alice: apply will refuse this plan: refusing to remove alice, the last owner"
        ),
        "{text}"
    );
    let before = sb.state();
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refusing to remove alice, the identity running apply"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(sb.state()["members"], before["members"]);
    assert_eq!(sb.state()["invites"], before["invites"]);
}

//! Partial runs (`--target`): a targeted plan and apply touch only the targets and the teams they
//! depend on, prune deletes only within them, a saved partial plan applies only as partial, and
//! an unknown address is an error that changes nothing. The real binary against `vetted sandbox`.

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

/// Live: developers (bob) and legacy teams; api, web, old and junk repositories.
fn seed() -> String {
    format!(
        r#"
org = "acme"

[users.alice]
[users.bob]
[users.carol]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
bob = "member"
carol = "member"

[teams.developers]
description = "Developers"
members = ["bob"]

[teams.legacy]
description = "Old"
members = ["carol"]

[repositories.api]
private = true
description = "Our API"
grants = {{ developers = "write" }}

[repositories.web]
private = true
description = "Web"

[repositories.old]
private = true
description = "Old"

[repositories.junk]
private = true
description = "Junk"
"#
    )
}

/// The policy: api changes and grants the new team qa; web changes too; prune would delete old,
/// junk and legacy.
const POLICY: &str = r#"
org = "acme"

[teams.developers]
description = "Developers"
members = ["bob"]

[teams.qa]
description = "Quality"
members = ["carol"]

[repositories.api]
private = true
description = "Our API, v2"
teams = { developers = "write", qa = "read" }

[repositories.web]
private = true
description = "Web, changed"

[settings]
prune = true
delete_threshold = 1.0
"#;

fn run(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let out = sb.vetted().args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

fn description(state: &Value, repo: &str) -> String {
    state["repositories"][repo]["description"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

#[test]
fn a_targeted_repository_brings_its_new_team_and_nothing_else() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);

    let (code, out, err) = run(&sb, &["plan", "--target", "repositories.api"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Partial plan, --target repositories.api\nWarning: the plan is partial: changes outside the targets are not shown; do not use --target routinely"),
        "{out}"
    );
    for wanted in [
        "repository acme/api",
        "grant acme/api:qa",
        // The grant's team must exist first: its creation comes along, as Terraform does.
        "team qa",
    ] {
        assert!(out.contains(wanted), "{wanted} missing:\n{out}");
    }
    // Untargeted drift is not shown: web's change, prune's deletions, qa's members.
    for unwanted in ["acme/web", "acme/old", "acme/junk", "legacy", "team_member"] {
        assert!(!out.contains(unwanted), "{unwanted} shown:\n{out}");
    }
    assert!(
        out.contains("Plan: 2 to add, 1 to change, 0 to destroy."),
        "{out}"
    );

    // The address the plan prints is a target too; JSON says the plan is partial.
    let (code, json, err) = run(
        &sb,
        &[
            "plan",
            "--target",
            "repository acme/api",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["partial"], true, "{doc}");
    assert_eq!(doc["targets"], serde_json::json!(["repositories.api"]));
    assert!(err.contains("warning: the plan is partial"), "{err}");
    let (_, md, _) = run(
        &sb,
        &[
            "plan",
            "--target",
            "repositories.api",
            "--format",
            "markdown",
        ],
    );
    assert!(
        md.contains("> [!WARNING]\n> **Partial plan** (--target `repositories.api`)"),
        "{md}"
    );
    // A whole plan says it is whole.
    let (_, json, _) = run(&sb, &["plan", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["partial"], false);
    assert_eq!(doc["targets"], serde_json::json!([]));

    let (code, out, err) = run(&sb, &["apply", "--yes", "--target", "repositories.api"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let state = sb.state();
    assert_eq!(description(&state, "api"), "Our API, v2");
    assert!(state["teams"].get("qa").is_some(), "qa created");
    let grants = &state["repositories"]["api"]["grants"];
    let qa = state["teams"]["qa"]["id"].to_string();
    assert_eq!(grants[qa.as_str()], "read", "{grants}");
    // Nothing outside the target was touched.
    assert_eq!(description(&state, "web"), "Web");
    assert!(state["repositories"].get("old").is_some());
    assert!(state["teams"].get("legacy").is_some());
    assert_eq!(
        state["teams"]["qa"]["members"],
        serde_json::json!([]),
        "qa's members are the team's own target"
    );

    // The target converged; the rest is still pending.
    let (code, out, _) = run(
        &sb,
        &[
            "plan",
            "--detailed-exitcode",
            "--target",
            "repositories.api",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&sb, &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("acme/web") && out.contains("acme/old"),
        "{out}"
    );
}

#[test]
fn prune_under_target_deletes_only_within_the_targets() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let (code, out, err) = run(
        &sb,
        &[
            "plan",
            "--target",
            "repositories.old",
            "--target",
            "teams.legacy",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("repository acme/old"), "{out}");
    assert!(out.contains("team legacy"), "{out}");
    assert!(!out.contains("acme/junk"), "{out}");
    assert!(
        out.contains("Plan: 0 to add, 0 to change, 2 to destroy."),
        "{out}"
    );
    let (code, out, err) = run(
        &sb,
        &[
            "apply",
            "--yes",
            "--target",
            "repositories.old",
            "--target",
            "teams.legacy",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let state = sb.state();
    assert!(state["repositories"].get("old").is_none(), "old deleted");
    assert!(state["teams"].get("legacy").is_none(), "legacy deleted");
    assert!(state["repositories"].get("junk").is_some(), "junk kept");
    assert_eq!(description(&state, "web"), "Web");
}

#[test]
fn a_saved_partial_plan_applies_only_as_partial() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let file = sb.path().join("web.plan.json");
    let file_arg = file.to_str().unwrap();
    let (code, out, err) = run(
        &sb,
        &["plan", "--target", "repositories.web", "--out", file_arg],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        saved["plan"]["targets"],
        serde_json::json!(["repositories.web"])
    );
    let (code, shown, _) = run(&sb, &["show", file_arg]);
    assert_eq!(code, 0);
    assert!(
        shown.contains("Partial plan, --target repositories.web"),
        "{shown}"
    );

    // Other targets, or the whole policy, with that file: refused, nothing changed.
    let before = sb.state();
    let (code, out, err) = run(
        &sb,
        &["apply", "--yes", "--target", "repositories.api", file_arg],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("was made with repositories.web, but this apply names --target repositories.api; nothing was changed"),
        "{err}"
    );
    assert_eq!(sb.state(), before);

    // A file whose targets were edited away is not applied as a whole plan.
    let mut forged = saved.clone();
    forged["plan"]["targets"] = serde_json::json!([]);
    let forged_path = sb.path().join("forged.plan.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let (code, _, err) = run(&sb, &["apply", "--yes", forged_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(sb.state(), before);

    // The file alone applies as partial; so does naming its own targets.
    let (code, out, err) = run(
        &sb,
        &[
            "apply",
            "--yes",
            "--target",
            "repository acme/web",
            file_arg,
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Partial plan, --target repositories.web"),
        "{out}"
    );
    let state = sb.state();
    assert_eq!(description(&state, "web"), "Web, changed");
    assert_eq!(description(&state, "api"), "Our API");
    assert!(state["repositories"].get("old").is_some());
}

#[test]
fn an_unknown_target_is_an_error_that_changes_nothing() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let before = sb.state();
    let (code, out, err) = run(&sb, &["plan", "--target", "repositories.apii"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("unknown target `repositories.apii`: neither in the policy nor in organization acme; close matches: `repositories.api`"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    let (code, _, err) = run(
        &sb,
        &[
            "apply",
            "--yes",
            "--target",
            "repositories.api",
            "--target",
            "teams.qaa",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown target `teams.qaa`"), "{err}");
    assert!(err.contains("`teams.qa`"), "{err}");
    let (code, _, err) = run(&sb, &["plan", "--target", "grant acme/api:qa"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("a grant is part of `repositories.api`; target that"),
        "{err}"
    );
    let (code, _, err) = run(&sb, &["plan", "--target", "repos.api"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not an address vetted knows"), "{err}");
    // The policy has no [members]: a member target says so.
    let (code, _, err) = run(&sb, &["plan", "--target", "members.bob"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no [members] table"), "{err}");
    assert_eq!(sb.state(), before);
}

#[test]
fn a_targeted_mirror_copies_its_own_tags_only() {
    let seed = format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
"#
    );
    let sb = Sandbox::start_with_registry(&seed, &[]);
    sb.write_policy(
        "vetted.toml",
        r#"
org = "acme"

[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2", "7.4.1"] }

[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"] }
"#,
    );
    let (code, json, err) = run(
        &sb,
        &["plan", "--format", "json", "--target", "repositories.redis"],
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let addresses: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert_eq!(
        addresses,
        [
            "repository acme/redis",
            "image acme/redis:7.2",
            "image acme/redis:7.4.1"
        ],
        "{doc}"
    );
    let (code, out, err) = run(&sb, &["apply", "--yes", "--target", "repositories.redis"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let state = sb.state();
    assert!(state["repositories"].get("redis").is_some());
    assert!(state["repositories"].get("nginx").is_none(), "untouched");
    let (code, out, _) = run(
        &sb,
        &[
            "plan",
            "--detailed-exitcode",
            "--target",
            "repositories.redis",
        ],
    );
    assert_eq!(code, 0, "converged:\n{out}");
}

#[test]
fn locked_under_target_checks_only_the_targeted_lock_entries() {
    let seed = format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
"#
    );
    let sb = Sandbox::start_with_registry(&seed, &[]);
    let both = r#"
org = "acme"

[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2"] }

[repositories.nginx]
mirror = { from = "nginx", tags = ["1.27"] }
"#;
    sb.write_policy("vetted.toml", both);
    let (code, out, err) = run(&sb, &["lock"]);
    assert_eq!(code, 0, "{out}\n{err}");
    // nginx gains a tag the lock lacks: its entries are out of date, redis's are current.
    sb.write_policy(
        "vetted.toml",
        &both.replace(r#"tags = ["1.27"]"#, r#"tags = ["1.27", "1.26"]"#),
    );
    let (code, _, err) = run(&sb, &["plan", "--locked"]);
    assert_eq!(code, 1, "the whole policy's lock is out of date: {err}");
    assert!(
        err.contains("nginx:1.26 is mirrored by the policy but not locked"),
        "{err}"
    );
    let (code, json, err) = run(
        &sb,
        &[
            "plan",
            "--locked",
            "--format",
            "json",
            "--target",
            "repositories.redis",
        ],
    );
    assert_eq!(code, 0, "only redis's entries are checked: {err}");
    assert!(!err.contains("nginx"), "{err}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert!(!doc.to_string().contains("nginx"), "{doc}");
    // Targeting nginx checks its entries and fails before any change.
    let (code, _, err) = run(
        &sb,
        &[
            "apply",
            "--yes",
            "--locked",
            "--target",
            "repositories.nginx",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("nginx:1.26 is mirrored by the policy but not locked"),
        "{err}"
    );
    assert!(sb.state()["repositories"].get("nginx").is_none());
}

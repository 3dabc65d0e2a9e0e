//! Saved plans with the real binary against `vetted sandbox`: `plan --out` then `apply PLAN`
//! converges (image copies checked by skopeo), `show PLAN` renders offline in three formats, and a
//! plan whose inputs moved on (live drift, an edited policy, a new vetted.lock, another hub) is
//! refused with nothing changed. Corrupt, foreign and other-version files get clear errors.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};
use crate::support::registry_proc::digest_of;

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

[teams.legacy]
description = "Old"
members = ["alice"]
"#
    )
}

const POLICY: &str = r#"
org = "acme"

[teams.developers]
description = "Application developers"
members = ["bob", "carol"]

[repositories.api]
private = true
description = "Our API"
teams = { developers = "write" }
"#;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert_eq!(code(&out), 0, "failed:\n{}\n{}", stdout(&out), stderr(&out));
    out
}

fn plan_out(sb: &Sandbox, policy: &str, extra: &[&str]) -> std::process::Output {
    ok(sb
        .vetted()
        .args(["plan", "--policy", policy, "--out", "plan.json"])
        .args(extra)
        .output()
        .unwrap())
}

fn apply_saved(sb: &Sandbox) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "plan.json"])
        .output()
        .unwrap()
}

/// What a refused apply must leave untouched.
fn org_state(sb: &Sandbox) -> Value {
    let s = sb.state();
    serde_json::json!({
        "members": s["members"],
        "invites": s["invites"],
        "teams": s["teams"],
        "repositories": s["repositories"],
        "image_access": s["image_access"],
    })
}

fn skopeo_digest(sb: &Sandbox, image: &str) -> Option<String> {
    let out = Command::new("/usr/bin/skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", "--creds"])
        .arg(format!("alice:{OWNER_TOKEN}"))
        .arg(format!("docker://{}/{image}", sb.registry_host()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status.success().then(|| digest_of(&out.stdout))
}

#[test]
fn saved_plan_with_image_copies_applies_exactly_and_converges() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    sb.write_policy(
        "vetted.toml",
        &format!(
            "{POLICY}\n[repositories.redis]\nteams = {{ developers = \"read\" }}\nmirror = {{ from = \"bitnami/redis\", tags = [\"7.2\"] }}\n"
        ),
    );

    // plan --out: stdout gets the rendered plan (JSON here), the file the saved plan.
    let out = plan_out(&sb, "vetted.toml", &["--format", "json"]);
    let printed = stdout(&out);
    assert!(
        stderr(&out).contains("Saved the plan to plan.json"),
        "{}",
        stderr(&out)
    );
    let file = std::fs::read_to_string(sb.path().join("plan.json")).unwrap();
    assert!(!file.contains(OWNER_TOKEN), "a secret in the plan file");
    let saved: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(saved["kind"], "vetted-saved-plan");
    assert_eq!(saved["format_version"], "3");
    assert_eq!(saved["org"], "acme");
    assert_eq!(saved["policy"], "vetted.toml");
    assert_eq!(saved["hub_url"], sb.url.trim_end_matches('/'));
    assert!(saved["fingerprints"]["lock"].is_null());
    assert!(
        saved["fingerprints"]["live_parts"]["image acme/redis:7.2"].is_string(),
        "{saved}"
    );

    // show, offline (no credentials, no hub URL), in three formats.
    let show = |format: &str| {
        let out = vetted()
            .current_dir(sb.path())
            .args(["show", "plan.json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        show("json"),
        printed,
        "show --format json = plan --format json"
    );
    let text = show("text");
    assert!(text.starts_with("Organization: acme\n"), "{text}");
    assert!(text.contains("image acme/redis:7.2"), "{text}");
    assert!(
        text.contains("Plan: 8 to add, 0 to change, 0 to destroy. Images: 1 to copy"),
        "{text}"
    );
    let md = show("markdown");
    assert!(md.starts_with("<!-- vetted:plan org=acme -->\n"), "{md}");
    assert!(
        md.contains("**Plan: 8 to add, 0 to change, 0 to destroy."),
        "{md}"
    );
    assert!(md.contains("| `+` | `image acme/redis:7.2` |"), "{md}");

    // A vetted.lock written after the plan makes it stale; nothing changes.
    let before = org_state(&sb);
    ok(sb.vetted().arg("lock").output().unwrap());
    let out = apply_saved(&sb);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the plan is stale: vetted.lock was created; nothing was changed; run `vetted plan` again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(org_state(&sb), before);
    assert_eq!(skopeo_digest(&sb, "acme/redis:7.2"), None);

    // A fresh plan applies, exactly: the image lands with the upstream digest, then a re-plan is clean.
    let out = plan_out(&sb, "vetted.toml", &["--format", "markdown"]);
    let comment = stdout(&out);
    assert!(
        comment.starts_with("<!-- vetted:plan org=acme -->\n"),
        "{comment}"
    );
    assert!(comment.len() <= 65_536);
    let out = ok(apply_saved(&sb));
    let err = stderr(&out);
    assert!(err.contains("plan.json is current"), "{err}");
    assert!(err.contains("+ image acme/redis:7.2: done"), "{err}");
    assert!(
        err.contains("Apply complete! 8 added, 0 changed, 0 destroyed."),
        "{err}"
    );
    assert!(
        stdout(&out).contains("Organization: acme"),
        "the plan is shown"
    );
    assert_eq!(
        skopeo_digest(&sb, "acme/redis:7.2"),
        skopeo_digest(&sb, "bitnami/redis:7.2")
    );
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));

    // The same plan again: the organization moved on since (that is what it did), so it is stale.
    let out = apply_saved(&sb);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("the plan is stale: the live organization changed:"),
        "{err}"
    );
    assert!(err.contains("image acme/redis:7.2"), "{err}");
    assert!(err.contains("repository acme/api (new)"), "{err}");
}

#[test]
fn live_drift_or_an_edited_policy_make_a_saved_plan_stale() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);
    plan_out(&sb, "vetted.toml", &[]);

    // Someone creates a repository between plan and apply: refused, nothing changed.
    sb.write_policy(
        "other.toml",
        "org = \"acme\"\n[repositories.sneaky]\nprivate = true\n",
    );
    ok(sb
        .vetted()
        .args(["apply", "--yes", "--policy", "other.toml"])
        .output()
        .unwrap());
    let before = org_state(&sb);
    let out = apply_saved(&sb);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "the plan is stale: the live organization changed: repository acme/sneaky (new); nothing was changed; run `vetted plan` again"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(org_state(&sb), before);

    // A fresh plan; then the policy is edited: stale. Restored byte for byte: current again.
    plan_out(&sb, "vetted.toml", &[]);
    let policy = sb.path().join("vetted.toml");
    std::fs::write(&policy, format!("{POLICY}\n[repositories.extra]\n")).unwrap();
    let out = apply_saved(&sb);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(
            "the plan is stale: the policy vetted.toml (or a file it references) changed"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(org_state(&sb), before);

    // Another hub than the plan was made against: refused before any request.
    std::fs::write(&policy, POLICY).unwrap();
    let out = sb
        .vetted()
        .env("VETTED_HUB_URL", "http://127.0.0.1:9")
        .args(["apply", "--yes", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("was made against"),
        "{}",
        stderr(&out)
    );

    // A --policy other than the one the plan names is a usage error.
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy", "other.toml", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("was made from the policy vetted.toml"),
        "{}",
        stderr(&out)
    );

    // A plan file that names another policy of the checkout (fingerprints can be recomputed by
    // anyone) does not choose what apply reads: apply reads its own --policy (here the default),
    // and refuses the mismatch, with the file's text shown escaped.
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("plan.json")).unwrap())
            .unwrap();
    forged["policy"] = "other.toml\nApply complete! 3 added".into();
    std::fs::write(sb.path().join("forged.json"), forged.to_string()).unwrap();
    let out = sb
        .vetted()
        .args(["apply", "--yes", "forged.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("was made from the policy other.toml\\nApply complete! 3 added, but this apply reads vetted.toml; nothing was changed"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("\nApply complete"),
        "{}",
        stderr(&out)
    );

    // Without --yes and without a terminal: the usual refusal to apply unconfirmed.
    let out = sb.vetted().args(["apply", "plan.json"]).output().unwrap();
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert_eq!(org_state(&sb), before);

    // Current: applies exactly the saved changes and converges.
    let out = ok(apply_saved(&sb));
    assert!(
        stderr(&out).contains("Apply complete! 5 added, 0 changed, 0 destroyed."),
        "{}",
        stderr(&out)
    );
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

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

/// Two owners with passwords: carol plans, alice applies (and the other way round).
fn two_owner_seed() -> String {
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

[[credentials]]
identifier = "carol"
secret = "carol-secret-77"
kind = "password"

[members]
alice = "owner"
bob = "member"
carol = "owner"
"#
    )
}

#[test]
fn a_plan_made_as_one_identity_applies_as_another() {
    let sb = Sandbox::start(&two_owner_seed(), &[]);
    // carol leaves the organization: the policy no longer lists her, and prune is on.
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[members]\nowners = [\"alice\"]\nmembers = [\"bob\"]\n[settings]\nprune = true\n",
    );
    let as_carol = || sb.vetted_as("carol", "carol-secret-77");

    // carol (the plan job's identity) plans; the diff does not depend on who runs it.
    let out = ok(as_carol()
        .args(["plan", "--out", "plan.json"])
        .output()
        .unwrap());
    let text = stdout(&out);
    assert!(
        text.contains("member carol ┆ remove owner") && text.contains("1 to destroy"),
        "{text}"
    );
    assert!(
        text.contains("apply refuses to remove the identity it runs as"),
        "the plan says what apply would refuse: {text}"
    );
    let saved = std::fs::read_to_string(sb.path().join("plan.json")).unwrap();

    // carol applies it herself: refused at apply, nothing changed.
    let before = org_state(&sb);
    let out = as_carol()
        .args(["apply", "--yes", "plan.json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to remove carol, the identity running apply"),
        "{}",
        stderr(&out)
    );
    assert_eq!(org_state(&sb), before);

    // alice (the apply job's identity) applies carol's plan: it matches, and converges.
    std::fs::write(sb.path().join("plan.json"), &saved).unwrap();
    let out = ok(apply_saved(&sb));
    assert!(
        stderr(&out).contains("Apply complete! 0 added, 0 changed, 1 destroyed."),
        "{}",
        stderr(&out)
    );
    assert!(
        sb.state()["members"].get("carol").is_none(),
        "{}",
        sb.state()
    );
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

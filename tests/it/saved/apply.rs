//! A saved plan with image copies applies exactly and converges, and live drift or an edited policy
//! make a saved plan stale.

use super::*;

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

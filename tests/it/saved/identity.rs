//! A plan made as one identity applies as another: carol's plan removing herself is refused when
//! she applies it, with nothing changed, and alice applies the same file to convergence.

use super::*;

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

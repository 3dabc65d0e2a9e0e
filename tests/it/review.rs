//! Risk called out, end to end with the real binary and `vetted sandbox`: the "Needs attention" list
//! of the markdown comment and of the text plan, the risk class of each change in the JSON plan, and
//! the policy's `[review] require_acknowledgement` gate with `--acknowledge` (apply is not gated).

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

/// alice owns acme; bob is a member; `old-tool` is private with a grant to `legacy`.
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

[teams.legacy]
description = "Team from before the policy"
members = ["alice"]

[repositories.old-tool]
private = true
description = "A tool nobody maintains any more"
grants = {{ legacy = "read" }}
"#
    )
}

/// Raises bob to owner, makes old-tool public, creates a team with a grant, and deletes old-tool's
/// grant to legacy (prune).
const POLICY: &str = r#"
org = "acme"

[members]
owners = ["alice", "bob"]

[teams.legacy]
members = ["alice"]

[teams.ci]
description = "CI robots"
members = ["carol"]

[repositories.old-tool]
private = false
teams = { ci = "write" }

[settings]
prune = true
"#;

const REVIEW: &str = r#"
[review]
require_acknowledgement = ["privilege", "exposure"]
ack_label = "vetted:acknowledged"
"#;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The "Needs attention" alert of a markdown comment: from its `> [!` line to the blank line after.
fn attention(md: &str) -> String {
    let start = md.find("> [!").expect("a Needs attention section");
    let rest = &md[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn the_comment_and_the_text_plan_call_out_risky_changes() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let md = stdout(&out);
    // Before the folded details.
    let at = md.find("Needs attention").unwrap();
    assert!(at < md.find("Changes").unwrap_or(usize::MAX), "{md}");
    insta::assert_snapshot!("review_needs_attention_markdown", attention(&md));

    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let list: String = text
        .lines()
        .skip_while(|l| !l.starts_with("Needs attention"))
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("review_needs_attention_text", list);
    // After the tables, before the summary line.
    assert!(text.find("Needs attention") > text.find("grant acme/old-tool:ci"));
    assert!(text.find("Needs attention") < text.find("Plan:"));

    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let risk_of = |address: &str| {
        v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .map(|c| c["risk"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(risk_of("member bob"), "privilege");
    assert_eq!(risk_of("repository acme/old-tool"), "exposure");
    assert_eq!(risk_of("grant acme/old-tool:legacy"), "destruction");
    assert_eq!(risk_of("team ci"), "routine");
    let s = &v["summary"]["risk"];
    let total: u64 = ["privilege", "exposure", "destruction", "routine"]
        .iter()
        .map(|k| s[k].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, v["changes"].as_array().unwrap().len());
    assert_eq!(s["exposure"], 1);
}

#[test]
fn plan_refuses_unacknowledged_classes_and_apply_is_not_gated() {
    let sb = Sandbox::start(&seed(), &[]);
    let policy = format!("{POLICY}{REVIEW}");
    sb.write_policy("vetted.toml", &policy);
    let saved = sb.path().join("plan.json");

    // Shown and saved, then refused: exit 1, the classes and the ways to acknowledge them.
    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml", "--out"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("Needs attention"), "{}", stdout(&out));
    assert!(saved.is_file(), "the plan is saved before the refusal");
    let err = stderr(&out);
    for part in [
        "this plan needs acknowledgement",
        "privilege",
        "1 exposure",
        "--acknowledge privilege,exposure",
        "`vetted:acknowledged`",
        "apply is not gated",
    ] {
        assert!(err.contains(part), "{part} in\n{err}");
    }
    // Destruction is not listed in the policy: not part of the refusal.
    assert!(!err.contains("destruction"), "{err}");

    // One class acknowledged, the other still refused.
    let out = sb
        .vetted()
        .args([
            "plan",
            "--policy",
            "vetted.toml",
            "--acknowledge",
            "privilege",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("--acknowledge exposure`"),
        "{}",
        stderr(&out)
    );

    // Both acknowledged (repeatable or comma-separated): the usual exit codes.
    let out = sb
        .vetted()
        .args([
            "plan",
            "--policy",
            "vetted.toml",
            "--detailed-exitcode",
            "--acknowledge",
            "privilege",
            "--acknowledge=exposure",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    // An unknown class is a usage error (exit 1: 2 means changes pending).
    let out = sb
        .vetted()
        .args([
            "plan",
            "--policy",
            "vetted.toml",
            "--acknowledge",
            "routine",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("privilege"), "{}", stderr(&out));

    // apply applies the saved plan without asking: the gate is the pull request's.
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy", "vetted.toml"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Nothing left to acknowledge.
    let out = sb
        .vetted()
        .args(["plan", "--policy", "vetted.toml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn unknown_classes_are_policy_errors_with_their_position() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n\n[review]\nrequire_acknowledgement = [\"privilige\", \"routine\", \"exposure\", \"exposure\"]\nack_label = \"\"\nack = 1\n",
    );
    let out = sb
        .vetted()
        .args(["validate", "--policy", "vetted.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    for part in [
        "unknown risk class `privilige` in `review.require_acknowledgement`",
        "vetted.toml:4:",
        "did you mean `privilege`?",
        "unknown risk class `routine`",
        "routine changes need no acknowledgement",
        "`exposure` is listed twice",
        "`review.ack_label` is not a GitHub label name",
        "unknown key `ack` in [review]",
    ] {
        assert!(err.contains(part), "{part} in\n{err}");
    }
}

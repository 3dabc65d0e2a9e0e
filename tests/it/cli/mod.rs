//! The real `vetted` binary end to end: validate, plan, apply and re-plan against `vetted sandbox`,
//! every resource kind created, updated and deleted, the deletion guard, faults, exit codes, the JSON
//! plan, secrets, and vetted's request bodies checked against Docker's published Hub spec.

mod converge;
mod output;
mod validate;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

/// An org with only alice as owner, a legacy team and a public repository; bob..erin can be invited.
fn seed(extra: &str) -> String {
    format!(
        r#"
org = "acme"

[users.alice]
[users.bob]
[users.carol]
[users.dave]
[users.erin]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[[credentials]]
identifier = "bob"
secret = "bob-personal-access-token"
kind = "pat"

[members]
alice = "owner"
bob = "member"

[teams.legacy]
description = "Team from before the policy"
members = ["alice"]

[repositories.old-tool]
private = false
description = "A tool nobody maintains any more"
grants = {{ legacy = "read" }}

[image_access]
enabled = false
allow_official_images = true
allow_verified_publishers = true
{extra}
"#
    )
}

const POLICY: &str = r##"
org = "acme"

[image_access]
enabled = true
allow_official_images = true
allow_verified_publishers = false

[members]
owners = ["alice"]
editors = ["Bob"]

[teams.platform]
description = "Platform engineers"
members = ["alice", "bob"]

[teams.developers]
description = "Application developers"
members = ["bob", "carol"]

[repositories.redis]
description = "Vetted mirror of bitnami/redis"
teams = { developers = "read", platform = "write" }

[repositories.api]
private = false
description = "Our API"
full_description = "# api\n\nBuilt here."
teams = { developers = "write", platform = "admin" }
"##;

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Runs `vetted plan --detailed-exitcode` and returns (exit code, stdout).
fn plan(sb: &Sandbox, policy: &str) -> (i32, String) {
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy", policy])
        .output()
        .unwrap();
    assert!(
        code(&out) != 1,
        "plan failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    (code(&out), stdout(&out))
}

fn apply(sb: &Sandbox, policy: &str) -> std::process::Output {
    sb.vetted()
        .args(["apply", "--yes", "--policy", policy])
        .output()
        .unwrap()
}

fn apply_ok(sb: &Sandbox, policy: &str) -> String {
    let out = apply(sb, policy);
    assert_eq!(
        code(&out),
        0,
        "apply failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Applies, then checks that a re-plan shows no changes.
fn apply_converges(sb: &Sandbox, policy: &str) {
    apply_ok(sb, policy);
    let (c, out) = plan(sb, policy);
    assert_eq!(c, 0, "re-plan after apply is not clean:\n{out}");
}

fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

//! Saved plans with the real binary against `vetted sandbox`: `plan --out` then `apply PLAN`
//! converges (image copies checked by skopeo), `show PLAN` renders offline in three formats, and a
//! plan whose inputs moved on (live drift, an edited policy, a new vetted.lock, another hub) is
//! refused with nothing changed. Corrupt, foreign and other-version files get clear errors.

mod apply;
mod identity;
mod refused;

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

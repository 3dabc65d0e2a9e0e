//! `vetted doctor` against the sandbox: one run per credential explains what apply could and could
//! not do (a personal access token managing teams, an organization access token short of scopes,
//! an editor, a non-member, a wrong organization, an unreachable hub), and an owner passes.

mod checks;
mod roles;
mod tokens;

use std::time::Duration;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

const PAT: &str = "sandbox-alice-pat-7d2e01";
const OAT: &str = "sandbox-acme-oat-91b3c4";
const EDITOR: &str = "sandbox-bob-password-5a";
const OUTSIDER: &str = "sandbox-carol-password-6b";
/// An organization access token of acme without `scope-repository-list`.
const OAT_NO_LIST: &str = "sandbox-acme-oat-nolist-5e";

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
[[credentials]]
identifier = "alice"
secret = "{PAT}"
kind = "pat"
[[credentials]]
identifier = "bob"
secret = "{EDITOR}"
kind = "password"
[[credentials]]
identifier = "carol"
secret = "{OUTSIDER}"
kind = "password"
[[credentials]]
identifier = "acme"
secret = "{OAT}"
kind = "org_token"
scopes = ["scope-member-read", "scope-group-read", "scope-image-pull", "scope-repository-list", "scope-repository-read"]
[[credentials]]
identifier = "acme"
secret = "{OAT_NO_LIST}"
kind = "org_token"
scopes = ["scope-member-read", "scope-group-read", "scope-repository-read"]
[members]
alice = "owner"
bob = "editor"
[teams.dev]
description = "Developers"
members = ["alice", "bob"]
[repositories.secret]
private = true
grants = {{ dev = "write" }}
[registry]
pull_limit = 77
"#
    )
}

/// A policy managing teams, members, grants and one mirror into a private repository.
const POLICY: &str = r#"org = "acme"
[members]
owners = ["alice"]
editors = ["bob"]
[teams.dev]
description = "Developers"
members = ["alice", "bob"]
[repositories.secret]
private = true
teams = { dev = "write" }
[repositories.redis]
private = true
teams = { dev = "read" }
mirror = { from = "bitnami/redis", tags = ["7.2"] }
"#;

struct Run {
    code: i32,
    out: String,
    err: String,
}

fn doctor(sb: &Sandbox, user: &str, secret: &str, policy: &str, extra: &[&str]) -> Run {
    let path = sb.write_policy("vetted.toml", policy);
    let out = sb
        .vetted_as(user, secret)
        .arg("doctor")
        .arg("--policy")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        out: stdout(&out),
        err: stderr(&out),
    };
    for s in [OWNER_TOKEN, PAT, OAT, EDITOR, OUTSIDER, OAT_NO_LIST] {
        assert!(
            !run.out.contains(s) && !run.err.contains(s),
            "a secret was printed:\n{}\n{}",
            run.out,
            run.err
        );
    }
    run
}

/// The line of `check` (`status  name  detail`, the columns of the text report) and the fix line
/// after it, if any.
fn line<'a>(out: &'a str, check: &str) -> (String, Option<&'a str>) {
    let lines: Vec<&str> = out.lines().collect();
    let name = |l: &str| l.get(8..21).map(str::trim).unwrap_or("").to_string();
    let i = lines
        .iter()
        .position(|l| name(l) == check)
        .unwrap_or_else(|| panic!("no {check} line in:\n{out}"));
    let fix = lines
        .get(i + 1)
        .map(|l| l.trim_start())
        .filter(|l| l.starts_with("fix: "));
    (lines[i].trim().to_string(), fix)
}

fn starts(l: &(String, Option<&str>), status: &str) -> bool {
    l.0.starts_with(&format!("{status} "))
}

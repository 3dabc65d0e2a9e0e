//! Effective access and `vetted export` through the real binary and `vetted sandbox`: `plan --access`
//! says who gains what, and an exported non-trivial organization plans no changes and validates.

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// A non-trivial organization: owners and an editor, members in no team, three teams (one empty),
/// read/write/admin grants, private and public repositories with descriptions and tags, pending
/// invites (to a team, to a role, by email) and Image Access Management on.
fn seed() -> String {
    format!(
        r##"
org = "acme"

[users.alice]
[users.bob]
[users.carol]
[users.dave]
[users.erin]
[users.frank]
[users.gina]
[users.hank]
[users.zoe]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
zoe = "owner"
bob = "editor"
carol = "member"
dave = "member"
hank = "member"

[teams.devs]
description = "Application developers"
members = ["carol", "dave"]

[teams.ops]
description = "Operations: \"on call\""
members = ["alice", "dave"]

[teams.auditors]

[repositories.redis]
private = true
description = "Vetted mirror of bitnami/redis"
full_description = "# redis\n\nMirrored by digest.\nIt's 'quoted'.\n"
grants = {{ devs = "read", ops = "write" }}
tags = {{ "7.2" = "sha256:{d1}", latest = "sha256:{d2}" }}

[repositories.api]
private = true
description = "Our API"
grants = {{ devs = "write", ops = "admin", auditors = "read" }}

[repositories.site]
private = false
description = "Public web site"
full_description = "Served from here."
grants = {{ devs = "read" }}

[repositories."docs.internal"]
private = true

[[invites]]
invitee = "erin"
role = "member"
team = "devs"

[[invites]]
invitee = "frank"
role = "editor"

[[invites]]
invitee = "gina"
role = "member"

[[invites]]
invitee = "outside@example.com"
role = "member"
team = "ops"

[image_access]
enabled = true
allow_official_images = true
allow_verified_publishers = false
"##,
        d1 = "1".repeat(64),
        d2 = "2".repeat(64),
    )
}

#[test]
fn plan_access_says_who_gains_push() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    // carol joins ops (write on redis, admin on api); hank is invited nowhere new; erin's pending
    // invite to devs stays.
    let policy = sb.write_policy(
        "access.toml",
        r#"
org = "acme"

[teams.devs]
members = ["carol", "dave", "erin"]

[teams.ops]
members = ["alice", "dave", "carol"]

[teams.auditors]
members = []

[repositories.site]
private = true
teams = { devs = "read" }
"#,
    );
    let out = sb
        .vetted()
        .args(["plan", "--access", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    for line in [
        "+ carol gains push on acme/redis (had pull)",
        "+ carol gains admin on acme/api (had push)",
        "- everyone loses pull on acme/site",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Owners and editors already administer everything; dave is unchanged.
    assert!(!text.contains("alice gains"), "{text}");
    assert!(!text.contains("dave "), "{text}");

    // JSON always carries it.
    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let access = doc["access"].as_array().unwrap();
    assert!(
        access.iter().any(|a| a["subject"]["name"] == "carol"
            && a["repository"] == "redis"
            && a["old"] == "pull"
            && a["new"] == "push"),
        "{access:?}"
    );

    // Applied, the same policy gives and takes nothing more.
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = sb
        .vetted()
        .args(["plan", "--access", "--detailed-exitcode", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("No one gains or loses access."));
}

#[test]
fn export_round_trips_with_no_changes() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let path = sb.path().join("exported.toml");
    let out = sb
        .vetted()
        .args(["export", "--org", "acme", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();

    let out = sb
        .vetted()
        .args(["validate", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n---\n{text}", stderr(&out));
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "exported policy plans changes:\n{}\n{}\n---\n{text}",
        stdout(&out),
        stderr(&out)
    );

    // Everything the seed holds is in the policy.
    for want in [
        "[image_access]\nenabled = true\nallow_official_images = true\nallow_verified_publishers = false",
        "owners = [\"alice\", \"zoe\"]",
        "editors = [\"bob\", \"frank\"]",
        "members = [\"gina\", \"hank\"]",
        "[teams.devs]\ndescription = \"Application developers\"\nmembers = [\"carol\", \"dave\", \"erin\"]",
        "[teams.auditors]\ndescription = \"\"\nmembers = []",
        "[repositories.api]\nprivate = true\ndescription = \"Our API\"",
        "teams = { auditors = \"read\", devs = \"write\", ops = \"admin\" }",
        "[repositories.site]\nprivate = false",
        "[repositories.\"docs.internal\"]\nprivate = true",
        "teams = {}",
        "outside@example.com",
        "cannot be inferred",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(
        text.contains(&format!("#   7.2 = sha256:{}", "1".repeat(64))),
        "{text}"
    );

    // stdout is the same document (deterministic).
    let out = sb
        .vetted()
        .args(["export", "--org", "acme"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), text);

    // An existing file is kept unless --force.
    std::fs::write(&path, "keep me").unwrap();
    let out = sb
        .vetted()
        .args(["export", "--org", "acme", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    let out = sb
        .vetted()
        .args(["export", "--org", "acme", "--force", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn export_rejects_a_bad_org_name_before_any_request() {
    let sb = Sandbox::start(&seed(), &["--no-registry"]);
    let out = sb
        .vetted()
        .args(["export", "--org", "Not An Org"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not an organization name"),
        "{}",
        stderr(&out)
    );
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

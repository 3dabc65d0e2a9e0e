//! Snapshots with the real binary against `vetted sandbox` and its registry: `vetted snapshot
//! --out`, then `vetted plan --snapshot` with the sandbox stopped and no credentials gives the
//! changes a live plan gives, says it is based on a snapshot and how old; an edited snapshot, one
//! of another organization and `--out` are refused; a tag not in vetted.lock is unknown.

use std::path::Path;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout, vetted};

fn seed() -> String {
    format!(
        r#"
org = "acme"

[users.alice]
[users.bob]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
bob = "member"

[teams.legacy]
description = "Old"
members = ["alice"]
"#
    )
}

/// What the organization holds before the plan: applied first.
const APPLIED: &str = r#"org = "acme"

[repositories.api]
private = true
description = "Our API"

[repositories.redis]
description = "Vetted redis"
mirror = { from = "bitnami/redis", tags = ["7.2"] }
"#;

/// The policy planned: a team, a grant, a description changed, a platform-filtered mirror.
const PLANNED: &str = r#"org = "acme"

[teams.developers]
description = "Application developers"
members = ["bob"]

[repositories.api]
private = true
description = "Our API, v2"
teams = { developers = "write" }

[repositories.redis]
description = "Vetted redis"
mirror = { from = "bitnami/redis", tags = ["7.2"] }

[repositories.web]
description = "Vetted nginx"
mirror = { from = "nginx", tags = ["1.27"], platforms = ["linux/arm64/v8"] }
"#;

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The changes of a JSON plan without the copies' estimates (a live plan reads the source
/// manifests for them; an offline one cannot).
fn changes(plan: &Value) -> Vec<Value> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if let Some(o) = c.as_object_mut() {
                o.remove("bytes");
                o.remove("manifests");
            }
            c
        })
        .collect()
}

/// `vetted plan --snapshot` with no credentials and the hub pointed at `hub` (stopped).
fn offline(dir: &Path, hub: &str, args: &[&str]) -> std::process::Output {
    vetted()
        .current_dir(dir)
        .env("VETTED_HUB_URL", hub)
        .env("VETTED_DOCKER_IO_REGISTRY", "http://127.0.0.1:9")
        .arg("plan")
        .args(args)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn a_plan_from_a_snapshot_gives_the_live_plans_changes_with_the_sandbox_stopped() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let applied = sb.write_policy("applied.toml", APPLIED);
    ok(sb
        .vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(&applied)
        .output()
        .unwrap());
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("vetted.toml");
    std::fs::write(&policy, PLANNED).unwrap();
    ok(sb
        .vetted()
        .args(["lock", "--policy"])
        .arg(&policy)
        .output()
        .unwrap());
    let live = ok(sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap());
    let live: Value = serde_json::from_str(&stdout(&live)).unwrap();
    let snap = dir.path().join("snapshot.json");
    let out = ok(sb
        .vetted()
        .args(["snapshot", "--locked", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&snap)
        .output()
        .unwrap());
    assert!(
        stderr(&out).contains("Saved a snapshot of acme"),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(!text.contains(OWNER_TOKEN), "no secret: {text}");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["org"], "acme");
    assert!(doc["taken_at"].as_str().unwrap().ends_with('Z'));
    assert!(doc["fingerprint"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        doc["state"]["filtered_indexes"].as_array().map(Vec::len),
        Some(1),
        "{doc:#}"
    );
    let hub = sb.url.clone();
    drop(sb);

    // The sandbox is gone and no credentials are set: the plan comes from the snapshot alone.
    let out = ok(offline(
        dir.path(),
        &hub,
        &[
            "--format",
            "json",
            "--locked",
            "--snapshot",
            "snapshot.json",
        ],
    ));
    let from_snapshot: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(changes(&from_snapshot), changes(&live));
    assert!(
        changes(&live).len() >= 5,
        "team, team member, repository update, grant, repository and image: {live:#}"
    );
    assert_eq!(from_snapshot["drift"], live["drift"]);
    assert_eq!(from_snapshot["snapshot"]["taken_at"], doc["taken_at"]);
    assert_eq!(from_snapshot["snapshot"]["fingerprint"], doc["fingerprint"]);
    assert_eq!(from_snapshot["api_calls"], 0);
    assert!(
        stderr(&out).contains("no request was made to Docker Hub or any registry"),
        "{}",
        stderr(&out)
    );

    let out = ok(offline(dir.path(), &hub, &["--snapshot", "snapshot.json"]));
    assert!(
        stdout(&out)
            .contains("Offline plan: based on a snapshot of acme taken less than a minute ago ("),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("it cannot be applied"));
    let out = ok(offline(
        dir.path(),
        &hub,
        &["--format", "markdown", "--snapshot", "snapshot.json"],
    ));
    let md = stdout(&out);
    assert!(md.starts_with("<!-- vetted:plan org=acme -->\n"), "{md}");
    assert!(
        md.contains("> **Offline plan**: based on a snapshot of acme taken"),
        "{md}"
    );

    // --detailed-exitcode says changes are pending, as for a live plan.
    let out = offline(
        dir.path(),
        &hub,
        &["--detailed-exitcode", "--snapshot", "snapshot.json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Never saved for apply.
    let out = offline(
        dir.path(),
        &hub,
        &["--snapshot", "snapshot.json", "--out", "plan.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("a plan from a snapshot cannot be saved for apply"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("plan.json").exists());
    // apply has no such flag: it always reads the live organization.
    let out = vetted()
        .current_dir(dir.path())
        .args(["apply", "--yes", "--snapshot", "snapshot.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--snapshot"), "{}", stderr(&out));

    // A tag vetted.lock lacks is unknown, never fetched.
    std::fs::write(
        &policy,
        PLANNED.replace("tags = [\"7.2\"]", "tags = [\"7.2\", \"6.2\"]"),
    )
    .unwrap();
    let out = ok(offline(
        dir.path(),
        &hub,
        &["--format", "json", "--snapshot", "snapshot.json"],
    ));
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(changes(&plan), changes(&live), "no row for the unknown tag");
    let notes: Vec<String> = plan["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{}: {}",
                n["address"].as_str().unwrap(),
                n["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with(
            "image acme/redis:6.2: unknown: its upstream digest is not in vetted.lock"
        )),
        "{notes:#?}"
    );
}

#[test]
fn edited_foreign_and_uncovering_snapshots_are_refused() {
    let sb = Sandbox::start(&seed(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("vetted.toml");
    let members = "org = \"acme\"\n\n[members]\nowners = [\"alice\"]\nmembers = [\"bob\"]\n";
    std::fs::write(&policy, members).unwrap();
    let snap = dir.path().join("snapshot.json");
    ok(sb
        .vetted()
        .args(["snapshot", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&snap)
        .output()
        .unwrap());
    let hub = sb.url.clone();
    drop(sb);
    let good = std::fs::read_to_string(&snap).unwrap();
    let out = ok(offline(
        dir.path(),
        &hub,
        &["--detailed-exitcode", "--snapshot", "snapshot.json"],
    ));
    assert!(stdout(&out).contains("No changes"), "{}", stdout(&out));

    // Bob promoted by hand in the file: the fingerprint no longer matches.
    let edited = good.replace("\"role\": \"member\"", "\"role\": \"owner\"");
    assert_ne!(edited, good);
    std::fs::write(&snap, edited).unwrap();
    let out = offline(dir.path(), &hub, &["--snapshot", "snapshot.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("was changed after it was written: its fingerprint"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());

    // Another organization's snapshot.
    std::fs::write(&snap, &good).unwrap();
    std::fs::write(&policy, members.replace("acme", "other")).unwrap();
    let out = offline(dir.path(), &hub, &["--snapshot", "snapshot.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is of organization acme, but the policy governs other"),
        "{}",
        stderr(&out)
    );

    // A policy that manages what the snapshot did not read.
    std::fs::write(
        &policy,
        format!("{members}\n[teams.dev]\nmembers = [\"bob\"]\n"),
    )
    .unwrap();
    let out = offline(dir.path(), &hub, &["--snapshot", "snapshot.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("does not hold what this policy needs read:\n  - the teams (not read)"),
        "{}",
        stderr(&out)
    );

    // A future format.
    std::fs::write(&policy, members).unwrap();
    std::fs::write(
        &snap,
        good.replace("\"format_version\": \"1\"", "\"format_version\": \"7\""),
    )
    .unwrap();
    let out = offline(dir.path(), &hub, &["--snapshot", "snapshot.json"]);
    assert!(
        stderr(&out).contains("has format_version 7, which this vetted"),
        "{}",
        stderr(&out)
    );
}

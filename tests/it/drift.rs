//! Drift that grants access is never "in sync": a grant made by hand on a repository whose grants
//! the policy manages is shown in the plan (a note, the summary line, `--access`, JSON), counts as
//! pending under `plan --drift --detailed-exitcode`, and `prune = true` revokes it. The real binary
//! against `vetted sandbox`.

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

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

# legacy = "admin" was granted by hand: the policy does not list it.
[repositories.api]
private = true
description = "Our API"
grants = {{ developers = "write", legacy = "admin" }}
"#
    )
}

const POLICY: &str = r#"
org = "acme"

[teams.developers]
description = "Developers"
members = ["bob"]

[teams.legacy]
description = "Old"
members = ["carol"]

[repositories.api]
private = true
description = "Our API"
teams = { developers = "write" }
"#;

fn run(sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let out = sb.vetted().arg("plan").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn a_grant_made_by_hand_is_drift_that_is_shown_and_counted_under_drift() {
    let sb = Sandbox::start(&seed(), &[]);
    sb.write_policy("vetted.toml", POLICY);

    // Without --drift the plan has no changes, but it never says the organization matches.
    let (code, out, err) = run(&sb, &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("matches the policy"), "{out}");
    assert!(
        out.contains("No changes, but the organization does not match the policy: 1 item(s) of drift left alone"),
        "{out}"
    );
    assert!(
        out.contains("grant acme/api:legacy: admin grant not in the policy"),
        "{out}"
    );

    // With --drift, drift left alone is pending: exit 2 (the drift workflow opens its issue).
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("drift left alone"), "{out}");

    // --access says who gains what through the drift.
    let (code, out, err) = run(&sb, &["--access"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "Access through drift left alone (prune = true would take it away):\n  ! carol gains admin on acme/api\n"
        ),
        "{out}"
    );

    // JSON and markdown carry it too.
    let (_, out, _) = run(&sb, &["--format", "json"]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["changes"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(
        doc["drift"]["changes"][0]["address"],
        "grant acme/api:legacy"
    );
    assert_eq!(doc["drift"]["changes"][0]["type"], "revoke");
    assert_eq!(
        doc["drift"]["access"][0],
        serde_json::json!({"subject": {"kind": "person", "name": "carol"}, "repository": "api", "old": null, "new": "admin", "pending": false})
    );
    let (_, md, _) = run(&sb, &["--format", "markdown"]);
    assert!(
        md.contains("Access through drift left alone")
            && md.contains("carol gains admin on acme/api"),
        "{md}"
    );

    // prune = true revokes it; afterwards the organization matches, --drift or not.
    sb.write_policy(
        "vetted.toml",
        &format!("{POLICY}\n[settings]\nprune = true\n"),
    );
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--access"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("carol loses admin on acme/api"), "{out}");
    let out = sb.vetted().args(["apply", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let grants = &sb.state()["repositories"]["api"]["grants"];
    assert_eq!(grants.as_object().map(|g| g.len()), Some(1), "{grants}");
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("No changes. The organization matches the policy."),
        "{out}"
    );
}

fn skopeo(args: &[String]) -> std::process::Output {
    std::process::Command::new("/usr/bin/skopeo")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The digest of `image` on the sandbox registry, `None` when it is not there.
fn digest(sb: &Sandbox, image: &str) -> Option<String> {
    let out = skopeo(&[
        "inspect".into(),
        "--raw".into(),
        "--tls-verify=false".into(),
        format!("--creds=alice:{OWNER_TOKEN}"),
        format!("docker://{}/{image}", sb.registry_host()),
    ]);
    out.status
        .success()
        .then(|| crate::support::registry_proc::digest_of(&out.stdout))
}

const MIRROR: &str = r#"
org = "acme"

[repositories.redis]
mirror = { from = "bitnami/redis", tags = ["7.2"] }
"#;

#[test]
fn a_tag_pushed_by_hand_into_a_mirror_is_drift_and_prune_deletes_it() {
    let seed = format!(
        "org = \"acme\"\n[users.alice]\n[[credentials]]\nidentifier = \"alice\"\nsecret = \"{OWNER_TOKEN}\"\nkind = \"password\"\n[members]\nalice = \"owner\"\n"
    );
    let sb = Sandbox::start_with_registry(&seed, &[]);
    sb.write_policy("vetted.toml", MIRROR);
    let out = sb.vetted().args(["apply", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--drift"]);
    assert_eq!(code, 0, "{out}\n{err}");

    // Someone pushes another image into the mirror under a tag the policy does not list.
    let registry = sb.registry_host();
    let creds = format!("alice:{OWNER_TOKEN}");
    let pushed = skopeo(&[
        "copy".into(),
        "--all".into(),
        "--src-tls-verify=false".into(),
        "--dest-tls-verify=false".into(),
        format!("--src-creds={creds}"),
        format!("--dest-creds={creds}"),
        format!("docker://{registry}/library/alpine:3.20"),
        format!("docker://{registry}/acme/redis:hand"),
    ]);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(digest(&sb, "acme/redis:hand").is_some());

    // Shown in the plan; pending under --drift.
    let (code, out, err) = run(&sb, &["--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("image acme/redis:hand: tag pushed by hand (sha256:"),
        "{out}"
    );
    assert!(!out.contains("matches the policy"), "{out}");
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--drift"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let (_, json, _) = run(&sb, &["--format", "json"]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["drift"]["changes"][0]["type"], "delete_tag", "{doc}");
    assert_eq!(
        doc["drift"]["changes"][0]["address"],
        "image acme/redis:hand"
    );

    // prune = true deletes it, and only it.
    sb.write_policy(
        "vetted.toml",
        &format!("{MIRROR}\n[settings]\nprune = true\n"),
    );
    let (code, out, err) = run(&sb, &["--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("delete tag pushed by hand"), "{out}");
    assert!(out.contains("0 to add, 0 to change, 1 to destroy"), "{out}");
    let out = sb.vetted().args(["apply", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("- image acme/redis:hand: done"),
        "{}",
        stderr(&out)
    );
    assert_eq!(digest(&sb, "acme/redis:hand"), None);
    assert_eq!(
        digest(&sb, "acme/redis:7.2"),
        digest(&sb, "bitnami/redis:7.2"),
        "the mirrored tag stays"
    );
    let (code, out, err) = run(&sb, &["--detailed-exitcode", "--drift"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

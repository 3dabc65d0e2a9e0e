//! `vetted apply --format json` with the real binary against the sandbox and its registry: one JSON
//! document on stdout (nothing else) for a successful apply, an apply where one image fails, a
//! no-op apply and a stale saved plan; checked with serde_json and snapshotted with the volatile
//! values (digests, byte and blob counts, paths) filtered.

use std::path::Path;

use serde_json::Value;

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

fn seed() -> String {
    format!(
        r#"
org = "acme"

[users.alice]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
"#
    )
}

const POLICY: &str = r#"org = "acme"

[repositories.redis]
description = "Vetted redis"
mirror = { from = "bitnami/redis", tags = ["7.2"] }

[repositories.tools]
description = "Tools"
"#;

/// `vetted apply --yes --format json ARGS`: (exit code, the document, stderr). The whole of stdout
/// must be the one document.
fn apply_json(sb: &Sandbox, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let text = stdout(&out);
    let err = stderr(&out);
    for s in [&text, &err] {
        assert!(!s.contains(OWNER_TOKEN), "the secret leaked:\n{s}");
    }
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{text}\n{err}"));
    assert_eq!(doc["format_version"], "1");
    assert_eq!(
        doc["exit_code"].as_i64(),
        out.status.code().map(i64::from),
        "the document states the exit status: {doc:#}"
    );
    (out.status.code(), doc, err)
}

/// Snapshots `doc` with what changes from run to run replaced: the sandbox's directory, digests,
/// byte and blob counts.
fn snapshot(name: &str, doc: &Value, dir: &Path) {
    let text = serde_json::to_string_pretty(doc)
        .unwrap()
        .replace(&dir.display().to_string(), "[dir]");
    insta::with_settings!({filters => vec![
        (r"sha256:[0-9a-f]{64}", "sha256:[digest]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r#""(bytes|bytes_copied|blobs_copied|blobs_mounted|blobs_skipped)": \d+"#, r#""$1": "[n]""#),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

fn results<'a>(doc: &'a Value, status: &str) -> Vec<&'a str> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .filter_map(|r| r["address"].as_str())
        .collect()
}

#[test]
fn a_successful_apply_then_a_no_op_then_a_stale_saved_plan() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    let policy = sb.write_policy("vetted.toml", POLICY);
    let saved = sb.path().join("plan.json");
    let policy_arg = policy.display().to_string();
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&saved)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let (code, doc, err) = apply_json(&sb, &["--policy", &policy_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(doc["status"], "applied", "{doc:#}");
    assert_eq!(doc["message"], Value::Null);
    assert_eq!(doc["org"], "acme");
    assert_eq!(
        results(&doc, "done"),
        [
            "repository acme/redis",
            "repository acme/tools",
            "image acme/redis:7.2"
        ]
    );
    assert_eq!(doc["summary"]["add"], 3);
    assert_eq!(doc["summary"]["failed"], 0);
    assert_eq!(doc["plan"]["file"], Value::Null);
    assert_eq!(doc["plan"]["changes"].as_array().map(Vec::len), Some(3));
    assert_eq!(doc["copy"]["images"], 1);
    let blobs = ["blobs_copied", "blobs_mounted", "blobs_skipped"]
        .iter()
        .map(|k| doc["copy"][k].as_u64().unwrap())
        .sum::<u64>();
    assert!(blobs > 0, "{doc:#}");
    // The sandbox's docker.io is the organization's registry too: its blobs are mounted.
    assert!(doc["copy"]["bytes_copied"].is_u64(), "{doc:#}");
    // The plan and the progress went to stderr.
    assert!(err.contains("repository acme/redis"), "{err}");
    assert!(err.contains("Apply complete!"), "{err}");
    snapshot("apply_json_applied", &doc, sb.path());

    // Nothing left to do.
    let (code, doc, err) = apply_json(&sb, &["--policy", &policy_arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(doc["status"], "no_changes", "{doc:#}");
    assert_eq!(doc["results"], Value::Array(vec![]));
    assert_eq!(doc["plan"]["changes"], Value::Array(vec![]));
    assert_eq!(doc["copy"]["images"], 0);
    assert!(err.contains("No changes."), "{err}");
    snapshot("apply_json_no_changes", &doc, sb.path());

    // The plan saved before the first apply is stale now: refused, nothing changed, and the
    // document still prints, saying why.
    let file = saved.display().to_string();
    let (code, doc, err) = apply_json(&sb, &["--policy", &policy_arg, &file]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(doc["status"], "refused", "{doc:#}");
    let message = doc["message"].as_str().unwrap();
    assert!(message.contains("the plan is stale"), "{message}");
    assert!(err.contains("the plan is stale"), "{err}");
    assert_eq!(doc["results"], Value::Array(vec![]));
}

#[test]
fn an_apply_where_one_image_fails_still_prints_the_report() {
    let sb = Sandbox::start_with_registry(&seed(), &[]);
    // 7.4.1 is pinned to a digest upstream does not have: its copy fails, 7.2's still runs.
    let missing = format!("sha256:{}", "0".repeat(64));
    sb.write_policy(
        "vetted.toml",
        &format!(
            "org = \"acme\"\n[repositories.redis]\nmirror = {{ from = \"bitnami/redis\", tags = [\"7.2\", \"7.4.1@{missing}\"] }}\n"
        ),
    );
    let (code, doc, err) = apply_json(&sb, &["--policy", "vetted.toml"]);
    assert_eq!(
        code,
        Some(1),
        "the exit status stays as without --format json: {err}"
    );
    assert_eq!(doc["status"], "incomplete", "{doc:#}");
    assert_eq!(
        results(&doc, "done"),
        ["repository acme/redis", "image acme/redis:7.2"]
    );
    assert_eq!(results(&doc, "failed"), ["image acme/redis:7.4.1"]);
    assert_eq!(doc["summary"]["failed"], 1);
    assert_eq!(doc["copy"]["images"], 1, "{doc:#}");
    let failed = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "failed")
        .unwrap();
    let message = failed["message"].as_str().unwrap();
    assert!(!message.is_empty());
    // Remote text arrives escaped: no control character but vetted's own line breaks.
    assert!(
        !message.chars().any(|c| c.is_control() && c != '\n'),
        "{message:?}"
    );
    assert!(err.contains("+ image acme/redis:7.4.1: FAILED"), "{err}");
    snapshot("apply_json_incomplete", &doc, sb.path());
}

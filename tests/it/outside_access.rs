//! The repository allowlist and Registry Access Management through the real binary and
//! `vetted sandbox`: planned as rows with access lines, applied, re-planned clean, exported and
//! round-tripped; bad input names file, line and column.

use serde_json::{Value, json};

use crate::harness::{OWNER_TOKEN, Sandbox, stderr, stdout};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn seed(image_access_enabled: bool) -> String {
    format!(
        r#"
org = "acme"
allowlist = ["grafana/loki", "library/busybox"]

[users.alice]
[users.carol]

[[credentials]]
identifier = "alice"
secret = "{OWNER_TOKEN}"
kind = "password"

[members]
alice = "owner"
carol = "member"

[image_access]
enabled = {image_access_enabled}
allow_official_images = true
allow_verified_publishers = true
"#
    )
}

const POLICY: &str = r#"
org = "acme"

[image_access]
enabled = true
allow_official_images = true
allow_verified_publishers = true
allow_repositories = ["bitnami/redis", "docker.io/library/busybox", "nginx"]

[registry_access]
enabled = true
docker_hub = true
registries = [
  { address = "ghcr.io", name = "GitHub Container Registry" },
  { address = "quay.io", name = "Quay", allowed = false },
]

[settings]
prune = true
"#;

#[test]
fn allowlist_and_registry_access_plan_apply_and_replan_clean() {
    let sb = Sandbox::start(&seed(true), &["--no-registry"]);
    let policy = sb.write_policy("vetted.toml", POLICY);
    let out = sb
        .vetted()
        .args(["plan", "--access", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    for line in [
        "allowed_repository docker.io/bitnami/redis",
        "allowed_repository docker.io/library/nginx",
        "allowed_repository docker.io/grafana/loki",
        "registry_access acme",
        "+ members gain pull on docker.io/bitnami/redis, upstream, not pinned (every upstream push reaches them unreviewed)",
        "- members lose pull on docker.io/grafana/loki (upstream, allowlist)",
        "- members lose pull from every registry except docker.io, ghcr.io (Registry Access Management on)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // busybox is already listed: no row for it.
    assert!(!text.contains("docker.io/library/busybox"), "{text}");

    let out = sb
        .vetted()
        .args(["plan", "--format", "json", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let changes = doc["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["type"] == "allow_repository"
            && c["repository"] == "bitnami/redis"
            && c["kind"] == "allowed_repository"
            && c["action"] == "create"),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["type"] == "set_registry_access"
                && c["new"]["custom"][0]["address"] == "ghcr.io"),
        "{changes:?}"
    );
    let access = doc["access"].as_array().unwrap();
    assert!(
        access.iter().any(|a| a["subject"]["kind"] == "members"
            && a["repository"] == "docker.io/bitnami/redis"
            && a["new"] == "pull"
            && a["outside"]["through"] == "allowlist"),
        "{access:?}"
    );

    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let state = sb.state();
    assert_eq!(
        state["allowlist"],
        json!(["bitnami/redis", "library/busybox", "library/nginx"])
    );
    assert_eq!(
        state["registry_access"],
        json!({"enabled": true,
               "standard_registries": [{"id": "DockerHub", "allowed": true}],
               "custom_registries": [
                   {"address": "ghcr.io", "friendly_name": "GitHub Container Registry", "allowed": true},
                   {"address": "quay.io", "friendly_name": "Quay", "allowed": false}]})
    );

    let out = sb
        .vetted()
        .args(["plan", "--access", "--detailed-exitcode", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("No one gains or loses access."));

    // Export round-trips both.
    let out = sb
        .vetted()
        .args(["export", "--org", "acme"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "allow_repositories = [\"bitnami/redis\", \"library/busybox\", \"library/nginx\"]",
        "[registry_access]\nenabled = true\ndocker_hub = true\n",
        "{ address = \"ghcr.io\", name = \"GitHub Container Registry\", allowed = true }",
        "{ address = \"quay.io\", name = \"Quay\", allowed = false }",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let exported = sb.write_policy("exported.toml", &text);
    let out = sb
        .vetted()
        .args(["plan", "--detailed-exitcode", "--policy"])
        .arg(&exported)
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "exported policy plans changes:\n{}\n{}\n---\n{text}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn without_prune_unlisted_entries_are_notes_and_a_disabled_image_access_is_explained() {
    let sb = Sandbox::start(&seed(false), &["--no-registry"]);
    let policy = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n\n[image_access]\nallow_repositories = [\"bitnami/redis\", \"grafana/loki\", \"library/busybox\"]\n",
    );
    let out = sb
        .vetted()
        .args(["plan", "--access", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    assert!(text.contains("Image Access Management is off"), "{text}");
    // Members already pull everything: the allowlist gives nobody anything.
    assert!(text.contains("No one gains or loses access."), "{text}");

    let policy = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n\n[image_access]\nallow_repositories = [\"bitnami/redis\"]\n",
    );
    let out = sb
        .vetted()
        .args(["plan", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}\n{}", stderr(&out));
    assert!(
        text.contains("allowlisted on Docker Hub but not in the policy (left alone"),
        "{text}"
    );
    let out = sb
        .vetted()
        .args(["apply", "--yes", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        sb.state()["allowlist"],
        json!(["bitnami/redis", "grafana/loki", "library/busybox"]),
        "prune is off: nothing removed"
    );
}

#[test]
fn bad_allowlist_and_registry_entries_name_file_line_and_column() {
    let sb = Sandbox::start(&seed(true), &["--no-registry"]);
    let policy = sb.write_policy(
        "bad.toml",
        "org = \"acme\"\n\n[image_access]\nallow_repositories = [\"nginx\", \"library/nginx\"]\n\n[registry_access]\nenabled = true\nregistries = [{ address = \"https://ghcr.io\" }]\n",
    );
    for cmd in ["validate", "plan"] {
        let out = sb
            .vetted()
            .args([cmd, "--policy"])
            .arg(&policy)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_ne!(code(&out), 0, "{err}");
        assert!(err.contains("bad.toml:4:32"), "{err}");
        assert!(err.contains("bad.toml:8:27"), "{err}");
        assert!(err.contains("listed twice"), "{err}");
        assert!(err.contains("without a scheme"), "{err}");
    }
    assert_eq!(
        sb.state()["allowlist"],
        json!(["grafana/loki", "library/busybox"]),
        "nothing changed"
    );
}

/// Registry Access Management is open to an organization access token with `scope-ram-write`
/// (Docker's access-token reference); one with only `scope-ram-read` plans, and its apply is
/// refused with the missing scope named, nothing changed.
#[test]
fn an_organization_access_token_manages_registry_access_with_its_ram_scope() {
    const WRITER: &str = "sandbox-acme-oat-ramwrite-1a";
    const READER: &str = "sandbox-acme-oat-ramread-2b";
    let seed = format!(
        r#"{}
[[credentials]]
identifier = "acme"
secret = "{WRITER}"
kind = "org_token"
scopes = ["scope-ram-write"]

[[credentials]]
identifier = "acme"
secret = "{READER}"
kind = "org_token"
scopes = ["scope-ram-read"]
"#,
        seed(true)
    );
    let sb = Sandbox::start(&seed, &[]);
    let policy = sb.write_policy(
        "vetted.toml",
        "org = \"acme\"\n[registry_access]\nenabled = true\nregistries = [{ address = \"ghcr.io\", name = \"GitHub\" }]\n",
    );
    let run = |secret: &str, args: &[&str]| {
        sb.vetted_as("acme", secret)
            .args(args)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap()
    };

    let out = run(READER, &["apply", "--yes"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{}\n{err}", stdout(&out));
    assert!(err.contains("scope-ram-write"), "{err}");
    assert!(!err.contains(READER) && !stdout(&out).contains(READER));
    let out = run(READER, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        code(&out),
        2,
        "still to do:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );

    let out = run(WRITER, &["apply", "--yes"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let out = run(READER, &["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
}
